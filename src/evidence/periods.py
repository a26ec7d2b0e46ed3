"""Periods: frequencies, labels and the mapping of dates to periods.

A panel's time column is either dates (the first day of each period) or integers (years, or any evenly spaced
index). Dates are held as pandas ``Period`` objects internally so that months, quarters, calendar years and NHS
financial years (April-March, ``fy``) behave alike.
"""

from __future__ import annotations

import re

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


# --- dates as people write them ---------------------------------------------------------------------------------------
# Context: users export panels from spreadsheets, which write a month as 'May-16', 'May 2016', '2016-05-01 00:00:00',
# the serial day number 42491, or a UK '01/05/2016'; a general parser misreads some of them silently ('May-16' as
# 16 May of the current year, so monthly data looked weekly).
# Decision: a time column is read in one of the named forms below, chosen for the whole column (every distinct value
# must fit it); each form other than ISO dates says how it was read in a one-line note; day/month order is decided by
# the values (a first number above 12 is a day, a second above 12 means month-first), otherwise day-first (UK), and
# the note says which. Anything else is refused with the accepted forms listed.
# Consequences: no silent guesses; the distinct values are parsed once (fast on million-row columns).

ACCEPTED_FORMS = (
    "YYYY-MM-DD (the first day of the period), YYYY-MM, whole numbers (years or an evenly spaced index), "
    "or the spreadsheet forms May-16, May 2016, 01-May-2016, 01/05/2016 (day first), 2016-05-01 00:00:00, "
    "Excel serial day numbers (42491), 2016Q2 and financial years 2016/17"
)
"""The date forms :func:`read_dates` accepts, as error messages list them."""

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
"""Day 0 of Excel's (1900 date system) serial day numbers: serial 42491 is 2016-05-01."""

EXCEL_SERIAL_RANGE: tuple[int, int] = (18264, 73051)
"""Serial numbers read as Excel dates: 1950-01-01 to 2100-01-01 (whole numbers there are not years)."""

_MONTH_NAMES: dict[str, int] = {
    name: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
         ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for name in names
}
_MONTH_TITLES = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")


_ISO_DATE = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"  # 2016-05-01, 2016/05/01
_ISO_DATETIME = r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d*)?)?(?:Z|[+-]\d{2}:?\d{2})?$"  # 2016-05-01 00:00:00 (spreadsheet date-times)
_FY = r"^(\d{4})([/-])(\d{2})$"  # 2016/17, 2016-17 (financial years)
_ISO_MONTH = r"^(\d{4})-(\d{1,2})$"  # 2016-05
_YEAR_SLASH_MONTH = r"^(\d{4})/(\d{1,2})$"  # 2016/05
_YEAR = r"^(\d{4})$"  # 2016
_QUARTER = r"^(\d{4})\s*[-/ ]?\s*Q([1-4])$"  # 2016Q2, 2016 Q2
_QUARTER_FIRST = r"^Q([1-4])\s*[-/ ]?\s*(\d{4})$"  # Q2 2016
_MONTH_YEAR = r"^([A-Za-z]{3,9})\.?[\s\-/,']*(\d{4}|\d{2})$"  # May-16, May 2016, Sept 2016
_YEAR_MONTH_NAME = r"^(\d{4})[\s\-/]([A-Za-z]{3,9})\.?$"  # 2016-May
_DAY_MONTH_YEAR = r"^(\d{1,2})(?:st|nd|rd|th)?[\s\-/]([A-Za-z]{3,9})\.?[\s\-/,]*(\d{4}|\d{2})(?:\s+0?0:00(?::00)?)?$"  # 01-May-2016, 1 May 16
_NUMERIC_DATE = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T]0?0:00(?::00)?)?$"  # 01/05/2016, 1.5.16 (day/month order from the values)
_SERIAL = r"^(\d{5})(?:\.\d+)?$"  # 42491 (Excel serial day numbers as text)
_PATTERNS = (_ISO_DATE, _ISO_DATETIME, _FY, _ISO_MONTH, _YEAR_SLASH_MONTH, _YEAR, _QUARTER, _QUARTER_FIRST, _MONTH_YEAR, _YEAR_MONTH_NAME, _DAY_MONTH_YEAR, _NUMERIC_DATE, _SERIAL)


class _Unreadable(ValueError):
    """A value no form reads (``value``), or a form that does not fit (``why``)."""

    def __init__(self, value: str, why: str = "") -> None:
        super().__init__(value)
        self.value, self.why = value, why


def _two_digit_year(yy: pd.Series) -> pd.Series:
    """Excel's rule for two-digit years: 00-29 are 2000-2029, 30-99 are 1930-1999."""
    y = yy.astype(int)
    return y.where(y >= 30, y + 2000).where(y < 30, y + 1900)


def _ymd(text: pd.Series, year: pd.Series, month: pd.Series, day: pd.Series | int = 1) -> pd.Series:
    """Dates from parts; an impossible date (2016-02-30, month 13) is refused naming the first such value."""
    parts = pd.DataFrame({"year": year.astype(int), "month": month.astype(int), "day": day.astype(int) if isinstance(day, pd.Series) else day})
    dates = pd.to_datetime(parts, errors="coerce")
    if dates.isna().any():
        raise _Unreadable(str(text[dates.isna()].iloc[0]), "is not a calendar date")
    return dates


def _month_numbers(text: pd.Series, names: pd.Series) -> pd.Series:
    months = names.str.lower().str.rstrip(".").map(_MONTH_NAMES)
    if months.isna().any():
        raise _Unreadable(str(text[months.isna()].iloc[0]), "has a month name that is not English (Jan ... Dec)")
    return months.astype(int)


def _slash_dates(text: pd.Series, m: pd.DataFrame) -> tuple[pd.Series, str]:
    """DD/MM/YYYY or MM/DD/YYYY, decided by the values; the note says which and why."""
    a, b = m[0].astype(int), m[1].astype(int)
    year = m[2].where(m[2].str.len() == 4, _two_digit_year(m[2]).astype(str)).astype(int)
    day_first_ok, month_first_ok = bool((b <= 12).all() and (b >= 1).all()), bool((a <= 12).all() and (a >= 1).all())
    if not day_first_ok and not month_first_ok:
        raise _Unreadable(str(text[(a > 12) & (b > 12)].iloc[0] if ((a > 12) & (b > 12)).any() else text.iloc[0]), "reads neither day-first nor month-first")
    example = str(text.iloc[0])
    if day_first_ok and not month_first_ok:
        dates = _ymd(text, year, b, a)
        ex = str(text[a > 12].iloc[0])
        d = dates[a > 12].iloc[0]
        return dates, f"read as UK day-first dates (DD/MM/YYYY: '{ex}' = {d.day} {_MONTH_TITLES[d.month]} {d.year})"
    if month_first_ok and not day_first_ok:
        dates = _ymd(text, year, a, b)
        ex = str(text[b > 12].iloc[0])
        d = dates[b > 12].iloc[0]
        return dates, f"read as US month-first dates (MM/DD/YYYY: '{ex}' = {d.day} {_MONTH_TITLES[d.month]} {d.year}, since {b[b > 12].iloc[0]} cannot be a month)"
    # either order fits every value: day-first (UK), unless only month-first puts every date on a period start
    day_first, month_first = _ymd(text, year, b, a), _ymd(text, year, a, b)
    mixed = a != b
    example = str(text[mixed].iloc[0]) if mixed.any() else example
    if not mixed.any():
        return day_first, f"read as dates ('{example}' = {day_first.iloc[0]:%Y-%m-%d}; day and month are equal in every value, so their order does not matter)"
    if (month_first.dt.day == 1).all() and not (day_first.dt.day == 1).all():
        d = month_first[mixed].iloc[0]
        return month_first, f"has dates such as '{example}' that read either way; read month-first (US: {d.day} {_MONTH_TITLES[d.month]} {d.year}), which puts every date on the first of a month — write YYYY-MM-DD if they are day-first (UK)"
    d = day_first[mixed].iloc[0]
    why = ", which puts every date on the first of a month" if (day_first.dt.day == 1).all() else ""
    return day_first, f"has dates such as '{example}' that read either way; read day-first (UK: {d.day} {_MONTH_TITLES[d.month]} {d.year}){why} — write YYYY-MM-DD if they are month-first (US)"


def _read_forms(text: pd.Series) -> tuple[pd.Series, str | None]:
    """Distinct texts -> dates, by the first form that fits every value, and the note saying how (``None``: ISO)."""
    t = text.str.strip()
    first = str(t.iloc[0])

    def fits(pattern: str) -> pd.DataFrame | None:
        if not re.match(pattern, first, flags=re.IGNORECASE):  # cheap: the first value must fit too
            return None
        m = t.str.extract(pattern, flags=re.IGNORECASE)
        return m if bool(m[0].notna().all()) else None

    if (m := fits(_ISO_DATE)) is not None:
        return _ymd(t, m[0], m[1], m[2]), None
    if (m := fits(_ISO_DATETIME)) is not None:
        midnight = bool(((m[3].astype(int) == 0) & (m[4].astype(int) == 0) & (m[5].fillna("0").astype(int) == 0)).all())
        how = "all at midnight, as spreadsheets save dates" if midnight else "the time of day dropped"
        return _ymd(t, m[0], m[1], m[2]), f"holds date-times such as '{first}', read as dates ({how})"
    if (m := fits(_FY)) is not None:
        y, yy = m[0].astype(int), m[2].astype(int)
        consecutive = bool(((y + 1) % 100 == yy).all())
        if consecutive and ((m[1] == "/").all() or (yy > 12).any()):
            ambiguous = " — write YYYY-MM if they are months" if (yy <= 12).all() else ""
            return _ymd(t, y, pd.Series(4, index=t.index)), f"read as financial years ('{first}' = April {y.iloc[0]} to March {y.iloc[0] + 1}){ambiguous}"
    if (m := fits(_ISO_MONTH)) is not None:
        if (m[1].astype(int) > 12).any() or (m[1].astype(int) < 1).any():
            raise _Unreadable(str(t[(m[1].astype(int) > 12) | (m[1].astype(int) < 1)].iloc[0]), "has a month outside 01-12")
        return _ymd(t, m[0], m[1]), None
    if (m := fits(_YEAR_SLASH_MONTH)) is not None:
        dates = _ymd(t, m[0], m[1])
        return dates, f"read as year/month ('{first}' = {_MONTH_TITLES[dates.iloc[0].month]} {dates.iloc[0].year}; a financial year would be {dates.iloc[0].year}/{(dates.iloc[0].year + 1) % 100:02d})"
    if (m := fits(_YEAR)) is not None:
        return _ymd(t, m[0], pd.Series(1, index=t.index)), None
    if (m := fits(_QUARTER)) is not None or (m := fits(_QUARTER_FIRST)) is not None:
        year, q = (m[0], m[1]) if m[0].str.len().iloc[0] == 4 else (m[1], m[0])
        return _ymd(t, year, 3 * q.astype(int) - 2), f"read as calendar quarters ('{first}' = the quarter starting {_MONTH_TITLES[3 * int(q.iloc[0]) - 2]} {year.iloc[0]})"
    if (m := fits(_MONTH_YEAR)) is not None:
        months = _month_numbers(t, m[0])
        if (m[1].str.len() == 2).all():
            year = _two_digit_year(m[1])
            return _ymd(t, year, months), f"read as spreadsheet month-year labels ('{first}' = {_MONTH_TITLES[months.iloc[0]]} {year.iloc[0]}; two-digit years 00-29 are 2000-2029, 30-99 are 1930-1999)"
        if (m[1].str.len() == 4).all():
            return _ymd(t, m[1], months), f"read as month-year labels ('{first}' = {_MONTH_TITLES[months.iloc[0]]} {m[1].iloc[0]})"
    if (m := fits(_YEAR_MONTH_NAME)) is not None:
        months = _month_numbers(t, m[1])
        return _ymd(t, m[0], months), f"read as year-month labels ('{first}' = {_MONTH_TITLES[months.iloc[0]]} {m[0].iloc[0]})"
    if (m := fits(_DAY_MONTH_YEAR)) is not None:
        months = _month_numbers(t, m[1])
        year = m[2].where(m[2].str.len() == 4, _two_digit_year(m[2]).astype(str))
        dates = _ymd(t, year, months, m[0])
        return dates, f"read as dates with month names ('{first}' = {dates.iloc[0]:%Y-%m-%d})"
    if (m := fits(_NUMERIC_DATE)) is not None:
        return _slash_dates(t, m)
    if (m := fits(_SERIAL)) is not None:
        serial = t.astype(float)
        lo, hi = EXCEL_SERIAL_RANGE
        if bool(((serial >= lo) & (serial < hi)).all()):
            return _excel(serial, first)
    raise _Unreadable(first)


def _excel(serial: pd.Series, first: str) -> tuple[pd.Series, str]:
    dates = EXCEL_EPOCH + pd.to_timedelta(np.floor(serial.to_numpy(dtype=float)), unit="D")
    first = f"{float(first):g}"
    return pd.Series(dates, index=serial.index), f"holds numbers such as {first}, read as Excel serial day numbers ({first} = {dates[0]:%Y-%m-%d}, counting days from 1899-12-30) — save the column as dates (YYYY-MM-DD) to avoid the conversion"


def excel_serials(values: pd.Series | pd.Index | np.ndarray) -> bool:
    """Whether whole numbers are Excel serial day numbers of regular periods (first days of months, quarters or years).

    Numbers between 18264 and 73051 (1950 to 2100) whose dates fall a month, quarter or year apart; an integer
    index or years never do.
    """
    u = pd.unique(np.asarray(values).ravel())
    if len(u) < 2 or not np.issubdtype(np.asarray(u).dtype, np.number):
        return False
    u = np.asarray(u, dtype=float)
    lo, hi = EXCEL_SERIAL_RANGE
    if not (np.isfinite(u).all() and (u >= lo).all() and (u < hi).all()):
        return False
    return infer_date_frequency(pd.Series(EXCEL_EPOCH + pd.to_timedelta(np.floor(u), unit="D"))) is not None


def read_dates(values: pd.Series, *, name: str, column: str) -> tuple[pd.Series, str | None]:
    """A time column as dates, read in one of the forms people write (:data:`ACCEPTED_FORMS`).

    Parameters
    ----------
    values
        The column: text, numbers (Excel serials) or datetimes. Missing values stay missing (``NaT``).
    name, column
        The file (or source) and column, for the note and for errors.

    Returns
    -------
    (pandas.Series, str or None)
        Dates (datetime64) with ``values``' index, and a one-line note saying which form was assumed (``None`` for
        ISO dates, which need no note).

    Raises
    ------
    evidence.errors.DataError
        A value no form reads, or a column mixing forms: one line naming the file, the column and the forms accepted.
    """
    from .errors import DataError

    if pd.api.types.is_datetime64_any_dtype(values):
        return values, None
    codes, uniq = pd.factorize(values)
    if len(uniq) == 0:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), None
    if pd.api.types.is_numeric_dtype(uniq.dtype) and not pd.api.types.is_bool_dtype(uniq.dtype):
        u = pd.Series(np.asarray(uniq, dtype=float))
        text = u.map(lambda v: str(int(v)) if float(v).is_integer() else str(v)).astype(str)
    else:
        text = pd.Series(np.asarray(uniq.astype(str)), dtype=str)
    try:
        dates, how = _read_forms(text)
    except _Unreadable as exc:
        if exc.why:
            raise DataError(f"{name}: column '{column}' has {exc.value!r}, which {exc.why}; write periods as YYYY-MM-DD (the first day of the period).") from None
        unreadable, mixed = _which_forms(text)
        if mixed:
            raise DataError(f"{name}: column '{column}' mixes date forms ({mixed}); write every period in one form, such as YYYY-MM-DD.") from None
        raise DataError(f"{name}: column '{column}' has {unreadable or repr(exc.value)}, which is not a date in a form the workbook reads; write periods as {ACCEPTED_FORMS}.") from None
    arr = pd.DatetimeIndex(dates).to_numpy()
    out = np.where(codes >= 0, arr[np.maximum(codes, 0)], np.datetime64("NaT")) if (codes < 0).any() else arr[codes]
    note = f"{name}: column '{column}' {how}." if how else None
    return pd.Series(out, index=values.index), note


def _which_forms(text: pd.Series) -> tuple[str, str]:
    """For a column no single form reads: the first value that fits no form (quoted), else two values written in
    different forms ('May-16' and '2016-05-01'); empty strings when neither applies."""
    t = text.str.strip()
    masks = np.array([t.str.match(p, case=False).to_numpy(dtype=bool) for p in _PATTERNS])
    fits_none = ~masks.any(axis=0)
    if fits_none.any():
        return repr(str(t[fits_none].iloc[0])), ""
    other = ~masks[masks[:, 0]].any(axis=0)
    return "", (f"'{t.iloc[0]}' and '{t[other].iloc[0]}'" if other.any() else "")


def date_hint(text: str) -> str | None:
    """How :func:`read_dates` would read one period written as ``text``, as ISO text (``2016-05``), or ``None``.

    Parameters take ISO periods only (a parameters file is a protocol: one way to write a date); their error
    messages use this to say what to write instead of a spreadsheet form.
    """
    try:
        dates, how = _read_forms(pd.Series([str(text)], dtype=str))
    except _Unreadable:
        return None
    d = dates.iloc[0]
    text = str(text).strip()
    has_day = re.search(r"^\d{5}|\d{1,2}\D+\d{1,2}\D+\d{2,4}|\d{4}\D\d{1,2}\D\d{1,2}|^\d{1,2}(st|nd|rd|th)?[\s\-/][A-Za-z]", text)
    order = " (day first, as in the UK)" if how and "day-first" in how else " (month first, as in the US)" if how and "month-first" in how else ""
    return (d.strftime("%Y-%m-%d") if has_day else d.strftime("%Y-%m")) + order
