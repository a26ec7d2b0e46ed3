"""Built-in source ``nhs_ae``: NHS England A&E attendances by provider and month -> 2021 ICS footprints.

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
    Context: ONS mid-year estimates refer to 30 June. Decision: interpolate linearly between mid-years to each
    month's midpoint, extrapolating the 2016-17 change backwards for April-May 2016. Consequences: a smooth monthly
    denominator for rates; it does not capture within-year migration shocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..paths import RAW, display
from ..panel import Panel, sha256, validate_panel

AE_FILE: Path = RAW / "nhs" / "ae_attendances_2016_2019.csv"
TRUST_STP: Path = RAW / "reference" / "lookup_nhs_trusts22_stp21.csv"
TRUST_SUCCESSORS: Path = RAW / "reference" / "lookup_trust_trust.csv"
TRUST_REGION: Path = RAW / "reference" / "lookup_nhs_trusts22_nhs_region21.csv"
POPULATION: Path = RAW / "population" / "stp21_population.csv"
DEPRIVATION: Path = RAW / "population" / "stp21_deprivation.csv"

EXTRA_SUCCESSORS: dict[str, str] = {"RA3": "RA7", "RBA": "RH5"}
"""Mergers missing from ``lookup_trust_trust.csv`` (both April 2020; see data/README.md)."""

OUTCOME_KINDS: dict[str, str] = {
    "attendances": "count",
    "breaches": "count",
    "admissions": "count",
    "pct_within_4h": "percent",
    "attendances_per_1000": "continuous",
    "admissions_per_1000": "continuous",
}
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
    """

    codes: pd.DataFrame
    unmapped: pd.DataFrame
    share_unmapped: float
    share_unmapped_by_type: dict[str, float]


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


def monthly_population(months: pd.PeriodIndex, column: str = "population") -> pd.DataFrame:
    """ONS mid-year population (or an age band's, ``column``) interpolated to months (see the module's Population decision)."""
    pop = pd.read_csv(POPULATION)
    wide = pop.pivot(index="stp21_code", columns="year", values=column).sort_index()
    years = wide.columns.to_numpy(dtype=float)
    x_mid = years * 12 + 5.5  # 30 June as a fractional month index (June = month 5, 0-based, at its end)
    x = np.asarray([p.year * 12 + p.month - 1 + 0.5 for p in months])  # month midpoints
    vals = wide.to_numpy(dtype=float)
    # linear interpolation, with linear extrapolation from the nearest two mid-years
    idx = np.clip(np.searchsorted(x_mid, x) - 1, 0, len(x_mid) - 2)
    w = (x - x_mid[idx]) / (x_mid[idx + 1] - x_mid[idx])
    interp = vals[:, idx] * (1 - w) + vals[:, idx + 1] * w
    return pd.DataFrame(interp, index=wide.index, columns=months).rename_axis(index="stp21_code", columns="period").stack().rename(column).reset_index()


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


def build_ae_panel(ae_types: list[str] | tuple[str, ...] = ("1",), outcomes: list[str] | None = None, path: Path = AE_FILE) -> tuple[Panel, MappingReport]:
    """Build the footprint x month A&E panel.

    Parameters
    ----------
    ae_types
        A&E types to include: ``"1"`` (major EDs, the default), ``"2"``, ``"other"``.
    outcomes
        Outcomes to keep (default: all of attendances, breaches, admissions, pct_within_4h and the rates per 1,000).
    path
        The raw A&E file.

    Returns
    -------
    (Panel, MappingReport)

    Raises
    ------
    DataError
        If any type-1 activity cannot be mapped, or the result is not 42 footprints x every month.
    """
    types = [str(t) for t in ae_types]
    raw = read_ae(path)
    mapping = map_providers(raw["org_code"])
    raw = raw.merge(mapping[["org_code", "stp21_code", "route"]], on="org_code", how="left")
    sel = raw[raw["type"].isin(types)]
    total = sel.groupby("type")["attendances"].sum()
    um = sel[sel["stp21_code"].isna()]
    by_type = (um.groupby("type")["attendances"].sum().reindex(total.index, fill_value=0.0) / total).fillna(0.0)
    unmapped = (
        um.groupby(["org_code", "type"], as_index=False)[["attendances", "admissions"]].sum()
        .merge(mapping[["org_code", "route", "provider_kind"]], on="org_code")
        .assign(share_of_selected=lambda d: d["attendances"] / total.sum())
        .sort_values("attendances", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    report = MappingReport(mapping, unmapped, float(um["attendances"].sum() / total.sum()), {k: float(v) for k, v in by_type.items()})
    if "1" in types and by_type.get("1", 0.0) > 0:
        codes = ", ".join(unmapped.loc[unmapped["type"] == "1", "org_code"].head(5))
        raise DataError(f"{display(TRUST_STP)}: type-1 providers {codes} map to no 2021 footprint; add their successor codes to {display(TRUST_SUCCESSORS)}.")

    mapped = sel[sel["stp21_code"].notna()]
    agg = mapped.groupby(["stp21_code", "period"], as_index=False)[["attendances", "breaches", "admissions"]].sum()
    agg["pct_within_4h"] = 100 * (1 - agg["breaches"] / agg["attendances"])
    months = pd.PeriodIndex(sorted(agg["period"].dt.to_period("M").unique()), freq="M")
    pop = monthly_population(months)
    pop["period"] = pop["period"].dt.to_timestamp()
    agg = agg.merge(pop, on=["stp21_code", "period"], how="left")
    agg["attendances_per_1000"] = 1000 * agg["attendances"] / agg["population"]
    agg["admissions_per_1000"] = 1000 * agg["admissions"] / agg["population"]
    cov = footprint_covariates()
    names = pd.read_csv(TRUST_STP, dtype=str).drop_duplicates("stp21_code")[["stp21_code", "stp21_name"]]
    agg = agg.merge(cov, on="stp21_code", how="left").merge(names, on="stp21_code", how="left")

    n_fp, n_m = agg["stp21_code"].nunique(), len(months)
    if len(agg) != n_fp * n_m:
        raise DataError(f"{display(path)}: the footprint x month panel is not balanced ({len(agg)} rows for {n_fp} footprints x {n_m} months); some footprint has a month with no {'/'.join(types)} activity.")
    keep = list(outcomes) if outcomes is not None else list(OUTCOME_KINDS)
    unknown = [o for o in keep if o not in OUTCOME_KINDS]
    if unknown:
        raise DataError(f"built-in source nhs_ae: outcome '{unknown[0]}' (data.outcomes) does not exist; choose from {', '.join(OUTCOME_KINDS)}.")
    df, freq, notes = validate_panel(
        agg,
        name="nhs_ae",
        unit="stp21_code",
        time="period",
        outcomes=keep,
        outcome_kinds=OUTCOME_KINDS,
        unit_name="stp21_name",
        population="population",
        covariates=list(COVARIATES),
        extra=["region"],
        frequency="month",
    )
    files = {display(p): sha256(p) for p in (path, TRUST_STP, TRUST_SUCCESSORS, TRUST_REGION, POPULATION, DEPRIVATION)}
    type_text = "type 1" if types == ["1"] else "types " + ", ".join(types)
    routes = mapping[mapping["org_code"].isin(sel["org_code"].unique())]["route"].value_counts()
    notes.append(
        f"A&E {type_text}: {int(routes.sum())} provider codes, {int(routes.get('direct', 0))} mapped directly, "
        f"{int(routes.get('successor', 0))} through successor chains, {int(routes.get('unmapped', 0) + routes.get('ambiguous', 0))} unmapped; "
        f"{report.share_unmapped:.2%} of the selected attendances unmapped."
    )
    panel = Panel(df, keep, {o: OUTCOME_KINDS[o] for o in keep}, freq, list(COVARIATES), source="nhs_ae", files=files, notes=notes,
                  columns={"unit": "stp21_code", "time": "period", "unit_name": "stp21_name"}, extras={"mapping": report, "ae_types": types})
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
