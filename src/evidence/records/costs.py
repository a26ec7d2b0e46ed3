"""Costing records: activity unit costs (``evidence.data.costs.unit_costs``) or an HRG-keyed table.

Decision (Context / Decision / Consequences)
---------------------------------------------
Costs of records
    Context: the workbook values activity at National Cost Collection (NCC) 2023/24 national average unit costs;
    record-level extracts may also carry the spell's cost currency (HRG), whose unit costs differ thirty-fold
    (a short-stay chest-pain spell against a long-stay hip fracture). Decision: an emergency spell is valued at the
    NCC 2023/24 unit cost of its HRG in the matching setting — *non-elective short stay* when the length of stay is
    0 or 1 day, *non-elective long stay* otherwise (NCC's own split) — when the record has ``hrg_code`` and the
    HRG is in the table; otherwise at the activity-weighted average of all non-elective spells
    (``unit_costs()`` activity ``emergency_admission``). An A&E attendance is valued at its VB-code unit cost
    (emergency medicine) or the average (``ae_attendance``). Unit costs are rounded to the penny and summed as
    integer pence by the engines. Excess bed-day payments, market forces factors and elective spells are not
    costed. Consequences: pound values are in 2023/24 prices, exact and engine-independent; spells costed at the
    average are counted (``Panel.extras['records'].cost_fallback``) so a reader sees how much rests on it; the
    penny rounding moves a footprint-month total by at most half a penny per record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.costs import NCC, unit_costs as activity_unit_costs
from ..errors import DataError
from ..paths import display

HRG_SETTINGS: dict[str, str] = {
    "short_stay": "Non-Elective Inpatient - Short Stay",
    "long_stay": "Non-Elective Inpatient - Long Stay",
    "day_case": "Daycase",
    "elective_inpatient": "Elective Inpatients",
    "ae": "Emergency Care",
}
"""Setting used in the cost table -> NCC department."""

SETTINGS_BY_KIND: dict[str, tuple[str, ...]] = {"spells": ("short_stay", "long_stay"), "attendances": ("ae",)}
"""Settings the aggregation joins on, per record kind (elective settings serve only the generator)."""


def hrg_unit_costs(year: str = "2023/24") -> pd.DataFrame:
    """NCC unit costs by setting and currency (HRG), with national activity.

    Returns
    -------
    pandas.DataFrame
        ``setting``, ``currency_code``, ``unit_cost`` (pounds, cost / activity), ``activity`` (national count),
        ``price_year``. A&E rows are the emergency-medicine VB codes.
    """
    ncc = pd.read_csv(NCC, dtype=str)
    ncc = ncc[ncc["fin_year"] == year].copy()
    for col in ("activity", "cost"):
        ncc[col] = pd.to_numeric(ncc[col], errors="coerce")
    rows = []
    for setting, dept in HRG_SETTINGS.items():
        d = ncc[(ncc["department_code"] == dept) & (ncc["activity"] > 0) & (ncc["cost"] > 0)]
        if setting == "ae":
            d = d[d["currency_code"].str.match(r"VB\d\dZ")]
        g = d.groupby("currency_code", as_index=False)[["activity", "cost"]].sum()
        g["setting"] = setting
        rows.append(g)
    out = pd.concat(rows, ignore_index=True)
    out["unit_cost"] = out["cost"] / out["activity"]
    out["price_year"] = year
    return out[["setting", "currency_code", "unit_cost", "activity", "price_year"]]


def read_hrg_costs(table: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A user's HRG cost table (CSV path or DataFrame) with columns ``setting, currency_code, unit_cost``.

    Raises
    ------
    DataError
        Unreadable file, missing columns, unknown settings, non-positive costs.
    """
    if isinstance(table, pd.DataFrame):
        t, name = table.copy(), "HRG cost table"
    else:
        name = display(table)
        try:
            t = pd.read_csv(table, dtype={"setting": str, "currency_code": str})
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
            raise DataError(f"{name} cannot be read as CSV (hrg_costs); give columns setting, currency_code, unit_cost.") from None
    for col in ("setting", "currency_code", "unit_cost"):
        if col not in t.columns:
            raise DataError(f"{name}: column {col} is missing (hrg_costs); give columns setting, currency_code, unit_cost.")
    bad = sorted(set(t["setting"]) - set(HRG_SETTINGS))
    if bad:
        raise DataError(f"{name}: setting '{bad[0]}' is not one of {', '.join(HRG_SETTINGS)} (hrg_costs).")
    cost = pd.to_numeric(t["unit_cost"], errors="coerce")
    if not cost.gt(0).all():
        raise DataError(f"{name}: column unit_cost must be positive numbers (hrg_costs).")
    if t.duplicated(["setting", "currency_code"]).any():
        r = t[t.duplicated(["setting", "currency_code"])].iloc[0]
        raise DataError(f"{name}: currency {r['currency_code']} appears twice in setting {r['setting']} (hrg_costs); keep one unit cost per setting and currency.")
    t["unit_cost"] = cost
    return t


def activity_cost(kind_activity: str, unit_costs: str | Path | pd.DataFrame | None) -> tuple[float, str]:
    """Unit cost (pounds) of one activity (``emergency_admission`` / ``ae_attendance``) and its price year.

    ``unit_costs`` is ``None`` (NCC 2023/24 via :func:`evidence.data.costs.unit_costs`), a CSV path in that
    function's format (``costs.unit_costs``), or a DataFrame with columns ``activity, unit_cost``.
    """
    if isinstance(unit_costs, pd.DataFrame):
        t = unit_costs
        if not {"activity", "unit_cost"} <= set(t.columns):
            raise DataError("unit_costs: the table needs columns activity, unit_cost (costs.unit_costs).")
        name = "unit_costs table"
    else:
        t = activity_unit_costs(unit_costs)
        name = display(unit_costs) if unit_costs is not None else "National Cost Collection 2023/24"
    row = t[t["activity"] == kind_activity]
    if row.empty:
        raise DataError(f"{name}: no unit cost for activity '{kind_activity}' (costs.unit_costs).")
    value = float(pd.to_numeric(row["unit_cost"], errors="coerce").iloc[0])
    if not np.isfinite(value) or value <= 0:
        raise DataError(f"{name}: the unit cost of '{kind_activity}' must be a positive number (costs.unit_costs).")
    year = str(row["price_year"].iloc[0]) if "price_year" in row.columns else "user"
    return value, year


def cost_map(kind: str, hrg_costs: str | Path | pd.DataFrame | bool | None) -> pd.DataFrame:
    """The table the engines join on: ``setting``, ``currency_code``, ``cost_pence`` (int64).

    ``hrg_costs``: ``None`` or ``True`` = NCC 2023/24 (:func:`hrg_unit_costs`); ``False`` = no HRG costing (every
    record at the activity average); a path or DataFrame = a user table (:func:`read_hrg_costs`).
    """
    if hrg_costs is False:
        t = pd.DataFrame({"setting": pd.Series([], dtype=str), "currency_code": pd.Series([], dtype=str), "unit_cost": pd.Series([], dtype=float)})
    elif hrg_costs is None or hrg_costs is True:
        t = hrg_unit_costs()
    else:
        t = read_hrg_costs(hrg_costs)
    t = t[t["setting"].isin(SETTINGS_BY_KIND[kind])]
    return pd.DataFrame(
        {
            "setting": t["setting"].astype(str).to_numpy(),
            "currency_code": t["currency_code"].astype(str).to_numpy(),
            "cost_pence": np.rint(t["unit_cost"].to_numpy(dtype=float) * 100).astype("int64"),
        }
    )


def pence(pounds: float) -> int:
    """Pounds -> whole pence (the engines sum integers)."""
    return int(round(pounds * 100))
