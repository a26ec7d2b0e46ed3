"""The clean designation table: built from the sourced waves file, typed, committed."""

from __future__ import annotations

import pandas as pd
import pytest

from evidence.data.designations import COLUMNS, DESIGNATIONS, build_designations, load_designations
from evidence.errors import DataError


def test_committed_table_equals_a_rebuild():
    # `evidence build-designations` regenerates the committed file byte for byte
    rebuilt = build_designations().to_csv(index=False, lineterminator="\n")
    assert DESIGNATIONS.read_text(encoding="utf-8") == rebuilt
    assert list(pd.read_csv(DESIGNATIONS, nrows=0).columns) == COLUMNS


def test_types_and_parsing_rules():
    t = load_designations()
    assert t["wave"].between(1, 6).all() and len(t) == 45
    assert t["stp21_code"].nunique() == 42
    gm = t[t["stp21_code"] == "E54000007"].iloc[0]
    assert (str(gm["announced"].date()), gm["announced_precision"]) == ("2017-06-01", "month")
    assert str(gm["effective"].date()) == "2016-04-01"
    w5 = t[t["wave"] == 5]
    assert (w5["effective_precision"] == "month").all() and w5["effective_alt"].dt.strftime("%Y-%m-%d").eq("2021-04-01").all()
    assert set(t.loc[t["inferred"].astype(str) == "True", "stp21_code"]) == {"E54000038", "E54000017", "E54000012", "E54000042"}
    partial = t[t["scope"] == "partial"]
    assert set(partial["stp21_code"]) == {"E54000014", "E54000044", "E54000048", "E54000050"}
    assert (t["source"].str.len() > 10).all()


def test_bad_designation_file_is_named(tmp_path):
    bad = tmp_path / "d.csv"
    pd.read_csv(DESIGNATIONS, dtype=str, keep_default_na=False).assign(announced="June 2017").to_csv(bad, index=False)
    with pytest.raises(DataError, match="column announced"):
        load_designations(bad)
    pd.read_csv(DESIGNATIONS, dtype=str, keep_default_na=False).drop(columns="scope").to_csv(bad, index=False)
    with pytest.raises(DataError, match="column scope is missing"):
        load_designations(bad)
