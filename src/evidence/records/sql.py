"""The shared SQL: one definition of every record query, executed as the same text by DuckDB and by Spark.

Context: the issue asks for one definition of the aggregation behind two engines (embedded DuckDB, Spark on a
cluster). Options were a dataframe API targeting both (ibis) or SQL text both engines accept.
Decision: plain SQL files in ``sql/`` at the project root, in the subset of SQL both dialects share (``CASE``,
``CAST(... AS BIGINT)``, ``year()``/``month()``, ``DATE 'YYYY-MM-DD'`` literals, CTEs, ``LEFT JOIN``), with
``{placeholder}`` slots for table and column names and allowed-code lists. :func:`render` fills the slots from
Python values that are checked here (identifiers, quoted literals, integers), never from user text.
Consequences: no extra dependency (ibis would add a compiler layer and its own version coupling with both engines);
the queries are readable on their own and can be run by hand in the DuckDB CLI or ``spark-sql``; a test runs both
engines on the same records and demands identical panels. The queries return integers only; every float (means,
rates, pounds) is computed afterwards by one Python function, so engine differences in floating-point summation
order cannot reach the panel.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from ..paths import ROOT

SQL_DIR: Path = ROOT / "sql"
"""Folder holding the shared ``.sql`` files."""

_SLOT = re.compile(r"\{([a-z_]+)\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    path = SQL_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: the shared SQL file is missing; restore the sql/ folder from the repository.") from None


def ident(name: str) -> str:
    """Check a table or column name before it is placed in SQL text."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def quote(value: str) -> str:
    """A single-quoted SQL string literal (quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def quoted_list(values: list[str] | tuple[str, ...]) -> str:
    """``'a', 'b'`` for an ``IN (...)`` list."""
    return ", ".join(quote(v) for v in values)


def date_literal(value: str) -> str:
    """Check a ``YYYY-MM-DD`` date for a ``DATE '...'`` literal."""
    if not _DATE.match(value):
        raise ValueError(f"not a YYYY-MM-DD date: {value!r}")
    return value


def render(name: str, **slots: str | int) -> str:
    """The SQL of ``sql/<name>.sql`` with its ``{slots}`` filled.

    Every slot in the file must be given; extra slots are ignored (one slot set serves several files).

    Raises
    ------
    KeyError
        A slot in the file has no value (a programming error, not a user error).
    """
    text = load(name)

    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in slots:
            raise KeyError(f"sql/{name}.sql needs a value for {{{key}}}")
        return str(slots[key])

    return _SLOT.sub(fill, text)
