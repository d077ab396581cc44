"""Timing helpers of the benchmarks: interleaved segkit-vs-reference medians and the table rows made from them."""
import importlib.util, statistics, time
from typing import Callable, NamedTuple

REPEATS = 5   # median of at least 5 interleaved rounds
MIN_SECONDS = 30.0  # a comparison whose rounds are short runs more of them (up to 4 × REPEATS) until this much time has passed


class Comparison(NamedTuple):
    "Median wall times of segkit and of the reference, and each round's ratio segkit / reference (two calls made next to each other)."
    segkit: float
    reference: float
    ratios: list

    @property
    def ratio(self) -> float: return statistics.median(self.ratios)

    @classmethod
    def of(cls, segkit: list, reference: list) -> "Comparison":
        "From the wall times of paired calls: segkit[i] ran next to reference[i]."
        return cls(statistics.median(segkit), statistics.median(reference), [a / b for a, b in zip(segkit, reference)])


def median_time(fn: Callable, repeats: int | None = None, warmup: int = 1) -> float:
    "Median wall time of fn() over `repeats` (default REPEATS) runs after `warmup` runs, for rows without a reference."
    repeats = repeats or REPEATS
    for _ in range(warmup): fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)


def compare(segkit: Callable, reference: Callable, repeats: int | None = None, warmup: int = 1) -> Comparison:
    """Wall times of whole calls, interleaved A B B A A B ... after `warmup` rounds of each: at least `repeats` rounds, more
    (up to 4 × `repeats`) while less than MIN_SECONDS have passed. The order alternates each round, so neither side always
    runs first (after the other's allocations, or into its warm caches); each round gives one ratio."""
    repeats = repeats or REPEATS
    times, start, round_ = ([], []), time.perf_counter(), 0
    pairs = [(segkit, times[0]), (reference, times[1])]
    while round_ < warmup + repeats or (time.perf_counter() - start < MIN_SECONDS and round_ < warmup + 4 * repeats):
        for fn, record in (pairs if round_ % 2 == 0 else pairs[::-1]):
            t = time.perf_counter(); fn(); elapsed = time.perf_counter() - t
            if round_ >= warmup: record.append(elapsed)
        round_ += 1
    return Comparison.of(*times)


def installed(module: str) -> bool: return importlib.util.find_spec(module) is not None


def seconds(t: float) -> str: return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def row(bench: str, what: str, segkit: float | None, reference: float | str, target: str = "", fmt=seconds) -> dict:
    "A table row from two median times (ratio segkit / reference); `reference` may be a string such as 'not installed'."
    if isinstance(reference, str):
        return dict(bench=bench, what=what, segkit=fmt(segkit) if segkit is not None else "", reference=reference,
                    ratio="", target=target)
    return dict(bench=bench, what=what, segkit=fmt(segkit), reference=fmt(reference), ratio=f"{segkit / reference:.2f}x",
                target=target)


def compared(bench: str, what: str, c: Comparison, target: str = "", fmt=seconds, faster: bool = False) -> dict:
    """A table row from a `Comparison`: the median times, and the median of the rounds' ratios with their range (as
    reference / segkit, "faster", when `faster`)."""
    ratios = sorted(1 / r if faster else r for r in c.ratios)
    word = " faster" if faster else ""
    return dict(bench=bench, what=what, segkit=fmt(c.segkit), reference=fmt(c.reference),
                ratio=f"{statistics.median(ratios):.2f}x{word} ({ratios[0]:.2f}–{ratios[-1]:.2f} over {len(ratios)} rounds)", target=target)


def not_installed(bench: str, what: str, module: str, target: str = "") -> dict:
    return row(bench, what, None, f"{module} not installed (`pip install -e \".[bench]\"`)", target)
