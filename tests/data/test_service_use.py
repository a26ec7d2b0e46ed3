"""The service-use panel 2016-2026: the join of the sources, England totals, completeness, the 4-hour measure, rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.data.ae import build_ae_panel
from evidence.data.completeness import judge, provider_series, seasonal_imputation
from evidence.data.service_use import AE_2016, AE_2019, EMERGENCY, build_service_use
from evidence.paths import RAW

SAMPLES = RAW / "nhs" / "raw_monthly_samples"


@pytest.fixture(scope="module")
def su():
    return build_service_use(["1"])


@pytest.fixture(scope="module")
def su_impute():
    return build_service_use(["1"], incomplete="impute")


def _england(frame: pd.DataFrame, col: str, month: str) -> float:
    return float(frame.loc[frame["period"] == pd.Period(month, "M"), col].sum())


def test_panel_spans_april_2016_to_february_2026_for_all_42_footprints(su):
    f = su.frame
    assert f["stp21_code"].nunique() == 42
    assert str(f["period"].min()) == "2016-04" and str(f["period"].max()) == "2026-02"
    assert len(f) == 42 * 119 and not f.duplicated(["stp21_code", "period"]).any()


@pytest.mark.parametrize(
    "month, col, published",
    [
        # England totals as published (shared data README, from the files' TOTAL rows): type 1 is fully mapped
        ("2019-04", "attendances", 1_330_825),
        ("2020-04", "attendances", 689_720),
        ("2022-12", "attendances", 1_410_227),
        ("2025-01", "attendances", 1_326_670),
        ("2022-12", "dta_over_12h", 54_573),
        ("2025-01", "dta_over_12h", 61_529),
    ],
)
def test_england_totals_equal_the_published_totals(su, month, col, published):
    assert _england(su.frame, col, month) == published


@pytest.mark.parametrize("month, published", [("2016-04", 460_209), ("2019-04", 535_226), ("2020-04", 326_581), ("2025-01", 548_775)])
def test_total_emergency_admissions_equal_published_totals_less_unmapped_providers(su, month, published):
    raw = pd.read_csv(EMERGENCY, dtype={"org_code": str})
    raw = raw[raw["period"].str[:7] == month]
    assert raw["adm_total_emergency"].sum() == published
    panel = _england(su.frame, "emergency_admissions", month)
    mapped = set(su.mapping.loc[su.mapping["stp21_code"].notna(), "org_code"])
    assert panel == raw.loc[raw["org_code"].isin(mapped), "adm_total_emergency"].sum()
    assert panel == pytest.approx(published, rel=3e-3)  # unmapped: MIUs and GP-run units, well under 1%


@pytest.mark.parametrize("sample, month", [("msitae_2020_04_provider.csv", "2020-04"), ("msitae_2025_04_provider.csv", "2025-04")])
def test_panel_matches_the_published_total_rows_of_the_monthly_files(su, sample, month):
    raw = pd.read_csv(SAMPLES / sample)
    total = raw[raw["Org Code"].astype(str).str.strip().str.upper() == "TOTAL"].iloc[0]
    assert _england(su.frame, "attendances", month) == total["A&E attendances Type 1"]
    adm = total[[c for c in raw.columns if c.startswith("Emergency admissions via A&E")]].sum() + total["Other emergency admissions"]
    assert _england(su.frame, "emergency_admissions", month) == pytest.approx(adm, rel=1e-3)
    assert _england(su.frame, "emergency_admissions_via_ae", month) + _england(su.frame, "emergency_admissions_other", month) == _england(su.frame, "emergency_admissions", month)


def test_emergency_admissions_add_up_by_route(su):
    f = su.frame
    np.testing.assert_allclose(f["emergency_admissions"], f["emergency_admissions_via_ae"] + f["emergency_admissions_other"])
    assert (f["admissions"] <= f["emergency_admissions_via_ae"] + 1e-9).all()


def test_booked_appointments_only_from_august_2020(su):
    f = su.frame
    before = f["period"] < pd.Period("2020-08", "M")
    np.testing.assert_array_equal(f.loc[before, "attendances_incl_booked"], f.loc[before, "attendances"])
    after = f.loc[~before].groupby("period")[["attendances", "attendances_incl_booked"]].sum()
    assert (after["attendances_incl_booked"] > after["attendances"]).all()


def test_2016_2019_counts_are_the_original_files_counts(su):
    raw = pd.read_csv(AE_2016, dtype={"org_code": str, "type": str})
    t1 = raw[raw["type"] == "1"].groupby("period")[["attendances", "admissions"]].sum()
    f = su.frame[su.frame["period"] <= pd.Period("2019-03", "M")].groupby("period")[["attendances", "admissions"]].sum()
    np.testing.assert_array_equal(f.to_numpy(), t1.to_numpy())


# --- completeness ---------------------------------------------------------------------------------------------


def _incident(inc: pd.DataFrame, series: str, month: str) -> pd.Series:
    hit = inc[(inc["series"] == series) & (inc["period"] == pd.Period(month, "M"))]
    assert len(hit) == 1, f"{series} {month} not found"
    return hit.iloc[0]


def test_known_missing_providers_are_found_with_their_share_of_the_footprint(su):
    inc = su.incidents
    sheffield = _incident(inc, "RHQ type 1", "2016-04")
    assert sheffield["kind"] == "missing month" and sheffield["stp21_code"] == "E54000009"
    assert 0.2 < sheffield["share_of_footprint"] < 0.32  # South Yorkshire and Bassetlaw about a quarter low
    herts = _incident(inc, "RWH type 1", "2017-09")
    assert herts["kind"] == "missing month" and 0.3 < herts["share_of_footprint"] < 0.4
    assert _incident(inc, "RHQ", "2016-04")["measure"].startswith("emergency admissions")
    assert not inc["imputed"].any()  # flag (default) imputes nothing


def test_covid_mergers_and_the_field_test_do_not_flag_en_masse(su):
    inc = su.incidents
    covid = inc[(inc["period"] >= pd.Period("2020-03", "M")) & (inc["period"] <= pd.Period("2021-03", "M"))]
    assert len(covid) <= 10  # a handful of providers whose share really moved (excess months), listed only
    assert not covid["kind"].isin(["missing month", "partial month"]).any()
    # judged on their own level instead of their share of England, most type-1 providers would be "partial" in April 2020
    ae = pd.read_csv(AE_2019, dtype={"org_code": str, "type": str})
    t1 = ae[ae["type"] == "1"].pivot_table(index="org_code", columns="period", values="attendances", aggfunc="sum")
    own = t1["2020-04-01"] / t1[["2020-01-01", "2020-02-01", "2019-12-01"]].median(axis=1)
    assert (own < 0.6).mean() > 0.5
    merged = ["RC1+RC9", "R0D+RD3+RDZ", "RA3+RA7", "RBA+RH5", "R0A+RM2+RM3+RW3+RW6", "RXH+RYR", "RGN+RQQ"]
    assert set(su.mapping["series"]) >= set(merged)
    assert not inc["series"].str.split(" type ").str[0].isin(merged).any()
    may19 = inc[inc["period"] == pd.Period("2019-05", "M")]
    assert may19.empty  # breaches are not judged; attendances and admissions of field-test trusts are complete
    assert len(inc[inc["kind"].isin(["missing month", "partial month"])]) < 15


def test_successor_series_join_codes_that_stop_reporting():
    succ = pd.DataFrame({"old_code": ["A", "B", "X", "P"], "new_code": ["C", "C", "Y", "Q"], "date": ["2019-04-01", "2020-04-01", "2001-04-01", "2019-04-01"]})
    last = pd.Series({"A": "2019-03", "B": "2020-03", "C": "2026-02", "X": "2010-01", "Y": "2026-02", "P": "2026-02", "Q": "2026-02"})
    s = provider_series(pd.Series(["A", "B", "C", "Y", "P", "Q"]), succ, last, "2026-02").set_index("org_code")["series"]
    assert s["A"] == s["B"] == s["C"] == "A+B+C"
    assert s["Y"] == "Y"  # a 2001 reorganisation does not join series
    assert s["P"] == "P" and s["Q"] == "Q"  # P still reports: a transfer of services, not a merger


def test_seasonal_imputation_recovers_deleted_provider_months(su):
    """Delete complete provider-months from the real type-1 matrix: each is found and imputed within 6%."""
    ae = pd.concat([pd.read_csv(AE_2016, dtype={"org_code": str, "type": str}), pd.read_csv(AE_2019, dtype={"org_code": str, "type": str})])
    ae = ae[ae["type"] == "1"]
    ae["period"] = pd.PeriodIndex(ae["period"].str[:7], freq="M")
    m = ae.pivot_table(index="org_code", columns="period", values="attendances", aggfunc="sum", fill_value=0.0)
    months = pd.period_range("2016-04", "2026-02", freq="M")
    m = m.reindex(columns=months, fill_value=0.0)
    stp = su.mapping.drop_duplicates("org_code").set_index("org_code")["stp21_code"]
    cases = [("RTH", "2018-01"), ("RM1", "2017-07"), ("RJ7", "2019-10"), ("RNZ", "2024-03"), ("RWP", "2022-09")]
    truth = {}
    broken = m.copy()
    for code, month in cases:
        truth[(code, pd.Period(month, "M"))] = m.loc[code, pd.Period(month, "M")]
        broken.loc[code, pd.Period(month, "M")] = 0.0
    res = judge(broken, stp.reindex(broken.index).fillna("none"), "type 1")
    found = res.incidents.set_index(["series", "period"])
    for key in truth:
        assert key in found.index and found.loc[key, "kind"] == "missing month"
    imp = seasonal_imputation(broken, res.incidents)
    for key, want in truth.items():
        assert imp[key] == pytest.approx(want, rel=0.06), key


def test_impute_adds_columns_and_keeps_published_counts(su, su_impute):
    f, g = su.frame.set_index(["stp21_code", "period"]), su_impute.frame.set_index(["stp21_code", "period"])
    np.testing.assert_array_equal(g["attendances"], f["attendances"])  # published counts untouched
    key = ("E54000009", pd.Period("2016-04", "M"))
    added = g.loc[key, "attendances_imputed"] - g.loc[key, "attendances"]
    assert 8000 < added < 10500  # Sheffield's April: its neighbouring months are 9,100-9,800
    assert g.loc[key, "emergency_admissions_imputed"] > g.loc[key, "emergency_admissions"]
    untouched = ("E54000007", pd.Period("2018-06", "M"))
    assert g.loc[untouched, "attendances_imputed"] == g.loc[untouched, "attendances"]
    assert su_impute.incidents.loc[su_impute.incidents["kind"] == "missing month", "imputed"].all()
    assert not su_impute.incidents.loc[su_impute.incidents["kind"].isin(["series break", "excess month"]), "imputed"].any()


# --- four-hour measure, rates, the panel ----------------------------------------------------------------------


def test_four_hour_measure_leaves_out_the_field_test_trusts_when_the_window_overlaps():
    overlap = build_service_use(["1"], window=("2016-04", "2020-02")).frame
    before = build_service_use(["1"], window=("2016-04", "2019-03")).frame
    raw = pd.read_csv(AE_2016, dtype={"org_code": str, "type": str})
    t1 = raw[raw["type"] == "1"].groupby("period")[["attendances", "breaches"]].sum()
    b = before[before["period"] <= pd.Period("2019-03", "M")].groupby("period")[["attendances_4h_basis", "breaches"]].sum()
    np.testing.assert_array_equal(b.to_numpy(), t1.to_numpy())  # window before the field test: every provider, as before
    o = overlap.groupby("period")[["attendances", "attendances_4h_basis"]].sum()
    assert (o["attendances_4h_basis"] < o["attendances"]).all()  # field-test providers out in every month
    share = o["attendances_4h_basis"] / o["attendances"]
    assert share.max() - share.min() < 0.03  # the same providers throughout: no step in May 2019
    frimley = overlap[overlap["stp21_code"] == "E54000034"]
    assert frimley["pct_within_4h"].isna().all() and frimley["breaches_all_providers"].isna().any()


def test_frimley_is_left_out_with_a_note_when_the_4_hour_measure_cannot_be_made():
    panel, _ = build_ae_panel(["1"], ["emergency_admissions_per_100k", "pct_within_4h"], window=("2016-04", "2020-02"))
    assert panel.n_units == 41 and "E54000034" not in set(panel.data["unit"])
    assert any("Frimley" in n and "field test" in n for n in panel.notes)
    full, _ = build_ae_panel(["1"], ["emergency_admissions_per_100k"], window=("2016-04", "2020-02"))
    assert full.n_units == 42


def test_rates_per_100k_use_residents_and_registered_patients(su):
    f = su.frame
    np.testing.assert_allclose(f["emergency_admissions_per_100k"], 1e5 * f["emergency_admissions"] / f["population"])
    np.testing.assert_allclose(f["attendances_per_100k_registered"], 1e5 * f["attendances"] / f["registered_patients"])
    eng = f[f["period"] == pd.Period("2019-04", "M")]
    rate = 1e5 * eng["emergency_admissions"].sum() / eng["population"].sum()
    assert 900 < rate < 1000  # about 535,000 a month for 56 million residents


def test_built_panel_carries_every_count_and_rate_and_analyses_the_selected_outcomes():
    panel, report = build_ae_panel(["1"], ["emergency_admissions_per_100k", "attendances"], window=("2016-04", "2020-02"))
    assert panel.outcomes == ["emergency_admissions_per_100k", "attendances"]
    for col in ("emergency_admissions", "emergency_admissions_other", "dta_over_12h", "attendances_incl_booked", "pct_within_4h", "registered_patients", "attendances_type2_per_100k"):
        assert col in panel.data.columns
    assert panel.n_periods == 119 and panel.n_units == 42
    assert report.by_year is not None and set(report.by_year["year"]) == set(range(2016, 2027))
    assert report.by_year.loc[report.by_year["measure"].str.startswith("A&E"), "share_unmapped"].max() == 0.0
    assert panel.extras["completeness"] is not None
    assert any("extrapolated" in n for n in panel.notes)
    with_impute, _ = build_ae_panel(["1"], ["emergency_admissions_per_100k"], incomplete="impute")
    assert with_impute.outcomes == ["emergency_admissions_per_100k_imputed"]
    # data.incomplete: drop_cells — the footprint-months an incident touches (imputed != published) become missing
    # cells of the published outcome, and the panel is kept whole (data.missing: allow)
    dropped, _ = build_ae_panel(["1"], ["emergency_admissions_per_100k"], incomplete="drop_cells")
    assert dropped.outcomes == ["emergency_admissions_per_100k"] and dropped.n_units == 42
    d = dropped.data.set_index(["unit", "t"])["emergency_admissions_per_100k"]
    w = with_impute.data.set_index(["unit", "t"])
    touched = ~np.isclose(w["emergency_admissions_per_100k_imputed"], w["emergency_admissions_per_100k"], rtol=1e-12, atol=0)
    assert touched.sum() > 0
    assert d.isna().to_numpy().tolist() == touched.tolist()
    assert any("data.incomplete: drop_cells" in n for n in dropped.notes)


def test_field_test_table_agrees_with_the_breaches_not_reported_flag():
    from evidence.data.service_use import field_test_codes

    ft = field_test_codes()
    ae = pd.read_csv(AE_2019, dtype={"org_code": str, "type": str})
    flagged = ae[ae["breaches_not_reported"]]
    span = flagged.groupby("org_code")["period"].agg(["min", "max"])
    want = ft.set_index("org_code")[["first_month", "last_month"]].sort_index()
    got = pd.DataFrame({"first_month": span["min"].str[:7], "last_month": span["max"].str[:7]}).sort_index()
    # RD3 (Poole) flagged until its October 2020 merger into R0D
    want.loc["RD3", "last_month"] = "2020-09"
    pd.testing.assert_frame_equal(got, want, check_names=False)
    t1 = ae[(ae["type"] == "1") & ae["breaches_not_reported"]]
    assert (t1["breaches"] == 0).all()  # zeros that are missing values, hence out of the 4-hour measure


def test_months_added_locally_are_read_after_the_shipped_files(tmp_path, su):
    from evidence.data.monthly import add_month

    folder = tmp_path / "local"
    # a revised copy of a shipped month replaces it (here identical, so the panel is unchanged)
    add_month(SAMPLES / "msitae_2025_04_provider.csv", folder, replace=True)
    same = build_service_use(["1"], local_dir=folder)
    assert same.local_months == ["2025-04"]
    pd.testing.assert_frame_equal(same.frame, su.frame)
    # the next month extends the series (a copy of April 2025 relabelled March 2026)
    text = (SAMPLES / "msitae_2025_04_provider.csv").read_text(encoding="utf-8-sig").replace("MSitAE-APRIL-2025", "MSitAE-MARCH-2026")
    nxt = tmp_path / "march.csv"
    nxt.write_text(text, encoding="utf-8")
    add_month(nxt, folder)
    ext = build_service_use(["1"], local_dir=folder)
    assert str(ext.frame["period"].max()) == "2026-03" and ext.frame["period"].nunique() == 120
    assert _england(ext.frame, "attendances", "2026-03") == _england(su.frame, "attendances", "2025-04")
    assert _england(ext.frame, "emergency_admissions", "2026-03") == _england(su.frame, "emergency_admissions", "2025-04")
    assert ext.frame["population"].notna().all()
    assert any(k.endswith("ae_2026-03.csv") for k in ext.files)
