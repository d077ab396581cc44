"Bad inputs of the data layer and of experiment parameters and runs: each stops with the right error type and a message naming the file or parameter, the value and the fix."
import json, multiprocessing, os, signal, subprocess, sys, time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segkit.data import DataError, check_masks, class_weights, pair_files, random_split_indices, read_rgb
from segkit.faceparse.data import FaceParsingDataset, write_palette_mask
from segkit.offroad.data import OffroadDataset, make_offroad_dataset
from segkit.registry import UnknownNameError
from segkit.synthetic import MARKER, generate_once, resolve_dataset, synthetic_dir

README = "data/README.md"


@pytest.fixture(autouse=True)
def own_folders(tmp_path, monkeypatch):
    "Generated data and caches of these tests go to the test's own folder."
    monkeypatch.setenv("SEGKIT_SYNTHETIC_DIR", str(tmp_path / "synthetic"))
    monkeypatch.setenv("SEGKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEGKIT_REPORTS_DIR", str(tmp_path / "reports"))


def offroad(root: Path, n: int = 3, split: str = "train") -> Path:
    "A valid off-road split of `n` pairs, 6x4, under `root`."
    for k in range(n): offroad_pair(root, f"{k:04d}", split=split)
    return root


def offroad_pair(root: Path, name: str, mask=None, image=None, split: str = "train", mask_ext: str = ".png",
                 image_ext: str = ".png"):
    "Write one off-road pair; `mask`/`image` replace the valid 6x4 arrays."
    d = root / split
    (d / "Color_Images").mkdir(parents=True, exist_ok=True); (d / "Segmentation").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(d / "Color_Images" / f"{name}{image_ext}"), np.full((4, 6, 3), 90, np.uint8) if image is None else image)
    cv2.imwrite(str(d / "Segmentation" / f"{name}{mask_ext}"), np.full((4, 6), 10000, np.uint16) if mask is None else mask)


def faces(root: Path, n: int = 2) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True); (root / "masks").mkdir(parents=True, exist_ok=True)
    for k in range(n):
        cv2.imwrite(str(root / "images" / f"{k}.jpg"), np.full((8, 8, 3), 90, np.uint8))
        write_palette_mask(np.ones((8, 8), np.uint8), root / "masks" / f"{k}.png")
    return root


def load_all(ds):
    for i in range(len(ds)): ds.load(i)


def generated(tmp):
    "A finished generated off-road dataset (tiny)."
    return generate_once("offroad", n_train=2, n_val=0, size=(28, 14), seed=0)


# Each case: setup(tmp) -> the call that must fail, the error type, and the substrings the message must hold:
# the file or parameter, the value, and the fix.
def _missing_folder(t):
    return lambda: pair_files(t / "nowhere" / "Color_Images", t / "nowhere" / "Segmentation"), DataError, \
        ["nowhere/Color_Images", "does not exist", 'dataset="synthetic"', README]

def _empty_folder(t):
    (t / "img").mkdir(); (t / "msk").mkdir()
    return lambda: pair_files(t / "img", t / "msk"), DataError, [str(t / "img"), "holds no", README]

def _wrong_extension_only(t):
    (t / "img").mkdir(); (t / "img" / "a.tif").touch(); (t / "msk").mkdir()
    return lambda: pair_files(t / "img", t / "msk"), DataError, [str(t / "img"), ".png/.jpg/.jpeg", README]

def _orphan_image(t):
    offroad(t); (t / "train" / "Segmentation" / "0001.png").unlink()
    return lambda: OffroadDataset(t), DataError, ["0001.png", "image(s) have no counterpart", "Add the missing files"]

def _orphan_mask(t):
    offroad(t); (t / "train" / "Color_Images" / "0002.png").unlink()
    return lambda: OffroadDataset(t), DataError, ["0002.png", "mask(s) have no counterpart", "Add the missing files"]

def _many_orphans(t):
    offroad(t, 8)
    for k in range(1, 8): (t / "train" / "Segmentation" / f"{k:04d}.png").unlink()
    return lambda: OffroadDataset(t), DataError, ["7 image(s)", "0001.png", " …", "same name"]

def _unknown_mask_id(t):
    offroad(t); offroad_pair(t, "0001", mask=np.array([[100, 42, 100, 100, 100, 100]] * 4, np.uint16))
    return lambda: load_all(OffroadDataset(t)), DataError, ["0001.png", "[42]", "Valid values: 100 (Trees)", "class table"]

def _background_zero(t):
    "The hackathon baseline's 'Background' 0: not an off-road id."
    offroad(t); offroad_pair(t, "0002", mask=np.zeros((4, 6), np.uint16))
    return lambda: load_all(OffroadDataset(t)), DataError, ["0002.png", "[0]", "600 (Flowers)"]

def _wrong_size_pair(t):
    offroad(t); offroad_pair(t, "0001", mask=np.full((5, 6), 100, np.uint16))
    return lambda: load_all(OffroadDataset(t)), DataError, ["0001.png is 6x4", "is 6x5", "Re-export the pair"]

def _corrupt_mask(t):
    offroad(t); (t / "train" / "Segmentation" / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return lambda: load_all(OffroadDataset(t)), DataError, ["Segmentation/0001.png", "corrupt", "Re-copy the file"]

def _empty_mask_file(t):
    offroad(t); (t / "train" / "Segmentation" / "0000.png").write_bytes(b"")
    return lambda: load_all(OffroadDataset(t)), DataError, ["Segmentation/0000.png", "cannot be read", "Re-copy"]

def _corrupt_image(t):
    offroad(t); (t / "train" / "Color_Images" / "0002.png").write_bytes(b"not an image")
    return lambda: read_rgb(t / "train" / "Color_Images" / "0002.png"), DataError, \
        ["Color_Images/0002.png", "cannot be read as an image", "remove it together with its mask"]

def _rgb_mask_offroad(t):
    "A colour rendering saved instead of the 16-bit id mask."
    offroad(t); offroad_pair(t, "0001", mask=np.full((4, 6, 3), 200, np.uint8))
    return lambda: load_all(OffroadDataset(t)), DataError, ["0001.png", "(4, 6, 3)", "single-channel", "original mask files"]

def _rgb_palette_mask_faces(t):
    faces(t); Image.new("RGB", (8, 8), (255, 0, 0)).save(t / "masks" / "1.png")
    return lambda: load_all(FaceParsingDataset(t)), DataError, ["masks/1.png", "mode is RGB", "Convert colour masks"]

def _mask_3d(t):
    "A multi-channel 16-bit mask (e.g. a volume slice stack written as RGB)."
    offroad(t); offroad_pair(t, "0000", mask=np.full((4, 6, 3), 100, np.uint16))
    return lambda: load_all(OffroadDataset(t)), DataError, ["0000.png", "(4, 6, 3)", "single-channel"]

def _face_id_out_of_range(t):
    faces(t); write_palette_mask(np.full((8, 8), 30, np.uint8), t / "masks" / "0.png")
    return lambda: load_all(FaceParsingDataset(t)), DataError, ["masks/0.png", "[30]", "extend the class table"]

def _same_stem_images(t):
    offroad(t); offroad_pair(t, "0001", image_ext=".jpg")
    return lambda: OffroadDataset(t), DataError, ["0001.jpg and 0001.png", "'0001'", "Keep one file per name"]

def _same_stem_masks_case(t):
    offroad(t); cv2.imwrite(str(t / "train" / "Segmentation" / "0000.PNG"), np.full((4, 6), 100, np.uint16))
    return lambda: OffroadDataset(t), DataError, ["0000.PNG and 0000.png", "Segmentation", "remove or rename"]

def _check_unread_mask(t):
    "An unknown id in the last sample, which drop_last would skip in every epoch: found before training."
    offroad(t, 5); offroad_pair(t, "0004", mask=np.full((4, 6), 4242, np.uint16))
    return lambda: check_masks(OffroadDataset(t)), DataError, \
        ["1 of 5 image/mask pairs", "0004.png", "[4242]", "Fix or remove these files"]

def _check_many_bad(t):
    offroad(t, 9)
    for k in range(1, 8): offroad_pair(t, f"{k:04d}", mask=np.full((4, 6), 7, np.uint16))
    return lambda: check_masks(OffroadDataset(t), show=3), DataError, \
        ["7 of 9 image/mask pairs", "0001.png", "0003.png", "[7]", "... and 4 more", "Fix or remove"]

def _check_size(t):
    offroad(t); offroad_pair(t, "0002", image=np.full((4, 8, 3), 90, np.uint8))
    return lambda: check_masks(OffroadDataset(t)), DataError, ["0002.png is 8x4", "is 6x4", "Re-export the pair"]

def _check_corrupt_image(t):
    offroad(t); (t / "train" / "Color_Images" / "0001.png").write_bytes(b"\x89PNG broken")
    return lambda: check_masks(OffroadDataset(t)), DataError, \
        ["Color_Images/0001.png", "cannot be read as an image", "Re-copy the file"]

def _check_rgb_palette(t):
    faces(t, 3); Image.new("RGB", (8, 8)).save(t / "masks" / "2.png")
    return lambda: check_masks(FaceParsingDataset(t)), DataError, ["1 of 3", "masks/2.png", "mode is RGB", "Convert"]

def _real_run_on_generated(t):
    g = generated(t)
    return lambda: resolve_dataset("offroad", g), DataError, \
        [str(g), "generated by segkit", "not the real offroad data", "dataset='synthetic'"]

def _real_run_on_old_generated_in_place(t):
    "A folder an older segkit generated where the real data belongs (marker, real layout)."
    make_offroad_dataset(t / "offroad", n_train=2, n_val=0, size=(28, 14)); (t / "offroad" / MARKER).write_text("{}")
    return lambda: resolve_dataset("offroad", t / "offroad"), DataError, \
        ["offroad", MARKER, "delete it and put the real data there", README]

def _real_run_inside_synthetic_root(t):
    generated(t)
    return lambda: resolve_dataset("offroad", t / "synthetic"), DataError, \
        [f"data_dir={str(t / 'synthetic')!r}", "inside", "generated by segkit", "dataset='synthetic'"]

def _real_without_data_dir(t):
    return lambda: resolve_dataset("offroad", None), DataError, ["dataset='offroad'", "needs data_dir", "train/Color_Images"]

def _real_folder_without_layout(t):
    (t / "mydata" / "images").mkdir(parents=True)
    return lambda: resolve_dataset("offroad", t / "mydata"), DataError, \
        ["mydata/train/Color_Images", "does not exist", 'dataset="synthetic"']

def _missing_val_split(t):
    offroad(t)
    return lambda: OffroadDataset(t, "val"), DataError, ["val", "does not exist", "<root>/val/Color_Images"]

def _unknown_kind(t):
    return lambda: resolve_dataset("synthetic", kind="ofroad"), UnknownNameError, \
        ["dataset kind", "kind='ofroad'", "did you mean 'offroad'?"]

def _unknown_dataset(t):
    return lambda: resolve_dataset("offraod", "data/offroad", kind="offroad"), UnknownNameError, \
        ["dataset='offraod'", "'synthetic', 'offroad'", "did you mean 'offroad'?"]

def _foreign_folder_at_generated_path(t):
    "A folder segkit did not make sits where a generated dataset would go: reported, never deleted."
    d = synthetic_dir("offroad", n_train=2, n_val=0, size=(28, 14), seed=0); (d / "notes").mkdir(parents=True)
    return lambda: generated(t), DataError, [str(d), "holds no synthetic.json", "does not delete it", "Move or delete that folder"]

def _generated_marker_mismatch(t):
    d = synthetic_dir("offroad", n_train=2, n_val=0, size=(28, 14), seed=0); d.mkdir(parents=True)
    (d / MARKER).write_text(json.dumps({"kind": "faces"}))
    return lambda: generated(t), DataError, [str(d), "'faces'", "does not delete it"]

def _split_one_sample(t):
    return lambda: random_split_indices(1, 0.1), DataError, ["cannot split 1 sample", "add data"]

def _val_fraction(t):
    return lambda: random_split_indices(100, 1.5), ValueError, ["val_fraction", "1.5", "(0, 1)"]

def _class_weight_method(t):
    import pandas as pd
    st = pd.DataFrame({"pixels": [1, 2], "image_pixels": [3, 3]})
    return lambda: class_weights(st, "sqrt"), ValueError, ["'sqrt'", "valid: ['inverse', 'inv_share', 'median']"]


# Parameters: the values the user gave are validated as given (a preset never replaces them), papermill's injected
# names and types are checked, and a resume that would change the experiment is refused.
def _params(**given):
    from segkit.offroad.experiment import SegExperiment
    return lambda: SegExperiment.from_namespace(given)

def _smoke_batch_size_zero(t):
    return _params(preset="smoke", batch_size=0), ValueError, ["batch_size=0", "must be at least 1"]

def _smoke_backbone_typo(t):
    return _params(preset="smoke", backbone="dinov2_tiyn"), UnknownNameError, ["backbone='dinov2_tiyn'", "did you mean 'dinov2_tiny'?"]

def _smoke_width(t):
    return _params(preset="smoke", width=225), ValueError, ["width=225", "multiple of the ViT patch size 14", "use 224"]

def _injected_unknown_name(t):
    "papermill -p dice_wieght 2.0: the kernel's globals hold the name, the injected cell says the user gave it."
    return _params(In=["# Parameters\ndice_wieght = 2.0\n"], dice_wieght=2.0), UnknownNameError, \
        ["unknown parameter 'dice_wieght'", "'dice_weight'", "did you mean 'dice_weight'?"]

def _lr_not_a_number(t):
    return _params(lr="abc"), TypeError, ["lr='abc'", "takes float", "-p lr 0.001"]

def _fractional_epochs(t):
    return _params(epochs=1.5), TypeError, ["epochs=1.5", "takes int", "whole number, e.g. -p epochs 2"]

def _numeric_run_name(t):
    return _params(run_name=7), TypeError, ["run_name=7", "takes str | None", "-r run_name 7"]

def _resume_not_a_flag(t):
    return _params(resume="yes"), TypeError, ["resume='yes'", "takes bool", "-p resume True"]

def _stored_run(t, **params):
    "A run folder 'r1' under t/reports as an earlier run left it (config.json, checkpoints/last.pth)."
    from dataclasses import asdict
    from segkit.offroad.experiment import SegExperiment
    os.environ["SEGKIT_REPORTS_DIR"] = str(t / "reports")  # restored by the own_folders fixture
    cfg = SegExperiment.from_namespace({"run_name": "r1", **params})
    (t / "reports" / "r1" / "checkpoints").mkdir(parents=True); (t / "reports" / "r1" / "checkpoints" / "last.pth").touch()
    (t / "reports" / "r1" / "config.json").write_text(json.dumps({"params": asdict(cfg)}))
    return cfg

def _resume_other_loss(t):
    from dataclasses import replace
    from segkit.experiment import run_dir
    cfg = _stored_run(t)
    return lambda: run_dir(replace(cfg, resume=True, loss="dice", epochs=20)), ValueError, \
        ["resume=True would continue", "loss: 'ce' -> 'dice'", "give the stored values again", "config.json", "another run_name"]

def _resume_missing_run(t):
    from dataclasses import replace
    from segkit.experiment import run_dir
    cfg = _stored_run(t)
    return lambda: run_dir(replace(cfg, resume=True, run_name="r2")), FileNotFoundError, \
        ["r2/checkpoints/last.pth does not exist", "run_name='r2'", "without resume"]


CASES = {f.__name__.strip("_"): f for f in [
    _missing_folder, _empty_folder, _wrong_extension_only, _orphan_image, _orphan_mask, _many_orphans,
    _unknown_mask_id, _background_zero, _wrong_size_pair, _corrupt_mask, _empty_mask_file, _corrupt_image,
    _rgb_mask_offroad, _rgb_palette_mask_faces, _mask_3d, _face_id_out_of_range, _same_stem_images,
    _same_stem_masks_case, _check_unread_mask, _check_many_bad, _check_size, _check_corrupt_image,
    _check_rgb_palette, _real_run_on_generated, _real_run_on_old_generated_in_place, _real_run_inside_synthetic_root,
    _real_without_data_dir, _real_folder_without_layout, _missing_val_split, _unknown_kind, _unknown_dataset,
    _foreign_folder_at_generated_path, _generated_marker_mismatch, _split_one_sample, _val_fraction,
    _class_weight_method, _smoke_batch_size_zero, _smoke_backbone_typo, _smoke_width, _injected_unknown_name,
    _lr_not_a_number, _fractional_epochs, _numeric_run_name, _resume_not_a_flag, _resume_other_loss, _resume_missing_run]}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, tmp_path):
    call, error, parts = CASES[case](tmp_path)
    with pytest.raises(error) as e: call()
    missing = [p for p in parts if p not in str(e.value)]
    assert not missing, f"{case}: message lacks {missing}: {e.value}"


def test_synthetic_never_writes_into_data_dir(tmp_path, capsys):
    "dataset='synthetic' with a user's data folder: the folder is untouched, the note says where the data went."
    user = tmp_path / "offroad"; (user / "train" / "Color_Images").mkdir(parents=True)
    (user / "notes.txt").write_text("mine")
    before = sorted(p.relative_to(user) for p in user.rglob("*"))
    d = resolve_dataset("synthetic", user, "offroad", n_train=2, n_val=0, size=(28, 14), seed=0)
    out = capsys.readouterr().out
    assert f"data_dir={str(user)!r} is not used" in out and str(d) in out
    assert sorted(p.relative_to(user) for p in user.rglob("*")) == before
    assert d.parent == tmp_path / "synthetic" and (d / MARKER).exists()
    resolve_dataset("synthetic", user, "offroad", n_train=3, n_val=0, size=(28, 14), seed=0)  # other settings
    assert d.exists() and sorted(p.relative_to(user) for p in user.rglob("*")) == before  # nothing deleted


def test_nothing_written_into_data_folder(tmp_path):
    "class_stats and check_masks cache in segkit's cache folder; the data folder stays as it was."
    from segkit.data import class_stats
    root = offroad(tmp_path / "data")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    ds = OffroadDataset(root)
    class_stats(ds); check_masks(ds)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert list((tmp_path / "cache").rglob("*.json"))


def _generate(synthetic: Path) -> Path:
    "The off-road synthetic set (100 images) generated under `synthetic` ($SEGKIT_SYNTHETIC_DIR), in this process; its folder."
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGKIT_SYNTHETIC_DIR", str(synthetic))
        return Path(resolve_dataset("synthetic", None, "offroad", n_train=40, n_val=10, size=(238, 133), seed=0))

def _fork_generate(synthetic: Path):
    "`_generate` in a forked child (segkit is imported once: a fresh interpreter costs seconds), to be killed."
    def child():
        code = 1
        try: _generate(synthetic); code = 0
        finally: os._exit(code)  # never return into pytest from a forked child
    p = multiprocessing.get_context("fork").Process(target=child)
    p.start()
    return p

def _files(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    "The files of the dataset `_generate` makes when nothing interrupts it."
    return _files(_generate(tmp_path_factory.mktemp("reference")))


@pytest.mark.parametrize("files_before_kill", [0, 50])  # before the first file and midway; tests/test_kill.py kills generation in a whole run too
def test_kill_during_generation(tmp_path, files_before_kill, uninterrupted):
    "kill -9 a real generator when its temporary folder holds N of 100 images: the next call succeeds, nothing half-written stays."
    expected = uninterrupted
    root = tmp_path / "synthetic"
    p = _fork_generate(root)
    deadline = time.time() + 300
    while time.time() < deadline:
        tmps = list(root.glob(".offroad-*.tmp-*")) if root.exists() else []
        n = sum(1 for _ in tmps[0].rglob("*.png")) if tmps else -1
        if n >= files_before_kill or not p.is_alive(): break
        time.sleep(0.005)
    assert p.is_alive(), "the generator finished before it could be killed; make the dataset larger"
    os.kill(p.pid, signal.SIGKILL); p.join()
    finals = [d for d in root.iterdir() if not d.name.startswith(".")]
    assert finals == [], f"a killed generation left a final folder: {finals}"
    assert list(root.glob(".offroad-*.tmp-*")), "the kill should have left the temporary folder for the next call"
    d = _generate(root)
    assert _files(d) == expected  # complete and identical to an uninterrupted generation
    assert sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) == [d.name]  # temp removed


def test_preset_never_replaces_a_users_value():
    "-p preset smoke -p batch_size 3 trains with 3; what the user did not give, the preset fills."
    from segkit.offroad.experiment import SegExperiment
    cfg = SegExperiment.from_namespace({"preset": "smoke", "batch_size": 3, "epochs": 40, "lr": 1e-4})
    assert (cfg.batch_size, cfg.epochs, cfg.lr) == (3, 40, 1e-4)
    assert (cfg.backbone, cfg.weights, cfg.width, cfg.dataset) == ("dinov2_tiny", None, 224, "synthetic")
    kernel = {**SegExperiment.defaults("phase3"), "In": ["# Parameters\npreset = 'smoke'\nbatch_size = 2\n"], "preset": "smoke"}
    cfg = SegExperiment.from_namespace(kernel)  # papermill gave batch_size 2 (the default): kept; phase 3's epochs capped
    assert (cfg.batch_size, cfg.epochs, cfg.backbone, cfg.optimizer) == (2, 10, "dinov2_tiny", "adamw")
    assert SegExperiment.from_namespace({**kernel, "In": ["# Parameters\npreset = 'smoke'\n"]}).batch_size == 4


def test_resume_may_extend_a_run(tmp_path):
    from dataclasses import replace
    from segkit.experiment import run_dir
    cfg = _stored_run(tmp_path)
    extended = replace(cfg, resume=True, epochs=40, patience=3, compare_to=["phase2"], objective="longer", expect={"val_miou": ">0.5"})
    assert run_dir(extended) == tmp_path / "reports" / "r1"


def test_stale_status_of_a_killed_process(tmp_path):
    "A run whose process was killed says 'running' in history.json; segkit calls it stale, with its last update."
    import socket
    from segkit.report import update_index
    from segkit.runs import example_history, load_run, write_example_run
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    history = {**example_history([0.3]), "status": "running", "pid": p.pid, "host": socket.gethostname(), "updated": "2026-03-01T10:00:00"}
    run = write_example_run(tmp_path, "r1", history)
    assert load_run(run).status == "running"
    p.kill(); p.wait()
    assert load_run(run).status == "stale"
    assert "| stale (last update 2026-03-01 10:00) |" in update_index(tmp_path).read_text()
