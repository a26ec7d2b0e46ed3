"""Keep the committed notebooks rendered: re-execute them in place on their stored default parameters.

The repository's notebooks carry the outputs of the default run so that they read as rendered documents, and nbval
re-executes them and compares the cells marked ``# NBVAL_CHECK_OUTPUT``. Volatile papermill metadata (timings) is
stripped so that a refresh changes the files only where results change.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .params import NOTEBOOK_ORDER
from .paths import NOTEBOOKS


def _strip(nb) -> None:  # noqa: ANN001 - nbformat node
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)


def refresh(only: list[str] | None = None) -> list[Path]:
    """Execute notebooks in ``notebooks/`` in place (no parameters injected) and strip volatile metadata."""
    import nbformat
    import papermill as pm

    from .runner import KERNEL_NAME, _write_kernelspec

    names = [n for n in NOTEBOOK_ORDER if (only is None or n in only) and (NOTEBOOKS / f"{n}.ipynb").is_file()]
    done = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTER_PATH"] = str(_write_kernelspec(Path(tmp))) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
        for name in names:
            path = NOTEBOOKS / f"{name}.ipynb"
            pm.execute_notebook(str(path), str(path), kernel_name=KERNEL_NAME, cwd=str(NOTEBOOKS), progress_bar=False)
            nb = nbformat.read(path, as_version=4)
            _strip(nb)
            nbformat.write(nb, path)
            done.append(path)
    return done
