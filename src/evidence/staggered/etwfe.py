"""Wooldridge's extended two-way fixed effects (ETWFE) for counts: a Poisson model saturated in cohort x period.

Estimand: for each cohort g and period s >= g, ``delta_gs`` is the log ratio of the cohort's expected count to its
untreated expected count; on the count scale the average partial effect in the cell is
``ATT_gs = mean_i in g [mu_is - mu_is exp(-delta_gs)]`` (as R ``etwfe``'s ``emfx``), aggregated over all treated
unit-periods (``simple``), by cohort (``group``) and by event time (``dynamic``); the ratio of observed to
counterfactual treated totals, ``sum y / sum mu exp(-delta)``, gives the proportional effect. Assumptions: parallel
trends **in log means** (``E[y_it(0)] = exp(a_i + l_t)``), no anticipation; untreated cells of later cohorts and
never-treated units identify the period effects (Wooldridge 2023). Inference: the effects are functions of the
coefficients and of each unit's total count (the concentrated unit effect); their influence functions — the unit's
own term plus the coefficients' estimation through the Poisson scores — are summed within clusters, times G/(G-1);
t with G - 1 df. This is the delta method with the unit effects' sampling variation included.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Unit effects rather than cohort dummies
    Context: R ``etwfe`` uses cohort dummies (or unit effects with ``ivar``); for the Poisson model the two give the
    same ``delta`` (Wooldridge 2023, sec. 5) on a balanced panel. Decision: unit effects, through the concentrated
    likelihood of :class:`evidence.did.poisson.PoissonFit`. Consequences: the same code path and convergence checks
    as the Poisson TWFE; units whose counts are all zero are dropped and counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._blas import limit_blas_threads
from ..design import Design
from ..did.poisson import PoissonFit, _count_matrix, _dropped_note, _hessian
from ..errors import EstimationError
from ..results import EventStudyResult, normal_inference

DESCRIPTION = (
    "Extended TWFE (Wooldridge 2023), Poisson: unit and period effects plus one coefficient per treated cohort x period, so effects "
    "may differ by cohort and period; average partial effects on the count scale (as R etwfe's emfx) and the ratio of observed to "
    "counterfactual treated totals. Assumes parallel trends in log means (not levels) and no anticipation. Cluster-robust "
    "influence-function (delta-method) variance, t with G-1 df."
)


@limit_blas_threads(1)  # tall, narrow products: a second BLAS thread only spins (evidence._blas)
def etwfe_poisson(design: Design, outcome: str, *, alpha: float = 0.05, controls: list[str] | None = None) -> EventStudyResult:
    """Poisson extended TWFE with average partial effects.

    Returns
    -------
    EventStudyResult
        method ``etwfe_poisson``; rows ``simple`` (group ``all``: APE per treated unit-period on the count scale),
        ``simple_pct`` (100 x (observed / counterfactual treated total - 1)), ``group`` (by cohort), ``dynamic`` (by
        event time) and ``cohort_period`` (the log ratios ``delta_gs``, group = cohort, period = period label).
    """
    from ..did.estimators import control_matrices, missing_note, observed_cells

    y = _count_matrix(design, outcome)
    N, T = y.shape
    g = design.g
    t = np.arange(T)
    ctrl = control_matrices(design, controls)
    used = observed_cells(y, ctrl)
    seen = np.ones((N, T), bool) if used is None else used
    y = np.where(seen, y, 0.0)
    treated = np.isfinite(g)[:, None] & (t[None, :] >= g[:, None]) & seen
    if not treated.any():
        raise EstimationError(f"extended TWFE on {outcome}: no treated observation in the window.")
    all_tr = np.flatnonzero((treated | ~seen).all(axis=0) & seen.any(axis=0))
    if all_tr.size:
        raise EstimationError(f"extended TWFE on {outcome}: in period {design.panel.period_labels[all_tr[0]]} every unit is treated, so its untreated mean is not identified; shorten the window (design.end).")
    cohorts = np.unique(g[np.isfinite(g)]).astype(int)
    cells = [(int(c), int(s)) for c in cohorts for s in range(int(c), T) if treated[g == c, s].any()]
    X = np.zeros((N, T, len(cells)))
    for j, (c, s) in enumerate(cells):
        X[:, s, j] = g == c
    if ctrl:
        X = np.concatenate([X, np.stack(list(ctrl.values()), axis=-1)], axis=-1)
    fit = PoissonFit(y, X, design.cluster_codes, [f"d{c}_{s}" for c, s in cells] + list(ctrl), mask=seen, what=f"extended TWFE (Poisson) on {outcome}, cohorts {', '.join(design.panel.period_labels[c] for c in cohorts)}")
    if fit.dropped_periods.any():
        raise EstimationError(f"extended TWFE on {outcome}: a period has no count in any unit; shorten the window (design.start/design.end).")
    keep = fit.keep_i
    # Context: the average partial effects and their influence functions need, per aggregation, sums over its treated
    # cells of d mu / d theta (units x periods x parameters); materialising those arrays (and one masked copy per
    # cohort and event time) took 16 GB at 5 million rows. Decision: the concentrated model's regressors are
    # Z_it = [period dummies, X_it]; every aggregation is a union of treated (cohort, period) cells, so the
    # parameter-gradients are summed once per cell from the units x parameters pieces (zbar_i = Z_i' p_i, the
    # cell's rows of X) and aggregations add cell sums; the information matrix is the fit's own structured one.
    # Consequences: memory O(units x (periods + parameters)) beyond the fit's regressors; equal to the materialised
    # computation it replaces up to rounding (1e-15 on the test designs, with controls and a dropped unit).
    X1, p, ni = fit.X1, fit.p, fit.ni  # kept units: regressors (cell dummies then controls), probabilities, totals
    n1 = int(keep.sum())
    k_t = T - 1
    kx = X1.shape[-1]
    P = k_t + kx
    delta = fit.theta[k_t : k_t + len(cells)]
    mu = ni[:, None] * p
    y1 = y[keep]
    tr1 = treated[keep]
    g1 = g[keep]
    cell_idx = np.full((n1, T), -1)
    for j, (c, s_) in enumerate(cells):
        cell_idx[(g1 == c), s_] = j
    d_cell = np.where(cell_idx >= 0, delta[np.clip(cell_idx, 0, None)], 0.0)
    mu0 = mu * np.exp(-d_cell)  # counterfactual (untreated) means; equal to mu outside treated cells
    xbar = np.matmul(p[:, None, :], X1)[:, 0, :]
    zbar = np.concatenate([p[:, 1:], xbar], axis=1)  # Z_i' p_i
    H_inv = np.linalg.inv(_hessian(X1, X1.reshape(-1, kx), p, ni))
    r = y1 - mu
    s_unit = np.concatenate([r[:, 1:], np.matmul(r[:, None, :], X1)[:, 0, :]], axis=1)  # Poisson scores per unit
    codes = np.unique(design.cluster_codes[keep], return_inverse=True)[1]
    G = int(codes.max()) + 1
    # per treated cell j: sum of (mu - mu0) dz and of mu0 dz over its unit-periods (dz = Z_it - zbar_i), and of mu0
    A1 = np.zeros((len(cells), P))
    A2 = np.zeros((len(cells), P))
    B = np.zeros(len(cells))
    for j, (c, s_) in enumerate(cells):  # a few dozen cells, each a matrix-vector product over its units
        rows = np.flatnonzero(tr1[:, s_] & (g1 == c))
        if rows.size == 0:
            continue
        w1 = mu[rows, s_] - mu0[rows, s_]
        w0 = mu0[rows, s_]
        Xs = X1[rows, s_, :]
        zb = zbar[rows]
        for A, w in ((A1, w1), (A2, w0)):
            if s_ >= 1:
                A[j, s_ - 1] += w.sum()
            A[j, k_t:] += w @ Xs
            A[j] -= w @ zb
        B[j] = w0.sum()
    e_idx = k_t + np.arange(len(cells))

    def grads(J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums over the cells J of d(mu - mu0)/d theta and of d mu0 / d theta."""
        g_dd = A1[J].sum(axis=0)
        g_0 = A2[J].sum(axis=0)
        np.add.at(g_dd, e_idx[J], B[J])
        np.subtract.at(g_0, e_idx[J], B[J])
        return g_dd, g_0

    cell_c = np.array([c for c, _ in cells])
    cell_e = np.array([s_ - c for c, s_ in cells])
    ape = np.where(tr1, mu - mu0, 0.0)

    def ratio_of_sums(m: np.ndarray, J: np.ndarray) -> tuple[float, float]:
        """Average of mu - mu0 over the treated unit-periods m (the cells J) and its clustered influence-function SE."""
        M = float(m.sum())
        num = np.where(m, ape, 0.0).sum(axis=1)
        est = float(num.sum() / M)
        a_i = num - est * m.sum(axis=1)  # each unit's own term
        psi = (a_i + s_unit @ (H_inv @ grads(J)[0])) / M
        by = np.bincount(codes, psi, G)
        return est, float(np.sqrt(G / (G - 1) * (by**2).sum()))

    rows_out = []
    all_cells = np.arange(len(cells))
    est, se = ratio_of_sums(tr1, all_cells)
    rows_out.append({"estimand": "simple", "group": "all", "estimate": est, "std_error": se})
    # observed / counterfactual treated totals: the Poisson first-order conditions make sum(mu) = sum(y) in each cell
    y_tr, mu0_tr = np.where(tr1, y1, 0.0), np.where(tr1, mu0, 0.0)
    obs, cf = float(y_tr.sum()), float(mu0_tr.sum())
    ratio = obs / cf
    grad_cf = grads(all_cells)[1]
    # log r = log sum y - log sum mu0: influence of each unit through its observed total and through theta
    a_i = y_tr.sum(axis=1) / obs - mu0_tr.sum(axis=1) / cf
    psi = a_i - s_unit @ (H_inv @ grad_cf) / cf
    se_log = float(np.sqrt(G / (G - 1) * (np.bincount(codes, psi, G) ** 2).sum()))
    rows_out.append({"estimand": "simple_pct", "group": "all", "estimate": 100 * (ratio - 1), "std_error": 100 * ratio * se_log, "_log": (np.log(ratio), se_log)})
    labels = design.panel.period_labels
    for c in cohorts:
        est, se = ratio_of_sums(tr1 & (g1 == c)[:, None], np.flatnonzero(cell_c == c))
        rows_out.append({"estimand": "group", "group": labels[c], "estimate": est, "std_error": se})
    E = np.where(tr1, t[None, :] - g1[:, None], -1)
    for e in np.unique(E[tr1]).astype(int):
        est, se = ratio_of_sums(tr1 & (E == e), np.flatnonzero(cell_e == e))
        rows_out.append({"estimand": "dynamic", "event_time": int(e), "estimate": est, "std_error": se})
    rows = rows_out
    cov = fit.theta_cov[k_t : k_t + len(cells), k_t : k_t + len(cells)]
    for j, (c, s) in enumerate(cells):
        rows.append({"estimand": "cohort_period", "group": labels[c], "period": labels[s], "estimate": float(delta[j]), "std_error": float(np.sqrt(cov[j, j]))})
    df = pd.DataFrame(rows)
    lo, hi, pv = normal_inference(df["estimate"].to_numpy(), df["std_error"].to_numpy(), alpha, df=G - 1)
    df = df.assign(ci_lower=lo, ci_upper=hi, p_value=pv)
    pct = df["estimand"] == "simple_pct"
    lr, sl = df.loc[pct, "_log"].iloc[0]
    lo_l, hi_l, p_l = normal_inference(np.array([lr]), np.array([sl]), alpha, df=G - 1)
    df.loc[pct, ["ci_lower", "ci_upper", "p_value"]] = [100 * np.expm1(lo_l[0]), 100 * np.expm1(hi_l[0]), p_l[0]]  # the % interval: the log interval transformed
    df = df.drop(columns="_log").assign(method="etwfe_poisson", outcome=outcome, n_obs=fit.n_obs, n_units=fit.n_units, n_clusters=G)
    return EventStudyResult(df, method="etwfe_poisson", outcome=outcome, estimand="simple", description=DESCRIPTION, alpha=alpha, details={"notes": _dropped_note(fit, design) + ([missing_note(y, used, "the Poisson model uses the observed cells")] if used is not None else []), "missing": missing_note(y, used, "the Poisson model uses the observed cells"), "cells": cells, "delta": delta, "controls": list(controls or []), "iterations": fit.iterations})
