"""Monthly denominators for footprint rates: ONS residents (2016 onwards) and GP registered patients (a sensitivity).

Decisions (Context / Decision / Consequences)
---------------------------------------------
Interpolation within the published years
    Context: ONS mid-year estimates refer to 30 June; the panel is monthly. Decision: interpolate linearly between
    mid-years to each month's midpoint; before the first mid-year, extrapolate the first year's change backwards
    (April-May 2016 only). Consequences: a smooth monthly denominator; within-year migration shocks are not captured.
After mid-2020: one population basis carried forward
    Context: footprint estimates ship for mid-2016 .. mid-2020 only, as first published (before ONS rebased
    2012-2020 on Census 2021). Census-based estimates for mid-2021 onwards would put a step into every rate in 2021
    (England mid-2021: 56,536,419 census-based, against 56,550,138 for mid-2020 on the old basis and this module's
    trend of about 56.9 million), and none ship anyway. Decision: carry the England total forward on its 2016-2020
    least-squares trend and each footprint's share of England forward on its own 2016-2020 trend, both anchored at
    the mid-2020 value (no step at mid-2020), shares renormalised to sum to one; the same for every age band.
    Consequences: rates after mid-2020 rest on an assumption, not an estimate: growth continues as in 2016-2020
    (England about +0.3 million a year; about 58.3 million by February 2026) and no footprint's share changes
    course. :func:`extrapolation_summary` gives the size of the assumption for the report; estimates for periods
    after mid-2020 should be read with it.
Registered patients as the alternative denominator
    Context: residents (ONS) and patients registered with the footprint's practices differ (list inflation,
    cross-boundary registration), and registered lists are counted every year to 2022/23. Decision: interpolate the
    financial-year registered lists (NHS Payments to General Practice) to months, treating each year's list as
    the count at the year's midpoint (1 October), and carry it past 2022/23 the same way as the population.
    Consequences: a sensitivity denominator (``<count>_per_100k_registered``) that does not depend on the
    post-2020 population assumption until October 2022.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import RAW

POPULATION: Path = RAW / "population" / "stp21_population.csv"
GP_PAYMENTS: Path = RAW / "costs" / "gp_payments_stp21_year_2014_15_to_2022_23.csv"
LAST_MID_YEAR: int = 2020
"""The last ONS mid-year estimate that ships (mid-2020)."""


def _month_mid(months: pd.PeriodIndex) -> np.ndarray:
    """Fractional month index of each month's midpoint (January 2016 = 2016 * 12 + 0.5)."""
    return months.year.to_numpy() * 12 + months.month.to_numpy() - 1 + 0.5


def carry_forward(wide: pd.DataFrame, x_points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Values of each row of ``wide`` (units x reference points at ``x_points``) at positions ``x``.

    Linear interpolation between reference points; before the first point the first interval's slope; after the
    last point the total's least-squares trend and each unit's share of the total on its own least-squares trend,
    both anchored at the last point, shares renormalised to sum to one (see the module's decisions).

    Returns
    -------
    numpy.ndarray
        units x len(x).
    """
    vals = wide.to_numpy(dtype=float)
    xp = np.asarray(x_points, dtype=float)
    idx = np.clip(np.searchsorted(xp, x) - 1, 0, len(xp) - 2)
    w = (x - xp[idx]) / (xp[idx + 1] - xp[idx])
    out = vals[:, idx] * (1 - w) + vals[:, idx + 1] * w
    after = x > xp[-1]
    if after.any():
        dx = (x[after] - xp[-1])[None, :]
        xc = xp - xp.mean()
        total = vals.sum(axis=0)
        slope_total = float(xc @ (total - total.mean()) / (xc @ xc))
        shares = vals / total
        slope_share = (shares - shares.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
        future_total = total[-1] + slope_total * dx
        future_share = np.clip(shares[:, -1:] + slope_share[:, None] * dx, 1e-9, None)
        future_share = future_share / future_share.sum(axis=0, keepdims=True)
        out[:, after] = future_share * future_total
    return out


def monthly_population(months: pd.PeriodIndex, column: str = "population") -> pd.DataFrame:
    """ONS mid-year population (or an age band's, ``column``) for each footprint and month.

    Parameters
    ----------
    months
        Monthly periods.
    column
        ``population`` or a band of ``stp21_population.csv`` (``pop_0_17``, ``pop_18_64``, ``pop_65_74``,
        ``pop_75_plus``, ``pop_male``, ``pop_female``).

    Returns
    -------
    pandas.DataFrame
        ``stp21_code``, ``period`` (monthly Period), ``column``.
    """
    months = pd.PeriodIndex(months, freq="M")
    pop = pd.read_csv(POPULATION)
    wide = pop.pivot(index="stp21_code", columns="year", values=column).sort_index()
    x_mid = wide.columns.to_numpy(dtype=float) * 12 + 5.5  # 30 June (month 5, 0-based, at its end)
    vals = carry_forward(wide, x_mid, _month_mid(months))
    return pd.DataFrame(vals, index=wide.index, columns=months).rename_axis(index="stp21_code", columns="period").stack().rename(column).reset_index()


def monthly_registered(months: pd.PeriodIndex) -> pd.DataFrame:
    """Patients registered with the footprint's GP practices, by month (financial-year lists at 1 October).

    Returns
    -------
    pandas.DataFrame
        ``stp21_code``, ``period``, ``registered_patients``.
    """
    months = pd.PeriodIndex(months, freq="M")
    gp = pd.read_csv(GP_PAYMENTS)
    wide = gp.pivot(index="stp21_code", columns="fin_year", values="registered_patients").sort_index()
    start_years = np.array([int(str(c)[:4]) for c in wide.columns], dtype=float)
    x_points = start_years * 12 + 9.0  # 1 October of the financial year's first calendar year
    vals = carry_forward(wide, x_points, _month_mid(months))
    return pd.DataFrame(vals, index=wide.index, columns=months).rename_axis(index="stp21_code", columns="period").stack().rename("registered_patients").reset_index()


def extrapolation_summary(months: pd.PeriodIndex) -> dict[str, float | str]:
    """The size of the post-mid-2020 population assumption over ``months``, for the report.

    Returns
    -------
    dict
        ``last_estimate`` (mid-year label), ``england_mid2020``, ``england_last`` (the extrapolated England total in
        the last month), ``last_month``, ``growth_pct`` (last month against mid-2020), ``max_share_change_pct``
        (the largest change of a footprint's share of England, in percentage points of the share, relative to its
        mid-2020 share), ``months_extrapolated``.
    """
    months = pd.PeriodIndex(months, freq="M")
    pop = pd.read_csv(POPULATION)
    mid = pop[pop["year"] == LAST_MID_YEAR].set_index("stp21_code")["population"].sort_index()
    after = months[_month_mid(months) > LAST_MID_YEAR * 12 + 5.5]
    if len(after) == 0:
        return {"last_estimate": f"mid-{LAST_MID_YEAR}", "months_extrapolated": 0}
    last = monthly_population(after[-1:]).set_index("stp21_code")["population"].reindex(mid.index)
    share0, share1 = mid / mid.sum(), last / last.sum()
    return {
        "last_estimate": f"mid-{LAST_MID_YEAR}",
        "england_mid2020": float(mid.sum()),
        "england_last": float(last.sum()),
        "last_month": str(after[-1]),
        "growth_pct": float(100 * (last.sum() / mid.sum() - 1)),
        "max_share_change_pct": float(100 * ((share1 - share0) / share0).abs().max()),
        "months_extrapolated": int(len(after)),
    }
