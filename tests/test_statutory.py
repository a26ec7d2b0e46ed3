"""Statutory ICSs: the descriptive break analysis recovers a known break and finds none where there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.statutory import national_series, segmented_break, statutory_breaks


def _series(level_jump: float = 0.0, at: str = "2022-07", seed: int = 0) -> pd.Series:
    months = pd.period_range("2016-04", "2026-02", freq="M")
    t = np.arange(len(months)) / 12.0
    rng = np.random.default_rng(seed)
    season = 0.05 * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12)
    y = np.log(900) + 0.01 * t + season + rng.normal(0, 0.003, len(t))
    y = y + np.where(months >= pd.Period(at, "M"), np.log1p(level_jump), 0.0)
    covid = (months >= pd.Period("2020-03", "M")) & (months <= pd.Period("2021-03", "M"))
    y = np.where(covid, y - 0.4, y)  # a pandemic collapse the fits must leave out
    return pd.Series(np.exp(y), index=months, name="x_per_100k")


def test_a_known_level_change_is_recovered_and_placebos_find_nothing():
    s = _series(level_jump=0.10)
    b = segmented_break(s, "2022-07")
    assert b["level_change_pct"] == pytest.approx(10.0, abs=0.6) and abs(b["slope_change_pct_per_year"]) < 0.6
    flat = _series(level_jump=0.0, seed=1)
    for date in ("2021-07", "2022-07", "2023-07"):
        p = segmented_break(flat, date)
        assert abs(p["level_change_pct"]) < 0.8 and abs(p["slope_change_pct_per_year"]) < 0.8
    assert b["months_fitted"] == len(s) - 13  # the 13 COVID months are left out


def test_statutory_breaks_on_the_built_panel_have_no_p_values():
    from evidence.params import load_params
    from evidence.pipeline import prepare

    panel, _ = prepare(load_params("params/default.yaml"))
    s = national_series(panel, "emergency_admissions")
    d = panel.data[panel.data["time"].astype(str) == "2019-04"]
    assert s[pd.Period("2019-04", "M")] == pytest.approx(1e5 * d["emergency_admissions"].sum() / d["population"].sum())
    res = statutory_breaks(panel, ["emergency_admissions"])
    t = res[0].tidy()
    assert set(t["group"]) == {"statutory 2022-07", "placebo 2021-07", "placebo 2023-07"}
    assert t["p_value"].isna().all() and t["std_error"].isna().all()
    assert "not causal" in res[0].description
