"""Every experiment notebook's defaults are its seed's settings, point by point.

Each table row is (parameter, the seed's value, the seed file and line it comes from); the seed files are in
`../shared/seeds/` (`/work/shared/seeds/`). The notebook's `parameters` cell is parsed, not run (no kernel). A value the
cell leaves at None is taken after the experiment resolves it (Vesuvius: from `loss_config`). Settings the seed does
not state are segkit's choices: each must say so in its parameters-cell comment (`SEGKIT_CHOICES`).
"""
from pathlib import Path

import nbformat
import pytest

import segkit.faceparse.experiment, segkit.offroad.experiment, segkit.s4gan.experiment  # register the notebooks
from segkit.experiment import EXPERIMENTS
from segkit.vesuvius.experiment import SEED_CONFIGS, VesuviusExperiment
from test_params import NBS, parameters, parameters_cell

PHASE1, PHASE3, VESUVIUS, FACES, S4GAN = ("001_76ca3aa493978cdf.txt", "000_0a74b4824f36d504.txt", "002_16ab1d979b688c42.txt",
                                          "003_468da331db847e73.txt", "004_6a03442fa9cc0642.txt")
PHASE2 = PHASE3  # the phase 3 report's "Phase 2" column (lines 21-34); there is no phase 2 report

SEED = {
    "phase1": [
        ("backbone", "dinov2_vits14", PHASE1, 32, "Backbone	DINOv2 ViT-Small (dinov2_vits14) — frozen"),
        ("head", "convnext", PHASE1, 33, "Seg Head	ConvNeXt-style (simple Conv2d stack)"),
        ("head_norm", None, PHASE1, 33, "Seg Head	ConvNeXt-style (simple Conv2d stack)"),
        ("optimizer", "sgd", PHASE1, 34, "Optimizer	SGD (lr=1e-4, momentum=0.9)"),
        ("lr", 1e-4, PHASE1, 34, "Optimizer	SGD (lr=1e-4, momentum=0.9)"),
        ("momentum", 0.9, PHASE1, 34, "Optimizer	SGD (lr=1e-4, momentum=0.9)"),
        ("schedule", "constant", PHASE1, 37, "Learning Rate	1e-4 (constant, no scheduler)"),
        ("epochs", 10, PHASE1, 38, "Epochs	10"),
        ("batch_size", 2, PHASE1, 39, "Batch Size	2"),
        ("width", 476, PHASE1, 40, "Image Size	476×266 (nearest multiple of 14)"),
        ("height", 266, PHASE1, 40, "Image Size	476×266 (nearest multiple of 14)"),
        ("loss", "ce", PHASE1, 41, "Loss	CrossEntropyLoss (unweighted)"),
        ("class_weights", None, PHASE1, 41, "Loss	CrossEntropyLoss (unweighted)"),
        ("augment", "none", PHASE1, 42, "Augmentations	None"),
        ("mixed_precision", "no", PHASE1, 43, "Mixed Precision	No"),
        ("patience", None, PHASE1, 44, "Checkpointing	Final model only"),
    ],
    "phase2": [
        ("backbone", "dinov2_vits14", PHASE2, 22, "Backbone	DINOv2 ViT-Small (384-dim)"),
        ("head", "convnext", PHASE2, 23, "Seg Head	ConvNeXt (simple conv stack)"),
        ("loss", "ce", PHASE2, 24, "Loss	Weighted CrossEntropy"),
        ("width", 476, PHASE2, 25, "Image Size	476×266"),
        ("height", 266, PHASE2, 25, "Image Size	476×266"),
        ("optimizer", "adamw", PHASE2, 26, "Optimizer	AdamW (lr=5e-4)"),
        ("lr", 5e-4, PHASE2, 26, "Optimizer	AdamW (lr=5e-4)"),
        ("schedule", "cosine", PHASE2, 27, "LR Schedule	CosineAnnealingLR"),
        ("epochs", 30, PHASE2, 28, "Epochs	30"),
        ("batch_size", 2, PHASE2, 29, "Batch Size	2"),
        ("head_norm", "batchnorm", PHASE2, 30, "Normalization	BatchNorm2d"),
        ("augment", "phase2", PHASE2, 31, "Augmentations	HFlip, VFlip, ShiftScaleRotate, Blur, ColorJitter"),
        ("patience", 10, PHASE2, 34, "Early Stopping	Patience=10"),
        ("mixed_precision", "fp16", PHASE1, 157, "5. Mixed precision ... (line 159: implemented in Phase 2)"),
    ],
    "phase3": [
        ("backbone", "dinov2_vitb14", PHASE3, 22, "Backbone	... DINOv2 ViT-Base (768-dim)"),
        ("head", "upernet", PHASE3, 23, "Seg Head	... UPerNet (PPM + multi-scale FPN)"),
        ("loss", "focal_dice", PHASE3, 24, "Loss	... Focal (γ=2) + Dice"),
        ("focal_gamma", 2.0, PHASE3, 24, "Loss	... Focal (γ=2) + Dice"),
        ("width", 644, PHASE3, 25, "Image Size	... 644×364"),
        ("height", 364, PHASE3, 25, "Image Size	... 644×364"),
        ("optimizer", "adamw", PHASE3, 26, "Optimizer	... AdamW (lr=3e-4)"),
        ("lr", 3e-4, PHASE3, 26, "Optimizer	... AdamW (lr=3e-4)"),
        ("schedule", "cosine", PHASE3, 27, "LR Schedule	... 3-epoch warmup + CosineAnnealing"),
        ("warmup_epochs", 3, PHASE3, 27, "LR Schedule	... 3-epoch warmup + CosineAnnealing"),
        ("epochs", 40, PHASE3, 28, "Epochs	30	40"),
        ("batch_size", 2, PHASE3, 29, "Batch Size	2	2 (effective 4 via gradient accumulation)"),
        ("accumulate", 2, PHASE3, 29, "Batch Size	2	2 (effective 4 via gradient accumulation)"),
        ("augment", "phase3", PHASE3, 31, "Augmentations	... + RandomShadow, CLAHE"),
        ("patience", 12, PHASE3, 34, "Early Stopping	Patience=10	Patience=12"),
        ("mixed_precision", "fp16", PHASE3, 261, "Mixed precision (AMP) is critical — without it, this would OOM."),
    ],
    "vesuvius": [
        ("lr", 1e-4, VESUVIUS, 24, "learning_rate: 0.0001"),
        ("weight_decay", 0.01, VESUVIUS, 25, "weight_decay: 0.01"),
        ("dice_weight", 0.2, VESUVIUS, 28, "dice_weight: 0.2"),
        ("focal_weight", 0.4, VESUVIUS, 29, "focal_weight: 0.4"),
        ("variance_weight", 0.3, VESUVIUS, 30, "variance_weight: 0.3"),
        ("boundary_weight", 0.05, VESUVIUS, 31, "boundary_weight: 0.05"),
        ("cldice_weight", 0.05, VESUVIUS, 32, "cldice_weight: 0.05"),
        ("connectivity_weight", 0.0, VESUVIUS, 33, "connectivity_weight: 0.0"),
        ("focal_gamma", 2.0, VESUVIUS, 36, "focal_gamma: 2.0"),
        ("focal_alpha", 0.75, VESUVIUS, 37, "focal_alpha: 0.75"),
        ("use_class_weights", True, VESUVIUS, 40, "use_class_weights: true"),
        ("background_weight", 2.94, VESUVIUS, 41, "background_weight: 2.94"),
        ("foreground_weight", 1.52, VESUVIUS, 42, "foreground_weight: 1.52"),
        ("batch_size", 2, VESUVIUS, 46, "batch_size: 2"),
        ("epochs", 300, VESUVIUS, 47, "num_epochs: 300"),
        ("optimizer", "sgd", VESUVIUS, 48, "optimizer: SGD with CosineAnnealingWarmRestarts"),
        ("schedule", "cosine_restarts", VESUVIUS, 48, "optimizer: SGD with CosineAnnealingWarmRestarts"),
        ("restart_epochs", 10, VESUVIUS, 884, "OLD: CosineAnnealingWarmRestarts (T_0=10, T_mult=2)"),
        ("restart_mult", 2, VESUVIUS, 884, "OLD: CosineAnnealingWarmRestarts (T_0=10, T_mult=2)"),
        ("swa_start", 40, VESUVIUS, 49, "SWA enabled (epoch 40)"),
        ("grad_clip", 0.5, VESUVIUS, 50, "Gradient clipping: 0.5"),
        ("fold", 0, VESUVIUS, 67, "Training fold_0 active"),
        ("n_folds", 5, VESUVIUS, 144, "Dataset: Vesuvius Challenge Surface Detection (5-fold CV)"),
        ("monitor", "val_loss", VESUVIUS, 93, "Checkpoint: Best loss so far"),
        ("threshold", 0.5, VESUVIUS, 209, "| postprocess threshold | 0.5 | 0.7 |"),
        ("patch_size", 128, VESUVIUS, 613, "patch_size: [128, 128, 128] # unchanged"),
    ],
    "faceparse": [
        ("model_name", "microsegformer", FACES, 15, "Checkpoint: checkpoints/microsegformer_20251008_025917/best_model.pth"),
        ("ce_weight", 1.0, FACES, 20, "ce_weight: 1.0"),
        ("dice_weight", 1.5, FACES, 21, "dice_weight: 1.5  # KEY: Increased from 1.0"),
        ("lr", 8e-4, FACES, 25, "learning_rate: 8e-4"),
        ("optimizer", "adamw", FACES, 26, "optimizer: AdamW"),
        ("schedule", "cosine", FACES, 27, "scheduler: CosineAnnealingLR"),
        ("batch_size", 32, FACES, 28, "batch_size: 32"),
        ("epochs", 300, FACES, 29, "epochs: 300 (stopped at 112, best at 92)"),
        ("augmentation", "baseline", FACES, 32, "horizontal_flip: 0.5 (lines 33-35: rotation 15, colour jitter 0.2/0.2/0.1, scale 0.9-1.1)"),
        ("patience", 20, FACES, 162, "Early stopping patience 20 is appropriate"),
        ("use_lmsa", True, FACES, 219, "LMSA module is critical for small object detection"),
        ("mixed_precision", "fp16", FACES, 233, "Mixed precision training (faster, same accuracy)"),
    ],
    "s4gan": [
        ("dataset", "semisup", S4GAN, 5, "Dataset: 370,647 patches (12,856 labeled, 357,791 unlabeled)"),
        ("labeled_ratio", None, S4GAN, 5, "Dataset: 370,647 patches (12,856 labeled, 357,791 unlabeled)"),
        ("batch_size", 4, S4GAN, 6, "Batch Size: 4"),
        ("trunk", "resnet101", S4GAN, 7, "Model: S4GAN (DeepLabV2-ResNet101)"),
        ("threshold_st", 0.2, S4GAN, 145, "Current: --threshold-st 0.2"),
        ("width", 256, S4GAN, 279, "Each batch has 4 × 256 × 256 = 262,144 pixels"),
        ("height", 256, S4GAN, 279, "Each batch has 4 × 256 × 256 = 262,144 pixels"),
        ("eval_every", 500, S4GAN, 293, "Evaluate: Run evaluation every 500 iterations"),
    ],
}

# parameters the seed does not state: the cell's comment on that line must say "segkit's choice"
SEGKIT_CHOICES = {
    "phase2": ["class_weights", "head_norm"],  # "Weighted CrossEntropy" names no weighting; BatchNorm2d's place is unstated
    "vesuvius": ["momentum", "nesterov"],  # "SGD" only
    "faceparse": ["weight_decay", "warmup_epochs", "grad_clip", "image_size", "val_fraction", "seed"],
}

# the seed's named Vesuvius configurations: (config, parameter, seed value, seed line of 002_…txt)
VESUVIUS_CONFIGS = [
    ("v2", "threshold", 0.7, 209), ("v2", "dice_weight", 0.4, 202), ("v2", "foreground_weight", 3.0, 208),
    ("v3", "threshold", 0.8, 269), ("v3", "foreground_weight", 3.6, 268), ("v3", "epochs", 50, 341),
    ("v2_optimized", "threshold", 0.6, 348), ("v2_optimized", "boundary_weight", 0.1, 344),
    ("v4", "foreground_weight", 5.0, 418), ("v4", "lr", 2e-4, 420), ("v4", "swa_start", 20, 421), ("v4", "noise_std", 0.002, 423),
    ("v5", "variance_weight", 0.5, 495), ("v5", "cldice_weight", 0.0, 499), ("v5", "noise_every", 2, 504), ("v5", "noise_std", 0.005, 505),
    ("optimized", "batch_size", 8, 610), ("optimized", "lr", 2e-4, 611), ("optimized", "dice_weight", 0.5, 617),
    ("optimized", "focal_weight", 0.3, 618), ("optimized", "variance_weight", 0.1, 619),
    ("conservative", "dice_weight", 0.75, 875), ("conservative", "boundary_weight", 0.0, 878),
    ("conservative", "schedule", "plateau", 888), ("conservative", "schedule_patience", 5, 888), ("conservative", "epochs", 500, 897),
]


def notebook_values(notebook: str) -> tuple[dict, str]:
    source = parameters_cell(nbformat.read(NBS / f"{notebook}.ipynb", as_version=4))
    values = parameters(source)
    resolved = EXPERIMENTS.get(notebook).from_namespace(values)  # fills what the cell leaves at None
    return {k: getattr(resolved, k) if v is None else v for k, v in values.items()}, source


@pytest.mark.parametrize("notebook", sorted(SEED))
def test_notebook_defaults_are_the_seed(notebook):
    values, source = notebook_values(notebook)
    wrong = [f"{p} = {values.get(p, '<missing>')!r} in nbs/{notebook}.ipynb, the seed says {v!r} ({f} line {line}: {text})"
             for p, v, f, line, text in SEED[notebook] if p not in values or values[p] != v]
    assert wrong == []
    lines = {line.split("=")[0].strip(): line for line in source.splitlines() if "=" in line}
    unmarked = [p for p in SEGKIT_CHOICES.get(notebook, []) if "segkit's choice" not in lines.get(p, "")]
    assert unmarked == [], f"not marked as segkit's choice in nbs/{notebook}.ipynb: {unmarked}"


def test_seed_lines_say_what_the_table_says():
    "Each cited seed line holds the value's key words, so a table row cannot drift from its source."
    seeds = next((d for d in (NBS.parents[1] / "shared" / "seeds", Path("/work/shared/seeds")) if d.is_dir()), None)
    if seeds is None: pytest.skip("the seed reports are not on this machine")
    missing = []
    for rows in SEED.values():
        for p, v, f, line, text in rows:
            seed_line = (seeds / f).read_text(errors="replace").splitlines()[line - 1]
            words = text.split("...")[0].split("—")[0].replace("(", " ").split()[:2]
            if not all(w.strip("*:|") in seed_line for w in words if w.strip("*:|")):
                missing.append(f"{f}:{line} {seed_line!r} lacks {words}")
    assert missing == []


@pytest.mark.parametrize("config,param,value,line", VESUVIUS_CONFIGS)
def test_vesuvius_named_configs(config, param, value, line):
    cfg = VesuviusExperiment.from_namespace({"loss_config": config})
    assert getattr(cfg, param) == value, f"loss_config={config!r}: {param} = {getattr(cfg, param)!r}, the seed's line {line} says {value!r}"
    for unstated in SEED_CONFIGS[config]["segkit_choice"]:
        assert hasattr(cfg, unstated), unstated
