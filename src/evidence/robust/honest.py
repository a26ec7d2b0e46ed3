"""Sensitivity of event-study conclusions to violations of parallel trends (Rambachan and Roth 2023, "HonestDiD").

Setting. An event study estimates ``betahat = (beta_pre, beta_post)`` over ``num_pre`` periods before and ``num_post``
periods from treatment on (the reference period, the one before treatment, is omitted), with covariance ``sigma``.
Write ``beta = tau + delta``: ``tau`` the dynamic treatment effects (zero before treatment), ``delta`` the difference
in trends that parallel trends assumes away. The target is ``theta = l'tau_post`` (by default the first post-period
effect; ``target="average"`` averages the post-period effects). Instead of ``delta_post = 0``, assume ``delta`` lies
in a set ``Delta`` disciplined by the pre-period coefficients, and report confidence sets for ``theta`` that are valid
uniformly over ``Delta``, for a grid of ``Delta``'s size parameter:

* **relative magnitudes**, ``Delta^RM(Mbar)``: every post-period change in ``delta`` between consecutive periods is at
  most ``Mbar`` times the largest pre-period change (``|delta_t - delta_{t-1}| <= Mbar * max_{s <= 0}
  |delta_s - delta_{s-1}|``). Inference: the Andrews, Roth and Pakes (2023, "ARP") moment-inequality test with
  nuisance parameters, least-favourable hybrid (``"C-LF"``, the R package's default for this set) or purely
  conditional (``"conditional"``), inverted over a grid of ``theta``. ``Delta^RM`` is a finite union over the location
  ``s`` and sign of the largest pre-period change; the confidence set is the union of the sets for each piece (and,
  as in R, only the moments involving post-period coefficients are tested within a piece).
* **smoothness**, ``Delta^SD(M)``: the slope of ``delta`` changes by at most ``M`` between consecutive periods
  (``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M``); ``M = 0`` is a linear trend extrapolated from the
  pre-periods. Inference: the optimal fixed-length confidence interval (FLCI, Armstrong and Kolesar 2018), the R
  package's default for this set: the affine estimator ``v_pre'beta_pre + l'beta_post`` whose worst-case-bias-aware
  interval ``estimate +/- sd * cv_alpha(max bias / sd)`` is shortest, ``cv_alpha(b)`` being the 1 - alpha quantile of
  ``|N(b, 1)|``. The ARP conditional test is available as ``inference="conditional"`` or ``"C-LF"``.

The **breakdown value** is the smallest ``Mbar`` (or ``M``) at which the confidence set includes zero, found on the
grid and refined by bisection between the last grid value that excludes zero and the first that includes it.

Implementation notes (the numbers follow the R package HonestDiD 0.2.x; the code is written from the papers and the
R sources' documented algorithms, not translated):

* ARP test. For moments ``y(theta) = A betahat - d - a theta`` and nuisance directions ``X``, the statistic is the
  linear programme ``eta = min_{eta, tau} eta  s.t.  y - X tau <= eta * sd`` (``scipy.optimize.linprog``, HiGHS),
  whose dual optimum ``gamma`` (a vertex of ``{g >= 0, sd'g = 1, X'g = 0}``) defines the conditioning event; the
  statistic is compared with the truncated-normal quantile on ``[v_lo, v_up]``, the range of ``gamma'y`` over which
  ``gamma`` stays optimal (found with the dual LP, as in ARP's Algorithm 1). The hybrid first rejects when ``eta``
  exceeds the least-favourable critical value (1 - kappa quantile of ``eta`` under ``y ~ N(0, A sigma A')``,
  kappa = alpha / 10, from ``n_sims`` draws: R uses 1,000; 10,000 here for ``Delta^RM``, where draws are cheap),
  then runs the conditional test at size
  ``(alpha - kappa) / (1 - kappa)`` with ``v_up`` capped at that value. For ``Delta^RM`` the dual polytope is known in
  closed form (``num_post + 2`` vertices: one per post period and two for the target), so ``eta``, ``gamma`` and
  ``[v_lo, v_up]`` are exact and vectorised over the ``theta`` grid; tests check them against the LP path.
  Unlike R, a single post period uses the same hybrid as several (R's one-period code skips the size adjustment).
* The ``theta`` grid follows R: ``grid_points`` = 1000 points on ``[-20, 20] * sd(theta_hat)`` for ``Delta^RM``, and on
  the identified set under ``delta_pre = 0`` widened by ``20 * sd(theta_hat)`` for the conditional ``Delta^SD``
  (widened at the same step when the estimate is more than 15 sd from the grid's centre, where R's grid would miss
  the interval); the interval reported is ``[min, max]`` of the accepted grid points, so it is exact to one grid
  step. An interval that touches an end of the grid is open there (flagged in :attr:`HonestResult.ci`).
* FLCI. The worst-case bias of ``w'beta`` over ``Delta^SD(M)`` is ``M * ||P'w||_1`` (``P`` maps second differences
  to ``delta``) when ``w`` is orthogonal to linear trends, and infinite otherwise; the half-length
  ``sd(w) * cv_alpha(M ||P'w||_1 / sd(w))`` is minimised directly over the pre-period weights (SLSQP on the smooth
  epigraph form in ``(w, u >= |P'w|)``, from the minimum-variance, the minimum-bias and a midway start) rather than
  by R's search over standard deviations; ``cv_alpha`` is computed exactly rather than by simulation. ``M = 0`` is the
  closed form: the GLS extrapolation of a linear trend through the reference period.

Validation (``tests/robust/test_honest.py``, fixtures and provenance in ``tests/fixtures/honestdid``): the Medicaid
example printed in the R and Stata HonestDiD READMEs and in the Mixtape exercise is reproduced from the raw data to
printed precision (at most one theta-grid step, 3.7e-4, for C-LF; all within 1e-3), R's outputs on the package's
``BCdata_EventStudy`` to 1e-3 (C-LF, FLCI) and 1e-6 (conditional smoothness intervals on R's grid), the closed-form
``Delta^RM`` path against the linear programmes, the FLCI against brute-force minimisation and the worst-case bias
against a linear programme.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ..errors import EstimationError
from ..results import EstimateResult, tidy_frame

__all__ = ["HonestResult", "event_study_inputs", "honest_did", "identified_set"]

GRID_KEY = "robustness.honest_grid"
_METHODS = {"relative_magnitude": "honest_did_rm", "smoothness": "honest_did_sm"}
_INFERENCE = {"relative_magnitude": ("C-LF", "conditional"), "smoothness": ("FLCI", "conditional", "C-LF")}

DESCRIPTIONS = {
    "honest_did_rm": (
        "Estimand: theta = l'tau_post (first post-period effect, or the average), robust to violations of parallel trends "
        "whose post-period changes between consecutive periods are at most Mbar times the largest pre-period change "
        "(Rambachan and Roth 2023, Delta^RM). Inference: {inference}, uniformly valid over the restriction set; one interval "
        "per Mbar; the breakdown value is the smallest Mbar whose interval includes zero."
    ),
    "honest_did_sm": (
        "Estimand: theta = l'tau_post (first post-period effect, or the average), robust to violations of parallel trends "
        "whose slope changes by at most M between consecutive periods (Rambachan and Roth 2023, Delta^SD; M = 0 is a "
        "linear pre-trend extrapolated). Inference: {inference}, uniformly valid over the restriction set; one interval "
        "per M; the breakdown value is the smallest M whose interval includes zero."
    ),
}


# ----------------------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------------------


def _as_inputs(betahat: Any, sigma: Any, num_pre: Any, num_post: Any, method: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    if method not in _METHODS:
        raise EstimationError(f"method={method!r} is not a HonestDiD restriction; use 'relative_magnitude' or 'smoothness'.")
    b = np.asarray(betahat, dtype=float).ravel()
    S = np.asarray(sigma, dtype=float)
    for name, v in (("num_pre", num_pre), ("num_post", num_post)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise EstimationError(f"{name}={v!r} must be a whole number of event-study coefficients.")
    K, T = int(num_pre), int(num_post)
    need = 1 if method == "relative_magnitude" else 2
    if K < need:
        what = "relative magnitudes bound post-period changes by the largest pre-period change" if need == 1 else "smoothness needs two pre-periods to define a pre-period slope"
        raise EstimationError(f"num_pre={K}: {what}, so at least {need} pre-period coefficient(s) (before the reference period) are needed; widen the event window (methods.did.event_window).")
    if T < 1:
        raise EstimationError(f"num_post={T}: at least one post-period coefficient is needed.")
    if b.size != K + T:
        raise EstimationError(f"betahat has {b.size} coefficients but num_pre + num_post = {K + T}; pass the pre-period then the post-period coefficients, reference period omitted.")
    if S.shape != (K + T, K + T):
        raise EstimationError(f"sigma has shape {S.shape}; it must be the {K + T} x {K + T} covariance of betahat.")
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(S))):
        raise EstimationError("betahat or sigma has missing or infinite values; drop the event times that could not be estimated.")
    if not np.allclose(S, S.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(S).max()))):
        raise EstimationError("sigma (the event-study covariance) is not symmetric; pass the covariance matrix of betahat.")
    S = (S + S.T) / 2
    w = np.linalg.eigvalsh(S)
    if w[0] <= 1e-10 * max(w[-1], 0.0) or w[-1] <= 0:
        raise EstimationError(
            f"sigma (the event-study covariance) is not positive definite (smallest eigenvalue {w[0]:.3g}, largest {w[-1]:.3g}); "
            "use fewer event times or bin the distant ones (methods.did.event_window), or check for event times without observations."
        )
    return b, S, K, T


def _target_vector(target: Any, T: int) -> tuple[np.ndarray, str]:
    if isinstance(target, str):
        if target == "first":
            return np.eye(T)[0], "theta_first"
        if target == "average":
            return np.full(T, 1.0 / T), "theta_average"
        raise EstimationError(f"target={target!r} is unknown; use 'first', 'average' or a vector of {T} post-period weights.")
    lv = np.asarray(target, dtype=float).ravel()
    if lv.size != T:
        raise EstimationError(f"target has {lv.size} weights but there are {T} post-period coefficients; pass one weight per post period.")
    if not np.all(np.isfinite(lv)) or not np.any(lv != 0):
        raise EstimationError("target weights must be finite and not all zero.")
    return lv, "theta_custom"


def _check_grid(grid: Any, method: str) -> np.ndarray:
    key = f"{GRID_KEY}_{'rm' if method == 'relative_magnitude' else 'sm'}"
    try:
        g = np.asarray(grid, dtype=float).ravel()
    except (TypeError, ValueError):
        raise EstimationError(f"{key} must be a list of numbers (values of M), not {grid!r}.") from None
    if g.size == 0:
        raise EstimationError(f"{key} is empty; give one or more values of M (e.g. [0, 0.5, 1, 1.5, 2]).")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise EstimationError(f"{key} has negative or non-finite values ({', '.join(f'{v:g}' for v in g[~(np.isfinite(g) & (g >= 0))][:3])}); M bounds the size of violations, so use values >= 0.")
    return np.unique(g)


# ----------------------------------------------------------------------------------------------------------------
# restriction sets as A delta <= d
# ----------------------------------------------------------------------------------------------------------------


def _first_diff_matrix(K: int, T: int) -> np.ndarray:
    """Rows ``delta_t - delta_{t-1}`` for t = -K+1..T over the full index -K..T (reference 0 included as a column)."""
    n = K + T
    D = np.zeros((n, n + 1))
    D[np.arange(n), np.arange(n)] = -1.0
    D[np.arange(n), np.arange(n) + 1] = 1.0
    return D


def _rm_constraints(K: int, T: int, mbar: float, s: int, positive: bool, post_only: bool = True) -> np.ndarray:
    """``A`` with ``A delta <= 0`` iff delta is in the piece of Delta^RM(Mbar) where the largest pre-period change is at
    ``s`` (-K+1..0) with sign ``positive``. Columns: delta_{-K..-1}, delta_{1..T}. With ``post_only`` only the
    ``2 T`` rows that bound post-period changes (first the ``+`` rows t = 1..T, then the ``-`` rows)."""
    D = _first_diff_matrix(K, T)
    vmax = np.zeros(K + T + 1)
    vmax[K + s - 1], vmax[K + s] = -1.0, 1.0
    if not positive:
        vmax = -vmax
    bound = np.where((np.arange(K + T) >= K)[:, None], mbar * vmax[None, :], vmax[None, :])
    A = np.vstack([D - bound, -D - bound])
    rows = np.r_[np.arange(K, K + T), K + T + np.arange(K, K + T)] if post_only else np.flatnonzero(np.abs(A).sum(axis=1) > 1e-12)
    return np.delete(A[rows], K, axis=1)


def _sd_constraints(K: int, T: int, M: float, post_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(A, d)`` with ``A delta <= d`` iff every second difference of delta (reference included) is within +/- M."""
    n = K + T
    At = np.zeros((n - 1, n + 1))
    for r in range(n - 1):
        At[r, r : r + 3] = (1.0, -2.0, 1.0)
    At = np.delete(At, K, axis=1)
    if post_only:
        At = At[np.abs(At[:, K:]).sum(axis=1) > 0]
    A = np.vstack([At, -At])
    return A, np.full(A.shape[0], float(M))


def identified_set(beta: Any, num_pre: int, num_post: int, *, method: str = "relative_magnitude", m: float = 1.0, target: Any = "first") -> tuple[float, float]:
    """Identified set for ``theta = l'tau_post`` when the event-study coefficients are known exactly (population).

    ``[l'beta_post - max l'delta_post, l'beta_post - min l'delta_post]`` over ``delta`` in the restriction set with
    ``delta_pre = beta_pre`` (linear programmes); for ``Delta^RM`` the union over the location and sign of the largest
    pre-period change. Useful to read the confidence sets against: they shrink to this set as the sampling noise vanishes.

    Returns
    -------
    (lower, upper); ``(nan, nan)`` when no delta in the set matches the pre-period coefficients (e.g. Mbar-independent
    pre-period restrictions that fail).
    """
    from scipy.optimize import linprog

    b = np.asarray(beta, dtype=float).ravel()
    K, T = int(num_pre), int(num_post)
    if b.size != K + T:
        raise EstimationError(f"beta has {b.size} coefficients but num_pre + num_post = {K + T}.")
    lv, _ = _target_vector(target, T)
    point = float(lv @ b[K:])
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    if method == "relative_magnitude":
        for s in range(-K + 1, 1):
            for pos in (True, False):
                A = _rm_constraints(K, T, float(m), s, pos, post_only=False)
                pieces.append((A, np.zeros(A.shape[0])))
    elif method == "smoothness":
        pieces.append(_sd_constraints(K, T, float(m)))
    else:
        raise EstimationError(f"method={method!r} is not a HonestDiD restriction; use 'relative_magnitude' or 'smoothness'.")
    f = np.r_[np.zeros(K), lv]
    Aeq = np.hstack([np.eye(K), np.zeros((K, T))])
    lo, hi = np.inf, -np.inf
    for A, d in pieces:
        rmax = linprog(-f, A_ub=A, b_ub=d, A_eq=Aeq, b_eq=b[:K], bounds=[(None, None)] * (K + T), method="highs")
        rmin = linprog(f, A_ub=A, b_ub=d, A_eq=Aeq, b_eq=b[:K], bounds=[(None, None)] * (K + T), method="highs")
        if rmax.status == 2 or rmin.status == 2:  # this piece cannot match the pre-period coefficients
            continue
        up = np.inf if rmax.status == 3 else -rmax.fun
        dn = -np.inf if rmin.status == 3 else rmin.fun
        lo, hi = min(lo, point - up), max(hi, point - dn)
    if lo > hi:
        return (math.nan, math.nan)
    return (float(lo), float(hi))


# ----------------------------------------------------------------------------------------------------------------
# normal-theory helpers
# ----------------------------------------------------------------------------------------------------------------


def _truncnorm_ppf(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Quantile ``p`` of N(0, 1) truncated to ``[lo, hi]`` (vectorised, accurate far in either tail)."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    lo, hi = np.broadcast_arrays(lo, hi)
    out = np.empty(lo.shape)
    up = lo > 0  # both bounds in the upper tail: work with log survival functions
    dn = (hi < 0) & ~up
    mid = ~up & ~dn
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if up.any():
            a, c = special.log_ndtr(-lo[up]), special.log_ndtr(-hi[up])
            r = np.exp(c - a)
            out[up] = -special.ndtri_exp(a + np.log1p(-p * (1.0 - r)))
        if dn.any():
            a, c = special.log_ndtr(lo[dn]), special.log_ndtr(hi[dn])
            r = np.exp(a - c)
            out[dn] = special.ndtri_exp(c + np.log(r + p * (1.0 - r)))
        if mid.any():
            a, c = special.ndtr(lo[mid]), special.ndtr(hi[mid])
            out[mid] = special.ndtri(a + p * (c - a))
    return np.clip(out, lo, hi)


def _folded_cv(b: float, alpha: float) -> float:
    """1 - alpha quantile of |N(b, 1)| (b >= 0): the FLCI critical value for worst-case bias b in standard deviations."""
    from scipy.optimize import brentq

    b = abs(float(b))
    if b > 40:  # the far tail contributes nothing
        return b + float(special.ndtri(1 - alpha))

    def f(c: float) -> float:
        return float(special.ndtr(c - b) - special.ndtr(-c - b)) - (1 - alpha)

    return float(brentq(f, 0.0, b + 10.0, xtol=1e-14, rtol=1e-15))


def _folded_cv_slope(b: float, c: float) -> float:
    """d cv / d b by the implicit function theorem."""
    p1, p2 = math.exp(-0.5 * (c - b) ** 2), math.exp(-0.5 * (c + b) ** 2)
    return (p1 - p2) / (p1 + p2)


@functools.lru_cache(maxsize=4)
def _std_normal(seed: int, n: int, m: int) -> np.ndarray:
    """Standard normal draws for the least-favourable critical values (the same draws for every piece, as R does)."""
    z = np.random.default_rng(seed).standard_normal((n, m))
    z.setflags(write=False)
    return z


def _sqrt_psd(S: np.ndarray) -> np.ndarray:
    w, U = np.linalg.eigh((S + S.T) / 2)
    return U * np.sqrt(np.clip(w, 0, None))


# ----------------------------------------------------------------------------------------------------------------
# ARP moment-inequality test with nuisance parameters
# ----------------------------------------------------------------------------------------------------------------


class _Moments:
    """Moments ``y(theta) = Y - a theta`` with nuisance directions ``X`` and covariance ``SigY`` (rows: ``A``)."""

    def __init__(self, A: np.ndarray, d: np.ndarray, b: np.ndarray, S: np.ndarray, K: int, lv: np.ndarray, vertices: np.ndarray | None = None) -> None:
        T = lv.size
        self.Y = A @ b - d
        Apost = A[:, K:]
        self.a = Apost @ (lv / (lv @ lv))  # any tau with l'tau = 1: the LP does not depend on the choice
        if T > 1:
            null = np.linalg.svd(lv[None, :])[2][1:].T  # basis of {tau: l'tau = 0}
            self.X = Apost @ null
        else:
            self.X = np.zeros((A.shape[0], 0))
        self.Sig = A @ S @ A.T
        self.sd = np.sqrt(np.clip(np.diag(self.Sig), 0, None))
        if np.any(self.sd <= 0):
            raise EstimationError("a moment of the restriction set has zero variance; check sigma (the event-study covariance).")
        self.V = vertices

    # -- the linear programmes (general path) --
    def _scaled(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xs = self.X / self.sd[:, None]
        if Xs.shape[1]:
            nrm = np.linalg.norm(Xs, axis=0)
            Xs = Xs / np.where(nrm > 0, nrm, 1.0)
        return y / self.sd, Xs

    def eta_lp(self, y: np.ndarray) -> tuple[float, np.ndarray | None]:
        """``min eta s.t. y - X tau <= eta sd`` and the dual solution gamma (sd'gamma = 1, X'gamma = 0, gamma >= 0)."""
        from scipy.optimize import linprog

        ys, Xs = self._scaled(y)
        k = Xs.shape[1]
        if k == 0:
            i = int(np.argmax(ys))
            g = np.zeros(ys.size)
            g[i] = 1.0 / self.sd[i]
            return float(ys[i]), g
        res = linprog(np.r_[1.0, np.zeros(k)], A_ub=-np.column_stack([np.ones(ys.size), Xs]), b_ub=-ys, bounds=[(None, None)] * (k + 1), method="highs")
        if res.status == 3:
            return -math.inf, None
        if res.status != 0:
            raise EstimationError(f"the ARP linear programme failed ({res.message}); check sigma (the event-study covariance).")
        g = np.clip(-res.ineqlin.marginals, 0, None)
        g = g / g.sum()
        return float(res.fun), g / self.sd

    def dual_lp(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``max g'y`` over the dual polytope (the LP value and its maximiser)."""
        from scipy.optimize import linprog

        ys, Xs = self._scaled(y)
        Aeq = np.vstack([np.ones(ys.size), Xs.T])
        beq = np.r_[1.0, np.zeros(Xs.shape[1])]
        res = linprog(-ys, A_eq=Aeq, b_eq=beq, bounds=[(0, None)] * ys.size, method="highs")
        if res.status != 0:
            raise EstimationError(f"the ARP dual linear programme failed ({res.message}); check sigma (the event-study covariance).")
        return float(-res.fun), res.x / self.sd

    def truncation_lp(self, y: np.ndarray, g: np.ndarray) -> tuple[float, float]:
        """``[v_lo, v_up]``: the values of ``g'y`` (moving y along ``Sig g / g'Sig g``) at which ``g`` stays optimal."""
        s2 = float(g @ self.Sig @ g)
        c = self.Sig @ g / s2
        t0 = float(g @ y)
        s = y - c * t0
        tol = 1e-6
        span = max(100.0, abs(t0) + 20 * math.sqrt(s2))

        def gap(t: float) -> tuple[float, np.ndarray]:
            val, v = self.dual_lp(s + c * t)
            return val - t, v

        out = []
        for direction in (1.0, -1.0):
            t = t0 + direction * span
            gv, v = gap(t)
            if gv <= tol:
                out.append(direction * math.inf)
                continue
            for _ in range(200):  # Newton steps on the convex piecewise-linear gap: finite convergence
                den = 1.0 - float(v @ c)
                if abs(den) < 1e-14:
                    break
                t_new = float(v @ s) / den
                if not (min(t0, t) - 1e-12 <= t_new <= max(t0, t) + 1e-12):
                    break
                t = t_new
                gv, v = gap(t)
                if gv <= tol:
                    break
            if gv > tol:  # fall back to bisection between t0 (gap 0) and t
                a, z = t0, t
                while abs(z - a) > 1e-8:
                    mid = (a + z) / 2
                    if gap(mid)[0] <= tol:
                        a = mid
                    else:
                        z = mid
                t = a
            out.append(t)
        vup, vlo = out
        return min(vlo, t0), max(vup, t0)

    def lf_cv(self, kappa: float, n_sims: int, seed: int) -> float:
        """Least-favourable critical value: 1 - kappa quantile of eta(xi), xi ~ N(0, SigY)."""
        Z = _std_normal(seed, n_sims, self.Y.size)
        root = _sqrt_psd(self.Sig)
        if self.V is not None:
            eta = np.max(Z @ (self.V @ root).T, axis=1)
        else:
            eta = np.array([self.eta_lp(x)[0] for x in Z @ root.T])
        eta = eta[np.isfinite(eta)]
        return float(np.quantile(eta, 1 - kappa))


def _decide(eta: np.ndarray, sB: np.ndarray, vlo: np.ndarray, vup: np.ndarray, alpha: float, hybrid: str, lf: float | None) -> np.ndarray:
    """Conditional (or least-favourable hybrid) decision given eta, sd of gamma'y and the truncation points."""
    eta, sB, vlo, vup = (np.asarray(a, dtype=float) for a in (eta, sB, vlo, vup))
    reject = np.zeros(eta.shape, dtype=bool)
    size = alpha
    if hybrid == "LF":
        kappa = alpha / 10
        size = (alpha - kappa) / (1 - kappa)
        first = eta > lf
        reject |= first
        vup = np.minimum(vup, lf)
    tiny = sB < 1e-10
    reject |= tiny & (eta > 1e-10)
    ok = ~reject & ~tiny
    with np.errstate(divide="ignore", invalid="ignore"):
        stat, zlo, zup = eta / sB, vlo / sB, vup / sB
    inside = ok & (zlo <= stat) & (stat <= zup)
    if inside.any():
        cv = np.maximum(0.0, _truncnorm_ppf(1 - size, zlo[inside], zup[inside]))
        reject[np.flatnonzero(inside)[stat[inside] > cv]] = True
    return reject


def _accept_vertices(mom: _Moments, thetas: np.ndarray, alpha: float, hybrid: str, lf: float | None) -> np.ndarray:
    """ARP test at every theta of the grid using the closed-form dual vertices (vectorised)."""
    Yg = mom.Y[None, :] - thetas[:, None] * mom.a[None, :]
    V = mom.V
    vals = Yg @ V.T
    j = np.argmax(vals, axis=1)
    eta = vals[np.arange(vals.shape[0]), j]
    VS = V @ mom.Sig
    s2 = np.einsum("im,im->i", VS, V)
    sB = np.sqrt(np.clip(s2, 0, None))[j]
    vlo = np.full(eta.shape, -np.inf)
    vup = np.full(eta.shape, np.inf)
    for jj in np.unique(j):
        idx = j == jj
        if s2[jj] < 1e-300:
            continue
        c = VS[jj] / s2[jj]
        beta = V @ c
        alph = vals[idx] - eta[idx, None] * beta[None, :]  # v'(y - c eta): the part of v'y not moving with gamma'y
        den = 1.0 - beta
        pos, neg = den > 1e-12, den < -1e-12
        pos[jj] = neg[jj] = False
        if pos.any():
            vlo[idx] = np.max(alph[:, pos] / den[pos], axis=1)
        if neg.any():
            vup[idx] = np.min(alph[:, neg] / den[neg], axis=1)
    vlo, vup = np.minimum(vlo, eta), np.maximum(vup, eta)
    return ~_decide(eta, sB, vlo, vup, alpha, hybrid, lf)


def _accept_lp(mom: _Moments, theta: float, alpha: float, hybrid: str, lf: float | None) -> bool:
    """ARP test at one theta through the linear programmes (general restriction sets)."""
    y = mom.Y - theta * mom.a
    eta, g = mom.eta_lp(y)
    if g is None:  # eta unbounded below: the moments can all be made slack
        return True
    sB = math.sqrt(max(float(g @ mom.Sig @ g), 0.0))
    if hybrid == "LF" and eta > lf:
        return False
    if sB < 1e-10:
        return not eta > 1e-10
    vlo, vup = mom.truncation_lp(y, g)
    return not bool(_decide(np.array([eta]), np.array([sB]), np.array([vlo]), np.array([vup]), alpha, hybrid, lf)[0])


def _rm_vertices(sd: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """Vertices of the dual polytope of the Delta^RM post-period moments (rows: + for t = 1..T, then -).

    With ``z_t = tau_t - tau_{t-1}`` the moments are ``y+_t - z_t <= eta s+_t`` and ``y-_t + z_t <= eta s-_t`` subject to
    ``sum_j L_j z_j = theta-part`` (``L_j = sum_{t >= j} l_t``), so ``eta`` is the largest of: per t, the ratio that
    keeps ``z_t``'s interval non-empty, and the two ratios that let the weighted sum reach zero. Each is ``v'y`` for a
    fixed ``v``: these ``T + 2`` vectors span the dual polytope.
    """
    T = lv.size
    sp, sm = sd[:T], sd[T:]
    L = np.cumsum(lv[::-1])[::-1]
    V = np.zeros((T + 2, 2 * T))
    for t in range(T):
        V[t, t] = V[t, T + t] = 1.0 / (sp[t] + sm[t])
    Lp, Lm = np.clip(L, 0, None), np.clip(-L, 0, None)
    V[T, :T], V[T, T:] = Lp, Lm
    V[T + 1, :T], V[T + 1, T:] = Lm, Lp
    V[T] /= V[T] @ sd
    V[T + 1] /= V[T + 1] @ sd
    return V


# ----------------------------------------------------------------------------------------------------------------
# confidence sets on a theta grid
# ----------------------------------------------------------------------------------------------------------------


def _interval(grid: np.ndarray, accept: np.ndarray) -> tuple[float, float, bool, bool]:
    if not accept.any():
        return (math.nan, math.nan, False, False)
    idx = np.flatnonzero(accept)
    return (float(grid[idx[0]]), float(grid[idx[-1]]), bool(accept[0]), bool(accept[-1]))


def _theta_grid(lo: float, hi: float, b: np.ndarray, S: np.ndarray, K: int, lv: np.ndarray, grid_points: int, bounds: tuple[float, float] | None) -> np.ndarray:
    """R's theta grid on [lo, hi]; when the estimate is more than 15 standard errors from the grid's centre (where R's
    default grid stops covering the interval) it is widened to include estimate +/- 20 se at the same step."""
    if bounds is not None:
        return np.linspace(float(bounds[0]), float(bounds[1]), grid_points)
    sd = math.sqrt(float(lv @ S[K:, K:] @ lv))
    est = float(lv @ b[K:])
    if abs(est - (lo + hi) / 2) > 15 * sd:
        wide_lo, wide_hi = min(lo, est - 20 * sd), max(hi, est + 20 * sd)
        n = int(math.ceil((grid_points - 1) * (wide_hi - wide_lo) / (hi - lo))) + 1
        return np.linspace(wide_lo, wide_hi, n)
    return np.linspace(lo, hi, grid_points)


def _rm_ci(b, S, K, T, lv, mbar, alpha, hybrid, grid_points, n_sims, seed, bounds=None):
    sd_theta = math.sqrt(float(lv @ S[K:, K:] @ lv))
    grid = _theta_grid(-20 * sd_theta, 20 * sd_theta, b, S, K, lv, grid_points, bounds)
    accept = np.zeros(grid.size, dtype=bool)
    for s in range(-K + 1, 1):
        for pos in (True, False):
            A = _rm_constraints(K, T, mbar, s, pos)
            mom = _Moments(A, np.zeros(A.shape[0]), b, S, K, lv)
            mom.V = _rm_vertices(mom.sd, lv)
            lf = mom.lf_cv(alpha / 10, n_sims, seed) if hybrid == "LF" else None
            accept |= _accept_vertices(mom, grid, alpha, hybrid, lf)
    return _interval(grid, accept)


def _scan_grid(test, grid: np.ndarray, stride: int = 20) -> np.ndarray:
    """Acceptance on the grid from a coarse pass and a fine scan around the outermost accepted coarse points (the
    interval ends are exact unless the accepted set has gaps narrower than ``stride`` grid steps)."""
    n = grid.size
    acc = np.zeros(n, dtype=bool)
    done = np.zeros(n, dtype=bool)

    def at(i: int) -> bool:
        if not done[i]:
            acc[i], done[i] = test(float(grid[i])), True
        return bool(acc[i])

    coarse = sorted(set(range(0, n, stride)) | {n - 1})
    hits = [i for i in coarse if at(i)]
    if not hits:
        for i in range(n):
            at(i)
        return acc
    first, last = hits[0], hits[-1]
    prev = max([i for i in coarse if i < first], default=first)
    for i in range(prev + 1, first):
        if at(i):
            break
    nxt = min([i for i in coarse if i > last], default=last)
    for i in range(nxt - 1, last, -1):
        if at(i):
            break
    return acc & done


def _sd_arp_ci(b, S, K, T, lv, M, alpha, hybrid, grid_points, n_sims, seed, bounds=None):
    A, d = _sd_constraints(K, T, M, post_only=T > 1)
    mom = _Moments(A, d, b, S, K, lv)
    lo_id, hi_id = identified_set(np.zeros(K + T), K, T, method="smoothness", m=M, target=lv)
    sd_theta = math.sqrt(float(lv @ S[K:, K:] @ lv))
    grid = _theta_grid(lo_id - 20 * sd_theta, hi_id + 20 * sd_theta, b, S, K, lv, grid_points, bounds)
    lf = mom.lf_cv(alpha / 10, n_sims, seed) if hybrid == "LF" else None
    acc = _scan_grid(lambda th: _accept_lp(mom, th, alpha, hybrid, lf), grid)
    return _interval(grid, acc)


# ----------------------------------------------------------------------------------------------------------------
# optimal FLCI for Delta^SD(M)
# ----------------------------------------------------------------------------------------------------------------


def _second_diff_map(K: int, T: int) -> np.ndarray:
    """``P`` (periods x second differences) with ``delta = t * slope + P sigma``, delta_0 = 0; second differences at
    t = -K+1..T-1, periods -K..-1, 1..T."""
    periods = np.r_[np.arange(-K, 0), np.arange(1, T + 1)]
    js = np.arange(-K + 1, T)
    P = np.zeros((K + T, js.size))
    for i, t in enumerate(periods):
        m = (js >= 1) & (js <= t - 1) if t > 0 else (js >= t + 1) & (js <= 0)
        P[i, m] = (t - js[m]) if t > 0 else (js[m] - t)
    return P


def _flci(b: np.ndarray, S: np.ndarray, K: int, T: int, lv: np.ndarray, M: float, alpha: float) -> dict:
    """Shortest fixed-length interval ``w'betahat +/- half`` over affine estimators with post weights ``l``."""
    periods = np.r_[np.arange(-K, 0), np.arange(1, T + 1)].astype(float)
    P = _second_diff_map(K, T)
    Q, r, const = S[:K, :K], S[:K, K:] @ lv, float(lv @ S[K:, K:] @ lv)
    tp, c = periods[:K], -float(periods[K:] @ lv)  # unbiased for linear trends: tp'v = c
    Pp, q = P[:K].T, P[K:].T @ lv
    Qi_t = np.linalg.solve(Q, tp)
    Qi_r = np.linalg.solve(Q, r)
    nu = (c + tp @ Qi_r) / (tp @ Qi_t)
    v_mv = nu * Qi_t - Qi_r  # minimum-variance estimator unbiased for linear trends (the M = 0 interval)

    def var(v: np.ndarray) -> float:
        return float(v @ Q @ v + 2 * r @ v + const)

    def bias(v: np.ndarray) -> float:
        return float(np.abs(Pp @ v + q).sum())

    def half(v: np.ndarray) -> float:
        h = math.sqrt(max(var(v), 1e-300))
        return h * _folded_cv(M * bias(v) / h, alpha)

    v = v_mv
    if M > 0:
        from scipy.optimize import minimize

        h_mv = math.sqrt(var(v_mv))
        J = Pp.shape[0]

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            vv, u = x[:K], x[K:]
            h = math.sqrt(max(var(vv), 1e-300))
            bb = M * u.sum() / h
            cv = _folded_cv(bb, alpha)
            slope = _folded_cv_slope(bb, cv)
            dh = (Q @ vv + r) / h
            grad = np.r_[(cv - bb * slope) * dh, np.full(J, M * slope)]
            return h * cv / h_mv, grad / h_mv

        cons = [
            {"type": "eq", "fun": lambda x: np.array([tp @ x[:K] - c]), "jac": lambda x: np.r_[tp, np.zeros(J)][None, :]},
            {"type": "ineq", "fun": lambda x: x[K:] - (Pp @ x[:K] + q), "jac": lambda x: np.hstack([-Pp, np.eye(J)])},
            {"type": "ineq", "fun": lambda x: x[K:] + (Pp @ x[:K] + q), "jac": lambda x: np.hstack([Pp, np.eye(J)])},
        ]
        v0 = np.zeros(K)
        v0[K - 1] = float(periods[K:] @ lv)  # the minimum-bias estimator (uses only the last pre-period)
        best = v_mv
        for start in (v_mv, v0, (v_mv + v0) / 2):
            x0 = np.r_[start, np.abs(Pp @ start + q) + 1e-9]
            res = minimize(fun, x0, jac=True, method="SLSQP", constraints=cons, options={"ftol": 1e-14, "maxiter": 500})
            cand = res.x[:K]
            cand = cand + Qi_t * (c - tp @ cand) / (tp @ Qi_t)  # restore the equality exactly
            if half(cand) < half(best):
                best = cand
        v = best
    h = math.sqrt(var(v))
    hl = half(v)
    w = np.r_[v, lv]
    est = float(w @ b)
    return {"lower": est - hl, "upper": est + hl, "center": est, "half_length": hl, "sd": h, "max_bias": M * bias(v), "weights": w}


# ----------------------------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------------------------


class HonestResult(EstimateResult):
    """HonestDiD sensitivity results: one robust confidence interval per value of the restriction's size.

    Attributes
    ----------
    ci
        DataFrame ``M, lower, upper, open_lower, open_upper`` (``open_*``: the accepted set touches that end of the
        theta grid, so the interval is open there).
    original
        ``(lower, upper)`` conventional interval ``theta_hat +/- z sd`` (parallel trends imposed).
    breakdown
        Smallest M (or Mbar) whose interval includes zero: 0 when the interval already includes zero at M = 0 (no
        significant effect to break down); NaN when every interval on the grid excludes zero (robust over the grid).
    breakdown_status
        ``"not significant at M = 0"``, ``"breaks down"`` or ``"robust over the grid"`` (the three cases above).
    theta_hat, se
        Point estimate ``l'beta_post`` and its standard error.
    source
        The estimator the event-study coefficients came from.
    """

    kind = "honest_did"

    def __init__(self, rows: pd.DataFrame, *, ci: pd.DataFrame, original: tuple[float, float], breakdown: float, theta_hat: float, se: float, restriction: str, inference: str, source: str = "", **kw: Any) -> None:
        super().__init__(rows, **kw)
        self.ci = ci
        self.original = original
        self.breakdown = breakdown
        self.theta_hat = theta_hat
        self.se = se
        self.restriction = restriction
        self.inference = inference
        self.source = source

    @property
    def breakdown_status(self) -> str:
        """How to read :attr:`breakdown`."""
        if not np.isfinite(self.breakdown):
            return "robust over the grid"
        return "not significant at M = 0" if self.breakdown == 0 else "breaks down"

    def summary(self, digits: int = 4) -> str:
        """Text table of the robust intervals, the original interval and the breakdown value."""
        name = "Mbar" if self.restriction == "relative_magnitude" else "M"
        lines = [
            f"{self.method} | outcome: {self.outcome} | {self.estimand} = {self.theta_hat:.{digits}g} (se {self.se:.{digits}g}) | {100 * (1 - self.alpha):.0f}% CI, {self.inference}",
            f"{'original':>10}  [{self.original[0]:.{digits}g}, {self.original[1]:.{digits}g}]",
        ]
        for r in self.ci.itertuples():
            flag = " (open at the grid end)" if (r.open_lower or r.open_upper) else ""
            lines.append(f"{name + '=' + format(r.M, 'g'):>10}  [{r.lower:.{digits}g}, {r.upper:.{digits}g}]{flag}")
        lines.append(f"breakdown {name}: {self.breakdown:.{digits}g} ({self.breakdown_status})" if np.isfinite(self.breakdown) else f"breakdown {name}: none on the grid (every interval excludes zero)")
        return "\n".join(lines) + (f"\n{self.description}" if self.description else "")

    def plot(self, ax: Any = None) -> Any:
        """Sensitivity plot: one interval per M, the original interval at the left, zero and the breakdown marked."""
        import matplotlib.pyplot as plt

        from ..plots import PALETTE

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        ms = self.ci["M"].to_numpy(dtype=float)
        gap = float(np.min(np.diff(ms))) if ms.size > 1 else (ms[0] if ms[0] > 0 else 1.0)
        x0 = ms.min() - gap
        width = gap / 4
        lo, hi = self.ci["lower"].to_numpy(), self.ci["upper"].to_numpy()
        ax.vlines(ms, lo, hi, color=PALETTE[0], lw=2, label=self.inference)
        ax.hlines(np.r_[lo, hi], np.r_[ms, ms] - width / 2, np.r_[ms, ms] + width / 2, color=PALETTE[0], lw=1.5)
        ax.vlines([x0], [self.original[0]], [self.original[1]], color=PALETTE[1], lw=2, label="original")
        ax.hlines(list(self.original), x0 - width / 2, x0 + width / 2, color=PALETTE[1], lw=1.5)
        ax.axhline(0, color="grey", lw=0.8)
        if np.isfinite(self.breakdown):
            ax.axvline(self.breakdown, color="grey", lw=0.8, ls="--", label=f"breakdown {self.breakdown:.3g}")
        ticks = np.r_[x0, ms] if ms.size <= 7 else np.r_[x0, ms[:: int(math.ceil(ms.size / 6))]]
        ax.set_xticks(ticks, ["original"] + [f"{m:.3g}" for m in ticks[1:]], fontsize=8)
        name = r"$\bar{M}$" if self.restriction == "relative_magnitude" else "M"
        ax.set_xlabel(name + (" (relative magnitudes)" if self.restriction == "relative_magnitude" else " (smoothness)"))
        ax.set_ylabel(f"{self.estimand} on {self.outcome}" if self.outcome else self.estimand)
        ax.set_title(f"Robust {100 * (1 - self.alpha):.0f}% intervals")
        ax.legend(frameon=False, fontsize=8)
        return ax


# ----------------------------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------------------------


def _default_grid(method: str, b: np.ndarray, S: np.ndarray, K: int, alpha: float) -> np.ndarray:
    if method == "relative_magnitude":
        return np.arange(0.0, 2.0001, 0.25)
    # R's default: 10 values from 0 to a one-sided 1 - alpha upper bound on the largest pre-period second difference
    A, _ = _sd_constraints(K, 0, 0.0)
    se = np.sqrt(np.diag(A @ S[:K, :K] @ A.T))
    ub = float(np.max(A @ b[:K] + special.ndtri(1 - alpha) * se))
    return np.linspace(0.0, max(ub, 1e-12), 10)


def honest_did(
    betahat: Any,
    sigma: Any,
    num_pre: int,
    num_post: int,
    *,
    method: str = "relative_magnitude",
    grid: Any = None,
    target: Any = "first",
    alpha: float = 0.05,
    outcome: str = "",
    source: str = "twfe_event_study",
    inference: str | None = None,
    grid_points: int = 1000,
    theta_bounds: tuple[float, float] | None = None,
    n_sims: int | None = None,
    seed: int = 0,
    refine_breakdown: bool = True,
) -> HonestResult:
    """Robust confidence sets for an event-study effect under bounded violations of parallel trends.

    Estimand: ``theta = l'tau_post`` (``target``), the effect that parallel trends would identify as ``l'beta_post``.
    Assumptions: ``beta = tau + delta`` with ``tau_pre = 0`` (no anticipation before the reference period) and
    ``delta`` in ``Delta^RM(Mbar)`` (``method="relative_magnitude"``: post-period changes in the trend difference at
    most ``Mbar`` times the largest pre-period change) or ``Delta^SD(M)`` (``method="smoothness"``: the slope of the
    trend difference changes by at most ``M`` per period); ``betahat`` is approximately normal with covariance
    ``sigma``. Inference: for each value in ``grid``, a 1 - alpha confidence set for ``theta`` that is uniformly valid
    over the restriction set (see the module docstring), and the breakdown value.

    Parameters
    ----------
    betahat
        Event-study coefficients: ``num_pre`` pre-period ones (earliest first, ending the period before the reference
        period), then ``num_post`` from the first treated period on. The reference period is omitted.
    sigma
        Their covariance matrix (positive definite).
    num_pre, num_post
        Number of pre- and post-period coefficients (relative magnitudes need ``num_pre >= 1``, smoothness ``>= 2``).
    method
        ``"relative_magnitude"`` (Delta^RM) or ``"smoothness"`` (Delta^SD).
    grid
        Values of Mbar (or M), all >= 0 (parameters ``robustness.honest_grid_rm`` / ``robustness.honest_grid_sm``;
        errors name them). Default: 0, 0.25, ..., 2 for relative
        magnitudes; for smoothness R's rule, 10 values from 0 to a 1 - alpha upper bound on the largest pre-period
        second difference.
    target
        ``"first"`` (the first post-period effect), ``"average"`` (mean of the post-period effects) or a vector ``l``
        of ``num_post`` weights.
    alpha
        1 - confidence level.
    outcome, source
        Labels for the results (outcome column; the estimator the coefficients came from).
    inference
        ``"C-LF"`` (default for relative magnitudes) or ``"conditional"``; ``"FLCI"`` (default for smoothness),
        ``"conditional"`` or ``"C-LF"``.
    grid_points, theta_bounds
        The ARP test is inverted over ``grid_points`` values of theta (R's default 1000) on ``theta_bounds``; by
        default R's bounds (``[-20, 20] * se`` for relative magnitudes; the identified set under ``delta_pre = 0``
        +/- 20 se for conditional smoothness), widened at the same step when the estimate is more than 15 se from
        their centre. Unused by the FLCI.
    n_sims, seed
        Draws and seed for the least-favourable critical value of the hybrid test (``"C-LF"``). Default 10,000 for
        relative magnitudes, where each draw costs a matrix product (the published R results use 1,000 draws; their
        Monte Carlo error moves interval ends by about one theta-grid step), and R's 1,000 for smoothness, where each
        draw is a linear programme.
    refine_breakdown
        Bisect between grid values for the breakdown value (otherwise the first grid value whose interval includes 0).

    Returns
    -------
    HonestResult
        ``tidy()`` rows: ``method`` ``honest_did_rm``/``honest_did_sm``, ``estimand`` ``theta_first``/``theta_average``
        (``theta_custom`` for a weight vector), ``group`` ``"M=<value>"``, ``estimate`` the point estimate of theta,
        ``std_error`` its standard error, ``ci_lower``/``ci_upper`` the robust interval; then one row ``estimand``
        ``breakdown`` with ``estimate`` the breakdown value (NaN if none on the grid).
    """
    b, S, K, T = _as_inputs(betahat, sigma, num_pre, num_post, method)
    lv, estimand = _target_vector(target, T)
    if not (isinstance(alpha, (int, float)) and 0 < float(alpha) < 1):
        raise EstimationError(f"alpha={alpha!r} must be between 0 and 1 (inference.alpha).")
    alpha = float(alpha)
    allowed = _INFERENCE[method]
    inference = inference or allowed[0]
    if inference not in allowed:
        raise EstimationError(f"inference={inference!r} is not available for {method}; use one of {', '.join(allowed)}.")
    if isinstance(grid_points, bool) or not isinstance(grid_points, (int, np.integer)) or grid_points < 3:
        raise EstimationError(f"grid_points={grid_points!r} must be an integer of at least 3.")
    ms = _check_grid(grid, method) if grid is not None else _default_grid(method, b, S, K, alpha)
    if theta_bounds is not None:
        tb = np.asarray(theta_bounds, dtype=float).ravel()
        if tb.size != 2 or not np.all(np.isfinite(tb)) or tb[0] >= tb[1]:
            raise EstimationError(f"theta_bounds={theta_bounds!r} must be two finite numbers, lower first.")
        theta_bounds = (float(tb[0]), float(tb[1]))

    hybrid = {"C-LF": "LF", "conditional": "ARP"}.get(inference)
    if n_sims is None:
        n_sims = 10_000 if method == "relative_magnitude" else 1000
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 100:
        raise EstimationError(f"n_sims={n_sims!r} must be an integer of at least 100.")

    def interval(m: float) -> tuple[float, float, bool, bool]:
        if method == "relative_magnitude":
            return _rm_ci(b, S, K, T, lv, m, alpha, hybrid, grid_points, n_sims, seed, theta_bounds)
        if inference == "FLCI":
            f = _flci(b, S, K, T, lv, m, alpha)
            return (f["lower"], f["upper"], False, False)
        return _sd_arp_ci(b, S, K, T, lv, m, alpha, hybrid, grid_points, n_sims, seed, theta_bounds)

    cis = [interval(float(m)) for m in ms]
    ci = pd.DataFrame({"M": ms, "lower": [c[0] for c in cis], "upper": [c[1] for c in cis], "open_lower": [c[2] for c in cis], "open_upper": [c[3] for c in cis]})

    def covers(c: tuple[float, float, bool, bool]) -> bool:
        return bool(np.isfinite(c[0]) and c[0] <= 0 <= c[1])

    breakdown = math.nan
    hit = next((i for i, c in enumerate(cis) if covers(c)), None)
    if hit is not None:
        breakdown = float(ms[hit])
        lo: float | None = float(ms[hit - 1]) if hit > 0 else None
        if hit == 0 and ms[0] > 0:  # below the grid: zero is already covered at M = 0, or the bracket is (0, M_1]
            if covers(interval(0.0)):
                breakdown = 0.0
            else:
                lo = 0.0
        if refine_breakdown and lo is not None:
            hi = breakdown
            tol = 1e-3 * (hi - lo)
            while hi - lo > tol:
                mid = (lo + hi) / 2
                if covers(interval(mid)):
                    hi = mid
                else:
                    lo = mid
            breakdown = hi

    theta_hat = float(lv @ b[K:])
    se = math.sqrt(float(lv @ S[K:, K:] @ lv))
    z = float(special.ndtri(1 - alpha / 2))
    original = (theta_hat - z * se, theta_hat + z * se)
    # the event study it starts from is part of the name (honest_did_rm: TWFE event study; honest_did_rm_cs: the
    # Callaway-Sant'Anna dynamic aggregation), so estimates.csv never holds two rows under one key
    mname = _METHODS[method] + ("" if source in ("", "twfe_event_study") else f"_{source}")
    rows = pd.DataFrame(
        {
            "method": mname,
            "outcome": outcome,
            "estimand": estimand,
            "group": [f"M={m:g}" for m in ms],
            "estimate": theta_hat,
            "std_error": se,
            "ci_lower": ci["lower"].to_numpy(),
            "ci_upper": ci["upper"].to_numpy(),
        }
    )
    rows = pd.concat([rows, pd.DataFrame([{"method": mname, "outcome": outcome, "estimand": "breakdown", "estimate": breakdown}])], ignore_index=True)
    how = {
        "C-LF": "Andrews-Roth-Pakes moment-inequality test (least-favourable hybrid, C-LF) inverted over a grid of theta",
        "conditional": "Andrews-Roth-Pakes moment-inequality test (conditional) inverted over a grid of theta",
        "FLCI": "the optimal fixed-length confidence interval (FLCI) over affine estimators",
    }[inference]
    return HonestResult(
        tidy_frame(rows),
        ci=ci,
        original=original,
        breakdown=breakdown,
        theta_hat=theta_hat,
        se=se,
        restriction=method,
        inference=inference,
        source=source,
        method=mname,
        outcome=outcome,
        estimand=estimand,
        description=DESCRIPTIONS[_METHODS[method]].format(inference=how),
        alpha=alpha,
        details={"source": source, "l_vec": lv, "num_pre": K, "num_post": T, "grid_points": grid_points, "n_sims": n_sims, "seed": seed},
    )


# ----------------------------------------------------------------------------------------------------------------
# adapters
# ----------------------------------------------------------------------------------------------------------------


def _twfe_inputs(result: Any, design: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cov = result.details.get("cov") if hasattr(result, "details") else None
    tidy = result.tidy()
    rows = tidy[tidy["estimand"] == "event_time"].sort_values("event_time")
    times = rows["event_time"].astype(int).to_numpy()
    est = rows["estimate"].to_numpy(dtype=float)
    if cov is not None:
        V = np.asarray(pd.DataFrame(cov).loc[[f"e{k}" for k in times], [f"e{k}" for k in times]], dtype=float)
        return times, est, V
    if design is None:
        raise EstimationError("the TWFE event study does not carry its covariance; pass design= (the design it was estimated on) to event_study_inputs so it can be rebuilt.")
    from ..did.estimators import _cluster_codes, _WithinFit, outcome_matrix

    label = str(result.outcome)
    log = label.endswith("_log") and label[:-4] in design.panel.outcomes
    y, _ = outcome_matrix(design, label[:-4] if log else label, log, missing="allow")
    lead, lag = result.details.get("window", (int(times.min()), int(times.max())))
    eb = np.clip(design.event_time(), lead, lag)
    present = np.unique(eb[~np.isnan(eb)]).astype(int)
    used = result.details.get("regressors") or [k for k in range(lead, lag + 1) if k != -1 and k in present]
    regs = {f"e{k}": (eb == k).astype(float) for k in used}
    from ..did.estimators import control_matrices, observed_cells

    ctrl = control_matrices(design, result.details.get("controls"))
    used = observed_cells(y, ctrl)
    if used is not None:
        regs = {k: np.where(used, v, 0.0) for k, v in regs.items()}
    fit = _WithinFit(y, {**regs, **ctrl}, _cluster_codes(design), used)
    names = [f"e{k}" for k in times]
    if any(n not in fit.params.index for n in names) or not np.allclose(fit.params[names].to_numpy(), est, rtol=1e-7, atol=1e-10):
        raise EstimationError("the design passed to event_study_inputs does not reproduce the event-study estimates; pass the design the event study was estimated on.")
    return times, est, fit.cov.loc[names, names].to_numpy()


def _cs_inputs(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    inner = getattr(result, "inner", result)
    if getattr(inner, "type", None) != "dynamic":
        raise EstimationError("event_study_inputs needs an event study: pass aggregate('dynamic') of the Callaway-Sant'Anna results.")
    ref = inner.reference
    if ref is None:
        raise EstimationError("the Callaway-Sant'Anna event study uses a varying base period, so its pre-period estimates are period-on-period changes; re-estimate with base_period='universal' (methods.staggered.base_period) for HonestDiD.")
    N = inner.n_units
    W, D = inner._W[:, 1:], inner._D[:, 1:]
    V = inner._rep.gram(W, D) / N**2  # = IF'IF / n^2 (cluster sums of the IF when clustered): the package's SEs squared
    times = np.asarray(inner.egt, dtype=float)
    keep = times != ref
    return times[keep].astype(int), np.asarray(inner.estimates, dtype=float)[keep], V[np.ix_(keep, keep)], int(ref)


def event_study_inputs(result: Any, design: Any = None, *, window: tuple[int, int] | None = None, drop_binned: bool = True) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    """Event-study coefficients and covariance in the form :func:`honest_did` takes.

    Parameters
    ----------
    result
        A TWFE event study (:func:`evidence.did.event_study`) or a Callaway-Sant'Anna dynamic aggregation
        (``cs(...).aggregate("dynamic")``, or its ``inner`` :class:`~evidence.staggered.AggteResult`).
    design
        The design the TWFE event study was estimated on: the event study does not store its covariance, so it is
        rebuilt by refitting the same regression (same regressors, same cluster-robust CR1 covariance); the refit
        must reproduce the stored estimates. Not needed for Callaway-Sant'Anna.
    window
        ``(first, last)`` event times to keep (inclusive). The pre-period coefficients kept must run without gaps up to
        the period before the reference period, the post-period ones without gaps from the period after it.
    drop_binned
        For a TWFE event study with binned end points, drop the two end bins (they pool every event time beyond the
        window, so they are not single periods as the restrictions assume).

    Returns
    -------
    betahat, sigma, num_pre, num_post, event_times
        Pre-period then post-period coefficients (reference omitted), their covariance, the counts and event times.

    Notes
    -----
    Callaway-Sant'Anna: ``sigma = S'S / n^2`` where ``S`` holds the influence functions of the event-time estimates
    (R ``did`` scaling, ``n`` units) summed within clusters (units when unclustered, i.e. ``IF'IF / n^2`` as in R's
    ``honest_did``), so its diagonal is the squared analytic standard errors the aggregation reports (with the
    multiplier bootstrap the reported SEs are bootstrap ones; the covariance is still the analytic one). The
    aggregation needs ``base_period="universal"``; the reference period (estimate 0) is dropped.
    """
    if hasattr(result, "inner") or hasattr(result, "egt"):
        times, est, V, ref = _cs_inputs(result)
    else:
        if getattr(result, "method", None) != "twfe_event_study":
            raise EstimationError(f"event_study_inputs takes a TWFE event study or a Callaway-Sant'Anna dynamic aggregation, not {type(result).__name__}.")
        times, est, V = _twfe_inputs(result, design)
        ref = int(result.details.get("reference", -1))
        if drop_binned and result.details.get("binned", False):
            lead, lag = result.details.get("window", (times.min(), times.max()))
            keep = (times != lead) & (times != lag)
            times, est, V = times[keep], est[keep], V[np.ix_(keep, keep)]
    if window is not None:
        lo, hi = int(window[0]), int(window[1])
        keep = (times >= lo) & (times <= hi)
        times, est, V = times[keep], est[keep], V[np.ix_(keep, keep)]
    pre, post = times[times < ref], times[times > ref]
    if pre.size and not np.array_equal(pre, np.arange(ref - pre.size, ref)):
        missing = sorted(set(range(int(pre.min()), ref)) - set(pre.tolist()))
        raise EstimationError(f"the pre-period event times are not consecutive up to {ref - 1} (missing {missing[:5]}); narrow the window so the kept event times have no gaps.")
    if post.size and not np.array_equal(post, np.arange(ref + 1, ref + 1 + post.size)):
        missing = sorted(set(range(ref + 1, int(post.max()))) - set(post.tolist()))
        raise EstimationError(f"the post-period event times are not consecutive from {ref + 1} (missing {missing[:5]}); narrow the window so the kept event times have no gaps.")
    order = np.argsort(times)
    return est[order], V[np.ix_(order, order)], int(pre.size), int(post.size), times[order]
