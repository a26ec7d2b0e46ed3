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

_SUBMODULES = {"did", "staggered", "plots", "report", "pipeline", "design", "panel", "results", "runner", "provenance", "periods", "data"}


def __getattr__(name: str) -> Any:
    # lazy: `evidence validate` and error messages should not pay for pandas/scipy imports they do not need
    if name == "open_run":
        from .workbook import open_run

        return open_run
    if name == "load_params":
        from .params import load_params

        return load_params
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evidence' has no attribute {name!r}")


__all__ = ["EvidenceError", "ParamsError", "DataError", "DesignError", "EstimationError", "load_params", "open_run", "__version__"]
