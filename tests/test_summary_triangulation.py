"""Triangulation counts design families, not estimators that share one identifying assumption."""

from __future__ import annotations

import pandas as pd

from evidence.summary import family_representatives, triangulation


def _table(rows):
    return pd.DataFrame(rows, columns=["outcome", "method", "estimate", "ci_lower", "ci_upper", "p_value", "scale", "notebook"])


def test_four_did_estimators_are_one_vote():
    t = _table([
        ("y", "cs", -1.0, -2.0, -0.1, 0.01, "u", "02_staggered"),
        ("y", "sun_abraham", -1.1, -2.0, -0.2, 0.01, "u", "02_staggered"),
        ("y", "imputation", -0.9, -1.9, -0.1, 0.02, "u", "02_staggered"),
        ("y", "twfe", -1.2, -2.2, -0.2, 0.01, "u", "01_did"),
        ("y", "sdid", 0.2, -1.0, 1.4, 0.7, "u", "03_synthetic_control"),
    ])
    tri = triangulation(t).set_index("outcome")
    assert tri.loc["y", "methods"] == 2  # two families, not five estimators
    assert not tri.loc["y", "agree"] and "difference-in-differences detect(s) an effect, synthetic control not" in tri.loc["y", "verdict"]


def test_the_primary_analysis_represents_did_and_one_family_is_not_triangulated():
    t = _table([
        ("y", "twfe", -1.2, -2.2, -0.2, 0.01, "u", "01_did"),
        ("y", "cs", -0.3, -1.0, 0.4, 0.4, "u", "02_staggered"),
        ("y", "cs", 0.1, -0.5, 0.7, 0.8, "u", "00_primary"),
    ])
    reps = family_representatives(t)
    assert len(reps) == 1 and reps.iloc[0]["notebook"] == "00_primary" and reps.iloc[0]["estimate"] == 0.1
    tri = triangulation(t).iloc[0]
    assert tri["methods"] == 1 and tri["verdict"].startswith("one design family only (difference-in-differences)")


def test_families_agreeing_on_a_null_and_on_an_effect():
    null = _table([("y", "cs", 0.1, -1, 1, 0.8, "u", "00_primary"), ("y", "sdid", -0.2, -1, 0.6, 0.6, "u", "x"), ("y", "its_controlled", 0.0, -0.1, 0.1, 0.9, "u", "x")])
    assert triangulation(null).iloc[0]["verdict"] == "agree: no design family detects an effect"
    eff = _table([("y", "cs", -1, -2, -0.5, 0.001, "u", "00_primary"), ("y", "sdid", -2, -3, -1, 0.001, "u", "x")])
    assert triangulation(eff).iloc[0]["agree"]
    opp = _table([("y", "cs", -1, -2, -0.5, 0.001, "u", "00_primary"), ("y", "its_controlled", 2, 1, 3, 0.001, "u", "x")])
    assert "opposite directions" in triangulation(opp).iloc[0]["verdict"]
