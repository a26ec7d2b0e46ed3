"""2x2 difference-in-differences, two-way fixed effects and the TWFE event study.

Inference throughout: cluster-robust standard errors with clusters from the panel's ``cluster`` column (the unit by
default), with the small-sample factor G/(G-1)·(n-1)/n (linearmodels' ``group_debias``; fixed effects are not counted
as regressors because the unit effects are nested in the clusters), and Student-t intervals and p-values with G - 1
degrees of freedom. With few treated clusters these still over-reject; the robustness layer adds the wild cluster bootstrap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import EstimationError
from ..inference import cluster_vcov
from ..results import EstimateResult, EventStudyResult, normal_inference

DESCRIPTIONS = {
    "did_2x2": (
        "Estimand: for each cohort, the average effect on the treated over all its post-treatment periods in the window (ATT), "
        "from unit means before and after treatment compared with units untreated throughout the window; the overall row weights "
        "cohorts by their number of units. Assumes parallel trends in the pre/post means and no anticipation. "
        "Inference: cluster-robust (CR1) standard errors over the stacked cohort comparisons, t with G-1 df."
    ),
    "twfe": (
        "Estimand: the coefficient on the treatment indicator in a regression with unit and period fixed effects. Under "
        "parallel trends and a constant, immediate effect it is the ATT; with staggered timing and effects that vary by "
        "cohort or grow over time it is a weighted average that can put negative weight on some effects. "
        "Inference: cluster-robust (CR1) standard errors, t with G-1 df."
    ),
    "twfe_event_study": (
        "Estimand: effects by periods since treatment (event time), relative to the period before treatment, from a "
        "regression with unit and period fixed effects; leads test for pre-trends, end points are binned. With staggered "
        "timing the coefficients can be contaminated by effects at other event times (Sun and Abraham 2021). "
        "Inference: cluster-robust (CR1) standard errors, t with G-1 df."
    ),
}


def outcome_matrix(design: Design, outcome: str, log: bool = False, missing: str = "error") -> tuple[np.ndarray, str]:
    """The (units x periods) outcome array, optionally logged, and the outcome label used in results.

    ``missing='allow'`` returns missing cells (``data.missing: allow``) as NaN, for estimators that use the available
    cells; otherwise a panel with missing cells is refused, so no estimator can average over NaN by accident
    (estimators that need a balanced panel are given the complete units by :func:`evidence.missing.balanced_only`).
    """
    panel = design.panel
    if outcome not in panel.outcomes:
        raise EstimationError(f"outcome '{outcome}' is not in the panel; choose from {', '.join(panel.outcomes)} (data.outcomes).")
    y = panel.matrix(outcome)
    if missing != "allow" and np.isnan(y).any():
        raise EstimationError(f"outcome '{outcome}' has {int(np.isnan(y).sum())} missing cells and this method needs a balanced panel; set data.missing: drop_units, or fill the cells.")
    if log:
        if panel.outcome_kinds.get(outcome) in ("percent", "proportion"):
            raise EstimationError(f"outcome '{outcome}' is a {panel.outcome_kinds[outcome]}; logs are only used for counts and positive continuous outcomes.")
        if (y <= 0).any():
            raise EstimationError(f"outcome '{outcome}' has zero or negative values, so it cannot be logged; set methods.did.log_outcomes: false or analyse levels.")
        return np.log(y), f"{outcome}_log"
    return y, outcome


def control_matrices(design: Design, controls: list[str] | None) -> dict[str, np.ndarray]:
    """Time-varying controls as (units x periods) regressors named ``control:<column>``.

    Context: fixest users adjust TWFE, event studies and Sun-Abraham for time-varying controls
    (``y ~ x1 + sunab(cohort, year) | id + year``). Decision: the controls enter the same within regression as the
    treatment regressors, so they are partialled out exactly as fixest does (Frisch-Waugh-Lovell on the two-way
    demeaned panel); a control the unit and period effects absorb, or one collinear with the others, is refused by
    name. Consequences: coefficients equal pyfixest ``feols`` and linearmodels ``PanelOLS`` with the same controls;
    the controls' own coefficients are not reported (they are not causal).
    """
    if not controls:
        return {}
    panel = design.panel
    missing = [c for c in controls if c not in panel.data.columns]
    if missing:
        raise EstimationError(f"control '{missing[0]}' (data.controls) is not a column of the panel; list it in data.controls of a user's file.")
    out = {}
    from ..inference import demean_two_way

    for c in controls:
        m = panel.matrix(c)
        seen = np.isfinite(m)
        if np.abs(demean_two_way(np.where(seen, m, 0.0), seen)).max() < 1e-10 * max(1.0, np.nanmax(np.abs(m)) if seen.any() else 0.0):
            raise EstimationError(f"control '{c}' (data.controls) is absorbed by the unit and period effects (it varies only across units or only over time); remove it from data.controls.")
        out[f"control:{c}"] = m
    return out


def _check_collinear_controls(res_names: list[str], wanted: dict[str, np.ndarray]) -> None:
    dropped = [k.split(":", 1)[1] for k in wanted if k.startswith("control:") and k not in res_names]
    if dropped:
        raise EstimationError(f"control '{dropped[0]}' (data.controls) is collinear with the treatment regressors or the other controls; remove it from data.controls.")


def _cluster_codes(design: Design) -> np.ndarray:
    return design.cluster_codes


def _cr1(X: np.ndarray, resid: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance (the package convention, :func:`evidence.inference.cluster_vcov`)."""
    return cluster_vcov(X, resid, groups)


def _check_clusters(G: int) -> None:
    if G < 2:
        raise EstimationError(f"only {G} cluster(s) in the design; cluster-robust inference needs at least two (check data.cluster).")


def stacked_2x2(y: np.ndarray, g: np.ndarray, groups: np.ndarray, shift: int = 0, truncate: bool = False) -> dict:
    """The stacked 2x2 regression of :func:`evidence.did.did_2x2` as arrays (and its placebo-in-time variant).

    For cohort c (first treated period index) the pre-period is ``t < c - shift`` and the post-period
    ``c - shift <= t`` (up to ``t < c`` when ``truncate``, i.e. before the real treatment); the unit-level change of
    the means is regressed on cohort intercepts and cohort-specific treatment dummies over the stacked samples of each
    cohort with the units untreated throughout the window. Cohorts without a pre-period are left out.

    Returns
    -------
    dict
        ``X`` (rows x 2K), ``Y``, ``groups`` (cluster per row), ``R`` (cohort-size weights on the K treatment
        dummies), ``cohorts`` (indexes kept), ``sizes``, ``n_units`` (per cohort comparison, then overall),
        ``dropped`` (cohorts without a pre-period).
    """
    control = ~np.isfinite(g)
    if not control.any():
        raise EstimationError("the 2x2 difference-in-differences needs units untreated throughout the window, and there are none; shorten the window (design.end) or use the staggered estimators.")
    T = y.shape[1]
    t = np.arange(T)
    all_cohorts = np.unique(g[np.isfinite(g)]).astype(int)
    cohorts = [int(c) for c in all_cohorts if c - shift >= 1]
    dropped = [int(c) for c in all_cohorts if int(c) not in cohorts]
    if not cohorts:
        return {"cohorts": [], "dropped": dropped}
    k = len(cohorts)
    rows_X, rows_y, rows_g, sizes = [], [], [], []
    for j, c in enumerate(cohorts):
        fake = c - shift
        pre = t < fake
        post = (t >= fake) & (t < c) if truncate else t >= fake
        delta = y[:, post].mean(axis=1) - y[:, pre].mean(axis=1)
        member = (g == c) | control
        Xj = np.zeros((int(member.sum()), 2 * k))
        Xj[:, j] = 1.0
        Xj[:, k + j] = (g[member] == c).astype(float)
        rows_X.append(Xj)
        rows_y.append(delta[member])
        rows_g.append(groups[member])
        sizes.append(int((g == c).sum()))
    w = np.asarray(sizes, float) / sum(sizes)
    n_ctrl = int(control.sum())
    return {
        "X": np.vstack(rows_X),
        "Y": np.concatenate(rows_y),
        "groups": np.concatenate(rows_g),
        "R": np.concatenate([np.zeros(k), w]),
        "cohorts": cohorts,
        "sizes": sizes,
        "n_units": [s + n_ctrl for s in sizes] + [sum(sizes) + n_ctrl],
        "dropped": dropped,
    }


def did_2x2(design: Design, outcome: str, *, log: bool = False, alpha: float = 0.05, controls: list[str] | None = None) -> EstimateResult:
    """2x2 difference-in-differences on pre/post means, cohort by cohort, with an overall average.

    For cohort g the effect is ``mean_i∈g(Ybar_post - Ybar_pre) - mean_i∈C(Ybar_post - Ybar_pre)`` where pre is
    every window period before g, post every period from g on, and C the units untreated throughout the window.
    The cohort comparisons are stacked in one regression of the unit-level change on cohort intercepts and
    cohort-specific treatment dummies, so the overall row (cohort-size weights) has a covariance that accounts for
    the comparison units shared across cohorts.

    Parameters
    ----------
    design
        The analysis design.
    outcome
        Outcome column.
    log
        Analyse log(outcome) (effects in log points).
    alpha
        1 - confidence level.
    controls
        Time-varying controls (``data.controls``). With controls the 2x2 is estimated in its regression form: for
        each cohort, ``y_it = a_i + l_t + b_c D_it + x_it'g_c`` on the cohort and the units untreated throughout the
        window (without controls this equals the comparison of means), the cohort regressions stacked block by block
        so the overall row's covariance allows for shared comparison units and clusters.

    Returns
    -------
    EstimateResult
        Rows ``estimand='att'``: one per cohort (``group`` = cohort label) and one overall (``group`` = ``all``).
    """
    if controls:
        return _did_2x2_regression(design, outcome, log=log, alpha=alpha, controls=controls)
    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    if np.isnan(y).any():
        return _did_2x2_cells(design, y, label_, alpha=alpha)
    groups = _cluster_codes(design)
    _check_clusters(int(groups.max()) + 1)
    T = y.shape[1]
    labels = design.panel.period_labels
    st = stacked_2x2(y, design.g, groups)
    if not st["cohorts"]:
        raise EstimationError("the 2x2 difference-in-differences has no cohort with a pre-period in the window; widen design.start.")
    cohorts, sizes, k = st["cohorts"], st["sizes"], len(st["cohorts"])
    X, Y, grp = st["X"], st["Y"], st["groups"]
    beta = np.linalg.lstsq(X, Y, rcond=None)[0]
    V = _cr1(X, Y - X @ beta, grp)
    b = beta[k:]
    Vb = V[k:, k:]
    w = st["R"][k:]
    est = np.append(b, w @ b)
    se = np.sqrt(np.append(np.diag(Vb), w @ Vb @ w))
    G = int(groups.max()) + 1
    lo, hi, p = normal_inference(est, se, alpha, df=G - 1)
    n_units = st["n_units"]
    rows = pd.DataFrame(
        {
            "method": "did_2x2",
            "outcome": label_,
            "estimand": "att",
            "group": [labels[c] for c in cohorts] + ["all"],
            "estimate": est,
            "std_error": se,
            "ci_lower": lo,
            "ci_upper": hi,
            "p_value": p,
            "n_obs": [n * T for n in n_units],
            "n_units": n_units,
            "n_clusters": G,
        }
    )
    return EstimateResult(rows, method="did_2x2", outcome=label_, estimand="att", description=DESCRIPTIONS["did_2x2"], alpha=alpha, details={"weights": dict(zip([labels[c] for c in cohorts], w))})


def _stacked_effects(X: np.ndarray, Y: np.ndarray, grp: np.ndarray, idx: list[int], sizes: list[int], alpha: float, G: int) -> tuple:
    """OLS of the stacked cohort blocks: the cohort effects (columns ``idx``) and their cohort-size-weighted average,
    with the package's cluster-robust covariance (shared comparison units and clusters across blocks)."""
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ Y
    V = cluster_vcov(X, Y - X @ beta, grp, bread)
    b, Vb = beta[idx], V[np.ix_(idx, idx)]
    w = np.asarray(sizes, float) / sum(sizes)
    est = np.append(b, w @ b)
    se = np.sqrt(np.append(np.diag(Vb), w @ Vb @ w))
    lo, hi, p = normal_inference(est, se, alpha, df=G - 1)
    return est, se, lo, hi, p, w


def _sample_2x2(design: Design) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Cluster codes, their number, first treated periods and the comparison units of the 2x2 (checked)."""
    groups = _cluster_codes(design)
    G = int(groups.max()) + 1
    _check_clusters(G)
    g = design.g
    control = ~np.isfinite(g)
    if not control.any():
        raise EstimationError("the 2x2 difference-in-differences needs units untreated throughout the window, and there are none; shorten the window (design.end) or use the staggered estimators.")
    return groups, G, g, control


def _did_2x2_cells(design: Design, y: np.ndarray, label_: str, *, alpha: float) -> EstimateResult:
    """The 2x2 on a panel with missing cells (``data.missing: allow``): means over the available cells.

    Context: with missing cells a unit's pre/post change is undefined when it misses a whole side, and dropping such
    units changes the sample per cohort. Decision: the means are taken over every available unit-period cell, as
    R ``did``'s ``allow_unbalanced_panel`` does (its repeated-cross-section estimator, clustered by unit) and Card
    and Krueger (1994, Table 3, row 3) did: for cohort c,
    ``(mean post - mean pre | cohort c) - (mean post - mean pre | comparison)`` over observed cells, estimated by one
    regression per cohort on the four group x period cell indicators, stacked, with the package's cluster-robust
    covariance over units (clusters). Consequences: on a balanced panel it is the pre/post means estimator exactly;
    with missing cells it uses every observation, and the overall row's covariance allows for shared comparison
    units; the point estimate equals R ``did`` (tested), the standard error differs only by the small-sample factor.
    """
    groups, G, g, control = _sample_2x2(design)
    N, T = y.shape
    t = np.arange(T)
    seen = np.isfinite(y)
    cohorts = [int(c) for c in np.unique(g[np.isfinite(g)]) if c >= 1]
    blocks_X, blocks_y, blocks_g, sizes, n_units, cells = [], [], [], [], [], []
    for j, c in enumerate(cohorts):
        member = ((g == c) | control)[:, None] & seen
        treat = np.broadcast_to((g == c)[:, None], (N, T))[member]
        post = np.broadcast_to((t >= c)[None, :], (N, T))[member]
        if not (treat & ~post).any() or not (treat & post).any() or not (~treat & ~post).any() or not (~treat & post).any():
            continue  # a cohort without an observed cell on one side of the comparison is left out
        X = np.zeros((int(member.sum()), 4 * len(cohorts)))
        X[:, 4 * j : 4 * j + 4] = np.column_stack([np.ones(treat.size), treat, post, treat & post])
        blocks_X.append(X)
        blocks_y.append(y[member])
        blocks_g.append(np.broadcast_to(groups[:, None], (N, T))[member])
        sizes.append(int((g == c).sum()))
        n_units.append(int(member.any(axis=1).sum()))
        cells.append((j, c, int(member.sum())))
    if not cells:
        raise EstimationError("the 2x2 difference-in-differences has no cohort with observed cells before and after its treatment and in the comparison group; widen design.start or check the missing cells.")
    X = np.vstack(blocks_X)
    X = X[:, np.abs(X).sum(axis=0) > 0]
    Y, grp = np.concatenate(blocks_y), np.concatenate(blocks_g)
    est, se, lo, hi, p, w = _stacked_effects(X, Y, grp, [4 * i + 3 for i in range(len(cells))], sizes, alpha, G)
    labels = design.panel.period_labels
    kept = [c for _, c, _ in cells]
    n_all = int((np.isin(g, kept) | control).sum())
    rows = pd.DataFrame({"method": "did_2x2", "outcome": label_, "estimand": "att", "group": [labels[c] for c in kept] + ["all"], "estimate": est, "std_error": se, "ci_lower": lo, "ci_upper": hi, "p_value": p, "n_obs": [k for _, _, k in cells] + [int(seen[np.isin(g, kept) | control].sum())], "n_units": n_units + [n_all], "n_clusters": G})
    gap = missing_note(y, seen, "the pre/post means are taken over the available cells (as R did's allow_unbalanced_panel)")
    return EstimateResult(rows, method="did_2x2", outcome=label_, estimand="att", description=DESCRIPTIONS["did_2x2"], alpha=alpha, details={"weights": dict(zip([labels[c] for c in kept], w)), "missing": gap, "notes": [gap]})


def _did_2x2_regression(design: Design, outcome: str, *, log: bool, alpha: float, controls: list[str]) -> EstimateResult:
    """The 2x2 in regression form with time-varying controls (see :func:`did_2x2`)."""
    from ..inference import demean_two_way

    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    groups, G, g, control = _sample_2x2(design)
    ctrl = list(control_matrices(design, controls).values())
    T = y.shape[1]
    t = np.arange(T)
    cohorts = [int(c) for c in np.unique(g[np.isfinite(g)]) if c >= 1]
    if not cohorts:
        raise EstimationError("the 2x2 difference-in-differences has no cohort with a pre-period in the window; widen design.start.")
    k, m = len(cohorts), 1 + len(ctrl)
    used = observed_cells(y, dict(enumerate(ctrl)))
    blocks_X, blocks_y, blocks_g, sizes = [], [], [], []
    for j, c in enumerate(cohorts):
        member = (g == c) | control
        D = ((g[member] == c)[:, None] & (t[None, :] >= c)).astype(float)
        mk = None if used is None else used[member]
        rows_ = np.ones(int(member.sum()) * T, bool) if mk is None else mk.ravel()
        stack = np.stack([D] + [x[member] for x in ctrl], axis=-1)
        yc = y[member]
        if mk is not None:
            stack, yc = np.where(mk[:, :, None], stack, 0.0), np.where(mk, yc, 0.0)
        Xc = demean_two_way(stack, mk).reshape(-1, m)[rows_]
        X = np.zeros((Xc.shape[0], k * m))
        X[:, j * m : (j + 1) * m] = Xc
        blocks_X.append(X)
        blocks_y.append(demean_two_way(yc, mk).ravel()[rows_])
        blocks_g.append(np.repeat(groups[member], T)[rows_])
        sizes.append(int((g == c).sum()))
    X, Y, grp = np.vstack(blocks_X), np.concatenate(blocks_y), np.concatenate(blocks_g)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise EstimationError(f"the 2x2 regression with controls {', '.join(controls)} (data.controls) is collinear within a cohort's sample; remove a control from data.controls.")
    est, se, lo, hi, p, w = _stacked_effects(X, Y, grp, [j * m for j in range(k)], sizes, alpha, G)
    labels = design.panel.period_labels
    n_ctrl = int(control.sum())
    n_units = [s + n_ctrl for s in sizes] + [sum(sizes) + n_ctrl]
    n_obs = [len(b) for b in blocks_y] + [int((np.ones(y.shape, bool) if used is None else used)[np.isin(g, cohorts) | control].sum())]
    rows = pd.DataFrame({"method": "did_2x2", "outcome": label_, "estimand": "att", "group": [labels[c] for c in cohorts] + ["all"], "estimate": est, "std_error": se, "ci_lower": lo, "ci_upper": hi, "p_value": p, "n_obs": n_obs, "n_units": n_units, "n_clusters": G})
    gap = missing_note(y, used)
    return EstimateResult(rows, method="did_2x2", outcome=label_, estimand="att", description=DESCRIPTIONS["did_2x2"] + f" Regression form with time-varying controls: {', '.join(controls)}.", alpha=alpha, details={"weights": dict(zip([labels[c] for c in cohorts], w)), "controls": list(controls), "missing": gap, "notes": [gap] if gap else []})


def _panel_frame(design: Design, y: np.ndarray, regressors: dict[str, np.ndarray]) -> pd.DataFrame:
    N, T = y.shape
    idx = pd.MultiIndex.from_arrays([np.repeat(np.arange(N), T), np.tile(np.arange(T), N)], names=["unit", "t"])
    data = {"y": y.ravel()}
    data.update({k: v.ravel() for k, v in regressors.items()})
    return pd.DataFrame(data, index=idx)


def observed_cells(y: np.ndarray, regressors: dict[str, np.ndarray]) -> np.ndarray | None:
    """The cells a fixed-effects regression can use (outcome and every regressor present); ``None`` when all can."""
    ok = np.isfinite(y)
    for m in regressors.values():
        ok &= np.isfinite(m)
    return None if ok.all() else ok


def missing_note(y: np.ndarray, used: np.ndarray | None, what: str = "the fixed-effects regression uses the observed cells") -> str:
    """The sentence a result carries when it ran on an unbalanced panel (``data.missing: allow``)."""
    if used is None:
        return ""
    n_units = int((~used).any(axis=1).sum())
    return f"Unbalanced panel (data.missing: allow): {int(used.sum())} of {used.size} unit-period cells observed, {used.size - int(used.sum())} missing in {n_units} unit(s); {what}."


def _tdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a.T @ b`` for tall ``a`` and ``b`` (rows x k), in row blocks that OpenBLAS computes on one thread.

    Context: OpenBLAS runs a product of more than 2^18 multiply-adds on all cores and synchronises its threads inside
    it; on a machine whose cores are busy with other work (a shared 2-core machine at load 4-7) one 20,000 x 48 cross
    product then took 0.2-1.2 s instead of 3 ms, the event study's whole cost. Decision: tall products are summed over
    row blocks of at most 2^18 multiply-adds (OpenBLAS's single-thread threshold). Consequences: a few hundred small
    BLAS calls (milliseconds), the same result up to the order of summation (relative 1e-15), and times that do not
    depend on other processes' load.
    """
    vec = b.ndim == 1
    b2 = b[:, None] if vec else b
    rows = max(1, (1 << 18) // max(1, a.shape[1] * b2.shape[1]))
    out = np.zeros((a.shape[1], b2.shape[1]))
    for s in range(0, a.shape[0], rows):
        out += a[s : s + rows].T @ b2[s : s + rows]
    return out[:, 0] if vec else out


def _rdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for tall ``a`` (rows x k) and small ``b``, in row blocks computed on one thread (see :func:`_tdot`)."""
    vec = b.ndim == 1
    b2 = b[:, None] if vec else b
    rows = max(1, (1 << 18) // max(1, a.shape[1] * b2.shape[1]))
    out = np.empty((a.shape[0], b2.shape[1]))
    for s in range(0, a.shape[0], rows):
        np.matmul(a[s : s + rows], b2, out=out[s : s + rows])
    return out[:, 0] if vec else out


def _full_rank(xtx: np.ndarray, tol: float = 1e-10) -> bool:
    """Whether regressors with cross-product ``X'X`` (already partialled out of the fixed effects) are not collinear.

    Context: the rank was the SVD of the whole n x k regressor matrix, 40% of the time of a 1M-row event study with 48
    event-time dummies, only to refuse collinear designs. Decision: the k x k cross-product scaled to a unit diagonal
    (so a regressor observed in a few cells or measured in large units counts like any other) has full rank when its
    smallest eigenvalue exceeds ``tol`` = 1e-10, i.e. no column is within a relative distance 1e-5 of the span of the
    others. Consequences: exactly collinear designs (eigenvalue at rounding level, below 1e-13) are refused as before;
    cost O(k^3) instead of O(n k^2); a design collinear to 1e-5 but not exactly (never met with event-time dummies,
    whose scaled eigenvalues are above 1e-4 unless exactly collinear) is refused too, rather than estimated with
    meaningless standard errors.
    """
    if xtx.shape[0] == 0:
        return True
    d = np.sqrt(np.diag(xtx))
    if not (d > 0).all():
        return False
    return bool(np.linalg.eigvalsh(xtx / np.outer(d, d))[0] > tol)


def _group_sums(a: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sums of the rows of ``a`` within groups 0..G-1 (one sort and ``np.add.reduceat``; rows of absent groups 0)."""
    G = int(groups.max()) + 1
    if G == len(groups) and bool(np.all(groups == np.arange(G))):
        return a
    order = np.argsort(groups, kind="stable")
    sg = groups[order]
    starts = np.flatnonzero(np.concatenate([[True], sg[1:] != sg[:-1]]))
    out = np.zeros((G,) + a.shape[1:])
    out[sg[starts]] = np.add.reduceat(a[order], starts, axis=0)
    return out


def _sandwich(bread: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """The package's cluster-robust covariance from per-cluster scores (:mod:`evidence.inference`'s convention)."""
    G = scores.shape[0]
    if G < 2:
        raise EstimationError(f"only {G} cluster(s); cluster-robust inference needs at least two (check data.cluster).")
    return G / (G - 1) * (n - 1) / n * bread @ _tdot(scores, scores) @ bread


class _WithinFit:
    """Two-way fixed-effects OLS by exact within transformation (the same numbers as linearmodels ``PanelOLS`` with
    entity and time effects and the package's clustered covariance); on an unbalanced panel (``mask``) the exact
    projection on the observed cells (:func:`evidence.inference.demean_two_way`), as pyfixest ``feols``.

    Dense regressors (units x periods each). A balanced panel whose regressors are dummies is fitted faster and in
    less memory by :class:`_CodedWithinFit` (the same numbers).
    """

    def __init__(self, y: np.ndarray, regressors: dict[str, np.ndarray], groups: np.ndarray, mask: np.ndarray | None = None) -> None:
        from ..inference import demean_two_way

        N, T = y.shape
        names = list(regressors)
        rows = np.ones(N * T, dtype=bool) if mask is None else mask.ravel()
        stack = np.stack([regressors[k] for k in names], axis=-1)
        if mask is not None:
            stack, y = np.where(mask[:, :, None], stack, 0.0), np.where(mask, y, 0.0)
        X = demean_two_way(stack, mask).reshape(N * T, -1)[rows]
        yd = demean_two_way(y, mask).ravel()[rows]
        keep = np.abs(X).max(axis=0) > 1e-12  # regressors absorbed by the fixed effects are dropped, as PanelOLS does
        X = X[:, keep]
        names = [n for n, k in zip(names, keep) if k]
        xtx = _tdot(X, X)
        if not _full_rank(xtx):
            raise EstimationError("the fixed-effects regression cannot be estimated on this design (collinear regressors); check the cohorts and the comparison group.")
        bread = np.linalg.inv(xtx)
        beta = bread @ _tdot(X, yd)
        resid = yd - _rdot(X, beta)
        if mask is None:  # per unit, then per cluster
            scores = _group_sums((X * resid[:, None]).reshape(N, T, -1).sum(axis=1), groups)
        else:
            scores = _group_sums(X * resid[:, None], np.repeat(groups, T)[rows])
        self.cov = pd.DataFrame(_sandwich(bread, scores, X.shape[0]), index=names, columns=names)
        self.params = pd.Series(beta, index=names)
        self.std_errors = pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=names)
        self.nobs = int(rows.sum())
        tss = float(yd @ yd)
        self.rsquared_within = 1 - float(resid @ resid) / tss if tss > 0 else np.nan


class _CodedWithinFit:
    """:class:`_WithinFit` for a balanced panel whose treatment regressors are dummies given as one integer code per
    cell (``codes[i, t]`` = index of the dummy that is 1, or -1 for none), with optional dense controls.

    Context: the TWFE event study built 48 dense event-time dummies (n x 48 floats, twice, plus their two-way
    demeaned copies) and summed cluster scores with ``np.add.at``; at 1M rows that was slower than pyfixest. Decision:
    on a balanced panel the within transformation M (unit and period means removed) is an orthogonal projection, so
    with dummies D and outcome y, ``X'y~ = D'M y = bincount(codes, y~)`` and
    ``n * D'MD = n diag(c) - N C_u'C_u - T C_t'C_t + c c'`` where ``c`` counts each dummy's cells and ``C_u``
    (units x dummies), ``C_t`` (periods x dummies) count them by unit and by period — integers, so a dummy absorbed
    by the fixed effects (``D'MD`` diagonal 0) is found exactly. Residuals have zero unit sums, so cluster g's
    score is ``sum_{i in g, t} D e - sum_t C_t/N * E_g(t)`` with ``E_g(t)`` the cluster's residual sum in period t
    (``np.bincount`` and one ``np.add.reduceat``). Dense controls enter as in :class:`_WithinFit`.
    Consequences: the same estimates, covariance and R² as :class:`_WithinFit` (tests: 1e-10), in O(n) passes with
    integer codes instead of n x k floats: the 1M-row, 48-dummy event study in a fraction of the time and memory.
    """

    def __init__(self, y: np.ndarray, codes: np.ndarray, names: list[str], controls: dict[str, np.ndarray], groups: np.ndarray) -> None:
        from ..inference import demean_two_way

        N, T = y.shape
        n, K = N * T, len(names)
        yd = demean_two_way(y)
        cells = np.flatnonzero(codes.ravel() >= 0)  # the cells where some dummy is 1
        code = codes.ravel()[cells]
        unit, period = np.divmod(cells, T)
        count = np.bincount(code, minlength=K)
        by_unit = np.bincount(unit * K + code, minlength=N * K).reshape(N, K).astype(float)
        by_period = np.bincount(period * K + code, minlength=T * K).reshape(T, K).astype(float)
        # n * D'MD in exact integer arithmetic (the float products are of integers below 2^53)
        A = n * np.diag(count) - N * np.rint(_tdot(by_unit, by_unit)).astype(np.int64) - T * np.rint(_tdot(by_period, by_period)).astype(np.int64) + np.outer(count, count)
        keep_d = np.diag(A) > 0  # dummies absorbed by the fixed effects are dropped, as PanelOLS does
        xty = np.bincount(code, weights=yd.ravel()[cells], minlength=K)
        ctrl_names = list(controls)
        if ctrl_names:
            C = demean_two_way(np.stack([controls[k] for k in ctrl_names], axis=-1)).reshape(n, -1)
            keep_c = np.abs(C).max(axis=0) > 1e-12
            DC = np.column_stack([np.bincount(code, weights=C[cells, j], minlength=K) for j in range(C.shape[1])])
            xtx = np.block([[A / n, DC], [DC.T, _tdot(C, C)]])
            xty = np.concatenate([xty, _tdot(C, yd.ravel())])
        else:
            C, keep_c, xtx = np.zeros((n, 0)), np.zeros(0, dtype=bool), A / n
        keep = np.concatenate([keep_d, keep_c])
        kept = [nm for nm, k in zip(names + ctrl_names, keep) if k]
        xtx = xtx[np.ix_(keep, keep)]
        if not _full_rank(xtx):
            raise EstimationError("the fixed-effects regression cannot be estimated on this design (collinear regressors); check the cohorts and the comparison group.")
        bread = np.linalg.inv(xtx)
        beta = bread @ xty[keep]
        b_d = np.zeros(K + 1)  # coefficient per code, 0 for dropped dummies and for code -1 (the last entry)
        b_d[:K][keep_d] = beta[: int(keep_d.sum())]
        b_c = beta[int(keep_d.sum()) :]
        resid = yd - demean_two_way(b_d[codes])
        if ctrl_names:
            resid -= _rdot(C[:, keep_c], b_c).reshape(N, T)
        # cluster scores
        g_cell = groups[unit]
        G = int(groups.max()) + 1
        E = _group_sums(resid, groups)  # clusters x periods
        S = np.bincount(g_cell * K + code, weights=resid.ravel()[cells], minlength=G * K).reshape(G, K) - _rdot(E, by_period / N)
        S = S[:, keep_d]
        if ctrl_names:
            S = np.hstack([S, _group_sums((C[:, keep_c] * resid.reshape(n, 1)).reshape(N, T, -1).sum(axis=1), groups)])
        self.cov = pd.DataFrame(_sandwich(bread, S, n), index=kept, columns=kept)
        self.params = pd.Series(beta, index=kept)
        self.std_errors = pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=kept)
        self.nobs = n
        tss = float((yd * yd).sum())
        self.rsquared_within = 1 - float((resid * resid).sum()) / tss if tss > 0 else np.nan


def _fit(engine: str, y: np.ndarray, regressors: dict[str, np.ndarray], design: Design, groups: np.ndarray):
    mask = observed_cells(y, regressors)
    if engine == "numpy":
        return _WithinFit(y, regressors, groups, mask)
    if engine != "linearmodels":
        raise EstimationError(f"engine {engine!r} is unknown; use 'linearmodels' or 'numpy' (or, for twfe, 'auto').")
    df = _panel_frame(design, y, regressors)
    return _fit_panelols(df, list(regressors), groups, y.shape[1], mask)


def _fit_panelols(df: pd.DataFrame, exog: list[str], groups: np.ndarray, T: int, mask: np.ndarray | None = None):
    from linearmodels.panel import PanelOLS

    clusters = pd.DataFrame({"cluster": np.repeat(groups, T)}, index=df.index)
    if mask is not None:  # the observed cells only (linearmodels would drop them too, with a warning)
        df, clusters = df[mask.ravel()], clusters[mask.ravel()]
    try:
        model = PanelOLS(df["y"], df[exog], entity_effects=True, time_effects=True, drop_absorbed=True, check_rank=True)
        # sandwich times G/(G-1)·(n-1)/n, effects not counted: the same convention as did_2x2
        return model.fit(cov_type="clustered", clusters=clusters, group_debias=True, debiased=False, auto_df=False, count_effects=False)
    except ValueError as exc:  # rank problems are the user's design, not a bug
        first = str(exc).splitlines()[0]
        raise EstimationError(f"the fixed-effects regression cannot be estimated on this design ({first[:140]}); check the cohorts and the comparison group.") from None


# Context: linearmodels' PanelOLS is the audited reference the notebooks name, but it takes 0.1-0.5 s even on a few
# thousand unit-periods and grows to seconds at 100,000 (60 times the numpy engine at 1M rows), while the numpy engine
# gives the same estimate and standard error to 1e-10 (tests/did). Decision: ``engine='auto'`` (the default) uses
# PanelOLS below TWFE_NUMPY_ABOVE unit-period cells — footprint-level panels (42 areas, a few thousand cells) keep the
# reference engine, at 0.1-0.5 s per fit — and the numpy engine from there on (practice-level and small-area panels;
# bench/results/twfe.md). Consequences: user-scale panels (3,000 areas x 48 months = 144,000 cells) no longer spend
# seconds per outcome in PanelOLS; the engine used is in ``details['engine']``; callers that show PanelOLS output can
# still ask for ``engine='linearmodels'``.
TWFE_NUMPY_ABOVE = 10_000


def twfe(design: Design, outcome: str, *, log: bool = False, alpha: float = 0.05, engine: str = "auto", controls: list[str] | None = None) -> EstimateResult:
    """Two-way fixed effects: ``y_it = a_i + l_t + b D_it + e_it``.

    Parameters
    ----------
    design, outcome, log, alpha
        As in :func:`did_2x2`.
    engine
        ``auto`` (default: ``linearmodels`` below :data:`TWFE_NUMPY_ABOVE` = 10,000 unit-period cells, ``numpy``
        from there on), ``linearmodels`` (``PanelOLS`` with entity and time effects) or ``numpy`` (exact two-way
        within transformation, 10-80 times faster: bench/results/twfe.md); tests check they agree to 1e-10.
    controls
        Time-varying control columns (``data.controls``), partialled out with the fixed effects
        (:func:`control_matrices`).

    Returns
    -------
    EstimateResult
        One row, ``estimand='att'``, ``group='all'``.
    """
    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    groups = _cluster_codes(design)
    G = int(groups.max()) + 1
    _check_clusters(G)
    if engine == "auto":
        engine = "numpy" if y.size >= TWFE_NUMPY_ABOVE else "linearmodels"
    ctrl = control_matrices(design, controls)
    used = observed_cells(y, ctrl)
    if engine == "numpy" and used is None:  # balanced: the treatment dummy stays an integer code
        treated = np.arange(y.shape[1])[None, :] >= design.g[:, None]
        res = _CodedWithinFit(y, np.where(treated, 0, -1), ["treated"], ctrl, groups)
    else:
        res = _fit(engine, y, {"treated": design.treatment_matrix(), **ctrl}, design, groups)
    gap = missing_note(y, used)
    _check_collinear_controls(list(res.params.index), ctrl)
    est = float(res.params["treated"])
    se = float(res.std_errors["treated"])
    lo, hi, p = normal_inference(est, se, alpha, df=G - 1)
    rows = pd.DataFrame([{"method": "twfe", "outcome": label_, "estimand": "att", "group": "all", "estimate": est, "std_error": se, "ci_lower": float(lo), "ci_upper": float(hi), "p_value": float(p), "n_obs": int(res.nobs), "n_units": y.shape[0], "n_clusters": G}])
    return EstimateResult(rows, method="twfe", outcome=label_, estimand="att", description=DESCRIPTIONS["twfe"] + (f" Time-varying controls partialled out: {', '.join(controls)}." if controls else ""), alpha=alpha, details={"r2_within": float(res.rsquared_within), "controls": list(controls or []), "missing": gap, "notes": [gap] if gap else [], "engine": engine})


def event_study(design: Design, outcome: str, *, log: bool = False, window: tuple[int, int] = (-12, 12), alpha: float = 0.05, engine: str = "numpy", controls: list[str] | None = None) -> EventStudyResult:
    """TWFE event study with leads and lags relative to the period before treatment.

    Regressors are ``1{t - g = e}`` for ``e`` in ``[window[0], window[1]]`` except ``-1`` (the reference); event
    times beyond the window are binned into its end points. Units untreated within the window have all regressors 0.

    ``engine``: ``numpy`` (exact within transformation, the default; on a balanced panel the event-time dummies stay
    integer codes, :class:`_CodedWithinFit`, so 1M unit-periods with 48 event times take about 0.1-0.2 s) or
    ``linearmodels`` (``PanelOLS``); they agree to 1e-10 (tested), and with pyfixest ``feols`` with ``i()``
    event-time dummies (tests/did/test_fast_paths.py).

    Returns
    -------
    EventStudyResult
        Rows ``estimand='event_time'`` with ``event_time`` = e, and one ``pretest_f`` row (the joint test of the leads).
    """
    lead, lag = int(window[0]), int(window[1])
    if lead > -2 or lag < 0:
        raise EstimationError(f"methods.did.event_window {list(window)} must run from -2 or earlier to 0 or later.")
    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    groups = _cluster_codes(design)
    G = int(groups.max()) + 1
    _check_clusters(G)
    ctrl = control_matrices(design, controls)
    used = observed_cells(y, ctrl)
    # each cell's binned event time as an index 0..lag-lead (-1: untreated within the window, or a missing cell)
    g, T = design.g, y.shape[1]
    treated = np.isfinite(g)
    rel = np.arange(T)[None, :] - np.where(treated, g, 0).astype(np.int64)[:, None]
    bins = np.where(treated[:, None], np.clip(rel, lead, lag) - lead, -1)
    if used is not None:
        bins = np.where(used, bins, -1)  # event times seen only in missing cells are not estimated
    n_bin = np.bincount(bins.ravel() + 1, minlength=lag - lead + 2)[1:]
    times = [k for k in range(lead, lag + 1) if k != -1 and n_bin[k - lead] > 0]
    # Context: with no unit untreated throughout the window, unit and period effects span the event-time trend
    # (t - g), so a fully dynamic event study is not identified. Decision: normalise a second event time as well,
    # the binned first lead (Borusyak, Jaravel and Spiess 2024, sec. 3). Consequences: the leads are relative to
    # both -1 and the first lead bin; said in the notes.
    es_notes = []
    times_all = list(times)
    if not (~design.treated).any() and times and times[0] < -1:
        times = times[1:]
        es_notes.append(f"No unit is untreated throughout the window, so a fully dynamic event study is not identified: event time {times_all[0]}{' (and earlier, binned)' if times_all[0] == lead else ''} is a second reference period besides -1.")
    lut = np.full(lag - lead + 2, -1)  # bin -> regressor index (the last entry keeps -1 at -1)
    lut[[k - lead for k in times]] = np.arange(len(times))
    codes = lut[bins]
    if engine == "numpy" and used is None:  # balanced: the dummies stay integer codes
        res = _CodedWithinFit(y, codes, [f"e{k}" for k in times], ctrl, groups)
    else:
        regs = {f"e{k}": (codes == j).astype(float) for j, k in enumerate(times)}
        res = _fit(engine, y, {**regs, **ctrl}, design, groups)
    gap = missing_note(y, used)
    if gap:
        es_notes.append(gap)
    _check_collinear_controls(list(res.params.index), ctrl)
    kept = [k for k in times if f"e{k}" in res.params.index]
    est = np.array([res.params[f"e{k}"] for k in kept])
    se = np.array([res.std_errors[f"e{k}"] for k in kept])
    lo, hi, p = normal_inference(est, se, alpha, df=G - 1)
    n_at = {k: int(n_bin[k - lead]) for k in kept}
    rows = pd.DataFrame(
        {"method": "twfe_event_study", "outcome": label_, "estimand": "event_time", "event_time": kept, "estimate": est, "std_error": se, "ci_lower": lo, "ci_upper": hi, "p_value": p, "n_obs": int(res.nobs), "n_units": y.shape[0], "n_clusters": G}
    )
    # joint Wald test that all leads are zero (pre-trends), with the cluster-robust covariance
    leads = [f"e{k}" for k in kept if k < -1]
    pretest = None
    if leads:
        from scipy import special

        V = res.cov.loc[leads, leads].to_numpy()
        b = res.params[leads].to_numpy()
        W = float(b @ np.linalg.pinv(V) @ b)
        q = len(leads)
        F = W / q
        pretest = {"W": W, "df": q, "F": F, "p_value": float(special.fdtrc(q, G - 1, F))}
        # the joint pre-trend test as a row of the contract (estimate = F statistic) so the evidence summary can use it
        rows = pd.concat([rows, pd.DataFrame([{"method": "twfe_event_study", "outcome": label_, "estimand": "pretest_f", "estimate": F, "p_value": pretest["p_value"], "n_obs": int(res.nobs), "n_units": y.shape[0], "n_clusters": G}])], ignore_index=True)
    return EventStudyResult(rows, method="twfe_event_study", outcome=label_, estimand="event_time", description=DESCRIPTIONS["twfe_event_study"], alpha=alpha, details={"reference": -1, "window": (lead, lag), "n_at_event_time": n_at, "pretest": pretest, "binned": True, "notes": es_notes, "regressors": [int(k) for k in times], "controls": list(controls or []), "missing": gap})
