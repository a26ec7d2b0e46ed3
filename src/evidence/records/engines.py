"""Query engines for the record pipeline: DuckDB (embedded default) and Spark, behind one small interface.

Both engines do exactly four things: expose the Parquet records as a view, register small reference tables
(geography, age bands, costs), run the shared SQL text of ``sql/`` and hand back a pandas DataFrame. Everything
else (checks, reports, panel assembly) is engine-independent Python in :mod:`evidence.records.aggregate`.

Out of core (DuckDB)
    Context: record extracts can be larger than memory (50 million spells is a few GB in memory). Decision: DuckDB
    streams Parquet (projection and filter push-down, row group at a time), with ``memory_limit`` set and a
    ``temp_directory`` to spill to; aggregates are hash aggregates that spill; the only large state is the
    distinct-id check. Consequences: memory stays near the limit whatever the file size; with too small a limit or
    a full temp disk DuckDB raises an out-of-memory error, reported in one line naming ``data.records.memory_limit``
    and ``data.records.temp_dir``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ..errors import DataError
from .schema import canonical_duckdb, canonical_spark
from .sql import ident, quote


class Engine(Protocol):
    """What the pipeline needs from an engine."""

    name: str

    def register_parquet(self, view: str, source: list[str] | str) -> dict[str, str]:
        """Expose Parquet files as ``view``; return column -> canonical type."""

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Expose a small DataFrame as table ``name``."""

    def sql(self, text: str, what: str) -> pd.DataFrame:
        """Run SQL and return the result (``what`` names the step in error messages)."""

    def close(self) -> None:
        """Release resources this engine started."""


def _first_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0][:300] if lines else exc.__class__.__name__


class DuckDBEngine:
    """Embedded DuckDB with a memory limit and a spill folder.

    Parameters
    ----------
    memory_limit
        DuckDB ``memory_limit`` (e.g. ``2GB``); ``None`` keeps DuckDB's default (80% of RAM).
    temp_dir
        Spill folder; ``None`` makes a private folder under the system temp directory, removed on close.
    threads
        Worker threads; ``None`` = all cores.
    """

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None, temp_dir: str | os.PathLike[str] | None = None, threads: int | None = None) -> None:
        import duckdb

        self._duckdb = duckdb
        self._own_temp = temp_dir is None
        self.temp_dir = Path(tempfile.mkdtemp(prefix="evidence-duckdb-")) if temp_dir is None else Path(temp_dir)
        try:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"data.records.temp_dir {str(temp_dir)!r} cannot be created ({exc.strerror}); give a writable folder.") from None
        self.con = duckdb.connect(":memory:")
        try:
            self.con.execute(f"SET temp_directory = {quote(str(self.temp_dir))}")
            if memory_limit:
                self.con.execute(f"SET memory_limit = {quote(memory_limit)}")
            if threads:
                self.con.execute(f"SET threads = {int(threads)}")
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            self.close()
            raise DataError(f"data.records.memory_limit {memory_limit!r} is not a memory size DuckDB accepts ({_first_line(exc)}); write it like 2GB or 512MB.") from None
        self.memory_limit = memory_limit

    def register_parquet(self, view: str, source: list[str] | str) -> dict[str, str]:
        files = source if isinstance(source, list) else [source]
        lit = "[" + ", ".join(quote(f) for f in files) + "]"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(view)} AS SELECT * FROM read_parquet({lit})")
            rows = self.con.execute(f"DESCRIBE {ident(view)}").fetchall()
        except self._duckdb.Error as exc:
            raise DataError(f"{files[0] if len(files) == 1 else str(len(files)) + ' record files'}: DuckDB cannot read them as Parquet ({_first_line(exc)}); check data.records.path.") from None
        return {r[0]: canonical_duckdb(str(r[1])) for r in rows}

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        self.con.register(ident(name), pa.Table.from_pandas(frame, preserve_index=False))

    def sql(self, text: str, what: str) -> pd.DataFrame:
        try:
            return self.con.execute(text).df()
        except self._duckdb.OutOfMemoryException as exc:
            raise DataError(f"DuckDB ran out of memory while {what} ({_first_line(exc)}); raise data.records.memory_limit (now {self.memory_limit or 'default'}) or give data.records.temp_dir on a disk with more free space.") from None
        except self._duckdb.Error as exc:
            raise DataError(f"DuckDB failed while {what}: {_first_line(exc)}; check the record files (data.records.path).") from None

    def close(self) -> None:
        try:
            self.con.close()
        except Exception:
            pass
        if self._own_temp:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


class SparkEngine:
    """Spark SQL through a (local or cluster) session from :func:`evidence.records.spark.get_session`.

    Parameters
    ----------
    master
        Spark master URL (``data.records.spark_master``); ``None`` = the active session or ``local[*]``.
    memory_limit, temp_dir
        Driver (local) or executor (cluster) memory, and the local spill folder, for a session started here.
    session
        An existing SparkSession to use instead (never stopped here).
    """

    name = "spark"

    def __init__(self, master: str | None = None, memory_limit: str | None = None, temp_dir: str | os.PathLike[str] | None = None, session: Any = None) -> None:
        from .spark import get_session

        if session is not None:
            self.spark, self._started = session, False
        else:
            spark_mem = memory_limit.lower().replace("gb", "g").replace("mb", "m") if memory_limit else None
            self.spark, self._started = get_session(master, memory_limit=spark_mem, temp_dir=str(temp_dir) if temp_dir else None)

    def register_parquet(self, view: str, source: list[str] | str) -> dict[str, str]:
        files = source if isinstance(source, list) else [source]
        try:
            df = self.spark.read.parquet(*files)
        except Exception as exc:
            raise DataError(f"{files[0] if len(files) == 1 else str(len(files)) + ' record files'}: Spark cannot read them as Parquet ({_first_line(exc)}); check data.records.path.") from None
        df.createOrReplaceTempView(ident(view))
        return {f.name: canonical_spark(type(f.dataType).__name__) for f in df.schema.fields}

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        # From an Arrow table Spark makes a local relation: no Python worker processes at query time (a frame made
        # from Python rows is an RDD that needs them, about 5 s per query here). The broadcast hint keeps every
        # join with these small reference tables (at most the 32,844 LSOAs) a map-side hash join; without it Spark
        # cannot size them and shuffles and sorts all the records once per join (about 9x slower at 50 million spells).
        types = {"int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(), "bool": pa.bool_()}  # anything else is text
        schema = pa.schema([(ident(str(c)), types.get(str(t), pa.string())) for c, t in frame.dtypes.items()])
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        self.spark.createDataFrame(table).hint("broadcast").createOrReplaceTempView(ident(name))

    def sql(self, text: str, what: str) -> pd.DataFrame:
        try:
            res = self.spark.sql(text)
            rows = res.collect()
        except Exception as exc:
            raise DataError(f"Spark failed while {what}: {_first_line(exc)}; check the record files (data.records.path) and the cluster (data.records.spark_master).") from None
        return pd.DataFrame([tuple(r) for r in rows], columns=res.columns)

    def close(self) -> None:
        if self._started:
            try:
                self.spark.stop()
            except Exception:
                pass
