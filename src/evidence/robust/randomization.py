"""Randomisation (permutation) inference for the TWFE and 2x2 difference-in-differences coefficients.

The test treats the timing of treatment as if it had been assigned at random among the units (Fisher 1935; for
difference-in-differences and few treated clusters, e.g. MacKinnon and Webb 2020): under the sharp null of no effect
on any unit in any period the outcomes are fixed, and re-assigning the observed first-treated periods across units
gives the distribution of the statistic under the null.

Assignments keep the cohort sizes: each one is a permutation of the vector of first-treated periods (untreated units
included, with period "never within the window") over the units — or over the clusters when clusters contain several
units, so that whole clusters change treatment together (treatment timing must then be constant within a cluster).
When the number of distinct assignments (the multinomial coefficient n! / prod_k n_k!) is at most ``permutations``
(or ``exact=True``) they are all enumerated and the p-value is exact; otherwise ``permutations`` assignments are
drawn at random (with replacement among assignments) and the observed assignment is counted as one of the draws,
p = (1 + #{|stat_perm| >= |stat_obs|}) / (1 + permutations), which keeps the test valid.

The TWFE coefficient is linear in the outcome given the assignment, ``b(D) = sum(M D * y) / sum((M D)^2)`` with
M the two-way within transformation, so every assignment's estimate is a few array reductions, vectorised over
assignments. Because it is also linear in the outcome, the sharp null of a constant additive effect tau
(``y - tau D_obs`` has no effect) gives statistics ``b_perm(y) - tau b_perm(D_obs)``, and the interval of the tau not
rejected follows by test inversion at no extra cost (coefficient statistic only).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..inference import demean_two_way
from ..results import EstimateResult
from .wild import _invert_side
from ..missing import balanced_only

ESTIMATORS: tuple[str, ...] = ("twfe", "did_2x2", "cs")
STATISTICS: tuple[str, ...] = ("coef", "t")
MAX_EXACT = 1_000_000
_CHUNK_CELLS = 3_000_000
_REL_TIE = 1e-10

DESCRIPTION = (
    "Estimand: the {est} coefficient (see that estimator). Inference: randomisation inference under the sharp null of no "
    "effect on any unit: the observed first-treated periods are re-assigned across {level}s keeping the cohort sizes "
    "({how}); the p-value is the share of assignments whose |{stat}| is at least the observed one.{ci} Assumes the timing is as good as randomly "
    "assigned across {level}s (exchangeability); it needs no large-sample approximation, so it suits few treated units."
)


def n_assignments(counts: list[int] | np.ndarray) -> int:
    """Number of distinct assignments of groups of the given sizes: the multinomial coefficient."""
    counts = [int(c) for c in counts]
    out = math.factorial(sum(counts))
    for c in counts:
        out //= math.factorial(c)
    return out


def count_text(m: int) -> str:
    """A count of assignments for a sentence: with thousands separators, or as a power of ten when it has more than
    15 digits (30,000 units in four cohorts have a multinomial coefficient of over 17,000 digits, more than Python
    converts to a string by default)."""
    if m < 10**15:
        return f"{m:,}"
    return f"about 10^{int(math.log10(m)):,}"


def enumerate_assignments(counts: list[int] | np.ndarray) -> np.ndarray:
    """Every distinct assignment of labels 0..K-1 to ``sum(counts)`` positions with ``counts[k]`` positions each.

    Returns an (M x n) integer array, M the multinomial coefficient; built label by label, vectorised over the
    partial assignments.
    """
    counts = [int(c) for c in counts]
    n = sum(counts)
    K = len(counts)
    partial = np.full((1, n), -1, dtype=np.int64)
    for lab, c in enumerate(counts[:-1]):
        n_free = n - int((partial[0] >= 0).sum())
        combos = np.array(list(itertools.combinations(range(n_free), c)), dtype=np.int64).reshape(-1, c)
        R, C = partial.shape[0], combos.shape[0]
        free = np.nonzero(partial < 0)[1].reshape(R, n_free)  # sorted free positions of each row
        new = np.repeat(partial, C, axis=0)
        chosen = free[:, combos].reshape(R * C, c)
        new[np.arange(R * C)[:, None], chosen] = lab
        partial = new
    partial[partial < 0] = K - 1
    return partial


# ------------------------------------------------------------------------------------------------ statistics
def _twfe_stats(g: np.ndarray, ys: np.ndarray, codes: np.ndarray | None, T: int) -> tuple[np.ndarray, np.ndarray | None]:
    """TWFE coefficients (P x m) of outcomes ``ys`` (m x N x T, two-way demeaned) for assignments ``g`` (P x N),
    and, when ``codes`` is given, the cluster-robust t of the first outcome (P,)."""
    t = np.arange(T)
    D = (t[None, None, :] >= g[:, :, None]).astype(float)
    xd = D - D.mean(axis=2, keepdims=True) - D.mean(axis=1, keepdims=True) + D.mean(axis=(1, 2), keepdims=True)
    H = np.einsum("pnt,pnt->p", xd, xd)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.einsum("pnt,mnt->pm", xd, ys) / H[:, None]
    if codes is None:
        return coef, None
    G = int(codes.max()) + 1
    N = g.shape[1]
    e = ys[0][None] - coef[:, :1, None] * xd
    unit_scores = np.einsum("pnt,pnt->pn", xd, e)
    onehot = np.zeros((N, G))
    onehot[np.arange(N), codes] = 1.0
    S = unit_scores @ onehot
    n = N * T
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(G / (G - 1) * (n - 1) / n * (S * S).sum(axis=1)) / H
        tstat = coef[:, 0] / se
    return coef, tstat


def _twfe_coef_suffix(g: np.ndarray, S: np.ndarray, T: int) -> np.ndarray:
    """TWFE coefficients (P x m) for assignments ``g`` (P x N) from the suffix sums ``S`` (m x N x (T + 1)) of the
    two-way demeaned outcomes, ``S[:, i, c] = sum_{t >= c} ys[:, i, t]`` (``S[:, :, T] = 0``).

    Context: :func:`_twfe_stats` builds every assignment's units x periods treatment array, O(P N T) time and
    memory per block; with thousands of units and 999 assignments that is most of the robustness notebook.
    Decision: with ``M`` the two-way within projection of the balanced panel and ``ys = M y``,
    ``sum(M D * ys) = sum(D * ys) = sum_i S[i, g_i]`` (a gather), and ``sum((M D)^2)`` follows from the treated
    periods per unit and per period, ``||D||^2 - T sum_i r_i^2 - N sum_t c_t^2 + N T m^2`` (row, column and grand
    means of D). Consequences: O(P N) per block; the same numbers to rounding (tested against :func:`_twfe_stats`).
    """
    P, N = g.shape
    idx = np.clip(np.where(np.isfinite(g), g, T), 0, T).astype(np.intp)  # first treated period, T = never
    num = np.stack([np.take_along_axis(S[j][None, :, :], idx[:, :, None], axis=2)[:, :, 0].sum(axis=1) for j in range(S.shape[0])], axis=1)
    n_i = (T - idx).astype(float)  # treated periods of each unit
    hist = np.bincount((idx + (T + 1) * np.arange(P)[:, None]).ravel(), minlength=P * (T + 1)).reshape(P, T + 1)
    c_t = np.cumsum(hist[:, :T], axis=1) / N  # share of units treated in each period
    tot = n_i.sum(axis=1)
    H = tot - (n_i**2).sum(axis=1) / T - N * (c_t**2).sum(axis=1) + tot**2 / (N * T)
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / H[:, None]


def _did2x2_stats(g: np.ndarray, deltas: np.ndarray, cohort_values: np.ndarray) -> np.ndarray:
    """Overall 2x2 estimates (P x m): cohort-size weighted differences in mean changes, treated minus untreated.

    ``deltas`` is (m x N x K): the change of the post- minus pre-treatment means of each unit for each cohort date.
    """
    ctrl = ~np.isfinite(g)
    n_c = ctrl.sum(axis=1)
    num = np.zeros((g.shape[0], deltas.shape[0]))
    tot = np.zeros(g.shape[0])
    for k, c in enumerate(cohort_values):
        mk = g == c
        nk = mk.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = (mk.astype(float) @ deltas[:, :, k].T) / nk[:, None] - (ctrl.astype(float) @ deltas[:, :, k].T) / n_c[:, None]
        num += np.where(nk[:, None] > 0, nk[:, None] * b, 0.0)
        tot += nk
    return num / tot[:, None]


def _cs_simple_stats(g: np.ndarray, arrs: np.ndarray, cells: list[tuple[int, int]], weights: np.ndarray, control_group: str, anticipation: int) -> np.ndarray:
    """Callaway-Sant'Anna overall (``simple``) ATT without covariates (P x m) for assignments ``g`` (P x N).

    ``arrs`` is (m x N x T). Each post-treatment cell (g, t) compares the change from the base period
    g - 1 - anticipation to t of the cohort's units with that of the comparison units (never treated within the window,
    or, for ``not_yet_treated``, also units first treated after t + anticipation); cells are weighted by cohort size,
    as R ``did``'s ``aggte(type = "simple")``. Vectorised over assignments; a loop over the (few) cells.
    """
    P = g.shape[0]
    m = arrs.shape[0]
    num = np.zeros((P, m))
    den = 0.0
    never = ~np.isfinite(g)
    for (gc, t), w in zip(cells, weights):
        base = gc - 1 - anticipation
        delta = arrs[:, :, t] - arrs[:, :, base]  # m x N
        treated = (g == gc).astype(float)
        ctrl = never if control_group == "never_treated" else never | ((g > t + anticipation) & (g != gc))
        ctrl = ctrl.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            att = treated @ delta.T / treated.sum(axis=1, keepdims=True) - ctrl @ delta.T / ctrl.sum(axis=1, keepdims=True)
        num += w * att
        den += w
    return num / den


# ------------------------------------------------------------------------------------------------ results
class RandomizationResult(EstimateResult):
    """Randomisation inference for one coefficient; ``details`` holds the permutation distribution."""

    kind = "randomization"

    def summary(self, digits: int = 4) -> str:
        d = self.details
        how = f"all {count_text(d['n_assignments'])} assignments enumerated (exact)" if d["exact"] else f"{d['permutations']:,} random assignments of {count_text(d['n_assignments'])} (seed {d['seed']})"
        return super().summary(digits) + f"\nRandomisation inference over {d['level'].split(' (')[0]}s{' (treatment timing varies within clusters)' if '(' in d['level'] else ''}, statistic {d['statistic']}: {how}; observed {d['statistic']} = {d['stat_obs']:.4g}, p = {d['p_value']:.4g}."

    def plot(self, ax=None):  # noqa: ANN001 - matplotlib Axes
        """Histogram of the permutation distribution with the observed statistic marked; returns the Axes."""
        import matplotlib.pyplot as plt

        from ..plots import PALETTE

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        d = self.details
        s = np.asarray(d["stats"])
        s = s[np.isfinite(s)]
        ax.hist(s, bins=min(60, max(10, int(np.sqrt(s.size)))), color=PALETTE[0], alpha=0.7, label="re-assigned timing")
        ax.axvline(d["stat_obs"], color=PALETTE[1], lw=1.5, label=f"observed = {d['stat_obs']:.3g}")
        ax.axvline(-d["stat_obs"], color=PALETTE[1], lw=1, ls="--")
        ax.set_xlabel("coefficient" if d["statistic"] == "coef" else "t-statistic")
        ax.set_ylabel("assignments")
        ax.set_title(f"Randomisation inference, {self.outcome}: p = {d['p_value']:.3f}")
        ax.legend(frameon=False, fontsize=8)
        return ax


def _units_to_permute(design: Design, level: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(level, first-treated period per permuted unit, index of the permuted unit of each panel unit)."""
    g = design.g
    codes = design.cluster_codes
    if level not in ("auto", "unit", "cluster"):
        raise EstimationError(f"level {level!r} is unknown; use 'auto', 'unit' or 'cluster'.")
    G = int(codes.max()) + 1
    if level == "unit" or (level == "auto" and G == codes.size):
        return "unit", g.copy(), np.arange(g.size)
    # one first-treated period per cluster (vectorised): clusters whose units differ cannot be re-assigned whole
    gk = np.where(np.isfinite(g), g, -1.0)
    lo = np.full(G, np.inf)
    hi = np.full(G, -np.inf)
    np.minimum.at(lo, codes, gk)
    np.maximum.at(hi, codes, gk)
    mixed = lo != hi
    if mixed.any():
        if level == "auto":  # timing is assigned to units, not whole clusters: permute units (stated in the result)
            return "unit (timing varies within clusters)", g.copy(), np.arange(g.size)
        unit = design.panel.units[np.flatnonzero(codes == np.flatnonzero(mixed)[0])[0]]
        raise EstimationError(f"treatment timing varies within the cluster of unit {unit}, so whole clusters cannot be re-assigned; set inference.permutation_level: unit (or auto), or cluster at the level treatment is assigned (data.cluster).")
    first = np.where(lo >= 0, lo, np.inf)
    return "cluster", first, codes


@balanced_only("randomization inference")
def randomization_inference(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    estimator: str = "twfe",
    permutations: int = 999,
    seed: int = 0,
    exact: bool | None = None,
    statistic: str = "coef",
    level: str = "auto",
    alpha: float = 0.05,
    cs_control: str = "not_yet_treated",
    anticipation: int = 0,
) -> RandomizationResult:
    """Randomisation inference: re-assign the treatment timing, keeping cohort sizes, and recompute the estimate.

    Estimand: that of the estimator (the TWFE coefficient, or the overall cohort-size weighted 2x2 ATT). The test is
    of the sharp null of no effect for any unit and period, exact in finite samples if timing was randomly assigned
    across the permuted units (it conditions on the cohort sizes). It does not rely on many clusters, but with
    heterogeneous units (e.g. very different sizes or variances between treated and comparison units) the
    exchangeability it assumes can fail (MacKinnon and Webb 2020).

    Parameters
    ----------
    design
        The analysis design.
    outcome
        Outcome column.
    log
        Analyse log(outcome).
    estimator
        ``twfe``, ``did_2x2`` (overall row) or ``cs`` (Callaway-Sant'Anna overall ``simple`` ATT without covariates;
        the same for the varying and universal base periods, which differ only before treatment).
    permutations
        Random assignments to draw, or the budget under which all assignments are enumerated.
    seed
        Seed of the random assignments.
    exact
        ``None``: enumerate when the number of distinct assignments is at most ``permutations``, sample otherwise;
        ``True``: enumerate (``permutations`` may not exceed the number that exist); ``False``: sample.
    statistic
        ``coef`` (the estimate; gives an interval by inverting constant-effect sharp nulls) or ``t`` (its
        cluster-robust t, TWFE only).
    level
        ``auto`` (units when every cluster is one unit, clusters otherwise), ``unit`` or ``cluster``.
    alpha
        1 - confidence level of the interval.
    cs_control, anticipation
        Comparison group (``not_yet_treated`` or ``never_treated``) and anticipation periods of the ``cs`` estimator.

    Returns
    -------
    RandomizationResult
        One row: method ``randomization``, estimand ``att``, group ``all``, the estimate, the interval (coefficient
        statistic), the p-value; ``details``: the statistics of every assignment (``stats``), ``stat_obs``, ``exact``,
        ``n_assignments``, ``permutations``, ``level``.
    """
    if estimator not in ESTIMATORS:
        raise EstimationError(f"estimator {estimator!r} is not supported by randomisation inference; use one of {', '.join(ESTIMATORS)}.")
    if statistic not in STATISTICS:
        raise EstimationError(f"statistic {statistic!r} is unknown; use 'coef' or 't'.")
    if statistic == "t" and estimator != "twfe":
        raise EstimationError("statistic='t' is available for estimator='twfe' only; use statistic='coef'.")
    if int(permutations) < 1:
        raise EstimationError(f"permutations={permutations}: randomisation inference needs at least one (999 is usual).")
    y, label_ = outcome_matrix(design, outcome, log)
    N, T = y.shape
    if N < 2:
        raise EstimationError(f"the design has {N} unit; randomisation inference re-assigns treatment across units and needs at least two.")
    lev, first, member = _units_to_permute(design, level)
    values, labels = np.unique(first, return_inverse=True)  # finite cohort dates first, inf (untreated) last
    if values.size < 2:
        raise EstimationError(f"every {lev} has the same treatment timing, so re-assigning it changes nothing; randomisation inference needs treated and untreated {lev}s.")
    if estimator == "cs" and cs_control == "never_treated" and np.isfinite(values).all():
        raise EstimationError("Callaway-Sant'Anna with never-treated comparisons needs units untreated throughout the window, and there are none; use the not_yet_treated comparison (design.comparison).")
    if estimator == "did_2x2" and np.isfinite(values).all():
        raise EstimationError("the 2x2 difference-in-differences needs units untreated throughout the window, and there are none; use estimator='twfe'.")
    counts = np.bincount(labels, minlength=values.size)
    M = n_assignments(counts)
    n_perm_units = first.size
    if exact is True and int(permutations) > M:
        raise EstimationError(f"permutations={permutations} with exact=True asks for more assignments than exist: only {count_text(M)} distinct assignments of the cohorts to the {n_perm_units} {lev}s exist; set permutations={M} or fewer (or leave exact unset, which enumerates them when there are at most permutations).")
    enumerate_all = exact is True or (exact is None and M <= int(permutations))
    if enumerate_all and M > MAX_EXACT:
        raise EstimationError(f"exact=True would enumerate {count_text(M)} assignments, more than {MAX_EXACT:,}; use exact=None to sample them.")
    if enumerate_all:
        A = values[enumerate_assignments(counts)]  # every assignment, the observed one among them
    else:
        rng = np.random.default_rng(seed)
        A = rng.permuted(np.tile(first, (int(permutations), 1)), axis=1)
    G = int(design.cluster_codes.max()) + 1

    # the outcome (and, for the interval, the observed treatment as an outcome) under every assignment
    D_obs = design.treatment_matrix()
    per_assignment = N * T  # array cells per assignment in a block
    if estimator == "twfe":
        ys = np.stack([demean_two_way(y), demean_two_way(D_obs)])
        codes = design.cluster_codes if statistic == "t" else None
        if statistic == "coef":  # O(N) per assignment (see _twfe_coef_suffix)
            S = np.concatenate([np.cumsum(ys[:, :, ::-1], axis=2)[:, :, ::-1], np.zeros((2, N, 1))], axis=2)
            per_assignment = N

            def stats_of(gu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
                return _twfe_coef_suffix(gu, S, T), None

        else:

            def stats_of(gu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
                return _twfe_stats(gu, ys, codes, T)

    elif estimator == "cs":
        cvals = values[np.isfinite(values)].astype(int)
        sizes = {int(c): int(n) for c, n in zip(values, np.bincount(labels, minlength=values.size)) if np.isfinite(c)}
        if lev == "cluster":  # cohort sizes in units, as the estimator weights them
            sizes = {int(c): int((design.g == c).sum()) for c in cvals}
        last = T - 1
        if cs_control == "not_yet_treated" and np.isfinite(values).all():
            last = int(cvals.max()) - 1 - anticipation  # no never-treated units: periods from the last cohort's start are dropped
        cells = [(int(c), t) for c in cvals for t in range(int(c), last + 1) if int(c) - 1 - anticipation >= 0]
        if not cells:
            raise EstimationError("no post-treatment cell has a pre-period and comparison units; randomisation inference for Callaway-Sant'Anna cannot run on this design.")
        w = np.array([sizes[c] for c, _ in cells], dtype=float)
        arrs = np.stack([y, D_obs])
        per_assignment = 4 * N  # a block's arrays are assignments x units (a loop over the cells)

        def stats_of(gu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            return _cs_simple_stats(gu, arrs, cells, w, cs_control, anticipation), None

    else:
        cvals = values[np.isfinite(values)].astype(int)
        t = np.arange(T)
        deltas = np.stack(
            [np.stack([a[:, t >= c].mean(axis=1) - a[:, t < c].mean(axis=1) for c in cvals], axis=1) for a in (y, D_obs)]
        )
        per_assignment = 4 * N  # a block's arrays are assignments x units

        def stats_of(gu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            return _did2x2_stats(gu, deltas, cvals.astype(float)), None

    obs_coef, obs_t = stats_of(first[member][None, :])
    P = A.shape[0]
    coef = np.empty((P, 2))
    tstats = np.empty(P) if statistic == "t" else None
    step = max(1, _CHUNK_CELLS // per_assignment)
    for s0 in range(0, P, step):
        c, tt = stats_of(A[s0 : s0 + step][:, member])
        coef[s0 : s0 + step] = c
        if tstats is not None:
            tstats[s0 : s0 + step] = tt
    stats = coef[:, 0] if statistic == "coef" else tstats
    stat_obs = float(obs_coef[0, 0] if statistic == "coef" else obs_t[0])

    def pval(perm: np.ndarray, obs: float | np.ndarray) -> float:
        thr = np.abs(obs) * (1 - _REL_TIE)
        with np.errstate(invalid="ignore"):
            hits = np.count_nonzero(np.abs(perm) >= thr)
        return hits / perm.size if enumerate_all else (1 + hits) / (1 + perm.size)

    p = pval(stats, stat_obs)
    est = float(obs_coef[0, 0])
    lo = hi = np.nan
    ci_info = ""
    if statistic == "coef":
        a_perm, b_perm = coef[:, 0], coef[:, 1]
        b_obs = float(obs_coef[0, 1])  # = 1: the estimator applied to the treatment itself

        def p_tau(tau: float) -> float:
            return pval(a_perm - tau * b_perm, est - tau * b_obs)

        scale = float(np.nanstd(a_perm)) or max(abs(est), 1.0)
        ends = []
        for sign in (-1.0, 1.0):
            end, again = _invert_side(p_tau, est, sign * 1.96 * scale, alpha, scale)
            ends.append(end)
            if again:
                ci_info = "The set of constant effects not rejected is not an interval; the interval reported is its part around the estimate."
        lo, hi = ends
        if not (np.isfinite(lo) and np.isfinite(hi)):
            ci_info = (ci_info + " " if ci_info else "") + f"Some constant effects are never rejected at alpha = {alpha}: with {count_text(M)} assignments the smallest attainable p-value is {1 / M if enumerate_all else 1 / (1 + P):.3g}."
    row = {
        "method": "randomization",
        "outcome": label_,
        "estimand": "att",
        "group": "all",
        "estimate": est,
        "ci_lower": lo,
        "ci_upper": hi,
        "p_value": p,
        "n_obs": N * T,
        "n_units": N,
        "n_clusters": G,
    }
    how = f"all {count_text(M)} assignments" if enumerate_all else f"{P:,} random assignments of {count_text(M)}"
    details = {
        "estimator": estimator,
        "statistic": statistic,
        "stat_obs": stat_obs,
        "stats": stats,
        "exact": bool(enumerate_all),
        "n_assignments": M,
        "permutations": P,
        "level": lev,
        "seed": seed,
        "p_value": p,
        "ci_note": ci_info,
    }
    return RandomizationResult(
        pd.DataFrame([row]),
        method="randomization",
        outcome=label_,
        estimand="att",
        description=DESCRIPTION.format(
            est=estimator,
            level=lev.split(" (")[0],
            how=how,
            stat="coefficient" if statistic == "coef" else "t-statistic",
            ci=" The interval collects the constant additive effects not rejected at alpha." if statistic == "coef" else " No interval is reported for the t statistic.",
        ),
        alpha=alpha,
        details=details,
    )
