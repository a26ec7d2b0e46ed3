"""The compiled Frank-Wolfe loops (C, numba) against the numpy loops they replace: same weights, steps and objective.

The numpy paths are the batched loop (:func:`evidence.synth.weights._fw_loop`) and the single-problem loop
(``_fw_single``); both were checked against R ``synthdid`` (tests/synth/test_prop99.py). ``EVIDENCE_FW_ENGINE``
chooses the engine for the duration of a call. The C extension is built by ``pip install`` where a C compiler is
found: a test that needs it skips without it, except under ``CI=true`` (tests/conftest.py), where it must run.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from evidence.synth import _fw_compiled, sdid
from evidence.synth import weights as W
from simdata import design_of, simulate_panel


def _on(engine: str) -> None:
    if engine == "c" and not _fw_compiled._c_built():
        pytest.skip("the C extension evidence.synth._fw_c is not built (no C compiler at install time; `make install` builds it)")


@pytest.fixture
def use(monkeypatch):
    """Run a call on one engine: use(engine, fn, *args)."""

    def run(engine, fn, *a, **k):
        with monkeypatch.context() as m:
            m.setenv("EVIDENCE_FW_ENGINE", engine)
            assert _fw_compiled.engine() == engine
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


@pytest.mark.parametrize("engine", ["c", "numba"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("max_iter", [3, 100, 5000])
def test_compiled_loop_equals_the_numpy_loops(use, engine, shared, max_iter):
    _on(engine)
    g = _problems(7 + shared, shared)
    fast = use(engine, W.fw_solve, [g], max_iter)[0]
    batched = use("numpy", W.fw_solve, [g], max_iter)[0]
    assert np.array_equal(fast.iterations, batched.iterations)
    assert np.allclose(fast.x, batched.x, rtol=0, atol=1e-10)
    assert np.allclose(fast.value, batched.value, rtol=1e-10)
    assert np.all(fast.x[~g.valid] == 0) and np.allclose(fast.x.sum(axis=1), 1.0) and (fast.x >= 0).all()
    for j in (0, 5):  # one problem at a time: the single-problem numpy loop
        one = W.FWProblems(g.G if shared else g.G[j : j + 1], g.c[j : j + 1], g.bb[j : j + 1], g.zeta[j : j + 1], g.x0[j : j + 1], g.min_decrease[j : j + 1], g.n_rows[j : j + 1], g.valid[j : j + 1])
        single = use("numpy", W.fw_solve, [one], max_iter)[0]
        assert single.iterations[0] == fast.iterations[j]
        assert np.allclose(single.x[0], fast.x[j], rtol=0, atol=1e-10)
    if max_iter == 5000:  # both ends: the stopping rule ended some problems, the cap others
        assert 3 <= (fast.iterations < max_iter).sum() < g.size


@pytest.mark.parametrize("engine", ["c", "numba"])
@pytest.mark.parametrize("inference", ["placebo", "bootstrap"])
def test_sdid_draws_equal_on_every_engine(use, engine, inference):
    _on(engine)
    design = design_of(simulate_panel(36, 24, {16: 5}, effect=1.5, noise=0.6, seed=21))
    fast = use(engine, sdid, design, "y", inference=inference, draws=30, seed=4)
    slow = use("numpy", sdid, design, "y", inference=inference, draws=30, seed=4)
    a, b = fast.tidy().set_index(["estimand", "group"]), slow.tidy().set_index(["estimand", "group"])
    assert np.allclose(a["estimate"], b["estimate"], rtol=1e-10, atol=1e-11)  # gaps near zero: absolute
    assert np.allclose(a["std_error"], b["std_error"], rtol=1e-9, atol=0, equal_nan=True)
    assert np.allclose(fast.details[inference], slow.details[inference], rtol=1e-9, atol=1e-12)


def test_the_c_loop_checks_its_buffers():
    _on("c")
    from evidence.synth import _fw_c

    x, it, val = np.empty((2, 3)), np.empty(2, dtype=np.int64), np.empty(2)
    ones = np.ones(2)
    with pytest.raises(ValueError, match="fw_batch: c has 48 bytes, expected 24"):  # c is 2 x 3: B given as 1
        _fw_c.fw_batch(np.eye(3)[None], np.ones((2, 3)), ones, ones, ones, np.full((2, 3), 1 / 3), np.ones((2, 3), np.uint8), ones, x, it, val, 1, 3, 1, 100, 50)


def test_an_engine_that_cannot_load_falls_back(monkeypatch):
    """The C extension not built, numba missing or unable to cache or compile (a read-only installation): the next
    engine runs, with the same weights."""
    g = _problems(5, True)
    monkeypatch.setenv("EVIDENCE_FW_ENGINE", "numpy")
    before = W.fw_solve([g], 300)[0]
    _fw_compiled._kernel.cache_clear()
    _fw_compiled._c_built.cache_clear()
    try:
        monkeypatch.setenv("EVIDENCE_FW_ENGINE", "auto")
        monkeypatch.setitem(sys.modules, "evidence.synth._fw_c", None)  # import fails
        assert _fw_compiled.engine() == "numba"
        r = W.fw_solve([g], 300)[0]
        assert np.allclose(r.x, before.x, rtol=0, atol=1e-10) and np.array_equal(r.iterations, before.iterations)
        _fw_compiled._kernel.cache_clear()
        monkeypatch.setitem(sys.modules, "evidence.synth._fw_kernels", None)
        assert _fw_compiled.engine() == "numpy" and not _fw_compiled.available()
        r = W.fw_solve([g], 300)[0]
        assert np.allclose(r.x, before.x, rtol=0, atol=1e-10) and np.array_equal(r.iterations, before.iterations)
    finally:
        monkeypatch.undo()
        _fw_compiled._kernel.cache_clear()
        _fw_compiled._c_built.cache_clear()
