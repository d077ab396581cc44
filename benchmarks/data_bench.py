"Data-layer benchmarks: PNG decode + resize per worker, synthetic generation, phase 3 loader per worker (today's vs segkit's, step by step), mask checks."
import math, os, shutil, statistics, time

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from benchmarks import timing

from segkit.data import build_transforms, cache_decoded, check_masks, make_loader, normalize_images, read_rgb, seed_worker
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
            rows.append(timing.compared(bench, f"segkit read_rgb (cv2) + cv2.resize vs {name}; {n} synthetic PNGs (compression 1)",
                                        timing.compare(cv2_path, reference), fmt=rate))
        return rows
    finally:
        torch.set_num_threads(threads); cv2.setNumThreads(cv2_threads)


def synthetic_generation(tmp, median_time):
    n = 100
    counter = iter(range(100))
    t = median_time(lambda: make_offroad_dataset(tmp / f"gen{next(counter)}", n_train=n, n_val=0, size=(476, 266)), repeats=3, warmup=0)
    return [{"bench": "synthetic off-road generator", "what": f"{n} images 476x266, written as PNG", "segkit": f"{n / t:.0f} images/s"}]


def _todays_loader(ds, workers: int) -> DataLoader:
    "The loader training used before: fresh workers every epoch, OpenCV's thread pool in each (make_loader's old arguments)."
    return DataLoader(ds, batch_size=2, shuffle=True, drop_last=True, num_workers=workers, worker_init_fn=seed_worker,
                      generator=torch.Generator().manual_seed(0), persistent_workers=False)


def _interleaved(fns: dict, repeats: int, warmup: int = 1) -> dict:
    "Wall times of each of `fns` (name -> callable), called in turn A B C ... per round after `warmup` rounds (name -> list)."
    times = {name: [] for name in fns}
    for round_ in range(warmup + repeats):
        for name, fn in fns.items():
            t = time.perf_counter(); fn(); elapsed = time.perf_counter() - t
            if round_ >= warmup: times[name].append(elapsed)
    return times


def phase3_loader(tmp, median_time, n=64, epochs=2, workers=(0, 1, 2), gpu_rate=500):
    """Phase 3 loader images/s per worker as training uses it: one loader iterated over `epochs` epochs (set_epoch each),
    today's (PNG files, normalised float images, fresh workers every epoch) against segkit's steps one at a time."""
    os.environ["SEGKIT_CACHE_DIR"] = str(tmp / "cache")  # the decoded cache never reaches the user's cache folder
    root = make_offroad_dataset(tmp / "loader", n_train=n, n_val=0, size=(960, 540))
    def dataset(normalize=True): return OffroadDataset(root, "train", build_transforms("phase3", (644, 364), normalize=normalize))
    files = dataset()
    t = time.perf_counter(); cached = cache_decoded(dataset()); build = time.perf_counter() - t
    cached_uint8 = cache_decoded(dataset(normalize=False))
    for i in range(3):  # the options change where samples come from, never what they are
        x, y = cached_uint8[i]
        if not (torch.equal(cached[i][1], files[i][1]) and torch.equal(y, files[i][1]) and torch.equal(cached[i][0], files[i][0])
                and torch.allclose(normalize_images(x), files[i][0], atol=1e-5)):
            raise AssertionError(f"sample {i}: the cached loader differs from the loader reading the files")
    bench = f"phase 3 loader (960x540 PNG -> 644x364, phase3 augment, batch 2, {n} synthetic images, one loader over {epochs} epochs)"
    def over_epochs(loader):
        def run():
            for epoch in range(epochs):
                loader.dataset.set_epoch(epoch)
                for _ in loader: pass
        return run
    def segkit_loader(**kw): return lambda ds, w: make_loader(ds, 2, True, w, 0, **kw)
    steps = {"today": ("today: PNG files, float images, fresh workers every epoch", _todays_loader, files),
             "loader": ("make_loader (persistent workers), PNG files, float images", segkit_loader(), files),
             "cache": ("+ decoded cache", segkit_loader(), cached),
             "uint8": ("+ uint8 images normalised on the device", segkit_loader(), cached_uint8),
             "segkit": ("+ uint8 masks from the workers (segkit with image_cache on: the experiments' loader)",
                        segkit_loader(compact_masks=True), cached_uint8)}
    rows, best = [], 0.0
    for w in workers:
        loaders = {k: make(ds, w) for k, (_, make, ds) in steps.items()}
        t = _interleaved({k: over_epochs(dl) for k, dl in loaders.items()}, repeats=timing.REPEATS)
        def rate(s): return f"{n * epochs / s / max(w, 1):.1f} images/s per worker"
        for k, (what, _, _) in list(steps.items())[1:]:
            target = "≥ 3x faster" if k == "segkit" else ""
            rows.append(timing.compared(bench, f"{w} workers: {what} vs today", timing.Comparison.of(t[k], t["today"]), target,
                                        fmt=rate, faster=True))
        best = max(best, n * epochs / statistics.median(t["segkit"]) / max(w, 1))
        del loaders  # ends the persistent workers before the next worker count
    rows.append({"bench": bench, "what": f"first use: building the decoded cache of {n} images ({os.cpu_count()} threads)",
                 "segkit": f"{n / build:.1f} images/s", "reference": "", "ratio": "", "target": ""})
    rows.append({"bench": bench, "what": f"workers a GPU step needs at an assumed {gpu_rate} images/s (ViT-B/14 forward at 644x364 on an "
                 "H200: 'several hundred', not measured here) with segkit's best images/s per worker above",
                 "segkit": f"{math.ceil(gpu_rate / best)} workers", "reference": "", "ratio": "", "target": ""})
    return rows


def mask_check(tmp, median_time, sample=64, real=(2857, 317)):
    "check_masks cost for the real off-road set, first run and cached, measured on a sample of 960x540 pairs and scaled."
    os.environ["SEGKIT_CACHE_DIR"] = str(tmp / "mask-check-cache")
    root = make_offroad_dataset(tmp / "mask-check", n_train=sample, n_val=0, size=(960, 540))
    ds = OffroadDataset(root, "train")
    first, cached = [], []
    for _ in range(min(3, timing.REPEATS)):
        shutil.rmtree(tmp / "mask-check-cache", ignore_errors=True)
        t = time.perf_counter(); checked = check_masks(ds); first.append(time.perf_counter() - t)
        t = time.perf_counter(); again = check_masks(ds); cached.append(time.perf_counter() - t)
        if (checked, again) != (sample, 0): raise AssertionError(f"check_masks read {checked} then {again} of {sample} pairs")
    n = sum(real)
    scale = n / sample
    what = (f"off-road {real[0]:,} + {real[1]:,} pairs (960x540, 16-bit masks), {os.cpu_count()} threads: measured on {sample} "
            f"synthetic pairs and scaled linearly by {scale:.1f} (per-file cost)")
    return [{"bench": "check_masks before training", "what": f"first run, {what}", "segkit": timing.seconds(statistics.median(first) * scale),
             "reference": "", "ratio": "", "target": ""},
            {"bench": "check_masks before training", "what": f"cached run (nothing changed), {what}",
             "segkit": timing.seconds(statistics.median(cached) * scale), "reference": "", "ratio": "", "target": ""}]
