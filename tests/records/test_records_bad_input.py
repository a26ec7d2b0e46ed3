"""Bad record input: each problem is a one-line DataError naming the file, column or parameter (no Spark needed)."""

from __future__ import annotations

import socket
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evidence.errors import DataError
from evidence.records import aggregate_records, generate_records, panel_from_records
from evidence.records.spark import check_master


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    g = generate_records(tmp_path_factory.mktemp("bad") / "spells", scale=0.002, start="2016-04", end="2016-06", seed=5)
    t = pq.read_table(g.files).to_pandas()
    for c in ("provider_code", "lsoa11_code", "admission_method", "age_band", "sex", "hrg_code"):
        t[c] = t[c].astype(str)
    return g, t


def write(tmp_path, frame, name="records.parquet"):
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


def one_line(exc):
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_unknown_lsoa_codes_stop_the_build_with_counts_and_shares(base, tmp_path):
    g, t = base
    t = t.copy()
    t.loc[t.index[:30], "lsoa11_code"] = "W01000001"  # a Welsh LSOA: not in the English lookup
    t.loc[t.index[30:35], "lsoa11_code"] = "E01999999"
    path = write(tmp_path, t)
    with pytest.raises(DataError) as e:
        panel_from_records(path)
    msg = one_line(e)
    assert "35 records" in msg and "2 LSOA (lsoa11_code) codes" in msg and "W01000001 (30, " in msg and "data.records.unknown_codes: drop" in msg
    share = f"{35 / len(t):.2%}"
    assert share in msg
    p = panel_from_records(path, unknown_codes="drop", checksums=False)
    rep = p.extras["records"]
    assert rep.n_unknown == 35 and list(rep.unknown["code"]) == ["W01000001", "E01999999"]
    assert rep.unknown["share"].sum() == pytest.approx(35 / len(t))
    assert any("35 records" in n and "W01000001" in n and "unknown codes left out" in n for n in p.notes)
    assert p.data["emergency_admissions"].sum() + p.data["elective_admissions"].sum() == len(t) - 35


def test_unknown_provider_codes_are_reported_for_provider_geography(base, tmp_path):
    g, t = base
    t = t.copy()
    t.loc[t.index[:12], "provider_code"] = "NT401"  # independent sector: no trust footprint
    path = write(tmp_path, t)
    with pytest.raises(DataError, match=r"12 records \(.*\) have 1 provider \(provider_code\) codes not in the trust lookups .*NT401 \(12, "):
        panel_from_records(path, geography="provider")
    assert panel_from_records(path).data["emergency_admissions"].sum() > 0  # residence does not need provider codes


def test_dates_outside_the_window_stop_the_build_unless_dropped(base, tmp_path):
    g, t = base
    with pytest.raises(DataError) as e:
        panel_from_records(g.glob, start="2016-04", end="2016-05")
    msg = one_line(e)
    assert "admission_date outside the window 2016-04..2016-05" in msg and "records run 2016-04 to 2016-06" in msg and "data.records.outside_window: drop" in msg
    with pytest.raises(DataError, match="no records fall inside the window 2017-01..2017-03"):
        panel_from_records(g.glob, start="2017-01", end="2017-03", outside_window="drop")


def test_duplicate_spell_ids_are_an_error_with_examples(base, tmp_path):
    g, t = base
    dup = pd.concat([t, t.iloc[[3, 3, 8]]], ignore_index=True)
    path = write(tmp_path, dup)
    with pytest.raises(DataError) as e:
        panel_from_records(path)
    msg = one_line(e)
    assert "3 duplicate spell_id values" in msg and f"{t['spell_id'].iloc[3]} (x3)" in msg and f"{t['spell_id'].iloc[8]} (x2)" in msg


def test_schema_mismatch_missing_or_mistyped_column(base, tmp_path):
    g, t = base
    with pytest.raises(DataError) as e:
        panel_from_records(write(tmp_path, t.drop(columns=["admission_method"])))
    assert "required column 'admission_method' is missing" in one_line(e) and "records.parquet" in str(e.value)
    bad = t.assign(length_of_stay=t["length_of_stay"].astype(float))
    with pytest.raises(DataError, match=r"column 'length_of_stay' is float but must be integer"):
        panel_from_records(write(tmp_path, bad))
    bad = t.assign(admission_date=t["admission_date"].astype(str))
    with pytest.raises(DataError, match=r"column 'admission_date' is string but must be date or timestamp"):
        panel_from_records(write(tmp_path, bad))


def test_one_mistyped_file_among_many_is_named(base, tmp_path):
    g, t = base
    write(tmp_path, t.iloc[:100], "part-0.parquet")
    write(tmp_path, t.iloc[100:].assign(sex=(t["sex"].iloc[100:] == "F")), "part-1.parquet")
    with pytest.raises(DataError, match=r"part-1\.parquet: column 'sex' is boolean but must be string"):
        panel_from_records(tmp_path)


def test_codes_outside_the_allowed_lists_and_missing_values(base, tmp_path):
    g, t = base
    bad = t.copy()
    bad.loc[bad.index[:4], "age_band"] = "15-19"
    with pytest.raises(DataError) as e:
        panel_from_records(write(tmp_path, bad))
    msg = one_line(e)
    assert "column 'age_band' has 4 values outside the allowed age bands" in msg and "'15-19' (4)" in msg and "re-band 15-19" in msg
    bad = t.copy()
    bad.loc[bad.index[:2], "admission_method"] = "maternity"
    with pytest.raises(DataError, match=r"column 'admission_method' has 2 values outside the allowed values elective, emergency, e\.g\. 'maternity' \(2\)"):
        panel_from_records(write(tmp_path, bad))
    bad = t.copy()
    bad.loc[bad.index[:1], "length_of_stay"] = -3
    with pytest.raises(DataError, match=r"column 'length_of_stay' has 1 values outside the whole days >= 0, e\.g\. '-3' \(1\)"):
        panel_from_records(write(tmp_path, bad))
    bad = t.copy()
    bad["sex"] = bad["sex"].astype(object)
    bad.loc[bad.index[:5], "sex"] = None
    with pytest.raises(DataError, match=r"column 'sex' has 5 missing values"):
        panel_from_records(write(tmp_path, bad))


def test_paths_and_parameters(base, tmp_path):
    g, t = base
    with pytest.raises(DataError, match=r"does not exist \(data\.records\.path\)"):
        panel_from_records(tmp_path / "nope.parquet")
    with pytest.raises(DataError, match="no Parquet files found"):
        panel_from_records(str(tmp_path / "*.parquet"))
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"junk\.parquet is not a readable Parquet file"):
        panel_from_records(tmp_path)
    with pytest.raises(DataError, match=r"data\.records\.engine 'polars' is not an engine"):
        panel_from_records(g.glob, engine="polars")
    with pytest.raises(DataError, match=r"data\.records\.geography 'hospital'"):
        panel_from_records(g.glob, geography="hospital")
    with pytest.raises(DataError, match=r"data\.records\.unknown_codes 'ignore' must be error or drop"):
        panel_from_records(g.glob, unknown_codes="ignore")
    with pytest.raises(DataError, match=r"data\.records\.memory_limit 'lots'"):
        panel_from_records(g.glob, memory_limit="lots")
    with pytest.raises(DataError, match=r"start \(design\.start\) 'April' is not a month"):
        panel_from_records(g.glob, start="April")


def test_attendance_and_spell_files_cannot_be_mixed(base, tmp_path):
    g, t = base
    a = generate_records(tmp_path / "ae", kind="attendances", scale=0.0005, start="2016-04", end="2016-04")
    write(tmp_path / "ae", t.iloc[:50], "spells.parquet")
    with pytest.raises(DataError, match="holds (spells|attendances) but .* holds (attendances|spells); keep one kind of record per data.records.path"):
        panel_from_records(a.directory)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_spark_master_fails_fast_naming_the_parameter(base):
    g, t = base
    port = _free_port()
    t0 = time.perf_counter()
    with pytest.raises(DataError) as e:
        panel_from_records(g.glob, engine="spark", spark_master=f"spark://127.0.0.1:{port}")
    msg = one_line(e)
    assert time.perf_counter() - t0 < 10
    assert msg.startswith(f"data.records.spark_master 'spark://127.0.0.1:{port}': cannot reach the Spark master at 127.0.0.1:{port}")
    assert "Java" not in msg and "py4j" not in msg.lower()


def test_spark_master_urls_are_checked_before_spark_starts(monkeypatch):
    assert check_master("local[2]") == "local" and check_master("local[*]") == "local" and check_master("local") == "local"
    for bad in ("local[0]", "localhost", "spark://", "mesos://x:5050"):
        with pytest.raises(DataError, match=r"^data\.records\.spark_master"):
            check_master(bad)
    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    monkeypatch.delenv("YARN_CONF_DIR", raising=False)
    with pytest.raises(DataError, match="needs HADOOP_CONF_DIR or YARN_CONF_DIR"):
        check_master("yarn")
    port = _free_port()
    with pytest.raises(DataError, match=f"cannot reach the Spark master at 127.0.0.1:{port}"):
        check_master(f"k8s://https://127.0.0.1:{port}")
    with pytest.raises(DataError, match="cannot reach"):
        check_master(f"sc://127.0.0.1:{port}")
