"Volume benchmarks: sliding-window inference throughput against one forward pass over the whole volume."
import numpy as np
import torch

from segkit.vesuvius.models import build_volume_model, sliding_window_inference, window_starts


def sliding_window(tmp, median_time, size=96, window=64, overlap=0.5):
    "Voxels/s of a size³ volume with unet3d_small: 64³ windows at 0.5 overlap (Gaussian weighting) vs one full-volume pass."
    torch.manual_seed(0)
    model = build_volume_model("unet3d_small").eval()
    volume = torch.from_numpy(np.random.default_rng(0).normal(size=(1, size, size, size)).astype(np.float32))
    windows = len(window_starts(size, window, overlap)) ** 3

    def full_pass():
        with torch.inference_mode(): model(volume[None])

    def windowed():
        sliding_window_inference(model, volume, (window,) * 3, overlap=overlap, batch_size=2)

    voxels = size ** 3
    base, rate = (voxels / median_time(fn, repeats=3) for fn in (full_pass, windowed))
    what = f"{size}³ volume, unet3d_small, {torch.get_num_threads()} CPU threads"
    return [{"bench": "volume inference: one full-volume forward pass", "what": what, "value": f"{base / 1e6:.2f} Mvoxels/s"},
            {"bench": f"volume inference: sliding window {window}³, overlap {overlap}, Gaussian weighting",
             "what": f"{what}, {windows} windows of batch 2", "value": f"{rate / 1e6:.2f} Mvoxels/s",
             "baseline": f"{base / 1e6:.2f} Mvoxels/s (full pass)", "ratio": f"{rate / base:.2f}x"}]
