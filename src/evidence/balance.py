"""Baseline balance ("Table 1"): treated against comparison units before the first designation.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Baseline period
    Context: after the first designation, treated outcomes may carry the effect. Decision: the baseline is every
    period of the window before the first cohort's first treated period; levels are unit means over it and trends
    are each unit's least-squares slope over it, per year. Consequences: the table describes the areas as they
    were, not as treatment made them.
Standardised mean differences
    Context: with 14 treated units, t-tests of balance are uninformative. Decision: report the standardised mean
    difference (difference in means over the square root of the average of the two groups' variances; for shares of
    units, the binomial variances) and flag it at 0.1 and 0.25, the thresholds of the matching literature (Austin
    2009; Stuart 2010). Per-cohort means are shown without standardised differences (cohorts of one have no
    variance). Consequences: imbalance is described, not tested; the sensitivity set adjusts for what it shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .design import Design

FLAGS: tuple[float, float] = (0.1, 0.25)


def _smd(xt: np.ndarray, xc: np.ndarray, binary: bool = False) -> float:
    xt, xc = xt[np.isfinite(xt)], xc[np.isfinite(xc)]
    if len(xt) == 0 or len(xc) == 0:
        return float("nan")
    mt, mc = xt.mean(), xc.mean()
    if binary:
        vt, vc = mt * (1 - mt), mc * (1 - mc)
    else:
        vt = xt.var(ddof=1) if len(xt) > 1 else 0.0
        vc = xc.var(ddof=1) if len(xc) > 1 else 0.0
    sd = np.sqrt((vt + vc) / 2)
    return float((mt - mc) / sd) if sd > 0 else (0.0 if mt == mc else float("inf"))


def baseline_periods(design: Design) -> np.ndarray:
    """Period indexes before the first cohort's first treated period."""
    g = design.g
    first = int(np.nanmin(g)) if np.isfinite(g).any() else design.panel.n_periods
    return np.arange(max(first, 1))


def unit_baseline(design: Design, columns: list[str], periods_per_year: int | None = 12) -> pd.DataFrame:
    """Per unit: the baseline mean of each column and, for time-varying columns, its baseline slope per year."""
    panel = design.panel
    base = baseline_periods(design)
    out = pd.DataFrame(index=pd.Index(panel.units, name="unit"))
    t = base.astype(float)
    tc = t - t.mean()
    import warnings

    for c in columns:
        m = panel.data[c].to_numpy(dtype=float).reshape(panel.n_units, panel.n_periods)[:, base]
        with warnings.catch_warnings():  # a unit without the measure (all missing) gives NaN, as it should
            warnings.simplefilter("ignore", RuntimeWarning)
            out[c] = np.nanmean(m, axis=1)
            varies = np.nanmax(np.nanstd(m, axis=1)) > 0 if np.isfinite(m).any() else False
        if varies and len(base) >= 3:
            slope = (m - m.mean(axis=1, keepdims=True)) @ tc / (tc @ tc)
            out[f"{c} (trend per year)"] = slope * (periods_per_year or 1)
    return out


def balance_table(design: Design, outcomes: list[str], extra: pd.DataFrame | None = None, periods_per_year: int | None = 12) -> pd.DataFrame:
    """Table 1: treated (pooled) against comparison units at baseline, with standardised differences.

    Parameters
    ----------
    design
        The analysis design.
    outcomes
        Columns of the panel whose baseline levels and trends are compared (outcomes, population ...).
    extra
        Further unit-level variables (index = unit): covariates, age structure, programme exposure; 0/1 columns
        are compared as shares.
    periods_per_year
        To express trends per year.

    Returns
    -------
    pandas.DataFrame
        ``variable``, ``treated``, ``comparison``, ``smd``, ``flag`` (``""``, ``>= 0.1``, ``>= 0.25``), then the
        mean of each cohort (``cohort <label> (n)``), one row per variable; ``attrs``: ``baseline`` (the periods),
        ``n_treated``, ``n_comparison``.
    """
    panel = design.panel
    cols = [c for c in outcomes if c in panel.data.columns]
    ub = unit_baseline(design, cols, periods_per_year)
    units = panel.unit_table().set_index("unit")
    for c in panel.covariates:
        if c in units.columns and c not in ub.columns:
            ub[c] = units[c].reindex(ub.index).to_numpy(dtype=float)
    if "region" in panel.data.columns:
        reg = panel.data.loc[panel.data["t"] == 0].set_index("unit")["region"].reindex(ub.index).astype(str)
        for r in sorted(reg.unique()):
            ub[f"region: {r}"] = (reg == r).astype(float).to_numpy()
    if extra is not None:
        ub = ub.join(extra.reindex(ub.index))
    treated = design.treated
    info = design.included.set_index("unit").reindex(ub.index)
    labels = info["first_treated"].astype("string")
    rows = []
    for var in ub.columns:
        x = pd.to_numeric(ub[var], errors="coerce").to_numpy(dtype=float)
        binary = bool(np.isin(x[np.isfinite(x)], (0.0, 1.0)).all())
        xt, xc = x[treated], x[~treated]
        smd = _smd(xt, xc, binary)
        row: dict[str, Any] = {"variable": var, "kind": "share" if binary else "mean", "treated": float(np.nanmean(xt)) if len(xt) else np.nan, "comparison": float(np.nanmean(xc)) if len(xc) else np.nan, "smd": smd}
        a = abs(smd) if np.isfinite(smd) else 0.0
        row["flag"] = ">= 0.25" if a >= FLAGS[1] else (">= 0.1" if a >= FLAGS[0] else "")
        for lab in sorted(labels[treated].dropna().unique(), key=lambda s: panel.period_labels.index(s)):
            sel = (labels == lab).to_numpy() & treated
            row[f"cohort {lab} ({int(sel.sum())})"] = float(np.nanmean(x[sel]))
        rows.append(row)
    out = pd.DataFrame(rows)
    base = baseline_periods(design)
    out.attrs.update(baseline=(panel.period_labels[int(base[0])], panel.period_labels[int(base[-1])]), n_treated=int(treated.sum()), n_comparison=int((~treated).sum()))
    return out


def nhs_unit_extras(design: Design) -> pd.DataFrame:
    """Unit-level context for the built-in NHS panel: age structure (mid-2016) and overlapping-programme exposure."""
    from .data.population import POPULATION
    from .data.programmes import read_exposure

    pop = pd.read_csv(POPULATION)
    p16 = pop[pop["year"] == 2016].set_index("stp21_code")
    ages = pd.DataFrame({
        "% aged 0-17 (mid-2016)": 100 * p16["pop_0_17"] / p16["population"],
        "% aged 75+ (mid-2016)": 100 * p16["pop_75_plus"] / p16["population"],
        "population, millions (mid-2016)": p16["population"] / 1e6,
    })
    exp = read_exposure().set_index("stp21_code")
    prog = pd.DataFrame({
        "Integrated Care Pioneer (share of area)": exp["pioneer_share"],
        "New Care Models vanguard, area types (share of area)": exp["vanguard_area_share"],
        "acute care collaboration vanguard trust": exp["vanguard_acc"].astype(float),
        "Greater Manchester devolution": exp["gm_devolution"].astype(float),
        "A&E field-test trust (share of type-1 attendances 2018/19)": exp["field_test_share"],
        "any overlapping programme": exp["any_programme"].astype(float),
    })
    out = ages.join(prog, how="outer")
    out.index.name = "unit"
    return out.reindex(design.panel.units)
