"""The evidence summary: every estimate of a run, triangulated, rated and set against a plan's assumption.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Which number represents a method
    Decision: one overall effect per method and outcome — ``att`` for 2x2 / TWFE / synthetic control family,
    ``simple`` for Callaway-Sant'Anna, Sun-Abraham and imputation, ``rate_ratio_post`` (log scale) for ITS — the rows
    with group ``all`` or ``pooled``. Consequences: cohort, event-time and per-unit rows stay in estimates.csv for the
    detailed notebooks; the summary compares like with like.
Count models
    Context: a count outcome with zeros has no log models (``methods.did.count_model``); its difference-in-differences
    evidence is the Poisson models. Decision: they enter the summary on the log-rate-ratio scale under
    ``<outcome>_log`` — Poisson TWFE's coefficient as it is, extended TWFE's observed/counterfactual ratio as its log —
    beside the ITS rate ratios, and represent the difference-in-differences family only when no log-linear estimator
    of the outcome ran (extended TWFE first: it does not make TWFE's forbidden comparisons). Consequences: outcomes
    with zeros are triangulated like the others, and the table names the count model used.
Triangulation by design family, not by estimator
    Context: Callaway-Sant'Anna, Sun-Abraham, imputation and TWFE share one identifying assumption (parallel trends);
    counting them as separate votes overstates agreement. Decision: one estimate per design family
    (:data:`FAMILIES`: the protocol's primary analysis for difference-in-differences, SDID for synthetic control,
    the controlled ITS) and agreement judged across families. Consequences: an outcome seen by one family only is
    not triangulated, and says so.
Certainty rules
    Context: reviewers need a rating they can audit, not a judgement. Decision: explicit rules (see
    :data:`CERTAINTY_RULES`): start at *moderate* (a non-randomised comparison with a credible design) and go down
    one level for each of: parallel trends rejected; methods disagreeing in sign or significance; few treated
    clusters (< 20) without a small-cluster inference check; data caveats that bias towards the null or mis-locate
    activity (partial designations, provider-based counts). Four levels: high, moderate, low, very low.
    Consequences: no outcome can be rated *high* from this observational design; the reasons are listed per outcome.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ParamsError
from .results import stack

OVERALL: dict[str, str] = {
    "did_2x2": "att",
    "twfe": "att",
    "cs": "simple",
    "sun_abraham": "simple",
    "imputation": "simple",
    "sdid": "att",
    "synthetic_control": "att",
    "did_sdid_form": "att",
    "its": "rate_ratio_post",
    "etwfe_poisson": "simple_pct",
    "poisson_twfe": "att_log_ratio",
}
LEVELS = ("very low", "low", "moderate", "high")
CERTAINTY_RULES = [
    ("start", "moderate: a non-randomised comparison of designated and not-yet-designated areas with a credible design"),
    ("pre_trends", "down one level if a pre-trend test rejects parallel trends (TWFE event-study leads, or Callaway-Sant'Anna uniform bands excluding zero before treatment)"),
    ("disagreement", "down one level if the design families (difference-in-differences, synthetic control, interrupted time series; one estimate each) disagree: some intervals exclude zero and others do not, or intervals exclude zero on opposite sides (estimates that all include zero agree on a null result)"),
    ("few_clusters", "down one level if fewer than 20 clusters are treated and no small-cluster inference (wild cluster bootstrap, randomisation inference) supports the result"),
    ("data", "down one level for data caveats that dilute or mis-locate effects (partial designations counted as treated; activity counted by provider rather than residence)"),
    ("sensitivity", "down one level if an effect is found but HonestDiD (relative magnitudes, TWFE event study) loses it under post-period violations no larger than the largest pre-period one (breakdown M-bar < 1)"),
]


def small_cluster_checks(estimates: pd.DataFrame, alpha: float = 0.05) -> dict[str, str]:
    """Per outcome: does small-cluster inference support the conventional TWFE conclusion?

    Returns outcome -> ``"supports"`` (wild cluster bootstrap and, where run, randomisation inference reach the same
    conclusion at ``alpha`` as the cluster-robust t-test) or ``"contradicts"``.
    """
    out: dict[str, str] = {}
    tw = estimates[(estimates["method"] == "twfe") & (estimates["estimand"] == "att") & (estimates["group"].fillna("all") == "all")].drop_duplicates("outcome").set_index("outcome")["p_value"]
    checks = estimates[estimates["method"].isin(["wild_bootstrap", "randomization"]) & (estimates["estimand"] == "att")]
    for outcome, d in checks.groupby("outcome", sort=False):
        if outcome not in tw.index:
            continue
        conventional = tw[outcome] < alpha
        agree = ((d["p_value"] < alpha) == conventional).all()
        out[str(outcome)] = "supports" if agree else "contradicts"
    return out


def honest_breakdowns(estimates: pd.DataFrame) -> dict[str, float]:
    """Per outcome: HonestDiD relative-magnitude breakdown M-bar from the TWFE event study (``honest_did_rm`` rows)."""
    b = estimates[(estimates["method"] == "honest_did_rm") & (estimates["estimand"] == "breakdown")]
    return {str(o): float(v) for o, v in zip(b["outcome"], b["estimate"])}


def read_run_estimates(run_dir: str | Path, exclude: tuple[str, ...] = ()) -> pd.DataFrame:
    """Stack the estimates other notebooks of a run have recorded so far (``run_dir/_work/estimates``)."""
    folder = Path(run_dir) / "_work" / "estimates"
    frames = [pd.read_csv(f, dtype={"group": "string", "period": "string"}) for f in sorted(folder.glob("*.csv")) if f.stem not in exclude]
    return stack(frames)


def overall(estimates: pd.DataFrame) -> pd.DataFrame:
    """One overall effect per outcome and method (see the module's decision), ITS rate ratios as log rate ratios."""
    rows = []
    for method, estimand in OVERALL.items():
        d = estimates[(estimates["method"] == method) & (estimates["estimand"] == estimand)]
        d = d[d["group"].fillna("all").astype(str).isin(["all", "pooled", "pooled|controlled"])]
        for r in d.itertuples():
            est, lo, hi = r.estimate, r.ci_lower, r.ci_upper
            scale = "outcome units"
            name = method
            if method == "its":
                est, lo, hi = np.log(est), np.log(lo), np.log(hi)
                scale = "log rate ratio"
                name = "its_controlled" if "controlled" in str(r.group) else "its"
            elif method == "etwfe_poisson":  # % change in the treated total -> log ratio
                est, lo, hi = np.log1p(est / 100), np.log1p(lo / 100), np.log1p(hi / 100)
                scale = "log rate ratio"
            elif method == "poisson_twfe":
                scale = "log rate ratio"
            elif str(r.outcome).endswith("_log"):
                scale = "log points"
            rows.append({"outcome": r.outcome, "method": name, "estimate": est, "ci_lower": lo, "ci_upper": hi, "p_value": r.p_value, "scale": scale, "notebook": r.notebook})
    # ITS on an outcome that is not a count (a rate, a percentage) has no rate ratio: its average difference over the
    # post-period is on the outcome's own scale, beside the difference-in-differences estimates of that outcome
    its = estimates[(estimates["method"] == "its") & estimates["group"].fillna("").astype(str).isin(["pooled", "pooled|controlled"])]
    ratio_outcomes = set(its.loc[its["estimand"] == "rate_ratio_post", "outcome"])
    for r in its[(its["estimand"] == "abs_diff_post") & ~its["outcome"].isin(ratio_outcomes)].itertuples():
        rows.append({"outcome": r.outcome, "method": "its_controlled" if "controlled" in str(r.group) else "its", "estimate": r.estimate, "ci_lower": r.ci_lower, "ci_upper": r.ci_upper, "p_value": r.p_value, "scale": "outcome units", "notebook": r.notebook})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    # ITS rate ratios and the Poisson models describe the count outcome itself: put them with its log models
    its_rows = (df["scale"] == "log rate ratio") & ~df["outcome"].astype(str).str.endswith("_log")
    df.loc[its_rows, "outcome"] = df.loc[its_rows, "outcome"] + "_log"
    return df.drop_duplicates(["outcome", "method"]).reset_index(drop=True)


FAMILIES: dict[str, tuple[str, ...]] = {
    "difference-in-differences": ("cs", "imputation", "sun_abraham", "twfe", "did_2x2", "etwfe_poisson", "poisson_twfe"),
    "synthetic control": ("sdid", "synthetic_control", "did_sdid_form"),
    "interrupted time series": ("its_controlled", "its"),
}
"""Design families and, in order of preference, the estimator that represents each (estimators of one family share
their identifying assumption, so they are not independent votes)."""


def family_representatives(table: pd.DataFrame) -> pd.DataFrame:
    """One row per outcome and design family: the preferred estimator of the family (the protocol's primary analysis,
    from ``00_primary``, first for difference-in-differences)."""
    rows = []
    t = table.copy()
    t["_primary"] = t.get("notebook", pd.Series("", index=t.index)).astype(str).eq("00_primary")
    for outcome, d in t.groupby("outcome", sort=False):
        for fam, methods in FAMILIES.items():
            cand = d[d["method"].isin(methods)].copy()
            if cand.empty:
                continue
            cand["_rank"] = cand["method"].map({m: i for i, m in enumerate(methods)}) - 100 * cand["_primary"]
            rows.append(cand.sort_values("_rank", kind="stable").iloc[0].drop(["_rank", "_primary"]).to_dict() | {"family": fam})
    return pd.DataFrame(rows)


def triangulation(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Do the design families agree? Per outcome: one estimate per family (DiD, synthetic control, ITS), never a count
    of estimators.

    Families *agree* when no family's interval excludes zero (a shared null result: "no family detects an effect",
    not "no effect"), or every family's interval excludes zero on the same side. They *disagree* when some exclude
    zero and others do not, or exclude it on opposite sides. An outcome with one family cannot be triangulated.
    """
    reps = family_representatives(table)
    rows = []
    for outcome, d in reps.groupby("outcome", sort=False) if len(reps) else []:
        sig = (d["p_value"] < alpha).to_numpy()
        signs = np.sign(d["estimate"].to_numpy())
        fams = list(d["family"])
        if len(d) < 2:
            verdict, agree = f"one design family only ({fams[0]}): not triangulated; " + ("it detects an effect" if sig.any() else "it detects no effect"), not sig.any()
        elif not sig.any():
            verdict, agree = "agree: no design family detects an effect", True
        elif sig.all() and np.unique(signs).size == 1:
            verdict, agree = "agree: every design family detects an effect in the same direction", True
        elif np.unique(signs[sig]).size > 1:
            verdict, agree = "disagree: design families detect effects in opposite directions", False
        else:
            verdict, agree = "disagree: " + ", ".join(f for f, s_ in zip(fams, sig) if s_) + " detect(s) an effect, " + ", ".join(f for f, s_ in zip(fams, sig) if not s_) + " not", False
        rows.append({
            "outcome": outcome,
            "methods": len(d),
            "families": "; ".join(f"{f} ({m})" for f, m in zip(fams, d["method"])),
            "negative": int((signs < 0).sum()),
            "positive": int((signs > 0).sum()),
            "intervals excluding zero": int(sig.sum()),
            "agree": agree,
            "verdict": verdict,
            "median estimate": float(np.median(d["estimate"])),
        })
    return pd.DataFrame(rows)


def pretrend_failures(estimates: pd.DataFrame, alpha: float = 0.05) -> set[str]:
    """Outcomes whose pre-trends were rejected: the TWFE event-study joint test of the leads (``pretest_f`` rows),
    or a Callaway-Sant'Anna dynamic estimate before treatment whose (uniform) interval excludes zero."""
    out: set[str] = set()
    pt = estimates[(estimates["estimand"] == "pretest_f") & (estimates["p_value"] < alpha)]
    out |= set(pt["outcome"])
    cs = estimates[(estimates["method"] == "cs") & (estimates["estimand"] == "dynamic") & (estimates["event_time"] < 0)]
    out |= set(cs.loc[(cs["ci_lower"] > 0) | (cs["ci_upper"] < 0), "outcome"])
    return out


def certainty(tri: pd.DataFrame, pretrend_failures: set[str], treated_clusters: int, data_caveats: dict[str, list[str]] | list[str], small_cluster: dict[str, str] | None = None, breakdowns: dict[str, float] | None = None) -> pd.DataFrame:
    """Certainty rating per outcome from :data:`CERTAINTY_RULES`, with the reasons that applied.

    ``data_caveats`` maps an outcome to its caveats (or is one list for every outcome); ``small_cluster`` is
    :func:`small_cluster_checks` and ``breakdowns`` :func:`honest_breakdowns` (empty when 05_robustness did not run).
    """
    small_cluster = small_cluster or {}
    breakdowns = breakdowns or {}
    rows = []
    for r in tri.to_dict("records"):
        level = LEVELS.index("moderate")
        reasons = []
        outcome = str(r["outcome"])
        if outcome in pretrend_failures or outcome.removesuffix("_log") in pretrend_failures:
            level -= 1
            reasons.append("parallel trends rejected in the pre-period")
        if not r["agree"]:
            level -= 1
            reasons.append("methods " + r["verdict"])
        check = small_cluster.get(outcome)
        if treated_clusters < 20 and check != "supports":
            level -= 1
            reasons.append(f"only {treated_clusters} treated clusters" + ("; the wild bootstrap or randomisation inference reaches a different conclusion" if check == "contradicts" else "; no small-cluster inference for this outcome"))
        elif treated_clusters < 20:
            reasons.append(f"only {treated_clusters} treated clusters, but the wild bootstrap and randomisation inference agree (no downgrade)")
        caveats = data_caveats.get(outcome, []) if isinstance(data_caveats, dict) else data_caveats
        if caveats:
            level -= 1
            reasons.append("; ".join(caveats))
        found = r["intervals excluding zero"] > 0
        if found and outcome in breakdowns and breakdowns[outcome] < 1:
            level -= 1
            reasons.append(f"HonestDiD breakdown M-bar = {breakdowns[outcome]:.2g} < 1")
        rows.append({"outcome": outcome, "certainty": LEVELS[max(level, 0)], "reasons": "; ".join(reasons) or "none of the downgrading rules applied"})
    return pd.DataFrame(rows)


def plan_check(table: pd.DataFrame, assumptions: list[dict[str, Any]], baseline: dict[str, float], unit_costs: pd.DataFrame | None = None, preferred: tuple[str, ...] = ("cs", "sun_abraham", "imputation", "twfe")) -> pd.DataFrame:
    """Place a plan's assumed proportional changes against the estimated effects.

    Parameters
    ----------
    table
        :func:`overall` output.
    assumptions
        ``plan.assumptions`` entries: ``outcome`` (a count outcome of the run), ``change`` (proportional, e.g.
        -0.10), optional ``label``, ``population`` (a footprint's population), ``mean_los`` (days per admission, to
        express bed days).
    baseline
        Outcome -> baseline monthly count per 1,000 population (pre-period mean) used to translate changes.
    unit_costs
        Activity unit costs for pounds (see :func:`evidence.data.costs.unit_costs`).
    preferred
        Methods in order of preference for the comparison (the first present for the outcome's log model is used).
    """
    from .report import ACTIVITY_OF_OUTCOME

    out = []
    for a in assumptions:
        outcome = str(a["outcome"])
        log_outcome = outcome + "_log"
        d = table[table["outcome"] == log_outcome].set_index("method")
        if d.empty:
            raise ParamsError(f"plan.assumptions: outcome '{outcome}' was not estimated in logs in this run; choose a count outcome of data.outcomes and keep methods.did.log_outcomes: true.")
        method = next(m for m in preferred + tuple(d.index) if m in d.index)
        r = d.loc[method]
        assumed = float(np.log1p(float(a["change"])))
        se = (r["ci_upper"] - r["ci_lower"]) / (2 * 1.959963984540054)
        inside = bool(r["ci_lower"] <= assumed <= r["ci_upper"])
        row = {
            "assumption": a.get("label", f"{float(a['change']):+.0%} {outcome}"),
            "outcome": outcome,
            "method": method,
            "assumed change": float(a["change"]),
            "estimated change": float(np.expm1(r["estimate"])),
            "ci_lower": float(np.expm1(r["ci_lower"])),
            "ci_upper": float(np.expm1(r["ci_upper"])),
            "assumed inside interval": inside,
            "standard errors away": float((assumed - r["estimate"]) / se) if se > 0 else np.nan,
        }
        pop = a.get("population")
        if pop and outcome in baseline:
            per_year = baseline[outcome] * float(pop) / 1000 * 12
            row["baseline per year"] = per_year
            row["assumed change per year"] = per_year * float(a["change"])
            row["estimated change per year"] = per_year * row["estimated change"]
            if a.get("mean_los"):
                row["assumed bed days per year"] = row["assumed change per year"] * float(a["mean_los"])
            act = ACTIVITY_OF_OUTCOME.get(outcome)
            if unit_costs is not None and act in set(unit_costs["activity"]):
                c = float(unit_costs.set_index("activity").loc[act, "unit_cost"])
                row["price year"] = str(unit_costs.set_index("activity").loc[act, "price_year"])
                row["assumed GBP per year"] = row["assumed change per year"] * c
                row["estimated GBP per year"] = row["estimated change per year"] * c
        out.append(row)
    return pd.DataFrame(out)


def core_estimates(ctx: Any) -> pd.DataFrame:
    """The overall estimates of the service-use notebooks, computed directly (when this notebook runs on its own,
    outside ``evidence run``): 2x2, TWFE with its event-study pre-test, Callaway-Sant'Anna (simple and dynamic),
    Sun-Abraham and imputation, on the run's outcomes."""
    from . import did, staggered

    frames = []
    for o, lg in ctx.outcome_specs():
        frames.append(did.did_2x2(ctx.design, o, log=lg, alpha=ctx.alpha).tidy())
        frames.append(did.twfe(ctx.design, o, log=lg, alpha=ctx.alpha, engine="numpy").tidy())
        es = did.event_study(ctx.design, o, log=lg, window=ctx.params["methods.did.event_window"], alpha=ctx.alpha).tidy()
        frames.append(es[es["estimand"] == "pretest_f"])
        cs = staggered.cs(ctx.design, o, log=lg, **ctx.cs_options())
        frames.append(cs.aggregate("simple").tidy())
        frames.append(cs.aggregate("dynamic").tidy())
        frames.append(staggered.sun_abraham(ctx.design, o, log=lg, control=ctx.sa_control, alpha=ctx.alpha).tidy())
        frames.append(staggered.imputation(ctx.design, o, log=lg, anticipation=ctx.params["methods.staggered.anticipation"], alpha=ctx.alpha).tidy())
    est = stack(frames)
    est["notebook"] = "07_evidence"
    return est


def run_estimates(ctx: Any) -> tuple[pd.DataFrame, str]:
    """The run's estimates so far (inside ``evidence run``) or :func:`core_estimates` (on its own), and which."""
    if ctx.run_dir is not None:
        est = read_run_estimates(ctx.run_dir, exclude=(ctx.notebook,))
        if len(est):
            return est, "the estimates recorded by this run's other notebooks"
    return core_estimates(ctx), "estimates computed here (the notebook ran outside `evidence run`, so only the service-use methods of 01_did and 02_staggered are included)"


def baselines(ctx: Any) -> dict[str, float]:
    """Pre-period monthly count per 1,000 population of the treated units, per count outcome (for the plan check)."""
    panel, design = ctx.panel, ctx.design
    if not panel.has_population:
        return {}
    pop = panel.matrix("population")
    pre = np.arange(panel.n_periods)[None, :] < design.g[:, None]
    mask = pre & design.treated[:, None]
    out = {}
    for o in panel.outcomes:
        if panel.outcome_kinds.get(o) == "count" and mask.any():
            y = panel.matrix(o)
            m = mask & np.isfinite(y) & np.isfinite(pop)  # available cells (data.missing: allow)
            out[o] = float(y[m].sum() / pop[m].sum() * 1000) if m.any() else float("nan")
    return out


def data_caveats(ctx: Any, outcomes: list[str]) -> dict[str, list[str]]:
    """Caveats that count against certainty under the rules (see :data:`CERTAINTY_RULES`), per outcome: partial
    designations for every outcome; counting by provider for the A&E outcomes (and their logs and pounds)."""
    common = []
    c = ctx.design.cohorts
    part = c[(c["status"] == "treated") & (c["scope"] == "partial")] if "scope" in c.columns else c.iloc[0:0]
    if len(part):
        common.append(f"{len(part)} of {ctx.design.n_treated} treated areas were designated for only part of their footprint")
    out = {}
    for o in outcomes:
        base = str(o).removesuffix("_log").removesuffix("_gbp_per_year").removesuffix("_gbp")
        extra = ["activity is counted by provider, not by residence"] if ctx.panel.source == "nhs_ae" and base in ctx.panel.outcomes else []
        out[o] = common + extra
    return out


# ---------------------------------------------------------------------------------------------------------------
# The headline: what a board reads first (index.html's summary), as estimate rows so every number traces
HEADLINE_ESTIMANDS = ("effect", "effect_pct", "effect_per_year", "baseline", "mde", "mde_pct", "mde_per_year", "certainty")


def headline_rows(estimates: pd.DataFrame, primary: str, secondary: list[str], kinds: dict[str, str], rating: pd.DataFrame | None, alpha: float = 0.05, method: str = "cs") -> pd.DataFrame:
    """The summary's numbers per outcome (the primary, then the secondary outcomes), as rows of ``estimates.csv``.

    Context: the run's summary must give the answer in units a reader uses, what the design could have detected and
    how certain it is, and every number it prints must trace to a row of ``estimates.csv``. Decision: from the
    protocol's estimator in ``00_primary`` (``method``'s ``simple`` row, its ``simple_pct`` and ``simple_per_year``
    conversions and the treated baseline) and the simulated minimum detectable effect of the same estimator in
    ``06_power`` (a rate ratio for log models, otherwise in outcome units), rows ``method='summary'`` with ``group``
    the outcome's role and ``estimand`` in :data:`HEADLINE_ESTIMANDS`: the effect and its interval in outcome units
    per period, in % of the treated baseline and per year (counts and rates only: a percentage is not a flow); the
    MDE likewise; ``certainty`` as a level (0 very low .. 3 high). Consequences: the index's sentences and table are
    formatted from these rows alone; an outcome without a primary-analysis row is left out, a missing MDE is missing.
    """
    rows: list[dict[str, Any]] = []
    est = estimates.copy()
    est["group"] = est["group"].fillna("all").astype(str)
    prim = est[(est.get("notebook", pd.Series("00_primary", index=est.index)) == "00_primary") & (est["method"] == method) & (est["group"] == "all")]
    levels = {r.outcome: LEVELS.index(r.certainty) for r in rating.itertuples()} if rating is not None and len(rating) else {}
    for role, outcome in [("primary", primary)] + [("secondary", o) for o in secondary if o != primary]:
        p = prim[prim["outcome"] == outcome].drop_duplicates("estimand").set_index("estimand")
        if "simple" not in p.index:
            continue
        base_rows = est[(est["method"] == "baseline") & (est["outcome"] == outcome)]
        base = float(base_rows["estimate"].iloc[0]) if len(base_rows) else np.nan
        kind = kinds.get(outcome.split(":")[-1])
        # a flow (counts, and rates of counts per population) has a per-year total; a percentage or a level has not
        flow = kind == "count" or (kind not in ("percent", "proportion") and re.search(r"per_?(100k|1000|100000|capita|head)", outcome) is not None)
        common = {"method": "summary", "outcome": outcome, "group": role, "p_value": float(p.loc["simple", "p_value"]), "n_obs": p.loc["simple", "n_obs"], "n_units": p.loc["simple", "n_units"], "n_clusters": p.loc["simple", "n_clusters"]}

        def add(estimand: str, src: pd.Series | None = None, value: float | None = None) -> None:
            vals = {k: float(src[k]) for k in ("estimate", "std_error", "ci_lower", "ci_upper")} if src is not None else {"estimate": value, "p_value": np.nan}
            rows.append({**common, "estimand": estimand, **vals})

        add("effect", p.loc["simple"])
        if "simple_pct" in p.index:
            add("effect_pct", p.loc["simple_pct"])
        if flow and "simple_per_year" in p.index:
            add("effect_per_year", p.loc["simple_per_year"])
        if np.isfinite(base):
            add("baseline", value=base)
        mde = est[(est["method"] == method) & (est["estimand"] == "mde_80") & est["outcome"].astype(str).str.removeprefix("synthetic:").isin([outcome, f"{outcome}_log"])]
        if len(mde):
            m = mde.assign(_log=mde["outcome"].astype(str).str.endswith("_log")).sort_values("_log").iloc[0]  # levels first
            v = float(m["estimate"])
            if np.isfinite(v):
                if m["_log"]:  # a rate ratio: the detectable % change
                    add("mde_pct", value=100 * abs(1 - v))
                else:
                    add("mde", value=abs(v))
                    if np.isfinite(base) and base != 0:
                        add("mde_pct", value=100 * abs(v) / abs(base))
                    per_year = float(p.loc["simple_per_year", "estimate"] / p.loc["simple", "estimate"]) if flow and "simple_per_year" in p.index and p.loc["simple", "estimate"] != 0 else np.nan
                    if np.isfinite(per_year):
                        add("mde_per_year", value=abs(v) * per_year)
        for key in (outcome, f"{outcome}_log"):
            if key in levels:
                add("certainty", value=float(levels[key]))
                break
    from .results import tidy_frame

    return tidy_frame(rows) if rows else tidy_frame([])


def plan_rows(check: pd.DataFrame | None) -> pd.DataFrame:
    """A plan check (:func:`plan_check`) as summary rows: per assumption (``group`` = ``plan: <label>``) the assumed
    and the estimated % change with its interval (``plan_assumed_pct``, ``plan_estimated_pct``)."""
    from .results import tidy_frame

    if check is None or not len(check):
        return tidy_frame([])
    rows = []
    for d in check.to_dict("records"):
        g = f"plan: {d['assumption']}"
        rows.append({"method": "summary", "outcome": d["outcome"], "group": g, "estimand": "plan_assumed_pct", "estimate": 100 * float(d["assumed change"])})
        rows.append({"method": "summary", "outcome": d["outcome"], "group": g, "estimand": "plan_estimated_pct", "estimate": 100 * float(d["estimated change"]), "ci_lower": 100 * float(d["ci_lower"]), "ci_upper": 100 * float(d["ci_upper"])})
    return tidy_frame(rows)
