"""Sun and Abraham (2021) interaction-weighted event study.

Estimand: the effect at each event time l (periods since treatment), averaged over the cohorts observed at l with
weights equal to their shares of treated units — the same weights as the Callaway-Sant'Anna dynamic aggregation.
Method: a regression with unit and period fixed effects and a full set of cohort x event-time indicators (except
l = -1), so each cohort's effects are estimated against the control group only (never-treated units, or the last
treated cohort before its treatment) and are not contaminated by other cohorts' effects as in the TWFE event study.
Assumptions: parallel trends between each cohort and the control group, no anticipation, and (for the unbinned
default) nothing else. Inference: cluster-robust covariance of the cohort x event-time coefficients (package
convention, :mod:`evidence.inference`); event-time averages use the cohort shares as fixed weights, ``w' V w``.
Without binning and with never-treated controls, the post-treatment estimates equal the Callaway-Sant'Anna dynamic
aggregation with never-treated comparisons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._blas import limit_blas_threads
from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..inference import cluster_vcov, demean_two_way
from ..results import EventStudyResult, normal_inference

DESCRIPTION = (
    "Sun-Abraham interaction-weighted event study: cohort x event-time effects from a two-way fixed effects regression "
    "saturated in cohort x event time (each cohort compared with the control group only), averaged over cohorts with their "
    "shares of treated units. Assumes parallel trends with the control group and no anticipation. Cluster-robust standard "
    "errors with the cohort shares as fixed weights; t with G-1 df."
)


@limit_blas_threads(1)  # tall, narrow products: a second BLAS thread only spins (evidence._blas)
def sun_abraham(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    control: str = "never_treated",
    window: tuple[int, int] | None = None,
    alpha: float = 0.05,
    controls: list[str] | None = None,
    _dense: bool = False,
) -> EventStudyResult:
    """Sun-Abraham interaction-weighted event study.

    Parameters
    ----------
    design
        Analysis design (balanced panel, cohorts).
    outcome
        Outcome column.
    log
        Analyse log(outcome).
    control
        ``never_treated`` (units untreated throughout the window) or ``last_cohort`` (the last treated cohort, with
        the periods from its treatment on dropped).
    window
        ``(first_lead, last_lag)`` to bin event times beyond; ``None`` (default) saturates every event time.
    alpha
        1 - confidence level.
    controls
        Time-varying control columns (``data.controls``), partialled out in the same regression as fixest's
        ``y ~ x + sunab(cohort, period) | unit + period`` does. Sun-Abraham takes no baseline covariates (the unit
        effects absorb them).

    Returns
    -------
    EventStudyResult
        ``estimand='dynamic'`` rows by event time (reference -1 omitted), ``estimand='simple'`` (all post-treatment
        cohort x event-time cells weighted by their number of treated unit-periods) and ``estimand='cohort_event'``
        rows (group = cohort, the cohort-specific effects).
    """
    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    g = design.g.copy()
    groups = design.cluster_codes
    T = y.shape[1]
    periods = design.panel.period_labels
    if control == "never_treated":
        ctrl = ~np.isfinite(g)
        if not ctrl.any():
            raise EstimationError("Sun-Abraham with never-treated controls needs units untreated throughout the window; there are none — use control='last_cohort'.")
        t_keep = T
    elif control == "last_cohort":
        if np.unique(g[np.isfinite(g)]).size < 2:
            raise EstimationError("Sun-Abraham with the last cohort as control needs at least two treated cohorts.")
        last = np.max(g[np.isfinite(g)])
        ctrl = (g == last) | ~np.isfinite(g)
        t_keep = int(last)
        g = np.where(g == last, np.inf, g)
    else:
        raise EstimationError(f"methods.staggered: Sun-Abraham control {control!r} is unknown; use never_treated or last_cohort.")
    y = y[:, :t_keep]
    T = t_keep
    treated = np.isfinite(g) & (g < T)
    cohorts = np.unique(g[treated]).astype(int)
    if cohorts.size == 0:
        raise EstimationError("Sun-Abraham: no treated cohort is observed inside the (restricted) window.")
    t = np.arange(T)
    E = np.where(treated[:, None], t[None, :] - g[:, None], np.nan)
    if window is not None:
        E = np.clip(E, window[0], window[1])
    from ..did.estimators import control_matrices, missing_note, observed_cells

    ctrl_m = [m[:, :T] for m in control_matrices(design, controls).values()]
    used = observed_cells(y, dict(enumerate(ctrl_m)))
    if used is not None:
        E = np.where(used, E, np.nan)  # cohort x event-time cells seen only in missing cells are not estimated
    # one column per (cohort, event time) cell present in the data, except event time -1
    cells = []
    for c in cohorts:  # a few cohorts; columns are built with array operations
        ev = np.unique(E[g == c][~np.isnan(E[g == c])]).astype(int)
        cells += [(int(c), int(l)) for l in ev if l != -1]
    if not any(l < -1 for _, l in cells) and not any(l >= 0 for _, l in cells):
        raise EstimationError("Sun-Abraham: no event time besides the reference period is observed.")
    N = y.shape[0]
    if window is None and used is None and not ctrl_m and not _dense:
        beta, V = _saturated_fit(y, g, cells, groups)
    else:
        X = np.zeros((N, T, len(cells) + len(ctrl_m)))
        for j, (c, l) in enumerate(cells):
            X[:, :, j] = (g[:, None] == c) & (E == l)
        for j, m in enumerate(ctrl_m):
            X[:, :, len(cells) + j] = m
        rows_used = np.ones(N * T, bool) if used is None else used.ravel()
        if used is not None:
            X, y = np.where(used[:, :, None], X, 0.0), np.where(used, y, 0.0)
        Xd = demean_two_way(X, used).reshape(N * T, -1)[rows_used]
        yd = demean_two_way(y, used).ravel()[rows_used]
        if ctrl_m and np.linalg.matrix_rank(Xd) < Xd.shape[1]:
            raise EstimationError(f"Sun-Abraham: the controls {', '.join(controls or [])} (data.controls) are collinear with the cohort x event-time cells or each other; remove one from data.controls.")
        bread = np.linalg.pinv(Xd.T @ Xd)
        beta = bread @ (Xd.T @ yd)
        resid = yd - Xd @ beta
        rows_groups = np.repeat(groups, T)[rows_used]
        V = cluster_vcov(Xd, resid, rows_groups, bread)
        k = len(cells)
        beta, V = beta[:k], V[:k, :k]
    G = int(groups.max()) + 1
    n_units = int(treated.sum() + ctrl.sum())
    size = {int(c): int((g == c).sum()) for c in cohorts}
    cell_e = np.array([l for _, l in cells])
    cell_c = np.array([c for c, _ in cells])
    rows = []
    # interaction-weighted averages by event time: cohort shares among cohorts observed at that event time
    for l in np.unique(cell_e):
        idx = np.flatnonzero(cell_e == l)
        w = np.array([size[int(c)] for c in cell_c[idx]], float)
        w /= w.sum()
        est = float(w @ beta[idx])
        se = float(np.sqrt(w @ V[np.ix_(idx, idx)] @ w))
        rows.append({"estimand": "dynamic", "event_time": int(l), "estimate": est, "std_error": se})
    # overall: post cells weighted by their number of treated unit-periods
    post = np.flatnonzero(cell_e >= 0)
    if post.size:
        w = np.array([size[int(c)] for c in cell_c[post]], float)
        w /= w.sum()
        rows.append({"estimand": "simple", "group": "all", "estimate": float(w @ beta[post]), "std_error": float(np.sqrt(w @ V[np.ix_(post, post)] @ w))})
    for j, (c, l) in enumerate(cells):
        rows.append({"estimand": "cohort_event", "group": periods[c], "event_time": l, "estimate": float(beta[j]), "std_error": float(np.sqrt(V[j, j]))})
    df = pd.DataFrame(rows)
    lo, hi, p = normal_inference(df["estimate"].to_numpy(), df["std_error"].to_numpy(), alpha, df=G - 1)
    in_sample = treated | ctrl
    n_obs = n_units * T if used is None else int(used[in_sample].sum())
    df = df.assign(method="sun_abraham", outcome=label_, ci_lower=lo, ci_upper=hi, p_value=p, n_obs=n_obs, n_units=n_units, n_clusters=G)
    gap = missing_note(y, used)
    return EventStudyResult(df, method="sun_abraham", outcome=label_, estimand="dynamic", description=DESCRIPTION, alpha=alpha, details={"reference": -1, "control": control, "cells": cells, "vcov": V, "coef": beta, "controls": list(controls or []), "missing": gap, "notes": [gap] if gap else []})


def _saturated_fit(y: np.ndarray, g: np.ndarray, cells: list[tuple[int, int]], groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and cluster-robust covariance of the saturated regression on a balanced panel, in closed form.

    Context: the regression's design is one indicator per (cohort c, event time l) cell, ``1{g_i = c, t = c + l}``,
    plus unit and period effects; materialising it (units x periods x cells, then its two-way demeaned copy) made
    Sun-Abraham the memory peak of the staggered estimators (6.4 GB at 5 million rows). Decision: on a balanced panel
    without binning or time-varying controls every piece has a closed form in the cohort sizes ``n_c`` and the cohort
    x period sums of the outcome — with ``M`` the two-way within projection (``I - P_unit - P_period + P_grand``):
    ``(MX)'(MX)[k, k'] = n_c 1{k = k'} - n_c 1{c = c'} / T - n_c n_c' 1{t_k = t_k'} / N + n_c n_c' / (N T)``,
    ``(MX)'y`` likewise from the sums, the residual is ``M(y - X beta)`` (``X beta`` is the coefficient of unit i's
    cell in period t) and, as residuals sum to zero within units, unit i's score for cell k is
    ``(1{c_i = c} - n_c / N) r_{i, t_k}``. Consequences: O(units x periods) time and memory plus a cells x cells
    solve; the same ``pinv`` bread and small-sample factor as :func:`evidence.inference.cluster_vcov`, so equal to
    the regression up to rounding (tested against it); binned windows, missing cells and controls keep the
    regression.
    """
    N, T = y.shape
    cohorts = np.unique([c for c, _ in cells])
    C = cohorts.size
    ci = np.full(N, C)  # units outside every cell's cohort: code C (controls, or treated after the window)
    fin = np.isfinite(g)
    pos = np.searchsorted(cohorts, np.where(fin, g, -1))
    hit = fin & (pos < C) & (cohorts[np.minimum(pos, C - 1)] == np.where(fin, g, -1))
    ci[hit] = pos[hit]
    n_c = np.bincount(ci, minlength=C + 1).astype(np.float64)
    cc = np.searchsorted(cohorts, [c for c, _ in cells])
    ct = np.array([c + l for c, l in cells])
    nk = n_c[cc]
    # cohort x period sums of the outcome (one pass), period totals, grand total
    Sy = np.zeros((C + 1, T))
    np.add.at(Sy, ci, y)
    ytot = Sy.sum(axis=0)
    grand = ytot.sum()
    Xty = Sy[cc, ct] - Sy[cc].sum(axis=1) / T - nk * ytot[ct] / N + nk * grand / (N * T)
    same_c = cc[:, None] == cc[None, :]
    same_t = ct[:, None] == ct[None, :]
    XtX = np.diag(nk) - same_c * nk[:, None] / T - same_t * np.outer(nk, nk) / N + np.outer(nk, nk) / (N * T)
    bread = np.linalg.pinv(XtX)
    beta = bread @ Xty
    B = np.zeros((C + 1, T))
    B[cc, ct] = beta
    r = demean_two_way(y - B[ci])
    # cluster x cohort x period sums of the residuals give every cluster's score for every cell
    G = int(groups.max()) + 1
    if G < 2:
        raise EstimationError(f"only {G} cluster(s); cluster-robust inference needs at least two (check data.cluster).")
    R = np.zeros((G * (C + 1), T))
    np.add.at(R, groups * (C + 1) + ci, r)
    R = R.reshape(G, C + 1, T)
    scores = R[:, cc, ct] - (nk / N)[None, :] * R.sum(axis=1)[:, ct]
    n = N * T
    V = G / (G - 1) * (n - 1) / n * bread @ (scores.T @ scores) @ bread
    return beta, V
