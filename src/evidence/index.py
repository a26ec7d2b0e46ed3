"""The landing page of a run: ``reports/<run_name>/index.html``.

Built from the run's own files (``manifest.json``, ``estimates.csv``, ``params.yaml``) after every notebook has
succeeded: links to each rendered notebook, a key-results table, the run's warnings, the parameters and the
provenance. Self-contained: inline CSS, no scripts, fonts or external requests, so it opens offline.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .tables import METHOD_NAMES, decimals, number

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;margin:2rem auto;max-width:1100px;color:#231f20;line-height:1.45;padding:0 1rem}
h1{color:#005EB8;font-size:1.6rem;margin-bottom:.2rem}h2{color:#003087;font-size:1.2rem;border-bottom:2px solid #005EB8;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.88rem;margin:.5rem 0}th,td{border:1px solid #d8dde0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.banner{border:3px solid #DA291C;color:#DA291C;padding:.6rem;font-weight:bold;margin:1rem 0}
.warn{background:#fff9c4;border-left:4px solid #ED8B00;padding:.3rem .6rem;margin:.3rem 0}
pre{background:#f0f4f5;padding:.6rem;overflow-x:auto;font-size:.8rem}code{font-size:.85rem}.muted{color:#425563;font-size:.85rem}
a{color:#005EB8}
.scroll{overflow-x:auto;max-width:100%}table.summary td,table.summary th{font-size:.9rem}
@media print{
 @page{size:A4;margin:14mm}
 body{margin:0;max-width:none;font-size:10pt}
 nav,.appendix,.no-print{display:none}
 .scroll{overflow:visible}table{width:100%;font-size:8pt}tr,img{break-inside:avoid}h2{break-after:avoid}
 a{color:inherit;text-decoration:none}
}
"""

NOTEBOOK_TITLES = {
    "00_primary": "Protocol and primary analysis: the pre-specified answer, secondary outcomes, negative controls, baseline balance",
    "00_data": "Data: panel, quality checks and the designation design",
    "01_did": "Difference-in-differences: 2x2, TWFE and the event study",
    "02_staggered": "Staggered adoption: Callaway-Sant'Anna, Sun-Abraham, imputation, Goodman-Bacon",
    "03_synthetic_control": "Synthetic control and synthetic difference-in-differences",
    "04_its": "Interrupted time series",
    "05_robustness": "Inference with few clusters and robustness: wild bootstrap, randomisation inference, HonestDiD, placebos",
    "06_power": "Power and method validation on simulated data (SYNTHETIC)",
    "07_evidence": "Evidence summary: triangulation, certainty ratings and the plan-assumption check",
    "08_costs_satisfaction": "Costs (GP payments, service use in pounds) and patient satisfaction (GP Patient Survey)",
}

READING_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Summary", ("07_evidence",)),
    ("Findings", ("00_primary", "01_did", "02_staggered", "03_synthetic_control", "04_its", "08_costs_satisfaction")),
    ("Design and data", ("00_data",)),
    ("Robustness", ("05_robustness", "06_power")),
)
"""The order a reader takes: the summary, the findings, how the design and data were built, how robust it all is
(the technical appendix — parameters, provenance, glossary — is on the index page)."""


def reading_order(notebooks: list[str] | tuple[str, ...]) -> list[str]:
    """The run's notebooks in reading order (any not listed in :data:`READING_ORDER` last, as given)."""
    order = [n for _, group in READING_ORDER for n in group if n in notebooks]
    return order + [n for n in notebooks if n not in order]


def nav_html(name: str, notebooks: list[str] | tuple[str, ...]) -> str:
    """The navigation bar of a notebook page: index, glossary, previous and next notebook in reading order."""
    order = reading_order(notebooks)
    i = order.index(name) if name in order else -1
    links = ["<a href='index.html'>Index</a>", "<a href='glossary.html'>Glossary</a>"]
    if i > 0:
        links.append(f"<a href='{order[i - 1]}.html' rel='prev'>← Previous: {html.escape(NOTEBOOK_TITLES.get(order[i - 1], order[i - 1]).split(':')[0])}</a>")
    if 0 <= i < len(order) - 1:
        links.append(f"<a href='{order[i + 1]}.html' rel='next'>Next: {html.escape(NOTEBOOK_TITLES.get(order[i + 1], order[i + 1]).split(':')[0])} →</a>")
    return "<nav class='evidence-nav' aria-label='report navigation' style='font-size:.9rem;padding:.3rem 0;border-bottom:1px solid #ccc'>" + " · ".join(links) + "</nav>"


from .summary import OVERALL  # noqa: E402 - one definition of the overall estimand per method


def key_results(estimates: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Overall estimate and interval per outcome (rows) and method (columns), as text; * marks p < alpha."""
    rows = []
    for method, estimand in OVERALL.items():
        d = estimates[(estimates["method"] == method) & (estimates["estimand"] == estimand)]
        d = d[d["group"].fillna("all").astype(str).str.startswith(("all", "pooled"))]
        for r in d.drop_duplicates("outcome").itertuples():
            k = decimals(float(r.estimate)) if np.isfinite(r.estimate) else 0
            rows.append({"outcome": r.outcome, "method": METHOD_NAMES.get(method, method), "cell": f"{number(r.estimate, places=k)} ({number(r.ci_lower, places=k)} to {number(r.ci_upper, places=k)})" + ("*" if r.p_value < alpha else "")})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    order = [METHOD_NAMES.get(m, m) for m in OVERALL if METHOD_NAMES.get(m, m) in set(df["method"])]
    return df.pivot(index="outcome", columns="method", values="cell").reindex(columns=order).fillna("").reset_index()


def shape_text(shape: dict) -> str:
    """A panel file's shape as the console, ``run.log`` and the index state it:
    ``20 units x 33 periods (2016-04 to 2018-12): 660 rows x 7 columns`` (from the manifest's ``analysis_panel``
    or the runner's record of ``panel.csv``)."""
    window = shape.get("window") or []
    when = f" ({window[0]} to {window[1]})" if len(window) == 2 else ""
    cols = f" x {shape['columns']} columns" if "columns" in shape else ""
    return f"{shape['units']} units x {shape['periods']} periods{when}: {shape['rows']:,} rows{cols}"


def _shapes_html(m: dict) -> str:
    """The two panel files' shapes (runs before the manifest recorded them show nothing)."""
    used = m.get("analysis_panel")
    built = m.get("panel") or {}
    if not used or "rows" not in built:
        return ""
    return (f"<p class='muted'>Panels: <a href='panel.csv'>panel.csv</a> (built) {html.escape(shape_text(built))}; "
            f"<a href='analysis_panel.csv'>analysis_panel.csv</a> (used by the estimators: the window applied, units dropped) {html.escape(shape_text(used))}.</p>")


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p class='muted'>No rows.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _primary_html(est: pd.DataFrame, params_text: str, alpha: float) -> str:
    """The pre-specified primary estimate and the protocol's hash, from estimates.csv rows of 00_primary."""
    import yaml

    from .params import load_params
    from .protocol import resolve

    try:
        raw = yaml.safe_load("\n".join(line for line in params_text.splitlines() if not line.startswith("#"))) or {}
        proto = resolve(load_params(data=raw))
        head = f"<p class='muted'>Protocol <code>{proto.digest[:12]}</code> ({html.escape(proto.source)}{'; fixed ' + html.escape(str(proto.fixed_on)) if proto.fixed_on else '; not fixed'}); {len(proto.run_deviations) + len(proto.deviations)} deviation(s): see 00_primary.</p>"
    except Exception:  # noqa: BLE001 - the index must render whatever the parameters hold
        head = ""
    p = est[est["notebook"] == "00_primary"]
    rows = p[p["method"].isin(["cs", "randomization"]) & p["estimand"].isin(["simple", "simple_per_year", "simple_pct"])]
    if rows.empty:
        return "<h2>Primary analysis</h2><p class='muted'>Not run (00_primary is not among the notebooks of this run).</p>" + head
    outcome = str(rows["outcome"].iloc[0])
    names = {"simple": "per period", "simple_per_year": "per year", "simple_pct": "% of the treated pre-designation mean"}
    inf = {"cs": "analytic", "randomization": "randomisation inference"}
    table = pd.DataFrame([{"scale": names[r.estimand], "inference": inf[r.method], "estimate [95% interval]": f"{r.estimate:,.3g} [{r.ci_lower:,.3g}, {r.ci_upper:,.3g}]", "p-value": "<0.001" if r.p_value < 0.001 else f"{r.p_value:.3f}"} for r in rows.itertuples()])
    return f"<h2>Primary analysis (pre-specified)</h2><p>Outcome <code>{html.escape(outcome)}</code>; Callaway-Sant'Anna overall effect of ICS designation. An interval including zero means no effect was detected, not that there was none.</p>" + head + _table(table)


def build_index(run_dir: str | Path) -> Path:
    """Write ``index.html`` into a run folder from its manifest, estimates and parameters."""
    run_dir = Path(run_dir)
    m = json.loads((run_dir / "manifest.json").read_text())
    est = pd.read_csv(run_dir / "estimates.csv", dtype={"group": "string", "period": "string"})
    params = (run_dir / "params.yaml").read_text()
    import yaml

    alpha = float((yaml.safe_load(params) or {}).get("inference", {}).get("alpha", 0.05))
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(m['title'])} — run {html.escape(m['run_name'])}</title><style>{CSS}</style></head><body>"]
    parts.append(f"<h1>{html.escape(m['title'])}</h1><p class='muted'>Run <code>{html.escape(m['run_name'])}</code> · parameters <code>{html.escape(str(m['params_file']))}</code>" + (f" with overrides <code>{html.escape('; '.join(m['overrides']))}</code>" if m["overrides"] else "") + f" · finished {html.escape(m.get('finished', ''))} · {m.get('seconds', 0):.0f} s</p>")
    if m.get("derived_from"):
        d0 = m["derived_from"]
        what = "; ".join(x for x in ((f"--only {' '.join(d0['only'])}" if d0.get("only") else ""), (f"--set {'; '.join(d0['overrides'])}" if d0.get("overrides") else "")) if x)
        parts.append(f"<p class='muted'>A partial run of <code>{html.escape(str(d0['run_name']))}</code> ({html.escape(what)}), published under its own name so that it never replaces the report of the parameters file as written.</p>")
    parts.append(_shapes_html(m))
    if m.get("synthetic"):
        parts.append("<div class='banner'>SYNTHETIC DATA — every number in this run comes from simulated data, not from the NHS.</div>")
    from .headline import summary_html

    parts.append(summary_html(est, run_dir, alpha))
    parts.append(_primary_html(est, params, alpha))
    appl = m.get("applicability", {})
    skipped = set(appl.get("not_applicable_notebooks", []))
    parts.append("<h2>Reports, in reading order</h2><p class='muted'>Start with the summary; each report links to the previous and next one and to the <a href='glossary.html'>glossary</a> of terms.</p>")
    for section, group in READING_ORDER:
        here = [nb for nb in group if nb in m["notebooks"]]
        if not here:
            continue
        parts.append(f"<p><b>{html.escape(section)}</b></p><ul>")
        for nb in here:
            info = m["notebooks"][nb]
            na = " <b>· not applicable to this design</b>" if nb in skipped else ""
            parts.append(f"<li><a href='{html.escape(info['html'])}'>{html.escape(NOTEBOOK_TITLES.get(nb, nb))}</a>{na} <span class='muted'>({html.escape(nb)}, {info['seconds']:.0f} s; <a href='{html.escape(info['ipynb'])}'>notebook</a>)</span></li>")
        parts.append("</ul>")
    others = [nb for nb in m["notebooks"] if all(nb not in g for _, g in READING_ORDER)]
    if others:
        parts.append("<p><b>Other</b></p><ul>" + "".join(f"<li><a href='{html.escape(m['notebooks'][nb]['html'])}'>{html.escape(nb)}</a></li>" for nb in others) + "</ul>")
    lines = appl.get("lines", [])
    parts.append("<h2>Analyses not applicable, or run in a fallback form</h2>")
    if lines:
        parts.append("<p class='muted'>Decided from the design before any notebook ran (applicability.csv); each line names the parameter that would change it.</p><ul>" + "".join(f"<li><code>{html.escape(x['notebook'])}</code> {html.escape(x['line'])}</li>" for x in lines) + "</ul>")
    else:
        parts.append("<p class='muted'>None: every analysis of every notebook applies to this design.</p>")
    parts.append("<p class='muted'>Also in this folder: <a href='estimates.csv'>estimates.csv</a> (every estimate), <a href='panel.csv'>panel.csv</a> (the whole built panel), <a href='analysis_panel.csv'>analysis_panel.csv</a> (the panel the estimators used: window applied, units dropped), <a href='cohorts.csv'>cohorts.csv</a>, <a href='applicability.csv'>applicability.csv</a> (which analyses apply to the design), <a href='completeness.csv'>completeness.csv</a> (provider completeness incidents, built-in NHS data), <a href='balance.csv'>balance.csv</a> (baseline balance, Table 1), <a href='params.yaml'>params.yaml</a>, <a href='manifest.json'>manifest.json</a>, <a href='run.log'>run.log</a>.</p>")
    miss = m.get("missing", {})
    if miss.get("cells"):
        parts.append("<h2>Missing cells and how each method used them</h2><p class='muted'>data.missing: allow — the panel is unbalanced; missing_cells.csv lists every missing unit-period cell.</p><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in miss["cells"]) + "</ul>")
        by_method: dict[str, str] = {}
        for h in miss.get("handling", []):
            key = f"{h['notebook']} · {h['method']}"
            by_method.setdefault(key, h["handling"])
        if by_method:
            parts.append("<ul>" + "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in by_method.items()) + "</ul>")
    warnings = [w for ws in m.get("warnings", {}).values() for w in ws]
    parts.append("<h2>Warnings</h2>")
    if warnings:
        parts.extend(f"<div class='warn'>{html.escape(w)}</div>" for w in dict.fromkeys(warnings))
    else:
        parts.append("<p class='muted'>None raised by the notebooks.</p>")
    if m.get("notes"):
        parts.append("<p><b>Data and design notes</b></p><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in m["notes"]) + "</ul>")
    d = m["design"]
    from .headline import findings_html

    parts.append(f"<h2>Findings by design family</h2><p class='muted'>Design: {d['treated']} treated and {d['comparison']} comparison units, cohorts {html.escape(', '.join(d['cohorts']))}, window {html.escape(' to '.join(d['window']))}.</p>")
    cohorts_file = run_dir / "cohorts.csv"
    parts.append(findings_html(est, alpha, pd.read_csv(cohorts_file, dtype={"first_treated": "string"}) if cohorts_file.is_file() else None))
    parts.append("<section class='appendix'><h2>Technical appendix</h2><p class='muted'>Parameters, software and checksums of this run; the <a href='glossary.html'>glossary</a> explains the terms used.</p>")
    parts.append("<h2>Parameters</h2><pre>" + html.escape(params) + "</pre>")
    git = m.get("git", {})
    prov = pd.DataFrame([{"item": "git commit", "value": f"{git.get('commit', 'unknown')}{' (uncommitted changes)' if git.get('dirty') else ''}"}, {"item": "platform", "value": m.get("platform", "")}] + [{"item": k, "value": v} for k, v in m.get("versions", {}).items()])
    parts.append("<h2>Provenance</h2>" + _table(prov))
    parts.append("<p><b>Data checksums (sha256)</b></p>" + _table(pd.DataFrame([{"file": k, "sha256": v} for k, v in m.get("data_checksums", {}).items()])))
    parts.append("<p><b>Output checksums (sha256)</b></p>" + _table(pd.DataFrame([{"file": k, "sha256": v} for k, v in m.get("outputs", {}).items()])))
    parts.append("</section></body></html>")
    out = run_dir / "index.html"
    from .glossary import link_first_uses

    out.write_text(link_first_uses("\n".join(parts)), encoding="utf-8")
    from .glossary import glossary_html

    (run_dir / "glossary.html").write_text(glossary_html(CSS), encoding="utf-8")
    return out
