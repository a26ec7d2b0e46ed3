"""``evidence init DATA_FILE``: starter parameters files for a user's own panel (:mod:`evidence.starter`).

Three SYNTHETIC data sets of different shapes: monthly (Parquet) with a 0/1 treatment column, a code and a name column
for the unit, a population and a percent outcome; annual integer years with a first-treated-year column (R's ``Inf``
for never treated) and two outcomes; quarterly with UK spreadsheet dates, a cohort column in the same form and two
columns that name the units equally well. The clean ones must pass ``evidence validate`` as written; the ambiguous
one must be refused in one line until the user chooses, then pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evidence.cli import main
from evidence.errors import EvidenceError
from evidence.params import load_params
from evidence.starter import PLACEHOLDER, detect, write_starter


def monthly(folder: Path) -> Path:
    """30 areas x 36 months (ISO dates), 14 areas switching on in two waves, 16 never."""
    rng = np.random.default_rng(1)
    dates = pd.date_range("2016-04-01", periods=36, freq="MS")
    n = 30
    first = np.where(np.arange(n) < 8, 15, np.where(np.arange(n) < 14, 24, 99))
    k = np.tile(np.arange(36), n)
    i = np.repeat(np.arange(n), 36)
    df = pd.DataFrame({
        "area_code": [f"E{38000000 + j}" for j in i], "area_name": [f"Area {j}" for j in i],
        "month": np.tile(dates.strftime("%Y-%m-%d"), n), "region": [f"R{j % 4}" for j in i], "imd": 10.0 + i % 7,
        "population": 100000 + 1000 * i, "admissions": rng.poisson(300 + 5 * i), "pct_within_4h": np.clip(90 - 0.1 * k + rng.normal(0, 2, len(k)), 0, 100),
        "treated": (k >= first[i]).astype(int),
    })
    path = folder / "ae_monthly.parquet"
    df.to_parquet(path, index=False)
    return path


def annual(folder: Path) -> Path:
    """60 counties x 2003-2010, cohorts 2006 and 2008, never treated written as Inf (as R writes it)."""
    rng = np.random.default_rng(2)
    years = np.arange(2003, 2011)
    i = np.repeat(np.arange(60), len(years))
    g = np.array([2006.0, 2008.0, np.inf])[i % 3]
    df = pd.DataFrame({"county": 1000 + i, "year": np.tile(years, 60), "first_treat": g, "lemp": 5 + 0.01 * i + rng.normal(0, 0.1, len(i)), "jobs": rng.poisson(200, len(i))})
    path = folder / "counties.csv"
    df.to_csv(path, index=False)
    return path


def quarterly(folder: Path) -> Path:
    """24 sites x 16 quarters written 01/04/2015 (UK, day first), a go-live column in that form ('0' = never), and
    two columns (site, trust) that name the same units."""
    rng = np.random.default_rng(3)
    qs = pd.date_range("2015-04-01", periods=16, freq="QS-APR").strftime("%d/%m/%Y")
    i = np.repeat(np.arange(24), 16)
    df = pd.DataFrame({"site": [f"S{j:02d}" for j in i], "trust": [f"T{j:02d}" for j in i], "quarter": np.tile(qs, 24),
                       "visits": rng.poisson(50, len(i)), "wait_share": rng.uniform(0, 1, len(i)), "go_live": np.where(i < 8, qs[8], "0")})
    path = folder / "sites.csv"
    df.to_csv(path, index=False)
    return path


def validate(path: Path, capsys) -> tuple[int, str, str]:
    rc = main(["validate", str(path)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_monthly_indicator(tmp_path, capsys):
    data = monthly(tmp_path)
    starter = write_starter(data, cwd=tmp_path)
    assert starter.path == tmp_path / "params" / "ae_monthly.yaml" and not starter.undecided
    p = load_params(starter.path)
    assert (p["data.unit"], p["data.unit_name"], p["data.time"], p["data.frequency"]) == ("area_code", "area_name", "month", "month")
    assert p["data.outcomes"] == ["admissions", "pct_within_4h"]
    assert p["data.outcome_kinds"] == {"admissions": "count", "pct_within_4h": "percent"}
    assert p["data.population"] == "population" and p["treatment.indicator"] == "treated" and p["treatment.cohort"] is None
    assert (p["design.start"], p["design.end"]) == ("2016-04", "2019-03")
    text = starter.path.read_text()
    assert "# cluster: region" in text and "# covariates: [imd]" in text  # offered, not chosen
    assert "16 units untreated" in text
    rc, out, err = validate(starter.path, capsys)
    assert rc == 0, err
    assert "30 units x 36 periods" in out and "14 of 30 units are treated" in out


def test_annual_cohort_with_inf(tmp_path, capsys):
    data = annual(tmp_path)
    starter = write_starter(data, tmp_path / "my" / "study.yaml", cwd=tmp_path)
    assert not starter.undecided
    p = load_params(starter.path)
    assert (p["data.unit"], p["data.time"], p["data.frequency"], p["treatment.cohort"]) == ("county", "year", "integer", "first_treat")
    assert p["data.outcome_kinds"] == {"lemp": "continuous", "jobs": "count"}
    assert (p["design.start"], p["design.end"]) == (2003, 2010)
    assert p["protocol.primary.outcome"] == "lemp"
    text = starter.path.read_text()
    assert "path: ../counties.csv" in text  # beside-the-file relative path
    assert "never treated: inf" in text
    rc, out, err = validate(starter.path, capsys)
    assert rc == 0, err
    assert "40 of 60 units are treated" in out and "20 from 2006; 20 from 2008" in out


def test_quarterly_spreadsheet_dates_and_ambiguous_unit(tmp_path, capsys):
    data = quarterly(tmp_path)
    starter = write_starter(data, cwd=tmp_path)
    assert starter.undecided == ["data.unit"]
    text = starter.path.read_text()
    assert "# CHOOSE the unit: site, trust each identify one row per unit and period (24 units)" in text
    assert "read day-first (UK: 1 April 2015)" in text  # how the dates were read, in the file
    p = load_params(starter.path)  # the file loads; the placeholder is refused where the data are read
    assert p["data.unit"].startswith(PLACEHOLDER) and p["data.frequency"] == "quarter" and p["treatment.cohort"] == "go_live"
    assert p["data.outcome_kinds"] == {"visits": "count", "wait_share": "proportion"}
    assert (p["design.start"], p["design.end"]) == ("2015-04", "2019-01")
    rc, out, err = validate(starter.path, capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "CHOOSE the unit column: site or trust" in err and "data.unit" in err
    starter.path.write_text(text.replace(next(line for line in text.splitlines() if line.startswith("  unit:")), "  unit: site"))
    rc, out, err = validate(starter.path, capsys)
    assert rc == 0, err
    assert "sites.csv: column 'quarter' has dates such as '01/04/2015' that read either way; read day-first (UK: 1 April 2015)" in out
    assert "8 of 24 units are treated" in out and "8 from 2017Q2" in out


def test_no_treatment_column_is_a_placeholder(tmp_path, capsys):
    df = pd.read_csv(annual(tmp_path)).drop(columns="first_treat")
    df.to_csv(tmp_path / "counties.csv", index=False)
    starter = write_starter(tmp_path / "counties.csv", cwd=tmp_path)
    assert starter.undecided == ["treatment"]
    assert "# CHOOSE the treatment: no column holds" in starter.path.read_text()
    rc, _, err = validate(starter.path, capsys)
    assert rc == 2 and err.count("\n") == 1 and "CHOOSE a first-treated-period column" in err


def test_conflicting_treatment_columns_are_listed(tmp_path):
    df = pd.read_csv(annual(tmp_path))
    df["policy"] = ((df["county"] % 2 == 0) & (df["year"] >= 2005)).astype(int)  # another timing
    d = detect(df)
    assert d.treatment is None
    assert {(k, c) for k, c, _ in d.treatment_candidates} == {("cohort", "first_treat"), ("indicator", "policy")}


def test_agreeing_cohort_and_indicator_are_one_choice(tmp_path):
    df = pd.read_csv(annual(tmp_path))
    df["on"] = (df["year"] >= df["first_treat"]).astype(int)
    df["post"] = (df["year"] >= 2006).astype(int)  # the same for every county: a period dummy
    df["group"] = np.isfinite(df["first_treat"]).astype(int)  # constant within counties: a group marker
    d = detect(df)
    assert d.treatment == ("cohort", "first_treat") and "on" in [c for _, c, _ in d.treatment_candidates]
    assert any("'post'" in n and "period dummy" in n for n in d.treatment_notes)
    assert any("'group'" in n and "group marker" in n for n in d.treatment_notes)
    assert d.outcomes == ["lemp", "jobs"]


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    data = annual(tmp_path)
    write_starter(data, cwd=tmp_path)
    with pytest.raises(EvidenceError, match="exists; give --force"):
        write_starter(data, cwd=tmp_path)
    assert write_starter(data, force=True, cwd=tmp_path).path.is_file()


def test_cli_init_from_the_working_folder(tmp_path, capsys, monkeypatch):
    annual(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "counties.csv"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "unit county (60)" in out and "evidence validate" in out
    assert yaml.safe_load((tmp_path / "params" / "counties.yaml").read_text())["data"]["path"] == "../counties.csv"
    assert main(["init", "counties.csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert main(["init", "missing.csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "missing.csv") in err
