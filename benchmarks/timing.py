"""Timing helpers of the benchmarks: interleaved segkit-vs-reference medians and the table rows made from them."""
import importlib.util, statistics, time
from typing import Callable

REPEATS = 5   # median of at least 5 interleaved rounds


def median_time(fn: Callable, repeats: int | None = None, warmup: int = 1) -> float:
    "Median wall time of fn() over `repeats` (default REPEATS) runs after `warmup` runs, for rows without a reference."
    repeats = repeats or REPEATS
    for _ in range(warmup): fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)


def compare(segkit: Callable, reference: Callable, repeats: int | None = None, warmup: int = 1) -> tuple[float, float]:
    """Median wall times (segkit, reference) of whole calls, interleaved A B B A A B ... after `warmup` rounds of each.
    The order alternates each round, so neither side always runs first (after the other's allocations, or into its
    warm caches)."""
    repeats = repeats or REPEATS
    times = ([], [])
    pairs = [(segkit, times[0]), (reference, times[1])]
    for round_ in range(warmup + repeats):
        for fn, record in (pairs if round_ % 2 == 0 else pairs[::-1]):
            t = time.perf_counter(); fn(); elapsed = time.perf_counter() - t
            if round_ >= warmup: record.append(elapsed)
    return statistics.median(times[0]), statistics.median(times[1])


def installed(module: str) -> bool: return importlib.util.find_spec(module) is not None


def seconds(t: float) -> str: return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def row(bench: str, what: str, segkit: float | None, reference: float | str, target: str = "", fmt=seconds) -> dict:
    "A table row from two median times (ratio segkit / reference); `reference` may be a string such as 'not installed'."
    if isinstance(reference, str):
        return dict(bench=bench, what=what, segkit=fmt(segkit) if segkit is not None else "", reference=reference,
                    ratio="", target=target)
    return dict(bench=bench, what=what, segkit=fmt(segkit), reference=fmt(reference), ratio=f"{segkit / reference:.2f}x",
                target=target)


def not_installed(bench: str, what: str, module: str, target: str = "") -> dict:
    return row(bench, what, None, f"{module} not installed (`pip install -e \".[bench]\"`)", target)
