"""Built-in satisfaction source ``gpps``: GP Patient Survey 2017-2024 by ICB and practice-deprivation quintile.

The file (Health Equity Evidence Centre, from the GPPS practice files) gives, for each ICB, indicator and survey year,
the **median across practices of the practice-level percentage** answering positively, within practice-deprivation
quintiles 1, 2, 3 and 4+5 combined. It has no response counts and no plain ICB mean.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Units and clusters
    Decision: a unit is an ICB x deprivation-quintile cell (``E54000034|q1``); its area and cluster are the ICB's 2021
    footprint. Consequences: designations are matched through the area; inference is clustered by ICB, so the
    number of clusters is 42, not the number of cells.
Survey timing
    Context: fieldwork runs January-March of the survey year. Decision: survey years are placed on 1 January (annual
    frequency) and a designation counts from the first survey whose fieldwork started after it (the
    ``first_full`` rule). Consequences: June 2017 designations first show in the 2018 survey, May 2018 in 2019.
Questionnaire redesign and COVID
    Context: the 2018 questionnaire was redesigned; the 2021 and later surveys were fielded during and after the
    pandemic (overall experience fell from about 85% to 75% nationally by 2022). Decision: the default window is
    2017-2020 (the 2020 fieldwork ended in March 2020, before the first lockdown); the redesign is common to all
    areas and absorbed by the year effects, with a 2018-2020 window as a sensitivity; later years are a separate
    sensitivity. Consequences: only two post-designation surveys for wave 1 (2018-2020: three) in the default.
Medians of practice percentages
    Consequences: a cell's value is the middle practice, not the average patient: it is insensitive to a few
    outlying practices, gives small and large practices equal say, and cannot be re-weighted by respondents; cells
    with few practices (for example, Surrey Heartlands has no practices in quintiles 4-5) are noisy or missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..panel import Panel, sha256, validate_panel
from ..paths import RAW, display

GPPS: Path = RAW / "satisfaction" / "gpps_icb_by_imd_quintile_medians_2017_2024_heec.csv"
INDICATORS: dict[str, str] = {"overall_pct": "percent", "access_pct": "percent", "continuity_pct": "percent", "trust_pct": "percent"}
"""Indicators, in percentages (0-100): effects read in percentage points."""
QUINTILES: dict[str, str] = {"quin_1": "q1", "quin_2": "q2", "quin_3": "q3", "quin_4_5": "q4-5"}


def build_gpps_panel(outcomes: list[str] | None = None, balance: str = "drop") -> Panel:
    """ICB x deprivation-quintile x survey-year panel of GP Patient Survey indicators, in percent (0-100; the source's
    proportions x 100), so that every effect reads in percentage points."""
    keep = list(outcomes) if outcomes is not None else list(INDICATORS)
    unknown = [o for o in keep if o not in INDICATORS]
    if unknown:
        raise DataError(f"built-in source gpps: outcome '{unknown[0]}' (data.outcomes) does not exist; choose from {', '.join(INDICATORS)}.")
    raw = pd.read_csv(GPPS)
    raw = raw[raw["stp21_code"].notna()]  # drop the England row
    long = raw.melt(id_vars=["Year", "Indicator", "icb_name", "stp21_code"], value_vars=list(QUINTILES), var_name="quintile", value_name="value")
    long["quintile"] = long["quintile"].map(QUINTILES)
    sel = long[long["Indicator"].isin(keep)]
    empty = sel["value"].isna().groupby([sel["stp21_code"], sel["quintile"], sel["Year"]]).any()
    n_missing = int(empty.sum())
    wide = sel.pivot_table(index=["stp21_code", "icb_name", "quintile", "Year"], columns="Indicator", values="value", aggfunc="first").reset_index()
    wide = wide[wide[keep].notna().all(axis=1)]
    wide[keep] = 100 * wide[keep]  # proportions -> percent: effects in percentage points
    wide["unit"] = wide["stp21_code"] + "|" + wide["quintile"]
    wide["unit_label"] = wide["icb_name"] + " (deprivation " + wide["quintile"] + ")"
    wide["period"] = pd.to_datetime(wide["Year"].astype(str) + "-01-01")
    wide["area"] = wide["stp21_code"]
    df, freq, notes = validate_panel(wide, name="gpps", unit="unit", time="period", outcomes=keep, outcome_kinds=INDICATORS, unit_name="unit_label", cluster="stp21_code", extra=["area", "quintile"], frequency="year", balance=balance)
    if n_missing:
        notes.insert(0, f"{n_missing} ICB x quintile x year cell(s) have no value in the source (for example Surrey Heartlands has no practices in deprivation quintiles 4-5) and were left out.")
    notes.append("Values are medians across practices of practice-level percentages within ICB x practice-deprivation cells (GPPS via HEEC), not patient-weighted means, in percent (effects in percentage points); clusters are ICBs.")
    return Panel(df, keep, {o: INDICATORS[o] for o in keep}, freq, [], source="gpps", files={display(GPPS): sha256(GPPS)}, notes=notes, columns={"unit": "ICB|quintile", "time": "Year", "cluster": "stp21_code"})


def load_gpps_practice_file(path: str | Path, *, practice: str = "practice_code", responses: str = "responses", percent: str = "pct_good", year: int | None = None) -> pd.DataFrame:
    """Read an official GPPS practice-level results file (practice code, response count, % good).

    For evaluators who hold the GPPS practice files: returns ``practice_code``, ``responses``, ``proportion``
    (0-1) and ``year``, validated (percentages in 0-100 or proportions in 0-1, non-negative counts, unique
    practices). Aggregating such files to areas can then weight by responses, which the medians file cannot.
    """
    path = Path(path)
    name = display(path)
    try:
        df = pd.read_csv(path, dtype={practice: str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise DataError(f"{name} cannot be read as CSV; give the GPPS practice file as CSV.") from None
    for col in (practice, responses, percent):
        if col not in df.columns:
            raise DataError(f"{name}: column '{col}' is missing; the GPPS practice layout needs practice code, response count and % good (see the loader's arguments).")
    pct = pd.to_numeric(df[percent], errors="coerce")
    n = pd.to_numeric(df[responses], errors="coerce")
    if pct.isna().any() or n.isna().any():
        raise DataError(f"{name}: columns '{responses}' and '{percent}' must be numbers; found a blank or text value.")
    if (n < 0).any():
        raise DataError(f"{name}: column '{responses}' has negative response counts.")
    if (pct < 0).any() or (pct > 100).any():
        raise DataError(f"{name}: column '{percent}' has values outside 0-100; give percentages 0-100 or proportions 0-1.")
    scale = 100.0 if (pct > 1).any() else 1.0
    if df[practice].duplicated().any():
        raise DataError(f"{name}: practice {df.loc[df[practice].duplicated(), practice].iloc[0]} appears twice; one row per practice.")
    out = pd.DataFrame({"practice_code": df[practice].astype(str), "responses": n.astype(float), "proportion": pct / scale})
    out["year"] = year if year is not None else (df["year"] if "year" in df.columns else np.nan)
    return out
