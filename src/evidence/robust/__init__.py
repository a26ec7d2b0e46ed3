"""Robustness layer: wild cluster bootstrap, randomisation inference, placebo tests and multiple-outcome corrections.

* :func:`wild_bootstrap` — wild cluster bootstrap-t (WCR/WCU, Rademacher/Webb) for the TWFE and 2x2 coefficients,
  with test-inversion intervals, computed "fast and wild" from cluster-level scores.
* :func:`randomization_inference` — re-assigns treatment timing across units (or clusters), exact when the
  assignments can be enumerated.
* :func:`placebo_in_time`, :func:`placebo_outcomes`, :func:`leave_one_out` — placebo and sensitivity checks.
* :func:`holm`, :func:`romano_wolf` — adjusted p-values across outcomes.
"""

from .multiple import holm, romano_wolf, romano_wolf_adjust
from .placebo import leave_one_out, placebo_in_time, placebo_outcomes, twfe_masked
from .randomization import RandomizationResult, enumerate_assignments, n_assignments, randomization_inference
from .wild import LinearProblem, WildBootstrapResult, WildDraws, bootstrap_weights, wild_bootstrap

__all__ = [
    "wild_bootstrap",
    "bootstrap_weights",
    "LinearProblem",
    "WildDraws",
    "WildBootstrapResult",
    "randomization_inference",
    "RandomizationResult",
    "enumerate_assignments",
    "n_assignments",
    "placebo_in_time",
    "placebo_outcomes",
    "leave_one_out",
    "twfe_masked",
    "holm",
    "romano_wolf",
    "romano_wolf_adjust",
]
