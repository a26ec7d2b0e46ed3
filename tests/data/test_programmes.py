"""Overlapping programmes: the hand-built site mapping and the footprint exposure table built from it."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from evidence.data import programmes
from evidence.data.ae import map_providers
from evidence.errors import DataError

KEYS = ["programme", "type_or_wave", "site"]
COMMITTED_MAPPING = programmes.SITE_AREAS


@pytest.fixture(scope="module")
def mapping() -> pd.DataFrame:
    return pd.read_csv(programmes.SITE_AREAS, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(programmes.RAW_PROGRAMMES, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def lookup() -> pd.DataFrame:
    return pd.read_csv(programmes.LSOA_LOOKUP, dtype=str)


@pytest.fixture(scope="module")
def trusts() -> pd.DataFrame:
    return pd.read_csv(programmes.TRUST_STP, dtype=str)


@pytest.fixture(scope="module")
def exposure() -> pd.DataFrame:
    return programmes.programme_exposure()


@pytest.fixture(scope="module")
def sites() -> pd.DataFrame:
    return programmes.site_footprints()


def _items(text: str) -> list[str]:
    return [t.strip() for t in text.split(";")] if text else []


def _footprint_of(lookup: pd.DataFrame, column: str, value: str) -> str:
    codes = lookup.loc[lookup[column] == value, "stp21_code"].unique()
    assert len(codes) == 1, (value, codes)
    return codes[0]


def test_every_raw_site_is_mapped_exactly_once(mapping, raw):
    assert len(raw) == 75 and len(mapping) == 75
    assert not mapping.duplicated(KEYS).any()
    assert set(map(tuple, mapping[KEYS].to_numpy())) == set(map(tuple, raw[KEYS].to_numpy()))
    assert list(mapping.columns) == programmes.MAPPING_COLUMNS
    joined = programmes.site_areas()
    assert len(joined) == 75 and list(joined["site"]) == list(raw["site"])
    assert {"announced", "source", "source_confidence", "vanguard_type"} <= set(joined.columns)
    assert set(joined.loc[joined["programme"] == programmes.VANGUARDS, "vanguard_type"]) == {"PACS", "MCP", "EHCH", "UEC", "ACC"}


def test_area_names_and_codes_exist_and_agree_with_the_lookups(mapping, lookup, trusts):
    ltla = dict(zip(lookup["ltla21_name"], lookup["ltla21_code"]))
    ccg = dict(zip(lookup["ccg21_name"], lookup["ccg21_code"]))
    trust = dict(zip(trusts["nhs_trust22_name"], trusts["nhs_trust22_code"]))
    patterns = {"ltla": r"E0[6789]\d{6}", "ccg": r"E38\d{6}", "trust": r"[RT][A-Z0-9]{2}"}
    for row in mapping.itertuples():
        names, codes = _items(row.area_names), _items(row.area_codes)
        if row.area_kind == "network":
            assert names == [] and codes == [], row.site
            continue
        table = {"ltla": ltla, "ccg": ccg, "trust": trust}[row.area_kind]
        assert names and len(names) == len(codes), row.site
        assert len(set(codes)) == len(codes), row.site
        for name, code in zip(names, codes):
            assert name in table, (row.site, name)
            assert table[name] == code, (row.site, name, code)
            assert re.fullmatch(patterns[row.area_kind], code), (row.site, code)
        if row.within_ccg:
            assert row.area_kind == "ltla" and row.within_ccg in set(lookup["ccg21_code"]), row.site
            inside = lookup[lookup["ltla21_code"].isin(codes) & (lookup["ccg21_code"] == row.within_ccg)]
            assert set(inside["ltla21_code"]) == set(codes), row.site  # every listed LTLA has LSOAs in that CCG


def test_mapping_columns_follow_the_rules(mapping):
    assert set(mapping["area_kind"]) <= set(programmes.AREA_KINDS)
    assert set(mapping["confidence"]) <= set(programmes.CONFIDENCE)
    acc = mapping["type_or_wave"].str.startswith("ACC")
    assert (mapping.loc[acc, "exposure"] == "provider_network").all()
    assert (mapping.loc[~acc, "exposure"] == "area").all()
    assert mapping.loc[acc, "area_kind"].isin(["trust", "network"]).all()
    assert mapping.loc[~acc, "area_kind"].isin(["ltla", "ccg"]).all()
    assert set(mapping.loc[mapping["area_kind"] == "network", "site"]) == {
        "Moorfields",
        "National Orthopaedic Alliance",
        "Accountable Cancer Network",
        "East Midlands Radiology Consortium (EMRAD)",
    }
    assert (mapping.loc[mapping["area_kind"] == "network", "confidence"] == "low").all()
    assert (mapping["basis"].str.len() > 40).all() and mapping["basis"].str.endswith(".").all()
    # the brief's examples
    conf = mapping.set_index("site")["confidence"]
    assert conf["Barnsley"] == conf["Islington"] == "high"
    assert conf["Wirral Partners"] == conf["Mid Nottinghamshire Better Together"] == "medium"
    assert conf["Lakeside Healthcare (Northamptonshire)"] == conf["Principia Partners in Health (Southern Nottinghamshire / Rushcliffe)"] == "low"


def test_known_sites(mapping, sites, lookup):
    names = mapping.set_index("site")["area_names"]
    assert set(_items(names["Cheshire"])) == {"Cheshire East", "Cheshire West and Chester"}
    assert len(_items(names["North West London"])) == 8
    kent = lookup.loc[lookup["ltla21_code"].str.startswith("E07") & (lookup["stp21_name"] == "Kent and Medway"), "ltla21_name"]
    assert set(_items(names["Kent"])) == set(kent) and "Medway" not in _items(names["Kent"])
    assert set(_items(names["Mid Nottinghamshire Better Together"])) == {"Mansfield", "Ashfield", "Newark and Sherwood"}

    share = sites.set_index(["site", "stp21_code"])["share"]
    barnsley_fp = _footprint_of(lookup, "ltla21_name", "Barnsley")
    assert barnsley_fp == "E54000009"
    assert 0 < share["Barnsley", barnsley_fp] < 0.3
    nwl_fp = _footprint_of(lookup, "ltla21_name", "Brent")
    assert share["North West London", nwl_fp] == pytest.approx(1.0)
    cornwall_fp = _footprint_of(lookup, "ltla21_name", "Cornwall")
    assert share["Cornwall and Isles of Scilly", cornwall_fp] == pytest.approx(1.0)
    # within_ccg keeps North East Hampshire and Farnham inside Frimley (no spill into Surrey Heartlands or Hampshire)
    assert set(sites.loc[sites["site"] == "North East Hampshire and Farnham", "stp21_code"]) == {"E54000034"}
    assert set(sites.loc[sites["site"] == "Nottinghamshire", "stp21_code"]) == {"E54000014", _footprint_of(lookup, "ltla21_name", "Bassetlaw")}
    assert sites.loc[sites["exposure"] == "area", "share"].between(0, 1, inclusive="right").all()


def test_exposure_table_known_cases(exposure, lookup):
    assert len(exposure) == 42 and exposure["stp21_code"].is_unique
    assert set(exposure["stp21_code"]) == set(lookup["stp21_code"])
    e = exposure.set_index("stp21_code")
    gm = _footprint_of(lookup, "ccg21_name", "NHS Manchester CCG")
    assert gm == "E54000007"
    assert e.loc[gm, "gm_devolution"] == 1 and e["gm_devolution"].sum() == 1
    assert e.loc[gm, "pioneer"] == 1 and e.loc[gm, "pioneer_share"] > 0.95
    syb = _footprint_of(lookup, "ltla21_name", "Barnsley")
    assert e.loc[syb, "pioneer"] == 1 and 0 < e.loc[syb, "pioneer_share"] < 1
    nwl = _footprint_of(lookup, "ccg21_name", "NHS North West London CCG")
    assert e.loc[nwl, "pioneer_share"] == pytest.approx(1.0)
    nott = _footprint_of(lookup, "ltla21_name", "Nottingham")
    assert e.loc[nott, "vanguard_types"] == "PACS; MCP; EHCH; UEC"
    assert e.loc[nott, "pioneer_share"] == pytest.approx(1.0)
    # footprints no mapped site touches
    shropshire = _footprint_of(lookup, "ltla21_name", "Telford and Wrekin")
    assert e.loc[shropshire, ["pioneer", "vanguard_area", "vanguard_acc", "any_programme"]].sum() == 0
    assert e.loc[shropshire, "min_confidence"] == ""


def test_shares_and_flags_are_consistent(exposure):
    for name in ("pioneer", "vanguard_area", "field_test"):
        share = exposure[f"{name}_share"]
        assert share.between(0, 1).all()
        assert ((share > 0) == (exposure[name] == 1)).all(), name
    for col in ("pioneer", "vanguard_area", "vanguard_acc", "gm_devolution", "field_test", "any_programme"):
        assert set(exposure[col]) <= {0, 1}
    any_prog = (exposure["pioneer"] | exposure["vanguard_area"] | exposure["gm_devolution"]).astype(int)
    assert (exposure["any_programme"] == any_prog).all()
    assert ((exposure["vanguard_types"] != "") == (exposure["vanguard_area"] == 1)).all()
    assert ((exposure["min_confidence"] != "") == (exposure["any_programme"] == 1)).all()
    assert set(exposure["min_confidence"]) <= {"", *programmes.CONFIDENCE}
    assert exposure["vanguard_types"].str.split("; ").explode().replace("", pd.NA).dropna().isin(programmes.AREA_VANGUARD_TYPES).all()


def test_acc_footprints_are_those_of_the_acc_trusts(mapping, exposure):
    codes = mapping.loc[mapping["area_kind"] == "trust", "area_codes"].str.split(";").explode()
    expected = set(map_providers(codes)["stp21_code"].dropna())
    assert set(exposure.loc[exposure["vanguard_acc"] == 1, "stp21_code"]) == expected


def test_field_test_footprints_and_shares(exposure):
    trusts = pd.read_csv(programmes.FIELD_TEST, dtype=str)["org_code"]
    expected = set(map_providers(trusts)["stp21_code"].dropna())
    assert set(exposure.loc[exposure["field_test"] == 1, "stp21_code"]) == expected
    e = exposure.set_index("stp21_code")
    assert e.loc["E54000034", "field_test_share"] == pytest.approx(1.0)  # Frimley: RDU is its only type-1 trust
    assert e.loc["E54000034", "field_test"] == 1
    # Dorset: Poole (RD3) was in the test, Royal Bournemouth (RDZ) only after its 2020 merger
    assert 0 < e.loc["E54000041", "field_test_share"] < 1


def test_written_csv_equals_the_rebuild(exposure):
    text = programmes.OVERLAPPING.read_text(encoding="utf-8")
    assert text == exposure.to_csv(index=False, lineterminator="\n"), "regenerate with evidence.data.programmes.write_exposure()"
    pd.testing.assert_frame_equal(programmes.read_exposure(), exposure)


def test_write_exposure_writes_where_asked(tmp_path, exposure):
    out = programmes.write_exposure(tmp_path / "x.csv")
    pd.testing.assert_frame_equal(programmes.read_exposure(out), exposure)


def test_exposure_sources_are_hashed():
    src = programmes.exposure_sources()
    assert "data/reference/programme_site_areas.csv" in src
    assert "data/raw/reference/integration_programmes_pioneers_vanguards.csv" in src
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in src.values())


def _bad_copy(tmp_path, monkeypatch, edit) -> None:
    bad = tmp_path / "programme_site_areas.csv"
    table = pd.read_csv(COMMITTED_MAPPING, dtype=str, keep_default_na=False)
    edit(table).to_csv(bad, index=False)
    monkeypatch.setattr(programmes, "SITE_AREAS", bad)


def _one_line_error(match: str) -> str:
    with pytest.raises(DataError, match=match) as info:
        programmes.programme_exposure()
    message = str(info.value)
    assert "\n" not in message and "programme_site_areas.csv" in message
    return message


def test_unknown_area_name_names_the_site(tmp_path, monkeypatch):
    def edit(t):
        t.loc[t["site"] == "Salford Together", "area_names"] = "Salford Quays"
        return t

    _bad_copy(tmp_path, monkeypatch, edit)
    message = _one_line_error("site 'Salford Together'")
    assert "Salford Quays" in message


def test_mismatched_code_names_the_site(tmp_path, monkeypatch):
    def edit(t):
        t.loc[t["site"] == "Barnsley", "area_codes"] = "E08000019"  # Sheffield's code
        return t

    _bad_copy(tmp_path, monkeypatch, edit)
    _one_line_error("site 'Barnsley'.*E08000019")


def test_unmapped_and_duplicated_sites_are_named(tmp_path, monkeypatch):
    _bad_copy(tmp_path, monkeypatch, lambda t: t[t["site"] != "Camden"])
    _one_line_error("site 'Camden'.*has no row")
    _bad_copy(tmp_path, monkeypatch, lambda t: pd.concat([t, t[t["site"] == "Leeds"]]))
    _one_line_error("site 'Leeds'.*more than once")
