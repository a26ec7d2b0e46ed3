"""Synthetic records: labelled synthetic, consistent with the real A&E data, realistic age and length of stay, chunked."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from evidence.data.ae import build_ae_panel, monthly_population
from evidence.errors import DataError
from evidence.records import generate_records
from evidence.records.lookups import geo_map
from evidence.records.schema import AGE_BAND_MAP, SPELLS, canonical_arrow, check_columns
from evidence.standardise import BANDS

SCALE = 0.004


@pytest.fixture(scope="module")
def spells(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "spells"
    res = generate_records(out, scale=SCALE, start="2016-04", end="2017-03", seed=7)
    table = pq.read_table(res.files).to_pandas()
    return res, table


def test_files_rows_and_metadata_are_labelled_synthetic(spells):
    res, table = spells
    assert len(res.files) == 12 and all(f.name.startswith("synthetic_spells_") for f in res.files)
    assert table["synthetic"].all()
    meta = pq.read_schema(res.files[0]).metadata
    assert meta[b"evidence.synthetic"] == b"true" and meta[b"evidence.kind"] == b"spells"
    assert json.loads(meta[b"evidence.generator"])["scale"] == SCALE
    manifest = json.loads((res.directory / "synthetic_manifest.json").read_text())
    assert manifest["synthetic"] is True and manifest["n_records"] == len(table) == res.n_records


def test_records_follow_the_schema(spells):
    res, table = spells
    types = {f.name: canonical_arrow(f.type) for f in pq.read_schema(res.files[0])}
    assert check_columns(types, SPELLS, "x") == {"hrg_code": True, "synthetic": True}
    assert table["spell_id"].is_unique
    assert set(table["age_band"].astype(str)) <= set(AGE_BAND_MAP)
    assert set(table["sex"].astype(str)) <= {"F", "M", "U"}
    assert set(table["lsoa11_code"].astype(str)) <= set(geo_map("residence")["code"])
    assert set(table["provider_code"].astype(str)) <= set(geo_map("provider")["code"])
    dates = pd.to_datetime(table["admission_date"])
    assert dates.min() >= pd.Timestamp("2016-04-01") and dates.max() <= pd.Timestamp("2017-03-31")
    elective = table["admission_method"] == "elective"
    assert (dates[elective].dt.day_of_week < 5).all()  # electives on weekdays


def test_emergency_counts_scale_with_the_real_ae_admissions(spells):
    res, table = spells
    real, _ = build_ae_panel(["1"])
    real = real.data[real.data["t"] < 12]
    gen = res.counts[res.counts["admission_method"] == "emergency"].groupby(["stp21_code", "period"])["n"].sum()
    e = table[table["admission_method"] == "emergency"]
    rows = e.groupby([e["provider_code"].astype(str), pd.to_datetime(e["admission_date"]).dt.to_period("M").rename("m")]).size()
    # the records hold exactly the generator's counts, by provider and month
    em = res.counts[res.counts["admission_method"] == "emergency"]
    want = em.set_index([em["provider_code"].astype(str), em["period"].dt.to_period("M").rename("m")])["n"]
    pd.testing.assert_series_equal(rows.sort_index(), want.sort_index(), check_names=False, check_index_type=False)
    ratio = gen.to_numpy() / real.set_index(["unit", "time"])["admissions"].to_numpy()
    assert np.allclose(ratio, SCALE, rtol=0.1)  # rounding per provider-month at a small scale
    assert gen.sum() == pytest.approx(SCALE * real["admissions"].sum(), rel=1e-3)
    n_el = (table["admission_method"] == "elective").sum()
    assert n_el / (len(table) - n_el) == pytest.approx(1.4, rel=0.01)


def test_older_people_are_over_represented_among_emergency_admissions(spells):
    res, table = spells
    e = table[table["admission_method"] == "emergency"]
    share = e["age_band"].astype(str).map(AGE_BAND_MAP).value_counts(normalize=True)
    months = pd.period_range("2016-04", "2017-03", freq="M")
    pop = pd.Series({b: monthly_population(months, b)[b].sum() for b in BANDS})
    pop = pop / pop.sum()
    assert share["pop_75_plus"] > 3 * pop["pop_75_plus"]
    assert share["pop_18_64"] < pop["pop_18_64"]
    assert 0.25 < share["pop_75_plus"] < 0.36  # HES 2018/19: about 29%


def test_length_of_stay_is_right_skewed_with_same_day_spells(spells):
    res, table = spells
    e = table.loc[table["admission_method"] == "emergency", "length_of_stay"]
    assert e.min() == 0 and e.max() <= 365
    assert 0.2 < (e == 0).mean() < 0.35
    assert 3.5 < e.mean() < 5.5 and e.median() < e.mean()
    old = table.loc[(table["admission_method"] == "emergency") & (table["age_band"].astype(str).map(AGE_BAND_MAP) == "pop_75_plus"), "length_of_stay"]
    assert old.mean() > e.mean()
    el = table.loc[table["admission_method"] == "elective", "length_of_stay"]
    assert (el == 0).mean() == pytest.approx(0.8, abs=0.02)


def test_residence_mostly_in_the_provider_footprint(spells):
    res, table = spells
    lsoa = geo_map("residence").set_index("code")["unit"]
    prov = geo_map("provider").set_index("code")["unit"]
    home = (table["lsoa11_code"].astype(str).map(lsoa) == table["provider_code"].astype(str).map(prov)).mean()
    assert home == pytest.approx(0.9, abs=0.02)


def test_output_is_reproducible_and_independent_of_memory_bounds(tmp_path):
    a = generate_records(tmp_path / "a", scale=0.002, start="2016-04", end="2016-05", seed=3)
    b = generate_records(tmp_path / "b", scale=0.002, start="2016-04", end="2016-05", seed=3, row_group_rows=1000)
    ta, tb = pq.read_table(a.files).to_pandas(), pq.read_table(b.files).to_pandas()
    pd.testing.assert_frame_equal(ta, tb)
    assert pq.ParquetFile(b.files[0]).num_row_groups > 1
    c = generate_records(tmp_path / "c", scale=0.002, start="2016-04", end="2016-05", seed=3, chunk_rows=5000)
    tc = pq.read_table(c.files).to_pandas()
    assert len(tc) == len(ta) and (tc["spell_id"].to_numpy() == ta["spell_id"].to_numpy()).all()
    assert (tc["provider_code"].astype(str).to_numpy() == ta["provider_code"].astype(str).to_numpy()).all()


def test_matching_files_are_reused_and_changed_parameters_rewrite(tmp_path):
    a = generate_records(tmp_path, scale=0.001, start="2016-04", end="2016-04")
    again = generate_records(tmp_path, scale=0.001, start="2016-04", end="2016-04")
    assert again.reused and again.n_records == a.n_records
    other = generate_records(tmp_path, scale=0.002, start="2016-04", end="2016-04")
    assert not other.reused and other.n_records > a.n_records
    assert len(list(tmp_path.glob("synthetic_spells_*.parquet"))) == 1


def test_attendances_scale_with_real_attendances(tmp_path):
    res = generate_records(tmp_path, kind="attendances", scale=0.001, start="2016-04", end="2016-06", hrg=True)
    t = pq.read_table(res.files).to_pandas()
    real, _ = build_ae_panel(["1"])
    assert len(t) == res.counts["n"].sum()
    # rounding per provider-month moves the total by at most half a record per cell
    assert abs(len(t) - 0.001 * real.data.loc[real.data["t"] < 3, "attendances"].sum()) <= 0.5 * len(res.counts)
    assert t["hrg_code"].astype(str).str.match(r"VB\d\dZ").all()
    assert "length_of_stay" not in t.columns and t["attendance_id"].is_unique


def test_bad_generator_parameters_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="beyond the A&E return"):
        generate_records(tmp_path, start="2015-01", end="2016-06")
    with pytest.raises(DataError, match="scale or n_records, not both"):
        generate_records(tmp_path, scale=1, n_records=10)
    with pytest.raises(DataError, match="kind must be spells or attendances"):
        generate_records(tmp_path, kind="episodes")


def test_n_records_sets_the_scale(tmp_path):
    res = generate_records(tmp_path, n_records=20_000, start="2016-04", end="2016-04")
    assert res.n_records == pytest.approx(20_000, rel=0.01)
