"""Where things are.

Context: papermill runs notebooks in the caller's directory and nbval in the notebook's, so relative paths that
work in one fail in the other; and data governance often keeps a user's parameters and data outside the repository,
where paths relative to the project root would force absolute paths everywhere.
Decision: a path on the command line (or given to a notebook by papermill) is read from the working folder; a path
inside a parameters file from that file's folder; either falls back to the project root (the folder holding
``pyproject.toml``) when it does not exist there, so the shipped examples (``data/raw/...`` in ``params/*.yaml``)
work from anywhere. :func:`locate` does this and reports every absolute path it tried.
Consequences: ``data/raw/...`` means the same file from the command line, from papermill and from nbval; a user's
``my_params/study.yaml`` can say ``data.path: study.csv`` for the file beside it; a not-found message names the
absolute paths tried.
"""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("EVIDENCE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "params").is_dir():
            return parent
    return Path.cwd().resolve()


ROOT: Path = _find_root()
DATA: Path = ROOT / "data"
RAW: Path = DATA / "raw"
REFERENCE: Path = DATA / "reference"
PARAMS: Path = ROOT / "params"
NOTEBOOKS: Path = ROOT / "notebooks"
REPORTS: Path = ROOT / "reports"


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve ``path`` against the project root unless it is absolute."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (ROOT / p)


def candidates(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where a relative ``path`` may be: under ``base`` (the working folder when None), then under the project root."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return [p]
    first = Path(os.path.normpath((Path(base) if base is not None else Path.cwd()).resolve() / p))  # no "a/../b"
    second = Path(os.path.normpath(ROOT / p))
    return [first] if first == second else [first, second]


def _exists(p: Path) -> bool:  # noqa: D103 - also used by params
    if any(ch in str(p) for ch in "*?["):  # a glob (record files): exists when it matches something
        import glob

        return bool(glob.glob(str(p)))
    return p.exists()


def locate(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> tuple[Path, list[Path]]:
    """The first existing candidate of ``path`` (see :func:`candidates`) and every candidate tried.

    When none exists the first candidate is returned, so that a message can name it and the others tried.
    """
    tried = candidates(path, base)
    for c in tried:
        if _exists(c):
            return c, tried
    return tried[0], tried


def tried_text(tried: list[Path]) -> str:
    """``/a/x.csv`` or ``/a/x.csv (also tried /root/x.csv)`` for not-found messages."""
    return str(tried[0]) + (f" (also tried {', '.join(map(str, tried[1:]))})" if len(tried) > 1 else "")


def display(path: str | os.PathLike[str]) -> str:
    """A path as users should read it: relative to the project root when it lies inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)
