"""The docs loop up to Quarto, offline: nbdev's docs processing (what `nbdev_docs` and `nbdev_readme` run before Quarto
renders) succeeds on every notebook, and README.md is the text of nbs/index.ipynb (the docs site's home page)."""
import difflib, json, subprocess, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# nbdev's docs processors (frontmatter, show_doc, hiding, links, …: all that `nbdev_docs` and `nbdev_readme` run before
# Quarto) on every notebook, in a process of their own, writing to a temp folder: nothing installed, no network.
# `exec_show_docs` runs each module notebook's exported and import cells out of context; exported cells run in nbdev_test
# already, and what broke the docs build were cells mixing imports with other code (a test's variables missing there),
# so here those cells are selected by nbdev's own rule (it warns on them) instead of run: ~4 s of CPU instead of ~40.
PROCESS = """
import json, sys, warnings
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from nbdev.process import Processor
from nbdev.processors import FilterDefaults, exec_show_docs, _do_eval

class select_show_docs(Processor):
    def __call__(self, cell):
        if self.nb.has_docs_: _do_eval(cell)

class WithoutExecution(FilterDefaults):
    def base_procs(self): return [select_show_docs if p is exec_show_docs else p for p in super().base_procs()]

out, problems = Path(sys.argv[1]), []
for path in sorted(Path("nbs").glob("*.ipynb")):
    nb = read_nb(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try: WithoutExecution()(nb); write_nb(nb, out / path.name)
        except Exception as e: problems.append(f"{path}: {type(e).__name__}: {e}")
    problems += [f"{path}: {w.message}" for w in caught if "imports and other code" in str(w.message)]
print(json.dumps(problems))
"""


def test_docs_processing_runs_on_every_notebook(tmp_path):
    r = subprocess.run([sys.executable, "-c", PROCESS, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    problems = json.loads(r.stdout.strip().splitlines()[-1])
    assert not problems, ("nbdev's docs processing fails on these notebooks. The docs build runs every cell holding an import "
                          "out of context: move a test cell's imports to the notebook's import cell\n\n" + "\n\n".join(problems))
    assert len(list(tmp_path.glob("*.ipynb"))) == len(list((ROOT / "nbs").glob("*.ipynb")))


def readme_from_index() -> str:
    "README.md as `make readme` writes it: the markdown cells of nbs/index.ipynb."
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown") + "\n"


def test_readme_says_what_index_says():
    readme, index = (ROOT / "README.md").read_text(), readme_from_index()
    diff = "\n".join(difflib.unified_diff(index.splitlines(), readme.splitlines(), "nbs/index.ipynb", "README.md", n=1, lineterm=""))
    assert readme == index, f"README.md is generated from nbs/index.ipynb: edit the notebook, then run `make readme`\n{diff[:3000]}"
