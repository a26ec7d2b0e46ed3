"""The generated summary a board reads first: the top of ``index.html``.

Everything here is formatted from the ``summary`` rows of the run's ``estimates.csv``
(:func:`evidence.summary.headline_rows`, recorded by ``07_evidence``) and the certainty reasons 07 writes beside them
(``certainty.csv``); no number is computed here, so every number shown traces to a row (tested).

Wording rules: an interval that includes zero is "no effect detected", never "no effect"; changes are given in % of
the treated areas' pre-designation level and, for counts and rates, per year; what the design could have detected
(the simulated minimum detectable effect) is said beside the answer.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from .summary import LEVELS
from .tables import decimals, number, outcome_label


def _pct(v: float, places: int) -> str:
    return f"{'+' if v > 0 else ''}{number(v, places=places)}%"


def _rows(est: pd.DataFrame) -> dict[str, dict[str, pd.Series]]:
    s = est[est["method"] == "summary"].copy()
    s["group"] = s["group"].fillna("").astype(str)
    out: dict[str, dict[str, pd.Series]] = {}
    for r in s[~s["group"].str.startswith("plan")].itertuples(index=False):
        out.setdefault(r.outcome, {"role": r.group})[r.estimand] = pd.Series(r._asdict())
    return out


def _sentences(outcome: str, r: dict, reasons: dict[str, str], alpha: float) -> list[str]:
    lab = outcome_label(outcome)
    eff = r.get("effect_pct")
    out = []
    if eff is not None:
        k = max(1, decimals(max(abs(eff["ci_lower"]), abs(eff["ci_upper"])), 2))
        text = f"After designation, {html.escape(lab)} changed by {_pct(eff['estimate'], k)} (95% interval {_pct(eff['ci_lower'], k)} to {_pct(eff['ci_upper'], k)}) relative to the designated areas' level before designation"
        base = r.get("baseline")
        per = r.get("effect_per_year")
        every = "period"
        if per is not None and r["effect"]["estimate"] != 0:
            every = {12: "month", 4: "quarter", 52: "week"}.get(int(round(per["estimate"] / r["effect"]["estimate"])), "period")
        if base is not None:
            text += f" ({number(base['estimate'])} a {every})"
        if per is not None:
            kp = decimals(max(abs(per["ci_lower"]), abs(per["ci_upper"])), 2)
            text += f", that is {number(per['estimate'], places=kp)} {html.escape(lab)} a year (95% interval {number(per['ci_lower'], places=kp)} to {number(per['ci_upper'], places=kp)})"
        out.append(text + ".")
        if eff["ci_lower"] > 0 or eff["ci_upper"] < 0:
            out.append(f"An effect was detected: the interval excludes zero (p {'<0.001' if eff['p_value'] < 0.001 else '= ' + number(eff['p_value'], 2)}).")
        else:
            out.append(f"No effect was detected: the interval includes zero, so neither a fall of {number(abs(min(eff['ci_lower'], 0)), places=k)}% nor a rise of {number(max(eff['ci_upper'], 0), places=k)}% can be ruled out. That is not evidence of no effect.")
    mde = r.get("mde_pct")
    if mde is not None:
        per = r.get("mde_per_year")
        out.append(f"The design could detect a change of about {number(mde['estimate'], 2)}%" + (f" ({number(per['estimate'], 2)} per year)" if per is not None else "") + " with 80% power (simulated on the real design); smaller effects would usually go undetected.")
    cert = r.get("certainty")
    if cert is not None:
        level = LEVELS[int(cert["estimate"])]
        why = reasons.get(outcome) or reasons.get(f"{outcome}_log") or ""
        out.append(f"Certainty of the evidence: <b>{level}</b>" + (f" — {html.escape(why)}." if why else "."))
    return out


def _plan_sentences(est: pd.DataFrame) -> list[str]:
    s = est[(est["method"] == "summary") & est["group"].fillna("").astype(str).str.startswith("plan: ")]
    out = []
    for g, d in s.groupby("group", sort=False):
        d = d.set_index("estimand")
        if not {"plan_assumed_pct", "plan_estimated_pct"} <= set(d.index):
            continue
        a, e = d.loc["plan_assumed_pct"], d.loc["plan_estimated_pct"]
        inside = e["ci_lower"] <= a["estimate"] <= e["ci_upper"]
        label = str(g)[len("plan: "):]
        label = label[len("Plan assumption:"):].strip() if label.lower().startswith("plan assumption:") else label
        out.append(
            f"The plan's assumption “{html.escape(label)}” ({_pct(a['estimate'], 1)} {html.escape(outcome_label(str(e['outcome'])))}) is {'within' if inside else 'outside'} the interval estimated for it "
            f"({_pct(e['ci_lower'], 1)} to {_pct(e['ci_upper'], 1)}): the evidence {'does not rule it out' if inside else 'rules it out'}."
        )
    return out


def summary_html(est: pd.DataFrame, run_dir: str | Path, alpha: float = 0.05) -> str:
    """The summary section of ``index.html`` (primary outcome in sentences, secondary outcomes in a table)."""
    rows = _rows(est)
    cert_file = Path(run_dir) / "certainty.csv"
    reasons = {}
    if cert_file.is_file():
        c = pd.read_csv(cert_file)
        reasons = dict(zip(c["outcome"].astype(str), c["reasons"].astype(str)))
    parts = ["<section id='summary' aria-labelledby='summary-h'><h2 id='summary-h'>Summary</h2>"]
    if not rows:
        parts.append("<p>No summary: the evidence summary (07_evidence) did not run in this run, or found no primary-analysis estimate; the reports below give every result.</p></section>")
        return "".join(parts)
    primary = next((o for o, r in rows.items() if r["role"] == "primary"), None)
    if primary is not None:
        parts.append(f"<p><b>Primary outcome: {html.escape(outcome_label(primary))}.</b> " + " ".join(_sentences(primary, rows[primary], reasons, alpha)) + "</p>")
    plan = _plan_sentences(est)
    if plan:
        parts.append("<p>" + " ".join(plan) + "</p>")
    sec = [o for o, r in rows.items() if r["role"] == "secondary"]
    if sec or primary is not None:
        table = []
        for o in ([primary] if primary is not None else []) + sec:  # one headline table: the primary first, then the secondary outcomes
            r = rows[o]
            eff, per, mde, cert = r.get("effect_pct"), r.get("effect_per_year"), r.get("mde_pct"), r.get("certainty")
            k = max(1, decimals(max(abs(eff["ci_lower"]), abs(eff["ci_upper"])), 2)) if eff is not None else 1
            kp = decimals(max(abs(per["ci_lower"]), abs(per["ci_upper"])), 2) if per is not None else 0
            detected = eff is not None and (eff["ci_lower"] > 0 or eff["ci_upper"] < 0)
            table.append({
                "outcome": outcome_label(o) + (" (primary, pre-specified)" if o == primary else ""),
                "change, % of pre-designation level (95% CI)": f"{_pct(eff['estimate'], k)} ({_pct(eff['ci_lower'], k)} to {_pct(eff['ci_upper'], k)})" if eff is not None else "–",
                "change per year (95% CI)": f"{number(per['estimate'], places=kp)} ({number(per['ci_lower'], places=kp)} to {number(per['ci_upper'], places=kp)})" if per is not None else "–",
                "effect detected?": "yes" if detected else "not detected",
                "detectable change (80% power)": f"{number(mde['estimate'], 2)}%" if mde is not None else "–",
                "certainty": LEVELS[int(cert["estimate"])] if cert is not None else "–",
            })
        head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in table[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>" for row in table)
        parts.append(f"<table class='summary'><caption>Every outcome of the protocol with its estimator: the primary first, then the secondary outcomes (Holm-adjusted tests are in 00_primary).</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("<p class='muted'>Every number above is a row of estimates.csv (method <code>summary</code>); the reports below give every estimate, its diagnostics and its caveats.</p></section>")
    return "".join(parts)



def _common_decimals(*values: float) -> int:
    """Decimals for an estimate and its interval: three significant figures of the largest in magnitude."""
    finite = [abs(float(v)) for v in values if v is not None and np.isfinite(v)]
    return decimals(max(finite)) if finite else 0


def family_scope(est: pd.DataFrame, method: str, outcome: str, cohorts: pd.DataFrame | None) -> tuple[tuple[str, ...], int | None]:
    """The cohorts an estimator's overall estimate covers and their number of treated units.

    Context: design families answer on different treated groups (synthetic control and ITS on the earliest cohort,
    difference-in-differences on every cohort), so estimates side by side are only comparable when the reader sees
    whose effect each is.
    Decision: the cohorts are the estimator's rows for the outcome whose ``group`` is a cohort of the run's
    ``cohorts.csv`` (its ``first_treated`` labels); treated units are that file's treated units of those cohorts.
    When the estimator records no per-cohort rows, every cohort is assumed (the overall estimate pools them).
    Consequences: the findings table states, per column or cell, the cohorts and treated units behind each estimate;
    without ``cohorts.csv`` nothing is claimed.
    """
    if cohorts is None or cohorts.empty or "first_treated" not in cohorts:
        return (), None
    treated = cohorts[cohorts["status"].astype(str) == "treated"] if "status" in cohorts else cohorts[cohorts["first_treated"].notna()]
    labels = treated["first_treated"].dropna().astype(str)
    known = list(dict.fromkeys(sorted(labels)))
    rows = est[(est["method"] == method) & (est["outcome"] == outcome)]
    groups = set(rows["group"].dropna().astype(str))
    covered = tuple(c for c in known if c in groups) or tuple(known)
    return covered, int(labels.isin(covered).sum())


def _scope_text(covered: tuple[str, ...], n: int | None) -> str:
    if not covered:
        return ""
    head = ("cohort " if len(covered) == 1 else "cohorts ") + ", ".join(covered[:4]) + (f" and {len(covered) - 4} more" if len(covered) > 4 else "")
    return head + (f"; {n:,} treated unit{'s' if n != 1 else ''}" if n is not None else "")


def findings_html(est: pd.DataFrame, alpha: float = 0.05, cohorts: pd.DataFrame | None = None) -> str:
    """Findings by design family: one row per outcome (and scale), one column per design family (its representative
    estimator, :func:`evidence.summary.family_representatives`), each column headed by the cohorts and treated units
    its estimates cover (:func:`family_scope`; in the cell when they differ by outcome), each cell the estimate and
    95% interval with the estimator, its units and any failed diagnostic flagged in the cell (never a star)."""
    from .summary import FAMILIES, family_representatives, overall, pretrend_failures
    from .tables import METHOD_NAMES

    table = overall(est)
    if table.empty:
        return "<p class='muted'>No overall estimates in this run.</p>"
    reps = family_representatives(table)
    failures = pretrend_failures(est, alpha)
    units = est.assign(group=est["group"].fillna("all").astype(str))
    families = [f for f in FAMILIES if f in set(reps["family"])]
    scope = {(r.family, r.outcome): _scope_text(*family_scope(est, r.method, r.outcome, cohorts)) for r in reps.itertuples(index=False)}
    header = {}
    for fam in families:
        texts = {t for (f, _), t in scope.items() if f == fam}
        header[fam] = f"{fam} ({texts.pop()})" if len(texts) == 1 and "" not in texts else fam
    rows = []
    for outcome, d in reps.groupby("outcome", sort=False):
        scale = str(d["scale"].iloc[0])
        row = {"outcome": outcome_label(str(outcome).removesuffix("_log")) + (", log scale" if str(outcome).endswith("_log") else ""), "scale": scale}
        for fam in families:
            r = d[d["family"] == fam]
            if r.empty:
                row[header[fam]] = "–"
                continue
            r = r.iloc[0]
            k = _common_decimals(r["estimate"], r["ci_lower"], r["ci_upper"])
            cell = f"{number(r['estimate'], places=k)} ({number(r['ci_lower'], places=k)} to {number(r['ci_upper'], places=k)})"
            n = units[(units["method"] == r["method"]) & (units["outcome"] == outcome)]["n_units"].dropna()
            cell += f" · {METHOD_NAMES.get(r['method'], r['method'])}" + (f", {int(n.max())} units" if len(n) else "")
            if header[fam] == fam and scope.get((fam, outcome)):
                cell += f" · {scope[(fam, outcome)]}"
            flags = []
            if fam == "difference-in-differences" and (outcome in failures or str(outcome).removesuffix("_log") in failures):
                flags.append("pre-trends rejected")
            excl = r["ci_lower"] > 0 or r["ci_upper"] < 0
            cell += " · " + ("interval excludes zero" if excl else "not detected")
            if flags:
                cell += " · ⚠ " + "; ".join(flags)
            row[header[fam]] = cell
        rows.append(row)
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return (
        "<p class='muted'>One estimate per design family (estimators of one family share their identifying assumption, so they are one vote, not several); "
        "each row is one outcome on one scale, and each column says whose effect it estimates (cohorts and treated units). A ⚠ marks an estimate whose own diagnostics fail: read it as a warning, not a finding. "
        "Every estimate of every method is in the reports and in estimates.csv.</p>"
        f"<div class='scroll'><table class='findings'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


__all__ = ["family_scope", "findings_html", "outcome_label", "summary_html"]
