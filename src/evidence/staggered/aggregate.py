"""Aggregations of ATT(g,t) into summary parameters (R ``did``'s ``aggte``).

Every aggregated effect is a weighted sum of ATT(g,t), so its influence function is the same weighted sum of the
ATT(g,t) influence functions; when the weights are estimated cohort shares (``simple``, ``dynamic``, ``calendar``
per period, and the overall ``group`` effect) the influence function of the weights is added (R's ``wif``). For a
unit of cohort c, with kept cells k, weights ``pg_k = P(G = g_k)`` and ``S = sum_k pg_k``::

    wif_c . att = (sum_{k: g_k = c} att_k - sum_k pg_k att_k) / S - (#{k: g_k = c} - S) * sum_k pg_k att_k / S^2

which depends on the unit only through its cohort, so it enters as a per-cohort offset (see ``_influence``).

Conventions, as R ``did`` 2.5.1:

* ``simple``: post-treatment cells (``g <= t <= g + max_e``) weighted by cohort size;
* ``group``: per cohort the plain mean of its post-treatment cells (no estimated weights); overall the cohort-size
  weighted mean, with the weight influence function computed over the cohorts;
* ``dynamic``: per event time ``e = t - g`` the cohort-size weighted mean over the cells with that e; overall the
  plain mean over event times ``e >= 0`` (no further weight term);
* ``calendar``: per period t (from the first treatment period on) the cohort-size weighted mean of the
  post-treatment cells in t; overall the plain mean over periods.

Periods are compared in calendar units (``t - g``, ``g + max_e``); R uses period indices for ``max_e`` in
``simple``/``group``, which coincides when the periods are consecutive integers.
"""

from __future__ import annotations


import math
from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..errors import EstimationError
from ..results import normal_inference, tidy_frame
from . import _bootstrap
from ._format import num, pre_html, text_table
from ._prep import _fmt

if TYPE_CHECKING:
    from .cs import AttGtResult

_TINY = np.sqrt(np.finfo(float).eps) * 10
TYPES = ("simple", "group", "dynamic", "calendar")

Overall = namedtuple("Overall", ["estimate", "se"])
Overall.__doc__ = "The overall aggregated effect and its standard error."


class AggteResult:
    """An aggregation of ATT(g,t) from :meth:`AttGtResult.aggregate`.

    Attributes
    ----------
    type
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    overall
        :class:`Overall` (estimate, se).
    egt
        The cohorts, event times or periods of the disaggregated effects (empty for ``simple``).
    estimates, se
        Disaggregated effects and their standard errors.
    critical_value, ci_type
        Critical value for the disaggregated intervals: ``"pointwise"`` without bootstrap, ``"uniform"`` (sup-t
        over the ``egt``) with it. The overall interval is always pointwise.
    reference
        Event time normalised to zero (``-1 - anticipation`` with a universal base period), else ``None``.
    n_units, n_clusters, n_periods
        Estimation sample.
    notes
        Cells or cohorts left out, and why.
    """

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    @property
    def influence_function(self) -> np.ndarray:
        """``n_units x len(egt)`` influence functions of the disaggregated effects (R scaling)."""
        return self._influence()[:, 1:]

    @property
    def overall_influence_function(self) -> np.ndarray:
        """Influence function (length ``n_units``) of the overall effect."""
        return self._influence()[:, 0]

    def _influence(self) -> np.ndarray:
        if self._if_cache is None:
            self._if_cache = self._rep.combine(self._W, self._D)
        return self._if_cache

    def tidy(self) -> pd.DataFrame:
        """The overall row (``group``, ``period``, ``event_time`` empty) then one row per cohort / event time / period.

        ``estimand`` is the aggregation type. Disaggregated intervals use :attr:`critical_value` (uniform band with
        bootstrap); the overall interval is pointwise. ``n_units`` counts all units: every unit enters the
        influence function through the estimated cohort-share weights.
        """
        z = ndtri(1 - self.alpha / 2)
        est = np.concatenate([[self.overall.estimate], self.estimates])
        se = np.concatenate([[self.overall.se], self.se])
        crit = np.concatenate([[z], np.full(len(self.estimates), self.critical_value)])
        _, _, p = normal_inference(est, se, self.alpha)
        label = [_fmt(v) for v in self.egt]
        empty = [None] * len(self.egt)
        rows = pd.DataFrame(
            {
                "method": "cs",
                "outcome": self.outcome_label,
                "estimand": self.type,
                "group": [None] + (label if self.type == "group" else empty),
                "period": [None] + (label if self.type == "calendar" else empty),
                "event_time": [None] + (list(self.egt) if self.type == "dynamic" else empty),
                "estimate": est,
                "std_error": se,
                "ci_lower": est - crit * se,
                "ci_upper": est + crit * se,
                "p_value": p,
                "n_obs": self.n_units * self.n_periods,
                "n_units": self.n_units,
                "n_clusters": self.n_clusters,
            }
        )
        return tidy_frame(rows)

    def summary(self) -> str:
        """Text report of the overall effect and the disaggregated table."""
        level = int(round(100 * (1 - self.alpha)))
        z = ndtri(1 - self.alpha / 2)
        o = self.overall
        title = {
            "simple": "Overall ATT (simple weighted average of post-treatment ATT(g,t))",
            "group": "Average effect by cohort (overall: cohort-size weighted)",
            "dynamic": "Event study: effect by periods since treatment (overall: mean over e >= 0)",
            "calendar": "Effect by calendar period (overall: mean over periods)",
        }[self.type]
        lines = [
            f"Callaway & Sant'Anna (2021) aggregation '{self.type}': {self.outcome_label}",
            title,
            "",
            text_table(
                ["", "ATT", "SE", f"{level}% lower", f"{level}% upper"],
                [["overall", num(o.estimate), num(o.se), num(o.estimate - z * o.se), num(o.estimate + z * o.se)]],
            ),
        ]
        if len(self.egt):
            head = {"group": "group", "dynamic": "e", "calendar": "period"}[self.type]
            rows = [
                [
                    _fmt(v),
                    num(a),
                    num(s),
                    num(a - self.critical_value * s),
                    num(a + self.critical_value * s),
                    "*" if (a - self.critical_value * s > 0 or a + self.critical_value * s < 0) else "",
                ]
                for v, a, s in zip(self.egt, self.estimates, self.se, strict=True)
            ]
            lines += [
                "",
                f"{self.ci_type.capitalize()} {level}% intervals (critical value {self.critical_value:.3f}):",
                text_table(
                    [head, "ATT", "SE", f"{level}% lower", f"{level}% upper", ""], rows, ["r", "r", "r", "r", "r", "l"]
                ),
            ]
        inference = f"multiplier bootstrap ({self.bootstrap_draws} draws)" if self.bootstrap_draws else "analytic"
        lines += [
            "",
            f"Comparison group: {self.control_group}   Estimator: {self.est_method}   Standard errors: {inference}, "
            f"{self.n_clusters} clusters",
        ]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return pre_html(self.summary())

    def __repr__(self) -> str:
        return (
            f"<AggteResult {self.type} {self.outcome_label}: overall {self.overall.estimate:.4g} "
            f"(se {self.overall.se:.4g}), {len(self.egt)} {self.type} effects>"
        )

    @property
    def method(self) -> str:
        """Estimator label of the tidy rows (``"cs"``)."""
        return "cs"

    @property
    def outcome(self) -> str:
        """Outcome label of the tidy rows."""
        return self.outcome_label

    def plot(self, ax: Any = None) -> Any:
        """Plot the event study (drawn by :func:`evidence.plots.plot_event_study`); ``type="dynamic"`` only."""
        if self.type != "dynamic":
            raise EstimationError(
                f"plot() draws event studies; this aggregation is type={self.type!r}: use aggregate('dynamic')"
            )
        from ..plots import plot_event_study

        return plot_event_study(self, ax=ax)


def _weighted_column(
    keep: np.ndarray, pg: np.ndarray, att: np.ndarray, cell_code: np.ndarray, n_cohorts: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights on the cells (cohort-size weighted mean of the kept cells) and the per-cohort ``wif`` offsets."""
    w = np.zeros(len(att))
    S = pg[keep].sum()
    w[keep] = pg[keep] / S
    A = float(pg[keep] @ att[keep])
    u = np.bincount(cell_code[keep], weights=att[keep], minlength=n_cohorts)
    m = np.bincount(cell_code[keep], minlength=n_cohorts).astype(np.float64)
    d = (u - A) / S - (m - S) * A / S**2
    return w, d


def aggregate_att_gt(
    res: AttGtResult,
    type: str = "group",  # noqa: A002
    balance_e: int | None = None,
    min_e: float = -math.inf,
    max_e: float = math.inf,
    bootstrap_draws: int | None = None,
    na_rm: bool = False,
    seed: int | None = None,
    cohorts: Any = None,
) -> AggteResult:
    """Aggregate an :class:`AttGtResult`; see :meth:`AttGtResult.aggregate`.

    ``cohorts`` (``simple`` only): average over the post-treatment cells of these cohorts only (values of the cohort
    variable); the other cohorts still serve as not-yet-treated comparisons in their cells, and the weight-estimation
    term of the influence function covers the kept cohorts only."""
    if type not in TYPES:
        raise EstimationError(f"type={type!r} is not an aggregation; use 'simple', 'group', 'dynamic' or 'calendar'")
    if balance_e is not None and (isinstance(balance_e, bool) or not isinstance(balance_e, (int, np.integer))):
        raise EstimationError(f"balance_e={balance_e!r} must be an integer number of periods or None")
    if bootstrap_draws is None:
        bootstrap_draws = res.bootstrap_draws
    if seed is None:
        seed = res.seed
    if isinstance(bootstrap_draws, bool) or not isinstance(bootstrap_draws, (int, np.integer)) or bootstrap_draws < 0:
        raise EstimationError(f"bootstrap_draws={bootstrap_draws!r} must be a non-negative integer or None")
    notes: list[str] = []
    g, t, att = res.group, res.period, res.att
    missing = np.isnan(att)
    if missing.any():
        if not na_rm:
            pairs = [f"({_fmt(a)}, {_fmt(b)})" for a, b in zip(g[missing], t[missing], strict=True)]
            cells = ", ".join(pairs[:4]) + (f" and {len(pairs) - 4} more" if len(pairs) > 4 else "")
            raise EstimationError(
                f"{int(missing.sum())} ATT(g,t) (cohort, period) could not be estimated: {cells} — usually propensity scores "
                "that separate treated and comparison units; use methods.staggered.est_method: reg or fewer data.covariates."
            )
        notes.append(f"{int(missing.sum())} ATT(g,t) that could not be estimated are left out (na_rm=True).")
    usable = ~missing
    att0 = np.where(usable, att, 0.0)
    cvals = res._cohort_values
    C = len(cvals)
    code = res._cell_cohort_code
    N = res.n_units
    pg = res._cohort_sizes[code] / N  # cohort share of each cell's cohort
    e = t - g
    post = usable & (g <= t)
    cols_w: list[np.ndarray] = []
    cols_d: list[np.ndarray] = []
    egt: list[float] = []

    if type == "simple":
        keep = post & (t <= g + max_e)
        if cohorts is not None:
            keep &= np.isin(g, np.asarray(list(cohorts), dtype=float))
        if not keep.any():
            raise EstimationError("no post-treatment ATT(g,t) to aggregate; check max_e")
        w0, d0 = _weighted_column(keep, pg, att0, code, C)
    elif type == "group":
        att_g, pgg, gcode = [], [], []
        for v in res.cohorts:
            keep = post & (g == v) & (t <= g + max_e)
            if not keep.any():
                notes.append(f"Cohort {_fmt(v)} has no post-treatment ATT(g,t) to average and is left out.")
                continue
            w = keep / keep.sum()
            cols_w.append(w)
            cols_d.append(np.zeros(C))
            egt.append(float(v))
            att_g.append(float(att0 @ w))
            ci = int(np.searchsorted(cvals, v))
            pgg.append(res._cohort_sizes[ci] / N)
            gcode.append(ci)
        if not egt:
            raise EstimationError("no cohort has post-treatment ATT(g,t) to aggregate; check max_e")
        pgg_a, attg_a, gcode_a = np.array(pgg), np.array(att_g), np.array(gcode)
        S = pgg_a.sum()
        Wg = np.column_stack(cols_w)
        w0 = Wg @ (pgg_a / S)
        _, d0 = _weighted_column(np.ones(len(egt), dtype=bool), pgg_a, attg_a, gcode_a, C)
    elif type == "dynamic":
        include = usable.copy()
        if balance_e is not None:
            tmax, tmin = float(np.max(t[usable])), float(np.min(t[usable]))
            include &= tmax - g >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - tmax + tmin)]
        else:
            eseq = np.unique(e[include])
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise EstimationError("no event times left to aggregate; check balance_e, min_e and max_e")
        for ev in eseq:
            keep = include & (e == ev)
            w, d = _weighted_column(keep, pg, att0, code, C)
            cols_w.append(w)
            cols_d.append(d)
            egt.append(float(ev))
        pos = eseq >= 0
        if pos.any():
            w0 = np.column_stack(cols_w)[:, pos].mean(axis=1)
            d0 = np.column_stack(cols_d)[:, pos].mean(axis=1)
        else:
            notes.append("No event time >= 0 is reported: the overall effect is not defined.")
            w0, d0 = np.full(len(att), np.nan), np.zeros(C)
    else:  # calendar
        first_g = float(np.min(g[usable])) if usable.any() else math.inf
        for tt in np.unique(t[usable & (t >= first_g)]):
            keep = post & (t == tt)
            if not keep.any():
                continue
            w, d = _weighted_column(keep, pg, att0, code, C)
            cols_w.append(w)
            cols_d.append(d)
            egt.append(float(tt))
        if not egt:
            raise EstimationError("no post-treatment period to aggregate")
        w0 = np.column_stack(cols_w).mean(axis=1)
        d0 = np.column_stack(cols_d).mean(axis=1)

    W = np.column_stack([w0, *cols_w])
    D = np.column_stack([d0, *cols_d])
    ok0 = np.all(np.isfinite(w0))
    Wc = np.where(np.isfinite(W), W, 0.0)
    est = att0 @ Wc
    if not ok0:
        est[0] = np.nan
    gram = res._rep.gram(Wc, D)
    se = np.sqrt(np.clip(np.diag(gram), 0, None)) / N
    se[se <= _TINY] = np.nan
    if not ok0:
        se[0] = np.nan

    z = float(ndtri(1 - res.alpha / 2))
    crit, ci_type = z, "pointwise"
    if bootstrap_draws > 0:
        rng = np.random.default_rng(seed)
        Sc = res._rep.cluster_sums(Wc, D)
        bres = _bootstrap.multiplier_draws(Sc, int(bootstrap_draws), rng, res.bootstrap_weights)
        se_b, _ = _bootstrap.summarise_draws(bres, N, res.n_clusters, res.alpha)
        keep_se = ~np.isnan(se)
        se[keep_se] = se_b[keep_se]
        se[se <= _TINY] = np.nan
        if len(egt):
            _, crit_b = _bootstrap.summarise_draws(bres[:, 1:], N, res.n_clusters, res.alpha)
            if not np.isfinite(crit_b):
                notes.append("The bootstrap critical value could not be computed; intervals are pointwise.")
            elif crit_b < z:
                notes.append("The simultaneous critical value was below the pointwise one; intervals are pointwise.")
            else:
                crit, ci_type = crit_b, "uniform"

    return AggteResult(
        type=type,
        overall=Overall(float(est[0]), float(se[0])),
        egt=np.asarray(egt),
        estimates=est[1:],
        se=se[1:],
        critical_value=float(crit),
        ci_type=ci_type,
        alpha=res.alpha,
        balance_e=balance_e,
        min_e=min_e,
        max_e=max_e,
        bootstrap_draws=int(bootstrap_draws),
        seed=seed,
        reference=(-1.0 - res.anticipation) if res.base_period == "universal" else None,
        n_units=N,
        n_clusters=res.n_clusters,
        n_periods=res.n_periods,
        outcome_label=res.outcome_label,
        control_group=res.control_group,
        est_method=res.est_method,
        notes=notes,
        _rep=res._rep,
        _W=Wc,
        _D=D,
        _if_cache=None,
    )
