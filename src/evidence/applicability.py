"""What an analysis needs from the design, decided before it runs: fallbacks the field accepts, or "not applicable".

Decisions (Context / Decision / Consequences)
---------------------------------------------
Fall back where the field has a fallback, say so
    Context: evaluators' designs differ (one treated unit, no never-treated units, a single cohort, a single series);
    one inapplicable analysis must not fail the whole run. Decision: placebo inference for synthetic control needs more
    donors than treated units — otherwise the jackknife (two or more treated units) or the bootstrap is used;
    leave-one-wave-out needs two cohorts — otherwise only leave-one-unit-out runs; the controlled ITS needs comparison
    units — otherwise only the single-series ITS runs. Each choice is returned with a sentence naming the parameter
    that would change it. Consequences: every run publishes; the report says what was substituted or left out.
"""

from __future__ import annotations

import numpy as np

from .design import Design


def synth_inference(design: Design, requested: str) -> tuple[str, str]:
    """The synthetic-control inference to use on ``design`` (the cohort it analyses) and a note when it changed.

    Placebo inference re-assigns treatment to donors, so it needs more donors than treated units; the jackknife needs
    two or more treated units; the bootstrap needs both groups.
    """
    n_tr = int(design.treated.sum())
    n_co = int((~design.treated).sum())
    if requested == "placebo" and n_co <= n_tr:
        fallback = "jackknife" if n_tr >= 2 else "bootstrap"
        return fallback, (f"Placebo inference needs more donors than treated units ({n_co} donors, {n_tr} treated): {fallback} "
                          f"inference is used instead (parameter: methods.synth.inference).")
    if requested == "jackknife" and n_tr < 2:
        fallback = "placebo" if n_co > n_tr else "bootstrap"
        return fallback, f"The jackknife needs two or more treated units ({n_tr} here): {fallback} inference is used instead (parameter: methods.synth.inference)."
    return requested, ""


def leave_one_out(design: Design, requested: list[str]) -> tuple[list[str], str]:
    """The leave-one-out analyses that apply: waves need two or more cohorts; units need two or more treated units."""
    keep, notes = [], []
    n_cohorts = len(design.cohort_labels)
    n_tr = int(design.treated.sum())
    for by in requested:
        if by == "wave" and n_cohorts < 2:
            notes.append(f"leave one wave out: not applicable — the design has {n_cohorts} treated cohort (parameter: robustness.leave_one_out)")
        elif by == "unit" and n_tr < 2:
            notes.append(f"leave one unit out: not applicable — the design has {n_tr} treated unit (parameter: robustness.leave_one_out)")
        else:
            keep.append(by)
    return keep, "; ".join(notes) + ("." if notes else "")


def its_controls(design: Design) -> tuple[bool, str]:
    """Whether a controlled ITS can run: it needs units untreated throughout the window as the comparison series."""
    n_co = int((~design.treated).sum())
    if n_co == 0:
        return False, "Controlled ITS: not applicable — no unit is untreated throughout the window, so there is no comparison series; the single-series ITS is shown alone (parameters: design.end, treatment.waves)."
    return True, ""


def summary(design: Design) -> dict[str, int]:
    """Counts the applicability rules read (for reports and tests)."""
    g = design.g
    return {
        "treated": int(design.treated.sum()),
        "comparison": int((~design.treated).sum()),
        "cohorts": len(design.cohort_labels),
        "min_pre_periods": int(np.nanmin(g)) if np.isfinite(g).any() else 0,
        "periods": int(design.panel.n_periods),
    }
