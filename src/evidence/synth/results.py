"""Results of the synthetic-control family: the contract rows plus weights, trajectories and placebo draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import EstimateResult


class SynthResult(EstimateResult):
    """Results of :func:`~evidence.synth.sdid` and :func:`~evidence.synth.synthetic_control`.

    ``tidy()`` holds the contract rows: ``estimand='att'`` (``group='all'``, plus one row per cohort or per treated
    unit when there are several) and ``estimand='gap'`` (treated minus synthetic path by ``period`` and
    ``event_time``, ``group`` = cohort label or treated unit). Everything else is in ``details``; the properties
    below are shortcuts.
    """

    kind = "synth"

    @property
    def weights_unit(self) -> pd.DataFrame:
        """Unit weights: columns ``group`` (cohort label, or treated unit for the classic SC), ``unit``, ``weight``."""
        return self.details["weights_unit"].copy()

    @property
    def weights_time(self) -> pd.DataFrame:
        """Time weights of the pre-periods: columns ``group``, ``period``, ``weight`` (zero for synthetic control)."""
        return self.details["weights_time"].copy()

    @property
    def placebo(self) -> np.ndarray | None:
        """Placebo estimates of the overall ATT (inference ``placebo``), else None."""
        p = self.details.get("placebo")
        return None if p is None else np.asarray(p, dtype=float).copy()

    @property
    def pre_rmspe(self) -> float:
        """Root mean squared pre-period gap between treated and synthetic paths (cohort- or unit-weighted)."""
        return float(self.details["pre_rmspe"])

    @property
    def trajectories(self) -> pd.DataFrame:
        """Treated and synthetic paths and their gap by period (``group``, ``period``, ``event_time`` ...)."""
        return self.details["trajectories"].copy()

    def summary(self, digits: int = 4) -> str:
        """The ATT rows, the largest unit weights, fit and placebo diagnostics, and the description."""
        df = self._tidy[self._tidy["estimand"] == "att"]
        show = df[["group", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_units"]]
        head = f"{self.method} | outcome: {self.outcome} | estimand: ATT | {100 * (1 - self.alpha):.0f}% CI"
        lines = [head, show.to_string(index=False, float_format=lambda v: f"{v:.{digits}g}", na_rep="")]
        w = self.details["weights_unit"]
        for grp, sub in w.groupby("group", sort=False):
            top = sub[sub["weight"] > 0].sort_values("weight", ascending=False).head(8)
            lines.append(f"unit weights [{grp}]: " + ", ".join(f"{u} {v:.3f}" for u, v in zip(top["unit"], top["weight"])) + (f" (+{int((sub['weight'] > 0).sum()) - len(top)} more)" if (sub["weight"] > 0).sum() > len(top) else ""))
        lines.append(f"pre-period RMSPE: {self.pre_rmspe:.{digits}g}")
        if "p_value_placebo" in self.details:
            lines.append(f"placebo: {len(self.details['placebo'])} draws, permutation p-value {self.details['p_value_placebo']:.3f}")
        if self.description:
            lines.append(self.description)
        return "\n".join(lines)

    def plot(self, ax=None, synthetic: bool | None = None):  # noqa: ANN001 - matplotlib Axes
        """Treated vs synthetic trajectories (:func:`evidence.synth.plots.plot_trajectories`); returns the Axes."""
        from . import plots

        return plots.plot_trajectories(self, ax=ax, synthetic=self.details.get("synthetic", False) if synthetic is None else synthetic)
