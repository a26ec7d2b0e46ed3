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

from ..design import Design
from ..did.poisson import PoissonFit, _count_matrix, _dropped_note
from ..errors import EstimationError
from ..results import EventStudyResult, normal_inference

DESCRIPTION = (
    "Extended TWFE (Wooldridge 2023), Poisson: unit and period effects plus one coefficient per treated cohort x period, so effects "
    "may differ by cohort and period; average partial effects on the count scale (as R etwfe's emfx) and the ratio of observed to "
    "counterfactual treated totals. Assumes parallel trends in log means (not levels) and no anticipation. Cluster-robust "
    "influence-function (delta-method) variance, t with G-1 df."
)


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
    Z, p, ni = fit.Z, fit.p, fit.ni  # concentrated model on kept units: period dummies then cell dummies (then controls)
    n1 = int(keep.sum())
    k_t = T - 1
    P = Z.shape[-1]
    delta = fit.theta[k_t : k_t + len(cells)]
    mu = ni[:, None] * p
    y1 = y[keep]
    tr1 = treated[keep]
    g1 = g[keep]
    cell_idx = np.full((n1, T), -1)
    for j, (c, s) in enumerate(cells):
        cell_idx[(g1 == c), s] = j
    d_cell = np.where(cell_idx >= 0, delta[np.clip(cell_idx, 0, None)], 0.0)
    mu0 = mu * np.exp(-d_cell)  # counterfactual (untreated) means; equal to mu outside treated cells
    zbar = np.einsum("it,itk->ik", p, Z)
    dz = Z - zbar[:, None, :]  # d log mu / d theta
    e_cell = np.zeros((n1, T, P))
    ii, tt = np.nonzero(cell_idx >= 0)
    e_cell[ii, tt, k_t + cell_idx[ii, tt]] = 1.0
    dmu = mu[:, :, None] * dz
    dmu0 = mu0[:, :, None] * (dz - e_cell)
    H_inv = np.linalg.inv(_info(fit))
    s_unit = np.einsum("it,itk->ik", y1 - mu, Z)  # Poisson scores per unit (concentrated model)
    codes = np.unique(design.cluster_codes[keep], return_inverse=True)[1]
    G = int(codes.max()) + 1

    def ratio_of_sums(num: np.ndarray, den_w: np.ndarray, dnum: np.ndarray) -> tuple[float, float]:
        """Estimate sum(num)/sum(den_w) over cells (num per unit-period) and its clustered influence-function SE."""
        M = float(den_w.sum())
        est = float(num.sum() / M)
        a_i = num.sum(axis=1) - est * den_w.sum(axis=1)  # each unit's own term
        grad = dnum.reshape(-1, P).sum(axis=0)
        psi = (a_i + s_unit @ (H_inv @ grad)) / M
        by = np.bincount(codes, psi, G)
        return est, float(np.sqrt(G / (G - 1) * (by**2).sum()))

    rows = []
    w_tr = tr1.astype(float)
    ape = np.where(tr1, mu - mu0, 0.0)
    dape = np.where(tr1[:, :, None], dmu - dmu0, 0.0)
    est, se = ratio_of_sums(ape, w_tr, dape)
    rows.append({"estimand": "simple", "group": "all", "estimate": est, "std_error": se})
    # observed / counterfactual treated totals: the Poisson first-order conditions make sum(mu) = sum(y) in each cell
    obs, cf = float(np.where(tr1, y1, 0.0).sum()), float(np.where(tr1, mu0, 0.0).sum())
    r = obs / cf
    grad_cf = np.where(tr1[:, :, None], dmu0, 0.0).reshape(-1, P).sum(axis=0)
    # log r = log sum y - log sum mu0: influence of each unit through its observed total and through theta
    a_i = np.where(tr1, y1, 0.0).sum(axis=1) / obs - np.where(tr1, mu0, 0.0).sum(axis=1) / cf
    psi = a_i - s_unit @ (H_inv @ grad_cf) / cf
    se_log = float(np.sqrt(G / (G - 1) * (np.bincount(codes, psi, G) ** 2).sum()))
    rows.append({"estimand": "simple_pct", "group": "all", "estimate": 100 * (r - 1), "std_error": 100 * r * se_log, "_log": (np.log(r), se_log)})
    labels = design.panel.period_labels
    for c in cohorts:
        m = tr1 & (g1 == c)[:, None]
        est, se = ratio_of_sums(np.where(m, mu - mu0, 0.0), m.astype(float), np.where(m[:, :, None], dmu - dmu0, 0.0))
        rows.append({"estimand": "group", "group": labels[c], "estimate": est, "std_error": se})
    E = np.where(tr1, t[None, :] - g1[:, None], -1)
    for e in np.unique(E[tr1]).astype(int):
        m = tr1 & (E == e)
        est, se = ratio_of_sums(np.where(m, mu - mu0, 0.0), m.astype(float), np.where(m[:, :, None], dmu - dmu0, 0.0))
        rows.append({"estimand": "dynamic", "event_time": int(e), "estimate": est, "std_error": se})
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


def _info(fit: PoissonFit) -> np.ndarray:
    """The concentrated Poisson information matrix (minus the Hessian) at the estimate."""
    Z, p, ni = fit.Z, fit.p, fit.ni
    zbar = np.einsum("it,itk->ik", p, Z)
    return np.einsum("i,it,itk,itl->kl", ni, p, Z, Z) - np.einsum("i,ik,il->kl", ni, zbar, zbar)
