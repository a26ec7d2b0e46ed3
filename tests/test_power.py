"""Vectorised replicate estimators, power curves and method validation (evidence.power), on SYNTHETIC DATA.

The vectorised estimators must reproduce the package's own estimators replicate by replicate (1e-8); power must
grow with the effect; the tests must hold their size on parallel-trends data; TWFE must be biased and the
staggered estimators unbiased under a heterogeneous, dynamic effect.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evidence.did import did_2x2, twfe
from evidence.errors import EstimationError
from evidence.params import load_params
from evidence.pipeline import prepare
from evidence.power import LinearEstimators, power_curve, replicate_estimates, sdid_available, validate_methods
from evidence.results import ESTIMATE_COLUMNS
from evidence.staggered import cs, imputation, sun_abraham
from evidence.synthetic import calibrate, heterogeneous_dynamic, simulate, synthetic_design

TOL = 1e-8


@pytest.fixture(scope="module")
def real_design():
    return prepare(load_params("params/waves_1_2_2016_2019.yaml"))[1]


@pytest.fixture(scope="module")
def operators(real_design):
    return LinearEstimators(real_design)


def package_estimates(d, outcome, log, sa_control="never_treated"):
    """The package's own estimators on one (synthetic) design: method -> (estimate, std_error)."""
    out = {}
    x = twfe(d, outcome, log=log).tidy().iloc[0]
    out["twfe"] = (x.estimate, x.std_error)
    if (~d.treated).any():
        x = did_2x2(d, outcome, log=log).tidy()
        x = x[x["group"] == "all"].iloc[0]
        out["did_2x2"] = (x.estimate, x.std_error)
        x = imputation(d, outcome, log=log).tidy()
        x = x[x["estimand"] == "simple"].iloc[0]
        out["imputation"] = (x.estimate, x.std_error)
    o = cs(d, outcome, log=log, control_group=d.comparison, est_method="reg").aggregate("simple").overall
    out["cs"] = (o.estimate, o.se)
    x = sun_abraham(d, outcome, log=log, control=sa_control).tidy()
    x = x[x["estimand"] == "simple"].iloc[0]
    out["sun_abraham"] = (x.estimate, x.std_error)
    return out


def assert_match(vec: pd.DataFrame, rep: int, ref: dict) -> None:
    for m, (e, s) in ref.items():
        row = vec[(vec["rep"] == rep) & (vec["method"] == m)].iloc[0]
        assert abs(row["estimate"] - e) <= TOL * max(1.0, abs(e)), (m, row["estimate"], e)
        assert abs(row["std_error"] - s) <= TOL * max(1.0, abs(s)), (m, row["std_error"], s)


@pytest.mark.parametrize("log", [False, True])
def test_vectorised_equals_package_on_real_design(real_design, operators, log):
    sims = simulate(real_design, calibration=calibrate(real_design, "attendances"), effect=heterogeneous_dynamic(), reps=2, seed=3)
    vec = replicate_estimates(real_design, sims.Y, log=log, estimators=operators)
    assert list(vec.columns) == ["rep", "method", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "reject"]
    assert vec.attrs["synthetic"] is True and len(vec) == 2 * 5
    for rep in range(2):
        assert_match(vec, rep, package_estimates(sims.design(rep), "attendances", log))


def test_vectorised_equals_package_percent_outcome(real_design, operators):
    sims = simulate(real_design, calibration=calibrate(real_design, "pct_within_4h"), effect=2.0, reps=1, seed=5)
    vec = replicate_estimates(real_design, sims.Y, estimators=operators)
    assert_match(vec, 0, package_estimates(sims.design(0), "pct_within_4h", False))


def test_vectorised_equals_package_region_clusters_and_no_never_treated():
    # every footprint treated inside the window: CS drops the periods from the last cohort on, Sun-Abraham uses the
    # last cohort as control, and the 2x2 and imputation cannot run; clusters are NHS regions
    d_all = synthetic_design("2016-04", "2021-12", cluster="region")
    sims = simulate(d_all, family="continuous", effect=heterogeneous_dynamic("continuous"), reps=1, seed=3)
    with pytest.warns(UserWarning, match="skipped"):
        vec = replicate_estimates(d_all, sims.Y)
    assert set(vec["method"]) == {"twfe", "cs", "sun_abraham"}
    assert any("did_2x2 skipped" in n for n in vec.attrs["notes"])
    assert_match(vec, 0, package_estimates(sims.design(0), "y", False, sa_control="last_cohort"))
    # never-treated comparison group, region clusters
    d_nt = synthetic_design("2016-04", "2020-12", cluster="region", comparison="never_treated", waves=(1, 2, 3))
    sims = simulate(d_nt, family="continuous", effect=heterogeneous_dynamic("continuous"), reps=1, seed=4)
    vec = replicate_estimates(d_nt, sims.Y)
    assert_match(vec, 0, package_estimates(sims.design(0), "y", False))


def test_sdid_hook(real_design):
    sims = simulate(real_design, calibration=calibrate(real_design, "attendances"), reps=2, seed=4, effect=0.95)
    if not sdid_available():
        with pytest.warns(UserWarning, match="sdid skipped"):
            out = replicate_estimates(real_design, sims.Y, methods=["sdid", "twfe"], log=True)
        assert set(out["method"]) == {"twfe"}
        return
    from evidence.synth import sdid

    out = replicate_estimates(real_design, sims.Y, methods=["sdid"], log=True, sdid_draws=3, seed=7)
    for rep in range(2):
        ref = sdid(sims.design(rep), "attendances", log=True, inference="jackknife", draws=3, seed=7 + rep).tidy().iloc[0]
        row = out[out["rep"] == rep].iloc[0]
        assert abs(row["estimate"] - ref["estimate"]) <= TOL * max(1, abs(ref["estimate"]))
        assert abs(row["std_error"] - ref["std_error"]) <= TOL * max(1, abs(ref["std_error"]))


def test_power_grows_with_effect_and_contract(real_design, operators):
    pr = power_curve(real_design, "attendances", reps=200, seed=11, estimators=operators)
    tab = pr.table()
    assert list(tab.columns) == ["1", "0.99", "0.98", "0.97", "0.95", "0.9"]
    assert list(tab.index) == ["twfe", "cs", "sun_abraham", "imputation", "did_2x2"]
    for m, row in tab.iterrows():
        p = row.to_numpy()
        assert p[-1] > 0.95 and p[-1] > p[3] > p[0], m  # 10% >> 3% >> no effect
        assert np.all(np.diff(p) > -0.05), m  # non-decreasing up to Monte Carlo noise
    tidy = pr.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS and tidy.attrs["synthetic"] is True
    assert set(tidy["estimand"]) == {"power", "mde_80"}
    assert (tidy["outcome"] == "attendances_log").all()
    mde = pr.mde()
    assert ((mde > 0.9) & (mde < 1.0)).all()  # a reduction somewhere between 0% and 10%
    assert tidy.loc[tidy["estimand"] == "mde_80"].set_index("method")["estimate"].to_dict() == pytest.approx(mde.to_dict())
    import matplotlib

    matplotlib.use("Agg")
    ax = pr.plot()
    assert any(t.get_text() == "SYNTHETIC DATA" for t in ax.texts)
    assert any(abs(line.get_ydata()[0] - 0.8) < 1e-12 for line in ax.lines if len(line.get_ydata()) == 2)
    # deterministic given the seed
    again = power_curve(real_design, "attendances", effects=[1.0, 0.97], reps=50, seed=11, estimators=operators)
    pd.testing.assert_frame_equal(again.table(), power_curve(real_design, "attendances", effects=[1.0, 0.97], reps=50, seed=11, estimators=operators).table())


def test_size_near_alpha_on_parallel_trends_data(real_design, operators):
    # population held at its first-period value: parallel trends hold exactly in log counts
    pop0 = real_design.panel.matrix("population")[:, 0]
    pr = power_curve(real_design, "attendances", effects=[1.0], reps=400, seed=5, estimators=operators, population=pop0)
    size = pr.table()["1"]
    assert ((size >= 0.02) & (size <= 0.10)).all(), size.to_dict()
    pr = power_curve(real_design, "pct_within_4h", effects=[0.0], reps=400, seed=6, estimators=operators)
    size = pr.table()["0"]
    assert ((size >= 0.02) & (size <= 0.10)).all(), size.to_dict()


def test_validation_twfe_biased_staggered_unbiased(real_design):
    pop0 = real_design.panel.matrix("population")[:, 0]
    val = validate_methods(real_design, "attendances", reps=300, seed=12, population=pop0)
    tab = val.table()
    assert val.truth_scale == "log" and val.true_att == pytest.approx(tab.loc["cs", "truth"])
    assert tab.loc["twfe", "bias"] > 4 * tab.loc["twfe", "bias_mc_se"]  # attenuated towards zero
    for m in ("cs", "sun_abraham", "imputation"):
        assert abs(tab.loc[m, "bias"]) < 3 * tab.loc[m, "bias_mc_se"], (m, tab.loc[m].to_dict())
        assert abs(tab.loc[m, "bias"]) < 0.4 * abs(tab.loc["twfe", "bias"])
        assert 0.88 <= tab.loc[m, "coverage"] <= 0.99
    tidy = val.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS and set(tidy["estimand"]) == {"bias", "rmse", "coverage"}
    import matplotlib

    matplotlib.use("Agg")
    ax = val.plot()
    assert any(t.get_text() == "SYNTHETIC DATA" for t in ax.texts)


def test_vectorised_is_linear_and_fast(real_design, operators):
    sims = simulate(real_design, family="continuous", reps=500, seed=1)
    out = operators.apply(sims.Y)
    assert set(out) == {"twfe", "cs", "sun_abraham", "imputation", "did_2x2"}
    a, b = operators.apply(sims.Y[:3]), operators.apply(2 * sims.Y[:3])
    for m in a:
        np.testing.assert_allclose(b[m][0], 2 * a[m][0], rtol=1e-10)
        np.testing.assert_allclose(b[m][1], 2 * a[m][1], rtol=1e-10)


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda d, Y: replicate_estimates(d, Y[:, :5]), "Y"),
        (lambda d, Y: replicate_estimates(d, Y, methods=["ols"]), "methods"),
        (lambda d, Y: replicate_estimates(d, Y, alpha=1.5), "alpha"),
        (lambda d, Y: replicate_estimates(d, -Y, log=True), "log"),
        (lambda d, Y: power_curve(d, "attendances", reps=0), "reps"),
        (lambda d, Y: power_curve(d, "attendances", effects=[0.0]), "effect"),
        (lambda d, Y: power_curve(d, "attendances", effects=["big"]), "effect"),
        (lambda d, Y: power_curve(d, "nope"), "outcome"),
        (lambda d, Y: power_curve(d, "pct_within_4h", log=True), "log"),
        (lambda d, Y: validate_methods(d, "attendances", reps=-1), "reps"),
    ],
)
def test_bad_input(real_design, call, word):
    Y = np.ones((2, real_design.panel.n_units, real_design.panel.n_periods))
    with pytest.raises(EstimationError) as exc, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(real_design, Y)
    assert word in str(exc.value) and "\n" not in str(exc.value)


def _small_area_counts(seed: int = 0):
    """SYNTHETIC small-area count panel with many zeros (mean count about 0.8): logs are not applicable."""
    from simdata import cohort_index, count_design

    rng = np.random.default_rng(seed)
    n, T = 120, 24
    g = cohort_index(n, ((10, 30), (16, 30)))
    y = rng.poisson(np.exp(np.log(0.8) + rng.normal(0, 0.5, n)[:, None] + 0.01 * np.arange(T)[None, :])).astype(float)
    return count_design(g, y)


def test_counts_with_zeros_add_the_poisson_model_to_power_and_validation():
    from simdata import count_design

    from evidence.did import poisson_twfe

    d, _ = _small_area_counts()
    assert (d.panel.data["y"] == 0).mean() > 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pr = power_curve(d, "y", effects=[1.0, 0.7], reps=20, seed=3)
    assert "poisson_twfe" in pr.methods and pr.outcome_label == "y"  # levels for the linear methods, no logs
    # a replicate's Poisson estimate is poisson_twfe's on that replicate's counts
    sims = simulate(d, calibration=calibrate(d, "y"), effect=0.7, seed=3, reps=2)
    rep = replicate_estimates(d, sims.Y, ("poisson_twfe",))
    for r in range(2):
        direct = poisson_twfe(count_design(np.where(np.isfinite(d.g), d.g, -1).astype(int), sims.Y[r])[0], "y").tidy().iloc[0]
        row = rep[rep["rep"] == r].iloc[0]
        assert row["estimate"] == pytest.approx(direct["estimate"], abs=1e-10)
        assert row["std_error"] == pytest.approx(direct["std_error"], rel=1e-10)
    # explicit methods are kept as given
    assert "poisson_twfe" not in power_curve(d, "y", effects=[1.0], reps=5, seed=3, methods=("twfe",)).methods
    # validation against the known truth: a constant rate ratio of 0.7, so the Poisson truth is log(0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        val = validate_methods(d, "y", effect=0.7, reps=80, seed=4)
    tab = val.table()
    assert tab.loc["poisson_twfe", "truth"] == pytest.approx(np.log(0.7), abs=1e-12)
    assert abs(tab.loc["poisson_twfe", "bias"]) < 3 * tab.loc["poisson_twfe", "bias_mc_se"] + 0.01
    assert 0.85 <= tab.loc["poisson_twfe", "coverage"] <= 1.0


# --- scale: memory linear in the panel, blocks of replicates, the batched Poisson fit, sized simulations --------
def test_operators_on_3000_units_stay_small():
    """3,000 units x 48 months, units as clusters: the dense rows x units operators needed 3.3 GB per method; the
    scores now take a few passes over the replicates, so building and applying all five stays under 200 MB."""
    import tracemalloc

    d = synthetic_design("2016-04", "2020-03", cohorts={"2017-07": 600, "2018-07": 600, "2019-07": 600}, n_units=3000)
    sims = simulate(d, family="continuous", effect=0.5, reps=4, seed=1)
    Y = sims.Y
    tracemalloc.start()
    out = LinearEstimators(d).apply(Y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20, peak / 2**20
    assert set(out) == {"twfe", "cs", "sun_abraham", "imputation", "did_2x2"}
    assert all(np.isfinite(e).all() and (s > 0).all() for e, s in out.values())
    # one replicate against the TWFE by hand: two-way demeaning, CR1 with units as clusters
    from evidence.inference import demean_two_way

    xd, yd = demean_two_way(d.treatment_matrix()), demean_two_way(Y[3])
    b = float((xd * yd).sum() / (xd * xd).sum())
    s_i = (xd * (yd - b * xd)).sum(axis=1)
    n, G = Y[3].size, Y.shape[1]
    se = float(np.sqrt(G / (G - 1) * (n - 1) / n * (s_i**2).sum()) / (xd * xd).sum())
    assert out["twfe"][0][3] == pytest.approx(b, abs=TOL) and out["twfe"][1][3] == pytest.approx(se, rel=TOL)


def test_blocks_of_replicates_give_the_one_block_result(real_design, operators, monkeypatch):
    from evidence import synthetic

    one = power_curve(real_design, "attendances", reps=7, seed=2, estimators=operators)
    monkeypatch.setattr(synthetic, "BLOCK_CELLS", 2 * real_design.panel.n_units * real_design.panel.n_periods)
    blocks = power_curve(real_design, "attendances", reps=7, seed=2, estimators=operators)
    a, b = one.estimates, blocks.estimates
    assert (a["rep"].to_numpy() == b["rep"].to_numpy()).all() and (a["method"] == b["method"]).all()
    assert np.abs(a["estimate"].to_numpy() - b["estimate"].to_numpy()).max() < 1e-10
    assert one.notes == blocks.notes
    v1 = validate_methods(real_design, "attendances", reps=5, seed=3)
    v2 = validate_methods(real_design, "attendances", reps=5, seed=3)
    monkeypatch.setattr(synthetic, "BLOCK_CELLS", 1 << 22)
    v3 = validate_methods(real_design, "attendances", reps=5, seed=3)
    assert np.abs(v2.table().to_numpy() - v3.table().to_numpy()).max() < 1e-10 and v1.notes == v3.notes


def test_batched_poisson_equals_one_fit_per_replicate():
    from evidence.did.poisson import PoissonFit
    from evidence.power import _poisson_batch

    d = synthetic_design("2016-04", "2018-09", cohorts={"2017-01": 30, "2017-09": 25}, n_units=120, cluster="region")
    Y = simulate(d, family="count", baseline=1.5, population=1000.0, effect=0.9, reps=6, seed=5, overdispersion=0.05).Y
    Y[2, 7] = 0.0  # a unit without counts: left out, as PoissonFit does
    est, se, done = _poisson_batch(Y, d)
    assert done.all()
    for r in range(Y.shape[0]):
        fit = PoissonFit(Y[r], d.treatment_matrix()[:, :, None], d.cluster_codes, ["treated"])
        assert est[r] == pytest.approx(fit.coef[0], abs=1e-9) and se[r] == pytest.approx(np.sqrt(fit.cov[0, 0]), rel=1e-8)
    Y[4, :, 3] = 0.0  # a period without counts: PoissonFit drops it, so the replicate is left to it
    assert not _poisson_batch(Y, d)[2][4]


def test_simulations_are_sized_to_the_panel(real_design, operators, monkeypatch):
    from evidence import power

    cells = real_design.panel.n_units * real_design.panel.n_periods
    monkeypatch.setattr(power, "SIMULATION_CELLS", 30 * cells)
    assert power.sized_reps(25, real_design) == (25, "")
    n, note = power.sized_reps(200, real_design, "power.validation_reps")
    assert n == 30 and "30 simulated panels instead of 200 (power.validation_reps)" in note
    pr = power_curve(real_design, "attendances", reps=200, seed=2, estimators=operators, effects=[1.0, 0.95])
    assert pr.reps == 30 and pr.estimates.groupby(["method", "effect"]).size().eq(30).all() and "power.reps" in pr.notes[0]


@pytest.mark.skipif(not sdid_available(), reason="evidence.synth not importable")
def test_sdid_validation_on_a_large_design_uses_a_stated_subsample(real_design, monkeypatch):
    from evidence import power

    monkeypatch.setattr(power, "SDID_MAX_UNITS", 30)
    v = validate_methods(real_design, "attendances", reps=2, seed=4, methods=("sdid",))
    assert v.n_units < real_design.panel.n_units and v.n_units >= 28
    assert any(f"subsample of {v.n_units} of the design's {real_design.panel.n_units} units" in n for n in v.notes)
    assert set(v.estimates["method"]) == {"sdid"} and len(v.estimates) == 2
