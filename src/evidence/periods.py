"""Periods: frequencies, labels and the mapping of dates to periods.

A panel's time column is either dates (the first day of each period) or integers (years, or any evenly spaced
index). Dates are held as pandas ``Period`` objects internally so that months, quarters, calendar years and NHS
financial years (April-March, ``fy``) behave alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FREQ_CODES: dict[str, str] = {"month": "M", "quarter": "Q", "year": "Y", "fy": "Y-MAR"}
STEP_MONTHS: dict[int, str] = {1: "month", 3: "quarter", 12: "year"}


def label(period: pd.Period | int | float, frequency: str) -> str:
    """Readable label of a period: ``2017-07``, ``2017Q3``, ``2017``, ``2017/18``, or the integer."""
    if frequency == "integer":
        return str(int(period))
    p = period if isinstance(period, pd.Period) else pd.Period(period, FREQ_CODES[frequency])
    if frequency == "month":
        return p.strftime("%Y-%m")
    if frequency == "quarter":
        return f"{p.year}Q{p.quarter}"
    if frequency == "year":
        return str(p.year)
    start = p.start_time.year
    return f"{start}/{(start + 1) % 100:02d}"


def labels(periods: pd.Series | pd.Index | np.ndarray, frequency: str) -> list[str]:
    """Labels of many periods."""
    return [label(p, frequency) for p in periods]


def to_period(values: pd.Series, frequency: str) -> pd.Series:
    """Dates -> ``Period`` of the given frequency (the period containing each date)."""
    return pd.to_datetime(values).dt.to_period(FREQ_CODES[frequency])


def month_index(dates: pd.Series) -> pd.Series:
    """Months since year 0 (``year * 12 + month - 1``): an integer scale for comparing monthly steps."""
    d = pd.to_datetime(dates)
    return d.dt.year * 12 + d.dt.month - 1


def infer_date_frequency(dates: pd.Series) -> str | None:
    """Frequency implied by a set of period start dates, or ``None`` when the dates do not agree on one.

    The step between consecutive distinct dates (in months) decides month / quarter / year; annual dates all in
    April are NHS financial years (``fy``).
    """
    uniq = np.unique(month_index(dates).to_numpy())
    if len(uniq) < 2 or pd.Series(pd.to_datetime(dates)).nunique() > len(uniq):
        return None  # one period, or several dates within a month (weekly or daily data)
    steps = np.diff(uniq)
    step = int(np.min(steps))
    freq = STEP_MONTHS.get(step)
    if freq is None:
        return None
    if freq == "year":
        months = set(pd.to_datetime(dates).dt.month.unique())
        if months == {4}:
            return "fy"
        if months != {1}:
            return None
    if freq == "quarter":
        months = set(pd.to_datetime(dates).dt.month.unique())
        if not months <= {1, 4, 7, 10}:
            return None
    return freq


def first_treated_period(
    dates: pd.Series, precision: pd.Series, frequency: str, rule: str = "first_full"
) -> pd.Series:
    """Period in which each designation first counts.

    Parameters
    ----------
    dates
        Designation dates (datetime64).
    precision
        ``day`` or ``month`` for each date (``month``: the day is unknown; the date is the first of the month).
    frequency
        Panel frequency (``month``, ``quarter``, ``year``, ``fy``).
    rule
        ``first_full``: the first period that starts on or after the designation (a date on the first day of a
        period counts in that period; a month-precision date counts from the period starting after that month
        began, since the day is unknown). ``containing``: the period containing the date.

    Returns
    -------
    pandas.Series
        ``Period`` values (NaT where the date is missing).

    Notes
    -----
    Context: designations were announced mid-month (15 June 2017, 24 May 2018) while data are monthly or annual.
    Decision: by default a designation counts from the first full period after it. Consequences: June 2017
    designations are treated from July 2017 in monthly data and from 2018/19 in financial-year data; the
    ``containing`` rule is a sensitivity analysis.
    """
    dates = pd.to_datetime(dates)
    code = FREQ_CODES[frequency]
    containing = dates.dt.to_period(code)
    if rule == "containing":
        return containing
    # earliest instant the designation could have taken effect is the date itself (day precision) or any day of
    # the month (month precision): the first full period is the first one starting on or after the latest such day
    latest = dates.where(precision.fillna("day") != "month", dates + pd.offsets.MonthBegin(1) - pd.Timedelta(days=1))
    latest_period = latest.dt.to_period(code)
    starts_on_latest = latest_period.dt.start_time == latest
    next_period = latest_period + 1
    return latest_period.where(starts_on_latest & (precision.fillna("day") != "month"), next_period)
