"""Terms of art the reports use, in plain English (the run's ``glossary.html``, linked from every page)."""

from __future__ import annotations

import re

GLOSSARY: dict[str, str] = {
    "ATT": "Average treatment effect on the treated: how much the outcome of the areas that became ICSs changed because they did, on average over the periods after designation.",
    "DiD (difference-in-differences)": "Compares the change in an outcome in treated areas with the change over the same time in comparison areas; the difference of the two changes estimates the effect if, without treatment, both would have moved in parallel.",
    "2x2": "The simplest DiD: one treated group and one comparison group, before and after.",
    "TWFE (two-way fixed effects)": "A regression with a separate level for every area and every period plus a treatment indicator. With staggered designation it can compare later-designated areas with already-designated ones, which can bias it.",
    "Event study": "Effects estimated separately for each period before and after designation (event time), relative to the period just before it; the periods before show whether trends were parallel.",
    "Event time": "Periods since designation: 0 is the first designated period, -1 the period before.",
    "Cohort": "The areas designated in the same period (one wave).",
    "Not-yet-treated / never-treated": "Comparison areas: areas designated only later (not yet at the time compared), or never within the window.",
    "Callaway–Sant'Anna": "A DiD estimator for staggered designation that compares each cohort only with not-yet- or never-treated areas, then averages the cohort effects.",
    "Sun–Abraham": "An event-study estimator for staggered designation that estimates each cohort's effects separately before averaging them.",
    "Imputation (BJS)": "Borusyak, Jaravel and Spiess's estimator: fits area and period effects on untreated observations only and predicts each treated observation's untreated outcome.",
    "Poisson model / extended TWFE": "Models for counts, including zero counts, in which effects are ratios of expected counts; they assume parallel trends in log expected counts.",
    "Synthetic control": "Builds, for a treated area, a weighted combination of comparison areas that tracks it before designation; the gap afterwards estimates the effect.",
    "SDID (synthetic difference-in-differences)": "Combines synthetic control weights on areas and on periods with a DiD comparison.",
    "ITS (interrupted time series)": "Compares an area's outcome after designation with the continuation of its own trend and seasonality from before; controlled ITS also subtracts the change in comparison areas.",
    "Parallel trends": "The assumption that treated and comparison areas would have changed alike without treatment; the pre-trend tests look for evidence against it before designation.",
    "Anticipation": "Effects that start before the recorded designation date (for example while areas prepared); the analyses can move the reference period back to allow for it.",
    "Confidence interval (95% CI)": "The range of effects compatible with the data at the 5% level; an interval that includes zero means no effect was detected, not that there is none.",
    "p-value": "How surprising the estimate would be if there were no effect; small values (below 0.05) count as detecting an effect.",
    "Cluster-robust standard error (CR1)": "A standard error that allows outcomes of the same area (cluster) to be correlated over time; with few treated clusters it is too small.",
    "Wild cluster bootstrap (WCR)": "Re-computes the test many times with randomly sign-flipped area-level residuals; more reliable than cluster-robust standard errors when few areas are treated.",
    "Randomisation inference": "Re-assigns designation timing at random many times; the p-value is the share of re-assignments giving an effect as large as the one estimated.",
    "HAC standard error": "A standard error for a single time series that allows for autocorrelation and changing variance (heteroskedasticity and autocorrelation consistent).",
    "HonestDiD / M-bar": "Sensitivity analysis asking how large violations of parallel trends after designation, relative to those seen before (M-bar), would have to be to overturn the result (the breakdown value).",
    "Uniform (sup-t) band": "An interval band that covers all event-time effects together with 95% probability, wider than the pointwise intervals.",
    "RMSPE": "Root mean squared prediction error: how closely a synthetic control tracked the treated area before designation.",
    "Log points": "Effects on the log of an outcome; for small values, 0.05 log points is about a 5% change (exactly 100 x (exp(effect) - 1) %).",
    "Rate ratio": "The ratio of the outcome's rate with and without designation; 0.95 means 5% lower.",
    "MDE (minimum detectable effect)": "The smallest true effect the design would detect 80% of the time at the 5% level, found by simulation on the real design.",
    "Power": "The probability that the analysis detects an effect of a given size.",
    "Placebo test": "The analysis repeated where there should be no effect (a fake designation date, or an outcome designation cannot affect); an effect there is a warning about the design.",
    "Triangulation": "Whether designs with different assumptions (DiD, synthetic control, ITS) reach the same conclusion.",
    "Certainty rating": "A rating of how far the evidence can be trusted (high, moderate, low, very low), from explicit rules listed in the evidence summary.",
    "Synthetic data": "Data simulated on the real design with known effects, used to test the methods and to estimate power; never evidence about the NHS.",
}


def glossary_html(css: str) -> str:
    """The glossary page (self-contained: inline CSS, no scripts)."""
    import html

    items = "".join(f"<dt id='{html.escape(_anchor(k))}'>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in GLOSSARY.items())
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Glossary</title><style>{css}dt{{font-weight:bold;margin-top:.8rem}}dd{{margin-left:1rem}}</style></head><body>"
        "<nav class='evidence-nav' aria-label='report navigation'><a href='index.html'>Index</a></nav>"
        f"<h1>Glossary</h1><p class='muted'>Terms used in this run's reports, in plain English.</p><dl>{items}</dl></body></html>"
    )


def _anchor(term: str) -> str:
    return "".join(ch.lower() if ch.isalnum() else "-" for ch in term).strip("-")


# the words a reader meets in the reports, each linked (at its first use on a page) to its glossary entry
FIRST_USE: dict[str, str] = {
    "ATT": "ATT", "TWFE": "TWFE (two-way fixed effects)", "DiD": "DiD (difference-in-differences)", "SDID": "SDID (synthetic difference-in-differences)",
    "ITS": "ITS (interrupted time series)", "HAC": "HAC standard error", "CR1": "Cluster-robust standard error (CR1)", "WCR": "Wild cluster bootstrap (WCR)",
    "RMSPE": "RMSPE", "sup-t": "Uniform (sup-t) band", "M-bar": "HonestDiD / M-bar", "log points": "Log points", "MDE": "MDE (minimum detectable effect)",
    "event time": "Event time", "parallel trends": "Parallel trends", "not-yet-treated": "Not-yet-treated / never-treated", "rate ratio": "Rate ratio",
}


_TAG = re.compile(r"(<[^>]*>)")
_SKIP = ("a", "code", "pre", "script", "style", "title", "head", "nav", "th", "summary", "caption", "textarea")


def link_first_uses(page: str) -> str:
    """``page`` (HTML) with the first use of each term of :data:`FIRST_USE` in its visible text linked to
    ``glossary.html`` — never inside links, code, scripts, styles, navigation or table headers.

    A linear scan over the page's text between tags (a rendered notebook is megabytes of embedded figures, all
    inside tags, so no HTML parser is run over it)."""
    pending = dict(FIRST_USE)
    patterns = {t: re.compile(rf"(?<![\w-]){re.escape(t)}(?![\w-])") for t in pending}
    depth = 0
    out = []
    for part in _TAG.split(page):
        if not part:
            continue
        if part.startswith("<"):
            name = re.match(r"</?\s*([a-zA-Z0-9]+)", part)
            if name and name.group(1).lower() in _SKIP and not part.endswith("/>"):
                depth += -1 if part.startswith("</") else 1
                depth = max(depth, 0)
            out.append(part)
            continue
        if depth or not pending:
            out.append(part)
            continue
        text = part
        while pending:
            hits = [(m.start(), t, m) for t in pending if (m := patterns[t].search(text))]
            if not hits:
                break
            _, term, m = min(hits, key=lambda h: h[0])
            out.append(text[: m.start()] + f"<a class='glossary' href='glossary.html#{_anchor(pending.pop(term))}'>{m.group(0)}</a>")
            text = text[m.end():]
        out.append(text)
    return "".join(out)
