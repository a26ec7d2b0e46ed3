"""Wild cluster bootstrap for the TWFE and 2x2 difference-in-differences coefficients.

Why
---
Cluster-robust (CRVE) t-tests over-reject when there are few clusters, and badly so when few clusters are treated
(MacKinnon and Webb 2017, 2018). The wild cluster bootstrap-t with the null imposed (WCR, Cameron, Gelbach and
Miller 2008) is the standard remedy; the workbook's default design has 42 footprint clusters of which 13 are treated.

What is computed
----------------
The model is an OLS regression ``y = X b + e`` (after the fixed effects are partialled out) and the hypothesis a
scalar linear restriction ``R b = r``: for ``twfe`` the coefficient on the treatment indicator in the two-way
fixed-effects regression of the balanced panel; for ``did_2x2`` the cohort-size weighted average of the cohort
coefficients of the stacked 2x2 regression of :func:`evidence.did.did_2x2` (its ``all`` row).

For each draw b the bootstrap outcome is ``y* = X b_tilde + v_bg * u_tilde`` where ``b_tilde, u_tilde`` are the
restricted estimates and residuals (WCR, ``restricted=True``: the null ``R b = r`` imposed) or the unrestricted ones
(WCU), and ``v_bg`` is one weight per cluster g: Rademacher (+1/-1) or Webb's six-point distribution
(+-sqrt(3/2), +-1, +-sqrt(1/2)). The full regression, fixed effects included, is re-estimated on ``y*`` and its
cluster-robust t-statistic (the package convention: sandwich x G/(G-1)·(n-1)/n) computed: ``t*_b = (R b*_b - r) /
se*_b`` (WCR) or ``(R b*_b - R b_hat) / se*_b`` (WCU). The p-value is symmetric and two-sided: the share of draws
with ``|t*_b| >= |t|``, with ``t`` the observed CRVE t-statistic.

Fast and wild
-------------
Nothing is re-estimated draw by draw. Because the within transformation is linear and the bootstrap outcome is
linear in the weights, the numerator of every ``t*_b`` is ``v_b · a`` and the vector of bootstrap cluster scores is
``v_b P`` for a G-vector ``a`` and a G x G matrix ``P`` computed once (Roodman, MacKinnon, Nielsen and Webb 2019;
MacKinnon 2023). With unit effects nested in the clusters and period effects not, the period effects enter ``P``
through the cluster-by-period sums of the scores (``- Z U' / N`` below): the result equals, to rounding, re-running
the two-way fixed-effects regression on every ``y*`` (tested against that brute force). The restricted residuals
are linear in the null value, ``u_tilde(r) = u_hat + (R b_hat - r) z / q``, so each draw reduces to five numbers
and the p-value at any null costs O(B): the confidence interval is found by inverting the WCR test (grid, then
bisection on the p-value function) with the same weights for every null, as in boottest and fwildclusterboot.

With Rademacher weights, G <= 12 clusters and ``draws >= 2**G`` all 2^G sign vectors are enumerated, which makes
the p-value exact for the bootstrap distribution (``details['enumerated']``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from ..design import Design
from ..did.estimators import stacked_2x2, outcome_matrix
from ..errors import EstimationError
from ..inference import demean_two_way
from ..results import EstimateResult
from ..missing import balanced_only

WEIGHTS: tuple[str, ...] = ("rademacher", "webb")
ESTIMATORS: tuple[str, ...] = ("twfe", "did_2x2")
ENUMERATION_MAX_CLUSTERS = 12
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_CHUNK_CELLS = 4_000_000  # bootstrap draws x clusters per block (memory stays ~100 MB whatever G and B)
_REL_TIE = 1e-10  # |t*| >= |t| counted with this relative tolerance, so exact ties (v = +-1) are not lost to rounding

DESCRIPTION = (
    "Estimand: the {est} coefficient (see that estimator). Inference: wild cluster bootstrap-t ({kind}, {weights} weights "
    "by cluster, {draws}); the p-value is the share of bootstrap |t*| at least the observed cluster-robust |t| (symmetric, "
    "two-sided), and the interval inverts the bootstrap test (the null values whose p-value exceeds alpha), with the same "
    "weights for every null. Valid with few clusters, or few treated clusters, where the CRVE t-test "
    "over-rejects; it still assumes independence across clusters and, for the estimand, parallel trends."
)


# ------------------------------------------------------------------------------------------------ weights
def bootstrap_weights(n_clusters: int, draws: int, weights: str = "rademacher", seed: int = 0) -> tuple[np.ndarray, bool]:
    """Bootstrap weights, one row per draw and one column per cluster.

    Parameters
    ----------
    n_clusters
        G, the number of clusters.
    draws
        B, the number of draws requested.
    weights
        ``rademacher`` (+1/-1 with probability 1/2) or ``webb`` (+-sqrt(3/2), +-1, +-sqrt(1/2), each 1/6).
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same matrix.

    Returns
    -------
    (ndarray, bool)
        The (B x G) weights and whether they are the full enumeration of the 2^G Rademacher sign vectors (done when
        G <= 12 and ``draws >= 2**G``; B is then 2^G).
    """
    if weights not in WEIGHTS:
        raise EstimationError(f"weights {weights!r} is unknown; use one of {', '.join(WEIGHTS)}.")
    draws = int(draws)
    if draws < 1:
        raise EstimationError(f"draws={draws}: the wild bootstrap needs at least one draw (9,999 is usual).")
    G = int(n_clusters)
    if weights == "rademacher" and G <= ENUMERATION_MAX_CLUSTERS and draws >= 2**G:
        V = np.array(list(itertools.product((1.0, -1.0), repeat=G)), dtype=float)
        return V, True
    rng = np.random.default_rng(seed)
    if weights == "rademacher":
        V = rng.integers(0, 2, size=(draws, G), dtype=np.int8).astype(float) * 2.0 - 1.0
    else:
        V = _WEBB[rng.integers(0, 6, size=(draws, G))]
    return V, False


# ------------------------------------------------------------------------------------------------ the linear problem
class LinearProblem:
    """OLS ``y = X b + e`` with clustered errors and a scalar hypothesis ``R b = r``; the design-only part.

    Parameters
    ----------
    X
        Regressors (n x k), already partialled out of any fixed effects.
    groups
        Cluster code per row (0..G-1). The fixed effects partialled out must be nested in the clusters, except the
        period effects of a balanced panel, which ``panel_shape`` handles.
    R
        The restriction (k,).
    panel_shape
        ``(N, T)`` when the rows are a balanced panel in unit-major order and ``X`` and the outcomes were two-way
        demeaned (unit effects nested in the clusters); ``None`` when nothing outside the clusters was partialled out.
    """

    def __init__(self, X: np.ndarray, groups: np.ndarray, R: np.ndarray, panel_shape: tuple[int, int] | None = None) -> None:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        self.X = X
        self.groups = np.asarray(groups, dtype=np.intp)
        self.G = int(self.groups.max()) + 1
        if self.G < 2:
            raise EstimationError(f"only {self.G} cluster(s); the wild cluster bootstrap needs at least two (check data.cluster).")
        self.R = np.asarray(R, dtype=float).reshape(-1)
        self.n, self.k = X.shape
        self.panel_shape = panel_shape
        XtX = X.T @ X
        if np.linalg.matrix_rank(XtX) < self.k:
            raise EstimationError("the regression cannot be estimated on this design (collinear regressors); check the cohorts and the comparison group.")
        self.bread = np.linalg.inv(XtX)
        self.z = X @ (self.bread @ self.R)  # R (X'X)^-1 X' as a row vector: R b = z'y
        self.q = float(self.R @ self.bread @ self.R)  # = z'z
        if not self.q > 0:
            raise EstimationError("the hypothesis involves no estimable coefficient; check the design.")
        self.ssc = self.G / (self.G - 1) * (self.n - 1) / self.n
        self.zX = self._csum(self.z[:, None] * X)  # G x k
        if panel_shape is not None:
            N, T = panel_shape
            if N * T != self.n:
                raise EstimationError("internal: panel shape does not match the rows.")
            self._zp = self._csum_t(self.z)  # G x T
        # P (below) is a diagonal plus a rank-r matrix whose right factor depends on the design only
        right = [self.bread @ self.zX.T] + ([self._zp.T / panel_shape[0]] if panel_shape is not None else [])
        self._right = np.vstack(right)  # r x G, r = k (+ T)
        self.factored = 2 * self._right.shape[0] < self.G
        """Whether :meth:`bootstrap` works with the factors of ``P`` (O(B G r)) rather than ``P`` itself (O(B G^2)).

        Context: ``P`` is G x G; with thousands of clusters (small areas clustered by area) it no longer fits in
        memory (30,000 clusters: 7 GB) and ``v P`` costs B G^2 (9,999 draws x 3,000 clusters: 9e10 operations).
        Decision: ``P = diag(a) - L F`` with ``L`` (G x r) the cluster sums of ``X u`` (and cluster-by-period sums of
        ``u``) and ``F`` (r x G) design-only, so the bootstrap scores are ``v * a - (v L) F``; used when cheaper
        (2 r < G), the dense ``P`` otherwise. Consequences: the same numbers to rounding (tested against the dense
        ``P``), memory and time linear in G.
        """
        # design-only maps for the direction of the null (u_tilde = u_hat + d z / q)
        self.a_z, self._L_z = self._factors(self.z / self.q)

    # cluster sums
    def _csum(self, a: np.ndarray) -> np.ndarray:
        out = np.zeros((self.G,) + a.shape[1:])
        np.add.at(out, self.groups, a)
        return out

    def _csum_t(self, a: np.ndarray) -> np.ndarray:
        """Cluster-by-period sums (G x T) of a per-row vector of the balanced panel."""
        N, T = self.panel_shape
        codes = self.groups.reshape(N, T)[:, 0]
        out = np.zeros((self.G, T))
        np.add.at(out, codes, a.reshape(N, T))
        return out

    def _factors(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``a`` (G) and the left factor ``L`` (G x r) of ``P = diag(a) - L F`` (see :meth:`maps`)."""
        zu = self._csum(self.z * u)  # z_g'u_g
        left = [self._csum(self.X * u[:, None])]  # X_g'u_g, G x k
        if self.panel_shape is not None:  # period effects are not nested in the clusters
            left.append(self._csum_t(u))  # G x T
        return zu, np.hstack(left)

    def maps(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For residuals ``u`` (in the column space of the partialling), the vector ``a`` (G) and matrix ``P`` (G x G)
        with, for weights ``v``: bootstrap numerator ``R(b* - b_tilde) = v·a`` and bootstrap scores ``S* = v P``."""
        zu = self._csum(self.z * u)
        P = np.diag(zu) - self._csum(self.X * u[:, None]) @ self.bread @ self.zX.T
        if self.panel_shape is not None:
            P -= self._csum_t(u) @ self._zp.T / self.panel_shape[0]
        return zu, P

    def _scores(self, v: np.ndarray, a: np.ndarray, L: np.ndarray) -> np.ndarray:
        """Bootstrap cluster scores ``v P`` for weights ``v`` (b x G) and the factors of m residual vectors (``a``:
        G x m, ``L``: G x (m r)), as (b, m, G)."""
        r = self._right.shape[0]
        W = (v @ L).reshape(v.shape[0], a.shape[1], r)
        return v[:, None, :] * a.T[None] - W @ self._right

    def fit(self, y: np.ndarray) -> tuple[float, float, np.ndarray]:
        """``R b_hat``, its cluster-robust standard error (package convention) and the residuals."""
        beta = self.bread @ (self.X.T @ y)
        u = y - self.X @ beta
        s = self._csum(self.z * u)
        return float(self.R @ beta), float(np.sqrt(self.ssc * (s @ s))), u

    def bootstrap(self, y: np.ndarray, V: np.ndarray, *, restricted: bool = True) -> "WildDraws | list[WildDraws]":
        """Per-draw quantities from which the bootstrap t at any null value follows in O(B).

        ``y`` is the (partialled) outcome, (n,), or several outcomes as columns, (n, m): the same weights ``V``
        (B x G) are then used for every outcome (as Romano-Wolf needs) and a list of :class:`WildDraws` is returned.
        The work is matrix products on cluster-level quantities, in blocks of draws.
        """
        Y = np.asarray(y, dtype=float)
        single = Y.ndim == 1
        Y = Y[:, None] if single else Y
        m = Y.shape[1]
        fits = [self.fit(Y[:, j]) for j in range(m)]
        facs = [(self._factors if self.factored else self.maps)(f[2]) for f in fits]
        a_u = np.stack([a for a, _ in facs], axis=1)  # G x m
        if self.factored:
            L_u = np.hstack([L for _, L in facs])  # G x (m r)
        else:
            P_u = np.stack([P for _, P in facs], axis=1).reshape(self.G, m * self.G)  # G x (m G)
            P_z = self.maps(self.z / self.q)[1]
        B = V.shape[0]
        n1, A = np.empty((B, m)), np.empty((B, m))
        n2, C, D = np.zeros(B), np.zeros((B, m)), np.zeros(B)
        step = max(1, _CHUNK_CELLS // max(self.G * m, 1))
        for s0 in range(0, B, step):
            sl = slice(s0, min(B, s0 + step))
            v = V[sl]
            S1 = self._scores(v, a_u, L_u) if self.factored else (v @ P_u).reshape(-1, m, self.G)
            n1[sl] = v @ a_u
            A[sl] = np.einsum("bmg,bmg->bm", S1, S1)
            if restricted:
                S2 = self._scores(v, self.a_z[:, None], self._L_z)[:, 0] if self.factored else v @ P_z
                n2[sl] = v @ self.a_z
                C[sl] = np.einsum("bmg,bg->bm", S1, S2)
                D[sl] = np.einsum("bg,bg->b", S2, S2)
        out = [
            WildDraws(est=fits[j][0], se=fits[j][1], ssc=self.ssc, restricted=restricted, n1=n1[:, j].copy(), n2=n2, A=A[:, j].copy(), C=C[:, j].copy(), D=D, n_clusters=self.G)
            for j in range(m)
        ]
        return out[0] if single else out


@dataclass
class WildDraws:
    """Bootstrap draws of one coefficient reduced to five numbers each (see :meth:`LinearProblem.bootstrap`).

    For a null value r with ``d = R b_hat - r`` the bootstrap t of draw b is
    ``(n1 + d n2) / sqrt(ssc (A + 2 d C + d^2 D))`` (WCR) or ``n1 / sqrt(ssc A)`` (WCU); the observed t is ``d / se``.
    """

    est: float
    se: float
    ssc: float
    restricted: bool
    n1: np.ndarray
    n2: np.ndarray
    A: np.ndarray
    C: np.ndarray
    D: np.ndarray
    n_clusters: int
    _abs_t_u: np.ndarray | None = field(default=None, repr=False)

    @property
    def draws(self) -> int:
        return int(self.n1.size)

    def t_stat(self, null: float = 0.0) -> float:
        """Observed cluster-robust t-statistic of ``R b = null``."""
        return (self.est - null) / self.se

    def t_boot(self, null: float = 0.0) -> np.ndarray:
        """Bootstrap t-statistics of all draws at ``null`` (B,)."""
        d = self.est - null if self.restricted else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.n1 + d * self.n2) / np.sqrt(self.ssc * np.maximum(self.A + 2 * d * self.C + d * d * self.D, 0.0))

    def p_value(self, null: float | np.ndarray = 0.0) -> float | np.ndarray:
        """Symmetric two-sided bootstrap p-value(s): share of draws with ``|t*| >= |t|``."""
        nulls = np.atleast_1d(np.asarray(null, dtype=float))
        out = np.empty(nulls.size)
        if not self.restricted:  # the bootstrap distribution does not depend on the null
            if self._abs_t_u is None:
                a = np.abs(self.t_boot())
                self._abs_t_u = np.sort(np.where(np.isnan(a), -1.0, a))  # undefined draws never exceed
            tt = np.abs((self.est - nulls) / self.se)
            lo = np.searchsorted(self._abs_t_u, tt * (1 - _REL_TIE), side="left")
            out = (self._abs_t_u.size - lo) / self._abs_t_u.size
        else:
            for j, r in enumerate(nulls):
                out[j] = _share_at_least(self.t_boot(r), (self.est - r) / self.se)
        return float(out[0]) if np.ndim(null) == 0 else out

    def confidence_interval(self, alpha: float = 0.05, df: float | None = None) -> tuple[float, float, dict]:
        """Interval of null values not rejected at level alpha (p-value > alpha), by test inversion.

        A grid of null values on each side of the estimate brackets the first point where the p-value falls to alpha
        or below; bisection then narrows the bracket to 1e-9 standard errors. The interval is the connected set
        around the estimate; when the grid finds the p-value above alpha again further out (a confidence set that is
        not an interval) or never falls below alpha (an unbounded set), ``info`` says so.
        """
        crit = float(special.stdtrit(df, 1 - alpha / 2)) if df else float(special.ndtri(1 - alpha / 2))
        scale = self.se if self.se > 0 else max(abs(self.est), 1.0)
        ends, info = [], {"unbounded": [], "not_an_interval": False}
        for sign in (-1.0, 1.0):
            end, extra = _invert_side(lambda r: self.p_value(r), self.est, sign * crit * scale, alpha, scale)
            ends.append(end)
            if not np.isfinite(end):
                info["unbounded"].append("lower" if sign < 0 else "upper")
            info["not_an_interval"] |= extra
        return ends[0], ends[1], info


def _share_at_least(t_boot: np.ndarray, t_obs: float) -> float:
    """Share of ``|t_boot| >= |t_obs|`` (ties within a relative 1e-10 counted; NaN draws count as not exceeding)."""
    thr = abs(t_obs) * (1 - _REL_TIE)
    with np.errstate(invalid="ignore"):
        return float(np.count_nonzero(np.abs(t_boot) >= thr) / t_boot.size)


def _invert_side(pfun, center: float, step: float, alpha: float, scale: float, grid: int = 24, expand: int = 14) -> tuple[float, bool]:
    """One end of a test-inversion interval: the first null value away from ``center`` (in the direction of
    ``step``) where ``pfun`` falls to ``alpha`` or below.

    The grid covers ``center + (0, 2 step]`` in ``grid`` points, then doubles outwards (at most ``expand`` times);
    the first bracket found is narrowed by bisection to 1e-9 ``scale``. Returns the end (+-inf when the p-value
    never falls to alpha) and whether the p-value rises above alpha again further out on the last grid.
    """
    tol = 1e-9 * scale
    lo_off, hi_off, prev = 0.0, 2.0 * step, center
    for _ in range(expand):
        pts = center + np.linspace(lo_off, hi_off, grid + 1)[1:]
        ps = np.array([pfun(x) for x in pts])
        below = np.nonzero(ps <= alpha)[0]
        if below.size:
            j = int(below[0])
            lo, hi = (pts[j - 1] if j else prev), pts[j]
            again = bool((ps[j + 1 :] > alpha).any())
            while abs(hi - lo) > tol:
                mid = 0.5 * (lo + hi)
                if pfun(mid) > alpha:
                    lo = mid
                else:
                    hi = mid
            return 0.5 * (lo + hi), again
        prev, lo_off, hi_off = pts[-1], hi_off, 2.0 * hi_off
    return (np.inf if step > 0 else -np.inf), False


# ------------------------------------------------------------------------------------------------ problems from a design
def _problem(design: Design, y: np.ndarray, estimator: str) -> tuple[LinearProblem, np.ndarray, dict]:
    """The linear problem and the (partialled) outcome vector of ``estimator`` on ``design``."""
    groups = design.cluster_codes
    G = int(groups.max()) + 1 if groups.size else 0
    if G < 2:
        raise EstimationError(f"only {G} cluster(s) in the design; the wild cluster bootstrap needs at least two (check data.cluster).")
    N, T = y.shape
    if estimator == "twfe":
        xd = demean_two_way(design.treatment_matrix())
        if np.abs(xd).max() < 1e-12:
            raise EstimationError("the treatment indicator is absorbed by the fixed effects (no variation in timing); check the cohorts and the comparison group.")
        prob = LinearProblem(xd.reshape(-1, 1), np.repeat(groups, T), np.array([1.0]), panel_shape=(N, T))
        return prob, demean_two_way(y).ravel(), {"n_obs": N * T, "n_units": N}
    if estimator == "did_2x2":
        st = stacked_2x2(y, design.g, groups)
        prob = LinearProblem(st["X"], st["groups"], st["R"])  # every unit is in the stack, so every cluster
        return prob, st["Y"], {"n_obs": st["n_units"][-1] * T, "n_units": st["n_units"][-1]}
    raise EstimationError(f"estimator {estimator!r} is not supported by the wild bootstrap; use one of {', '.join(ESTIMATORS)}.")


# ------------------------------------------------------------------------------------------------ results
class WildBootstrapResult(EstimateResult):
    """Wild cluster bootstrap of one coefficient; ``details`` holds the bootstrap t draws and the settings."""

    kind = "wild_bootstrap"

    def summary(self, digits: int = 4) -> str:
        d = self.details
        how = f"all 2^{d['n_clusters']} = {d['draws']:,} sign vectors enumerated" if d["enumerated"] else f"{d['draws']:,} draws (seed {d['seed']})"
        extra = (
            f"\n{'WCR' if d['restricted'] else 'WCU'} bootstrap-t, {d['weights']} weights, {how}; H0: coefficient = {d['null']:g}; "
            f"t = {d['t_stat']:.4g} (CRVE p with t({d['n_clusters'] - 1}) = {d['p_value_crve']:.4g}); bootstrap p = {d['p_value']:.4g}."
        )
        if d.get("ci_note"):
            extra += f"\n{d['ci_note']}"
        return super().summary(digits) + extra

    def plot(self, ax=None):  # noqa: ANN001 - matplotlib Axes
        """Histogram of the bootstrap t-statistics with the observed t (and -t) marked; returns the Axes."""
        import matplotlib.pyplot as plt

        from ..plots import PALETTE

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        d = self.details
        tb = np.asarray(d["t_boot"])
        tb = tb[np.isfinite(tb)]
        ax.hist(tb, bins=min(80, max(10, int(np.sqrt(tb.size)))), color=PALETTE[0], alpha=0.7, density=True, label="bootstrap t*")
        t = d["t_stat"]
        ax.axvline(t, color=PALETTE[1], lw=1.5, label=f"observed t = {t:.2f}")
        ax.axvline(-t, color=PALETTE[1], lw=1, ls="--")
        ax.set_xlabel("t-statistic")
        ax.set_ylabel("density")
        ax.set_title(f"{'WCR' if d['restricted'] else 'WCU'} wild bootstrap, {self.outcome}: p = {d['p_value']:.3f}")
        ax.legend(frameon=False, fontsize=8)
        return ax


def _check_args(estimator: str, weights: str, draws: int, alpha: float) -> None:
    if estimator not in ESTIMATORS:
        raise EstimationError(f"estimator {estimator!r} is not supported by the wild bootstrap; use one of {', '.join(ESTIMATORS)}.")
    if weights not in WEIGHTS:
        raise EstimationError(f"weights {weights!r} is unknown; use one of {', '.join(WEIGHTS)}.")
    if int(draws) < 1:
        raise EstimationError(f"draws={draws}: the wild bootstrap needs at least one draw (9,999 is usual).")
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha={alpha} must be between 0 and 1 (0.05 for 95% intervals).")


@balanced_only("the wild cluster bootstrap")
def wild_bootstrap(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    estimator: str = "twfe",
    null: float = 0.0,
    restricted: bool = True,
    weights: str = "rademacher",
    draws: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
) -> WildBootstrapResult:
    """Wild cluster bootstrap-t test and test-inversion interval for the TWFE or 2x2 coefficient.

    Estimand: that of the estimator — the TWFE coefficient on the absorbing treatment indicator (unit and period
    fixed effects; the ATT under parallel trends and a constant effect, a weighted average with possibly negative
    weights under staggered timing with heterogeneous effects), or the cohort-size weighted 2x2 ATT of
    :func:`evidence.did.did_2x2`. Assumptions for inference: errors independent across clusters (clusters from the
    panel's ``cluster`` column), arbitrary dependence within. The bootstrap refines the CRVE t-test when clusters (or
    treated clusters) are few; with very few treated clusters (1-2) WCR is conservative and WCU liberal (MacKinnon
    and Webb 2017).

    Parameters
    ----------
    design
        The analysis design (balanced panel).
    outcome
        Outcome column.
    log
        Analyse log(outcome) (effects in log points).
    estimator
        ``twfe`` or ``did_2x2`` (its overall ``all`` coefficient).
    null
        Value of the coefficient under the null hypothesis.
    restricted
        ``True``: WCR, the bootstrap DGP imposes the null (recommended); ``False``: WCU.
    weights
        ``rademacher`` or ``webb`` (preferable with fewer than about 10 clusters, where Rademacher has few
        distinct sign vectors).
    draws
        Bootstrap draws B. With Rademacher weights, G <= 12 and ``draws >= 2**G`` all 2^G sign vectors are used
        instead (exact enumeration).
    seed
        Seed of the weights; the same seed gives the same result.
    alpha
        1 - confidence level of the interval.

    Returns
    -------
    WildBootstrapResult
        One row: method ``wild_bootstrap``, estimand ``att``, group ``all``; estimate and cluster-robust std_error of
        the estimator, the test-inversion interval (WCR: null values with bootstrap p > alpha; WCU: the symmetric
        percentile-t interval, which is the inversion of the WCU test), the bootstrap p-value of ``coefficient = null``.
        ``details``: ``t_stat``, ``t_boot`` (draws at the null), ``draws``, ``weights``, ``restricted``,
        ``enumerated``, ``p_value_crve``, ``seed``, ``null``, interval notes.
    """
    _check_args(estimator, weights, draws, alpha)
    y, label_ = outcome_matrix(design, outcome, log)
    prob, yv, counts = _problem(design, y, estimator)
    V, enumerated = bootstrap_weights(prob.G, draws, weights, seed)
    wd = prob.bootstrap(yv, V, restricted=restricted)
    return _result(wd, V, enumerated, label_, estimator, null, weights, seed, alpha, counts)


def _result(wd: WildDraws, V: np.ndarray, enumerated: bool, label_: str, estimator: str, null: float, weights: str, seed: int, alpha: float, counts: dict) -> WildBootstrapResult:
    G = wd.n_clusters
    p = wd.p_value(null)
    lo, hi, info = wd.confidence_interval(alpha, df=G - 1)
    t = wd.t_stat(null)
    p_crve = float(2 * special.stdtr(G - 1, -abs(t)))
    notes = []
    if info["unbounded"]:
        notes.append(f"The bootstrap confidence set is unbounded ({' and '.join(info['unbounded'])} end): the p-value never falls to alpha, as happens with very few treated clusters.")
    if info["not_an_interval"]:
        notes.append("The bootstrap confidence set is not an interval; the interval reported is its part around the estimate.")
    name = "wild_bootstrap" if estimator == "twfe" else f"wild_bootstrap_{estimator}"  # one key per estimator in estimates.csv
    row = {
        "method": name,
        "outcome": label_,
        "estimand": "att",
        "group": "all",
        "estimate": wd.est,
        "std_error": wd.se,
        "ci_lower": lo,
        "ci_upper": hi,
        "p_value": p,
        "n_obs": counts["n_obs"],
        "n_units": counts["n_units"],
        "n_clusters": G,
    }
    kind = "WCR, null imposed" if wd.restricted else "WCU, null not imposed"
    how = f"all 2^{G} sign vectors" if enumerated else f"{wd.draws:,} draws"
    details = {
        "estimator": estimator,
        "t_stat": t,
        "t_boot": wd.t_boot(null),
        "draws": wd.draws,
        "weights": weights,
        "restricted": wd.restricted,
        "enumerated": enumerated,
        "seed": seed,
        "null": null,
        "p_value": p,
        "p_value_crve": p_crve,
        "n_clusters": G,
        "ci_note": " ".join(notes),
        "ci_unbounded": info["unbounded"],
        "ci_not_an_interval": info["not_an_interval"],
    }
    return WildBootstrapResult(
        pd.DataFrame([row]),
        method=name,
        outcome=label_,
        estimand="att",
        description=DESCRIPTION.format(est=estimator, kind=kind, weights=weights, draws=how),
        alpha=alpha,
        details=details,
    )
