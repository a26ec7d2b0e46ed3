"""Fallbacks decided from the design: synthetic-control inference, leave-one-out, controlled ITS."""

from __future__ import annotations

from evidence.applicability import its_controls, leave_one_out, summary, synth_inference

from simdata import design_of, simulate_panel


def test_placebo_falls_back_when_treated_units_outnumber_donors():
    many = design_of(simulate_panel(n_units=10, n_periods=12, cohorts={6: 6}, seed=1))  # 6 treated, 4 donors
    assert synth_inference(many, "placebo")[0] == "jackknife" and "parameter: methods.synth.inference" in synth_inference(many, "placebo")[1]
    one = design_of(simulate_panel(n_units=2, n_periods=12, cohorts={6: 1}, seed=1))  # 1 treated, 1 donor
    assert synth_inference(one, "placebo")[0] == "bootstrap"
    fine = design_of(simulate_panel(n_units=20, n_periods=12, cohorts={6: 3}, seed=1))
    assert synth_inference(fine, "placebo") == ("placebo", "")
    assert synth_inference(design_of(simulate_panel(n_units=20, n_periods=12, cohorts={6: 1}, seed=1)), "jackknife")[0] == "placebo"


def test_leave_one_out_skips_what_the_design_cannot_support():
    single = design_of(simulate_panel(n_units=20, n_periods=12, cohorts={6: 1}, seed=1))
    by, note = leave_one_out(single, ["wave", "unit"])
    assert by == [] and "1 treated cohort" in note and "1 treated unit" in note and "robustness.leave_one_out" in note
    two = design_of(simulate_panel(n_units=20, n_periods=12, cohorts={4: 3, 8: 3}, seed=1))
    assert leave_one_out(two, ["wave", "unit"]) == (["wave", "unit"], "")


def test_controlled_its_needs_comparison_units():
    everyone = design_of(simulate_panel(n_units=8, n_periods=20, cohorts={8: 4, 14: 4}, seed=1), comparison="not_yet_treated")
    ok, note = its_controls(everyone.only_cohort())
    assert not ok and "no unit is untreated throughout the window" in note
    assert its_controls(design_of(simulate_panel(n_units=8, n_periods=20, cohorts={8: 4}, seed=1)))[0]
    assert summary(everyone)["comparison"] == 0 and summary(everyone)["cohorts"] == 2


# --- the preflight plan and its fallbacks --------------------------------------------------------------------------
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from evidence.applicability import facts, honest_window, imputation_plan, notebook_applies, plan, separation, synth_plan  # noqa: E402
from evidence.params import load_params  # noqa: E402


def _params(**over):
    data = {"data": {"path": "data/examples/mpdta.csv", "unit": "countyreal", "time": "year", "outcomes": ["lemp"]}, "treatment": {"cohort": "first.treat"}}
    for k, v in over.items():
        head, tail = k.split(".", 1)
        data.setdefault(head, {})[tail] = v
    return load_params(data=data)


def test_synth_uses_not_yet_treated_donors_in_a_shortened_window_and_skips_one_pre_period_cohorts():
    # every unit treated: cohorts at periods 1 (one pre-period), 6 and 12 of 18
    d = design_of(simulate_panel(n_units=12, n_periods=18, cohorts={1: 4, 6: 4, 12: 4}, seed=2))
    sub, note, why = synth_plan(d, None)
    assert why is None
    assert sub.cohort_labels == [d.cohort_labels[1]]  # the cohort with one pre-period is left out
    assert sub.panel.n_periods == 12 and sub.n_comparison == 4  # window ends before the donors (cohort 12) are treated
    assert "left out" in note and "not-yet-treated" not in note or "donors are units treated after" in note
    assert "methods.synth.cohort" in note and "design.end" in note
    # the last cohort has no later donors: not applicable when it is requested
    _, _, why = synth_plan(d, d.cohort_labels[2])
    assert why is not None and why[1] == "design.end"


def test_honest_window_narrows_to_what_the_clusters_support():
    df = simulate_panel(n_units=30, n_periods=40, cohorts={15: 6, 25: 6}, seed=3)
    d = design_of(df, cluster="region")  # 8 regions
    assert facts(d).clusters == 8
    win, note = honest_window(d, (-12, 12))
    lead, lag = win
    assert (-lead - 1) + (lag + 1) <= 7 and lead <= -2 and "clusters" in note
    d2 = design_of(simulate_panel(n_units=30, n_periods=40, cohorts={1: 6}, seed=3))
    assert honest_window(d2, (-12, 12))[0] is None  # no pre-period coefficient


def test_imputation_leaves_out_periods_in_which_every_unit_is_treated():
    d = design_of(simulate_panel(n_units=10, n_periods=12, cohorts={4: 5, 8: 5}, seed=4))
    sub, note = imputation_plan(d)
    assert sub.panel.n_periods == 8 and "design.end" in note and d.panel.period_labels[8] in note
    same, none = imputation_plan(design_of(simulate_panel(n_units=10, n_periods=12, cohorts={4: 5}, seed=4)))
    assert same.panel.n_periods == 12 and none == ""


def test_separating_covariate_is_found():
    df = simulate_panel(n_units=20, n_periods=10, cohorts={5: 6}, seed=5)
    df["x"] = np.where(df["first"] != "0", 10.0, 1.0)
    out, freq, _ = __import__("evidence.panel", fromlist=["validate_panel"]).validate_panel(df, name="s", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": "continuous"}, covariates=["x"], extra=["first"])
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel

    panel = Panel(out, ["y"], {"y": "continuous"}, freq, covariates=["x"], source="s")
    d = design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1])
    assert "covariate x separates cohort" in separation(d, ["x"])


def test_plan_on_mpdta_states_reasons_with_parameters():
    params = _params()
    from evidence.pipeline import prepare

    _, d = prepare(params)
    verdicts = plan(params, d)
    by = {v.analysis: v for v in verdicts}
    assert by["primary"].status == "runs" and by["synth"].status == "fallback" and by["its"].status == "not applicable"
    assert all(v.parameter for v in verdicts if v.status != "runs")
    assert by["costs_satisfaction"].status == "not applicable" and not notebook_applies(verdicts, "08_costs_satisfaction")
    assert notebook_applies(verdicts, "02_staggered")


@pytest.mark.e2e
def test_a_design_on_which_nothing_applies_is_refused_in_one_line(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    months = pd.date_range("2020-01-01", periods=10, freq="MS").strftime("%Y-%m-%d")
    pd.DataFrame({"area": "A", "month": months, "visits": np.arange(10) + 5, "D": (np.arange(10) >= 5).astype(int)}).to_csv(tmp_path / "one.csv", index=False)
    p = tmp_path / "p.yaml"
    p.write_text(f"run_name: none\ndata:\n  path: {tmp_path / 'one.csv'}\n  unit: area\n  time: month\n  outcomes: [visits]\ntreatment:\n  indicator: D\n")
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", str(p), "--reports", str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "no analysis of the workbook applies to this design" in err[0] and "methods.its.min_pre" in err[0]
    assert not (tmp_path / "r" / "none").exists()


def test_cs_error_names_cells_as_periods_of_the_data_and_a_parameter():
    from evidence.errors import EstimationError
    from evidence.staggered import cs

    df = simulate_panel(n_units=20, n_periods=10, cohorts={5: 6}, seed=5)
    df["x"] = np.where(df["first"] != "0", 10.0, 1.0)
    from evidence.design import design_from_cohort_column
    from evidence.panel import Panel, validate_panel

    out, freq, _ = validate_panel(df, name="s", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": "continuous"}, covariates=["x"], extra=["first"])
    panel = Panel(out, ["y"], {"y": "continuous"}, freq, covariates=["x"], source="s")
    d = design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1])
    with pytest.raises(EstimationError) as err:
        cs(d, "y", covariates=["x"], est_method="dr").aggregate("simple")
    msg = str(err.value)
    assert f"({panel.period_labels[5]}, " in msg and "methods.staggered.est_method: reg" in msg and "na_rm" not in msg and len(msg) < 400


def test_placebo_gives_way_to_the_jackknife_when_classic_fits_would_explode():
    # 300 treated units and 400 donors: placebo inference would fit 300 x 401 classic synthetic controls
    big = design_of(simulate_panel(n_units=700, n_periods=10, cohorts={5: 300}, seed=1))
    inf, note = synth_inference(big, "placebo")
    assert inf == "jackknife" and "120,300 classic fits" in note and "parameter: methods.synth.inference" in note
    assert synth_inference(big, "bootstrap") == ("bootstrap", "")


def test_per_unit_synthetic_control_beyond_max_units_makes_the_notebook_not_applicable():
    # mpdta: cohort 2006 (40 counties) is the one synthetic control analyses (2004 has a single pre-period)
    d = prepare(_params())[1]
    on = next(v for v in plan(_params(**{"methods.synth.max_units": 10}), d) if v.analysis == "synth")
    assert on.status == "not applicable" and "40 treated units" in on.reason and "methods.synth.per_unit: false" in on.reason
    assert on.parameter == "methods.synth.per_unit, methods.synth.max_units"
    assert not notebook_applies(plan(_params(**{"methods.synth.max_units": 10}), d), "03_synthetic_control")
    assert next(v for v in plan(_params(**{"methods.synth.max_units": 10, "methods.synth.per_unit": False}), d) if v.analysis == "synth").applies
    assert next(v for v in plan(_params(), d) if v.analysis == "synth").applies  # (a fallback: cohort 2004 has one pre-period)


def test_power_simulations_sized_to_the_panel_are_a_stated_fallback(monkeypatch):
    from evidence import power

    d = prepare(_params())[1]  # 500 counties x 5 years = 2,500 unit-periods
    assert next(v for v in plan(_params(), d) if v.analysis == "power").status == "runs"
    monkeypatch.setattr(power, "SIMULATION_CELLS", 100_000)  # 40 replicates of 2,500 unit-periods
    v = next(v for v in plan(_params(), d) if v.analysis == "power")
    assert v.status == "fallback" and "40 simulated panels instead of 200 (power.reps)" in v.reason and "power.validation_reps" in v.parameter


from evidence.pipeline import prepare  # noqa: E402
