"""ICS designation table: from the sourced waves file to a clean, typed table.

The raw file ``data/raw/reference/ics_designation_waves.csv`` was compiled from news and NHS sources; its date,
scope and confidence columns are free text. :func:`build_designations` turns it into
``data/reference/ics_designations.csv`` (one row per designation event, typed), keeping every source. The clean
file is committed; ``evidence build-designations`` regenerates it and a test checks the two agree.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Dates with only a month (``2019-06``)
    Context: several announcements are known to the month only. Decision: store the first of the month with
    ``*_precision = month``. Consequences: under the ``first_full`` rule the designation counts from the following
    month (it may have happened on any day of the month); under ``containing`` from that month.
Two designations for one footprint
    Context: Berkshire West and Buckinghamshire (wave 1) were parts of the BOB footprint, designated whole in wave 3;
    West, North and East Cumbria (wave 2) was part of North East and North Cumbria (wave 3). Decision: keep one row
    per designation event with ``scope`` whole/partial. Consequences: the design step chooses, by parameter
    (``treatment.partial``), whether a partial designation treats the footprint, is ignored in favour of the whole
    designation, or excludes the footprint.
Greater Manchester
    Context: the source gives the 2015 devolution deal and a 2016-04-01 devolved budget as well as the June 2017 ICS
    programme. Decision: ``announced`` is the ICS programme announcement (2017-06, month precision as the source
    states it); ``effective`` is the source's 2016-04-01 devolved-budget date (medium confidence).
    Consequences: on the effective basis Greater Manchester is treated from the first month of the A&E data and has
    no pre-period; the design drops it and says so.
Wave 5 effective date
    Context: sources conflict (December 2020 vs 1 April 2021). Decision: ``effective`` is December 2020 (NHS
    England, month precision); ``effective_alt`` is 2021-04-01. Consequences: ``treatment.disputed_dates`` chooses.
Confidence
    Decision: ``confidence`` is the weakest level stated anywhere in the source's confidence text; the full text is
    kept in ``confidence_detail``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..paths import RAW, REFERENCE, display

RAW_WAVES: Path = RAW / "reference" / "ics_designation_waves.csv"
RAW_FOOTPRINTS: Path = RAW / "reference" / "lookup_nhs_trusts22_stp21.csv"
DESIGNATIONS: Path = REFERENCE / "ics_designations.csv"

COLUMNS: list[str] = [
    "stp21_code",
    "stp21_name",
    "designated_area",
    "wave",
    "wave_label",
    "inferred",
    "announced",
    "announced_precision",
    "effective",
    "effective_precision",
    "effective_alt",
    "effective_alt_precision",
    "scope",
    "scope_detail",
    "confidence",
    "confidence_detail",
    "source_key",
    "note",
    "source",
]

_DATE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


def _first_date(text: str) -> tuple[str | None, str | None]:
    """The first ISO date in free text and its precision (``day`` or ``month``)."""
    m = _DATE.search(str(text))
    if not m:
        return None, None
    y, mo, d = m.groups()
    return (f"{y}-{mo}-{d}", "day") if d else (f"{y}-{mo}-01", "month")


def _alternative_date(text: str) -> tuple[str | None, str | None]:
    """The date after ' or ' in texts like '2020-12 or 2021-04-01'."""
    parts = re.split(r"\bor\b", str(text), maxsplit=1)
    return _first_date(parts[1]) if len(parts) == 2 else (None, None)


def build_designations(waves_path: Path = RAW_WAVES, footprints_path: Path = RAW_FOOTPRINTS) -> pd.DataFrame:
    """Parse the sourced waves file into the typed designation table.

    Parameters
    ----------
    waves_path
        The raw ``ics_designation_waves.csv``.
    footprints_path
        Trust -> 2021 footprint lookup, used for the official footprint names and to check the codes.

    Returns
    -------
    pandas.DataFrame
        One row per designation event with the columns in :data:`COLUMNS`.
    """
    raw = pd.read_csv(waves_path, dtype=str, keep_default_na=False)
    names = pd.read_csv(footprints_path, dtype=str).drop_duplicates("stp21_code").set_index("stp21_code")["stp21_name"]
    out = pd.DataFrame({"stp21_code": raw["stp21_code"].str.strip()})
    unknown = sorted(set(out["stp21_code"]) - set(names.index))
    if unknown:
        raise DataError(f"{display(waves_path)}: column stp21_code has codes not in {display(footprints_path)}: {', '.join(unknown)}; fix the code.")
    out["stp21_name"] = out["stp21_code"].map(names)
    out["designated_area"] = raw["footprint"].str.strip()
    out["wave"] = raw["wave"].str.extract(r"^(\d+)")[0].astype(int)
    out["wave_label"] = raw["wave"].str.strip()
    out["inferred"] = raw["wave"].str.contains("inferred", case=False)
    for col in ("announced", "effective"):
        parsed = raw[col].map(_first_date)
        out[col] = parsed.str[0]
        out[f"{col}_precision"] = parsed.str[1]
        if out[col].isna().any():
            bad = raw.loc[out[col].isna(), col].iloc[0]
            raise DataError(f"{display(waves_path)}: column {col} has no date in {bad!r}; write it as YYYY-MM or YYYY-MM-DD.")
    alt = raw["effective"].map(_alternative_date)
    out["effective_alt"] = alt.str[0]
    out["effective_alt_precision"] = alt.str[1]
    out["scope"] = raw["scope"].str.strip().str.lower().str.startswith("whole").map({True: "whole", False: "partial"})
    out["scope_detail"] = raw["scope"].str.strip()
    out["confidence"] = raw["confidence"].str.contains("medium|low", case=False).map({True: "medium", False: "high"})
    out.loc[raw["confidence"].str.contains("low", case=False), "confidence"] = "low"
    out["confidence_detail"] = raw["confidence"].str.strip()
    out["source_key"] = raw["source_key"].str.strip()
    out["note"] = raw["note"].str.strip()
    out["source"] = raw["source"].str.strip()
    return out[COLUMNS].sort_values(["wave", "stp21_code", "designated_area"], kind="stable").reset_index(drop=True)


def write_designations(path: Path = DESIGNATIONS) -> Path:
    """Rebuild the clean designation table and write it (``evidence build-designations``)."""
    table = build_designations()
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, lineterminator="\n")
    return path


_REQUIRED = ["stp21_code", "wave", "announced", "announced_precision", "effective", "effective_precision", "scope"]


def load_designations(path: str | Path = DESIGNATIONS) -> pd.DataFrame:
    """Read and check a designation table (the project's or a user's in the same layout).

    Raises
    ------
    DataError
        Missing columns, unparseable dates, unknown scope or precision values, or waves that are not whole numbers.
    """
    path = Path(path)
    name = display(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{name}: cannot be read as CSV ({type(exc).__name__}); give a comma-separated designation table.") from None
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise DataError(f"{name}: column {missing[0]} is missing; a designation table needs {', '.join(_REQUIRED)}.")
    if table.empty:
        raise DataError(f"{name}: has no rows; give at least one designation.")
    wave = pd.to_numeric(table["wave"], errors="coerce")
    if wave.isna().any() or (wave % 1 != 0).any():
        raise DataError(f"{name}: column wave has {table.loc[wave.isna() | (wave % 1 != 0), 'wave'].iloc[0]!r}; waves are whole numbers.")
    table["wave"] = wave.astype(int)
    for col in ("announced", "effective", "effective_alt"):
        if col not in table.columns:
            table[col] = ""
            table[f"{col}_precision"] = ""
        blank = table[col].str.strip() == ""
        if col != "effective_alt" and blank.any():
            raise DataError(f"{name}: column {col} is empty for {table.loc[blank, 'stp21_code'].iloc[0]}; every designation needs a date.")
        parsed = pd.to_datetime(table[col].where(~blank), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & ~blank
        if bad.any():
            raise DataError(f"{name}: column {col} has {table.loc[bad, col].iloc[0]!r}, not a date; write dates as YYYY-MM-DD.")
        table[col] = parsed
        prec = table.get(f"{col}_precision", pd.Series("day", index=table.index)).replace("", "day").where(~blank)
        badp = ~prec.isin(["day", "month"]) & ~blank
        if badp.any():
            raise DataError(f"{name}: column {col}_precision has {prec[badp].iloc[0]!r}; use day or month.")
        table[f"{col}_precision"] = prec
    badscope = ~table["scope"].isin(["whole", "partial"])
    if badscope.any():
        raise DataError(f"{name}: column scope has {table.loc[badscope, 'scope'].iloc[0]!r}; use whole or partial.")
    return table
