"""The compiled Frank-Wolfe loop (numba) against the numpy loops it replaces: same weights, steps and objective.

The numpy paths are the batched loop (:func:`evidence.synth.weights._fw_loop`) and the single-problem loop
(``_fw_single``); both were checked against R ``synthdid`` (tests/synth/test_prop99.py). Here they are forced by
switching the compiled loop off for the duration of a call.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from evidence.synth import _fw_compiled, sdid
from evidence.synth import weights as W
from simdata import design_of, simulate_panel


@pytest.fixture
def numpy_only(monkeypatch):
    """A context in which fw_solve runs its numpy loops."""

    def run(fn, *a, **k):
        with monkeypatch.context() as m:
            m.setattr(_fw_compiled, "available", lambda: False)
            m.setattr(_fw_compiled, "loaded", lambda: False)
            return fn(*a, **k)

    return run


def _problems(seed: int, shared: bool):
    rng = np.random.default_rng(seed)
    B, n, k = 14, 18, 11
    Y = rng.normal(size=(B, n, k + 1)).cumsum(axis=1)
    G, c, bb = W.gram_form(Y, intercept=True)
    valid = np.ones((B, k), dtype=bool)
    if shared:  # placebo layout: one Gram matrix, each problem a subset of its columns
        G = G[0]
        c = rng.normal(size=(B, k)) * 3
        bb = (c**2).sum(axis=1) + 5.0
        for j in range(B):
            valid[j, rng.choice(k, size=2, replace=False)] = False
    x0 = np.where(valid, 1.0, 0.0)
    x0 /= x0.sum(axis=1, keepdims=True)
    return W.FWProblems.make(G, c, bb, rng.uniform(0.05, 0.5, B), x0, np.logspace(-4, -1, B), float(n), valid)


@pytest.mark.skipif(not _fw_compiled.available(), reason="numba is a dependency; EVIDENCE_NUMBA=0 switches the compiled loop off")
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("max_iter", [3, 100, 5000])
def test_compiled_loop_equals_the_numpy_loops(numpy_only, shared, max_iter):
    g = _problems(7 + shared, shared)
    fast = W.fw_solve([g], max_iter)[0]
    batched = numpy_only(W.fw_solve, [g], max_iter)[0]
    assert np.array_equal(fast.iterations, batched.iterations)
    assert np.allclose(fast.x, batched.x, rtol=0, atol=1e-10)
    assert np.allclose(fast.value, batched.value, rtol=1e-10)
    assert np.all(fast.x[~g.valid] == 0) and np.allclose(fast.x.sum(axis=1), 1.0) and (fast.x >= 0).all()
    for j in (0, 5):  # one problem at a time: the single-problem numpy loop
        one = W.FWProblems(g.G if shared else g.G[j : j + 1], g.c[j : j + 1], g.bb[j : j + 1], g.zeta[j : j + 1], g.x0[j : j + 1], g.min_decrease[j : j + 1], g.n_rows[j : j + 1], g.valid[j : j + 1])
        single = numpy_only(W.fw_solve, [one], max_iter)[0]
        assert single.iterations[0] == fast.iterations[j]
        assert np.allclose(single.x[0], fast.x[j], rtol=0, atol=1e-10)
    if max_iter == 5000:  # both ends: the stopping rule ended some problems, the cap others
        assert 3 <= (fast.iterations < max_iter).sum() < g.size


@pytest.mark.skipif(not _fw_compiled.available(), reason="numba is a dependency; EVIDENCE_NUMBA=0 switches the compiled loop off")
@pytest.mark.parametrize("inference", ["placebo", "bootstrap"])
def test_sdid_draws_equal_with_and_without_the_compiled_loop(numpy_only, inference):
    design = design_of(simulate_panel(36, 24, {16: 5}, effect=1.5, noise=0.6, seed=21))
    fast = sdid(design, "y", inference=inference, draws=30, seed=4)
    slow = numpy_only(sdid, design, "y", inference=inference, draws=30, seed=4)
    a, b = fast.tidy().set_index(["estimand", "group"]), slow.tidy().set_index(["estimand", "group"])
    assert np.allclose(a["estimate"], b["estimate"], rtol=1e-10, atol=0)
    assert np.allclose(a["std_error"], b["std_error"], rtol=1e-9, atol=0, equal_nan=True)
    draws = fast.details[inference], slow.details[inference]
    assert np.allclose(*draws, rtol=1e-9, atol=1e-12)


def test_evidence_numba_0_switches_the_compiled_loop_off(monkeypatch):
    _fw_compiled._kernel.cache_clear()
    try:
        monkeypatch.setenv("EVIDENCE_NUMBA", "0")
        assert not _fw_compiled.available() and not _fw_compiled.loaded()
        g = _problems(3, False)
        r = W.fw_solve([g], 200)[0]  # the numpy loop still solves
        assert np.allclose(r.x.sum(axis=1), 1.0) and (r.iterations > 0).all()
    finally:
        monkeypatch.delenv("EVIDENCE_NUMBA")
        _fw_compiled._kernel.cache_clear()


def test_a_kernel_that_cannot_load_falls_back_to_the_numpy_loop(monkeypatch):
    """numba missing, or unable to cache or compile (a read-only installation): the numpy loop runs, same weights."""
    g = _problems(5, True)
    before = W.fw_solve([g], 300)[0]
    _fw_compiled._kernel.cache_clear()
    try:
        monkeypatch.setitem(sys.modules, "evidence.synth._fw_kernels", None)  # import fails
        assert not _fw_compiled.available()
        r = W.fw_solve([g], 300)[0]
        assert np.allclose(r.x, before.x, rtol=0, atol=1e-10) and np.array_equal(r.iterations, before.iterations)
    finally:
        monkeypatch.undo()
        _fw_compiled._kernel.cache_clear()
