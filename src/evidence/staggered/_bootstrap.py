"""Multiplier bootstrap of influence functions (R ``did``'s ``mboot``).

For each draw b, every cluster c gets an i.i.d. weight ``v_bc`` with mean 0 and variance 1 and the draw is
``sqrt(G) * mean_c(v_bc * S_c)`` with ``S_c`` the cluster sums of the influence functions (units when there is no
clustering). As in R:

* the bootstrap standard error is the interquartile range of the draws divided by ``qnorm(.75) - qnorm(.25)``,
  rescaled by ``sqrt(G) / n`` (quantiles of type 1, i.e. the inverse empirical CDF);
* the uniform (sup-t) critical value is the ``1 - alpha`` quantile (type 1) of ``max_j |draw_j / sigma_j|``;
* columns whose draws are all (numerically) zero are degenerate and get no standard error.

R ``did`` (through ``BMisc::multiplier_bootstrap``) uses Rademacher weights (+1/-1 with probability 1/2), the
default here; Mammen's two-point weights are available as ``weights="mammen"``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri  # scipy.stats costs ~0.4 s to import; the special function is what it calls

_SQRT5 = np.sqrt(5.0)
_IQR_NORM = float(ndtri(0.75) - ndtri(0.25))
_TINY = np.sqrt(np.finfo(float).eps) * 10
WEIGHTS = ("rademacher", "mammen")


def draw_weights(rng: np.random.Generator, size: tuple[int, int], weights: str) -> np.ndarray:
    """Multiplier weights: Rademacher or Mammen two-point (mean 0, variance 1)."""
    if weights == "rademacher":
        return rng.integers(0, 2, size=size, dtype=np.int8).astype(np.float64) * 2.0 - 1.0
    lo, hi = (1 - _SQRT5) / 2, (1 + _SQRT5) / 2
    p_lo = (_SQRT5 + 1) / (2 * _SQRT5)
    return np.where(rng.random(size) < p_lo, lo, hi)


def multiplier_draws(
    S: np.ndarray, draws: int, rng: np.random.Generator, weights: str = "rademacher", chunk_cells: int = 4_000_000
) -> np.ndarray:
    """``draws x J`` bootstrap draws ``sqrt(G) * mean_c(v_c S_c)`` from the ``G x J`` cluster sums ``S``."""
    G = S.shape[0]
    out = np.empty((draws, S.shape[1]))
    step = max(1, min(draws, chunk_cells // max(G, 1)))
    for start in range(0, draws, step):
        b = min(step, draws - start)
        V = draw_weights(rng, (b, G), weights)
        out[start : start + b] = V @ S
    out *= np.sqrt(G) / G
    return out


def summarise_draws(bres: np.ndarray, n_units: int, n_clusters: int, alpha: float) -> tuple[np.ndarray, float]:
    """Bootstrap standard errors (NaN for degenerate columns) and the uniform critical value."""
    J = bres.shape[1]
    se = np.full(J, np.nan)
    ok = np.isfinite(bres).all(axis=0) & ((bres**2).sum(axis=0) > _TINY)
    if not ok.any():
        return se, float("nan")
    b = bres[:, ok]
    q75 = np.quantile(b, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(b, 0.25, axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / _IQR_NORM
    se[ok] = sigma * np.sqrt(n_clusters) / n_units
    sig = np.where(sigma > _TINY, sigma, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        tstat = np.abs(b / sig)
    bT = np.nanmax(np.where(np.isnan(tstat), -np.inf, tstat), axis=1)
    bT = bT[np.isfinite(bT)]
    crit = float(np.quantile(bT, 1 - alpha, method="inverted_cdf")) if bT.size else float("nan")
    return se, crit
