"""The validated area x period panel every analysis starts from.

A :class:`Panel` holds a long DataFrame with standard column names (``unit``, ``time``, ``t``, ``cluster``,
optionally ``unit_name`` and ``population``, then the outcome and covariate columns under their own names),
sorted by unit and time, one row per unit and period, balanced. :func:`validate_panel` is the single gate through
which the built-in NHS data and a user's file both pass; it raises a one-line
:class:`~evidence.errors.DataError` naming the file and column for every problem it finds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .periods import FREQ_CODES, excel_serials, infer_date_frequency, labels, month_index, read_dates

RESERVED: tuple[str, ...] = ("unit", "unit_name", "area", "time", "t", "cluster", "population")

DEFAULT_KIND = "count"


@dataclass
class Panel:
    """A validated area x period panel: balanced, or (``data.missing: allow``) complete in rows with missing cells as NaN.

    Attributes
    ----------
    data
        Long DataFrame sorted by ``unit`` then ``time``: ``unit``, ``time`` (``Period`` or int), ``t`` (0-based
        period index), ``cluster``, optional ``unit_name`` and ``population``, outcomes, covariates.
    outcomes
        Outcome column names.
    outcome_kinds
        ``count`` | ``continuous`` | ``percent`` | ``proportion`` per outcome.
    frequency
        ``month`` | ``quarter`` | ``year`` | ``fy`` | ``integer``.
    covariates
        Baseline (time-invariant) covariate columns.
    controls
        Time-varying control columns (``data.controls``), partialled out by the regression estimators.
    source
        Where the data came from (file path or built-in source name).
    files
        Input file -> sha256 checksum, for provenance.
    notes
        Messages about what validation changed or found (dropped units, unmapped codes ...).
    columns
        Standard column -> the user's original column name.
    """

    data: pd.DataFrame
    outcomes: list[str]
    outcome_kinds: dict[str, str]
    frequency: str
    covariates: list[str] = field(default_factory=list)
    source: str = ""
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    controls: list[str] = field(default_factory=list)

    def layout(self) -> tuple[int, int] | None:
        """(units, periods) when the rows are laid out as validated — unit by unit, periods 0..T-1 within each — else None.

        Context: the per-unit properties and :meth:`subset` were group-bys and membership tests on the unit names of
        every row, seconds at millions of rows. Decision: when the ``t`` column shows the validated layout (one integer
        check), unit ``i``'s rows are ``i*T .. i*T+T-1`` and the per-unit work is done on the ``t == 0`` rows and
        repeated. Consequences: the same results as the group-bys (which remain for frames not in this layout). The
        layout and the units are remembered for the frame they were computed on (:meth:`_memo`).
        """
        return self._memo("layout", self._layout)

    def _layout(self) -> tuple[int, int] | None:
        t = self.data["t"].to_numpy()
        if not len(t):
            return None
        T = int(t.max()) + 1
        N = len(t) // T
        if N * T != len(t) or not np.array_equal(t.reshape(N, T), np.broadcast_to(np.arange(T), (N, T))):
            return None
        return N, T

    def _memo(self, key: str, compute: Any) -> Any:
        """A per-frame derived value, recomputed when ``data`` is another frame.

        The frame's ``unit`` and ``t`` columns are never changed in place (every restriction builds a new frame,
        :meth:`subset`), so the frame's identity is the key.
        """
        memo = self.__dict__.setdefault("_memo_cache", {})
        hit = memo.get(key)
        if hit is None or hit[0] is not self.data:
            hit = memo[key] = (self.data, compute())
        return hit[1]

    @property
    def periods(self) -> np.ndarray:
        """The ordered periods of the panel."""
        grid = self.layout()
        if grid is not None:
            return self.data["time"].iloc[: grid[1]].to_numpy()
        return self.data.loc[self.data["unit"] == self.data["unit"].iloc[0], "time"].to_numpy()

    @property
    def period_labels(self) -> list[str]:
        return labels(self.periods, self.frequency)

    @property
    def units(self) -> np.ndarray:
        # each unit has exactly one row in period 0 (validated panels are complete grids), in the order of the rows
        return self._memo("units", lambda: self.data.loc[self.data["t"].to_numpy() == 0, "unit"].to_numpy()).copy()

    @property
    def n_units(self) -> int:
        return int((self.data["t"].to_numpy() == 0).sum())

    @property
    def n_periods(self) -> int:
        return int(self.data["t"].max()) + 1

    @property
    def has_population(self) -> bool:
        return "population" in self.data.columns

    def matrix(self, column: str) -> np.ndarray:
        """Values of ``column`` as an (units x periods) array, rows in :attr:`units` order."""
        return self.data[column].to_numpy(dtype=float).reshape(self.n_units, self.n_periods)

    def unit_table(self) -> pd.DataFrame:
        """One row per unit: unit, unit_name (if any), cluster and the baseline covariates."""
        cols = ["unit"] + [c for c in ("unit_name", "area", "cluster") if c in self.data.columns] + self.covariates
        return self.data.loc[self.data["t"] == 0, cols].reset_index(drop=True)

    def subset(self, units: np.ndarray | list | None = None, t_min: int | None = None, t_max: int | None = None) -> "Panel":
        """A new panel restricted to some units and/or a range of period indexes (re-indexed from 0)."""
        t = self.data["t"].to_numpy()
        keep = np.ones(len(t), dtype=bool)
        if units is not None:
            grid = self.layout()
            if grid is not None:  # decided per unit on the period-0 rows, repeated over the unit's rows
                keep = np.repeat(_isin(self.data.loc[t == 0, "unit"], units), grid[1])
            else:
                keep = _isin(self.data["unit"], units)
        if t_min is not None:
            keep &= t >= t_min
        if t_max is not None:
            keep &= t <= t_max
        # copy-on-write (pandas >= 3): the new panel's frame is independent of this one without copying the columns
        df = self.data.copy(deep=False) if keep.all() else self.data.loc[keep]
        shift = int(df["t"].min())
        if shift:
            df["t"] = df["t"] - shift
        return Panel(df.reset_index(drop=True), list(self.outcomes), dict(self.outcome_kinds), self.frequency, list(self.covariates), self.source, dict(self.files), list(self.notes), dict(self.columns), dict(self.extras), list(self.controls))

    def missing_cells(self) -> pd.DataFrame:
        """Missing outcome and control cells (``data.missing: allow``): one row per unit, period and column."""
        cols = [c for c in self.outcomes + self.controls if c in self.data.columns]
        if not cols or not self.data[cols].isna().any().any():
            return pd.DataFrame(columns=["unit", "period", "column"])
        long = self.to_frame()[["unit", "time", *cols]].melt(id_vars=["unit", "time"], var_name="column")
        return long[long["value"].isna()].rename(columns={"time": "period"})[["unit", "period", "column"]].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """The panel as written to ``panel.csv``: period labels instead of Period objects, original column names."""
        df = self.data.copy()
        df["time"] = labels(df["time"].to_numpy(), self.frequency)
        return df


def _isin(names: pd.Series, values: Any) -> np.ndarray:
    """``names.isin(values)`` through Python objects (pyarrow's ``isin`` converts each value on its own: 100 times
    slower for thousands of units)."""
    return pd.Series(names.to_numpy(dtype=object), dtype=object).isin(pd.Series(list(values), dtype=object)).to_numpy()


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fmt(value: Any) -> str:
    """A value as users write it: no numpy reprs."""
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def validate_panel(
    df: pd.DataFrame,
    *,
    name: str,
    unit: str,
    time: str,
    outcomes: list[str],
    outcome_kinds: dict[str, str] | None = None,
    unit_name: str | None = None,
    population: str | None = None,
    cluster: str | None = None,
    covariates: list[str] | None = None,
    extra: list[str] | None = None,
    frequency: str | None = None,
    balance: str = "error",
    param_prefix: str = "data",
    controls: list[str] | None = None,
) -> tuple[pd.DataFrame, str, list[str]]:
    """Check a long table and return it in standard form.

    Parameters
    ----------
    df
        One row per unit and period.
    name
        File name (or source name) used in error messages.
    unit, time, outcomes, unit_name, population, cluster, covariates
        The user's column names (``data.*`` parameters).
    outcome_kinds
        Kind per outcome; missing outcomes are counts.
    extra
        Other columns to carry along unchanged (treatment columns).
    frequency
        Force a frequency; inferred from the time column when ``None``.
    balance
        ``error``: units missing periods or outcome values stop the run; ``drop``: such units are dropped and counted
        in the notes; ``allow`` (``data.missing: allow``): the unit x period grid is completed with empty cells
        (missing periods become rows whose outcomes are missing), outcome, population and control values may be
        missing, and the notes say how many cells are missing and where.

    Returns
    -------
    (DataFrame, frequency, notes)
        The standardised table, the frequency and notes about changes made.

    Raises
    ------
    DataError
        Missing columns, duplicate unit-period rows, non-numeric or out-of-range outcome values, missing values,
        unparseable or mixed-frequency times, gaps in time, unbalanced units, time-varying covariates.
    """
    outcome_kinds = dict(outcome_kinds or {})
    covariates = list(covariates or [])
    extra = list(extra or [])
    notes: list[str] = []
    allow = balance == "allow"
    if allow:
        df = df.reset_index(drop=True)  # rows added for missing periods get the labels after the file's rows
    named = {f"{param_prefix}.unit": unit, f"{param_prefix}.time": time}
    for i, o in enumerate(outcomes):
        named[f"{param_prefix}.outcomes[{i}]"] = o
    for key, col in (("unit_name", unit_name), ("population", population), ("cluster", cluster)):
        if col is not None:
            named[f"{param_prefix}.{key}"] = col
    for i, c in enumerate(covariates):
        named[f"{param_prefix}.covariates[{i}]"] = c
    for i, c in enumerate(controls or []):
        named[f"{param_prefix}.controls[{i}]"] = c
    for key, col in named.items():
        if col not in df.columns:
            avail = ", ".join(map(str, list(df.columns)[:12]))
            raise DataError(f"{name}: column '{col}' (from {key}) is missing; the file has columns {avail}{' ...' if df.shape[1] > 12 else ''}. Fix the column name in the params file.")
    for col in extra:
        if col not in df.columns:
            raise DataError(f"{name}: column '{col}' is missing; the file has columns {', '.join(map(str, df.columns[:12]))}.")
    clash = [o for o in outcomes + covariates + list(controls or []) if o in RESERVED]
    if clash:
        raise DataError(f"{name}: column '{clash[0]}' cannot be an outcome or covariate (the name is reserved); rename it.")
    if df.empty:
        raise DataError(f"{name}: has no rows.")

    # Context: the design step runs on panels of millions of rows, where text conversions, group-bys on unit names and
    # sorts of the whole table cost seconds. Decision: the unit and the period are factorised once (each distinct value
    # converted, parsed and checked once), the rows are put in unit-then-period order by one integer sort key (skipped
    # when they already are), and every within-unit check compares neighbouring rows of that order. Consequences: the
    # same table, notes and messages as checking row by row (tests/test_panel_validation.py); about 0.1 s per million
    # rows on the usual path (bench/bench_design.py).
    ucol = df[unit]
    n_na = int(ucol.isna().sum())
    if n_na:
        raise DataError(f"{name}: column '{unit}' (the unit) has {n_na} empty values; every row needs a unit.")

    # --- time ------------------------------------------------------------------------------------------------
    tcol = df[time]
    if tcol.isna().any():
        raise DataError(f"{name}: column '{time}' (the period) has {int(tcol.isna().sum())} empty values; every row needs a period.")
    is_int_time = pd.api.types.is_integer_dtype(tcol) or (
        pd.api.types.is_float_dtype(tcol) and bool(np.all(np.mod(tcol.to_numpy(dtype=float), 1) == 0))
    )
    tvals = tcol.to_numpy(dtype="int64") if is_int_time else None
    whole = int_codes(tvals) if is_int_time else None  # excel_serials needs the distinct values only
    if frequency == "integer" or (frequency is None and is_int_time and not excel_serials(whole[1])):  # 42491 = 2016-05-01 is a date
        if not is_int_time:
            raise DataError(f"{name}: column '{time}' must hold whole numbers when data.frequency is integer; found {_fmt(tcol.iloc[0])}.")
        freq = "integer"
        tcodes, t_u = whole
        uniq = np.sort(t_u)
        step = int(np.min(np.diff(uniq))) if len(uniq) > 1 else 1
        if len(uniq) > 1 and np.any(np.diff(uniq) % step):
            raise DataError(f"{name}: column '{time}' has periods {[int(v) for v in uniq[:6]]}... that are not evenly spaced; use one frequency.")
        k_u = (t_u - int(uniq.min())) // step
        time_u: Any = t_u
    else:
        if pd.api.types.is_datetime64_any_dtype(tcol):
            tcodes, t_u = pd.factorize(tcol)
            parsed_u = pd.Series(t_u)
        else:
            tcodes, text_u = _text_codes(tcol)
            parsed_u, how = read_dates(text_u.astype(str), name=name, column=time)  # spreadsheet forms too, said in a note
            notes += [how] if how else []
        if parsed_u.isna().any():
            bad = tcol[parsed_u.isna().to_numpy()[tcodes]].iloc[0]
            raise DataError(f"{name}: column '{time}' has {_fmt(bad)}, which is not a date; write periods as YYYY-MM-DD (first day of the period) or as integers.")
        freq = frequency or infer_date_frequency(parsed_u)  # decided by the distinct dates alone
        if freq is None or freq == "integer":
            parsed = parsed_u.take(tcodes).reset_index(drop=True)
            by_unit = pd.DataFrame({"u": _text_codes(ucol)[0], "d": parsed, "m": month_index(parsed)})
            if (by_unit.groupby(["u", "m"])["d"].nunique() > 1).any():
                raise DataError(f"{name}: column '{time}' has several dates in one month for a unit (weekly or daily data?); the workbook analyses months, quarters or years — aggregate to months first.")
            steps = sorted({int(v) for v in np.diff(np.unique(month_index(parsed_u)))})[:4]
            what = f"steps of {', '.join(map(str, steps))} months between dates" if steps else "a single period"
            raise DataError(f"{name}: column '{time}' has irregular or mixed-frequency dates ({what}); give one row per month, quarter or year, or set data.frequency.")
        time_u = parsed_u.dt.to_period(FREQ_CODES[freq]).array
        ordinals = time_u.asi8  # period ordinals: consecutive periods differ by one
        k_u = ordinals - ordinals.min()
    k_u = np.asarray(k_u, dtype="int64")

    # --- order and duplicates: one integer key per row, units in the order of their text -------------------------
    ucodes, ulabels = _text_codes(ucol)
    rank = np.empty(len(ulabels), dtype="int64")
    rank[ulabels.sort_values(kind="stable").index.to_numpy()] = np.arange(len(ulabels))
    urow = rank[ucodes]
    krow = k_u[tcodes]
    span = int(k_u.max()) + 1
    if len(ulabels) * span < 2**62:
        key = urow * span + krow
        order = None if bool(np.all(key[1:] > key[:-1])) else np.argsort(key, kind="stable")
        skey = key if order is None else key[order]
        same_key = skey[1:] == skey[:-1]
    else:  # a time scale too wide for one key
        order = np.lexsort((krow, urow))
        same_key = (urow[order][1:] == urow[order][:-1]) & (krow[order][1:] == krow[order][:-1])
    if same_key.any():
        in_dup = np.zeros(len(df), dtype=bool)
        in_dup[1:] |= same_key
        in_dup[:-1] |= same_key
        row = int((np.arange(len(df)) if order is None else order)[in_dup].min())
        n = int(same_key.sum())
        raise DataError(f"{name}: {n} duplicate unit-period row{'s' if n != 1 else ''} in columns '{unit}' and '{time}' (first: {ulabels.iloc[ucodes[row]]} at {_fmt(time_u[tcodes[row]])}); keep one row per unit and period.")
    pos = np.arange(len(df)) if order is None else order
    u_arr, k_arr = urow[pos], krow[pos]
    # the standard table is labelled by the input's row positions (its own labels play no part from here); built in
    # one constructor call, as adding columns one by one copies them
    unit_col = ucol.astype("string").array if isinstance(ucol.dtype, pd.StringDtype) and order is None else ulabels.array.take(ucodes[pos])
    time_col = time_u.take(tcodes[pos]) if freq != "integer" else tvals[pos]
    out = pd.DataFrame({"unit": unit_col, "time": time_col, "_k": k_arr}, index=pd.RangeIndex(len(df)) if order is None else pd.Index(order), copy=False)

    # --- mixed frequencies and gaps, per unit (neighbouring rows of the sorted table) ----------------------------
    same = u_arr[1:] == u_arr[:-1]
    if bool(np.any(same & (np.diff(k_arr) > 1))):
        steps = pd.Series(np.concatenate([[np.nan], np.where(same, np.diff(k_arr), np.nan)]), index=out.index).dropna()
        per_unit_min = steps.groupby(out.loc[steps.index, "unit"]).min()
        coarse = per_unit_min[per_unit_min > 1]
        if allow and len(coarse):  # a unit with two rows and one gap is missing cells, not another frequency
            n_rows = out.groupby("unit", sort=False).size()
            coarse = coarse[n_rows.loc[coarse.index].to_numpy() >= 3]
        if len(coarse) and freq != "integer":
            u = coarse.index[0]
            raise DataError(f"{name}: column '{time}' mixes frequencies: unit {u} has a row every {int(coarse.iloc[0])} {freq}s while others have one every {freq}; give all units the same frequency.")
        gap_units = out.loc[steps[steps > 1].index, "unit"].unique()
        if allow:
            pass  # the grid is completed below
        elif balance == "drop":
            out = out[~out["unit"].isin(gap_units)]
            notes.append(f"Dropped {len(gap_units)} unit(s) with gaps in time (data.missing: drop_units): {', '.join(map(str, gap_units[:5]))}{' ...' if len(gap_units) > 5 else ''}.")
            if out.empty:
                raise DataError(f"{name}: every unit has gaps in column '{time}'; fill the missing periods.")
        else:
            gap_idx = steps[steps > 1].index[0]
            u = out.loc[gap_idx, "unit"]
            prev_k = int(out.loc[gap_idx, "_k"] - steps.loc[gap_idx])
            missing = _describe_k(prev_k + 1, out, freq)
            raise DataError(f"{name}: column '{time}' has a gap for unit {u}: no row for {missing} (and {int(steps.loc[gap_idx]) - 1} period(s) in all); fill the missing periods, or set data.missing: drop_units to drop such units.")

    # --- balance -----------------------------------------------------------------------------------------------
    n_k = int(out["_k"].to_numpy().max()) + 1
    sizes = np.bincount(u_arr if len(out) == len(u_arr) else urow[out.index.to_numpy()])
    if bool(np.any(sizes[sizes > 0] < n_k)):
        counts = out.groupby("unit", sort=False)["_k"].agg(["size", "min", "max"])
        short = counts[counts["size"] < n_k]
        if allow:
            out = _complete_grid(out, df, n_k, freq, unit_name=unit_name, cluster=cluster, covariates=covariates, extra=extra)
            df = out.attrs.pop("source")  # the input with the added rows after its own: labels are still row positions
            urow = np.zeros(len(df), dtype="int64")
            urow[out.index.to_numpy()] = pd.factorize(out["unit"])[0]
            added = int(n_k * len(counts) - counts["size"].sum())
            notes.append(f"Completed the unit x period grid (data.missing: allow): {added} missing period row(s) in {len(short)} unit(s) added as missing cells.")
        elif balance == "drop":
            out = out[~out["unit"].isin(short.index)]
            notes.append(f"Dropped {len(short)} unit(s) with incomplete periods (data.missing: drop_units): {', '.join(map(str, short.index[:5]))}{' ...' if len(short) > 5 else ''}.")
            if out.empty:
                raise DataError(f"{name}: no unit has every period; check column '{time}'.")
            out["_k"] = out["_k"] - out["_k"].min()
        else:
            u = short.index[0]
            raise DataError(f"{name}: the panel is unbalanced: unit {u} has {int(short.iloc[0]['size'])} of {n_k} periods in column '{time}' ({len(short)} unit(s) affected); supply every period, or set data.missing: drop_units to drop such units.")
    out = out.rename(columns={"_k": "t"})

    # --- missing outcome values: data.missing (data.missing: drop_units) drops the units that have them -----------------
    src = _Rows(df, out)
    if allow:
        holes = {col: _blank(src[col]).to_numpy(dtype=bool) for col in outcomes}
        n_cells = sum(int(h.sum()) for h in holes.values())
        if n_cells:
            any_hole = np.logical_or.reduce(list(holes.values()))
            units_hit = out.loc[any_hole, "unit"].unique()
            per_t = pd.Series(any_hole, index=out.index).groupby(out["t"]).sum()
            worst = per_t.idxmax()
            notes.append(f"Missing outcome cells (data.missing: allow): {n_cells} of {len(out) * len(outcomes)} ({100 * n_cells / (len(out) * len(outcomes)):.1f}%) in {len(units_hit)} of {out['unit'].nunique()} unit(s), in {int((per_t > 0).sum())} period(s) (most in {_describe_k(int(worst), out, freq)}: {int(per_t.max())} unit(s)); units: {', '.join(map(str, units_hit[:5]))}{' ...' if len(units_hit) > 5 else ''}. Each method says how it handled them.")
            if all(h.all() for h in holes.values()):
                raise DataError(f"{name}: every outcome value is missing; check data.outcomes.")
    if balance == "drop":
        holes = pd.Series(False, index=out.index)
        for col in ([population] if population else []) + outcomes:
            holes |= _blank(src[col])
        if holes.any():
            gone = out.loc[holes, "unit"].unique()
            cells = int(holes.sum())
            out = out[~out["unit"].isin(gone)]
            notes.append(f"Dropped {len(gone)} unit(s) with missing outcome values ({cells} missing cell(s); data.missing: drop_units): {', '.join(map(str, gone[:5]))}{' ...' if len(gone) > 5 else ''}.")
            if out.empty:
                raise DataError(f"{name}: every unit has missing outcome values; fill them (data.missing: drop_units leaves nothing).")
            src = _Rows(df, out)
    if len(out) != len(u_arr):  # rows dropped or added: unit order codes of the rows, for the within-unit checks
        u_arr = urow[out.index.to_numpy()]
    # every problem the checks below can see is collected and reported together, one line each
    problems: list[str] = []
    add: dict[str, Any] = {}  # the standard table's further columns, in order
    if unit_name is not None:
        add["unit_name"] = src[unit_name].astype("string").array
    if cluster is not None:
        clusters = src[cluster].astype("string")
        add["cluster"] = clusters.array
        if clusters.isna().any():
            problems.append(f"column '{cluster}' (data.cluster) has empty values; every unit needs a cluster.")
        else:
            row = _first_change_within(_text_codes(clusters)[0], u_arr)
            if row is not None:
                problems.append(f"column '{cluster}' (data.cluster) changes over time for unit {out['unit'].iloc[row]}; clusters must contain whole units.")
    else:
        add["cluster"] = out["unit"].array

    # --- outcomes -----------------------------------------------------------------------------------------------
    for col in ([population] if population else []) + outcomes:
        vals = _numeric(src[col])
        bad = vals.isna() & src[col].notna()
        if bad.any():
            problems.append(f"column '{col}' has non-numeric values such as {_fmt(src[col][bad].iloc[0])}; give numbers only.")
            continue
        if vals.isna().any() and not allow:
            r = out.loc[vals.isna()].iloc[0]
            n_units = int(out.loc[vals.isna(), "unit"].nunique())
            problems.append(f"column '{col}' has {int(vals.isna().sum())} missing values in {n_units} unit(s) (first: unit {r['unit']} at {_fmt(r['time'])}); fill them, or set data.missing: drop_units to drop those units.")
            continue
        v = vals.to_numpy(dtype=float)
        if np.isinf(v).any():
            problems.append(f"column '{col}' has infinite values; give finite numbers.")
            continue
        kind = "count" if col == population else outcome_kinds.get(col, DEFAULT_KIND)
        if kind in ("count", "percent", "proportion") and (v < 0).any():
            r = out.loc[vals < 0].iloc[0]
            what = "population" if col == population else f"a {kind} outcome"
            problems.append(f"column '{col}' has negative values (first: unit {r['unit']} at {_fmt(r['time'])}) but is {what}; counts cannot be negative — fix the data or declare the kind in data.outcome_kinds.")
        elif kind == "percent" and (v > 100).any():
            problems.append(f"column '{col}' is a percent outcome but has values above 100; give percentages 0-100 or declare it as proportion/continuous in data.outcome_kinds.")
        elif kind == "proportion" and (v > 1).any():
            problems.append(f"column '{col}' is a proportion outcome but has values above 1; give proportions 0-1 or declare it as percent in data.outcome_kinds.")
        elif col == population and (v <= 0).any():
            problems.append(f"column '{col}' (data.population) has zero or negative values; populations must be positive.")
        add["population" if col == population else col] = v
    for col in covariates:
        vals = _numeric(src[col])
        if (vals.isna() & src[col].notna()).any():
            problems.append(f"covariate column '{col}' has non-numeric values such as {_fmt(src[col][vals.isna() & src[col].notna()].iloc[0])}; encode categories as numbers (dummies).")
            continue
        if vals.isna().any():
            problems.append(f"covariate column '{col}' has missing values; fill them or drop the covariate (data.covariates).")
            continue
        v = vals.to_numpy(dtype=float)
        row = _first_change_within(v, u_arr)
        if row is not None:
            problems.append(f"covariate column '{col}' varies over time for unit {out['unit'].iloc[row]}; data.covariates must be baseline (time-invariant) values — use the value in the first period, or list the column in data.controls (time-varying controls).")
            continue
        add[col] = v
    for col in controls or []:
        vals = _numeric(src[col])
        if (vals.isna() & src[col].notna()).any():
            problems.append(f"control column '{col}' (data.controls) has non-numeric values such as {_fmt(src[col][vals.isna() & src[col].notna()].iloc[0])}; encode categories as numbers (dummies).")
            continue
        if vals.isna().any() and not allow:
            r = out.loc[vals.isna()].iloc[0]
            problems.append(f"control column '{col}' (data.controls) has {int(vals.isna().sum())} missing values (first: unit {r['unit']} at {_fmt(r['time'])}); fill them or remove the control.")
            continue
        v = vals.to_numpy(dtype=float)
        if _constant_within(v, u_arr):
            problems.append(f"control column '{col}' (data.controls) is constant within every unit, so the unit effects absorb it; list it in data.covariates (baseline) instead.")
            continue
        add[col] = v
    if len(problems) == 1:
        raise DataError(f"{name}: {problems[0]}")
    if problems:
        raise DataError(f"{name}: {len(problems)} problems: " + " ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)))
    for col in extra:
        s = src[col]
        # text columns are handed over as they are (converting them to Python objects and back gives the same column)
        add[col] = s.array if isinstance(s.dtype, pd.StringDtype) and s.dtype.na_value is np.nan else s.to_numpy()
    if len(out) == len(pos):  # no row dropped or added: the arrays the table was built from are ours already
        cols = {"unit": unit_col, "time": time_col, "t": k_arr, **add}
    else:
        cols = {"unit": out["unit"].array, "time": out["time"].array, "t": out["t"].to_numpy(), **add}
    # the table owns its columns: no view of the input or of intermediate frames (text arrays are copied in O(1))
    table = pd.DataFrame({k: _own(v) for k, v in cols.items()}, copy=False)
    return table, freq, notes


class _Rows:
    """The input table's columns in the order of the standard table ``out`` (labelled by input row positions), taken
    on demand and labelled like ``out``."""

    def __init__(self, df: pd.DataFrame, out: pd.DataFrame) -> None:
        self.df, self.index = df, out.index
        pos = out.index.to_numpy()
        self.pos = None if len(pos) == len(df) and bool(np.all(pos[1:] > pos[:-1])) else pos
        self.cache: dict[str, pd.Series] = {}

    def __getitem__(self, col: str) -> pd.Series:
        if col not in self.cache:
            s = self.df[col]
            self.cache[col] = pd.Series(s.array if self.pos is None else s.array.take(self.pos), index=self.index, name=col)
        return self.cache[col]


def _text_codes(col: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer codes of a column's values compared as text (as ``astype('string')`` would), and the distinct texts.

    Integer and text columns are factorised directly (distinct values are distinct texts); other columns are
    converted to text first.
    """
    dtype = col.dtype
    if pd.api.types.is_integer_dtype(dtype) and not col.hasnans:
        codes, uniq = int_codes(col.to_numpy(dtype="int64"))
        return codes, pd.Series(uniq).astype("string")
    if pd.api.types.is_integer_dtype(dtype) or isinstance(dtype, pd.StringDtype) or (dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "string"):
        codes, uniq = pd.factorize(col)
        return codes.astype("int64", copy=False), pd.Series(uniq).astype("string")
    codes, uniq = pd.factorize(col.astype("string"))
    return codes.astype("int64", copy=False), pd.Series(uniq, dtype="string")


def int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 and the distinct values of whole numbers: by direct addressing when they span a compact range
    (ids, periods, cohorts: no hashing), else :func:`pandas.factorize`. Codes follow the values' order in the first
    case and first appearance in the second; callers use them only to compare and group."""
    if not len(values):
        return np.zeros(0, dtype="int64"), values[:0]
    lo, hi = int(values.min()), int(values.max())
    if hi - lo < 2 * len(values) + 1024:
        offset = values - lo
        seen = np.zeros(hi - lo + 1, dtype=bool)
        seen[offset] = True
        code_of = np.cumsum(seen) - 1
        return code_of[offset], np.flatnonzero(seen) + lo
    codes, uniq = pd.factorize(values)
    return codes.astype("int64", copy=False), uniq


def _first_change_within(values: np.ndarray, unit_codes: np.ndarray) -> int | None:
    """Row (of a table sorted by unit) of the first unit whose values are not all equal, or ``None``."""
    change = (values[1:] != values[:-1]) & (unit_codes[1:] == unit_codes[:-1])
    if not change.any():
        return None
    return int(np.argmax(change)) + 1


def _constant_within(values: np.ndarray, unit_codes: np.ndarray) -> bool:
    """Whether every unit's non-missing values (table sorted by unit) are all equal."""
    starts = np.flatnonzero(np.concatenate([[True], unit_codes[1:] != unit_codes[:-1]]))
    with np.errstate(invalid="ignore"):
        lo, hi = np.fmin.reduceat(values, starts), np.fmax.reduceat(values, starts)
    return bool(np.all((lo == hi) | np.isnan(lo)))


def _numeric(s: pd.Series) -> pd.Series:
    """The column as numbers (``pd.to_numeric(errors='coerce')``; numeric columns as they are, without a copy)."""
    return s if s.dtype.kind in "iuf" and isinstance(s.dtype, np.dtype) else pd.to_numeric(s, errors="coerce")


def _own(values: Any) -> Any:
    """``values`` if it is a numpy array owning its writable memory, else a copy (pandas extension arrays: always a new
    array object, so no two columns share one; pyarrow-backed copies share the immutable buffers)."""
    if isinstance(values, np.ndarray):
        return values if values.flags.owndata and values.flags.writeable else values.copy()
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return _own(values.to_numpy())
    return values.copy()


def _blank(s: pd.Series) -> pd.Series:
    """Missing values, and (text columns) empty or blank strings."""
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.isna()
    return s.isna() | (s.astype("string").str.strip() == "")


def _complete_grid(out: pd.DataFrame, df: pd.DataFrame, n_k: int, freq: str, *, unit_name: str | None, cluster: str | None, covariates: list[str], extra: list[str]) -> pd.DataFrame:
    """``data.missing: allow``: every unit gets a row for every period; added rows have missing outcomes.

    Unit-level columns (name, cluster, baseline covariates, treatment columns) of an added row are taken from the
    unit's other rows (forward, then backward, within the unit). Returns the completed standard table with the
    extended source table in ``attrs['source']`` (the added rows' labels follow the file's rows).
    """
    units = out["unit"].drop_duplicates().to_numpy()
    grid = pd.MultiIndex.from_product([units, np.arange(n_k)], names=["unit", "_k"])
    have = pd.MultiIndex.from_arrays([out["unit"].to_numpy(), out["_k"].to_numpy()])
    new = grid[~grid.isin(have)]
    labels_new = np.arange(len(df), len(df) + len(new))
    if freq == "integer":
        times = np.unique(out["time"].to_numpy())
        step = int(np.min(np.diff(times))) if len(times) > 1 else 1
        tnew = int(times.min()) + new.get_level_values("_k").to_numpy() * step
    else:
        base = out["time"].min()
        tnew = pd.period_range(base, periods=n_k, freq=base.freq)[new.get_level_values("_k").to_numpy()]
    added = pd.DataFrame({"unit": pd.array(new.get_level_values("unit"), dtype="string"), "time": tnew, "_k": new.get_level_values("_k").to_numpy()}, index=labels_new)
    full = pd.concat([out, added]).sort_values(["unit", "_k"], kind="stable")
    src = pd.concat([df, pd.DataFrame(index=labels_new, columns=df.columns)])
    fill = [c for c in [unit_name, cluster, *covariates, *extra] if c is not None and c in src.columns]
    if fill:
        block = src.loc[full.index, fill].astype(object)
        key = full["unit"].to_numpy()
        block = block.groupby(key, sort=False).ffill().groupby(key, sort=False).bfill()
        src.loc[full.index, fill] = block
        for c in fill:
            src[c] = src[c].infer_objects() if df[c].dtype == object else src[c].astype(df[c].dtype, errors="ignore")
    full.attrs["source"] = src
    return full


def _describe_k(k: int, out: pd.DataFrame, freq: str) -> str:
    if freq == "integer":
        times = np.unique(out["time"].to_numpy())
        step = int(np.min(np.diff(times))) if len(times) > 1 else 1
        return str(int(times.min()) + k * step)
    from .periods import label

    base = out["time"].min()
    return label(base + k, freq)
