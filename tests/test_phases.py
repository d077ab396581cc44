"""The phase 1-3 notebooks run end to end in the smoke preset through the `segkit` CLI (papermill), as a researcher runs them.

The CLI's entry point is called in this process (the console script itself: tests/test_layout.py, test_vesuvius.py,
test_multiprocess.py). The chain runs each notebook in a real kernel; the sweep and the resume, which check what the CLI
does around a notebook, run its cells in this process (`InProcessEngine`): a kernel start and its imports cost ~7 s a run."""
import json, os, re
from pathlib import Path

import pytest
from conftest import notebooks_in_process
from segkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


# The three phases as one chain (phase1 -> phase2 -> phase3 by `parent`), each stating what it expects: checks that the
# recorded numbers must meet (mIoU within [0, 1], above 0) and must miss (a negative loss), so the verdicts are known.
CHAIN = {"phase1": {"objective": "A frozen backbone with a light head learns the synthetic classes.", "expect": {"val_miou": [0, 1]}},
         "phase2": {"parent": "smoke-phase1", "expect": {"val_loss": "<0"}},
         "phase3": {"parent": "smoke-phase2", "objective": "The larger head and Focal+Dice beat phase 2.",
                    "expect": {"val_miou": ">0", "val_loss": "<0"}}}


def segkit(*args, **env):
    "`segkit *args` in this process, from the project folder, with `env` set (None: unset) for the run."
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        for k, v in env.items():
            if v is None: mp.delenv(k, raising=False)
            else: mp.setenv(k, v)
        main([str(a) for a in args])


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    data = tmp_path_factory.mktemp("data") / "offroad"
    for phase, chain in CHAIN.items():
        params = [a for k, v in chain.items() for a in ("-p", k, json.dumps(v) if isinstance(v, dict) else v)]
        # phase1 runs as a researcher's `segkit run` does (not quiet): its executed notebook shows the progress output
        segkit("run", phase, "-p", "preset", "smoke", "-p", "dataset", "synthetic", "-p", "data_dir", data, "-p", "run_name",
               f"smoke-{phase}", *params, SEGKIT_REPORTS_DIR=str(out), CI=None if phase == "phase1" else "true")
    return out, {"SEGKIT_REPORTS_DIR": str(out), "CI": "true"}


@pytest.fixture(scope="module")
def swept(reports):
    "`segkit sweep phase1 -p epochs 1 2`, then `segkit run -p resume True` continues the 1-epoch run to 2 epochs."
    out, env = reports
    with notebooks_in_process():
        segkit("sweep", "phase1", "-p", "epochs", 1, 2, "-p", "preset", "smoke", "-p", "dataset", "synthetic", **env)
        run = next(out.glob("phase1-epochs-1-*")).name
        segkit("run", "phase1", "-p", "preset", "smoke", "-p", "dataset", "synthetic", "-p", "run_name", run,
               "-p", "epochs", 2, "-p", "resume", True, **env)
    return out, run


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


def best_record(h):
    return next(e for e in h["epochs"] if e["epoch"] == h["best"]["epoch"])


def test_chain_reports_state_objective_verdicts_and_parent(reports):
    h = history(reports[0] / "smoke-phase3")
    miou, loss, epoch = best_record(h)["val_miou"], best_record(h)["val_loss"], h["best"]["epoch"]
    assert miou > 0 and loss > 0  # so the first check is met and the second missed by the loss itself
    report = (reports[0] / "smoke-phase3" / "report.md").read_text()
    top = report.split("\n## ")[0]
    assert "**Objective:** The larger head and Focal+Dice beat phase 2." in top
    assert "**Expectations:** 1 of 2 met" in top
    assert f"| Val mIoU > 0 | {miou:.4f} | best epoch {epoch} | ✅ met |" in top, top
    assert f"| Val Loss < 0 | {loss:.4f} | best epoch {epoch} | ❌ missed by {loss:.4g} |" in top, top
    assert "**Parent:** [smoke-phase2](../smoke-phase2/report.md)" in top
    phase2 = (reports[0] / "smoke-phase2" / "report.md").read_text().split("\n## ")[0]
    assert "**Expectations:** 0 of 1 met" in phase2 and "**Parent:** [smoke-phase1](../smoke-phase1/report.md)" in phase2
    assert "| loss |" in phase2 or "| Loss |" in phase2, phase2  # what changed vs the parent: CE -> CE + class weights, …


def test_index_shows_the_chain_with_its_verdicts(reports):
    index = (reports[0] / "README.md").read_text()
    chains = index.split("## Chains of runs")[1]
    line = next(l for l in chains.splitlines() if "smoke-phase1" in l)
    labels = line.split(" → ")
    assert [l.split("](")[0].split("[")[-1] for l in labels] == ["smoke-phase1", "smoke-phase2", "smoke-phase3"], line
    assert [l.split(", ")[-1].rstrip(")") for l in labels] == [
        "1/1 expectations met", "0/1 expectations met", "1/2 expectations met"], line


def test_executed_notebook_holds_one_progress_line_per_epoch(reports):
    nb = json.loads((reports[0] / "smoke-phase1" / "phase1.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    texts = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    epochs = len(history(reports[0] / "smoke-phase1")["epochs"])
    assert len(re.findall(r"^epoch \d+: train_loss=", texts, re.M)) == epochs, texts[-2000:]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert "it/s]" not in texts and "s/it]" not in texts


def test_phase3_smoke_learns(reports):
    epochs = history(reports[0] / "smoke-phase3")["epochs"]
    assert max(e["val_miou"] for e in epochs) > epochs[0]["val_miou"] + 0.03, [e["val_miou"] for e in epochs]


def test_missing_dataset_fails_fast_with_the_fix(tmp_path):
    "The notebook's first data call (in-process: the message is the library's): the real folder is absent, the error says how to run without."
    from segkit.data import DataError
    from segkit.offroad.experiment import SegExperiment, build_data
    cfg = SegExperiment.from_namespace({"experiment": "phase3", "epochs": 40, "data_dir": str(tmp_path / "none")})
    with pytest.raises(DataError, match='dataset="synthetic"') as error: build_data(cfg)
    assert str(tmp_path / "none") in str(error.value)


def test_sweep_writes_one_comparison(swept):
    comparisons = list(swept[0].glob("sweep-phase1-epochs-*/comparison.md"))
    assert len(comparisons) == 1
    text = comparisons[0].read_text()
    assert "epochs-1-" in text and "epochs-2-" in text


def test_resume_continues_a_run(swept):
    "`segkit run -p resume True` continues the sweep's 1-epoch run to 2 epochs (exactness: tests/test_kill.py, test_multiprocess.py)."
    out, run = swept
    h = history(out / run)
    assert [e["epoch"] for e in h["epochs"]] == [1, 2]
    assert any(e["kind"] == "resumed" for e in h["events"])
    assert (out / run / "phase1.resume-1.ipynb").exists() and (out / run / "phase1.ipynb").exists()  # the first notebook kept
