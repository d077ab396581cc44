"The face-parsing notebook runs end to end in the smoke preset through papermill, as `segkit sweep` runs one value."
import json, math, zipfile
from pathlib import Path

import papermill as pm
import pytest

from segkit.faceparse.models import build_face_model
from segkit.heads import count_parameters

ROOT = Path(__file__).resolve().parents[1]
RUN = "faceparse-dice_weight-2.0"  # the name `segkit sweep nbs/faceparse.ipynb -p dice_weight ...` gives a run


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    "papermill called in this process (its imports paid once), the notebook in a real kernel."
    reports, work = tmp_path_factory.mktemp("reports"), tmp_path_factory.mktemp("work")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGKIT_REPORTS_DIR", str(reports)); mp.setenv("CI", "true")
        pm.execute_notebook(str(ROOT / "nbs" / "faceparse.ipynb"), str(work / "faceparse.ipynb"), cwd=str(ROOT), progress_bar=False,
                            parameters={"preset": "smoke", "data_dir": str(work / "faces"), "submit": True, "dice_weight": 2.0,
                                        "run_name": RUN, "compare_to": None})
    return reports / RUN


def load(run, name): return json.loads((run / name).read_text())


def test_history_has_the_fscore_of_every_epoch(smoke):
    h = load(smoke, "history.json")
    assert h["status"] in ("completed", "early_stopped") and h["monitor"] == "val_fscore"
    scores = [e["val_fscore"] for e in h["epochs"]]
    assert [e["epoch"] for e in h["epochs"]] == list(range(1, len(scores) + 1)) and len(scores) >= 5
    assert all(isinstance(s, float) and math.isfinite(s) and 0 < s <= 1 for s in scores), scores
    assert h["best"] == {"value": max(scores), "epoch": scores.index(max(scores)) + 1}
    assert len(h["per_class"]["dice"]) == 19


def test_smoke_run_learns(smoke):
    scores = [e["val_fscore"] for e in load(smoke, "history.json")["epochs"]]
    assert max(scores) > scores[0] + 0.2, scores


def test_parameters_reach_the_run(smoke):
    cfg = load(smoke, "config.json")
    assert cfg["run_name"] == RUN and cfg["params"]["dice_weight"] == 2.0 and cfg["params"]["compare_to"] == []
    assert cfg["params"]["preset"] == "smoke" and cfg["model"]["trainable_params"] < 1_821_085


def test_report_and_figures(smoke):
    run = smoke
    report = (run / "report.md").read_text()
    h = load(run, "history.json")
    assert f"**{h['best']['value']:.4f}** (epoch {h['best']['epoch']})" in report
    assert "Face parsing: parameter budget and per-class F1" in report
    tiny = count_parameters(build_face_model("microsegformer_tiny"))
    assert f"| microsegformer_tiny with LMSA (this run) | {tiny:,} |" in report
    assert RUN in (run.parent / "README.md").read_text()
    for name in ("curves", "predictions", "per_class_iou", "lr_schedule"):
        assert (run / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name


def test_submission_zip(smoke):
    run = smoke
    with zipfile.ZipFile(run / "submission.zip") as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"masks", "solution"}
    assert {n for n in names if n.startswith("solution/")} == {"solution/ckpt.pth", "solution/requirements.txt", "solution/run.py"}
    assert len([n for n in names if n.startswith("masks/") and n.endswith(".png")]) == load(run, "config.json")["data"]["n_val"]

