"""Poisson fixed-effects models for counts with zeros against pyfixest ``fepois`` (fixest's algorithm) and against
the known truth of SYNTHETIC count panels."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.did.poisson import poisson_event_study, poisson_twfe
from evidence.errors import EstimationError

from simdata import cohort_index, count_design

pf = pytest.importorskip("pyfixest")


def _counts(n=120, T=24, cohorts=((8, 30), (14, 30)), effect=-0.2, base=2.0, seed=0, all_zero_units=0, x_effect=0.0):
    """SYNTHETIC Poisson panel: log mean = a_i + l_t + effect * D (+ x_effect * x); a few units with only zeros."""
    rng = np.random.default_rng(seed)
    g = cohort_index(n, cohorts)
    t = np.arange(T)
    D = (g[:, None] >= 0) & (t[None, :] >= g[:, None])
    x = rng.normal(0, 1, (n, T)) + 0.5 * D
    eta = np.log(base) + rng.normal(0, 0.4, n)[:, None] + 0.03 * t[None, :] + effect * D + x_effect * x
    y = rng.poisson(np.exp(eta)).astype(float)
    if all_zero_units:
        y[-all_zero_units:] = 0.0
    return count_design(g, y, x if x_effect else None)


def _frame(design, df):
    f = df.copy()
    f["tt"] = f.groupby("area").cumcount()
    f["D"] = design.treatment_matrix().ravel()
    return f


def test_poisson_twfe_equals_pyfixest_fepois_with_zeros_and_all_zero_units():
    d, df = _counts(all_zero_units=5, seed=1)
    r = poisson_twfe(d, "y")
    t = r.tidy().set_index("estimand")
    fx = pf.fepois("y ~ D | area + tt", data=_frame(d, df), vcov={"CRV1": "area"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    assert t.loc["att_log_ratio", "estimate"] == pytest.approx(float(fx.coef()["D"]), abs=1e-6)
    n = int(t.loc["att_log_ratio", "n_obs"])
    assert n == fx._N  # the same observations: units with only zeros dropped by both
    # standard errors: pyfixest's CRV1 with ssc(k_adj=False, G_adj=True), times the package's (n-1)/n
    assert t.loc["att_log_ratio", "std_error"] == pytest.approx(float(fx.se()["D"]) * np.sqrt((n - 1) / n), rel=1e-6)
    assert "5 unit(s) with only zero counts" in r.details["notes"][0]
    assert t.loc["att_pct", "estimate"] == pytest.approx(100 * np.expm1(t.loc["att_log_ratio", "estimate"]))


def test_poisson_event_study_and_controls_equal_pyfixest():
    d, df = _counts(seed=2, x_effect=0.3)
    es = poisson_event_study(d, "y", window=(-5, 5), controls=["x"]).tidy()
    f = _frame(d, df)
    e = np.clip(d.event_time().ravel(), -5, 5)
    for k in es["event_time"]:
        f[f"ev{int(k) + 10}"] = (e == k).astype(float)
    rhs = " + ".join(f"ev{int(k) + 10}" for k in es["event_time"])
    fx = pf.fepois(f"y ~ {rhs} + x | area + tt", data=f, vcov={"CRV1": "area"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    names = [f"ev{int(k) + 10}" for k in es["event_time"]]
    np.testing.assert_allclose(es["estimate"].to_numpy(), fx.coef()[names].to_numpy(), atol=1e-6)
    n = int(es["n_obs"].iloc[0])
    np.testing.assert_allclose(es["std_error"].to_numpy(), fx.se()[names].to_numpy() * np.sqrt((n - 1) / n), rtol=1e-6)
    tw = poisson_twfe(d, "y", controls=["x"]).tidy().iloc[0]
    fx2 = pf.fepois("y ~ D + x | area + tt", data=f, vcov={"CRV1": "area"})
    assert tw["estimate"] == pytest.approx(float(fx2.coef()["D"]), abs=1e-6)


def test_poisson_twfe_recovers_the_known_effect_on_synthetic_counts():
    hits, ests = 0, []
    for s in range(20):
        d, _ = _counts(seed=100 + s, effect=-0.2)
        r = poisson_twfe(d, "y").tidy().iloc[0]
        ests.append(r["estimate"])
        hits += r["ci_lower"] <= -0.2 <= r["ci_upper"]
    assert abs(np.mean(ests) + 0.2) < 0.02  # unbiased for the log ratio
    assert 16 <= hits <= 20  # 95% intervals cover the truth (binomial(20, 0.95): P(hits < 16) < 1.6%)


def test_poisson_refuses_negative_outcomes_and_collinear_controls():
    d, df = _counts(seed=3)
    d.panel.data.loc[0, "y"] = -1.0
    with pytest.raises(EstimationError, match="negative values"):
        poisson_twfe(d, "y")
