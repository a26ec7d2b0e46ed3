"""The built-in A&E panel: mapping through successor chains, totals, balance, unmapped activity (2016-2019 part;
tests/data/test_service_use.py covers the 2016-2026 panel)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.data.ae import AE_FILE, build_ae_panel, map_providers, monthly_population, provider_kind


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(AE_FILE, dtype={"org_code": str, "type": str})


@pytest.fixture(scope="module")
def type1():
    return build_ae_panel(["1"], ["attendances", "breaches", "admissions", "pct_within_4h"], window=("2016-04", "2019-03"))


@pytest.fixture(scope="module")
def all_types():
    return build_ae_panel(["1", "2", "other"], ["attendances"], window=("2016-04", "2019-03"))


def test_type1_panel_is_42_footprints_by_119_months(type1):
    panel, report = type1
    assert panel.n_units == 42 and panel.n_periods == 119
    assert len(panel.data) == 42 * 119
    assert panel.period_labels[0] == "2016-04" and panel.period_labels[-1] == "2026-02"
    assert panel.data.groupby("unit").size().eq(119).all()


def test_every_type1_row_is_mapped_and_totals_equal_raw_totals(type1, raw):
    panel, report = type1
    assert report.share_unmapped_by_type["1"] == 0.0
    assert report.unmapped["attendances"].sum() == 0  # two type-1 codes with no attendances (DT301, NDA57)
    t1 = raw[raw["type"] == "1"]
    early = panel.data[panel.data["t"] < 36]
    for col in ("attendances", "breaches", "admissions"):  # a window before the field test: every provider's breaches
        assert early[col].sum() == pytest.approx(t1[col].sum(), rel=0, abs=1e-6)
    # month by month as well
    by_month = t1.groupby("period")["attendances"].sum().to_numpy()
    np.testing.assert_allclose(early.groupby("t")["attendances"].sum().to_numpy(), by_month)


def test_four_hour_performance_is_recomputed_from_summed_counts(type1):
    d = type1[0].data
    early = d[d["t"] < 36]
    np.testing.assert_allclose(early["pct_within_4h"], 100 * (1 - early["breaches"] / early["attendances"]))
    np.testing.assert_allclose(d["pct_within_4h"], 100 * (1 - d["breaches"] / d["attendances_4h_basis"]))


def test_successor_chains_reach_2021_footprints():
    m = map_providers(pd.Series(["RW6", "RA3", "RBA", "RDD", "R0A", "NLO01", "Y02147"])).set_index("org_code")
    assert m.loc["RW6", "stp21_code"] == "E54000007"  # Pennine Acute split to two Greater Manchester trusts
    assert set(m.loc["RW6", "chain"].split(" | ")) == {"RW6>R0A", "RW6>RM3"}
    assert m.loc["RA3", "route"] == "successor" and m.loc["RA3", "chain"] == "RA3>RA7"  # added merger
    assert m.loc["RBA", "chain"] == "RBA>RH5"
    assert m.loc["R0A", "route"] == "direct"
    assert m.loc["NLO01", "route"] == "unmapped" and pd.isna(m.loc["NLO01", "stp21_code"])


def test_all_types_report_unmapped_codes_with_their_share(all_types, raw):
    panel, report = all_types
    assert 0.05 < report.share_unmapped < 0.15
    assert report.share_unmapped_by_type["1"] == 0.0
    assert 0.15 < report.share_unmapped_by_type["other"] < 0.3  # independent-sector and GP-run units, 2016-2026
    # reported shares add up to the unmapped share, and mapped + unmapped = raw total (2016-2019 part against its file)
    assert report.unmapped["share_of_selected"].sum() == pytest.approx(report.share_unmapped)
    early = panel.data[panel.data["t"] < 36]["attendances"].sum()
    early_unmapped = raw[raw["org_code"].isin(report.unmapped["org_code"])]["attendances"].sum()
    assert early + early_unmapped == pytest.approx(raw["attendances"].sum())
    assert set(report.unmapped["provider_kind"]) <= {"independent sector (N code)", "commissioner-hosted or other NHS service (Y code)", "GP practice", "other organisation", "NHS trust", "NHS trust site"}


def test_provider_kinds():
    k = provider_kind(pd.Series(["RW6", "RW601", "NLO01", "Y02147", "A81001", "AD913"]))
    assert list(k) == ["NHS trust", "NHS trust site", "independent sector (N code)", "commissioner-hosted or other NHS service (Y code)", "GP practice", "other organisation"]


def test_population_is_interpolated_between_mid_years():
    months = pd.period_range("2016-06", "2017-06", freq="M")
    pop = monthly_population(months)
    gm = pop[pop["stp21_code"] == "E54000007"].set_index("period")["population"]
    # June 2016 (month midpoint) lies half a month before 30 June: close to the mid-2016 estimate, and monotone to 2017
    raw = pd.read_csv("data/raw/population/stp21_population.csv").query("stp21_code == 'E54000007'").set_index("year")["population"]
    assert gm.iloc[0] == pytest.approx(raw[2016], rel=2e-3)
    assert gm.iloc[-1] == pytest.approx(raw[2017], rel=2e-3)
    assert gm.is_monotonic_increasing or gm.is_monotonic_decreasing


def test_unknown_builtin_outcome_is_named():
    from evidence.errors import DataError

    with pytest.raises(DataError, match="outcome 'visits'"):
        build_ae_panel(["1"], ["visits"])
