"The s4GAN notebook runs end to end in the smoke preset through papermill, with its supervised baseline, and reports both."
import json, re
from pathlib import Path

import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = "smoke-s4gan"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    "papermill called in this process (its imports paid once), the notebook in a real kernel."
    reports, work = tmp_path_factory.mktemp("reports"), tmp_path_factory.mktemp("work")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGKIT_REPORTS_DIR", str(reports)); mp.setenv("CI", "true")
        pm.execute_notebook(str(ROOT / "nbs" / "s4gan.ipynb"), str(work / "s4gan.ipynb"), cwd=str(ROOT), progress_bar=False,
                            parameters={"preset": "smoke", "data_dir": str(work / "data"), "run_name": RUN, "with_baseline": True})
    return reports


def load(run, name="history.json"): return json.loads((run / name).read_text())


def section(report, title):
    "The text of the report section `## <n>. <title>`."
    match = re.search(rf"^## \d+\. {re.escape(title)}\n\n(.*?)(?=^## \d+\. |\Z)", report, re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def test_both_runs_complete_by_iterations(reports):
    for name, mode in ((RUN, "s4gan"), (f"{RUN}-baseline", "supervised")):
        h, cfg = load(reports / name), load(reports / name, "config.json")
        assert (h["status"], h["x"], cfg["trainer"]["mode"]) == ("completed", "iteration", mode)
        evals = [r for r in h["epochs"] if "val_miou" in r]
        assert [r["iteration"] for r in evals] == [4, 8] and all(0 <= r["val_miou"] <= 1 for r in evals)
        assert h["best"]["value"] == max(r["val_miou"] for r in evals)
    assert load(reports / RUN, "config.json")["compare_to"] == [f"{RUN}-baseline"]


def test_report_has_the_table_at_each_evaluation(reports):
    h, report = load(reports / RUN), (reports / RUN / "report.md").read_text()
    assert f"**Best Val mIoU:** **{h['best']['value']:.4f}** (iteration {h['best']['iteration']})" in report
    table = section(report, "Results at Each Evaluation").replace("**", "")
    assert table.startswith("| Iteration | Train mIoU | Val mIoU | Loss_CE | Loss_FM | Loss_ST | Loss_D | ST count | ST share | "
                            "D real | D fake | Threshold |")
    for r in (r for r in h["epochs"] if "val_miou" in r):
        row = (f"| {r['iteration']} | {r['train_miou']:.4f} | {r['val_miou']:.4f} | {r['train_ce']:.4f} | {r['train_fm']:.4f} | "
               f"{r['train_st']:.4f} | {r['d_loss']:.4f} | {r['st_selected']} | {100 * r['st_share']:.2f}% | {r['d_real']:.4f} | "
               f"{r['d_fake']:.4f} | {r['threshold_st']:.4f} |")
        assert row in table, (row, table)
    per_class = section(report, f"Per-Class Results (val, iteration {h['best']['iteration']})")
    assert f"{max(h['per_class']['iou']):.4f}" in per_class


def test_alarms_best_checkpoint_and_the_baseline_answer(reports):
    h, base = load(reports / RUN), load(reports / f"{RUN}-baseline")
    report = (reports / RUN / "report.md").read_text()
    alarms = section(report, "s4GAN Alarms")
    selected = sum(r["st_selected"] for r in h["epochs"])
    assert f"Self-training: {selected} unlabeled images selected over {len(h['epochs'])} log steps" in alarms
    assert f"→ {h['epochs'][-1]['d_loss']:.3f} at iteration 8 (lowest {min(r['d_loss'] for r in h['epochs']):.3f}" in alarms
    best = section(report, "Best Iteration and Checkpoint")
    assert f"Best val mIoU **{h['best']['value']:.4f}** at iteration {h['best']['iteration']}" in best
    assert "`checkpoints/best.pth`" in best and (reports / RUN / "checkpoints" / "best.pth").stat().st_size > 0
    answer = section(report, "Does the Unlabeled Data Help?")
    ours, theirs = h["best"]["value"], base["best"]["value"]
    assert f"| Best val mIoU | {ours:.4f} (iteration {h['best']['iteration']}) | {theirs:.4f} (iteration {base['best']['iteration']}) |" in answer
    assert f"Difference (s4GAN − supervised): {ours - theirs:+.4f}." in answer
    assert re.search(r"\*\*(Yes|No, it hurt|No measurable difference)\*\*", answer)
    assert section(report, "Observations").strip()
    baseline_report = (reports / f"{RUN}-baseline" / "report.md").read_text()
    assert "only the val mIoU alarm applies" in baseline_report
    assert "Does the Unlabeled Data Help?" not in baseline_report


def test_figures_and_index(reports):
    for name in ("curves", "lr_schedule", "adversarial", "per_class_iou", "class_shares", "predictions"):
        png = reports / RUN / "figures" / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000, name
        assert f"](figures/{name}.png)" in (reports / RUN / "report.md").read_text(), name
    assert not (reports / f"{RUN}-baseline" / "figures" / "adversarial.png").exists()   # no discriminator in the baseline
    index = (reports / "README.md").read_text()
    assert f"[{RUN}]({RUN}/report.md)" in index and f"[{RUN}-baseline]({RUN}-baseline/report.md)" in index
    assert "(iteration " in index and "8 iterations" in index
