"""The shared model tester (`segkit.heads.check_model`) over every registered model family: registering a model in
`segkit.heads.MODELS` puts it under this test."""
import importlib, pkgutil

import pytest
import torch

import segkit
from segkit.heads import MODELS, check_model, count_parameters

for module in pkgutil.walk_packages(segkit.__path__, "segkit."): importlib.import_module(module.name)  # every task registers its families

NUM_CLASSES = 3


def test_every_task_registers_its_model_families():
    assert {"segmodel_convnext", "segmodel_upernet", "unet3d", "unet3d_deep_supervision", "deeplabv2", "s4gan_discriminator",
            "microsegformer"} <= set(MODELS), list(MODELS)


@pytest.mark.parametrize("name", list(MODELS))
def test_model_family(name):
    "Forward shapes at non-square sizes, gradients to every trainable parameter and none to frozen ones, state-dict round trip."
    torch.manual_seed(0)
    info = MODELS.info(name)
    assert info["input"] in ("image", "volume", "discriminator") and len(set(map(tuple, info["sizes"]))) > 1, info
    assert any(len(set(size)) > 1 for size in info["sizes"]), f"{name}: test at least one non-square size, not {info['sizes']}"
    model = MODELS.create(name, NUM_CLASSES)
    counts = check_model(model, NUM_CLASSES, **info)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert counts["trainable"] == count_parameters(model) == sum(p.numel() for p in trainable) > 0, counts
    assert counts["trainable"] + counts["frozen"] == sum(p.numel() for p in model.parameters())
