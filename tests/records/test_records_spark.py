"""DuckDB and Spark give identical panels from the same records, through the same SQL text.

Spark starts once for the module (``local[2]``, about 10-20 s); the records are small. Marked ``spark``: deselect with
``-m "not spark"``. Skipped, with the reason, when pyspark or Java is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from evidence.errors import DataError
from evidence.records import aggregate_records, generate_records, panel_from_records
from evidence.records.spark import java_available, pyspark_available

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not pyspark_available(), reason="pyspark is not installed (pip install pyspark) — the Spark engine tests need it"),
    pytest.mark.skipif(not java_available(), reason="no Java on JAVA_HOME or PATH — Spark needs Java 17+"),
]

MASTER = "local[2]"


@pytest.fixture(scope="module")
def spark():
    from evidence.records.spark import get_session

    session, started = get_session(MASTER, memory_limit="1g")
    yield session
    if started:
        session.stop()


@pytest.fixture(scope="module")
def spells(tmp_path_factory):
    return generate_records(tmp_path_factory.mktemp("spark") / "spells", scale=0.002, start="2016-04", end="2016-06", seed=42)


@pytest.fixture(scope="module")
def attendances(tmp_path_factory):
    return generate_records(tmp_path_factory.mktemp("spark") / "ae", kind="attendances", scale=0.0004, start="2016-04", end="2016-05", seed=43)


def assert_identical(a, b):
    """Panels equal: counts exactly, floats to 1e-9 (relative), same rows, outcomes, notes about the data."""
    assert list(a.data.columns) == list(b.data.columns) and a.outcomes == b.outcomes
    assert a.data["unit"].astype(str).tolist() == b.data["unit"].astype(str).tolist()
    assert (a.data["time"] == b.data["time"]).all()
    for col in a.outcomes + ["population"]:
        x, y = a.data[col].to_numpy(float), b.data[col].to_numpy(float)
        if a.outcome_kinds.get(col) == "count":
            np.testing.assert_array_equal(x, y, err_msg=col)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=0, err_msg=col)
    ca, cb = a.extras["counts"], b.extras["counts"]
    pd.testing.assert_frame_equal(ca.assign(unit=ca["unit"].astype(str)), cb.assign(unit=cb["unit"].astype(str)))


@pytest.mark.parametrize("geography", ["residence", "provider"])
def test_spells_panels_are_identical_on_duckdb_and_spark(spark, spells, geography):
    duck = panel_from_records(spells.glob, engine="duckdb", geography=geography, checksums=False)
    sp = panel_from_records(spells.glob, engine="spark", geography=geography, spark_session=spark, checksums=False)
    assert_identical(duck, sp)
    rd, rs = duck.extras["records"], sp.extras["records"]
    assert rd.queries == rs.queries  # one definition: the very same SQL text ran on both engines
    assert rs.engine == "spark" and rd.n_records == rs.n_records == spells.n_records
    assert sp.data["emergency_admissions"].sum() == (spells.counts.loc[spells.counts["admission_method"] == "emergency", "n"].sum())


def test_attendance_panels_are_identical_and_the_master_url_reuses_the_session(spark, attendances):
    duck = panel_from_records(attendances.glob, geography="provider", checksums=False)
    sp = panel_from_records(attendances.glob, engine="spark", geography="provider", spark_master=MASTER, checksums=False)
    assert_identical(duck, sp)
    assert not spark.sparkContext._jsc.sc().isStopped()  # a session this call did not start is left running
    with pytest.raises(DataError, match=r"data\.records\.spark_master 'local\[1\]': a Spark session with master 'local\[2\]' is already running"):
        panel_from_records(attendances.glob, engine="spark", spark_master="local[1]")


def test_bad_input_reads_the_same_on_both_engines(spark, spells, tmp_path):
    t = pq.read_table(spells.files).to_pandas()
    for c in ("provider_code", "lsoa11_code", "admission_method", "age_band", "sex", "hrg_code"):
        t[c] = t[c].astype(str)
    bad = pd.concat([t, t.iloc[[0, 0]]], ignore_index=True)
    bad.loc[bad.index[5:9], "lsoa11_code"] = "W01000001"
    path = tmp_path / "dups.parquet"
    bad.to_parquet(path, index=False)
    msgs = []
    for engine in ("duckdb", "spark"):
        with pytest.raises(DataError) as e:
            aggregate_records(path, engine=engine, spark_session=spark)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] and "2 duplicate spell_id values" in msgs[0]
    ok = tmp_path / "unknown.parquet"
    bad.drop_duplicates("spell_id").to_parquet(ok, index=False)
    reports = [aggregate_records(ok, engine=engine, spark_session=spark, unknown_codes="drop")[1] for engine in ("duckdb", "spark")]
    pd.testing.assert_frame_equal(reports[0].unknown, reports[1].unknown)
    assert reports[0].n_unknown == reports[1].n_unknown == 4
