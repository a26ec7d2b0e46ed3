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


def source_fingerprint(nb) -> str:  # noqa: ANN001 - nbformat node
    """sha256 of every cell's type and source: what a committed notebook's outputs were produced from."""
    import hashlib

    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode("utf-8") + b"\0")
    return h.hexdigest()


def check_committed(path: Path) -> str | None:
    """Why a committed notebook's outputs may not come from ``make notebooks`` on its own sources (None when they do).

    Context: a notebook opened in JupyterLab, its parameters cell edited and saved, overwrites the committed file;
    nbval re-executes the edited cells and still passes.
    Decision: ``evidence refresh-notebooks`` stores a fingerprint of the sources in the notebook's metadata; the
    test suite fails when the sources no longer match it, or when the code cells were not executed once, top to
    bottom, in one kernel.
    Consequences: an accidental save is caught with the way back (``git checkout`` or ``make notebooks``).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    stored = nb.metadata.get("evidence", {}).get("source_sha256")
    fix = f"restore it with `git checkout -- notebooks/{path.name}` or, after a deliberate change, run `make notebooks`"
    if stored is None:
        return f"notebooks/{path.name} has no source fingerprint (it was not written by `evidence refresh-notebooks`); {fix}."
    if stored != source_fingerprint(nb):
        return f"notebooks/{path.name} was edited or saved outside `make notebooks` (its cells no longer match the fingerprint of the sources its outputs came from); {fix}."
    counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code"]
    if counts != list(range(1, len(counts) + 1)):
        return f"notebooks/{path.name} was not executed once from top to bottom (execution counts {counts[:8]}...); {fix}."
    return None


def _strip(nb) -> None:  # noqa: ANN001 - nbformat node
    nb.metadata.pop("papermill", None)
    nb.metadata["evidence"] = {"source_sha256": source_fingerprint(nb)}
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
    os.environ["EVIDENCE_LAB_REPORTS"] = "off"  # the committed notebooks show no lab run folder
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTER_PATH"] = str(_write_kernelspec(Path(tmp))) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
        for name in names:
            path = NOTEBOOKS / f"{name}.ipynb"
            out = Path(tmp) / f"{name}.ipynb"  # a failed execution never replaces the committed notebook
            pm.execute_notebook(str(path), str(out), kernel_name=KERNEL_NAME, cwd=str(NOTEBOOKS), progress_bar=False)
            nb = nbformat.read(out, as_version=4)
            _strip(nb)
            nbformat.write(nb, out)
            path.write_bytes(out.read_bytes())
            done.append(path)
    return done


def lab_copies(folder: str | Path) -> list[Path]:
    """Copy the notebooks into ``folder`` (``make lab``) where no copy exists yet, set to the project's kernel
    ("Python (evidence)", registered by ``make lab``); copies already there are the user's and are kept."""
    import nbformat

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name in NOTEBOOK_ORDER:
        target = out / f"{name}.ipynb"
        if target.exists() or not (NOTEBOOKS / f"{name}.ipynb").is_file():
            continue
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nb.metadata["kernelspec"] = {"display_name": "Python (evidence)", "language": "python", "name": "evidence"}
        nb.metadata.pop("evidence", None)  # a working copy: no fingerprint of the committed sources
        nbformat.write(nb, target)
        made.append(target)
    return made


if __name__ == "__main__":  # make lab
    import sys

    for path in lab_copies(sys.argv[1] if len(sys.argv) > 1 else "lab"):
        print(f"copied {path}")
