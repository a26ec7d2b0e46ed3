"""Synthetic difference-in-differences and synthetic control.

- :func:`sdid` — synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens and Wager 2021) and
  its synthetic-control / DiD special cases from one weighted two-way code path, with staggered cohorts and
  placebo, jackknife or bootstrap inference.
- :func:`synthetic_control` — classic synthetic control (Abadie, Diamond and Hainmueller 2010), on pre-period
  outcomes or predictors with nested predictor weights, and placebo-in-space inference.
- :class:`SynthResult` — the results (contract rows, weights, trajectories, placebo draws); plots in
  :mod:`evidence.synth.plots`.

Estimation code never imports matplotlib; ``SynthResult.plot`` imports the plots lazily.
"""

from .estimators import sdid, synth_predictors, synthetic_control
from .results import SynthResult

__all__ = ["SynthResult", "sdid", "synth_predictors", "synthetic_control"]
