"""Power, size and method validation by simulation — on SYNTHETIC DATA with known effects.

Fast because the estimators are linear. With a fixed design, the TWFE coefficient, the 2x2 difference-in-differences,
Callaway-Sant'Anna without covariates (ATT(g,t) are differences of cohort means; the simple aggregation is a fixed
combination of them), Sun-Abraham (coefficients ``A @ y`` for a fixed regressor matrix) and the imputation estimator
(a fixed linear operator) are all linear in the outcomes ``y``; their cluster-robust or influence-function standard
errors are norms of linear maps of ``y`` (cluster sums of scores). :class:`LinearEstimators` builds, once per
design and in closed form, a vector ``a`` and a score map ``S`` (replicates -> clusters) for each method such that,
for every replicate at once,

    estimate = Y a            standard error = ||S(Y)||   (Y: replicates x unit-periods)

where ``S(Y) = Y B`` for a unit-periods x clusters matrix ``B`` that is never formed: the scores come from cohort
totals, two-way demeaning and cluster sums in O(replicates x unit-periods) (see the operators' section), and the
replicates are simulated and estimated in blocks, so memory is linear in the panel. The conventions are those of the
package's estimators, and the tests check the two agree to 1e-8 on single replicates:

=================  =========================================================================================
method             as in the package
=================  =========================================================================================
``twfe``           :func:`evidence.did.twfe` — CR1 (``G/(G-1)·(n-1)/n``), t with G-1 df
``did_2x2``        :func:`evidence.did.did_2x2`, overall row (cohorts weighted by units) — CR1, t(G-1)
``cs``             :func:`evidence.staggered.cs` with ``est_method="reg"`` (equal to ``dr``/``ipw`` without covariates),
                   ``aggregate("simple")`` — influence functions clustered as the package does, normal intervals
``sun_abraham``    :func:`evidence.staggered.sun_abraham`, ``simple`` row — CR1, t(G-1)
``imputation``     :func:`evidence.staggered.imputation`, ``simple`` row — BJS conservative variance, t(G-1)
``sdid``           :func:`evidence.synth.sdid` (optional, not linear): a loop over replicates (on a stated subsample
                   of :data:`SDID_MAX_UNITS` units in :func:`validate_methods` on larger designs)
=================  =========================================================================================

:func:`power_curve` simulates on the design (with noise calibrated on its real pre-period by
:func:`evidence.synthetic.calibrate`) for a set of true effects and reports the share of replicates that reject
``effect = 0``; :func:`validate_methods` simulates a heterogeneous, dynamic effect and reports bias, RMSE and
coverage against the known true ATT. Every result is labelled synthetic.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import special  # not scipy.stats (~0.4 s to import): its norm / t call these functions
from scipy.sparse.linalg import splu

from .design import Design
from .errors import EstimationError
from .inference import demean_two_way
from .panel import Panel
from .results import tidy_frame
from .synthetic import Calibration, EffectSpec, calibrate, effect_cells, heterogeneous_dynamic, simulate
from .missing import balanced_only

LINEAR_METHODS: tuple[str, ...] = ("twfe", "cs", "sun_abraham", "imputation", "did_2x2")
DEFAULT_METHODS: tuple[str, ...] = LINEAR_METHODS
ALL_METHODS: tuple[str, ...] = LINEAR_METHODS + ("sdid", "poisson_twfe")
REPLICATE_COLUMNS: list[str] = ["rep", "method", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "reject"]


def _err(message: str) -> EstimationError:
    return EstimationError(message)


def sdid_available() -> bool:
    """Whether :func:`evidence.synth.sdid` can be imported (the optional SDID method)."""
    try:
        from .synth import sdid  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means the optional method is unavailable
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# closed-form operators: each returns (a, scores, df, inference) with estimate = y a and standard error = ||scores(Y)||
#
# Context: the operators were dense unit-periods x clusters matrices B (se = ||y B||); with units as clusters that
# is rows x units — 144,000 x 3,000 (3.2 GB per method) for 3,000 small areas x 48 months, and 06_power was killed
# for memory. Decision: every method's cluster scores are computed from the replicates' outcomes by the estimator's
# own structure — two-way demeaning, cohort totals (every unit of a cohort shares its regressors), cluster sums
# and, for the imputation estimator, one sparse solve of the untreated fixed-effects fit — in O(replicates x
# unit-periods) time and memory, with nothing of size rows x clusters. Consequences: memory is linear in the panel
# (the replicates are processed in blocks by the callers); the estimates and standard errors are the package's
# estimators' to 1e-8 (tests/test_power.py), and equal to the dense operators they replace to rounding.
def _cluster_matrix(codes: np.ndarray, G: int | None = None) -> sp.csr_matrix | None:
    """Sparse units x clusters indicator (``X @ C`` sums the columns of X within clusters); None when every unit is
    its own cluster, in order (the sums are the values)."""
    G = int(codes.max()) + 1 if G is None else G
    if G == codes.size and np.array_equal(codes, np.arange(G)):
        return None
    return sp.csr_matrix((np.ones(codes.size), (np.arange(codes.size), codes)), shape=(codes.size, G))


def _cluster_sums(X: np.ndarray, C: sp.csr_matrix | None) -> np.ndarray:
    """Cluster sums (R x G) of per-unit values X (R x N)."""
    return X if C is None else np.asarray((C.T @ X.T).T)


def _cohort_totals(Y: np.ndarray, coh: np.ndarray, n_coh: int) -> np.ndarray:
    """Totals over each cohort's units (R x C x T) of outcomes Y (R x N x T)."""
    out = np.zeros((Y.shape[0], n_coh, Y.shape[2]))
    for c in range(n_coh):
        out[:, c] = Y[:, coh == c].sum(axis=1)
    return out


Scores = Callable[[np.ndarray], np.ndarray]


def _ols_operator(Xc: np.ndarray, coh: np.ndarray, L: np.ndarray, groups: np.ndarray, T: int) -> tuple[np.ndarray, Scores]:
    """``a`` and the cluster scores of ``L' beta`` in a two-way fixed effects regression whose regressors depend on
    the unit only through its cohort: ``Xc`` (C x T' x K) for cohort codes ``coh`` (N,); CR1 scores.

    With ``Q`` the two-way demeaning and ``Xd = Q X``, ``h = (Xd'Xd)^+ L``: the estimate is ``(Xd h)' y`` and the
    score of cluster g is ``sum_{rows in g} (Xd h)_r e_r`` with ``e = Q y - Xd beta`` the OLS residual, times
    ``sqrt(G/(G-1)·(n-1)/n)``. Every row of ``Xd`` sums to zero over periods and every period's rows to zero over
    units, so ``Xd' Q y = sum_c Xd_c' (cohort total of y)`` and ``(Xd h)_i . Q y_i = (Xd h)_c(i) . (y_i - period
    means)``. Periods from T' on (dropped by the estimator) get zero weight.
    """
    N = coh.size
    C_, Tk, K = Xc.shape
    n_c = np.bincount(coh, minlength=C_).astype(float)
    Xbar = np.einsum("c,ctk->tk", n_c, Xc) / N
    Xd = Xc - Xc.mean(axis=1, keepdims=True) - Xbar[None] + Xbar.mean(axis=0)[None, None]
    bread = np.linalg.pinv(np.einsum("c,ctk,ctl->kl", n_c, Xd, Xd))
    xh = Xd @ (bread @ L)  # C x T'
    q = np.einsum("ctk,ct->ck", Xd, xh)  # Xd_c' xh_c
    G = int(groups.max()) + 1
    if G < 2:
        raise _err("only one cluster; cluster-robust inference needs at least two.")
    n = N * Tk
    c = math.sqrt(G / (G - 1) * (n - 1) / n)
    Cm = _cluster_matrix(groups, G)
    a = np.zeros((N, T))
    a[:, :Tk] = xh[coh]
    a_k = a[:, :Tk]

    def scores(Y: np.ndarray) -> np.ndarray:
        Yk = Y[:, :, :Tk]
        w = np.einsum("rnt,nt->rn", Yk, a_k) - (Yk.mean(axis=1) @ xh.T)[:, coh]
        beta = np.einsum("ctk,rct->rk", Xd, _cohort_totals(Yk, coh, C_)) @ bread.T
        return c * _cluster_sums(w - (beta @ q.T)[:, coh], Cm)

    return a.ravel(), scores


def _cohort_codes(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct first-treated periods (inf = untreated last) and each unit's code."""
    vals, coh = np.unique(g, return_inverse=True)
    return vals, np.asarray(coh).ravel()


def _twfe_operator(design: Design) -> tuple[np.ndarray, Scores, int, str]:
    groups = design.cluster_codes
    G = int(groups.max()) + 1
    if G < 2:
        raise _err("twfe: only one cluster; cluster-robust inference needs at least two.")
    T = design.panel.n_periods
    vals, coh = _cohort_codes(design.g)
    Dc = (np.arange(T)[None, :] >= vals[:, None]).astype(float)  # cohort x period treatment
    n_c = np.bincount(coh, minlength=vals.size).astype(float)
    Dbar = n_c @ Dc / coh.size
    if float((n_c[:, None] * (Dc - Dc.mean(axis=1, keepdims=True) - Dbar[None] + Dbar.mean()) ** 2).sum()) <= 0:
        raise _err("twfe: the treatment indicator is absorbed by the fixed effects.")
    a, scores = _ols_operator(Dc[:, :, None], coh, np.ones(1), groups, T)
    return a, scores, G - 1, "CR1, t(G-1)"


def _sa_operator(design: Design, control: str) -> tuple[np.ndarray, Scores, int, str]:
    g = design.g.copy()
    groups = design.cluster_codes
    T = design.panel.n_periods
    if control == "never_treated":
        if not (~np.isfinite(g)).any():
            raise _err("sun_abraham with never-treated controls needs units untreated throughout the window; use control='last_cohort'.")
        t_keep = T
    elif control == "last_cohort":
        if np.unique(g[np.isfinite(g)]).size < 2:
            raise _err("sun_abraham with the last cohort as control needs at least two treated cohorts.")
        last = np.max(g[np.isfinite(g)])
        t_keep = int(last)
        g = np.where(g == last, np.inf, g)
    else:
        raise _err(f"sun_abraham: control={control!r} is not recognised; use never_treated or last_cohort.")
    treated = np.isfinite(g) & (g < t_keep)
    cohorts = np.unique(g[treated]).astype(int)
    if cohorts.size == 0:
        raise _err("sun_abraham: no treated cohort inside the window.")
    t = np.arange(t_keep)
    cells = []
    for c in cohorts:
        ev = (t - c).astype(int)
        cells += [(int(c), int(l)) for l in ev if l != -1]
    vals, coh = _cohort_codes(np.where(treated, g, np.inf))
    Xc = np.zeros((vals.size, t_keep, len(cells)))
    for j, (c, l) in enumerate(cells):
        Xc[vals == c, c + l, j] = 1.0
    cell_e = np.array([l for _, l in cells])
    cell_c = np.array([c for c, _ in cells])
    post = np.flatnonzero(cell_e >= 0)
    if post.size == 0:
        raise _err("sun_abraham: no post-treatment cohort x event-time cell.")
    size = {int(c): int((g == c).sum()) for c in cohorts}
    L = np.zeros(len(cells))
    wpost = np.array([size[int(c)] for c in cell_c[post]], float)
    L[post] = wpost / wpost.sum()
    a, scores = _ols_operator(Xc, coh, L, groups, T)
    return a, scores, int(groups.max()), "CR1, t(G-1)"


def _did2x2_operator(design: Design) -> tuple[np.ndarray, Scores, int, str]:
    """2x2 overall row: ``sum_j w_j (mean post-pre change of cohort j - that of the controls)``, CR1 scores (the
    residual of a member is its change minus its group's mean change, summed within clusters)."""
    g = design.g
    control = ~np.isfinite(g)
    if not control.any():
        raise _err("did_2x2 needs units untreated throughout the window, and the design has none.")
    groups = design.cluster_codes
    G = int(groups.max()) + 1
    if G < 2:
        raise _err("did_2x2: only one cluster; cluster-robust inference needs at least two.")
    N, T = design.panel.n_units, design.panel.n_periods
    cohorts = np.unique(g[np.isfinite(g)]).astype(int)
    sizes = np.array([(g == c).sum() for c in cohorts], dtype=float)
    w = sizes / sizes.sum()
    n_c = float(control.sum())
    n_rows = int(sizes.sum() + cohorts.size * n_c)
    c = math.sqrt(G / (G - 1) * (n_rows - 1) / n_rows)
    Cm = _cluster_matrix(groups, G)
    t = np.arange(T)
    dvecs = np.stack([np.where(t >= cc, 1.0 / (t >= cc).sum(), -1.0 / (t < cc).sum()) for cc in cohorts], axis=1)  # T x J: post mean - pre mean
    a = np.zeros((N, T))
    coef_unit = np.zeros((N, cohorts.size))  # coefficient of each unit's change for each cohort comparison
    means = []  # (cohort j, members, coef, n_g / n_m): the group-mean part of the residuals
    for j, cc in enumerate(cohorts):
        for members, n_m, sign in (((g == cc), sizes[j], 1.0), (control, n_c, -1.0)):
            coef = sign * w[j] / n_m
            a[members] += coef * dvecs[:, j]
            coef_unit[members, j] += coef
            means.append((j, members, coef, np.bincount(groups[members], minlength=G) / n_m))

    def scores(Y: np.ndarray) -> np.ndarray:
        delta = Y @ dvecs  # R x N x J unit changes
        S = _cluster_sums(np.einsum("rnj,nj->rn", delta, coef_unit), Cm)
        for j, members, coef, share in means:
            S -= coef * delta[:, members, j].sum(axis=1)[:, None] * share[None, :]
        return c * S

    return a.ravel(), scores, G - 1, "CR1 over the stacked cohort comparisons, t(G-1)"


def _cs_operator(design: Design, control_group: str) -> tuple[np.ndarray, Scores, None, str]:
    """Callaway-Sant'Anna simple aggregation (no covariates) and its clustered influence-function scores.

    ``att_k = sum_j c_jk (Y_j,t_k - Y_j,b_k)`` with ``c_jk = 1/n_G`` for the cohort and ``-1/n_C`` for its comparison
    units; the estimate is ``sum_k w_k att_k``. The influence function of unit i is
    ``Z_i = sum_k N w_k c_ik (dY_ik - mean of i's group in cell k) + d0[cohort(i)]`` with the estimated-weights term
    ``d0[c] = u_c / S - m_c A / S^2`` (R did's ``wif``), all linear in Y; ``se = ||cluster sums of Z|| / N``. Every
    coefficient depends on the unit only through its cohort, so the group means are cohort totals.
    """
    if control_group not in ("never_treated", "not_yet_treated"):
        raise _err(f"cs: control_group={control_group!r} is not recognised; use 'never_treated' or 'not_yet_treated'.")
    g = design.g
    N, T = design.panel.n_units, design.panel.n_periods
    gv = np.where(np.isfinite(g), g + 1, np.inf)  # cohorts numbered as periods 1..T, as evidence.staggered.cs does
    periods = np.arange(1, T + 1, dtype=float)
    groups_ = np.unique(gv[np.isfinite(gv)])
    T_keep = T
    if not np.isinf(gv).any():
        if control_group == "never_treated":
            raise _err("cs: control_group='never_treated' but no unit is untreated throughout the window; use 'not_yet_treated'.")
        latest = groups_[-1]
        T_keep = int((periods < latest).sum())
        if T_keep < 2:
            raise _err("cs: no never-treated units and fewer than two periods before the last cohort.")
        groups_ = groups_[groups_ < latest]
    if groups_.size == 0:
        raise _err("cs: no treated cohort with a pre-treatment period.")
    periods = periods[:T_keep]
    cvals = np.unique(gv)
    ccodes = np.asarray(np.searchsorted(cvals, gv))
    C = cvals.size
    n_c = np.bincount(ccodes, minlength=C).astype(float)
    never = np.isinf(cvals)
    t_idx, b_idx, gk = [], [], []
    for gg in groups_:
        pret = int(np.flatnonzero(periods < gg)[-1])
        for ti in range(T_keep):
            if periods[ti] >= gg:  # post-treatment cells: the only ones the simple aggregation uses
                t_idx.append(ti)
                b_idx.append(pret)
                gk.append(gg)
    if not t_idx:
        raise _err("cs: no post-treatment ATT(g,t) to aggregate.")
    t_idx, b_idx, gk = np.array(t_idx), np.array(b_idx), np.array(gk)
    K = t_idx.size
    tcode = np.searchsorted(cvals, gk)
    if control_group == "never_treated":
        ctrl = np.broadcast_to(never, (K, C)).copy()
    else:
        later = np.maximum(periods[t_idx], periods[b_idx])
        ctrl = never[None, :] | ((cvals[None, :] > later[:, None]) & (cvals[None, :] != gk[:, None]))
    n_G = n_c[tcode]
    n_C = ctrl.astype(float) @ n_c
    if (n_C == 0).any():
        k = int(np.flatnonzero(n_C == 0)[0])
        raise _err(f"cs: ATT(g,t) for cohort {int(gk[k])} at period {int(periods[t_idx[k]])} has no comparison units.")
    pg = n_G / N
    S_w = pg.sum()
    wk = pg / S_w
    A = np.zeros((T, K))  # dY_k = Y[:, t_k] - Y[:, b_k]
    A[t_idx, np.arange(K)] += 1.0
    A[b_idx, np.arange(K)] -= 1.0
    in_G = np.arange(C)[:, None] == tcode[None, :]  # C x K: cohort is the cell's cohort
    in_C = ctrl.T  # C x K: cohort is in the cell's comparison group
    cjk = in_G / n_G[None, :] - in_C / n_C[None, :]
    a = ((cjk * wk[None, :]) @ A.T)[ccodes]
    codes = design.cluster_codes
    G = int(codes.max()) + 1
    Cm = _cluster_matrix(codes, G)
    W = N * cjk * wk[None, :]  # C x K
    WA = (W @ A.T)[ccodes]  # N x T: sum_k W_ik A_tk
    n_gc = np.bincount(codes * C + ccodes, minlength=G * C).reshape(G, C).astype(float)  # units of each cohort in each cluster
    TG = n_gc[:, tcode] * W[tcode, np.arange(K)][None, :]
    TC = n_gc @ (in_C * W)
    m_c = np.bincount(tcode, minlength=C).astype(float)  # kept cells per cohort
    gamma = n_gc[:, tcode] / S_w - pg[None, :] * (n_gc @ m_c)[:, None] / S_w**2

    def scores(Y: np.ndarray) -> np.ndarray:
        dYc = _cohort_totals(Y, ccodes, C) @ A  # R x C x K: cohort totals of each cell's change
        mG = dYc[:, tcode, np.arange(K)]
        mC = np.einsum("rck,ck->rk", dYc, in_C.astype(float))
        S = _cluster_sums(np.einsum("rnt,nt->rn", Y, WA), Cm)
        S -= (mG / n_G) @ TG.T + (mC / n_C) @ TC.T
        S += (mG / n_G - mC / n_C) @ gamma.T
        return S / N

    return a.ravel(), scores, None, "influence functions" + (" clustered" if G < N else " (unit level)") + ", normal intervals"


def _imputation_operator(design: Design) -> tuple[np.ndarray, Scores, int, str]:
    """BJS imputation, overall (``simple``) estimand, and its conservative clustered scores.

    The estimate is ``sum v_it y_it`` (``v`` the implied weights). The variance sums over clusters of
    ``sum v (y - fit) - sum_treated v tbar``, where ``fit`` is the untreated-only two-way fit and ``tbar`` the
    v-weighted cohort x event-time means of the imputed effects. The score of cluster g is
    ``sum_it W_g,it e_it`` with ``e = y - fit`` on every cell (the imputed effects on treated cells) and ``W_g`` the
    cluster's weights minus the cell-mean terms: one sparse solve of the untreated fit per replicate.
    """
    from .staggered.imputation import _fe_system

    g = design.g
    N, T = design.panel.n_units, design.panel.n_periods
    t = np.arange(T)
    treated = np.isfinite(g)[:, None] & (t[None, :] >= g[:, None])
    untreated = ~treated
    if not treated.any():
        raise _err("imputation: no treated observation in the window.")
    bad = treated.any(axis=0) & ~untreated.any(axis=0)
    if bad.any():
        raise _err(f"imputation: in period {design.panel.period_labels[int(np.flatnonzero(bad)[0])]} every unit is treated, so its untreated outcome cannot be imputed.")
    Afe, _, _ = _fe_system(untreated)
    lu = splu(Afe)

    def fe_solve(W: np.ndarray) -> np.ndarray:
        """(Z0'Z0)^-1 Z'W for a stack of N x T weight arrays (last axis), as unit + period effects (period 0 = 0)."""
        rhs = np.concatenate([W.sum(axis=1), W.sum(axis=0)[1:]], axis=0)
        th = lu.solve(np.ascontiguousarray(rhs.reshape(rhs.shape[0], -1)))
        return th[:N][:, None] + np.concatenate([np.zeros((1, th.shape[1])), th[N:]])[None, :, :]

    w1 = treated / treated.sum()
    v = np.where(untreated, -fe_solve(w1[:, :, None])[:, :, 0], 0.0) + w1
    E = np.where(treated, t[None, :] - g[:, None], np.nan)
    cohort_of = np.where(np.isfinite(g), g, -1).astype(int)
    cell = cohort_of[:, None] * (T + 1) + np.nan_to_num(E, nan=-1).astype(int)
    _, cell_inv = np.unique(cell[treated], return_inverse=True)
    cell_inv = np.asarray(cell_inv).ravel()
    n_cells = int(cell_inv.max()) + 1
    vt = v[treated]
    den = np.bincount(cell_inv, vt, n_cells)
    p = np.divide(vt, den[cell_inv], out=np.zeros(vt.size), where=den[cell_inv] != 0)
    groups = design.cluster_codes
    G = int(groups.max()) + 1
    Cm = _cluster_matrix(groups, G)
    tr_i, tr_t = np.nonzero(treated)
    Vg = np.zeros((G, n_cells))  # v summed over each cluster's treated cells of each cohort x event-time cell
    np.add.at(Vg, (groups[tr_i], cell_inv), vt)
    Pcell = sp.csr_matrix((p, (np.arange(p.size), cell_inv)), shape=(p.size, n_cells))  # treated cell -> its cell, weight p
    U = untreated.astype(float)

    def scores(Y: np.ndarray) -> np.ndarray:
        R = Y.shape[0]
        Yu = Y * U[None]
        rhs = np.concatenate([Yu.sum(axis=2).T, Yu.sum(axis=1)[:, 1:].T], axis=0)  # Z0'y0 per replicate
        th = lu.solve(np.ascontiguousarray(rhs))
        per = np.concatenate([np.zeros((1, R)), th[N:]])
        e = Y - th[:N].T[:, :, None] - per.T[:, None, :]  # y - untreated fit, on every cell
        S = _cluster_sums(np.einsum("rnt,nt->rn", e, v), Cm)
        return S - np.asarray((Pcell.T @ e[:, tr_i, tr_t].T).T) @ Vg.T

    return v.ravel(), scores, G - 1, "BJS conservative variance, t(G-1)"


# ---------------------------------------------------------------------------------------------------------------
@dataclass
class LinearMethod:
    """One linear estimator: ``estimate = y a`` and ``se = ||scores(y)||`` (y: flattened units x periods)."""

    method: str
    a: np.ndarray
    scores: Scores
    """Cluster scores (R x G) of replicates' outcomes (R x units x periods), in O(R x units x periods)."""
    df: int | None
    inference: str
    shape: tuple[int, int] = (0, 0)

    def apply(self, Yf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and standard errors of replicates ``Yf`` (R x unit-periods, flattened)."""
        Yf = np.atleast_2d(Yf)
        S = self.scores(Yf.reshape(Yf.shape[0], *self.shape))
        return Yf @ self.a, np.sqrt(np.einsum("rg,rg->r", S, S))

    @property
    def B(self) -> np.ndarray:
        """The scores as a dense unit-periods x clusters matrix (``se = ||y B||``): for small designs and checks."""
        n = self.a.size
        if n * n > 50_000_000:
            raise _err(f"{self.method}: the dense score matrix of {n:,} unit-periods is too large; use scores().")
        return self.scores(np.eye(n).reshape(n, *self.shape))


class LinearEstimators:
    """The linear estimators of a design as fixed operators, built once and applied to any number of replicates.

    Parameters
    ----------
    design
        The design (units, periods, cohorts, clusters); outcomes are not read.
    methods
        Methods among ``twfe``, ``cs``, ``sun_abraham``, ``imputation``, ``did_2x2``. Methods that cannot run on
        the design (e.g. ``did_2x2`` without never-treated units) are skipped and listed in ``notes``.
    cs_control
        Callaway-Sant'Anna comparison group (default ``design.comparison``).
    sa_control
        Sun-Abraham control (default ``never_treated`` when the design has untreated units, else ``last_cohort``,
        as the workbook chooses).
    """

    def __init__(self, design: Design, methods: Sequence[str] = LINEAR_METHODS, *, cs_control: str | None = None, sa_control: str | None = None) -> None:
        self.design = design
        self.N, self.T = design.panel.n_units, design.panel.n_periods
        self.cs_control = cs_control or design.comparison
        self.sa_control = sa_control or ("never_treated" if (~design.treated).any() else "last_cohort")
        self.notes: list[str] = []
        self.methods: dict[str, LinearMethod] = {}
        builders = {
            "twfe": lambda: _twfe_operator(design),
            "did_2x2": lambda: _did2x2_operator(design),
            "cs": lambda: _cs_operator(design, self.cs_control),
            "sun_abraham": lambda: _sa_operator(design, self.sa_control),
            "imputation": lambda: _imputation_operator(design),
        }
        for m in methods:
            if m not in builders:
                raise _err(f"methods: {m!r} is not a linear method; choose from {', '.join(LINEAR_METHODS)}.")
            try:
                a, scores, df, inf = builders[m]()
            except EstimationError as exc:
                self.notes.append(f"{m} skipped: {exc}")
                continue
            self.methods[m] = LinearMethod(m, a, scores, df, inf, (self.N, self.T))

    def apply(self, Y: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Estimates and standard errors of every method for ``Y`` (reps x units x periods)."""
        Y = np.ascontiguousarray(Y, dtype=float)
        Yf = Y.reshape(Y.shape[0], -1)
        out = {}
        for m, lm in self.methods.items():
            S = lm.scores(Y)
            out[m] = (Yf @ lm.a, np.sqrt(np.einsum("rg,rg->r", S, S)))
        return out


def _as_batch(design: Design, Y: Any, name: str = "Y") -> np.ndarray:
    arr = np.asarray(Y, dtype=float)
    N, T = design.panel.n_units, design.panel.n_periods
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (N, T):
        raise _err(f"{name} has shape {np.shape(Y)}; give replicates x units x periods (R, {N}, {T}) for this design.")
    if not np.isfinite(arr).all():
        raise _err(f"{name} has missing or infinite values.")
    return arr


def _check_methods(methods: Any) -> list[str]:
    if isinstance(methods, str):
        methods = [methods]
    out = list(methods)
    if not out:
        raise _err("methods is empty; choose from " + ", ".join(ALL_METHODS) + ".")
    bad = [m for m in out if m not in ALL_METHODS]
    if bad:
        raise _err(f"methods: {bad[0]!r} is not recognised; choose from {', '.join(ALL_METHODS)}.")
    return list(dict.fromkeys(out))


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < float(alpha) < 1:
        raise _err(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05.")
    return float(alpha)


def _check_reps(reps: Any, where: str) -> int:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise _err(f"{where}: reps={reps!r} must be a whole number of replicates, at least 1.")
    return int(reps)


def _inference_arrays(est: np.ndarray, se: np.ndarray, df: int | None, alpha: float) -> dict[str, np.ndarray]:
    """Intervals, two-sided p-values and rejections (normal, or Student t with ``df`` degrees of freedom)."""
    if df is None:
        crit = float(special.ndtri(1 - alpha / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * special.ndtr(-np.abs(est / se))
    else:
        crit = float(special.stdtrit(df, 1 - alpha / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * special.stdtr(df, -np.abs(est / se))
    return {"estimate": est, "std_error": se, "ci_lower": est - crit * se, "ci_upper": est + crit * se, "p_value": p, "reject": p < alpha}


def _inference_frame(rep: np.ndarray, method: str, est: np.ndarray, se: np.ndarray, df: int | None, alpha: float) -> pd.DataFrame:
    return pd.DataFrame({"rep": rep, "method": method, **_inference_arrays(est, se, df, alpha)})


def _working_design(design: Design, name: str = "__synthetic__") -> Design:
    """A copy of the design whose panel carries one synthetic outcome column (values set per replicate)."""
    base = design.panel
    data = base.data.drop(columns=[c for c in base.outcomes if c in base.data.columns]).copy()
    data[name] = 0.0
    data.attrs["synthetic"] = True
    extras = {k: v for k, v in base.extras.items() if k != "mapping"}
    extras["synthetic"] = True
    panel = Panel(data, [name], {name: "continuous"}, base.frequency, list(base.covariates), "synthetic", {}, ["SYNTHETIC DATA"], dict(base.columns), extras)
    return Design(panel, design.cohorts, design.comparison, design.window, list(design.notes), design.treatment_source, dict(design.settings, synthetic=True))


def _sdid_loop(design: Design, Yr: np.ndarray, *, draws: int, seed: int, alpha: float, inference: str = "jackknife", rep0: int = 0) -> pd.DataFrame:
    """SDID on each replicate (weights re-estimated each time). Jackknife standard errors by default: they are as
    cheap as a point estimate (fixed weights) where every cohort has two or more treated units; otherwise placebo."""
    from .synth import sdid

    work = _working_design(design)
    rows = []
    for r in range(Yr.shape[0]):
        work.panel.data["__synthetic__"] = Yr[r].ravel()
        res = sdid(work, "__synthetic__", inference=inference, draws=draws, seed=seed + rep0 + r, alpha=alpha).tidy()
        row = res[(res["estimand"] == "att") & (res["group"] == "all")].iloc[0]
        rows.append((rep0 + r, float(row["estimate"]), float(row["std_error"])))
    rep, est, se = (np.array(v) for v in zip(*rows))  # noqa: B905
    return _inference_frame(rep.astype(int), "sdid", est, se, None, alpha)


def _poisson_batch(Y: np.ndarray, design: Design, tol: float = 1e-10, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson TWFE of a binary treatment (:class:`evidence.did.poisson.PoissonFit` with ``X = D``) on every
    replicate at once: log rate ratio, cluster-robust standard error, and which replicates it handled.

    Context: one Poisson fit per replicate cost 0.5 s on 3,000 units x 48 months (1,200 fits per power curve: ten
    minutes). Decision: in the concentrated likelihood (``PoissonFit``'s docstring) a unit's period probabilities
    depend on the unit only through its cohort (the period effects are common and the treatment is the cohort's),
    so Newton's method needs cohort totals only — O(cohorts x periods) per step, vectorised over replicates — and
    the unit-level data enter once, as the clusters' score sums at the optimum. Replicates with a period without
    counts or fewer than two units with counts (``PoissonFit`` then drops periods or fails) are left to the loop.
    Consequences: the estimates and standard errors of ``PoissonFit`` (tested to 1e-8), at the cost of a few
    passes over the replicates' counts.
    """
    R, N, T = Y.shape
    vals, coh = _cohort_codes(design.g)
    C = vals.size
    Dc = (np.arange(T)[None, :] >= vals[:, None]).astype(float)  # cohort x period treatment
    ni = Y.sum(axis=2)  # R x N
    ok = (Y.sum(axis=1) > 0).all(axis=1) & ((ni > 0).sum(axis=1) >= 2)
    est, se = np.full(R, np.nan), np.full(R, np.nan)
    if not ok.any():
        return est, se, ok
    Y, ni = Y[ok], ni[ok]
    Yc = _cohort_totals(Y, coh, C)  # R x C x T
    Nc = Yc.sum(axis=2)  # R x C
    tot = Yc.sum(axis=1)  # R x T
    r_ = Y.shape[0]
    P = T  # T - 1 period effects and the coefficient
    theta = np.zeros((r_, P))
    theta[:, : T - 1] = np.log(tot[:, 1:] / tot[:, :1])

    def probs(th: np.ndarray) -> np.ndarray:
        eta = np.concatenate([np.zeros((th.shape[0], 1)), th[:, : T - 1]], axis=1)[:, None, :] + th[:, T - 1][:, None, None] * Dc[None]
        eta -= eta.max(axis=2, keepdims=True)
        e = np.exp(eta)
        return e / e.sum(axis=2, keepdims=True)  # R x C x T

    def loglik(p: np.ndarray, Yc_: np.ndarray) -> np.ndarray:
        return (Yc_ * np.log(np.where(p > 0, p, 1e-300))).sum(axis=(1, 2))

    def hessian(p: np.ndarray, Nc_: np.ndarray) -> np.ndarray:
        pn = Nc_[:, :, None] * p
        A = pn.sum(axis=1)[:, :, None] * np.eye(T)[None] - pn.transpose(0, 2, 1) @ p
        xbar = (p * Dc[None]).sum(axis=2)  # R x C
        B = (pn * Dc[None]).sum(axis=1) - (pn * xbar[:, :, None]).sum(axis=1)
        Cc = (pn * Dc[None] ** 2).sum(axis=(1, 2)) - (Nc_ * xbar**2).sum(axis=1)
        H = np.empty((p.shape[0], P, P))
        H[:, : T - 1, : T - 1] = A[:, 1:, 1:]
        H[:, : T - 1, T - 1] = B[:, 1:]
        H[:, T - 1, : T - 1] = B[:, 1:]
        H[:, T - 1, T - 1] = Cc
        return H

    active = np.ones(r_, dtype=bool)
    ll_old = np.full(r_, -np.inf)
    for _ in range(max_iter):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        th, Yca, Nca = theta[a], Yc[a], Nc[a]
        p = probs(th)
        ll = loglik(p, Yca)
        resid = Yca - Nca[:, :, None] * p
        grad = np.concatenate([resid.sum(axis=1)[:, 1:], (resid * Dc[None]).sum(axis=(1, 2))[:, None]], axis=1)
        step = np.linalg.solve(hessian(p, Nca), grad[:, :, None])[:, :, 0]
        t_ = np.ones(a.size)
        while True:  # step-halving keeps each likelihood increasing
            cand = th + t_[:, None] * step
            bad = (loglik(probs(cand), Yca) < ll - 1e-12 * np.abs(ll)) & (t_ > 1e-6)
            if not bad.any():
                break
            t_ = np.where(bad, t_ / 2, t_)
        theta[a] = cand
        done = (np.abs(t_[:, None] * step).max(axis=1) < tol) | (np.abs(ll - ll_old[a]) < tol * (1 + np.abs(ll)))
        ll_old[a] = ll
        active[a[done]] = False
    conv = ~active  # replicates that did not converge are left to the loop, which says so
    p = probs(theta)
    bread = np.linalg.inv(hessian(p, Nc))
    groups = design.cluster_codes
    G = int(groups.max()) + 1
    Cm = _cluster_matrix(groups, G)
    # cluster sums of the unit scores [r_i (periods 1..T-1), sum_t r_it D_it] at the optimum, r_it = y_it - n_i p_c(i),t
    yg = Y if Cm is None else np.asarray(Cm.T @ Y.transpose(1, 0, 2).reshape(N, -1)).reshape(G, r_, T).transpose(1, 0, 2)  # R x G x T
    n_gc = np.stack([_cluster_sums(ni * (coh == c)[None, :], Cm) for c in range(C)], axis=2)  # R x G x C
    scores = np.empty((r_, G, T))
    scores[:, :, : T - 1] = (yg - n_gc @ p)[:, :, 1:]
    scores[:, :, T - 1] = _cluster_sums((Y * Dc[coh][None]).sum(axis=2), Cm) - (n_gc @ (p * Dc[None]).sum(axis=2)[:, :, None])[:, :, 0]
    G_used = (yg.sum(axis=2) > 0).sum(axis=1)  # clusters with a positive count
    n_obs = (ni > 0).sum(axis=1) * T
    V = (G_used / (G_used - 1) * (n_obs - 1) / n_obs)[:, None, None] * (bread @ (scores.transpose(0, 2, 1) @ scores) @ bread)
    idx = np.flatnonzero(ok)
    est[idx[conv]] = theta[conv, T - 1]
    se[idx[conv]] = np.sqrt(V[conv, T - 1, T - 1])
    ok[idx[~conv]] = False
    return est, se, ok


def _poisson_loop(design: Design, Y: np.ndarray, alpha: float, rep0: int = 0) -> pd.DataFrame:
    """Poisson TWFE (:func:`evidence.did.poisson_twfe`'s fit) on each replicate's counts (levels): the log rate
    ratio and its cluster-robust standard error, t with G - 1 df. A replicate whose fit fails (for example no
    positive count in a period) is a missing estimate, counted in the notes. Replicates are fitted together
    (:func:`_poisson_batch`); those it cannot take are fitted one by one."""
    from .did.poisson import PoissonFit

    D = design.treatment_matrix()[:, :, None]
    groups = design.cluster_codes
    est, se, done = _poisson_batch(Y, design)
    for r in np.flatnonzero(~done):
        try:
            fit = PoissonFit(Y[r], D, groups, ["treated"], what="Poisson TWFE")
        except EstimationError:
            continue
        est[r], se[r] = fit.coef[0], np.sqrt(fit.cov[0, 0])
    G = int(groups.max()) + 1
    return _inference_frame(rep0 + np.arange(Y.shape[0]), "poisson_twfe", est, se, G - 1, alpha)


def replicate_estimates(
    design: Design,
    Y: np.ndarray,
    methods: Sequence[str] = DEFAULT_METHODS,
    alpha: float = 0.05,
    *,
    log: bool = False,
    cs_control: str | None = None,
    sa_control: str | None = None,
    sdid_draws: int = 20,
    seed: int = 0,
    estimators: LinearEstimators | None = None,
    rep0: int = 0,
) -> pd.DataFrame:
    """Estimates of every method on every replicate (vectorised for the linear methods) — SYNTHETIC DATA.

    Parameters
    ----------
    design
        The design the outcomes belong to.
    Y
        ``reps x units x periods`` outcomes (a single ``units x periods`` panel is one replicate), units in
        ``design.panel.units`` order.
    methods
        Any of ``twfe``, ``cs``, ``sun_abraham``, ``imputation``, ``did_2x2``, ``sdid`` and ``poisson_twfe`` (on the
        counts themselves, a log rate ratio; :func:`power_curve` and :func:`validate_methods` add it by default for
        count outcomes with zeros). A method that cannot
        run on the design is skipped with a warning (listed in ``attrs["notes"]``); ``sdid`` is skipped when
        :mod:`evidence.synth` cannot be imported.
    alpha
        1 - confidence level; ``reject`` is ``p_value < alpha``.
    log
        Analyse log outcomes (all values must be positive).
    cs_control, sa_control
        Comparison groups of Callaway-Sant'Anna and Sun-Abraham (defaults as :class:`LinearEstimators`).
    sdid_draws, seed
        Placebo draws and seed of the per-replicate SDID loop (replicate r uses ``seed + r``).
    estimators
        Pre-built :class:`LinearEstimators` for the design (built when ``None``).
    rep0
        Number of the first replicate of ``Y`` (when replicates come in blocks): the ``rep`` column and SDID's
        seeds continue from it.

    Returns
    -------
    pandas.DataFrame
        Columns ``rep, method, estimate, std_error, ci_lower, ci_upper, p_value, reject``;
        ``attrs["synthetic"] = True`` and ``attrs["notes"]``.
    """
    methods = _check_methods(methods)
    alpha = _check_alpha(alpha)
    Yb = _as_batch(design, Y)
    Y_levels = Yb
    if log:
        if (Yb <= 0).any():
            raise _err("the outcome has zero or negative values, so it cannot be logged; set methods.did.log_outcomes: false.")
        Yb = np.log(Yb)
    lin = [m for m in methods if m in LINEAR_METHODS]
    notes: list[str] = []
    if estimators is None:
        estimators = LinearEstimators(design, lin, cs_control=cs_control, sa_control=sa_control)
    elif estimators.design is not design:
        raise _err("estimators were built for another design; build LinearEstimators(design) for this one.")
    notes += [n for n in estimators.notes if n.split(" ")[0] in lin]
    missing = [m for m in lin if m not in estimators.methods and not any(n.startswith(m + " ") for n in notes)]
    if missing:
        raise _err(f"estimators do not include {missing[0]}; build LinearEstimators with every method you ask for.")
    res = estimators.apply(Yb) if lin else {}
    R = Yb.shape[0]
    run = [m for m in lin if m in res]
    frames = []
    if run:
        parts = [_inference_arrays(*res[m], estimators.methods[m].df, alpha) for m in run]
        cols = {k: np.concatenate([p_[k] for p_ in parts]) for k in parts[0]}
        frames.append(pd.DataFrame({"rep": np.tile(rep0 + np.arange(R), len(run)), "method": np.repeat(run, R), **cols}))
    if "sdid" in methods:
        if not sdid_available():
            notes.append("sdid skipped: evidence.synth.sdid is not importable in this installation.")
        elif not (~design.treated).any():
            notes.append("sdid skipped: SDID needs units untreated throughout the window.")
        else:
            sizes = pd.Series(design.g[np.isfinite(design.g)]).value_counts()
            frames.append(_sdid_loop(design, Yb, draws=int(sdid_draws), seed=int(seed), alpha=alpha, inference="jackknife" if len(sizes) and sizes.min() >= 2 else "placebo", rep0=rep0))
    if "poisson_twfe" in methods:
        if (Y_levels < 0).any():
            notes.append("poisson_twfe skipped: the outcome has negative values; Poisson models need counts.")
        else:
            frames.append(_poisson_loop(design, Y_levels, alpha, rep0=rep0))
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=2)
    if not frames:
        raise _err("no method could run on this design: " + " ".join(notes))
    out = pd.concat(frames, ignore_index=True)[REPLICATE_COLUMNS]
    out.attrs["synthetic"] = True
    out.attrs["notes"] = notes
    return out


SIMULATION_CELLS = 75_000_000
"""Most replicates x unit-periods one simulation (a power curve's effect size, or a validation) draws; see
:func:`sized_reps`."""
MIN_REPS = 20


def sized_reps(reps: int, design: Design, parameter: str = "power.reps") -> tuple[int, str]:
    """The replicates a simulation on ``design`` runs, and a note when they are fewer than ``reps``.

    Context: every replicate is a whole simulated panel through every estimator: for 30,000 small areas x 48 months
    (1.44 million unit-periods) 200 replicates of 6 effect sizes are 1.7 billion simulated counts and a quarter of
    an hour, while the Monte Carlo error of a power estimate (at most 0.5 / sqrt(replicates)) does not depend on the
    panel's size. Decision: replicates x unit-periods is kept within ``SIMULATION_CELLS`` (75 million: 200
    replicates up to 375,000 unit-periods, about 7,800 areas x 48 months), never below ``MIN_REPS``, and the
    reduction is stated with the parameter. Consequences: time linear in the panel up to the cap and flat beyond;
    large panels' power curves have wider Monte Carlo intervals (reported with each power estimate); the default
    design (2,000 unit-periods) is unchanged.
    """
    cells = design.panel.n_units * design.panel.n_periods
    cap = max(MIN_REPS, SIMULATION_CELLS // max(cells, 1))
    if reps <= cap:
        return reps, ""
    return cap, (f"{cap} simulated panels instead of {reps} ({parameter}): {reps} x {cells:,} unit-periods exceed the simulation budget of "
                 f"{SIMULATION_CELLS:,} replicate unit-periods, so the replicates were sized to the panel (the Monte Carlo error of each power or coverage estimate is at most {0.5 / math.sqrt(cap):.2f}).")


SDID_MAX_UNITS = 2_000
"""Most units of the design on which :func:`validate_methods` validates SDID alone; see :func:`_sdid_subsample`."""


def _sdid_subsample(design: Design, seed: int) -> tuple[Design, str]:
    """A random subsample of ``SDID_MAX_UNITS`` units of ``design`` (treated and comparison units in their shares,
    every cohort kept), on which SDID is validated, and the sentence that says so.

    Context: SDID re-fits its unit weights on every replicate, and the fit grows with the square of the donors
    (18,000 units of a 30,000-area cohort design: two minutes and 5 GB per replicate), so 25 replicates would take
    most of an hour. Decision: on larger designs SDID's bias and coverage are estimated on a random subsample of
    ``SDID_MAX_UNITS`` units that keeps each cohort's share (seeded, stated with the numbers and the parameter).
    Consequences: the validation says how SDID behaves on a design of this shape and a tenth of the size; its
    intervals are, if anything, wider than the full design's.
    """
    rng = np.random.default_rng(seed)
    g = np.where(np.isfinite(design.g), design.g, -1.0)
    N = design.panel.n_units
    keep = []
    for v in np.unique(g):  # each cohort (and the comparison units) in its share, at least two units
        idx = np.flatnonzero(g == v)
        k = max(2, int(round(SDID_MAX_UNITS * idx.size / N)))
        keep.append(rng.choice(idx, size=min(k, idx.size), replace=False))
    kept = np.sort(np.concatenate(keep))
    drop = np.setdiff1d(np.arange(N), kept)
    sub = design.without_units(design.panel.units[drop], "not in the SDID validation's subsample")
    return sub, (f"SDID validated on a random subsample of {kept.size:,} of the design's {N:,} units (each cohort and the comparison units in their shares, seed {seed}): "
                 f"its weights are re-fitted on every replicate at a cost that grows with the square of the donors (parameter: power.sdid_reps).")


def _by_method(blocks: list[pd.DataFrame]) -> pd.DataFrame:
    """Replicate estimates of blocks of replicates in the order of one call on every replicate (method, then rep)."""
    if len(blocks) == 1:
        return blocks[0]
    out = pd.concat(blocks, ignore_index=True)
    order = {m: k for k, m in enumerate(dict.fromkeys(out["method"]))}
    return out.iloc[np.lexsort((out["rep"].to_numpy(), out["method"].map(order).to_numpy()))].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
def _fmt_effect(v: float) -> str:
    return f"{v:.4g}"


def _effect_distance(values: np.ndarray, family: str) -> np.ndarray:
    return np.abs(np.log(values)) if family == "count" else np.abs(values)


def _mde(effects: np.ndarray, power: np.ndarray, family: str, target: float) -> float:
    """Smallest effect reaching ``target`` power, by linear interpolation in distance from the null."""
    d = _effect_distance(effects, family)
    order = np.argsort(d, kind="stable")
    d, p, e = d[order], power[order], effects[order]
    hit = np.flatnonzero(p >= target)
    if hit.size == 0:
        return float("nan")
    j = int(hit[0])
    if j == 0:
        dstar = d[0]
    else:
        dstar = d[j - 1] + (target - p[j - 1]) * (d[j] - d[j - 1]) / (p[j] - p[j - 1]) if p[j] != p[j - 1] else d[j]
    nonnull = e[d > 0]
    sign = np.sign(np.log(nonnull[np.argmax(np.abs(np.log(nonnull)))]) if family == "count" else nonnull[np.argmax(np.abs(nonnull))]) if nonnull.size else 1.0
    return float(np.exp(sign * dstar)) if family == "count" else float(sign * dstar)


def _default_effects(family: str, calibration: Calibration | None, scale: float) -> list[float]:
    if family == "count":
        return [1.0, 0.99, 0.98, 0.97, 0.95, 0.90]
    if family == "proportion":
        return [float(v * scale) for v in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05)]
    sd = 1.0 if calibration is None else math.sqrt(calibration.noise_sd**2 + calibration.iid_sd**2)
    return [float(f"{v * sd:.2g}") for v in (0.0, 0.25, 0.5, 1.0, 1.5, 2.5)]


@dataclass
class PowerResult:
    """Power of each method to detect each true effect — from SYNTHETIC DATA.

    Attributes
    ----------
    outcome, outcome_label
        The outcome and the analysed label (``attendances_log`` when logs were analysed).
    family, scale
        Simulation family and scale; effects are rate ratios for counts, additive otherwise.
    effects
        True effects simulated (the null first when included).
    estimates
        Every replicate estimate (``effect`` column added to :func:`replicate_estimates`' columns).
    reps, alpha, seed, methods, calibration, notes
        Settings and what happened.
    """

    outcome: str
    outcome_label: str
    family: str
    scale: float
    effects: list[float]
    estimates: pd.DataFrame
    reps: int
    alpha: float
    seed: int
    methods: list[str]
    n_obs: int
    n_units: int
    n_clusters: int
    calibration: Calibration | None = None
    notes: list[str] = field(default_factory=list)
    target: float = 0.8
    synthetic: bool = True

    @property
    def effect_scale(self) -> str:
        return "rate ratio" if self.family == "count" else "additive (outcome units)"

    def table(self) -> pd.DataFrame:
        """Power by method (rows) and effect (columns, labelled by the effect)."""
        df = self.estimates.groupby(["method", "effect"], sort=False)["reject"].mean().unstack("effect")
        df = df.reindex(index=[m for m in self.methods if m in df.index], columns=self.effects)
        df.columns = [_fmt_effect(e) for e in df.columns]
        df.columns.name = f"effect ({self.effect_scale})"
        df.attrs["synthetic"] = True
        return df

    def mde(self, power: float | None = None) -> pd.Series:
        """Minimum detectable effect per method at ``power`` (default 0.8), interpolated between simulated effects.

        In effect units (a rate ratio for counts); NaN when no simulated effect reaches that power.
        """
        target = self.target if power is None else float(power)
        tab = self.estimates.groupby(["method", "effect"], sort=False)["reject"].mean()
        out = {}
        for m in self.methods:
            if m not in tab.index.get_level_values(0):
                continue
            s = tab.loc[m].reindex(self.effects)
            out[m] = _mde(np.asarray(self.effects, float), s.to_numpy(float), self.family, target)
        ser = pd.Series(out, name=f"mde_{int(round(100 * target))}", dtype=float)
        ser.attrs["synthetic"] = True
        return ser

    def tidy(self) -> pd.DataFrame:
        """Contract rows: ``estimand="power"`` (``group`` = effect label, ``std_error`` = Monte Carlo SE) and
        ``estimand="mde_80"`` (``estimate`` = minimum detectable effect at 80% power, in effect units)."""
        tab = self.estimates.groupby(["method", "effect"], sort=False)["reject"].agg(["mean", "count"]).reset_index()
        rows = []
        for r in tab.itertuples():
            se = math.sqrt(r.mean * (1 - r.mean) / r.count)
            rows.append({"method": r.method, "estimand": "power", "group": _fmt_effect(r.effect), "estimate": r.mean, "std_error": se,
                         "ci_lower": max(r.mean - 1.96 * se, 0.0), "ci_upper": min(r.mean + 1.96 * se, 1.0)})
        for m, v in self.mde(self.target).items():
            rows.append({"method": m, "estimand": f"mde_{int(round(100 * self.target))}", "estimate": v})
        df = tidy_frame(pd.DataFrame(rows).assign(outcome=self.outcome_label, n_obs=self.n_obs, n_units=self.n_units, n_clusters=self.n_clusters))
        df.attrs["synthetic"] = True
        return df

    def summary(self) -> str:
        tab = self.table().to_string(float_format=lambda v: f"{v:.3f}")
        mde = self.mde().to_string(float_format=lambda v: f"{v:.4g}")
        return (f"SYNTHETIC DATA — power for {self.outcome_label} ({self.reps} replicates per effect, alpha {self.alpha}, seed {self.seed}); "
                f"effects: {self.effect_scale}\n{tab}\n\nMinimum detectable effect at {self.target:.0%} power:\n{mde}" + ("\n" + "\n".join(self.notes) if self.notes else ""))

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, ax: Any = None) -> Any:
        """Power against effect size per method, with 80% power and alpha marked; stamped SYNTHETIC DATA."""
        from .plots import PALETTE, _ax, _synthetic_mark

        ax = _ax(ax)
        tab = self.estimates.groupby(["method", "effect"], sort=False)["reject"].mean()
        for j, m in enumerate(self.methods):
            if m not in tab.index.get_level_values(0):
                continue
            s = tab.loc[m].reindex(self.effects)
            x = np.asarray(self.effects, float)
            order = np.argsort(_effect_distance(x, self.family))
            ax.plot(x[order], s.to_numpy()[order], marker="o", ms=3, lw=1.4, color=PALETTE[j % len(PALETTE)], label=m)
        ax.axhline(self.target, color="#425563", ls="--", lw=1)
        ax.axhline(self.alpha, color="#425563", ls=":", lw=1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"true effect ({self.effect_scale})")
        ax.set_ylabel("power (share rejecting no effect)")
        ax.set_title(f"Power: {self.outcome_label} ({self.reps} replicates)", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        _synthetic_mark(ax, True)
        return ax


@dataclass
class ValidationResult:
    """Bias, RMSE and coverage of each method against the known true ATT — from SYNTHETIC DATA.

    Attributes
    ----------
    estimates
        Replicate estimates with the true ATT of the replicate (``truth``) and whether the interval covered it.
    truth_scale
        ``level`` or ``log`` (log rate ratio, when logs of counts were analysed).
    """

    outcome: str
    outcome_label: str
    family: str
    estimates: pd.DataFrame
    truth_scale: str
    effect: str
    reps: int
    alpha: float
    seed: int
    methods: list[str]
    n_obs: int
    n_units: int
    n_clusters: int
    true_att: float
    true_att_cohort_weighted: float
    notes: list[str] = field(default_factory=list)
    synthetic: bool = True

    def table(self) -> pd.DataFrame:
        """Per method: mean estimate, true ATT, bias (and its Monte Carlo SE), relative bias, bias against the
        method's own target (``did_2x2``: cohorts weighted by units; the others: the ATT), RMSE, sd of the estimates,
        mean SE, SE ratio (mean SE / sd) and coverage of the (1 - alpha) intervals (of the ATT)."""
        rows = []
        for m in self.methods:
            d = self.estimates[self.estimates["method"] == m]
            if d.empty:
                continue
            err = d["estimate"] - d["truth"]
            sd = float(d["estimate"].std(ddof=1)) if len(d) > 1 else float("nan")
            rows.append({
                "method": m, "mean_estimate": float(d["estimate"].mean()), "truth": float(d["truth"].mean()), "bias": float(err.mean()),
                "bias_mc_se": float(err.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan"),
                "relative_bias": float(err.mean() / d["truth"].mean()) if d["truth"].mean() != 0 else float("nan"),
                "bias_own_target": float((d["estimate"] - d["truth_own"]).mean()),
                "rmse": float(np.sqrt((err**2).mean())), "sd_estimate": sd, "mean_se": float(d["std_error"].mean()),
                "se_ratio": float(d["std_error"].mean() / sd) if sd and np.isfinite(sd) else float("nan"), "coverage": float(d["covered"].mean()),
            })
        df = pd.DataFrame(rows).set_index("method")
        df.attrs["synthetic"] = True
        return df

    def tidy(self) -> pd.DataFrame:
        """Contract rows per method: ``bias`` (std_error = Monte Carlo SE), ``rmse`` and ``coverage`` (std_error =
        binomial Monte Carlo SE)."""
        tab = self.table()
        rows = []
        for m, r in tab.iterrows():
            rows.append({"method": m, "estimand": "bias", "estimate": r["bias"], "std_error": r["bias_mc_se"]})
            rows.append({"method": m, "estimand": "rmse", "estimate": r["rmse"]})
            rows.append({"method": m, "estimand": "coverage", "estimate": r["coverage"], "std_error": math.sqrt(r["coverage"] * (1 - r["coverage"]) / self.reps)})
        df = tidy_frame(pd.DataFrame(rows).assign(outcome=self.outcome_label, group="all", n_obs=self.n_obs, n_units=self.n_units, n_clusters=self.n_clusters))
        df.attrs["synthetic"] = True
        return df

    def summary(self) -> str:
        tab = self.table()[["mean_estimate", "truth", "bias", "bias_mc_se", "rmse", "se_ratio", "coverage"]].to_string(float_format=lambda v: f"{v:.4g}")
        return f"SYNTHETIC DATA — method validation for {self.outcome_label}, true effect {self.effect} ({self.reps} replicates, seed {self.seed})\n{tab}"

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, ax: Any = None) -> Any:
        """Replicate estimates per method (box plots) against the mean true ATT; stamped SYNTHETIC DATA."""
        from .plots import PALETTE, _ax, _synthetic_mark

        ax = _ax(ax)
        ms = [m for m in self.methods if (self.estimates["method"] == m).any()]
        data = [(self.estimates.loc[self.estimates["method"] == m, "estimate"] - 0).to_numpy() for m in ms]
        bp = ax.boxplot(data, orientation="horizontal", patch_artist=True, widths=0.5)
        ax.set_yticks(range(1, len(ms) + 1), ms)
        for j, patch in enumerate(bp["boxes"]):
            patch.set_facecolor(PALETTE[j % len(PALETTE)])
            patch.set_alpha(0.4)
        ax.axvline(self.true_att, color="#000000", lw=1.5, label="true ATT (mean)")
        ax.set_xlabel(f"estimate ({'log points' if self.truth_scale == 'log' else 'outcome units'})")
        ax.set_title(f"Method validation: {self.outcome_label}, {self.reps} replicates", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        _synthetic_mark(ax, True)
        return ax


# ---------------------------------------------------------------------------------------------------------------
def _count_model(design: Design, outcome: str, family: str, methods: Sequence[str]) -> Sequence[str]:
    """The default methods, plus the Poisson TWFE for a count outcome with zeros (where the workbook analyses it:
    logs are not applicable there, ``methods.did.count_model``); methods given explicitly are kept as they are."""
    if methods is not DEFAULT_METHODS or family != "count" or outcome not in design.panel.outcomes:
        return methods
    vals = design.panel.data[outcome].to_numpy(dtype=float)
    return (*methods, "poisson_twfe") if bool((vals[np.isfinite(vals)] <= 0).any()) else methods


def _setup(design: Design, outcome: str, calibration: Calibration | None, log: bool | None, where: str) -> tuple[Calibration | None, str, float, bool]:
    if not isinstance(design, Design):
        raise _err(f"{where}: design must be an evidence Design (got {type(design).__name__}).")
    if calibration is None:
        if outcome in design.panel.outcomes:
            calibration = calibrate(design, outcome)
        else:
            raise _err(f"{where}: outcome={outcome!r} is not in the design's panel, so there is nothing to calibrate on; pass calibration= (from calibrate on a real panel) or use an outcome of the panel ({', '.join(design.panel.outcomes) or 'none'}).")
    elif calibration.outcome != outcome:
        raise _err(f"{where}: calibration is for {calibration.outcome!r}, not outcome={outcome!r}.")
    family, scale = calibration.family, calibration.scale
    if log is None:
        # counts in logs, as the workbook analyses them — unless the real outcome has zeros (then levels, as there)
        has_zeros = outcome in design.panel.outcomes and bool((design.panel.data[outcome].to_numpy(dtype=float) <= 0).any())
        log = family == "count" and not has_zeros
    if log and family != "count":
        raise _err(f"{where}: log=True is for count outcomes; {outcome} is a {calibration.kind} outcome.")
    return calibration, family, scale, bool(log)


@balanced_only("the power simulation")
def power_curve(
    design: Design,
    outcome: str,
    effects: Sequence[float] | None = None,
    reps: int = 200,
    methods: Sequence[str] = DEFAULT_METHODS,
    seed: int = 0,
    calibration: Calibration | None = None,
    *,
    alpha: float = 0.05,
    log: bool | None = None,
    ramp: int = 0,
    target: float = 0.8,
    cs_control: str | None = None,
    sa_control: str | None = None,
    sdid_draws: int = 20,
    estimators: LinearEstimators | None = None,
    **simulate_options: Any,
) -> PowerResult:
    """Power to detect each true effect on the actual design, with noise calibrated on its real pre-period.

    For each effect, ``reps`` panels are simulated (:func:`evidence.synthetic.simulate`) with the same seed, so the
    effects share their random draws (common random numbers: smooth curves), and every method is applied to every
    replicate; power is the share of replicates whose (1 - alpha) interval excludes zero.

    Parameters
    ----------
    design
        The analysis design (e.g. the real default design).
    outcome
        Outcome column (calibrated on the design's panel unless ``calibration`` is given).
    effects
        True effects: rate ratios for counts (default 1, 0.99, 0.98, 0.97, 0.95, 0.90), additive otherwise
        (proportions: 0 to 5 points of ``scale``; continuous: multiples of the noise sd).
    reps
        Replicates per effect.
    methods
        As :func:`replicate_estimates`.
    seed
        Seed of the simulation (and of SDID's placebo draws).
    calibration
        From :func:`evidence.synthetic.calibrate` (computed when ``None``).
    alpha
        Test level.
    log
        Analyse log outcomes (default: yes for counts, as the workbook does; effects then read in log points).
    ramp
        Periods over which each effect phases in (0 = immediate, constant effect).
    target
        Power at which the minimum detectable effect is read (default 0.8).
    cs_control, sa_control, sdid_draws, estimators
        As :func:`replicate_estimates`.
    **simulate_options
        Overrides of the simulation parameters (e.g. ``noise_sd=0.05``, ``covid_shock=False``).

    Returns
    -------
    PowerResult
    """
    calibration, family, scale, log = _setup(design, outcome, calibration, log, "power_curve")
    reps, size_note = sized_reps(_check_reps(reps, "power_curve"), design, "power.reps")
    methods = _check_methods(_count_model(design, outcome, family, methods))
    alpha = _check_alpha(alpha)
    if not 0 < float(target) < 1:
        raise _err(f"power_curve: target={target!r} must be a power between 0 and 1, e.g. 0.8.")
    effects = list(_default_effects(family, calibration, scale) if effects is None else effects)
    if not effects:
        raise _err("power_curve: effects is empty; give at least one effect size.")
    for e in effects:
        if isinstance(e, bool) or not isinstance(e, (int, float, np.integer, np.floating)) or not np.isfinite(e):
            raise _err(f"power_curve: effect {e!r} must be a number ({'a rate ratio' if family == 'count' else 'additive, in outcome units'}).")
        if family == "count" and e <= 0:
            raise _err(f"power_curve: effect {e!r} is a rate ratio for a count outcome and must be positive (1 = no effect).")
    effects = [float(e) for e in effects]
    lin = [m for m in methods if m in LINEAR_METHODS]
    if estimators is None and lin:
        estimators = LinearEstimators(design, lin, cs_control=cs_control, sa_control=sa_control)
    latent = simulate(design, calibration=calibration, seed=seed, reps=reps, _latent_only=True, **simulate_options)
    # blocks of replicates, every effect on the same draws as simulate(..., effect=e, seed=seed) (memory: one block)
    parts: list[list[pd.DataFrame]] = [[] for _ in effects]
    est_notes: list[list[str]] = [[] for _ in effects]
    for r0, block in latent.stream([EffectSpec(e, ramp=ramp) if ramp else e for e in effects], truth=False):
        for j, (e, sims) in enumerate(zip(effects, block)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                est = replicate_estimates(design, sims.Y, methods, alpha, log=log, cs_control=cs_control, sa_control=sa_control, sdid_draws=sdid_draws, seed=seed, estimators=estimators if lin else None, rep0=r0)
            est_notes[j] += est.attrs.get("notes", [])
            parts[j].append(est.assign(effect=e))
    notes: list[str] = ([size_note] if size_note else []) + list(latent.notes)
    frames = []
    for j in range(len(effects)):
        notes = list(dict.fromkeys(notes + est_notes[j]))
        frames.append(_by_method(parts[j]))
    clipped = [_fmt_effect(e) for e, en in zip(effects, latent.effect_notes) if len(en) > len(latent.notes)]
    if clipped:
        notes.append(f"Treated values were clipped at the bounds of the outcome for effects {', '.join(clipped)} (the truth uses the clipped values).")
    est_all = pd.concat(frames, ignore_index=True)
    est_all.attrs["synthetic"] = True
    G = int(design.cluster_codes.max()) + 1
    label = f"{outcome}_log" if log else outcome
    res = PowerResult(outcome=outcome, outcome_label=label, family=family, scale=scale, effects=effects, estimates=est_all, reps=reps, alpha=alpha, seed=seed,
                      methods=[m for m in methods if (est_all["method"] == m).any()], n_obs=design.panel.n_units * design.panel.n_periods,
                      n_units=design.panel.n_units, n_clusters=G, calibration=calibration, notes=notes, target=float(target))
    for m, v in res.mde().items():
        if not np.isfinite(v):
            res.notes.append(f"{m}: no simulated effect reaches {target:.0%} power; the MDE is beyond the largest effect tried.")
    return res


@balanced_only("the simulation validation")
def validate_methods(
    design: Design,
    outcome: str,
    effect: Any = None,
    reps: int = 200,
    seed: int = 0,
    methods: Sequence[str] = DEFAULT_METHODS,
    calibration: Calibration | None = None,
    *,
    alpha: float = 0.05,
    log: bool | None = None,
    cs_control: str | None = None,
    sa_control: str | None = None,
    sdid_draws: int = 20,
    **simulate_options: Any,
) -> ValidationResult:
    """Bias, RMSE and coverage of each method against the known true ATT, under a heterogeneous, dynamic effect.

    The true ATT of each replicate is the mean effect over its treated unit-periods (in log points — the mean log
    rate ratio — when logs of counts are analysed). ``did_2x2``'s overall row weights cohorts by units rather than
    unit-periods, so under heterogeneous effects part of its "bias" is a different estimand
    (``true_att_cohort_weighted`` gives its own target).

    Parameters
    ----------
    effect
        Any effect :func:`evidence.synthetic.simulate` accepts; default
        :func:`evidence.synthetic.heterogeneous_dynamic` for the outcome's family (for continuous outcomes scaled
        to the calibrated noise sd).
    Other parameters
        As :func:`power_curve`.

    Returns
    -------
    ValidationResult
    """
    calibration, family, scale, log = _setup(design, outcome, calibration, log, "validate_methods")
    sdid_only = not isinstance(methods, str) and list(methods) == ["sdid"]
    if sdid_only and design.panel.n_units > SDID_MAX_UNITS:
        design, sub_note = _sdid_subsample(design, int(seed))
    else:
        sub_note = ""
    reps, size_note = sized_reps(_check_reps(reps, "validate_methods"), design, "power.sdid_reps" if sdid_only else "power.validation_reps")
    size_note = " ".join(n for n in (sub_note, size_note) if n)
    methods = _check_methods(_count_model(design, outcome, family, methods))
    alpha = _check_alpha(alpha)
    if effect is None:
        if family == "continuous":
            sd = math.sqrt(calibration.noise_sd**2 + calibration.iid_sd**2)
            effect = heterogeneous_dynamic(family, sizes=[2 * sd, 0.5 * sd])
        else:
            effect = heterogeneous_dynamic(family, scale=scale)
    if effect is not None:
        effect_cells(effect, design, family)  # a bad effect fails before anything is drawn
    latent = simulate(design, calibration=calibration, seed=seed, reps=reps, _latent_only=True, **simulate_options)
    truth_scale = "log" if log else "level"
    lin = [m for m in methods if m in LINEAR_METHODS]
    estimators = LinearEstimators(design, lin, cs_control=cs_control, sa_control=sa_control) if lin else None
    parts, truths, logs, owns, est_notes = [], [], [], [], []
    # blocks of replicates, the same draws as simulate(..., effect=effect, seed=seed) (memory: one block)
    for r0, (sims,) in latent.stream([effect]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            part = replicate_estimates(design, sims.Y, methods, alpha, log=log, cs_control=cs_control, sa_control=sa_control, sdid_draws=sdid_draws, seed=seed, estimators=estimators, rep0=r0)
        est_notes += part.attrs.get("notes", [])
        parts.append(part)
        truths.append(sims.truth.att(truth_scale))
        owns.append(sims.truth.att_cohort_weighted(truth_scale))
        logs.append(sims.truth.att("log") if family == "count" else truths[-1])
    sims_notes, effect_text = latent.effect_notes[0], sims.params["effect"]
    est = _by_method(parts)
    est.attrs["notes"] = list(dict.fromkeys(est_notes))
    truth, own = np.concatenate(truths), np.concatenate(owns)
    est["truth"] = truth[est["rep"].to_numpy()]
    if family == "count" and (est["method"] == "poisson_twfe").any():
        # the Poisson model's coefficient is a log rate ratio: its truth is the mean log rate ratio of the
        # treated unit-periods, whatever scale the linear methods analyse
        pois = (est["method"] == "poisson_twfe").to_numpy()
        est.loc[pois, "truth"] = np.concatenate(logs)[est.loc[pois, "rep"].to_numpy()]
    # each method's own target: the 2x2's overall row weights cohorts by units; the others target the unit-period ATT
    est["truth_own"] = np.where(est["method"] == "did_2x2", own[est["rep"].to_numpy()], est["truth"])
    est["covered"] = (est["ci_lower"] <= est["truth"]) & (est["truth"] <= est["ci_upper"])
    est.attrs["synthetic"] = True
    G = int(design.cluster_codes.max()) + 1
    return ValidationResult(
        outcome=outcome, outcome_label=f"{outcome}_log" if log else outcome, family=family, estimates=est, truth_scale=truth_scale,
        effect=effect_text, reps=reps, alpha=alpha, seed=seed, methods=[m for m in methods if (est["method"] == m).any()],
        n_obs=design.panel.n_units * design.panel.n_periods, n_units=design.panel.n_units, n_clusters=G, true_att=float(truth.mean()),
        true_att_cohort_weighted=float(own.mean()), notes=([size_note] if size_note else []) + list(est.attrs.get("notes", [])) + sims_notes,
    )


__all__ = [
    "ALL_METHODS", "DEFAULT_METHODS", "LINEAR_METHODS", "LinearEstimators", "LinearMethod", "PowerResult", "ValidationResult",
    "power_curve", "replicate_estimates", "sdid_available", "sized_reps", "validate_methods",
]
