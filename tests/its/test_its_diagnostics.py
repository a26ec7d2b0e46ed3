"""ITS residual diagnostics: equal to statsmodels' tests on the same residuals, and they detect AR(1) errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.diagnostic import acorr_breusch_godfrey, acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson
from statsmodels.tsa.stattools import acf, pacf

from evidence.design import design_from_cohort_column
from evidence.its import its
from evidence.its.diagnostics import acf_lags, autocorrelation_tests, default_test_lags
from evidence.panel import Panel, validate_panel

T, T0 = 48, 24
t = np.arange(T)
D = (t >= T0).astype(float)


def make_design(y: np.ndarray, g: list[int], kind: str = "continuous", population: np.ndarray | None = None):
    """Monthly design from a (units x periods) outcome array (synthetic data)."""
    n, TT = y.shape
    months = pd.date_range("2012-01-01", periods=TT, freq="MS").strftime("%Y-%m-%d").to_numpy()
    df = pd.DataFrame({"area": np.repeat([f"U{i:03d}" for i in range(n)], TT), "month": np.tile(months, n), "y": y.ravel(), "first": np.repeat([months[k] if k >= 0 else "0" for k in g], TT)})
    if population is not None:
        df["pop"] = population.ravel()
    out, f, _ = validate_panel(df, name="sim", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": kind}, population="pop" if population is not None else None, extra=["first"])
    panel = Panel(out, ["y"], {"y": kind}, f, source="sim")
    return design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1])


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    e = rng.normal(size=(n, T))
    u = np.empty((n, T))
    u[:, 0] = e[:, 0] / np.sqrt(1 - rho**2)
    for s in range(1, T):
        u[:, s] = rho * u[:, s - 1] + e[:, s]
    return u


@pytest.fixture(scope="module")
def ar_design():
    rng = np.random.default_rng(12)
    y = 10 + 0.2 * t + 2 * D + 1.5 * np.cos(2 * np.pi * (t % 12) / 12) + ar1(rng, 2, 0.7)
    return make_design(y, [T0, -1]), y


def test_tests_equal_statsmodels_on_the_same_residuals(ar_design):
    d, y = ar_design
    res = its(d, "y", units=["U000"])
    X = res.exog.to_numpy()
    ols = sm.OLS(y[0], X).fit()
    resid = np.asarray(ols.resid)
    assert np.allclose(res.residuals["treated"], resid, atol=1e-10)
    bg_lags, lb_lags = default_test_lags(T, X.shape[1], 12)
    assert (bg_lags, lb_lags) == ([1, 12], [1, 12])  # BG orders 1 and min(12, (48 - 8) // 3); Ljung-Box at 1, 12 (24 > T/3)
    tab = res.diagnostics()
    assert list(tab.columns) == ["series", "test", "lag", "statistic", "p_value", "residuals"]
    got_bg = tab[tab["test"] == "breusch_godfrey"]
    assert list(got_bg["lag"]) == bg_lags
    for _, got in got_bg.iterrows():
        bg = acorr_breusch_godfrey(ols, nlags=int(got["lag"]), result_object=True)
        assert got["statistic"] == pytest.approx(bg.lm, rel=1e-10) and got["p_value"] == pytest.approx(bg.lmpval, rel=1e-8)
    lb = acorr_ljungbox(resid, lags=lb_lags, return_df=True)
    got_lb = tab[tab["test"] == "ljung_box"].set_index("lag")
    assert np.allclose(got_lb["statistic"].to_numpy(), lb["lb_stat"].to_numpy(), rtol=1e-10)
    assert np.allclose(got_lb["p_value"].to_numpy(), lb["lb_pvalue"].to_numpy(), rtol=1e-8)
    assert tab.loc[tab["test"] == "durbin_watson", "statistic"].iloc[0] == pytest.approx(durbin_watson(resid), rel=1e-12)
    nl = acf_lags(T, 12)
    assert nl == 23 and len(res.acf) == len(res.pacf) == nl + 1
    assert np.allclose(res.acf, acf(resid, nlags=nl, fft=False), atol=1e-12)
    assert np.allclose(res.pacf, pacf(resid, nlags=nl, method="ywm"), atol=1e-12)
    custom = res.diagnostics(lags=[2, 6])
    assert list(custom.loc[custom["test"] == "ljung_box", "lag"]) == [2, 6]
    assert list(custom.loc[custom["test"] == "breusch_godfrey", "lag"]) == [2, 6]
    assert custom.loc[custom["test"] == "breusch_godfrey", "statistic"].iloc[1] == pytest.approx(acorr_breusch_godfrey(ols, nlags=6, result_object=True).lm, rel=1e-10)


def test_ar1_errors_are_detected_white_noise_is_not(ar_design):
    d, _ = ar_design
    tab = its(d, "y", units=["U000"]).diagnostics().set_index(["test", "lag"])
    assert tab.loc[("breusch_godfrey", 1), "p_value"] < 0.01
    assert tab.loc[("breusch_godfrey", 12), "p_value"] < 0.05  # lower power with 12 lags on 48 periods
    assert tab.loc[("durbin_watson", 1), "statistic"] < 1.2
    assert (tab.xs("ljung_box", level="test")["p_value"] < 0.01).all()
    rng = np.random.default_rng(5)
    y = 10 + 0.2 * t + 2 * D + rng.normal(size=(2, T))
    res = its(make_design(y, [T0, -1]), "y", units=["U000"])
    wn = res.diagnostics().set_index(["test", "lag"])
    assert 1.5 < wn.loc[("durbin_watson", 1), "statistic"] < 2.5
    assert (wn.xs("breusch_godfrey", level="test")["p_value"] > 0.05).all()
    assert abs(res.acf[1]) < 0.3


def test_count_models_use_pearson_residuals_without_breusch_godfrey():
    rng = np.random.default_rng(3)
    pop = np.full((2, T), 1e5)
    y = rng.poisson(pop * 1e-3 * np.exp(0.005 * t - 0.1 * D)).astype(float)
    res = its(make_design(y, [T0, -1], kind="count", population=pop), "y", units=["U000"], family="poisson", seasonality="none")
    tab = res.diagnostics()
    assert set(tab["test"]) == {"ljung_box", "durbin_watson"} and set(tab["residuals"]) == {"pearson"}
    pr = np.asarray(res.model.resid_pearson)
    _, lb_lags = default_test_lags(T, 4, 12)
    lb = acorr_ljungbox(pr, lags=lb_lags, return_df=True)
    assert np.allclose(tab.loc[tab["test"] == "ljung_box", "p_value"].to_numpy(), lb["lb_pvalue"].to_numpy(), rtol=1e-8)
    assert np.allclose(res.acf, acf(pr, nlags=acf_lags(T, 12), fft=False))


def test_controlled_its_diagnoses_each_series_and_the_difference():
    rng = np.random.default_rng(8)
    common = ar1(rng, 1, 0.6)[0]  # a shared AR(1) shock: each series autocorrelated, the difference much less so
    y = np.vstack([20 + 0.1 * t + 2 * D + common, 15 + 0.1 * t + common]) + rng.normal(0, 0.3, (2, T))
    res = its(make_design(y, [T0, -1]), "y", control="pooled", seasonality="none")
    tab = res.diagnostics()
    assert list(dict.fromkeys(tab["series"])) == ["treated", "control", "difference"]
    X = res.base_exog.to_numpy()
    for name, yy in (("treated", y[0]), ("control", y[1]), ("difference", y[0] - y[1])):
        ols = sm.OLS(yy, X).fit()
        got = tab[(tab["series"] == name) & (tab["test"] == "breusch_godfrey")].iloc[-1]
        assert got["statistic"] == pytest.approx(acorr_breusch_godfrey(ols, nlags=int(got["lag"]), result_object=True).lm, rel=1e-8)
        assert np.allclose(res.residuals[name], ols.resid, atol=1e-8)
    dw = tab[tab["test"] == "durbin_watson"].set_index("series")["statistic"]
    assert dw["treated"] < 1.2 and dw["control"] < 1.2 and dw["difference"] > 1.5
    assert set(res.acf_by_series) == {"treated", "control", "difference"}


def test_autocorrelation_tests_function_and_short_series():
    r = np.random.default_rng(0).normal(size=12)
    tab = autocorrelation_tests({"s": r}, n_params=4, season_period=1)
    assert list(tab["test"]) == ["ljung_box"] * 3 + ["durbin_watson"]  # lags 1, 2, 4 (<= 12 / 3); no BG without a model
    assert list(tab["lag"]) == [1, 2, 4, 1]
    assert default_test_lags(12, 4, 1) == ([1, 2], [1, 2, 4]) and default_test_lags(9, 4, 1) == ([1], [1, 2])
    assert acf_lags(12, 1) == 5 and acf_lags(4, 12) == 1
