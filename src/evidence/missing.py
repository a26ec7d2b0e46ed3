"""Missing cells (``data.missing: allow``): which estimators use the available cells, and which need complete units.

Context
    Real extracts have suppressed or missing cells. Some estimators are defined on an unbalanced panel — the
    fixed-effects regressions (TWFE, event study, Sun-Abraham, the 2x2 with controls) project on the observed
    cells as fixest does, the imputation estimator fits and imputes observed cells, the Poisson models drop missing
    cells from each unit's likelihood, the 2x2 compares means over available cells and Callaway-Sant'Anna follows
    R ``did``'s ``allow_unbalanced_panel``. Others need every period of every unit: synthetic control and SDID
    (weights over full pre-period paths), interrupted time series (a summed series), the Bacon decomposition, the
    power simulation's calibration, placebo and randomization inference, the wild bootstrap and Romano-Wolf.
Decision
    The second group is wrapped by :func:`balanced_only`: given a design with missing cells for the outcome (or a
    control), it runs on the units with complete data and the result says how many units were left out and why.
    :func:`evidence.did.estimators.outcome_matrix` refuses missing cells unless the estimator asks for them, so no
    estimator can average over missing values by accident.
Consequences
    Every method runs under ``data.missing: allow``; each result carries a ``missing`` sentence (``details``) that
    the reports show; a method whose complete units leave no treated or comparison unit fails with the estimator's
    own one-line error, which the notebook reports.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .design import Design


def _names(outcome: Any) -> list[str]:
    if isinstance(outcome, str):
        return [outcome]
    if isinstance(outcome, Sequence):
        return [o if isinstance(o, str) else str(o[0]) for o in outcome]
    return []


def incomplete_units(design: Design, outcomes: Sequence[str], controls: Sequence[str] | None = None) -> np.ndarray:
    """Units (in panel order) with a missing value of any of ``outcomes`` or ``controls`` in the window."""
    panel = design.panel
    cols = [c for c in [*outcomes, *(controls or [])] if c in panel.data.columns]
    if not cols:
        return np.array([], dtype=object)
    hole = panel.data[cols].isna().any(axis=1).to_numpy().reshape(panel.n_units, panel.n_periods).any(axis=1)
    return panel.units[hole]


def complete_units(design: Design, outcomes: Sequence[str], what: str, controls: Sequence[str] | None = None) -> tuple[Design, str]:
    """The design restricted to units with complete data for ``outcomes`` (and ``controls``), and the sentence that
    says so (empty when nothing was missing)."""
    gone = incomplete_units(design, outcomes, controls)
    if gone.size == 0:
        return design, ""
    reason = f"missing cells (data.missing: allow); {what} needs a balanced panel"
    sub = design.without_units(gone, reason)
    shown = ", ".join(map(str, gone[:5])) + (" ..." if gone.size > 5 else "")
    note = f"Unbalanced panel (data.missing: allow): {what} needs every period of every unit, so {gone.size} of {design.panel.n_units} unit(s) with missing cells were left out ({shown})."
    return sub, note


def attach(result: Any, note: str) -> Any:
    """Add the missing-cells sentence to a result (``details['missing']`` and its notes)."""
    details = getattr(result, "details", None)
    if isinstance(details, dict):
        details["missing"] = note
        details["notes"] = list(details.get("notes", [])) + [note]
    elif isinstance(getattr(result, "notes", None), list):
        result.notes.append(note)
    elif isinstance(result, dict):
        result.setdefault("notes", [])
        result["notes"] = list(result["notes"]) + [note]
        result["missing"] = note
    return result


def balanced_only(what: str) -> Callable:
    """Decorator for estimators ``fn(design, outcome_or_outcomes, ...)`` that need a balanced panel (see the module)."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(design: Design, outcome: Any, *args: Any, **kwargs: Any) -> Any:
            sub, note = complete_units(design, _names(outcome), what, kwargs.get("controls"))
            result = fn(sub, outcome, *args, **kwargs)
            return attach(result, note) if note else result

        wrapper.balanced_only = what  # type: ignore[attr-defined]
        return wrapper

    return deco


def complete_treated_units(design: Design, outcome: str) -> list[str]:
    """Treated units with every period of ``outcome`` (all treated units on a balanced panel): the units a per-unit
    analysis that needs a full series (interrupted time series per area) can run on."""
    gone = set(incomplete_units(design, [outcome]).tolist())
    return [u for u in design.included.loc[design.treated, "unit"] if u not in gone]
