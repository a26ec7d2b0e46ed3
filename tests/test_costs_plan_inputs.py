"""Bad inputs of the costs, satisfaction, standardisation and plan-check layers: one line, naming what to fix."""

from __future__ import annotations

import pandas as pd
import pytest

from evidence.data.costs import deflate, unit_costs
from evidence.errors import DataError, DesignError, EvidenceError, ParamsError
from evidence.params import load_params
from evidence.pipeline import prepare
from evidence.summary import plan_check
from simdata import design_of, simulate_panel


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def test_unit_cost_table_missing_an_activity(tmp_path):
    f = tmp_path / "uc.csv"
    pd.DataFrame({"activity": ["ae_attendance"], "unit_cost": [300.0]}).to_csv(f, index=False)
    with pytest.raises(DataError) as e:
        unit_costs(f)
    assert "emergency_admission" in one_line(e.value) and "costs.unit_costs" in str(e.value)


def test_deflator_restates_prices_and_names_missing_years(tmp_path):
    costs = unit_costs()
    f = tmp_path / "defl.csv"
    pd.DataFrame({"fin_year": ["2017/18", "2023/24"], "index": [80.0, 100.0]}).to_csv(f, index=False)
    out = deflate(costs, f, "2017/18")
    assert (out["price_year"] == "2017/18").all()
    assert out["unit_cost"].to_numpy() == pytest.approx(costs["unit_cost"].to_numpy() * 0.8)
    with pytest.raises(DataError, match="no positive index for 2018/19"):
        deflate(costs, f, "2018/19")
    with pytest.raises(DataError, match="costs.deflator is empty"):
        deflate(costs, None, "2017/18")


def test_population_missing_for_an_area_and_year(tmp_path):
    df = simulate_panel(n_units=6, n_periods=12, cohorts={6: 2})
    df["pop"] = 1000.0
    df.loc[5, "pop"] = None
    f = tmp_path / "p.csv"
    df.to_csv(f, index=False)
    with pytest.raises(EvidenceError) as e:
        prepare(load_params(data={"data": {"path": str(f), "unit": "area", "time": "month", "outcomes": ["y"], "outcome_kinds": {"y": "continuous"}, "population": "pop"}, "treatment": {"cohort": "first"}, "design": {"start": "2016-04", "end": "2017-03"}}))
    assert "'pop'" in one_line(e.value) and "missing" in str(e.value)


@pytest.mark.parametrize("kind,value,expect", [("proportion", 1.4, "above 1"), ("percent", 140.0, "above 100"), ("proportion", -0.1, "negative")])
def test_survey_values_outside_their_range(tmp_path, kind, value, expect):
    df = simulate_panel(n_units=6, n_periods=12, cohorts={6: 2})
    df["y"] = 0.5 if kind == "proportion" else 50.0
    df.loc[3, "y"] = value
    f = tmp_path / "s.csv"
    df.to_csv(f, index=False)
    with pytest.raises(EvidenceError) as e:
        prepare(load_params(data={"data": {"path": str(f), "unit": "area", "time": "month", "outcomes": ["y"], "outcome_kinds": {"y": kind}}, "treatment": {"cohort": "first"}, "design": {"start": "2016-04", "end": "2017-03"}}))
    assert expect in one_line(e.value) and "'y'" in str(e.value)


def test_plan_assumption_for_an_outcome_not_estimated():
    table = pd.DataFrame([{"outcome": "admissions_log", "method": "cs", "estimate": -0.01, "ci_lower": -0.04, "ci_upper": 0.02, "p_value": 0.5}])
    with pytest.raises(ParamsError) as e:
        plan_check(table, [{"outcome": "bed_days", "change": -0.1}], {})
    assert "bed_days" in one_line(e.value) and "plan.assumptions" in str(e.value)
    with pytest.raises(ParamsError, match="change"):
        load_params(data={"plan": {"assumptions": [{"outcome": "admissions"}]}})
    with pytest.raises(ParamsError, match=r"plan.assumptions\[0\].chnage"):
        load_params(data={"plan": {"assumptions": [{"outcome": "admissions", "chnage": -0.1}]}})


def test_plan_check_places_the_assumption_against_the_interval():
    table = pd.DataFrame([{"outcome": "admissions_log", "method": "cs", "estimate": -0.01, "ci_lower": -0.04, "ci_upper": 0.02, "p_value": 0.5}])
    out = plan_check(table, [{"outcome": "admissions", "change": -0.10, "population": 500000, "mean_los": 5.0}], {"admissions": 4.0}, unit_costs()).iloc[0]
    assert not out["assumed inside interval"]
    se = 0.06 / (2 * 1.959963984540054)
    assert out["standard errors away"] == pytest.approx((-0.1053605156578263 + 0.01) / se)
    assert out["baseline per year"] == pytest.approx(4.0 * 500 * 12)
    assert out["assumed change per year"] == pytest.approx(-2400.0)
    assert out["assumed bed days per year"] == pytest.approx(-12000.0)


def test_annual_data_with_dates_inside_years_need_a_rule(tmp_path):
    years = [2015, 2016, 2017, 2018, 2019]
    df = pd.DataFrame({"area": [a for a in "ABCD" for _ in years], "year": [f"{y}-01-01" for _ in "ABCD" for y in years], "y": 1.0, "first": [f for f in ["2017-06-15", "2017-06-15", "0", "0"] for _ in years]})
    f = tmp_path / "annual.csv"
    df.to_csv(f, index=False)
    base = {"data": {"path": str(f), "unit": "area", "time": "year", "outcomes": ["y"], "outcome_kinds": {"y": "continuous"}}, "treatment": {"cohort": "first"}, "design": {"start": 2015, "end": 2019}}
    with pytest.raises(DesignError) as e:
        prepare(load_params(data=base))
    assert "treatment.first_period" in one_line(e.value) and "2017-06-15" in str(e.value)
    _, d = prepare(load_params(data={**base, "treatment": {"cohort": "first", "first_period": "first_full"}}))
    assert d.cohort_labels == ["2018"]
    _, d = prepare(load_params(data={**base, "treatment": {"cohort": "first", "first_period": "containing"}}))
    assert d.cohort_labels == ["2017"]


def test_reference_rates_for_indirect_standardisation(tmp_path):
    f = tmp_path / "rates.csv"
    f.write_text("outcome,band,rate\nadmissions,pop_0_17,0.001\nadmissions,pop_18_64,0.002\nadmissions,pop_65_74,0.004\nadmissions,pop_75_plus,0.01\n")
    panel, _ = prepare(load_params("params/waves_1_2_2016_2019.yaml", [f"data.reference_rates={f}"]))
    assert "admissions_sir" in panel.outcomes
    row = panel.data.iloc[0]
    from evidence.data.ae import monthly_population
    from evidence.standardise import BANDS

    months = pd.PeriodIndex([row["time"]], freq="M")
    pops = [monthly_population(months, b).set_index("stp21_code").loc[row["unit"], b] for b in BANDS]
    expected = sum(p * r for p, r in zip(pops, [0.001, 0.002, 0.004, 0.01]))
    assert row["admissions_sir"] == pytest.approx(100 * row["admissions"] / expected)
    f.write_text("outcome,band,rate\nadmissions,pop_0_17,0.001\n")
    with pytest.raises(DataError, match="no rate for age band pop_18_64"):
        prepare(load_params("params/waves_1_2_2016_2019.yaml", [f"data.reference_rates={f}"]))
