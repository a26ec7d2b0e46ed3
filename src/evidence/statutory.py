"""Statutory ICSs (July 2022): a descriptive national series with placebo break dates — not a causal analysis.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Descriptive, not causal
    Context: on 1 July 2022 every footprint became a statutory ICS at once, with no concurrent comparison; the same
    year brought the abolition of CCGs, a record winter, industrial action and the recovery from COVID. Decision: the
    national series is described with a segmented trend (log rate, linear trend, month-of-year effects) broken at July
    2022 and, the same way, at placebo dates a year earlier and later; no standard error or p-value is computed, and
    every output says "descriptive, not causal". Consequences: a reader sees whether the July 2022 change stands out
    from the changes at dates when nothing was designated — which is all the data can say.
The COVID break
    Context: March 2020 - March 2021 is a break in every series. Decision: those months are left out of every fit and
    shaded in the figure; fits use April 2016 - February 2020 and April 2021 onwards. Consequences: the pre-2022 trend
    is estimated across the gap, assuming a common trend before and after it.
Trajectories by wave
    Decision: after July 2022, each wave group's mean rate (footprints unweighted) is indexed to its own 2019/20
    mean (= 100); longer ICS experience (waves 1-3) against shorter (4-5) and shortest (6). Consequences: descriptive;
    they would be causal only under parallel trends between the groups from 2019/20 on, including through the
    pandemic and its uneven recovery, and with no other difference that changed after 2022 — assumptions the report
    states rather than tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .results import EstimateResult

STATUTORY = "2022-07"
PLACEBOS: tuple[str, ...] = ("2021-07", "2023-07")
COVID: tuple[str, str] = ("2020-03", "2021-03")
CAVEAT = "Descriptive, not causal: July 2022 also brought the abolition of CCGs, a record winter, strikes and the COVID recovery, and every footprint changed at once (no comparison)."


def national_series(panel: Any, count: str, denominator: str = "population") -> pd.Series:
    """England's rate per 100,000 by month: the footprints' counts summed over their summed denominator."""
    d = panel.data
    g = d.groupby("time")[[count, denominator]].sum()
    s = 1e5 * g[count] / g[denominator]
    s.index = pd.PeriodIndex([str(p) for p in s.index], freq="M")
    return s.rename(f"{count}_per_100k")


def _design(months: pd.PeriodIndex, break_at: pd.Period | None) -> np.ndarray:
    t = (months - months[0]).map(lambda x: x.n).to_numpy(dtype=float) / 12.0  # years
    cols = [np.ones(len(t)), t]
    moy = months.month.to_numpy()
    cols += [(moy == m).astype(float) for m in range(2, 13)]
    if break_at is not None:
        tb = (break_at - months[0]).n / 12.0
        D = (t >= tb - 1e-9).astype(float)
        cols += [D, D * (t - tb)]
    return np.column_stack(cols)


def segmented_break(series: pd.Series, break_at: str, exclude: tuple[str, str] = COVID) -> dict[str, float]:
    """Level change (%) and slope change (% per year) of a log series at ``break_at``, fitted by least squares on the
    months outside ``exclude`` (see the module's decisions); no inference."""
    months = series.index
    keep = ~((months >= pd.Period(exclude[0], "M")) & (months <= pd.Period(exclude[1], "M")))
    X = _design(months, pd.Period(break_at, "M"))
    y = np.log(series.to_numpy(dtype=float))
    beta, *_ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
    level, slope = beta[-2], beta[-1]
    return {"level_change_pct": float(100 * np.expm1(level)), "slope_change_pct_per_year": float(100 * np.expm1(slope)), "months_fitted": int(keep.sum())}


class StatutoryResult(EstimateResult):
    """Descriptive break estimates at the statutory date and at placebo dates (no standard errors)."""

    def plot(self, ax: Any = None) -> Any:
        from . import plots

        return plots.statutory_series(self.details["series"], self.details["breaks"], ax=ax)


def statutory_breaks(panel: Any, counts: list[str], placebos: tuple[str, ...] = PLACEBOS) -> list[StatutoryResult]:
    """For each count, England's rate per 100,000 broken at July 2022 and at the placebo dates (descriptive)."""
    out = []
    for c in counts:
        s = national_series(panel, c)
        if s.index.max() < pd.Period(max((STATUTORY, *placebos)), "M") + 6:
            continue
        rows, breaks = [], []
        for label, date in [("statutory", STATUTORY)] + [("placebo", p) for p in placebos]:
            b = segmented_break(s, date)
            breaks.append((label, date))
            for est, v in (("level_change_pct", b["level_change_pct"]), ("slope_change_pct_per_year", b["slope_change_pct_per_year"])):
                rows.append({"method": "descriptive_break", "outcome": s.name, "estimand": est, "group": f"{label} {date}", "estimate": v, "n_obs": b["months_fitted"], "n_units": int(panel.n_units)})
        out.append(StatutoryResult(pd.DataFrame(rows), method="descriptive_break", outcome=str(s.name), estimand="level_change_pct", description=CAVEAT, details={"series": s, "breaks": breaks}))
    return out


def trajectories_by_wave(panel: Any, table: pd.DataFrame, count: str, baseline: tuple[str, str] = ("2019-04", "2020-02")) -> pd.DataFrame:
    """After July 2022: each wave group's mean rate per 100,000 (footprints unweighted), indexed to its own
    pre-pandemic 2019/20 mean (= 100), by financial year.

    ``table``: each footprint's first designation wave (``stp21_code``, ``wave``)."""
    d = panel.data[["unit", "time", count, "population"]].copy()
    d["rate"] = 1e5 * d[count] / d["population"]
    d["month"] = pd.PeriodIndex([str(p) for p in d["time"]], freq="M")
    first = table.sort_values("wave").drop_duplicates("stp21_code").set_index("stp21_code")["wave"]
    group = {1: "waves 1-3 (ICS from 2017-2019)", 2: "waves 1-3 (ICS from 2017-2019)", 3: "waves 1-3 (ICS from 2017-2019)", 4: "waves 4-5 (2020)", 5: "waves 4-5 (2020)", 6: "wave 6 (April 2021)"}
    d["group"] = d["unit"].astype(str).map(first).map(group)
    base = d[(d["month"] >= pd.Period(baseline[0], "M")) & (d["month"] <= pd.Period(baseline[1], "M"))].groupby("group")["rate"].mean()
    post = d[d["month"] >= pd.Period(STATUTORY, "M")].copy()
    post["fin_year"] = post["month"].map(lambda m: f"{m.year if m.month >= 4 else m.year - 1}/{(m.year + 1 if m.month >= 4 else m.year) % 100:02d}")
    t = post.groupby(["group", "fin_year"])["rate"].mean().unstack("fin_year")
    t = 100 * t.div(base, axis=0)
    n = d.drop_duplicates("unit").groupby("group").size()
    t.insert(0, "footprints", n.reindex(t.index))
    return t.reset_index()
