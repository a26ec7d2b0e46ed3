"""Interrupted time series: segmented regression on one series and controlled ITS against a comparison series.

``its(design, outcome, ...)`` fits the model and returns an :class:`ItsResult`; plots are in
:mod:`evidence.its.plots` (estimation code never imports matplotlib).
"""

from .diagnostics import autocorrelation_tests
from .model import FAMILIES, SEASONALITIES, hac_lag_rule, its, seasonal_terms, segment_terms
from .results import ItsResult

__all__ = ["its", "ItsResult", "FAMILIES", "SEASONALITIES", "hac_lag_rule", "seasonal_terms", "segment_terms", "autocorrelation_tests"]
