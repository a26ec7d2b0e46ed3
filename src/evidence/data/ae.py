"""Built-in source ``nhs_ae``: NHS England A&E attendances and emergency admissions by provider and month -> 2021 ICS footprints.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Provider, not residence
    Context: the monthly A&E return counts activity at the provider trust, not where patients live. Decision: assign
    each provider to the 2021 STP/ICS footprint of its (successor) trust. Consequences: patients crossing footprint
    boundaries are counted where they were treated; effects are on provider activity.
Mergers
    Context: 19 type-1 providers of 2016-2019 merged later and no longer appear in the 2022 trust lookup.
    Decision: follow ``lookup_trust_trust.csv`` successor chains (plus RA3 -> RA7 and RBA -> RH5, missing from it)
    until a 2022 trust is reached. A code whose successors lie in different footprints is ambiguous and left
    unmapped. Consequences: all type-1 activity maps (the RW6 Pennine Acute split goes to two Greater Manchester
    trusts, one footprint).
Non-trust providers
    Context: type 3/4 units are often run by independent-sector providers (N codes), GP practices or
    commissioner-hosted services (Y codes), which no trust lookup covers. Decision: report every unmapped code with
    its share of the selected activity and exclude it. Consequences: "all types" panels under-count minor-injury
    activity where non-trust providers run it (about a quarter of type-3/4 attendances); type 1 is complete.
Population
    See :mod:`evidence.data.population` (interpolation between mid-years; one basis carried forward after mid-2020).
Service use 2016 onwards
    See :mod:`evidence.data.service_use` (the join of the A&E and emergency-admission files, the 4-hour measure and
    the field test, booked appointments) and :mod:`evidence.data.completeness` (providers missing from a month).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..paths import RAW, display
from ..panel import Panel, sha256, validate_panel
from .population import monthly_population  # noqa: F401 - re-exported (records, synthetic data and tests use it here)
from .service_use import COUNTS as COUNT_DESCRIPTIONS

AE_FILE: Path = RAW / "nhs" / "ae_attendances_2016_2019.csv"
TRUST_STP: Path = RAW / "reference" / "lookup_nhs_trusts22_stp21.csv"
TRUST_SUCCESSORS: Path = RAW / "reference" / "lookup_trust_trust.csv"
TRUST_REGION: Path = RAW / "reference" / "lookup_nhs_trusts22_nhs_region21.csv"
POPULATION: Path = RAW / "population" / "stp21_population.csv"
DEPRIVATION: Path = RAW / "population" / "stp21_deprivation.csv"

EXTRA_SUCCESSORS: dict[str, str] = {"RA3": "RA7", "RBA": "RH5"}
"""Mergers missing from ``lookup_trust_trust.csv`` (both April 2020; see data/README.md)."""

DEFAULT_OUTCOMES: tuple[str, ...] = ("emergency_admissions_per_100k", "attendances_per_100k", "emergency_admissions", "attendances", "admissions")
"""Outcomes of :func:`build_ae_panel` when none are named."""
COVARIATES: tuple[str, ...] = ("imd_score", "pct_65_plus_2016", "log_population_2016")
AE_TYPES: tuple[str, ...] = ("1", "2", "other")


@dataclass
class MappingReport:
    """How provider codes were mapped to footprints.

    Attributes
    ----------
    codes
        One row per provider code: ``org_code``, ``route`` (direct / successor / unmapped / ambiguous), ``chain``
        (codes followed), ``stp21_code``, ``provider_kind``.
    unmapped
        Unmapped codes with their attendances by A&E type and their share of the selected types' attendances.
    share_unmapped
        Share of the selected types' attendances that could not be mapped.
    share_unmapped_by_type
        The same by A&E type.
    by_year
        Share of A&E attendances and of emergency admissions unmapped, by calendar year.
    """

    codes: pd.DataFrame
    unmapped: pd.DataFrame
    share_unmapped: float
    share_unmapped_by_type: dict[str, float]
    by_year: pd.DataFrame | None = None


def provider_kind(codes: pd.Series) -> pd.Series:
    """Classify ODS codes by their pattern (NHS trust, trust site, independent sector, GP practice, other)."""
    c = codes.astype(str)
    kind = pd.Series("other organisation", index=codes.index)
    kind[c.str.fullmatch(r"[A-Z]\d{5}")] = "GP practice"
    kind[c.str.fullmatch(r"Y\d{5}|Y[A-Z0-9]{2}")] = "commissioner-hosted or other NHS service (Y code)"
    kind[c.str.match(r"^N[A-Z0-9]")] = "independent sector (N code)"
    kind[c.str.fullmatch(r"R[A-Z0-9]{2}|T[A-Z0-9]{2}")] = "NHS trust"
    kind[c.str.fullmatch(r"R[A-Z0-9]{4}")] = "NHS trust site"
    return kind


def map_providers(org_codes: pd.Series) -> pd.DataFrame:
    """Map provider codes to 2021 footprints, following successor chains.

    Vectorised over codes: each round replaces every unresolved code by its successors (a code may have several,
    after a split) until all reach a 2022 trust or have no successor.

    Returns
    -------
    pandas.DataFrame
        ``org_code``, ``route``, ``chain``, ``stp21_code``, ``provider_kind``.
    """
    trusts = pd.read_csv(TRUST_STP, dtype=str)
    stp = dict(zip(trusts["nhs_trust22_code"], trusts["stp21_code"]))
    succ = pd.read_csv(TRUST_SUCCESSORS, dtype=str)
    succ = succ[succ["old_code"] != succ["new_code"]][["old_code", "new_code"]]
    succ = pd.concat([succ, pd.DataFrame({"old_code": list(EXTRA_SUCCESSORS), "new_code": list(EXTRA_SUCCESSORS.values())})]).drop_duplicates()

    codes = pd.Series(pd.unique(org_codes.astype(str)), name="org_code")
    frontier = pd.DataFrame({"org_code": codes, "current": codes, "chain": codes})
    resolved = []
    for _ in range(12):  # chains in the lookup are at most a few links long
        hit = frontier["current"].isin(stp.keys())
        resolved.append(frontier[hit])
        rest = frontier[~hit].merge(succ, left_on="current", right_on="old_code", how="inner")
        if rest.empty:
            break
        frontier = pd.DataFrame({"org_code": rest["org_code"], "current": rest["new_code"], "chain": rest["chain"] + ">" + rest["new_code"]})
    done = pd.concat(resolved, ignore_index=True)
    done["stp21_code"] = done["current"].map(stp)
    agg = done.groupby("org_code", sort=False).agg(stp21_code=("stp21_code", lambda s: ",".join(sorted(set(s)))), chain=("chain", lambda s: " | ".join(sorted(set(s)))))
    out = pd.DataFrame({"org_code": codes}).merge(agg, on="org_code", how="left")
    direct = out["org_code"].isin(stp.keys())
    ambiguous = out["stp21_code"].str.contains(",", na=False)
    out["route"] = np.select([direct, ambiguous, out["stp21_code"].notna()], ["direct", "ambiguous", "successor"], "unmapped")
    out.loc[ambiguous, "stp21_code"] = pd.NA
    out["chain"] = out["chain"].fillna(out["org_code"])
    out["provider_kind"] = provider_kind(out["org_code"])
    return out[["org_code", "route", "chain", "stp21_code", "provider_kind"]]


def read_ae(path: Path = AE_FILE) -> pd.DataFrame:
    """Read the raw A&E file and check its columns and values."""
    name = display(path)
    try:
        raw = pd.read_csv(path, dtype={"org_code": str, "type": str})
    except FileNotFoundError:
        raise DataError(f"{name} is missing; restore data/raw/nhs from the repository.") from None
    need = ["period", "org_code", "type", "attendances", "breaches", "admissions"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise DataError(f"{name}: column {missing[0]} is missing; the file needs {', '.join(need)}.")
    for col in ("attendances", "breaches", "admissions"):
        if raw[col].isna().any() or (raw[col] < 0).any():
            raise DataError(f"{name}: column {col} has missing or negative counts; restore the original file.")
    if (raw["breaches"] > raw["attendances"]).any():
        raise DataError(f"{name}: column breaches exceeds attendances in {int((raw['breaches'] > raw['attendances']).sum())} rows; restore the original file.")
    raw["period"] = pd.to_datetime(raw["period"])
    return raw


def footprint_covariates() -> pd.DataFrame:
    """Baseline covariates per footprint: IMD 2019 score, share aged 65+ in 2016, log population 2016, NHS region."""
    pop = pd.read_csv(POPULATION)
    p16 = pop[pop["year"] == 2016].set_index("stp21_code")
    dep = pd.read_csv(DEPRIVATION).set_index("stp21_code")
    trusts = pd.read_csv(TRUST_STP, dtype=str)
    regions = pd.read_csv(TRUST_REGION, dtype=str)
    reg = trusts.merge(regions[["nhs_trust22_code", "nhs_region21_name"]], on="nhs_trust22_code", how="left")
    region = reg.groupby("stp21_code")["nhs_region21_name"].agg(lambda s: s.value_counts().index[0])
    cov = pd.DataFrame(
        {
            "imd_score": dep["imd2019_pop_weighted_score"],
            "pct_65_plus_2016": 100 * (p16["pop_65_74"] + p16["pop_75_plus"]) / p16["population"],
            "log_population_2016": np.log(p16["population"]),
            "region": region,
        }
    )
    cov.index.name = "stp21_code"
    return cov.reset_index()


def build_ae_panel(
    ae_types: list[str] | tuple[str, ...] = ("1",),
    outcomes: list[str] | None = None,
    *,
    incomplete: str = "flag",
    window: tuple[str, str] | None = None,
    local_dir: Path | None = None,
) -> tuple[Panel, MappingReport]:
    """Build the footprint x month service-use panel, April 2016 to the last month available.

    Parameters
    ----------
    ae_types
        A&E types counted in ``attendances``, ``breaches`` and ``admissions``: ``"1"`` (major EDs, the default),
        ``"2"``, ``"other"``.
    outcomes
        Outcomes to analyse (``data.outcomes``; default: attendances, admissions, emergency admissions and their
        rates per 100,000). Every other count and rate is carried in the panel (``panel.csv``) unanalysed.
    incomplete
        ``data.incomplete``: ``flag`` lists provider completeness incidents and analyses the counts as published;
        ``impute`` analyses ``<outcome>_imputed`` columns in which missing or partial provider months are imputed
        (:mod:`evidence.data.completeness`).
    window
        (first, last) month of the analysis window; decides the 4-hour measure's providers
        (:mod:`evidence.data.service_use`).
    local_dir
        Months added with ``evidence add-month`` (default ``data/local/nhs_monthly``).

    Returns
    -------
    (Panel, MappingReport)

    Raises
    ------
    DataError
        If any type-1 activity cannot be mapped, an outcome does not exist, or the result is not balanced.
    """
    from .service_use import build_service_use, imputed_name, outcome_kinds

    kinds_all = outcome_kinds()
    keep = list(outcomes) if outcomes is not None else list(DEFAULT_OUTCOMES)
    unknown = [o for o in keep if o not in kinds_all]
    if unknown:
        raise DataError(f"built-in source nhs_ae: outcome '{unknown[0]}' (data.outcomes) does not exist; choose from {', '.join(kinds_all)}.")
    su = build_service_use(ae_types, incomplete="impute" if incomplete == "drop_cells" else incomplete, local_dir=local_dir, window=window)
    types = [str(t) for t in ae_types]
    agg = su.frame.copy()
    agg["period"] = agg["period"].dt.to_timestamp()
    cov = footprint_covariates()
    names = pd.read_csv(TRUST_STP, dtype=str).drop_duplicates("stp21_code")[["stp21_code", "stp21_name"]]
    agg = agg.merge(cov, on="stp21_code", how="left").merge(names, on="stp21_code", how="left")
    n_fp, n_m = agg["stp21_code"].nunique(), agg["period"].nunique()
    if len(agg) != n_fp * n_m or n_fp != 42:
        raise DataError(f"built-in source nhs_ae: the footprint x month panel is not 42 footprints x every month ({len(agg)} rows for {n_fp} footprints x {n_m} months).")
    analysed = [imputed_name(o) if incomplete == "impute" else o for o in keep]
    kinds = {a: kinds_all[o] for a, o in zip(analysed, keep)}
    notes: list[str] = []
    gaps = agg.loc[agg[analysed].isna().any(axis=1)]
    if len(gaps):
        lost = gaps.drop_duplicates("stp21_code")
        cols = sorted({c for c in analysed if gaps[c].isna().any()})
        notes.append(
            f"{len(lost)} footprint(s) left out because {', '.join(cols)} cannot be measured there: "
            + "; ".join(f"{r.stp21_name} ({r.stp21_code})" for r in lost.itertuples())
            + " — every type-1 provider of the footprint was in the 2019-2023 field test, which reported no 4-hour breaches (choose a window ending before 2019-05 or drop the 4-hour outcomes to keep it)."
        )
        agg = agg[~agg["stp21_code"].isin(lost["stp21_code"])]
    if incomplete == "drop_cells":
        # Context: a footprint-month whose providers reported part of the month (or nothing) under-counts activity.
        # Decision: data.incomplete: drop_cells sets every footprint-month cell an incident touches (the imputed and
        # the published values differ) to missing and analyses the unbalanced panel (data.missing: allow).
        # Consequences: no imputation model is assumed; each method says how it used the missing cells.
        touched = np.zeros(len(agg), dtype=bool)
        for o in keep:
            imp = imputed_name(o)
            if imp in agg.columns:
                hit = ~np.isclose(agg[imp].to_numpy(dtype=float), agg[o].to_numpy(dtype=float), rtol=1e-12, atol=0, equal_nan=True)
                agg.loc[hit, o] = np.nan
                touched |= hit
        notes.append(f"Provider completeness (data.incomplete: drop_cells): {int(touched.sum())} footprint-month cell(s) touched by a missing or partial provider month are set missing and the panel is analysed as unbalanced (data.missing: allow).")
    extra = [c for c in agg.columns if c not in analysed and c not in ("stp21_code", "period", "stp21_name", "population", *COVARIATES)]
    df, freq, vnotes = validate_panel(
        agg,
        name="nhs_ae",
        unit="stp21_code",
        time="period",
        outcomes=analysed,
        outcome_kinds=kinds,
        unit_name="stp21_name",
        population="population",
        covariates=list(COVARIATES),
        extra=extra,
        frequency="month",
        balance="allow" if incomplete == "drop_cells" else "error",
    )
    notes = vnotes + notes
    files = dict(su.files)
    files.update({display(p): sha256(p) for p in (TRUST_STP, TRUST_SUCCESSORS, TRUST_REGION, DEPRIVATION)})
    mapping = su.mapping
    report = MappingReport(
        mapping[["org_code", "route", "chain", "stp21_code", "provider_kind", "series"]],
        su.unmapped,
        float(su.unmapped["attendances"].sum() / max(1.0, su.frame["attendances"].sum() + su.unmapped["attendances"].sum())),
        su.share_unmapped_by_type,
        su.unmapped_by_year,
    )
    type_text = "type 1" if types == ["1"] else "types " + ", ".join(types)
    used = mapping[mapping["org_code"].isin(set(su.unmapped["org_code"]) | set(mapping.loc[mapping["stp21_code"].notna(), "org_code"]))]
    routes = used["route"].value_counts()
    notes.append(
        f"A&E {type_text} and emergency admissions: {int(routes.sum())} provider codes, {int(routes.get('direct', 0))} mapped directly, "
        f"{int(routes.get('successor', 0))} through successor chains, {int(routes.get('unmapped', 0) + routes.get('ambiguous', 0))} unmapped; "
        f"{report.share_unmapped:.2%} of the selected attendances unmapped."
    )
    inc = su.incidents
    listed = inc[inc["kind"] != "series break"]
    if len(inc):
        rule = {"impute": "imputed from each provider's own seasonal pattern (data.incomplete: impute)", "drop_cells": "set missing in the footprints they touch (data.incomplete: drop_cells)"}.get(incomplete, "flagged and analysed as published (data.incomplete: flag)")
        notes.append(f"Provider completeness: {len(listed)} provider-month incident(s) and {int((inc['kind'] == 'series break').sum())} series break(s) found; missing or partial months are {rule}; see the completeness table in 00_data.")
    if su.local_months:
        notes.append(f"Months added locally with evidence add-month (read after the shipped files): {', '.join(su.local_months)}.")
    if incomplete == "impute":
        notes.append("Outcomes are analysed with imputed provider months: " + ", ".join(f"{o} -> {a}" for o, a in zip(keep, analysed)) + " (the published counts stay in their own columns).")
    if any(o.replace("_imputed", "").endswith(("_per_100k", "_per_1000")) for o in analysed):
        from .population import extrapolation_summary

        months = pd.PeriodIndex(pd.to_datetime(df["time"].astype(str).unique()), freq="M") if not isinstance(df["time"].iloc[0], pd.Period) else pd.PeriodIndex(df["time"].unique(), freq="M")
        ex = extrapolation_summary(months)
        if ex.get("months_extrapolated"):
            notes.append(
                f"Population after mid-2020 is extrapolated ({ex['months_extrapolated']} months): England's total and each footprint's share continue their 2016-2020 trends from mid-2020 "
                f"(England {ex['england_mid2020'] / 1e6:.2f} million at mid-2020, {ex['england_last'] / 1e6:.2f} million by {ex['last_month']}, +{ex['growth_pct']:.1f}%; largest change of a footprint's share {ex['max_share_change_pct']:.1f}%); no census-rebased figures are spliced in."
            )
    panel = Panel(df, analysed, kinds, freq, list(COVARIATES), source="nhs_ae", files=files, notes=notes,
                  columns={"unit": "stp21_code", "time": "period", "unit_name": "stp21_name"},
                  extras={"mapping": report, "ae_types": types, "completeness": inc, "incomplete": incomplete, "count_descriptions": COUNT_DESCRIPTIONS})
    return panel, report


def add_indirectly_standardised(panel: Panel, rates_path: Path) -> Panel:
    """Add ``<outcome>_sir`` columns: observed / expected x 100, expected from reference age-specific rates.

    ``rates_path`` (``data.reference_rates``): CSV with columns ``outcome, band, rate`` (events per person per month,
    bands pop_0_17, pop_18_64, pop_65_74, pop_75_plus). Monthly band populations are interpolated like the total.
    """
    from ..standardise import BANDS, indirect_standardisation

    t = pd.read_csv(rates_path)
    for col in ("outcome", "band", "rate"):
        if col not in t.columns:
            raise DataError(f"{display(rates_path)}: column {col} is missing (data.reference_rates); give columns outcome, band, rate.")
    months = pd.PeriodIndex(panel.periods, freq="M")
    bands = [monthly_population(months, b).set_index(["stp21_code", "period"])[b] for b in BANDS]
    key = pd.MultiIndex.from_arrays([panel.data["unit"].astype(str), panel.data["time"]])
    popb = np.column_stack([b.reindex(key).to_numpy() for b in bands])
    for outcome, sub in t.groupby("outcome", sort=False):
        if outcome not in panel.outcomes:
            raise DataError(f"{display(rates_path)}: outcome '{outcome}' (data.reference_rates) is not among data.outcomes ({', '.join(panel.outcomes)}).")
        rates = sub.set_index("band").reindex(list(BANDS))["rate"]
        if rates.isna().any():
            raise DataError(f"{display(rates_path)}: outcome '{outcome}' has no rate for age band {rates.index[rates.isna()][0]} (data.reference_rates).")
        _, ratio = indirect_standardisation(panel.data[outcome].to_numpy(float), popb, rates.to_numpy(float))
        name = f"{outcome}_sir"
        panel.data[name] = 100 * ratio
        panel.outcomes.append(name)
        panel.outcome_kinds[name] = "continuous"
    panel.files[display(rates_path)] = sha256(rates_path)
    panel.notes.append(f"Indirectly standardised ratios (x100) for {', '.join(t['outcome'].unique())} from reference age-specific rates in {display(rates_path)}.")
    return panel
