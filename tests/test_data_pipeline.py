"Integration tests of the data layer: generated data on disk, read through the real loaders, in worker processes."
import os, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest
import torch

from segkit.data import IGNORE_INDEX, DataError, build_transforms, cache_decoded, make_loader
from segkit.faceparse.data import FaceParsingDataset, face_train_val
from segkit.offroad.data import OffroadDataset, offroad_train_val
from segkit.faceparse.data import make_face_dataset
from segkit.offroad.data import make_offroad_dataset
from segkit.synthetic import resolve_dataset


@pytest.fixture(scope="module")
def offroad(tmp_path_factory):
    return make_offroad_dataset(tmp_path_factory.mktemp("offroad"), n_train=8, n_val=2, size=(238, 133), seed=0)


def test_import_in_fresh_interpreter():
    subprocess.run([sys.executable, "-c", "import segkit.data, segkit.synthetic"], check=True)


@pytest.mark.parametrize("augment", ["none", "phase2", "phase3"])
def test_loader_with_workers(offroad, augment):
    train, val = offroad_train_val(offroad, build_transforms(augment, (224, 126)), build_transforms("none", (224, 126), False))
    batches = list(make_loader(train, 4, train=True, num_workers=2, seed=0))
    assert len(batches) == 2
    x, y = batches[0]
    assert x.shape == (4, 3, 126, 224) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and set(y.unique().tolist()) <= set(range(10)) | {IGNORE_INDEX}
    assert len(val) == 2


def test_augmentations_reproducible_across_workers(offroad, tmp_path, monkeypatch):
    "Same seed: same augmented batches with 0 or 2 workers, a fresh Compose, or the decoded cache; no two samples share one draw."
    monkeypatch.setenv("SEGKIT_CACHE_DIR", str(tmp_path))
    def run(workers, cached=False):
        ds = OffroadDataset(offroad, "train", build_transforms("phase3", (224, 126)))
        ds = cache_decoded(ds) if cached else ds
        return torch.cat([x for x, _ in make_loader(ds, 4, train=True, num_workers=workers, seed=5)])
    a, b = run(0), run(2)
    assert torch.equal(a, b)
    assert torch.equal(a, run(2, cached=True))  # workers map the cache themselves and draw the same augmentations
    ds = OffroadDataset(offroad, "train", build_transforms("phase3", (224, 126)))
    ds.set_epoch(1)
    assert not torch.equal(a, torch.cat([x for x, _ in make_loader(ds, 4, train=True, num_workers=2, seed=5)]))


def test_seeded_split_without_val_folder(tmp_path):
    root = make_offroad_dataset(tmp_path, n_train=10, n_val=0, size=(56, 28))
    tr, va = offroad_train_val(root, build_transforms(), build_transforms())
    assert (len(tr), len(va)) == (9, 1)
    assert not {p for p, _ in tr.pairs} & {p for p, _ in va.pairs}


def test_face_split_and_flip_swap(tmp_path):
    root = make_face_dataset(tmp_path, n=10, size=64)
    tr, va = face_train_val(root, build_transforms(), build_transforms())
    assert (len(tr), len(va)) == (9, 1)
    y = FaceParsingDataset(root)[0][1].numpy()
    assert (np.nonzero(y == 4)[1].mean() > 32) and (np.nonzero(y == 5)[1].mean() < 32)


def test_missing_data_message(tmp_path):
    with pytest.raises(DataError, match='dataset="synthetic"'):
        resolve_dataset("offroad", tmp_path / "nowhere")


def test_two_processes_generate_once(tmp_path):
    "Two processes ask for the same synthetic data at the same moment: one generates, the other waits and reuses it."
    code = ("import os, time; from pathlib import Path\n"
            "from segkit.offroad.data import make_offroad_dataset; from segkit.synthetic import resolve_dataset\n"
            f"gate = Path(r'{tmp_path}'); (gate / f'ready-{{os.getpid()}}').touch()\n"
            "while not (gate / 'go').exists(): time.sleep(0.01)\n"
            "print(resolve_dataset('synthetic', None, 'offroad', n_train=40, n_val=10, size=(238, 133), seed=0), flush=True)")
    env = {**os.environ, "SEGKIT_SYNTHETIC_DIR": str(tmp_path / "synthetic"), "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    while len(list(tmp_path.glob("ready-*"))) < 2 and all(p.poll() is None for p in procs): time.sleep(0.05)
    (tmp_path / "go").touch()  # both imported segkit: start them together
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    folders = {o.strip().splitlines()[-1] for o, _ in outs}
    assert len(folders) == 1
    d = Path(folders.pop())
    assert sorted(p.name for p in (tmp_path / "synthetic").iterdir() if not p.name.endswith(".lock")) == [d.name]
    assert len(list(d.rglob("*.png"))) == 100 and (d / "synthetic.json").exists()
    assert sum("waiting for another process" in o for o, _ in outs) == 1  # the loser waited for the winner
