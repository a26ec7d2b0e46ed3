"""Frank-Wolfe steps in compiled code, one problem after another: a C extension, or numba.

Context: every SDID placebo, bootstrap or jackknife draw solves two Frank-Wolfe problems of up to 10,000 sequential
steps (synthdid's ``max.iter``), and on small panels many of them run all 10,000. Each step is a few operations on
vectors of length ``k`` (donors or pre-periods: tens). The vectorised numpy loop of :mod:`evidence.synth.weights`
runs one step for every draw at once, but each numpy call costs about a microsecond whatever its size, so a step
has a floor of tens of microseconds: 10,000 steps take about 0.7 s even on a 40 x 30 panel, where diff-diff's
compiled (Rust) loop takes about 0.35 microseconds per draw and step (``bench/results/sdid.md``).

Decision: the same step (synthdid's ``fw.step`` in Gram form, as :func:`evidence.synth.weights._fw_single`: the
half gradient ``h``, ``P = x'(G + eta I) x`` and ``c'x`` by their recurrences, recomputed exactly every
``RESYNC`` steps, the exact recomputation summing over the weights' support) runs compiled, each problem to its own
stopping point. Engines, in the order ``auto`` tries them:

- ``c``: ``evidence.synth._fw_c``, about 150 lines of C built by ``pip install`` (``setup.py``; optional: an
  installation without a C compiler goes on without it). No runtime to load: nothing to import, no memory.
- ``numba``: the same loop in Python compiled by numba (:mod:`evidence.synth._fw_kernels`; ``cache=True``, compiled
  once per installation). numba's runtime costs about 0.4 s to import and 100 MB of memory, which at SDID's panel
  sizes is more than the data: why the C loop comes first.
- ``numpy``: the vectorised loop of :mod:`evidence.synth.weights`.

``EVIDENCE_FW_ENGINE`` (``auto``, ``c``, ``numba``, ``numpy``) chooses; an engine that cannot load falls back to the
next. Consequences: iterates equal across engines up to rounding (the dot products sum in other orders), so
estimates and placebo standard errors agree to about 1e-12 (tests/synth/test_fw_compiled.py runs every engine).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import lru_cache

import numpy as np

ENGINES = ("c", "numba", "numpy")


def _c_engine() -> Callable | None:
    try:
        _fw_c = importlib.import_module("evidence.synth._fw_c")
    except ImportError:  # not built (no C compiler at install time)
        return None

    def run(G3, c, bb, eta, nr, x0, valid, md2, max_iter, resync):  # noqa: ANN001, ANN202
        B, k = c.shape
        x = np.empty((B, k))
        it = np.empty(B, dtype=np.int64)
        val = np.empty(B)
        _fw_c.fw_batch(G3, c, bb, eta, nr, x0, valid.view(np.uint8), md2, x, it, val, B, k, G3.shape[0], int(max_iter), int(resync))
        return x, it, val

    return run


def _numba_engine() -> Callable | None:
    try:
        from evidence.synth._fw_kernels import fw_batch  # imports numba
    except Exception:  # noqa: BLE001 - numba missing, or unable to cache or compile here
        return None
    return fw_batch


@lru_cache(maxsize=None)
def _kernel(choice: str) -> tuple[str, Callable | None]:
    """(engine name, batch solver) for ``EVIDENCE_FW_ENGINE``; the solver is None for the numpy loop."""
    order = {"auto": ENGINES, "c": ENGINES, "numba": ENGINES[1:], "numpy": ()}.get(choice, ENGINES)
    for name in order:
        run = {"c": _c_engine, "numba": _numba_engine}.get(name, lambda: None)()
        if run is not None:
            return name, run
    return "numpy", None


def _choice() -> str:
    value = os.environ.get("EVIDENCE_FW_ENGINE", "auto").strip().lower()
    return value if value in ("auto", *ENGINES) else "auto"


def engine() -> str:
    """The engine the Frank-Wolfe problems run on: ``c``, ``numba`` or ``numpy``."""
    return _kernel(_choice())[0]


def loaded() -> bool:
    """Whether a compiled engine is ready without loading a runtime (single problems then use it too): the C loop,
    or numba once something else has imported it."""
    import sys

    choice = _choice()
    if choice in ("auto", "c") and _c_built():
        return True
    return choice != "numpy" and "evidence.synth._fw_kernels" in sys.modules


@lru_cache(maxsize=1)
def _c_built() -> bool:
    return _c_engine() is not None


def available() -> bool:
    """Whether a compiled engine runs the batches (C or numba)."""
    return _kernel(_choice())[1] is not None


def solve(G: np.ndarray, c: np.ndarray, bb: np.ndarray, eta: np.ndarray, n_rows: np.ndarray, x0: np.ndarray, valid: np.ndarray, md2: np.ndarray, max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve a batch (see :class:`evidence.synth.weights.FWProblems`) with the compiled loop: (x, iterations, value)."""
    from evidence.synth.weights import RESYNC

    _, run = _kernel(_choice())
    G3 = np.ascontiguousarray(G, dtype=float)
    if G3.ndim == 2:
        G3 = G3[None]
    f = lambda a: np.ascontiguousarray(a, dtype=float)  # noqa: E731
    return run(G3, f(c), f(bb), f(eta), f(n_rows), f(x0), np.ascontiguousarray(valid, dtype=np.bool_), f(md2), int(max_iter), RESYNC)
