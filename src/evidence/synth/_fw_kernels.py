"""numba kernels of :mod:`evidence.synth._fw_compiled` (imported only when the numba engine is used).

The same loop as the C extension (``_fw_c.c``), line for line. Module-level functions so that numba's on-disk cache
(``cache=True``) finds them again in the next process.
"""

from __future__ import annotations

import numba
import numpy as np

BIG = 1e200  # -c on invalid columns, as evidence.synth.weights._BIG


@numba.njit(cache=True, nogil=True)
def _exact(G: np.ndarray, eta: float, c: np.ndarray, x: np.ndarray, h: np.ndarray) -> tuple[float, float, int]:  # pragma: no cover - compiled
    """``h = (G + eta I) x - c`` into ``h``; returns ``x'(G + eta I) x``, ``c'x`` and the support of ``x``. Sums over
    the nonzero weights only (``G`` symmetric: its rows are read), so the cost is ``k`` times the support of ``x``."""
    k = x.shape[0]
    nnz = 0
    for a in range(k):
        h[a] = eta * x[a]
    for b in range(k):
        xb = x[b]
        if xb != 0.0:
            for a in range(k):
                h[a] += G[b, a] * xb
            nnz += 1
    P = 0.0
    cx = 0.0
    for a in range(k):
        P += x[a] * h[a]
        cx += c[a] * x[a]
        h[a] -= c[a]
    return P, cx, nnz


@numba.njit(cache=True, nogil=True)
def fw_one(G: np.ndarray, eta: float, c: np.ndarray, bb: float, nr: float, x: np.ndarray, md2: float, max_iter: int, resync: int) -> tuple[int, float]:  # pragma: no cover - compiled
    """One problem; invalid columns carry ``c = -BIG`` (their ``h`` stays near ``+BIG``) and ``x = 0``. The running
    quantities are recomputed after at least ``resync`` steps and at least as many steps as the weights' support."""
    k = x.shape[0]
    h = np.empty(k)
    P, cx, nnz = _exact(G, eta, c, x, h)
    t = 0
    since = 0
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
        denom = G[i, i] + eta - 2.0 * Qi + P
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
                h[a] = h[a] * om + (G[i, a] - c[a]) * step
            h[i] += eta * step
            x[i] += step
            since += 1
            if since >= resync and since >= nnz:
                P, cx, nnz = _exact(G, eta, c, x, h)
                since = 0
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
    x_out = np.zeros((B, k))
    iters = np.zeros(B, dtype=np.int64)
    vals = np.empty(B)
    cj = np.empty(k)
    for j in range(B):
        m = 0
        for a in range(k):
            if valid[j, a]:
                x_out[j, a] = x0[j, a]
                cj[a] = c[j, a]
                m += 1
            else:
                cj[a] = -BIG
        if m == 0:
            vals[j] = bb[j] / nr[j]
            continue
        g = 0 if shared else j
        xj = x_out[j]
        t, v = fw_one(G[g], eta[j], cj, bb[j], nr[j], xj, md2[j], max_iter, resync)
        iters[j] = t
        vals[j] = v
    return x_out, iters, vals
