"""Shared inference tools: cluster-robust covariance, two-way within transformation, t-based intervals.

Convention (every estimator in the package that reports cluster-robust standard errors): the sandwich
``(X'X)^-1 [sum_g X_g'e_g e_g'X_g] (X'X)^-1`` times ``G/(G-1)·(n-1)/n`` (linearmodels' ``group_debias``), with fixed
effects nested in the clusters not counted as regressors; intervals and p-values from Student's t with G - 1
degrees of freedom.
"""

from __future__ import annotations

import numpy as np

from .errors import EstimationError


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
    scores = np.zeros((G, X.shape[1]))
    np.add.at(scores, groups, X * resid[:, None])
    n = X.shape[0]
    return G / (G - 1) * (n - 1) / n * bread @ (scores.T @ scores) @ bread


def demean_two_way(a: np.ndarray) -> np.ndarray:
    """Two-way within transformation of a balanced (units x periods [x k]) array: remove unit and period means.

    For a balanced panel this is exactly the projection off unit and period fixed effects (Frisch-Waugh-Lovell).
    """
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean(axis=(0, 1), keepdims=True)
