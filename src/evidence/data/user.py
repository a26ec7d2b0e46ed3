"""A user's own panel file (CSV or Parquet) with a column mapping from the parameters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..panel import Panel, sha256, validate_panel
from ..paths import display


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file, with one-line errors for unreadable files."""
    path = Path(path)
    name = display(path)
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffixes.endswith(".csv") or suffixes.endswith(".csv.gz"):
            df = pd.read_csv(path)
            if df.shape[1] == 1 and ";" in str(df.columns[0]):
                raise DataError(f"{name}: looks semicolon-separated (one column {df.columns[0]!r}); save it comma-separated.")
            return df
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{name} does not exist; check data.path.") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty; give a file with a header row and one row per unit and period.") from None
    except UnicodeDecodeError:
        raise DataError(f"{name} is not UTF-8 text; save the CSV as UTF-8.") from None
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
        first = " ".join(str(exc).replace(str(path), "the file").split())[:200] if str(exc) else type(exc).__name__
        raise DataError(f"{name} cannot be read as {kind} ({first}); check the file format.") from None
    raise DataError(f"{name}: unknown file type; give a .csv, .csv.gz or .parquet file.")


def load_user_panel(
    path: str | Path,
    *,
    unit: str,
    time: str,
    outcomes: list[str],
    outcome_kinds: dict[str, str] | None = None,
    unit_name: str | None = None,
    population: str | None = None,
    cluster: str | None = None,
    covariates: list[str] | None = None,
    treatment_columns: list[str] | None = None,
    frequency: str | None = None,
    balance: str = "error",
    controls: list[str] | None = None,
) -> Panel:
    """Load and validate a user's panel file.

    Parameters
    ----------
    path
        CSV, CSV.GZ or Parquet file, one row per unit and period.
    unit, time, outcomes, outcome_kinds, unit_name, population, cluster, covariates, frequency, balance
        The ``data.*`` parameters (see :func:`evidence.panel.validate_panel`).
    treatment_columns
        ``treatment.cohort`` / ``treatment.indicator`` columns to carry into the panel.

    Returns
    -------
    Panel
    """
    path = Path(path)
    raw = read_table(path)
    for col in treatment_columns or []:
        if col not in raw.columns:
            raise DataError(f"{display(path)}: column '{col}' (from treatment.cohort / treatment.indicator) is missing; the file has columns {', '.join(map(str, list(raw.columns)[:12]))}.")
    kinds = {o: (outcome_kinds or {}).get(o, "count") for o in outcomes}
    df, freq, notes = validate_panel(
        raw,
        name=display(path),
        unit=unit,
        time=time,
        outcomes=outcomes,
        outcome_kinds=kinds,
        unit_name=unit_name,
        population=population,
        cluster=cluster,
        covariates=covariates,
        extra=treatment_columns,
        frequency=frequency,
        balance=balance,
        controls=controls,
    )
    columns = {"unit": unit, "time": time}
    if unit_name:
        columns["unit_name"] = unit_name
    if population:
        columns["population"] = population
    if cluster:
        columns["cluster"] = cluster
    return Panel(df, list(outcomes), kinds, freq, list(covariates or []), source=display(path), files={display(path): sha256(path)}, notes=notes, columns=columns, controls=list(controls or []))
