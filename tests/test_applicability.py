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
