"""ICS evidence workbook: data, designs, estimators and reports for evaluating Integrated Care Systems.

Data flow: raw files -> :class:`~evidence.panel.Panel` (validated) -> :class:`~evidence.design.Design`
(cohorts, window, comparison group) -> estimators (``evidence.did``, ``evidence.staggered``) -> tidy estimates ->
plots and reports.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .errors import DataError, DesignError, EstimationError, EvidenceError, ParamsError
from .params import load_params
from .workbook import open_run

_SUBMODULES = {"did", "staggered", "plots", "report", "pipeline", "design", "panel", "results", "runner", "provenance", "periods", "data"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evidence' has no attribute {name!r}")


__all__ = ["EvidenceError", "ParamsError", "DataError", "DesignError", "EstimationError", "load_params", "open_run", "__version__"]
