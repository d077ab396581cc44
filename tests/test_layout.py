"""The layout rules: the core never imports a task package, a notebook imports only lower-numbered notebooks' modules,
no module writes into another module's table at import time (registries are filled with `register`)."""
import ast, json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "segkit"
TASKS = ("offroad", "vesuvius", "s4gan", "faceparse")
WRITES = ("update", "append", "extend", "insert", "setdefault")  # methods that change a dict or list in place


def module_name(path: Path) -> str:
    "`segkit.vesuvius.models` for segkit/vesuvius/models.py."
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_modules(tree: ast.AST, module: str) -> list[str]:
    "Absolute names of the modules that `module`'s source imports (relative imports resolved), with the names imported."
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import): found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module.split(".")[:-node.level] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            found += [source] + [f"{source}.{a.name}" for a in node.names]
    return found


def task_imports(source: str, module: str) -> list[str]:
    "The task packages (`segkit.<task>...`) imported by `module`'s source."
    return [m for m in imported_modules(ast.parse(source), module) if m.split(".")[:2] in [["segkit", t] for t in TASKS]]


def test_the_task_import_check_sees_relative_and_absolute_imports():
    assert task_imports("from .offroad.data import OFFROAD_CLASSES", "segkit.experiment") == ["segkit.offroad.data", "segkit.offroad.data.OFFROAD_CLASSES"]
    assert task_imports("from . import vesuvius", "segkit.cli") == ["segkit.vesuvius"]
    assert task_imports("import segkit.s4gan.models as m", "segkit.cli") == ["segkit.s4gan.models"]
    assert task_imports("from segkit.faceparse import models", "segkit.cli") == ["segkit.faceparse", "segkit.faceparse.models"]
    assert task_imports("from .data import IGNORE_INDEX\nfrom .registry import Registry", "segkit.heads") == []


def test_the_core_never_imports_a_task_package():
    core = sorted(PACKAGE.glob("*.py"))
    assert len(core) > 10, f"expected the core modules in {PACKAGE}"
    bad = {module_name(p): found for p in core if (found := task_imports(p.read_text(), module_name(p)))}
    assert not bad, f"core modules importing task packages (move the code into the task package or pass it in): {bad}"


def numbered_notebooks() -> dict[str, tuple[int, Path]]:
    "Exported module (e.g. `vesuvius.models`) -> (notebook number, notebook) for every numbered notebook."
    found = {}
    for nb in sorted((ROOT / "nbs").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        exp = next(m.group(1) for c in cells if (m := re.search(r"^#\| *default_exp +(\S+)", "".join(c["source"]), re.M)))
        found[exp] = (int(nb.name[:2]), nb)
    return found


def notebook_imports(nb: Path, modules) -> set[str]:
    "The segkit modules (names in `modules`) imported by any code cell of `nb`."
    found = set()
    for cell in json.loads(nb.read_text())["cells"]:
        if cell["cell_type"] != "code": continue
        source = "\n".join(l for l in "".join(cell["source"]).splitlines() if not l.lstrip().startswith(("%", "!")))
        try: tree = ast.parse(source)
        except SyntaxError as error: raise AssertionError(f"{nb.name}: a code cell does not parse ({error})") from error
        found |= {m.removeprefix("segkit.") for m in imported_modules(tree, "segkit.x")} & set(modules)
    return found


def test_notebooks_import_only_lower_numbered_notebooks():
    modules = numbered_notebooks()
    assert len(modules) > 20 and modules["heads"][0] == 11, modules.get("heads")
    bad = []
    for own, (number, nb) in modules.items():
        for used in sorted(notebook_imports(nb, modules) - {own}):
            if modules[used][0] >= number: bad.append(f"{nb.name} imports segkit.{used} ({modules[used][1].name})")
    assert not bad, "a notebook may import only modules of lower-numbered notebooks:\n" + "\n".join(bad)


def test_the_notebook_import_check_sees_segkit_imports(tmp_path):
    nb = tmp_path / "11_x.ipynb"
    cells = [{"cell_type": "code", "source": ["#| export\n", "from segkit.losses import FocalDice\n", "from segkit import data, io"]},
             {"cell_type": "markdown", "source": ["from segkit.trainer import Trainer"]},
             {"cell_type": "code", "source": ["%time import segkit.metrics\n", "import segkit.runs as runs"]}]
    nb.write_text(json.dumps({"cells": cells}))
    assert notebook_imports(nb, ["losses", "data", "io", "trainer", "metrics", "runs"]) == {"losses", "data", "io", "runs"}


def table_writes(source: str, module: str) -> list[str]:
    "Import-time writes (`T[k] = v`, `T.update(...)`, ...) into a name imported from another segkit module."
    tree = ast.parse(source)
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("segkit")):
            imported |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("segkit")}

    def root(node):
        while isinstance(node, (ast.Attribute, ast.Subscript)): node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def top_level(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): continue
            yield node
            yield from top_level(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))

    bad = []
    for node in top_level(tree.body):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        bad += [ast.unparse(t) for t in targets if isinstance(t, ast.Subscript) and root(t) in imported]
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)) if isinstance(node, ast.Expr) else ():
            if isinstance(call.func, ast.Attribute) and call.func.attr in WRITES and root(call.func.value) in imported:
                bad.append(ast.unparse(call.func))
    return bad


def test_the_table_write_check_allows_only_register():
    src = "from ..losses import LOSSES\nimport segkit.data as data\nfrom torch import nn\nTABLE = {}\n"
    assert table_writes(src + 'LOSSES.register("cldice", ClDice)\nTABLE["x"] = 1\nTABLE.update(y=2)\nnn.x = 1', "segkit.vesuvius.losses") == []
    assert table_writes(src + 'LOSSES.update({"cldice": ClDice})', "m") == ["LOSSES.update"]
    assert table_writes(src + 'LOSSES["cldice"] = ClDice', "m") == ["LOSSES['cldice']"]
    assert table_writes(src + 'if True:\n    data.AUGMENTATIONS._entries["x"] = f', "m") == ["data.AUGMENTATIONS._entries['x']"]
    assert table_writes(src + 'def f():\n    LOSSES["x"] = 1', "m") == []


def test_no_module_writes_into_another_modules_table():
    modules = sorted(PACKAGE.rglob("*.py"))
    bad = {module_name(p): found for p in modules if (found := table_writes(p.read_text(), module_name(p)))}
    assert not bad, f"modules writing into another module's table at import time (use its registry's `register`): {bad}"


def test_public_names_and_the_command_line():
    from segkit.losses import FocalDice
    assert FocalDice().weights
    r = subprocess.run([str(Path(sys.executable).parent / "segkit"), "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "usage" in r.stdout.lower(), r.stderr[-2000:]
