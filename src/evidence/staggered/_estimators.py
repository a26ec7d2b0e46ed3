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
