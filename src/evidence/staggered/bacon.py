"""Goodman-Bacon (2021) decomposition of the two-way fixed effects estimate.

With staggered timing in a balanced panel, the TWFE coefficient on the treatment indicator is a weighted average of
every 2x2 difference-in-differences between timing groups: each treated cohort against never-treated units, earlier
cohorts against later ones (before the later ones are treated), and later cohorts against earlier ones *after* the
earlier ones are treated — the "forbidden" comparisons whose bias, when effects change over time, makes TWFE
misleading. Weights depend on group sizes and on the variance of treatment within each comparison (Goodman-Bacon
2021, Theorem 1); they are non-negative and sum to one, and the weighted sum reproduces the TWFE estimate exactly.
No standard errors: the decomposition is a description of the TWFE estimate, not an estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..inference import demean_two_way
from ..missing import balanced_only

COMPARISONS = ("treated vs never treated", "earlier vs later treated", "later vs earlier treated")


class BaconResult:
    """The 2x2 comparisons of a Goodman-Bacon decomposition.

    ``components()`` lists every comparison with its estimate and weight; ``tidy()`` gives the contract rows (one per
    comparison, ``estimand='bacon_2x2'``, ``group='<treated> vs <control>'``, plus the TWFE row they add up to);
    ``summary()`` the weight and average estimate by comparison type; ``plot(ax=None)`` the estimate against weight.
    """

    def __init__(self, components: pd.DataFrame, twfe: float, outcome: str, n_units: int, n_obs: int) -> None:
        self._components = components
        self.twfe = twfe
        self.outcome = outcome
        self.method = "bacon"
        self.n_units = n_units
        self.n_obs = n_obs

    def components(self) -> pd.DataFrame:
        return self._components.copy()

    def tidy(self) -> pd.DataFrame:
        from ..results import tidy_frame

        c = self._components
        rows = pd.DataFrame({"method": "bacon", "outcome": self.outcome, "estimand": "bacon_2x2", "group": c["treated"] + " vs " + c["control"], "estimate": c["estimate"], "n_units": c["n_units"]})
        total = pd.DataFrame([{"method": "bacon", "outcome": self.outcome, "estimand": "twfe_weighted_sum", "group": "all", "estimate": float((c["weight"] * c["estimate"]).sum()), "n_units": self.n_units, "n_obs": self.n_obs}])
        return tidy_frame(pd.concat([rows, total], ignore_index=True))

    def by_type(self) -> pd.DataFrame:
        c = self._components
        out = c.groupby("type", sort=False).apply(lambda d: pd.Series({"weight": d["weight"].sum(), "average estimate": (d["weight"] * d["estimate"]).sum() / d["weight"].sum()}), include_groups=False)
        return out.reindex([t for t in COMPARISONS if t in out.index]).reset_index()

    def summary(self) -> str:
        return f"Goodman-Bacon decomposition of TWFE = {self.twfe:.6g} ({self.outcome})\n" + self.by_type().to_string(index=False, float_format=lambda v: f"{v:.4g}")

    def plot(self, ax=None):  # noqa: ANN001
        from .. import plots

        return plots.plot_bacon(self, ax=ax)


@balanced_only("the Bacon decomposition")
def bacon_decomposition(design: Design, outcome: str, *, log: bool = False) -> BaconResult:
    """Decompose the TWFE estimate into 2x2 comparisons with their weights.

    Raises
    ------
    EstimationError
        If there is only one timing group (nothing to decompose) or no treated unit.
    """
    y, label_ = outcome_matrix(design, outcome, log)
    g = design.g
    N, T = y.shape
    labels = design.panel.period_labels
    cohorts = np.unique(g[np.isfinite(g)]).astype(int)
    if cohorts.size == 0:
        raise EstimationError("Bacon decomposition: no treated cohort in the window.")
    never = ~np.isfinite(g)
    n = {int(c): (g == c).mean() for c in cohorts}
    n_u = never.mean()
    Dbar = {int(c): (T - c) / T for c in cohorts}
    # variance of the two-way demeaned treatment indicator (the TWFE denominator)
    D = design.treatment_matrix()
    VD = (demean_two_way(D) ** 2).mean()
    twfe = float((demean_two_way(D) * demean_two_way(y)).sum() / (demean_two_way(D) ** 2).sum())

    def mean_y(mask_units: np.ndarray, t0: int, t1: int) -> float:
        return float(y[mask_units, t0:t1].mean())

    rows = []
    for k in cohorts:
        k = int(k)
        if never.any():
            est = (mean_y(g == k, k, T) - mean_y(g == k, 0, k)) - (mean_y(never, k, T) - mean_y(never, 0, k))
            nku = n[k] / (n[k] + n_u)
            w = (n[k] + n_u) ** 2 * nku * (1 - nku) * Dbar[k] * (1 - Dbar[k]) / VD
            rows.append(("treated vs never treated", labels[k], "never treated", est, w, int((g == k).sum() + never.sum())))
        for l in cohorts[cohorts > k]:
            l = int(l)
            nkl = n[k] / (n[k] + n[l])
            # earlier cohort k treated, later cohort l as control, in periods before l is treated
            est_k = (mean_y(g == k, k, l) - mean_y(g == k, 0, k)) - (mean_y(g == l, k, l) - mean_y(g == l, 0, k))
            w_k = ((n[k] + n[l]) * (1 - Dbar[l])) ** 2 * nkl * (1 - nkl) * ((Dbar[k] - Dbar[l]) / (1 - Dbar[l])) * ((1 - Dbar[k]) / (1 - Dbar[l])) / VD
            rows.append(("earlier vs later treated", labels[k], labels[l], est_k, w_k, int((g == k).sum() + (g == l).sum())))
            # later cohort l treated, earlier cohort k (already treated) as control, in periods from k's treatment on
            est_l = (mean_y(g == l, l, T) - mean_y(g == l, k, l)) - (mean_y(g == k, l, T) - mean_y(g == k, k, l))
            w_l = ((n[k] + n[l]) * Dbar[k]) ** 2 * nkl * (1 - nkl) * (Dbar[l] / Dbar[k]) * ((Dbar[k] - Dbar[l]) / Dbar[k]) / VD
            rows.append(("later vs earlier treated", labels[l], labels[k], est_l, w_l, int((g == k).sum() + (g == l).sum())))
    comp = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight", "n_units"])
    return BaconResult(comp, twfe, label_, N, N * T)
