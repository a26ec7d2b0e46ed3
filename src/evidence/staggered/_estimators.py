"""Two-period (2x2) panel DiD estimators of the ATT with their influence functions.

These follow the estimators of Sant'Anna & Zhao (2020) as implemented in the R package DRDID, which R ``did`` calls
for each ATT(g,t) cell with panel data:

* ``drdid_panel`` -- the locally efficient doubly robust estimator (logit propensity score, OLS outcome regression
  for the comparison group's outcome changes);
* ``std_ipw_did_panel`` -- the normalised (Hajek) inverse-probability-weighted estimator;
* ``reg_did_panel`` -- the outcome-regression estimator.

Each returns ``(att, inf)`` where ``inf`` is the influence function on the DRDID scale (``se = sqrt(mean(inf**2) /
n)`` with ``n`` the number of units passed in). Sampling weights are all one. Everything is vectorised over units.

Conventions copied from DRDID: fitted propensity scores are capped at ``1 - 1e-6``, comparison units with a
propensity score of at least ``trim_level = 0.995`` get weight zero, and the Hessian of the logit enters the
influence function as ``n * (X' W X)^{-1}``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

TRIM_LEVEL = 0.995
OVERLAP_CHECK = 0.999


class CellEstimationError(RuntimeError):
    """A 2x2 estimator cannot be computed for one ATT(g,t) cell (the cell is reported as missing)."""


def logit_fit(X: np.ndarray, D: np.ndarray, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood logit of ``D`` on ``X`` by Newton-Raphson; returns the coefficient vector.

    Parameters
    ----------
    X
        ``n x k`` design matrix (include the intercept column).
    D
        ``n`` binary outcome (0/1).
    tol
        Convergence tolerance on the largest absolute Newton step.
    max_iter
        Iteration cap; :class:`CellEstimationError` if not converged.
    """
    k = X.shape[1]
    # start at the intercept-only MLE (exact when X is a constant column)
    p0 = float(np.clip(D.mean(), 1e-10, 1 - 1e-10))
    beta = np.zeros(k)
    const = np.flatnonzero(np.all(X == X[:1], axis=0) & (X[0] != 0))
    if const.size:
        beta[const[0]] = np.log(p0 / (1 - p0)) / X[0, const[0]]
    for _ in range(max_iter):
        p = expit(X @ beta)
        w = p * (1 - p)
        grad = X.T @ (D - p)
        H = (X * w[:, None]).T @ X
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError as exc:
            raise CellEstimationError("singular propensity-score information matrix") from exc
        beta = beta + step
        if not np.all(np.isfinite(beta)):
            raise CellEstimationError("propensity-score logit diverged (perfect separation?)")
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return beta
    raise CellEstimationError("propensity-score logit did not converge")


def _ps_pieces(X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted propensity score (capped) and the asymptotic linear representation matrix of the logit."""
    n = X.shape[0]
    beta = logit_fit(X, D)
    ps = expit(X @ beta)
    if ps.max() >= OVERLAP_CHECK:
        # R did's preliminary check before calling DRDID: the cell is reported as missing
        raise CellEstimationError(f"overlap condition violated (a propensity score >= {OVERLAP_CHECK})")
    ps = np.minimum(ps, 1 - 1e-6)
    W = ps * (1 - ps)
    XtWX = (X * W[:, None]).T @ X
    if np.linalg.cond(XtWX) > 1 / np.finfo(float).eps:
        raise CellEstimationError("the propensity score design matrix is singular; remove collinear covariates")
    hess = np.linalg.inv(XtWX) * n
    return ps, hess


def _ols_control(X: np.ndarray, dY: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS of ``dY`` on ``X`` among comparison units; returns coefficients and ``(X'X/n)^{-1}`` over all n."""
    n = X.shape[0]
    c = D == 0
    Xc = X[c]
    XpX = Xc.T @ Xc / n
    if np.linalg.cond(XpX) > 1 / np.finfo(float).eps:
        raise CellEstimationError("the outcome regression design matrix is singular; remove collinear covariates")
    beta = np.linalg.solve(Xc.T @ Xc, Xc.T @ dY[c])
    return beta, np.linalg.inv(XpX)


def drdid_panel(y1: np.ndarray, y0: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, eq. 3.1) for panel data.

    Parameters
    ----------
    y1, y0
        Outcomes in the later and the base period (``n`` each).
    D
        1 for the treated cohort, 0 for the comparison group.
    X
        ``n x k`` covariates including the intercept column.

    Returns
    -------
    att, inf
        The estimate and its influence function (length ``n``).
    """
    dY = y1 - y0
    ps, hess = _ps_pieces(X, D)
    trim = np.where(D == 0, ps < TRIM_LEVEL, True)
    beta, xpx_inv = _ols_control(X, dY, D)
    out = X @ beta
    w_t = trim * D
    w_c = trim * ps * (1 - D) / (1 - ps)
    resid = dY - out
    att_t = w_t * resid
    att_c = w_c * resid
    mw_t, mw_c = w_t.mean(), w_c.mean()
    eta_t = att_t.mean() / mw_t
    eta_c = att_c.mean() / mw_c
    att = eta_t - eta_c

    # asymptotic linear representation of the OLS coefficients: rows ((1-D) resid x_i)' (X'X/n)^{-1}
    ols_rows = ((1 - D) * resid)[:, None] * X
    # of the logit coefficients: rows ((D - ps) x_i)' n (X'WX)^{-1}
    ps_rows = (D - ps)[:, None] * X

    M1 = (w_t[:, None] * X).mean(axis=0)
    M2 = ((w_c * (resid - eta_c))[:, None] * X).mean(axis=0)
    M3 = (w_c[:, None] * X).mean(axis=0)
    inf_t = (att_t - w_t * eta_t - ols_rows @ (xpx_inv @ M1)) / mw_t
    inf_c = (att_c - w_c * eta_c + ps_rows @ (hess @ M2) - ols_rows @ (xpx_inv @ M3)) / mw_c
    return float(att), inf_t - inf_c


def std_ipw_did_panel(y1: np.ndarray, y0: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) inverse-probability-weighted DiD (Abadie 2005) for panel data.

    Parameters and return value as for :func:`drdid_panel`.
    """
    dY = y1 - y0
    ps, hess = _ps_pieces(X, D)
    trim = np.where(D == 0, ps < TRIM_LEVEL, True)
    w_t = trim * D
    w_c = trim * ps * (1 - D) / (1 - ps)
    att_t = w_t * dY
    att_c = w_c * dY
    mw_t, mw_c = w_t.mean(), w_c.mean()
    eta_t = att_t.mean() / mw_t
    eta_c = att_c.mean() / mw_c
    att = eta_t - eta_c
    ps_rows = (D - ps)[:, None] * X
    M2 = ((w_c * (dY - eta_c))[:, None] * X).mean(axis=0)
    inf_t = (att_t - w_t * eta_t) / mw_t
    inf_c = (att_c - w_c * eta_c + ps_rows @ (hess @ M2)) / mw_c
    return float(att), inf_t - inf_c


def reg_did_panel(y1: np.ndarray, y0: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD (Heckman, Ichimura & Todd 1997) for panel data.

    Parameters and return value as for :func:`drdid_panel`.
    """
    dY = y1 - y0
    beta, xpx_inv = _ols_control(X, dY, D)
    out = X @ beta
    w = D.astype(float)
    mw = w.mean()
    eta_t = (w * dY).mean() / mw
    eta_c = (w * out).mean() / mw
    att = eta_t - eta_c
    ols_rows = ((1 - D) * (dY - out))[:, None] * X
    M1 = (w[:, None] * X).mean(axis=0)
    inf_t = (w * dY - w * eta_t) / mw
    inf_c = (w * out - w * eta_c + ols_rows @ (xpx_inv @ M1)) / mw
    return float(att), inf_t - inf_c


ESTIMATORS = {"dr": drdid_panel, "ipw": std_ipw_did_panel, "reg": reg_did_panel}


# ---- repeated cross-sections: the estimators R ``did`` uses on an unbalanced panel (allow_unbalanced_panel) -----
# Each takes the rows of one ATT(g,t) cell — outcome ``y``, ``post`` (1 in the cell's period, 0 in its base
# period), ``D`` and ``X`` (with the intercept) — and returns ``(att, inf)`` with one influence value per ROW on
# the DRDID scale (``se = sqrt(mean(inf**2) / n)`` for independent rows; the caller sums rows within units).


def _ols_rows(X: np.ndarray, y: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS of ``y`` on ``X`` over the rows ``sel``; returns the fitted values on every row and the asymptotic
    linear representation ``(sel e x_i)' (X_sel'X_sel / n)^{-1}`` (n x k, zero outside ``sel``)."""
    n = X.shape[0]
    Xs = X[sel]
    XpX = Xs.T @ Xs / n
    if Xs.shape[0] == 0 or np.linalg.cond(XpX) > 1 / np.finfo(float).eps:
        raise CellEstimationError("the outcome regression design matrix is singular; remove collinear covariates")
    beta = np.linalg.solve(Xs.T @ Xs, Xs.T @ y[sel])
    fit = X @ beta
    rows = (sel * (y - fit))[:, None] * X
    return fit, rows @ np.linalg.inv(XpX)


def _ps_rows(X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propensity score (capped), comparison-row trimming and the logit's asymptotic linear representation."""
    ps, hess = _ps_pieces(X, D)
    trim = np.where(D == 0, ps < TRIM_LEVEL, True).astype(float)
    return ps, trim, ((D - ps)[:, None] * X) @ hess


def reg_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for repeated cross-sections (DRDID ``reg_did_rc``): the comparison group's outcome
    regressions in each period predict the treated group's change."""
    out_pre, lin_pre = _ols_rows(X, y, (D == 0) & (post == 0))
    out_post, lin_post = _ols_rows(X, y, (D == 0) & (post == 1))
    w_tpre, w_tpost, w_c = D * (1 - post), D * post, D.astype(float)
    eta_tpre = (w_tpre * y).mean() / w_tpre.mean()
    eta_tpost = (w_tpost * y).mean() / w_tpost.mean()
    reg_c = w_c * (out_post - out_pre)
    eta_c = reg_c.mean() / w_c.mean()
    att = (eta_tpost - eta_tpre) - eta_c
    inf_treat = (w_tpost * y - w_tpost * eta_tpost) / w_tpost.mean() - (w_tpre * y - w_tpre * eta_tpre) / w_tpre.mean()
    M1 = (w_c[:, None] * X).mean(axis=0)
    inf_cont = (reg_c - w_c * eta_c + lin_post @ M1 - lin_pre @ M1) / w_c.mean()
    return float(att), inf_treat - inf_cont


def std_ipw_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) IPW DiD for repeated cross-sections (DRDID ``std_ipw_did_rc``)."""
    ps, trim, lin_ps = _ps_rows(X, D)
    odds = ps * (1 - D) / (1 - ps)
    w = {"tpre": trim * D * (1 - post), "tpost": trim * D * post, "cpre": trim * odds * (1 - post), "cpost": trim * odds * post}
    eta = {k: v * y / v.mean() for k, v in w.items()}
    a = {k: v.mean() for k, v in eta.items()}
    att = (a["tpost"] - a["tpre"]) - (a["cpost"] - a["cpre"])
    inf = {k: eta[k] - w[k] * a[k] / w[k].mean() for k in w}
    M2 = {k: ((w[k] * (y - a[k]))[:, None] * X).mean(axis=0) / w[k].mean() for k in ("cpre", "cpost")}
    inf_cont = inf["cpost"] - inf["cpre"] + lin_ps @ (M2["cpost"] - M2["cpre"])
    return float(att), (inf["tpost"] - inf["tpre"]) - inf_cont


def drdid_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD for repeated cross-sections (Sant'Anna & Zhao 2020; DRDID
    ``drdid_rc``): logit propensity score and outcome regressions for both groups in both periods."""
    ps, trim, lin_ps = _ps_rows(X, D)
    c_pre, c_post = (D == 0) & (post == 0), (D == 0) & (post == 1)
    out_cpre, lin_cpre = _ols_rows(X, y, c_pre)
    out_cpost, lin_cpost = _ols_rows(X, y, c_post)
    out_c = post * out_cpost + (1 - post) * out_cpre
    out_tpre, lin_tpre = _ols_rows(X, y, (D == 1) & (post == 0))
    out_tpost, lin_tpost = _ols_rows(X, y, (D == 1) & (post == 1))
    odds = ps * (1 - D) / (1 - ps)
    w = {"tpre": trim * D * (1 - post), "tpost": trim * D * post, "cpre": trim * odds * (1 - post), "cpost": trim * odds * post,
         "d": trim * D, "dt1": trim * D * post, "dt0": trim * D * (1 - post)}
    m = {k: v.mean() for k, v in w.items()}
    r = y - out_c
    eta = {"tpre": w["tpre"] * r / m["tpre"], "tpost": w["tpost"] * r / m["tpost"], "cpre": w["cpre"] * r / m["cpre"], "cpost": w["cpost"] * r / m["cpost"],
           "dpost": w["d"] * (out_tpost - out_cpost) / m["d"], "dt1post": w["dt1"] * (out_tpost - out_cpost) / m["dt1"],
           "dpre": w["d"] * (out_tpre - out_cpre) / m["d"], "dt0pre": w["dt0"] * (out_tpre - out_cpre) / m["dt0"]}
    a = {k: v.mean() for k, v in eta.items()}
    att = (a["tpost"] - a["tpre"]) - (a["cpost"] - a["cpre"]) + (a["dpost"] - a["dt1post"]) - (a["dpre"] - a["dt0pre"])

    def centred(k: str, wk: str) -> np.ndarray:
        return eta[k] - w[wk] * a[k] / m[wk]

    M1_post = -(w["tpost"][:, None] * post[:, None] * X).mean(axis=0) / m["tpost"]
    M1_pre = -(w["tpre"][:, None] * (1 - post)[:, None] * X).mean(axis=0) / m["tpre"]
    inf_treat = centred("tpost", "tpost") - centred("tpre", "tpre") + lin_cpost @ M1_post + lin_cpre @ M1_pre
    M2_pre = ((w["cpre"] * (r - a["cpre"]))[:, None] * X).mean(axis=0) / m["cpre"]
    M2_post = ((w["cpost"] * (r - a["cpost"]))[:, None] * X).mean(axis=0) / m["cpost"]
    M3_post = -(w["cpost"][:, None] * post[:, None] * X).mean(axis=0) / m["cpost"]
    M3_pre = -(w["cpre"][:, None] * (1 - post)[:, None] * X).mean(axis=0) / m["cpre"]
    inf_cont = centred("cpost", "cpost") - centred("cpre", "cpre") + lin_ps @ (M2_post - M2_pre) + lin_cpost @ M3_post + lin_cpre @ M3_pre
    inf_eff = (centred("dpost", "d") - centred("dt1post", "dt1")) - (centred("dpre", "d") - centred("dt0pre", "dt0"))
    mom_post = ((w["d"] / m["d"] - w["dt1"] / m["dt1"])[:, None] * X).mean(axis=0)
    mom_pre = ((w["d"] / m["d"] - w["dt0"] / m["dt0"])[:, None] * X).mean(axis=0)
    inf_or = (lin_tpost - lin_cpost) @ mom_post - (lin_tpre - lin_cpre) @ mom_pre
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


RC_ESTIMATORS = {"dr": drdid_rc, "ipw": std_ipw_did_rc, "reg": reg_did_rc}


# ---- many cells on one sample: the panel estimators batched over periods ------------------------------------------
# Context: with a balanced panel, time-invariant covariates and a comparison group that does not change between
# cells (always so with never-treated comparisons; with not-yet-treated ones for the cells of a cohort whose later
# period lies in the same gap between cohorts), every ATT(g,t) cell of cohort g is a 2x2 estimator on the SAME
# units, the same D and the same X; only the outcome change Y_t - Y_b differs. Fitting each cell separately refits
# the same logit and the same comparison-group OLS design once per cell, which is where R did, csdid and a
# per-cell implementation spend their time.
# Decision: fit the propensity score and the OLS design once per (cohort, comparison set) and exploit that, given
# them, each estimator and its influence function are LINEAR in the outcome vector: with per-period quantities
# (``level[p]``, ``Phi[:, p]``) computed for every period column p at once (matrix products over the sample),
# cell (t, b) is ``att = level[t] - level[b]`` and ``inf = Phi[:, t] - Phi[:, b]``. The outcome regression is the
# OLS of the period outcomes on X among comparison units (k x P coefficients, one solve with P right-hand sides),
# whose difference is the regression of the change. Outcomes are taken relative to the first period column first so
# that large outcome levels do not cost precision in the differences.
# Consequences: equal to the per-cell DRDID estimators (:func:`drdid_panel` and friends) up to rounding (1e-13 on
# the test panels; tested) and to R did / csdid through them; the logit and OLS are fitted (number of cohorts x
# comparison sets) times instead of once per cell (45 -> 5 on a five-cohort, ten-period panel), and the rest is a
# handful of n x P products.


def _ols_control_multi(X: np.ndarray, Yp: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS of every column of ``Yp`` on ``X`` among comparison units: ``k x P`` coefficients and ``(X'X/n)^{-1}``
    (comparison rows, n = all rows), as :func:`_ols_control` column by column."""
    n = X.shape[0]
    c = D == 0
    Xc = X[c]
    XtX = Xc.T @ Xc
    if np.linalg.cond(XtX / n) > 1 / np.finfo(float).eps:
        raise CellEstimationError("the outcome regression design matrix is singular; remove collinear covariates")
    B = np.linalg.solve(XtX, Xc.T @ Yp[c])
    return B, np.linalg.inv(XtX / n)


def panel_periods(method: str, Yp: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-period pieces of the panel 2x2 estimator ``method`` on one sample (see the comment above).

    Parameters
    ----------
    method
        ``"dr"``, ``"ipw"`` or ``"reg"`` (:func:`drdid_panel`, :func:`std_ipw_did_panel`, :func:`reg_did_panel`).
    Yp
        ``n x P`` outcomes of the sample's units in the P periods its cells use.
    D
        ``n`` treatment indicator (1 = the cohort, 0 = the comparison group).
    X
        ``n x k`` covariates including the intercept column.

    Returns
    -------
    level, Phi
        ``P`` and ``n x P``: the cell comparing period columns t and b has estimate ``level[t] - level[b]`` and
        influence function ``Phi[:, t] - Phi[:, b]`` (DRDID scale, as the per-cell estimators).
    """
    n = X.shape[0]
    Yp = Yp - Yp[:, :1]
    if method in ("dr", "ipw"):
        ps, hess = _ps_pieces(X, D)
        trim = np.where(D == 0, ps < TRIM_LEVEL, True)
        w_t = trim * D
        w_c = trim * ps * (1 - D) / (1 - ps)
        mw_t, mw_c = w_t.mean(), w_c.mean()
        if method == "dr":
            B, xpx_inv = _ols_control_multi(X, Yp, D)
            R = Yp - X @ B
        else:
            R = Yp
        wt, wc = w_t / mw_t, w_c / mw_c
        eta_t = (wt @ R) / n
        eta_c = (wc @ R) / n
        Xwc = X * wc[:, None]
        M2 = (Xwc.T @ R - np.outer(Xwc.sum(axis=0), eta_c)) / n  # DRDID's M2 / mw_c, k x P
        # Phi = wt (R - eta_t) - [wc (R - eta_c) + (D - ps) x' hess M2] (+ the OLS terms of "dr", a multiple of R)
        u = wt - wc
        if method == "dr":
            v1 = xpx_inv @ (X.T @ wt) / n
            v3 = xpx_inv @ Xwc.sum(axis=0) / n
            u += (1.0 - D) * (X @ (v3 - v1))
        Phi = R * u[:, None]
        Phi += np.column_stack([wt, wc, (D - ps)[:, None] * X]) @ np.vstack([-eta_t, eta_c, -(hess @ M2)])
        return eta_t - eta_c, Phi
    if method == "reg":
        B, xpx_inv = _ols_control_multi(X, Yp, D)
        out = X @ B
        w = D.astype(np.float64)
        mw = w.mean()
        eta_t = (w @ Yp) / n / mw
        eta_c = (w @ out) / n / mw
        v1 = xpx_inv @ (w[:, None] * X).mean(axis=0)
        Phi = (w[:, None] * (Yp - eta_t)) / mw - (w[:, None] * (out - eta_c) + ((1.0 - D) * (X @ v1))[:, None] * (Yp - out)) / mw
        return eta_t - eta_c, Phi
    raise ValueError(f"unknown est_method {method!r}")
