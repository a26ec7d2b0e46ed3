"""Dates to periods: the first-full-period and containing rules for every frequency."""

from __future__ import annotations

import pandas as pd
import pytest

from evidence.periods import first_treated_period, infer_date_frequency, label

DATES = pd.Series(pd.to_datetime(["2017-06-15", "2016-04-01", "2019-06-01", "2020-04-01"]))
PRECISION = pd.Series(["day", "day", "month", "day"])


@pytest.mark.parametrize(
    "freq,first_full,containing",
    [
        ("month", ["2017-07", "2016-04", "2019-07", "2020-04"], ["2017-06", "2016-04", "2019-06", "2020-04"]),
        ("quarter", ["2017Q3", "2016Q2", "2019Q3", "2020Q2"], ["2017Q2", "2016Q2", "2019Q2", "2020Q2"]),
        ("fy", ["2018/19", "2016/17", "2020/21", "2020/21"], ["2017/18", "2016/17", "2019/20", "2020/21"]),
        ("year", ["2018", "2017", "2020", "2021"], ["2017", "2016", "2019", "2020"]),
    ],
)
def test_first_treated_period_rules(freq, first_full, containing):
    assert [label(p, freq) for p in first_treated_period(DATES, PRECISION, freq)] == first_full
    assert [label(p, freq) for p in first_treated_period(DATES, PRECISION, freq, "containing")] == containing


def test_frequency_inference():
    assert infer_date_frequency(pd.Series(pd.date_range("2016-04-01", periods=5, freq="MS"))) == "month"
    assert infer_date_frequency(pd.Series(pd.date_range("2016-01-01", periods=5, freq="QS"))) == "quarter"
    assert infer_date_frequency(pd.Series(pd.to_datetime(["2016-04-01", "2017-04-01", "2018-04-01"]))) == "fy"
    assert infer_date_frequency(pd.Series(pd.to_datetime(["2016-01-01", "2017-01-01"]))) == "year"
    assert infer_date_frequency(pd.Series(pd.to_datetime(["2016-01-01", "2016-01-20"]))) is None


# ---------------------------------------------------------------------------------------------------------------
# dates as people write them (evidence.periods.read_dates)
# ---------------------------------------------------------------------------------------------------------------
import numpy as np  # noqa: E402

from evidence.design import _to_period  # noqa: E402
from evidence.errors import DataError  # noqa: E402
from evidence.periods import date_hint, excel_serials, read_dates  # noqa: E402

MONTHS = pd.date_range("2016-04-01", periods=4, freq="MS")


@pytest.mark.parametrize(
    "values, note",
    [
        (MONTHS.strftime("%Y-%m-%d"), None),
        (MONTHS.strftime("%Y-%m"), None),
        (MONTHS.strftime("%b-%y"), "read as spreadsheet month-year labels ('Apr-16' = April 2016; two-digit years 00-29 are 2000-2029"),
        (MONTHS.strftime("%B %Y"), "read as month-year labels ('April 2016' = April 2016)"),
        (MONTHS.strftime("%d-%b-%Y"), "read as dates with month names ('01-Apr-2016' = 2016-04-01)"),
        (MONTHS.strftime("%Y-%m-%d 00:00:00"), "holds date-times such as '2016-04-01 00:00:00', read as dates (all at midnight"),
        (MONTHS.strftime("%d/%m/%Y"), "has dates such as '01/04/2016' that read either way; read day-first (UK: 1 April 2016), which puts every date on the first of a month"),
        (MONTHS.strftime("%Y/%m"), "read as year/month ('2016/04' = April 2016; a financial year would be 2016/17)"),
        ((MONTHS - pd.Timestamp("1899-12-30")).days.to_numpy(), "holds numbers such as 42461, read as Excel serial day numbers (42461 = 2016-04-01"),
    ],
    ids=["iso", "iso-month", "May-16", "May 2016", "01-May-2016", "date-time", "uk", "year/month", "excel"],
)
def test_spreadsheet_forms(values, note):
    rows = pd.Series(np.tile(np.asarray(values), 3))  # repeated values: parsed once each, mapped back
    dates, how = read_dates(rows, name="f.csv", column="month")
    assert list(dates.iloc[:4]) == list(MONTHS) and list(dates.iloc[4:8]) == list(MONTHS)
    assert dates.index.equals(rows.index)
    if note is None:
        assert how is None
    else:
        assert how.startswith("f.csv: column 'month' ") and note in how and "\n" not in how


@pytest.mark.parametrize(
    "values, first, note",
    [
        (["13/05/2016", "01/06/2016"], "2016-05-13", "read as UK day-first dates (DD/MM/YYYY: '13/05/2016' = 13 May 2016)"),
        (["05/13/2016", "06/01/2016"], "2016-05-13", "read as US month-first dates (MM/DD/YYYY: '05/13/2016' = 13 May 2016, since 13 cannot be a month)"),
        (["05/06/2016", "07/06/2016"], "2016-06-05", "has dates such as '05/06/2016' that read either way; read day-first (UK: 5 June 2016) — write YYYY-MM-DD if they are month-first (US)"),
        (["04/01/2016", "05/01/2016", "06/01/2016"], "2016-04-01", "read month-first (US: 1 April 2016), which puts every date on the first of a month"),
        (["2016/17", "2017/18"], "2016-04-01", "read as financial years ('2016/17' = April 2016 to March 2017)"),
        (["2010/11", "2011/12"], "2010-04-01", "write YYYY-MM if they are months"),  # 2011/12 could be December 2011
        (["2016Q2", "2016Q3"], "2016-04-01", "read as calendar quarters ('2016Q2' = the quarter starting April 2016)"),
    ],
)
def test_day_month_order_and_other_forms(values, first, note):
    dates, how = read_dates(pd.Series(values), name="f.csv", column="d")
    assert dates.iloc[0] == pd.Timestamp(first)
    assert note in how


@pytest.mark.parametrize(
    "values, expect",
    [
        (["2016-04-01", "sometime"], "has 'sometime', which is not a date in a form the workbook reads; write periods as YYYY-MM-DD"),
        (["May-16", "2016-06-01"], "mixes date forms ('May-16' and '2016-06-01'); write every period in one form"),
        (["2016-02-30", "2016-03-01"], "has '2016-02-30', which is not a calendar date"),
        (["Mai-16", "Jun-16"], "has 'Mai-16', which has a month name that is not English"),
        (["13/13/2016"], "reads neither day-first nor month-first"),
    ],
)
def test_unreadable_dates_are_one_line_errors(values, expect):
    with pytest.raises(DataError) as info:
        read_dates(pd.Series(values), name="f.csv", column="d")
    msg = str(info.value)
    assert msg.startswith("f.csv: column 'd' ") and expect in msg and "\n" not in msg


def test_accepted_forms_are_listed_when_nothing_fits():
    with pytest.raises(DataError, match=r"May-16, May 2016, 01-May-2016, 01/05/2016 \(day first\), 2016-05-01 00:00:00, Excel serial"):
        read_dates(pd.Series(["soon", "later"]), name="f.csv", column="d")


def test_excel_serials_are_told_from_years_and_indexes():
    serials = (pd.date_range("2016-04-01", periods=6, freq="MS") - pd.Timestamp("1899-12-30")).days.to_numpy()
    assert excel_serials(pd.Series(np.tile(serials, 5)))
    assert excel_serials(pd.Series((pd.date_range("2010-01-01", periods=6, freq="YS") - pd.Timestamp("1899-12-30")).days.to_numpy()))
    assert not excel_serials(pd.Series(range(2003, 2010)))  # years
    assert not excel_serials(pd.Series(range(30000, 30010)))  # an index in the serial range: daily steps
    assert not excel_serials(pd.Series([42461]))


def test_monthly_spreadsheet_file_is_monthly_not_weekly(tmp_path):
    from evidence.data.user import load_user_panel

    dates = pd.date_range("2016-04-01", periods=12, freq="MS")
    for form, values in (("May-16", dates.strftime("%b-%y")), ("serial", (dates - pd.Timestamp("1899-12-30")).days.to_numpy())):
        df = pd.DataFrame({"area": np.repeat(["A", "B", "C"], 12), "month": np.tile(values, 3), "visits": np.arange(36)})
        path = tmp_path / f"{form}.csv"
        df.to_csv(path, index=False)
        panel = load_user_panel(path, unit="area", time="month", outcomes=["visits"])
        assert panel.frequency == "month" and panel.period_labels[0] == "2016-04" and panel.n_periods == 12, form
        assert len(panel.notes) == 1 and "column 'month'" in panel.notes[0], form


def test_date_hint_for_parameters():
    assert date_hint("May-16") == "2016-05"
    assert date_hint("April 2016") == "2016-04"
    assert date_hint("2016/04") == "2016-04"
    assert date_hint("01/05/2016") == "2016-05-01 (day first, as in the UK)"
    assert date_hint("2016-05-01 00:00:00") == "2016-05-01"
    assert date_hint("16-04") is None


@pytest.mark.parametrize(
    "text, freq, last, expected",
    [("2016/17", "month", False, "2016-04"), ("2016/17", "month", True, "2017-03"), ("2016/17", "quarter", True, "2017Q1"), ("2016/17", "fy", False, "2017"), ("2011/12", "month", False, "2011-04")],
)
def test_financial_year_window_on_other_frequencies(text, freq, last, expected):
    # was an internal error (2016/17) or December 2011 (2011/12) on a monthly panel
    assert str(_to_period(text, freq, last=last)) == expected
