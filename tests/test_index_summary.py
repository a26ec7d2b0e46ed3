"""The generated summary at the top of index.html (issue: reviewer-grade reports): what it says, and that every number
it prints is a row of estimates.csv."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from evidence.headline import outcome_label, summary_html
from evidence.summary import headline_rows


def _estimates() -> pd.DataFrame:
    """The rows 00_primary and 06_power record for two outcomes (a rate with monthly data, and a percentage)."""
    rows = [
        ("00_primary", "cs", "rate_per_100k", "simple", -1.5, 0.9, -3.3, 0.3, 0.10),
        ("00_primary", "cs", "rate_per_100k", "simple_pct", -0.2, 0.1, -0.4, 0.03, 0.10),
        ("00_primary", "cs", "rate_per_100k", "simple_per_year", -18.0, 10.8, -39.6, 3.6, 0.10),
        ("00_primary", "baseline", "rate_per_100k", "treated_pre_mean", 900.0, np.nan, np.nan, np.nan, np.nan),
        ("06_power", "cs", "synthetic:rate_per_100k", "mde_80", 36.0, np.nan, np.nan, np.nan, np.nan),
        ("00_primary", "cs", "share_pct", "simple", 2.0, 0.5, 1.0, 3.0, 0.0001),
        ("00_primary", "cs", "share_pct", "simple_pct", 2.5, 0.6, 1.3, 3.7, 0.0001),
        ("00_primary", "cs", "share_pct", "simple_per_year", 24.0, 6.0, 12.0, 36.0, 0.0001),
        ("00_primary", "baseline", "share_pct", "treated_pre_mean", 80.0, np.nan, np.nan, np.nan, np.nan),
    ]
    df = pd.DataFrame(rows, columns=["notebook", "method", "outcome", "estimand", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"])
    return df.assign(group="all", n_obs=1000, n_units=40, n_clusters=40)


def test_headline_rows_convert_the_primary_estimator_and_keep_percentages_out_of_per_year():
    rating = pd.DataFrame({"outcome": ["rate_per_100k", "share_pct"], "certainty": ["low", "moderate"], "reasons": ["r1", "r2"]})
    h = headline_rows(_estimates(), "rate_per_100k", ["share_pct"], {"share_pct": "percent"}, rating).set_index(["outcome", "estimand"])
    assert h.loc[("rate_per_100k", "effect_pct"), "estimate"] == -0.2 and h.loc[("rate_per_100k", "effect"), "group"] == "primary"
    assert h.loc[("rate_per_100k", "mde_pct"), "estimate"] == pytest.approx(100 * 36 / 900)
    assert h.loc[("rate_per_100k", "mde_per_year"), "estimate"] == pytest.approx(36 * 12)  # the primary's own per-year factor
    assert h.loc[("rate_per_100k", "certainty"), "estimate"] == 1 and h.loc[("share_pct", "certainty"), "estimate"] == 2
    assert ("share_pct", "effect_per_year") not in h.index  # a percentage is not a flow
    assert h.loc[("share_pct", "effect"), "group"] == "secondary"


def test_the_summary_says_not_detected_and_detected_and_every_number_is_a_row(tmp_path):
    est = _estimates()
    rating = pd.DataFrame({"outcome": ["rate_per_100k", "share_pct"], "certainty": ["low", "moderate"], "reasons": ["parallel trends rejected in the pre-period", "none of the downgrading rules applied"]})
    rating.to_csv(tmp_path / "certainty.csv", index=False)
    head = headline_rows(est, "rate_per_100k", ["share_pct"], {"share_pct": "percent"}, rating).assign(notebook="07_evidence")
    page = summary_html(pd.concat([est, head], ignore_index=True), tmp_path)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "No effect was detected" in text and "not evidence of no effect" in text and not re.search(r"(had|has|there (is|was)) no effect", text.lower())
    assert "Primary outcome: rate per 100,000 population" in text and "Certainty of the evidence:  low" in text
    assert "a month" in text and "18 rate per 100,000 population a year" in text
    assert re.search(r"share \(%\)\s+\+2\.5% \(\+1\.3% to \+3\.7%\)\s+–\s+yes", text)  # detected; no per-year for a percentage
    # one headline table: the primary outcome is its first row, then the secondary outcomes
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1])
    assert "rate per 100,000 population (primary, pre-specified)" in rows[0] and "share (%)" in rows[1]
    assert "-0.20% (-0.40% to +0.03%)" in rows[0] and "-18 (-40 to 4)" in rows[0] and "not detected" in rows[0]
    _assert_numbers_are_rows(page, head)


def _assert_numbers_are_rows(page: str, head: pd.DataFrame) -> None:
    """Every number in the summary's text equals, at the precision shown, a value of a summary row (the labels'
    own numbers, the 95% / 80% levels and the certainty reasons' words aside)."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for lab in sorted({outcome_label(o) for o in head["outcome"]}, key=len, reverse=True):  # longest first
        text = text.replace(lab, " ")
    text = re.sub(r"“[^”]*”", " ", text)  # a plan assumption's own label, quoted as the user wrote it
    text = re.sub(r"95%|80%|estimates\.csv|00_primary|07_evidence", " ", text)
    values = pd.concat([head[c] for c in ("estimate", "ci_lower", "ci_upper", "p_value")]).dropna().to_numpy()
    for tok in re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?", text):
        v = float(tok.replace(",", ""))
        places = len(tok.split(".")[1]) if "." in tok else 0
        ok = np.any(np.abs(np.abs(values) - abs(v)) <= 0.5 * 10.0**-places + 1e-12)
        assert ok, f"{tok} in the summary is not a summary row of estimates.csv"


@pytest.mark.e2e
def test_the_default_run_opens_with_a_summary_whose_numbers_are_rows(default_run):
    _, run, _, _ = default_run
    page = (run / "index.html").read_text(encoding="utf-8")
    assert page.index("id='summary'") < page.index("Reports, in reading order")
    section = page[page.index("<section id='summary'"): page.index("</section>")]
    est = pd.read_csv(run / "estimates.csv", dtype={"group": "string", "period": "string"})
    head = est[est["method"] == "summary"]
    assert set(head["group"].dropna()) >= {"primary", "secondary"}
    cert = pd.read_csv(run / "certainty.csv")
    section = re.sub(r"<[^>]+>", "", section)  # text only, entities kept (terms are linked to the glossary)
    for r in set(cert["reasons"].astype(str)):  # the certainty reasons are 07's generated text: their counts are the design's
        section = section.replace(html.escape(r), " ")
    _assert_numbers_are_rows(section, head)


def test_findings_table_has_one_column_per_design_family_and_flags_failed_diagnostics():
    from evidence.headline import findings_html
    from evidence.results import tidy_frame

    est = tidy_frame([
        {"method": "cs", "outcome": "y", "estimand": "simple", "group": "all", "estimate": -1.5, "ci_lower": -2.9, "ci_upper": -0.1, "p_value": 0.04, "n_units": 40},
        {"method": "twfe", "outcome": "y", "estimand": "att", "group": "all", "estimate": -1.2, "ci_lower": -2.2, "ci_upper": -0.2, "p_value": 0.02, "n_units": 40},
        {"method": "twfe_event_study", "outcome": "y", "estimand": "pretest_f", "estimate": 4.1, "p_value": 0.001},
        {"method": "sdid", "outcome": "y", "estimand": "att", "group": "all", "estimate": 0.3, "ci_lower": -1.0, "ci_upper": 1.6, "p_value": 0.6, "n_units": 30},
        {"method": "its", "outcome": "y", "estimand": "rate_ratio_post", "group": "pooled|controlled", "estimate": 0.9, "ci_lower": 0.8, "ci_upper": 1.01, "p_value": 0.07},
    ]).assign(notebook="x")
    page = findings_html(est)
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    header = re.findall(r"<th[^>]*>(.*?)</th>", rows[0])
    assert header == ["outcome", "scale", "difference-in-differences", "synthetic control", "interrupted time series"]
    y = re.findall(r"<td>(.*?)</td>", rows[1])
    assert y[0] == "y" and y[1] == "outcome units"
    assert "Callaway" in y[2] and "interval excludes zero" in y[2] and "⚠ pre-trends rejected" in y[2]  # flagged, in the cell
    assert "synthetic DiD, 30 units" in y[3] and "not detected" in y[3] and y[4] == "–"
    y_log = re.findall(r"<td>(.*?)</td>", rows[2])
    assert y_log[0] == "y, log scale" and y_log[1] == "log rate ratio" and "controlled ITS" in y_log[4]  # the ITS on its own scale's row
    assert "*" not in page


def test_findings_columns_state_their_cohorts_and_treated_units():
    """Each design family's column says whose effect it estimates: DiD on every cohort it reports, synthetic
    control on the one cohort it ran on; cohorts and treated units come from the run's cohorts.csv."""
    from evidence.headline import family_scope, findings_html
    from evidence.results import tidy_frame

    cohorts = pd.DataFrame({"unit": list("abcdefg"), "status": ["treated"] * 5 + ["never_treated"] * 2, "first_treated": ["2018-04", "2018-04", "2018-04", "2019-04", "2019-04", None, None]})
    est = tidy_frame([
        {"method": "cs", "outcome": "y", "estimand": "simple", "group": "all", "estimate": -1.5, "ci_lower": -2.9, "ci_upper": -0.1, "p_value": 0.04, "n_units": 7},
        {"method": "cs", "outcome": "y", "estimand": "group", "group": "2018-04", "estimate": -1.0, "ci_lower": -2.0, "ci_upper": 0.1, "p_value": 0.1, "n_units": 7},
        {"method": "cs", "outcome": "y", "estimand": "group", "group": "2019-04", "estimate": -2.0, "ci_lower": -3.0, "ci_upper": -1.0, "p_value": 0.01, "n_units": 7},
        {"method": "sdid", "outcome": "y", "estimand": "att", "group": "all", "estimate": 0.3, "ci_lower": -1.0, "ci_upper": 1.6, "p_value": 0.6, "n_units": 5},
        {"method": "sdid", "outcome": "y", "estimand": "att", "group": "2018-04", "estimate": 0.3, "ci_lower": -1.0, "ci_upper": 1.6, "p_value": 0.6, "n_units": 5},
    ]).assign(notebook="x")
    assert family_scope(est, "cs", "y", cohorts) == (("2018-04", "2019-04"), 5)
    assert family_scope(est, "sdid", "y", cohorts) == (("2018-04",), 3)
    assert family_scope(est, "sdid", "y", None) == ((), None)
    header = re.findall(r"<th[^>]*>(.*?)</th>", findings_html(est, 0.05, cohorts))
    assert header[2] == "difference-in-differences (cohorts 2018-04, 2019-04; 5 treated units)"
    assert header[3] == "synthetic control (cohort 2018-04; 3 treated units)"
