"""The pre-specified primary analysis, the secondary family and negative controls (notebook ``00_primary``).

Decisions (Context / Decision / Consequences)
---------------------------------------------
Effects in units a reader uses
    Context: an effect in "admissions per 100,000 per footprint-month" is hard to read. Decision: the primary
    estimate is also given per 100,000 per year (times the periods in a year) and as a percentage of the treated
    footprints' pre-treatment mean (the mean over treated unit-periods before each unit's first treated period,
    treated as fixed: its sampling error is ignored, and said so). The baseline and each conversion are rows of
    ``estimates.csv`` (estimands ``simple_per_year``, ``simple_pct``; method ``baseline``). Consequences: every
    number of the summary traces to a row.
Randomisation inference beside the analytic interval
    Context: 14 treated footprints are few clusters; cluster-robust intervals can be too narrow. Decision: the
    protocol pre-specifies randomisation inference over designation timing (cohort sizes kept) for the primary
    estimate, computed for the same Callaway-Sant'Anna estimator; its interval inverts sharp nulls of a constant
    additive effect. Consequences: two intervals, both pre-specified; a reader sees whether they agree.
Secondary outcomes on their own panels
    Context: GP payments (financial years) and the GP Patient Survey (annual survey years, ICB x deprivation cells)
    are other panels; and some outcomes cannot be measured in every footprint (the 4-hour measure leaves Frimley out when the
    window overlaps the field test). Decision: each secondary or negative-control outcome is analysed on the panel
    that outcome allows, with the primary's estimator and options; Holm's adjustment runs over the secondary family
    (negative controls are not in it). Consequences: the primary keeps every footprint; a secondary outcome that
    drops one says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .design import Design
from .protocol import Protocol
from .results import EstimateResult, tidy_frame

PERIODS_PER_YEAR: dict[str, int] = {"month": 12, "quarter": 4, "year": 1, "fy": 1}


def treated_baseline(design: Design, outcome: str) -> float:
    """Mean outcome over treated unit-periods before each unit's first treated period (within the window)."""
    y = design.panel.matrix(outcome)
    g = design.g
    t = np.arange(y.shape[1])[None, :]
    pre = np.isfinite(g)[:, None] & (t < np.where(np.isfinite(g), g, 0)[:, None])
    return float(y[pre].mean()) if pre.any() else float("nan")


def _design_for(ctx: Any, outcome: str) -> Design:
    """The design of the run when it analyses ``outcome``; otherwise one built for that outcome alone."""
    if outcome in ctx.panel.outcomes:
        return ctx.design
    from .pipeline import prepare_outcomes

    return prepare_outcomes(ctx.params, [outcome])[1]


class PrimaryResult(EstimateResult):
    """The primary estimate with its pre-specified inference and its conversions (``tidy()`` rows)."""

    def __init__(self, rows: pd.DataFrame, *, outcome: str, description: str, alpha: float, details: dict[str, Any]) -> None:
        super().__init__(rows, method="cs", outcome=outcome, estimand="simple", description=description, alpha=alpha, details=details)

    def summary(self, digits: int = 4) -> str:
        return super().summary(digits)

    def plot(self, ax: Any = None) -> Any:
        """The dynamic event study of the primary analysis with the overall estimate; returns the Axes."""
        return self.details["dynamic"].plot(ax=ax)


def analyse(ctx: Any, proto: Protocol, outcome: str, *, design: Design | None = None, randomization: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The protocol's estimator on one outcome: tidy rows (analytic, randomisation, baseline and conversions) and details."""
    from .robust.randomization import randomization_inference
    from .staggered.from_design import cs

    d = design if design is not None else _design_for(ctx, outcome)
    p = proto.primary
    att = cs(d, outcome, control_group=p["control_group"], est_method="reg", base_period=p["base_period"], anticipation=p["anticipation"], covariates=p["covariates"] or None, bootstrap_draws=0, alpha=ctx.alpha)
    simple = att.aggregate("simple").tidy()
    dynamic = att.aggregate("dynamic")
    rows = [simple]
    details: dict[str, Any] = {"design": d, "att_gt": att, "dynamic": dynamic}
    if randomization and "randomization" in p["inference"] and not p["covariates"]:
        ri = randomization_inference(d, outcome, estimator="cs", permutations=p["permutations"], seed=ctx.seed, cs_control=p["control_group"], anticipation=p["anticipation"], alpha=ctx.alpha)
        r = ri.tidy()
        r["method"] = "randomization"
        r["estimand"] = "simple"
        rows.append(r)
        details["randomization"] = ri
    base = treated_baseline(d, outcome)
    n = dict(n_obs=int(simple["n_obs"].iloc[0]), n_units=int(simple["n_units"].iloc[0]), n_clusters=int(simple["n_clusters"].iloc[0]))
    rows.append(pd.DataFrame([{"method": "baseline", "outcome": outcome, "estimand": "treated_pre_mean", "group": "all", "estimate": base, **n}]))
    per_year = PERIODS_PER_YEAR.get(d.panel.frequency)
    conv = []
    for r in pd.concat(rows[:-1], ignore_index=True).itertuples():
        scaled = {"estimate": r.estimate, "std_error": r.std_error, "ci_lower": r.ci_lower, "ci_upper": r.ci_upper}
        common = {"method": r.method, "outcome": outcome, "group": "all", "p_value": r.p_value, **n}
        if per_year and per_year != 1:
            conv.append({**common, "estimand": "simple_per_year", **{k: v * per_year for k, v in scaled.items()}})
        if np.isfinite(base) and base != 0:
            conv.append({**common, "estimand": "simple_pct", **{k: 100 * v / base for k, v in scaled.items()}})
    rows.append(pd.DataFrame(conv))
    tidy = tidy_frame(pd.concat([tidy_frame(x) for x in rows], ignore_index=True))
    details.update(baseline=base, per_year=per_year, notes=list(att.notes))
    return tidy, details


def primary_analysis(ctx: Any, proto: Protocol) -> PrimaryResult:
    """Run the protocol's primary analysis (see the module's decisions).

    Returns
    -------
    PrimaryResult
        Rows: ``cs``/``simple`` (analytic), ``randomization``/``simple`` (when pre-specified), ``baseline`` /
        ``treated_pre_mean``, and ``simple_per_year`` / ``simple_pct`` conversions of both.
    """
    outcome = proto.primary["outcome"]
    tidy, details = analyse(ctx, proto, outcome)
    p = proto.primary
    desc = (
        f"Estimand: the average effect of ICS designation on {outcome} over treated units' post-designation periods "
        f"(Callaway-Sant'Anna overall ATT, the simple aggregation of ATT(g,t) weighted by cohort size), against "
        f"{p['control_group'].replace('_', '-')} units, {p['base_period']} base period, "
        f"{'unconditional' if not p['covariates'] else 'outcome regression on ' + ', '.join(p['covariates'])}. "
        "Assumes parallel trends between cohorts and their comparison units and no anticipation; inference: "
        "cluster-robust standard errors from the influence functions" + (" and randomisation inference over designation timing." if "randomization" in details else ".")
    )
    return PrimaryResult(tidy, outcome=outcome, description=desc, alpha=ctx.alpha, details=details)


def family_analysis(ctx: Any, proto: Protocol) -> pd.DataFrame:
    """Secondary outcomes and negative controls with the primary's estimator; Holm over the secondary family.

    Returns
    -------
    pandas.DataFrame
        Tidy rows: for each outcome its ``cs``/``simple`` row, baseline and conversions; ``holm``/``simple`` rows
        carry the adjusted p-values of the secondary family. Negative controls have method ``cs`` and are listed in
        ``details`` (``attrs["negative_controls"]``).
    """
    from .robust.multiple import holm

    frames = []
    for outcome in [o for o in proto.secondary + proto.negative_controls if o != proto.primary["outcome"]]:
        if ":" in outcome:  # another built-in source (GP payments, GP Patient Survey): its own panel and window
            from .pipeline import prepare_source

            source, column = outcome.split(":", 1)
            prefix = "costs" if source == "gp_payments" else "satisfaction"
            _, d = prepare_source(ctx.params, source, [column], ctx.params[f"{prefix}.start"], ctx.params[f"{prefix}.end"])
            tidy, _ = analyse(ctx, proto, column, design=d, randomization=False)
            tidy["outcome"] = outcome
        else:
            tidy, _ = analyse(ctx, proto, outcome, randomization=False)
        frames.append(tidy)
    out = tidy_frame(pd.concat(frames, ignore_index=True)) if frames else tidy_frame([])
    sec = out[(out["method"] == "cs") & (out["estimand"] == "simple") & out["outcome"].isin(proto.secondary)]
    if proto.multiplicity == "holm" and len(sec):
        out = tidy_frame(pd.concat([out, holm(sec)], ignore_index=True))
    out.attrs["negative_controls"] = list(proto.negative_controls)
    out.attrs["secondary"] = list(proto.secondary)
    return out


def baseline_balance(ctx: Any, proto: Protocol) -> pd.DataFrame:
    """Table 1 for the run: the protocol's outcomes (levels and trends), population, covariates, region and, for the
    built-in NHS data, age structure and overlapping-programme exposure (:mod:`evidence.balance`)."""
    from .balance import balance_table, nhs_unit_extras

    design = ctx.design
    cols = [o for o in proto.outcomes if o in design.panel.data.columns]
    if design.panel.has_population:
        cols.append("population")
    extra = nhs_unit_extras(design) if ctx.panel.source == "nhs_ae" else None
    return balance_table(design, cols, extra, PERIODS_PER_YEAR.get(design.panel.frequency))
