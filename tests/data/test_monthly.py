"""Monthly NHS England A&E provider files: exact reproduction of the shipped rows, add-month and its refusals."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import evidence.data.ae as ae_module
from evidence.data.monthly import (
    AE_COLUMNS,
    EMERGENCY_COLUMNS,
    LAYOUTS,
    add_month,
    local_files,
    map_codes,
    overlay_local,
    read_local_months,
    read_monthly_file,
)
from evidence.errors import DataError
from evidence.paths import RAW

ROOT = Path(__file__).resolve().parents[2]
NHS = RAW / "nhs"
SAMPLES = NHS / "raw_monthly_samples"
XLS_2017 = SAMPLES / "msitae_2017_04_provider.xls"
CSV_2020 = SAMPLES / "msitae_2020_04_provider.csv"
CSV_2025 = SAMPLES / "msitae_2025_04_provider.csv"
AE_2016 = NHS / "ae_attendances_2016_2019.csv"
AE_2019 = NHS / "ae_attendances_2019_2026.csv"
EMERGENCY = NHS / "emergency_admissions_provider_2016_2026.csv.gz"
COUNTS = ["attendances", "breaches", "admissions"]


# ---------------------------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def shipped_ae_2016():
    df = pd.read_csv(AE_2016, dtype={"org_code": str, "type": str})
    df["period"] = pd.to_datetime(df["period"])
    return df


@pytest.fixture(scope="module")
def shipped_ae_2019():
    df = pd.read_csv(AE_2019, dtype={"org_code": str, "type": str})
    df["period"] = pd.to_datetime(df["period"])
    return df


@pytest.fixture(scope="module")
def shipped_emergency():
    df = pd.read_csv(EMERGENCY, dtype={"org_code": str, "org_name": str, "parent_org": str}, keep_default_na=False, na_values=[])
    df["period"] = pd.to_datetime(df["period"])
    return df


@pytest.fixture(scope="module")
def read():
    """Each sample read once per module."""
    cache: dict[Path, object] = {}

    def get(path: Path):
        if path not in cache:
            cache[path] = read_monthly_file(path)
        return cache[path]

    return get


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder below ``folder`` (hidden ones too) with the sha256 of files; {} when it is missing."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir") for p in sorted(folder.rglob("*"))}


def edited_csv(src: Path, dest: Path, edit) -> Path:
    """A copy of a sample CSV with ``edit(DataFrame of strings) -> DataFrame`` applied, written as published (CRLF)."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    edit(df).to_csv(dest, index=False, lineterminator="\r\n")
    return dest


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


# ---------------------------------------------------------------------------------------------------------------
# reading: layouts and exactness


@pytest.mark.parametrize(("path", "layout", "month"), [(XLS_2017, "xls_2017", "2017-04"), (CSV_2020, "csv_2020", "2020-04"), (CSV_2025, "csv_booked_2020", "2025-04")])
def test_layout_and_month_come_from_the_content(read, path, layout, month):
    mf = read(path)
    assert mf.layout == layout and mf.month == month
    assert mf.period == pd.Timestamp(f"{month}-01")
    assert list(mf.ae.columns) == AE_COLUMNS and list(mf.emergency.columns) == EMERGENCY_COLUMNS
    assert set(mf.files) == {path.name} and len(mf.files[path.name]) == 64
    assert (mf.emergency["source_repo"] == "local").all() and (mf.emergency["source_file"] == path.name).all()


def test_a_renamed_file_with_a_misleading_name_reads_the_same(tmp_path, read):
    for src in (XLS_2017, CSV_2025):
        fake = tmp_path / "msitae_2019_01_provider.txt"  # the name says another month and no type
        shutil.copyfile(src, fake)
        mf, orig = read_monthly_file(fake), read(src)
        assert (mf.layout, mf.month) == (orig.layout, orig.month)
        assert_frame_equal(mf.ae, orig.ae)


def _edited_workbook(tmp: Path, name: str, old: bytes, new: bytes) -> Path:
    """The April 2017 workbook with one header string changed in place (same length; BIFF8 stores it as 8-bit text)."""
    data = XLS_2017.read_bytes()
    assert len(old) == len(new) and data.count(old) == 1
    (tmp / name).write_bytes(data.replace(old, new))
    return tmp / name


def test_the_workbook_month_is_read_from_its_header_area(tmp_path):
    # a workbook whose header says March 2018 is March 2018, whatever its name
    mf = read_monthly_file(_edited_workbook(tmp_path, "msitae_2017_04_provider.xls", b"April 2017", b"March 2018"))
    assert (mf.month, mf.layout) == ("2018-03", "xls_2017")
    with pytest.raises(DataError) as exc:
        read_monthly_file(_edited_workbook(tmp_path, "no_period.xls", b"Period:", b"Perioz:"))
    assert "no_period.xls: sheet 'Provider Level Data' states no month in its header area" in one_line(exc)


def test_april_2017_workbook_reproduces_the_shipped_rows_exactly(read, shipped_ae_2016, shipped_emergency):
    mf = read(XLS_2017)
    # ae_attendances_2016_2019.csv keeps rows with attendances > 0 and six columns, stored as floats
    mine = mf.ae.loc[mf.ae["attendances"] > 0, AE_COLUMNS[:6]].astype({c: "float64" for c in COUNTS})
    ship = shipped_ae_2016[shipped_ae_2016["period"] == mf.period]
    assert len(ship) == 345
    assert_frame_equal(_sorted(mine, ["org_code", "type"]), _sorted(ship, ["org_code", "type"]))
    # the two rows dropped by that filter have admissions or breaches without attendances
    assert len(mf.ae) - len(mine) == 2
    cols = EMERGENCY_COLUMNS[:-2]
    ship_em = shipped_emergency.loc[shipped_emergency["period"] == mf.period, cols]
    assert len(ship_em) == 241
    assert_frame_equal(_sorted(mf.emergency[cols], ["org_code"]), _sorted(ship_em, ["org_code"]))


@pytest.mark.parametrize(("path", "n_ae", "n_em"), [(CSV_2020, 335, 222), (CSV_2025, 334, 198)])
def test_csv_months_reproduce_the_shipped_rows_exactly(read, shipped_ae_2019, shipped_emergency, path, n_ae, n_em):
    mf = read(path)
    ship = shipped_ae_2019[shipped_ae_2019["period"] == mf.period]
    assert len(ship) == n_ae
    # every column, booked counts (NaN in 2020 = NaN) and the field-test flag included; dtypes equal too
    assert_frame_equal(_sorted(mf.ae, ["org_code", "type"]), _sorted(ship, ["org_code", "type"]))
    cols = EMERGENCY_COLUMNS[:-2]
    ship_em = shipped_emergency.loc[shipped_emergency["period"] == mf.period, cols]
    assert len(ship_em) == n_em
    assert_frame_equal(_sorted(mf.emergency[cols], ["org_code"]), _sorted(ship_em, ["org_code"]))


def test_flags_and_booked_columns_are_exercised_by_the_samples(read):
    a20, a25 = read(CSV_2020).ae, read(CSV_2025).ae
    # April 2020 is inside the field-test window: RD3 (Poole) flagged, R0D not yet (from October 2020)
    flagged = set(a20.loc[a20["breaches_not_reported"], "org_code"])
    assert {"RD3", "RDU", "RQM", "RYJ"} <= flagged and "R0D" not in flagged
    assert a20[["booked_attendances", "booked_breaches"]].isna().all().all()
    # April 2025 is after it; booked appointments are published, some rows exist only because of them
    assert not a25["breaches_not_reported"].any()
    assert a25["booked_attendances"].notna().all() and ((a25["attendances"] == 0) & (a25["booked_attendances"] > 0)).any()


def test_written_files_are_the_shipped_text_of_the_month(tmp_path):
    """Beyond frames: the written CSV lines equal the shipped lines of the month (emergency: up to source_*)."""
    for src in (CSV_2020, CSV_2025, XLS_2017):
        res = add_month(src, tmp_path, shipped_periods=())
        if src != XLS_2017:
            mine, ship = res.written["ae"].read_text().splitlines(), AE_2019.read_text().splitlines()
            assert mine[0] == ship[0]
            assert mine[1:] == [line for line in ship if line.startswith(res.month)]
        mine = [line.rsplit(",", 2)[0] for line in res.written["emergency"].read_text().splitlines()[1:]]
        with gzip.open(EMERGENCY, "rt") as fh:
            ship = [line.rsplit(",", 2)[0] for line in fh.read().splitlines() if line.startswith(res.month)]
        assert mine == ship


# ---------------------------------------------------------------------------------------------------------------
# add_month: success, local folder, provenance


def test_add_month_writes_three_files_and_reads_back(tmp_path, read):
    folder = tmp_path / "local"
    res = add_month(CSV_2025, folder, shipped_periods=())
    assert sorted(p.name for p in folder.iterdir()) == ["ae_2025-04.csv", "emergency_2025-04.csv", "manifest_2025-04.json"]
    assert (res.n_ae, res.n_emergency, res.superseded_shipped, res.replaced_local) == (334, 198, [], None)
    man = json.loads((folder / "manifest_2025-04.json").read_text())
    assert man["source_file"] == CSV_2025.name and man["layout"] == "csv_booked_2020"
    assert man["source_sha256"] == hashlib.sha256(CSV_2025.read_bytes()).hexdigest()
    assert man["files"]["ae_2025-04.csv"] == hashlib.sha256((folder / "ae_2025-04.csv").read_bytes()).hexdigest()
    assert man["written_utc"].endswith("+00:00") and man["rows"] == {"ae": 334, "emergency": 198}
    ae, em = read_local_months(folder)
    assert_frame_equal(ae, read(CSV_2025).ae)
    assert_frame_equal(em, read(CSV_2025).emergency)
    files = local_files(folder)
    assert len(files) == 3 and all(len(h) == 64 for h in files.values())


def test_unmapped_minor_activity_is_listed_not_refused(tmp_path):
    res = add_month(CSV_2025, tmp_path, shipped_periods=())
    u = res.unmapped
    assert len(u) == 47 and (u["attendances_type1"] == 0).all()
    assert {"NLX", "Y02147"} <= set(u["org_code"])
    assert u["share_of_attendances"].sum() == pytest.approx(0.0544, abs=5e-5)
    assert list(u.columns[:3]) == ["org_code", "provider_kind", "route"]
    man = json.loads((tmp_path / "manifest_2025-04.json").read_text())
    assert [r["org_code"] for r in man["unmapped"]] == list(u["org_code"])
    line = [x for x in res.lines() if x.startswith("unmapped:")][0]
    assert "47 codes" in line and "NLX (N code) 0.40%" in line


def test_read_local_months_is_empty_with_the_right_columns_when_there_is_nothing(tmp_path):
    for folder in (tmp_path / "missing", tmp_path):
        ae, em = read_local_months(folder)
        assert ae.empty and list(ae.columns) == AE_COLUMNS and str(ae["period"].dtype).startswith("datetime64")
        assert em.empty and list(em.columns) == EMERGENCY_COLUMNS
        assert local_files(folder) == {}


def test_a_local_month_replaces_the_shipped_month_when_overlaid(tmp_path, shipped_ae_2019):
    add_month(CSV_2025, tmp_path, shipped_periods=())
    local, _ = read_local_months(tmp_path)
    bumped = local.assign(attendances=local["attendances"] + 1)
    out = overlay_local(shipped_ae_2019, bumped)
    april = out[out["period"] == pd.Timestamp("2025-04-01")]
    assert len(out) == len(shipped_ae_2019) and (april["attendances"].sum() == local["attendances"].sum() + len(local))
    assert_frame_equal(overlay_local(shipped_ae_2019, local.iloc[:0]), shipped_ae_2019)


# ---------------------------------------------------------------------------------------------------------------
# refusals: one line, folder unchanged


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "other.csv").write_text("period,org_code,attendances\n2025-04-01,RTP,1\n")
    (tmp / "notes.txt").write_text("A&E attendances, April 2025\nnot a table at all\n")
    with zipfile.ZipFile(tmp / "book.xlsx", "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    edited_csv(CSV_2025, tmp / "renamed_column.csv", lambda d: d.rename(columns={"Attendances over 4hrs Type 1": "Attendances over four hours Type 1"}))
    edited_csv(CSV_2025, tmp / "dropped_column.csv", lambda d: d.drop(columns=["Other emergency admissions"]))
    return {p.stem: p for p in tmp.iterdir() if p.is_file()}


def _other_spreadsheet() -> Path | None:
    """A real .xls that is not an MSitAE file (shipped with statsmodels' tests), if installed."""
    import statsmodels

    p = Path(statsmodels.__file__).parent / "tsa/statespace/tests/results/frbny_nowcast/Nowcasting/data/US/2016-06-29.xls"
    return p if p.is_file() else None


@pytest.mark.parametrize("case", ["empty", "other", "notes", "book", "renamed_column", "dropped_column", "renamed_workbook_column", "damaged_workbook", "other_spreadsheet"])
def test_unknown_layout_is_one_line_and_changes_nothing(tmp_path, case):
    (tmp_path / "in").mkdir()
    bad = _bad_inputs(tmp_path / "in")
    bad["renamed_workbook_column"] = _edited_workbook(tmp_path / "in", "renamed_workbook_column.xls", b"Other Emergency admissions (i.e not via A&E)", b"Other Emergency admissions (i.e. not by A&E)")
    bad["damaged_workbook"] = tmp_path / "in" / "damaged_workbook.xls"
    bad["damaged_workbook"].write_bytes(XLS_2017.read_bytes()[:512] + b"\x00" * 512)
    if case == "other_spreadsheet":
        if _other_spreadsheet() is None:
            pytest.skip("statsmodels' test workbooks are not installed")
        bad[case] = tmp_path / "in" / "other_spreadsheet.xls"
        shutil.copyfile(_other_spreadsheet(), bad[case])
    folder = tmp_path / "local"
    add_month(CSV_2020, folder, shipped_periods=())
    before = snapshot(folder)
    with pytest.raises(DataError) as exc:
        add_month(bad[case], folder, shipped_periods=())
    msg = one_line(exc)
    assert bad[case].name in msg and "not a known NHS England monthly A&E provider layout" in msg
    assert all(lay.name in msg for lay in LAYOUTS)
    if case == "renamed_column":
        assert "Closest is csv_booked_2020: missing 'Attendances over 4hrs Type 1', unexpected 'Attendances over four hours Type 1'" in msg
    if case == "renamed_workbook_column":
        assert "Closest is xls_2017: missing 'Emergency Admissions | Other Emergency admissions (i.e not via A&E)', unexpected 'Emergency Admissions | Other Emergency admissions (i.e. not by A&E)'" in msg
    assert snapshot(folder) == before


def test_a_shipped_month_without_replace_is_refused_and_the_folder_is_not_created(tmp_path):
    folder = tmp_path / "local"
    with pytest.raises(DataError) as exc:
        add_month(CSV_2025, folder)
    msg = one_line(exc)
    assert "2025-04 is already present in the shipped files (data/raw/nhs/ae_attendances_2019_2026.csv, data/raw/nhs/emergency_admissions_provider_2016_2026.csv.gz)" in msg
    assert "--replace" in msg
    assert not folder.exists()


def test_a_local_month_added_twice_is_refused(tmp_path):
    add_month(CSV_2025, tmp_path, shipped_periods=())
    before = snapshot(tmp_path)
    with pytest.raises(DataError) as exc:
        add_month(CSV_2025, tmp_path, shipped_periods=())
    msg = one_line(exc)
    assert f"2025-04 is already present in {tmp_path} (ae_2025-04.csv, emergency_2025-04.csv, manifest_2025-04.json)" in msg
    assert "--replace" in msg
    assert snapshot(tmp_path) == before


def test_replace_keeps_the_old_local_version_and_supersedes_the_shipped_month(tmp_path):
    add_month(CSV_2025, tmp_path, shipped_periods=())
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    revised = edited_csv(CSV_2025, tmp_path.parent / "revised.csv", lambda d: d)  # same numbers, another file (CRLF rewritten)
    res = add_month(revised, tmp_path, replace=True)
    assert res.replaced_local is not None and res.replaced_local.parent == tmp_path / "replaced"
    assert res.replaced_local.name.startswith("2025-04_") and res.replaced_local.name.endswith("Z")
    assert {p.name: p.read_bytes() for p in res.replaced_local.iterdir()} == old
    assert res.superseded_shipped == ["data/raw/nhs/ae_attendances_2019_2026.csv", "data/raw/nhs/emergency_admissions_provider_2016_2026.csv.gz"]
    man = json.loads((tmp_path / "manifest_2025-04.json").read_text())
    assert man["source_file"] == "revised.csv" and man["replaced_local"] == f"replaced/{res.replaced_local.name}"
    assert man["supersedes_shipped"] == res.superseded_shipped
    lines = res.lines()
    assert any(x.startswith("superseded: the shipped 2025-04 rows of data/raw/nhs/ae_attendances_2019_2026.csv") for x in lines)
    assert any(x.startswith("replaced: the earlier local 2025-04 was moved to") for x in lines)
    ae, _ = read_local_months(tmp_path)  # replaced/ is not read
    assert len(ae) == 334


def _refused_into_a_used_folder(src, tmp_path):
    """add_month(src) into a folder already holding a month: the one-line message, the folder and its snapshot before."""
    folder = tmp_path / "local"
    add_month(CSV_2020, folder, shipped_periods=())
    before = snapshot(folder)
    with pytest.raises(DataError) as exc:
        add_month(src, folder, shipped_periods=())
    return one_line(exc), folder, before


def test_a_type1_provider_that_maps_nowhere_is_refused(tmp_path):
    src = edited_csv(CSV_2025, tmp_path / "zzz.csv", lambda d: d.assign(**{"Org Code": d["Org Code"].replace("RTP", "ZZZ")}))
    msg, folder, before = _refused_into_a_used_folder(src, tmp_path)
    # RTP had 10,067 of the 1,354,959 + 33,654 booked type-1 attendances
    assert "zzz.csv: provider codes with type-1 attendances map to no 2021 footprint: ZZZ (0.72% of 2025-04's type-1 attendances);" in msg
    assert "data/raw/reference/lookup_trust_trust.csv as the successor (new_code)" in msg
    assert snapshot(folder) == before


def test_a_new_trust_maps_through_its_predecessors(tmp_path, monkeypatch):
    lookup = tmp_path / "lookup_trust_trust.csv"
    shutil.copyfile(ae_module.TRUST_SUCCESSORS, lookup)
    with lookup.open("a") as fh:
        fh.write("RTP,RZZ,2025-04-01\nRTK,RZY,2025-04-01\nRTP,RZY,2025-04-01\nRJ1,RZX,2025-04-01\nRF4,RZX,2025-04-01\n")
    monkeypatch.setattr(ae_module, "TRUST_SUCCESSORS", lookup)
    m = map_codes(["RZZ", "RZY", "RZX", "RTP", "ZZZ"]).set_index("org_code")
    rtp = m.loc["RTP", "stp21_code"]
    assert (m.loc["RZZ", "route"], m.loc["RZZ", "stp21_code"], m.loc["RZZ", "chain"]) == ("predecessor", rtp, "RZZ<RTP")
    assert m.loc["RZY", "route"] == "predecessor" and m.loc["RZY", "chain"] == "RZY<RTK+RTP"  # both Surrey Heartlands
    assert m.loc["RZX", "route"] == "unmapped" and pd.isna(m.loc["RZX", "stp21_code"])  # London SE and NE: two footprints
    assert m.loc["ZZZ", "route"] == "unmapped"
    src = edited_csv(CSV_2025, tmp_path / "rzz.csv", lambda d: d.assign(**{"Org Code": d["Org Code"].replace("RTP", "RZZ")}))
    res = add_month(src, tmp_path / "local", shipped_periods=())
    assert "RZZ" not in set(res.unmapped["org_code"])


def test_a_total_row_that_does_not_match_is_refused(tmp_path):
    def bump(d):
        i = d.index[d["Org Code"] == "RTP"][0]
        d.loc[i, "A&E attendances Type 1"] = str(int(d.loc[i, "A&E attendances Type 1"]) + 1)
        return d

    src = edited_csv(CSV_2025, tmp_path / "bumped.csv", bump)
    msg, folder, before = _refused_into_a_used_folder(src, tmp_path)
    assert "bumped.csv: the TOTAL row does not equal the sum of the provider rows in column 'A&E attendances Type 1' (TOTAL 1,354,959, providers 1,354,960; 1 columns differ)" in msg
    assert snapshot(folder) == before
    no_total = edited_csv(CSV_2025, tmp_path / "no_total.csv", lambda d: d[d["Org Code"] != "TOTAL"])
    with pytest.raises(DataError, match=r"no_total\.csv: no TOTAL rows; a complete provider file has exactly one"):
        add_month(no_total, folder, shipped_periods=())
    assert snapshot(folder) == before


def test_a_failure_while_moving_files_restores_the_folder(tmp_path, monkeypatch):
    add_month(CSV_2025, tmp_path, shipped_periods=())
    before = snapshot(tmp_path)
    real = os.replace

    def failing(src, dst):
        if Path(dst).name == "manifest_2025-04.json" and Path(src).name.startswith("."):  # the last step: new manifest into place
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):  # after the old version moved and the new ae/emergency files were placed
        add_month(CSV_2025, tmp_path, replace=True, shipped_periods=())
    monkeypatch.setattr(os, "replace", real)
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------------------------------------------------------
# the command


def test_cli_add_month_into_a_folder(tmp_path):
    (tmp_path / "in").mkdir()
    shutil.copyfile(CSV_2025, tmp_path / "in" / "April-2025.csv")
    cmd = [sys.executable, "-m", "evidence.cli", "add-month", "in/April-2025.csv", "--folder", "local"]  # relative to the cwd
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "2025-04 is already present in the shipped files" in err and "--replace" in err
    assert not (tmp_path / "local").exists()
    proc = subprocess.run(cmd + ["--replace"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("added 2025-04 (csv_booked_2020) from April-2025.csv: 334 A&E rows, 198 emergency-admission rows in ")
    assert lines[1].startswith("superseded: the shipped 2025-04 rows of data/raw/nhs/ae_attendances_2019_2026.csv")
    assert lines[2].startswith("unmapped: 47 codes without a 2021 footprint") and len(lines) == 3
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == ["ae_2025-04.csv", "emergency_2025-04.csv", "manifest_2025-04.json"]
