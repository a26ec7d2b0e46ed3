"""Built-in cost sources: NHS Payments to General Practice, and National Cost Collection unit costs.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Financial years
    Context: payments are annual (April-March). Decision: the panel's periods are NHS financial years (frequency
    ``fy``, labelled ``2017/18``); a designation counts from the first full financial year after it
    (``treatment.first_period: first_full``), so June 2017 designations are treated from 2018/19.
    Consequences: the first wave has one fewer treated year than a "containing" rule would give.
Nominal pounds
    Context: payments are in cash terms and no sourced price index ships with the project. Decision: analyse
    payments per registered (and per weighted) patient in cash terms, in levels and logs. Consequences: common
    inflation is absorbed by the period fixed effects (exactly in logs, approximately in levels); effects in
    levels are in the pounds of each year.
What the payments are
    Context: totals include drug reimbursement for dispensing practices and vary with practice list size and
    contract. Decision: use the footprint file's per-patient figures (footprint totals over footprint lists);
    the practice-level file is a separate source for practice-level analyses (units = practices, clusters =
    footprints). Consequences: rural footprints with many dispensing practices have higher levels, which the unit
    fixed effects absorb.
Unit costs (valuing activity)
    Context: the National Cost Collection schedule is available for 2023/24 and 2024/25 only. Decision: value
    activity at 2023/24 national average unit costs (activity-weighted over the relevant currencies) — constant
    2023/24 prices; a user table (``costs.unit_costs``) can replace them and a deflator table (``costs.deflator``)
    restate them in another year's prices. Consequences: pound values of service-use effects are in 2023/24 prices
    unless a deflator is supplied; emergency medicine is not split by A&E type, so a type-1 attendance is valued at
    the average emergency-medicine unit cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..panel import Panel, sha256, validate_panel
from ..paths import RAW, display

GP_FOOTPRINT: Path = RAW / "costs" / "gp_payments_stp21_year_2014_15_to_2022_23.csv"
GP_PRACTICE: Path = RAW / "costs" / "gp_payments_practice_year_2014_15_to_2022_23.csv.gz"
NCC: Path = RAW / "costs" / "ncc_national_schedule_2023_24_2024_25.csv.gz"

ACTIVITIES: tuple[str, ...] = ("ae_attendance", "emergency_admission")
"""Activities the workbook values in pounds (A&E attendances, emergency admissions via A&E)."""

GP_OUTCOMES: dict[str, str] = {
    "payments_per_registered_patient": "continuous",
    "payments_per_weighted_patient": "continuous",
    "payments_per_registered_patient_real": "continuous",
    "payments_per_weighted_patient_real": "continuous",
    "total_payments": "continuous",
    "registered_patients": "count",
}
COST_INDEX = RAW / "costs" / "nhs_cost_inflation_indices_uchsc_2015_16_2023_24.csv"
PRICE_BASE = "2023/24"


def nhs_cost_index(edition: str = "UCHSC 2024", series: str = "nhscii_pay_and_prices") -> pd.DataFrame:
    """The NHS Cost Inflation Index (pay and prices) by financial year, 2023/24 = 100, from the shipped UCHSC table.

    Context: NHS payments and costs are in cash terms of their year. Decision: restate them in 2023/24 prices with the
    NHSCII pay and prices series of the 2024 edition of *Unit Costs of Health and Social Care* (chained from its
    printed annual changes; 2023/24 provisional); 2014/15, which the manual does not print, is derived from its first
    printed change (79.218 / 1.004 = 78.90) and flagged. Consequences: real-terms series back to 2014/15; a user's
    ``costs.deflator`` replaces this index where given.

    Returns
    -------
    pandas.DataFrame
        ``fin_year``, ``index`` (2023/24 = 100), ``derived`` (True for 2014/15), ``provisional``.
    """
    t = pd.read_csv(COST_INDEX)
    t = t[(t["edition"] == edition) & (t["series"] == series)][["fin_year", "index_last_year_100", "pct_change_on_previous_year", "provisional"]]
    if t.empty:
        raise DataError(f"{display(COST_INDEX)}: no rows for edition {edition!r} and series {series!r}; restore the original file.")
    t = t.sort_values("fin_year").reset_index(drop=True)
    first = t.iloc[0]
    y0 = int(str(first["fin_year"])[:4]) - 1
    prev = pd.DataFrame([{"fin_year": f"{y0}/{(y0 + 1) % 100:02d}", "index_last_year_100": first["index_last_year_100"] / (1 + first["pct_change_on_previous_year"] / 100), "provisional": False}])
    out = pd.concat([prev, t], ignore_index=True).rename(columns={"index_last_year_100": "index"})
    out["derived"] = out.index == 0
    out["provisional"] = out["provisional"].astype(str).str.upper().eq("TRUE")
    return out[["fin_year", "index", "derived", "provisional"]]


def _fy_start(label: pd.Series) -> pd.Series:
    """'2017/18' -> 2017-04-01."""
    return pd.to_datetime(label.str.slice(0, 4) + "-04-01")


def price_index(deflator: str | Path | None = None) -> tuple[pd.Series, str]:
    """Financial year -> price index for real terms, and a sentence saying which index it is.

    The shipped NHS Cost Inflation Index (:func:`nhs_cost_index`) unless ``costs.deflator`` names a table with columns
    ``fin_year`` and ``index`` (any base), which replaces it.
    """
    if deflator is None:
        idx = nhs_cost_index().set_index("fin_year")["index"]
        return idx, ("NHS Cost Inflation Index, pay and prices (Unit Costs of Health and Social Care 2024 edition, licence "
                     "unspecified; the 2023 edition is CC BY-NC-SA 4.0: attribution, non-commercial use only, share-alike); "
                     "2023/24 provisional, 2014/15 derived from the first printed change")
    path = Path(deflator)
    try:
        t = pd.read_csv(path, dtype={"fin_year": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise DataError(f"{display(path)} cannot be read as CSV (costs.deflator); give columns fin_year, index.") from None
    for col in ("fin_year", "index"):
        if col not in t.columns:
            raise DataError(f"{display(path)}: column {col} is missing (costs.deflator); give columns fin_year, index.")
    return pd.to_numeric(t.set_index("fin_year")["index"], errors="coerce"), f"the user's deflator {display(path)} (costs.deflator)"


def build_gp_payments_panel(outcomes: list[str] | None = None, deflator: str | Path | None = None, price_year: str | None = None) -> Panel:
    """Footprint x financial-year panel of NHS payments to general practice (2014/15-2022/23).

    ``*_real`` outcomes are in ``price_year`` prices (2023/24 with the shipped index; ``costs.price_year`` with a
    user's ``costs.deflator``)."""
    raw = pd.read_csv(GP_FOOTPRINT)
    keep = list(outcomes) if outcomes is not None else list(GP_OUTCOMES)
    unknown = [o for o in keep if o not in GP_OUTCOMES]
    if unknown:
        raise DataError(f"built-in source gp_payments: outcome '{unknown[0]}' (data.outcomes) does not exist; choose from {', '.join(GP_OUTCOMES)}.")
    idx, which = price_index(deflator)
    base = price_year or (PRICE_BASE if deflator is None else None)
    if base is None:
        raise DataError("costs.deflator is given but costs.price_year is empty; name the financial year to state pounds in (for example 2023/24).")
    need = sorted(set(raw["fin_year"]) | {base})
    bad = [y for y in need if y not in idx.index or not np.isfinite(idx[y]) or idx[y] <= 0]
    if bad:
        raise DataError(f"price index ({which}): no positive value for {bad[0]} (costs.deflator); add that financial year.")
    factor = idx[base] / raw["fin_year"].map(idx)
    raw["payments_per_registered_patient_real"] = raw["payments_per_registered_patient"] * factor
    raw["payments_per_weighted_patient_real"] = raw["payments_per_weighted_patient"] * factor
    raw["period"] = _fy_start(raw["fin_year"])
    df, freq, notes = validate_panel(raw, name="gp_payments", unit="stp21_code", time="period", outcomes=keep, outcome_kinds=GP_OUTCOMES, unit_name="stp21_name", population="registered_patients", frequency="fy")
    notes.append("NHS Payments to General Practice in cash terms, summed over each footprint's practices (2021 footprints); per-patient figures are footprint totals over registered (or weighted) patients; *_real columns are in " + f"{base} prices, deflated with the {which}.")
    return Panel(df, keep, {o: GP_OUTCOMES[o] for o in keep}, freq, [], source="gp_payments", files={display(GP_FOOTPRINT): sha256(GP_FOOTPRINT), display(COST_INDEX): sha256(COST_INDEX)}, notes=notes, columns={"unit": "stp21_code", "time": "fin_year"})


def build_gp_practice_panel(outcomes: list[str] | None = None, balance: str = "drop") -> Panel:
    """Practice x financial-year panel (units = practices, area and cluster = footprint).

    Practices with zero registered patients in a year, and practices not present in every year, are dropped with a
    count in the notes (``data.missing``); negative payments (recoveries) are kept as values but make the practice's
    payments per patient unusable in logs.
    """
    raw = pd.read_csv(GP_PRACTICE, dtype={"practice_code": str, "stp21_code": str})
    keep = list(outcomes) if outcomes is not None else ["payments_per_registered_patient", "payments_per_weighted_patient"]
    allowed = {"payments_per_registered_patient": "continuous", "payments_per_weighted_patient": "continuous", "total_payments": "continuous", "registered_patients": "count"}
    unknown = [o for o in keep if o not in allowed]
    if unknown:
        raise DataError(f"built-in source gp_payments_practice: outcome '{unknown[0]}' (data.outcomes) does not exist; choose from {', '.join(allowed)}.")
    zero = (raw["registered_patients"] <= 0) | (raw["weighted_patients"] <= 0)
    dropped = raw.loc[zero, "practice_code"].nunique()
    raw = raw[~raw["practice_code"].isin(raw.loc[zero, "practice_code"])]
    raw["payments_per_registered_patient"] = raw["total_payments"] / raw["registered_patients"]
    raw["payments_per_weighted_patient"] = raw["total_payments"] / raw["weighted_patients"]
    raw["period"] = _fy_start(raw["fin_year"])
    raw["area"] = raw["stp21_code"]
    df, freq, notes = validate_panel(raw, name="gp_payments_practice", unit="practice_code", time="period", outcomes=keep, outcome_kinds=allowed, cluster="stp21_code", population="registered_patients", extra=["area"], frequency="fy", balance=balance)
    notes.insert(0, f"Dropped {dropped} practice(s) with a year of zero registered or weighted patients.")
    return Panel(df, keep, {o: allowed[o] for o in keep}, freq, [], source="gp_payments_practice", files={display(GP_PRACTICE): sha256(GP_PRACTICE)}, notes=notes, columns={"unit": "practice_code", "time": "fin_year", "cluster": "stp21_code"})


def unit_costs(table: str | Path | None = None, year: str = "2023/24") -> pd.DataFrame:
    """Unit costs (pounds) of the activities the workbook values, from the National Cost Collection schedule.

    Returns one row per activity: ``activity``, ``unit_cost``, ``price_year``, ``basis``. Activities:
    ``ae_attendance`` (emergency medicine, VB01Z-VB99Z, activity-weighted) and ``emergency_admission`` (non-elective
    inpatient spells, short and long stay combined, activity-weighted).
    A user table with columns ``activity, unit_cost`` (and optionally ``price_year``) replaces the defaults.
    """
    if table is not None:
        path = Path(table)
        try:
            t = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
            raise DataError(f"{display(path)} cannot be read as CSV (costs.unit_costs); give columns activity, unit_cost.") from None
        for col in ("activity", "unit_cost"):
            if col not in t.columns:
                raise DataError(f"{display(path)}: column {col} is missing (costs.unit_costs); give columns activity, unit_cost.")
        missing = [a for a in ACTIVITIES if a not in set(t["activity"])]
        if missing:
            raise DataError(f"{display(path)}: no unit cost for activity '{missing[0]}' (costs.unit_costs); give a row for each of {', '.join(ACTIVITIES)}.")
        if not pd.to_numeric(t["unit_cost"], errors="coerce").gt(0).all():
            raise DataError(f"{display(path)}: column unit_cost must be positive numbers (costs.unit_costs).")
        t["price_year"] = t.get("price_year", "user")
        t["basis"] = f"user table {display(path)}"
        return t[["activity", "unit_cost", "price_year", "basis"]]
    ncc = pd.read_csv(NCC, dtype=str)
    ncc = ncc[ncc["fin_year"] == year]
    for col in ("activity", "unit_cost", "cost"):
        ncc[col] = pd.to_numeric(ncc[col], errors="coerce")
    rows = []
    em = ncc[(ncc["department_code"] == "Emergency Care") & ncc["currency_code"].str.match(r"VB\d\dZ")]
    rows.append(("ae_attendance", em["cost"].sum() / em["activity"].sum(), "emergency medicine VB01Z-VB99Z, activity-weighted mean"))
    nel = ncc[ncc["department_code"].isin(["Non-Elective Inpatient - Short Stay", "Non-Elective Inpatient - Long Stay"])]
    rows.append(("emergency_admission", nel["cost"].sum() / nel["activity"].sum(), "non-elective inpatient spells (short and long stay), activity-weighted mean"))
    out = pd.DataFrame(rows, columns=["activity", "unit_cost", "basis"])
    out["price_year"] = year
    return out[["activity", "unit_cost", "price_year", "basis"]]


def deflate(costs: pd.DataFrame, deflator: str | Path | None, to_year: str | None) -> pd.DataFrame:
    """Restate unit costs from their price year into ``to_year`` prices with a deflator table (``costs.deflator``).

    The table has columns ``fin_year`` (``2017/18``) and ``index`` (any base); unit costs are multiplied by
    ``index[to_year] / index[price_year]``. With no table the costs are returned unchanged (2023/24 prices).
    """
    if deflator is None:
        if to_year is not None:
            raise DataError("costs.price_year is set but costs.deflator is empty; give a deflator table (fin_year, index) to restate prices.")
        return costs
    path = Path(deflator)
    idx, _ = price_index(path)
    if to_year is None:
        raise DataError("costs.deflator is given but costs.price_year is empty; name the financial year to state pounds in (for example 2017/18).")
    out = costs.copy()
    for year in set(out["price_year"]) | {to_year}:
        if year not in idx.index or not np.isfinite(idx[year]) or idx[year] <= 0:
            raise DataError(f"{display(path)}: no positive index for {year} (costs.deflator); add that financial year.")
    out["unit_cost"] = out["unit_cost"] * out["price_year"].map(lambda y: idx[to_year] / idx[y])
    out["price_year"] = to_year
    out["basis"] = out["basis"] + f"; deflated with {display(path)}"
    return out
