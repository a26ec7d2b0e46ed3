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
