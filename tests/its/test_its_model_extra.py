"""ITS: month-length adjustment and the pre-period rule (methods.its.days_in_month, methods.its.min_pre)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.its import applicability, its

from simdata import design_of, simulate_panel


def _month_length_design(step: float = 5.0):
    df = simulate_panel(n_units=12, n_periods=48, cohorts={24: 4}, effect=0.0, noise=0.0, seed=2)
    days = pd.PeriodIndex(df["month"].str[:7], freq="M").days_in_month.to_numpy()
    treated = (df["first"] != "0") & (df["month"] >= df["first"])
    df["y"] = (100.0 + step * treated) * days / 30.4375  # a daily rate times the month's length
    return design_of(df)


def test_days_in_month_removes_month_length_from_a_gaussian_series():
    d = _month_length_design()
    adj = its(d, "y", family="gaussian", seasonality="none", days_in_month=True).tidy().set_index("estimand")
    raw = its(d, "y", family="gaussian", seasonality="none", days_in_month=False).tidy().set_index("estimand")
    assert adj.loc["level_change", "estimate"] == pytest.approx(5.0, abs=1e-8)  # exact once month length is removed
    assert adj.loc["level_change", "std_error"] < 1e-6 < raw.loc["level_change", "std_error"]


def test_days_in_month_is_an_offset_for_count_models():
    d = _month_length_design(step=0.0)
    r = its(d, "y", family="poisson", seasonality="none", days_in_month=True, offset=False)
    assert r.tidy().set_index("estimand").loc["rate_ratio_post", "estimate"] == pytest.approx(1.0, abs=1e-8)
    assert any("Days-in-month adjustment: an offset" in n for n in r.notes) if hasattr(r, "notes") else True


def test_pre_period_rule():
    d = design_of(simulate_panel(n_units=10, n_periods=30, cohorts={8: 3}, seed=1))
    ok, msg = applicability(d, 12)
    assert not ok and "fewer than methods.its.min_pre = 12" in msg
    ok, msg = applicability(d, 6)
    assert ok and msg.startswith("warning: 8 pre-intervention periods")
    d2 = design_of(simulate_panel(n_units=10, n_periods=40, cohorts={26: 3}, seed=1))
    assert applicability(d2, 12) == (True, "26 pre-intervention periods.")
