"""Validate a long panel and turn it into the balanced unit x period arrays the estimator works on.

Everything here is vectorised: the long table is pivoted once (by reshaping when it is already sorted by unit and
time, otherwise through integer codes), and every check (duplicates, balance, time-invariance of the cohort,
covariates and cluster) is an array comparison, never a loop over units or rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import EstimationError

CONTROL_GROUPS: dict[str, str] = {
    "never_treated": "never_treated",
    "nevertreated": "never_treated",
    "not_yet_treated": "not_yet_treated",
    "notyettreated": "not_yet_treated",
}
EST_METHODS: tuple[str, ...] = ("dr", "ipw", "reg")
BASE_PERIODS: tuple[str, ...] = ("varying", "universal")


@dataclass
class PreparedPanel:
    """Balanced panel arrays for :func:`evidence.staggered.att_gt`.

    Attributes
    ----------
    Y
        ``n_units x n_periods`` outcome matrix (C order), rows in ``unit_ids`` order.
    periods
        Sorted period values (``float64``).
    unit_ids
        Unit identifiers, one per row of ``Y``.
    cohort
        First treated period per unit; ``inf`` for never-treated units (and units first treated after the data
        ends, beyond ``anticipation``).
    groups
        Treated cohorts for which ATT(g,t) is estimated, ascending.
    X
        ``n_units x k`` baseline covariates (no intercept), or ``None``.
    cluster_codes
        Integer cluster code per unit, or ``None`` for unit-level inference.
    n_clusters
        Number of clusters (the number of units when ``cluster_codes`` is ``None``).
    notes
        What preparation changed (dropped units, recoded cohorts, trimmed periods).
    """

    Y: np.ndarray
    periods: np.ndarray
    unit_ids: np.ndarray
    cohort: np.ndarray
    groups: np.ndarray
    X: np.ndarray | None
    cluster_codes: np.ndarray | None
    n_clusters: int
    notes: list[str] = field(default_factory=list)
    unbalanced: bool = False

    @property
    def n_units(self) -> int:
        return int(self.Y.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.Y.shape[1])


def _fmt(value: float) -> str:
    """Compact label for a period or cohort value: ``2004`` rather than ``2004.0``."""
    v = float(value)
    if np.isfinite(v) and v == np.round(v):
        return str(int(v))
    return f"{v:g}"


def _numeric(data: pd.DataFrame, col: str, role: str) -> np.ndarray:
    s = data[col]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        raise EstimationError(
            f"{role} column '{col}' must be numeric (found dtype {s.dtype}); convert it, e.g. with pd.to_numeric"
        )
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def check_options(
    control_group: str,
    est_method: str,
    base_period: str,
    anticipation: int,
    alpha: float,
    bootstrap_draws: int,
) -> str:
    """Validate the scalar options of ``att_gt``; return the canonical control-group name."""
    cg = CONTROL_GROUPS.get(str(control_group).lower())
    if cg is None:
        raise EstimationError(
            f"control_group={control_group!r} is not recognised; use 'never_treated' or 'not_yet_treated'"
        )
    if est_method not in EST_METHODS:
        raise EstimationError(f"est_method={est_method!r} is not recognised; use 'dr', 'ipw' or 'reg'")
    if base_period not in BASE_PERIODS:
        raise EstimationError(f"base_period={base_period!r} is not recognised; use 'varying' or 'universal'")
    if isinstance(anticipation, bool) or not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise EstimationError(f"anticipation={anticipation!r} must be a non-negative integer number of periods")
    if not (isinstance(alpha, (float, int)) and 0 < float(alpha) < 1):
        raise EstimationError(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05 for 95% intervals")
    if isinstance(bootstrap_draws, bool) or not isinstance(bootstrap_draws, (int, np.integer)) or bootstrap_draws < 0:
        raise EstimationError(f"bootstrap_draws={bootstrap_draws!r} must be a non-negative integer (0 = analytic SEs)")
    return cg


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and each value's position among them.

    Integer-valued arrays spanning a modest range use a lookup table (linear time); others are factorised.
    """
    v = values
    if v.dtype.kind == "f" and np.all(np.isfinite(v)) and np.all(v == np.round(v)):
        v = v.astype(np.int64)
    if v.dtype.kind in "iu" and v.size:
        lo, hi = int(v.min()), int(v.max())
        if hi - lo <= 4 * v.size + 1024:
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[v - lo] = True
            pos = np.cumsum(present) - 1
            uniq = np.flatnonzero(present) + lo
            return pos[v - lo], uniq.astype(values.dtype)
    try:
        codes, uniq = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniq = pd.factorize(values, sort=False)
    return codes, np.asarray(uniq)


def _pivot_codes(ids: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Unit ids, sorted periods, and either ``None`` (rows already form an N x T block) or each row's flat index.

    Returns ``(unit_ids, periods, lin, present)`` where ``lin`` maps row r to ``unit * T + period`` and ``present``
    flags which of the ``N * T`` cells were observed (``None`` / all-true in the fast case).
    """
    n_rows = len(ids)
    # Fast path: rows sorted by unit then period, every unit observed in the same T periods.
    if n_rows > 0:
        change = ids[1:] != ids[:-1]
        n_units = int(np.count_nonzero(change)) + 1
        if n_rows % n_units == 0:
            T = n_rows // n_units
            tb = t.reshape(n_units, T)
            ib = ids.reshape(n_units, T)
            first = tb[0]
            if (
                (T == 1 or bool(np.all(first[1:] > first[:-1])))
                and bool(np.all(ib == ib[:, :1]))
                and bool(np.all(tb == first))
            ):
                uid = ib[:, 0]
                try:
                    increasing = n_units == 1 or bool(np.all(uid[1:] > uid[:-1]))
                except TypeError:
                    increasing = False
                if increasing or len(pd.unique(uid)) == n_units:
                    return uid.copy(), first.copy(), None, np.ones(n_rows, dtype=bool)
    # General path: integer codes for units and periods.
    ucodes, uniq_ids = _codes(ids)
    tcodes, uniq_t = _codes(t)
    uniq_t = np.asarray(uniq_t, dtype=np.float64)
    T = len(uniq_t)
    lin = ucodes.astype(np.int64) * T + tcodes
    counts = np.bincount(lin, minlength=len(uniq_ids) * T)
    return uniq_ids, uniq_t, lin, counts


def prepare_panel(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: list[str] | None,
    control_group: str,
    anticipation: int,
    cluster: str | None,
    allow_unbalanced: bool | str,
) -> PreparedPanel:
    """Check the long panel and build the balanced arrays (see :class:`PreparedPanel`)."""
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"data must be a pandas DataFrame in long format (got {type(data).__name__})")
    covariates = list(covariates or [])
    roles = {"yname": yname, "tname": tname, "idname": idname, "gname": gname}
    for role, col in roles.items():
        if not isinstance(col, str) or col not in data.columns:
            raise EstimationError(f"{role}={col!r} is not a column of data; pass one of {list(data.columns)[:12]}")
    for col in covariates:
        if col not in data.columns:
            raise EstimationError(f"covariate {col!r} is not a column of data; check the covariates list")
        if col in (yname, tname, idname, gname):
            raise EstimationError(f"covariate {col!r} is also used as yname/tname/idname/gname; remove it")
    if cluster is not None and cluster not in data.columns:
        raise EstimationError(f"cluster={cluster!r} is not a column of data; pass a column name or None (= idname)")
    if len(data) == 0:
        raise EstimationError("data has no rows; att_gt needs a long panel with one row per unit and period")

    notes: list[str] = []
    ids = data[idname].to_numpy()
    if pd.isna(ids).any():
        raise EstimationError(f"idname '{idname}' has missing values; every row needs a unit identifier")
    t = _numeric(data, tname, "tname")
    if np.isnan(t).any():
        raise EstimationError(f"tname '{tname}' has missing values; every row needs a time period")
    y = _numeric(data, yname, "yname")
    g = _numeric(data, gname, "gname")
    g = np.where(np.isnan(g), 0.0, g)
    xcols = [_numeric(data, c, "covariate") for c in covariates]
    clus_raw = None
    if cluster is not None and cluster != idname:
        clus_raw, _ = pd.factorize(data[cluster].to_numpy(), use_na_sentinel=True)
        if (clus_raw < 0).any():
            raise EstimationError(f"cluster column '{cluster}' has missing values; fill them or cluster on idname")

    unit_ids, periods, lin, present = _pivot_codes(ids, t)
    N, T = len(unit_ids), len(periods)
    if T < 2:
        raise EstimationError(f"tname '{tname}' has {T} distinct period(s); att_gt needs at least two")

    if lin is None:

        def to_matrix(v: np.ndarray, fill: float = np.nan) -> np.ndarray:  # noqa: ARG001 - same signature below
            return v.reshape(N, T)

        complete = np.ones(N, dtype=bool)
    else:
        if present.max() > 1:
            ndup = int(np.count_nonzero(present > 1))
            raise EstimationError(
                f"{ndup} unit-period pairs appear more than once; idname '{idname}' and tname '{tname}' must "
                "identify rows uniquely (aggregate duplicates first)"
            )
        observed = (present == 1).reshape(N, T)

        def to_matrix(v: np.ndarray, fill: float = np.nan) -> np.ndarray:
            out = np.full(N * T, fill, dtype=v.dtype if v.dtype.kind in "iu" else np.float64)
            out[lin] = v
            return out.reshape(N, T)

        complete = observed.all(axis=1)

    Ym = to_matrix(y)
    complete &= ~np.isnan(Ym).any(axis=1)
    Xm = [to_matrix(x) for x in xcols]
    for xm in Xm:
        complete &= ~np.isnan(xm).any(axis=1)
    n_incomplete = int(N - np.count_nonzero(complete))
    rc = False
    if n_incomplete:
        if allow_unbalanced is False or allow_unbalanced is None:
            cols = ", ".join([f"'{yname}'"] + [f"'{c}'" for c in covariates])
            raise EstimationError(
                f"unbalanced panel: {n_incomplete} of {N} units (idname '{idname}') are not observed in every "
                f"period of tname '{tname}' or have missing {cols}; balance the panel, pass allow_unbalanced=True "
                "(R did's allow_unbalanced_panel: the available rows) or allow_unbalanced='drop' to drop those units"
            )
        if allow_unbalanced == "drop":
            msg = (
                f"Dropped {n_incomplete} of {N} units (idname '{idname}') not observed with complete data in every "
                f"period of '{tname}' (allow_unbalanced='drop')."
            )
            notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)
        else:
            # R did's allow_unbalanced_panel: every observed row is kept; a cell with a missing outcome or
            # covariate is a missing row
            rc = True
            seen = np.isfinite(Ym)
            for xm in Xm:
                seen &= np.isfinite(xm)
            Ym = np.where(seen, Ym, np.nan)
            complete = seen.any(axis=1)
            n_rows = int(seen.sum())
            notes.append(
                f"Unbalanced panel: {n_incomplete} of {N} units miss at least one period; every ATT(g,t) uses the "
                f"available rows ({n_rows} of {N * T}) with the repeated cross-section estimators, influence "
                "functions summed within units (R did's allow_unbalanced_panel)."
            )
            n_incomplete = int(N - np.count_nonzero(complete))

    # only units with observed cells are kept (every cell for a balanced panel)
    Gm = to_matrix(g, fill=np.nan if rc else 0.0)
    keep = complete
    all_complete = n_incomplete == 0
    Gk = Gm if all_complete else Gm[keep]
    if rc:  # the unit's value in its observed rows
        seen_k = seen[keep]
        g_unit = np.nanmax(np.where(seen_k, Gk, np.nan), axis=1)
        varies = ((Gk != g_unit[:, None]) & seen_k).any(axis=1)
    else:
        g_unit = Gk[:, 0].copy()
        varies = (Gk != g_unit[:, None]).any(axis=1)
    if varies.any():
        bad = unit_ids[keep][varies]
        raise EstimationError(
            f"gname '{gname}' varies over time within {int(varies.sum())} units (e.g. {idname}={bad[0]!r}); the "
            "first treatment period must be the same in every row of a unit"
        )

    X = None
    if Xm:
        X = np.empty((int(keep.sum()), len(Xm)), dtype=np.float64)
        for j, (col, xm) in enumerate(zip(covariates, Xm, strict=True)):
            xk = xm if all_complete else xm[keep]
            if rc:
                first_seen = np.argmax(seen[keep], axis=1)
                x0 = xk[np.arange(xk.shape[0]), first_seen]
                v = ((xk != x0[:, None]) & seen[keep]).any(axis=1)
                xk = np.broadcast_to(x0[:, None], xk.shape)
            else:
                v = (xk != xk[:, :1]).any(axis=1)
            if v.any():
                bad = unit_ids[keep][v]
                raise EstimationError(
                    f"covariate '{col}' varies over time within {int(v.sum())} units (e.g. {idname}={bad[0]!r}); "
                    "att_gt uses baseline covariates: replace it by its value in a pre-treatment period"
                )
            X[:, j] = xk[:, 0]

    cluster_codes = None
    if clus_raw is not None:
        cm = to_matrix(clus_raw.astype(np.int64), fill=-1)[keep]
        if rc:
            c0 = cm.max(axis=1)
            v = ((cm != c0[:, None]) & (cm >= 0)).any(axis=1)
            cm = np.broadcast_to(c0[:, None], cm.shape)
        else:
            v = (cm != cm[:, :1]).any(axis=1)
        if v.any():
            bad = unit_ids[keep][v]
            raise EstimationError(
                f"cluster column '{cluster}' varies over time within {int(v.sum())} units (e.g. {idname}="
                f"{bad[0]!r}); clusters must contain whole units"
            )
        cluster_codes = cm[:, 0]

    if n_incomplete:
        Ym = Ym[keep]
        unit_ids = unit_ids[keep]
    Ym = np.ascontiguousarray(Ym, dtype=np.float64)

    # ---- cohorts -------------------------------------------------------------------------------------------
    first, last = float(periods[0]), float(periods[-1])
    cohort = np.where(g_unit == 0, np.inf, g_unit)
    late = np.isfinite(cohort) & (cohort > last + anticipation)
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after the last period ({_fmt(last)}"
            + (f" + anticipation {anticipation}" if anticipation else "")
            + ") are treated as never treated."
        )
        cohort = np.where(late, np.inf, cohort)
    early = np.isfinite(cohort) & (cohort <= first)
    if early.any():
        msg = (
            f"Dropped {int(early.sum())} units already treated in the first period ({tname} {_fmt(first)}): "
            f"cohorts {', '.join(_fmt(v) for v in np.unique(cohort[early]))} have no pre-treatment period."
        )
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)
    no_pre = np.isfinite(cohort) & (cohort > first) & (cohort <= first + anticipation)
    if no_pre.any():
        bad = ", ".join(_fmt(v) for v in np.unique(cohort[no_pre]))
        raise EstimationError(
            f"cohort(s) {gname}={bad} have no pre-treatment period with anticipation={anticipation} (the first "
            f"period is {_fmt(first)}); reduce anticipation or drop those units"
        )
    keep_u = ~early
    if not keep_u.all():
        Ym = np.ascontiguousarray(Ym[keep_u])
        unit_ids = unit_ids[keep_u]
        cohort = cohort[keep_u]
        if X is not None:
            X = X[keep_u]
        if cluster_codes is not None:
            cluster_codes = cluster_codes[keep_u]

    groups = np.sort(pd.unique(cohort))
    groups = groups[np.isfinite(groups)]
    has_never = bool(np.isinf(cohort).any())
    if not has_never:
        if control_group == "never_treated":
            raise EstimationError(
                f"control_group='never_treated' but no unit is never treated ({gname} 0 or missing); use "
                "control_group='not_yet_treated' to compare with units treated later"
            )
        if groups.size == 0:
            raise EstimationError(f"no treated units remain; check gname '{gname}'")
        latest = float(groups[-1])
        cutoff = latest - anticipation
        keep_t = periods < cutoff
        if keep_t.sum() < 2:
            raise EstimationError(
                f"no never-treated units and fewer than two periods before the last cohort ({_fmt(latest)}); "
                "att_gt cannot form a comparison group"
            )
        dropped_t = int(T - keep_t.sum())
        notes.append(
            f"No never-treated units: periods from {_fmt(cutoff)} on ({dropped_t} periods) are dropped and the last "
            f"cohort ({_fmt(latest)}) serves only as a not-yet-treated comparison group."
        )
        Ym = np.ascontiguousarray(Ym[:, keep_t])
        periods = periods[keep_t]
        groups = groups[groups < latest]
    if groups.size == 0:
        raise EstimationError(
            f"no treated cohort has a pre-treatment period and a comparison group in the window (cohort column '{gname}', period column '{tname}'); start the window earlier (design.start) or check the treatment column (treatment.cohort)."
        )

    if cluster_codes is not None:
        cluster_codes, uniq = pd.factorize(cluster_codes, sort=True)
        n_clusters = len(uniq)
    else:
        n_clusters = int(Ym.shape[0])

    return PreparedPanel(
        Y=Ym,
        periods=np.asarray(periods, dtype=np.float64),
        unit_ids=unit_ids,
        cohort=cohort,
        groups=groups.astype(np.float64),
        X=X,
        cluster_codes=cluster_codes,
        n_clusters=n_clusters,
        notes=notes,
        unbalanced=rc,
    )
