"""The large-panel paths of the TWFE estimators: event-time dummies kept as integer codes (equal to the dense within
fit, to pyfixest ``feols`` with ``i()`` dummies and to PanelOLS), and ``twfe``'s automatic engine choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.did import event_study, twfe
from evidence.did.estimators import TWFE_NUMPY_ABOVE, _CodedWithinFit, _tdot, _WithinFit
from evidence.errors import EstimationError

from simdata import design_of, simulate_panel


def _staggered(n_units: int = 60, n_periods: int = 24, seed: int = 3, cluster: str | None = "region"):
    cohorts = {n_periods // 4: n_units // 4, n_periods // 2 - 1: n_units // 4, (3 * n_periods) // 4: n_units // 6}
    df = simulate_panel(n_units=n_units, n_periods=n_periods, cohorts=cohorts, effect=lambda e, g: 1 + 0.1 * e, seed=seed)
    return design_of(df, cluster=cluster)


def _dense(codes: np.ndarray, K: int) -> dict[str, np.ndarray]:
    return {f"d{k}": (codes == k).astype(float) for k in range(K)}


@pytest.mark.parametrize("seed", range(6))
def test_coded_fit_equals_the_dense_within_fit(seed):
    rng = np.random.default_rng(seed)
    N, T, K = int(rng.integers(8, 40)), int(rng.integers(4, 12)), int(rng.integers(1, 6))
    y = rng.normal(size=(N, T)) + rng.normal(size=N)[:, None]
    codes = np.where(rng.random((N, T)) < 0.6, rng.integers(0, K, (N, T)), -1)
    groups = rng.integers(0, max(2, N // 3), N) if seed % 2 else np.arange(N)
    groups = pd.factorize(groups)[0]
    controls = {"x1": rng.normal(size=(N, T))} if seed % 3 == 0 else {}
    a = _CodedWithinFit(y, codes, [f"d{k}" for k in range(K)], controls, groups)
    b = _WithinFit(y, {**_dense(codes, K), **controls}, groups)
    assert list(a.params.index) == list(b.params.index)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.cov.to_numpy(), b.cov.to_numpy(), rtol=1e-10, atol=1e-14)
    assert a.rsquared_within == pytest.approx(b.rsquared_within, abs=1e-12) and a.nobs == b.nobs == N * T


def test_coded_fit_drops_absorbed_dummies_and_refuses_collinear_ones_as_the_dense_fit_does():
    rng = np.random.default_rng(0)
    N, T = 12, 6
    y = rng.normal(size=(N, T))
    codes = np.full((N, T), -1)
    codes[:, 2] = 0  # dummy 0 is the period-2 dummy: absorbed by the period effects
    codes[:6, 4:] = 1
    codes[6:9, 3] = 2
    a = _CodedWithinFit(y, codes, ["d0", "d1", "d2"], {}, np.arange(N))
    b = _WithinFit(y, _dense(codes, 3), np.arange(N))
    assert list(a.params.index) == list(b.params.index) == ["d1", "d2"]
    np.testing.assert_allclose(a.cov.to_numpy(), b.cov.to_numpy(), rtol=1e-10)
    # two dummies that together equal the unit effects of units 0-5 in periods 4-5 minus another: collinear
    codes = np.full((N, T), -1)
    codes[:6, :3] = 0
    codes[:6, 3:] = 1  # d0 + d1 = the sum of the unit dummies of units 0-5
    for fit in (lambda: _CodedWithinFit(y, codes, ["d0", "d1"], {}, np.arange(N)), lambda: _WithinFit(y, _dense(codes, 2), np.arange(N))):
        with pytest.raises(EstimationError, match="collinear regressors"):
            fit()


def test_event_study_equals_pyfixest_feols_with_i_dummies_estimates_and_clustered_ses():
    pf = pytest.importorskip("pyfixest")
    d = _staggered()
    tid = event_study(d, "y", window=(-4, 6)).tidy().query("estimand == 'event_time'").set_index("event_time")
    N, T = d.panel.n_units, d.panel.n_periods
    e = d.event_time().ravel()
    rel = np.where(np.isnan(e), -1, np.clip(e, -4, 6)).astype(int)  # never-treated units on the reference level
    f = pd.DataFrame({"y": d.panel.matrix("y").ravel(), "unit": np.repeat(np.arange(N), T), "tt": np.tile(np.arange(T), N), "rel": rel, "cl": np.repeat(d.cluster_codes, T)})
    fx = pf.feols("y ~ i(rel, ref=-1) | unit + tt", data=f, vcov={"CRV1": "cl"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    names = [f"rel::{k}" for k in tid.index]
    n = N * T  # the package's small-sample factor G/(G-1)(n-1)/n = pyfixest's G/(G-1) times (n-1)/n
    np.testing.assert_allclose(tid["estimate"].to_numpy(), fx.coef()[names].to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(tid["std_error"].to_numpy(), fx.se()[names].to_numpy() * np.sqrt((n - 1) / n), rtol=1e-10)


def test_event_study_numpy_and_panelols_agree_with_controls_and_clusters():
    rng = np.random.default_rng(5)
    df = simulate_panel(n_units=40, n_periods=14, cohorts={5: 10, 9: 10}, effect=1.0, seed=5)
    df["x1"] = rng.normal(size=len(df))
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel, validate_panel

    out, freq, _ = validate_panel(df, name="s", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": "continuous"}, cluster="region", controls=["x1"], extra=["first"])
    panel = Panel(out, ["y"], {"y": "continuous"}, freq, controls=["x1"])
    d = design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1])
    a = event_study(d, "y", window=(-3, 3), controls=["x1"], engine="numpy").tidy()
    b = event_study(d, "y", window=(-3, 3), controls=["x1"], engine="linearmodels").tidy()
    np.testing.assert_allclose(a[["estimate", "std_error"]].to_numpy(), b[["estimate", "std_error"]].to_numpy(), rtol=1e-10, atol=1e-12)


def test_twfe_auto_engine_uses_panelols_on_small_panels_and_numpy_from_the_threshold():
    small = _staggered(n_units=20, n_periods=12)
    assert small.panel.n_units * small.panel.n_periods < TWFE_NUMPY_ABOVE
    res = twfe(small, "y")
    assert res.details["engine"] == "linearmodels"
    # 200 units x 50 periods = the threshold: the numpy engine, equal to PanelOLS to 1e-10
    big = _staggered(n_units=200, n_periods=50, seed=8)
    assert big.panel.n_units * big.panel.n_periods == TWFE_NUMPY_ABOVE
    auto = twfe(big, "y")
    assert auto.details["engine"] == "numpy"
    lm = twfe(big, "y", engine="linearmodels")
    assert lm.details["engine"] == "linearmodels"
    cols = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    np.testing.assert_allclose(auto.tidy()[cols].to_numpy(float), lm.tidy()[cols].to_numpy(float), rtol=1e-10, atol=1e-12)
    with pytest.raises(EstimationError, match="engine 'fast' is unknown"):
        twfe(small, "y", engine="fast")


def test_blocked_cross_products_equal_plain_ones():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5000, 48)), rng.normal(size=(5000, 3))
    np.testing.assert_allclose(_tdot(a, a), a.T @ a, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(_tdot(a, b[:, 0]), a.T @ b[:, 0], rtol=1e-12, atol=1e-9)
