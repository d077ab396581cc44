"Every experiment notebook's `parameters` cell is its registered experiment class's defaults for that notebook."
import ast
from pathlib import Path

import nbformat
import pytest

import segkit.faceparse.experiment, segkit.offroad.experiment, segkit.s4gan.experiment, segkit.vesuvius.experiment  # register
from segkit.experiment import EXPERIMENTS

NBS = Path(__file__).resolve().parents[1] / "nbs"
NOTEBOOKS = sorted(p.stem for p in NBS.glob("*.ipynb") if not p.stem[:1].isdigit() and p.stem != "index")


def parameters_cell(nb) -> str:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{len(cells)} cells tagged 'parameters'; an experiment notebook has exactly one"
    return cells[0].source


def parameters(source: str) -> dict:
    "Name -> value of every top-level assignment of a parameters cell (`width, height = 476, 266` gives two)."
    values = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign), f"line {node.lineno}: a parameters cell holds assignments only"
        value = eval(compile(ast.Expression(node.value), "parameters", "eval"), {})
        for target in node.targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            assert all(isinstance(n, ast.Name) for n in names), f"line {node.lineno}: assign plain names"
            values.update(zip([n.id for n in names], value) if isinstance(target, ast.Tuple) else {target.id: value})
    return values


def mismatches(notebook: str, values: dict) -> list[str]:
    "Differences between a notebook's parameters and its experiment class's defaults for it, one line each."
    cls = EXPERIMENTS.get(notebook)
    defaults = cls.defaults(notebook)
    return ([f"{k} is not a field of {cls.__name__}" for k in values if k not in defaults]
            + [f"{k} is a field of {cls.__name__} but not in the parameters cell" for k in defaults if k not in values]
            + [f"{k} = {values[k]!r} in the notebook but {defaults[k]!r} in {cls.__name__}.defaults({notebook!r})"
               for k in values if k in defaults and (values[k] != defaults[k] or type(values[k]) != type(defaults[k]))])


def test_every_experiment_notebook_is_registered():
    assert set(NOTEBOOKS) == {"phase1", "phase2", "phase3", "vesuvius", "s4gan", "faceparse"}
    assert set(NOTEBOOKS) <= set(EXPERIMENTS), sorted(set(NOTEBOOKS) - set(EXPERIMENTS))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_parameters_cell_is_the_class_defaults(notebook):
    values = parameters(parameters_cell(nbformat.read(NBS / f"{notebook}.ipynb", as_version=4)))
    assert mismatches(notebook, values) == []
    cfg = EXPERIMENTS.get(notebook).from_namespace(values)  # and they validate as they are
    assert cfg.experiment == notebook and cfg.preset == "full"


def test_a_changed_notebook_fails(tmp_path):
    nb = nbformat.read(NBS / "phase3.ipynb", as_version=4)
    source = parameters_cell(nb)
    for old, new in (("height = 364", "height = 378"), ('lr = 3e-4', 'lr = 3e-3'),
                     ('head = "upernet"\n', ""), ("resume = False", "resume = False\nlearning_rate = 1e-3"),
                     ("epochs = 40", "epochs = 40.0")):
        assert old in source, old
        source = source.replace(old, new)
    problems = mismatches("phase3", parameters(source))
    assert sorted(problems) == sorted([
        "height = 378 in the notebook but 364 in SegExperiment.defaults('phase3')",
        "lr = 0.003 in the notebook but 0.0003 in SegExperiment.defaults('phase3')",
        "head is a field of SegExperiment but not in the parameters cell",
        "learning_rate is not a field of SegExperiment",
        "epochs = 40.0 in the notebook but 40 in SegExperiment.defaults('phase3')"]), problems
    assert mismatches("phase2", parameters(parameters_cell(nb)))  # phase 3's values are not phase 2's
    with pytest.raises(AssertionError, match="assignments only"): parameters("import os\nlr = 1e-4")


def test_papermill_command_line_values_reach_the_experiment(tmp_path):
    "The README's command: papermill's own `-p`/`-y` parsing (types read from the text) gives values the experiment takes as given."
    import subprocess, sys
    out = tmp_path / "out.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    subprocess.run([str(papermill), str(NBS / "phase3.ipynb"), str(out), "--prepare-only", "-p", "epochs", "40",
                    "-p", "lr", "0.001", "-p", "channels_last", "True", "-p", "grad_clip", "None", "-p", "backbone_precision", "fp32",
                    "-p", "run_name", "my-run", "-y", "compare_to: [phase1]"], check=True, capture_output=True, text=True, timeout=120)
    nb = nbformat.read(out, as_version=4)
    injected = [c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1, "papermill injects one parameters cell"
    values = {**parameters(parameters_cell(nb)), **parameters(injected[0])}
    cfg = EXPERIMENTS.get("phase3").from_namespace({**values, "In": ["", injected[0]]})
    assert (cfg.epochs, cfg.lr, cfg.channels_last, cfg.grad_clip, cfg.backbone_precision, cfg.run_name, cfg.compare_to) == \
        (40, 0.001, True, None, "fp32", "my-run", ["phase1"])
    assert type(cfg.epochs) is int and type(cfg.lr) is float
