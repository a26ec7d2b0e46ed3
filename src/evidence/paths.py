"""Where things are.

Context: papermill runs notebooks in the caller's directory and nbval in the notebook's, so relative paths that
work in one fail in the other.
Decision: every relative path in a parameters file is resolved against the project root (the folder holding
``pyproject.toml``), never against the current directory.
Consequences: ``data/raw/...`` means the same file from the command line, from papermill and from nbval; users
may still give absolute paths for their own files.
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


def display(path: str | os.PathLike[str]) -> str:
    """A path as users should read it: relative to the project root when it lies inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)
