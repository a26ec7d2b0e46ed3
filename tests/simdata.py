"""Small simulated panels with known effects (synthetic data; used only by tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence.design import Design, design_from_cohort_column
from evidence.panel import Panel, validate_panel


def simulate_panel(
    n_units: int = 40,
    n_periods: int = 24,
    cohorts: dict[int, int] | None = None,
    effect=0.0,
    noise: float = 1.0,
    seed: int = 0,
    start: str = "2016-04-01",
) -> pd.DataFrame:
    """Synthetic monthly panel ``y = a_i + l_t + tau(e) * D + eps`` with known effects.

    Parameters
    ----------
    cohorts
        First treated period index -> number of units; the remaining units are never treated.
    effect
        A number (constant effect) or a function ``f(event_time, cohort_index) -> effect``.
    """
    rng = np.random.default_rng(seed)
    cohorts = cohorts if cohorts is not None else {8: 10, 14: 10}
    g = np.full(n_units, -1)
    k = 0
    for c, n in cohorts.items():
        g[k : k + n] = c
        k += n
    a = rng.normal(50, 10, n_units)
    lam = np.cumsum(rng.normal(0.5, 1, n_periods))
    t = np.arange(n_periods)
    e = t[None, :] - g[:, None]
    D = (g[:, None] >= 0) & (e >= 0)
    if callable(effect):
        tau = np.where(D, effect(e, g[:, None]), 0.0)
    else:
        tau = np.where(D, float(effect), 0.0)
    y = a[:, None] + lam[None, :] + tau + rng.normal(0, noise, (n_units, n_periods))
    dates = pd.date_range(start, periods=n_periods, freq="MS")
    first = np.where(g >= 0, dates[np.clip(g, 0, None)].strftime("%Y-%m-%d"), "0")
    return pd.DataFrame(
        {
            "area": np.repeat([f"U{i:03d}" for i in range(n_units)], n_periods),
            "month": np.tile(dates.strftime("%Y-%m-%d"), n_units),
            "y": y.ravel(),
            "tau": tau.ravel(),
            "first": np.repeat(first, n_periods),
            "region": np.repeat([f"R{i % 8}" for i in range(n_units)], n_periods),
        }
    )


def design_of(df: pd.DataFrame, comparison: str = "not_yet_treated", cluster: str | None = None, kinds: dict | None = None) -> Design:
    """Validated panel and cohort design of a simulated frame (whole time range as the window)."""
    out, freq, notes = validate_panel(df, name="simulated", unit="area", time="month", outcomes=["y"], outcome_kinds=kinds or {"y": "continuous"}, cluster=cluster, extra=["first"])
    panel = Panel(out, ["y"], kinds or {"y": "continuous"}, freq, source="simulated")
    periods = panel.period_labels
    return design_from_cohort_column(panel, "first", start=periods[0], end=periods[-1], comparison=comparison)




def cohort_index(n: int, cohorts) -> np.ndarray:
    """First treated period index per unit from ``((period, units), ...)``; -1 for the remaining (never treated)."""
    g = np.full(n, -1)
    k = 0
    for c, m in cohorts:
        g[k : k + m] = c
        k += m
    return g


def count_design(g: np.ndarray, y: np.ndarray, x: np.ndarray | None = None, start: str = "2018-01-01") -> tuple[Design, pd.DataFrame]:
    """SYNTHETIC monthly count panel (units x periods ``y``; optional time-varying control ``x``) as a design and its
    long frame (columns area, month, y, x, first)."""
    n, T = y.shape
    dates = pd.date_range(start, periods=T, freq="MS").strftime("%Y-%m-%d")
    first = np.where(g >= 0, dates[np.clip(g, 0, None)], "0")
    df = pd.DataFrame({"area": np.repeat([f"U{i:03d}" for i in range(n)], T), "month": np.tile(dates, n), "y": y.ravel(), "first": np.repeat(first, T)})
    controls = []
    if x is not None:
        df["x"] = x.ravel()
        controls = ["x"]
    out, freq, _ = validate_panel(df, name="sim", unit="area", time="month", outcomes=["y"], outcome_kinds={"y": "count"}, controls=controls or None, extra=["first"])
    panel = Panel(out, ["y"], {"y": "count"}, freq, source="sim", controls=controls)
    return design_from_cohort_column(panel, "first", start=panel.period_labels[0], end=panel.period_labels[-1]), df
