"""Shared inference tools: cluster-robust covariance, two-way within transformation, t-based intervals.

Convention (every estimator in the package that reports cluster-robust standard errors): the sandwich
``(X'X)^-1 [sum_g X_g'e_g e_g'X_g] (X'X)^-1`` times ``G/(G-1)·(n-1)/n`` (linearmodels' ``group_debias``), with fixed
effects nested in the clusters not counted as regressors; intervals and p-values from Student's t with G - 1
degrees of freedom.
"""

from __future__ import annotations

import numpy as np

from .errors import EstimationError


def group_sums(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Column sums of ``values`` (n x k, or n) within groups coded 0..n_groups-1: (n_groups x k), or (n_groups,).

    Context: ``np.add.at`` was the cost of clustered standard errors on large panels (0.72 s for 1M rows x 48
    columns into 20,000 clusters). Decision: one column, ``np.bincount``; several, a sparse group-indicator matrix
    times the values (0.20 s there). Consequences: each group's sum adds its rows in row order, as ``np.add.at`` did:
    the same numbers to the last bit.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(groups, weights=values, minlength=n_groups)
    from scipy import sparse

    n = values.shape[0]
    S = sparse.csr_matrix((np.ones(n), (groups, np.arange(n))), shape=(n_groups, n))
    return np.asarray(S @ values)


def cluster_vcov(X: np.ndarray, resid: np.ndarray, groups: np.ndarray, bread: np.ndarray | None = None) -> np.ndarray:
    """Cluster-robust covariance of OLS coefficients (see the module's convention).

    Parameters
    ----------
    X
        Regressors (n x k), already partialled out of any fixed effects.
    resid
        Residuals (n,).
    groups
        Cluster code per row, integers 0..G-1.
    bread
        ``(X'X)^-1`` when already computed.
    """
    if bread is None:
        bread = np.linalg.pinv(X.T @ X)
    G = int(groups.max()) + 1
    if G < 2:
        raise EstimationError(f"only {G} cluster(s); cluster-robust inference needs at least two (check data.cluster).")
    scores = group_sums(X * resid[:, None], groups, G)
    n = X.shape[0]
    return G / (G - 1) * (n - 1) / n * bread @ (scores.T @ scores) @ bread


def demean_two_way(a: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Two-way within transformation of a (units x periods [x k]) array: the residual from unit and period effects.

    Balanced (``mask`` None or all True): unit and period means removed, exactly the projection off unit and period
    fixed effects (Frisch-Waugh-Lovell). Unbalanced (``mask`` = observed cells, units x periods): the exact least
    squares projection on the observed cells, returned with zeros in the unobserved cells.

    Context: ``data.missing: allow`` gives panels with missing cells, where mean removal is no longer the projection
    and fixest/pyfixest iterate (alternating projections) to a tolerance. Decision: solve the normal equations
    exactly — the unit effects are concentrated out, leaving a periods x periods system
    ``(diag(n_t) - M' diag(1/n_i) M) l = c - M' diag(1/n_i) r`` (M the observed-cell indicator, r and c the unit and
    period sums), solved by least squares because it has rank T - 1 (one normalisation), for every column at once.
    Consequences: exact to rounding, vectorised over units and columns, cost O(N T^2 + T^3); disconnected designs
    still get the (unique) projection.
    """
    if mask is None or bool(np.all(mask)):
        return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean(axis=(0, 1), keepdims=True)
    mask = np.asarray(mask, dtype=bool)
    N, T = mask.shape
    extra = a.shape[2:]
    mk = mask.reshape(mask.shape + (1,) * len(extra))
    A = np.where(mk, a, 0.0).reshape(N, T, -1)
    m = mask.astype(float)
    n_i = m.sum(axis=1)
    inv_i = np.divide(1.0, n_i, out=np.zeros(N), where=n_i > 0)
    r = A.sum(axis=1)  # N x k
    c = A.sum(axis=0)  # T x k
    S = np.diag(m.sum(axis=0)) - m.T @ (m * inv_i[:, None])
    lam = np.linalg.lstsq(S, c - m.T @ (r * inv_i[:, None]), rcond=None)[0]  # T x k
    alpha = (r - m @ lam) * inv_i[:, None]  # N x k
    out = A - alpha[:, None, :] - lam[None, :, :]
    return np.where(mk, out.reshape(a.shape), 0.0)
