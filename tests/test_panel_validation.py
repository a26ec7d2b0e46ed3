"""The data gate: :func:`evidence.panel.validate_panel` and :func:`evidence.data.user.load_user_panel`.

Small panels (6 units x 12 months unless stated) are written to CSV and Parquet files in ``tmp_path``; every
problem must raise a one-line :class:`evidence.errors.DataError` naming the file and the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.data.user import load_user_panel, read_table
from evidence.errors import DataError
from evidence.panel import Panel, sha256, validate_panel

UNITS = [f"A{u}" for u in range(6)]
COLUMNS = dict(unit="area", time="month", outcomes=["visits"])


def make_panel(n_units: int = 6, n: int = 12, start: str = "2016-04-01", freq: str = "MS") -> pd.DataFrame:
    """Long table: area, month (first day of the period, text), visits (count), pct, prop, region, x, size."""
    dates = pd.date_range(start, periods=n, freq=freq)
    rows = []
    for u in range(n_units):
        for i, t in enumerate(dates):
            rows.append(
                {
                    "area": f"A{u}",
                    "month": t.strftime("%Y-%m-%d"),
                    "visits": 100 + 10 * u + i,
                    "pct": 90.0 - i,
                    "prop": 0.5 + 0.01 * i,
                    "region": f"R{u % 2}",
                    "x": float(u),
                    "size": 1000 + u,
                }
            )
    return pd.DataFrame(rows)


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def one_line(message: str) -> str:
    assert message and "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    return message


def data_error(path: Path, **kwargs) -> str:
    """load_user_panel expecting a DataError; returns the message after checking it is one line naming the file."""
    args = dict(COLUMNS)
    args.update(kwargs)
    with pytest.raises(DataError) as info:
        load_user_panel(path, **args)
    msg = one_line(str(info.value))
    assert str(path) in msg, f"message does not name the file: {msg}"
    return msg


@pytest.fixture(params=[".csv", ".parquet"])
def suffix(request) -> str:
    return request.param


@pytest.fixture
def panel_df() -> pd.DataFrame:
    return make_panel()


# ---------------------------------------------------------------------------------------------------------------
# good files
# ---------------------------------------------------------------------------------------------------------------
def test_good_file_loads(tmp_path, suffix, panel_df):
    path = write(panel_df, tmp_path / f"panel{suffix}")
    before = sha256(path)
    panel = load_user_panel(path, **COLUMNS)
    assert isinstance(panel, Panel)
    assert (panel.n_units, panel.n_periods) == (6, 12)
    assert panel.frequency == "month"
    assert panel.period_labels[0] == "2016-04" and panel.period_labels[-1] == "2017-03"
    assert list(panel.units) == UNITS
    assert panel.notes == []
    assert panel.files == {str(path): before}
    assert sha256(path) == before
    df = panel.data
    assert list(df.columns[:4]) == ["unit", "time", "t", "cluster"]
    assert (df["cluster"] == df["unit"]).all()
    assert df.groupby("unit")["t"].apply(list).map(lambda t: t == list(range(12))).all()
    np.testing.assert_array_equal(panel.matrix("visits")[1], 110 + np.arange(12))


def test_rows_in_any_order(tmp_path, panel_df):
    shuffled = panel_df.sample(frac=1.0, random_state=3)
    panel = load_user_panel(write(shuffled, tmp_path / "panel.csv"), **COLUMNS)
    np.testing.assert_array_equal(panel.matrix("visits")[0], 100 + np.arange(12))


def test_gzipped_csv(tmp_path, panel_df):
    path = tmp_path / "panel.csv.gz"
    panel_df.to_csv(path, index=False)
    assert load_user_panel(path, **COLUMNS).n_units == 6


def test_integer_time_years(tmp_path, suffix):
    df = make_panel(n=8, start="2003-01-01", freq="YS")
    df["month"] = pd.to_datetime(df["month"]).dt.year
    panel = load_user_panel(write(df, tmp_path / f"years{suffix}"), **COLUMNS)
    assert panel.frequency == "integer"
    assert panel.period_labels == [str(y) for y in range(2003, 2011)]
    assert panel.n_periods == 8


def test_integer_time_with_step(tmp_path):
    df = make_panel(n=5, start="2000-01-01", freq="2YS")
    df["month"] = pd.to_datetime(df["month"]).dt.year
    panel = load_user_panel(write(df, tmp_path / "biennial.csv"), **COLUMNS)
    assert panel.frequency == "integer" and panel.n_periods == 5


@pytest.mark.parametrize(
    "start, freq, expected, first_label",
    [
        ("2016-04-01", "MS", "month", "2016-04"),
        ("2016-01-01", "QS", "quarter", "2016Q1"),
        ("2010-01-01", "YS", "year", "2010"),
        ("2010-04-01", "YS-APR", "fy", "2010/11"),
    ],
)
def test_date_frequency_inferred(tmp_path, suffix, start, freq, expected, first_label):
    df = make_panel(n=8, start=start, freq=freq)
    panel = load_user_panel(write(df, tmp_path / f"panel{suffix}"), **COLUMNS)
    assert panel.frequency == expected
    assert panel.period_labels[0] == first_label
    assert panel.n_periods == 8


def test_year_month_text_dates(tmp_path, panel_df):
    panel_df["month"] = pd.to_datetime(panel_df["month"]).dt.strftime("%Y-%m")
    panel = load_user_panel(write(panel_df, tmp_path / "panel.csv"), **COLUMNS)
    assert panel.frequency == "month" and panel.n_periods == 12


def test_datetime_column_in_parquet(tmp_path, panel_df):
    panel_df["month"] = pd.to_datetime(panel_df["month"])
    panel = load_user_panel(write(panel_df, tmp_path / "panel.parquet"), **COLUMNS)
    assert panel.frequency == "month" and panel.n_periods == 12


def test_optional_columns(tmp_path, suffix, panel_df):
    panel_df["name"] = panel_df["area"].str.lower()
    path = write(panel_df, tmp_path / f"panel{suffix}")
    panel = load_user_panel(
        path,
        unit="area",
        time="month",
        outcomes=["visits", "pct", "prop"],
        outcome_kinds={"pct": "percent", "prop": "proportion"},
        unit_name="name",
        population="size",
        cluster="region",
        covariates=["x"],
    )
    assert panel.outcome_kinds == {"visits": "count", "pct": "percent", "prop": "proportion"}
    assert panel.has_population
    assert panel.covariates == ["x"]
    table = panel.unit_table()
    assert list(table["cluster"]) == ["R0", "R1"] * 3
    assert list(table["x"]) == [float(u) for u in range(6)]
    assert list(table["unit_name"]) == [u.lower() for u in UNITS]
    assert panel.columns == {"unit": "area", "time": "month", "unit_name": "name", "population": "size", "cluster": "region"}


def test_treatment_columns_carried(tmp_path, panel_df):
    panel_df["first_treated"] = np.where(panel_df["area"].isin(["A0", "A1"]), "2016-10-01", "0")
    panel = load_user_panel(write(panel_df, tmp_path / "panel.csv"), **COLUMNS, treatment_columns=["first_treated"])
    assert "first_treated" in panel.data.columns


def test_continuous_outcome_may_be_negative(tmp_path, panel_df):
    panel_df["visits"] = panel_df["visits"] - 150
    panel = load_user_panel(write(panel_df, tmp_path / "panel.csv"), **COLUMNS, outcome_kinds={"visits": "continuous"})
    assert panel.data["visits"].min() < 0


def test_validate_panel_directly(panel_df):
    out, freq, notes = validate_panel(panel_df, name="in-memory", unit="area", time="month", outcomes=["visits"])
    assert freq == "month" and notes == []
    assert len(out) == 72


def test_file_is_not_modified(tmp_path, panel_df):
    path = write(panel_df, tmp_path / "panel.csv")
    before = sha256(path)
    bad = write(pd.concat([panel_df, panel_df.iloc[[3]]]), tmp_path / "dup.csv")
    bad_before = sha256(bad)
    load_user_panel(path, **COLUMNS, balance="drop")
    with pytest.raises(DataError):
        load_user_panel(bad, **COLUMNS)
    assert sha256(path) == before and sha256(bad) == bad_before


# ---------------------------------------------------------------------------------------------------------------
# missing columns
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, column, key",
    [
        ({"unit": "trust"}, "trust", "data.unit"),
        ({"time": "period"}, "period", "data.time"),
        ({"outcomes": ["visits", "admissions"]}, "admissions", "data.outcomes[1]"),
        ({"unit_name": "name"}, "name", "data.unit_name"),
        ({"population": "pop"}, "pop", "data.population"),
        ({"cluster": "ics"}, "ics", "data.cluster"),
        ({"covariates": ["x", "imd"]}, "imd", "data.covariates[1]"),
    ],
)
def test_missing_column(tmp_path, suffix, panel_df, kwargs, column, key):
    path = write(panel_df, tmp_path / f"panel{suffix}")
    msg = data_error(path, **kwargs)
    assert f"column '{column}'" in msg
    assert key in msg
    assert "area, month, visits" in msg  # lists the columns the file does have


def test_missing_column_listing_is_truncated(tmp_path, panel_df):
    for i in range(20):
        panel_df[f"extra{i}"] = 0
    msg = data_error(write(panel_df, tmp_path / "wide.csv"), unit="trust")
    assert "'trust'" in msg and "..." in msg


def test_missing_treatment_column(tmp_path, panel_df):
    msg = data_error(write(panel_df, tmp_path / "panel.csv"), treatment_columns=["first_treated"])
    assert "column 'first_treated'" in msg


def test_reserved_name_as_outcome(tmp_path, panel_df):
    panel_df["population"] = 5
    msg = data_error(write(panel_df, tmp_path / "panel.csv"), outcomes=["population"])
    assert "'population'" in msg and "reserved" in msg


# ---------------------------------------------------------------------------------------------------------------
# rows and periods
# ---------------------------------------------------------------------------------------------------------------
def test_duplicate_unit_period_rows(tmp_path, suffix, panel_df):
    df = pd.concat([panel_df, panel_df.iloc[[14, 15]]], ignore_index=True)
    msg = data_error(write(df, tmp_path / f"dup{suffix}"))
    assert "2 duplicate unit-period rows" in msg
    assert "'area'" in msg and "'month'" in msg
    assert "A1" in msg and "2016-06" in msg


def test_empty_unit(tmp_path, panel_df):
    panel_df["area"] = panel_df["area"].astype(object)
    panel_df.loc[7, "area"] = None
    msg = data_error(write(panel_df, tmp_path / "panel.csv"))
    assert "'area'" in msg and "empty" in msg


def test_empty_period(tmp_path, panel_df):
    panel_df.loc[7, "month"] = None
    msg = data_error(write(panel_df, tmp_path / "panel.csv"))
    assert "'month'" in msg and "empty" in msg


def test_unparseable_date(tmp_path, panel_df):
    panel_df.loc[7, "month"] = "sometime"
    msg = data_error(write(panel_df, tmp_path / "panel.csv"))
    assert "'month'" in msg and "'sometime'" in msg and "not a date" in msg


def test_gap_in_time(tmp_path, suffix, panel_df):
    df = panel_df.drop(index=[12 + 2, 12 + 3])  # unit A1, June and July 2016
    msg = data_error(write(df, tmp_path / f"gap{suffix}"))
    assert "'month'" in msg and "gap" in msg
    assert "unit A1" in msg and "2016-06" in msg and "2 period(s)" in msg


def test_gap_in_integer_time(tmp_path):
    df = make_panel(n=8, start="2003-01-01", freq="YS")
    df["month"] = pd.to_datetime(df["month"]).dt.year
    df = df.drop(index=[8 * 2 + 3])  # unit A2, 2006
    msg = data_error(write(df, tmp_path / "years.csv"))
    assert "'month'" in msg and "unit A2" in msg and "2006" in msg


def test_mixed_frequencies(tmp_path, suffix):
    monthly = make_panel(n=24, start="2016-01-01", freq="MS")
    quarterly = make_panel(n=8, start="2016-01-01", freq="QS")
    df = pd.concat([quarterly[quarterly["area"].isin(["A0", "A1"])], monthly[~monthly["area"].isin(["A0", "A1"])]])
    msg = data_error(write(df, tmp_path / f"mixed{suffix}"))
    assert "'month'" in msg and "mixes frequencies" in msg
    assert "unit A0" in msg and "every 3 month" in msg


def test_mixed_frequencies_all_units(tmp_path):
    # every unit has a monthly first year then quarterly rows: steps 1 and 3 everywhere -> a gap, named
    dates = list(pd.date_range("2016-01-01", periods=12, freq="MS")) + list(pd.date_range("2017-01-01", periods=4, freq="QS"))
    df = pd.DataFrame([{"area": u, "month": d.strftime("%Y-%m-%d"), "visits": 1} for u in UNITS for d in dates])
    msg = data_error(write(df, tmp_path / "mixed.csv"))
    assert "'month'" in msg and "unit A0" in msg


@pytest.mark.parametrize(
    "start, freq",
    [("2016-01-01", "2MS"), ("2016-02-01", "QS-FEB"), ("2010-07-01", "YS-JUL")],
    ids=["every-other-month", "quarters-from-february", "years-from-july"],
)
def test_irregular_dates(tmp_path, start, freq):
    df = make_panel(n=8, start=start, freq=freq)
    msg = data_error(write(df, tmp_path / "irregular.csv"))
    assert "'month'" in msg and "irregular" in msg


def test_irregular_dates_force_frequency(tmp_path):
    # the message suggests data.frequency; forcing it maps every date into its period
    df = make_panel(n=8, start="2016-02-01", freq="QS-FEB")
    panel = load_user_panel(write(df, tmp_path / "quarters.csv"), **COLUMNS, frequency="quarter")
    assert panel.frequency == "quarter" and panel.n_periods == 8


def test_irregular_dates_message_is_plain(tmp_path):
    df = make_panel(n=8, start="2016-01-01", freq="2MS")
    msg = data_error(write(df, tmp_path / "irregular.csv"))
    assert "np." not in msg and "steps of 2 months" in msg


def test_weekly_dates_named_as_such(tmp_path):
    df = make_panel(n=12, start="2016-01-04", freq="W-MON")
    msg = data_error(write(df, tmp_path / "weekly.csv"))
    assert "duplicate" not in msg and "'month'" in msg


def test_day_first_dates(tmp_path, panel_df):
    panel_df["month"] = pd.to_datetime(panel_df["month"]).dt.strftime("%d/%m/%Y")
    path = write(panel_df, tmp_path / "ukdates.csv")
    try:
        panel = load_user_panel(path, **COLUMNS)
    except DataError as exc:
        msg = one_line(str(exc))
        assert "duplicate" not in msg and "'month'" in msg
    else:
        assert panel.frequency == "month" and panel.period_labels[0] == "2016-04"


def test_single_period(tmp_path):
    df = make_panel(n=1)
    msg = data_error(write(df, tmp_path / "one.csv"))
    assert "'month'" in msg


def test_unbalanced_panel_error(tmp_path, suffix, panel_df):
    df = panel_df.drop(index=[12 * 2 + 11, 12 * 4 + 11])  # A2 and A4 lack the last month
    msg = data_error(write(df, tmp_path / f"unbalanced{suffix}"))
    assert "unbalanced" in msg and "'month'" in msg
    assert "unit A2" in msg and "11 of 12" in msg and "2 unit(s)" in msg
    assert "data.missing: drop_units" in msg


def test_unbalanced_panel_drop(tmp_path, suffix, panel_df):
    df = panel_df.drop(index=[12 * 2 + 11, 12 * 4 + 0])  # A2 lacks the last month, A4 the first
    panel = load_user_panel(write(df, tmp_path / f"unbalanced{suffix}"), **COLUMNS, balance="drop")
    assert list(panel.units) == ["A0", "A1", "A3", "A5"]
    assert panel.n_periods == 12
    assert len(panel.notes) == 1
    note = panel.notes[0]
    assert "Dropped 2 unit(s)" in note and "A2" in note and "A4" in note


def test_unbalanced_panel_drop_everything(tmp_path, panel_df):
    # half the units miss the first month, half the last: no unit is complete, nothing is left after dropping
    df = panel_df.drop(index=[12 * u + (0 if u % 2 == 0 else 11) for u in range(6)])
    msg = data_error(write(df, tmp_path / "holes.csv"), balance="drop")
    assert "no unit has every period" in msg and "'month'" in msg


def test_shifted_unit(tmp_path, panel_df):
    # A5 runs three months later than the others: over the union of periods every unit is incomplete
    late = make_panel(n=12, start="2016-07-01")
    df = pd.concat([panel_df[panel_df["area"] != "A5"], late[late["area"] == "A5"]])
    path = write(df, tmp_path / "shifted.csv")
    msg = data_error(path)
    assert "unbalanced" in msg and "12 of 15" in msg and "6 unit(s)" in msg
    msg = data_error(path, balance="drop")
    assert "no unit has every period" in msg and "'month'" in msg


# ---------------------------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------------------------
def test_non_numeric_outcome(tmp_path, suffix, panel_df):
    panel_df["visits"] = panel_df["visits"].astype(str)
    panel_df.loc[20, "visits"] = "twelve"
    msg = data_error(write(panel_df, tmp_path / f"text{suffix}"))
    assert "column 'visits'" in msg and "non-numeric" in msg and "'twelve'" in msg


def test_thousands_separator_is_non_numeric(tmp_path, panel_df):
    panel_df["visits"] = panel_df["visits"].map(lambda v: f"1,{v}")
    msg = data_error(write(panel_df, tmp_path / "commas.csv"))
    assert "column 'visits'" in msg and "non-numeric" in msg


def test_negative_count(tmp_path, suffix, panel_df):
    panel_df.loc[20, "visits"] = -3
    msg = data_error(write(panel_df, tmp_path / f"neg{suffix}"))
    assert "column 'visits'" in msg and "negative" in msg
    assert "unit A1" in msg and "2016-12" in msg
    assert "data.outcome_kinds" in msg


def test_negative_population(tmp_path, panel_df):
    panel_df.loc[3, "size"] = 0
    msg = data_error(write(panel_df, tmp_path / "pop.csv"), population="size")
    assert "column 'size'" in msg and "data.population" in msg


@pytest.mark.parametrize("blank", [np.nan, None])
def test_missing_outcome_values(tmp_path, suffix, panel_df, blank):
    panel_df["visits"] = panel_df["visits"].astype(float)
    panel_df.loc[[20, 30], "visits"] = blank
    msg = data_error(write(panel_df, tmp_path / f"na{suffix}"))
    assert "column 'visits'" in msg and "2 missing values" in msg and "unit A1" in msg


def test_missing_values_written_as_text(tmp_path, panel_df):
    panel_df["visits"] = panel_df["visits"].astype(str)
    panel_df.loc[20, "visits"] = "NA"
    msg = data_error(write(panel_df, tmp_path / "na.csv"))
    assert "column 'visits'" in msg and "missing" in msg


def test_infinite_values(tmp_path, panel_df):
    panel_df["visits"] = panel_df["visits"].astype(float)
    panel_df.loc[20, "visits"] = np.inf
    msg = data_error(write(panel_df, tmp_path / "inf.parquet"))
    assert "column 'visits'" in msg and "infinite" in msg


def test_percent_above_100(tmp_path, suffix, panel_df):
    panel_df.loc[5, "pct"] = 100.5
    msg = data_error(write(panel_df, tmp_path / f"pct{suffix}"), outcomes=["pct"], outcome_kinds={"pct": "percent"})
    assert "column 'pct'" in msg and "percent" in msg and "above 100" in msg


def test_percent_of_100_allowed(tmp_path, panel_df):
    panel_df["pct"] = 100.0
    panel = load_user_panel(write(panel_df, tmp_path / "pct.csv"), unit="area", time="month", outcomes=["pct"], outcome_kinds={"pct": "percent"})
    assert panel.outcome_kinds["pct"] == "percent"


def test_proportion_above_1(tmp_path, suffix, panel_df):
    panel_df.loc[5, "prop"] = 1.2
    msg = data_error(write(panel_df, tmp_path / f"prop{suffix}"), outcomes=["prop"], outcome_kinds={"prop": "proportion"})
    assert "column 'prop'" in msg and "proportion" in msg and "above 1" in msg


def test_negative_percent(tmp_path, panel_df):
    panel_df.loc[5, "pct"] = -1
    msg = data_error(write(panel_df, tmp_path / "pct.csv"), outcomes=["pct"], outcome_kinds={"pct": "percent"})
    assert "column 'pct'" in msg and "negative" in msg


def test_cluster_changes_within_unit(tmp_path, suffix, panel_df):
    panel_df.loc[12 * 3 + 6, "region"] = "R9"  # unit A3 moves region mid-way
    msg = data_error(write(panel_df, tmp_path / f"cluster{suffix}"), cluster="region")
    assert "column 'region'" in msg and "data.cluster" in msg and "unit A3" in msg


def test_cluster_empty(tmp_path, panel_df):
    panel_df.loc[3, "region"] = None
    msg = data_error(write(panel_df, tmp_path / "cluster.csv"), cluster="region")
    assert "column 'region'" in msg and "empty" in msg


def test_time_varying_covariate(tmp_path, suffix, panel_df):
    panel_df.loc[panel_df["area"] == "A4", "x"] = np.arange(12, dtype=float)
    msg = data_error(write(panel_df, tmp_path / f"cov{suffix}"), covariates=["x"])
    assert "covariate column 'x'" in msg and "unit A4" in msg and "time-invariant" in msg


def test_non_numeric_covariate(tmp_path, panel_df):
    msg = data_error(write(panel_df, tmp_path / "cov.csv"), covariates=["region"])
    assert "covariate column 'region'" in msg and "non-numeric" in msg


def test_missing_covariate_values(tmp_path, panel_df):
    panel_df.loc[3, "x"] = np.nan
    msg = data_error(write(panel_df, tmp_path / "cov.csv"), covariates=["x"])
    assert "covariate column 'x'" in msg and "missing" in msg


# ---------------------------------------------------------------------------------------------------------------
# unreadable files
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 20,
        b"\x89PNG\r\n\x1a\n" + bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
        b"PK\x03\x04" + b"\x00\x14\x00\x06\x00" * 200,  # what an .xlsx renamed .csv starts with
    ],
    ids=["bytes", "png", "zip"],
)
def test_binary_garbage_named_csv(tmp_path, content):
    path = tmp_path / "garbage.csv"
    path.write_bytes(content)
    msg = data_error(path)
    assert "garbage.csv" in msg


def test_garbage_named_parquet(tmp_path):
    path = tmp_path / "garbage.parquet"
    path.write_bytes(b"not a parquet file at all")
    msg = data_error(path)
    assert "Parquet" in msg


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    msg = data_error(path)
    assert name in msg


def test_header_only_csv(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("area,month,visits\n", encoding="utf-8")
    msg = data_error(path)
    assert "no rows" in msg


def test_semicolon_separated_csv(tmp_path, panel_df):
    path = tmp_path / "semi.csv"
    panel_df.to_csv(path, index=False, sep=";", decimal=",")
    msg = data_error(path)
    assert "semicolon" in msg and "area;month;visits" in msg


def test_latin1_csv(tmp_path, panel_df):
    path = tmp_path / "latin1.csv"
    panel_df.assign(area=panel_df["area"] + "\u00e9").to_csv(path, index=False, encoding="latin-1")
    msg = data_error(path)
    assert "UTF-8" in msg


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    msg = data_error(path)
    assert "does not exist" in msg and "data.path" in msg


def test_unknown_suffix(tmp_path, panel_df):
    path = tmp_path / "panel.txt"
    panel_df.to_csv(path, index=False)
    msg = data_error(path)
    assert ".csv" in msg


def test_read_table_semicolon_direct(tmp_path, panel_df):
    path = tmp_path / "semi.csv"
    panel_df.to_csv(path, index=False, sep=";")
    with pytest.raises(DataError) as info:
        read_table(path)
    one_line(str(info.value))
