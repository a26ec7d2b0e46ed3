"""Provider completeness: providers missing from a month they normally report, series breaks, and imputation.

A footprint's monthly count is the sum over its providers, so a provider absent from the return (Sheffield Teaching
Hospitals in April 2016, East and North Hertfordshire in September 2017) makes the footprint look low that month.

Decisions (Context / Decision / Consequences)
---------------------------------------------
One series per successor chain
    Context: trusts merge (Pennine Acute split into two Greater Manchester trusts; Poole and Royal Bournemouth
    became University Hospitals Dorset in October 2020), and the lookup's legal dates can precede the switch in the
    data. Decision: providers linked by successions dated from 2016 on, whose old code stops reporting, form one
    series (connected components of the succession graph); the series is judged as the sum of its codes.
    Consequences: a merger moves activity between codes of one series and never flags; older reorganisations
    (1999-2002 splits and community-service transfers) do not join unrelated trusts.
Judged against England, not against the provider's own level
    Context: COVID cut attendances by half in April 2020 everywhere; a provider's own series cannot tell that from
    a reporting gap. Decision: each month, a series' share of the England total is compared with the median of its
    shares in the six months either side (months it reported). A month is an incident when the observed count is
    below half (or above 1.5 times) the count that share implies, and the difference is at least 2% of the
    footprint's count that month. The provider must report in at least three of the six months on each side (five
    of six on the one side near the ends of the series): a provider that opens, closes or stops for longer is a
    series break, not a missing month. Consequences: national shocks (COVID, winters, strikes) cancel out; a small
    unit's gap that moves its footprint by less than 2% is not listed.
Sustained breaks are listed, not imputed
    Context: a department can be downgraded, reclassified (type 1 to type 3) or closed. Decision: where a series'
    median share over the next six months differs from the previous six by more than half (or more than double)
    and the difference is at least 5% of the footprint, the month is listed as a series break with its size;
    nothing is imputed. Consequences: the report shows real changes of provision next to reporting gaps; the
    evaluator decides.
Four-hour breaches of the field-test trusts are not judged here
    Context: 14 trusts reported no breaches May 2019 - May 2023 by design. Decision: completeness is judged on
    attendances and emergency admissions; breaches of the field-test trusts are left out of the 4-hour measure
    (see :mod:`evidence.data.service_use`). Consequences: the field test never flags.
Imputation from the provider's own seasonal pattern (``data.incomplete: impute``)
    Context: the default ``flag`` keeps counts as published and lists the incidents. Decision: with ``impute``,
    the count of a missing or partial month (not an excess month: in the data these are real shifts, such as
    providers whose emergency admissions fell less than England's in April 2020) is replaced by a prediction from the series' own log share of England, fitted
    on its complete months within 24 months either side (linear trend and month-of-year effects), times the
    England total of that month; other counts of the same provider (breaches, admissions by route) are scaled by
    their median ratio to the judged count in the neighbouring months. Imputed values go into ``*_imputed``
    columns; the published counts stay as they are. Consequences: imputed values inherit the provider's
    seasonality and the national level of the month; they are model values, stated as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

WINDOW: int = 6
"""Months either side used to judge a month."""
RATIO_LOW: float = 0.5
RATIO_HIGH: float = 1.5
MATERIAL_SHARE: float = 0.02
"""An incident must move the footprint's count by at least this share."""
BREAK_SHARE: float = 0.05
"""A sustained break must move the footprint's count by at least this share."""
MIN_SIDE: int = 3
MIN_EDGE: int = 5
FIT_WINDOW: int = 24
SUCCESSIONS_FROM: str = "2016-01-01"


def provider_series(codes: pd.Series, successions: pd.DataFrame, last_active: pd.Series, end: str) -> pd.DataFrame:
    """Group provider codes into series: connected components of recent successions whose old code stops.

    Parameters
    ----------
    codes
        Provider codes present in the data.
    successions
        ``old_code``, ``new_code``, ``date`` (the trust successor lookup plus known additions).
    last_active
        Last month (``YYYY-MM-DD`` text or Timestamp) with activity, indexed by code.
    end
        The last month of the data: a code still active then has no successor in the data.

    Returns
    -------
    pandas.DataFrame
        ``org_code``, ``series`` (the sorted codes of the series joined by ``+``).
    """
    s = successions[(successions["old_code"] != successions["new_code"]) & (successions["date"].astype(str) >= SUCCESSIONS_FROM)]
    stops = ~s["old_code"].map(last_active.astype(str)).eq(str(end))
    s = s[stops.to_numpy()]
    uniq = pd.Index(pd.unique(pd.concat([codes.astype(str), s["old_code"], s["new_code"]], ignore_index=True)))
    i, j = uniq.get_indexer(s["old_code"]), uniq.get_indexer(s["new_code"])
    _, label = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(len(uniq), len(uniq))), directed=False)
    comp = pd.Series(label, index=uniq)
    present = pd.Index(pd.unique(codes.astype(str)))
    lab = comp.reindex(present)
    names = pd.Series(present, index=present).groupby(lab.to_numpy()).agg(lambda x: "+".join(sorted(x)))
    return pd.DataFrame({"org_code": present, "series": names.reindex(lab.to_numpy()).to_numpy()})


@dataclass
class Completeness:
    """Incidents found in one measure, and what imputation would put in their place.

    Attributes
    ----------
    incidents
        One row per series and month judged incomplete: ``measure``, ``series``, ``stp21_code``, ``period``,
        ``kind`` (``missing month``, ``partial month``, ``excess month`` or ``series break``), ``observed``,
        ``expected``, ``share_of_footprint`` (``(expected - observed) / footprint count with the expected value``:
        how far the footprint is off), ``imputed`` (whether ``data.incomplete: impute`` replaces it).
    expected
        series x months matrix of expected counts (NaN where not judged).
    """

    incidents: pd.DataFrame
    expected: pd.DataFrame


def _windows(m: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Stack shifted copies of ``m`` (series x months) along a new last axis, NaN outside the range."""
    n, t = m.shape
    out = np.full((n, t, len(offsets)), np.nan)
    cols = np.arange(t)
    for k, off in enumerate(offsets):  # a dozen offsets, each a vectorised shift
        src = cols + off
        ok = (src >= 0) & (src < t)
        out[:, ok, k] = m[:, src[ok]]
    return out


def judge(values: pd.DataFrame, footprint: pd.Series, measure: str) -> Completeness:
    """Find incomplete months in one count measure.

    Parameters
    ----------
    values
        series x months (columns in time order, no gaps) of counts; absent = 0.
    footprint
        The footprint of each series (index = series).
    measure
        Name of the measure, for the table.

    Returns
    -------
    Completeness
    """
    v = values.to_numpy(dtype=float)
    n, T = v.shape
    england = v.sum(axis=0)
    share = np.divide(v, england, out=np.zeros_like(v), where=england > 0)
    present = v > 0
    before = np.arange(-WINDOW, 0)
    after = np.arange(1, WINDOW + 1)
    sh = np.where(present, share, np.nan)
    wb, wa = _windows(sh, before), _windows(sh, after)
    n_before, n_after = np.isfinite(wb).sum(axis=2), np.isfinite(wa).sum(axis=2)
    both = np.concatenate([wb, wa], axis=2)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(both, axis=2)
            med_b, med_a = np.nanmedian(wb, axis=2), np.nanmedian(wa, axis=2)
    t = np.arange(T)[None, :]
    eligible = ((n_before >= MIN_SIDE) & (n_after >= MIN_SIDE)) | ((t < WINDOW) & (n_after >= MIN_EDGE)) | ((t >= T - WINDOW) & (n_before >= MIN_EDGE))
    expected = np.where(eligible, med * england, np.nan)
    fp = footprint.reindex(values.index).to_numpy()
    codes, fp_idx = np.unique(fp.astype(str), return_inverse=True)
    fp_total = np.zeros((len(codes), T))
    np.add.at(fp_total, fp_idx, v)
    fp_of_row = fp_total[fp_idx]
    diff = np.nan_to_num(expected) - v
    fp_with_expected = fp_of_row + np.where(np.isfinite(expected), diff, 0.0)
    with np.errstate(all="ignore"):
        ratio = v / expected
        rel = np.abs(diff) / fp_with_expected
    hit = eligible & np.isfinite(ratio) & ((ratio < RATIO_LOW) | (ratio > RATIO_HIGH)) & (rel >= MATERIAL_SHARE)
    kind = np.where(v == 0, "missing month", np.where(ratio < RATIO_LOW, "partial month", "excess month"))
    # sustained breaks: the next six months against the previous six (both sides reported), material
    with np.errstate(all="ignore"):
        step = med_a / med_b
        size = np.abs(med_a - med_b) * england / np.where(fp_of_row > 0, fp_of_row, np.nan)
    brk = (n_before >= MIN_SIDE) & (n_after >= MIN_SIDE) & ((step < RATIO_LOW) | (step > 1 / RATIO_LOW)) & (size >= BREAK_SHARE) & ~hit
    # one break per run of consecutive months: the month where the step is largest
    brk_rows = []
    if brk.any():
        score = np.where(brk, np.abs(np.log(np.where(step > 0, step, 1e-9))), -np.inf)
        for r in np.unique(np.nonzero(brk)[0]):  # series with a break (a handful)
            cols = np.nonzero(brk[r])[0]
            runs = np.split(cols, np.nonzero(np.diff(cols) > 1)[0] + 1)
            brk_rows += [(r, run[np.argmax(score[r, run])]) for run in runs]
    periods = values.columns
    rows_hit = np.nonzero(hit)
    inc = pd.DataFrame(
        {
            "measure": measure,
            "series": values.index.to_numpy()[rows_hit[0]],
            "stp21_code": fp[rows_hit[0]],
            "period": periods[rows_hit[1]],
            "kind": kind[rows_hit],
            "observed": v[rows_hit],
            "expected": expected[rows_hit],
            "share_of_footprint": diff[rows_hit] / fp_with_expected[rows_hit],
            "imputed": kind[rows_hit] != "excess month",
        }
    )
    if brk_rows:
        r_idx = np.array([r for r, _ in brk_rows])
        c_idx = np.array([c for _, c in brk_rows])
        brk_df = pd.DataFrame(
            {
                "measure": measure,
                "series": values.index.to_numpy()[r_idx],
                "stp21_code": fp[r_idx],
                "period": periods[c_idx],
                "kind": "series break",
                "observed": med_a[r_idx, c_idx] * england[c_idx],
                "expected": med_b[r_idx, c_idx] * england[c_idx],
                "share_of_footprint": (med_b[r_idx, c_idx] - med_a[r_idx, c_idx]) * england[c_idx] / fp_of_row[r_idx, c_idx],
                "imputed": False,
            }
        )
        inc = pd.concat([inc, brk_df], ignore_index=True)
    inc = inc.sort_values(["period", "stp21_code", "series"], kind="stable").reset_index(drop=True)
    return Completeness(inc, pd.DataFrame(expected, index=values.index, columns=periods))


def seasonal_imputation(values: pd.DataFrame, incidents: pd.DataFrame) -> pd.Series:
    """Predicted counts for the imputable incidents of ``values`` (series x months) from each series' own seasonal
    pattern of its share of England (see the module's decisions).

    Vectorised over incidents: one weighted least-squares problem per incident, solved as a batch.

    Returns
    -------
    pandas.Series
        Imputed counts indexed by (series, period).
    """
    todo = incidents[incidents["imputed"]]
    if todo.empty:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []], names=["series", "period"]))
    v = values.to_numpy(dtype=float)
    T = v.shape[1]
    england = v.sum(axis=0)
    periods = values.columns
    r = values.index.get_indexer(todo["series"])
    c = periods.get_indexer(todo["period"])
    bad = np.zeros_like(v, dtype=bool)
    inc_all = incidents[incidents["imputed"]]
    bad[values.index.get_indexer(inc_all["series"]), periods.get_indexer(inc_all["period"])] = True
    offs = np.arange(-FIT_WINDOW, FIT_WINDOW + 1)
    cols = c[:, None] + offs[None, :]  # incidents x window
    inside = (cols >= 0) & (cols < T)
    cc = np.clip(cols, 0, T - 1)
    y = v[r[:, None], cc]
    e = england[cc]
    ok = inside & (y > 0) & ~bad[r[:, None], cc] & (offs[None, :] != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.where(ok, np.log(np.where(y > 0, y, 1.0) / np.where(e > 0, e, 1.0)), 0.0)
    moy = np.asarray(periods.month if hasattr(periods, "month") else np.arange(T) % 12)
    month_of = moy[cc] - 1  # 0..11
    k = 2 + 11
    X = np.zeros(cols.shape + (k,))
    X[..., 0] = 1.0
    X[..., 1] = offs[None, :] / 12.0
    for m in range(1, 12):  # 11 month-of-year dummies
        X[..., 1 + m] = month_of == m
    W = ok.astype(float)
    XtW = X * W[..., None]
    A = np.einsum("nwk,nwl->nkl", XtW, X) + 1e-6 * np.eye(k)[None]
    b = np.einsum("nwk,nw->nk", XtW, ly)
    beta = np.linalg.solve(A, b[..., None])[..., 0]
    x0 = np.zeros((len(r), k))
    x0[:, 0] = 1.0
    m0 = moy[c] - 1
    x0[np.arange(len(r))[m0 > 0], 1 + m0[m0 > 0]] = 1.0
    pred = np.exp(np.einsum("nk,nk->n", x0, beta)) * england[c]
    enough = ok.sum(axis=1) >= 18
    fallback = todo["expected"].to_numpy(dtype=float)
    out = np.where(enough, pred, fallback)
    return pd.Series(out, index=pd.MultiIndex.from_arrays([todo["series"].to_numpy(), todo["period"].to_numpy()], names=["series", "period"]))


def ratio_to_judged(other: pd.DataFrame, judged: pd.DataFrame, incidents: pd.DataFrame) -> pd.Series:
    """Median ratio of another count to the judged count over the six months either side of each incident."""
    todo = incidents[incidents["imputed"]]
    if todo.empty:
        return pd.Series(dtype=float)
    o, j = other.reindex(index=judged.index, columns=judged.columns).fillna(0.0).to_numpy(float), judged.to_numpy(float)
    with np.errstate(all="ignore"):
        ratio = np.where(j > 0, o / j, np.nan)
    T = j.shape[1]
    r = judged.index.get_indexer(todo["series"])
    c = judged.columns.get_indexer(todo["period"])
    offs = np.r_[np.arange(-WINDOW, 0), np.arange(1, WINDOW + 1)]
    cols = c[:, None] + offs[None, :]
    inside = (cols >= 0) & (cols < T)
    vals = np.where(inside, ratio[r[:, None], np.clip(cols, 0, T - 1)], np.nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(vals, axis=1)
    return pd.Series(np.nan_to_num(med), index=pd.MultiIndex.from_arrays([todo["series"].to_numpy(), todo["period"].to_numpy()], names=["series", "period"]))


def load_successions(path: Path, extra: dict[str, str]) -> pd.DataFrame:
    """The trust successor lookup plus known missing mergers (dated April 2020)."""
    s = pd.read_csv(path, dtype=str)
    add = pd.DataFrame({"old_code": list(extra), "new_code": list(extra.values()), "date": "2020-04-01"})
    return pd.concat([s[["old_code", "new_code", "date"]], add], ignore_index=True)
