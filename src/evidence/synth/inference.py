"""Inference for SDID (and its SC / DiD forms) and for the classic synthetic control.

All three SDID methods follow Arkhangelsky et al. (2021, Section 5) and synthdid's ``vcov``; with several cohorts
every draw re-estimates every cohort and the cohort-weighted average, so the standard error of the average accounts
for the control units the cohorts share.

Placebo (Algorithm 4; synthdid ``placebo_se``)
    Each draw permutes the control units; the last ``N_tr`` of the permutation play the treated units (split into
    the cohorts' sizes, in cohort order), the others are the controls. Each cohort's weights are re-estimated
    (starting from the estimated weights of the controls kept, renormalised, and the estimated time weights, with
    the regularisation and stopping tolerance of the main fit, as synthdid does), the placebo cohort effects are
    averaged with the cohort weights of the main estimate. ``SE = sqrt((r-1)/r) sd`` of the ``r`` placebo
    averages. Needs more control units than treated units. The permutation p-value is the share of placebo
    averages at least as large as the estimate in absolute value.
Jackknife (Algorithm 3; synthdid ``jackknife_se``)
    Leave each unit (treated or control) out in turn with the estimated weights held fixed (unit weights of the
    remaining controls renormalised); cohort weights follow the remaining treated counts.
    ``SE = sqrt((n-1)/n sum (u_i - mean u)^2)``. Needs two or more treated units in every cohort, and is undefined
    when a single control carries all the unit weight.
Bootstrap (Algorithm 2; synthdid ``bootstrap_se``)
    Draws resample all units with replacement; a draw without a treated or without a control unit is redrawn
    (synthdid's rule). Weights are re-estimated in each draw (started from the estimated weights, fixed tuning);
    a cohort absent from a draw drops out of that draw's average, whose weights are the drawn treated counts
    times post-periods. ``SE = sqrt((r-1)/r) sd``.
Placebo-in-space for the classic synthetic control (:func:`sc_placebo`)
    Each donor (or set of donors, with several treated units) takes the treated units' dates and is fitted on the
    remaining donors exactly like the treated units; the distribution of these placebo effects gives the SE and
    the permutation p-value, and their post/pre RMSPE ratios ADH's rank p-value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import EstimationError
from .weights import block_contrast, block_pending, solve_weights, subset_pending, sum_normalize


def resampling_se(values: np.ndarray) -> np.ndarray | float:
    """``sqrt((r-1)/r)`` times the standard deviation of the draws (column-wise, NaN draws ignored)."""
    v = np.asarray(values, dtype=float)
    one = v.ndim == 1
    v = v[:, None] if one else v
    ok = np.isfinite(v)
    r = ok.sum(axis=0)
    mean = np.where(ok, v, 0.0).sum(axis=0) / np.maximum(r, 1)
    ss = np.where(ok, (v - mean) ** 2, 0.0).sum(axis=0)
    se = np.where(r >= 2, np.sqrt(ss / np.maximum(r, 1)), np.nan)
    return float(se[0]) if one else se


def jackknife_se(values: np.ndarray) -> np.ndarray | float:
    """Jackknife standard error ``sqrt((n-1)/n sum (u_i - mean u)^2)`` (column-wise)."""
    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    se = np.sqrt((n - 1) / n * ((v - v.mean(axis=0)) ** 2).sum(axis=0))
    return float(se) if np.ndim(se) == 0 else se


def placebo_draws(Y: np.ndarray, fits: list, cohort_weights: np.ndarray, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Placebo estimates (Algorithm 4) of the cohort-weighted average and of each cohort, one row per draw.

    Parameters
    ----------
    Y
        Outcomes (units x periods).
    fits
        The cohorts' :class:`~evidence.synth.estimators.CohortFit` (same controls for all).
    cohort_weights
        Weights of the cohorts in the average.
    draws
        Number of placebo draws.
    rng
        Random generator (seeded by the caller).
    """
    co = fits[0].co
    n_co = co.size
    n_tr = sum(f.n_tr for f in fits)
    if n_co <= n_tr:
        raise EstimationError(f"placebo inference needs more control units than treated units (there are {n_co} controls and {n_tr} treated); set methods.synth.inference: bootstrap or jackknife.")
    perm = np.argsort(rng.random((draws, n_co)), axis=1)
    keep = np.zeros((draws, n_co), dtype=bool)
    np.put_along_axis(keep, perm[:, : n_co - n_tr], True, axis=1)
    Yco = Y[co]
    T = Y.shape[1]
    pending, ybars = [], []
    off = n_co - n_tr
    for f in fits:  # a few cohorts; all their draws are solved in one Frank-Wolfe loop below
        pt = perm[:, off : off + f.n_tr]
        off += f.n_tr
        pw, ybar = subset_pending(
            Yco,
            keep,
            pt,
            f.c,
            f.kind,
            zeta_omega=f.zeta_omega,
            zeta_lambda=f.zeta_lambda,
            min_decrease=f.min_decrease,
            omega_init=sum_normalize(np.broadcast_to(f.omega, keep.shape), keep),
            lambda_init=np.broadcast_to(f.lam, (draws, f.c)).copy(),
        )
        pending.append(pw)
        ybars.append(ybar)
    out = np.empty((draws, len(fits)))
    for j, (f, w, ybar) in enumerate(zip(fits, solve_weights(pending), ybars)):
        v = np.concatenate([-w.lam, np.full((draws, T - f.c), 1.0 / (T - f.c))], axis=1)
        out[:, j] = np.einsum("bt,bt->b", ybar, v) - np.einsum("bn,bn->b", w.omega, v @ Yco.T)
    return out @ cohort_weights, out


def bootstrap_draws(Y: np.ndarray, fits: list, T: int, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap estimates (Algorithm 2) of the cohort-weighted average and of each cohort (NaN where absent)."""
    co = fits[0].co
    tr_all = np.concatenate([f.tr for f in fits])
    n_tr = tr_all.size
    pool = np.concatenate([tr_all, co])
    n = pool.size
    kept: list[np.ndarray] = []
    got = tries = 0
    while got < draws:  # synthdid redraws samples without a treated or without a control unit
        S = rng.integers(0, n, size=(draws, n))
        ok = (S < n_tr).any(axis=1) & (S >= n_tr).any(axis=1)
        kept.append(S[ok])
        got += int(ok.sum())
        tries += draws
        if tries > 1000 * draws:
            raise EstimationError("bootstrap: almost no draw contains both a treated and a control unit; set methods.synth.inference: placebo.")
    S = np.sort(np.concatenate(kept)[:draws], axis=1)
    counts = np.zeros((draws, n))
    np.add.at(counts, (np.arange(draws)[:, None], S), 1.0)
    isco = S >= n_tr
    n_co_b = isco.sum(axis=1)
    nmax = int(n_co_b.max())
    cpos = np.sort(np.where(isco, S, n), axis=1)[:, :nmax]  # drawn controls first (sorted, with repeats), padding = n
    valid = cpos < n
    Yco = np.where(valid[:, :, None], Y[pool[np.minimum(cpos, n - 1)]], 0.0)
    ctrl_index = np.where(valid, cpos - n_tr, 0)
    out = np.full((draws, len(fits)), np.nan)
    wts = np.zeros((draws, len(fits)))
    pending, jobs = [], []
    off = 0
    for j, f in enumerate(fits):  # a few cohorts; all their draws are solved in one Frank-Wolfe loop below
        k = counts[:, off : off + f.n_tr]
        off += f.n_tr
        m = k.sum(axis=1)
        present = m > 0
        if not present.any():
            continue
        ybar = (k[present] @ Y[f.tr]) / m[present, None]
        pending.append(
            block_pending(
                Yco[present],
                ybar,
                f.c,
                f.kind,
                zeta_omega=f.zeta_omega,
                zeta_lambda=f.zeta_lambda,
                min_decrease=f.min_decrease,
                n_co=n_co_b[present],
                omega_init=sum_normalize(f.omega[ctrl_index][present], valid[present]),
                lambda_init=np.broadcast_to(f.lam, (int(present.sum()), f.c)).copy(),
            )
        )
        jobs.append((j, present, ybar, m))
    for (j, present, ybar, m), w in zip(jobs, solve_weights(pending)):
        out[present, j] = block_contrast(Yco[present], ybar, w.omega, w.lam)
        wts[present, j] = m[present] * (T - fits[j].c)
    agg = np.nansum(np.where(wts > 0, out, 0.0) * wts, axis=1) / wts.sum(axis=1)
    return agg, out


def jackknife_values(Y: np.ndarray, fits: list, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-unit-out estimates with fixed weights (Algorithm 3): the average and each cohort, one row per
    left-out unit (treated units of each cohort, then the controls)."""
    for f in fits:
        if f.n_tr < 2:
            raise EstimationError(f"jackknife inference needs at least two treated units in every cohort; cohort {f.label} has {f.n_tr} — use inference='placebo' (or 'bootstrap').")
    co = fits[0].co
    n_tr_all = sum(f.n_tr for f in fits)
    n = n_tr_all + co.size
    U = np.empty((n, len(fits)))
    W = np.empty((n, len(fits)))
    off = 0
    for j, f in enumerate(fits):  # a few cohorts; each is vectorised over the left-out units
        if np.count_nonzero(f.omega) <= 1:
            raise EstimationError(f"jackknife inference is undefined for cohort {f.label}: a single control carries all the unit weight (the fixed-weight jackknife cannot drop it); use inference='placebo' or 'bootstrap'.")
        v = np.concatenate([-f.lam, np.full(T - f.c, 1.0 / (T - f.c))])
        d = Y @ v
        dco, dtr = d[co], d[f.tr]
        base = float(f.omega @ dco)
        mtr = float(dtr.mean())
        tau = np.full(n, mtr - base)
        size = np.full(n, float(f.n_tr))
        pos = np.arange(off, off + f.n_tr)
        tau[pos] = (dtr.sum() - dtr) / (f.n_tr - 1) - base
        size[pos] = f.n_tr - 1
        off += f.n_tr
        pc = n_tr_all + np.arange(co.size)
        tau[pc] = mtr - (base - f.omega * dco) / (1.0 - f.omega)
        U[:, j] = tau
        W[:, j] = size * (T - f.c)
    return (U * W).sum(axis=1) / W.sum(axis=1), U


def sc_placebo(
    Y: np.ndarray,
    donors: np.ndarray,
    assign: np.ndarray,
    cs: np.ndarray,
    X: np.ndarray | None,
    fit_units: Callable,
    unit_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Placebo-in-space for the classic synthetic control.

    Parameters
    ----------
    Y
        Outcomes (units x periods).
    donors
        Row indices of the donor units.
    assign
        (draws x treated units): positions in ``donors`` of the placebo units standing in for the treated units.
    cs
        First treated period of each treated unit (the placebo units take these dates).
    X
        Predictor matrix or None.
    fit_units
        The per-unit fitting function of :func:`evidence.synth.estimators.synthetic_control`.
    unit_weights
        Weights of the treated units in the average.

    Returns
    -------
    (placebo, ratios, per_unit)
        Placebo averages (draws,), their post/pre RMSPE ratios (draws,), placebo effects per treated-unit slot
        (draws x treated units).
    """
    n_draws = assign.shape[0]
    est = np.empty((n_draws, assign.shape[1]))
    ratios = np.empty(n_draws)
    all_pos = np.arange(donors.size)
    for d in range(n_draws):  # one placebo fit per draw
        rest = donors[np.setdiff1d(all_pos, assign[d])]
        fits = fit_units(Y, donors[assign[d]], cs, rest, X)
        est[d] = [f["tau"] for f in fits]
        pre = np.sqrt(unit_weights @ np.array([f["pre"] ** 2 for f in fits]))
        post = np.sqrt(unit_weights @ np.array([f["post"] ** 2 for f in fits]))
        ratios[d] = post / pre if pre > 0 else np.inf
    return est @ unit_weights, ratios, est
