"""The one table style (evidence.tables): what every table in every notebook shows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from evidence.tables import FOLD_ROWS, number, p_value, table_html, tidy_for_display


@pytest.mark.parametrize(
    "value, shown",
    [(0, "0"), (46315223.0, "46,315,223"), (-48680.2, "-48,680"), (-181.971237, "-182"), (12.3456, "12.3"), (0.0123456, "0.0123"),
     (3.2e-7, "0.00000032"), (1e-12, "0"), (np.nan, "–"), (True, "yes"), (False, "no"), (1200, "1,200"), (np.inf, "∞")],
)
def test_numbers_have_three_significant_figures_separators_and_no_scientific_notation(value, shown):
    assert number(value) == shown


@pytest.mark.parametrize("value, shown", [(0.0004, "<0.001"), (0.0042, "0.004"), (0.031, "0.03"), (0.412, "0.41"), (1.0, "1.00"), (np.nan, "–")])
def test_p_values(value, shown):
    assert p_value(value) == shown


def test_a_results_table_as_shown():
    df = pd.DataFrame({
        "outcome": ["admissions_log", "attendances"], "method": ["twfe", "sun_abraham"],
        "estimate": [-0.0123, -48680.2], "ci_lower": [-0.03, -1.204e6], "ci_upper": [0.005, 1.107e6],
        "p_value": [0.0004, 0.61], "n_units": [42.0, 42.0], "reliable": [True, False], "note": [np.nan, "<b>x</b> & y"],
    })
    shown = tidy_for_display(df)
    assert list(shown.columns) == ["outcome", "method", "estimate (95% CI)", "p-value", "units", "reliable", "note"]
    assert shown["estimate (95% CI)"].tolist() == ["-0.0123 (-0.0300 to 0.0050)", "-48,680 (-1,204,000 to 1,107,000)"]
    assert shown["method"].tolist() == ["TWFE", "Sun–Abraham"] and shown["p-value"].tolist() == ["<0.001", "0.61"]
    assert shown["units"].tolist() == ["42", "42"] and shown["reliable"].tolist() == ["yes", "no"] and shown["note"].iloc[0] == "–"
    page = table_html(df)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt; &amp; y" in page  # strings are escaped
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", page)
    assert not any(re.search(r"\d[eE][+-]?\d", c) for c in cells)  # no scientific notation
    assert not any(c in ("NaN", "nan", "True", "False", "None") for c in cells)
    assert "<th></th>" not in page and ">0<" not in page.split("<tbody>")[1][:40]  # no row index column


def test_labelled_indexes_become_columns_and_long_tables_fold_rather_than_cut():
    df = pd.DataFrame({"estimate": np.arange(FOLD_ROWS + 5, dtype=float)}, index=pd.Index([f"u{i}" for i in range(FOLD_ROWS + 5)], name="unit"))
    df.attrs["caption"] = "every unit"
    page = table_html(df)
    assert page.count("<tr>") == FOLD_ROWS + 5 + 1  # all rows (and the header), none cut
    assert "<details>" in page and f"Table of {FOLD_ROWS + 5:,} rows" in page and "<caption>every unit</caption>" in page
    assert "<th>unit</th>" in page


def test_terms_of_art_link_to_the_glossary_at_first_use_only_and_never_inside_code_or_links():
    from evidence.glossary import GLOSSARY, FIRST_USE, _anchor, link_first_uses

    page = "<head><title>ATT</title></head><nav>TWFE</nav><p>The TWFE estimate, the ATT; TWFE again.</p><code>HAC</code><a href='x'>HAC</a><p>HAC errors</p><img alt='ATT' src='data:image/png;base64,QVRU'/>"
    out = link_first_uses(page)
    assert out.count("glossary.html#") == 3  # TWFE, ATT and HAC once each
    assert "<title>ATT</title>" in out and "<nav>TWFE</nav>" in out and "<code>HAC</code>" in out and "alt='ATT'" in out
    assert "<p><a class='glossary' href='glossary.html#hac-standard-error'>HAC</a> errors</p>" in out
    assert all(v in GLOSSARY for v in FIRST_USE.values()) and _anchor("TWFE (two-way fixed effects)") in out
