"""Plots. Plotting never estimates: every function takes results (or a design) and returns the Axes it drew on."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Okabe-Ito: distinguishable with every common colour-vision deficiency (no red/green pairs)
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000"]
# Names of outcomes, units and methods come from the user's data: "$" in them must be text, not mathtext
plt.rcParams["text.parse_math"] = False


PERIOD_UNITS = {"month": ("month", "months"), "quarter": ("quarter", "quarters"), "year": ("year", "years"), "fy": ("financial year", "financial years"), "integer": ("period", "periods")}
_REPORT = {"frequency": "integer"}


def set_report_frequency(frequency: str) -> None:
    """The panel's frequency, for axis labels in its units (months since designation ...); set by ``open_run``."""
    _REPORT["frequency"] = frequency if frequency in PERIOD_UNITS else "integer"


def set_report_baselines(baselines: dict[str, float]) -> None:
    """Treated units' mean outcome before designation, per outcome (set by ``open_run``): event studies and power
    curves are then drawn as % of that level, the scale of the run's summary.

    Context: the summary a board reads gives every effect as a % of the treated areas' pre-designation level, while
    estimators report outcome units or log points.
    Decision: event-study figures convert each estimate and interval end to that % (a level effect: 100 x b /
    baseline; a log effect: 100 x (exp(b) - 1)); power curves label their effect axis in % (rate ratios: 100 x (rr -
    1); additive effects: 100 x effect / baseline). Tables and ``estimates.csv`` keep the estimators' own units.
    Consequences: figures and summary read on one scale; an outcome without a positive baseline keeps its own units,
    and the axis label says which.
    """
    _REPORT["baselines"] = {str(k): float(v) for k, v in baselines.items() if np.isfinite(v) and v > 0}


def _baseline(outcome: Any) -> float | None:
    o = str(outcome).split(":")[-1].removesuffix("_log")
    return _REPORT.get("baselines", {}).get(o)


PCT_LABEL = "change, % of the treated areas' pre-designation level"


def to_pct(outcome: Any, values: np.ndarray) -> np.ndarray | None:
    """Effects on ``outcome`` (log points when it ends in ``_log``) as % of the baseline; None without a baseline."""
    v = np.asarray(values, dtype=float)
    if str(outcome).endswith("_log"):
        return 100.0 * np.expm1(v)
    base = _baseline(outcome)
    return None if base is None else 100.0 * v / base


def event_axis_label() -> str:
    """The event-time axis: time since designation in the panel's own units."""
    one, many = PERIOD_UNITS[_REPORT["frequency"]]
    return f"{many} since designation (0 = first designated {one})"


def effect_axis_label(outcome: str) -> str:
    """An effect axis with its scale: log points for log models (about a % change / 100), else outcome units."""
    o = str(outcome)
    if o.endswith("_log"):
        return f"effect on {o[:-4].replace('_', ' ')} (log points ≈ % change / 100)"
    return f"effect on {o.replace('_', ' ')} (outcome units)"


def _question(outcome: Any, template: str) -> str:
    """A figure title that asks the figure's question about an outcome (``{o}``: its readable name)."""
    import textwrap

    return "\n".join(textwrap.wrap(template.format(o=readable(outcome)), 52))  # wrapped: grid panels are narrow


def readable_method(method: Any) -> str:
    """A method's name for legends (``twfe_event_study`` -> ``TWFE event study``)."""
    from .tables import METHOD_NAMES

    return METHOD_NAMES.get(str(method), str(method).replace("_", " "))


def readable(outcome: Any, method: Any = None) -> str:
    """A figure title from codes: ``admissions_log`` and ``sdid`` -> ``admissions (log scale) — synthetic DiD``."""
    from .tables import METHOD_NAMES

    o = str(outcome).split(":")[-1]
    text = (o[:-4].replace("_", " ") + " (log scale)") if o.endswith("_log") else o.replace("_", " ")
    text = text.replace(" per 100k", " per 100,000")
    if method is not None:
        text += f" — {METHOD_NAMES.get(str(method), str(method).replace('_', ' '))}"
    return text


def _ax(ax: Any) -> Any:
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    return ax


def _synthetic_mark(ax: Any, synthetic: bool) -> None:
    if synthetic:
        ax.text(0.99, 0.98, "SYNTHETIC DATA", transform=ax.transAxes, ha="right", va="top", color="#DA291C", fontsize=9, fontweight="bold")


def plot_event_study(result: Any, ax: Any = None, label: str | None = None, color: str | None = None, offset: float = 0.0, synthetic: bool = False) -> Any:
    """Event-study estimates with confidence intervals; the reference period (-1) is drawn at zero when omitted."""
    ax = _ax(ax)
    df = result.tidy()
    df = df[df["event_time"].notna() & df["estimand"].isin(["event_time", "dynamic"])].sort_values("event_time")
    et = df["event_time"].astype(float).to_numpy()
    est = df["estimate"].to_numpy()
    lo, hi = df["ci_lower"].to_numpy(), df["ci_upper"].to_numpy()
    ref = getattr(result, "reference", -1)
    if ref is not None and ref not in et:
        et = np.append(et, ref)
        est, lo, hi = np.append(est, 0.0), np.append(lo, np.nan), np.append(hi, np.nan)
        order = np.argsort(et)
        et, est, lo, hi = et[order], est[order], lo[order], hi[order]
    color = color or PALETTE[0]
    outcome = getattr(result, "outcome", "")
    pct = [to_pct(outcome, v) for v in (est, lo, hi)]
    if pct[0] is not None:  # the summary's scale (see set_report_baselines)
        est, lo, hi = pct
    ax.errorbar(et + offset, est, yerr=[est - lo, hi - est], fmt="o", ms=4, capsize=2, color=color, label=label or readable_method(getattr(result, "method", "")))
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(event_axis_label())
    ax.set_ylabel(f"{PCT_LABEL}{' (log model)' if str(outcome).endswith('_log') else ''}" if pct[0] is not None else effect_axis_label(outcome))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # event time is whole periods: no half-year ticks
    _synthetic_mark(ax, synthetic)
    return ax


def plot_event_studies(results: list[Any], ax: Any = None, labels: list[str] | None = None, synthetic: bool = False) -> Any:
    """Overlay several event studies (e.g. TWFE, Callaway-Sant'Anna, Sun-Abraham, imputation), dodged horizontally."""
    ax = _ax(ax)
    n = len(results)
    for i, res in enumerate(results):
        off = (i - (n - 1) / 2) * 0.15
        plot_event_study(res, ax=ax, label=(labels[i] if labels else None), color=PALETTE[i % len(PALETTE)], offset=off)
    ax.legend(frameon=False, fontsize=8)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_coefficients(result: Any, ax: Any = None, synthetic: bool = False) -> Any:
    """Point estimates with intervals, one row per group/estimand (a small forest plot)."""
    ax = _ax(ax)
    df = result.tidy()
    lab = df["group"].fillna("").astype(str)
    lab = np.where(lab == "", df["estimand"].astype(str), lab)
    y = np.arange(len(df))[::-1]
    est = df["estimate"].to_numpy()
    ax.errorbar(est, y, xerr=[est - df["ci_lower"].to_numpy(), df["ci_upper"].to_numpy() - est], fmt="o", color=PALETTE[0], capsize=3)
    ax.set_yticks(y, lab)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(effect_axis_label(getattr(result, "outcome", "")))
    ax.set_title(readable(getattr(result, "outcome", ""), getattr(result, "method", "")))
    _synthetic_mark(ax, synthetic)
    return ax


def plot_trends(design: Any, outcome: str, ax: Any = None, synthetic: bool = False) -> Any:
    """Mean outcome per unit over time, by cohort (seaborn), with each cohort's first treated period marked."""
    import seaborn as sns

    ax = _ax(ax)
    panel = design.panel
    inc = design.included.set_index("unit")
    groups = np.where(design.treated, "cohort " + inc["first_treated"].astype(str).to_numpy(), "comparison")
    gmap = dict(zip(panel.units, groups))
    df = pd.DataFrame({"period": pd.PeriodIndex(panel.data["time"]).to_timestamp() if panel.frequency != "integer" else panel.data["time"], "value": panel.data[outcome], "group": panel.data["unit"].map(gmap)})
    order = ["comparison"] + sorted(set(groups) - {"comparison"})
    sns.lineplot(data=df, x="period", y="value", hue="group", hue_order=order, estimator="mean", errorbar=None, ax=ax, palette=PALETTE[: len(order)][::-1])
    for i, c in enumerate(design.cohort_labels):
        x = pd.Period(c, panel.periods[0].freqstr).to_timestamp() if panel.frequency != "integer" else int(c)
        ax.axvline(x, color="grey", lw=0.8, ls="--")
    if panel.frequency != "integer":
        import matplotlib.dates as mdates

        x = df["period"]
        years = (x.max() - x.min()).days / 365.25
        # explicit locators: AutoDateLocator warns (and prints into reports) when no interval fits its tick budget
        loc = mdates.YearLocator(max(1, int(np.ceil(years / 7)))) if years >= 3 else (mdates.MonthLocator(bymonth=(1, 7)) if years >= 1 else mdates.MonthLocator())
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.set_xlabel("")
    ax.set_ylabel(f"mean {outcome} per unit")
    ax.legend(frameon=False, fontsize=8, title=None)
    _synthetic_mark(ax, synthetic)
    return ax


def plot_att_gt(result: Any, ax: Any = None, synthetic: bool = False) -> Any:
    """Heatmap of ATT(g,t): cohorts by rows, periods by columns (diverging colours centred on zero)."""
    ax = _ax(ax)
    df = result.tidy()
    df = df[df["estimand"] == "att_gt"]
    cols = list(dict.fromkeys(df["period"]))
    rows = list(dict.fromkeys(df["group"]))
    grid = df.pivot(index="group", columns="period", values="estimate").reindex(index=rows, columns=cols).to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    im = ax.imshow(grid, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, label="ATT(g,t)")
    step = max(1, len(cols) // 12)
    ax.set_xticks(range(0, len(cols), step), [cols[i] for i in range(0, len(cols), step)], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("period")
    ax.set_ylabel("cohort")
    _synthetic_mark(ax, synthetic)
    return ax


def _grid(n: int, ncols: int = 2, height: float = 3.2) -> tuple[Any, np.ndarray]:
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, height * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def trends_grid(design: Any, outcomes: list[str], synthetic: bool = False) -> Any:
    """One trends panel (:func:`plot_trends`) per outcome; returns the Figure."""
    fig, axes = _grid(len(outcomes))
    for ax, o in zip(axes, outcomes):
        plot_trends(design, o, ax=ax, synthetic=synthetic)
        ax.set_title(readable(o))
    fig.tight_layout()
    return fig


def event_study_grid(results: list[Any], synthetic: bool = False) -> Any:
    """One event-study panel per result; returns the Figure."""
    fig, axes = _grid(len(results))
    for ax, r in zip(axes, results):
        plot_event_study(r, ax=ax, synthetic=synthetic)
        ax.set_title(_question(r.outcome, "How did {o} change, period by period, after designation?"), fontsize=9)
    fig.tight_layout()
    return fig


def plot_bacon(result: Any, ax: Any = None, synthetic: bool = False) -> Any:
    """Goodman-Bacon decomposition: each 2x2 estimate against its weight, by comparison type; TWFE as a line."""
    ax = _ax(ax)
    c = result.components()
    markers = {"treated vs never treated": "o", "earlier vs later treated": "s", "later vs earlier treated": "^"}
    for i, (kind, d) in enumerate(c.groupby("type", sort=False)):
        ax.scatter(d["weight"], d["estimate"], marker=markers.get(kind, "o"), color=PALETTE[i], label=kind, s=40)
    ax.axhline(result.twfe, color="grey", lw=1, ls="--", label=f"TWFE = {result.twfe:.3g}")
    ax.set_xlabel("weight in the TWFE estimate")
    ax.set_ylabel(f"2x2 estimate ({result.outcome})")
    ax.legend(frameon=False, fontsize=8)
    _synthetic_mark(ax, synthetic)
    return ax


def event_study_overlay_grid(groups: dict[str, list[Any]], labels: list[str], window: tuple[int, int] | None = None, synthetic: bool = False) -> Any:
    """For each outcome, the event studies of several methods overlaid (:func:`plot_event_studies`); returns the Figure.

    ``window`` limits the event times shown (for readability; estimates outside it are not dropped).
    """
    # small multiples, not an overlay: one row per outcome, one panel per method, a common y axis within a row
    n_rows, n_cols = max(1, len(groups)), max(1, len(labels))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.9 * n_rows), squeeze=False, sharey="row")
    for row, (outcome, results) in zip(axes, groups.items()):
        for j, (ax, res, lab) in enumerate(zip(row, results, labels)):
            plot_event_study(res, ax=ax, color=PALETTE[j % len(PALETTE)], synthetic=synthetic)
            if window is not None:
                ax.set_xlim(window[0] - 0.5, window[1] + 0.5)
            ax.set_title(f"{readable(outcome)}: {lab}", fontsize=9)
            if j:
                ax.set_ylabel("")
            ax.xaxis.label.set_fontsize(8)
            ax.yaxis.label.set_fontsize(8)
    fig.tight_layout()
    return fig


def att_gt_grid(results: list[Any], synthetic: bool = False) -> Any:
    """ATT(g,t) heatmaps, one per outcome; returns the Figure."""
    fig, axes = _grid(len(results), ncols=1, height=2.4)
    for ax, r in zip(axes, results):
        plot_att_gt(r, ax=ax, synthetic=synthetic)
        ax.set_title(readable(r.outcome))
    fig.tight_layout()
    return fig


def bacon_grid(results: list[Any], synthetic: bool = False) -> Any:
    """Goodman-Bacon decomposition plots, one per outcome; returns the Figure."""
    fig, axes = _grid(len(results))
    for ax, r in zip(axes, results):
        plot_bacon(r, ax=ax, synthetic=synthetic)
        ax.set_title(readable(r.outcome))
    fig.tight_layout()
    return fig


def its_grid(results: list[Any], synthetic: bool = False) -> Any:
    """Observed, fitted and counterfactual series, one panel per ITS result; returns the Figure."""
    from .its.plots import plot_counterfactual

    fig, axes = _grid(len(results))
    for ax, r in zip(axes, results):
        plot_counterfactual(r, ax=ax, synthetic=synthetic)
        group = r.tidy()["group"].iloc[0]
        ax.set_title(_question(r.outcome, "Did {o} break from its trend at designation? (" + str(group).replace("{", "(").replace("}", ")") + ")"), fontsize=9)
    fig.tight_layout()
    return fig


def forest(table: pd.DataFrame, label: str, ax: Any = None, reference: float = 0.0, synthetic: bool = False) -> Any:
    """Forest plot of rows with ``estimate``, ``ci_lower``, ``ci_upper`` labelled by the column ``label``."""
    ax = _ax(ax)
    y = np.arange(len(table))[::-1]
    est = table["estimate"].to_numpy(dtype=float)
    ax.errorbar(est, y, xerr=[est - table["ci_lower"].to_numpy(dtype=float), table["ci_upper"].to_numpy(dtype=float) - est], fmt="o", color=PALETTE[0], capsize=3)
    ax.set_yticks(y, table[label].astype(str))
    ax.axvline(reference, color="grey", lw=0.8)
    _synthetic_mark(ax, synthetic)
    return ax


def acf_grid(results: list[Any], synthetic: bool = False) -> Any:
    """Residual ACF and PACF of each ITS result (one row per result); returns the Figure."""
    from .its.plots import plot_acf_pacf

    fig, axes = plt.subplots(len(results), 2, figsize=(10, 2.6 * len(results)), squeeze=False)
    for row, res in zip(axes, results):
        plot_acf_pacf(res, axes=row, synthetic=synthetic)
        row[0].set_title(f"{readable(res.outcome)}: residual autocorrelation")
        row[1].set_title(f"{readable(res.outcome)}: residual partial autocorrelation")
    fig.tight_layout()
    return fig


def unit_forest_grid(table: pd.DataFrame, synthetic: bool = False) -> Any:
    """Per-unit effects, one forest panel per outcome: rate ratios (reference 1) where the model has a log link,
    absolute differences (reference 0) otherwise. ``table`` has outcome, group, estimand, estimate, ci_lower, ci_upper."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    fig, axes = _grid(max(1, len(outcomes)), ncols=len(outcomes) or 1, height=0.35 * max(8, table["group"].nunique()) + 1.5)
    for ax, o in zip(axes, outcomes):
        rows = table[table["outcome"] == o]
        ratio = (rows["estimand"] == "rate_ratio_post").any()
        rows = rows[rows["estimand"] == ("rate_ratio_post" if ratio else "abs_diff_post")]
        forest(rows, "group", ax=ax, reference=1.0 if ratio else 0.0, synthetic=synthetic)
        ax.set_title(f"{readable(o)} ({'rate ratio' if ratio else 'difference'})")
    fig.tight_layout()
    return fig


def evidence_forest(table: pd.DataFrame, synthetic: bool = False) -> Any:
    """Forest plot of the overall effect of every method, one panel per outcome (each on its own scale), methods named
    and the protocol's primary estimate (``notebook`` 00_primary) highlighted; the title asks the question."""
    from .tables import METHOD_NAMES

    outcomes = list(dict.fromkeys(table["outcome"]))
    ncols = 3
    fig, axes = _grid(len(outcomes), ncols=ncols, height=max(1.6, 0.32 * table.groupby("outcome").size().max() + 1.0))
    for ax, o in zip(axes, outcomes):
        d = table[table["outcome"] == o].copy()
        primary = d.get("notebook", pd.Series("", index=d.index)).astype(str).eq("00_primary").to_numpy()
        d["name"] = [METHOD_NAMES.get(m, m) + (" — primary (pre-specified)" if p else "") for m, p in zip(d["method"], primary)]
        forest(d, "name", ax=ax, reference=0.0, synthetic=synthetic)
        if primary.any():
            y = np.arange(len(d))[::-1][primary]
            est = d["estimate"].to_numpy(dtype=float)[primary]
            ax.errorbar(est, y, xerr=[est - d["ci_lower"].to_numpy(dtype=float)[primary], d["ci_upper"].to_numpy(dtype=float)[primary] - est], fmt="D", ms=7, color=PALETTE[1], capsize=3, label="primary (pre-specified)")
        ax.set_title(f"Did designation change {str(o).removesuffix('_log').replace('_', ' ')}? ({d['scale'].iloc[0]})", fontsize=9)
        ax.set_xlabel(f"effect ({d['scale'].iloc[0]}, 95% interval)", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return fig


QUESTIONS: dict[str, str] = {
    "WildBootstrapResult": "Does the effect on {o} hold with few treated clusters?",
    "RandomizationResult": "Is the effect on {o} larger than random designation dates give?",
    "HonestResult": "How far could trends diverge before the effect on {o} is lost?",
    "PowerResult": "How large an effect on {o} could this design detect?",
    "ValidationResult": "Which methods recover a known effect on {o} without bias?",
}
"""The question each kind of result's figure answers (its title; the result's own title becomes the subtitle)."""


def _percent_axis(ax: Any, r: Any) -> None:
    """A power curve's effect axis in % of the baseline (ticks relabelled on the same axis; no twin axis)."""
    from matplotlib.ticker import FuncFormatter

    outcome = str(getattr(r, "outcome", "") or "")
    if getattr(r, "family", "") == "count":
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * (x - 1):+.0f}%"))
        ax.set_xlabel("true effect, % change (rate ratio − 1)")
    elif _baseline(outcome) is not None:
        base = _baseline(outcome)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x / base:+.1f}%"))
        ax.set_xlabel("true effect, % of the treated areas' pre-designation level")


def results_grid(results: list[Any], ncols: int = 2, height: float = 3.6) -> Any:
    """Each result's own ``.plot(ax=...)`` in a grid (power curves, validation charts, bootstrap and randomisation
    distributions, HonestDiD intervals), titled with the question it answers (:data:`QUESTIONS`); returns the Figure."""
    import textwrap

    fig, axes = _grid(max(1, len(results)), ncols=min(ncols, max(1, len(results))), height=height)
    for ax, r in zip(axes, results):
        r.plot(ax=ax)
        template = QUESTIONS.get(type(r).__name__)
        outcome = getattr(r, "outcome", None) or getattr(r, "outcome_label", None)
        if template and outcome:
            detail = ax.get_title()
            width = 34 if len(results) > 1 and ncols > 2 else 52
            question = "\n".join(textwrap.wrap(template.format(o=readable(outcome)), width))
            ax.set_title(question + (f"\n{detail}" if detail else ""), fontsize=9)
        if type(r).__name__ == "PowerResult":
            _percent_axis(ax, r)
        legend = ax.get_legend()
        if legend is not None:  # method names, not codes
            for text in legend.get_texts():
                text.set_text(readable_method(text.get_text()))
    fig.tight_layout()
    return fig


def synth_grid(results: list[Any], kind: str = "trajectories", synthetic: bool = False) -> Any:
    """One panel per synthetic-control result: ``trajectories``, ``gap``, ``unit_weights``, ``time_weights`` or
    ``placebo`` (see :mod:`evidence.synth.plots`); returns the Figure."""
    from .synth import plots as sp

    draw = {"trajectories": sp.plot_trajectories, "gap": sp.plot_gap, "unit_weights": sp.plot_unit_weights, "time_weights": sp.plot_time_weights, "placebo": sp.plot_placebo}[kind]
    fig, axes = _grid(max(1, len(results)), ncols=3, height=3.4)
    questions = {"trajectories": "Did {o} part from its synthetic comparison after designation?", "gap": "How far did {o} move from its synthetic comparison?",
                 "unit_weights": "Which areas make up the synthetic comparison for {o}?", "time_weights": "Which periods does the comparison for {o} rest on?",
                 "placebo": "Is the effect on {o} larger than placebo effects?"}
    for ax, r in zip(axes, results):
        draw(r, ax=ax, synthetic=synthetic)
        ax.set_title(_question(r.outcome, questions[kind].replace("?", f"? ({readable_method(r.method)})")), fontsize=9)
    fig.tight_layout()
    return fig


def sensitivity_forest(table: pd.DataFrame, primary: pd.Series, outcome: str, ax: Any = None, synthetic: bool = False) -> Any:
    """One forest plot of the sensitivity set on the primary scale, the primary estimate highlighted at the top.

    ``table``: rows of :func:`evidence.sensitivity.run_sensitivities` (``label``, ``status``, ``estimate``,
    ``ci_lower``, ``ci_upper``); ``primary``: the primary ``cs``/``simple`` row.
    """
    ok = table[table["status"] == "ok"].reset_index(drop=True)
    labels = ["PRIMARY (pre-specified)"] + list(ok["label"])
    est = np.r_[primary["estimate"], ok["estimate"].to_numpy(float)]
    lo = np.r_[primary["ci_lower"], ok["ci_lower"].to_numpy(float)]
    hi = np.r_[primary["ci_upper"], ok["ci_upper"].to_numpy(float)]
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 0.42 * len(labels) + 1.2))
    y = np.arange(len(labels))[::-1]
    colors = [PALETTE[0]] + [PALETTE[6]] * len(ok)
    for yi, e, a, b, c in zip(y, est, lo, hi, colors):
        ax.plot([a, b], [yi, yi], color=c, lw=2.5 if c == PALETTE[0] else 1.5)
        ax.plot([e], [yi], "o", color=c, ms=7 if c == PALETTE[0] else 5)
    ax.axvspan(lo[0], hi[0], color=PALETTE[0], alpha=0.08)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"effect on {outcome} per period (95% interval)")
    ax.set_title("Does the primary estimate survive reasonable alternatives?")
    _synthetic_mark(ax, synthetic)
    return ax


def statutory_series(series: pd.Series, breaks: list[tuple[str, str]], ax: Any = None, synthetic: bool = False) -> Any:
    """England's monthly rate with the COVID months shaded and the statutory (solid) and placebo (dotted) dates."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    x = series.index.to_timestamp()
    ax.plot(x, series.to_numpy(), color=PALETTE[0], lw=1.4)
    ax.axvspan(pd.Timestamp("2020-03-01"), pd.Timestamp("2021-03-31"), color="grey", alpha=0.2, label="COVID break (left out of the fits)")
    for label, date in breaks:
        ax.axvline(pd.Timestamp(date + "-01"), color=PALETTE[1] if label == "statutory" else PALETTE[6], ls="-" if label == "statutory" else ":", lw=1.2, label=f"{label} {date}")
    ax.set_ylabel(f"{readable(series.name)}, England", fontsize=9)
    ax.set_xlabel("month")
    ax.set_title(f"Did {readable(series.name)} change when ICSs became statutory (July 2022)? Descriptive, not causal", fontsize=9)
    if ax.figure.get_layout_engine() is None:  # stacked panels: no title or label runs into the next one
        ax.figure.set_layout_engine("constrained")
    ax.legend(frameon=False, fontsize=7, loc="lower left")
    _synthetic_mark(ax, synthetic)
    return ax


# ---------------------------------------------------------------------------------------------------------------
# Alt text: every figure a notebook shows carries a description generated from its content
def figure_alt(fig: Any) -> str:
    """A description of a figure from its content: its title, and per panel the title, axis labels and the labelled
    series (legend entries), for screen readers and for the ``alt`` attribute of the rendered reports."""
    parts = []
    sup = " ".join(fig._suptitle.get_text().split()) if getattr(fig, "_suptitle", None) is not None else ""
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible() and (ax.has_data() or ax.get_title())]
    head = f"Figure{': ' + sup if sup else ''} with {len(panels)} panel{'s' if len(panels) != 1 else ''}"
    synthetic = any(t.get_text() == "SYNTHETIC DATA" for ax in fig.axes for t in ax.texts)
    parts.append(head + (", made from synthetic data" if synthetic else "") + ".")
    for i, ax in enumerate(panels[:12], 1):
        bits = []
        if ax.get_title():
            bits.append(" ".join(ax.get_title().split()))  # a wrapped title read as one line
        if ax.get_xlabel():
            bits.append(f"horizontal axis {ax.get_xlabel()}")
        if ax.get_ylabel():
            bits.append(f"vertical axis {ax.get_ylabel()}")
        handles, labels = ax.get_legend_handles_labels()
        shown = [lab for lab in labels if lab and not lab.startswith("_")]
        if shown:
            bits.append("series " + ", ".join(dict.fromkeys(shown)))
        parts.append(f"Panel {i}: " + "; ".join(bits) + "." if bits else f"Panel {i}.")
    if len(panels) > 12:
        parts.append(f"And {len(panels) - 12} more panels.")
    return " ".join(parts)


FIGURE_DIR: list[Any] = []  # a lab run's figures/ folder (set by evidence.open_run outside `evidence run`)


def _png_with_alt(fig: Any) -> Any:
    from IPython.core.pylabtools import print_figure

    data = print_figure(fig, "png", bbox_inches="tight")
    if data is None:
        return None
    alt = figure_alt(fig)
    if FIGURE_DIR:  # a notebook run outside `evidence run` keeps its figures in its own run folder
        folder = FIGURE_DIR[0]
        folder.mkdir(parents=True, exist_ok=True)
        n = len(list(folder.glob("*.png"))) + 1
        (folder / f"figure-{n:02d}.png").write_bytes(data)
        (folder / f"figure-{n:02d}.txt").write_text(alt + "\n", encoding="utf-8")
    return (data, {"alt": alt})


def install_figure_alt() -> None:
    """Display every matplotlib figure in this IPython kernel as a PNG with generated alt text (output metadata
    ``image/png.alt``, written as the ``alt`` attribute by the report template); no-op outside IPython."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover
        return
    ip = get_ipython()
    if ip is None:
        return
    # pyplot sets up its backend at the first figure, and the inline backend then registers its own PNG printer:
    # set it up now so the printer registered here is the one that stays
    plt.close(plt.figure())
    ip.display_formatter.formatters["image/png"].for_type(Figure, _png_with_alt)
