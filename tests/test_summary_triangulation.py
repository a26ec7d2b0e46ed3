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


def test_count_models_represent_difference_in_differences_for_an_outcome_with_zeros():
    """A count outcome with zeros has no log models: extended TWFE (its % change as a log ratio) and Poisson TWFE
    join the ITS rate ratio under <outcome>_log, and extended TWFE represents difference-in-differences."""
    import numpy as np

    from evidence.summary import overall
    from evidence.results import tidy_frame

    est = tidy_frame([
        {"method": "etwfe_poisson", "outcome": "y", "estimand": "simple_pct", "group": "all", "estimate": -20.0, "ci_lower": -30.0, "ci_upper": -8.0, "p_value": 0.002},
        {"method": "etwfe_poisson", "outcome": "y", "estimand": "simple", "group": "all", "estimate": -0.4, "ci_lower": -0.6, "ci_upper": -0.2, "p_value": 0.002},
        {"method": "poisson_twfe", "outcome": "y", "estimand": "att_log_ratio", "group": "all", "estimate": -0.2, "ci_lower": -0.35, "ci_upper": -0.05, "p_value": 0.01},
        {"method": "its", "outcome": "y", "estimand": "rate_ratio_post", "group": "pooled|controlled", "estimate": 0.85, "ci_lower": 0.75, "ci_upper": 0.96, "p_value": 0.01},
        {"method": "twfe", "outcome": "y", "estimand": "att", "group": "all", "estimate": -0.3, "ci_lower": -0.6, "ci_upper": 0.0, "p_value": 0.05},
    ]).assign(notebook="x")
    t = overall(est).set_index("method")
    assert t.loc["etwfe_poisson", "outcome"] == "y_log" and abs(t.loc["etwfe_poisson", "estimate"] - np.log(0.8)) < 1e-12
    assert abs(t.loc["etwfe_poisson", "ci_lower"] - np.log(0.7)) < 1e-12 and t.loc["poisson_twfe", "scale"] == "log rate ratio"
    assert t.loc["twfe", "outcome"] == "y"  # the levels model stays with the levels
    tri = triangulation(overall(est)).set_index("outcome")
    assert tri.loc["y_log", "families"] == "difference-in-differences (etwfe_poisson); interrupted time series (its_controlled)"
    assert tri.loc["y_log", "agree"]
