"""Limit the threads of the BLAS library that numpy and scipy call, for the duration of a block.

Context: numpy and scipy wheels ship OpenBLAS, which by default runs one thread per core. The estimators that use
it in a loop (the synthetic DiD placebo draws, Frank-Wolfe steps) or on tall, narrow matrices (the influence-function
Gram matrix of Callaway-Sant'Anna with covariates: 100,000 x 45) gain nothing from the second thread on a 2-core
machine, and lose a great deal when the cores are shared with other work: OpenBLAS threads wait for each other by
spinning, so one descheduled thread stalls the product. Measured on the project's 2-core machine under load: the
100,000 x 45 product ``M.T @ M`` took 0.14-3.7 s with two threads and 0.014-0.02 s with one.

Decision: :func:`blas_threads` sets the thread count of every loaded OpenBLAS (numpy's and scipy's each bundle their
own) through the library's own ``*_set_num_threads`` entry point, found by ``ctypes`` among the shared libraries
mapped into the process, and restores the previous count on exit. When ``threadpoolctl`` is installed it is used
instead (it also knows MKL, BLIS and the macOS Accelerate framework).

Consequences: results are unchanged (the same BLAS routines, one thread); a BLAS the function does not recognise is
left alone (a no-op). The count is process-wide while the block runs, as with ``threadpoolctl``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_", "openblas_get_num_threads")
_cache: dict[str, tuple[object, object] | None] = {}
_scanned_at = -1
_controls: list[tuple[object, object]] = []


def _openblas_controls() -> list[tuple[object, object]]:
    """(setter, getter) of every OpenBLAS mapped into this process (Linux; empty elsewhere).

    The memory map is read again only when modules have been imported since the last look (a new extension module
    can bring its own BLAS), so a call in a loop costs a dictionary look-up."""
    global _scanned_at, _controls
    if _scanned_at == len(sys.modules):
        return _controls
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return []
    paths = {line.split(None, 5)[-1].strip() for line in text.splitlines() if "openblas" in line or "OpenBLAS" in line}
    out = []
    for path in sorted(paths):
        if path not in _cache:
            _cache[path] = None
            if os.path.isfile(path):
                with contextlib.suppress(OSError):
                    lib = ctypes.CDLL(path)
                    setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
                    getter = next((getattr(lib, g) for g in _GETTERS if hasattr(lib, g)), None)
                    if setter is not None and getter is not None:
                        setter.argtypes, setter.restype = [ctypes.c_int], None
                        getter.argtypes, getter.restype = [], ctypes.c_int
                        _cache[path] = (setter, getter)
        if _cache[path] is not None:
            out.append(_cache[path])
    _scanned_at, _controls = len(sys.modules), out
    return out


@functools.lru_cache(maxsize=1)
def _threadpoolctl() -> Any:
    """``threadpoolctl.threadpool_limits`` when installed, else None (looked up once)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Run the block with at most ``n`` BLAS threads, restoring the previous setting afterwards.

    Parameters
    ----------
    n
        Thread count for the block (1 = single-threaded BLAS).
    """
    threadpool_limits = _threadpoolctl()
    if threadpool_limits is not None:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
        return
    controls = _openblas_controls()
    previous = [getter() for _, getter in controls]
    for setter, _ in controls:
        setter(n)
    try:
        yield
    finally:
        for (setter, _), p in zip(controls, previous, strict=True):
            setter(p)


def limit_blas_threads(n: int = 1) -> Callable[[F], F]:
    """Decorator: run the function inside :func:`blas_threads` ``(n)`` (signature and docstring kept)."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with blas_threads(n):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
