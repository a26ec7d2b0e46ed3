"""Extended TWFE (Wooldridge) for counts: cohort x period log ratios equal pyfixest ``fepois`` on the saturated
regression; average partial effects recover the known truth of SYNTHETIC Poisson panels with heterogeneous effects."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.errors import EstimationError
from evidence.staggered.etwfe import etwfe_poisson

from simdata import cohort_index, count_design


def _sim(seed, n=150, T=20, cohorts=((8, 40), (13, 40)), deltas=None, never=True):
    """SYNTHETIC counts: log mean = a_i + 0.02 t + delta_g (1 + 0.05 (t - g)) after treatment; returns the design,
    the frame and the true simple APE (mean over treated cells of mu - mu exp(-delta)) and % effect."""
    deltas = deltas or {8: -0.3, 13: -0.1}
    rng = np.random.default_rng(seed)
    g = cohort_index(n, cohorts)
    if not never:
        g[g < 0] = cohorts[-1][0]
    t = np.arange(T)
    D = (g[:, None] >= 0) & (t[None, :] >= g[:, None])
    dl = np.where(D, np.vectorize(lambda c: deltas.get(c, 0.0))(g)[:, None] * (1 + 0.05 * (t[None, :] - g[:, None])), 0.0)
    mu = np.exp(np.log(1.5) + rng.normal(0, 0.5, n)[:, None] + 0.02 * t[None, :] + dl)
    y = rng.poisson(mu).astype(float)
    truth = float(np.mean((mu - mu * np.exp(-dl))[D]))
    d, df = count_design(g, y)
    return d, df, truth


def test_cohort_period_effects_equal_pyfixest_fepois_on_the_saturated_regression():
    pf = pytest.importorskip("pyfixest")
    d, df, _ = _sim(1)
    res = etwfe_poisson(d, "y")
    f = df.copy()
    f["tt"] = f.groupby("area").cumcount()
    g = np.repeat(d.g, d.panel.n_periods)
    names = []
    for j, (c, s) in enumerate(res.details["cells"]):
        f[f"c{j}"] = ((g == c) & (f["tt"] == s)).astype(float)
        names.append(f"c{j}")
    fx = pf.fepois(f"y ~ {' + '.join(names)} | area + tt", data=f, vcov={"CRV1": "area"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    np.testing.assert_allclose(res.details["delta"], fx.coef()[names].to_numpy(), atol=1e-6)
    cp = res.tidy().query("estimand == 'cohort_period'")
    n = int(cp["n_obs"].iloc[0])
    np.testing.assert_allclose(cp["std_error"].to_numpy(), fx.se()[names].to_numpy() * np.sqrt((n - 1) / n), rtol=1e-6)


def test_average_partial_effects_recover_the_known_truth():
    hits, err, ses = 0, [], []
    for s in range(30):
        d, _, truth = _sim(200 + s)
        r = etwfe_poisson(d, "y").tidy().set_index("estimand").loc["simple"]
        hits += r["ci_lower"] <= truth <= r["ci_upper"]
        err.append(r["estimate"] - truth)
        ses.append(r["std_error"])
    err = np.array(err)
    assert abs(err.mean()) < 3 * err.std(ddof=1) / np.sqrt(err.size)  # no bias beyond Monte Carlo error
    assert 0.75 < np.mean(ses) / err.std(ddof=1) < 1.33  # standard errors match the spread (two-sided)
    assert hits >= 25  # 95% intervals: binomial(30, 0.95) gives fewer than 25 with probability < 1%


def test_effects_by_cohort_and_event_time_and_the_ratio_are_reported():
    d, _, _ = _sim(5)
    t = etwfe_poisson(d, "y").tidy()
    assert set(t["estimand"]) == {"simple", "simple_pct", "group", "dynamic", "cohort_period"}
    assert set(t.query("estimand == 'group'")["group"]) == set(d.cohort_labels)
    pct = t.query("estimand == 'simple_pct'").iloc[0]
    assert pct["estimate"] < 0 and pct["ci_lower"] < pct["estimate"] < pct["ci_upper"]


def test_periods_in_which_every_unit_is_treated_are_refused_with_the_parameter():
    d, _, _ = _sim(7, never=False)
    with pytest.raises(EstimationError, match="design.end"):
        etwfe_poisson(d, "y")
