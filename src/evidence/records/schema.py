"""Record schemas: admitted-patient-care spells and A&E attendances, one row per spell or attendance.

The schemas are the contract between an extract (real, or made by :mod:`evidence.records.generate`) and the
aggregation to area x month panels (:mod:`evidence.records.aggregate`). Records are checked on read, in two steps:

1. **Columns and types** (:func:`check_columns`), from Parquet metadata only: every required column present, each
   with one of its accepted types. Engine type names (DuckDB, Spark, Arrow) are reduced to a few canonical kinds
   (``string``, ``integer``, ``float``, ``date``, ``timestamp``, ``boolean``) so one definition serves every engine.
2. **Values** (the shared check query ``sql/check_<kind>.sql``, run by the chosen engine): no missing values in
   required columns, allowed codes only (admission method, sex, age band), non-negative length of stay, unique
   spell/attendance ids, dates inside the analysis window, LSOA / provider codes known to the lookups.

Every failure is a one-line :class:`~evidence.errors.DataError` naming the file (or path) and column.

Age bands
    Context: the workbook standardises with four broad bands (``evidence.standardise.BANDS``: 0-17, 18-64, 65-74,
    75+); extracts usually carry 5-year bands, whose 15-19 band straddles the 17/18 boundary. Decision: accept the
    broad labels (``0-17``, ``18-64``, ``65-74``, ``75+``) or 5-year labels with 15-19 split into ``15-17`` and
    ``18-19`` (as the ESP 2013 broad-band weights shipped here already are), mapped to the broad bands by
    :data:`AGE_BAND_MAP`; a plain ``15-19`` is rejected. Consequences: counts by broad band are exact; an extract
    with 15-19 must be re-banded from age in years before use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import pandas as pd

from ..errors import DataError
from ..standardise import BANDS

# --- age bands -----------------------------------------------------------------------------------------------------

BROAD_LABELS: dict[str, str] = {"0-17": "pop_0_17", "18-64": "pop_18_64", "65-74": "pop_65_74", "75+": "pop_75_plus"}
"""Broad age-band labels -> the population bands of :data:`evidence.standardise.BANDS`."""

FINE_LABELS: dict[str, str] = {
    "0-4": "pop_0_17", "5-9": "pop_0_17", "10-14": "pop_0_17", "15-17": "pop_0_17",
    "18-19": "pop_18_64", "20-24": "pop_18_64", "25-29": "pop_18_64", "30-34": "pop_18_64", "35-39": "pop_18_64",
    "40-44": "pop_18_64", "45-49": "pop_18_64", "50-54": "pop_18_64", "55-59": "pop_18_64", "60-64": "pop_18_64",
    "65-69": "pop_65_74", "70-74": "pop_65_74",
    "75-79": "pop_75_plus", "80-84": "pop_75_plus", "85-89": "pop_75_plus", "90+": "pop_75_plus",
}
"""5-year age-band labels (15-19 split at 18) -> the broad population bands."""

AGE_BAND_MAP: dict[str, str] = {**BROAD_LABELS, **FINE_LABELS}
"""Every accepted ``age_band`` label -> its broad band (``pop_0_17`` ...)."""

BAND_SUFFIX: dict[str, str] = {b: b.removeprefix("pop_") for b in BANDS}
"""Broad band -> the suffix used in outcome names (``emergency_admissions_75_plus``)."""

SEXES: tuple[str, ...] = ("F", "M", "U")
"""Allowed ``sex`` codes: female, male, not known / not specified (counted in totals, not in the sex columns)."""

ADMISSION_METHODS: tuple[str, ...] = ("elective", "emergency")
"""Allowed ``admission_method`` values (HES ADMIMETH 11-13 -> elective, 21-2D -> emergency)."""


def age_band_table() -> pd.DataFrame:
    """The age-band map as a table (``age_band``, ``band``) for the engines to join on."""
    return pd.DataFrame({"age_band": list(AGE_BAND_MAP), "band": list(AGE_BAND_MAP.values())})


# --- columns -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a record schema.

    Attributes
    ----------
    name
        Column name in the Parquet files.
    kinds
        Canonical types accepted (``string``, ``integer``, ``float``, ``date``, ``timestamp``, ``boolean``).
    required
        Whether the column must be present and non-missing.
    allowed
        Allowed values (codes), or ``None`` for free values.
    meaning
        One line for the data dictionary.
    """

    name: str
    kinds: tuple[str, ...]
    required: bool
    allowed: tuple[str, ...] | None
    meaning: str


@dataclass(frozen=True)
class RecordSchema:
    """The columns of one kind of record and the shared SQL that checks and aggregates it.

    Attributes
    ----------
    kind
        ``spells`` or ``attendances``.
    id_column, date_column
        The unique record id and the date that places a record in a month.
    columns
        Every column, required and optional.
    activity
        The ``unit_costs()`` activity valuing one record of the costed kind (``emergency_admission``,
        ``ae_attendance``).
    """

    kind: str
    id_column: str
    date_column: str
    columns: tuple[Column, ...]
    activity: str

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def data_dictionary(self) -> pd.DataFrame:
        """The schema as a table: column, types, required, allowed values, meaning."""
        return pd.DataFrame(
            [(c.name, " or ".join(c.kinds), "yes" if c.required else "no", ", ".join(c.allowed) if c.allowed and len(c.allowed) <= 6 else ("see AGE_BAND_MAP" if c.allowed else ""), c.meaning) for c in self.columns],
            columns=["column", "type", "required", "allowed", "meaning"],
        )


_ID = ("integer", "string")
_DATE = ("date", "timestamp")

_COMMON_HEAD = (
    Column("patient_id", _ID, True, None, "pseudonymised patient identifier (HES token or a surrogate integer); not used in aggregation"),
)
_COMMON_TAIL = (
    Column("provider_code", ("string",), True, None, "ODS code of the provider trust (3 characters, HES PROCODE3); mapped to footprints by evidence.data.ae.map_providers"),
    Column("lsoa11_code", ("string",), True, None, "LSOA (2011) of the patient's residence; mapped to 2021 footprints by data/raw/reference/lookup_lsoa11_ccg21_stp21_ltla21.csv.gz"),
)
_DEMOGRAPHY = (
    Column("age_band", ("string",), True, tuple(AGE_BAND_MAP), "age band at admission/arrival: 0-17, 18-64, 65-74, 75+, or 5-year bands with 15-19 split into 15-17 and 18-19"),
    Column("sex", ("string",), True, SEXES, "F, M, or U (not known)"),
)
_OPTIONAL = (
    Column("hrg_code", ("string",), False, None, "cost currency (HRG, e.g. FD10M; VB01Z-VB11Z for A&E); when present and found in the HRG cost table, costs are HRG-specific"),
    Column("synthetic", ("boolean",), False, None, "true for records made by evidence.records.generate; panels built from them are labelled synthetic"),
)

SPELLS = RecordSchema(
    kind="spells",
    id_column="spell_id",
    date_column="admission_date",
    columns=(
        *_COMMON_HEAD,
        Column("spell_id", _ID, True, None, "hospital provider spell identifier, unique across the extract"),
        *_COMMON_TAIL,
        Column("admission_date", _DATE, True, None, "date of admission (the spell is counted in this month)"),
        Column("admission_method", ("string",), True, ADMISSION_METHODS, "elective or emergency"),
        *_DEMOGRAPHY,
        Column("length_of_stay", ("integer",), True, None, "whole days from admission to discharge (0 = same day), >= 0; bed days = sum of length_of_stay"),
        *_OPTIONAL,
    ),
    activity="emergency_admission",
)
"""Admitted patient care: one row per hospital provider spell."""

ATTENDANCES = RecordSchema(
    kind="attendances",
    id_column="attendance_id",
    date_column="arrival_date",
    columns=(
        *_COMMON_HEAD,
        Column("attendance_id", _ID, True, None, "A&E attendance identifier, unique across the extract"),
        *_COMMON_TAIL,
        Column("arrival_date", _DATE, True, None, "date of arrival (the attendance is counted in this month)"),
        *_DEMOGRAPHY,
        *_OPTIONAL,
    ),
    activity="ae_attendance",
)
"""A&E attendances: one row per attendance."""

SCHEMAS: dict[str, RecordSchema] = {"spells": SPELLS, "attendances": ATTENDANCES}


# --- types ---------------------------------------------------------------------------------------------------------

_DUCKDB_KINDS = {
    "VARCHAR": "string", "BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "TINYINT": "integer",
    "UBIGINT": "integer", "UINTEGER": "integer", "USMALLINT": "integer", "UTINYINT": "integer", "HUGEINT": "integer",
    "DATE": "date", "BOOLEAN": "boolean", "DOUBLE": "float", "FLOAT": "float", "REAL": "float",
}
_SPARK_KINDS = {
    "StringType": "string", "VarcharType": "string", "CharType": "string", "LongType": "integer", "IntegerType": "integer",
    "ShortType": "integer", "ByteType": "integer", "DateType": "date", "TimestampType": "timestamp",
    "TimestampNTZType": "timestamp", "BooleanType": "boolean", "DoubleType": "float", "FloatType": "float", "DecimalType": "float",
}


def canonical_duckdb(type_name: str) -> str:
    """A DuckDB type name (``VARCHAR``, ``BIGINT``, ``TIMESTAMP WITH TIME ZONE`` ...) -> canonical kind."""
    t = type_name.upper()
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t.startswith("DECIMAL"):
        return "float"
    return _DUCKDB_KINDS.get(t, t.lower())


def canonical_spark(type_name: str) -> str:
    """A Spark SQL data type class name (``StringType`` ...) -> canonical kind."""
    return _SPARK_KINDS.get(type_name, type_name)


def canonical_arrow(dtype: "object") -> str:
    """A pyarrow ``DataType`` -> canonical kind (dictionary-encoded strings are strings)."""
    import pyarrow as pa

    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return "string"
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "float"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    if pa.types.is_boolean(dtype):
        return "boolean"
    return str(dtype)


def detect_schema(columns: Iterable[str], name: str) -> RecordSchema:
    """Which kind of record a file holds, from its id column (``spell_id`` or ``attendance_id``).

    Raises
    ------
    DataError
        Neither or both id columns are present.
    """
    cols = set(columns)
    found = [s for s in SCHEMAS.values() if s.id_column in cols]
    if len(found) != 1:
        what = "neither spell_id nor attendance_id" if not found else "both spell_id and attendance_id"
        raise DataError(f"{name}: has {what}; record files need spell_id (admitted patient care spells) or attendance_id (A&E attendances), with the columns listed in docs/records.md.")
    return found[0]


def check_columns(types: Mapping[str, str], schema: RecordSchema, name: str) -> dict[str, bool]:
    """Check that the required columns exist with accepted types; say which optional columns are present.

    Parameters
    ----------
    types
        Column name -> canonical kind, as read from the file's metadata.
    schema
        The expected record schema.
    name
        File or path named in error messages.

    Returns
    -------
    dict
        Optional column name -> present (with an accepted type).

    Raises
    ------
    DataError
        A required column is missing, or any known column has a type it does not accept.
    """
    for col in schema.columns:
        if col.name not in types:
            if col.required:
                have = ", ".join(list(types)[:12])
                raise DataError(f"{name}: required column '{col.name}' is missing ({schema.kind} records need {', '.join(schema.required)}); the file has {have}{' ...' if len(types) > 12 else ''}.")
            continue
        kind = types[col.name]
        if kind not in col.kinds:
            hint = " (whole days: cast it to an integer)" if col.name == "length_of_stay" and kind == "float" else ""
            raise DataError(f"{name}: column '{col.name}' is {kind} but must be {' or '.join(col.kinds)}{hint}; fix the extract's column type.")
    return {c.name: c.name in types for c in schema.columns if not c.required}


def markdown_dictionary() -> str:
    """The data dictionary of both record kinds as Markdown (``docs/records.md`` embeds it; a test keeps it current)."""
    out: list[str] = []
    for schema in SCHEMAS.values():
        d = schema.data_dictionary()
        out += [f"**{schema.kind}** (one row per {'hospital provider spell' if schema.kind == 'spells' else 'A&E attendance'}; id `{schema.id_column}`, month from `{schema.date_column}`)", "",
                "| " + " | ".join(d.columns) + " |", "|" + "---|" * len(d.columns)]
        out += ["| " + " | ".join(f"`{v}`" if j == 0 else str(v).replace("|", "\\|") for j, v in enumerate(row)) + " |" for row in d.itertuples(index=False)]
        out.append("")
    return "\n".join(out).rstrip("\n")


def update_docs(path: "str | None" = None) -> str:
    """Rewrite the data dictionary in ``docs/records.md`` from the schemas (``make docs``); returns the path."""
    from pathlib import Path

    from ..paths import ROOT

    p = Path(path) if path is not None else ROOT / "docs" / "records.md"
    text = p.read_text(encoding="utf-8")
    start, end = "<!-- records-dictionary:start -->\n", "<!-- records-dictionary:end -->"
    i, j = text.index(start) + len(start), text.index(end)
    p.write_text(text[:i] + markdown_dictionary() + "\n" + text[j:], encoding="utf-8")
    return str(p)
