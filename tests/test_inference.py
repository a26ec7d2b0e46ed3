"""evidence.inference: group sums (the clustered scores) and the cluster-robust covariance against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.inference import cluster_vcov, group_sums


@pytest.mark.parametrize("k", [None, 1, 7])
def test_group_sums_equal_np_add_at_to_the_last_bit(k):
    rng = np.random.default_rng(11)
    n, G = 5_000, 60  # group 59 left empty
    groups = rng.integers(0, G - 1, n)
    values = rng.normal(size=n if k is None else (n, k)) * 1e3
    want = np.zeros(G if k is None else (G, k))
    np.add.at(want, groups, values)
    got = group_sums(values, groups, G)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert np.all(got[G - 1] == 0)


def test_cluster_vcov_equals_statsmodels_cluster_robust_ols():
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    n, G = 600, 25
    groups = rng.integers(0, G, n)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ np.array([1.0, 0.5, -0.2]) + rng.normal(size=G)[groups] + rng.normal(size=n)
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups})  # CR1: G/(G-1) (n-1)/(n-k)
    V = cluster_vcov(X, y - X @ fit.params, groups)
    k = X.shape[1]
    assert np.allclose(V * n / (n - k), fit.cov_params(), rtol=1e-10)  # ours: G/(G-1) (n-1)/n
