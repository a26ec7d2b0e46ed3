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
    pre &= np.isfinite(y)  # available cells (data.missing: allow)
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
        ri = randomization_inference(d, outcome, estimator="cs", permutations=p["permutations"], seed=ctx.seed, cs_control=p["control_group"], anticipation=p["anticipation"], alpha=ctx.alpha, level=ctx.params["inference.permutation_level"])
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
        f"Estimand: the average effect of {'ICS designation' if ctx.panel.source in ('nhs_ae', 'records') else 'the treatment'} on {outcome} over treated units' post-designation periods "
        f"(Callaway-Sant'Anna overall ATT, the simple aggregation of ATT(g,t) weighted by cohort size), against "
        f"{p['control_group'].replace('_', '-')} units, {p['base_period']} base period, "
        f"{'unconditional' if not p['covariates'] else 'outcome regression on ' + ', '.join(p['covariates'])}. "
        "Assumes parallel trends between cohorts and their comparison units and no anticipation; inference: "
        "cluster-robust standard errors from the influence functions" + (" and randomisation inference over designation timing." if "randomization" in details else ".")
    )
    details["treatment_label"] = "ICS designation" if ctx.panel.source in ("nhs_ae", "records") else "the treatment"
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


def balanced_horizon(design: Design) -> int:
    """The last event time every treated cohort reaches within the window (the balanced event window is 0..this)."""
    g = design.g[np.isfinite(design.g)]
    return int(design.panel.n_periods - 1 - g.max()) if g.size else -1


def honest_primary(ctx: Any, proto: Protocol, primary: PrimaryResult) -> dict[str, Any]:
    """HonestDiD on the primary analysis's event-time estimand (see the module's decision below).

    Context: HonestDiD bounds violations of parallel trends in an event study; the primary estimate (the simple ATT)
    averages over all treated unit-periods, whose composition changes with event time. Decision: the headline
    event-time estimand is the average of the primary's dynamic (event-time) effects over the **balanced** window
    0..E, E the last event time every cohort reaches (``robustness.honest_target: average``; ``first`` or an event
    time give other targets), and HonestDiD targets exactly that, with relative magnitudes and smoothness and their
    breakdown values. The pre-period is the protocol's Callaway-Sant'Anna event study with a universal base period
    (re-estimated with one when the protocol's base period is varying), leads from ``robustness.honest_window``.
    Consequences: the sensitivity bound is about a stated estimand whose cohort mix does not change across the
    window it averages.

    Returns
    -------
    dict
        ``estimand`` (tidy rows: method ``cs``, estimand ``event_average`` / ``event_first`` / ``event_<k>``),
        ``honest`` (list of :class:`~evidence.robust.honest.HonestResult`, relative magnitudes then smoothness),
        ``window`` (lead, E), ``target`` (text), or ``not_applicable`` (reason) when it cannot run.
    """
    from .robust.honest import event_study_inputs, honest_did
    from .staggered.from_design import cs

    d = primary.details["design"]
    dyn = primary.details["dynamic"]
    p = proto.primary
    if p["base_period"] != "universal" or p["covariates"]:
        dyn = cs(d, p["outcome"], control_group=p["control_group"], est_method="reg", base_period="universal", anticipation=p["anticipation"], covariates=p["covariates"] or None, alpha=ctx.alpha).aggregate("dynamic")
    E = balanced_horizon(d)
    lead = int(ctx.params["robustness.honest_window"][0])
    target = str(ctx.params["robustness.honest_target"])
    if E < 0:
        return {"not_applicable": "no treated cohort has a post-treatment period in the window (parameter: design.end)"}
    from .applicability import honest_window

    win, win_note = honest_window(d, (lead, E))
    if win is None:
        return {"not_applicable": f"{win_note} (parameter: robustness.honest_window)"}
    lead, E = win
    try:
        b, S, n_pre, n_post, times = event_study_inputs(dyn, window=(lead, E))
    except Exception as exc:  # noqa: BLE001 - reported as not applicable with the reason
        return {"not_applicable": f"the event study cannot feed HonestDiD: {exc}"}
    if n_pre < 2:
        return {"not_applicable": f"fewer than two pre-period event times between {lead} and -2 (parameter: robustness.honest_window)"}
    if target == "average":
        lv, name = np.full(n_post, 1.0 / n_post), "event_average"
        text = f"average effect over event times 0 to {E} (the balanced window: every cohort observed)"
    elif target == "first":
        lv, name, text = np.eye(n_post)[0], "event_first", "effect at event time 0"
    else:
        k = int(target)
        if not 0 <= k <= E:
            return {"not_applicable": f"event time {k} is outside the balanced window 0..{E} (parameter: robustness.honest_target)"}
        lv, name, text = np.eye(n_post)[k], f"event_{k}", f"effect at event time {k}"
    post_b, post_S = b[n_pre:], S[n_pre:, n_pre:]
    est = float(lv @ post_b)
    se = float(np.sqrt(lv @ post_S @ lv))
    from .results import normal_inference

    lo, hi, pv = normal_inference(est, se, ctx.alpha)
    t = dyn.tidy()
    n = dict(n_obs=int(t["n_obs"].iloc[0]), n_units=int(t["n_units"].iloc[0]), n_clusters=int(t["n_clusters"].iloc[0]))
    rows = tidy_frame([{"method": "cs", "outcome": p["outcome"], "estimand": name, "group": "all", "estimate": est, "std_error": se, "ci_lower": float(lo), "ci_upper": float(hi), "p_value": float(pv), **n}])
    honest = [honest_did(b, S, n_pre, n_post, method=m, target=lv, grid=(ctx.params["robustness.honest_grid_rm"] if m == "relative_magnitude" else (ctx.params["robustness.honest_grid_sm"] or None)), alpha=ctx.alpha, outcome=p["outcome"], source="cs") for m in ("relative_magnitude", "smoothness")]
    out = {"estimand": rows, "honest": honest, "window": (lead, E), "target": text}
    if win_note:
        out["note"] = f"HonestDiD window {win_note} (parameter: robustness.honest_window)."
    return out


COVID_START = "2020-03"
"""First month of the COVID break (shared data caveat: treat 2020-03 .. 2021-03 as a break)."""


def wave_identifiability(ctx: Any) -> pd.DataFrame:
    """Which designation waves the design can identify, and why not the others (stated, not discovered).

    Context: waves 4-6 were designated during the pandemic (April/May 2020, December 2020) or after it began
    (April 2021), and from April 2021 every footprint was an ICS. Decision: for each wave, from the designation
    table and the run's date basis, count the footprints, the pre-COVID months of follow-up and the comparison
    footprints still undesignated at its first treated month; a wave is identifiable before COVID when it has
    follow-up before 2020-03 and comparisons; otherwise the table says why. Consequences: the report states which
    waves can be evaluated instead of failing or estimating without a comparison.

    Returns
    -------
    pandas.DataFrame
        ``wave``, ``first treated month``, ``footprints``, ``pre-COVID months of follow-up``, ``comparison
        footprints at designation``, ``identifiable``, ``why``; empty when the treatment is a column.
    """
    from .data.designations import load_designations
    from .paths import resolve

    p = ctx.params
    if p["treatment.cohort"] or p["treatment.indicator"] or ctx.panel.source != "nhs_ae":
        out = pd.DataFrame(columns=["wave", "first treated month", "footprints", "identifiable", "why"])
        out.attrs["not_applicable"] = "Not applicable: designation waves exist for the built-in NHS data and the designation table only (parameters: data.source, treatment.cohort)."
        return out
    t = load_designations(resolve(p["treatment.designations"]))
    basis = p["treatment.date_basis"]
    date = pd.to_datetime(t[basis] if basis in t.columns else t["announced"])
    t = t.assign(_d=date).sort_values("_d").drop_duplicates("stp21_code")  # each footprint's first designation
    first = (t["_d"] + pd.offsets.MonthBegin(1)).dt.to_period("M")  # counts from the next full month
    t = t.assign(first=first)
    covid = pd.Period(COVID_START, "M")
    rows = []
    for w, d in t.groupby("wave"):
        start = d["first"].min()
        later = int((t["first"] > start).sum())
        follow = max(0, (covid - start).n) if start < covid else 0
        if later == 0:
            ok, why = False, "no footprint was still undesignated: every footprint was an ICS by then (no concurrent comparison)"
        elif follow == 0:
            ok, why = False, f"designated after COVID began ({COVID_START}): no pre-pandemic follow-up, and the pandemic hit regions differently, so period effects do not absorb it"
        else:
            ok, why = True, f"{follow} months of pre-COVID follow-up against {later} footprints designated later"
        rows.append({"wave": int(w), "first treated month": str(start), "footprints": len(d), "pre-COVID months of follow-up": follow, "comparison footprints at designation": later, "identifiable": "yes" if ok else "no", "why": why})
    return pd.DataFrame(rows)


COVID_END = "2021-03"


def covid_era(ctx: Any, proto: Protocol) -> dict[str, Any]:
    """Waves 1-3 followed to March 2021, the pandemic months included (labelled as such; not the primary).

    Context: the primary window stops before COVID; a reader asks what happened next, but from March 2020 the
    pandemic hit regions differently, so calendar-period effects do not absorb it, and from April 2021 every
    footprint was an ICS. Decision: every wave is treated by its designation date, the window runs to March 2021,
    and the protocol's estimator averages the post-designation cells of the protocol's waves only (the later waves
    act as not-yet-treated comparisons until their designation, wave 6 throughout). Consequences: a COVID-era estimate, stated with its caveat, never the headline.

    Returns
    -------
    dict
        ``rows`` (tidy: estimand ``simple`` with group ``covid era: <first>..<last>`` for the whole follow-up and for
        the pandemic months), ``design``, ``note``; or ``not_applicable`` with the reason.
    """
    from .staggered.from_design import cs

    p = ctx.params
    if ctx.panel.source != "nhs_ae" or p["treatment.cohort"] or p["treatment.indicator"]:
        return {"not_applicable": "the COVID-era follow-up is defined for the built-in NHS data and the designation table (parameter: data.source)"}
    labels = ctx.panel.period_labels
    if COVID_END not in labels:
        return {"not_applicable": f"the data end before {COVID_END} (parameter: data.local_months)"}
    from .sensitivity import _prepare

    outcome = proto.primary["outcome"]
    waves = proto.waves or list(p["treatment.waves"])
    d = _prepare(p, outcome, {"treatment.waves": [1, 2, 3, 4, 5, 6], "design.end": COVID_END})
    keep = d.included
    keep_labels = sorted(keep.loc[keep["status"].eq("treated") & keep["wave"].isin(waves), "first_treated"].dropna().unique())
    if not keep_labels:
        return {"not_applicable": "none of the protocol's waves is treated in the COVID-era window"}
    lab = d.panel.period_labels
    values = [lab.index(x) + 1 for x in keep_labels]  # cohort values of the estimator: period index + 1
    pr = proto.primary
    res = cs(d, outcome, control_group="not_yet_treated", est_method="reg", base_period=pr["base_period"], anticipation=pr["anticipation"], alpha=ctx.alpha)
    rows = []
    whole = res.aggregate("simple", cohorts=values).tidy().assign(group=f"covid era: waves {', '.join(map(str, waves))}, {lab[0]}..{COVID_END}")
    rows.append(whole)
    note = (f"Every wave treated by its designation date, window {lab[0]} to {COVID_END}; averaged over the post-designation cells of waves "
            f"{', '.join(map(str, waves))} (cohorts {', '.join(keep_labels)}); later waves are comparisons until designated. COVID hit regions "
            "differently from March 2020, so calendar-period effects do not absorb it: read this as descriptive of the pandemic period, not as the effect of designation.")
    return {"rows": tidy_frame(pd.concat(rows, ignore_index=True)), "design": d, "note": note}
