"""Provenance: what produced an output (parameters, data checksums, package versions, git commit, time)."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

from .paths import ROOT

PACKAGES: tuple[str, ...] = ("evidence", "numpy", "scipy", "pandas", "statsmodels", "linearmodels", "matplotlib", "seaborn", "papermill", "nbconvert", "pyarrow")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the results depend on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> dict[str, Any]:
    """Current commit and whether the working tree has uncommitted changes (``unknown`` outside git)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True).stdout.strip())
        return {"commit": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def now() -> str:
    """UTC time stamp, ISO format to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def collect(params_yaml: str, files: dict[str, str], started: str | None = None) -> dict[str, Any]:
    """Everything a report header and ``manifest.json`` say about how they were produced."""
    return {
        "params": params_yaml,
        "data_checksums": dict(sorted(files.items())),
        "versions": package_versions(),
        "git": git_commit(),
        "started": started or now(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
    }
