"""Built-in cost and satisfaction sources: GP payments, NCC unit costs, GP Patient Survey cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.data.costs import GP_FOOTPRINT, build_gp_payments_panel, build_gp_practice_panel, unit_costs
from evidence.data.satisfaction import GPPS, build_gpps_panel, load_gpps_practice_file
from evidence.design import design_from_designations
from evidence.data.designations import load_designations
from evidence.errors import DataError


def test_gp_payments_panel_is_42_footprints_by_9_financial_years():
    p = build_gp_payments_panel()
    assert (p.n_units, p.n_periods, p.frequency) == (42, 9, "fy")
    assert p.period_labels[0] == "2014/15" and p.period_labels[-1] == "2022/23"
    raw = pd.read_csv(GP_FOOTPRINT)
    assert p.data["total_payments"].sum() == pytest.approx(raw["total_payments"].sum())
    # about 155 pounds per registered patient nationally in 2018/19 (data/README)
    y = p.data[p.data["time"] == pd.Period("2018-04", "Y-MAR")]
    assert y["total_payments"].sum() / y["population"].sum() == pytest.approx(155, abs=5)


def test_designations_count_from_the_first_full_financial_year():
    p = build_gp_payments_panel()
    d = design_from_designations(p, load_designations(), start="2014/15", end="2019/20")
    assert d.cohort_labels == ["2018/19", "2019/20"]  # June 2017 -> 2018/19; May 2018 -> 2019/20


def test_practice_panel_nests_practices_in_footprints():
    p = build_gp_practice_panel()
    ut = p.unit_table()
    assert ut["area"].nunique() == 42 and (ut["cluster"] == ut["area"]).all()
    assert p.n_units > 5000 and any("Dropped" in n for n in p.notes)
    d = design_from_designations(p, load_designations(), start="2014/15", end="2019/20")
    treated_areas = set(d.included.loc[d.treated, "unit"].map(dict(zip(ut["unit"], ut["area"]))))
    assert "E54000034" in treated_areas and d.n_clusters == 42


def test_unit_costs_are_activity_weighted_ncc_means():
    uc = unit_costs().set_index("activity")
    ncc = pd.read_csv("data/raw/costs/ncc_national_schedule_2023_24_2024_25.csv.gz", dtype=str)
    ncc = ncc[(ncc["fin_year"] == "2023/24") & ncc["currency_code"].str.match(r"VB\d\dZ") & (ncc["department_code"] == "Emergency Care")]
    expected = pd.to_numeric(ncc["cost"]).sum() / pd.to_numeric(ncc["activity"]).sum()
    assert uc.loc["ae_attendance", "unit_cost"] == pytest.approx(expected)
    assert 150 < uc.loc["ae_attendance", "unit_cost"] < 400 and 1500 < uc.loc["emergency_admission", "unit_cost"] < 4000
    assert (uc["price_year"] == "2023/24").all()


def test_user_unit_cost_table(tmp_path):
    f = tmp_path / "uc.csv"
    pd.DataFrame({"activity": ["ae_attendance", "emergency_admission"], "unit_cost": [300.0, 2000.0]}).to_csv(f, index=False)
    assert unit_costs(f).set_index("activity").loc["ae_attendance", "unit_cost"] == 300.0
    pd.DataFrame({"activity": ["ae_attendance"], "cost": [300.0]}).to_csv(f, index=False)
    with pytest.raises(DataError, match="column unit_cost is missing"):
        unit_costs(f)


def test_gpps_cells_are_icb_by_quintile_with_icb_clusters():
    p = build_gpps_panel()
    ut = p.unit_table()
    assert p.frequency == "year" and p.period_labels == [str(y) for y in range(2017, 2025)]
    assert ut["cluster"].nunique() == 42 and p.n_units == 166
    assert 1 < p.data[p.outcomes].to_numpy().max() <= 100 and p.data[p.outcomes].to_numpy().min() >= 0  # percent
    assert any("Surrey Heartlands" in n for n in p.notes)
    # England medians of all practices are in the source; the cells' medians are of the same order
    raw = pd.read_csv(GPPS)
    eng = raw[(raw["Indicator"] == "overall_pct") & (raw["Year"] == 2017)]["england_median_all_practices"].iloc[0]
    assert eng == pytest.approx(0.867, abs=0.001)


def test_survey_years_count_only_after_fieldwork_followed_designation():
    p = build_gpps_panel()
    d = design_from_designations(p, load_designations(), start="2017", end="2020")
    assert d.cohort_labels == ["2018", "2019"]  # June 2017 -> 2018 survey; May 2018 -> 2019 survey


def test_gpps_practice_file_loader(tmp_path):
    f = tmp_path / "gpps.csv"
    pd.DataFrame({"practice_code": ["A81001", "A81002"], "responses": [120, 95], "pct_good": [88.5, 71.0]}).to_csv(f, index=False)
    out = load_gpps_practice_file(f, year=2019)
    np.testing.assert_allclose(out["proportion"], [0.885, 0.71])
    pd.DataFrame({"practice_code": ["A81001"], "responses": [120], "pct_good": [188.5]}).to_csv(f, index=False)
    with pytest.raises(DataError, match="outside 0-100"):
        load_gpps_practice_file(f)
    pd.DataFrame({"practice_code": ["A81001"], "n": [120], "pct_good": [88.5]}).to_csv(f, index=False)
    with pytest.raises(DataError, match="column 'responses' is missing"):
        load_gpps_practice_file(f)


def test_nhs_cost_index_and_real_terms_gp_payments():
    from evidence.data.costs import build_gp_payments_panel, nhs_cost_index

    idx = nhs_cost_index().set_index("fin_year")
    assert idx.loc["2023/24", "index"] == 100.0 and bool(idx.loc["2023/24", "provisional"])
    assert idx.loc["2015/16", "index"] == pytest.approx(79.218) and idx.loc["2019/20", "index"] == pytest.approx(84.967)
    assert idx.loc["2014/15", "index"] == pytest.approx(79.218 / 1.004) and bool(idx.loc["2014/15", "derived"])
    assert idx["derived"].sum() == 1 and idx["index"].is_monotonic_increasing
    p = build_gp_payments_panel(["payments_per_registered_patient", "payments_per_registered_patient_real"])
    d = p.data
    ratio = d["payments_per_registered_patient_real"] / d["payments_per_registered_patient"]
    raw = pd.read_csv("data/raw/costs/gp_payments_stp21_year_2014_15_to_2022_23.csv")
    want = 100 / raw["fin_year"].map(idx["index"])
    np.testing.assert_allclose(np.sort(ratio.unique()), np.sort(want.unique()))
    assert any("2023/24 prices" in n for n in p.notes)


def test_a_user_deflator_replaces_the_shipped_index(tmp_path):
    from evidence.data.costs import build_gp_payments_panel

    years = [f"{y}/{(y + 1) % 100:02d}" for y in range(2014, 2024)]
    f = tmp_path / "defl.csv"
    pd.DataFrame({"fin_year": years, "index": [50.0 + 5 * i for i in range(len(years))]}).to_csv(f, index=False)
    p = build_gp_payments_panel(["payments_per_registered_patient", "payments_per_registered_patient_real"], deflator=f, price_year="2017/18")
    d = p.data
    ratio = (d["payments_per_registered_patient_real"] / d["payments_per_registered_patient"]).round(10).unique()
    want = {round(65.0 / (50.0 + 5 * i), 10) for i in range(9)}  # index 2017/18 = 65 over each year's index
    assert set(ratio) == want and any("user's deflator" in n and "2017/18 prices" in n for n in p.notes)
    with pytest.raises(DataError, match="costs.price_year is empty"):
        build_gp_payments_panel(["payments_per_registered_patient_real"], deflator=f)
    with pytest.raises(DataError, match="no positive value for 2030/31"):
        build_gp_payments_panel(["payments_per_registered_patient_real"], deflator=f, price_year="2030/31")


def test_pounds_are_notional_per_100k_per_year_for_rates():
    from evidence.report import effects_in_pounds, pounds_rows
    from evidence.results import EstimateResult

    costs = pd.DataFrame({"activity": ["emergency_admission", "ae_attendance"], "unit_cost": [2000.0, 300.0], "price_year": ["2023/24"] * 2, "basis": ["x", "y"]})
    rows = lambda o: pd.DataFrame([{"method": "cs", "outcome": o, "estimand": "simple", "group": "all", "estimate": -2.0, "std_error": 1.0, "ci_lower": -4.0, "ci_upper": 0.0, "p_value": 0.05}])  # noqa: E731
    res = [EstimateResult(rows(o), method="cs", outcome=o, estimand="simple") for o in ("emergency_admissions_per_100k", "attendances")]
    t = effects_in_pounds(res, costs).set_index("outcome")
    assert t.loc["emergency_admissions_per_100k", "pounds"] == -2.0 * 2000 * 12 and t.loc["emergency_admissions_per_100k", "scale"] == "per 100,000 residents per year"
    assert t.loc["attendances", "pounds_ci_lower"] == -4.0 * 300 * 12 and t.loc["attendances", "scale"] == "per treated area per year"
    assert set(pounds_rows(t.reset_index())["outcome"]) == {"emergency_admissions_per_100k_gbp_per_year", "attendances_gbp_per_year"}
