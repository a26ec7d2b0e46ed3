"""Interrupted time series plots (the only ITS module that imports matplotlib)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..plots import PALETTE, readable  # one palette for every figure (Okabe-Ito)


def _synthetic_mark(ax: Any, synthetic: bool) -> None:
    if synthetic:
        ax.text(0.99, 0.98, "SYNTHETIC DATA", transform=ax.transAxes, ha="right", va="top", color="#DA291C", fontsize=9, fontweight="bold")


def _ticks(ax: Any, labels: list[str], max_ticks: int = 8) -> None:
    step = max(1, int(np.ceil(len(labels) / max_ticks)))
    pos = np.arange(0, len(labels), step)
    ax.set_xticks(pos, [labels[i] for i in pos], rotation=45, ha="right", fontsize=8)


def plot_counterfactual(res: Any, ax: Any = None, synthetic: bool = False, show_control: bool = True) -> Any:
    """Observed points, fitted line and the counterfactual (dashed, with its confidence band after the intervention).

    In a controlled ITS the comparison series (observed and fitted) is drawn when ``show_control``, on the same axis
    (rescaled to the treated series' pre-intervention mean when its scale differs; the legend says so). Returns the
    Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    cf = res.counterfactual
    x = np.arange(len(cf))
    t0 = int(res.info["intervention_index"])
    post = x >= t0
    ax.plot(x, cf["observed"], "o", ms=3.5, color=PALETTE[0], label="observed")
    ax.plot(x, cf["fitted"], "-", lw=1.6, color=PALETTE[0], label="fitted")
    ax.plot(x[post], cf["counterfactual"][post], "--", lw=1.6, color=PALETTE[1], label="counterfactual")
    ax.fill_between(x[post], cf["cf_lower"][post], cf["cf_upper"][post], color=PALETTE[1], alpha=0.15, lw=0, label=f"{100 * (1 - res.alpha):.0f}% CI")
    ctrl = getattr(res, "control_series", None)
    if show_control and ctrl is not None:
        # one axis only: a comparison series on another scale (pooled counts of many more areas) is drawn rescaled to
        # the treated series' pre-intervention mean, and the legend says so
        pre_t = float(np.nanmean(cf["observed"][~post])) if (~post).any() else float(np.nanmean(cf["observed"]))
        pre_c = float(np.nanmean(ctrl["observed"][~post])) if (~post).any() else float(np.nanmean(ctrl["observed"]))
        factor = pre_t / pre_c if pre_c and np.isfinite(pre_c) and not 0.5 < abs(pre_c / pre_t if pre_t else 1) < 2 else 1.0
        note = "" if factor == 1.0 else " (rescaled to the treated pre-period mean)"
        ax.plot(x, np.asarray(ctrl["observed"], float) * factor, "s", ms=2.5, color=PALETTE[4], alpha=0.7, label=f"comparison observed{note}")
        ax.plot(x, np.asarray(ctrl["fitted"], float) * factor, "-", lw=1, color=PALETTE[4], alpha=0.7, label=f"comparison fitted{note}")
    ax.axvline(t0 - 0.5, color="grey", lw=0.9, ls=":")
    ax.text(t0 - 0.5, 1.0, f" {res.info['intervention']}", transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=8, color="grey")
    _ticks(ax, list(cf["period"]))
    ax.set_ylabel(readable(res.outcome))
    ax.set_title(f"{readable(res.outcome)}: observed and projected without designation ({res.info['group']})", fontsize=10)
    if ax.get_legend() is None:
        ax.legend(frameon=False, fontsize=7, loc="best", ncol=2)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_acf_pacf(res: Any, axes: Any = None, synthetic: bool = False) -> Any:
    """Residual ACF and PACF (treated series) with approximate 95% bands ``±1.96/sqrt(T)``; returns the two Axes."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    n = len(res.counterfactual)
    band = 1.96 / np.sqrt(n)
    for ax, vals, name in zip(axes, (res.acf, res.pacf), ("ACF", "PACF")):
        lags = np.arange(len(vals))
        ax.vlines(lags[1:], 0, vals[1:], color=PALETTE[0], lw=2)
        ax.plot(lags[1:], vals[1:], "o", ms=3, color=PALETTE[0])
        ax.axhline(0, color="grey", lw=0.8)
        ax.axhspan(-band, band, color="grey", alpha=0.15, lw=0)
        ax.set_xlabel("lag")
        ax.set_title(f"Residual {name}", fontsize=10)
        ax.set_ylim(-1.05, 1.05)
        _synthetic_mark(ax, synthetic)
    return axes
