"The phase 1-3 notebooks run end to end in the smoke preset through the `segkit` CLI (papermill), as a researcher runs them."
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEGKIT = [str(Path(sys.executable).parent / "segkit")]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    env = {**os.environ, "SEGKIT_REPORTS_DIR": str(out), "CI": "true"}
    data = tmp_path_factory.mktemp("data") / "offroad"
    for phase in ("phase1", "phase2", "phase3"):
        subprocess.run([*SEGKIT, "run", phase, "-p", "preset", "smoke", "-p", "dataset", "synthetic", "-p", "data_dir", str(data),
                        "-p", "run_name", f"smoke-{phase}"], cwd=ROOT, env=env, check=True)
    return out, env


def history(run):
    return json.loads((run / "history.json").read_text())


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_run_folder_holds_real_results(reports, phase):
    run = reports[0] / f"smoke-{phase}"
    h = history(run)
    assert h["status"] in ("completed", "early_stopped")
    assert all(0 <= e["val_miou"] <= 1 and e["train_loss"] > 0 for e in h["epochs"])
    assert len(h["per_class"]["iou"]) == 10
    for f in ("report.md", "config.json", "metrics.csv", f"{phase}.ipynb", "figures/curves.png", "figures/predictions.png",
              "checkpoints/best.pth", "checkpoints/last.pth"):
        assert (run / f).stat().st_size > 0, f
    report = (run / "report.md").read_text()
    best = max(e["val_miou"] for e in h["epochs"])
    assert f"{best:.4f}" in report


def test_phases_compare_to_earlier_phases(reports):
    report = (reports[0] / "smoke-phase3" / "report.md").read_text()
    assert "smoke-phase1" in report and "smoke-phase2" in report
    index = (reports[0] / "README.md").read_text()
    assert all(f"smoke-{p}" in index for p in ("phase1", "phase2", "phase3"))


def test_phase3_smoke_learns(reports):
    epochs = history(reports[0] / "smoke-phase3")["epochs"]
    assert max(e["val_miou"] for e in epochs) > epochs[0]["val_miou"] + 0.03, [e["val_miou"] for e in epochs]


def test_resume_continues_a_run(reports):
    out, env = reports
    run = "resume-phase1"
    base = [*SEGKIT, "run", "phase1", "-p", "preset", "smoke", "-p", "dataset", "synthetic", "-p", "run_name", run]
    subprocess.run([*base, "-p", "epochs", "2"], cwd=ROOT, env=env, check=True)
    subprocess.run([*base, "-p", "epochs", "3", "-p", "resume", "True"], cwd=ROOT, env=env, check=True)
    h = history(out / run)
    assert [e["epoch"] for e in h["epochs"]] == [1, 2, 3]
    assert any(e["kind"] == "resumed" for e in h["events"])


def test_missing_dataset_fails_fast_with_the_fix(reports, tmp_path):
    r = subprocess.run([*SEGKIT, "run", "phase3", "-p", "epochs", "40", "-p", "data_dir", str(tmp_path / "none")],
                       cwd=ROOT, env=reports[1], capture_output=True, text=True)
    assert r.returncode != 0
    assert 'dataset="synthetic"' in r.stdout + r.stderr


def test_sweep_writes_one_comparison(reports):
    subprocess.run([*SEGKIT, "sweep", "phase1", "-p", "epochs", "1", "2", "-p", "preset", "smoke", "-p", "dataset", "synthetic"],
                   cwd=ROOT, env=reports[1], check=True)
    comparisons = list(reports[0].glob("sweep-phase1-epochs-*/comparison.md"))
    assert len(comparisons) == 1
    text = comparisons[0].read_text()
    assert "epochs-1-" in text and "epochs-2-" in text
