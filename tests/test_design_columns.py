"""Designs from a user's treatment column: :func:`evidence.design.design_from_cohort_column` and
:func:`evidence.design.design_from_indicator` on small synthetic panels.

Panel used throughout (monthly, April 2016 - March 2017, 12 periods) with these first treated months:

====  ==========  =============================================================
unit  cohort      expected status for the window 2016-04 .. 2017-03
====  ==========  =============================================================
A     2016-04     excluded (treated in the first period: no pre-period)
B     2016-08     treated, g = 4
C     2016-10     treated, g = 6
D     2017-06     not_yet_treated (designated after the window / the data)
E     0           never_treated
F     blank       never_treated
====  ==========  =============================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.design import STATUSES, Design, design_from_cohort_column, design_from_indicator
from evidence.errors import DesignError
from evidence.panel import Panel, validate_panel

WINDOW = dict(start="2016-04", end="2017-03")
COHORTS = {"A": "2016-04-01", "B": "2016-08-01", "C": "2016-10-01", "D": "2017-06-01", "E": "0", "F": None}


def long_table(cohorts: dict, n: int = 12, start: str = "2016-04-01", freq: str = "MS", integer: bool = False) -> pd.DataFrame:
    """unit, time, y, cohort (as given), d (absorbing 0/1 indicator consistent with the cohort)."""
    times = list(range(2001, 2001 + n)) if integer else [t.strftime("%Y-%m-%d") for t in pd.date_range(start, periods=n, freq=freq)]
    rows = []
    for u, c in cohorts.items():
        for i, t in enumerate(times):
            treated = c not in (None, 0, "0", "") and t >= c
            rows.append({"unit": u, "time": t, "y": 10.0 + i, "cohort": c, "d": int(treated)})
    df = pd.DataFrame(rows)
    if integer:
        df["cohort"] = df["cohort"].fillna(0).astype(int)
    return df


def make_panel(df: pd.DataFrame, extra: list[str] = ("cohort", "d")) -> Panel:
    out, freq, notes = validate_panel(df, name="synthetic.csv", unit="unit", time="time", outcomes=["y"], extra=list(extra))
    return Panel(out, ["y"], {"y": "count"}, freq, notes=notes, source="synthetic.csv")


def one_line(message: str) -> str:
    assert message and "\n" not in message, f"not one line: {message!r}"
    return message


def design_error(fn, *args, **kwargs) -> str:
    with pytest.raises(DesignError) as info:
        fn(*args, **kwargs)
    return one_line(str(info.value))


def by_unit(design: Design) -> pd.DataFrame:
    return design.cohorts.set_index("unit")


@pytest.fixture
def panel() -> Panel:
    return make_panel(long_table(COHORTS))


# ---------------------------------------------------------------------------------------------------------------
# cohort column
# ---------------------------------------------------------------------------------------------------------------
def test_cohort_column_statuses_and_g(panel):
    design = design_from_cohort_column(panel, "cohort", **WINDOW)
    c = by_unit(design)
    assert list(c.index) == list("ABCDEF")
    assert set(c["status"]) <= set(STATUSES)
    assert c["status"].to_dict() == {
        "A": "excluded",
        "B": "treated",
        "C": "treated",
        "D": "not_yet_treated",
        "E": "never_treated",
        "F": "never_treated",
    }
    assert c["first_treated"].to_dict() == {"A": "2016-04", "B": "2016-08", "C": "2016-10", "D": "2017-06", "E": "", "F": ""}
    assert c.loc["B", "g"] == 4 and c.loc["C", "g"] == 6
    assert c.loc[["A", "D", "E", "F"], "g"].isna().all()
    assert "no pre-period" in c.loc["A", "reason"]
    assert design.window == ("2016-04", "2017-03")
    assert design.comparison == "not_yet_treated"
    assert design.treatment_source == "cohort column"


def test_cohort_design_arrays(panel):
    design = design_from_cohort_column(panel, "cohort", **WINDOW)
    assert list(design.panel.units) == list("BCDEF")  # the excluded unit leaves the analysis panel
    assert design.panel.n_periods == 12
    np.testing.assert_array_equal(design.g, [4, 6, np.inf, np.inf, np.inf])
    np.testing.assert_array_equal(design.treated, [True, True, False, False, False])
    assert (design.n_treated, design.n_comparison) == (2, 3)
    assert design.cohort_labels == ["2016-08", "2016-10"]
    assert design.is_staggered
    d = design.treatment_matrix()
    assert d.shape == (5, 12)
    np.testing.assert_array_equal(d[0], (np.arange(12) >= 4).astype(float))
    assert d[2:].sum() == 0
    e = design.event_time()
    assert e[1, 6] == 0 and e[1, 0] == -6 and np.isnan(e[3]).all()
    sizes = design.cohort_sizes().set_index("cohort")["units"].to_dict()
    assert sizes == {"2016-08": 1, "2016-10": 1, "comparison (not yet treated)": 1, "comparison (never treated)": 2, "excluded": 1}
    text = design.describe()
    assert "2 of 5 units are treated" in text and "1 excluded" in text


def test_first_period_units_dropped_with_count():
    cohorts = dict(COHORTS, A2="2016-04-01", A3="2015-01-01")  # two more units treated at or before the start
    design = design_from_cohort_column(make_panel(long_table(cohorts)), "cohort", **WINDOW)
    c = by_unit(design)
    assert (c.loc[["A", "A2", "A3"], "status"] == "excluded").all()
    dropped = [n for n in design.notes if n.startswith("Dropped")]
    assert len(dropped) == 1
    assert "Dropped 3 unit(s)" in dropped[0] and "(2016-04)" in dropped[0]
    assert "A" in dropped[0] and "A2" in dropped[0] and "A3" in dropped[0]


def test_window_start_moves_first_period(panel):
    # with the window starting in August, B (treated in August) has no pre-period either
    design = design_from_cohort_column(panel, "cohort", start="2016-08", end="2017-03")
    c = by_unit(design)
    assert c.loc["B", "status"] == "excluded"
    assert c.loc["C", "g"] == 2
    assert any("Dropped 2 unit(s)" in n for n in design.notes)


def test_cohort_after_window_is_not_yet_treated(panel):
    design = design_from_cohort_column(panel, "cohort", start="2016-04", end="2016-09")
    c = by_unit(design)
    assert c.loc["C", "status"] == "not_yet_treated"  # treated in October, after the window
    assert c.loc["D", "status"] == "not_yet_treated"
    assert c.loc["C", "first_treated"] == "2016-10"
    assert pd.isna(c.loc["C", "g"])
    assert design.panel.n_periods == 6
    assert design.cohort_labels == ["2016-08"]
    assert not design.is_staggered


def test_all_comparisons_not_yet_treated_note():
    cohorts = {"A": "2016-08-01", "B": "2016-10-01", "C": "2017-09-01"}
    design = design_from_cohort_column(make_panel(long_table(cohorts)), "cohort", **WINDOW)
    assert by_unit(design).loc["C", "status"] == "not_yet_treated"
    assert any("designated after the window" in n for n in design.notes)


def test_cohort_dates_mid_period_need_a_rule(panel):
    df = long_table(dict(COHORTS, C="2016-10-17"))
    with pytest.raises(DesignError, match="treatment.first_period"):
        design_from_cohort_column(make_panel(df), "cohort", **WINDOW)
    assert by_unit(design_from_cohort_column(make_panel(df), "cohort", first_period="containing", **WINDOW)).loc["C", "first_treated"] == "2016-10"
    assert by_unit(design_from_cohort_column(make_panel(df), "cohort", first_period="first_full", **WINDOW)).loc["C", "first_treated"] == "2016-11"


def test_cohort_column_integer_periods():
    cohorts = {"A": 2003, "B": 2005, "C": 0, "D": 2020, "E": 2001, "F": 1999}
    design = design_from_cohort_column(make_panel(long_table(cohorts, n=8, integer=True)), "cohort", start=2001, end=2008)
    c = by_unit(design)
    assert c["status"].to_dict() == {"A": "treated", "B": "treated", "C": "never_treated", "D": "not_yet_treated", "E": "excluded", "F": "excluded"}
    assert c.loc["A", "g"] == 2 and c.loc["B", "g"] == 4
    assert any("Dropped 2 unit(s)" in n for n in design.notes)
    assert design.window == ("2001", "2008")


def test_cohort_not_a_date():
    df = long_table(dict(COHORTS, C="soon"))
    msg = design_error(design_from_cohort_column, make_panel(df), "cohort", **WINDOW)
    assert "column 'cohort'" in msg and "treatment.cohort" in msg and "'soon'" in msg


def test_cohort_not_a_period_of_integer_data():
    # biennial data 2000, 2002, ... 2010: 2005 lies inside the data but is not one of its periods
    rows = [{"unit": u, "time": t, "y": 1.0, "cohort": c} for u, c in {"A": 2004, "B": 2005, "C": 0}.items() for t in range(2000, 2012, 2)]
    msg = design_error(design_from_cohort_column, make_panel(pd.DataFrame(rows), ["cohort"]), "cohort", start=2000, end=2010)
    assert "column 'cohort'" in msg and "2005" in msg and "not a period" in msg


def test_cohort_fractional_for_integer_data():
    df = long_table({"A": 2003, "B": 0, "C": 0}, n=6, integer=True)
    df["cohort"] = df["cohort"].astype(float)
    df.loc[df["unit"] == "A", "cohort"] = 2003.5
    msg = design_error(design_from_cohort_column, make_panel(df, ["cohort"]), "cohort", start=2001, end=2006)
    assert "column 'cohort'" in msg and "2003.5" in msg and "whole number" in msg


def test_design_messages_have_plain_values():
    df = long_table({"A": 2003, "B": 0, "C": 0}, n=6, integer=True)
    df["cohort"] = df["cohort"].astype(float)
    df.loc[df["unit"] == "A", "cohort"] = 2003.5
    msg = design_error(design_from_cohort_column, make_panel(df, ["cohort"]), "cohort", start=2001, end=2006)
    assert "np." not in msg
    df = long_table(COHORTS)
    df.loc[20, "d"] = 2
    msg = design_error(design_from_indicator, make_panel(df), "d", **WINDOW)
    assert "np." not in msg


def test_cohort_varies_within_unit():
    df = long_table(COHORTS)
    df.loc[(df["unit"] == "C") & (df["time"] >= "2016-12-01"), "cohort"] = "2016-11-01"
    msg = design_error(design_from_cohort_column, make_panel(df), "cohort", **WINDOW)
    assert "column 'cohort'" in msg and "treatment.cohort" in msg and "unit C" in msg


def test_no_unit_treated_in_window():
    msg = design_error(design_from_cohort_column, make_panel(long_table({"A": "0", "B": "2018-01-01"})), "cohort", **WINDOW)
    assert "no unit is treated" in msg and "design.start" in msg


# ---------------------------------------------------------------------------------------------------------------
# indicator column
# ---------------------------------------------------------------------------------------------------------------
def test_indicator_statuses_and_g(panel):
    design = design_from_indicator(panel, "d", **WINDOW)
    c = by_unit(design)
    # D's treatment starts after the data end, so the indicator never shows it: never treated
    assert c["status"].to_dict() == {"A": "excluded", "B": "treated", "C": "treated", "D": "never_treated", "E": "never_treated", "F": "never_treated"}
    assert c.loc["B", "g"] == 4 and c.loc["C", "g"] == 6
    assert design.treatment_source == "indicator column"
    assert any("already 1 in the first period" in n for n in design.notes)
    assert any("Dropped 1 unit(s)" in n for n in design.notes)


def test_indicator_reproduces_treatment_matrix(panel):
    design = design_from_indicator(panel, "d", **WINDOW)
    d = design.panel.matrix("d")
    np.testing.assert_array_equal(design.treatment_matrix(), d)


def test_indicator_and_cohort_agree_on_treated_units(panel):
    a = by_unit(design_from_indicator(panel, "d", **WINDOW))
    b = by_unit(design_from_cohort_column(panel, "cohort", **WINDOW))
    treated = a["status"] == "treated"
    assert (b.loc[treated, "status"] == "treated").all()
    assert (a.loc[treated, "g"] == b.loc[treated, "g"]).all()


def test_indicator_after_window_is_not_yet_treated(panel):
    design = design_from_indicator(panel, "d", start="2016-04", end="2016-09")
    c = by_unit(design)
    assert c.loc["C", "status"] == "not_yet_treated" and c.loc["C", "first_treated"] == "2016-10"


def test_indicator_integer_periods():
    df = long_table({"A": 2003, "B": 2005, "C": 0}, n=6, integer=True)
    design = design_from_indicator(make_panel(df), "d", start=2001, end=2006)
    c = by_unit(design)
    assert c["status"].to_dict() == {"A": "treated", "B": "treated", "C": "never_treated"}
    assert c.loc["A", "g"] == 2 and c.loc["B", "g"] == 4


def test_indicator_switching_off():
    df = long_table(COHORTS)
    df.loc[(df["unit"] == "C") & (df["time"] == "2017-01-01"), "d"] = 0
    msg = design_error(design_from_indicator, make_panel(df), "d", **WINDOW)
    assert "column 'd'" in msg and "treatment.indicator" in msg
    assert "unit C" in msg and "2017-01" in msg and "1 back to 0" in msg


@pytest.mark.parametrize("value", [2, -1, 0.5, "yes", None], ids=["2", "-1", "0.5", "yes", "blank"])
def test_indicator_not_0_1(value):
    df = long_table(COHORTS)
    df["d"] = df["d"].astype(object)
    df.loc[(df["unit"] == "B") & (df["time"] == "2016-05-01"), "d"] = value
    msg = design_error(design_from_indicator, make_panel(df), "d", **WINDOW)
    assert "column 'd'" in msg and "treatment.indicator" in msg and "unit B" in msg and "0 or 1" in msg


# ---------------------------------------------------------------------------------------------------------------
# window and comparison group (both constructors)
# ---------------------------------------------------------------------------------------------------------------
BUILDERS = [(design_from_cohort_column, "cohort"), (design_from_indicator, "d")]
BUILDER_IDS = ["cohort", "indicator"]


@pytest.mark.parametrize("build, column", BUILDERS, ids=BUILDER_IDS)
@pytest.mark.parametrize(
    "start, end",
    [("2030-01", "2031-01"), ("2010-01", "2015-12"), ("2017-04", "2017-12")],
    ids=["future", "past", "just-after"],
)
def test_window_outside_data(panel, build, column, start, end):
    msg = design_error(build, panel, column, start=start, end=end)
    assert "design.start/design.end" in msg and f"{start} to {end}" in msg
    assert "2016-04 to 2017-03" in msg  # what the data cover


@pytest.mark.parametrize("build, column", BUILDERS, ids=BUILDER_IDS)
def test_window_of_one_period(panel, build, column):
    msg = design_error(build, panel, column, start="2016-09", end="2016-09")
    assert "design.start/design.end" in msg and "single period" in msg


@pytest.mark.parametrize("build, column", BUILDERS, ids=BUILDER_IDS)
def test_window_type_must_match_time_column(panel, build, column):
    msg = design_error(build, panel, column, start=2016, end=2017)
    assert "design.start/design.end" in msg and "dates" in msg
    ints = make_panel(long_table({"A": 2003, "B": 0}, n=6, integer=True))
    msg = design_error(build, ints, column, start="2001-01", end="2006-01")
    assert "design.start/design.end" in msg and "integers" in msg


def test_window_partly_outside_data_is_reported(panel):
    try:
        design = design_from_cohort_column(panel, "cohort", start="2015-01", end="2016-12")
    except DesignError as exc:
        assert "design.start" in one_line(str(exc))
    else:
        assert any("design.start" in n for n in design.notes)


@pytest.mark.parametrize("build, column", BUILDERS, ids=BUILDER_IDS)
def test_never_treated_comparison_without_untreated_units(build, column):
    df = long_table({"A": "2016-06-01", "B": "2016-08-01", "C": "2016-10-01"})
    msg = design_error(build, make_panel(df), column, comparison="never_treated", **WINDOW)
    assert "design.comparison" in msg and "never_treated" in msg
    assert "not_yet_treated" in msg  # the way out


@pytest.mark.parametrize("build, column", BUILDERS, ids=BUILDER_IDS)
def test_not_yet_treated_comparison_without_untreated_units(build, column):
    df = long_table({"A": "2016-06-01", "B": "2016-08-01", "C": "2016-10-01"})
    design = build(make_panel(df), column, **WINDOW)
    assert design.n_comparison == 0 and design.n_treated == 3
    assert any("No unit is untreated throughout the window" in n for n in design.notes)


@pytest.mark.parametrize("build, column", BUILDERS, ids=BUILDER_IDS)
def test_never_treated_comparison_with_untreated_units(panel, build, column):
    design = build(panel, column, comparison="never_treated", **WINDOW)
    assert design.comparison == "never_treated"
    assert "never-treated units" in design.describe()
