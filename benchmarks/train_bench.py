"Trainer benchmarks: overhead against a hand-written loop, the frozen-backbone feature cache, loader vs training step."
import copy, os, statistics, time

import torch

from benchmarks import timing
from segkit.backbone import cpu_bf16_supported
from segkit.callbacks import Callback
from segkit.data import make_loader

from segkit.offroad.experiment import (SegExperiment, build_data, build_experiment_loss, build_experiment_model, build_experiment_trainer)


def _setup(tmp, name, **params):
    os.environ["SEGKIT_REPORTS_DIR"] = str(tmp / "reports")
    cfg = SegExperiment.from_namespace({"dataset": "synthetic", "data_dir": str(tmp / "data"), "weights": None,
                                        "synthetic_train": 16, "synthetic_val": 4, "num_workers": 0, "run_name": name,
                                        "compare_to": [], **params})
    train, val, root = build_data(cfg)
    model = build_experiment_model(cfg, train.num_classes)
    return cfg, train, val, root, model


class _Interleave(Callback):
    "Runs `other` between the Trainer's epochs: a Trainer epoch is timed from one epoch start to the next, so its end-of-epoch writes count."
    def __init__(self, other): self.other, self.mark, self.segkit, self.reference = other, None, [], []
    def on_epoch_start(self, trainer):
        if self.mark is not None:
            # the epoch's background writes end inside its time, not during `other`: no overlap is credited. Deleting the files
            # they replaced is left to overlap, as in training: it is waiting for the file system (30 ms), not CPU (3 ms)
            trainer.recorder.flush(deletions=False)
            self.segkit.append(time.perf_counter() - self.mark)
            t = time.perf_counter(); self.other(); self.reference.append(time.perf_counter() - t)
        self.mark = time.perf_counter()


def _interleaved_epochs(trainer, other) -> timing.Comparison:
    "Trainer epochs 2.. against the `other` calls made right after each of them (A B A B ...): one ratio per pair."
    timer = _Interleave(other)
    trainer.recorder.callbacks.append(timer)
    trainer.quiet = True
    trainer.fit()
    return timing.Comparison.of(timer.segkit[1:], timer.reference[1:])  # the first of each warms up


def _hand_loop(model, loss_fn, train, val, batch_size, lr):
    "A hand-written epoch: forward, loss, backward, AdamW step over the train loader, forward and loss over the val loader."
    train_dl, val_dl = make_loader(train, batch_size, True, 0), make_loader(val, batch_size, False, 0)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    def epoch():
        model.train()
        for x, y in train_dl:
            loss = loss_fn(model(x), y); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        model.eval()
        with torch.no_grad():
            for x, y in val_dl: loss_fn(model(x), y)
    return epoch


def trainer_overhead(tmp, median_time):
    "Same model, data, loss and optimizer: whole segkit Trainer epochs (metrics, history, checkpoints) vs a hand-written loop."
    epochs = 3 * timing.REPEATS + 2  # single epochs here vary by ±20%: a ±3% target needs many pairs
    cfg, train, val, root, model = _setup(tmp, "overhead", backbone="dinov2_vits14", head="convnext", feature_cache="off",
                                          optimizer="adamw", lr=1e-3, width=224, height=126, batch_size=4, epochs=epochs)
    hand = _hand_loop(copy.deepcopy(model), build_experiment_loss(cfg, train), train, val, 4, 1e-3)
    trainer = build_experiment_trainer(cfg, model, build_experiment_loss(cfg, train), train, val, root)
    return [timing.compared("trainer overhead (ViT-S/14 + ConvNeXt, 224x126, batch 4, 16 train / 4 val images)",
                            "whole epoch incl. its checkpoint + history writes (waited for, none overlaps the next epoch): segkit Trainer vs hand-written loop (same loss, AdamW)",
                            _interleaved_epochs(trainer, hand), "≤ 1.03x")]


def _head_only(model, cfg, train, val):
    "The cache's limit: features precomputed in memory, then per epoch head forward, loss, backward, step, and val forward."
    loss_fn = build_experiment_loss(cfg, train)
    def features(ds):
        with torch.inference_mode():
            pairs = [(model.backbone(x[None])[0].clone(), y) for x, y in (ds[i] for i in range(len(ds)))]
        return [(torch.stack([f for f, _ in pairs[i:i + cfg.batch_size]]), torch.stack([y for _, y in pairs[i:i + cfg.batch_size]]))
                for i in range(0, len(pairs), cfg.batch_size)]
    train_batches, val_batches = features(train), features(val)
    head = copy.deepcopy(model.head)
    opt = torch.optim.SGD(head.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    size = (cfg.height, cfg.width)
    def epoch():
        head.train()
        for f, y in train_batches:
            logits = torch.nn.functional.interpolate(head(f), size=size, mode="bilinear", align_corners=False)
            loss_fn(logits, y).backward(); opt.step(); opt.zero_grad(set_to_none=True)
        head.eval()
        with torch.no_grad():
            for f, y in val_batches:
                loss_fn(torch.nn.functional.interpolate(head(f), size=size, mode="bilinear", align_corners=False), y)
    return epoch


def feature_cache(tmp, median_time):
    "Phase 1 (frozen ViT-S/14 + ConvNeXt, 476x266): Trainer epochs with and without the cache, each against the head-only limit."
    epochs, ratios, times = timing.REPEATS + 2, {}, {}
    for cache in ("memory", "off"):
        cfg, train, val, root, model = _setup(tmp, f"cache-{cache}", feature_cache=cache, epochs=epochs, batch_size=2)
        limit = _head_only(model, cfg, train, val)
        trainer = build_experiment_trainer(cfg, model, build_experiment_loss(cfg, train), train, val, root)
        times[cache] = _interleaved_epochs(trainer, limit)
        ratios[cache] = times[cache].ratio
    bench = "feature cache (phase 1: frozen ViT-S/14 + ConvNeXt, 476x266, batch 2, 16 train / 4 val images)"
    return [timing.compared(bench, "cached epoch (Trainer, whole epoch incl. its checkpoint + history writes) vs head-only limit (precomputed features: head fwd+bwd+step, val fwd)",
                            times["memory"], "≤ 1.2x"),
            timing.compared(bench, "epoch without the cache (Trainer) vs head-only limit", times["off"]),
            dict(bench=bench, what="cache speed-up: epoch without / with the cache (each against the same limit, interleaved)",
                 segkit=f"{ratios['off'] / ratios['memory']:.1f}x", reference=f"limit {ratios['off']:.1f}x", ratio="", target="")]


def phase3_step(tmp, median_time):
    "Training-step consumption rate of phase 3 (frozen ViT-B/14 + UPerNet, 644x364, batch 2), to set against the loader."
    cfg, train, val, root, model = _setup(tmp, "step", backbone="dinov2_vitb14", head="upernet", width=644, height=364)
    x, y = torch.randn(2, 3, 364, 644), torch.randint(0, 10, (2, 364, 644))
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=3e-4)
    loss_fn = build_experiment_loss(SegExperiment(loss="focal_dice"), train)
    def step():
        model.train(); loss = loss_fn(model(x), y); loss.backward(); opt.step(); opt.zero_grad()
    t = median_time(step, repeats=3)
    return [{"bench": "phase 3 training step (frozen ViT-B/14 + UPerNet, 644x364, batch 2, CPU)",
             "what": "images consumed per second", "value": f"{2 / t:.2f} images/s"}] + _bf16_step(tmp)



def _bf16_step(tmp, width=644, height=364):
    "Phase 3's step (frozen ViT-B/14 + UPerNet, focal + Dice) at its real 644x364: fp32 vs bf16 forward, interleaved (3 rounds: slow)."
    cfg, train, val, root, model = _setup(tmp, "step-bf16", backbone="dinov2_vitb14", head="upernet", width=width, height=height)
    x, y = torch.randn(2, 3, height, width), torch.randint(0, 10, (2, height, width))
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=3e-4)
    loss_fn = build_experiment_loss(SegExperiment(loss="focal_dice"), train)
    def step(precision: str, whole: bool):
        def run():
            model.backbone.precision = precision  # set on every call: the compared steps alternate on the same model
            model.train()
            with torch.autocast("cpu", torch.bfloat16, enabled=whole): logits = model(x)
            loss = loss_fn(logits.float(), y); loss.backward(); opt.step(); opt.zero_grad()
        return run
    grids = {}
    for precision in ("bf16", "fp32"):
        model.backbone.precision = precision; grids[precision] = model.backbone(x[:1])
    if torch.equal(grids["bf16"], grids["fp32"]):
        raise AssertionError("the backbone's bf16 and fp32 forwards agree exactly: the bf16 rows would not measure bf16")
    bench = f"phase 3 training step (frozen ViT-B/14 + UPerNet, {width}x{height}, batch 2, CPU; native bf16: {cpu_bf16_supported()})"
    frozen = timing.compare(step("bf16", False), step("fp32", False), repeats=min(3, timing.REPEATS))
    whole = timing.compare(step("auto", True), step("fp32", False), repeats=min(3, timing.REPEATS))
    return [timing.compared(bench, "step with the frozen backbone's forward in bf16 (segkit's 'auto' here) vs all fp32", frozen),
            timing.compared(bench, "step with bf16 autocast for the whole forward (mixed_precision='bf16') vs all fp32", whole)]
