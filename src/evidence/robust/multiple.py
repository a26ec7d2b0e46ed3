"""Several outcomes at once: Holm and Romano-Wolf adjusted p-values.

The workbook tests the same designation on several outcomes (attendances, admissions, the four-hour share, in levels
and logs); the chance that at least one of them looks significant when none is affected grows with their number.

* :func:`holm` — Holm's (1979) step-down Bonferroni: controls the family-wise error rate under any dependence, but
  ignores it, so it is conservative when the outcomes are correlated (as A&E activity measures are).
* :func:`romano_wolf` — Romano and Wolf's (2005, 2016) step-down procedure on the wild cluster bootstrap
  t-statistics of every outcome, drawn with the same cluster weights so that the bootstrap keeps the dependence
  between outcomes (Clarke, Romano and Wolf 2020). It controls the family-wise error rate and is less conservative
  than Holm when outcomes are correlated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..results import EstimateResult, tidy_frame
from .placebo import _outcome_specs
from .wild import _REL_TIE, _check_args, _problem, bootstrap_weights
from ..missing import balanced_only

DESCRIPTIONS = {
    "holm": "Holm step-down adjusted p-values (family-wise error rate over the rows adjusted together, valid under any dependence between them).",
    "romano_wolf": (
        "Estimand: the {est} coefficient of each outcome. Inference: Romano-Wolf step-down adjusted p-values from the "
        "wild cluster bootstrap ({kind}, {weights} weights, {draws}) t-statistics of all outcomes, drawn with the same "
        "cluster weights so their dependence is kept; controls the family-wise error rate across the outcomes. "
        "std_error is the cluster-robust standard error; no interval is reported."
    ),
}


def _holm_array(p: np.ndarray) -> np.ndarray:
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def holm(pvalues):
    """Holm step-down adjusted p-values.

    With m p-values sorted increasingly, ``p_adj(i) = max_{j <= i} min(1, (m - j + 1) p(j))`` (the same as
    ``statsmodels.stats.multitest.multipletests(method="holm")``). Missing p-values are left out of m and stay
    missing.

    Parameters
    ----------
    pvalues
        An array-like or Series of p-values (returned adjusted, same shape and index), or a tidy estimates frame
        (:data:`evidence.results.ESTIMATE_COLUMNS`): its rows are returned with ``method = 'holm'``, ``p_value``
        adjusted across all of them and the intervals blanked (they are not adjusted); other columns unchanged.
    """
    if isinstance(pvalues, pd.DataFrame):
        if "p_value" not in pvalues.columns:
            raise EstimationError("holm() was given a table without a p_value column; pass p-values or a tidy estimates frame.")
        out = tidy_frame(pvalues.copy())
        out["p_value"] = _holm_array(out["p_value"].to_numpy(dtype=float))
        out["method"] = pd.array(["holm"] * len(out), dtype="string")
        out["ci_lower"] = np.nan
        out["ci_upper"] = np.nan
        return out
    if isinstance(pvalues, pd.Series):
        return pd.Series(_holm_array(pvalues.to_numpy(dtype=float)), index=pvalues.index, name=pvalues.name)
    p = np.asarray(pvalues, dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise EstimationError("holm() was given values outside [0, 1]; pass p-values.")
    return _holm_array(p.ravel()).reshape(p.shape)


def romano_wolf_adjust(t_obs: np.ndarray, t_boot: np.ndarray) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values from observed t-statistics (S,) and bootstrap ones (B x S).

    Hypotheses are ordered by decreasing ``|t|``; at step s the p-value is the share of draws whose maximum ``|t*|``
    over the hypotheses not yet rejected (those ranked s and below) is at least the s-th ``|t|``; adjusted p-values
    are made monotone in that order (each at least the previous one). Draws with undefined t never exceed.
    """
    t_obs = np.asarray(t_obs, dtype=float)
    a = np.abs(np.asarray(t_boot, dtype=float))
    a = np.where(np.isnan(a), -1.0, a)  # undefined draws never exceed (as in the single test)
    order = np.argsort(-np.abs(t_obs), kind="mergesort")
    # running maximum from the least significant hypothesis upwards: column s = max over order[s:]
    tail_max = np.maximum.accumulate(a[:, order[::-1]], axis=1)[:, ::-1]
    adj = np.empty(t_obs.size)
    prev = 0.0
    for s, j in enumerate(order):
        p = float(np.count_nonzero(tail_max[:, s] >= abs(t_obs[j]) * (1 - _REL_TIE)) / a.shape[0])
        prev = max(prev, p)
        adj[j] = prev
    return adj


@balanced_only("the Romano-Wolf adjustment")
def romano_wolf(
    design: Design,
    outcomes: Sequence[str | tuple[str, bool]],
    *,
    log: bool = False,
    estimator: str = "twfe",
    null: float = 0.0,
    restricted: bool = True,
    weights: str = "rademacher",
    draws: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
) -> EstimateResult:
    """Romano-Wolf step-down adjusted p-values across outcomes from the wild cluster bootstrap.

    Estimand: the TWFE (or overall 2x2) coefficient of each outcome. Assumptions: those of the wild cluster
    bootstrap (independence across clusters). Inference: for each outcome the cluster-robust t of ``coefficient =
    null`` and its wild cluster bootstrap distribution (:func:`evidence.robust.wild_bootstrap`, same settings), all
    outcomes drawn with one matrix of cluster weights; then the Romano-Wolf step-down (:func:`romano_wolf_adjust`).
    With one outcome the adjusted p-value is the bootstrap p-value of :func:`~evidence.robust.wild_bootstrap` with
    the same draws.

    Parameters
    ----------
    design
        The analysis design.
    outcomes
        Outcome columns, or ``(column, log)`` pairs (e.g. ``[("admissions", True), ("pct_within_4h", False)]``).
    log
        Logs for outcomes given as plain names.
    estimator, null, restricted, weights, draws, seed, alpha
        As in :func:`evidence.robust.wild_bootstrap`.

    Returns
    -------
    EstimateResult
        One row per outcome: method ``romano_wolf``, estimand ``att``, group ``all``, estimate and cluster-robust
        std_error, ``p_value`` adjusted. ``details``: ``p_unadjusted`` (single-outcome bootstrap p-values),
        ``p_holm`` (Holm on those), ``t_stat``, ``draws``, ``enumerated``.
    """
    _check_args(estimator, weights, draws, alpha)
    specs = _outcome_specs(outcomes, log)
    labels, cols, counts_list, prob = [], [], [], None
    for name, lg in specs:
        y, label_ = outcome_matrix(design, name, lg)
        p_, yv, counts = _problem(design, y, estimator)
        if prob is None:  # the regressors depend on the design only: one problem serves every outcome
            prob = p_
        labels.append(label_)
        cols.append(yv)
        counts_list.append(counts)
    if len(set(labels)) < len(labels):
        raise EstimationError(f"outcomes {labels} repeat one another; give each outcome (and log choice) once.")
    V, enumerated = bootstrap_weights(prob.G, draws, weights, seed)
    wds = prob.bootstrap(np.column_stack(cols), V, restricted=restricted)
    t_obs = np.array([w.t_stat(null) for w in wds])
    t_boot = np.column_stack([w.t_boot(null) for w in wds])
    p_single = np.array([w.p_value(null) for w in wds])
    p_adj = romano_wolf_adjust(t_obs, t_boot)
    rows = [
        {
            "method": "romano_wolf",
            "outcome": lab,
            "estimand": "att",
            "group": "all",
            "estimate": w.est,
            "std_error": w.se,
            "p_value": pa,
            "n_obs": c["n_obs"],
            "n_units": c["n_units"],
            "n_clusters": prob.G,
        }
        for lab, w, pa, c in zip(labels, wds, p_adj, counts_list)
    ]
    how = f"all 2^{prob.G} sign vectors" if enumerated else f"{V.shape[0]:,} draws"
    details = {
        "p_unadjusted": {lab: float(v) for lab, v in zip(labels, p_single)},
        "p_holm": {lab: float(v) for lab, v in zip(labels, holm(p_single))},
        "t_stat": {lab: float(v) for lab, v in zip(labels, t_obs)},
        "draws": int(V.shape[0]),
        "enumerated": enumerated,
        "weights": weights,
        "restricted": restricted,
        "seed": seed,
        "null": null,
    }
    desc = DESCRIPTIONS["romano_wolf"].format(est=estimator, kind="WCR" if restricted else "WCU", weights=weights, draws=how)
    return EstimateResult(pd.DataFrame(rows), method="romano_wolf", outcome=", ".join(labels), estimand="att", description=desc, alpha=alpha, details=details)
