"""One table style for every table the notebooks show (the presentation layer; estimation never formats).

Context
    The report functions return plain DataFrames, which notebooks display and tests and later cells index. Shown as
    pandas renders them they read as analyst output: a 0..n index, six decimals, scientific notation, ``NaN`` and
    ``True``, code names as headers and values.
Decision
    :func:`install_table_style` (called by :func:`evidence.open_run`) registers :func:`table_html` as the notebook's
    HTML formatter for every DataFrame, so each displayed table gets the same style while the objects stay DataFrames:
    no row index, readable headers, ``estimate (95% CI)`` in one cell, three significant figures with thousands
    separators and never scientific notation, p-values as ``0.03`` / ``<0.001``, method codes as names, ``yes``/``no``
    for booleans, a dash for missing values, every string escaped, long tables folded (nothing truncated).
Consequences
    Numbers keep full precision in the DataFrames, ``estimates.csv`` and the checked text outputs; only their display
    changes. A table's ``attrs["caption"]`` becomes its caption.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np
import pandas as pd

METHOD_NAMES: dict[str, str] = {
    "did_2x2": "2x2 DiD",
    "twfe": "TWFE",
    "twfe_event_study": "TWFE event study",
    "cs": "Callaway–Sant'Anna",
    "sun_abraham": "Sun–Abraham",
    "imputation": "imputation (BJS)",
    "sdid": "synthetic DiD",
    "sc_sdid_form": "synthetic control (SDID form)",
    "did_sdid_form": "DiD (SDID form)",
    "synthetic_control": "synthetic control",
    "its": "interrupted time series",
    "its_controlled": "controlled ITS",
    "poisson_twfe": "Poisson TWFE",
    "poisson_event_study": "Poisson event study",
    "etwfe_poisson": "extended TWFE (Poisson)",
    "wild_bootstrap": "wild cluster bootstrap",
    "randomization": "randomisation inference",
    "honest_did_rm": "HonestDiD (relative magnitudes)",
    "honest_did_sm": "HonestDiD (smoothness)",
    "honest_did_rm_cs": "HonestDiD on Callaway–Sant'Anna (relative magnitudes)",
    "honest_did_sm_cs": "HonestDiD on Callaway–Sant'Anna (smoothness)",
    "wild_bootstrap_did_2x2": "wild cluster bootstrap (2x2 DiD)",
    "bacon": "Goodman-Bacon decomposition",
}
"""Method codes (``estimates.csv``) and the names tables show."""

COLUMN_NAMES: dict[str, str] = {
    "std_error": "SE",
    "p_value": "p-value",
    "n_obs": "observations",
    "n_units": "units",
    "n_clusters": "clusters",
    "event_time": "periods since treatment",
    "estimand": "estimand",
    "ci_lower": "95% CI lower",
    "ci_upper": "95% CI upper",
}
"""Column names in the code and the headers tables show (others: underscores as spaces)."""

_P_COLUMNS = re.compile(r"(^|[\s_])p([\s_-]?value)?$|^p[\s_]|^(holm|romano_wolf|bonferroni)$", re.IGNORECASE)
_COUNT_COLUMNS = re.compile(r"^(n_|n |units|clusters|observations|rows|assignments|reps|periods|cells|draws|permutations)|(units|clusters|count|obs)$", re.IGNORECASE)
FOLD_ROWS = 40
"""Tables longer than this are folded (shown on a click), never cut."""


def decimals(v: float, digits: int = 3) -> int:
    """Decimals that show ``v`` to ``digits`` significant figures (0 for large numbers; at most 8)."""
    if not np.isfinite(v) or v == 0:
        return 0
    return int(min(8, max(0, digits - 1 - math.floor(math.log10(abs(v))))))


def number(x: Any, digits: int = 3, places: int | None = None) -> str:
    """A number for a table: ``digits`` significant figures (or ``places`` decimals), thousands separators, never
    scientific notation."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    v = float(x)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if places is not None:
        return f"{v:,.{places}f}"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    if mag >= digits - 1:
        return f"{v:,.0f}"
    decimals = digits - 1 - mag
    if decimals > 8:
        return "0" if abs(v) < 5e-9 else f"{v:.8f}".rstrip("0")
    return f"{v:,.{decimals}f}"


def p_value(x: Any) -> str:
    """A p-value for a table: ``<0.001``, ``0.03``, ``0.41``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    v = float(x)
    if v < 0.001:
        return "<0.001"
    if v < 0.01:
        return f"{v:.3f}"
    return f"{v:.2f}"


UNIT_NAMES: dict[str, str] = {}
"""Unit code -> name of the run's panel (``data.unit_name``), set by :func:`install_table_style`."""
_UNIT_COLUMNS = ("unit", "area", "footprint", "unit left out", "donor")


def outcome_label(outcome: str) -> str:
    """A readable outcome name: ``emergency_admissions_per_100k`` -> ``emergency admissions per 100,000 population``;
    ``attendances_log`` -> ``attendances (log)``."""
    text = str(outcome).split(":")[-1]
    log = text.endswith("_log")
    text = text.removesuffix("_log")
    text = text.replace("_per_100k", " per 100,000 population").replace("_per_1000", " per 1,000 population").replace("_pct", " (%)")
    return text.replace("_", " ").strip() + (" (log)" if log else "")


def _cell(x: Any, column: str) -> str:
    if isinstance(x, (float, np.floating)) and _P_COLUMNS.search(column):
        return p_value(x)
    if isinstance(x, (float, np.floating)) and _COUNT_COLUMNS.search(column) and float(x).is_integer():
        return f"{int(x):,}"
    if isinstance(x, (bool, np.bool_, int, np.integer, float, np.floating)):
        return number(x)
    if x is None or x is pd.NA or x is pd.NaT:
        return "–"
    if column in ("method", "estimator") and str(x) in METHOD_NAMES:
        return METHOD_NAMES[str(x)]
    if column.lower() == "outcome" and isinstance(x, str):  # names instead of codes
        return outcome_label(x)
    if column.lower() in _UNIT_COLUMNS and str(x) in UNIT_NAMES:  # names instead of codes
        return f"{UNIT_NAMES[str(x)]} ({x})"
    return str(x)


def _with_ci(e: Any, lo: Any, hi: Any) -> str:
    """``estimate (lower to upper)`` with the estimate's decimals throughout."""
    if e is None or pd.isna(e):
        return "–"
    if pd.isna(lo) or pd.isna(hi):
        return number(e)
    k = decimals(max(abs(float(e)), abs(float(lo)), abs(float(hi))))  # the interval's precision throughout
    return f"{number(e, places=k)} ({number(lo, places=k)} to {number(hi, places=k)})"


def tidy_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: index as columns (when it carries labels), ``estimate (95% CI)`` combined, readable
    headers, every cell a formatted string."""
    t = df.copy()
    if not isinstance(t.index, pd.RangeIndex) or t.index.name is not None:
        t = t.reset_index()
    if isinstance(t.columns, pd.MultiIndex):
        t.columns = [" ".join(str(c) for c in col if str(c)) for col in t.columns]
    t.columns = [str(c) for c in t.columns]
    out = pd.DataFrame(index=t.index)
    cols = list(t.columns)
    ci = {"estimate", "ci_lower", "ci_upper"} <= set(cols)
    for c in cols:
        if ci and c in ("ci_lower", "ci_upper"):
            continue
        if ci and c == "estimate":
            out["estimate (95% CI)"] = [_with_ci(e, lo, hi) for e, lo, hi in zip(t["estimate"], t["ci_lower"], t["ci_upper"])]
            continue
        name = COLUMN_NAMES.get(c, c.replace("_", " "))
        while name in out.columns:  # two code names with one readable name keep both columns
            name += " "
        out[name] = [_cell(x, c) for x in t[c].tolist()] if t.columns.tolist().count(c) == 1 else [_cell(x, c) for x in t.loc[:, c].iloc[:, 0].tolist()]
    return out


def table_html(df: pd.DataFrame) -> str:
    """The package's HTML for a table (see the module)."""
    shown = tidy_for_display(df)
    caption = df.attrs.get("caption")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    num = re.compile(r"[−\-<]?[\d,.]+%?|–|[\-−]?[\d,.]+ \([\-−\d,.]+ to [\-−\d,.]+\)")
    align = ["right" if len(shown) and all(num.fullmatch(str(v)) for v in shown.iloc[:, j]) else "left" for j in range(shown.shape[1])]
    # an estimate and its interval stay on one line; names and sentences wrap
    align = [a + (";white-space:nowrap" if c == "estimate (95% CI)" else "") for a, c in zip(align, shown.columns)]
    body = "".join("<tr>" + "".join(f"<td style='text-align:{a}'>{html.escape(v)}</td>" for v, a in zip(row, align)) + "</tr>" for row in shown.itertuples(index=False, name=None))
    cap = f"<caption>{html.escape(str(caption))}</caption>" if caption else ""
    # a wide table scrolls inside its own box: the page never grows wider than the window
    table = f"<div style='overflow-x:auto;max-width:100%'><table class='evidence-table'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    style = "<style>.evidence-table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.4em 0}.evidence-table th{text-align:left;border-bottom:1px solid #666;padding:2px 8px}.evidence-table td{padding:2px 8px;border-bottom:1px solid #ddd;vertical-align:top}.evidence-table caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:.2em}</style>"
    if len(shown) > FOLD_ROWS:
        return f"{style}<details><summary>Table of {len(shown):,} rows (select to show)</summary>{table}</details>"
    return style + table


def install_table_style(unit_names: dict[str, str] | None = None) -> None:
    """Display every DataFrame in this IPython kernel with :func:`table_html` (no-op outside IPython); unit codes in
    unit columns are shown with the names in ``unit_names``."""
    UNIT_NAMES.clear()
    UNIT_NAMES.update({str(k): str(v) for k, v in (unit_names or {}).items() if isinstance(v, str) and v and v != k})
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    ip = get_ipython()
    if ip is None:
        return
    ip.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)
