"""Overlapping programmes: Integrated Care Pioneers, New Care Models vanguards, Greater Manchester devolution and the
A&E standards field test, measured per 2021 ICS footprint.

The raw file ``data/raw/reference/integration_programmes_pioneers_vanguards.csv`` names 25 pioneer and 50 vanguard
sites but no areas. ``data/reference/programme_site_areas.csv`` maps each site, by hand and with a stated
confidence and basis, to 2021 lower-tier local authorities (LTLAs), 2021 CCGs, 2022 trust codes or to nothing (a
network). :func:`programme_exposure` turns that mapping into one row per footprint; :func:`write_exposure` writes it
to ``data/reference/overlapping_programmes.csv`` and a test checks the committed file against a rebuild.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Geography of 2021
    Context: the sites were named in 2013-2015, when there were about 210 CCGs and some district councils (Shepway,
    Corby) since renamed or merged; the footprints are those of 2021. Decision: map every site to 2021 LTLA or CCG
    codes as named in ``lookup_lsoa11_ccg21_stp21_ltla21.csv.gz``; where a 2013-2015 CCG has since merged, use the
    LTLAs that approximate it and say so in ``basis``. An optional ``within_ccg`` (a 2021 CCG code) keeps only the
    LSOAs of the listed LTLAs that lie in that CCG (North East Hampshire and Farnham inside Frimley; West Birmingham
    and Sandwell inside Black Country and West Birmingham; Corby's North Northamptonshire inside Northamptonshire).
    Consequences: an LSOA is exposed when its LTLA (or CCG) is listed; sites whose old CCG cannot be rebuilt from 2021
    areas are over- or understated and carry ``medium``/``low`` confidence.
Population share
    Context: no population by LSOA ships with the project. Decision: a footprint's share exposed is the share of its
    LSOAs (2011) that lie in a site's areas; LSOAs hold roughly equal populations (about 1,500 residents, 1,000-3,000
    by design), so the LSOA share approximates the population share. Consequences: shares are approximate (LSOAs
    grew unevenly after 2011); several sites (practice groups, care-home projects) covered only part of the areas
    mapped, so their shares are upper bounds.
Which vanguards expose an area
    Context: PACS, MCP, EHCH and UEC vanguards served the residents (or care-home residents, or urgent-care users) of
    defined places; ACC vanguards were collaborations of acute or specialist trusts, often with a national or
    regional catchment. Decision: the mapping's ``exposure`` is ``area`` for pioneers and PACS/MCP/EHCH/UEC sites
    (``area_kind`` ``ltla``/``ccg``) and ``provider_network`` for ACC sites (``area_kind`` ``trust``, mapped to
    footprints with :func:`evidence.data.ae.map_providers`, or ``network`` for those without a defined population:
    Moorfields, the National Orthopaedic Alliance, the Accountable Cancer Network, EMRAD). Consequences: area
    exposure (``pioneer``, ``vanguard_area``) has population shares; ``vanguard_acc`` is a 0/1 flag that a
    footprint hosts an ACC trust, and network sites flag no footprint.
Greater Manchester devolution
    Context: Greater Manchester's health and social care budget was devolved from April 2016 for the whole footprint.
    Decision: ``gm_devolution`` is 1 for E54000007 only. Consequences: it coincides with the footprint's pioneer and
    PACS/MCP exposure; the evaluation can exclude the footprint or adjust for it, not separate the programmes.
A&E standards field test
    Context: 14 trusts (listed in ``data/reference/ae_field_test_trusts.csv``) piloted new A&E standards from May
    2019 and reported no four-hour breaches. Decision: ``field_test`` is 1 where any listed trust maps to the
    footprint; ``field_test_share`` is the share of the footprint's type-1 A&E attendances April 2018 - March 2019
    (the last full year before the test) at listed trust codes. Consequences: Poole (RD3) counts, Royal Bournemouth
    (RDZ, in the test only after its October 2020 merger into R0D) does not; the share measures provider activity,
    not residents.
Summary columns
    Decision: ``any_programme`` is pioneer or area vanguard or GM devolution (not ACC, not the field test, which
    are provider-level); ``min_confidence`` is the weakest mapping confidence among the pioneer and area-vanguard
    sites that expose the footprint (``high`` for GM devolution alone; empty where nothing does);
    ``vanguard_types`` lists the area-vanguard types (PACS, MCP, EHCH, UEC) in that order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..panel import sha256
from ..paths import RAW, REFERENCE, display
from .ae import AE_FILE, TRUST_STP, TRUST_SUCCESSORS, map_providers, read_ae

RAW_PROGRAMMES: Path = RAW / "reference" / "integration_programmes_pioneers_vanguards.csv"
SITE_AREAS: Path = REFERENCE / "programme_site_areas.csv"
LSOA_LOOKUP: Path = RAW / "reference" / "lookup_lsoa11_ccg21_stp21_ltla21.csv.gz"
FIELD_TEST: Path = REFERENCE / "ae_field_test_trusts.csv"
OVERLAPPING: Path = REFERENCE / "overlapping_programmes.csv"

PIONEERS = "Integrated Care and Support Pioneers"
VANGUARDS = "New Care Models vanguards"
KEYS: list[str] = ["programme", "type_or_wave", "site"]
MAPPING_COLUMNS: list[str] = [*KEYS, "area_kind", "area_names", "area_codes", "within_ccg", "confidence", "basis", "exposure"]
AREA_KINDS: tuple[str, ...] = ("ltla", "ccg", "trust", "network")
CONFIDENCE: tuple[str, ...] = ("low", "medium", "high")
AREA_VANGUARD_TYPES: tuple[str, ...] = ("PACS", "MCP", "EHCH", "UEC")
GM_FOOTPRINT = "E54000007"
FIELD_TEST_YEAR: tuple[str, str] = ("2018-04-01", "2019-03-01")
EXPOSURE_COLUMNS: list[str] = [
    "stp21_code",
    "stp21_name",
    "pioneer",
    "pioneer_share",
    "vanguard_area",
    "vanguard_area_share",
    "vanguard_types",
    "vanguard_acc",
    "gm_devolution",
    "field_test",
    "field_test_share",
    "any_programme",
    "min_confidence",
]
SHARE_DECIMALS = 6


def _read(path: Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV as text, turning a missing file into a one-line error."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)
    except FileNotFoundError:
        raise DataError(f"{display(path)} is missing; restore it from the repository.") from None


def _fail(path: Path, rows: pd.DataFrame, problem: str) -> None:
    """Raise a :class:`DataError` naming the file and the first offending site."""
    if len(rows):
        first = rows.iloc[0]
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        raise DataError(f"{display(path)}: site '{first['site']}' ({first['programme']}, {first['type_or_wave']}) {problem}{more}; fix the mapping.")


def _lookup() -> pd.DataFrame:
    """The LSOA -> CCG -> footprint -> LTLA lookup of 2021."""
    return _read(LSOA_LOOKUP)


def _split(mapping: pd.DataFrame) -> pd.DataFrame:
    """One row per site and area: ``area_name``, ``area_code`` and their position, from the ``;``-separated lists."""
    names = mapping["area_names"].str.split(";").explode().str.strip()
    codes = mapping["area_codes"].str.split(";").explode().str.strip()
    long = mapping[[*KEYS, "area_kind", "within_ccg", "exposure", "confidence"]].loc[names.index].copy()
    long["area_name"] = names.to_numpy()
    long["area_code"] = codes.to_numpy()
    return long[long["area_kind"] != "network"].reset_index(drop=True)


def _validate(mapping: pd.DataFrame, raw: pd.DataFrame, path: Path) -> None:
    """Check the mapping against the raw table, the LSOA lookup and the trust lookup."""
    missing_cols = [c for c in MAPPING_COLUMNS if c not in mapping.columns]
    if missing_cols:
        raise DataError(f"{display(path)}: column {missing_cols[0]} is missing; the file needs {', '.join(MAPPING_COLUMNS)}.")
    joined = raw[KEYS].merge(mapping[KEYS].assign(_n=1).groupby(KEYS, as_index=False)["_n"].sum(), on=KEYS, how="outer", indicator=True)
    _fail(path, joined[joined["_merge"] == "left_only"], f"of {display(RAW_PROGRAMMES)} has no row in the mapping")
    _fail(path, joined[joined["_merge"] == "right_only"], f"is not in {display(RAW_PROGRAMMES)} (programme, type_or_wave and site must match it)")
    _fail(path, joined[joined["_n"] > 1], "is mapped more than once")
    _fail(path, mapping[~mapping["area_kind"].isin(AREA_KINDS)], f"has area_kind not in {', '.join(AREA_KINDS)}")
    _fail(path, mapping[~mapping["confidence"].isin(CONFIDENCE)], f"has confidence not in {', '.join(CONFIDENCE)}")
    expected = np.where(mapping["area_kind"].isin(["ltla", "ccg"]), "area", "provider_network")
    _fail(path, mapping[mapping["exposure"] != expected], "has exposure inconsistent with its area_kind (ltla/ccg -> area, trust/network -> provider_network)")
    is_net = mapping["area_kind"] == "network"
    _fail(path, mapping[is_net & ((mapping["area_names"] != "") | (mapping["area_codes"] != ""))], "is a network but lists areas")
    _fail(path, mapping[~is_net & ((mapping["area_names"] == "") | (mapping["area_codes"] == ""))], "lists no area names or codes")
    n_names = mapping["area_names"].str.count(";")
    n_codes = mapping["area_codes"].str.count(";")
    _fail(path, mapping[~is_net & (n_names != n_codes)], "has different numbers of area names and codes")
    _fail(path, mapping[mapping["basis"].str.len() < 20], "has no basis sentence")

    lookup = _lookup()
    trusts = _read(TRUST_STP)
    pairs = pd.concat(
        [
            lookup[["ltla21_name", "ltla21_code"]].drop_duplicates().set_axis(["area_name", "area_code"], axis=1).assign(area_kind="ltla"),
            lookup[["ccg21_name", "ccg21_code"]].drop_duplicates().set_axis(["area_name", "area_code"], axis=1).assign(area_kind="ccg"),
            trusts[["nhs_trust22_name", "nhs_trust22_code"]].drop_duplicates().set_axis(["area_name", "area_code"], axis=1).assign(area_kind="trust"),
        ]
    )
    long = _split(mapping)
    known_name = long[["area_kind", "area_name"]].merge(pairs[["area_kind", "area_name"]].drop_duplicates(), how="left", indicator=True)["_merge"].eq("both").to_numpy()
    known_code = long[["area_kind", "area_code"]].merge(pairs[["area_kind", "area_code"]].drop_duplicates(), how="left", indicator=True)["_merge"].eq("both").to_numpy()
    known_pair = long[["area_kind", "area_name", "area_code"]].merge(pairs, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    bad = long[~known_name]
    if len(bad):
        _fail(path, bad, f"names {bad.iloc[0]['area_kind']} '{bad.iloc[0]['area_name']}', which is not in {display(LSOA_LOOKUP if bad.iloc[0]['area_kind'] != 'trust' else TRUST_STP)}")
    bad = long[~known_code]
    if len(bad):
        _fail(path, bad, f"has {bad.iloc[0]['area_kind']} code '{bad.iloc[0]['area_code']}', which is not in {display(LSOA_LOOKUP if bad.iloc[0]['area_kind'] != 'trust' else TRUST_STP)}")
    bad = long[~known_pair]
    if len(bad):
        _fail(path, bad, f"pairs '{bad.iloc[0]['area_name']}' with code '{bad.iloc[0]['area_code']}', which the lookup does not")
    within = mapping[mapping["within_ccg"] != ""]
    _fail(path, within[within["area_kind"] != "ltla"], "uses within_ccg, which applies to ltla rows only")
    _fail(path, within[~within["within_ccg"].isin(lookup["ccg21_code"])], f"has a within_ccg code not in {display(LSOA_LOOKUP)}")


def site_areas(path: Path | None = None) -> pd.DataFrame:
    """The hand-built site -> area mapping joined to the raw programme table.

    Parameters
    ----------
    path
        The mapping file; ``None`` reads ``data/reference/programme_site_areas.csv`` (:data:`SITE_AREAS`).

    Returns
    -------
    pandas.DataFrame
        One row per programme site (75), in the raw file's order: ``programme``, ``type_or_wave``, ``site``,
        ``vanguard_type`` (``PACS``/``MCP``/``EHCH``/``UEC``/``ACC``; empty for pioneers), ``area_kind``,
        ``area_names``, ``area_codes``, ``within_ccg``, ``confidence`` (of the mapping), ``basis``, ``exposure``,
        then the raw file's ``announced``, ``source`` and ``source_confidence`` (its ``confidence`` column).

    Raises
    ------
    evidence.errors.DataError
        One line naming the file and the site when a raw site is unmapped or mapped twice, a mapped site is not in
        the raw file, or an area name or code (or their pairing) is not in the LSOA or trust lookup.
    """
    path = SITE_AREAS if path is None else Path(path)
    raw = _read(RAW_PROGRAMMES)
    mapping = _read(path)
    _validate(mapping, raw, path)
    raw = raw.drop(columns=["codes_to_map"], errors="ignore").rename(columns={"confidence": "source_confidence"})
    out = raw.merge(mapping[MAPPING_COLUMNS], on=KEYS, how="left", validate="1:1")
    kind = out["type_or_wave"].str.extract(r"^(PACS|MCP|EHCH|UEC|ACC)\b", expand=False)
    out.insert(3, "vanguard_type", kind.where(out["programme"] == VANGUARDS).fillna(""))
    return out[[*KEYS, "vanguard_type", *MAPPING_COLUMNS[3:], "announced", "source", "source_confidence"]]


def _footprints() -> pd.DataFrame:
    """The 42 footprints of 2021: ``stp21_code``, ``stp21_name`` and ``lsoas`` (their number of LSOAs)."""
    names = _read(TRUST_STP)[["stp21_code", "stp21_name"]].drop_duplicates("stp21_code")
    lsoas = _lookup().groupby("stp21_code").size().rename("lsoas").reset_index()
    fp = lsoas.merge(names, on="stp21_code", how="left")
    fp["stp21_name"] = fp["stp21_name"].fillna(fp["stp21_code"])
    return fp.sort_values("stp21_code", ignore_index=True)[["stp21_code", "stp21_name", "lsoas"]]


def _site_lsoas(areas: pd.DataFrame) -> pd.DataFrame:
    """One row per area-exposure site and LSOA it covers (with the LSOA's footprint)."""
    long = _split(areas[areas["exposure"] == "area"])
    look = _lookup()[["lsoa11_code", "ccg21_code", "ltla21_code", "stp21_code"]]
    by_ltla = long[long["area_kind"] == "ltla"].merge(look, left_on="area_code", right_on="ltla21_code")
    by_ltla = by_ltla[(by_ltla["within_ccg"] == "") | (by_ltla["within_ccg"] == by_ltla["ccg21_code"])]
    by_ccg = long[long["area_kind"] == "ccg"].merge(look, left_on="area_code", right_on="ccg21_code")
    cols = [*KEYS, "confidence", "lsoa11_code", "stp21_code"]
    return pd.concat([by_ltla[cols], by_ccg[cols]], ignore_index=True).drop_duplicates([*KEYS, "lsoa11_code"])


def site_footprints(path: Path | None = None) -> pd.DataFrame:
    """Where each site lies: one row per site and footprint it touches.

    Parameters
    ----------
    path
        The mapping file (``None``: :data:`SITE_AREAS`).

    Returns
    -------
    pandas.DataFrame
        ``programme``, ``type_or_wave``, ``site``, ``vanguard_type``, ``exposure``, ``confidence``,
        ``stp21_code``, ``lsoas`` (the site's LSOAs in the footprint; empty for trust-based sites) and ``share``
        (``lsoas`` over the footprint's LSOAs). Network sites have no rows.
    """
    return _site_footprints(site_areas(path), _footprints())


def _site_footprints(areas: pd.DataFrame, fp: pd.DataFrame) -> pd.DataFrame:
    """:func:`site_footprints` from an already validated mapping and the footprint table."""
    info = areas[[*KEYS, "vanguard_type", "exposure", "confidence"]]
    lsoa = _site_lsoas(areas).groupby([*KEYS, "stp21_code"], as_index=False).size().rename(columns={"size": "lsoas"})
    lsoa = lsoa.merge(fp[["stp21_code", "lsoas"]].rename(columns={"lsoas": "total"}), on="stp21_code")
    lsoa["share"] = lsoa["lsoas"] / lsoa["total"]
    trust = _split(areas[areas["area_kind"] == "trust"])
    mapped = map_providers(trust["area_code"])
    trust = trust.merge(mapped[["org_code", "stp21_code"]], left_on="area_code", right_on="org_code", how="left")
    trust = trust.dropna(subset=["stp21_code"]).drop_duplicates([*KEYS, "stp21_code"])[[*KEYS, "stp21_code"]]
    out = pd.concat([lsoa.drop(columns="total"), trust], ignore_index=True).merge(info, on=KEYS, how="left")
    out["lsoas"] = out["lsoas"].astype("Int64")
    return out[[*KEYS, "vanguard_type", "exposure", "confidence", "stp21_code", "lsoas", "share"]]


def _field_test(fp: pd.DataFrame) -> pd.DataFrame:
    """``field_test`` and ``field_test_share`` per footprint (type-1 attendances April 2018 - March 2019)."""
    trusts = _read(FIELD_TEST)["org_code"].str.strip()
    in_test = map_providers(trusts)["stp21_code"].dropna().unique()
    ae = read_ae(AE_FILE)
    ae = ae[(ae["type"] == "1") & ae["period"].between(*pd.to_datetime(list(FIELD_TEST_YEAR)))]
    stp = map_providers(ae["org_code"]).set_index("org_code")["stp21_code"]
    ae = ae.assign(stp21_code=ae["org_code"].map(stp).to_numpy(), test=ae["attendances"].where(ae["org_code"].isin(trusts), 0.0))
    sums = ae.dropna(subset=["stp21_code"]).groupby("stp21_code")[["test", "attendances"]].sum()
    share = (sums["test"] / sums["attendances"]).reindex(fp["stp21_code"]).fillna(0.0)
    return pd.DataFrame({"stp21_code": fp["stp21_code"], "field_test": fp["stp21_code"].isin(in_test).astype(int).to_numpy(), "field_test_share": share.to_numpy()})


def programme_exposure(path: Path | None = None) -> pd.DataFrame:
    """Exposure of each 2021 footprint to the overlapping programmes.

    Parameters
    ----------
    path
        The site mapping file (``None``: :data:`SITE_AREAS`).

    Returns
    -------
    pandas.DataFrame
        One row per footprint (42), sorted by code, with the columns of :data:`EXPOSURE_COLUMNS`: ``pioneer``,
        ``vanguard_area``, ``vanguard_acc``, ``gm_devolution``, ``field_test``, ``any_programme`` (0/1);
        ``pioneer_share`` and ``vanguard_area_share`` (share of the footprint's LSOAs in such sites' areas, 0-1);
        ``field_test_share`` (share of its 2018/19 type-1 A&E attendances at field-test trusts); ``vanguard_types``
        (area-vanguard types, ``"; "``-separated); ``min_confidence`` (weakest mapping confidence among the pioneer
        and area-vanguard sites exposing it). Shares are rounded to 6 decimals.
    """
    areas = site_areas(path)
    fp = _footprints()
    out = fp[["stp21_code", "stp21_name"]].copy()
    lsoa = _site_lsoas(areas).merge(areas[[*KEYS, "vanguard_type"]], on=KEYS)
    groups = {"pioneer": lsoa[lsoa["programme"] == PIONEERS], "vanguard_area": lsoa[lsoa["programme"] == VANGUARDS]}
    for name, rows in groups.items():  # two programme groups, not rows
        n = rows.drop_duplicates("lsoa11_code").groupby("stp21_code").size().reindex(fp["stp21_code"], fill_value=0)
        out[name] = (n.to_numpy() > 0).astype(int)
        out[f"{name}_share"] = (n.to_numpy() / fp["lsoas"].to_numpy()).round(SHARE_DECIMALS)
    vt = groups["vanguard_area"][["stp21_code", "vanguard_type"]].drop_duplicates()
    vt = vt.assign(order=vt["vanguard_type"].map({t: i for i, t in enumerate(AREA_VANGUARD_TYPES)})).sort_values(["stp21_code", "order"])
    out["vanguard_types"] = out["stp21_code"].map(vt.groupby("stp21_code")["vanguard_type"].agg("; ".join)).fillna("")
    acc = _site_footprints(areas, fp)
    acc_fp = acc.loc[(acc["exposure"] == "provider_network"), "stp21_code"].unique()
    out["vanguard_acc"] = out["stp21_code"].isin(acc_fp).astype(int)
    out["gm_devolution"] = (out["stp21_code"] == GM_FOOTPRINT).astype(int)
    ft = _field_test(fp)
    out["field_test"] = ft["field_test"].to_numpy()
    out["field_test_share"] = ft["field_test_share"].round(SHARE_DECIMALS).to_numpy()
    out["any_programme"] = ((out["pioneer"] + out["vanguard_area"] + out["gm_devolution"]) > 0).astype(int)
    rank = lsoa.drop_duplicates([*KEYS, "stp21_code"]).assign(rank=lambda d: d["confidence"].map({c: i for i, c in enumerate(CONFIDENCE)}))
    weakest = rank.groupby("stp21_code")["rank"].min()
    weakest = weakest.reindex(out["stp21_code"]).to_numpy()
    weakest = np.where(np.isnan(weakest) & (out["gm_devolution"] == 1), CONFIDENCE.index("high"), weakest)
    out["min_confidence"] = pd.Series(weakest).map(dict(enumerate(CONFIDENCE))).fillna("").to_numpy()
    return out[EXPOSURE_COLUMNS].reset_index(drop=True)


def write_exposure(path: Path = OVERLAPPING) -> Path:
    """Write :func:`programme_exposure` to ``path`` (default ``data/reference/overlapping_programmes.csv``).

    Parameters
    ----------
    path
        Where to write the CSV.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    programme_exposure().to_csv(path, index=False, lineterminator="\n")
    return path


def read_exposure(path: Path = OVERLAPPING) -> pd.DataFrame:
    """Read the written exposure table back with its types (empty text stays empty).

    Parameters
    ----------
    path
        The CSV written by :func:`write_exposure`.

    Returns
    -------
    pandas.DataFrame
        The table, with 0/1 columns as integers and shares as floats.
    """
    try:
        table = pd.read_csv(path, dtype={"stp21_code": str, "stp21_name": str, "vanguard_types": str, "min_confidence": str}, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{display(path)} is missing; regenerate it with evidence.data.programmes.write_exposure().") from None
    missing = [c for c in EXPOSURE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{display(path)}: column {missing[0]} is missing; regenerate it with evidence.data.programmes.write_exposure().")
    return table[EXPOSURE_COLUMNS]


def exposure_sources() -> dict[str, str]:
    """The files :func:`programme_exposure` reads, with their sha256, for provenance.

    Returns
    -------
    dict of str to str
        Project-relative path -> hex sha256.
    """
    files = [RAW_PROGRAMMES, SITE_AREAS, LSOA_LOOKUP, TRUST_STP, TRUST_SUCCESSORS, FIELD_TEST, AE_FILE]
    return {display(f): sha256(f) for f in files}
