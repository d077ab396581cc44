"Each experiment declares the metrics and figures its sweeps and comparisons show; fabricated run folders, no training."
import json

import pytest

import segkit.faceparse.experiment, segkit.offroad.experiment, segkit.s4gan.experiment, segkit.vesuvius.experiment  # register
from segkit.experiment import EXPERIMENTS
from segkit.report import comparison_table, write_comparison
from segkit.runs import example_history, load_run, write_example_run

DECLARED = {"phase1": ("val_miou", "val_mean_dice", "val_pixel_accuracy", "val_loss"),
            "faceparse": ("val_fscore", "val_miou", "val_loss"),
            "vesuvius": ("volume_score", "volume_dice", "volume_foreground_share", "val_fg_dice", "val_predicted_foreground", "val_loss"),
            "s4gan": ("val_miou", "val_mean_dice", "val_pixel_accuracy")}


@pytest.mark.parametrize("notebook", sorted(DECLARED))
def test_each_experiment_declares_its_metrics(notebook):
    cls = EXPERIMENTS.get(notebook)
    assert cls.SUMMARY_METRICS == DECLARED[notebook]
    assert all(f.startswith("figures/") and f.endswith(".png") for f in cls.SUMMARY_FIGURES)


def fabricated(root, name, experiment, val_miou, params, header=(), **columns):
    "A run folder as the experiment writes it: its declared metrics in config.json, whole-volume numbers in history.json."
    cls = EXPERIMENTS.get(experiment)
    run = write_example_run(root, name, {**example_history(val_miou, **columns), **dict(header)}, **params)
    config = json.loads((run / "config.json").read_text())
    config.update(experiment=experiment, summary_metrics=list(cls.SUMMARY_METRICS), summary_figures=list(cls.SUMMARY_FIGURES))
    (run / "config.json").write_text(json.dumps(config))
    (run / "figures").mkdir()
    (run / cls.SUMMARY_FIGURES[0]).write_bytes(b"\x89PNG")
    return run


def test_vesuvius_comparison_shows_its_metrics_and_no_loss_across_loss_weightings(tmp_path):
    fg = dict(val_fg_dice=[0.5, 0.6], val_predicted_foreground=[0.7, 0.62])
    runs = [fabricated(tmp_path, f"vesuvius-{c}", "vesuvius", [0.3, 0.4], dict(loss_config=c, dice_weight=w),
                       header=dict(volume_score=s, volume_dice=d, volume_foreground_share=p), **fg)
            for c, w, s, d, p in (("v1", 0.2, 0.51, 0.62, 0.66), ("v2", 0.4, 0.55, 0.64, 0.58))]
    table = comparison_table([load_run(r) for r in runs])
    rows = dict(zip(table.index, table.values.tolist()))
    assert rows["Volume score"] == ["0.5100", "0.5500", "+0.0400 (+7.8%)"]
    assert rows["Volume Dice"][:2] == ["0.6200", "0.6400"] and rows["Volume predicted FG"][:2] == ["66.00%", "58.00%"]
    assert rows["Val FG Dice"][:2] == ["0.6000", "0.6000"] and "Val Predicted FG" in rows
    assert rows["Val Loss"] == ["not comparable: the losses differ"] * 3
    assert "Val mIoU" not in rows  # an off-road metric the experiment does not declare
    out = write_comparison(runs, tmp_path / "sweep" / "comparison.md", "vesuvius: sweep over loss_config = v1, v2")
    text = out.read_text()
    assert "## Each run's figures" in text and "- vesuvius-v2: [curves](../vesuvius-v2/figures/curves.png)" in text


def test_face_sweep_shows_the_fscore_and_the_loss_when_comparable(tmp_path):
    runs = [fabricated(tmp_path, f"face-{i}", "faceparse", [0.5, 0.55], dict(dice_weight=1.5, weight_decay=i * 1e-4), val_fscore=f)
            for i, f in ((1, [0.66, 0.6889]), (2, [0.65, 0.6819]))]
    rows = dict(zip(*(lambda t: (t.index, t.values.tolist()))(comparison_table([load_run(r) for r in runs]))))
    assert rows["Val F-score"][:2] == ["0.6889", "0.6819"] and rows["Val F-score"][2].startswith("-0.0070")
    assert rows["Val Loss"][0] != "not comparable: the losses differ"  # same loss weights: comparable
    assert "Val Acc" not in rows
