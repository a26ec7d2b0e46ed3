"""Record-level hospital data (admitted-patient-care spells, A&E attendances) -> area x month panels.

* :mod:`~evidence.records.schema` — the documented record schemas and their checks.
* :mod:`~evidence.records.generate` — synthetic records consistent with the real A&E data, as partitioned Parquet.
* :mod:`~evidence.records.aggregate` — checks and aggregation on DuckDB (embedded, out of core) or Spark, from one
  definition of every query (the shared SQL in ``sql/``), into a validated :class:`~evidence.panel.Panel`.

The entry point is :func:`panel_from_records`; see ``docs/records.md``.
"""

from __future__ import annotations

from .aggregate import ATTENDANCE_OUTCOMES, SPELL_OUTCOMES, RecordsReport, aggregate_records, counts_to_panel, panel_from_records
from .generate import GenerationResult, generate_records
from .schema import AGE_BAND_MAP, ATTENDANCES, SCHEMAS, SPELLS, RecordSchema

__all__ = [
    "AGE_BAND_MAP", "ATTENDANCES", "ATTENDANCE_OUTCOMES", "GenerationResult", "RecordSchema", "RecordsReport", "SCHEMAS",
    "SPELLS", "SPELL_OUTCOMES", "aggregate_records", "counts_to_panel", "generate_records", "panel_from_records",
]
