"""Cohorts from the ICS designation table under each parameter choice (real footprints, real dates)."""

from __future__ import annotations

import pytest

from evidence.data.ae import build_ae_panel
from evidence.data.designations import load_designations
from evidence.design import design_from_designations
from evidence.errors import DesignError

WAVE1_WHOLE = {"E54000007", "E54000009", "E54000024", "E54000034", "E54000041", "E54000052"}
WAVE1_PARTIAL = {"E54000014", "E54000044", "E54000048"}
WAVE2_WHOLE = {"E54000023", "E54000043", "E54000054"}
WAVE2_PARTIAL = {"E54000050"}


@pytest.fixture(scope="module")
def panel():
    return build_ae_panel(["1"])[0]


@pytest.fixture(scope="module")
def table():
    return load_designations()


def status(design, s):
    return set(design.cohorts.loc[design.cohorts["status"] == s, "unit"])


def cohort_of(design):
    c = design.cohorts[design.cohorts["status"] == "treated"]
    return dict(zip(c["unit"], c["first_treated"]))


def test_default_design(panel, table):
    d = design_from_designations(panel, table, start="2016-04", end="2019-03")
    assert status(d, "treated") == WAVE1_WHOLE | WAVE1_PARTIAL | WAVE2_WHOLE | WAVE2_PARTIAL
    cohorts = cohort_of(d)
    assert {cohorts[u] for u in WAVE1_WHOLE | WAVE1_PARTIAL} == {"2017-07"}  # 15 June 2017 -> first full month July
    assert {cohorts[u] for u in WAVE2_WHOLE | WAVE2_PARTIAL} == {"2018-06"}  # 24 May 2018 -> June
    assert len(status(d, "not_yet_treated")) == 29 and not status(d, "excluded")
    assert d.is_staggered and d.cohort_labels == ["2017-07", "2018-06"]
    g = dict(zip(d.included["unit"], d.g))
    assert g["E54000009"] == 15 and g["E54000023"] == 26
    assert d.n_treated_clusters == 13 and d.n_clusters == 42
    # treatment matrix is absorbing and starts at g
    D = d.treatment_matrix()
    assert (D[:, 1:] >= D[:, :-1]).all() and D.sum() == 9 * (36 - 15) + 4 * (36 - 26)


def test_containing_rule_moves_cohorts_back_a_month(panel, table):
    d = design_from_designations(panel, table, start="2016-04", end="2019-03", first_period="containing")
    assert d.cohort_labels == ["2017-06", "2018-05"]


def test_partial_exclude_and_whole_only(panel, table):
    ex = design_from_designations(panel, table, start="2016-04", end="2019-03", partial="exclude")
    assert status(ex, "excluded") == WAVE1_PARTIAL | WAVE2_PARTIAL
    assert status(ex, "treated") == WAVE1_WHOLE | WAVE2_WHOLE
    wo = design_from_designations(panel, table, start="2016-04", end="2019-03", partial="whole_only")
    # their whole-footprint designation is wave 3 (June 2019) - after the window, so not yet treated in it;
    # Lancashire and Nottinghamshire have no separate whole designation row and stay in wave 1
    assert {"E54000044", "E54000050"} <= status(wo, "not_yet_treated")


def test_effective_basis_drops_greater_manchester_with_a_note(panel, table):
    d = design_from_designations(panel, table, start="2016-04", end="2019-03", date_basis="effective")
    assert status(d, "excluded") == {"E54000007"}
    assert any("Dropped 1 unit" in n for n in d.notes)
    assert "E54000007" not in set(d.panel.units)


def test_waves_and_other_waves(panel, table):
    d = design_from_designations(panel, table, start="2016-04", end="2019-03", waves=[1])
    assert status(d, "excluded") == WAVE2_WHOLE | WAVE2_PARTIAL
    d2 = design_from_designations(panel, table, start="2016-04", end="2019-03", waves=[1], other_waves="comparison")
    assert WAVE2_WHOLE <= status(d2, "never_treated")
    d3 = design_from_designations(panel, table, start="2016-04", end="2019-03", waves=[2])
    assert status(d3, "treated") == WAVE2_WHOLE | WAVE2_PARTIAL


def test_window_changes_who_is_not_yet_treated(panel, table):
    d = design_from_designations(panel, table, start="2016-04", end="2017-12")
    assert d.cohort_labels == ["2017-07"] and not d.is_staggered
    # wave 2 (May 2018) falls after this window: its footprints are untreated within it and serve as comparisons
    assert WAVE2_WHOLE | WAVE2_PARTIAL <= status(d, "not_yet_treated")


def test_window_outside_data_is_refused(panel, table):
    with pytest.raises(DesignError, match="select no period"):
        design_from_designations(panel, table, start="2030-01", end="2031-01")


def test_no_treated_unit_in_window_is_refused(panel, table):
    with pytest.raises(DesignError, match="no unit is treated"):
        design_from_designations(panel, table, start="2016-04", end="2017-05")


def test_wave5_disputed_dates(panel, table):
    # with the window extended notionally, wave 5 units are not yet treated in both readings, but their
    # first-treated labels differ: January 2021 (December 2020, month precision) vs April 2021
    a = design_from_designations(panel, table, start="2016-04", end="2019-03", date_basis="effective", disputed_dates="primary")
    b = design_from_designations(panel, table, start="2016-04", end="2019-03", date_basis="effective", disputed_dates="alternative")
    fa = dict(zip(a.cohorts["unit"], a.cohorts["first_treated"]))
    fb = dict(zip(b.cohorts["unit"], b.cohorts["first_treated"]))
    assert fa["E54000022"] == "2021-01" and fb["E54000022"] == "2021-04"


def test_user_files_default_to_their_own_span_and_nhs_data_to_the_pre_covid_window(tmp_path):
    from evidence.errors import ParamsError
    from evidence.params import load_params
    from evidence.pipeline import prepare

    user = load_params(data={"data": {"path": "data/examples/mpdta.csv", "unit": "countyreal", "time": "year", "outcomes": ["lemp"], "outcome_kinds": {"lemp": "continuous"}}, "treatment": {"cohort": "first.treat"}})
    assert user["design.start"] is None and user["design.end"] is None
    _, d = prepare(user)
    assert d.window == ("2003", "2007") and user["design.start"] == 2003 and user["design.end"] == 2007  # written back
    nhs = load_params(data={"data": {"outcomes": ["emergency_admissions_per_100k"]}})
    _, d2 = prepare(nhs)
    assert d2.window == ("2016-04", "2020-02")
    with pytest.raises(ParamsError, match="give design.start and design.end as months"):
        prepare(load_params(data={"data": {"records": {"path": str(tmp_path)}, "outcomes": ["emergency_admissions"]}}))


# --- evidence.design.from_frame: the public route from a long DataFrame to a design ------------------------------
def test_from_frame_equals_the_workbook_steps_and_feeds_the_estimators():
    import numpy as np
    import pandas as pd

    from evidence.design import from_frame
    from evidence.did import event_study

    from simdata import design_of, simulate_panel

    df = simulate_panel(n_units=30, n_periods=16, cohorts={5: 8, 9: 8}, effect=1.0, seed=2)
    d = from_frame(df, unit="area", time="month", outcome="y", cohort="first", cluster="region")
    ref = design_of(df, cluster="region")
    pd.testing.assert_frame_equal(d.cohorts, ref.cohorts)
    pd.testing.assert_frame_equal(d.panel.data, ref.panel.data)
    assert d.window == ref.window == ("2016-04", "2017-07") and d.comparison == "not_yet_treated"
    a, b = event_study(d, "y", window=(-3, 3)).tidy(), event_study(ref, "y", window=(-3, 3)).tidy()
    np.testing.assert_allclose(a["estimate"].to_numpy(float), b["estimate"].to_numpy(float), rtol=0, atol=0)
    # integer periods, a window inside the data and the never-treated comparison
    t = np.tile(np.arange(2001, 2011), 6)
    g = np.repeat([2004, 2004, 2007, 0, 0, 2012], 10)
    frame = pd.DataFrame({"id": np.repeat(np.arange(6), 10), "year": t, "y": np.arange(60.0) % 7, "g": g})
    d2 = from_frame(frame, unit="id", time="year", outcome=["y"], cohort="g", start=2002, end=2009, comparison="never_treated")
    assert d2.window == ("2002", "2009") and d2.panel.n_periods == 8
    assert list(d2.cohorts["status"]) == ["treated", "treated", "treated", "never_treated", "never_treated", "not_yet_treated"]
    assert list(d2.g[:3]) == [2.0, 2.0, 5.0]


def test_from_frame_reports_bad_input_in_one_line():
    import pandas as pd

    from evidence.design import from_frame
    from evidence.errors import DataError, ParamsError

    frame = pd.DataFrame({"id": [1, 1, 2, 2], "year": [2001, 2002, 2001, 2002], "y": [1.0, 2.0, 3.0, 4.0], "g": [2002, 2002, 0, 0]})
    with pytest.raises(DataError, match=r"column 'cohort_year' \(from cohort=, the first treated period\) is missing"):
        from_frame(frame, unit="id", time="year", outcome="y", cohort="cohort_year")
    with pytest.raises(DataError, match=r"column 'visits' \(from data.outcomes\[0\]\) is missing"):
        from_frame(frame, unit="id", time="year", outcome="visits", cohort="g")
    with pytest.raises(DataError, match="1 duplicate unit-period row"):
        from_frame(pd.concat([frame, frame.iloc[[0]]]), unit="id", time="year", outcome="y", cohort="g", name="my table")
    with pytest.raises(ParamsError, match="missing='skip' is not one of error, drop_units, allow"):
        from_frame(frame, unit="id", time="year", outcome="y", cohort="g", missing="skip")


# --- the vectorised design step: its shortcuts keep the row-wise semantics -----------------------------------------
def test_standard_table_owns_its_columns_and_the_panel_remembers_units_per_frame():
    import numpy as np
    import pandas as pd

    from evidence.panel import Panel, int_codes, validate_panel

    df = pd.DataFrame({"u": np.repeat([12, 3], 3), "t": np.tile([2000, 2001, 2002], 2), "y": np.arange(6.0), "x": [1.0, 2, 4, 8, 16, 32], "g": np.repeat([2001, 0], 3), "n": ["a"] * 6})
    before = df.copy()
    out, freq, _ = validate_panel(df, name="t", unit="u", time="t", outcomes=["y"], outcome_kinds={"y": "continuous"}, controls=["x"], extra=["g", "n"], unit_name="n")
    assert list(out["unit"]) == ["12"] * 3 + ["3"] * 3  # units in the order of their text
    out.loc[0, ["y", "x", "g", "t", "time", "n"]] = [99.0, 99.0, 99, 7, 1999, "q"]
    out.loc[0, "unit"] = "z"
    pd.testing.assert_frame_equal(df, before)  # no column of the input is shared
    assert out.loc[0, "cluster"] == "12"  # nor one column of the table with another
    panel = Panel(out.assign(t=np.tile(np.arange(3), 2), unit=["a"] * 3 + ["b"] * 3), ["y"], {"y": "continuous"}, freq)
    assert panel.layout() == (2, 3) and list(panel.units) == ["a", "b"]
    panel.data = panel.data.iloc[3:].assign(t=np.arange(3))  # another frame: layout and units recomputed
    assert panel.layout() == (1, 3) and list(panel.units) == ["b"] and panel.n_units == 1
    # integer codes by direct addressing and, over a wide range, by hashing: the same grouping as factorize
    for values in (np.array([5, 3, 5, 9, 3, -2]), np.array([10**12, 3, 10**12, -(10**12)])):
        codes, uniq = int_codes(values)
        np.testing.assert_array_equal(uniq[codes], values)
        assert len(uniq) == len(np.unique(values))
