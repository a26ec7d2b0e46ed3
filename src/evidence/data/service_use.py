"""Built-in source ``nhs_ae``: service use by 2021 footprint and month, April 2016 onwards.

One builder joins NHS England's monthly A&E return (attendances, 4-hour breaches and admissions by provider and
A&E type; ``ae_attendances_2016_2019.csv`` then ``ae_attendances_2019_2026.csv``), the same collection's emergency
admissions by route (``emergency_admissions_provider_2016_2026.csv.gz``) and any months an evaluator added with
``evidence add-month`` (read after the shipped files; a local month replaces the shipped month of the same period).
Providers are mapped to footprints through successor chains, and trusts created after the 2022 lookup through their
predecessors (:func:`evidence.data.monthly.map_codes`), provider
completeness is judged (:mod:`evidence.data.completeness`) and rates use the residents of
:mod:`evidence.data.population`.

The estimand of every count and rate is **activity at providers in the footprint per resident of the footprint**:
patients treated outside their home footprint count where they were treated.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Booked appointments
    Context: from August 2020 NHS England publishes attendances booked through NHS 111 separately and its headline
    adds them; before, there was no split. Decision: ``attendances`` is the unbooked count, the series' only
    definition before August 2020 and the default; ``attendances_incl_booked`` adds booked attendances.
    Consequences: the default series has one definition over 2016-2026; the headline definition is there for
    descriptive use from August 2020.
Four-hour measure and the field test
    Context: 14 trusts (``data/reference/ae_field_test_trusts.csv``) reported no breaches from May 2019 to May 2023;
    their zeros are missing values, not performance. Decision: when the analysis window overlaps the field test,
    ``pct_within_4h`` and ``breaches`` count the providers outside it only, in every month of the panel (their
    attendances form ``attendances_4h_basis``), so the share does not change composition in May 2019; windows
    that end before May 2019 keep every provider (as before). ``breaches_all_providers`` keeps every provider and
    is missing where a field-test trust did not report. Consequences: a stable 4-hour series. Frimley, whose only
    type-1 trust (Frimley Health) was in the field test, has no 4-hour measure in such windows: a run that
    analyses ``pct_within_4h`` or ``breaches`` over them leaves Frimley out and says so.
Emergency admissions
    Context: admissions via A&E are a fraction of emergency admissions; the primary outcome of the protocol is
    total emergency admissions. Decision: ``emergency_admissions`` (all routes, all A&E types) =
    ``emergency_admissions_via_ae`` (all types) + ``emergency_admissions_other``; ``admissions`` keeps its
    earlier meaning (via A&E of the selected ``data.ae_types``). Consequences: earlier parameters files stay valid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..paths import DATA, RAW, REFERENCE, display
from .completeness import judge, load_successions, provider_series, ratio_to_judged, seasonal_imputation

AE_2016: Path = RAW / "nhs" / "ae_attendances_2016_2019.csv"
AE_2019: Path = RAW / "nhs" / "ae_attendances_2019_2026.csv"
EMERGENCY: Path = RAW / "nhs" / "emergency_admissions_provider_2016_2026.csv.gz"
FIELD_TEST: Path = REFERENCE / "ae_field_test_trusts.csv"
LOCAL_MONTHS: Path = DATA / "local" / "nhs_monthly"

AE_COLUMNS: tuple[str, ...] = ("period", "org_code", "type", "attendances", "breaches", "admissions", "booked_attendances", "booked_breaches", "breaches_not_reported")
EMERGENCY_COUNTS: tuple[str, ...] = ("adm_via_ae_type1", "adm_via_ae_type2", "adm_via_ae_other", "adm_other_emergency", "adm_total_emergency", "dta_over_4h", "dta_over_12h")

COUNTS: dict[str, str] = {
    "attendances": "A&E attendances of the selected types (without booked appointments)",
    "attendances_incl_booked": "A&E attendances of the selected types including booked appointments (from August 2020)",
    "attendances_type2": "type-2 (single-specialty) A&E attendances, whatever the selected types",
    "breaches": "attendances over 4 hours at providers outside the 2019-2023 field test (selected types)",
    "attendances_4h_basis": "attendances at providers outside the field test (selected types): the 4-hour denominator",
    "admissions": "emergency admissions via A&E of the selected types",
    "emergency_admissions": "total emergency admissions, all routes (the protocol's primary count)",
    "emergency_admissions_via_ae": "emergency admissions via A&E, all A&E types",
    "emergency_admissions_other": "emergency admissions not via A&E",
    "dta_over_4h": "patients waiting over 4 hours from decision to admit to admission",
    "dta_over_12h": "patients waiting over 12 hours from decision to admit to admission",
}
RATE_COUNTS: tuple[str, ...] = ("attendances", "attendances_incl_booked", "attendances_type2", "admissions", "emergency_admissions", "emergency_admissions_via_ae", "emergency_admissions_other", "dta_over_12h")
"""Counts that get ``<count>_per_100k`` (residents) and ``<count>_per_100k_registered`` (GP registered patients)."""


def outcome_kinds() -> dict[str, str]:
    """Every outcome the built-in service-use panel offers, with its kind."""
    kinds = {c: "count" for c in COUNTS}
    kinds["pct_within_4h"] = "percent"
    for c in RATE_COUNTS:
        kinds[f"{c}_per_100k"] = "continuous"
        kinds[f"{c}_per_100k_registered"] = "continuous"
    kinds["attendances_per_1000"] = "continuous"
    kinds["admissions_per_1000"] = "continuous"
    return kinds


def imputed_name(outcome: str) -> str:
    """The column holding ``outcome`` with imputed provider months (``data.incomplete: impute``)."""
    return f"{outcome}_imputed"


@dataclass
class ServiceUse:
    """The footprint x month frame before validation, with what building it found.

    Attributes
    ----------
    frame
        One row per footprint and month: counts, rates, ``population``, ``registered_patients`` and, with
        imputation, ``*_imputed`` columns.
    incidents
        Completeness incidents (:class:`evidence.data.completeness.Completeness` rows) of every judged measure.
    mapping
        Provider code -> footprint mapping (``org_code``, ``route``, ``chain``, ``stp21_code``, ``provider_kind``,
        ``series``).
    unmapped
        Unmapped provider codes with their activity.
    unmapped_by_year
        Share of activity that could not be mapped, by calendar year and measure.
    share_unmapped_by_type
        Share of each selected A&E type's attendances that could not be mapped.
    files
        Input files -> sha256.
    local_months
        Months read from the local extension folder.
    """

    frame: pd.DataFrame
    incidents: pd.DataFrame
    mapping: pd.DataFrame
    unmapped: pd.DataFrame
    unmapped_by_year: pd.DataFrame
    share_unmapped_by_type: dict[str, float]
    files: dict[str, str]
    local_months: list[str]


def _read(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kw)
    except FileNotFoundError:
        raise DataError(f"{display(path)} is missing; restore data/raw/nhs from the repository.") from None


def read_sources(local_dir: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str], dict[str, str]]:
    """The provider x type x month A&E rows and provider x month emergency rows, shipped then local.

    Returns
    -------
    (ae, emergency, local_months, files)
    """
    from ..panel import sha256

    ae16 = _read(AE_2016, dtype={"org_code": str, "type": str})
    ae19 = _read(AE_2019, dtype={"org_code": str, "type": str})
    em = _read(EMERGENCY, dtype={"org_code": str})
    files = {display(p): sha256(p) for p in (AE_2016, AE_2019, EMERGENCY, FIELD_TEST)}
    ae = pd.concat([ae16, ae19], ignore_index=True)
    need_ae = ["period", "org_code", "type", "attendances", "breaches", "admissions"]
    for name, df, need in ((AE_2016, ae16, need_ae), (AE_2019, ae19, need_ae), (EMERGENCY, em, ["period", "org_code", *EMERGENCY_COUNTS])):
        miss = [c for c in need if c not in df.columns]
        if miss:
            raise DataError(f"{display(name)}: column {miss[0]} is missing; restore the original file.")
    local: list[str] = []
    folder = LOCAL_MONTHS if local_dir is None else Path(local_dir)
    if folder.is_dir() and any(folder.glob("ae_*.csv")):
        from .monthly import local_files, read_local_months

        lae, lem = read_local_months(folder)
        if len(lae) or len(lem):
            local = sorted(set(pd.to_datetime(lae["period"]).dt.strftime("%Y-%m")) | set(pd.to_datetime(lem["period"]).dt.strftime("%Y-%m")))
            keep = ~pd.to_datetime(ae["period"]).dt.strftime("%Y-%m").isin(local)
            ae = pd.concat([ae[keep], lae], ignore_index=True)
            keep = ~pd.to_datetime(em["period"]).dt.strftime("%Y-%m").isin(local)
            em = pd.concat([em[keep], lem], ignore_index=True)
            files.update(local_files(folder))
    for col in ("booked_attendances", "booked_breaches"):
        ae[col] = pd.to_numeric(ae.get(col), errors="coerce").fillna(0.0) if col in ae.columns else 0.0
    for col in ("attendances", "breaches", "admissions"):
        v = pd.to_numeric(ae[col], errors="coerce")
        if v.isna().any() or (v < 0).any():
            raise DataError(f"A&E rows: column {col} has missing or negative counts; restore the original files (data/raw/nhs) or re-add the local month.")
        ae[col] = v.astype(float)
    for col in EMERGENCY_COUNTS:
        v = pd.to_numeric(em[col], errors="coerce")
        if v.isna().any() or (v < 0).any():
            raise DataError(f"{display(EMERGENCY)}: column {col} has missing or negative counts; restore the original file.")
        em[col] = v.astype(float)
    ae["period"] = pd.to_datetime(ae["period"]).dt.to_period("M")
    em["period"] = pd.to_datetime(em["period"]).dt.to_period("M")
    ae["type"] = ae["type"].astype(str)
    return ae[[c for c in AE_COLUMNS if c in ae.columns]], em[["period", "org_code", *EMERGENCY_COUNTS]], local, files


def field_test_codes() -> pd.DataFrame:
    """The 2019-2023 A&E standards field-test trusts (``org_code``, ``first_month``, ``last_month``)."""
    return _read(FIELD_TEST, dtype=str)


def _series_matrix(df: pd.DataFrame, key: str, value: str, months: pd.PeriodIndex) -> pd.DataFrame:
    """series x months matrix of ``value`` summed over codes of a series (0 where absent)."""
    return df.pivot_table(index=key, columns="period", values=value, aggfunc="sum", fill_value=0.0).reindex(columns=months, fill_value=0.0)


def build_service_use(ae_types: list[str] | tuple[str, ...] = ("1",), incomplete: str = "flag", local_dir: Path | None = None, window: tuple[str, str] | None = None) -> ServiceUse:
    """Build the footprint x month service-use frame (counts, rates, completeness); cached per process.

    See :func:`_build_service_use` for the parameters. The cache key includes the sizes and modification times of
    the input files and of the local months, so an added month is seen at once.
    """
    folder = LOCAL_MONTHS if local_dir is None else Path(local_dir)
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in (AE_2016, AE_2019, EMERGENCY, FIELD_TEST) if p.exists())
    local = tuple(sorted((q.name, q.stat().st_mtime_ns) for q in folder.glob("*.csv"))) if folder.is_dir() else ()
    win = (str(window[0])[:7], str(window[1])[:7]) if window is not None else None
    su = _cached_build(tuple(str(t) for t in ae_types), incomplete, str(folder), win, stamp, local)
    return ServiceUse(su.frame.copy(), su.incidents.copy(), su.mapping.copy(), su.unmapped.copy(), su.unmapped_by_year.copy(), dict(su.share_unmapped_by_type), dict(su.files), list(su.local_months))


@functools.lru_cache(maxsize=8)
def _cached_build(types: tuple[str, ...], incomplete: str, folder: str, window: tuple[str, str] | None, stamp: tuple, local: tuple) -> ServiceUse:
    return _build_service_use(types, incomplete, Path(folder), window)


def _build_service_use(ae_types: list[str] | tuple[str, ...] = ("1",), incomplete: str = "flag", local_dir: Path | None = None, window: tuple[str, str] | None = None) -> ServiceUse:
    """Build the footprint x month service-use frame (counts, rates, completeness).

    Parameters
    ----------
    ae_types
        A&E types counted in ``attendances``, ``breaches``, ``admissions``: ``"1"``, ``"2"``, ``"other"``.
    incomplete
        ``flag`` (list incidents, keep counts as published) or ``impute`` (also add ``*_imputed`` columns).
    local_dir
        Folder of months added by ``evidence add-month`` (default ``data/local/nhs_monthly``).
    window
        (first, last) month of the analysis window (``YYYY-MM``): the 4-hour measure leaves out the providers of
        the field test when their field-test months overlap it (all the data's months when ``None``).

    Returns
    -------
    ServiceUse
    """
    from .ae import EXTRA_SUCCESSORS, TRUST_STP, TRUST_SUCCESSORS
    from .monthly import map_codes
    from .population import monthly_population, monthly_registered

    types = [str(t) for t in ae_types]
    ae, em, local, files = read_sources(local_dir)
    months = pd.period_range(min(ae["period"].min(), em["period"].min()), max(ae["period"].max(), em["period"].max()), freq="M")
    codes = pd.concat([ae["org_code"], em["org_code"]], ignore_index=True).astype(str)
    mapping = map_codes(codes)  # successor chains, then predecessors (trusts created after the 2022 lookup)
    active = pd.concat([ae.loc[ae["attendances"] > 0, ["org_code", "period"]], em.loc[em["adm_total_emergency"] > 0, ["org_code", "period"]]])
    last_active = active.groupby("org_code")["period"].max().astype(str)
    series = provider_series(mapping["org_code"], load_successions(TRUST_SUCCESSORS, EXTRA_SUCCESSORS), last_active, str(months[-1]))
    mapping = mapping.merge(series, on="org_code", how="left")
    stp = mapping.set_index("org_code")["stp21_code"]
    ser = mapping.set_index("org_code")["series"]
    ae["stp21_code"] = ae["org_code"].map(stp)
    ae["series"] = ae["org_code"].map(ser)
    em["stp21_code"] = em["org_code"].map(stp)
    em["series"] = em["org_code"].map(ser)

    # --- unmapped activity ---------------------------------------------------------------------------------
    sel = ae[ae["type"].isin(types)]
    total_by_type = sel.groupby("type")["attendances"].sum()
    um = sel[sel["stp21_code"].isna()]
    by_type = (um.groupby("type")["attendances"].sum().reindex(total_by_type.index, fill_value=0.0) / total_by_type).fillna(0.0)
    unmapped = (
        um.groupby(["org_code", "type"], as_index=False)[["attendances", "admissions"]].sum()
        .merge(mapping[["org_code", "route", "provider_kind"]], on="org_code")
        .assign(share_of_selected=lambda d: d["attendances"] / total_by_type.sum())
        .sort_values("attendances", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    if "1" in types and by_type.get("1", 0.0) > 0:
        codes1 = ", ".join(unmapped.loc[unmapped["type"] == "1", "org_code"].head(5))
        raise DataError(f"{display(TRUST_STP)}: type-1 providers {codes1} map to no 2021 footprint; add their successor codes to {display(TRUST_SUCCESSORS)}.")
    year = lambda d: d["period"].dt.year  # noqa: E731
    ub = []
    for name, df, col in (("A&E attendances (selected types)", sel, "attendances"), ("emergency admissions", em, "adm_total_emergency")):
        tot = df.groupby(year(df))[col].sum()
        miss = df[df["stp21_code"].isna()].groupby(year(df[df["stp21_code"].isna()]))[col].sum().reindex(tot.index, fill_value=0.0)
        ub.append(pd.DataFrame({"year": tot.index, "measure": name, "total": tot.to_numpy(), "unmapped": miss.to_numpy(), "share_unmapped": (miss / tot).to_numpy()}))
    unmapped_by_year = pd.concat(ub, ignore_index=True)

    ae = ae[ae["stp21_code"].notna()]
    em = em[em["stp21_code"].notna()]
    ft = field_test_codes()
    lo, hi = (str(window[0])[:7], str(window[1])[:7]) if window is not None else (str(months[0]), str(months[-1]))
    overlap = ft[(ft["first_month"] <= hi) & (ft["last_month"] >= lo)]
    ft_series = set(mapping.loc[mapping["org_code"].isin(overlap["org_code"]), "series"])
    ae["field_test"] = ae["series"].isin(ft_series)

    # --- completeness ----------------------------------------------------------------------------------------
    fp_of_series = pd.concat([ae[["series", "stp21_code"]], em[["series", "stp21_code"]]]).groupby("series")["stp21_code"].agg(lambda s: s.value_counts().index[0])
    incidents, imputed_delta = [], []
    ae["skey"] = ae["series"] + " type " + ae["type"]
    for t in types:
        sub = ae[ae["type"] == t]
        if sub.empty:
            continue
        mat = _series_matrix(sub, "skey", "attendances", months)
        fps = pd.Series(sub.drop_duplicates("skey").set_index("skey")["series"].map(fp_of_series))
        res = judge(mat, fps, f"A&E attendances, type {t}")
        incidents.append(res.incidents)
        if incomplete == "impute" and res.incidents["imputed"].any():
            imp = seasonal_imputation(mat, res.incidents)
            obs = mat.stack().reindex(imp.index)
            rows = {"attendances": imp - obs.to_numpy()}
            for col in ("breaches", "admissions", "booked_attendances"):
                ratio = ratio_to_judged(_series_matrix(sub, "skey", col, months), mat, res.incidents)
                obs_c = _series_matrix(sub, "skey", col, months).stack().reindex(imp.index).to_numpy()
                rows[col] = imp * ratio.to_numpy() - obs_c
            d = pd.DataFrame(rows)
            d["stp21_code"] = fps.reindex(d.index.get_level_values(0)).to_numpy()
            d["period"] = d.index.get_level_values(1)
            d["field_test"] = d.index.get_level_values(0).str.split(" type ").str[0].isin(ft_series)
            d["type"] = t
            imputed_delta.append(d.reset_index(drop=True))
    emat = _series_matrix(em, "series", "adm_total_emergency", months)
    eres = judge(emat, fp_of_series, "emergency admissions (all routes)")
    incidents.append(eres.incidents)
    em_delta = None
    if incomplete == "impute" and eres.incidents["imputed"].any():
        imp = seasonal_imputation(emat, eres.incidents)
        obs = emat.stack().reindex(imp.index).to_numpy()
        rows = {"adm_total_emergency": imp - obs}
        for col in ("adm_via_ae_type1", "adm_via_ae_type2", "adm_via_ae_other", "adm_other_emergency", "dta_over_4h", "dta_over_12h"):
            cm = _series_matrix(em, "series", col, months)
            ratio = ratio_to_judged(cm, emat, eres.incidents)
            rows[col] = imp * ratio.to_numpy() - cm.stack().reindex(imp.index).to_numpy()
        em_delta = pd.DataFrame(rows)
        em_delta["stp21_code"] = fp_of_series.reindex(em_delta.index.get_level_values(0)).to_numpy()
        em_delta["period"] = em_delta.index.get_level_values(1)
        em_delta = em_delta.reset_index(drop=True)
    inc = pd.concat(incidents, ignore_index=True)
    if incomplete != "impute":
        inc["imputed"] = False

    # --- footprint x month counts ----------------------------------------------------------------------------
    frame = _aggregate(ae, em, types)
    if incomplete == "impute":
        ae_d = pd.concat(imputed_delta, ignore_index=True) if imputed_delta else None
        adj = _aggregate_deltas(ae_d, em_delta, types)
        frame = frame.merge(adj, on=["stp21_code", "period"], how="left").fillna({c: 0.0 for c in adj.columns if c not in ("stp21_code", "period")})
        for c in COUNTS:
            frame[imputed_name(c)] = frame[c] + frame.pop(f"_d_{c}") if f"_d_{c}" in frame.columns else frame[c]

    # --- denominators and rates ------------------------------------------------------------------------------
    pop = monthly_population(months)
    reg = monthly_registered(months)
    frame = frame.merge(pop, on=["stp21_code", "period"], how="left").merge(reg, on=["stp21_code", "period"], how="left")
    suffixes = [""] + (["_imputed"] if incomplete == "impute" else [])
    for suf in suffixes:
        frame[f"pct_within_4h{suf}"] = 100 * (1 - frame[f"breaches{suf}"] / frame[f"attendances_4h_basis{suf}"])
        for c in RATE_COUNTS:
            frame[f"{c}_per_100k{suf}"] = 1e5 * frame[f"{c}{suf}"] / frame["population"]
            frame[f"{c}_per_100k_registered{suf}"] = 1e5 * frame[f"{c}{suf}"] / frame["registered_patients"]
        frame[f"attendances_per_1000{suf}"] = 1000 * frame[f"attendances{suf}"] / frame["population"]
        frame[f"admissions_per_1000{suf}"] = 1000 * frame[f"admissions{suf}"] / frame["population"]
    inc = inc.merge(pd.read_csv(TRUST_STP, dtype=str).drop_duplicates("stp21_code")[["stp21_code", "stp21_name"]], on="stp21_code", how="left")
    from .population import GP_PAYMENTS, POPULATION
    from ..panel import sha256

    files.update({display(p): sha256(p) for p in (POPULATION, GP_PAYMENTS)})
    return ServiceUse(frame, inc, mapping, unmapped, unmapped_by_year, {k: float(v) for k, v in by_type.items()}, files, local)


def _aggregate(ae: pd.DataFrame, em: pd.DataFrame, types: list[str]) -> pd.DataFrame:
    """Footprint x month sums of the mapped provider rows (vectorised group-bys)."""
    keys = ["stp21_code", "period"]
    sel = ae[ae["type"].isin(types)]
    a = sel.groupby(keys)[["attendances", "breaches", "admissions", "booked_attendances"]].sum()
    basis = sel[~sel["field_test"]].groupby(keys)[["attendances", "breaches"]].sum().rename(columns={"attendances": "attendances_4h_basis", "breaches": "breaches"})
    ft_month = sel["breaches_not_reported"].astype(str).str.lower().eq("true") if "breaches_not_reported" in sel.columns else pd.Series(False, index=sel.index)
    allb = sel.assign(_nr=ft_month).groupby(keys).agg(breaches_all_providers=("breaches", "sum"), _nr=("_nr", "any"))
    t2 = ae[ae["type"] == "2"].groupby(keys)["attendances"].sum().rename("attendances_type2")
    e = em.groupby(keys)[list(EMERGENCY_COUNTS)].sum()
    fps = sorted(set(ae["stp21_code"]) | set(em["stp21_code"]))
    months = pd.period_range(min(ae["period"].min(), em["period"].min()), max(ae["period"].max(), em["period"].max()), freq="M")
    grid = pd.MultiIndex.from_product([fps, months], names=keys)
    out = pd.DataFrame(index=grid)
    out["attendances"] = a["attendances"].reindex(grid, fill_value=0.0)
    out["attendances_incl_booked"] = out["attendances"] + a["booked_attendances"].reindex(grid, fill_value=0.0)
    out["attendances_type2"] = t2.reindex(grid, fill_value=0.0)
    out["breaches"] = basis["breaches"].reindex(grid, fill_value=0.0)
    out["attendances_4h_basis"] = basis["attendances_4h_basis"].reindex(grid, fill_value=0.0)
    out["breaches_all_providers"] = allb["breaches_all_providers"].reindex(grid, fill_value=0.0).where(~allb["_nr"].reindex(grid, fill_value=False).astype(bool))
    out["admissions"] = a["admissions"].reindex(grid, fill_value=0.0)
    e = e.reindex(grid, fill_value=0.0)
    out["emergency_admissions"] = e["adm_total_emergency"]
    out["emergency_admissions_via_ae"] = e["adm_via_ae_type1"] + e["adm_via_ae_type2"] + e["adm_via_ae_other"]
    out["emergency_admissions_other"] = e["adm_other_emergency"]
    out["dta_over_4h"] = e["dta_over_4h"]
    out["dta_over_12h"] = e["dta_over_12h"]
    return out.reset_index()


def _aggregate_deltas(ae_d: pd.DataFrame | None, em_d: pd.DataFrame | None, types: list[str]) -> pd.DataFrame:
    """Footprint x month sums of imputed-minus-observed values, as ``_d_<count>`` columns."""
    keys = ["stp21_code", "period"]
    parts = []
    if ae_d is not None and len(ae_d):
        g = ae_d.groupby(keys)
        d = pd.DataFrame({"_d_attendances": g["attendances"].sum(), "_d_admissions": g["admissions"].sum()})
        d["_d_attendances_incl_booked"] = d["_d_attendances"] + g["booked_attendances"].sum()
        nf = ae_d[~ae_d["field_test"]].groupby(keys)
        d["_d_breaches"] = nf["breaches"].sum().reindex(d.index, fill_value=0.0)
        d["_d_attendances_4h_basis"] = nf["attendances"].sum().reindex(d.index, fill_value=0.0)
        parts.append(d)
    if em_d is not None and len(em_d):
        g = em_d.groupby(keys)
        d = pd.DataFrame({"_d_emergency_admissions": g["adm_total_emergency"].sum(), "_d_emergency_admissions_other": g["adm_other_emergency"].sum(), "_d_dta_over_4h": g["dta_over_4h"].sum(), "_d_dta_over_12h": g["dta_over_12h"].sum()})
        d["_d_emergency_admissions_via_ae"] = g["adm_via_ae_type1"].sum() + g["adm_via_ae_type2"].sum() + g["adm_via_ae_other"].sum()
        parts.append(d)
    if not parts:
        return pd.DataFrame(columns=keys)
    out = pd.concat(parts, axis=1).fillna(0.0)
    return out.reset_index()
