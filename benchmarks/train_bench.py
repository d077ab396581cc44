"Trainer benchmarks: overhead against a hand-written loop, the frozen-backbone feature cache, loader vs training step."
import os, statistics, time

import torch

from segkit.offroad.experiment import (SegExperiment, build_data, build_experiment_loss, build_experiment_model, build_experiment_trainer)


def _setup(tmp, name, **params):
    os.environ["SEGKIT_REPORTS_DIR"] = str(tmp / "reports")
    cfg = SegExperiment.from_namespace({"dataset": "synthetic", "data_dir": str(tmp / "data"), "weights": None,
                                        "synthetic_train": 16, "synthetic_val": 4, "num_workers": 0, "run_name": name,
                                        "compare_to": [], **params})
    train, val, root = build_data(cfg)
    model = build_experiment_model(cfg, train.num_classes)
    return cfg, train, val, root, model


def trainer_overhead(tmp, median_time, epochs=4):
    "Same model, data and steps: segkit Trainer epochs vs a minimal loop (forward, backward, step, val forward)."
    cfg, train, val, root, model = _setup(tmp, "overhead", backbone="dinov2_vits14", head="convnext", feature_cache="off",
                                          optimizer="adamw", lr=1e-3, width=224, height=126, batch_size=4, epochs=epochs)
    trainer = build_experiment_trainer(cfg, model, build_experiment_loss(cfg, train), train, val, root)
    trainer.quiet = True
    h = trainer.fit()
    segkit_epoch = statistics.median(e["time_s"] for e in h["epochs"][1:])

    m, loss_fn = trainer.model, torch.nn.CrossEntropyLoss(ignore_index=255)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    train_dl, val_dl = trainer.train_loader, trainer.val_loader
    def hand_epoch():
        m.train()
        for x, y in train_dl:
            loss = loss_fn(m(x), y); loss.backward(); opt.step(); opt.zero_grad()
        m.eval()
        with torch.no_grad():
            for x, y in val_dl: loss_fn(m(x), y)
    hand = median_time(hand_epoch, repeats=epochs - 1)
    return [{"bench": "trainer overhead (ViT-S/14 + ConvNeXt, 224x126, 16 train / 4 val images)",
             "what": "epoch time: segkit Trainer (metrics, history, checkpoints) vs hand-written loop",
             "value": f"{segkit_epoch:.2f} s", "baseline": f"{hand:.2f} s", "ratio": f"{segkit_epoch / hand:.2f}x"}]


def feature_cache(tmp, median_time, epochs=4):
    "Phase 1 configuration (frozen ViT-S/14 + ConvNeXt, 476x266): epoch time with and without the feature cache."
    times = {}
    for cache in ("off", "memory"):
        cfg, train, val, root, model = _setup(tmp, f"cache-{cache}", feature_cache=cache, epochs=epochs, batch_size=2)
        trainer = build_experiment_trainer(cfg, model, build_experiment_loss(cfg, train), train, val, root)
        trainer.quiet = True
        h = trainer.fit()
        times[cache] = statistics.median(e["time_s"] for e in h["epochs"][1:])  # after the first epoch
    return [{"bench": "feature cache (phase 1: frozen ViT-S/14 + ConvNeXt, 476x266, 16 train / 4 val images)",
             "what": "epoch time after the first epoch: cache vs no cache", "value": f"{times['memory']:.2f} s",
             "baseline": f"{times['off']:.2f} s", "ratio": f"{times['off'] / times['memory']:.1f}x faster"}]


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
             "what": "images consumed per second", "value": f"{2 / t:.2f} images/s"}]
