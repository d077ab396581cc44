"""kill -9 a real phase 1 run (smoke preset, tiny) at random points, resume it each time, and compare with one
uninterrupted run: the history must be identical, and no file corrupt or left behind.

Each run is a forked child of this process (segkit and torch are imported once: a fresh interpreter costs seconds
per restart), running what `nbs/phase1.ipynb` runs: parameters, data (generated on the first run), model, loss,
trainer, fit. The first kill lands while the synthetic data is being generated; the others at random moments of
training (start-up, an epoch, a checkpoint or history write: a random fraction of the last epoch's time after an epoch
boundary), drawn from a fixed seed so a failure can be replayed.
"""
import json, multiprocessing, os, random, signal, time
from pathlib import Path

import pytest
import torch
from PIL import Image

from segkit.offroad.experiment import (SegExperiment, build_data, build_experiment_loss, build_experiment_model,
                                       build_experiment_trainer)
from segkit.recorder import load_checkpoint
from segkit.runs import load_run
from segkit.synthetic import MARKER

KILLS, EPOCHS, SEED, DELAY = 5, 12, 1234, 0.2  # DELAY: seconds before the first epoch time is known
TINY = dict(preset="smoke", epochs=EPOCHS, synthetic_train=8, synthetic_val=4, width=56, height=28, batch_size=4, seed=0)


def _train(name: str, resume: bool):
    "The phase 1 notebook's cells, in a forked child; exit code 0 when the run completed."
    code = 1
    try:
        torch.set_num_threads(1)
        cfg = SegExperiment.from_namespace({**TINY, "run_name": name, "resume": resume})
        train, val, root = build_data(cfg)
        trainer = build_experiment_trainer(cfg, build_experiment_model(cfg, train.num_classes),
                                           build_experiment_loss(cfg, train), train, val, root)
        trainer.quiet = True
        code = 0 if trainer.fit(resume=resume)["status"] == "completed" else 2
    finally:
        os._exit(code)  # never return into pytest from a forked child


def _start(reports: Path, name: str):
    resume = (reports / name / "checkpoints" / "last.pth").exists()
    p = multiprocessing.get_context("fork").Process(target=_train, args=(name, resume))
    p.start()
    return p, resume


def _epochs_done(reports: Path, name: str) -> int:
    try: return len(json.loads((reports / name / "history.json").read_text())["epochs"])
    except (OSError, ValueError): return 0


def _epoch_time(reports: Path, name: str) -> float:
    "Seconds the last recorded epoch took (DELAY before one is recorded)."
    try: return float(json.loads((reports / name / "history.json").read_text())["epochs"][-1]["time_s"])
    except (OSError, ValueError, KeyError, IndexError, TypeError): return DELAY


def _generating(synthetic: Path) -> bool:
    return synthetic.is_dir() and any(p.name.startswith(".offroad-") and ".tmp-" in p.name for p in synthetic.iterdir())


def _comparable(history: dict) -> dict:
    "What must be identical: every record without its wall-clock time, the best, the per-class metrics, the status."
    return {"status": history["status"], "best": history["best"], "per_class": history["per_class"],
            "epochs": [{k: v for k, v in r.items() if k != "time_s"} for r in history["epochs"]]}


@pytest.fixture(scope="module")
def killed_and_reference(tmp_path_factory):
    "Run 'killed' with KILLS kill -9s (the first during data generation) and resumes, then 'reference' without."
    base = tmp_path_factory.mktemp("kill")
    reports, synthetic = base / "reports", base / "synthetic"
    env = {"SEGKIT_REPORTS_DIR": str(reports), "SEGKIT_SYNTHETIC_DIR": str(synthetic), "SEGKIT_CACHE_DIR": str(base / "cache"), "CI": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    rng, kills, attempts = random.Random(SEED), [], 0
    try:
        while len(kills) < KILLS and attempts < 4 * KILLS:
            attempts += 1
            done = _epochs_done(reports, "killed")
            p, resumed = _start(reports, "killed")
            deadline = time.monotonic() + 120
            if not kills:  # the first kill: while the synthetic dataset is being written
                while p.is_alive() and not _generating(synthetic) and time.monotonic() < deadline: time.sleep(0.001)
                where = "data generation"
            else:  # a random moment after the next epoch begins: start-up, training, evaluation or a write
                target = done + (len(kills) > 1)  # the second kill during start-up or the first epoch, later ones after an epoch of progress
                while p.is_alive() and _epochs_done(reports, "killed") < target and time.monotonic() < deadline: time.sleep(0.005)
                time.sleep(rng.uniform(0, 1) * _epoch_time(reports, "killed"))  # lands within the next epoch on a fast or a busy machine
                where = f"epoch {_epochs_done(reports, 'killed') + 1}"  # or the writes that end it
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL); p.join()
                if p.exitcode == 0: break  # it finished just before the kill
                status = load_run(reports / "killed").status if (reports / "killed" / "history.json").exists() else None
                kills.append({"where": where, "resumed": resumed, "exit": p.exitcode, "status": status})
            else:
                p.join()
                assert p.exitcode == 0, f"the run failed (exit {p.exitcode}) instead of being killed"
                if not kills: pytest.fail("the data generation finished before the kill could land")
                break  # finished before the kill: no more epochs to interrupt
        if not (reports / "killed" / "history.json").exists() or _comparable(json.loads((reports / "killed" / "history.json").read_text()))["status"] != "completed":
            p, _ = _start(reports, "killed"); p.join()
            assert p.exitcode == 0, f"the last resume failed (exit {p.exitcode})"
        p, _ = _start(reports, "reference"); p.join()
        assert p.exitcode == 0, f"the reference run failed (exit {p.exitcode})"
    finally:
        for k, v in old.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v
    print(f"kills: {kills}")
    return reports, synthetic, kills


def test_killed_runs(killed_and_reference):
    _, _, kills = killed_and_reference
    assert len(kills) >= KILLS, kills
    assert kills[0]["where"] == "data generation" and all(k["exit"] == -signal.SIGKILL for k in kills)
    assert any(k["resumed"] for k in kills), "no kill landed in a resumed run"
    assert all(k["status"] in (None, "stale") for k in kills) and "stale" in [k["status"] for k in kills]  # not "running" forever


def test_resume_is_exact(killed_and_reference):
    reports, _, _ = killed_and_reference
    killed, reference = (json.loads((reports / n / "history.json").read_text()) for n in ("killed", "reference"))
    assert _comparable(killed) == _comparable(reference)
    assert len(reference["epochs"]) == EPOCHS
    assert any(e["kind"] == "resumed" for e in killed["events"])
    for name in ("best", "last", "final"):
        a, b = (load_checkpoint(reports / n / "checkpoints" / f"{name}.pth")["model"] for n in ("killed", "reference"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"{name}.pth differs"


def test_nothing_corrupt_or_left_behind(killed_and_reference):
    reports, synthetic, _ = killed_and_reference
    leftovers = [p for root in (reports, synthetic) for p in root.rglob(".*") if not p.name.endswith(".lock")]
    assert leftovers == [], leftovers  # no temporary file of an interrupted write, no half-built dataset
    for p in reports.rglob("*.json"): json.loads(p.read_text())
    for p in reports.rglob("*.pth"): load_checkpoint(p)
    datasets = [d for d in synthetic.iterdir() if not d.name.startswith(".")]
    assert len(datasets) == 1 and (datasets[0] / MARKER).is_file()
    for p in datasets[0].rglob("*.png"): Image.open(p).verify()
