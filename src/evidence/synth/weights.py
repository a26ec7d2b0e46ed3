"""Weight optimisers for synthetic difference-in-differences and synthetic control.

Two solvers live here.

Frank-Wolfe on the simplex (SDID, and the SC / DiD special cases)
    Minimises ``zeta^2 ||x||^2 + ||A x - b||^2 / n`` over the unit simplex (``n`` = rows of ``A``), with the
    Frank-Wolfe algorithm and an exact line search, as Algorithm 1 of Arkhangelsky, Athey, Hirshberg, Imbens and
    Wager (2021, AER) and the reference R package ``synthdid`` (``sc.weight.fw``/``fw.step``) do. With an
    intercept, the columns of ``[A, b]`` are first centred over the rows, which is the same as adding a free
    intercept to the fit. The iteration stops after ``max_iter`` steps or once a step lowers the objective by no
    more than ``min_decrease^2`` (at least two steps are taken). :func:`sparse_fw_solve` adds the ``synthdid`` default
    two-pass scheme: a first pass of at most 100 steps, weights at or below a quarter of the largest set to zero
    and the rest renormalised (:func:`sparsify`), then a second pass from there.

    :func:`fw_solve` solves many problems at once (one per placebo or bootstrap draw, unit- and time-weight
    problems together), one vectorised step for all per iteration; each problem follows the iteration it would
    follow alone, up to rounding (problems that have met the stopping rule are frozen and dropped). Padding is
    supported through a column mask and per-problem row counts, so draws with different numbers of units share
    one batch, and the unit-weight problems of placebo draws share one Gram matrix. Where the package's C extension
    is built (or numba is installed) the same steps run compiled, problem by problem (:mod:`evidence.synth._fw_compiled`).

Simplex-constrained weighted least squares (classic ADH synthetic control)
    :func:`simplex_lsq` minimises ``(x1 - X0 w)' V (x1 - X0 w)`` over the simplex exactly enough for reporting,
    as a non-negative least-squares problem (Lawson-Hanson, :func:`scipy.optimize.nnls`) on the system augmented
    with a heavily weighted row ``M (1'w - 1)`` (the "fully constrained least squares" device), then renormalised.
    :func:`sc_predictor_weights` chooses the diagonal predictor weights ``V`` (ADH's nested optimisation) by
    minimising the pre-period outcome MSPE of the resulting synthetic control with Nelder-Mead over a softmax
    parametrisation of ``V``, from fixed starting points (equal weights, a restart, the best single-predictor
    emphasis): deterministic, no random restarts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from evidence.synth import _fw_compiled

SPARSIFY_PRE_ITER = 100  # synthdid's max.iter.pre.sparsify
MAX_ITER = 10_000  # synthdid's max.iter


def sparsify(x: np.ndarray) -> np.ndarray:
    """synthdid's default sparsification: weights <= max/4 set to zero, the rest renormalised (row-wise)."""
    x = np.array(x, dtype=float, copy=True)
    if x.ndim == 1:
        return sparsify(x[None, :])[0]
    top = x.max(axis=1, keepdims=True)
    x[x <= top / 4] = 0.0
    return sum_normalize(x)


def sum_normalize(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Rows divided by their sums; a row summing to zero becomes uniform over its ``valid`` entries (all by
    default), as synthdid's ``sum_normalize`` (used to start the placebo and bootstrap fits)."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        return sum_normalize(x[None, :], None if valid is None else np.asarray(valid)[None, :])[0]
    v = np.ones(x.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    x = np.where(v, x, 0.0)
    s = x.sum(axis=1, keepdims=True)
    uniform = v / v.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s != 0, x / np.where(s != 0, s, 1.0), uniform)


@dataclass
class FWResult:
    """Solutions of a batch of Frank-Wolfe problems.

    Attributes
    ----------
    x
        Weights (problems x columns).
    iterations
        Steps taken per problem.
    value
        Final objective per problem.
    """

    x: np.ndarray
    iterations: np.ndarray
    value: np.ndarray


@dataclass
class FWProblems:
    """A batch of Frank-Wolfe problems ``min zeta^2 ||x||^2 + ||A x - b||^2 / n`` on the simplex, in Gram form.

    Attributes
    ----------
    G
        ``A'A``: (problems x k x k), or (k x k) shared by all problems (placebo draws: each draw's Gram matrix is
        the principal submatrix of the pool's selected by ``valid``).
    c
        ``A'b``, (problems x k).
    bb
        ``b'b``, (problems,).
    zeta
        Ridge strength, (problems,).
    x0
        Starting weights on the simplex, zero on invalid columns, (problems x k).
    min_decrease
        Stopping tolerance, (problems,).
    n_rows
        Rows ``n`` of ``A``, (problems,).
    valid
        Real columns, (problems x k) booleans.
    """

    G: np.ndarray
    c: np.ndarray
    bb: np.ndarray
    zeta: np.ndarray
    x0: np.ndarray
    min_decrease: np.ndarray
    n_rows: np.ndarray
    valid: np.ndarray

    @classmethod
    def make(cls, G, c, bb, zeta, x0, min_decrease, n_rows, valid=None) -> "FWProblems":  # noqa: ANN001
        c = np.asarray(c, dtype=float)
        B, k = c.shape
        vec = lambda v: np.broadcast_to(np.asarray(v, dtype=float), (B,)).astype(float)  # noqa: E731
        valid = np.ones((B, k), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        return cls(np.asarray(G, dtype=float), c, vec(bb), vec(zeta), np.array(x0, dtype=float, copy=True), vec(min_decrease), vec(n_rows), valid)

    @property
    def size(self) -> int:
        return self.c.shape[0]

    def with_x0(self, x0: np.ndarray) -> "FWProblems":
        return FWProblems(self.G, self.c, self.bb, self.zeta, np.array(x0, dtype=float, copy=True), self.min_decrease, self.n_rows, self.valid)


def fw_gram(
    G: np.ndarray,
    c: np.ndarray,
    bb: np.ndarray,
    zeta: np.ndarray | float,
    x0: np.ndarray,
    *,
    min_decrease: np.ndarray | float,
    max_iter: int,
    n_rows: np.ndarray | float,
    valid: np.ndarray | None = None,
) -> FWResult:
    """Frank-Wolfe with exact line search (synthdid's ``sc.weight.fw``) on one batch in Gram form; see
    :class:`FWProblems` for the arguments and :func:`fw_solve` for the method."""
    return fw_solve([FWProblems.make(G, c, bb, zeta, x0, min_decrease, n_rows, valid)], max_iter)[0]


def fw_solve(groups: list[FWProblems], max_iter: int) -> list[FWResult]:
    """Solve several batches of Frank-Wolfe problems together (one vectorised step for all per iteration).

    Each step is synthdid's ``fw.step``: with ``eta = n zeta^2`` and the half gradient
    ``h = (G + eta I) x - c``, pick the vertex ``i`` minimising ``h`` (first index on ties) and move towards it by
    ``s = min(1, max(0, num / denom))`` with ``num = x'h - h_i`` and
    ``denom = (G + eta I)_ii - 2 (h_i + c_i) + x'(G + eta I) x`` (the exact line search). The objective falls by
    exactly ``s (2 num - s denom) / n``; a problem stops after ``max_iter`` steps or at the first step (from the
    second on) whose decrease is not above ``min_decrease^2`` — synthdid compares successive objective values,
    the same quantity up to rounding.

    Cost: ``h``, ``P = x'(G + eta I) x`` and ``c'x`` follow their recurrences
    (``h <- (1 - s) h + s (G_i + eta e_i - c)``) and are recomputed exactly every :data:`RESYNC` steps; ``x`` and
    ``h`` are kept as ``sc * x~`` and ``sc * h~`` so that the shrink by ``1 - s`` is a change of scale; ``x~`` is
    updated in arrears from a log of steps. A step is then a few operations on the (problems x k) arrays of each
    batch plus a few on the per-problem scalars, shared by all batches. Finished problems take zero steps; the
    arrays are compacted once half the problems are done, and the last :data:`TAIL` finish one by one
    (:func:`_fw_single`). Iterates equal the direct computation up to rounding error.

    When a compiled engine is available (:mod:`evidence.synth._fw_compiled`: C, else numba), a batch of more than
    :data:`TAIL` problems (and any problem once the engine is loaded) runs there instead, each problem to its own
    stopping point: the same steps without the per-step cost of numpy calls (equal up to rounding; tested).
    """
    results = [FWResult(g.x0.copy(), np.zeros(g.size, dtype=int), np.full(g.size, np.nan)) for g in groups]
    total = sum(g.size for g in groups)
    if max_iter <= 0 or total == 0:
        return results
    if (total > TAIL or _fw_compiled.loaded()) and _fw_compiled.available():  # compiled loop: no per-step overhead
        for g, r in zip(groups, results):
            if g.size:
                eta = g.n_rows * g.zeta**2
                r.x, r.iterations, r.value = _fw_compiled.solve(g.G, g.c, g.bb, eta, g.n_rows, g.x0, g.valid, g.min_decrease**2, max_iter)
        return results
    if total <= TAIL:  # a few problems: one by one is cheaper per step
        for g, r in zip(groups, results):
            eta = g.n_rows * g.zeta**2
            for j in range(g.size):
                ok = np.flatnonzero(g.valid[j])
                Gj = g.G if g.G.ndim == 2 else g.G[j]
                x, r.iterations[j], r.value[j] = _fw_single(Gj[np.ix_(ok, ok)], g.c[j, ok], g.bb[j], eta[j], g.n_rows[j], g.x0[j, ok], g.min_decrease[j] ** 2, max_iter)
                r.x[j] = 0.0
                r.x[j, ok] = x
        return results
    with np.errstate(invalid="ignore", divide="ignore"):  # finished problems: num / inf, 0 * inf
        _fw_loop([_Batch(g, r) for g, r in zip(groups, results) if g.size], max_iter)
    return results


RESYNC = 50  # steps between exact recomputations of the running quantities
_BIG = 1e200  # -c on invalid columns: their half gradient is never the minimum
_TINY = 1e-100  # smallest scale kept in the lazily scaled arrays
TAIL = 4  # problems left below which each finishes on its own


class _Batch:
    """Working state of one batch inside :func:`_fw_loop` (arrays of the problems still running)."""

    def __init__(self, g: FWProblems, out: FWResult) -> None:
        self.out = out
        self.shared = g.G.ndim == 2
        B, k = g.c.shape
        self.k = k
        self.idx = np.arange(B)
        self.valid = g.valid
        eta = g.n_rows * g.zeta**2
        c = np.where(g.valid, g.c, -_BIG)
        self.eta_in_G = False
        if self.shared:
            G = np.array(g.G, dtype=float)
            Gd = np.diagonal(G)[None, :] + eta[:, None]
            if np.all(eta == eta[0]):  # one ridge for all (placebo draws): fold eta I into the shared matrix
                G[np.diag_indices(k)] += eta[0]
                self.eta_in_G = True
            self.G, self.H = G, None
        else:
            self.G = g.G
            self.H = g.G + eta[:, None, None] * np.eye(k)[None] - c[:, None, :]  # row i: G_i + eta e_i - c
            Gd = np.diagonal(g.G, axis1=1, axis2=2) + eta[:, None]
        self.S = np.empty((3, B, k))  # h~, c, diag(G) + eta: one gather per step for the three
        self.S[1] = c
        self.S[2] = Gd
        self.x = g.x0.copy()
        self.eta = eta
        self.bb, self.nr, self.md2n = g.bb, g.n_rows, g.min_decrease**2 * g.n_rows
        self.m = B
        self._arrays()

    def _arrays(self) -> None:
        self.base = np.arange(self.m) * self.k
        self.buf = np.empty((self.m, self.k))
        self.log_i = np.empty((RESYNC, self.m), dtype=np.intp)

    def exact(self) -> tuple[np.ndarray, np.ndarray]:
        """Recompute ``h`` (into ``S[0]``) and return ``P``, ``c'x`` from ``x`` (with ``sc`` folded in)."""
        G, x = self.G, self.x
        Gx = x @ G if self.shared else (G @ x[:, :, None])[:, :, 0]
        if not self.eta_in_G:
            Gx = Gx + self.eta[:, None] * x
        self.S[0] = Gx - self.S[1]
        return np.einsum("mk,mk->m", x, Gx), np.einsum("mk,mk->m", self.S[1], x)

    def compact(self, keep: np.ndarray) -> None:
        self.idx = self.idx[keep]
        self.S = np.ascontiguousarray(self.S[:, keep])
        self.valid, self.x, self.eta, self.bb, self.nr, self.md2n = (np.ascontiguousarray(a[keep]) for a in (self.valid, self.x, self.eta, self.bb, self.nr, self.md2n))
        if not self.shared:
            self.G = np.ascontiguousarray(self.G[keep])
            self.H = np.ascontiguousarray(self.H[keep])
        self.m = int(keep.sum())
        self._arrays()

    def single_G(self, j: int) -> np.ndarray:
        ok = self.valid[j]
        if self.shared:
            G = self.G - (self.eta[0] * np.eye(self.k) if self.eta_in_G else 0.0)
        else:
            G = self.G[j]
        return G[np.ix_(ok, ok)]


def _fw_loop(batches: list[_Batch], max_iter: int) -> None:  # noqa: C901 - one loop, kept together for speed
    """The vectorised Frank-Wolfe loop of :func:`fw_solve` (results written into each batch's ``out``)."""

    def layout():
        sl, a = [], 0
        for b in batches:
            sl.append(slice(a, a + b.m))
            a += b.m
        return sl, a

    sl, M = layout()
    P = np.empty(M)
    cx = np.empty(M)
    for b, s_ in zip(batches, sl):
        P[s_], cx[s_] = b.exact()
    md2n = np.concatenate([b.md2n for b in batches])
    sc = np.ones(M)
    live = np.ones(M, dtype=bool)
    frozen = np.zeros(M)  # +inf for finished problems: their step is num / inf = 0
    T3 = np.empty((3, M))
    log_a = np.empty((RESYNC, M))
    Qi, num, denom, step, sd, ndec, tmp = np.empty((7, M))
    n_log = 0
    n_dead = 0

    def flush(n: int) -> int:
        for b, s_ in zip(batches, sl):
            np.add.at(b.x.ravel(), b.log_i[:n].ravel(), log_a[:n, s_].ravel())
        return 0

    t = 0
    while True:
        t += 1
        for b, s_ in zip(batches, sl):
            b.pick = b.S[0].argmin(axis=1)
            b.fi = b.base + b.pick
            np.take(b.S.reshape(3, -1), b.fi, axis=1, out=T3[:, s_], mode="clip")  # indices valid: skip the checks
        hi, ci, Gi = T3
        hi *= sc
        np.add(hi, ci, out=Qi)
        np.subtract(P, cx, out=num)
        num -= hi
        np.add(Gi, P, out=denom)
        np.add(Qi, Qi, out=tmp)
        denom -= tmp
        if n_dead:
            denom += frozen
        # synthdid: min(1, max(0, num / denom)); fmax/fmin also send 0/0 (x already at the vertex) to 0
        np.divide(num, denom, out=step)
        np.fmax(step, 0.0, out=step)
        np.fmin(step, 1.0, out=step)
        np.multiply(step, denom, out=sd)
        np.add(num, num, out=ndec)
        ndec -= sd
        ndec *= step  # n times the decrease of the objective
        np.subtract(Qi, P, out=tmp)
        tmp += tmp
        tmp += sd
        tmp *= step
        P += tmp  # P + 2 s (Q_i - P) + s^2 denom
        np.subtract(ci, cx, out=tmp)
        tmp *= step
        cx += tmp
        np.subtract(1.0, step, out=tmp)
        sc *= tmp
        if sc.min() < _TINY:  # fold the scale in (a full step, 1 - s = 0, lands here too)
            n_log = flush(n_log)
            small = sc < _TINY
            for b, s_ in zip(batches, sl):
                sm = small[s_]
                b.x[sm] *= sc[s_][sm, None]
                b.S[0][sm] *= sc[s_][sm, None]
            sc[small] = 1.0
        coef = log_a[n_log]
        np.divide(step, sc, out=coef)
        for b, s_ in zip(batches, sl):
            b.log_i[n_log] = b.fi
            cb = coef[s_]
            h, buf = b.S[0], b.buf
            if b.shared:
                np.take(b.G, b.pick, axis=0, out=buf, mode="clip")
                buf -= b.S[1]
                buf *= cb[:, None]
                h += buf
                if not b.eta_in_G:
                    h.ravel()[b.fi] += cb * b.eta
            else:
                np.take(b.H.reshape(-1, b.k), b.fi, axis=0, out=buf, mode="clip")
                buf *= cb[:, None]
                h += buf
        n_log += 1
        if n_log == RESYNC:
            n_log = flush(n_log)
            for b, s_ in zip(batches, sl):
                b.x *= sc[s_, None]
                P[s_], cx[s_] = b.exact()
            sc[:] = 1.0
        if t < 2:
            continue
        going = ndec > md2n  # synthdid stops once !(decrease > min_decrease^2); finished problems give NaN
        if t < max_iter and M - np.count_nonzero(going) <= n_dead:
            continue
        n_log = flush(n_log)
        fin = live & ~going if t < max_iter else live.copy()
        for b, s_ in zip(batches, sl):
            f = fin[s_]
            if f.any():
                rows = b.idx[f]
                b.out.x[rows] = b.x[f] * sc[s_][f, None]
                b.out.iterations[rows] = t
                b.out.value[rows] = (P[s_][f] - 2.0 * cx[s_][f] + b.bb[f]) / b.nr[f]
        live &= ~fin
        frozen[fin] = np.inf
        n_alive = int(np.count_nonzero(live))
        if n_alive == 0:
            return
        if n_alive <= TAIL:  # a few stragglers: the single-problem loop is cheaper per step
            for b, s_ in zip(batches, sl):
                for j in np.flatnonzero(live[s_]):
                    ok = b.valid[j]
                    xj, itj, valj = _fw_single(b.single_G(j), b.S[1, j, ok], float(b.bb[j]), float(b.eta[j]), float(b.nr[j]), b.x[j, ok] * sc[s_][j], float(b.md2n[j] / b.nr[j]), max_iter, t0=t)
                    row = b.idx[j]
                    b.out.x[row] = 0.0
                    b.out.x[row, ok] = xj
                    b.out.iterations[row] = itj
                    b.out.value[row] = valj
            return
        if n_alive <= M // 2:  # compact: drop finished problems (and emptied batches)
            keep_b = []
            for b, s_ in zip(batches, sl):
                lv = live[s_]
                if lv.any():
                    b.compact(lv)
                    keep_b.append(b)
            P, cx, sc, md2n = P[live], cx[live], sc[live], md2n[live]
            batches = keep_b
            sl, M = layout()
            live = np.ones(M, dtype=bool)
            frozen = np.zeros(M)
            T3 = np.empty((3, M))
            log_a = np.empty((RESYNC, M))
            Qi, num, denom, step, sd, ndec, tmp = np.empty((7, M))
        n_dead = M - n_alive


def _fw_single(G: np.ndarray, c: np.ndarray, bb: float, eta: float, nr: float, x: np.ndarray, md2: float, max_iter: int, t0: int = 0) -> tuple[np.ndarray, int, float]:
    """One problem: vectors in numpy, the running scalars as Python floats (cheapest per step).

    ``t0`` steps are already done (a problem handed over from the batched loop): the stopping rule applies from
    the first step here on.
    """
    Ge = np.array(G, dtype=float, copy=True)
    Ge[np.diag_indices_from(Ge)] += eta
    H = Ge - c[None, :]  # row i: G_i + eta e_i - c
    Gd = np.diagonal(Ge).tolist()
    cl = c.tolist()
    x = np.array(x, dtype=float, copy=True)

    def exact(x):
        Gx = Ge @ x
        return Gx - c, float(x @ Gx), float(c @ x)

    h, P, cx = exact(x)
    tmp = np.empty_like(x)
    t = t0
    while t < max_iter:
        t += 1
        i = int(h.argmin())
        hi = h.item(i)
        ci = cl[i]
        Qi = hi + ci
        num = P - cx - hi
        denom = Gd[i] - 2.0 * Qi + P
        step = num / denom if denom > 0 else 0.0
        step = 0.0 if step < 0.0 else (1.0 if step > 1.0 else step)
        dec = step * (2.0 * num - step * denom) / nr
        if step != 0.0:
            om = 1.0 - step
            x *= om
            x[i] += step
            h *= om
            np.multiply(H[i], step, out=tmp)
            h += tmp
            if t % RESYNC == 0:
                h, P, cx = exact(x)
            else:
                P = P + step * (2.0 * (Qi - P) + step * denom)
                cx = cx + step * (ci - cx)
        if t >= 2 and not (dec > md2):
            break
    return x, t, (P - 2.0 * cx + bb) / nr


def gram_form(Y: np.ndarray, *, intercept: bool, n_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``G = A'A``, ``c = A'b``, ``b'b`` of problems ``Y = [A, b]`` (problems x rows x (k + 1)).

    With ``intercept`` the columns are centred over the (real, ``n_rows``) rows first, as synthdid does; padding
    rows must be zero and stay zero.
    """
    Y = np.asarray(Y, dtype=float)
    B, n, k1 = Y.shape
    if intercept:
        if n_rows is None:
            Y = Y - Y.mean(axis=1, keepdims=True)
        else:
            nr = np.asarray(n_rows, dtype=float)
            real = (np.arange(n)[None, :] < nr[:, None])[:, :, None]
            Y = np.where(real, Y - Y.sum(axis=1, keepdims=True) / nr[:, None, None], 0.0)
    A = Y[:, :, : k1 - 1]
    b = Y[:, :, k1 - 1]
    At = np.swapaxes(A, 1, 2)
    return At @ A, (At @ b[:, :, None])[:, :, 0], np.einsum("bn,bn->b", b, b)


def _uniform(valid: np.ndarray | None, B: int, k: int) -> np.ndarray:
    if valid is None:
        return np.full((B, k), 1.0 / k)
    v = np.asarray(valid, dtype=float)
    return v / v.sum(axis=1, keepdims=True)


def sc_weight_fw(
    Y: np.ndarray,
    zeta: np.ndarray | float,
    *,
    intercept: bool,
    x0: np.ndarray | None = None,
    min_decrease: np.ndarray | float,
    max_iter: int,
    n_rows: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> FWResult:
    """synthdid's ``sc.weight.fw`` on a batch: weights on the first k columns of ``Y`` fitting its last column.

    ``Y`` is (problems x rows x (k + 1)). With ``intercept`` the columns are centred over the (real) rows first.
    Starting weights default to uniform over the real columns.
    """
    Y = np.asarray(Y, dtype=float)
    B, n, k1 = Y.shape
    G, c, bb = gram_form(Y, intercept=intercept, n_rows=n_rows)
    x0 = _uniform(valid, B, k1 - 1) if x0 is None else x0
    nr = np.full(B, float(n)) if n_rows is None else np.asarray(n_rows, dtype=float)
    return fw_gram(G, c, bb, zeta, x0, min_decrease=min_decrease, max_iter=max_iter, n_rows=nr, valid=valid)


def sparse_fw_solve(groups: list[FWProblems], *, max_iter: int = MAX_ITER, max_iter_pre_sparsify: int = SPARSIFY_PRE_ITER, do_sparsify: bool = True) -> list[FWResult]:
    """synthdid's weight estimation for several batches together: a first pass of at most
    ``max_iter_pre_sparsify`` steps, :func:`sparsify`, then a second pass of at most ``max_iter`` steps from there
    (one pass of ``max_iter`` steps without ``do_sparsify``). Iterations reported are the two passes added."""
    if not do_sparsify:
        return fw_solve(groups, max_iter)
    first = fw_solve(groups, max_iter_pre_sparsify)
    second = fw_solve([g.with_x0(sparsify(r.x)) for g, r in zip(groups, first)], max_iter)
    for a, b in zip(second, first):
        a.iterations = a.iterations + b.iterations
    return second


def sparse_fw_gram(
    G: np.ndarray,
    c: np.ndarray,
    bb: np.ndarray,
    zeta: np.ndarray | float,
    x0: np.ndarray,
    *,
    min_decrease: np.ndarray | float,
    n_rows: np.ndarray | float,
    valid: np.ndarray | None = None,
    max_iter: int = MAX_ITER,
    max_iter_pre_sparsify: int = SPARSIFY_PRE_ITER,
    do_sparsify: bool = True,
) -> FWResult:
    """:func:`sparse_fw_solve` for one batch in Gram form (arguments as :class:`FWProblems`)."""
    g = FWProblems.make(G, c, bb, zeta, x0, min_decrease, n_rows, valid)
    return sparse_fw_solve([g], max_iter=max_iter, max_iter_pre_sparsify=max_iter_pre_sparsify, do_sparsify=do_sparsify)[0]


def sparse_fw(
    Y: np.ndarray,
    zeta: np.ndarray | float,
    *,
    intercept: bool,
    x0: np.ndarray | None = None,
    min_decrease: np.ndarray | float,
    max_iter: int = MAX_ITER,
    max_iter_pre_sparsify: int = SPARSIFY_PRE_ITER,
    do_sparsify: bool = True,
    n_rows: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> FWResult:
    """synthdid's weight estimation (``sc.weight.fw`` twice around :func:`sparsify`) on ``Y = [A, b]``, batched."""
    Y = np.asarray(Y, dtype=float)
    B, n, k1 = Y.shape
    G, c, bb = gram_form(Y, intercept=intercept, n_rows=n_rows)
    x0 = _uniform(valid, B, k1 - 1) if x0 is None else x0
    nr = np.full(B, float(n)) if n_rows is None else np.asarray(n_rows, dtype=float)
    return sparse_fw_gram(G, c, bb, zeta, x0, min_decrease=min_decrease, n_rows=nr, valid=valid, max_iter=max_iter, max_iter_pre_sparsify=max_iter_pre_sparsify, do_sparsify=do_sparsify)


# ---- classic synthetic control (ADH) -----------------------------------------------------------------------------
def simplex_lsq(X0: np.ndarray, x1: np.ndarray, v: np.ndarray | None = None, *, big: float | None = None) -> np.ndarray:
    """Weights ``w >= 0``, ``sum(w) = 1`` minimising ``sum_j v_j (x1_j - (X0 w)_j)^2``.

    Parameters
    ----------
    X0
        Donor values, (rows x donors): pre-period outcomes or (scaled) predictors of the donors.
    x1
        Treated values, (rows,).
    v
        Non-negative row weights (default: all one).
    big
        Weight of the sum-to-one row (default ``1e4`` times the largest scaled entry, so the constraint holds to
        about ``1e-8`` before the final renormalisation).

    Returns
    -------
    numpy.ndarray
        The weights (donors,).
    """
    X0 = np.asarray(X0, dtype=float)
    x1 = np.asarray(x1, dtype=float)
    sv = np.ones(X0.shape[0]) if v is None else np.sqrt(np.asarray(v, dtype=float))
    Xs = X0 * sv[:, None]
    ys = x1 * sv
    scale = max(float(np.abs(Xs).max(initial=0.0)), float(np.abs(ys).max(initial=0.0)), 1e-12)
    M = 1e4 * scale if big is None else big
    Aug = np.vstack([Xs, np.full((1, X0.shape[1]), M)])
    yaug = np.append(ys, M)
    w, _ = optimize.nnls(Aug, yaug, maxiter=50 * X0.shape[1])
    s = w.sum()
    return w / s if s > 0 else np.full(X0.shape[1], 1.0 / X0.shape[1])


def _softmax(theta: np.ndarray) -> np.ndarray:
    z = np.exp(theta - theta.max())
    return z / z.sum()


def sc_predictor_weights(
    X0: np.ndarray,
    x1: np.ndarray,
    Z0: np.ndarray,
    z1: np.ndarray,
    *,
    maxfev: int | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """ADH nested optimisation: diagonal predictor weights ``V`` and unit weights ``w(V)``.

    The inner problem is :func:`simplex_lsq` on the predictors with row weights ``V``; the outer problem chooses
    ``V`` (normalised to sum to one, parametrised as a softmax with the last log-weight fixed at zero) to minimise
    the mean squared pre-period outcome gap ``mean_t (z1_t - Z0_t w(V))^2``. Search (deterministic): Nelder-Mead
    (scipy) from equal weights, restarted once from its solution, and Nelder-Mead from the best of the ``k``
    starts that put half the weight on one predictor; the best of the three wins. Each run stops after ``maxfev``
    evaluations (default ``50 (k + 1)``) or when the simplex has shrunk (``xatol`` 1e-4 on the log-weights).

    Parameters
    ----------
    X0, x1
        Predictors of the donors (k x donors) and of the treated unit (k,), already scaled.
    Z0, z1
        Pre-period outcomes of the donors (T0 x donors) and of the treated unit (T0,).
    maxfev
        Objective evaluations per Nelder-Mead run.

    Returns
    -------
    (v, w, mspe)
        Predictor weights (k,), unit weights (donors,), and the pre-period outcome MSPE.
    """
    k = X0.shape[0]

    def solve(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        v = _softmax(np.append(theta, 0.0))
        w = simplex_lsq(X0, x1, v)
        gap = z1 - Z0 @ w
        return float(gap @ gap / gap.size), v, w

    if k == 1:
        mspe, v, w = solve(np.zeros(0))
        return v, w, mspe
    maxfev = 50 * (k + 1) if maxfev is None else int(maxfev)
    scale = max(solve(np.zeros(k - 1))[0], 1e-300)
    opts = {"maxfev": maxfev, "xatol": 1e-4, "fatol": 1e-9 * scale}

    def nm(start: np.ndarray) -> np.ndarray:
        return optimize.minimize(lambda th: solve(th)[0], start, method="Nelder-Mead", options=opts).x

    emphasised = []
    for j in range(k):  # half the weight on predictor j, the rest shared
        p = np.full(k, 0.5 / (k - 1))
        p[j] = 0.5
        lp = np.log(p)
        emphasised.append(lp[:-1] - lp[-1])
    first = nm(np.zeros(k - 1))
    candidates = [first, nm(first), nm(min(emphasised, key=lambda th: solve(th)[0]))]
    mspe, v, w = min((solve(th) for th in candidates), key=lambda r: r[0])
    return v, w, mspe


# ---- SDID blocks: the unit and time weights of one treated block, batched over draws -----------------------------
KINDS: tuple[str, ...] = ("sdid", "sc", "did")


def noise_level(Yco_pre: np.ndarray, n_co: np.ndarray | None = None) -> np.ndarray:
    """synthdid's noise level: the standard deviation (ddof 1) of the first differences of the control outcomes
    over the pre-treatment periods, per problem. ``Yco_pre`` is (problems x controls x T0); rows at or beyond
    ``n_co`` are padding."""
    d = np.diff(Yco_pre, axis=2)
    B, N, _ = d.shape
    if n_co is None:
        flat = d.reshape(B, -1)
        return flat.std(axis=1, ddof=1)
    real = (np.arange(N)[None, :] < np.asarray(n_co)[:, None])[:, :, None]
    cnt = real.sum(axis=(1, 2)) * d.shape[2]
    mean = np.where(real, d, 0.0).sum(axis=(1, 2)) / cnt
    ss = np.where(real, (d - mean[:, None, None]) ** 2, 0.0).sum(axis=(1, 2))
    return np.sqrt(ss / (cnt - 1))


@dataclass
class BlockWeights:
    """Weights of a batch of treated blocks (one per problem).

    Attributes
    ----------
    omega
        Unit weights of the controls, (problems x controls), zero on padding.
    lam
        Time weights of the pre-periods, (problems x T0).
    iterations
        Frank-Wolfe steps for (lambda, omega), (problems x 2); zero where the weights are fixed.
    """

    omega: np.ndarray
    lam: np.ndarray
    iterations: np.ndarray


@dataclass
class PendingWeights:
    """The Frank-Wolfe problems of one batch of blocks, not yet solved, and how to turn their solutions into
    :class:`BlockWeights`. :func:`solve_weights` solves the problems of several batches (cohorts) in one loop."""

    problems: list  # of FWProblems: (lambda, omega), (omega,) or ()
    finish: object  # callable: list[FWResult] -> BlockWeights


def solve_weights(pending: list[PendingWeights]) -> list[BlockWeights]:
    """Solve every batch's problems together (:func:`sparse_fw_solve`) and finish each batch's weights."""
    flat = [p for pw in pending for p in pw.problems]
    results = sparse_fw_solve(flat) if flat else []
    out, i = [], 0
    for pw in pending:
        n = len(pw.problems)
        out.append(pw.finish(results[i : i + n]))
        i += n
    return out


def block_weights(
    Yco: np.ndarray,
    ybar: np.ndarray,
    T0: int,
    kind: str,
    *,
    zeta_omega: np.ndarray | float,
    zeta_lambda: np.ndarray | float,
    min_decrease: np.ndarray | float,
    n_co: np.ndarray | None = None,
    omega_init: np.ndarray | None = None,
    lambda_init: np.ndarray | None = None,
) -> BlockWeights:
    """Unit weights ``omega`` and time weights ``lambda`` of SDID and its SC / DiD special cases, batched.

    Follows synthdid's ``synthdid_estimate`` on the collapsed form of each block (controls x pre-periods, the
    controls' post-period means, the treated pre-period mean trajectory):

    - ``sdid``: ``lambda`` by Frank-Wolfe with an intercept and ridge ``zeta_lambda``; ``omega`` by Frank-Wolfe with
      an intercept ``omega_0`` and ridge ``zeta_omega``; both with the two-pass sparsification.
    - ``sc``: ``omega`` by Frank-Wolfe without intercept (ridge ``zeta_omega``, synthdid's 1e-6 times the noise
      level), ``lambda`` fixed at zero (``sc_estimate``).
    - ``did``: uniform ``omega`` and ``lambda`` (``did_estimate``).

    Parameters
    ----------
    Yco
        Control outcomes over the block's periods, (problems x controls x T); padding rows zero.
    ybar
        Mean outcome of the treated units, (problems x T).
    T0
        Pre-treatment periods (the first ``T0`` columns).
    kind
        ``sdid``, ``sc`` or ``did``.
    zeta_omega, zeta_lambda, min_decrease
        Regularisation and stopping tolerance (per problem or one for all).
    n_co
        Real controls per problem (default: all rows).
    omega_init, lambda_init
        Starting weights of the Frank-Wolfe passes (default uniform), as synthdid's placebo and bootstrap pass
        the renormalised estimated weights.
    """
    return solve_weights([block_pending(Yco, ybar, T0, kind, zeta_omega=zeta_omega, zeta_lambda=zeta_lambda, min_decrease=min_decrease, n_co=n_co, omega_init=omega_init, lambda_init=lambda_init)])[0]


def block_pending(
    Yco: np.ndarray,
    ybar: np.ndarray,
    T0: int,
    kind: str,
    *,
    zeta_omega: np.ndarray | float,
    zeta_lambda: np.ndarray | float,
    min_decrease: np.ndarray | float,
    n_co: np.ndarray | None = None,
    omega_init: np.ndarray | None = None,
    lambda_init: np.ndarray | None = None,
) -> PendingWeights:
    """The problems of :func:`block_weights`, unsolved (same arguments)."""
    Yco = np.asarray(Yco, dtype=float)
    ybar = np.asarray(ybar, dtype=float)
    B, N, T = Yco.shape
    valid = np.ones((B, N), dtype=bool) if n_co is None else (np.arange(N)[None, :] < np.asarray(n_co)[:, None])
    ncount = np.full(B, N) if n_co is None else np.asarray(n_co)
    iters = np.zeros((B, 2), dtype=int)
    if kind == "did":
        omega = valid / valid.sum(axis=1, keepdims=True)
        return PendingWeights([], lambda r: BlockWeights(omega, np.full((B, T0), 1.0 / T0), iters))
    pre = Yco[:, :, :T0]
    # omega: rows = pre-periods, columns = controls, target = the treated pre-period mean
    Go, co_, bo = gram_form(np.concatenate([np.swapaxes(pre, 1, 2), ybar[:, :T0, None]], axis=2), intercept=(kind == "sdid"))
    xo = _uniform(valid, B, N) if omega_init is None else np.asarray(omega_init, dtype=float)
    omega_p = FWProblems.make(Go, co_, bo, zeta_omega, xo, min_decrease, float(T0), valid)
    if kind == "sc":
        return PendingWeights([omega_p], lambda r: BlockWeights(r[0].x, np.zeros((B, T0)), np.column_stack([np.zeros(B, dtype=int), r[0].iterations])))
    # lambda: rows = controls, columns = pre-periods, target = the controls' post-period means
    Yl = np.concatenate([pre, Yco[:, :, T0:].mean(axis=2, keepdims=True)], axis=2)
    Yl = np.where(valid[:, :, None], Yl, 0.0)
    Gl, cl, bl = gram_form(Yl, intercept=True, n_rows=ncount)
    xl = np.full((B, T0), 1.0 / T0) if lambda_init is None else np.asarray(lambda_init, dtype=float)
    lambda_p = FWProblems.make(Gl, cl, bl, zeta_lambda, xl, min_decrease, ncount.astype(float))
    return PendingWeights([lambda_p, omega_p], lambda r: BlockWeights(r[1].x, r[0].x, np.column_stack([r[0].iterations, r[1].iterations])))


def subset_weights(
    Yco: np.ndarray,
    keep: np.ndarray,
    treated: np.ndarray,
    T0: int,
    kind: str,
    *,
    zeta_omega: float,
    zeta_lambda: float,
    min_decrease: float,
    omega_init: np.ndarray | None = None,
    lambda_init: np.ndarray | None = None,
) -> tuple[BlockWeights, np.ndarray]:
    """:func:`block_weights` for blocks made of subsets of one pool of control units (placebo draws).

    Draw ``b`` uses the pool units with ``keep[b]`` as controls and the mean of the pool units ``treated[b]`` as
    the treated path. Unit weights come back in pool positions (zero outside ``keep[b]``). The unit-weight problems
    of all draws share the Gram matrix of the pool (each draw's is the principal submatrix of its controls), so
    they are solved in the shared form of :func:`fw_gram`; the time-weight problems have one Gram matrix per draw.

    Returns
    -------
    (BlockWeights, ybar)
        The weights and the treated mean path of each draw (draws x T).
    """
    pending, ybar = subset_pending(Yco, keep, treated, T0, kind, zeta_omega=zeta_omega, zeta_lambda=zeta_lambda, min_decrease=min_decrease, omega_init=omega_init, lambda_init=lambda_init)
    return solve_weights([pending])[0], ybar


def subset_pending(
    Yco: np.ndarray,
    keep: np.ndarray,
    treated: np.ndarray,
    T0: int,
    kind: str,
    *,
    zeta_omega: float,
    zeta_lambda: float,
    min_decrease: float,
    omega_init: np.ndarray | None = None,
    lambda_init: np.ndarray | None = None,
) -> tuple[PendingWeights, np.ndarray]:
    """The problems of :func:`subset_weights`, unsolved, and the treated mean paths (same arguments)."""
    Yco = np.asarray(Yco, dtype=float)
    keep = np.asarray(keep, dtype=bool)
    B, N = keep.shape
    ybar = Yco[treated].mean(axis=1)
    n_co = keep.sum(axis=1)
    if kind == "did":
        omega = keep / n_co[:, None]
        return PendingWeights([], lambda r: BlockWeights(omega, np.full((B, T0), 1.0 / T0), np.zeros((B, 2), dtype=int))), ybar
    pre = Yco[:, :T0]
    A = pre.T - pre.T.mean(axis=0) if kind == "sdid" else pre.T  # (T0 x pool), centred per unit for the intercept
    Gs = A.T @ A
    c = Gs[:, treated].mean(axis=2).T  # A'b with b the mean of the treated columns
    bbv = Gs[treated[:, :, None], treated[:, None, :]].mean(axis=(1, 2))
    xo = sum_normalize(keep.astype(float)) if omega_init is None else sum_normalize(omega_init, keep)
    omega_p = FWProblems.make(Gs, c, bbv, zeta_omega, xo, min_decrease, float(T0), keep)
    if kind == "sc":
        return PendingWeights([omega_p], lambda r: BlockWeights(r[0].x, np.zeros((B, T0)), np.column_stack([np.zeros(B, dtype=int), r[0].iterations]))), ybar
    Z = np.concatenate([pre, Yco[:, T0:].mean(axis=1, keepdims=True)], axis=1)
    Z = Z - Z.mean(axis=0)  # lowers magnitudes; the per-draw centring below is what matters
    zbar = (keep.astype(float) @ Z) / n_co[:, None]
    Zd = np.where(keep[:, :, None], Z[None, :, :] - zbar[:, None, :], 0.0)  # (draws x pool x T0+1)
    M = np.swapaxes(Zd, 1, 2) @ Zd
    xl = np.full((B, T0), 1.0 / T0) if lambda_init is None else np.asarray(lambda_init, dtype=float)
    lambda_p = FWProblems.make(M[:, :T0, :T0], M[:, :T0, T0], M[:, T0, T0], zeta_lambda, xl, min_decrease, n_co.astype(float))
    return PendingWeights([lambda_p, omega_p], lambda r: BlockWeights(r[1].x, r[0].x, np.column_stack([r[0].iterations, r[1].iterations]))), ybar


def block_contrast(Yco: np.ndarray, ybar: np.ndarray, omega: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The SDID estimate of each block: ``(ybar - omega'Yco) . (-lambda, 1/T1, ..., 1/T1)``.

    This is the treatment coefficient of the two-way fixed effects regression of the block's outcomes on unit and
    period effects weighted by ``omega_i`` (controls; ``1/N1`` for treated units) times ``lambda_t`` (pre-periods;
    ``1/T1`` for post-periods) — AAHIW (2021), eq. (1) — in closed form.
    """
    B, N, T = Yco.shape
    T0 = lam.shape[1]
    v = np.concatenate([-lam, np.full((B, T - T0), 1.0 / (T - T0))], axis=1)
    d_co = (Yco @ v[:, :, None])[:, :, 0]
    return np.einsum("bt,bt->b", ybar, v) - np.einsum("bn,bn->b", omega, d_co)
