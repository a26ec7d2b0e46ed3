"""Imputation with a richer untreated model: region x period effects, unit trends, unit month-of-year effects, and
unit weights (Borusyak, Jaravel and Spiess 2024, with the first stage generalised).

Estimand: the average of unit-period effects over treated observations in the window (weighted by the unit weights
when given). Method: fit the untreated outcome model on untreated observations only (never-treated units, and
treated units before their first treated period), by (weighted) least squares; impute each treated observation's
untreated outcome; average the differences. The model is unit effects plus, as chosen: period effects, or
region x period effects (``region_period``); a linear trend per unit (``unit_trends``: fitted on each unit's
untreated periods, so a treated unit's trend comes from its pre-period only — never from post-treatment data, which
would absorb a growing effect); month-of-year effects per unit (``unit_seasonality``: a cohort followed for part of a
year is compared with its own seasonal pattern). Assumption: the untreated outcome follows that model for every
unit in every period. Inference: BJS Theorem 3's conservative variance, generalised: the estimator is linear in the
outcomes, ``sum v_it y_it`` with ``v0 = -W Z0 (Z0' W Z0)^+ Z1' w1`` on untreated observations; with residuals from the
untreated fit and, for treated observations, deviations of the imputed effects from their cohort x event-time
means, the variance is the sum over clusters of ``(sum v_it e_it)^2``; t with G - 1 degrees of freedom. Dense
linear algebra: meant for designs of up to a few hundred units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..results import EstimateResult, normal_inference
from ..missing import balanced_only


def _columns(design: Design, region_period: bool, unit_trends: bool, unit_seasonality: bool) -> tuple[np.ndarray, list[str]]:
    """Dense design matrix (N*T x K) of the untreated model, rows unit-major."""
    panel = design.panel
    N, T = panel.n_units, panel.n_periods
    unit = np.repeat(np.arange(N), T)
    t = np.tile(np.arange(T), N)
    blocks, names = [np.eye(N)[unit]], [f"unit {i}" for i in range(N)]
    if region_period:
        if "region" not in panel.data.columns:
            raise EstimationError("region x period effects need a region column (built-in NHS data).")
        reg = pd.factorize(panel.data.loc[panel.data["t"] == 0, "region"].astype(str).to_numpy())[0]
        R = int(reg.max()) + 1
        cell = reg[unit] * T + t
        M = np.zeros((N * T, R * T))
        M[np.arange(N * T), cell] = 1.0
        blocks.append(M)
        names += [f"region {r} x period {s}" for r in range(R) for s in range(T)]
    else:
        blocks.append(np.eye(T)[t])
        names += [f"period {s}" for s in range(T)]
    if unit_trends:
        blocks.append(np.eye(N)[unit] * (t / 12.0)[:, None])
        names += [f"trend {i}" for i in range(N)]
    if unit_seasonality:
        if panel.frequency != "month":
            raise EstimationError("unit month-of-year effects need monthly data.")
        moy = np.array([int(str(p)[5:7]) for p in panel.periods])[t] - 1
        S = np.zeros((N * T, N * 11))
        on = moy > 0
        S[np.flatnonzero(on), unit[on] * 11 + moy[on] - 1] = 1.0
        blocks.append(S)
        names += [f"unit {i} month {m}" for i in range(N) for m in range(2, 13)]
    return np.hstack(blocks), names


@balanced_only("the imputation estimator with trends or region-period effects")
def imputation_general(design: Design, outcome: str, *, log: bool = False, region_period: bool = False, unit_trends: bool = False, unit_seasonality: bool = False, weights: np.ndarray | None = None, alpha: float = 0.05) -> EstimateResult:
    """Overall imputation estimate under a richer untreated model (see the module docstring).

    Parameters
    ----------
    weights
        One non-negative weight per unit (panel order): weighted first stage and a weighted average over treated
        observations. ``None`` = equal weights.

    Returns
    -------
    EstimateResult
        One row: method ``imputation``, estimand ``simple``; ``details``: ``untreated_model`` (text),
        ``effective_n_comparison`` (with weights).
    """
    y, label_ = outcome_matrix(design, outcome, log)
    g = design.g
    N, T = y.shape
    tt = np.arange(T)
    treated = np.isfinite(g)[:, None] & (tt[None, :] >= g[:, None])
    untreated = ~treated
    if not treated.any():
        raise EstimationError("imputation: no treated observation in the window.")
    wu = np.ones(N) if weights is None else np.asarray(weights, dtype=float)
    if wu.shape != (N,) or (wu < 0).any() or not np.isfinite(wu).all():
        raise EstimationError("imputation: weights must be one non-negative number per unit.")
    Z, _ = _columns(design, region_period, unit_trends, unit_seasonality)
    u0, u1 = untreated.ravel(), treated.ravel()
    w_row = np.repeat(wu, T)
    Z0 = Z[u0]
    W0 = w_row[u0]
    A = Z0.T @ (Z0 * W0[:, None])
    Ainv = np.linalg.pinv(A, rcond=1e-10, hermitian=True)
    theta = Ainv @ (Z0.T @ (W0 * y.ravel()[u0]))
    Z1 = Z[u1]
    # estimability: each treated row must lie in the row space of the untreated design
    resid_row = Z1 - (Z1 @ Ainv) @ A
    if np.abs(resid_row).max() > 1e-6 * max(1.0, np.abs(Z1).max()):
        raise EstimationError("imputation: the untreated model cannot be extrapolated to every treated observation (a unit or a region-period has no untreated observation); simplify the model or end the window earlier (design.end).")
    y0_hat = Z @ theta
    tau = np.full(N * T, np.nan)
    tau[u1] = y.ravel()[u1] - y0_hat[u1]
    w1 = np.where(u1, w_row, 0.0)
    w1 = w1 / w1.sum()
    est = float(np.nansum(w1 * tau))
    v0 = -(W0 * (Z0 @ (Ainv @ (Z1.T @ w1[u1]))))
    v = np.zeros(N * T)
    v[u0] = v0
    v[u1] = w1[u1]
    resid = np.zeros(N * T)
    resid[u0] = y.ravel()[u0] - y0_hat[u0]
    E = (tt[None, :] - np.where(np.isfinite(g), g, 0)[:, None]).ravel()
    cohort = np.repeat(np.where(np.isfinite(g), g, -1), T)
    cell = (cohort * (T + 1) + E)[u1]
    _, inv = np.unique(cell, return_inverse=True)
    num = np.bincount(inv, v[u1] * tau[u1])
    den = np.bincount(inv, v[u1])
    tbar = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    resid[u1] = tau[u1] - tbar[inv]
    contrib = (v * resid).reshape(N, T).sum(axis=1)
    codes = design.cluster_codes
    G = int(codes.max()) + 1
    se = float(np.sqrt((np.bincount(codes, contrib, G) ** 2).sum()))
    lo, hi, p = normal_inference(np.array([est]), np.array([se]), alpha, df=G - 1)
    model = " + ".join(["unit effects", "region x period effects" if region_period else "period effects"] + (["unit linear trends (untreated periods)"] if unit_trends else []) + (["unit month-of-year effects (untreated periods)"] if unit_seasonality else []))
    ctrl = ~np.isfinite(g)
    ess = float(wu[ctrl].sum() ** 2 / (wu[ctrl] ** 2).sum()) if ctrl.any() and (wu[ctrl] > 0).any() else float("nan")
    row = {"method": "imputation", "outcome": label_, "estimand": "simple", "group": "all", "estimate": est, "std_error": se, "ci_lower": float(lo[0]), "ci_upper": float(hi[0]), "p_value": float(p[0]), "n_obs": int(N * T), "n_units": N, "n_clusters": G}
    return EstimateResult(pd.DataFrame([row]), method="imputation", outcome=label_, estimand="simple", description=f"Imputation (BJS) with untreated model: {model}" + (" and unit weights" if weights is not None else "") + "; conservative cluster-robust variance, t with G-1 df.", alpha=alpha, details={"untreated_model": model, "effective_n_comparison": ess, "tau": tau.reshape(N, T)})


def balancing_weights(X_treated_mean: np.ndarray, X_comparison: np.ndarray, max_iter: int = 200, tol: float = 1e-10) -> np.ndarray:
    """Entropy-balancing weights for comparison units: ``w_i ∝ exp(lambda' x_i)`` with the weighted comparison means of
    the (standardised) moments equal to the treated means (Hainmueller 2012). Newton's method on the convex dual.

    Returns
    -------
    numpy.ndarray
        Weights summing to the number of comparison units.

    Raises
    ------
    EstimationError
        When the treated means lie outside what reweighting the comparison units can reach.
    """
    X = np.asarray(X_comparison, dtype=float)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    Z = (X - mu) / sd
    target = (np.asarray(X_treated_mean, dtype=float) - mu) / sd
    lam = np.zeros(Z.shape[1])
    for _ in range(max_iter):
        a = Z @ lam
        w = np.exp(a - a.max())
        w /= w.sum()
        m = w @ Z
        grad = m - target
        if np.abs(grad).max() < tol:
            return w * len(w)
        H = (Z * w[:, None]).T @ Z - np.outer(m, m)
        step = np.linalg.lstsq(H + 1e-12 * np.eye(len(lam)), grad, rcond=None)[0]
        lam -= step
    raise EstimationError("balancing weights did not converge: the treated areas' baseline means are outside the comparison areas' range.")
