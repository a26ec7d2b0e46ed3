"""Plots of synthetic-control results. Plotting never estimates: each function takes a
:class:`~evidence.synth.results.SynthResult` and returns the matplotlib Axes it drew on (a new one when ``ax`` is
None). ``synthetic=True`` stamps "SYNTHETIC DATA" on the plot."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..plots import PALETTE, _ax, _synthetic_mark, effect_axis_label, event_axis_label, readable


def _groups(res: Any, group: str | None) -> list[str]:
    traj = res.details["trajectories"]
    groups = list(dict.fromkeys(traj["group"]))
    if group is None:
        return groups
    if str(group) not in groups:
        raise ValueError(f"group {group!r} is not in the results; choose from {', '.join(groups)}.")
    return [str(group)]


def _period_ticks(ax: Any, labels: list[str], max_ticks: int = 10) -> None:
    step = max(1, int(np.ceil(len(labels) / max_ticks)))
    pos = np.arange(0, len(labels), step)
    ax.set_xticks(pos)
    ax.set_xticklabels([labels[i] for i in pos], rotation=45, ha="right", fontsize=8)


def plot_trajectories(res: Any, ax: Any = None, group: str | None = None, synthetic: bool = False) -> Any:
    """Treated (solid) and synthetic (dashed) outcome paths by period, with the treatment date marked.

    For SDID the synthetic path is the weighted controls shifted by the time-weighted pre-period gap (the
    intercept), so it lines up with the treated path before treatment when the weights fit.
    """
    ax = _ax(ax)
    traj = res.details["trajectories"]
    logged = str(res.outcome).endswith("_log")  # drawn in the outcome's own units (the summary's scale), not in logs
    level = np.exp if logged else np.asarray
    for k, grp in enumerate(_groups(res, group)):
        sub = traj[traj["group"] == grp]
        x = np.arange(len(sub))
        color = PALETTE[k % len(PALETTE)]
        ax.plot(x, level(sub["treated"].to_numpy(dtype=float)), color=color, lw=1.8, label=f"treated ({grp})")
        ax.plot(x, level(sub["synthetic"].to_numpy(dtype=float)), color=color, lw=1.4, ls="--", label=f"synthetic ({grp})")
        start = int(np.flatnonzero(sub["event_time"].to_numpy() == 0)[0])
        ax.axvline(start - 0.5, color=color, lw=0.8, ls=":")
        _period_ticks(ax, sub["period"].tolist())
    ax.set_ylabel(str(res.outcome).removesuffix("_log").replace("_", " ") + (" (geometric mean of the units)" if logged else ""))
    ax.set_title(f"{readable(res.outcome, res.method)}: treated and synthetic comparison", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_gap(res: Any, ax: Any = None, group: str | None = None, synthetic: bool = False) -> Any:
    """Treated minus synthetic gap by event time (0 = first treated period), one line per cohort / unit."""
    ax = _ax(ax)
    traj = res.details["trajectories"]
    for k, grp in enumerate(_groups(res, group)):
        sub = traj[traj["group"] == grp]
        ax.plot(sub["event_time"].to_numpy(), sub["gap"].to_numpy(), marker="o", ms=3, lw=1.2, color=PALETTE[k % len(PALETTE)], label=str(grp))
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(event_axis_label())
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"treated minus synthetic: {str(res.outcome).replace('_', ' ')}")
    ax.set_title(f"{readable(res.outcome, res.method)}: treated minus synthetic", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_unit_weights(res: Any, ax: Any = None, group: str | None = None, top: int = 15, synthetic: bool = False) -> Any:
    """The largest unit (donor) weights as horizontal bars (first cohort / unit unless ``group`` is given)."""
    ax = _ax(ax)
    grp = _groups(res, group)[0]
    w = res.details["weights_unit"]
    sub = w[(w["group"] == grp) & (w["weight"] > 0)].sort_values("weight", ascending=True).tail(top)
    ax.barh(np.arange(len(sub)), sub["weight"].to_numpy(), color=PALETTE[0])
    ax.set_yticks(np.arange(len(sub)))
    ax.set_yticklabels(sub["unit"].astype(str).tolist(), fontsize=8)
    ax.set_xlabel("unit weight")
    ax.set_title(f"{readable(res.outcome, res.method)}: unit weights ({grp})", fontsize=10)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_time_weights(res: Any, ax: Any = None, group: str | None = None, synthetic: bool = False) -> Any:
    """Time weights of the pre-periods as bars (all zero for synthetic control, uniform for DiD)."""
    ax = _ax(ax)
    grp = _groups(res, group)[0]
    w = res.details["weights_time"]
    sub = w[w["group"] == grp]
    ax.bar(np.arange(len(sub)), sub["weight"].to_numpy(), color=PALETTE[2])
    _period_ticks(ax, sub["period"].tolist())
    ax.set_ylabel("time weight")
    ax.set_title(f"{readable(res.outcome, res.method)}: time weights ({grp})", fontsize=10)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_placebo(res: Any, ax: Any = None, bins: int = 30, synthetic: bool = False) -> Any:
    """Placebo-in-space distribution of the estimate, with the actual estimate marked."""
    ax = _ax(ax)
    placebo = res.details.get("placebo")
    tidy = res.tidy()
    est = float(tidy.loc[(tidy["estimand"] == "att") & (tidy["group"] == "all"), "estimate"].iloc[0])
    if placebo is None or len(placebo) == 0:
        ax.text(0.5, 0.5, "no placebo draws (inference was not placebo)", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.hist(np.asarray(placebo, dtype=float), bins=bins, color=PALETTE[6], alpha=0.7, label=f"placebo estimates ({len(placebo)})")
        p = res.details.get("p_value_placebo")
        ax.axvline(est, color=PALETTE[1], lw=2, label=f"estimate {est:.3g}" + (f" (p = {p:.3f})" if p is not None else ""))
        ax.legend(frameon=False, fontsize=8)
    ax.set_xlabel(effect_axis_label(res.outcome))
    ax.set_ylabel("draws")
    ax.set_title(f"{readable(res.outcome, res.method)}: placebo distribution", fontsize=10)
    _synthetic_mark(ax, synthetic)
    return ax
