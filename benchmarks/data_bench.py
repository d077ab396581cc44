"Data-layer benchmarks: PNG decode + resize per worker, synthetic generation, phase 3 loader throughput by workers."
import cv2
import numpy as np
import torch
from PIL import Image

from benchmarks import timing
from segkit.data import build_transforms, make_loader, read_rgb
from segkit.offroad.data import OffroadDataset, make_offroad_dataset


def image_decode(tmp, median_time, n=32, size=(644, 364)):
    "Phase 3 input per worker (one thread): 960x540 RGB PNG decoded and resized to 644x364, segkit's cv2 path vs PIL and torchvision."
    root = make_offroad_dataset(tmp / "decode", n_train=n, n_val=0, size=(960, 540))
    paths = sorted((root / "train" / "Color_Images").glob("*.png"))

    def cv2_path():
        for p in paths: cv2.resize(read_rgb(p), size, interpolation=cv2.INTER_LINEAR)
    def pil_path():
        for p in paths:
            with Image.open(p) as im: np.asarray(im.convert("RGB").resize(size, Image.BILINEAR))
    def torchvision_path():
        from torchvision.io import decode_png, read_file
        from torchvision.transforms.v2.functional import resize
        for p in paths: resize(decode_png(read_file(str(p))), [size[1], size[0]], antialias=False)

    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1); cv2.setNumThreads(1)
    try:
        bench = "phase 3 image decode + resize, one worker thread (960x540 PNG -> 644x364)"
        def rate(t): return f"{n / t:.1f} images/s"
        rows = []
        for name, reference in (("PIL (convert RGB, antialiased bilinear resize)", pil_path), ("torchvision.io.decode_png + resize", torchvision_path)):
            segkit, other = timing.compare(cv2_path, reference)
            rows.append(timing.row(bench, f"segkit read_rgb (cv2) + cv2.resize vs {name}; {n} synthetic PNGs (compression 1)",
                                segkit, other, fmt=rate))
        return rows
    finally:
        torch.set_num_threads(threads); cv2.setNumThreads(cv2_threads)


def synthetic_generation(tmp, median_time):
    n = 100
    counter = iter(range(100))
    t = median_time(lambda: make_offroad_dataset(tmp / f"gen{next(counter)}", n_train=n, n_val=0, size=(476, 266)), repeats=3, warmup=0)
    return [{"bench": "synthetic off-road generator", "what": f"{n} images 476x266, written as PNG", "segkit": f"{n / t:.0f} images/s"}]


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
                     "segkit": f"{rate:.1f} images/s", "reference": f"{base:.1f} images/s (0 workers)", "ratio": f"{rate / base:.2f}x faster"})
    return rows
