"""The sensitivity set: each alternative equals the estimator run by hand on the changed design; what cannot apply
says so with the parameter, and never fails."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.params import load_params
from evidence.pipeline import prepare
from evidence.protocol import resolve
from evidence.sensitivity import NAMES, exclude_units, run_sensitivities
from evidence.staggered.from_design import cs


class _Ctx:
    def __init__(self, params):
        self.params = params
        self.panel, self.design = prepare(params)
        self.alpha, self.seed = 0.05, 3


@pytest.fixture(scope="module")
def nhs():
    ctx = _Ctx(load_params("params/default.yaml"))
    proto = resolve(ctx.params)
    return ctx, proto, run_sensitivities(ctx, proto, proto.sensitivity).set_index("sensitivity")


def _simple(design, outcome, **kw):
    opts = dict(control_group="not_yet_treated", est_method="reg", base_period="universal")
    opts.update(kw)
    return float(cs(design, outcome, **opts).aggregate("simple").tidy()["estimate"].iloc[0])


def test_every_alternative_of_the_shipped_protocol_runs(nhs):
    _, proto, tab = nhs
    assert (tab["status"] == "ok").all()
    assert set(proto.sensitivity) - {"leave_one_wave_out"} <= set(tab.index)
    assert {"excluding_wave_1", "excluding_wave_2", "excluding_wave_3"} <= set(tab.index)
    assert tab.loc["excluding_wave_1", "label"].startswith("excluding wave 1 (cohort 2017-07, 9 units)")


def test_alternatives_equal_the_estimator_by_hand(nhs):
    ctx, proto, tab = nhs
    o, d = proto.primary["outcome"], ctx.design
    assert tab.loc["anticipation_3", "estimate"] == pytest.approx(_simple(d, o, anticipation=3), abs=1e-10)
    assert tab.loc["covariates", "estimate"] == pytest.approx(_simple(d, o, covariates=["imd_score", "pct_65_plus_2016"]), abs=1e-10)
    no_gm = exclude_units(d, ["E54000007"], "test")
    assert tab.loc["gm_excluded", "estimate"] == pytest.approx(_simple(no_gm, o), abs=1e-10) and tab.loc["gm_excluded", "n_units"] == 41
    wave2 = d.included.loc[d.included["first_treated"] == "2018-06", "unit"]
    assert tab.loc["excluding_wave_2", "estimate"] == pytest.approx(_simple(exclude_units(d, wave2, "test"), o), abs=1e-10)
    assert tab.loc["excluding_wave_2", "n_treated"] == 10
    reg = prepare(load_params("params/default.yaml", ["data.outcomes=[emergency_admissions_per_100k_registered]"]))[1]
    assert tab.loc["registered_denominator", "estimate"] == pytest.approx(_simple(reg, "emergency_admissions_per_100k_registered"), abs=1e-10)
    eff = prepare(load_params("params/default.yaml", ["treatment.date_basis=effective", f"data.outcomes=[{o}]"]))[1]
    assert tab.loc["effective_dates", "estimate"] == pytest.approx(_simple(eff, o), abs=1e-10)
    assert tab.loc["effective_dates", "n_units"] == eff.panel.n_units
    from evidence.staggered.imputation_general import imputation_general

    assert tab.loc["region_period", "estimate"] == pytest.approx(imputation_general(d, o, region_period=True).tidy()["estimate"].iloc[0], abs=1e-10)
    assert tab.loc["imputation", "estimate"] == pytest.approx(imputation_general(d, o).tidy()["estimate"].iloc[0], abs=1e-10)
    assert "effective number of comparison areas" in tab.loc["balancing_weights", "note"]
    recorded = run_sensitivities(ctx, proto, ["anticipation_3"]).attrs["tidy"]
    assert set(recorded["group"]) == {"sensitivity: anticipation_3"} and set(recorded["estimand"]) == {"simple", "simple_pct", "simple_per_year"}


def test_what_cannot_apply_says_why_and_never_fails():
    ctx = _Ctx(load_params("params/example_mpdta.yaml"))
    proto = resolve(ctx.params)
    tab = run_sensitivities(ctx, proto, list(NAMES)).set_index("sensitivity")
    na = tab[tab["status"] == "not applicable"]
    assert "built-in NHS data only (parameter: data.source)" in na.loc["gm_excluded", "note"]
    assert "treatment comes from a column" in na.loc["effective_dates", "note"]
    assert "earliest cohort has fewer than 7 periods" in na.loc["anticipation_6", "note"]  # mpdta: 2004 cohort, 2003 start
    assert tab.loc["covariates", "status"] == "ok"  # lpop, the data's baseline covariate
    assert "no region column" in na.loc["region_period", "note"] and "monthly data" in na.loc["unit_seasonality", "note"]
    assert {"excluding_wave_1", "excluding_wave_2", "excluding_wave_3"} <= set(tab.index)
    assert np.isfinite(tab.loc[tab["status"] == "ok", "estimate"]).all()


def test_a_design_with_no_never_treated_units_runs_every_alternative_or_says_why(tmp_path):
    import pandas as pd

    d = pd.read_csv("data/examples/mpdta.csv")
    f = tmp_path / "nonever.csv"
    d[d["first.treat"] != 0].to_csv(f, index=False)
    params = load_params(data={"data": {"path": str(f), "unit": "countyreal", "time": "year", "outcomes": ["lemp"], "outcome_kinds": {"lemp": "continuous"}}, "treatment": {"cohort": "first.treat"}})
    ctx = _Ctx(params)
    tab = run_sensitivities(ctx, resolve(params), list(NAMES)).set_index("sensitivity")
    assert "no unit is untreated throughout the window (parameter: design.end)" in tab.loc["balancing_weights", "note"]
    assert set(tab["status"]) <= {"ok", "not applicable"} and (tab["status"] == "ok").any()


def test_imputation_alternatives_beyond_a_dense_first_stage(monkeypatch):
    """Above the dense budget the plain model is the sparse imputation estimator (the same numbers); a richer model
    is not applicable, saying the size and the parameter."""
    from evidence import sensitivity
    from evidence.sensitivity import NotApplicable, _imputation_rows

    ctx = _Ctx(load_params("params/example_mpdta.yaml"))
    d, o = ctx.design, "lemp"
    dense, _ = _imputation_rows(ctx, d, o, {})
    monkeypatch.setattr(sensitivity, "DENSE_CELLS", 1000)
    sparse, _ = _imputation_rows(ctx, d, o, {})
    assert list(sparse["estimand"]) == list(dense["estimand"]) == ["simple", "simple_pct"]
    for c in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
        assert sparse[c].to_numpy() == pytest.approx(dense[c].to_numpy(), rel=1e-9)
    with pytest.raises(NotApplicable) as info:
        _imputation_rows(ctx, d, o, {"unit_trends": True})
    assert "2,500 x 1,005 matrix" in info.value.reason and info.value.parameter == "protocol.sensitivity"
