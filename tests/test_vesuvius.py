"""The Vesuvius notebook runs end to end in the smoke preset through papermill, and its run folder holds real results.

`segkit run` is called in this process (its imports are paid once) and runs the notebook in a real kernel."""
import json, math
from pathlib import Path

import pytest
from segkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
EPOCH_METRICS = ("fg_dice", "fg_iou", "fg_precision", "fg_recall", "predicted_foreground", "true_foreground")
SECTIONS = ("Whole-Volume Evaluation", "Threshold Sweep", "Foreground per Epoch", "Diagnosis", "Score Notes")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    reports, data = tmp_path_factory.mktemp("reports"), tmp_path_factory.mktemp("data") / "vesuvius"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT); mp.setenv("SEGKIT_REPORTS_DIR", str(reports)); mp.setenv("CI", "true")
        main(["run", "vesuvius", "-p", "preset", "smoke", "-p", "data_dir", str(data), "-p", "run_name", "smoke-vesuvius"])
    return reports / "smoke-vesuvius"


def test_every_epoch_row_has_the_binary_metrics(run):
    h = json.loads((run / "history.json").read_text())
    assert h["status"] == "completed" and len(h["epochs"]) == 3
    for row in h["epochs"]:
        for split in ("train", "val"):
            for metric in EPOCH_METRICS:
                value = row[f"{split}_{metric}"]
                assert isinstance(value, float) and 0 <= value <= 1, (split, metric, value)
    assert 0 < h["epochs"][-1]["val_true_foreground"] < 1
    assert [e["kind"] for e in h["events"] if e["kind"].startswith("swa")] == ["swa_start", "swa"]


def test_report_has_the_sections_with_the_numbers(run):
    report = (run / "report.md").read_text()
    for title in SECTIONS: assert f". {title}\n" in report, title
    evaluation = json.loads((run / "evaluation.json").read_text())
    summary = evaluation["summary"]
    assert summary["volumes"] == 2 and 0.05 <= summary["threshold"] <= 0.95
    assert all(math.isfinite(summary[k]) for k in ("dice", "precision", "recall", "mean_score"))
    assert f"threshold **{summary['threshold']:g}**" in report
    assert f"| {summary['dice']:.4f} | {summary['iou']:.4f} | {summary['precision']:.4f} | {summary['recall']:.4f} |" in report
    assert (f"Predicts {summary['predicted_foreground']:.1%} foreground vs {summary['true_foreground']:.1%} true" in report)
    assert len(evaluation["sweep"]) == 19 and [c["weights"] for c in evaluation["compared"] if c["kept"]] == [evaluation["weights"]]
    assert [c["weights"].split(" (")[0] for c in evaluation["compared"]][1] == "SWA average of 2 epochs"
    history = json.loads((run / "history.json").read_text())
    assert f"{history['best']['value']:.4f}" in report
    assert (history["volume_score"], history["volume_dice"]) == (summary["mean_score"], summary["dice"])  # for sweeps
    assert json.loads((run / "config.json").read_text())["summary_metrics"][:3] == ["volume_score", "volume_dice", "volume_foreground_share"]
    assert history["monitor"] == "val_loss" and summary["criterion"] == "given" and summary["threshold"] == 0.5  # the seed's


def test_figures_and_files_exist(run):
    for f in ("figures/curves.png", "figures/foreground.png", "figures/threshold_sweep.png", "figures/volume_slice.png",
              "volume_scores.csv", "vesuvius.ipynb", "checkpoints/best.pth", "checkpoints/swa.pth", "config.json"):
        assert (run / f).stat().st_size > 0, f
    assert (run / "figures" / "volume_slice.png").read_bytes()[:4] == b"\x89PNG"
    params = json.loads((run / "config.json").read_text())["params"]
    assert (params["loss_config"], params["dice_weight"], params["grad_clip"]) == ("v1", 0.2, 0.5)


def test_missing_data_fails_fast_with_the_fix(tmp_path):
    "The notebook's first data call: the real dataset's folder is absent, the error says where to put it and how to run without."
    from segkit.data import DataError
    from segkit.vesuvius.experiment import VesuviusExperiment, build_volume_data
    cfg = VesuviusExperiment.from_namespace({"data_dir": str(tmp_path / "none")})
    with pytest.raises(DataError, match='dataset="synthetic"') as error: build_volume_data(cfg)
    assert str(tmp_path / "none" / "train_images") in str(error.value)
