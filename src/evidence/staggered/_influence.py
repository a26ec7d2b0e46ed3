"""Influence functions of the ATT(g,t) estimates, and of linear combinations of them.

Every quantity the package reports (an ATT(g,t), an aggregated effect) has an influence function that is a linear
combination of the ATT(g,t) influence functions plus, for aggregations with estimated weights, a term that depends
only on the unit's cohort (R ``did``'s ``wif``). A combination is described by

* ``W`` -- a ``K x J`` matrix of weights on the K ATT(g,t) influence functions, and
* ``D`` -- a ``C x J`` matrix of per-cohort offsets (rows follow the unit cohorts ``cohort_values``),

so that unit i's influence value for output j is ``sum_k IF[i, k] W[k, j] + D[cohort(i), j]``. The scaling is R's:
``se_j = sqrt(sum_i Z[i, j]^2) / n`` (or the cluster-sum version).

Two representations implement the same interface:

* :class:`DenseInfluence` stores the ``n x K`` matrix (needed with covariates).
* :class:`CohortInfluence` exploits that, without covariates, every unit of a cohort enters each 2x2 comparison with
  the same coefficient: ``IF[i, k] = a[c, k] * (Y[i, t_k] - Y[i, b_k] - mu[c, k])``. Standard errors and the full
  covariance then follow from per-cohort means and centred T x T scatter matrices, computed once in O(n T^2); the
  ``n x K`` matrix is only formed on request (bootstrap, clustering, ``influence_function``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


class InfluenceBase:
    """Shared machinery: cluster sums and Gram matrices from materialised combinations."""

    n_units: int
    n_cells: int
    cohort_codes: np.ndarray
    n_cohorts: int

    def __init__(self, cohort_codes: np.ndarray, n_cohorts: int, cluster_codes: np.ndarray | None) -> None:
        self.cohort_codes = cohort_codes
        self.n_cohorts = n_cohorts
        self.n_units = int(len(cohort_codes))
        self.cluster_codes = cluster_codes
        self._csum: sparse.csr_matrix | None = None
        if cluster_codes is not None:
            n_cl = int(cluster_codes.max()) + 1
            self._csum = sparse.csr_matrix(
                (np.ones(self.n_units), (cluster_codes, np.arange(self.n_units))), shape=(n_cl, self.n_units)
            )

    def _check(self, W: np.ndarray, D: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        W = np.asarray(W, dtype=np.float64)
        if W.ndim == 1:
            W = W[:, None]
        if D is not None:
            D = np.asarray(D, dtype=np.float64)
            if D.ndim == 1:
                D = D[:, None]
            if not np.any(D):
                D = None
        return W, D

    def combine(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        """The ``n x J`` influence functions of the combinations ``(W, D)``."""
        raise NotImplementedError

    def cluster_sums(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        """Influence functions summed within clusters (``n_clusters x J``; units when there is no cluster)."""
        Z = self.combine(W, D)
        if self._csum is None:
            return Z
        return np.asarray(self._csum @ Z)

    def gram(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        """``S'S`` with S the cluster sums of the combinations: ``gram / n**2`` is their covariance matrix."""
        S = self.cluster_sums(W, D)
        return S.T @ S


class DenseInfluence(InfluenceBase):
    """Influence functions held as an ``n x K`` matrix."""

    def __init__(
        self, M: np.ndarray, cohort_codes: np.ndarray, n_cohorts: int, cluster_codes: np.ndarray | None = None
    ) -> None:
        super().__init__(cohort_codes, n_cohorts, cluster_codes)
        self.M = M
        self.n_cells = int(M.shape[1])
        self._moments: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def gram(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        """``Z'Z`` of the combinations, from ``M'M`` and the cohort sums of ``M`` (computed once).

        Context: the aggregations ask for the Gram matrix of several combinations of the same cells; forming each
        ``n x J`` combination costs a pass over the ``n x K`` matrix. Decision: with unit-level inference,
        ``Z = M W + D[cohort]`` gives ``Z'Z = W'(M'M)W + W'(M_c'D) + (M_c'D)'W + D' diag(n_c) D`` with ``M_c`` the
        ``C x K`` cohort sums of M, so one pass (on the first call) serves every later combination. Consequences:
        equal to the direct product up to rounding; with clusters the cluster sums are formed as before.
        """
        if self._csum is not None:
            return super().gram(W, D)
        W, D = self._check(W, D)
        if self._moments is None:
            ind = sparse.csr_matrix(
                (np.ones(self.n_units), (self.cohort_codes, np.arange(self.n_units))), shape=(self.n_cohorts, self.n_units)
            )
            n_c = np.bincount(self.cohort_codes, minlength=self.n_cohorts).astype(np.float64)
            self._moments = (self.M.T @ self.M, np.asarray(ind @ self.M), n_c)
        G, Mc, n_c = self._moments
        out = W.T @ G @ W
        if D is not None:
            cross = W.T @ (Mc.T @ D)
            out = out + cross + cross.T + D.T @ (n_c[:, None] * D)
        return out

    def combine(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        W, D = self._check(W, D)
        if D is None and W.shape == (self.n_cells, self.n_cells) and np.array_equal(W, np.eye(self.n_cells)):
            return self.M  # the cells themselves (read-only use by callers: gram, cluster sums, the bootstrap)
        Z = self.M @ W
        if D is not None:
            Z += D[self.cohort_codes]
        return Z


class CohortInfluence(InfluenceBase):
    """Influence functions of no-covariate 2x2 comparisons, from cohort-level sufficient statistics.

    Parameters
    ----------
    Y
        ``n x T`` outcomes.
    cohort_codes
        Cohort code (0..C-1) of every unit.
    n_cohorts
        C.
    t_idx, b_idx
        Column of the later and of the base period of each of the K cells (equal for a normalised reference cell).
    a, mu
        ``C x K`` coefficient and centring value: ``IF[i, k] = a[c, k] * (Y[i, t_k] - Y[i, b_k] - mu[c, k])``.
    cluster_codes
        Cluster code per unit or ``None``.
    """

    def __init__(
        self,
        Y: np.ndarray,
        cohort_codes: np.ndarray,
        n_cohorts: int,
        t_idx: np.ndarray,
        b_idx: np.ndarray,
        a: np.ndarray,
        mu: np.ndarray,
        cluster_codes: np.ndarray | None = None,
        stats: tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        super().__init__(cohort_codes, n_cohorts, cluster_codes)
        self.Y = Y
        T = Y.shape[1]
        K = len(t_idx)
        self.n_cells = K
        A = np.zeros((T, K))
        cols = np.arange(K)
        np.add.at(A, (t_idx, cols), 1.0)
        np.add.at(A, (b_idx, cols), -1.0)
        self.A = A
        self.a = a
        self.amu = a * mu
        self.idx, self.n_c, self.ybar, self.scatter = (
            stats if stats is not None else cohort_stats(Y, cohort_codes, n_cohorts)
        )

    def _pieces(self, W: np.ndarray, D: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per cohort: ``P_c`` (T x J) and ``r_c`` (J) with ``Z_i = (Y_i - ybar_c) P_c + r_c``."""
        out = []
        for c in range(self.n_cohorts):
            P = self.A @ (self.a[c][:, None] * W)
            r = self.ybar[c] @ P - self.amu[c] @ W
            if D is not None:
                r = r + D[c]
            out.append((P, r))
        return out

    def combine(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        W, D = self._check(W, D)
        Z = np.empty((self.n_units, W.shape[1]))
        for c, (P, r) in enumerate(self._pieces(W, D)):
            ix = self.idx[c]
            if ix.size:
                Z[ix] = (self.Y[ix] - self.ybar[c]) @ P + r
        return Z

    def gram(self, W: np.ndarray, D: np.ndarray | None = None) -> np.ndarray:
        if self._csum is not None:
            return super().gram(W, D)
        W, D = self._check(W, D)
        G = np.zeros((W.shape[1], W.shape[1]))
        for c, (P, r) in enumerate(self._pieces(W, D)):
            G += P.T @ self.scatter[c] @ P + self.n_c[c] * np.outer(r, r)
        return G


def cohort_stats(
    Y: np.ndarray, cohort_codes: np.ndarray, n_cohorts: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Row indices, sizes, mean outcome paths and centred scatter matrices of each cohort."""
    n_c = np.bincount(cohort_codes, minlength=n_cohorts)
    T = Y.shape[1]
    ybar = np.zeros((n_cohorts, T))
    scatter = np.zeros((n_cohorts, T, T))
    idx = []
    for c in range(n_cohorts):
        ix = np.flatnonzero(cohort_codes == c)
        idx.append(ix)
        if ix.size:
            Yc = Y[ix]
            m = Yc.mean(axis=0)
            Yc -= m
            ybar[c] = m
            scatter[c] = Yc.T @ Yc
    return idx, n_c.astype(np.float64), ybar, scatter
