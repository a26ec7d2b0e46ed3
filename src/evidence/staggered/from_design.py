"""Callaway-Sant'Anna on a :class:`~evidence.design.Design`, with period labels in every output.

:func:`evidence.staggered.att_gt` takes a long DataFrame with numeric periods, as R ``did`` does. Designs hold
monthly, quarterly or financial-year periods; this adapter numbers them 1..T (cohorts as the number of their first
treated period, 0 for units untreated within the window), runs ``att_gt`` and maps the numbers back to the panel's
period labels in ``tidy()``. Event times are in periods either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import EstimationError
from ..did.estimators import outcome_matrix
from .aggregate import AggteResult
from .cs import AttGtResult, att_gt


class _Relabel:
    """Maps the numeric ``group``/``period`` values of CS outputs to the panel's labels; overall rows get ``all``."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        for col in ("group", "period"):
            out[col] = out[col].map(lambda v: self.mapping.get(str(v), v) if pd.notna(v) else v).astype("string")
        overall = out["group"].isna() & out["period"].isna() & out["event_time"].isna()
        out.loc[overall, "group"] = "all"
        return out


class DesignAggte:
    """An aggregation (``simple``/``group``/``dynamic``/``calendar``) with labelled periods."""

    def __init__(self, inner: AggteResult, relabel: _Relabel) -> None:
        self.inner, self._relabel = inner, relabel
        self.method, self.outcome, self.type = "cs", inner.outcome, inner.type
        self.reference = getattr(inner, "reference", None)
        if self.reference is None and inner.type == "dynamic":
            self.reference = None

    @property
    def overall(self) -> Any:
        return self.inner.overall

    def tidy(self) -> pd.DataFrame:
        return self._relabel(self.inner.tidy())

    def summary(self) -> str:
        return self.inner.summary()

    def plot(self, ax: Any = None) -> Any:
        from .. import plots

        return plots.plot_event_study(self, ax=ax)


class DesignAttGt:
    """ATT(g,t) of a design: ``tidy()``, ``summary()``, ``plot()``, ``pretest``, ``aggregate(type, ...)``."""

    def __init__(self, inner: AttGtResult, relabel: _Relabel) -> None:
        self.inner, self._relabel = inner, relabel
        self.method, self.outcome = "cs", inner.outcome_label or inner.yname
        self.description = (
            "Callaway-Sant'Anna group-time effects ATT(g,t): each cohort g compared with the comparison group "
            f"({inner.control_group.replace('_', '-')} units) between period t and its base period ({inner.base_period}); estimation "
            f"by {dict(dr='doubly robust', ipw='inverse probability weighting', reg='outcome regression')[inner.est_method]}; "
            "assumes parallel trends conditional on the covariates, no anticipation beyond the stated periods and overlap; "
            "standard errors from the influence functions, clustered by the panel's clusters"
            + (f"; uniform bands from {inner.bootstrap_draws} multiplier-bootstrap draws." if inner.bootstrap_draws else ".")
        )

        unb = [n for n in inner.notes if "allow_unbalanced_panel" in n]
        self.details: dict[str, Any] = {"missing": unb[0] if unb else "", "notes": unb}

    @property
    def pretest(self) -> Any:
        return self.inner.pretest

    @property
    def notes(self) -> list[str]:
        return list(self.inner.notes)

    def tidy(self) -> pd.DataFrame:
        return self._relabel(self.inner.tidy())

    def summary(self) -> str:
        return self.inner.summary()

    def aggregate(self, type: str = "group", **kw: Any) -> DesignAggte:  # noqa: A002 - R did's name
        try:
            return DesignAggte(self.inner.aggregate(type, **kw), self._relabel)
        except EstimationError as exc:  # (cohort, period) pairs in the message as the panel's period labels
            import re

            m = self._relabel.mapping
            text = re.sub(r"\((\d+), (\d+)\)", lambda h: f"({m.get(h.group(1), h.group(1))}, {m.get(h.group(2), h.group(2))})", str(exc))
            raise EstimationError(text) from None

    def plot(self, ax: Any = None) -> Any:
        from .. import plots

        return plots.plot_att_gt(self, ax=ax)


def cs(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    control_group: str = "not_yet_treated",
    est_method: str = "dr",
    base_period: str = "varying",
    anticipation: int = 0,
    covariates: list[str] | None = None,
    bootstrap_draws: int = 0,
    seed: int | None = None,
    alpha: float = 0.05,
) -> DesignAttGt:
    """Callaway-Sant'Anna ATT(g,t) on a design (see :func:`evidence.staggered.att_gt` for the method).

    Parameters mirror ``methods.staggered.*``, ``data.covariates`` and ``inference.*``. On a panel with missing
    cells (``data.missing: allow``) every ATT(g,t) uses the available rows as R ``did``'s
    ``allow_unbalanced_panel`` does (repeated cross-section estimators, influence functions summed within units;
    tested against R); its notes say so.
    """
    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    panel = design.panel
    N, T = y.shape
    labels = panel.period_labels
    if panel.frequency == "integer":
        tvals = np.asarray(panel.periods, dtype=int)
    else:
        tvals = np.arange(1, T + 1)
    g = design.g
    gvals = np.where(np.isfinite(g), tvals[np.where(np.isfinite(g), g, 0).astype(int)], 0)
    units = panel.units
    df = pd.DataFrame({"unit": np.repeat(np.arange(N), T), "t": np.tile(tvals, N), "y": y.ravel(), "g": np.repeat(gvals, T)})
    clusters = design.cluster_codes
    cluster = None
    if len(np.unique(clusters)) < N:
        df["cluster"] = np.repeat(clusters, T)
        cluster = "cluster"
    covs = list(covariates or [])
    if covs:
        ut = panel.unit_table().set_index("unit").loc[units]
        for c in covs:
            df[c] = np.repeat(ut[c].to_numpy(dtype=float), T)
    res = att_gt(df, "y", "t", "unit", "g", covariates=covs or None, control_group=control_group, est_method=est_method, base_period=base_period, anticipation=anticipation, cluster=cluster, alpha=alpha, bootstrap_draws=bootstrap_draws, seed=seed, outcome_label=label_, allow_unbalanced=bool(np.isnan(y).any()))
    mapping = {str(v): lab for v, lab in zip(tvals, labels)}
    return DesignAttGt(res, _Relabel(mapping))
