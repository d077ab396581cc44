"Where nobody watches the output (papermill, `segkit run`, a log file), a training run prints one line per epoch and no progress bars."
import contextlib, io

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from segkit.losses import CrossEntropy
from segkit.trainer import Trainer


def toy_loader(n, seed):
    x = torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=2)


def test_one_line_per_epoch_without_bars(monkeypatch):
    monkeypatch.setenv("SEGKIT_PROGRESS", "epoch")
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    trainer = Trainer(model, CrossEntropy(), toy_loader(8, 0), toy_loader(4, 1), num_classes=2, epochs=2, quiet=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): trainer.fit()
    lines = out.getvalue().splitlines()
    assert [l.split(":")[0] for l in lines] == ["epoch 1", "epoch 2"], lines   # 4 batches per epoch, no line for any
    assert "val_miou=" in lines[-1]
    assert "it/s" not in err.getvalue() and "\r" not in err.getvalue(), err.getvalue()[:300]
