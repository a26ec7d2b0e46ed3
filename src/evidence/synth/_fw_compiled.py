"""Frank-Wolfe steps in compiled code (numba), one problem after another.

Context: every SDID placebo, bootstrap or jackknife draw solves two Frank-Wolfe problems of up to 10,000 sequential
steps (synthdid's ``max.iter``), and on small panels many of them run all 10,000. Each step is a few operations on
vectors of length ``k`` (donors or pre-periods: tens). The vectorised numpy loop of :mod:`evidence.synth.weights`
runs one step for every draw at once, but each numpy call costs about a microsecond whatever its size, so a step
has a floor of tens of microseconds: 10,000 steps take about 0.7 s even on a 40 x 30 panel, where diff-diff's
compiled (Rust) loop takes about 0.35 microseconds per draw and step (measured in ``bench/results/sdid.md``).

Decision: the same step (synthdid's ``fw.step`` in Gram form, as :func:`evidence.synth.weights._fw_single`: the
half gradient ``h``, ``P = x'(G + eta I) x`` and ``c'x`` by their recurrences, recomputed exactly every
``RESYNC`` steps) is compiled with numba (``cache=True``: compiled once per installation, then loaded from
``__pycache__``), and each problem runs to its own stopping point with no per-step Python or numpy call. numba is
a well-kept compiler for numerical Python (also used by pyfixest); writing this loop by hand in C would need a
build step in the package. The numba path is used when numba imports and ``EVIDENCE_NUMBA`` is not ``0``
(:func:`available`); otherwise the numpy loop runs, and a test checks that both give the same weights.

Consequences: iterates equal the numpy loop's up to rounding (the dot products sum in another order), so
estimates and placebo standard errors agree to about 1e-12 (tested). The first call in a new installation compiles
the kernel (about 2-4 s, once); afterwards a process pays numba's import and the cache load (about 0.3-0.5 s) the
first time a batch of problems is solved, and nothing when only single fits run (they stay on the numpy path).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=1)
def _kernel() -> Any:
    """The compiled batch solver, or None when numba is unavailable or switched off (``EVIDENCE_NUMBA=0``)."""
    if os.environ.get("EVIDENCE_NUMBA", "1").strip() == "0":
        return None
    try:
        from evidence.synth._fw_kernels import fw_batch  # imports numba
    except Exception:  # noqa: BLE001 - numba missing, or unable to cache or compile here: the numpy loop runs instead
        return None
    from evidence.synth.weights import RESYNC

    return lambda *a: fw_batch(*a, RESYNC)


def loaded() -> bool:
    """Whether the compiled loop is already loaded in this process (single problems then use it too)."""
    return _kernel.cache_info().currsize > 0 and _kernel() is not None


def available() -> bool:
    """Whether the compiled Frank-Wolfe loop is used (numba importable and ``EVIDENCE_NUMBA`` not ``0``)."""
    return _kernel() is not None


def solve(G: np.ndarray, c: np.ndarray, bb: np.ndarray, eta: np.ndarray, n_rows: np.ndarray, x0: np.ndarray, valid: np.ndarray, md2: np.ndarray, max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve a batch (see :class:`evidence.synth.weights.FWProblems`) with the compiled loop: (x, iterations, value)."""
    kern = _kernel()
    G3 = np.ascontiguousarray(G, dtype=float)
    if G3.ndim == 2:
        G3 = G3[None]
    f = lambda a: np.ascontiguousarray(a, dtype=float)  # noqa: E731
    return kern(G3, f(c), f(bb), f(eta), f(n_rows), f(x0), np.ascontiguousarray(valid, dtype=np.bool_), f(md2), int(max_iter))
