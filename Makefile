# segkit: two commands set everything up — `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Figures render to files in every target but `lab`, which shows them inline.
export MPLBACKEND := Agg

.PHONY: demo test lab bench export sync-check nbs docs readme clean

# .venv with segkit editable and its dev tools, exact versions from constraints.txt (settings.ini holds ranges);
# redone when any of them changes.
$(STAMP): settings.ini setup.py constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/segkit demo

# notebooks and library in sync, then the notebooks' own tests, then the integration tests. Two notebooks run at once,
# each with one torch thread: two threads each on 2 cores make them wait on each other (OpenMP spins). segkit's caches
# of the test runs go to a temp folder, not ~/.cache/segkit.
test: $(STAMP) sync-check
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && SEGKIT_CACHE_DIR=$$d OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing
	$(BIN)/python -m pytest -q tests/

sync-check: $(STAMP)
	$(BIN)/nbdev_export
	@git diff --quiet -- segkit && test -z "$$(git status --porcelain -- segkit)" \
	  || { echo "segkit/ is out of sync with nbs/: run 'nbdev_export' and commit notebooks and segkit/ together"; git status --short -- segkit; exit 1; }

export: $(STAMP)
	$(BIN)/nbdev_export

# Re-execute the library notebooks in place so readers see every example's output (commit them afterwards).
nbs: $(STAMP)
	for nb in nbs/[0-9]*.ipynb; do echo "$$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; done
	$(BIN)/nbdev_clean

# The docs site (_docs/) with Quarto, which nbdev would otherwise try to download and install with sudo. make test checks
# nbdev's processing of every notebook (all but Quarto's rendering) offline: tests/test_docs.py.
docs: $(STAMP)
	@command -v quarto >/dev/null || { echo "make docs needs Quarto, which is not installed: install it from https://quarto.org/docs/get-started/ and rerun. (Without Quarto, make test still checks nbdev's docs processing of every notebook.)"; exit 1; }
	$(BIN)/nbdev_docs
	$(MAKE) readme

# README.md is the text of nbs/index.ipynb (the docs site's home page): edit the notebook, then run this.
readme: $(STAMP)
	$(BIN)/python -c "import nbformat; nb = nbformat.read('nbs/index.ipynb', as_version=4); \
	  open('README.md', 'w').write('\n\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown') + '\n')"

lab: $(STAMP)
	env -u MPLBACKEND $(BIN)/jupyter lab --allow-root nbs/

bench: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) _docs _proc .pytest_cache
