"""Parameters: defaults, and one-line ParamsError naming the key for every kind of bad input.

Every error a user can cause in a parameters file (or a ``--set`` override) must be a
:class:`evidence.errors.ParamsError` whose message is a single line naming the offending key (or file).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evidence.errors import EvidenceError, ParamsError
from evidence.params import NOTEBOOK_ORDER, SCHEMA, Params, defaults, load_params, parse_override
from evidence.paths import PARAMS


def one_line(message: str) -> str:
    """The message, after checking it is one non-empty line."""
    assert message, "empty error message"
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"
    assert message == message.strip()
    return message


def params_error(*args, **kwargs) -> str:
    """Call load_params expecting a ParamsError; return its (one-line) message."""
    with pytest.raises(ParamsError) as info:
        load_params(*args, **kwargs)
    return one_line(str(info.value))


def write(tmp_path: Path, text: str, name: str = "params.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    """A (content-irrelevant) user CSV so that data.path exists."""
    p = tmp_path / "panel.csv"
    p.write_text("area,month,visits\nA,2016-04-01,1\n", encoding="utf-8")
    return p


# ---------------------------------------------------------------------------------------------------------------
# defaults and shipped files
# ---------------------------------------------------------------------------------------------------------------
def test_defaults_load_and_match_schema():
    p = load_params()
    assert isinstance(p, Params)
    assert p.values == defaults()
    assert p.source == "<defaults>"
    flat = p.flat()
    assert set(flat) == set(SCHEMA)
    for key, spec in SCHEMA.items():
        assert flat[key] == spec.default, key
    assert p.run_name == "default"
    assert p["notebooks"] == list(NOTEBOOK_ORDER)
    assert p["data.source"] == "nhs_ae"


def test_defaults_are_independent_copies():
    a = load_params()
    a.values["data"]["outcomes"].append("x")
    assert "x" not in load_params()["data.outcomes"]
    assert "x" not in SCHEMA["data.outcomes"].default


def test_empty_file_gives_defaults(tmp_path):
    assert load_params(write(tmp_path, "")).values == defaults()
    assert load_params(write(tmp_path, "# only a comment\n")).values == defaults()


@pytest.mark.parametrize("path", sorted(PARAMS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_params_files_validate(path, tmp_path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    overrides = []
    records = (raw.get("data") or {}).get("records") or {}
    if records.get("path", "").startswith("data/synthetic/"):
        # the example's records are made by `evidence generate-records` (not committed): a small set stands in
        from evidence.records import generate_records

        missing = records["path"].rstrip("/") + "_not_made"
        with pytest.raises(ParamsError, match=f"names {missing}, which does not exist.*: evidence generate-records {missing}"):
            load_params(path, [f"data.records.path={missing}"])
        overrides = [f"data.records.path={generate_records(tmp_path / 'spells', n_records=20_000).directory}"]
    p = load_params(path, overrides)
    assert p.run_name == path.stem
    # the resolved parameters round-trip through YAML
    again = load_params(data=yaml.safe_load(p.to_yaml()))
    assert again.values == p.values


def test_yaml_dates_are_accepted_as_periods(tmp_path):
    p = load_params(write(tmp_path, "design:\n  start: 2016-04-01\n  end: 2019-03-01\n"))
    assert p["design.start"] == "2016-04-01" and p["design.end"] == "2019-03-01"


def test_integer_periods(tmp_path):
    p = load_params(write(tmp_path, "design:\n  start: 2003\n  end: 2007\n"))
    assert (p["design.start"], p["design.end"]) == (2003, 2007)


def test_scalar_is_promoted_to_list():
    p = load_params(data={"data": {"outcomes": "attendances"}, "treatment": {"waves": 1}})
    assert p["data.outcomes"] == ["attendances"]
    assert p["treatment.waves"] == [1]


def test_float_value_is_stored_as_float():
    p = load_params(data={"inference": {"alpha": 0.1}})
    assert isinstance(p["inference.alpha"], float) and p["inference.alpha"] == pytest.approx(0.1)


def test_data_path_implies_file_source(csv_file):
    p = load_params(data={"data": {"path": str(csv_file)}, "treatment": {"cohort": "first_treated"}})
    assert p["data.source"] == "file"


# ---------------------------------------------------------------------------------------------------------------
# unknown and misspelt keys
# ---------------------------------------------------------------------------------------------------------------
def test_unknown_top_level_key_suggests(tmp_path):
    msg = params_error(write(tmp_path, "runname: mine\n"))
    assert "'runname'" in msg
    assert "did you mean 'run_name'" in msg
    assert str(tmp_path / "params.yaml") in msg


def test_unknown_key_without_close_match_points_to_docs(tmp_path):
    msg = params_error(write(tmp_path, "zzzqqq: 1\n"))
    assert "'zzzqqq'" in msg and "README" in msg


@pytest.mark.parametrize(
    "text, key, suggestion",
    [
        ("data:\n  outcome: [a]\n", "data.outcome", "data.outcomes"),
        ("design:\n  strat: 2016-04\n", "design.strat", "design.start"),
        ("inference:\n  sed: 3\n", "inference.sed", "inference.seed"),
        ("methods:\n  did:\n    event_windw: [-3, 3]\n", "methods.did.event_windw", "methods.did.event_window"),
        ("treatment:\n  wave: [1]\n", "treatment.wave", "treatment.waves"),
    ],
)
def test_misspelt_nested_key(tmp_path, text, key, suggestion):
    msg = params_error(write(tmp_path, text))
    assert f"'{key}'" in msg
    assert f"did you mean '{suggestion}'" in msg


def test_section_given_a_scalar(tmp_path):
    msg = params_error(write(tmp_path, "data: attendances\n"))
    assert "'data'" in msg and "section" in msg


def test_non_text_key(tmp_path):
    msg = params_error(write(tmp_path, "1: 2\n"))
    assert "1" in msg and "not text" in msg


# ---------------------------------------------------------------------------------------------------------------
# wrong types
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value, expect",
    [
        # str
        ("title", 5, "must be text"),
        ("title", ["a", "b"], "must be text"),
        ("description", {"a": 1}, "must be text"),
        ("data.unit", 5, "must name a column"),
        ("title", None, "is empty"),
        # int
        ("inference.seed", "abc", "whole number"),
        ("inference.seed", 1.5, "whole number"),
        ("inference.seed", True, "whole number"),
        ("inference.bootstrap_draws", [1], "whole number"),
        # float
        ("inference.alpha", "x", "must be a number"),
        ("inference.alpha", True, "must be a number"),
        # bool
        ("report.hide_code", "yes", "true or false"),
        ("report.hide_code", 1, "true or false"),
        ("methods.did.log_outcomes", "false", "true or false"),
        # list
        ("data.outcomes", {"a": 1}, "must be a list"),
        ("data.outcomes", [1.5], "must be text"),
        ("data.outcomes", [True], "must be text"),
        ("treatment.waves", ["a"], "whole number"),
        ("treatment.waves", [1.0], "whole number"),
        ("methods.did.event_window", "[-3, 3]", "whole number"),
        # path / dict / period
        ("data.path", 5, "file path"),
        ("data.outcome_kinds", ["a"], "mapping"),
        ("design.start", True, "not a period"),
        ("design.start", 2016.5, "not a period"),
    ],
)
def test_wrong_type(tmp_path, key, value, expect):
    parts = key.split(".")
    nested: dict = {}
    d = nested
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value
    path = write(tmp_path, yaml.safe_dump(nested))
    msg = params_error(path)
    assert f"'{key}'" in msg
    assert expect in msg


@pytest.mark.parametrize(
    "key, value, expect",
    [
        ("inference.alpha", 0.9, "above the maximum"),
        ("inference.alpha", 0.0, "below the minimum"),
        ("inference.seed", -1, "below the minimum"),
        ("methods.staggered.anticipation", -2, "below the minimum"),
        ("run_name", "my run/1", "folder name"),
        ("run_name", "", "folder name"),
        ("notebooks", ["02_synth"], "unknown notebook '02_synth'"),
        ("notebooks", ["00_data", "00_data"], "listed twice"),
        ("data.ae_types", ["4"], "'4' is not allowed"),
        ("data.ae_types", [], "empty"),
        ("data.outcome_kinds", {"visits": "ratio"}, "not an outcome kind"),
        ("methods.did.event_window", [-1, 3], "-2 or earlier"),
        ("methods.did.event_window", [-3, 3, 4], "[first_lead, last_lag]"),
    ],
)
def test_values_out_of_range(key, value, expect):
    parts = key.split(".")
    nested: dict = {}
    d = nested
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value
    msg = params_error(data=nested)
    assert key in msg
    assert expect in msg


# ---------------------------------------------------------------------------------------------------------------
# choices
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value",
    [
        ("treatment.date_basis", "maybe"),
        ("treatment.partial", "some"),
        ("treatment.other_waves", "keep"),
        ("treatment.first_period", "last"),
        ("treatment.disputed_dates", "both"),
        ("design.comparison", "never"),
        ("data.balance", "keep"),
        ("data.source", "hes"),
        ("data.frequency", "weekly"),
        ("methods.staggered.est_method", "ols"),
        ("methods.staggered.control_group", "all"),
        ("methods.staggered.base_period", "fixed"),
    ],
)
def test_value_outside_choices(tmp_path, key, value):
    section, leaf = key.rsplit(".", 1)
    text = ""
    indent = ""
    for part in section.split("."):
        text += f"{indent}{part}:\n"
        indent += "  "
    text += f"{indent}{leaf}: {value}\n"
    msg = params_error(write(tmp_path, text))
    assert f"'{key}'" in msg
    assert f"{value!r} is not allowed" in msg
    for choice in SCHEMA[key].choices:
        assert str(choice) in msg


# ---------------------------------------------------------------------------------------------------------------
# dates
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "yaml_value, expect",
    [
        ("2016-13", "month 13"),
        ("'2016-13'", "month 13"),
        ("2016-00", "month 0"),
        ("'2016-02-30'", "calendar date"),
        ("'2017-02-29'", "calendar date"),
        ("April 2016", "not a date"),
        ("'16-04'", "not a date"),
        ("2016/04", "not a financial year"),
        ("2016-04-01 10:00:00", "not a date"),
    ],
)
def test_bad_dates(tmp_path, yaml_value, expect):
    msg = params_error(write(tmp_path, f"design:\n  start: {yaml_value}\n"))
    assert "'design.start'" in msg
    assert expect in msg


def test_leap_day_is_a_date(tmp_path):
    assert load_params(write(tmp_path, "design:\n  start: '2016-02-29'\n"))["design.start"] == "2016-02-29"


def test_unquoted_impossible_date_in_file(tmp_path):
    msg = params_error(write(tmp_path, "design:\n  start: 2016-02-30\n"))
    assert "design.start" in msg


@pytest.mark.parametrize(
    "start, end",
    [("2019-03", "2016-04"), ("2017-01-15", "2017-01-01"), ("2017-02", "2017-01-31"), (2007, 2003)],
)
def test_start_after_end(start, end):
    msg = params_error(data={"design": {"start": start, "end": end}})
    assert "'design.start'" in msg and "'design.end'" in msg
    assert "after" in msg


@pytest.mark.parametrize("start, end", [(2016, "2019-03"), ("2016-04", 2019)])
def test_start_end_of_different_types(start, end):
    msg = params_error(data={"design": {"start": start, "end": end}})
    assert "'design.start'" in msg and "'design.end'" in msg
    assert "both" in msg


# ---------------------------------------------------------------------------------------------------------------
# the params file itself
# ---------------------------------------------------------------------------------------------------------------
def test_missing_params_file(tmp_path):
    path = tmp_path / "nope.yaml"
    msg = params_error(path)
    assert str(path) in msg and "does not exist" in msg
    assert not path.exists()


def test_params_path_is_a_directory(tmp_path):
    msg = params_error(tmp_path)
    assert str(tmp_path) in msg


@pytest.mark.parametrize(
    "text, line",
    [
        ("run_name: x\ntitle: y\ntitle2: a: b\nz: 1\n", 3),
        ("run_name: x\ntitle: y\ndata:\n  outcomes: [a, b\n  unit: z\nq: 1\n", 5),
        ("run_name: x\ntitle: y\n\tdescription: z\n", 3),
    ],
    ids=["colon", "unclosed-list", "tab"],
)
def test_invalid_yaml_gives_line_number(tmp_path, text, line):
    path = write(tmp_path, text)
    msg = params_error(path)
    assert str(path) in msg
    assert "not valid YAML" in msg
    assert f"line {line}" in msg


def test_not_utf8(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(b"run_name: caf\xe9\n")
    msg = params_error(path)
    assert str(path) in msg and "UTF-8" in msg


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")])
def test_document_is_not_a_mapping(tmp_path, text, kind):
    path = write(tmp_path, text)
    msg = params_error(path)
    assert str(path) in msg
    assert "mapping" in msg and kind in msg


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {sentinel}']",
        "!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{sentinel}']]",
        "!!python/object:evidence.params.Params {{values: {{}}}}",
        "!!python/name:os.system",
    ],
    ids=["apply-os.system", "apply-touch", "object", "name"],
)
def test_python_tags_are_refused_never_executed(tmp_path, tag):
    sentinel = tmp_path / "EXECUTED"
    path = write(tmp_path, "run_name: " + tag.format(sentinel=sentinel) + "\n")
    msg = params_error(path)
    assert str(path) in msg
    assert not sentinel.exists(), "a YAML python tag was executed"


def test_python_tag_top_level_refused(tmp_path):
    sentinel = tmp_path / "EXECUTED"
    path = write(tmp_path, f"!!python/object/apply:os.system ['touch {sentinel}']\n")
    params_error(path)
    assert not sentinel.exists()


def test_duplicate_keys_are_refused(tmp_path):
    msg = params_error(write(tmp_path, "design:\n  start: 2016-04\ndesign:\n  end: 2019-03\n"))
    assert "design" in msg


# ---------------------------------------------------------------------------------------------------------------
# --set overrides
# ---------------------------------------------------------------------------------------------------------------
def test_set_overrides_numbers_and_lists(tmp_path):
    p = load_params(
        None,
        [
            "inference.seed=7",
            "inference.alpha=0.1",
            "data.outcomes=[attendances, admissions]",
            "treatment.waves=[1, 2, 3]",
            "report.hide_code=false",
            "design.start=2017-01",
            "run_name= spaced ",
        ],
    )
    assert p["inference.seed"] == 7
    assert p["inference.alpha"] == pytest.approx(0.1)
    assert p["data.outcomes"] == ["attendances", "admissions"]
    assert p["treatment.waves"] == [1, 2, 3]
    assert p["report.hide_code"] is False
    assert p["design.start"] == "2017-01"
    assert p.run_name == "spaced"
    assert p.overrides[0] == "inference.seed=7"


def test_set_overrides_win_over_file(tmp_path):
    path = write(tmp_path, "inference:\n  seed: 1\n")
    assert load_params(path, ["inference.seed=2"])["inference.seed"] == 2


def test_set_value_with_equals_sign():
    assert parse_override("title=a=b") == ("title", "a=b")


def test_set_empty_value_is_null():
    assert load_params(None, ["data.cluster="])["data.cluster"] is None


@pytest.mark.parametrize(
    "override, key, expect",
    [
        ("runname=x", "runname", "did you mean 'run_name'"),
        ("data.outcome=[x]", "data.outcome", "did you mean 'data.outcomes'"),
        ("inference.sed=3", "inference.sed", "did you mean 'inference.seed'"),
    ],
)
def test_set_unknown_key(override, key, expect):
    msg = params_error(None, [override])
    assert msg.startswith(f"--set {key}")
    assert "unknown key" in msg and expect in msg


def test_set_missing_equals():
    msg = params_error(None, ["inference.seed"])
    assert "inference.seed" in msg and "key=value" in msg


def test_set_invalid_yaml_value():
    msg = params_error(None, ["data.outcomes=[a, b"])
    assert "data.outcomes" in msg and "not valid YAML" in msg


@pytest.mark.parametrize(
    "override, key, expect",
    [
        ("inference.seed=abc", "inference.seed", "whole number"),
        ("inference.alpha=[0.1]", "inference.alpha", "must be a number"),
        ("treatment.date_basis=maybe", "treatment.date_basis", "not allowed"),
        ("design.start=2016-13", "design.start", "month 13"),
        ("report.hide_code=maybe", "report.hide_code", "true or false"),
    ],
)
def test_set_bad_values_name_the_key(override, key, expect):
    msg = params_error(None, [override])
    assert f"'{key}'" in msg and expect in msg


def test_set_bad_value_is_attributed_to_set(tmp_path):
    path = write(tmp_path, "inference:\n  seed: 1\n")
    msg = params_error(path, ["inference.seed=abc"])
    assert "--set" in msg


def test_set_impossible_date():
    msg = params_error(None, ["design.start=2016-02-30"])
    assert "design.start" in msg


# ---------------------------------------------------------------------------------------------------------------
# cross-checks
# ---------------------------------------------------------------------------------------------------------------
def test_data_path_missing_file(tmp_path):
    missing = tmp_path / "no_such.csv"
    msg = params_error(data={"data": {"path": str(missing)}})
    assert "'data.path'" in msg and str(missing) in msg and "does not exist" in msg


def test_data_path_is_a_directory(tmp_path):
    msg = params_error(data={"data": {"path": str(tmp_path)}})
    assert "'data.path'" in msg


@pytest.mark.parametrize("name", ["panel.xlsx", "panel.txt", "panel.json", "panel"])
def test_data_path_unsupported_suffix(tmp_path, name):
    p = tmp_path / name
    p.write_text("area,month,visits\n", encoding="utf-8")
    msg = params_error(data={"data": {"path": str(p)}})
    assert "'data.path'" in msg and ".csv" in msg and ".parquet" in msg


@pytest.mark.parametrize("name", ["panel.csv", "panel.CSV", "panel.parquet", "panel.pq", "panel.csv.gz"])
def test_data_path_supported_suffix(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"")
    assert load_params(data={"data": {"path": str(p)}, "treatment": {"cohort": "g"}})["data.path"] == str(p)


def test_file_source_without_path():
    msg = params_error(data={"data": {"source": "file"}})
    assert "'data.source'" in msg and "'data.path'" in msg


def test_cohort_and_indicator_both_given(csv_file):
    msg = params_error(data={"data": {"path": str(csv_file)}, "treatment": {"cohort": "g", "indicator": "d"}})
    assert "'treatment.cohort'" in msg and "'treatment.indicator'" in msg


def test_empty_outcomes_list(tmp_path):
    msg = params_error(write(tmp_path, "data:\n  outcomes: []\n"))
    assert "'data.outcomes'" in msg and "empty" in msg


def test_duplicate_outcomes(tmp_path):
    msg = params_error(write(tmp_path, "data:\n  outcomes: [attendances, admissions, attendances]\n"))
    assert "'data.outcomes'" in msg and "twice" in msg


@pytest.mark.parametrize("waves, bad", [([0], 0), ([1, 7], 7), ([-1], -1)])
def test_waves_outside_1_to_6(waves, bad):
    msg = params_error(data={"treatment": {"waves": waves}})
    assert "'treatment.waves'" in msg and f"wave {bad}" in msg and "1-6" in msg


def test_empty_waves():
    msg = params_error(data={"treatment": {"waves": []}})
    assert "'treatment.waves'" in msg


def test_waves_not_checked_when_a_treatment_column_is_given(csv_file):
    p = load_params(data={"data": {"path": str(csv_file)}, "treatment": {"cohort": "g", "waves": [9]}})
    assert p["treatment.cohort"] == "g"


def test_missing_designation_table(tmp_path):
    missing = tmp_path / "designations.csv"
    msg = params_error(data={"treatment": {"designations": str(missing)}})
    assert "'treatment.designations'" in msg


def test_errors_are_evidence_errors():
    assert issubclass(ParamsError, EvidenceError)
    # newlines in a message are folded to one line
    assert str(ParamsError("a\nb\n  c")) == "a b c"


# ---------------------------------------------------------------------------------------------------------------
# typo suggestions by level (a misspelt section suggests the section), and periods written as in spreadsheets
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, key, hint",
    [
        ("desing:\n  start: 2016-04\n  end: 2019-03\n", "desing", "did you mean the section 'design'?"),
        ("tretment:\n  waves: [1]\n", "tretment", "did you mean the section 'treatment'?"),
        ("data:\n  recrods:\n    engine: duckdb\n", "data.recrods", "did you mean the section 'data.records'?"),
        ("methods:\n  dd:\n    log_outcomes: false\n", "methods.dd", "did you mean the section 'methods.did'?"),
        ("design:\n  waves: [1, 2]\n", "design.waves", "did you mean 'treatment.waves'?"),  # a key of another section
        ("design:\n  finish: 2019-03\n", "design.finish", "the section 'design' has comparison, end, start."),
    ],
)
def test_suggestions_by_level(tmp_path, text, key, hint):
    msg = params_error(write(tmp_path, text))
    assert f"unknown key '{key}'; {hint}" in msg
    assert "'design.end'" not in msg  # the old suggestion for 'desing'


def test_set_with_misspelt_section_suggests_the_key():
    msg = params_error(overrides=["desing.start=2016-04"])
    assert "--set desing.start: unknown key; did you mean 'design.start'?" in msg


@pytest.mark.parametrize(
    "value, expect",
    [
        ("2016/04", "'2016/04' is not a financial year (YYYY/YY is read as one: 2016/17 is April 2016 to March 2017); write 2016-04 for April 2016, or 2016/17 for the financial year."),
        ("May-16", "'May-16' is not a date; write it as YYYY-MM or YYYY-MM-DD (for example 2016-04), or an integer period such as 2004; 'May-16' reads as 2016-05 — write that."),
        ("01/05/2016", "'01/05/2016' reads as 2016-05-01 (day first, as in the UK) — write that."),
        ("2016/13", "'2016/13' is not a financial year (YYYY/YY is read as one: 2016/17 is April 2016 to March 2017); write 2016/17 for the financial year."),
    ],
)
def test_period_parameters_say_how_they_were_read(value, expect):
    msg = params_error(overrides=[f"design.start={value}"])
    assert "key 'design.start'" in msg and expect in msg
