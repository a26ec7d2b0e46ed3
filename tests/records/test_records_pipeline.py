"""``data.records.*`` parameters: the workbook builds its panel from record-level data; synthetic records label the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evidence.errors import ParamsError
from evidence.params import load_params
from evidence.pipeline import load_panel, prepare
from evidence.records import generate_records, panel_from_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spells(tmp_path_factory):
    # 16 months: the first ICS wave (June/July 2017) has a year of pre-periods and a few post-periods
    return generate_records(tmp_path_factory.mktemp("pipe") / "spells", scale=0.004, start="2016-04", end="2017-07", seed=3)


def params_for(spells, **data):
    records = {"path": str(spells.directory), **data.pop("records", {})}
    return load_params(data={
        "run_name": "records_test",
        "data": {"records": records, "outcomes": ["emergency_admissions", "emergency_bed_days"], **data},
        "treatment": {"waves": [1]},
        "design": {"start": "2016-04", "end": "2017-07"},
        "plan": {"assumptions": []},
    })


def test_records_path_selects_the_records_source_and_the_panel_keeps_the_chosen_outcomes(spells):
    params = params_for(spells)
    assert params["data.source"] == "records" and params["data.records.engine"] == "duckdb" and params["data.records.geography"] == "residence"
    assert params["report.synthetic"] is False
    panel, design = prepare(params)
    assert panel.outcomes == ["emergency_admissions", "emergency_bed_days"]
    assert "elective_admissions" not in panel.data.columns and "emergency_admissions_dsr" not in panel.data.columns
    assert (panel.n_units, panel.n_periods) == (42, 16)
    assert design.n_treated == 9 and design.cohort_labels == ["2017-07"]
    # synthetic records label the whole run, whatever report.synthetic said
    assert params["report.synthetic"] is True
    assert panel.source.startswith("records:synthetic:spells:residence:")
    # the same numbers as calling the record pipeline directly
    direct = panel_from_records(spells.directory, start="2016-04", end="2017-07", checksums=False)
    np.testing.assert_array_equal(panel.data["emergency_bed_days"].to_numpy(), direct.data["emergency_bed_days"].to_numpy())


def test_provider_geography_and_region_clusters_pass_through(spells):
    panel = load_panel(params_for(spells, records={"geography": "provider"}, cluster="region", covariates=["imd_score"]))
    assert panel.extras["records"].geography == "provider"
    assert panel.columns["cluster"] == "region" and panel.data["cluster"].nunique() == 7
    assert panel.covariates == ["imd_score"]
    want = spells.counts[spells.counts["admission_method"] == "emergency"]["n"].sum()
    assert panel.data["emergency_admissions"].sum() == want


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"path": "x.csv"}, "give either 'data.path' (an area x period file) or 'data.records.path'"),
        ({"records": {"spark_master": "local[2]"}}, "'data.records.spark_master' is set but data.records.engine is duckdb"),
        ({"records": {"engine": "sparkk"}}, "'data.records.engine': 'sparkk' is not allowed; choose from duckdb, spark"),
        ({"records": {"geography": "gp"}}, "'data.records.geography': 'gp' is not allowed; choose from residence, provider"),
        ({"records": {"unknown_codes": "ignore"}}, "'data.records.unknown_codes': 'ignore' is not allowed; choose from error, drop"),
    ],
)
def test_bad_records_parameters_are_one_line_errors_naming_the_key(spells, tmp_path, data, message):
    if "path" in data:
        (tmp_path / "x.csv").write_text("a\n1\n")
        data = {"path": str(tmp_path / "x.csv")}
    with pytest.raises(ParamsError) as e:
        params_for(spells, **data)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_url_paths_need_spark_and_records_source_needs_a_path():
    with pytest.raises(ParamsError, match=r"'data.records.path' is a URL \(s3://bucket/hes/\*.parquet\); read it with data.records.engine: spark"):
        load_params(data={"data": {"records": {"path": "s3://bucket/hes/*.parquet"}}})
    p = load_params(data={"data": {"records": {"path": "s3://bucket/hes/*.parquet", "engine": "spark"}}})
    assert p["data.source"] == "records"
    with pytest.raises(ParamsError, match="'data.source' is 'records' but 'data.records.path' is empty"):
        load_params(data={"data": {"source": "records"}})


def test_costs_and_satisfaction_sources_ignore_the_records(spells):
    from evidence.pipeline import prepare_source

    params = params_for(spells)
    panel, _ = prepare_source(params, "gp_payments", ["payments_per_registered_patient"], "2014/15", "2019/20")
    assert panel.source != "records" and not panel.source.startswith("records:")


def test_records_panel_command_writes_the_panel_and_a_short_run_is_labelled_synthetic(spells, tmp_path):
    params = tmp_path / "records.yaml"
    params.write_text(
        "run_name: records_e2e\n"
        f"data:\n  records:\n    path: {spells.directory}\n  outcomes: [emergency_admissions, emergency_bed_days]\n"
        "treatment:\n  waves: [1]\ndesign:\n  start: 2016-04\n  end: 2017-07\n"
        "plan:\n  assumptions:\n    - {outcome: emergency_admissions, change: -0.1}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, MPLBACKEND="Agg")
    out = tmp_path / "panel.csv"
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "records-panel", str(params), str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC DATA" in proc.stdout and "42 units x 16 months" in proc.stdout
    frame = pd.read_csv(out)
    assert len(frame) == 42 * 16 and {"emergency_admissions", "emergency_bed_days", "population"} <= set(frame.columns)

    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", str(params), "--only", "00_data", "--only", "01_did", "--set", "run_name=records_e2e", "--reports", str(reports), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    folder = reports / "records_e2e"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["synthetic"] is True and manifest["panel"]["source"].startswith("records:synthetic:spells")
    est = pd.read_csv(folder / "estimates.csv")
    assert len(est) and est["outcome"].str.startswith("synthetic:").all()
    assert set(est["outcome"].str.removeprefix("synthetic:").str.removesuffix("_log")) == {"emergency_admissions", "emergency_bed_days"}
    panel = pd.read_csv(folder / "panel.csv")
    assert panel.columns[0] == "synthetic" and panel["synthetic"].all()
    html = (folder / "00_data.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" in html and "spell_id unique" in html and "LSOA codes (lsoa11_code) known to the 2021 footprint lookup" in html
    assert "SYNTHETIC DATA: these records were made by evidence.records.generate; no estimate from this panel describes real patients." in html
    assert "SYNTHETIC" in (folder / "index.html").read_text(encoding="utf-8")


def test_outcomes_are_chosen_inside_the_record_pipeline(spells, tmp_path):
    from evidence.errors import DataError

    p = panel_from_records(spells.directory, outcomes=["emergency_bed_days", "emergency_admissions_dsr"], checksums=False)
    assert p.outcomes == ["emergency_bed_days", "emergency_admissions_dsr"] and "elective_admissions" not in p.data.columns
    # a name neither kind has fails before any record is read (the path does not even exist)
    with pytest.raises(DataError, match="'admissions' is not an outcome of spells records or of attendances records"):
        panel_from_records(tmp_path / "nothing_here", outcomes=["admissions"])
    with pytest.raises(DataError, match="'attendances' is not an outcome of spells records; choose from emergency_admissions"):
        panel_from_records(spells.directory, outcomes=["attendances"], checksums=False)
