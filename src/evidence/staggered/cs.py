"""Callaway & Sant'Anna (2021) group-time average treatment effects, ATT(g,t), for panel data.

:func:`att_gt` follows R ``did`` (``att_gt`` with ``panel = TRUE``), reproducing its estimates and analytic
standard errors:

* each ATT(g,t) is a 2x2 DiD of cohort g against the comparison group between period t and a base period -- the
  period just before treatment (``g - anticipation - 1``) for post-treatment cells, and with
  ``base_period="varying"`` the previous period for pre-treatment cells; with ``"universal"`` every cell uses
  ``g - anticipation - 1`` and that cell is reported as 0;
* the comparison group is the never-treated units, or (``"not_yet_treated"``) the never-treated plus the units whose
  cohort is later than ``max(t, base) + anticipation``;
* the 2x2 estimator is DRDID's doubly robust (``"dr"``), normalised IPW (``"ipw"``) or outcome regression
  (``"reg"``); without covariates all three equal the difference of mean outcome changes;
* standard errors come from influence functions scaled as R's: for unit i and cell k, ``IF[i, k] = (n / n_gk) *
  psi_gk(i)`` with ``n_gk`` the units of cohort g plus comparison group, so ``se_k = sqrt(sum_i IF[i, k]^2) / n``;
  with a cluster column the sums run over clusters;
* the pre-test is the Wald statistic of all pre-treatment ATT(g,t) (``g > t``) against chi-squared with as many
  degrees of freedom (R reports its p-value rounded to 5 decimals; :attr:`AttGtResult.pretest` is unrounded).

Without covariates the estimator needs only cohort means and T x T scatter matrices of the outcome path, which makes
a million-row panel take milliseconds (see ``_influence.CohortInfluence``). With covariates the cells of a cohort that
share a comparison set are one sample: its propensity score and comparison-group regression are fitted once and
every period's estimate and influence function follow from matrix products (``_fit_batched``,
``_estimators.panel_periods``); the per-cell DRDID transcription stays as the reference (``_engine="cell"``).
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import chdtrc, ndtri

from .._blas import blas_threads, limit_blas_threads
from ..errors import EstimationError
from ..results import normal_inference, tidy_frame
from . import _bootstrap
from ._estimators import ESTIMATORS, RC_ESTIMATORS, CellEstimationError, panel_periods
from ._format import num, pre_html, text_table
from ._influence import CohortInfluence, DenseInfluence, InfluenceBase, cohort_stats
from ._prep import PreparedPanel, _fmt, check_options, prepare_panel

if TYPE_CHECKING:
    from .aggregate import AggteResult

_TINY = np.sqrt(np.finfo(float).eps) * 10
OVERLAP_LEVEL = 0.995  # DRDID trims comparison units with a propensity score at or above this: none would remain

Pretest = namedtuple("Pretest", ["W", "df", "p_value"])
Pretest.__doc__ = """Wald pre-test of parallel trends: all pre-treatment ATT(g,t) = 0.

Fields: ``W`` (chi-squared statistic), ``df`` (number of pre-treatment cells tested), ``p_value`` (unrounded).
``W`` and ``p_value`` are NaN when there is nothing to test or the covariance matrix is singular (see ``notes``).
"""


class AttGtResult:
    """Group-time average treatment effects from :func:`att_gt`.

    Attributes
    ----------
    group, period, event_time
        Cohort, calendar period and ``period - group`` of each ATT(g,t) cell (arrays of length K, cohort-major).
    att, se
        Estimates and standard errors (analytic, or multiplier-bootstrap when ``bootstrap_draws > 0``). A
        normalised reference cell (``base_period="universal"``) has ``att = 0`` and ``se = NaN``; a cell that
        cannot be estimated has ``att = NaN``.
    se_analytic
        Analytic (influence-function) standard errors, also when ``se`` is from the bootstrap.
    post
        True where ``group <= period``.
    critical_value, ci_type
        Critical value of the intervals in :meth:`tidy`: ``"pointwise"`` (normal) without bootstrap, ``"uniform"``
        (sup-t band over all cells, as R ``did``'s ``cband``) with it.
    vcov
        Analytic covariance matrix of ``att`` (``K x K``); R's ``V_analytical`` is ``vcov * n``.
    pretest
        :class:`Pretest` (W, df, p_value).
    n_units, n_periods, n_clusters
        Estimation sample sizes.
    unit_ids
        Unit identifiers in the row order of :attr:`influence_function`.
    cohorts
        Treated cohorts with ATT(g,t) cells.
    notes
        What was dropped, recoded or could not be estimated.
    engine
        ``"cohort"`` (no covariates: cohort sufficient statistics) or ``"dense"`` (per-cell 2x2 estimators).
    """

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    # ---- influence functions -----------------------------------------------------------------------------------
    @property
    def influence_function(self) -> np.ndarray:
        """``n_units x n_cells`` influence functions, R scaling (``se = sqrt(sum IF^2) / n_units`` per column)."""
        if self._if_cache is None:
            self._if_cache = np.array(self._rep.combine(np.eye(len(self.att))))  # a copy: never the engine's own array
        return self._if_cache

    # ---- aggregation ------------------------------------------------------------------------------------------
    def aggregate(
        self,
        type: str = "group",  # noqa: A002 - the name R and the paper use
        balance_e: int | None = None,
        min_e: float = -math.inf,
        max_e: float = math.inf,
        bootstrap_draws: int | None = None,
        na_rm: bool = False,
        seed: int | None = None,
        cohorts: Any = None,
    ) -> AggteResult:
        """Aggregate the ATT(g,t) into summary parameters (R ``aggte``).

        Parameters
        ----------
        type
            ``"simple"`` (post-treatment cells weighted by cohort size), ``"group"`` (average effect per cohort,
            overall weighted by cohort size), ``"dynamic"`` (event study: by periods since treatment, overall =
            mean over event times >= 0) or ``"calendar"`` (by calendar period, overall = mean over periods).
        balance_e
            Event study only: keep cohorts observed for at least ``balance_e`` periods after treatment and report
            event times up to ``balance_e``.
        min_e, max_e
            Event study: event times to report. ``max_e`` also caps the post-treatment cells that enter
            ``"simple"`` and ``"group"``.
        bootstrap_draws
            Multiplier-bootstrap draws for standard errors and a uniform band; ``None`` uses the setting of
            :func:`att_gt`, 0 gives analytic standard errors and pointwise intervals.
        na_rm
            Drop ATT(g,t) cells that could not be estimated instead of raising.
        cohorts
            ``simple`` only: the cohorts (values of the cohort variable) whose post-treatment cells are averaged; the
            others still act as comparisons. ``None`` = all.
        seed
            Seed for the bootstrap; ``None`` reuses the seed given to :func:`att_gt`.

        Returns
        -------
        AggteResult
        """
        from .aggregate import aggregate_att_gt

        with blas_threads(1):  # tall, narrow products: see evidence._blas
            return aggregate_att_gt(
                self,
                type=type,
                balance_e=balance_e,
                min_e=min_e,
                max_e=max_e,
                bootstrap_draws=bootstrap_draws,
                na_rm=na_rm,
                seed=seed,
                cohorts=cohorts,
            )

    # ---- reporting --------------------------------------------------------------------------------------------
    @property
    def ci(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper interval ends at ``critical_value``."""
        return self.att - self.critical_value * self.se, self.att + self.critical_value * self.se

    def tidy(self) -> pd.DataFrame:
        """One row per ATT(g,t) in the estimates contract (``estimand="att_gt"``).

        Intervals use :attr:`critical_value`: pointwise normal without bootstrap; with bootstrap the uniform
        (simultaneous over all cells) band, as R ``did`` reports by default. ``p_value`` is always the pointwise
        two-sided normal p-value. ``n_units`` / ``n_obs`` count the cohort and its comparison group (two periods
        each); ``n_clusters`` the clusters among them.
        """
        lo, hi = self.ci
        _, _, p = normal_inference(self.att, self.se, self.alpha)
        ref = self._reference
        rows = pd.DataFrame(
            {
                "method": "cs",
                "outcome": self.outcome_label,
                "estimand": "att_gt",
                "group": [_fmt(v) for v in self.group],
                "period": [_fmt(v) for v in self.period],
                "event_time": self.event_time,
                "estimate": self.att,
                "std_error": self.se,
                "ci_lower": lo,
                "ci_upper": hi,
                "p_value": p,
                "n_obs": np.where(ref, np.nan, 2 * self._n_cell),
                "n_units": np.where(ref, np.nan, self._n_cell),
                "n_clusters": np.where(ref, np.nan, self._n_cell_clusters),
            }
        )
        return tidy_frame(rows)

    def summary(self) -> str:
        """Text report: settings, the ATT(g,t) table, the pre-test and notes."""
        level = int(round(100 * (1 - self.alpha)))
        lo, hi = self.ci
        rows = [
            [_fmt(g), _fmt(t), _fmt(e), num(a), num(s), num(lo_), num(hi_), "*" if (lo_ > 0 or hi_ < 0) else ""]
            for g, t, e, a, s, lo_, hi_ in zip(
                self.group, self.period, self.event_time, self.att, self.se, lo, hi, strict=True
            )
        ]
        table = text_table(
            ["group", "period", "e", "ATT", "SE", f"{level}% lower", f"{level}% upper", ""],
            rows,
            ["r", "r", "r", "r", "r", "r", "r", "l"],
        )
        cg = "never treated" if self.control_group == "never_treated" else "not yet treated"
        inference = (
            f"multiplier bootstrap ({self.bootstrap_draws} {self.bootstrap_weights} draws)"
            if self.bootstrap_draws
            else "analytic (influence function)"
        )
        clus = self.cluster or f"unit ({self.idname})"
        lines = [
            f"Callaway & Sant'Anna (2021) group-time ATT: {self.outcome_label}",
            f"Units: {self.n_units}   Periods: {self.n_periods} ({_fmt(self.periods[0])}-{_fmt(self.periods[-1])})"
            f"   Cohorts: {', '.join(_fmt(g) for g in self.cohorts)}",
            f"Comparison group: {cg}   Estimator: {self.est_method}   Base period: {self.base_period}"
            f"   Anticipation: {self.anticipation}"
            + (f"   Covariates: {', '.join(self.covariates)}" if self.covariates else ""),
            f"Standard errors: {inference}, clustered by {clus} ({self.n_clusters} clusters);"
            f" {self.ci_type} {level}% intervals (critical value {self.critical_value:.3f})",
            "",
            table,
            "",
        ]
        pt = self.pretest
        if np.isfinite(pt.W):
            lines.append(
                f"Pre-test of parallel trends (Wald, all pre-treatment ATT(g,t) = 0): W = {pt.W:.4f}, "
                f"df = {pt.df}, p = {pt.p_value:.5f}"
            )
        else:
            lines.append("Pre-test of parallel trends: not available (see notes)")
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return pre_html(self.summary())

    def __repr__(self) -> str:
        return (
            f"<AttGtResult {self.outcome_label}: {len(self.att)} ATT(g,t), {len(self.cohorts)} cohorts, "
            f"{self.n_units} units, control={self.control_group}, est_method={self.est_method}>"
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
        """Plot the ATT(g,t) (drawn by :func:`evidence.plots.plot_att_gt`)."""
        from ..plots import plot_att_gt

        return plot_att_gt(self, ax=ax)


# ---------------------------------------------------------------------------------------------------------------
def _enumerate_cells(
    periods: np.ndarray, groups: np.ndarray, base_period: str, anticipation: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cohort, later-period index, base-period index and reference flag of every ATT(g,t) cell (cohort-major)."""
    T = len(periods)
    start = 1 if base_period == "varying" else 0
    g_list, t_list, b_list = [], [], []
    for g in groups:
        pret = int(np.flatnonzero(periods + anticipation < g)[-1])
        for ti in range(start, T):
            if base_period == "universal" or g <= periods[ti]:
                b = pret
            else:
                b = ti - 1
            g_list.append(g)
            t_list.append(ti)
            b_list.append(b)
    t_idx = np.asarray(t_list, dtype=np.int64)
    b_idx = np.asarray(b_list, dtype=np.int64)
    return np.asarray(g_list, dtype=np.float64), t_idx, b_idx, t_idx == b_idx


@limit_blas_threads(1)
def att_gt(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: list[str] | None = None,
    control_group: str = "never_treated",
    est_method: str = "dr",
    base_period: str = "varying",
    anticipation: int = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
    bootstrap_draws: int = 0,
    seed: int | None = None,
    outcome_label: str | None = None,
    *,
    allow_unbalanced: bool = False,
    bootstrap_weights: str = "rademacher",
    _engine: str = "auto",
) -> AttGtResult:
    """Group-time average treatment effects of Callaway & Sant'Anna (2021) with panel data.

    Parameters
    ----------
    data
        Long panel: one row per unit and period.
    yname, tname, idname, gname
        Outcome, (numeric) time period, unit identifier, and first treated period. ``gname`` 0 or missing means
        never treated; a first treated period after the last period (plus ``anticipation``) is treated as never
        treated within the data, as R ``did`` does.
    covariates
        Baseline covariates (constant within unit; a column that varies over time raises). They enter the
        propensity score and outcome regressions of ``est_method``. ``None``: unconditional parallel trends.
    control_group
        ``"never_treated"`` or ``"not_yet_treated"`` (R's ``"nevertreated"`` / ``"notyettreated"`` also accepted).
    est_method
        ``"dr"`` (doubly robust, default), ``"ipw"`` (normalised inverse probability weighting) or ``"reg"``
        (outcome regression).
    base_period
        ``"varying"`` (pre-treatment cells compare consecutive periods) or ``"universal"`` (every cell compares
        with period ``g - anticipation - 1``, which is reported as 0).
    anticipation
        Number of periods before treatment in which units may already react; the base period moves back by this.
    cluster
        Column to cluster standard errors on (constant within unit). ``None`` or ``idname``: unit level.
    alpha
        1 - confidence level.
    bootstrap_draws
        0: analytic standard errors and pointwise intervals. > 0: multiplier-bootstrap standard errors and a
        uniform (sup-t) band over all ATT(g,t), as R ``did`` with ``bstrap=TRUE, cband=TRUE``.
    seed
        Seed of the bootstrap draws (results are reproducible given the seed).
    outcome_label
        Name written to the ``outcome`` column of :meth:`AttGtResult.tidy` (default ``yname``).
    allow_unbalanced
        Drop units not observed (with outcome and covariates) in every period, and say how many in ``notes``;
        otherwise an unbalanced panel raises.
    bootstrap_weights
        ``"rademacher"`` (R ``did``'s) or ``"mammen"``.

    Returns
    -------
    AttGtResult

    Raises
    ------
    EstimationError
        For unusable data or options, with a one-line message naming the column or parameter.
    """
    cg = check_options(control_group, est_method, base_period, anticipation, alpha, bootstrap_draws)
    if bootstrap_weights not in _bootstrap.WEIGHTS:
        raise EstimationError(
            f"bootstrap_weights={bootstrap_weights!r} is not recognised; use 'rademacher' or 'mammen'"
        )
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates) if covariates else []
    if _engine not in ("auto", "cohort", "dense", "cell"):
        raise EstimationError(f"_engine={_engine!r} must be 'auto', 'cohort', 'dense' or 'cell'")
    if _engine == "cohort" and covariates:
        raise EstimationError("_engine='cohort' works only without covariates")
    cluster_col = None if cluster in (None, idname) else cluster
    panel = prepare_panel(
        data, yname, tname, idname, gname, covariates, cg, int(anticipation), cluster_col, allow_unbalanced
    )
    notes = list(panel.notes)
    engine = _engine if _engine == "cell" else ("dense" if covariates else _engine)
    fit = _fit(panel, cg, est_method, base_period, int(anticipation), engine, notes)
    rep: InfluenceBase = fit["rep"]
    K = len(fit["g"])
    N = panel.n_units

    gram = rep.gram(np.eye(K))
    se_an = np.sqrt(np.clip(np.diag(gram), 0, None)) / N
    se_an[se_an <= _TINY] = np.nan
    se_an[np.isnan(fit["att"])] = np.nan
    vcov = gram / N**2

    period_vals = panel.periods[fit["t_idx"]]
    g = fit["g"]
    att = fit["att"]
    pretest = _pretest(att, g, period_vals, se_an, vcov, notes)

    z = float(ndtri(1 - alpha / 2))
    se = se_an.copy()
    crit, ci_type = z, "pointwise"
    if bootstrap_draws > 0:
        rng = np.random.default_rng(seed)
        S = rep.cluster_sums(np.eye(K))
        bres = _bootstrap.multiplier_draws(S, int(bootstrap_draws), rng, bootstrap_weights)
        se_b, crit_b = _bootstrap.summarise_draws(bres, N, panel.n_clusters, alpha)
        keep = ~np.isnan(se_an)
        se[keep] = se_b[keep]
        se[se <= _TINY] = np.nan
        if np.isfinite(crit_b):
            crit, ci_type = crit_b, "uniform"
        else:
            notes.append("The bootstrap critical value could not be computed; intervals are pointwise.")

    ncl_cell = fit["n_cell"] if panel.cluster_codes is None else _clusters_per_cell(panel, fit)
    return AttGtResult(
        group=g,
        period=period_vals,
        event_time=period_vals - g,
        att=att,
        se=se,
        se_analytic=se_an,
        post=g <= period_vals,
        critical_value=float(crit),
        ci_type=ci_type,
        alpha=float(alpha),
        vcov=vcov,
        pretest=pretest,
        n_units=N,
        n_periods=panel.n_periods,
        n_clusters=panel.n_clusters,
        unit_ids=panel.unit_ids,
        cohorts=panel.groups,
        periods=panel.periods,
        notes=notes,
        yname=yname,
        tname=tname,
        idname=idname,
        gname=gname,
        outcome_label=outcome_label or yname,
        covariates=covariates,
        control_group=cg,
        est_method=est_method,
        base_period=base_period,
        anticipation=int(anticipation),
        cluster=cluster_col,
        bootstrap_draws=int(bootstrap_draws),
        bootstrap_weights=bootstrap_weights,
        seed=seed,
        engine=fit["engine"],
        _rep=rep,
        _if_cache=None,
        _reference=fit["ref"],
        _n_cell=fit["n_cell"],
        _n_cell_clusters=ncl_cell,
        _cohort_values=fit["cvals"],
        _cohort_sizes=fit["n_c"],
        _cell_cohort_code=fit["tcode"],
    )


def _pretest(
    att: np.ndarray, g: np.ndarray, t: np.ndarray, se: np.ndarray, vcov: np.ndarray, notes: list[str]
) -> Pretest:
    pre = np.flatnonzero((g > t) & np.isfinite(se) & np.isfinite(att))
    if pre.size == 0:
        notes.append("No pre-treatment ATT(g,t) to test: the pre-test of parallel trends is not available.")
        return Pretest(float("nan"), 0, float("nan"))
    Vp = vcov[np.ix_(pre, pre)]
    if 1.0 / np.linalg.cond(Vp) <= np.finfo(float).eps:
        notes.append("The covariance matrix of the pre-treatment ATT(g,t) is singular: no pre-test reported.")
        return Pretest(float("nan"), int(pre.size), float("nan"))
    b = att[pre]
    W = float(b @ np.linalg.solve(Vp, b))
    return Pretest(W, int(pre.size), float(chdtrc(pre.size, W)))


def _fit(
    panel: PreparedPanel,
    control_group: str,
    est_method: str,
    base_period: str,
    anticipation: int,
    engine: str,
    notes: list[str],
) -> dict[str, Any]:
    """All ATT(g,t) and the representation of their influence functions."""
    Y, periods, N = panel.Y, panel.periods, panel.n_units
    g, t_idx, b_idx, ref = _enumerate_cells(periods, panel.groups, base_period, anticipation)
    K = len(g)
    cvals = np.sort(pd.unique(panel.cohort))
    ccodes = np.searchsorted(cvals, panel.cohort)
    C = len(cvals)
    tcode = np.searchsorted(cvals, g)
    never = np.isinf(cvals)
    if control_group == "never_treated":
        ctrl = np.broadcast_to(never, (K, C)).copy()
    else:
        later = np.maximum(periods[t_idx], periods[b_idx]) + anticipation
        ctrl = never[None, :] | ((cvals[None, :] > later[:, None]) & (cvals[None, :] != g[:, None]))
    if panel.unbalanced:
        engine = "rc"
    elif engine == "auto":
        engine = "dense" if panel.X is not None else "cohort"
    # cohort sizes, and for the cohort engine the cohort mean paths and scatter matrices (one pass over Y)
    stats_c = cohort_stats(Y, ccodes, C) if engine == "cohort" else None
    n_c = stats_c[1] if stats_c is not None else np.bincount(ccodes, minlength=C).astype(np.float64)
    n_G = n_c[tcode]
    n_C = ctrl.astype(np.float64) @ n_c
    n_cell = n_G + n_C
    usable = ~ref & (n_G > 0) & (n_C > 0)
    for k in np.flatnonzero(~ref & ~usable):
        notes.append(
            f"ATT(g={_fmt(g[k])}, t={_fmt(periods[t_idx[k]])}) not estimated: no "
            + ("treated" if n_G[k] == 0 else "comparison")
            + " units."
        )
    if engine == "rc":
        # a cell needs an observed row in each of the four group x period combinations (R: NA otherwise)
        seen = np.isfinite(Y)
        for k in np.flatnonzero(usable):
            tr = ccodes == tcode[k]
            co = ctrl[k][ccodes]
            sides = (seen[tr, t_idx[k]].any(), seen[tr, b_idx[k]].any(), seen[co, t_idx[k]].any(), seen[co, b_idx[k]].any())
            if not all(sides):
                notes.append(f"ATT(g={_fmt(g[k])}, t={_fmt(periods[t_idx[k]])}) not estimated: no observed row for the " + ("treated cohort" if not (sides[0] and sides[1]) else "comparison group") + " in one of its two periods.")
                usable[k] = False
    if engine == "cohort" and est_method in ("dr", "ipw"):
        # without covariates the propensity score is the cohort share; DRDID trims every comparison unit when it
        # reaches 0.995 and the estimate is undefined (R returns NA)
        share = np.divide(n_G, n_cell, out=np.zeros(K), where=n_cell > 0)
        for k in np.flatnonzero(usable & (share >= OVERLAP_LEVEL)):
            notes.append(
                f"ATT(g={_fmt(g[k])}, t={_fmt(periods[t_idx[k]])}) not estimated: the cohort is "
                f"{share[k]:.1%} of the 2x2 sample, beyond the propensity-score trimming level {OVERLAP_LEVEL}."
            )
        usable &= share < OVERLAP_LEVEL

    att = np.full(K, np.nan)
    att[ref] = 0.0
    if stats_c is not None:
        ybar = stats_c[2]
        d = ybar[:, t_idx] - ybar[:, b_idx]  # C x K mean outcome change of every cohort in every cell
        cols = np.arange(K)
        mu_G = d[tcode, cols]
        wC = ctrl.T * n_c[:, None]  # C x K
        with np.errstate(invalid="ignore", divide="ignore"):
            mu_C = (wC * d).sum(axis=0) / n_C
            aC = -N / n_C
            aG = N / n_G
        att[usable] = (mu_G - mu_C)[usable]
        a = np.where(ctrl.T, aC[None, :], 0.0)
        mu = np.where(ctrl.T, mu_C[None, :], 0.0)
        a[tcode, cols] = aG
        mu[tcode, cols] = mu_G
        a[:, ~usable] = 0.0
        mu[:, ~usable] = 0.0
        rep: InfluenceBase = CohortInfluence(Y, ccodes, C, t_idx, b_idx, a, mu, panel.cluster_codes, stats=stats_c)
    elif engine == "dense":
        rep = _fit_batched(panel, est_method, g, t_idx, b_idx, tcode, ctrl, ccodes, C, usable, att, notes)
    else:
        # cell: one 2x2 estimator per cell on the units of the cohort and its comparison group (the reference the
        # batched engine is tested against). rc (R did's
        # allow_unbalanced_panel): the cell's rows — its period and its base period, of those units — go to the
        # repeated cross-section estimator, and the row influence values are scaled by N / rows and summed within
        # units (SEMANTICS.md of tests/fixtures/did_unbalanced)
        rc = engine == "rc"
        estimator = (RC_ESTIMATORS if rc else ESTIMATORS)[est_method]
        M = np.zeros((N, K))
        Xfull = np.ones((N, 1)) if panel.X is None else np.column_stack([np.ones(N), panel.X])
        seen = np.isfinite(Y)
        for k in np.flatnonzero(usable):
            treated = ccodes == tcode[k]
            member = ctrl[k][ccodes] | treated
            if rc:
                it = np.flatnonzero(member & seen[:, t_idx[k]])
                ib = np.flatnonzero(member & seen[:, b_idx[k]])
                rows = np.concatenate([it, ib])
                post = np.concatenate([np.ones(it.size), np.zeros(ib.size)])
                args = (np.concatenate([Y[it, t_idx[k]], Y[ib, b_idx[k]]]), post, treated[rows].astype(np.float64), Xfull[rows])
            else:
                rows = np.flatnonzero(member)
                args = (Y[rows, t_idx[k]], Y[rows, b_idx[k]], treated[rows].astype(np.float64), Xfull[rows])
            try:
                with np.errstate(invalid="ignore", divide="ignore"):
                    est, inf = estimator(*args)
                if not np.isfinite(est):
                    raise CellEstimationError("undefined estimate")
            except CellEstimationError as exc:
                notes.append(f"ATT(g={_fmt(g[k])}, t={_fmt(periods[t_idx[k]])}) not estimated: {exc}.")
                usable[k] = False
                continue
            att[k] = est
            M[:, k] = np.bincount(rows, inf * (N / rows.size), minlength=N)
        rep = DenseInfluence(M, ccodes, C, panel.cluster_codes)
    return {
        "g": g,
        "t_idx": t_idx,
        "b_idx": b_idx,
        "ref": ref,
        "att": att,
        "rep": rep,
        "n_cell": n_cell,
        "cvals": cvals,
        "ccodes": ccodes,
        "n_c": n_c,
        "tcode": tcode,
        "ctrl": ctrl,
        "engine": engine,
    }


def _fit_batched(
    panel: PreparedPanel,
    est_method: str,
    g: np.ndarray,
    t_idx: np.ndarray,
    b_idx: np.ndarray,
    tcode: np.ndarray,
    ctrl: np.ndarray,
    ccodes: np.ndarray,
    C: int,
    usable: np.ndarray,
    att: np.ndarray,
    notes: list[str],
) -> DenseInfluence:
    """The 2x2 estimators of all usable cells, batched over the cells that share a sample (balanced panel).

    Context: every cell of one cohort with the same comparison set uses the same units, D and X (see the comment
    above :func:`._estimators.panel_periods`). Decision: group the cells by (cohort, comparison set), fit the
    propensity score and outcome regression once per group, and fill the ``n x K`` influence matrix group by group.
    Consequences: ``att`` and ``usable`` are updated in place, a group whose fit fails (separation, singular design,
    overlap) marks each of its cells as not estimated with the reason, as the per-cell path does.
    """
    Y, periods, N = panel.Y, panel.periods, panel.n_units
    K = len(g)
    M = np.zeros((N, K))
    Xfull = np.ones((N, 1)) if panel.X is None else np.column_stack([np.ones(N), panel.X])
    keys: dict[tuple[int, bytes], list[int]] = {}
    for k in np.flatnonzero(usable):
        keys.setdefault((int(tcode[k]), ctrl[k].tobytes()), []).append(int(k))
    failed: dict[int, str] = {}
    for (tc, _), cells in keys.items():
        ks = np.asarray(cells)
        member = ctrl[ks[0]].copy()
        member[tc] = True
        member_u = member[ccodes]
        rows = np.flatnonzero(member_u)
        cols, inv = np.unique(np.concatenate([t_idx[ks], b_idx[ks]]), return_inverse=True)
        tpos, bpos = inv[: ks.size], inv[ks.size :]
        D = (ccodes[rows] == tc).astype(np.float64)
        Yp = np.take(Y, rows, axis=0)
        if cols.size < Y.shape[1]:
            Yp = Yp[:, cols]
        try:
            with np.errstate(invalid="ignore", divide="ignore"):
                level, Phi = panel_periods(est_method, Yp, D, np.take(Xfull, rows, axis=0))
        except CellEstimationError as exc:
            for k in ks:
                failed[int(k)] = str(exc)
            continue
        est = level[tpos] - level[bpos]
        ok = np.isfinite(est)
        for k in ks[~ok]:
            failed[int(k)] = "undefined estimate"
        att[ks[ok]] = est[ok]
        block = (Phi[:, tpos[ok]] - Phi[:, bpos[ok]]) * (N / rows.size)
        kk = ks[ok]
        if kk.size and kk[-1] - kk[0] == kk.size - 1:  # cells of a cohort are consecutive: a column slice
            M[rows, kk[0] : kk[-1] + 1] = block
        else:
            M[np.ix_(rows, kk)] = block
    for k in sorted(failed):
        notes.append(f"ATT(g={_fmt(g[k])}, t={_fmt(periods[t_idx[k]])}) not estimated: {failed[k]}.")
        usable[k] = False
    return DenseInfluence(M, ccodes, C, panel.cluster_codes)


def _clusters_per_cell(panel: PreparedPanel, fit: dict[str, Any]) -> np.ndarray:
    """Number of clusters containing units of each cell's cohort or comparison group."""
    C = len(fit["cvals"])
    n_cl = panel.n_clusters
    inc = sparse.csr_matrix((np.ones(panel.n_units), (fit["ccodes"], panel.cluster_codes)), shape=(C, n_cl))
    sel = fit["ctrl"].astype(np.float64)
    sel[np.arange(len(fit["g"])), fit["tcode"]] = 1.0
    counts = np.asarray((sparse.csr_matrix(sel) @ inc).todense())
    return (counts > 0).sum(axis=1).astype(np.float64)
