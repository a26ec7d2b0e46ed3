"""Interrupted time series: segmented regression on one series and controlled ITS against a comparison series.

``its(design, outcome, ...)`` fits the model and returns an :class:`ItsResult`; plots are in
:mod:`evidence.its.plots` (estimation code never imports matplotlib).
"""

from .diagnostics import autocorrelation_tests
from .model import FAMILIES, SEASONALITIES, hac_lag_rule, its, seasonal_terms, segment_terms
from .results import ItsResult

__all__ = ["its", "ItsResult", "FAMILIES", "SEASONALITIES", "hac_lag_rule", "seasonal_terms", "segment_terms", "autocorrelation_tests"]


def applicability(design, min_pre: int = 12) -> tuple[bool, str]:  # noqa: ANN001 - a Design
    """Whether an ITS of the design's first cohort has enough pre-intervention periods (``methods.its.min_pre``).

    Returns (applicable, sentence): not applicable below ``min_pre``; applicable with a warning below 24.
    """
    import numpy as np

    g = design.g[np.isfinite(design.g)]
    if g.size == 0:
        return False, "not applicable: no treated cohort in the window (parameter: treatment.waves)."
    n_pre = int(g.min())
    if n_pre < int(min_pre):
        return False, f"not applicable: the cohort has {n_pre} pre-intervention period(s), fewer than methods.its.min_pre = {min_pre}; an earlier design.start or a lower methods.its.min_pre would change it."
    if n_pre < 24:
        return True, f"warning: {n_pre} pre-intervention periods (fewer than 24): the trend and seasonality the counterfactual projects rest on little more than one year, so ITS results are fragile."
    return True, f"{n_pre} pre-intervention periods."
