"""Records -> footprint x month panels on DuckDB: counts, bed days, costs, standardised rates, out-of-core limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from evidence.data.costs import unit_costs
from evidence.panel import Panel
from evidence.records import aggregate_records, generate_records, panel_from_records
from evidence.records.costs import hrg_unit_costs
from evidence.records.lookups import geo_map
from evidence.records.schema import AGE_BAND_MAP, BAND_SUFFIX
from evidence.standardise import BANDS, direct_standardised_rate, esp_weights

START, END = "2016-04", "2016-09"


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return generate_records(tmp_path_factory.mktemp("agg") / "spells", scale=0.003, start=START, end=END, seed=11)


@pytest.fixture(scope="module")
def records(gen):
    t = pq.read_table(gen.files).to_pandas()
    for c in ("provider_code", "lsoa11_code", "admission_method", "age_band", "sex", "hrg_code"):
        t[c] = t[c].astype(str)
    t["month"] = pd.to_datetime(t["admission_date"]).dt.to_period("M").dt.to_timestamp()
    return t


@pytest.fixture(scope="module")
def residence(gen):
    return panel_from_records(gen.glob, start=START, end=END, memory_limit="1GB")


@pytest.fixture(scope="module")
def provider(gen):
    return panel_from_records(gen.directory, geography="provider", start=START, end=END)


def test_result_is_a_validated_balanced_panel_labelled_synthetic(residence):
    p = residence
    assert isinstance(p, Panel) and p.frequency == "month"
    assert p.n_units == 42 and p.n_periods == 6 and len(p.data) == 42 * 6
    assert p.period_labels[0] == START and p.period_labels[-1] == END
    assert p.has_population and (p.data["population"] > 0).all()
    assert p.source.startswith("records:synthetic:spells:residence:")
    assert p.notes[0].startswith("SYNTHETIC DATA") and p.extras["synthetic"] is True
    assert {"emergency_admissions", "emergency_bed_days", "emergency_mean_los", "emergency_cost", "emergency_admissions_dsr", "emergency_admissions_75_plus_female"} <= set(p.outcomes)
    assert p.outcome_kinds["emergency_admissions"] == "count" and p.outcome_kinds["emergency_mean_los"] == "continuous"
    assert any(k.endswith("lookup_lsoa11_ccg21_stp21_ltla21.csv.gz") for k in p.files)
    assert len([k for k in p.files if "synthetic_spells_" in k]) == 6


def test_provider_panel_reproduces_the_generator_counts_exactly(provider, gen):
    want = gen.counts.pivot_table(index=["stp21_code", "period"], columns="admission_method", values="n", aggfunc="sum", fill_value=0)
    got = provider.data.assign(period=provider.data["time"].dt.to_timestamp()).set_index(["unit", "period"])
    got.index = got.index.set_levels([got.index.levels[0].astype(object), got.index.levels[1]])
    want = want.reindex(got.index, fill_value=0)
    assert (got["emergency_admissions"].to_numpy() == want["emergency"].to_numpy()).all()
    assert (got["elective_admissions"].to_numpy() == want["elective"].to_numpy()).all()


def test_residence_counts_match_a_pandas_recount(residence, records):
    lsoa = geo_map("residence").set_index("code")["unit"]
    e = records[records["admission_method"] == "emergency"].assign(unit=lambda d: d["lsoa11_code"].map(lsoa))
    want = e.groupby(["unit", "month"]).agg(n=("spell_id", "size"), bed_days=("length_of_stay", "sum"))
    got = residence.data.assign(month=residence.data["time"].dt.to_timestamp()).set_index(["unit", "month"])
    want.index = want.index.set_levels([want.index.levels[0].astype(str), want.index.levels[1]])
    got.index = got.index.set_levels([got.index.levels[0].astype(str), got.index.levels[1]])
    want = want.reindex(got.index, fill_value=0)
    np.testing.assert_array_equal(got["emergency_admissions"], want["n"])
    np.testing.assert_array_equal(got["emergency_bed_days"], want["bed_days"])
    np.testing.assert_allclose(got["emergency_mean_los"], want["bed_days"] / want["n"], rtol=1e-12)
    # age-sex counts add up
    bands = sum(got[f"emergency_admissions_{s}"] for s in BAND_SUFFIX.values())
    np.testing.assert_array_equal(bands, got["emergency_admissions"])
    sexes = sum(got[f"emergency_admissions_{s}_{x}"] for s in BAND_SUFFIX.values() for x in ("female", "male"))
    n_u = e[e["sex"] == "U"].groupby(["unit", "month"]).size()
    n_u.index = n_u.index.set_levels([n_u.index.levels[0].astype(str), n_u.index.levels[1]])
    np.testing.assert_array_equal(sexes + n_u.reindex(got.index, fill_value=0), got["emergency_admissions"])


def test_residence_and_provider_panels_hold_the_same_records(residence, provider):
    for col in ("emergency_admissions", "elective_admissions", "emergency_bed_days", "emergency_cost"):
        assert residence.data[col].sum() == pytest.approx(provider.data[col].sum(), rel=0, abs=1e-6)
    # about 10% of patients live outside their provider's footprint, so the units differ
    assert not np.array_equal(residence.data["emergency_admissions"], provider.data["emergency_admissions"])


def test_costs_use_hrg_unit_costs_by_setting_and_fall_back_to_the_average(residence, records, gen):
    hrg = hrg_unit_costs().set_index(["setting", "currency_code"])["unit_cost"]
    e = records[records["admission_method"] == "emergency"]
    setting = np.where(e["length_of_stay"] <= 1, "short_stay", "long_stay")
    pounds = pd.Series(list(zip(setting, e["hrg_code"]))).map(lambda k: hrg.get(k, np.nan))
    avg = float(unit_costs().set_index("activity").loc["emergency_admission", "unit_cost"])
    fallback = int(pounds.isna().sum())
    want = np.rint(pounds.fillna(avg).to_numpy() * 100).sum() / 100
    assert residence.data["emergency_cost"].sum() == pytest.approx(want, rel=0, abs=1e-6)
    assert residence.extras["records"].cost_fallback == fallback
    # no HRG costing: every emergency spell at the activity average (rounded to the penny)
    flat = panel_from_records(gen.glob, start=START, end=END, hrg_costs=False, checksums=False)
    np.testing.assert_allclose(flat.data["emergency_cost"], flat.data["emergency_admissions"] * round(avg * 100) / 100, rtol=1e-12)
    assert flat.extras["records"].cost_fallback == flat.data["emergency_admissions"].sum()
    # a user's activity table replaces the NCC average
    mine = panel_from_records(gen.glob, start=START, end=END, hrg_costs=False, checksums=False, unit_costs=pd.DataFrame({"activity": ["emergency_admission", "ae_attendance"], "unit_cost": [1000.0, 100.0]}))
    np.testing.assert_allclose(mine.data["emergency_cost"], 1000.0 * mine.data["emergency_admissions"])


def test_direct_standardised_rate_uses_esp_weights_and_band_populations(residence):
    from evidence.data.ae import monthly_population

    d = residence.data
    months = pd.PeriodIndex(residence.periods, freq="M")
    pops = [monthly_population(months, b).set_index(["stp21_code", "period"])[b] for b in BANDS]
    key = pd.MultiIndex.from_arrays([d["unit"].astype(str), d["time"]])
    pop = np.column_stack([p.reindex(key).to_numpy() for p in pops])
    ev = np.column_stack([d[f"emergency_admissions_{BAND_SUFFIX[b]}"] for b in BANDS])
    np.testing.assert_allclose(d["emergency_admissions_dsr"], direct_standardised_rate(ev, pop, esp_weights().reindex(list(BANDS)).to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(d["emergency_admissions_per_1000"], 1000 * d["emergency_admissions"] / d["population"], rtol=1e-12)


def test_window_defaults_to_the_records_and_can_be_narrowed_by_dropping(gen):
    counts, report = aggregate_records(gen.glob)
    assert report.window == (START, END) and report.n_outside_window == 0
    p = panel_from_records(gen.glob, start="2016-05", end="2016-06", outside_window="drop", checksums=False)
    assert p.n_periods == 2 and p.extras["records"].n_outside_window > 0
    assert any("outside 2016-05..2016-06 left out" in n for n in p.notes)


def test_duckdb_works_out_of_core_on_records_larger_than_its_memory_limit(tmp_path):
    """Two million spells (about 83 MB as Arrow columns, 139 MB as pandas) under a 48 MB DuckDB memory limit: the
    aggregation spills to temp_dir and gives exactly the counts of an unlimited run; far too little memory is a
    one-line error naming the parameters to change."""
    from evidence.errors import DataError

    g = generate_records(tmp_path / "big", n_records=2_000_000, start="2016-04", end="2016-12", seed=1)
    in_memory = pq.read_table(g.files).nbytes
    limit = 48 * 2**20
    assert in_memory > 1.5 * limit
    full, _ = aggregate_records(g.glob)
    spill = tmp_path / "spill"
    small, report = aggregate_records(g.glob, memory_limit="48MB", temp_dir=spill)
    pd.testing.assert_frame_equal(small, full)
    assert report.n_records == g.n_records == 2_000_015
    assert spill.is_dir()  # the caller's folder is kept
    with pytest.raises(DataError) as e:
        aggregate_records(g.glob, memory_limit="8MB", temp_dir=spill)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("DuckDB ran out of memory while ") and "raise data.records.memory_limit (now 8MB) or give data.records.temp_dir" in msg


def test_attendance_records_aggregate_too(tmp_path):
    g = generate_records(tmp_path / "ae", kind="attendances", scale=0.001, start="2016-04", end="2016-06")
    p = panel_from_records(g.glob, geography="provider")
    assert p.n_units == 42 and p.n_periods == 3
    assert p.data["attendances"].sum() == g.n_records
    assert p.source.startswith("records:synthetic:attendances:provider:")
    assert (p.data["attendance_cost"] > 0).all() and p.extras["records"].cost_fallback == 0
    bands = sum(p.data[f"attendances_{s}"] for s in BAND_SUFFIX.values())
    np.testing.assert_array_equal(bands, p.data["attendances"])


def test_broad_age_bands_and_missing_optional_columns_are_accepted(tmp_path):
    g = generate_records(tmp_path / "b", scale=0.001, start="2016-04", end="2016-05", age_bands="broad", hrg=False)
    t = pq.read_table(g.files).to_pandas()
    assert set(t["age_band"].astype(str)) <= {"0-17", "18-64", "65-74", "75+"}
    t = t.drop(columns=["synthetic"])
    t["spell_id"] = "S" + t["spell_id"].astype(str)  # pseudonymised string ids
    t["admission_date"] = pd.to_datetime(t["admission_date"])  # timestamps are accepted
    path = tmp_path / "real_like.parquet"
    t.to_parquet(path, index=False)
    p = panel_from_records(path)
    assert not p.extras["synthetic"] and not any("SYNTHETIC" in n for n in p.notes)
    assert p.data["emergency_admissions"].sum() == (t["admission_method"] == "emergency").sum()
    assert p.extras["records"].cost_fallback == p.data["emergency_admissions"].sum()  # no hrg_code: all at the average
