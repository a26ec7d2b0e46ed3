"""Placebo tests and leave-one-out checks for the TWFE and 2x2 difference-in-differences estimates.

* :func:`placebo_in_time` — fake treatment dates inside the pre-period: the post-treatment periods of treated units
  are dropped and each cohort's date is moved back by k periods. With parallel trends and no anticipation the
  placebo "effect" is zero; a non-zero one signals diverging pre-trends or anticipation.
* :func:`placebo_outcomes` — the same estimator on outcomes that integration should not move (chosen by the
  evaluator): an "effect" there points to confounding shocks coinciding with designation.
* :func:`leave_one_out` — drop each wave (cohort) or each treated unit in turn: how much the estimate rests on one
  of them.

Inference throughout is the package convention (cluster-robust standard errors, sandwich x G/(G-1)·(n-1)/n, t with
G - 1 degrees of freedom).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design import Design
from ..did.estimators import did_2x2, outcome_matrix, twfe
from ..errors import EstimationError
from ..inference import cluster_vcov, group_sums
from ..results import EstimateResult, normal_inference
from ..did.estimators import stacked_2x2
from ..missing import balanced_only

ESTIMATORS: tuple[str, ...] = ("twfe", "did_2x2")

DESCRIPTIONS = {
    "placebo_time": (
        "Placebo in time: post-treatment periods of treated units are dropped and each cohort's treatment date is moved "
        "back by k periods; the {est} estimate of this fake treatment should be zero under parallel trends and no "
        "anticipation. Cohorts with fewer than k + 1 pre-periods are left out. Inference: cluster-robust (CR1) standard "
        "errors, t with G-1 df."
    ),
    "placebo_outcome": (
        "Placebo outcomes: the {est} estimate on outcomes integration should not affect; a clear non-zero estimate points "
        "to shocks that coincide with designation (confounding) rather than an effect. Inference: cluster-robust (CR1) "
        "standard errors, t with G-1 df."
    ),
    "leave_one_out": (
        "Leave one out: the {est} estimate with each {by} left out in turn (group = what was left out), showing how much "
        "the pooled estimate rests on one of them. Inference: cluster-robust (CR1) standard errors, t with G-1 df."
    ),
}


def _check_estimator(estimator: str) -> None:
    if estimator not in ESTIMATORS:
        raise EstimationError(f"estimator {estimator!r} is not supported here; use one of {', '.join(ESTIMATORS)}.")


# ------------------------------------------------------------------------------------------------ TWFE, unbalanced
def twfe_masked(y: np.ndarray, D: np.ndarray, mask: np.ndarray, groups: np.ndarray) -> dict:
    """TWFE coefficient on the observed cells of a (possibly unbalanced) units x periods panel.

    The unit and period effects are partialled out exactly (Frisch-Waugh-Lovell): values are demeaned within
    units over their observed periods, then residualised on the unit-demeaned period dummies by least squares.
    The standard error is cluster-robust with the package convention (unit effects nested in the clusters, not
    counted); on a balanced panel the numbers equal :func:`evidence.did.twfe`.

    Parameters
    ----------
    y, D
        Outcome and treatment (N x T).
    mask
        Cells used (N x T, bool).
    groups
        Cluster code per unit (N,).

    Returns
    -------
    dict
        ``estimate``, ``std_error``, ``n_obs``, ``n_units``, ``n_clusters`` (clusters with observations).
    """
    unit, per = np.nonzero(mask)
    if unit.size == 0:
        raise EstimationError("no observation is left for the fixed-effects regression; check the placebo settings.")
    N, T = y.shape
    counts = np.bincount(unit, minlength=N).astype(float)
    inv_n = np.divide(1.0, counts, out=np.zeros(N), where=counts > 0)
    vals = np.column_stack([y[unit, per], D[unit, per]])
    # unit-demeaned values, then residualised on the unit-demeaned period dummies Wd. Context: Wd was built as a
    # cells x periods array (1.4 million x 48 for 30,000 small areas: 0.5 GB, and lstsq copies it). Decision: the
    # normal equations need only Wd'Wd = diag(n_t) - M' diag(1/n_i) M and Wd'V = period sums of V (M the cells
    # mask), and the fitted values are coef[t] - the unit's mean of coef over its cells. Consequences: memory O(cells),
    # the same numbers (tested against twfe and PanelOLS).
    Vd = vals - (np.stack([np.bincount(unit, vals[:, j], N) for j in range(2)], axis=1) * inv_n[:, None])[unit]
    M = mask.astype(float)
    A = np.diag(M.sum(axis=0)) - (M * inv_n[:, None]).T @ M
    rhs = np.stack([np.bincount(per, Vd[:, j], T) for j in range(2)], axis=1)
    coef = np.linalg.lstsq(A, rhs, rcond=1e-10)[0]  # rank T - 1 (a constant is absorbed by the unit means)
    R = Vd - (coef[per] - ((M @ coef) * inv_n[:, None])[unit])
    yr, xr = R[:, 0], R[:, 1]
    H = float(xr @ xr)
    if H < 1e-10 * max(1.0, float(D[unit, per] @ D[unit, per])):
        raise EstimationError("the treatment indicator is absorbed by the fixed effects in this sample; check the cohorts and the comparison group.")
    beta = float(xr @ yr) / H
    resid = yr - beta * xr
    used_groups = groups[unit]
    codes, inv = np.unique(used_groups, return_inverse=True)
    if codes.size < 2:
        raise EstimationError(f"only {codes.size} cluster(s) in the sample; cluster-robust inference needs at least two (check data.cluster).")
    V = cluster_vcov(xr[:, None], resid, inv)
    return {"estimate": beta, "std_error": float(np.sqrt(V[0, 0])), "n_obs": int(unit.size), "n_units": int(np.unique(unit).size), "n_clusters": int(codes.size)}


def _stacked_fit(st: dict, G: int) -> tuple[float, float]:
    """Overall (cohort-size weighted) estimate of a stacked 2x2 system and its cluster-robust standard error."""
    X, Y, grp, R = st["X"], st["Y"], st["groups"], st["R"]
    beta = np.linalg.lstsq(X, Y, rcond=None)[0]
    resid = Y - X @ beta
    bread = np.linalg.pinv(X.T @ X)
    scores = group_sums(X * resid[:, None], grp, G)
    n = X.shape[0]
    V = G / (G - 1) * (n - 1) / n * bread @ (scores.T @ scores) @ bread
    return float(R @ beta), float(np.sqrt(R @ V @ R))


def _row(method: str, label_: str, group: str, est: float, se: float, G_df: int, alpha: float, n_obs: int, n_units: int, n_clusters: int) -> dict:
    lo, hi, p = normal_inference(est, se, alpha, df=G_df - 1)
    return {
        "method": method,
        "outcome": label_,
        "estimand": "att",
        "group": group,
        "estimate": est,
        "std_error": se,
        "ci_lower": float(lo),
        "ci_upper": float(hi),
        "p_value": float(p),
        "n_obs": n_obs,
        "n_units": n_units,
        "n_clusters": n_clusters,
    }


# ------------------------------------------------------------------------------------------------ placebo in time
@balanced_only("the placebo-in-time test")
def placebo_in_time(
    design: Design,
    outcome: str,
    *,
    shifts: Sequence[int] = (3, 6, 12),
    estimator: str = "twfe",
    log: bool = False,
    alpha: float = 0.05,
) -> EstimateResult:
    """Placebo treatment dates k periods before the real ones, estimated on pre-treatment data only.

    Estimand: the estimator's effect of a fake treatment starting k periods before each cohort's real date, which is
    zero under parallel trends and no anticipation. For ``twfe`` the post-treatment periods of every treated unit are
    dropped (comparison units keep all periods; later cohorts serve as comparisons before their real date, as in the
    main regression) and the TWFE coefficient of the fake indicator is estimated on that unbalanced panel. For
    ``did_2x2`` each cohort is compared with the units untreated throughout the window over the periods before its
    real date: pre = before the fake date, post = from the fake date to the real one. Cohorts with fewer than k + 1
    pre-periods (fake date before the second period) are left out, and so are their units.

    Parameters
    ----------
    design, outcome, log
        The design, the outcome column, logs.
    shifts
        Periods k by which the treatment dates are moved back (positive integers).
    estimator
        ``twfe`` or ``did_2x2``.
    alpha
        1 - confidence level.

    Returns
    -------
    EstimateResult
        One row per feasible shift: method ``placebo_time``, estimand ``att``, group ``shift -k``;
        ``details['notes']`` says which cohorts each shift left out.
    """
    _check_estimator(estimator)
    shifts = [int(k) for k in shifts]
    if not shifts or any(k < 1 for k in shifts):
        raise EstimationError(f"shifts {shifts} must be positive whole numbers of periods (e.g. [3, 6, 12]).")
    y, label_ = outcome_matrix(design, outcome, log)
    g = design.g
    groups = design.cluster_codes
    G = int(groups.max()) + 1
    if G < 2:
        raise EstimationError(f"only {G} cluster(s) in the design; cluster-robust inference needs at least two (check data.cluster).")
    labels = design.panel.period_labels
    N, T = y.shape
    t = np.arange(T)
    rows, notes = [], []
    treated = np.isfinite(g)
    for k in shifts:
        feasible = treated & (g - k >= 1)
        left = sorted({labels[int(c)] for c in g[treated & ~feasible]})
        if not feasible.any():
            notes.append(f"shift -{k}: no cohort has {k + 1} or more pre-treatment periods; no estimate.")
            continue
        if not (~treated).any() and np.unique(g[feasible]).size < 2:
            notes.append(f"shift -{k}: only cohort {labels[int(g[feasible][0])]} has {k + 1} or more pre-treatment periods and no unit is untreated, so nothing compares with it; no estimate.")
            continue
        if left:
            notes.append(f"shift -{k}: cohort(s) {', '.join(left)} left out (fewer than {k + 1} pre-treatment periods).")
        if estimator == "twfe":
            mask = (t[None, :] < g[:, None]) & (feasible | ~treated)[:, None]  # untreated units: g = inf, all periods
            fake = np.where(feasible, g - k, np.inf)
            D = ((t[None, :] >= fake[:, None]) & mask).astype(float)
            fit = twfe_masked(y, D, mask, groups)
            rows.append(_row("placebo_time", label_, f"shift -{k}", fit["estimate"], fit["std_error"], fit["n_clusters"], alpha, fit["n_obs"], fit["n_units"], fit["n_clusters"]))
        else:
            gk = np.where(feasible | ~treated, g, np.nan)
            keep = ~np.isnan(gk)
            st = stacked_2x2(y[keep], gk[keep], groups[keep], shift=k, truncate=True)
            if not st["cohorts"]:
                notes.append(f"shift -{k}: no cohort can be compared; no estimate.")
                continue
            codes, inv = np.unique(st["groups"], return_inverse=True)
            st["groups"] = inv
            est, se = _stacked_fit(st, codes.size)
            n_units = st["n_units"][-1]
            rows.append(_row("placebo_time", label_, f"shift -{k}", est, se, codes.size, alpha, n_units * T, n_units, codes.size))
    if not rows:
        raise EstimationError(f"no placebo date is feasible for shifts {shifts}: {' '.join(notes)} Use smaller shifts (robustness.placebo_shifts).")
    return EstimateResult(pd.DataFrame(rows), method="placebo_time", outcome=label_, estimand="att", description=DESCRIPTIONS["placebo_time"].format(est=estimator), alpha=alpha, details={"notes": notes, "shifts": shifts, "estimator": estimator})


# ------------------------------------------------------------------------------------------------ placebo outcomes
def _estimate(design: Design, outcome: str, log: bool, estimator: str, alpha: float) -> pd.Series:
    if estimator == "twfe":
        return twfe(design, outcome, log=log, alpha=alpha, engine="numpy").tidy().iloc[0]
    tidy = did_2x2(design, outcome, log=log, alpha=alpha).tidy()
    return tidy[tidy["group"] == "all"].iloc[0]


def _outcome_specs(outcomes: Sequence[str | tuple[str, bool]], log: bool) -> list[tuple[str, bool]]:
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    specs = []
    for o in outcomes:
        if isinstance(o, str):
            specs.append((o, bool(log)))
        elif isinstance(o, (tuple, list)) and len(o) == 2 and isinstance(o[0], str):
            specs.append((o[0], bool(o[1])))
        else:
            raise EstimationError(f"outcome {o!r} should be a column name or a (column, log) pair.")
    if not specs:
        raise EstimationError("no outcome given; pass one or more outcome columns.")
    return specs


def placebo_outcomes(
    design: Design,
    outcomes: Sequence[str | tuple[str, bool]],
    *,
    estimator: str = "twfe",
    log: bool = False,
    alpha: float = 0.05,
) -> EstimateResult:
    """The main estimator on outcomes that integration should not move.

    Estimand: the estimator's effect on each placebo outcome, zero if designation coincided with no other shock to
    the treated areas. Which outcomes qualify is the evaluator's judgement (this function does not choose them).

    Parameters
    ----------
    design
        The analysis design.
    outcomes
        Outcome columns, or ``(column, log)`` pairs.
    estimator
        ``twfe`` or ``did_2x2`` (its overall row).
    log
        Logs for outcomes given as plain names.
    alpha
        1 - confidence level.

    Returns
    -------
    EstimateResult
        One row per outcome: method ``placebo_outcome``, estimand ``att``, group ``all``.
    """
    _check_estimator(estimator)
    rows = []
    for name, lg in _outcome_specs(outcomes, log):
        r = _estimate(design, name, lg, estimator, alpha)
        rows.append({**{c: r[c] for c in ("outcome", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_obs", "n_units", "n_clusters")}, "method": "placebo_outcome", "estimand": "att", "group": "all"})
    return EstimateResult(pd.DataFrame(rows), method="placebo_outcome", outcome=", ".join(r["outcome"] for r in rows), estimand="att", description=DESCRIPTIONS["placebo_outcome"].format(est=estimator), alpha=alpha, details={"estimator": estimator})


# ------------------------------------------------------------------------------------------------ leave one out
def without_units(design: Design, units: Sequence[str], reason: str) -> Design:
    """The design with some units excluded (status ``excluded`` with the reason), panel restricted accordingly."""
    return design.without_units(units, reason)


def _twfe_without_each(y: np.ndarray, D: np.ndarray, groups: np.ndarray, drop: np.ndarray) -> dict[str, np.ndarray]:
    """TWFE estimate and cluster-robust standard error (package convention) of a balanced panel without unit ``j``,
    for every ``j`` in ``drop``, in closed form.

    Context: leaving out each treated unit in turn re-estimated the regression once per treated unit, O(J N T) —
    1,761 fits of a 144,000-row panel for 3,000 small areas. Decision: with unit-demeaned ``u = D - mean_i``, ``v = y
    - mean_i`` and the period totals ``U_t``, ``V_t``, the two-way demeaned values without unit j are ``u_it - a_t``
    with ``a_t = (U_t - u_jt) / (N - 1)`` (and ``b_t`` for ``v``), so the coefficient is
    ``(sum uv - s_uv,j - (N-1) a.b) / (sum uu - s_uu,j - (N-1) a.a)``. Each cluster's score is linear in a
    feature vector of the cluster (``phi_g = [sum uv, sum uu, units, sum_i u_i, sum_i v_i]``) with weights that
    depend on j, ``s_g = phi_g . w_j``, so ``sum_g s_g^2 = w_j' (Phi' Phi) w_j``, corrected for unit j's own
    cluster. Consequences: O(N T + J T^2) for every unit left out; equal to re-estimating (tested to 1e-9).
    """
    N, T = y.shape
    u = D - D.mean(axis=1, keepdims=True)
    v = y - y.mean(axis=1, keepdims=True)
    suv, suu = (u * v).sum(axis=1), (u * u).sum(axis=1)
    U, V = u.sum(axis=0), v.sum(axis=0)
    G = int(groups.max()) + 1
    n_g = np.bincount(groups, minlength=G).astype(float)
    phi = np.column_stack([suv, suu, np.ones(N), u, v])  # per unit, (N, 2T + 3)
    Phi = group_sums(phi, groups, G)
    gram = Phi.T @ Phi
    n1 = N - 1
    a = (U[None, :] - u[drop]) / n1  # J x T
    b = (V[None, :] - v[drop]) / n1
    ab, aa = (a * b).sum(axis=1), (a * a).sum(axis=1)
    H = suu.sum() - suu[drop] - n1 * aa
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = (suv.sum() - suv[drop] - n1 * ab) / H
    w = np.column_stack([np.ones(drop.size), -beta, ab - beta * aa, -b + 2 * beta[:, None] * a, -a])  # J x (2T + 3)
    total = np.einsum("jk,kl,jl->j", w, gram, w)
    own = np.einsum("jk,jk->j", Phi[groups[drop]], w)  # score of unit j's cluster, with unit j
    mine = np.einsum("jk,jk->j", phi[drop], w)  # unit j's part of it
    total = total - own**2 + (own - mine) ** 2
    G1 = G - (n_g[groups[drop]] == 1)  # clusters left
    n = n1 * T
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(G1 / (G1 - 1) * (n - 1) / n * np.maximum(total, 0.0)) / np.abs(H)
    absorbed = ~(H > 1e-10 * max(1.0, float((D * D).sum())))
    return {"estimate": beta, "std_error": se, "n_clusters": G1, "absorbed": absorbed}


def leave_one_out(
    design: Design,
    outcome: str,
    *,
    by: str = "wave",
    estimator: str = "twfe",
    log: bool = False,
    alpha: float = 0.05,
) -> EstimateResult:
    """Re-estimate with each wave (cohort) or each treated unit left out in turn.

    Estimand: the estimator's effect without the units left out — a sensitivity check, not a different estimand of
    interest: large swings mean the pooled estimate rests on one wave or area.

    Parameters
    ----------
    design, outcome, log
        The design, the outcome column, logs.
    by
        ``wave``: each designation wave in turn (cohorts by first treated period when the design has no waves);
        ``unit``: each treated unit in turn.
    estimator
        ``twfe`` or ``did_2x2`` (its overall row).
    alpha
        1 - confidence level.

    Returns
    -------
    EstimateResult
        One row per unit or wave left out: method ``leave_one_out``, estimand ``att``, group = what was left out
        (``without wave 1``, ``without cohort 2017-07`` or ``without <unit code>``: the estimate without that group);
        ``details['full']`` is the estimate with everything.
    """
    _check_estimator(estimator)
    if by not in ("wave", "unit"):
        raise EstimationError(f"by={by!r} is unknown; use 'wave' or 'unit'.")
    inc = design.included
    tr = inc[design.treated]
    if by == "unit":
        sets = [(str(u), [u]) for u in tr["unit"]]
    elif tr["wave"].notna().all():
        sets = [(f"wave {int(w)}", tr.loc[tr["wave"] == w, "unit"].tolist()) for w in sorted(tr["wave"].unique())]
    else:
        sets = [(f"cohort {c}", tr.loc[tr["first_treated"] == c, "unit"].tolist()) for c in design.cohort_labels]
    full = _estimate(design, outcome, log, estimator, alpha)
    rows, notes = [], []
    if by == "unit" and estimator == "twfe" and len(sets) > 1:
        y, _ = outcome_matrix(design, outcome, log, missing="allow")
        if np.isfinite(y).all():  # a balanced panel: every unit left out at once (see _twfe_without_each)
            N, T = y.shape
            drop = np.flatnonzero(design.treated)
            fit = _twfe_without_each(y, design.treatment_matrix(), design.cluster_codes, drop)
            for k, j in enumerate(drop):
                name = str(design.panel.units[j])
                if fit["absorbed"][k] or fit["n_clusters"][k] < 2:
                    notes.append(f"{name}: the fixed-effects regression cannot be estimated without it (collinear regressors or fewer than two clusters).")
                    continue
                r = _row("leave_one_out", str(full["outcome"]), f"without {name}", float(fit["estimate"][k]), float(fit["std_error"][k]), int(fit["n_clusters"][k]), alpha, (N - 1) * T, N - 1, int(fit["n_clusters"][k]))
                rows.append({c: r[c] for c in ("outcome", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_obs", "n_units", "n_clusters", "method", "estimand", "group")})
            sets = []
    for name, units in sets:
        if len(units) == int(design.treated.sum()):
            notes.append(f"{name}: leaving it out leaves no treated unit; no estimate.")
            continue
        sub = without_units(design, units, f"left out ({name})")
        try:
            r = _estimate(sub, outcome, log, estimator, alpha)
        except EstimationError as exc:
            notes.append(f"{name}: {exc}")
            continue
        # the row holds the estimate WITHOUT the group: its label says so
        rows.append({**{c: r[c] for c in ("outcome", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_obs", "n_units", "n_clusters")}, "method": "leave_one_out", "estimand": "att", "group": f"without {name}"})
    if not rows:
        raise EstimationError(f"leave-one-out by {by} gives no estimate: {' '.join(notes)}")
    return EstimateResult(pd.DataFrame(rows), method="leave_one_out", outcome=str(full["outcome"]), estimand="att", description=DESCRIPTIONS["leave_one_out"].format(est=estimator, by=by), alpha=alpha, details={"full": full.to_dict(), "notes": notes, "by": by, "estimator": estimator})
