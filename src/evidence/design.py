"""Design: from a validated panel and a treatment definition to cohorts, a window and a comparison group.

Vocabulary (as in the staggered difference-in-differences literature)
--------------------------------------------------------------------
cohort / first_treated
    The first period in which a unit counts as treated. Treatment is absorbing: once treated, always treated.
status
    ``treated`` (first treated inside the window), ``not_yet_treated`` (designated after the window ends, so
    untreated throughout it), ``never_treated`` (no designation at all) or ``excluded`` (with a reason).
comparison
    ``not_yet_treated``: units untreated at a given period (later cohorts before their treatment, and units untreated
    throughout the window). ``never_treated``: only units untreated throughout the window.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Units treated in the first period of the window
    Context: they have no pre-period, so no difference-in-differences can use them. Decision: drop them and say how
    many. Consequences: on the effective-date basis Greater Manchester (devolved budget April 2016) is dropped.
Designations after the window
    Decision: such units are untreated within the window and serve as comparisons (``not_yet_treated`` status).
    Consequences: with a window ending March 2019 all 42 footprints are eventually ICSs, so "never treated" means
    "not treated within the window"; the run says so.
Waves not counted as treated
    Decision: units whose first designation falls inside the window but in a wave not listed in
    ``treatment.waves`` are excluded (``treatment.other_waves: exclude``, default) or kept as comparisons
    (``comparison``). Consequences: the default keeps the comparison group free of ICS areas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .errors import DesignError, EvidenceError
from .panel import Panel, int_codes
from .periods import FREQ_CODES, first_treated_period, label, read_dates


def _plain(value: Any) -> Any:
    """numpy scalars as plain Python values, for messages."""
    return value.item() if isinstance(value, np.generic) else value

STATUSES: tuple[str, ...] = ("treated", "not_yet_treated", "never_treated", "excluded")


@dataclass
class Design:
    """Cohorts, window and comparison group over a validated panel.

    Attributes
    ----------
    panel
        The analysis panel: window applied, excluded units removed.
    cohorts
        One row per unit of the input panel (including excluded ones): ``unit``, ``unit_name``, ``status``,
        ``first_treated`` (period label or empty), ``g`` (0-based index of the first treated period in the analysis
        window; empty when untreated within it), ``wave``, ``designation_date``, ``scope``, ``confidence``,
        ``reason``.
    comparison
        ``not_yet_treated`` or ``never_treated``.
    window
        (first, last) period labels of the analysis window.
    notes
        What the design step did, in sentences for the reports.
    """

    panel: Panel
    cohorts: pd.DataFrame
    comparison: str
    window: tuple[str, str]
    notes: list[str] = field(default_factory=list)
    treatment_source: str = "designations"
    settings: dict[str, Any] = field(default_factory=dict)

    # -- per-unit arrays in panel.units order -----------------------------------------------------------------
    @cached_property
    def included(self) -> pd.DataFrame:
        """Cohort rows of the units in the analysis panel, in panel order."""
        c = self.cohorts[self.cohorts["status"] != "excluded"].set_index("unit")
        return c.loc[self.panel.units].reset_index()

    @cached_property
    def g(self) -> np.ndarray:
        """First treated period index per unit (``inf`` when untreated within the window)."""
        g = pd.to_numeric(self.included["g"], errors="coerce").to_numpy(dtype=float)
        return np.where(np.isnan(g), np.inf, g)

    @property
    def treated(self) -> np.ndarray:
        """Boolean per unit: treated within the window."""
        return np.isfinite(self.g)

    def treatment_matrix(self) -> np.ndarray:
        """Absorbing treatment indicator D (units x periods)."""
        t = np.arange(self.panel.n_periods)
        return (t[None, :] >= self.g[:, None]).astype(float)

    def event_time(self) -> np.ndarray:
        """t - g per unit and period (NaN for units untreated within the window)."""
        t = np.arange(self.panel.n_periods, dtype=float)
        e = t[None, :] - self.g[:, None]
        return np.where(np.isfinite(self.g)[:, None], e, np.nan)

    def only_cohort(self, cohort: str | None = None) -> "Design":
        """A design with one treated cohort (the earliest by default) and the units untreated throughout the window.

        Other cohorts are excluded (status ``excluded``, with the reason), so single-cohort methods (synthetic
        control, interrupted time series) compare that cohort only with clean comparison units.
        """
        labels = self.cohort_labels
        if not labels:
            raise DesignError("the design has no treated cohort.")
        cohort = labels[0] if cohort is None else str(cohort)
        if cohort not in labels:
            raise DesignError(f"cohort {cohort!r} is not in the design; choose from {', '.join(labels)}.")
        cohorts = self.cohorts.copy()
        other = (cohorts["status"] == "treated") & (cohorts["first_treated"] != cohort)
        cohorts.loc[other, "status"] = "excluded"
        cohorts.loc[other, "reason"] = f"treated in another cohort (analysis restricted to cohort {cohort})"
        keep = cohorts.loc[cohorts["status"] != "excluded", "unit"].to_numpy()
        notes = list(self.notes) + [f"Restricted to cohort {cohort}: {int(other.sum())} unit(s) of other cohorts excluded."]
        return Design(self.panel.subset(units=keep), cohorts, self.comparison, self.window, notes, self.treatment_source, dict(self.settings, cohort=cohort))

    def without_units(self, units: Any, reason: str) -> "Design":
        """The design with some units excluded (status ``excluded`` with the reason), panel restricted accordingly."""
        cohorts = self.cohorts.copy()
        drop = cohorts["unit"].isin(list(units)) & (cohorts["status"] != "excluded")
        cohorts.loc[drop, "status"] = "excluded"
        cohorts.loc[drop, "reason"] = reason
        keep = cohorts.loc[cohorts["status"] != "excluded", "unit"].to_numpy()
        notes = list(self.notes) + [f"{int(drop.sum())} unit(s) left out: {reason}."]
        return Design(self.panel.subset(units=keep), cohorts, self.comparison, self.window, notes, self.treatment_source, dict(self.settings))

    def truncate(self, last: int, why: str = "") -> "Design":
        """The design with its window ending at period index ``last`` (0-based): units first treated after it become
        not-yet-treated comparison units; cohorts left without a post-period are comparisons too.

        Used by fallbacks that need untreated units in every period (synthetic control with not-yet-treated donors,
        imputation when every unit is treated by the end of the window).
        """
        if not 0 <= last < self.panel.n_periods:
            raise DesignError(f"cannot end the window at period index {last}; the window has {self.panel.n_periods} periods.")
        if last == self.panel.n_periods - 1:
            return self
        cohorts = self.cohorts.copy()
        g = pd.to_numeric(cohorts["g"], errors="coerce")
        later = (cohorts["status"] == "treated") & (g > last)
        cohorts.loc[later, "status"] = "not_yet_treated"
        cohorts.loc[later, "g"] = pd.NA
        end = self.panel.period_labels[last]
        notes = list(self.notes) + [f"Window shortened to end in {end}{' (' + why + ')' if why else ''}: {int(later.sum())} unit(s) treated later serve as not-yet-treated comparisons."]
        return Design(self.panel.subset(t_max=last), cohorts, self.comparison, (self.window[0], end), notes, self.treatment_source, dict(self.settings))

    # -- summaries -------------------------------------------------------------------------------------------
    @property
    def cohort_labels(self) -> list[str]:
        return sorted(self.included.loc[self.treated, "first_treated"].unique().tolist(), key=lambda s: self.panel.period_labels.index(s))

    @property
    def n_treated(self) -> int:
        return int(self.treated.sum())

    @property
    def n_comparison(self) -> int:
        return int((~self.treated).sum())

    @property
    def is_staggered(self) -> bool:
        """More than one treated cohort."""
        return len(self.cohort_labels) > 1

    @cached_property
    def cluster_codes(self) -> np.ndarray:
        """Integer cluster code per unit (0..G-1), in panel order."""
        return pd.factorize(self.panel.unit_table()["cluster"].to_numpy())[0]

    @property
    def n_clusters(self) -> int:
        return int(self.panel.data["cluster"].nunique())

    @property
    def n_treated_clusters(self) -> int:
        clusters = self.panel.unit_table()["cluster"].to_numpy()
        return int(pd.unique(clusters[self.treated]).size)

    def cohort_sizes(self) -> pd.DataFrame:
        """Units per cohort, with the waves they come from; comparison units last."""
        inc = self.included
        tr = inc[self.treated]
        rows = (
            tr.groupby("first_treated", sort=False)
            .agg(units=("unit", "size"), waves=("wave", lambda s: ", ".join(sorted({str(int(w)) for w in s.dropna()}))))
            .reset_index()
            .rename(columns={"first_treated": "cohort"})
        )
        rows["order"] = rows["cohort"].map(lambda s: self.panel.period_labels.index(s))
        rows = rows.sort_values("order").drop(columns="order")
        comp = inc[~self.treated]
        extra = []
        for status in ("not_yet_treated", "never_treated"):
            n = int((comp["status"] == status).sum())
            if n:
                extra.append({"cohort": f"comparison ({status.replace('_', ' ')})", "units": n, "waves": ", ".join(sorted({str(int(w)) for w in comp.loc[comp['status'] == status, 'wave'].dropna()}))})
        n_ex = int((self.cohorts["status"] == "excluded").sum())
        if n_ex:
            extra.append({"cohort": "excluded", "units": n_ex, "waves": ""})
        return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)

    def describe(self) -> str:
        """One paragraph describing the design, generated from the cohorts."""
        sizes = self.cohort_sizes()
        tr = sizes[~sizes["cohort"].str.startswith(("comparison", "excluded"))]
        parts = [f"{int(r.units)} from {r.cohort}" for r in tr.itertuples()]
        text = (
            f"{self.n_treated} of {self.panel.n_units} units are treated within the window {self.window[0]} to {self.window[1]}"
            f" in {len(tr)} cohort{'s' if len(tr) != 1 else ''} ({'; '.join(parts) if parts else 'none'});"
            f" {self.n_comparison} unit{'s are' if self.n_comparison != 1 else ' is'} untreated throughout the window"
        )
        n_nyt = int((self.included["status"] == "not_yet_treated").sum())
        if n_nyt:
            text += f" ({n_nyt} designated only after it)"
        n_ex = int((self.cohorts["status"] == "excluded").sum())
        text += f"; {n_ex} excluded." if n_ex else "."
        text += f" Comparison group: {self.comparison.replace('_', '-')} units."
        if self.is_staggered:
            text += (
                " Treatment timing is staggered, so a single two-way fixed effects coefficient mixes comparisons of later"
                " cohorts against already-treated ones; the staggered-adoption estimators (Callaway-Sant'Anna, Sun-Abraham,"
                " imputation) avoid those comparisons."
            )
        return text


# ---------------------------------------------------------------------------------------------------------------
def _to_period(value: Any, frequency: str, last: bool = False) -> pd.Period:
    """A window end point as a Period: dates, years (2017), financial years (2017/18 or 2017-04).

    A financial year on a monthly, quarterly or calendar-year panel starts at its first period (April 2017) and, as the
    window's end (``last``), ends at its last (March 2018).
    """
    text = str(value)
    if frequency == "fy":
        if "/" in text:
            text = text.split("/")[0] + "-04"
        elif len(text) == 4:
            text = text + "-04"  # a bare year means the financial year starting in April of that year
    elif "/" in text:
        return pd.Period(text.split("/")[0] + "-04", FREQ_CODES["fy"]).asfreq(FREQ_CODES[frequency], how="end" if last else "start")
    return pd.Period(text, FREQ_CODES[frequency])


def _window(panel: Panel, start: Any, end: Any) -> tuple[int, int, str | None]:
    """Indexes of the window's first and last period in the panel, and a note when the window was cut to the data."""
    periods = panel.periods
    if panel.frequency == "integer":
        if not isinstance(start, int) or not isinstance(end, int):
            raise DesignError(f"design.start/design.end ({start}, {end}) must be integers because the panel's time column holds integers (such as years).")
        vals = periods.astype(int)
        s, e = start, end
        idx_s = int(np.searchsorted(vals, s, side="left"))
        idx_e = int(np.searchsorted(vals, e, side="right")) - 1
    else:
        if (isinstance(start, int) or isinstance(end, int)) and panel.frequency not in ("year", "fy"):
            raise DesignError(f"design.start/design.end ({start}, {end}) must be dates such as 2016-04 because the panel's time column holds dates.")
        code = FREQ_CODES[panel.frequency]
        ps, pe = _to_period(start, panel.frequency), _to_period(end, panel.frequency, last=True)
        ordinals = np.asarray([p.ordinal for p in periods])
        idx_s = int(np.searchsorted(ordinals, ps.ordinal, side="left"))
        idx_e = int(np.searchsorted(ordinals, pe.ordinal, side="right")) - 1
    first, last = label(periods[0], panel.frequency), label(periods[-1], panel.frequency)
    if idx_s >= len(periods) or idx_e < 0 or idx_e < idx_s:
        raise DesignError(f"design.start/design.end ({start} to {end}) select no period of the data, which runs {first} to {last}; choose a window inside it.")
    clipped = []
    if panel.frequency == "integer":
        if start < int(periods[0]):
            clipped.append(f"design.start {start} is before the first period of the data ({first})")
        if end > int(periods[-1]):
            clipped.append(f"design.end {end} is after the last period of the data ({last})")
    else:
        if ps.ordinal < periods[0].ordinal:
            clipped.append(f"design.start {start} is before the first period of the data ({first})")
        if pe.ordinal > periods[-1].ordinal:
            clipped.append(f"design.end {end} is after the last period of the data ({last})")
    note = "; ".join(clipped) + f": the window used is {label(periods[idx_s], panel.frequency)} to {label(periods[idx_e], panel.frequency)}." if clipped else None
    if idx_e - idx_s + 1 < 2:
        raise DesignError(f"design.start/design.end ({start} to {end}) select a single period; a difference-in-differences needs at least two.")
    return idx_s, idx_e, note


def _labels_of(ordinals: np.ndarray, freq: str) -> np.ndarray:
    """Period labels of per-unit period ordinals (integer periods or ``Period.ordinal``; "" where NaN), each distinct
    period labelled once."""
    out = np.full(len(ordinals), "", dtype=object)
    has = ~np.isnan(ordinals)
    if has.any():
        uniq, inv = np.unique(ordinals[has], return_inverse=True)
        names = [label(int(v) if freq == "integer" else pd.Period(ordinal=int(v), freq=FREQ_CODES[freq]), freq) for v in uniq]
        out[has] = np.asarray(names, dtype=object)[inv]
    return out


def _unit_names(panel: Panel) -> Any:
    """The panel's units as a text array (``str``), in panel order, taken from the period-0 rows without converting
    Python objects."""
    return panel.data.loc[panel.data["t"].to_numpy() == 0, "unit"].array.astype("str")


def _same_order(index: pd.Index, units: np.ndarray) -> bool:
    """Whether an index already lists the panel's units in order (so a reindex would change nothing)."""
    return len(index) == len(units) and bool(np.array_equal(index.to_numpy(dtype=object), units))


def _finalise(panel: Panel, unit_info: pd.DataFrame, first: pd.Series, comparison: str, start: Any, end: Any, notes: list[str], source: str, settings: dict[str, Any]) -> Design:
    """Common last step: window, status, first-period drops, comparison-group checks.

    ``first`` holds each unit's first treated period over the whole data (Period / int, or missing) indexed by unit.
    """
    idx_s, idx_e, window_note = _window(panel, start, end)
    if window_note:
        notes.append(window_note)
    win = panel.subset(t_min=idx_s, t_max=idx_e)
    periods = win.periods
    freq = panel.frequency
    t_first = periods[0]
    t_last = periods[-1]
    units = panel.units
    info = unit_info.set_index("unit")
    info = info if _same_order(info.index, units) else info.reindex(units)
    reason = (info["reason"].fillna("") if "reason" in info else pd.Series("", index=info.index)).to_numpy(dtype=object)
    f = first if _same_order(first.index, units) else first.reindex(units)
    # per-unit arrays (no Series alignment: thousands of units at every step)
    has = f.notna().to_numpy()
    excluded = info["status"].isin(["excluded"]).to_numpy() if "status" in info else np.zeros(len(info), dtype=bool)
    status = np.where(excluded, "excluded", np.where(has, "treated", "never_treated")).astype(object)
    f_ord = np.full(len(f), np.nan)
    if freq == "integer":
        f_ord[has] = np.asarray(f.to_numpy()[has], dtype=float)
        first_ord, last_ord = float(t_first), float(t_last)
        win_ord = periods.astype(float)
    else:
        f_ord[has] = f.array.asi8[has] if isinstance(f.dtype, pd.PeriodDtype) else [p.ordinal for p in f[has]]
        first_ord, last_ord = float(t_first.ordinal), float(t_last.ordinal)
        win_ord = np.asarray([p.ordinal for p in periods], dtype=float)
    after = has & (f_ord > last_ord) & ~excluded
    status[after] = "not_yet_treated"
    at_start = has & (f_ord <= first_ord) & (status == "treated")
    if at_start.any():
        status[at_start] = "excluded"
        reason[at_start] = "treated in or before the first period of the window (no pre-period)"
        names = ", ".join(info.index[at_start][:4])
        notes.append(f"Dropped {int(at_start.sum())} unit(s) treated in or before the first period of the window ({label(t_first, freq)}), which leaves them no pre-period: {names}{' ...' if at_start.sum() > 4 else ''}.")
    in_win = status == "treated"
    g = pd.arrays.IntegerArray(np.where(in_win, np.searchsorted(win_ord, np.where(in_win, f_ord, win_ord[0])), 0).astype("int64"), ~in_win)
    cohorts = pd.DataFrame(
        {
            "unit": info.index,
            "unit_name": info["unit_name"] if "unit_name" in info else pd.NA,
            "status": status,
            "first_treated": _labels_of(f_ord, freq),
            "g": g,
            "wave": pd.array(info["wave"], dtype="Int64") if "wave" in info else pd.NA,
            "designation_date": info["designation_date"] if "designation_date" in info else pd.NA,
            "scope": info["scope"] if "scope" in info else pd.NA,
            "confidence": info["confidence"] if "confidence" in info else pd.NA,
            "reason": reason,
        }
    ).reset_index(drop=True)
    kept = status != "excluded"
    win = win if kept.all() else win.subset(units=cohorts.loc[kept, "unit"].to_numpy())
    n_tr = int((status == "treated").sum())
    n_cmp = int(((status == "not_yet_treated") | (status == "never_treated")).sum())
    if n_tr == 0:
        fix = "change treatment.waves" if source == "designations" else f"check the {source}"
        raise DesignError(f"no unit is treated inside the window {label(t_first, freq)} to {label(t_last, freq)}; widen design.start/design.end or {fix}.")
    if comparison == "never_treated" and n_cmp == 0:
        raise DesignError("design.comparison is never_treated but every unit is treated within the window; use design.comparison: not_yet_treated or extend the data.")
    if n_cmp == 0:
        notes.append("No unit is untreated throughout the window: only later cohorts before their treatment serve as comparisons, so the last cohort's post-treatment periods have no comparison.")
    if n_cmp and not (status == "never_treated").any():
        notes.append(f"All {n_cmp} comparison units are designated after the window: within it they are untreated, so they act as never-treated units.")
    return Design(win, cohorts, comparison, (label(t_first, freq), label(t_last, freq)), notes, source, settings)


def design_from_designations(
    panel: Panel,
    table: pd.DataFrame,
    *,
    date_basis: str = "announced",
    partial: str = "treat",
    waves: list[int] | tuple[int, ...] = (1, 2),
    other_waves: str = "exclude",
    disputed_dates: str = "primary",
    first_period: str = "first_full",
    start: Any,
    end: Any,
    comparison: str = "not_yet_treated",
) -> Design:
    """Cohorts from the ICS designation table (see the module's decisions and the ``treatment.*`` parameters)."""
    if panel.frequency == "integer":
        raise DesignError("treatment.designations needs dated periods but the panel's time column holds integers; give treatment.cohort or treatment.indicator instead.")
    t = table.copy()
    date_col = date_basis
    t["date"] = t[date_col]
    t["precision"] = t[f"{date_col}_precision"]
    if date_basis == "effective" and disputed_dates == "alternative":
        alt = t["effective_alt"].notna()
        t.loc[alt, "date"] = t.loc[alt, "effective_alt"]
        t.loc[alt, "precision"] = t.loc[alt, "effective_alt_precision"]
    notes: list[str] = []
    units = pd.Index(panel.units)
    ut0 = panel.unit_table()
    known = set(ut0["area"]) if "area" in ut0.columns else set(units)
    unknown = sorted(set(t["stp21_code"]) - known)
    if unknown:
        notes.append(f"{len(unknown)} designated area(s) are not in the panel and were ignored: {', '.join(unknown[:5])}.")
    # units may be areas themselves (footprints) or nested in areas (practices, ICB x deprivation cells): designations
    # are matched through the panel's `area` column when it has one
    ut = panel.unit_table()
    area = pd.Index(ut.set_index("unit").reindex(units)["area"].to_numpy() if "area" in ut.columns else units)
    t = t[t["stp21_code"].isin(area)]
    t = t.sort_values(["date", "wave"], kind="stable")
    first_any = t.groupby("stp21_code", sort=False).head(1).set_index("stp21_code")
    whole = t[t["scope"] == "whole"].groupby("stp21_code", sort=False).head(1).set_index("stp21_code")
    chosen = whole if partial == "whole_only" else first_any
    chosen = chosen.reindex(area)
    first_any = first_any.reindex(area)
    first_any.index = units
    info = pd.DataFrame({"unit": units})
    info["unit_name"] = panel.unit_table().set_index("unit").reindex(units)["unit_name"].to_numpy() if "unit_name" in panel.data else pd.NA
    info["wave"] = chosen["wave"].to_numpy()
    info["designation_date"] = chosen["date"].dt.strftime("%Y-%m-%d").to_numpy()
    info["scope"] = chosen["scope"].to_numpy()
    info["confidence"] = chosen["confidence"].to_numpy()
    info["status"] = pd.NA
    info["reason"] = ""
    if partial == "exclude":
        part = first_any["scope"].eq("partial").to_numpy()
        info.loc[part, "status"] = "excluded"
        info.loc[part, "reason"] = "first designation covered only part of the footprint (treatment.partial: exclude)"
        if part.any():
            notes.append(f"Excluded {int(part.sum())} footprint(s) whose first designation covered only part of the footprint (treatment.partial: exclude).")
    elif partial == "treat":
        part = first_any["scope"].eq("partial")
        if part.any():
            notes.append(f"{int(part.sum())} footprint(s) count as treated from a designation covering only part of the footprint (treatment.partial: treat), which dilutes any effect: {', '.join(part.index[part][:5])}.")
    first = first_treated_period(chosen["date"].reset_index(drop=True), chosen["precision"].reset_index(drop=True), panel.frequency, first_period)
    first.index = units
    # waves not counted as treated
    _, idx_e, _ = _window(panel, start, end)
    last_ord = panel.periods[idx_e].ordinal
    counted = chosen["wave"].isin(list(waves)).to_numpy()
    chosen = chosen.set_axis(units)
    has = first.notna().to_numpy()
    ords = np.array([p.ordinal if pd.notna(p) else np.nan for p in first], dtype=float)
    inside = has & (ords <= last_ord)
    other = inside & ~counted & (info["status"] != "excluded").to_numpy()
    if other.any():
        if other_waves == "exclude":
            info.loc[other, "status"] = "excluded"
            info.loc[other, "reason"] = "designated inside the window in a wave not counted as treated (treatment.other_waves: exclude)"
            notes.append(f"Excluded {int(other.sum())} unit(s) designated inside the window in waves not counted as treated (treatment.waves: {list(waves)}).")
        else:
            first[other] = pd.NA
            notes.append(f"{int(other.sum())} unit(s) designated inside the window in waves not counted as treated are used as comparison units (treatment.other_waves: comparison), although they became ICSs.")
    settings = dict(date_basis=date_basis, partial=partial, waves=list(waves), other_waves=other_waves, disputed_dates=disputed_dates, first_period=first_period)
    return _finalise(panel, info, first, comparison, start, end, notes, "designations", settings)


def _unit_constant(panel: Panel, column: str, what: str) -> pd.Series:
    grid = panel.layout()
    if grid is not None:  # validated layout: compare each unit's row of codes (missing = -1, a value of its own)
        col = panel.data[column]
        codes = (int_codes(col.to_numpy()) if pd.api.types.is_integer_dtype(col.dtype) and not col.hasnans else pd.factorize(col))[0].reshape(grid)
        varies = (codes != codes[:, :1]).any(axis=1)
        rows = panel.data.loc[panel.data["t"].to_numpy() == 0, ["unit", column]]
        if varies.any():
            raise DesignError(f"column '{column}' ({what}) changes over time for unit {panel.units[int(np.argmax(varies))]}; give each unit one first-treated period on every row.")
        return pd.Series(rows[column].array, index=pd.Index(rows["unit"].array.astype("str"), name="unit"), name=column)
    vals = panel.data[[ "unit", column]]
    nun = vals.groupby("unit", sort=False)[column].nunique(dropna=False)
    if (nun > 1).any():
        raise DesignError(f"column '{column}' ({what}) changes over time for unit {nun[nun > 1].index[0]}; give each unit one first-treated period on every row.")
    return vals.groupby("unit", sort=False)[column].first().reindex(panel.units)


def design_from_cohort_column(panel: Panel, column: str, *, start: Any, end: Any, comparison: str = "not_yet_treated", first_period: str | None = None) -> Design:
    """Cohorts from a column holding each unit's first treated period (0, blank or inf = never treated).

    Dates that are not the first day of a period (a designation date of 2017-06-15 in annual or financial-year data)
    need a rule: ``first_period`` ``first_full`` (the first whole period after the date) or ``containing``; without
    one they are refused rather than silently assigned to the period containing them.
    """
    raw = _unit_constant(panel, column, "treatment.cohort")
    never = raw.isna() | raw.astype(str).str.strip().str.lower().isin(["", "0", "0.0", "inf", "+inf", "infinity"])  # R writes Inf
    first = pd.Series(pd.NA, index=raw.index, dtype="object")
    notes: list[str] = []
    if panel.frequency == "integer":
        vals = pd.to_numeric(raw[~never], errors="coerce")
        if vals.isna().any() or (vals % 1 != 0).any():
            raise DesignError(f"column '{column}' (treatment.cohort) has {_plain(raw[~never][vals.isna() | (vals % 1 != 0)].iloc[0])!r}; give the first treated period as a whole number like the time column, or 0 for never treated.")
        values = first.to_numpy(copy=True)  # filled as an array: a masked assignment to an object Series is slow
        values[~never.to_numpy()] = vals.astype(int).to_numpy()
        first = pd.Series(values, index=raw.index, dtype="object")
        periods = panel.periods.astype(int)
        off = ~np.isin(vals.astype(int), periods) & (vals.astype(int) >= periods.min()) & (vals.astype(int) <= periods.max())
        if off.any():
            raise DesignError(f"column '{column}' (treatment.cohort) has {int(vals[off].iloc[0])}, which is not a period of the data; use one of the time column's values.")
    else:
        try:  # the forms a time column may take (evidence.periods.read_dates), said in a note
            dates, how = read_dates(raw[~never].astype(str), name="treatment.cohort", column=column)
        except EvidenceError as exc:
            raise DesignError(f"{exc} Never-treated units take 0 or an empty cell.") from None
        notes += [how] if how else []
        if dates.isna().any():
            raise DesignError(f"column '{column}' (treatment.cohort) has {_plain(raw[~never][dates.isna()].iloc[0])!r}, which is not a date; give the first treated period as YYYY-MM-DD, or 0/blank for never treated.")
        per = dates.dt.to_period(FREQ_CODES[panel.frequency])
        inside = per.dt.start_time != dates
        if inside.any():
            if first_period is None:
                example = raw[~never][inside].iloc[0]
                raise DesignError(f"column '{column}' (treatment.cohort) has dates inside {panel.frequency} periods (for example {_plain(example)}); set treatment.first_period to first_full (the first whole period after the date) or containing (the period containing it).")
            per = first_treated_period(dates, pd.Series("day", index=dates.index), panel.frequency, first_period)
        first = per.reindex(raw.index)  # period dtype, NaT where never treated (no Period objects per unit)
    info = pd.DataFrame({"unit": _unit_names(panel)})
    if "unit_name" in panel.data:
        info["unit_name"] = panel.unit_table().set_index("unit").reindex(panel.units)["unit_name"].to_numpy()
    return _finalise(panel, info, first, comparison, start, end, notes, "cohort column", {"cohort": column})


def design_from_indicator(panel: Panel, column: str, *, start: Any, end: Any, comparison: str = "not_yet_treated") -> Design:
    """Cohorts from an absorbing 0/1 treatment indicator column (first period with 1 = cohort)."""
    d = pd.to_numeric(panel.data[column], errors="coerce")
    bad = ~d.isin([0, 1])
    if bad.any():
        r = panel.data.loc[bad].iloc[0]
        raise DesignError(f"column '{column}' (treatment.indicator) has {_plain(r[column])!r} for unit {r['unit']}; the indicator must be 0 or 1.")
    mat = d.to_numpy(dtype=float).reshape(panel.n_units, panel.n_periods)
    off = np.diff(mat, axis=1) < 0
    if off.any():
        i, j = np.argwhere(off)[0]
        raise DesignError(f"column '{column}' (treatment.indicator) switches from 1 back to 0 for unit {panel.units[i]} at {label(panel.periods[j + 1], panel.frequency)}; designs here need absorbing treatment (once treated, always treated).")
    ever = mat.max(axis=1) == 1
    first_idx = np.argmax(mat == 1, axis=1)
    periods = panel.periods
    if panel.frequency == "integer":
        values = np.full(len(ever), pd.NA, dtype=object)
        values[ever] = periods[first_idx[ever]]
        first = pd.Series(values, index=panel.units, dtype="object")
    else:  # period dtype, NaT where never 1
        ordinals = pd.PeriodIndex(periods).asi8[first_idx]
        first = pd.Series(pd.PeriodIndex.from_ordinals(np.where(ever, ordinals, np.iinfo(np.int64).min), freq=FREQ_CODES[panel.frequency]), index=panel.units)
    info = pd.DataFrame({"unit": _unit_names(panel)})
    if "unit_name" in panel.data:
        info["unit_name"] = panel.unit_table().set_index("unit").reindex(panel.units)["unit_name"].to_numpy()
    notes = []
    if ever.any() and (first_idx[ever] == 0).any():
        notes.append("Units with the indicator already 1 in the first period of the data may have been treated earlier; their cohort is the first period observed.")
    return _finalise(panel, info, first, comparison, start, end, notes, "indicator column", {"indicator": column})


_MISSING_MODES = {"error": "error", "drop_units": "drop", "allow": "allow"}


def from_frame(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str | list[str],
    cohort: str,
    start: Any = None,
    end: Any = None,
    comparison: str = "not_yet_treated",
    cluster: str | None = None,
    controls: list[str] | None = None,
    covariates: list[str] | None = None,
    outcome_kinds: dict[str, str] | None = None,
    first_period: str | None = None,
    missing: str = "error",
    name: str = "data frame",
) -> Design:
    """A validated design from a long DataFrame: one row per unit and period, with the unit's first treated period.

    The same steps as a workbook run on a user's file (``data.*`` and ``treatment.cohort`` parameters): the table is
    validated (:func:`evidence.panel.validate_panel`: duplicates, gaps, balance, numeric outcomes, clusters that
    contain whole units ...; each problem is a one-line :class:`~evidence.errors.DataError` naming the column), then
    the cohorts, window and comparison group are set (:func:`design_from_cohort_column`). The result feeds every
    design-based estimator: ``evidence.did.twfe``, ``evidence.did.event_study``, ``evidence.synth.sdid``,
    ``evidence.staggered.sun_abraham``, ``evidence.staggered.imputation``, ``evidence.staggered.cs``.

    Parameters
    ----------
    df
        Long table, one row per unit and period.
    unit, time
        Column names of the unit identifier and the period: whole numbers (years, or any evenly spaced index) or
        dates (first day of a month, quarter, year or April-March financial year; text as YYYY-MM-DD and the
        spreadsheet forms :func:`evidence.periods.read_dates` reads).
    outcome
        Outcome column name, or several.
    cohort
        Column holding each unit's first treated period in the units of ``time`` (0, blank or ``inf`` = never
        treated); constant within a unit.
    start, end
        Analysis window (periods as in ``time``, or labels such as ``2016-04``); ``None`` = the data's first / last
        period.
    comparison
        ``not_yet_treated`` (default) or ``never_treated``.
    cluster
        Column of clusters containing whole units (default: the unit).
    controls, covariates
        Time-varying controls (``data.controls``) and baseline covariates (``data.covariates``).
    outcome_kinds
        ``count`` | ``continuous`` | ``percent`` | ``proportion`` per outcome; default ``continuous`` (no range check).
    first_period
        Rule for cohort dates inside a period: ``first_full`` or ``containing`` (``treatment.first_period``).
    missing
        ``error`` (default), ``drop_units`` or ``allow`` (``data.missing``).
    name
        How messages name the table.

    Returns
    -------
    Design

    Examples
    --------
    >>> from evidence.design import from_frame
    >>> from evidence.did import event_study
    >>> design = from_frame(df, unit="id", time="year", outcome="y", cohort="first_treated")  # doctest: +SKIP
    >>> event_study(design, "y", window=(-5, 5)).tidy()  # doctest: +SKIP

    Notes
    -----
    Context: benchmarks and users outside the workbook built designs from the internal steps (validate_panel, Panel,
    design_from_cohort_column), whose arguments are not a stable interface. Decision: one documented function with the
    parameters' names, the signature pinned by tests/test_api_signatures.py. Consequences: about 0.1-0.2 s per million
    rows (bench/results/design.md); the design carries the validation notes in ``design.panel.notes``.
    """
    from .errors import ParamsError
    from .panel import validate_panel

    if missing not in _MISSING_MODES:
        raise ParamsError(f"missing={missing!r} is not one of {', '.join(_MISSING_MODES)} (data.missing).")
    if comparison not in ("not_yet_treated", "never_treated"):
        raise ParamsError(f"comparison={comparison!r} is not one of not_yet_treated, never_treated (design.comparison).")
    if cohort not in df.columns:
        from .errors import DataError

        raise DataError(f"{name}: column '{cohort}' (from cohort=, the first treated period) is missing; the table has columns {', '.join(map(str, list(df.columns)[:12]))}{' ...' if df.shape[1] > 12 else ''}.")
    outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
    kinds = {o: (outcome_kinds or {}).get(o, "continuous") for o in outcomes}
    out, freq, notes = validate_panel(df, name=name, unit=unit, time=time, outcomes=outcomes, outcome_kinds=kinds, cluster=cluster, covariates=covariates, controls=controls, extra=[cohort], balance=_MISSING_MODES[missing], param_prefix="data")
    columns = {"unit": unit, "time": time, **({"cluster": cluster} if cluster else {})}
    panel = Panel(out, outcomes, kinds, freq, list(covariates or []), source=name, notes=notes, columns=columns, controls=list(controls or []))
    ends = []
    for i, value in enumerate((start, end)):
        if value is None:  # the data's own first / last period, in a form design.start/design.end accept
            per = panel.periods[-i]
            value = int(per) if freq == "integer" else panel.period_labels[-i] if freq == "fy" else per.start_time.strftime("%Y-%m")
        ends.append(value)
    return design_from_cohort_column(panel, cohort, start=ends[0], end=ends[1], comparison=comparison, first_period=first_period)
