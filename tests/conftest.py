import atexit, os, shutil, tempfile
os.environ.setdefault("MPLBACKEND", "Agg")
# segkit's caches (mask checks, decoded images, features) of the test runs stay out of the user's ~/.cache/segkit.
if "SEGKIT_CACHE_DIR" not in os.environ:
    os.environ["SEGKIT_CACHE_DIR"] = _cache = tempfile.mkdtemp(prefix="segkit-test-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)

from contextlib import contextmanager

import pytest


class InProcessEngine:
    """A papermill engine that runs the notebook's cells in this process (IPython shell, no kernel): the cells, the
    injected parameters, `In`, the working directory and the executed notebook are papermill's, the imports are paid once.
    For checks of what `segkit run` and `segkit sweep` do around the notebook; each experiment notebook keeps at least one
    run in a real kernel (tests/test_phases.py, test_vesuvius.py, test_s4gan.py, test_faceparse.py, test_multiprocess.py)."""
    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False, **kwargs):
        import nbformat
        from execnb.shell import CaptureShell
        from papermill.engines import NotebookExecutionManager
        manager = NotebookExecutionManager(nb, output_path=output_path, progress_bar=False, log_output=log_output)
        manager.notebook_start()
        shell, sources = CaptureShell(), [""]
        shell.user_ns["In"] = sources  # as a kernel's history: segkit reads the injected '# Parameters' cell from it
        try:
            for cell in manager.nb.cells:
                if cell.cell_type != "code": continue
                manager.cell_start(cell)
                sources.append(cell.source)
                cell.outputs = nbformat.from_dict(shell.run(cell.source))
                if shell.exc is not None:
                    manager.cell_exception(cell, exception=shell.exc)
                    raise shell.exc
                manager.cell_complete(cell)
        finally:
            manager.notebook_complete()
        return manager.nb

    @classmethod
    def nb_kernel_name(cls, nb, name=None):
        from papermill.utils import nb_kernel_name
        return nb_kernel_name(nb, name)

    @classmethod
    def nb_language(cls, nb, language=None):
        from papermill.utils import nb_language
        return nb_language(nb, language)


@contextmanager
def notebooks_in_process():
    "papermill's default engine replaced by `InProcessEngine` inside the block (segkit's CLI functions called in-process)."
    from papermill.engines import papermill_engines
    default = papermill_engines.get_engine(None)
    papermill_engines.register(None, InProcessEngine)
    try: yield
    finally: papermill_engines.register(None, default)
