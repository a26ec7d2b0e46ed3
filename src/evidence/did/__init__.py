"""Difference-in-differences for one treatment date or staggered cohorts: 2x2, TWFE and the TWFE event study."""

from .estimators import did_2x2, event_study, outcome_matrix, twfe

__all__ = ["did_2x2", "twfe", "event_study", "outcome_matrix"]
