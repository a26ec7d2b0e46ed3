"""numba kernels of :mod:`evidence.synth._fw_compiled` (imported only when the compiled loop is used).

Module-level functions so that numba's on-disk cache (``cache=True``) finds them again in the next process.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _exact(Ge: np.ndarray, c: np.ndarray, x: np.ndarray, h: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled
    """``h = (G + eta I) x - c`` into ``h``; returns ``x'(G + eta I) x`` and ``c'x``. Sums over the nonzero
    weights only (``G`` symmetric: its rows are read), so the cost is ``k`` times the support of ``x``."""
    k = x.shape[0]
    for a in range(k):
        h[a] = 0.0
    for b in range(k):
        xb = x[b]
        if xb != 0.0:
            for a in range(k):
                h[a] += Ge[b, a] * xb
    P = 0.0
    cx = 0.0
    for a in range(k):
        P += x[a] * h[a]
        cx += c[a] * x[a]
        h[a] -= c[a]
    return P, cx


@numba.njit(cache=True, nogil=True)
def fw_one(Ge: np.ndarray, c: np.ndarray, bb: float, nr: float, x: np.ndarray, md2: float, max_iter: int, resync: int) -> tuple[int, float]:  # pragma: no cover - compiled
    k = x.shape[0]
    h = np.empty(k)
    P, cx = _exact(Ge, c, x, h)
    t = 0
    while t < max_iter:
        t += 1
        i = 0
        hi = h[0]
        for a in range(1, k):  # first index on ties, as numpy's argmin
            if h[a] < hi:
                hi = h[a]
                i = a
        ci = c[i]
        Qi = hi + ci
        num = P - cx - hi
        denom = Ge[i, i] - 2.0 * Qi + P
        step = num / denom if denom > 0.0 else 0.0
        if step < 0.0:
            step = 0.0
        elif step > 1.0:
            step = 1.0
        dec = step * (2.0 * num - step * denom) / nr
        if step != 0.0:
            om = 1.0 - step
            for a in range(k):
                x[a] *= om
                h[a] = h[a] * om + (Ge[i, a] - c[a]) * step
            x[i] += step
            if t % resync == 0:
                P, cx = _exact(Ge, c, x, h)
            else:
                P = P + step * (2.0 * (Qi - P) + step * denom)
                cx = cx + step * (ci - cx)
        if t >= 2 and not (dec > md2):
            break
    return t, (P - 2.0 * cx + bb) / nr

@numba.njit(cache=True, nogil=True)
def fw_batch(G: np.ndarray, c: np.ndarray, bb: np.ndarray, eta: np.ndarray, nr: np.ndarray, x0: np.ndarray, valid: np.ndarray, md2: np.ndarray, max_iter: int, resync: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    B, k = c.shape
    shared = G.shape[0] == 1
    x_out = x0.copy()
    iters = np.zeros(B, dtype=np.int64)
    vals = np.empty(B)
    for j in range(B):
        ok = np.flatnonzero(valid[j])
        m = ok.shape[0]
        g = 0 if shared else j
        Ge = np.empty((m, m))
        cj = np.empty(m)
        xj = np.empty(m)
        for a in range(m):
            for b in range(m):
                Ge[a, b] = G[g, ok[a], ok[b]]
            Ge[a, a] += eta[j]
            cj[a] = c[j, ok[a]]
            xj[a] = x0[j, ok[a]]
        t, v = fw_one(Ge, cj, bb[j], nr[j], xj, md2[j], max_iter, resync)
        for a in range(k):
            x_out[j, a] = 0.0
        for a in range(m):
            x_out[j, ok[a]] = xj[a]
        iters[j] = t
        vals[j] = v
    return x_out, iters, vals
