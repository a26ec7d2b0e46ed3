"""``evidence init DATA_FILE``: a starter parameters file for a user's own panel.

The starter reads a CSV or Parquet file (one row per unit and period), works out which column is the unit, which the
period (and its frequency), which the treatment and which the outcomes, and writes a parameters file that says, on
each line, what it found and why. Where the data do not decide a choice the candidates are listed in a comment and
the value is a placeholder beginning ``CHOOSE`` that ``evidence validate`` refuses in one line, so an undecided file
cannot run. Keys a user must decide in any case (title, outcomes and their kinds, the analysis window, the comparison
group, the primary outcome) carry a ``CHECK`` comment.

Detection rules
---------------
unit
    A text or whole-number column with at least two distinct values, each appearing on two rows or more, that
    together with the period identifies every row. Columns naming the same units (one-to-one) are one choice: a
    ``code``/``id`` column is the unit and a ``name`` column its ``unit_name``; otherwise the user chooses.
time
    A column read as dates (:func:`evidence.periods.read_dates`: ISO and spreadsheet forms) whose distinct dates fall
    a month, quarter or year apart (:func:`evidence.periods.infer_date_frequency`), or whole numbers that are years
    (1800-2200) or named as periods, evenly spaced; it must pair with a unit column.
treatment
    A 0/1 column that never falls from 1 to 0 within a unit and switches on for some unit (``treatment.indicator``;
    a 0/1 column equal for every unit in each period is a period dummy, one constant within units a group marker:
    neither is a timing), or a column constant within units holding first treated periods, never treated as empty,
    0 or inf (``treatment.cohort``). An indicator and a cohort column that agree are one choice (the cohort column).
outcomes
    The remaining numeric columns that vary within units. Kind: count (non-negative whole numbers), percent (0-100
    with a name such as pct/percent/share), proportion (0-1 with a name such as share/prop/rate), else continuous.
    Numeric columns constant within units are offered as baseline covariates, text ones with fewer values than units
    as clusters; a positive column named like population is the population, one named like weights is left out
    (the workbook takes no weights).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import DataError, ParamsError
from .periods import FREQ_CODES, excel_serials, infer_date_frequency, label, read_dates

PLACEHOLDER = "CHOOSE"
"""Placeholders begin with this word; ``evidence validate`` refuses them (no column has that name)."""

_TIME_NAME = re.compile(r"(^|[_. ])(period|date|month|quarter|year|yr|time|t|week|fin_?year|fy|financial_?year|wave)s?($|[_. ])", re.I)
_UNIT_NAME = re.compile(r"(^|[_. ])(unit|area|code|id|org|site|region|ccg|icb|stp|trust|provider|practice|lsoa|msoa|la|lad|county|countyreal|state|ward|pcn|hospital|name|key)s?($|[_. ])", re.I)
_CODE_NAME = re.compile(r"(^|[_. ])(code|cd|id|key|ods|fips|countyreal)($|[_. ])|code$|_id$|id$", re.I)
_LABEL_NAME = re.compile(r"(^|[_. ])(name|label|desc|description|title)($|[_. ])|name$", re.I)
_COHORT_NAME = re.compile(r"first|cohort|adopt|start|since|onset|treat|(^|[_. ])g($|[_. ])|group|wave", re.I)
_PERCENT_NAME = re.compile(r"pct|percent|per_?cent|%|share", re.I)
_PROPORTION_NAME = re.compile(r"share|prop|proportion|fraction|frac|rate|ratio", re.I)
_POPULATION_NAME = re.compile(r"(^|[_. ])(population|pop|registered|list_?size|denominator|residents)($|[_. ])|^population", re.I)
_WEIGHT_NAME = re.compile(r"(^|[_. ])(weight|weights|wt|wgt)($|[_. ])|weight", re.I)
_NEVER = ("", "0", "0.0", "inf", "+inf", "infinity", "nan", "na", "none", "never")


@dataclass
class _Time:
    column: str
    frequency: str  # month | quarter | year | fy | integer
    ordinals: np.ndarray  # per row: period ordinal (integers: the value)
    labels: list[str]  # first and last period labels
    n_periods: int
    note: str | None
    starts: tuple[Any, Any]  # design.start / design.end values for the whole data
    periods: np.ndarray  # distinct period ordinals, sorted
    dates: pd.Series | None = None  # per row, for date columns


@dataclass
class Detection:
    """What :func:`detect` found in a user's table; ``None`` fields were not decided (see the candidates)."""

    n_rows: int
    columns: list[str]
    time: _Time | None = None
    time_candidates: list[str] = field(default_factory=list)
    unit: str | None = None
    unit_candidates: list[str] = field(default_factory=list)
    unit_name: str | None = None
    n_units: int = 0
    balanced: bool = True
    treatment: tuple[str, str] | None = None  # (cohort | indicator, column)
    treatment_candidates: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, column, what)
    treatment_notes: list[str] = field(default_factory=list)
    never_treated: int | None = None
    first_period_needed: bool = False  # the chosen cohort column has dates inside periods (treatment.first_period)
    outcomes: list[str] = field(default_factory=list)
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)  # outcome -> (kind, why)
    missing_cells: dict[str, int] = field(default_factory=dict)
    population: str | None = None
    population_candidates: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    covariates: list[str] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (column, why)


# ---------------------------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------------------------
def _is_number(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _whole(s: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(s.dtype):
        return True
    if not pd.api.types.is_float_dtype(s.dtype):
        return False
    v = s.dropna().to_numpy(dtype=float)
    return bool(len(v)) and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))


def _time_candidate(df: pd.DataFrame, col: str, name: str) -> _Time | None:
    """The column read as periods, or ``None`` when it is not a regular time axis."""
    s = df[col]
    if s.isna().any() or s.nunique() < 2:
        return None
    if _whole(s) and not excel_serials(s):
        v = s.to_numpy(dtype="int64")
        uniq = np.sort(pd.unique(v))
        steps = np.diff(uniq)
        years = bool((uniq >= 1800).all() and (uniq <= 2200).all())
        if not (years or _TIME_NAME.search(col)) or np.any(steps % steps.min()):
            return None
        return _Time(col, "integer", v, [str(uniq[0]), str(uniq[-1])], len(uniq), None, (int(uniq[0]), int(uniq[-1])), uniq)
    if _is_number(s) and not excel_serials(s):
        return None
    try:
        dates, note = read_dates(s, name=name, column=col)
    except DataError:
        return None
    freq = infer_date_frequency(pd.Series(pd.unique(dates)))
    if freq is None:
        return None
    per = pd.DatetimeIndex(dates).to_period(FREQ_CODES[freq])
    ords = per.asi8
    uniq = np.sort(pd.unique(ords))
    first, last = pd.Period(ordinal=int(uniq[0]), freq=FREQ_CODES[freq]), pd.Period(ordinal=int(uniq[-1]), freq=FREQ_CODES[freq])
    if freq == "fy":
        starts: tuple[Any, Any] = (label(first, "fy"), label(last, "fy"))
    elif freq == "year":
        starts = (int(first.year), int(last.year))
    else:
        starts = (first.start_time.strftime("%Y-%m"), last.start_time.strftime("%Y-%m"))
    return _Time(col, freq, ords, [label(first, freq), label(last, freq)], len(uniq), note, starts, uniq, pd.Series(pd.DatetimeIndex(dates), index=df.index))


def _codes(s: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    return codes.astype("int64"), len(uniq)


def _unit_ok(df: pd.DataFrame, col: str) -> bool:
    """A column that may hold units: text or whole numbers, at least two values, each on two rows or more."""
    s = df[col]
    if s.isna().any() or not (_whole(s) or not _is_number(s)) or pd.api.types.is_bool_dtype(s.dtype):
        return False
    counts = s.value_counts()
    return len(counts) >= 2 and int(counts.min()) >= 2


def _n_distinct(x: np.ndarray) -> int:
    return len(pd.unique(np.asarray(x)))  # a hash table: np.unique sorts (seconds on a million rows)


def _same_units(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two code arrays (>= 0) partition the rows alike (one-to-one)."""
    n = _n_distinct(a)
    return n == _n_distinct(b) == _n_distinct(a * (int(b.max()) + 1) + b)


def _constant_within(values: np.ndarray, ucodes: np.ndarray, n_units: int) -> bool:
    lo = np.full(n_units, np.iinfo(np.int64).max)
    hi = np.full(n_units, np.iinfo(np.int64).min)
    np.minimum.at(lo, ucodes, values)
    np.maximum.at(hi, ucodes, values)
    return bool(np.all(lo == hi))


def detect(df: pd.DataFrame, name: str = "data") -> Detection:
    """Find the unit, time, treatment and outcome columns of a long table (rules in the module docstring).

    Parameters
    ----------
    df
        The user's table, as read by :func:`evidence.data.user.read_table`.
    name
        The file's name, for notes.

    Returns
    -------
    Detection
    """
    det = Detection(n_rows=len(df), columns=[str(c) for c in df.columns])
    n = len(df)
    # --- time and unit, decided together: the pair must identify every row ----------------------------------------
    times = [t for c in df.columns if (t := _time_candidate(df, c, name)) is not None]
    units = [c for c in df.columns if _unit_ok(df, c)]
    pairs: dict[str, list[str]] = {}
    for t in times:
        tcode = pd.factorize(t.ordinals)[0].astype("int64")
        ok = []
        for u in units:
            if u == t.column:
                continue
            ucode, nu = _codes(df[u])
            # one row per unit and period, and most cells of the unit x period grid present (counts are not units)
            if nu < n and 2 * n >= nu * t.n_periods and _n_distinct(ucode * t.n_periods + tcode) == n:
                ok.append(u)
        if ok:
            pairs[t.column] = ok
    timed = [t for t in times if t.column in pairs]
    det.time_candidates = [t.column for t in timed]
    if not timed:
        det.unit_candidates = units
        return det
    if len(timed) > 1:  # prefer a named period column, then dates over numbers; equivalent columns are one choice
        timed.sort(key=lambda t: (not bool(_TIME_NAME.search(t.column)), t.frequency == "integer"))
        first = pd.factorize(timed[0].ordinals)[0]
        same = [t for t in timed[1:] if _same_units(first, pd.factorize(t.ordinals)[0])]
        if len(same) == len(timed) - 1:
            det.time = timed[0]
    else:
        det.time = timed[0]
    time = det.time or timed[0]
    candidates = pairs[time.column]
    # unit: one-to-one columns are one choice; a code names the unit and a name labels it
    groups: list[list[str]] = []
    for u in candidates:
        code, nu = _codes(df[u])
        for g in groups:
            gcode, gn = _codes(df[g[0]])
            if gn == nu and _same_units(gcode, code):
                g.append(u)
                break
        else:
            groups.append([u])
    # a number one-to-one with a text column (a population, a size) describes the units; the text names them
    groups = [[c for c in g if not _is_number(df[c])] or g for g in groups]
    groups.sort(key=lambda g: (not any(_UNIT_NAME.search(c) for c in g), -len(g)))
    det.unit_candidates = [c for g in groups for c in g]
    if len(groups) == 1:
        g = groups[0]
        codes_ = [c for c in g if _CODE_NAME.search(c) and not _LABEL_NAME.search(c)]
        labels_ = [c for c in g if _LABEL_NAME.search(c)]
        if len(g) == 1:
            det.unit = g[0]
        elif len(codes_) == 1 and len(g) - len(codes_) >= 1 and all(c in labels_ for c in g if c != codes_[0]):
            det.unit, det.unit_name = codes_[0], (labels_[0] if labels_ else None)
    unit = det.unit or groups[0][0]
    ucode, n_units = _codes(df[unit])
    det.n_units = n_units
    det.balanced = n == n_units * time.n_periods
    used = {time.column, *det.unit_candidates}
    if det.time is None:
        used |= set(det.time_candidates)
    order = np.lexsort((time.ordinals, ucode))
    u_sorted = ucode[order]
    same_unit = u_sorted[1:] == u_sorted[:-1]

    # --- columns constant within units: covariates, clusters, cohorts --------------------------------------------
    constant: dict[str, bool] = {}
    for c in df.columns:
        if c in used:
            continue
        code, _ = _codes(df[c])
        constant[c] = _constant_within(code, ucode, n_units)

    # --- treatment ---------------------------------------------------------------------------------------------
    indicators: list[tuple[str, np.ndarray]] = []
    for c in df.columns:
        if c in used:
            continue
        s = df[c]
        if not (pd.api.types.is_bool_dtype(s.dtype) or _is_number(s)) or s.isna().any():
            continue
        v = s.to_numpy(dtype=float)
        if not np.isin(v, (0.0, 1.0)).all() or _n_distinct(v) < 2:
            continue
        if constant[c]:
            det.treatment_notes.append(f"'{c}' is 0/1 and constant within units: a treated-group marker, not the timing the workbook needs")
            continue
        x = v[order]
        if np.any(same_unit & (x[1:] < x[:-1])):
            det.left_out.append((c, "0/1 but falls from 1 to 0 within a unit (not an absorbing treatment); an outcome or control?"))
            used.add(c)
            continue
        tcode = pd.factorize(time.ordinals)[0]
        per_t = pd.Series(v).groupby(tcode).agg(["min", "max"])
        if bool((per_t["min"] == per_t["max"]).all()):
            det.treatment_notes.append(f"'{c}' is 0/1 and the same for every unit in each period: a period dummy, not a treatment")
            used.add(c)
            continue
        first_on = np.full(n_units, np.iinfo(np.int64).max)
        np.minimum.at(first_on, ucode[v == 1], time.ordinals[v == 1])
        indicators.append((c, first_on))
        det.treatment_candidates.append(("indicator", c, f"0/1, switches on once within units ({int((first_on < np.iinfo(np.int64).max).sum())} of {n_units} units treated)"))
    cohorts: list[tuple[str, np.ndarray]] = []
    inside_periods: set[str] = set()
    span = int(time.periods[-1] - time.periods[0]) + 1
    for c, const in constant.items():
        if not const or any(c == i for i, _ in indicators):
            continue
        s = df[c]
        text = s.astype("string").str.strip().str.lower().fillna("")
        never = s.isna().to_numpy() | text.isin(_NEVER).to_numpy()
        if never.all():
            continue
        if time.frequency == "integer":
            vals = pd.to_numeric(s[~never], errors="coerce")
            if vals.isna().any() or not (vals == vals.round()).all():
                continue
            vals = vals.to_numpy(dtype="int64")
            inside = np.isin(vals, time.periods).mean()
            if not ((vals >= time.periods[0] - span).all() and (vals <= time.periods[-1] + span).all()) or not (inside >= 0.5 or _COHORT_NAME.search(c)):
                continue
            ords = vals
        else:
            if _is_number(s) and not excel_serials(s[~never]) and not _whole(s[~never]):
                continue
            try:
                dates, _ = read_dates(s[~never].astype(str), name=name, column=c)
            except DataError:
                continue
            per = pd.DatetimeIndex(dates).to_period(FREQ_CODES[time.frequency])
            ords = per.asi8
            if not ((ords >= time.periods[0] - span).all() and (ords <= time.periods[-1] + span).all()):
                continue
            if bool((per.start_time != pd.DatetimeIndex(dates)).any()):
                inside_periods.add(c)
        if _n_distinct(ords) > max(time.n_periods, 2) * 2:
            continue
        first = np.full(n_units, np.iinfo(np.int64).max)
        np.minimum.at(first, ucode[~never], ords)
        cohorts.append((c, first))
        n_tr = int((first < np.iinfo(np.int64).max).sum())
        det.treatment_candidates.append(("cohort", c, f"first treated period, constant within units ({n_tr} of {n_units} units treated, in {_n_distinct(ords)} cohort(s); never treated: {_never_text(text[never])})"))
    # one choice when the candidates agree: a cohort column and the indicator derived from it
    chosen: list[tuple[str, str, np.ndarray]] = [("cohort", c, f) for c, f in cohorts] + [("indicator", c, f) for c, f in indicators]
    distinct: list[tuple[str, str, np.ndarray]] = []
    for kind, c, f in chosen:
        clipped = np.where(f <= time.periods[-1], np.maximum(f, time.periods[0]), np.iinfo(np.int64).max)
        if not any(np.array_equal(clipped, d[2]) for d in distinct):
            distinct.append((kind, c, clipped))
    if len(distinct) == 1:
        kind, c, f = distinct[0]
        det.treatment = (kind, c)
        det.never_treated = int((f == np.iinfo(np.int64).max).sum())
        det.first_period_needed = kind == "cohort" and c in inside_periods
    used |= {c for _, c, _ in det.treatment_candidates}

    # --- the remaining columns: population, weights, clusters, covariates, outcomes -------------------------------
    for c in df.columns:
        if c in used:
            continue
        s = df[c]
        if not _is_number(s):
            if constant.get(c) and 2 <= s.nunique() < n_units:
                det.clusters.append(c)
            elif constant.get(c) and c not in det.unit_candidates:
                det.left_out.append((c, "text, constant within units"))
            else:
                det.left_out.append((c, "text that varies within units"))
            continue
        v = s.to_numpy(dtype=float)
        finite = v[np.isfinite(v)]
        if _WEIGHT_NAME.search(c):
            det.weights.append(c)
            continue
        if _POPULATION_NAME.search(c) and len(finite) and (finite > 0).all():
            det.population_candidates.append(c)
            continue
        if constant.get(c):
            det.covariates.append(c)
            continue
        det.outcomes.append(c)
        det.kinds[c] = _kind(c, finite)
        holes = int(np.isnan(v).sum())
        if holes:
            det.missing_cells[c] = holes
    if len(det.population_candidates) == 1:
        det.population = det.population_candidates[0]
    return det


def _never_text(text: pd.Series) -> str:
    vals = sorted({v if v else "empty" for v in text.unique()})
    return " / ".join(vals) if vals else "none"


def _kind(col: str, v: np.ndarray) -> tuple[str, str]:
    """An outcome's kind and the reason, from its values and name."""
    if not len(v):
        return "continuous", "no values"
    lo, hi = float(v.min()), float(v.max())
    rng = f"{lo:g} to {hi:g}"
    if lo >= 0 and hi <= 1 and _PROPORTION_NAME.search(col):
        return "proportion", f"{rng}, and the name says a share"
    if lo >= 0 and hi <= 100 and _PERCENT_NAME.search(col):
        return "percent", f"{rng}, and the name says a percentage"
    if lo >= 0 and bool(np.all(v == np.round(v))):
        return "count", f"non-negative whole numbers, {rng}"
    return "continuous", rng


# ---------------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------------
def _y(value: Any) -> str:
    """A value as YAML on one line (quoted when it must be)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True).strip().removesuffix("...").strip()


def _line(indent: int, key: str, value: str | None, comment: str = "") -> str:
    text = " " * indent + key + ":" + (f" {value}" if value not in (None, "") else "")
    return (text.ljust(44) + f"  # {comment}") if comment else text


def _choose(what: str, options: list[str]) -> str:
    return f"{PLACEHOLDER} {what}: " + " or ".join(options) if options else f"{PLACEHOLDER} {what}"


def _data_path(data: Path, out: Path) -> str:
    """``data.path`` as written: relative to the parameters file's folder (read from there first), else absolute."""
    try:
        rel = os.path.relpath(data, out.parent)
    except ValueError:  # another drive
        return str(data)
    return rel if rel.count("..") <= 2 else str(data)


def render(det: Detection, data: Path, out: Path) -> tuple[str, list[str]]:
    """The starter file's text and the keys left as ``CHOOSE`` placeholders."""
    undecided: list[str] = []
    stem = _stem(data)
    run_name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("._-")[:64] or "my_evaluation"
    L: list[str] = [
        f"# Starter parameters for {data.name}, written by `evidence init` from what the data show.",
        "# Lines marked CHECK are choices the data cannot make for you; a value beginning CHOOSE must be replaced",
        f"# (`evidence validate {out.name}` refuses it). Every key is documented in README.md (\"Parameters\");",
        "# keys not written here keep their defaults.",
        _line(0, "run_name", _y(run_name), "the report goes to reports/<run_name>/"),
        _line(0, "title", _y(f"Evaluation: {stem}"), "CHECK: the title printed on every report"),
        _line(0, "description", _y(""), "CHECK: what is evaluated, where and when"),
        "data:",
        _line(2, "path", _y(_data_path(data, out)), "a relative path is read from this file's folder"),
    ]
    # unit ----------------------------------------------------------------------------------------------------
    if det.unit is not None:
        L.append(_line(2, "unit", _y(det.unit), f"detected: {det.n_units} units" + (", each in every period" if det.balanced else ", not all in every period")))
        if det.unit_name:
            L.append(_line(2, "unit_name", _y(det.unit_name), "detected: one name per unit"))
    else:
        undecided.append("data.unit")
        opts = det.unit_candidates
        if opts:
            L.append(f"  # CHOOSE the unit: {', '.join(opts)} each identify one row per unit and period ({det.n_units} units);")
            L.append("  # put a readable name column under unit_name.")
        else:
            L.append("  # CHOOSE the unit: no column identifies one row per unit and period (with the time column).")
        L.append(_line(2, "unit", _y(_choose("the unit column", opts)), "CHOOSE"))
    # time ----------------------------------------------------------------------------------------------------
    t = det.time
    if t is not None:
        L.append(_line(2, "time", _y(t.column), f"detected: {t.n_periods} periods, {t.labels[0]} to {t.labels[1]}"))
        if t.note:
            L.append(f"  # {t.note.split(': ', 1)[-1]}")
        what = {"integer": "whole numbers (years or an evenly spaced index)", "month": "monthly", "quarter": "quarterly", "year": "calendar years", "fy": "financial years (April-March)"}[t.frequency]
        L.append(_line(2, "frequency", _y(t.frequency), f"inferred: {what}"))
    else:
        undecided.append("data.time")
        opts = det.time_candidates
        if opts:
            L.append(f"  # CHOOSE the period column: {', '.join(opts)} (each a regular time axis).")
        else:
            L.append("  # CHOOSE the period column: no column reads as regular months, quarters, years or whole-number periods.")
        L.append(_line(2, "time", _y(_choose("the period column", opts)), "CHOOSE"))
    # outcomes --------------------------------------------------------------------------------------------------
    if det.outcomes:
        L.append(_line(2, "outcomes", _y(det.outcomes), "CHECK: the numeric columns that vary over time; remove any that is not an outcome"))
        L.append(_line(2, "outcome_kinds", None, "CHECK: count (whole numbers >= 0), percent (0-100), proportion (0-1), continuous"))
        for o in det.outcomes:
            kind, why = det.kinds[o]
            L.append(_line(4, _y(o), kind, why))
    else:
        undecided.append("data.outcomes")
        L.append("  # CHOOSE the outcomes: no numeric column varies over time within units.")
        L.append(_line(2, "outcomes", _y([_choose("outcome columns", [])]), "CHOOSE"))
    if det.population:
        L.append(_line(2, "population", _y(det.population), "detected by its name: the denominator for rates and offsets"))
    elif det.population_candidates:
        L.append(f"  # population: one of {', '.join(det.population_candidates)} (named like populations); uncomment the one that is the denominator")
        L.append(_line(2, "# population", _y(det.population_candidates[0])))
    if det.clusters:
        L.append(_line(2, "# cluster", _y(det.clusters[0]), f"groupings of units ({', '.join(det.clusters)}): uncomment to cluster standard errors by one"))
    if det.covariates:
        L.append(_line(2, "# covariates", _y(det.covariates), "numeric and constant within units: baseline covariates, if wanted"))
    if det.missing_cells:
        cells = ", ".join(f"{c}: {k}" for c, k in det.missing_cells.items())
        L.append(_line(2, "missing", "error", f"CHECK: empty outcome cells ({cells}); error stops, drop_units or allow keep going"))
    elif not det.balanced and det.unit is not None:
        L.append(_line(2, "missing", "error", "CHECK: some units lack periods; error stops, drop_units drops them, allow keeps the unbalanced panel"))
    for c in det.weights:
        L.append(f"  # '{c}' looks like weights; the workbook takes no weights, so it is left out.")
    for c, why in det.left_out:
        L.append(f"  # '{c}' left out: {why}.")
    # treatment -------------------------------------------------------------------------------------------------
    L.append("treatment:")
    for note in det.treatment_notes:
        L.append(f"  # {note}.")
    if det.treatment is not None:
        kind, col = det.treatment
        what = next(w for k, c, w in det.treatment_candidates if c == col)
        others = [c for k, c, w in det.treatment_candidates if c != col]
        extra = f"; {', '.join(others)} give the same timing" if others else ""
        L.append(_line(2, kind, _y(col), f"detected: {what}{extra}"))
        if det.first_period_needed:
            undecided.append("treatment.first_period")
            L.append("  # CHOOSE: the cohort column has dates inside periods; first_full counts a unit from the first whole period")
            L.append("  # after its date, containing from the period that contains it.")
            L.append(_line(2, "first_period", _y(f"{PLACEHOLDER}: first_full or containing"), "CHOOSE"))
    else:
        undecided.append("treatment")
        if det.treatment_candidates:
            L.append("  # CHOOSE the treatment: these columns give different timings —")
            for kind, c, w in det.treatment_candidates:
                L.append(f"  #   {kind}: {c}  ({w})")
            L.append("  # keep one line (cohort: first treated period per unit; indicator: 0/1 switching on once).")
            first_kind = det.treatment_candidates[0][0]
            L.append(_line(2, first_kind, _y(_choose("the treatment column", [c for _, c, _ in det.treatment_candidates])), "CHOOSE"))
        else:
            L.append("  # CHOOSE the treatment: no column holds a 0/1 treatment that switches on once within units, or each unit's")
            L.append("  # first treated period. Add one to the file (cohort: first treated period, 0 or empty = never) and name it here.")
            L.append(_line(2, "cohort", _y(_choose("a first-treated-period column (add one to the data)", [])), "CHOOSE"))
    # design ----------------------------------------------------------------------------------------------------
    L.append("design:")
    if t is not None:
        L.append(_line(2, "start", _y(t.starts[0]), "CHECK: first period of the analysis window (here: the first of the data)"))
        L.append(_line(2, "end", _y(t.starts[1]), "CHECK: last period of the analysis window (here: the last of the data)"))
    else:
        L.append("  # start: / end: the analysis window; empty = the whole data")
    if det.never_treated == 0:
        L.append(_line(2, "comparison", "not_yet_treated", "every unit is treated at some point: only later-treated units can compare"))
    else:
        n_never = f"the {det.never_treated} units" if det.never_treated is not None else "units"
        L.append(_line(2, "comparison", "not_yet_treated", f"CHECK: or never_treated (only {n_never} untreated throughout the data)"))
    # protocol --------------------------------------------------------------------------------------------------
    if det.outcomes:
        L.append("protocol:")
        L.append("  primary:")
        L.append(_line(4, "outcome", _y(det.outcomes[0]), "CHECK: the pre-specified primary outcome, fixed before any result is seen"))
    return "\n".join(L) + "\n", undecided


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq", ".gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


@dataclass
class Starter:
    """A written starter file."""

    path: Path
    data: Path
    detection: Detection
    undecided: list[str]

    def lines(self) -> list[str]:
        """What the command prints: the file, what was found, and what is left to choose."""
        from .paths import display

        d = self.detection
        found = []
        if d.unit:
            found.append(f"unit {d.unit} ({d.n_units})")
        if d.time:
            found.append(f"time {d.time.column} ({d.time.frequency}, {d.time.n_periods} periods)")
        if d.treatment:
            found.append(f"treatment.{d.treatment[0]} {d.treatment[1]}")
        if d.outcomes:
            found.append(f"{len(d.outcomes)} outcome(s)")
        out = [f"wrote {display(self.path)}: {'; '.join(found) or 'nothing detected'}"]
        if self.undecided:
            out.append(f"to choose (values beginning {PLACEHOLDER}): {', '.join(self.undecided)}; edit the file, then: evidence validate {self.path}")
        else:
            out.append(f"check the lines marked CHECK, then: evidence validate {self.path}")
        return out


def write_starter(data_file: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, force: bool = False, cwd: str | os.PathLike[str] | None = None) -> Starter:
    """Write a starter parameters file for ``data_file``.

    Parameters
    ----------
    data_file
        A user's CSV (optionally gzipped) or Parquet file, one row per unit and period; a relative path is read from
        the working folder.
    out
        The file to write; default ``params/<file stem>.yaml`` in the working folder.
    force
        Replace an existing file (otherwise refused).
    cwd
        The working folder (default: the current one).

    Returns
    -------
    Starter
    """
    from .data.user import read_table

    base = Path(cwd) if cwd is not None else Path.cwd()
    data = Path(data_file).expanduser()
    data = (data if data.is_absolute() else base / data).resolve()
    if not data.is_file():
        raise DataError(f"{data} does not exist; give the path to your CSV or Parquet file (a relative path is read from the working folder, {base.resolve()}).")
    target = Path(out).expanduser() if out is not None else Path("params") / f"{_stem(data)}.yaml"
    target = (target if target.is_absolute() else base / target).resolve()
    if target.exists() and not force:
        raise ParamsError(f"{target} exists; give --force to replace it, or --out another file.")
    if target.suffix.lower() not in (".yaml", ".yml"):
        raise ParamsError(f"--out {target}: give a .yaml file.")
    df = read_table(data)
    if df.empty:
        raise DataError(f"{data}: has no rows.")
    det = detect(df, name=data.name)
    text, undecided = render(det, data, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return Starter(target, data, det, undecided)


__all__ = ["Detection", "PLACEHOLDER", "Starter", "detect", "render", "write_starter"]
