"""Tables and sentences for the notebooks, generated from data and results (never written by hand).

Every function here returns a DataFrame, a string, or an IPython ``Markdown`` object built from numbers it is given,
so the narrative a reviewer reads is true for the data the run used.
"""

from __future__ import annotations

import re

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .design import Design
from .panel import Panel
from .results import stack


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def md(text: str) -> Any:
    """Wrap text as IPython Markdown (plain string when IPython is absent).

    Context: report text interpolates parameters and data (titles, unit and outcome names, notes), and a Markdown
    cell renders raw HTML. Decision: every ``<`` that could open a tag, comment or declaration becomes ``&lt;``
    here, so no Markdown the package emits can carry an element (the package writes no HTML into Markdown); text
    from parameters and data is also passed through :func:`_esc`, which neutralises Markdown's own control
    characters. Consequences: a title like ``<script>...`` or ``[x](javascript:...)`` is shown as written.
    """
    text = _TAG_START.sub("&lt;", str(text))
    try:
        from IPython.display import Markdown

        return Markdown(text)
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return text


def fmt(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant figures, thousands separated; '-' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def header(ctx: Any) -> Any:
    """Run title, description and, for synthetic runs, a banner."""
    p = ctx.params
    lines = [f"**{_esc(p['title'])}** — run {code(p.run_name)}, parameters {code(p.source)}" + (f" with overrides {', '.join(code(o) for o in p.overrides)}" if p.overrides else "") + "."]
    if p["description"]:
        lines.append(_esc(p["description"]))
    src = "NHS England A&E attendances and emergency admissions (monthly, by provider), mapped to 2021 ICS footprints: activity at providers in the footprint (per resident of the footprint for rates)" if ctx.panel.source == "nhs_ae" else f"user file {code(ctx.panel.source)}"
    lines.append(f"Data: {src}; {ctx.panel.n_units} units x {ctx.panel.n_periods} {ctx.panel.frequency} periods ({ctx.panel.period_labels[0]} to {ctx.panel.period_labels[-1]}).")
    try:
        from .protocol import resolve

        proto = resolve(p)
        dev = len(proto.run_deviations) + len(proto.deviations)
        kind = {"written": "pre-specified", "nhs_ae default": "the default NHS protocol", "derived": "derived from the data"}[proto.source]
        fixed = f"fixed {proto.fixed_on}" + (f" in commit {proto.fixed_commit[:10]}" if proto.fixed_commit else "") if proto.fixed_on else "not fixed"
        lines.append(f"Protocol `{proto.digest[:12]}` ({kind}; {fixed}): primary outcome {_esc(proto.primary['outcome'])}; {dev} deviation(s) — see 00_primary.")
    except Exception as exc:  # noqa: BLE001 - the header must render even if the protocol cannot be resolved
        lines.append(f"Protocol: not resolved ({_esc(exc)}).")
    if ctx.synthetic:
        lines.insert(0, "> **SYNTHETIC DATA** — every number below comes from simulated data, not from the NHS.")
    return md("\n\n".join(lines))


def not_applicable(ctx: Any) -> Any:
    """The preflight's lines for this notebook when none of its analyses applies to the design (generated)."""
    own = [v for v in ctx.plan if v.notebook == ctx.notebook]
    lines = [f"**Not applicable to this design.** {ctx.design.describe()}", ""] + [f"- {_esc(v.sentence())}" for v in own]
    return md("\n".join(lines))


def coverage(panel: Panel) -> pd.DataFrame:
    """Coverage of the panel: units, periods, and per outcome the total, mean and range per unit-period."""
    rows = []
    for o in panel.outcomes:
        v = panel.data[o]
        rows.append({"outcome": o, "kind": panel.outcome_kinds.get(o, ""), "total": float(v.sum()) if panel.outcome_kinds.get(o) == "count" else np.nan, "mean per unit-period": float(v.mean()), "min": float(v.min()), "max": float(v.max())})
    df = pd.DataFrame(rows)
    df.attrs["caption"] = f"{panel.n_units} units x {panel.n_periods} periods ({panel.period_labels[0]} to {panel.period_labels[-1]}, {panel.frequency})"
    return df


def data_quality(panel: Panel) -> pd.DataFrame:
    """Checks performed on the panel, with their results."""
    rows = [
        {"check": "one row per unit and period (no duplicates)", "result": "passed"},
        {"check": "balanced panel", "result": f"passed: {panel.n_units} units x {panel.n_periods} periods = {len(panel.data)} rows"},
        {"check": "no gaps in time, one frequency", "result": f"passed ({panel.frequency})"},
        {"check": "outcomes numeric, no missing values, counts non-negative", "result": "passed"},
    ]
    mapping = panel.extras.get("mapping")
    if mapping is not None:
        for t, share in mapping.share_unmapped_by_type.items():
            rows.append({"check": f"A&E type {t} activity mapped to a 2021 footprint", "result": f"{1 - share:.4%} mapped ({share:.4%} unmapped)"})
    rec = panel.extras.get("records")
    if rec is not None:
        idc = "spell_id" if rec.kind == "spells" else "attendance_id"
        what = "LSOA codes (lsoa11_code)" if rec.geography == "residence" else "provider codes (provider_code)"
        rows += [
            {"check": f"{rec.kind} records: required columns and types (docs/records.md)", "result": f"passed: {rec.n_records:,} records in {len(rec.files) or 'remote'} file(s), engine {rec.engine}"},
            {"check": "no missing values; codes in the allowed lists; length of stay >= 0", "result": "passed"},
            {"check": f"{idc} unique", "result": "passed"},
            {"check": f"dates inside {rec.window[0]}..{rec.window[1]}", "result": "passed" if not rec.n_outside_window else f"{rec.n_outside_window:,} records outside, left out (data.records.outside_window: drop)"},
            {"check": f"{what} known to the 2021 footprint lookup", "result": "passed: all known" if not rec.n_unknown else f"{1 - rec.share_unknown:.4%} known; {rec.n_unknown:,} records ({rec.share_unknown:.4%}) with {len(rec.unknown)} unknown codes left out (data.records.unknown_codes: drop)"},
        ]
    for note in panel.notes:
        rows.append({"check": "note", "result": note})
    return pd.DataFrame(rows)


def unmapped_codes(panel: Panel, top: int = 15) -> pd.DataFrame:
    """Codes that could not be mapped, largest first: A&E provider codes (nhs_ae), or records' LSOA/provider codes."""
    rec = panel.extras.get("records")
    if rec is not None:  # record-level data: LSOA or provider codes unknown to the lookup, with their shares
        return rec.unknown.head(top).rename(columns={"n": "records", "share": "share_of_records_in_window"})
    mapping = panel.extras.get("mapping")
    if mapping is None or mapping.unmapped.empty:
        return pd.DataFrame(columns=["org_code", "type", "attendances", "share_of_selected", "provider_kind"])
    return mapping.unmapped[["org_code", "type", "attendances", "share_of_selected", "provider_kind"]].head(top)


def completeness(panel: Panel) -> pd.DataFrame:
    """Provider completeness incidents (built-in NHS data): the footprint, provider series, month, what was found, how
    far it moves the footprint's count, and the rule applied (``data.incomplete``)."""
    inc = panel.extras.get("completeness")
    cols = ["footprint", "provider(s)", "measure", "month", "finding", "published", "expected", "footprint count off by", "rule applied"]
    if inc is None or inc.empty:
        return pd.DataFrame(columns=cols)
    rule = {True: "imputed (data.incomplete: impute)", False: "flagged; analysed as published"}
    out = pd.DataFrame(
        {
            "footprint": inc["stp21_name"].fillna(inc["stp21_code"]),
            "provider(s)": inc["series"].str.replace(" type ", ", type ", regex=False),
            "measure": inc["measure"],
            "month": inc["period"].astype(str),
            "finding": inc["kind"],
            "published": inc["observed"].round(0).astype("Int64"),
            "expected": inc["expected"].round(0).astype("Int64"),
            "footprint count off by": (-inc["share_of_footprint"]).map(lambda x: f"{x:+.1%}"),
            "rule applied": [("listed: a change of provision or reporting, never imputed" if k == "series break" else ("listed: above the expected count, never imputed" if k == "excess month" else rule[bool(i)])) for k, i in zip(inc["kind"], inc["imputed"])],
        }
    )
    return out.reset_index(drop=True)


def unmapped_by_year(panel: Panel) -> pd.DataFrame:
    """Share of activity whose provider maps to no footprint, by calendar year (built-in NHS data)."""
    mapping = panel.extras.get("mapping")
    by_year = getattr(mapping, "by_year", None)
    if by_year is None:
        return pd.DataFrame(columns=["year", "measure", "total", "unmapped", "share unmapped"])
    out = by_year.rename(columns={"share_unmapped": "share unmapped"}).copy()
    out["share unmapped"] = out["share unmapped"].map(lambda x: f"{x:.3%}")
    return out


def mapping_routes(panel: Panel) -> pd.DataFrame:
    """How provider codes reached a footprint: directly, through successor chains, or not at all."""
    mapping = panel.extras.get("mapping")
    if mapping is None:
        return pd.DataFrame()
    codes = mapping.codes
    succ = codes[codes["route"] == "successor"][["org_code", "chain", "stp21_code"]]
    return succ.reset_index(drop=True)


def designation_table(design: Design) -> pd.DataFrame:
    """The cohort table of the design (status, cohort, wave, date, scope, confidence, reason)."""
    cols = ["unit", "unit_name", "status", "first_treated", "wave", "designation_date", "scope", "confidence", "reason"]
    df = design.cohorts[[c for c in cols if c in design.cohorts.columns]].copy()
    order = {"treated": 0, "excluded": 1, "not_yet_treated": 2, "never_treated": 3}
    return df.sort_values(by=["status", "first_treated", "unit"], key=lambda s: s.map(order) if s.name == "status" else s, kind="stable").reset_index(drop=True)


def estimates_table(results: Iterable[Any], digits: int = 4) -> pd.DataFrame:
    """Compact table of several results' rows: outcome, method, group/event time, estimate, CI, p."""
    df = stack([r.tidy() if hasattr(r, "tidy") else r for r in results])
    cols = ["outcome", "method", "estimand", "group", "event_time", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_clusters"]
    df = df[[c for c in cols if df[c].notna().any()]]
    return df.round(digits)


def key_numbers(results: Iterable[Any], digits: int = 4) -> str:
    """Plain-text key results (for nbval comparison): estimate and CI rounded to ``digits`` significant figures."""
    df = stack([r.tidy() if hasattr(r, "tidy") else r for r in results])
    lines = []
    for r in df.itertuples():
        where = r.group if isinstance(r.group, str) else (f"e={r.event_time}" if pd.notna(r.event_time) else "")
        lines.append(f"{r.method:<18} {r.outcome:<22} {where:<8} {r.estimate:>12.{digits}g} [{r.ci_lower:.{digits}g}, {r.ci_upper:.{digits}g}] p={r.p_value:.2g}")
    return "\n".join(lines)


def _effect_sentence(row: pd.Series, alpha: float) -> str:
    level = f"{100 * (1 - alpha):.0f}%"
    out = row["outcome"]
    is_log = str(out).endswith("_log")
    est = row["estimate"]
    if is_log:
        pct = 100 * (np.exp(est) - 1)
        lo, hi = 100 * (np.exp(row["ci_lower"]) - 1), 100 * (np.exp(row["ci_upper"]) - 1)
        text = f"{pct:+.1f}% ({level} CI {lo:+.1f}% to {hi:+.1f}%)"
    else:
        text = f"{fmt(est)} ({level} CI {fmt(row['ci_lower'])} to {fmt(row['ci_upper'])})"
    sig = row["p_value"] < alpha
    return text + ("; the interval excludes zero" if sig else "; the interval includes zero")


def did_verdict(ctx: Any, results_2x2: list[Any], results_twfe: list[Any], results_es: list[Any]) -> Any:
    """What the 2x2, TWFE and event-study results say, outcome by outcome, generated from the results.

    Also records run warnings (failed pre-trend tests, few treated clusters) for the run index.
    """
    design, alpha = ctx.design, ctx.alpha
    lines = []
    es_by = {r.outcome: r for r in results_es}
    d2 = {r.outcome: r.tidy() for r in results_2x2}
    for r in results_twfe:
        row = r.tidy().iloc[0]
        o = r.outcome
        text = f"- **{_esc(o)}**: TWFE effect {_effect_sentence(row, alpha)}"
        if o in d2:
            all_row = d2[o][d2[o]["group"] == "all"].iloc[0]
            same = np.sign(all_row["estimate"]) == np.sign(row["estimate"])
            text += f"; the 2x2 on pre/post means gives {_effect_sentence(all_row, alpha)}{'' if same else ', of the opposite sign'}"
        es = es_by.get(o)
        if es is not None and es.details.get("pretest"):
            pt = es.details["pretest"]
            if pt["p_value"] < alpha:
                ctx.warn(f"Pre-trend test rejects parallel trends for {o} in the TWFE event study (p = {pt['p_value']:.3f}).")
            text += (
                f". Pre-trend test (all {pt['df']} leads zero): F = {pt['F']:.2f}, p = {pt['p_value']:.3f} — "
                + ("**parallel trends are rejected** at the chosen level, so the effect estimates for this outcome are not credible as they stand." if pt["p_value"] < alpha else "no evidence against parallel trends in the leads (which does not prove them).")
            )
        lines.append(text.rstrip(".") + ".")
    head = []
    if design.is_staggered:
        head.append(
            f"Treatment timing is **staggered** ({len(design.cohort_labels)} cohorts: {', '.join(design.cohort_labels)}), so the single TWFE coefficient "
            "and the TWFE event study may mix in comparisons with already-treated units; read them beside the staggered-adoption estimators."
        )
    g_tr = design.n_treated_clusters
    if g_tr < 20:
        ctx.warn(f"Few treated clusters ({g_tr} of {design.n_clusters}): cluster-robust intervals are likely too narrow.")
        head.append(f"Only {g_tr} treated cluster(s) out of {design.n_clusters}: cluster-robust standard errors can be too small with so few treated clusters, so intervals here are likely too narrow.")
    return md("\n\n".join(head + lines))


def _count_model_not_run(mode: str) -> Any:
    why = "no count outcome has zeros (methods.did.count_model: auto analyses those; always analyses every count outcome)" if mode == "auto" else "methods.did.count_model is none, or there is no count outcome"
    return md(f"Not run: {why}.")


def _count_table(results: list[Any], mode: str, effect: tuple[str, str], pct: tuple[str, str]) -> Any:
    """A count model's table: per outcome the effect and the % change (each ``(estimand, column header)``) with
    intervals, the p-value, the units used and the model's notes; a generated sentence when nothing was analysed."""
    if not results:
        return _count_model_not_run(mode)
    rows = []
    for r in results:
        t = r.tidy().set_index("estimand")
        a, pc = t.loc[effect[0]], t.loc[pct[0]]
        rows.append({"outcome": r.outcome, effect[1]: _fmt_ci(a["estimate"], a["ci_lower"], a["ci_upper"]), pct[1]: _fmt_ci(pc["estimate"], pc["ci_lower"], pc["ci_upper"], unit="%"), "p-value": _p(a["p_value"]), "units used": int(a["n_units"]), "notes": " ".join(r.details.get("notes", []))})
    return pd.DataFrame(rows)


def poisson_table(results: list[Any], mode: str = "auto") -> Any:
    """Poisson TWFE results as a table (log ratio and % change with intervals, units used), with the units the model
    left out; a generated sentence when no outcome was analysed."""
    return _count_table(results, mode, ("att_log_ratio", "effect (log ratio, 95% CI)"), ("att_pct", "% change (95% CI)"))


def etwfe_table(results: list[Any], mode: str = "auto") -> Any:
    """Extended TWFE (Poisson) results: the average partial effect per treated unit-period on the count scale and the
    % change in the treated total, with intervals; a generated sentence when no outcome was analysed."""
    return _count_table(results, mode, ("simple", "effect per treated unit-period (count, 95% CI)"), ("simple_pct", "% change in the treated total (95% CI)"))


def pretest_table(results_es: list[Any]) -> pd.DataFrame:
    """Joint pre-trend tests of the event studies."""
    rows = []
    for r in results_es:
        pt = r.details.get("pretest")
        if pt:
            rows.append({"outcome": r.outcome, "leads tested": pt["df"], "F": round(pt["F"], 3), "p_value": round(pt["p_value"], 4)})
    return pd.DataFrame(rows)


def panel_fingerprint(panel: Panel, design: Design) -> str:
    """Short text fingerprint of the panel and design (for nbval comparison): sizes, totals, cohorts."""
    lines = [f"units={panel.n_units} periods={panel.n_periods} frequency={panel.frequency} window={design.window[0]}..{design.window[1]}"]
    for o in panel.outcomes:
        v = panel.data[o]
        lines.append(f"{o}: sum={v.sum():.6g} mean={v.mean():.6g}")
    sizes = design.cohort_sizes()
    lines.append("cohorts: " + "; ".join(f"{r.cohort}={r.units}" for r in sizes.itertuples()))
    return "\n".join(lines)


NHS_CAVEATS = [
    "**Provider, not residence.** A&E counts are recorded by the trust that treated the patient and mapped to the footprint of that trust (or its successor), so patients who cross boundaries count where they were treated.",
    "**Waves were selected, not randomised.** Early ICSs volunteered or were chosen (wave 2 among better performers on finance and access), so treated and comparison areas can differ in ways that also shape trends.",
    "**Overlapping programmes.** Integrated Care Pioneers (2013-2015) and New Care Models vanguards (2015) ran in many of the same places; effects here are of ICS designation on top of whatever those did.",
    "**Designation is not a dose.** Designation marked the start of a development programme; what changed on the ground, and when, varied by area.",
]


def caveats(ctx: Any) -> Any:
    """Caveats of the data and design of this run, generated from its source and design notes."""
    items = list(NHS_CAVEATS) if ctx.panel.source == "nhs_ae" else [f"**Data supplied by the user** (`{ctx.panel.source}`): its definitions, coverage and quality are the supplier's; check them before reading effects."]
    if ctx.panel.source == "nhs_ae":
        part = ctx.design.cohorts[(ctx.design.cohorts["status"] == "treated") & (ctx.design.cohorts["scope"] == "partial")]
        if len(part):
            items.append(f"**Partial designations.** {len(part)} treated footprint(s) were first designated for only part of their area ({_esc(', '.join(part['unit']))}); counting the whole footprint as treated dilutes any effect (see `treatment.partial`).")
        mapping = ctx.panel.extras.get("mapping")
        if mapping is not None and mapping.share_unmapped > 0:
            items.append(f"**Unmapped activity.** {mapping.share_unmapped:.1%} of the selected attendances come from providers that map to no footprint (mainly non-trust providers of minor injury services) and are left out.")
    for n in ctx.design.notes:
        if "Dropped" in n or "Excluded" in n:
            items.append(n)
    if ctx.synthetic:
        items.insert(0, "**Synthetic data.** Every number here comes from simulated data.")
    return md("\n".join(f"- {i}" for i in items))


def cs_pretest_table(results_cs: list[Any], design: Design) -> pd.DataFrame:
    """Callaway-Sant'Anna Wald pre-tests, with the number of clusters the covariance rests on."""
    rows = []
    for r in results_cs:
        pt = r.pretest
        if pt is None:
            continue
        rows.append({"outcome": r.outcome, "pre-period cells": pt.df, "W": round(pt.W, 2), "p_value": round(pt.p_value, 4), "clusters": design.n_clusters, "reliable": pt.df < design.n_clusters / 3})
    return pd.DataFrame(rows)


def uniform_band_pretrends(dynamic: list[Any]) -> pd.DataFrame:
    """Pre-treatment event times whose simultaneous (uniform) band excludes zero, per outcome."""
    rows = []
    for r in dynamic:
        d = r.tidy()
        pre = d[(d["estimand"] == "dynamic") & d["event_time"].notna() & (d["event_time"] < 0)]
        excl = pre[(pre["ci_lower"] > 0) | (pre["ci_upper"] < 0)]
        rows.append({"outcome": r.outcome, "pre-treatment event times": len(pre), "bands excluding zero": len(excl), "event times": ", ".join(str(int(e)) for e in excl["event_time"])})
    return pd.DataFrame(rows)


def method_comparison(rows_by_method: dict[str, list[Any]], estimands: dict[str, str]) -> pd.DataFrame:
    """One row per outcome and method: the overall ATT estimate and interval (TWFE vs CS vs Sun-Abraham vs imputation)."""
    out = []
    for method, results in rows_by_method.items():
        for r in results:
            d = r.tidy()
            est = estimands[method]
            row = d[(d["estimand"] == est) & (d["group"].fillna("") == "all")]
            if row.empty:
                continue
            row = row.iloc[0]
            out.append({"outcome": row["outcome"], "method": method, "estimand": est, "estimate": row["estimate"], "ci_lower": row["ci_lower"], "ci_upper": row["ci_upper"], "p_value": row["p_value"]})
    df = pd.DataFrame(out)
    order = {m: i for i, m in enumerate(rows_by_method)}
    return df.sort_values(["outcome", "method"], key=lambda s: s.map(order) if s.name == "method" else s, kind="stable").reset_index(drop=True)


def staggered_verdict(ctx: Any, comparison: pd.DataFrame, bacon: list[Any], bands: pd.DataFrame) -> Any:
    """What TWFE vs the staggered estimators say, outcome by outcome, generated from the results."""
    alpha = ctx.alpha
    lines = []
    for outcome, d in comparison.groupby("outcome", sort=False):
        d = d.set_index("method")
        signs = np.sign(d["estimate"])
        sig = d["p_value"] < alpha
        txt = f"- **{_esc(outcome)}**: " + "; ".join(f"{m} {fmt(r.estimate)} [{fmt(r.ci_lower)}, {fmt(r.ci_upper)}]" for m, r in d.iterrows())
        agree_sign = signs.nunique() == 1
        txt += ". The methods " + ("agree in sign" if agree_sign else "**disagree in sign**")
        txt += f"; {int(sig.sum())} of {len(d)} intervals exclude zero"
        if "twfe" in d.index and len(d) > 1:
            others = d.drop(index="twfe")["estimate"]
            gap = float(d.loc["twfe", "estimate"] - others.mean())
            spread = float(max(d["ci_upper"] - d["ci_lower"]))
            txt += f"; TWFE differs from the robust estimators' mean by {fmt(gap)} ({'small' if abs(gap) < spread / 4 else 'large'} relative to the widest interval)"
        if {"twfe", "imputation", "cs", "sun_abraham"} <= set(d.index):
            whole = float(d.loc[["twfe", "imputation"], "estimate"].mean())
            anchored = float(d.loc[["cs", "sun_abraham"], "estimate"].mean())
            spread = float(max(d["ci_upper"] - d["ci_lower"]))
            if abs(whole - anchored) > spread / 4:
                txt += (
                    f". TWFE and imputation (which use the whole pre-period as the baseline) average {fmt(whole)}, Callaway-Sant'Anna and "
                    f"Sun-Abraham (anchored at the last pre-treatment period) {fmt(anchored)}: the pattern expected when treated and comparison "
                    "areas were already on different trends before designation"
                )
        b = next((x for x in bacon if x.outcome == outcome), None)
        if b is not None:
            bt = b.by_type().set_index("type")
            if "later vs earlier treated" in bt.index:
                w = float(bt.loc["later vs earlier treated", "weight"])
                txt += f". In the Goodman-Bacon decomposition, comparisons against already-treated cohorts carry {w:.0%} of the TWFE weight"
        band = bands[bands["outcome"] == outcome]
        if len(band):
            n_ex = int(band["bands excluding zero"].iloc[0])
            n_pre = int(band["pre-treatment event times"].iloc[0])
            if n_ex:
                ctx.warn(f"Callaway-Sant'Anna uniform bands exclude zero at {n_ex} pre-treatment event time(s) for {outcome}: parallel trends doubtful.")
            txt += f". Pre-trends: the simultaneous band excludes zero at {n_ex} of {n_pre} pre-treatment event times" + (" — evidence against parallel trends" if n_ex else "")
        lines.append(txt + ".")
    return md("\n".join(lines))


def bacon_table(results: list[Any]) -> pd.DataFrame:
    """Weight and weighted-average estimate by comparison type, per outcome (Goodman-Bacon)."""
    frames = [r.by_type().assign(outcome=r.outcome, twfe=r.twfe) for r in results]
    df = pd.concat(frames, ignore_index=True)
    return df[["outcome", "type", "weight", "average estimate", "twfe"]]


def its_table(results: list[Any], estimands: tuple[str, ...] = ("level_change", "slope_change", "rate_ratio_post", "abs_diff_post")) -> pd.DataFrame:
    """Main ITS effects per outcome and series (pooled, controlled, per unit)."""
    df = stack([r.tidy() for r in results])
    df = df[df["estimand"].isin(estimands)]
    return df[["outcome", "group", "estimand", "estimate", "ci_lower", "ci_upper", "p_value"]].reset_index(drop=True)


def its_diagnostics(results: list[Any]) -> pd.DataFrame:
    """Autocorrelation tests of the pooled ITS models (treated series residuals)."""
    rows = []
    for r in results:
        d = r.diagnostics()
        d = d[d["series"].isin(["treated", "difference"])]
        for x in d.itertuples():
            rows.append({"outcome": r.outcome, "model": r.tidy()["group"].iloc[0], "series": x.series, "test": x.test, "lag": x.lag, "statistic": round(float(x.statistic), 3), "p_value": x.p_value})
    return pd.DataFrame(rows)


def its_verdict(ctx: Any, single: list[Any], controlled: list[Any]) -> Any:
    """What the ITS models say, generated from their estimates and diagnostics."""
    alpha = ctx.alpha
    lines = []
    for s, c in zip(single, controlled):
        ts, tc = s.tidy().set_index("estimand"), c.tidy().set_index("estimand")
        key = "rate_ratio_post" if "rate_ratio_post" in ts.index else "abs_diff_post"
        what = "rate ratio over the post-period" if key == "rate_ratio_post" else "average difference over the post-period"
        null = 1.0 if key == "rate_ratio_post" else 0.0

        def desc(t: pd.DataFrame) -> str:
            r = t.loc[key]
            sig = not (r["ci_lower"] <= null <= r["ci_upper"])
            return f"{fmt(r['estimate'])} ({100 * (1 - alpha):.0f}% CI {fmt(r['ci_lower'])} to {fmt(r['ci_upper'])}){'' if not sig else ', excluding ' + ('1' if null else '0')}"

        text = f"- **{_esc(s.outcome)}**: single-series {what} {desc(ts)}; controlled for the comparison series {desc(tc)}"
        ds = s.diagnostics()
        lb = ds[(ds["test"] == "ljung_box") & (ds["series"] == "treated")]
        if len(lb) and (lb["p_value"] < alpha).any():
            text += "; residuals are autocorrelated (Ljung-Box), so model-based intervals would be too narrow — the intervals shown are autocorrelation-robust" if ctx.params["methods.its.robust"] or s.details.get("family") == "gaussian" else "; residuals are autocorrelated (Ljung-Box) and the intervals are model-based, so they are too narrow (set methods.its.robust: true)"
        agree = (ts.loc[key, "estimate"] - null) * (tc.loc[key, "estimate"] - null) > 0
        text += "; the two agree in direction" if agree else "; **the single-series and controlled estimates point in opposite directions**, so whatever moved the treated series also moved the comparison areas"
        lines.append(text + ".")
    return md("\n".join(lines))


ACTIVITY_OF_OUTCOME = {
    "attendances": "ae_attendance", "attendances_incl_booked": "ae_attendance",
    "admissions": "emergency_admission", "emergency_admissions": "emergency_admission",
    "emergency_admissions_via_ae": "emergency_admission", "emergency_admissions_other": "emergency_admission",
}
ACTIVITY_OF_OUTCOME.update({f"{k}_per_100k": v for k, v in list(ACTIVITY_OF_OUTCOME.items())})


def effects_in_pounds(results: list[Any], costs: pd.DataFrame, estimand: str = "simple", periods_per_year: int = 12) -> pd.DataFrame:
    """Service-use effects valued at unit costs: **notional** pounds (activity valued at national average unit costs,
    not cash that could be released), intervals scaled by the same unit cost (unit costs treated as known).

    Counts per area and period give pounds per treated area per year; rates per 100,000 residents give pounds per
    100,000 residents per year (``scale``)."""
    uc = costs.set_index("activity")
    rows = []
    for r in results:
        t = r.tidy()
        t = t[(t["estimand"] == estimand) & (t["group"].fillna("all") == "all")]
        act = ACTIVITY_OF_OUTCOME.get(str(r.outcome))
        if act is None or act not in uc.index or t.empty:
            continue
        row, c = t.iloc[0], float(uc.loc[act, "unit_cost"])
        k = c * periods_per_year
        scale = "per 100,000 residents per year" if str(r.outcome).endswith("_per_100k") else "per treated area per year"
        rows.append({"outcome": r.outcome, "activity": act, "unit_cost": c, "price_year": uc.loc[act, "price_year"], "scale": scale, "effect per period": row["estimate"], "pounds": row["estimate"] * k, "pounds_se": row["std_error"] * k, "pounds_ci_lower": row["ci_lower"] * k, "pounds_ci_upper": row["ci_upper"] * k, "p_value": row["p_value"]})
    return pd.DataFrame(rows)


def pounds_rows(table: pd.DataFrame, method: str = "cs", estimand: str = "simple") -> pd.DataFrame:
    """Contract rows for notional effects in pounds per year (outcome ``<outcome>_gbp_per_year``), for estimates.csv."""
    return pd.DataFrame({"method": method, "outcome": table["outcome"] + "_gbp_per_year", "estimand": estimand, "group": "all", "estimate": table["pounds"], "std_error": table["pounds_se"], "ci_lower": table["pounds_ci_lower"], "ci_upper": table["pounds_ci_upper"], "p_value": table["p_value"]})


def family_verdict(ctx: Any, label: str, comparison: pd.DataFrame, scale: float = 1.0, unit: str = "") -> Any:
    """Sentences on one outcome family's overall effects by method (estimate x scale, in `unit`)."""
    lines = []
    for outcome, d in comparison.groupby("outcome", sort=False):
        parts = [f"{m} {fmt(r.estimate * scale)}{unit} [{fmt(r.ci_lower * scale)}, {fmt(r.ci_upper * scale)}]" for m, r in d.set_index("method").iterrows()]
        n_sig = int((d["p_value"] < ctx.alpha).sum())
        agree = np.sign(d["estimate"]).nunique() == 1
        lines.append(f"- **{_esc(outcome)}** ({_esc(label)}): " + "; ".join(parts) + f". {n_sig} of {len(d)} intervals exclude zero; the methods {'agree' if agree else '**disagree**'} in sign.")
    return md("\n".join(lines))


def pounds_sentences(table: pd.DataFrame, alpha: float = 0.05) -> Any:
    """One sentence per outcome valued in pounds (see :func:`effects_in_pounds`)."""
    if table is None or not len(table):
        return md("Not applicable: the run's data are not the NHS A&E source, or costs.enabled is false.")
    lines = [
        f"- **{_esc(r.outcome)}**: notional GBP {fmt(r.pounds)} {r.scale}, {100 * (1 - alpha):.0f}% CI GBP {fmt(r.pounds_ci_lower)} to "
        f"{fmt(r.pounds_ci_upper)}, at GBP {fmt(r.unit_cost)} per {r.activity.replace('_', ' ')} ({r.price_year} prices)."
        for r in table.itertuples()
    ]
    lines.append("*Notional*: activity valued at national average unit costs; fewer admissions or attendances would free capacity, not cash (fixed costs stay), so these are not savings.")
    return md("\n".join(lines))


def certainty_rules() -> Any:
    """The certainty rules, as the notebook states them."""
    from .summary import CERTAINTY_RULES

    return md("\n".join(f"{i + 1}. **{name.replace('_', ' ')}** — {text}" for i, (name, text) in enumerate(CERTAINTY_RULES)))


def evidence_verdict(tri: pd.DataFrame, rating: pd.DataFrame) -> Any:
    """One line per outcome: what the methods say and how certain it is."""
    import re

    from .tables import METHOD_NAMES, outcome_label

    r = rating.set_index("outcome")
    lines = []
    for row in tri.to_dict("records"):
        o = row["outcome"]
        families = re.sub(r"\(([a-z0-9_]+)\)", lambda m: f"({METHOD_NAMES.get(m.group(1), m.group(1))})", str(row["families"]))  # names, not codes
        lines.append(f"- **{_esc(outcome_label(o))}**: {row['methods']} design famil{'y' if row['methods'] == 1 else 'ies'} ({families}); {row['verdict']} (median estimate {fmt(row['median estimate'])}); certainty **{r.loc[o, 'certainty']}** — {r.loc[o, 'reasons']}.")
    return md("\n".join(lines))


def plan_sentences(check: pd.DataFrame, alpha: float = 0.05) -> Any:
    """What each plan assumption means against the evidence, in sentences."""
    if check is None or not len(check):
        return md("No plan assumptions were given (`plan.assumptions`).")
    lines = []
    for r in check.to_dict("records"):
        txt = (
            f"- **{_esc(r['assumption'])}**: the evidence ({r['method']}) estimates {r['estimated change']:+.1%} "
            f"({100 * (1 - alpha):.0f}% CI {r['ci_lower']:+.1%} to {r['ci_upper']:+.1%}); the assumed {r['assumed change']:+.1%} is "
            + ("inside the interval" if r["assumed inside interval"] else "**outside the interval**")
            + f", {abs(r['standard errors away']):.1f} standard errors from the estimate."
        )
        if "baseline per year" in r and pd.notna(r.get("baseline per year")):
            txt += f" For a footprint of this population ({fmt(r['baseline per year'])} a year at the treated areas' pre-designation rate), the assumption means {fmt(r['assumed change per year'])} a year; the estimate means {fmt(r['estimated change per year'])}."
            if pd.notna(r.get("assumed bed days per year", np.nan)):
                txt += f" At the given length of stay that is {fmt(r['assumed bed days per year'])} bed days a year."
            if pd.notna(r.get("assumed GBP per year", np.nan)):
                txt += f" In {r.get('price year', '2023/24')} prices: GBP {fmt(r['assumed GBP per year'])} a year assumed, GBP {fmt(r['estimated GBP per year'])} estimated."
        lines.append(txt)
    return md("\n".join(lines))


def synthetic_rows(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mark rows made from simulated data: the outcome becomes ``synthetic:<outcome>`` in estimates.csv."""
    out = tidy.copy()
    out["outcome"] = "synthetic:" + out["outcome"].astype(str)
    return out


def mde_table(results: dict[str, Any], analytic: pd.DataFrame | None = None) -> pd.DataFrame:
    """Minimum detectable effects at 80% power: family / outcome x method (simulated), plus analytic rows."""
    rows = []
    for family, pr in results.items():
        for m, v in pr.mde().items():
            rows.append({"family": family, "outcome": pr.outcome_label, "method": m, "MDE at 80% power": v, "scale": pr.effect_scale, "how": f"simulation ({pr.reps} reps per effect)"})
    df = pd.DataFrame(rows)
    if analytic is not None and len(analytic):
        df = pd.concat([df, analytic], ignore_index=True)
    return df


def analytic_mde(family: str, results: list[Any], power: float = 0.8, alpha: float = 0.05, scale: float = 1.0, unit: str = "") -> pd.DataFrame:
    """MDE = (z_{1-alpha/2} + z_power) x SE of the real estimate (the normal approximation), per result's overall row."""
    from scipy.special import ndtri

    k = float(ndtri(1 - alpha / 2) + ndtri(power))
    rows = []
    for r in results:
        t = r.tidy()
        t = t[t["group"].fillna("all") == "all"].iloc[0]
        rows.append({"family": family, "outcome": r.outcome, "method": r.method, "MDE at 80% power": k * t["std_error"] * scale, "scale": unit, "how": f"analytic: {k:.2f} x SE of the real estimate"})
    return pd.DataFrame(rows)


def power_verdict(mde: pd.DataFrame, validation: dict[str, Any]) -> Any:
    """Sentences on detectable effects and on which methods can be trusted on this design (synthetic data)."""
    lines = ["All numbers in this section come from **synthetic data** simulated on the real design."]
    for (family, outcome), d in mde.groupby(["family", "outcome"], sort=False):
        if d["MDE at 80% power"].isna().all():
            lines.append(f"- **{_esc(family)} — {_esc(outcome)}**: no method reaches 80% power within the simulated effect sizes, so the design cannot detect effects of that size (more units, a longer window or more power.reps would tell how large an effect it could detect).")
            continue
        d = d[d["MDE at 80% power"].notna()]
        best = d.loc[d["MDE at 80% power"].map(lambda v: abs(v - 1) if "ratio" in str(d["scale"].iloc[0]) else abs(v)).idxmin()]
        lines.append(f"- **{_esc(family)} — {_esc(outcome)}**: the smallest effect detectable with 80% power is {fmt(best['MDE at 80% power'])} ({best['scale']}) with {best['method']}; across methods {fmt(d['MDE at 80% power'].min())} to {fmt(d['MDE at 80% power'].max())}.")
    for outcome, v in validation.items():
        t = v.table()
        bad = t[(t["bias"].abs() > 2 * t["bias_mc_se"]) & (t["bias"].abs() > 0.05 * t["truth"].abs())]  # beyond Monte Carlo error and over 5% of the truth
        under = t[t["coverage"] < 0.9]
        txt = f"- **Validation on {outcome}** (true ATT {fmt(float(t['truth'].iloc[0]))}): "
        txt += ("biased: " + ", ".join(f"{m} ({fmt(r.bias)})" for m, r in bad.iterrows()) if len(bad) else "no method is materially biased")
        txt += "; " + ("coverage below 90%: " + ", ".join(f"{m} ({r.coverage:.0%})" for m, r in under.iterrows()) if len(under) else f"95% coverage {t['coverage'].min():.0%}-{t['coverage'].max():.0%}")
        lines.append(txt + ".")
    return md("\n".join(lines))


def validation_table(validation: dict[str, Any]) -> pd.DataFrame:
    """Bias, RMSE and coverage by outcome and method (synthetic data)."""
    frames = [v.table().reset_index().assign(outcome=o.split(" ")[0], reps=v.reps) for o, v in validation.items()]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    cols = ["outcome", "method", "reps", "truth", "mean_estimate", "bias", "bias_mc_se", "rmse", "coverage"]
    return df[[c for c in cols if c in df.columns]]


def synth_table(results: list[Any]) -> pd.DataFrame:
    """Overall ATT of each synthetic-control-family result, with its pre-period fit and placebo p-value."""
    rows = []
    for r in results:
        t = r.tidy()
        row = t[(t["estimand"] == "att") & (t["group"] == "all")].iloc[0]
        rows.append({"outcome": r.outcome, "method": r.method, "estimate": row["estimate"], "std_error": row["std_error"], "ci_lower": row["ci_lower"], "ci_upper": row["ci_upper"], "p_value": row["p_value"], "placebo p": r.details.get("p_value_placebo", np.nan), "pre-period RMSPE": r.pre_rmspe})
    return pd.DataFrame(rows)


def sc_units_table(results: list[Any]) -> pd.DataFrame:
    """Classic synthetic control, one row per treated unit and outcome: effect, pre-period fit and post/pre RMSPE."""
    rows = []
    for r in results:
        d = r.details
        for u in d.get("treated_units", []):
            rows.append({"outcome": r.outcome, "unit": u, "estimate": d["unit_estimates"][u], "pre-period RMSPE": d["pre_rmspe_by_group"][u], "post/pre RMSPE ratio": d["rmspe_ratio_by_group"][u]})
    return pd.DataFrame(rows)


def synth_verdict(ctx: Any, table: pd.DataFrame, units: pd.DataFrame) -> Any:
    """What the synthetic-control family says, generated from the estimates and fit statistics."""
    lines = []
    for outcome, d in table.groupby("outcome", sort=False):
        parts = "; ".join(f"{r.method} {fmt(r.estimate)} [{fmt(r.ci_lower)}, {fmt(r.ci_upper)}]" for r in d.itertuples())
        n_sig = int((d["p_value"] < ctx.alpha).sum())
        lines.append(f"- **{_esc(outcome)}**: {parts}. {n_sig} of {len(d)} intervals exclude zero.")
        u = units[units["outcome"] == outcome]
        if len(u):
            poor = u[u["pre-period RMSPE"] > 2 * u["pre-period RMSPE"].median()]
            lines[-1] += f" Per footprint (classic synthetic control), effects range from {fmt(u['estimate'].min())} to {fmt(u['estimate'].max())}"
            if len(poor):
                lines[-1] += f"; the synthetic match is poor (pre-period RMSPE over twice the median) for {', '.join(poor['unit'])}, so their gaps are unreliable"
            lines[-1] += "."
    return md("\n".join(lines))


def wild_table(wild: list[Any]) -> pd.DataFrame:
    """Cluster-robust (CRVE, t with G-1 df) against wild cluster bootstrap p-values and intervals."""
    rows = []
    for r in wild:
        t = r.tidy().iloc[0]
        d = r.details
        rows.append({"outcome": r.outcome, "estimator": d.get("estimator", ""), "estimate": t["estimate"], "std_error": t["std_error"], "CRVE p": d.get("p_value_crve", np.nan), "bootstrap p": t["p_value"], "ci_lower": t["ci_lower"], "ci_upper": t["ci_upper"], "clusters": t["n_clusters"], "draws": d.get("draws"), "enumerated": d.get("enumerated")})
    return pd.DataFrame(rows)


def ri_table(results: list[Any]) -> pd.DataFrame:
    """Randomisation-inference p-values and constant-effect intervals."""
    rows = []
    for r in results:
        t = r.tidy().iloc[0]
        rows.append({"outcome": r.outcome, "estimate": t["estimate"], "randomisation p": t["p_value"], "ci_lower": t["ci_lower"], "ci_upper": t["ci_upper"], "assignments": r.details.get("n_assignments") if r.details.get("exact") else r.details.get("permutations"), "exact": r.details.get("exact")})
    return pd.DataFrame(rows)


def honest_table(results: list[Any]) -> pd.DataFrame:
    """HonestDiD breakdown values: the largest violation of parallel trends (relative to the pre-period, or in
    curvature) under which the confidence set still excludes zero."""
    rows = []
    for r in results:
        t = r.tidy()
        b = t[t["estimand"] == "breakdown"]
        rows.append({"outcome": r.outcome, "event study": getattr(r, "source", ""), "restriction": "relative magnitudes (M-bar)" if "rm" in r.method else "smoothness (M)", "estimate": float(t[t["estimand"] != "breakdown"]["estimate"].iloc[0]), "breakdown": float(b["estimate"].iloc[0]) if len(b) else np.nan, "status": getattr(r, "breakdown_status", "")})
    return pd.DataFrame(rows)


def robustness_verdict(ctx: Any, wild: pd.DataFrame, ri: pd.DataFrame, honest: pd.DataFrame, placebo: pd.DataFrame, loo: pd.DataFrame, multiple: pd.DataFrame) -> Any:
    """One generated verdict per check."""
    from .tables import METHOD_NAMES, outcome_label

    a = ctx.alpha
    lines = []
    g_tr, G = ctx.design.n_treated_clusters, ctx.design.n_clusters
    lines.append(f"**Why these checks.** {g_tr} of {G} clusters are treated; cluster-robust t-tests over-reject with so few treated clusters, so the wild cluster bootstrap and randomisation inference carry the inference here.")
    for r in wild.to_dict("records"):
        agree = (r["CRVE p"] < a) == (r["bootstrap p"] < a)
        lines.append(f"- **{_esc(outcome_label(r['outcome']))}** ({_esc(METHOD_NAMES.get(str(r['estimator']), str(r['estimator'])))}): wild bootstrap p = {r['bootstrap p']:.3f} against CRVE p = {r['CRVE p']:.3f} — {'the same conclusion' if agree else '**a different conclusion**'} at {a:g}; interval {fmt(r['ci_lower'])} to {fmt(r['ci_upper'])}.")
    for r in ri.to_dict("records"):
        lines.append(f"- **{_esc(outcome_label(r['outcome']))}** (randomisation inference): p = {r['randomisation p']:.3f} over {r['assignments']:,} re-assignments of designation timing{' (all, exact)' if r['exact'] else ''}.")
    for r in honest.to_dict("records"):
        what = f"{_esc(outcome_label(r['outcome']))}** ({_esc(METHOD_NAMES.get(str(r['event study']), str(r['event study'])))}, {r['restriction']})"
        symbol = "M-bar" if "relative" in r["restriction"] else "M"
        status = str(r.get("status", ""))
        if status.startswith("not significant"):
            lines.append(f"- **{what}: the effect is not distinguishable from zero even assuming exact parallel trends ({symbol} = 0), so there is nothing for violations to overturn (breakdown 0).")
        elif status.startswith("robust"):
            lines.append(f"- **{what}: the effect stays away from zero over the whole grid of {symbol} examined.")
        else:
            lines.append(f"- **{what}: the effect survives violations of parallel trends up to {symbol} = {r['breakdown']:.3g}" + (" — less than the largest pre-period violation, so it is not robust to post-period violations of that size." if symbol == "M-bar" and r["breakdown"] < 1 else "."))
    if len(placebo):
        sig = placebo[placebo["p_value"] < a]
        lines.append(f"- **Placebo tests**: {len(sig)} of {len(placebo)} placebo estimates have p < {a:g}" + (f" ({_esc(', '.join(sig['outcome'].map(outcome_label) + ' ' + sig['group'].astype(str)))}) — designation appears to matter where it cannot, a warning about the design." if len(sig) else " — no sign of effects where there should be none."))
    if len(loo):
        for o, d in loo.groupby("outcome", sort=False):
            lines.append(f"- **Leave-one-out, {_esc(outcome_label(o))}**: estimates range from {fmt(d['estimate'].min())} to {fmt(d['estimate'].max())} ({len(d)} leave-outs); {int((d['p_value'] < a).sum())} have p < {a:g}.")
    for r in multiple.to_dict("records") if len(multiple) else []:
        lines.append(f"- **{_esc(outcome_label(r['outcome']))}**: p adjusted across the run's outcomes — Holm {r['holm']:.3f}, Romano-Wolf {r['romano_wolf']:.3f} (unadjusted {r['p_value']:.3f}).")
    return md("\n".join(lines))


def multiple_table(wild: pd.DataFrame, rw_res: Any) -> pd.DataFrame:
    """Unadjusted wild-bootstrap, Holm-adjusted and Romano-Wolf-adjusted p-values, one row per outcome (TWFE)."""
    from .robust import holm

    w = wild[wild["estimator"] == "twfe"].drop_duplicates("outcome")
    out = pd.DataFrame({"outcome": w["outcome"].astype(str).to_numpy(), "estimate": w["estimate"].to_numpy(dtype=float), "p_value": w["bootstrap p"].to_numpy(dtype=float)})
    out["holm"] = holm(out["p_value"].to_numpy())
    rw = rw_res.tidy()
    out["romano_wolf"] = out["outcome"].map(dict(zip(rw["outcome"].astype(str), rw["p_value"])))
    return out


def multiple_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Contract rows (method ``holm``) for the Holm-adjusted p-values of :func:`multiple_table`."""
    return pd.DataFrame({"method": "holm", "outcome": table["outcome"], "estimand": "att", "group": "all", "estimate": table["estimate"], "p_value": table["holm"]})


def stack_tidy(results: list[Any]) -> pd.DataFrame:
    """All tidy rows of several results in one table."""
    return stack([r.tidy() for r in results]) if results else stack([])


# --- protocol and primary analysis (00_primary) ---------------------------------------------------------------------


# one character at a time (so no entity is escaped twice): HTML's markup characters, then Markdown's control characters
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", **{c: f"&#{ord(c)};" for c in "\\`*_[]{}#$|~!"}})


def _esc(text: Any) -> str:
    """Text from parameters or data made safe for Markdown and HTML: entities for markup characters (``& < > " '``)
    and for Markdown's control characters (emphasis, links, code, tables, headings, maths), so it shows as
    written."""
    return str(text).translate(_ESCAPES)


def code(text: Any) -> str:
    """Text from parameters or data as a Markdown code span (shown verbatim; a backtick inside cannot close it)."""
    t = str(text)
    fence = "`" * (max((len(m) for m in re.findall(r"`+", t)), default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def protocol_block(proto: Any, params_path: Any = None) -> Any:
    """The protocol as a Markdown block: its items, hash, fixed status, what had been seen, and deviations."""
    from .protocol import fixed_status

    lines = ["| item | pre-specified |", "|---|---|"]
    lines += [f"| {k} | {_esc(v)} |" for k, v in proto.table()]
    head = {"written": "Protocol (written in the parameters)", "nhs_ae default": "Protocol (the workbook's default for the built-in NHS data)", "derived": "Protocol (derived from the data: no protocol was written)"}[proto.source]
    parts = [f"**{head}** — hash `{proto.digest[:12]}`. {_esc(fixed_status(proto, params_path))}", "\n".join(lines)]
    if proto.seen_before:
        parts.append(f"*Results seen when it was fixed:* {_esc(proto.seen_before)}")
    if proto.deviations:
        parts.append("**Deviations from the protocol (written):**\n\n" + "\n".join(f"- {_esc(d.get('date', ''))}: {_esc(d['change'])} — {_esc(d['reason'])}" for d in proto.deviations))
    if proto.run_deviations:
        parts.append("**This run departs from the protocol:**\n\n" + "\n".join(f"- {_esc(d)}" for d in proto.run_deviations))
    elif proto.source != "derived":
        parts.append("This run follows the protocol: no deviation.")
    if proto.derived and proto.source != "derived":
        parts.append(f"Taken from the run's parameters or the defaults rather than written in the protocol: {', '.join(proto.derived)}.")
    return md("\n\n".join(parts))


def _fmt_ci(est: float, lo: float, hi: float, digits: int = 3, unit: str = "") -> str:
    return f"{fmt(est, digits)}{unit} (95% CI {fmt(lo, digits)}{unit} to {fmt(hi, digits)}{unit})"


def _p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def primary_sentences(primary: Any, alpha: float = 0.05) -> Any:
    """Plain sentences for the primary estimate, generated from its tidy rows (never hand-written)."""
    t = primary.tidy()
    row = lambda m, e: t[(t["method"] == m) & (t["estimand"] == e)]  # noqa: E731
    a, ri = row("cs", "simple"), row("randomization", "simple")
    base = row("baseline", "treated_pre_mean")
    if a.empty:
        return md("The primary analysis produced no estimate.")
    a = a.iloc[0]
    level = int(round(100 * (1 - alpha)))
    what = primary.details.get("treatment_label", "the treatment")
    out = [f"**Primary outcome: {_esc(primary.outcome)}.** Estimated effect of {what}: {_fmt_ci(a.estimate, a.ci_lower, a.ci_upper)} per period (analytic {level}% interval, p = {_p(a.p_value)})."]
    py, pct = row("cs", "simple_per_year"), row("cs", "simple_pct")
    if len(py):
        r = py.iloc[0]
        out.append(f"Per year: {_fmt_ci(r.estimate, r.ci_lower, r.ci_upper)}.")
    if len(pct) and len(base):
        r = pct.iloc[0]
        out.append(f"As a share of the treated areas' pre-designation mean ({fmt(base.iloc[0].estimate, 4)} per period, treated as fixed): {_fmt_ci(r.estimate, r.ci_lower, r.ci_upper, 2, '%')}.")
    if len(ri):
        r = ri.iloc[0]
        det = primary.details.get("randomization")
        how = f"{det.details['permutations']:,} re-assignments of designation timing" if det is not None else "re-assigned designation timing"
        out.append(f"Randomisation inference ({how}): p = {_p(r.p_value)}, interval {fmt(r.ci_lower)} to {fmt(r.ci_upper)}.")
    detected = a.p_value < alpha and (ri.empty or ri.iloc[0].p_value < alpha)
    if detected:
        out.append(f"An effect is detected at the {level}% level by the pre-specified inference{'' if ri.empty else ' (both intervals exclude zero)'}; read it with the robustness checks and the certainty rating.")
    else:
        out.append(f"**No effect was detected**: {'the analytic interval includes zero' if a.p_value >= alpha else 'the randomisation interval includes zero'}. This is not evidence of no effect: effects inside the interval are compatible with the data.")
    d = primary.details["design"]
    out.append(f"Design: {d.n_treated} treated and {d.n_comparison} comparison units, {d.window[0]} to {d.window[1]}.")
    return md(" ".join(out))


def primary_table(primary: Any) -> pd.DataFrame:
    """The primary estimate on each scale and with each pre-specified inference, formatted for reading."""
    t = primary.tidy()
    labels = {"simple": "per period", "simple_per_year": "per year", "simple_pct": "% of treated pre-designation mean"}
    inf = {"cs": "analytic (cluster-robust)", "randomization": "randomisation inference"}
    rows = []
    for r in t[t["method"].isin(list(inf)) & t["estimand"].isin(list(labels))].itertuples():
        unit = "%" if r.estimand == "simple_pct" else ""
        rows.append({"scale": labels[r.estimand], "inference": inf[r.method], "estimate (95% CI)": _fmt_ci(r.estimate, r.ci_lower, r.ci_upper, 3, unit), "p-value": _p(r.p_value)})
    out = pd.DataFrame(rows)
    if len(out):
        order = {v: i for i, v in enumerate(labels.values())}
        out = out.sort_values("scale", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return out


def family_table(family: pd.DataFrame, primary: Any | None = None) -> pd.DataFrame:
    """Secondary outcomes and negative controls: estimate (95% CI), % of baseline, p-value and Holm-adjusted p."""
    secondary = family.attrs.get("secondary", [])
    negative = family.attrs.get("negative_controls", [])
    rows = []
    for o in list(dict.fromkeys(secondary + negative)):
        s = family[(family["outcome"] == o) & (family["method"] == "cs") & (family["estimand"] == "simple")]
        if s.empty:
            continue
        r = s.iloc[0]
        pct = family[(family["outcome"] == o) & (family["method"] == "cs") & (family["estimand"] == "simple_pct")]
        h = family[(family["outcome"] == o) & (family["method"] == "holm")]
        rows.append({
            "outcome": o,
            "role": "negative control (should not move)" if o in negative else "secondary",
            "estimate per period (95% CI)": _fmt_ci(r.estimate, r.ci_lower, r.ci_upper),
            "% of treated pre-designation mean (95% CI)": _fmt_ci(pct.iloc[0].estimate, pct.iloc[0].ci_lower, pct.iloc[0].ci_upper, 2, "%") if len(pct) else "-",
            "p-value": _p(r.p_value),
            "Holm-adjusted p (secondary family)": _p(h.iloc[0].p_value) if len(h) else "-",
            "units": int(r.n_units),
        })
    return pd.DataFrame(rows)


def family_sentences(family: pd.DataFrame, alpha: float = 0.05) -> Any:
    """Generated sentences on the secondary family and the negative controls."""
    negative = family.attrs.get("negative_controls", [])
    secondary = family.attrs.get("secondary", [])
    simple = family[(family["method"] == "cs") & (family["estimand"] == "simple")].set_index("outcome")
    holm_p = family[family["method"] == "holm"].set_index("outcome")["p_value"] if (family["method"] == "holm").any() else pd.Series(dtype=float)
    out = []
    sig = [o for o in secondary if o in holm_p.index and holm_p[o] < alpha]
    if secondary:
        out.append(f"Secondary outcomes ({len(secondary)}): " + (f"after Holm's adjustment, an effect is detected for {', '.join(code(o) for o in sig)}." if sig else "after Holm's adjustment over the family, no effect is detected for any of them (not evidence of no effect)."))
    for o in negative:
        if o in simple.index:
            p = simple.loc[o, "p_value"]
            out.append(f"Negative control {code(o)}: p = {_p(p)} — " + ("it moves, which points to confounding or a shared shock: weigh the other results with that in mind." if p < alpha else "no movement detected, as expected if designation is not confounded with it."))
    return md(" ".join(out) or "No secondary outcomes or negative controls in this protocol.")


def balance_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 formatted: means with sensible digits, shares as %, SMD to two decimals, flags."""
    out = table.copy()
    for c in [c for c in out.columns if c in ("treated", "comparison") or c.startswith("cohort ")]:
        out[c] = [f"{100 * v:.0f}%" if k == "share" and np.isfinite(v) else fmt(v, 3) for v, k in zip(out[c], out["kind"])]
    out["smd"] = out["smd"].map(lambda v: f"{v:+.2f}" if np.isfinite(v) else "-")
    out = out.drop(columns=["kind"]).rename(columns={"smd": "standardised difference", "flag": "imbalance"})
    return out


def programme_exposure(ctx: Any) -> Any:
    """Overlapping programmes by footprint of the design (built-in NHS data): cohort, and each programme's exposure."""
    if ctx.panel.source != "nhs_ae":
        return md("Not applicable: overlapping NHS programmes are mapped to the 2021 ICS footprints of the built-in data only (parameter: data.source).")
    from .data.programmes import read_exposure

    exp = read_exposure().set_index("stp21_code")
    c = ctx.design.included.set_index("unit")
    out = pd.DataFrame({
        "footprint": c["unit_name"] if "unit_name" in c.columns else c.index,
        "cohort": c["first_treated"].fillna("").astype(str).where(c["status"] == "treated", "comparison"),
        "Pioneer (share)": exp["pioneer_share"].reindex(c.index).map(lambda v: f"{v:.0%}" if v > 0 else "-"),
        "vanguard, area types (share)": exp["vanguard_area_share"].reindex(c.index).map(lambda v: f"{v:.0%}" if v > 0 else "-"),
        "vanguard types": exp["vanguard_types"].reindex(c.index).fillna("").replace("", "-"),
        "acute care collaboration": exp["vanguard_acc"].reindex(c.index).map({1: "yes", 0: "-"}),
        "GM devolution": exp["gm_devolution"].reindex(c.index).map({1: "yes", 0: "-"}),
        "A&E field test (share of type-1 attendances)": exp["field_test_share"].reindex(c.index).map(lambda v: f"{v:.0%}" if v > 0 else "-"),
        "mapping confidence": exp["min_confidence"].reindex(c.index).fillna("").replace("", "-"),
    })
    order = out["cohort"].where(out["cohort"] != "comparison", "9999")
    return out.assign(_o=order).sort_values(["_o", "footprint"], kind="stable").drop(columns="_o").reset_index(drop=True)


def exposure_by_cohort(table1: pd.DataFrame) -> pd.DataFrame:
    """The overlapping-programme rows of Table 1: exposure by cohort, treated and comparison."""
    keys = ("Pioneer", "vanguard", "devolution", "field-test", "overlapping programme")
    rows = table1[table1["variable"].str.contains("|".join(keys), regex=True)]
    return balance_display(rows)


def sensitivity_table(table: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity set as read: alternative, estimate (95% CI), % of baseline, p-value, units; or why not applicable."""
    rows = []
    for r in table.itertuples():
        if r.status == "ok":
            rows.append({"alternative": r.label + (f" — {r.note}" if r.note else ""), "estimate per period (95% CI)": _fmt_ci(r.estimate, r.ci_lower, r.ci_upper), "% of treated pre-designation mean": f"{r.pct:.2f}%" if np.isfinite(r.pct) else "-", "p-value": _p(r.p_value), "units (treated)": f"{r.n_units} ({r.n_treated})"})
        else:
            rows.append({"alternative": r.label, "estimate per period (95% CI)": f"not applicable: {r.note}", "% of treated pre-designation mean": "-", "p-value": "-", "units (treated)": "-"})
    return pd.DataFrame(rows)


def sensitivity_sentences(table: pd.DataFrame, primary: Any, alpha: float = 0.05) -> Any:
    """Generated sentences: the range of the sensitivity estimates around the primary, and which change its reading."""
    t = primary.tidy()
    a = t[(t["method"] == "cs") & (t["estimand"] == "simple")].iloc[0]
    ok = table[table["status"] == "ok"]
    na = table[table["status"] != "ok"]
    if ok.empty:
        return md("No sensitivity analysis could run on this design." + (f" Not applicable: {', '.join(na['label'])}." if len(na) else ""))
    prim_sig = a["p_value"] < alpha
    flips = ok[(ok["p_value"] < alpha) != prim_sig]
    lo, hi = ok["estimate"].min(), ok["estimate"].max()
    out = [f"{len(ok)} alternatives ran: their estimates range from {fmt(lo)} to {fmt(hi)} per period, around the primary estimate of {_fmt_ci(a['estimate'], a['ci_lower'], a['ci_upper'])}."]
    if flips.empty:
        out.append(f"None changes the primary reading ({'an effect detected' if prim_sig else 'no effect detected'}).")
    else:
        what = "detects an effect" if not prim_sig else "no longer detects the effect"
        out.append(f"{len(flips)} alternative{'s' if len(flips) != 1 else ''} change{'s' if len(flips) == 1 else ''} the reading — " + "; ".join(f"{r.label} {what} ({_fmt_ci(r.estimate, r.ci_lower, r.ci_upper)})" for r in flips.itertuples()) + ". These are sensitivities, not the pre-specified answer; the certainty rating weighs them.")
    if len(na):
        out.append(f"Not applicable here: {', '.join(na['label'])} (reasons in the table).")
    return md(" ".join(out))


def honest_primary_sentences(h: dict[str, Any], alpha: float = 0.05) -> Any:
    """Generated sentences on HonestDiD for the primary's event-time estimand."""
    if "not_applicable" in h:
        return md(f"HonestDiD on the primary analysis: not applicable — {_esc(h['not_applicable'])}.")
    e = h["estimand"].iloc[0]
    out = [f"Event-time estimand: the {h['target']}: {_fmt_ci(e['estimate'], e['ci_lower'], e['ci_upper'])} (pre-period from event time {h['window'][0]})."]
    if h.get("note"):
        out.append(f"Fallback — {_esc(h['note'])}")
    for r in h["honest"]:
        t = r.tidy()
        grid = t[t["estimand"] != "breakdown"]
        first = grid.iloc[0]
        kind = "relative magnitudes (post-period violations up to M-bar times the largest pre-period one)" if "rm" in r.method else "smoothness (the trend difference may bend by up to M per period, M = 0 being a linear extrapolation of the pre-trend)"
        at0 = "excludes zero" if (first["ci_lower"] > 0 or first["ci_upper"] < 0) else "includes zero"
        if at0 == "includes zero":
            out.append(f"Under {kind}, the robust interval includes zero even with no violation allowed ({fmt(first['ci_lower'])} to {fmt(first['ci_upper'])}): there is no detected effect for violations to overturn (breakdown value {fmt(r.breakdown)}).")
        else:
            out.append(f"Under {kind}, the robust interval at the smallest bound excludes zero ({fmt(first['ci_lower'])} to {fmt(first['ci_upper'])}); it stops doing so at a bound of {fmt(r.breakdown)} (the breakdown value).")
    return md(" ".join(out))


def covid_table(covid: dict[str, Any]) -> pd.DataFrame:
    """The COVID-era estimate (descriptive), or an empty table when not applicable."""
    if "rows" not in covid:
        return pd.DataFrame(columns=["follow-up", "estimate per period (95% CI)", "p-value", "units"])
    return pd.DataFrame([{"follow-up": r.group.removeprefix("covid era: "), "estimate per period (95% CI)": _fmt_ci(r.estimate, r.ci_lower, r.ci_upper), "p-value (descriptive)": _p(r.p_value), "units": int(r.n_units)} for r in covid["rows"].itertuples()])


def statutory_table(results: list[Any]) -> pd.DataFrame:
    """Level and slope changes of England's series at the statutory date and the placebo dates (descriptive)."""
    rows = []
    for r in results:
        t = r.tidy()
        for g, d in t.groupby("group", sort=False):
            v = d.set_index("estimand")["estimate"]
            rows.append({"series": r.outcome, "break": g, "level change": f"{v['level_change_pct']:+.1f}%", "slope change": f"{v['slope_change_pct_per_year']:+.1f}% a year"})
    return pd.DataFrame(rows)


def statutory_sentences(results: list[Any]) -> Any:
    """Whether the July 2022 change stands out from the placebo-date changes, per series (no p-values)."""
    from .statutory import CAVEAT

    lines = []
    for r in results:
        t = r.tidy()
        lev = t[t["estimand"] == "level_change_pct"].set_index("group")["estimate"]
        stat = lev[[g for g in lev.index if g.startswith("statutory")]].iloc[0]
        plac = lev[[g for g in lev.index if g.startswith("placebo")]]
        inside = plac.min() <= stat <= plac.max()
        lines.append(f"- **{_esc(r.outcome)}**: level change at July 2022 {stat:+.1f}%, against {plac.min():+.1f}% to {plac.max():+.1f}% at the placebo dates — " + ("within the range of changes at dates when nothing was designated." if inside else "outside the range of the placebo-date changes, which is still not evidence that statutory ICSs caused it."))
    lines.append(f"*{CAVEAT}*")
    return md("\n".join(lines))


IMPLAUSIBLE_RATE_RATIO: tuple[float, float] = (0.5, 2.0)
IMPLAUSIBLE_SHARE: float = 0.5


def its_unit_flags(results: list[Any]) -> pd.DataFrame:
    """Per-area ITS estimates flagged as implausible: a post-period rate ratio outside 0.5-2, or an average absolute
    difference larger than half the area's pre-intervention mean (an effect no integration programme could have;
    usually a reporting break or a misfitted trend)."""
    rows = []
    for r in results:
        t = r.tidy().set_index("estimand")
        cf = r.counterfactual
        n_pre = int(r.info.get("n_pre", len(cf)))
        pre_mean = float(cf["observed"].iloc[:n_pre].mean())
        rr = float(t.loc["rate_ratio_post", "estimate"]) if "rate_ratio_post" in t.index else np.nan
        ad = float(t.loc["abs_diff_post", "estimate"]) if "abs_diff_post" in t.index else np.nan
        why = []
        if np.isfinite(rr) and not IMPLAUSIBLE_RATE_RATIO[0] <= rr <= IMPLAUSIBLE_RATE_RATIO[1]:
            why.append(f"rate ratio {rr:.2f} outside 0.5-2")
        if np.isfinite(ad) and pre_mean > 0 and abs(ad) > IMPLAUSIBLE_SHARE * pre_mean:
            why.append(f"average difference {fmt(ad)} is more than half the pre-intervention mean ({fmt(pre_mean)})")
        rows.append({"area": str(t["group"].iloc[0]), "outcome": r.outcome, "rate ratio (post)": fmt(rr) if np.isfinite(rr) else "-", "average difference (post)": fmt(ad), "plausibility": "implausible: " + "; ".join(why) if why else "plausible"})
    return pd.DataFrame(rows)


def waves_display(table: pd.DataFrame) -> Any:
    """The wave-identifiability table, or its not-applicable sentence."""
    return md(table.attrs["not_applicable"]) if "not_applicable" in table.attrs else table
