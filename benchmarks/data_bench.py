"Data-layer benchmarks: synthetic generation speed and phase 3 loader throughput with 1 and 2 workers."
import time

from segkit.offroad.data import OffroadDataset
from segkit.data import build_transforms, make_loader
from segkit.offroad.data import make_offroad_dataset


def synthetic_generation(tmp, median_time):
    n = 100
    counter = iter(range(100))
    t = median_time(lambda: make_offroad_dataset(tmp / f"gen{next(counter)}", n_train=n, n_val=0, size=(476, 266)), repeats=3, warmup=0)
    return [{"bench": "synthetic off-road generator", "what": f"{n} images 476x266, written as PNG", "value": f"{n / t:.0f} images/s"}]


def phase3_loader(tmp, median_time):
    root = make_offroad_dataset(tmp / "loader", n_train=64, n_val=0, size=(960, 540))
    ds = OffroadDataset(root, "train", build_transforms("phase3", (644, 364)))
    rows, base = [], None
    for workers in (0, 1, 2):
        def epoch():
            for _ in make_loader(ds, 2, train=True, num_workers=workers, seed=0): pass
        t = median_time(epoch, repeats=3)
        rate = len(ds) / t
        base = base or rate
        rows.append({"bench": "phase 3 loader (960x540 PNG -> 644x364, phase3 augment)", "what": f"{workers} workers",
                     "value": f"{rate:.1f} images/s", "baseline": f"{base:.1f} images/s (0 workers)", "ratio": f"{rate / base:.2f}x"})
    return rows
