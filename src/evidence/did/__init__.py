"""Difference-in-differences for one treatment date or staggered cohorts: 2x2, TWFE and the TWFE event study, and
Poisson fixed-effects TWFE and event study for counts."""

from .estimators import did_2x2, event_study, outcome_matrix, twfe
from .poisson import poisson_event_study, poisson_twfe

__all__ = ["did_2x2", "twfe", "event_study", "outcome_matrix", "poisson_twfe", "poisson_event_study"]
