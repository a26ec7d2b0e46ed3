"""NHS England monthly A&E provider files (MSitAE): read one month, check it and add it to a local folder.

NHS England publishes "A&E Attendances and Emergency Admissions" every month as a provider file: an ``.xls``
workbook until March 2018, a CSV since April 2018. :func:`read_monthly_file` turns one such file into the rows of the
shipped series (``data/raw/nhs/ae_attendances_2019_2026.csv`` and
``data/raw/nhs/emergency_admissions_provider_2016_2026.csv.gz``); :func:`add_month` checks it and stores it under
``data/local/nhs_monthly/``; :func:`read_local_months` gives those months back to the panel builder. The command
``evidence add-month FILE`` wraps :func:`add_month`.

Layouts
-------
======================  =====================================================================================
``xls_2015``            workbook, sheet "A&E Data" or "Provider Level Data", two header rows, no block of
                        attendances under 4 hours (July 2015 - March 2017)
``xls_2017``            workbook, sheet "Provider Level Data", with the under-4-hours block (April 2017 - March 2018)
``csv_2018``            CSV, "Number of A&E attendances Type 1" ... (April 2018 - March 2020)
``csv_2020``            CSV, "A&E attendances Type 1" ..., no booked appointments (April - July 2020)
``csv_booked_2020``     CSV with booked-appointment columns (from August 2020)
======================  =====================================================================================

Decisions (Context / Decision / Consequences)
---------------------------------------------
Layout from the header text
    Context: the publication changed its layout four times between 2015 and 2020, and files reach users renamed
    (the shipped series were built from copies whose uploaders renamed them). Decision: recognise a layout only by
    its column names: the exact set of header texts (compared without case or repeated blanks; a workbook's two
    header rows are joined as ``"group | column"``). The month comes from the content too (``MSitAE-APRIL-2020``
    in the CSV ``Period`` column, ``Period: April 2017`` in the workbook's header area), never from the file name.
    Columns that no layout names and that hold no value at all (trailing commas, a stray header cell in one 2024
    copy) are ignored. Consequences: a renamed file reads the same; a file with a column added, removed or renamed
    is refused with the list of known layouts and the closest layout's differences instead of being read wrongly,
    and a new NHS England layout needs a new :class:`Layout` entry (one dictionary) here.
Completeness
    Context: a truncated or hand-edited file would silently drop providers. Decision: every file must have exactly
    one TOTAL row (workbook: "England"), and it must equal the sum of the provider rows for every count column,
    including the published totals this reader does not keep; percentage columns are ratios and are not summed.
    Consequences: a month is added whole or not at all. Every source file of the shipped series (April 2016 -
    February 2026) passes; the January 2016 workbook, outside that range, has fractional (imputed) type-2 counts
    and is refused.
Local months are read after the shipped files
    Context: the shipped series end in February 2026 and NHS England revises recent months. Decision: a local
    month lives in ``data/local/nhs_monthly/`` as plain CSV files in the shipped layouts plus a manifest, and is
    read after the shipped files: a local month replaces the shipped month of the same period
    (:func:`overlay_local`). Shipped files are never modified. Consequences: ``data/raw`` stays as published and
    its checksums stay valid; what the panel used is visible from the folder and its manifests
    (:func:`local_files` for provenance); deleting the folder returns to the shipped series.
Replacing keeps the old version
    Context: a revised file for a month already present should not need manual deletion, but the previous numbers
    may already be in a report. Decision: adding a month that is present (shipped or local) is refused unless
    ``replace`` (``--replace``) is given; then an earlier local version is moved, not deleted, to
    ``replaced/YYYY-MM_<UTC time>/`` and a shipped month is superseded (the result and manifest say so).
    All checks run before anything moves, and files are written to temporary names in the folder and renamed at
    the end. Consequences: a failed ``add-month`` leaves the folder exactly as it was, and every earlier local
    version remains for audit.
Field-test flag from the reference table
    Context: 14 trusts in the Clinical Review of Standards field test reported no four-hour breaches from May 2019
    to May 2023 (R0D from its October 2020 merger). Decision: ``breaches_not_reported`` is TRUE for every row of an
    org code listed in ``data/reference/ae_field_test_trusts.csv`` within its ``first_month .. last_month``,
    exactly as in the shipped file. Consequences: the flag of a new month follows the table; a future field test
    is one row in the table, not a code change.
Provider codes without a footprint
    Context: trusts created by mergers after April 2022 are in neither lookup. Decision: :func:`map_codes` maps
    like :func:`evidence.data.ae.map_providers` and, failing that, through predecessors: a code that
    ``lookup_trust_trust.csv`` names as the successor of trusts that all lie in one 2021 footprint maps to that
    footprint. An unmapped code with type-1 attendances stops :func:`add_month`; other unmapped codes (minor
    injury units, GP-run walk-in centres, independent providers) are listed with their shares in the result and
    the manifest. Consequences: type-1 panels stay complete; adding the new trust to the lookup is the fix.

Attendances here are the published main columns; booked appointments (from August 2020) are kept separately in
``booked_attendances`` / ``booked_breaches`` and are NaN before, as in the shipped file. Shares of unmapped activity
count both.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..panel import sha256
from ..paths import DATA, RAW, REFERENCE, display
from . import ae as _ae

LOCAL_FOLDER: Path = DATA / "local" / "nhs_monthly"
"""Default folder for months added with :func:`add_month` (``data/local/nhs_monthly/``)."""

SHIPPED_AE: tuple[Path, ...] = (RAW / "nhs" / "ae_attendances_2016_2019.csv", RAW / "nhs" / "ae_attendances_2019_2026.csv")
SHIPPED_EMERGENCY: Path = RAW / "nhs" / "emergency_admissions_provider_2016_2026.csv.gz"
FIELD_TEST: Path = REFERENCE / "ae_field_test_trusts.csv"

AE_COLUMNS: list[str] = ["period", "org_code", "type", "attendances", "breaches", "admissions", "booked_attendances", "booked_breaches", "breaches_not_reported"]
"""Columns of ``ae_attendances_2019_2026.csv`` (and of ``ae_YYYY-MM.csv``)."""
EMERGENCY_COLUMNS: list[str] = [
    "period", "org_code", "org_name", "parent_org", "adm_via_ae_type1", "adm_via_ae_type2", "adm_via_ae_other",
    "adm_other_emergency", "adm_total_emergency", "dta_over_4h", "dta_over_12h", "source_repo", "source_file",
]
"""Columns of ``emergency_admissions_provider_2016_2026.csv.gz`` (and of ``emergency_YYYY-MM.csv``)."""
AE_TYPES: tuple[str, ...] = ("1", "2", "other")
_AE_COUNTS = ["attendances", "breaches", "admissions"]
_AE_BOOKED = ["booked_attendances", "booked_breaches"]
_EM_COUNTS = ["adm_via_ae_type1", "adm_via_ae_type2", "adm_via_ae_other", "adm_other_emergency", "adm_total_emergency", "dta_over_4h", "dta_over_12h"]
_MONTH_FILE = re.compile(r"^(ae|emergency|manifest)_(\d{4}-\d{2})\.(csv|json)$")


@dataclass(frozen=True)
class Layout:
    """One published layout of the monthly provider file, recognised by its header text.

    Attributes
    ----------
    name
        Short name (``xls_2017``, ``csv_booked_2020``, ...).
    kind
        ``"xls"`` (workbook with two header rows) or ``"csv"``.
    description
        What the layout looks like and when it was used.
    fields
        Canonical field -> header text. Fields: ``period`` (CSV only), ``org_code``, ``parent_org``, ``org_name``,
        ``att_<t>``, ``br_<t>`` (over 4 hours), ``bk_att_<t>``, ``bk_br_<t>`` (booked appointments), ``adm_<t>``
        for t in 1, 2, other; ``adm_not_ae``; ``dta_4`` (workbooks: over 4 hours from decision to admit) or
        ``dta_4_12`` (CSVs: 4 to 12 hours); ``dta_12``.
    other_counts
        Further count columns the reader does not keep but checks against the TOTAL row.
    ratios
        Percentage columns: neither kept nor summed.
    """

    name: str
    kind: str
    description: str
    fields: dict[str, str]
    other_counts: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()

    def headers(self) -> set[str]:
        """The normalised header texts that identify this layout."""
        return {_norm(h) for h in (*self.fields.values(), *self.other_counts, *self.ratios)}


def _norm(text: object) -> str:
    """Header text compared without case, byte-order mark or repeated blanks."""
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


_WB_ATT = "A&E attendances"
_WB_T = {"1": "Type 1 Departments - Major A&E", "2": "Type 2 Departments - Single Specialty", "other": "Type 3 Departments - Other A&E/Minor Injury Unit"}
_WB_EM = "Emergency Admissions"


def _workbook_layout(name: str, description: str, over4: str, under4: str | None, pct_group: str) -> Layout:
    fields = {"org_code": " | Code", "parent_org": " | Region", "org_name": " | Name"}
    for t, col in _WB_T.items():
        fields[f"att_{t}"] = f"{_WB_ATT} | {col}"
        fields[f"br_{t}"] = f"{over4} | {col}"
    fields |= {
        "adm_1": f"{_WB_EM} | Emergency Admissions via Type 1 A&E",
        "adm_2": f"{_WB_EM} | Emergency Admissions via Type 2 A&E",
        "adm_other": f"{_WB_EM} | Emergency Admissions via Type 3 and 4 A&E",
        "adm_not_ae": f"{_WB_EM} | Other Emergency admissions (i.e not via A&E)",
        "dta_4": f"{_WB_EM} | Number of patients spending >4 hours from decision to admit to admission",
        "dta_12": f"{_WB_EM} | Number of patients spending >12 hours from decision to admit to admission",
    }
    other = [f"{_WB_ATT} | Total attendances", f"{over4} | Total Attendances > 4 hours", f"{_WB_EM} | Total Emergency Admissions via A&E", f"{_WB_EM} | Total Emergency Admissions"]
    if under4:
        other += [f"{under4} | {col}" for col in _WB_T.values()] + [f"{under4} | Total Attendances < 4 hours"]
    ratios = (f"{pct_group} | Percentage in 4 hours or less (type 1)", f"{pct_group} | Percentage in 4 hours or less (all)")
    return Layout(name, "xls", description, fields, tuple(other), ratios)


def _csv_layout(name: str, description: str, att: str, over4: str, other_dept: str, booked: bool) -> Layout:
    fields = {"period": "Period", "org_code": "Org Code", "parent_org": "Parent Org", "org_name": "Org name"}
    fields |= {"att_1": f"{att} Type 1", "att_2": f"{att} Type 2", "att_other": f"{att} Other A&E Department"}
    if booked:
        fields |= {f"bk_att_{t}": f"A&E attendances Booked Appointments {s}" for t, s in (("1", "Type 1"), ("2", "Type 2"), ("other", "Other Department"))}
    fields |= {"br_1": f"{over4} Type 1", "br_2": f"{over4} Type 2", "br_other": f"{over4} {other_dept}"}
    if booked:
        fields |= {f"bk_br_{t}": f"Attendances over 4hrs Booked Appointments {s}" for t, s in (("1", "Type 1"), ("2", "Type 2"), ("other", "Other Department"))}
    fields |= {
        "dta_4_12": "Patients who have waited 4-12 hs from DTA to admission",
        "dta_12": "Patients who have waited 12+ hrs from DTA to admission",
        "adm_1": "Emergency admissions via A&E - Type 1",
        "adm_2": "Emergency admissions via A&E - Type 2",
        "adm_other": "Emergency admissions via A&E - Other A&E department",
        "adm_not_ae": "Other emergency admissions",
    }
    return Layout(name, "csv", description, fields)


LAYOUTS: tuple[Layout, ...] = (
    _workbook_layout(
        "xls_2015", "workbook without the under-4-hours block, 2015-07..2017-03",
        over4="A&E attendances > 4 hours from arrival to admission, transfer or discharge", under4=None,
        pct_group="A&E attendances > 4 hours from arrival to admission, transfer or discharge",
    ),
    _workbook_layout(
        "xls_2017", "workbook with the under-4-hours block, 2017-04..2018-03",
        over4="A&E attendances greater than 4 hours from arrival to admission, transfer or discharge",
        under4="A&E attendances less than 4 hours from arrival to admission, transfer or discharge",
        pct_group="Percentage of attendances within 4 hours",
    ),
    _csv_layout("csv_2018", "CSV with 'Number of ...' headers, 2018-04..2020-03", "Number of A&E attendances", "Number of attendances over 4hrs", "Other A&E Department", booked=False),
    _csv_layout("csv_2020", "CSV without booked appointments, 2020-04..2020-07", "A&E attendances", "Attendances over 4hrs", "Other Department", booked=False),
    _csv_layout("csv_booked_2020", "CSV with booked appointments, from 2020-08", "A&E attendances", "Attendances over 4hrs", "Other Department", booked=True),
)
"""The layouts :func:`read_monthly_file` knows, oldest first."""


@dataclass
class MonthlyFile:
    """One monthly provider file, read and checked.

    Attributes
    ----------
    period
        First day of the month the file reports.
    layout
        Name of the :class:`Layout` recognised from the header.
    ae
        Rows in the layout of ``ae_attendances_2019_2026.csv`` (:data:`AE_COLUMNS`): one per org x type where any
        value is non-zero; booked columns NaN when the file has none; ``breaches_not_reported`` from
        ``data/reference/ae_field_test_trusts.csv``.
    emergency
        Rows in the layout of ``emergency_admissions_provider_2016_2026.csv.gz`` (:data:`EMERGENCY_COLUMNS`): one per
        provider, zero rows included; ``source_repo`` is ``"local"`` and ``source_file`` the file's name.
    files
        File name -> sha256 of the file read.
    """

    period: pd.Timestamp
    layout: str
    ae: pd.DataFrame
    emergency: pd.DataFrame
    files: dict[str, str]

    @property
    def month(self) -> str:
        """The month as ``YYYY-MM``."""
        return self.period.strftime("%Y-%m")


@dataclass
class AddMonthResult:
    """What :func:`add_month` did.

    Attributes
    ----------
    month
        ``YYYY-MM``.
    layout
        Layout of the file read.
    folder
        The local folder written to.
    written
        Kind (``ae``, ``emergency``, ``manifest``) -> path written.
    n_ae, n_emergency
        Rows written.
    unmapped
        Provider codes with activity that map to no 2021 footprint (none with type-1 attendances): ``org_code``,
        ``provider_kind``, ``route``, ``attendances_type1``, ``attendances_type2``, ``attendances_other``
        (booked appointments included), ``attendances``, ``share_of_attendances`` (of the month's attendances, all
        types), ``share_of_type1`` (0 here), ``emergency_admissions`` (all routes).
    superseded_shipped
        Shipped files that hold this month (the local month is read after them); empty when the month is new.
    replaced_local
        Where the earlier local version of this month was moved, or None.
    source, source_sha256
        Name and sha256 of the file read.
    """

    month: str
    layout: str
    folder: Path
    written: dict[str, Path]
    n_ae: int
    n_emergency: int
    unmapped: pd.DataFrame
    superseded_shipped: list[str] = field(default_factory=list)
    replaced_local: Path | None = None
    source: str = ""
    source_sha256: str = ""

    def lines(self) -> list[str]:
        """One line per outcome, as the command prints them."""
        out = [f"added {self.month} ({self.layout}) from {self.source}: {self.n_ae} A&E rows, {self.n_emergency} emergency-admission rows in {display(self.folder)}"]
        if self.superseded_shipped:
            out.append(f"superseded: the shipped {self.month} rows of {', '.join(self.superseded_shipped)} (unchanged; the local month is read after them)")
        if self.replaced_local is not None:
            out.append(f"replaced: the earlier local {self.month} was moved to {display(self.replaced_local)}")
        if self.unmapped.empty:
            out.append("unmapped: none; every provider code with activity maps to a 2021 footprint")
        else:
            u = self.unmapped
            kinds = u["provider_kind"].str.extract(r"\((.*)\)$", expand=False).fillna(u["provider_kind"])
            shown = ", ".join(f"{c} ({k}) {s:.2%}" for c, k, s in zip(u["org_code"].head(8), kinds.head(8), u["share_of_attendances"].head(8)))
            more = f" and {len(u) - 8} more" if len(u) > 8 else ""
            out.append(
                f"unmapped: {len(u)} codes without a 2021 footprint ({u['share_of_attendances'].sum():.2%} of the month's attendances, none type 1; "
                f"listed in {self.written['manifest'].name}): {shown}{more}"
            )
        return out


# ----------------------------------------------------------------------------------------------------------------
# Reading


def _known_layouts() -> str:
    return "; ".join(f"{lay.name} ({lay.description})" for lay in LAYOUTS)


def _unknown(name: str, why: str, headers: Iterable[str] | None = None, kind: str | None = None) -> DataError:
    """The one-line error for a file whose layout is not known, naming the closest layout's differences."""
    hint = ""
    if headers is not None:
        shown = {_norm(h): str(h).strip() for h in headers if _norm(h)}
        have = set(shown)
        cands = [lay for lay in LAYOUTS if kind is None or lay.kind == kind]
        best = min(cands, key=lambda lay: len(lay.headers() ^ have))
        shown |= {_norm(h): h for h in (*best.fields.values(), *best.other_counts, *best.ratios)}
        missing = [shown[h] for h in sorted(best.headers() - have)]
        extra = [shown[h] for h in sorted(have - best.headers())]
        parts = [f"missing '{missing[0]}'" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")] if missing else []
        parts += [f"unexpected '{extra[0]}'" + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")] if extra else []
        hint = f" Closest is {best.name}: {', '.join(parts)}."
    return DataError(f"{name}: not a known NHS England monthly A&E provider layout ({why}).{hint} Known layouts: {_known_layouts()}.")


def _match(headers: Iterable[str], kind: str) -> Layout | None:
    have = {_norm(h) for h in headers if _norm(h)}
    return next((lay for lay in LAYOUTS if lay.kind == kind and lay.headers() == have), None)


_MONTHS = {m.casefold(): i for i, m in enumerate(["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"], 1)}


def _month_from_text(text: str) -> pd.Timestamp | None:
    """``'April 2017'``, ``'MSitAE-APRIL-2020'`` -> 2017-04-01 / 2020-04-01; None when no month name and year."""
    m = re.search(r"([A-Za-z]+)[\s\-_]+(\d{4})\b", str(text))
    if not m or m.group(1).casefold() not in _MONTHS:
        return None
    return pd.Timestamp(year=int(m.group(2)), month=_MONTHS[m.group(1).casefold()], day=1)


def _sniff(path: Path) -> str:
    """``xls`` (OLE2 compound document), ``zip`` (xlsx/ods) or ``text``, from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return "text"


def _read_csv_table(path: Path, name: str) -> tuple[Layout, pd.DataFrame, pd.Timestamp]:
    """The provider table of a CSV with canonical field names (strings), and the month from its Period column."""
    raw = None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc, skipinitialspace=False)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise _unknown(name, "the file is empty") from None
        except pd.errors.ParserError as exc:
            raise _unknown(name, f"not a readable CSV table: {' '.join(str(exc).split())[:120]}") from None
    if raw is None:
        raise _unknown(name, "not a text file in UTF-8 or Windows-1252")
    # columns no layout names and without a single value (trailing commas, a stray header cell) carry no data
    known = set().union(*(lay.headers() for lay in LAYOUTS))
    blank = [c for c in raw.columns if _norm(c) not in known and raw[c].str.strip().eq("").all()]
    raw = raw.drop(columns=blank)
    raw = raw[raw.apply(lambda s: s.str.strip()).ne("").any(axis=1)]  # fully blank lines
    layout = _match(raw.columns, "csv")
    if layout is None:
        raise _unknown(name, "its header matches none of the CSV layouts", raw.columns, "csv")
    by_norm = {_norm(c): c for c in raw.columns}
    table = pd.DataFrame({f: raw[by_norm[_norm(h)]].str.strip() for f, h in layout.fields.items()})
    counts_other = {h: raw[by_norm[_norm(h)]].str.strip() for h in layout.other_counts}
    for h, s in counts_other.items():
        table[f"other::{h}"] = s
    is_total = table["org_code"].str.casefold().eq("total") | table["org_name"].str.casefold().eq("total")
    periods = table.loc[~is_total, "period"].unique()
    if len(periods) != 1:
        raise DataError(f"{name}: the Period column holds {len(periods)} different values ({', '.join(map(str, periods[:3]))}); a monthly provider file has one month.")
    period = _month_from_text(periods[0])
    if period is None:
        raise DataError(f"{name}: the Period column says '{periods[0]}', not a month such as MSitAE-APRIL-2020; check the file.")
    table["_total"] = is_total
    return layout, table.drop(columns="period"), period


def _read_xls_table(path: Path, name: str) -> tuple[Layout, pd.DataFrame, pd.Timestamp]:
    """The provider table of a workbook with canonical field names, and the month from its header area."""
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, CompDocError, struct errors ... on damaged files
        raise _unknown(name, f"not a readable .xls workbook: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}") from None
    first_headers: list[str] | None = None
    try:
        for sheet in book.sheets():
            layout, names, hdr = None, [], None
            for r in range(min(sheet.nrows, 60)):
                cells = [_norm(v) for v in sheet.row_values(r)]
                if "code" in cells and "name" in cells:
                    hdr = r
                    break
            if hdr is None or hdr == 0:
                continue
            groups = pd.Series([str(v).strip() for v in sheet.row_values(hdr - 1)], dtype=object).replace("", np.nan).ffill().fillna("")
            groups.iloc[: [_norm(v) for v in sheet.row_values(hdr)].index("code") + 3] = ""  # Code, Region, Name have no group
            subs = [str(v).strip() for v in sheet.row_values(hdr)]
            names = [f"{g} | {s}" if s else "" for g, s in zip(groups, subs)]
            layout = _match(names, "xls")
            if layout is None:
                first_headers = first_headers or names
                continue
            period = None
            for r in range(hdr):
                row = [str(v).strip() for v in sheet.row_values(r)]
                if any(_norm(v) == "period:" for v in row):
                    i = [_norm(v) for v in row].index("period:")
                    period = next((p for p in map(_month_from_text, row[i + 1 :]) if p is not None), None)
                    break
            if period is None:
                raise DataError(f"{name}: sheet '{sheet.name}' states no month in its header area (a 'Period:' cell such as 'April 2017'); check the file.")
            col = {_norm(n): i for i, n in enumerate(names) if n}
            n0 = hdr + 1
            values = {f: sheet.col_values(col[_norm(h)], start_rowx=n0) for f, h in layout.fields.items()}
            values |= {f"other::{h}": sheet.col_values(col[_norm(h)], start_rowx=n0) for h in layout.other_counts}
            table = pd.DataFrame(values, dtype=object)
            ids = ["org_code", "parent_org", "org_name"]
            table[ids] = table[ids].astype(str).apply(lambda s: s.str.strip())
            num = [c for c in table.columns if c not in ids]
            empty = table[ids].eq("").all(axis=1) & table[num].apply(lambda s: s.astype(str).str.strip().eq("")).all(axis=1)
            table = table[~empty].reset_index(drop=True)
            table["_total"] = table["org_name"].str.casefold().isin(["england", "total"]) | table["org_code"].str.casefold().eq("total")
            return layout, table, period
    finally:
        book.release_resources()
    if first_headers is None:
        raise _unknown(name, "no sheet has a header row with Code and Name columns")
    raise _unknown(name, "no sheet's header matches a workbook layout", first_headers, "xls")


def _counts(table: pd.DataFrame, name: str, layout: Layout) -> pd.DataFrame:
    """Count columns as int64: numbers only, whole and non-negative (blank cells are an error)."""
    header = {**layout.fields, **{f"other::{h}": h for h in layout.other_counts}}
    out = {}
    for c in table.columns:
        if c in ("org_code", "parent_org", "org_name", "_total"):
            continue
        s = table[c]
        num = pd.to_numeric(s.astype(str).str.strip().str.replace(",", "", regex=False), errors="coerce")
        # provider rows hold whole counts (kept ones non-negative: derived published columns such as
        # "under 4 hours" are -1 in a few 2017 rows); the TOTAL row is compared, not checked
        negative = (num < 0) if not c.startswith("other::") else pd.Series(False, index=num.index)
        bad = ~table["_total"] & (num.isna() | (num != np.floor(num)) | negative)
        bad |= table["_total"] & num.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{name}: column '{header[c]}' has '{s.iloc[i]}' for {table['org_code'].iloc[i] or 'a row'}, not a whole non-negative count; the file is damaged or not as published.")
        out[c] = num
    return pd.DataFrame(out, index=table.index)


def read_monthly_file(path: str | os.PathLike[str]) -> MonthlyFile:
    """Read one NHS England monthly A&E provider file (any layout in :data:`LAYOUTS`) and check it.

    Parameters
    ----------
    path
        A provider ``.xls`` workbook (to March 2018) or CSV (from April 2018) as published; its name does not matter.

    Returns
    -------
    MonthlyFile

    Raises
    ------
    DataError
        If the file is missing, its layout is unknown, it states no single month, a count is not a whole number,
        an org code is repeated, or its TOTAL row is missing or differs from the sum of the provider rows.
    """
    p = Path(path)
    name = display(p)
    if not p.is_file():
        raise DataError(f"{name}: no such file; give the path of a monthly provider file (.xls or .csv).")
    kind = _sniff(p)
    if kind == "zip":
        raise _unknown(name, "an .xlsx/.ods workbook; the monthly provider workbooks were .xls")
    layout, table, period = _read_xls_table(p, name) if kind == "xls" else _read_csv_table(p, name)

    total = table["_total"]
    if int(total.sum()) != 1:
        raise DataError(f"{name}: {'no' if not total.any() else int(total.sum())} TOTAL rows; a complete provider file has exactly one (England total), so it cannot be checked. Download the file again from NHS England.")
    counts = _counts(table, name, layout)
    prov = ~total.to_numpy()
    sums, tot = counts[prov].sum(), counts[~prov].iloc[0]
    diff = sums.ne(tot)
    if diff.any():
        c = diff[diff].index[0]
        header = layout.fields.get(c, c.removeprefix("other::"))
        raise DataError(f"{name}: the TOTAL row does not equal the sum of the provider rows in column '{header}' (TOTAL {tot[c]:,.0f}, providers {sums[c]:,.0f}; {int(diff.sum())} columns differ); the file is incomplete or edited. Download it again from NHS England.")
    ids = table.loc[prov, ["org_code", "parent_org", "org_name"]].reset_index(drop=True)
    counts = counts[prov].astype("int64").reset_index(drop=True)
    if ids["org_code"].eq("").any():
        raise DataError(f"{name}: {int(ids['org_code'].eq('').sum())} provider rows have no org code; the file is damaged or not as published.")
    dup = ids["org_code"][ids["org_code"].duplicated()]
    if not dup.empty:
        raise DataError(f"{name}: org code {dup.iloc[0]} appears {int(ids['org_code'].eq(dup.iloc[0]).sum())} times; a provider file has one row per provider.")

    booked = "bk_att_1" in layout.fields
    parts = []
    for t in AE_TYPES:
        parts.append(pd.DataFrame({
            "org_code": ids["org_code"], "type": t,
            "attendances": counts[f"att_{t}"], "breaches": counts[f"br_{t}"], "admissions": counts[f"adm_{t}"],
            "booked_attendances": counts[f"bk_att_{t}"].astype("float64") if booked else np.nan,
            "booked_breaches": counts[f"bk_br_{t}"].astype("float64") if booked else np.nan,
        }))
    ae = pd.concat(parts, ignore_index=True)
    ae = ae[ae[_AE_COUNTS + _AE_BOOKED].fillna(0).ne(0).any(axis=1)]
    ae.insert(0, "period", period)
    ae["breaches_not_reported"] = field_test_flag(ae["org_code"], period)
    ae = ae.sort_values(["org_code", "type"], kind="stable").reset_index(drop=True)[AE_COLUMNS]

    dta4 = counts["dta_4"] if "dta_4" in counts else counts["dta_4_12"] + counts["dta_12"]
    em = pd.DataFrame({
        "period": period, "org_code": ids["org_code"], "org_name": ids["org_name"], "parent_org": ids["parent_org"],
        "adm_via_ae_type1": counts["adm_1"], "adm_via_ae_type2": counts["adm_2"], "adm_via_ae_other": counts["adm_other"],
        "adm_other_emergency": counts["adm_not_ae"],
        "adm_total_emergency": counts["adm_1"] + counts["adm_2"] + counts["adm_other"] + counts["adm_not_ae"],
        "dta_over_4h": dta4, "dta_over_12h": counts["dta_12"], "source_repo": "local", "source_file": p.name,
    })
    em = em.sort_values("org_code", kind="stable").reset_index(drop=True)[EMERGENCY_COLUMNS]
    return MonthlyFile(period=period, layout=layout.name, ae=ae, emergency=em, files={p.name: sha256(p)})


def field_test_flag(org_codes: pd.Series, period: pd.Timestamp | pd.Series, table: str | os.PathLike[str] | None = None) -> pd.Series:
    """``breaches_not_reported``: True where the org code is a field-test trust within its months.

    Parameters
    ----------
    org_codes
        Org codes.
    period
        The month (one Timestamp) or a Series of months aligned with ``org_codes``.
    table
        The field-test table (default ``data/reference/ae_field_test_trusts.csv``: org_code, first_month, last_month).
    """
    path = Path(table) if table is not None else FIELD_TEST
    try:
        ft = pd.read_csv(path, dtype=str)
    except FileNotFoundError:
        raise DataError(f"{display(path)} is missing; restore data/reference from the repository.") from None
    months = pd.to_datetime(period if isinstance(period, pd.Series) else pd.Series(period, index=org_codes.index))
    rows = pd.DataFrame({"org_code": org_codes.to_numpy(), "month": months.dt.strftime("%Y-%m").to_numpy(), "row": np.arange(len(org_codes))})
    hits = rows.merge(ft[["org_code", "first_month", "last_month"]], on="org_code", how="inner")  # YYYY-MM strings order as months
    inside = hits.loc[(hits["first_month"] <= hits["month"]) & (hits["month"] <= hits["last_month"]), "row"]
    return pd.Series(np.isin(np.arange(len(org_codes)), inside.to_numpy()), index=org_codes.index, name="breaches_not_reported")


# ----------------------------------------------------------------------------------------------------------------
# Mapping


def map_codes(codes: Iterable[str] | pd.Series, successors: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Map provider codes to 2021 footprints: :func:`evidence.data.ae.map_providers`, then through predecessors.

    A code that ``map_providers`` leaves unmapped (not ambiguous) maps to a footprint when the lookup names it as
    the successor of one or more codes (``old_code -> new_code`` rows) and all of those map to that one footprint:
    the case of trusts created by mergers after the 2022 lookup.

    Parameters
    ----------
    codes
        Provider org codes.
    successors
        The successor lookup (default ``evidence.data.ae.TRUST_SUCCESSORS``, ``data/raw/reference/lookup_trust_trust.csv``).

    Returns
    -------
    pandas.DataFrame
        ``org_code``, ``route`` (direct / successor / predecessor / ambiguous / unmapped), ``chain``, ``stp21_code``,
        ``provider_kind``; one row per distinct code.
    """
    codes = pd.Series(list(codes) if not isinstance(codes, pd.Series) else codes, dtype=str)
    out = _ae.map_providers(codes)
    todo = out.loc[out["stp21_code"].isna() & out["route"].eq("unmapped"), "org_code"]
    if todo.empty:
        return out
    succ = pd.read_csv(successors if successors is not None else _ae.TRUST_SUCCESSORS, dtype=str)
    pred = succ.loc[succ["new_code"].isin(todo) & succ["old_code"].ne(succ["new_code"]), ["old_code", "new_code"]].drop_duplicates()
    if pred.empty:
        return out
    pm = _ae.map_providers(pred["old_code"])[["org_code", "stp21_code"]].rename(columns={"org_code": "old_code"})
    pred = pred.merge(pm, on="old_code", how="left")
    agg = pred.groupby("new_code").agg(
        n=("old_code", "size"), n_mapped=("stp21_code", "count"), n_fp=("stp21_code", "nunique"),
        stp=("stp21_code", "first"), olds=("old_code", lambda s: "+".join(sorted(s))),
    )
    ok = agg[(agg["n"] == agg["n_mapped"]) & (agg["n_fp"] == 1)]
    hit = out["org_code"].isin(ok.index)
    out.loc[hit, "stp21_code"] = out.loc[hit, "org_code"].map(ok["stp"])
    out.loc[hit, "route"] = "predecessor"
    out.loc[hit, "chain"] = out.loc[hit, "org_code"] + "<" + out.loc[hit, "org_code"].map(ok["olds"])
    return out


def unmapped_activity(mf: MonthlyFile) -> pd.DataFrame:
    """Provider codes of a month with activity that map to no 2021 footprint, with their shares.

    Returns
    -------
    pandas.DataFrame
        ``org_code``, ``provider_kind``, ``route``, ``attendances_type1``, ``attendances_type2``,
        ``attendances_other`` (booked appointments included), ``attendances``, ``share_of_attendances``,
        ``share_of_type1``, ``emergency_admissions``; sorted by attendances, largest first.
    """
    ae = mf.ae.assign(total=mf.ae["attendances"] + mf.ae["booked_attendances"].fillna(0))
    wide = ae.pivot_table(index="org_code", columns="type", values="total", aggfunc="sum", fill_value=0).reindex(columns=list(AE_TYPES), fill_value=0)
    wide.columns = [f"attendances_type{t}" if t != "other" else "attendances_other" for t in wide.columns]
    em = mf.emergency.set_index("org_code")["adm_total_emergency"].rename("emergency_admissions")
    act = wide.join(em, how="outer").fillna(0)
    act = act[act.sum(axis=1) > 0]
    cols = ["org_code", "provider_kind", "route", "attendances_type1", "attendances_type2", "attendances_other", "attendances", "share_of_attendances", "share_of_type1", "emergency_admissions"]
    ints = ["attendances_type1", "attendances_type2", "attendances_other", "attendances", "emergency_admissions"]
    if act.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ints else "float64" if c.startswith("share") else "str") for c in cols})
    m = map_codes(act.index.to_series()).set_index("org_code")
    um = act[m.reindex(act.index)["stp21_code"].isna()].copy()
    um["attendances"] = um[["attendances_type1", "attendances_type2", "attendances_other"]].sum(axis=1)
    um["share_of_attendances"] = um["attendances"] / max(float(wide.to_numpy().sum()), 1.0)
    um["share_of_type1"] = um["attendances_type1"] / max(float(wide["attendances_type1"].sum()), 1.0)
    um = um.join(m[["provider_kind", "route"]]).rename_axis("org_code").reset_index()
    um[ints] = um[ints].astype("int64")
    return um.sort_values(["attendances", "emergency_admissions", "org_code"], ascending=[False, False, True], kind="stable").reset_index(drop=True)[cols]


# ----------------------------------------------------------------------------------------------------------------
# The local folder


def shipped_months() -> dict[str, list[str]]:
    """``YYYY-MM`` -> the shipped files (``data/raw/nhs``) that hold that month."""
    out: dict[str, list[str]] = {}
    for path in (*SHIPPED_AE, SHIPPED_EMERGENCY):
        if not path.is_file():
            continue
        months = pd.read_csv(path, usecols=["period"], dtype=str)["period"].str[:7].unique()
        for m in months:
            out.setdefault(m, []).append(display(path))
    return out


def _month_files(folder: Path, month: str) -> list[Path]:
    return [p for p in (folder / f"ae_{month}.csv", folder / f"emergency_{month}.csv", folder / f"manifest_{month}.json") if p.exists()]


def _timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def add_month(
    path: str | os.PathLike[str],
    folder: str | os.PathLike[str] | None = None,
    *,
    replace: bool = False,
    shipped_periods: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
) -> AddMonthResult:
    """Read and check a monthly provider file and store its month in the local folder.

    Writes ``ae_YYYY-MM.csv``, ``emergency_YYYY-MM.csv`` (plain CSV, the shipped files' columns) and
    ``manifest_YYYY-MM.json`` (source file, sha256, layout, time written, rows, unmapped codes, what was superseded).
    Everything is checked before anything in ``folder`` changes; files are written under temporary names and renamed
    at the end, so a failure leaves the folder as it was.

    Parameters
    ----------
    path
        The monthly provider file (.xls or .csv).
    folder
        Where local months live (default :data:`LOCAL_FOLDER`, ``data/local/nhs_monthly/``); created if missing.
    replace
        Supersede a month already present: an earlier local version is moved to ``replaced/YYYY-MM_<UTC time>/``;
        a shipped month is superseded (shipped files are never changed).
    shipped_periods
        Months present in the shipped files: ``YYYY-MM`` strings or Timestamps, or a mapping month -> file names.
        Default: read from ``data/raw/nhs`` (:func:`shipped_months`).

    Returns
    -------
    AddMonthResult

    Raises
    ------
    DataError
        If the file cannot be read or checked (see :func:`read_monthly_file`), the month is present and ``replace``
        is not given, or a provider code with type-1 attendances maps to no 2021 footprint.
    """
    src = Path(path)
    folder = Path(folder) if folder is not None else LOCAL_FOLDER
    mf = read_monthly_file(src)
    month, name = mf.month, display(src)

    unmapped = unmapped_activity(mf)
    t1 = unmapped[unmapped["attendances_type1"] > 0].sort_values("attendances_type1", ascending=False, kind="stable")
    if not t1.empty:
        listed = ", ".join(f"{c} ({s:.2%} of {month}'s type-1 attendances)" for c, s in zip(t1["org_code"].head(5), t1["share_of_type1"].head(5)))
        more = f" and {len(t1) - 5} more" if len(t1) > 5 else ""
        raise DataError(
            f"{name}: provider codes with type-1 attendances map to no 2021 footprint: {listed}{more}; "
            f"add each new trust to {display(_ae.TRUST_SUCCESSORS)} as the successor (new_code) of the trusts it replaced "
            f"(or to {display(_ae.TRUST_STP)} with its footprint), then run add-month again."
        )

    if shipped_periods is None:
        shipped = shipped_months()
    elif isinstance(shipped_periods, Mapping):
        shipped = {pd.Timestamp(str(k)[:7] + "-01").strftime("%Y-%m"): list(v) for k, v in shipped_periods.items()}
    else:
        shipped = {pd.Timestamp(str(k)[:7] + "-01").strftime("%Y-%m"): [] for k in shipped_periods}
    in_shipped = month in shipped
    old_local = _month_files(folder, month) if folder.is_dir() else []
    if (in_shipped or old_local) and not replace:
        where = []
        if in_shipped:
            where.append("in the shipped files" + (f" ({', '.join(shipped[month])})" if shipped[month] else ""))
        if old_local:
            where.append(f"in {display(folder)} ({', '.join(p.name for p in old_local)})")
        raise DataError(f"{name}: {month} is already present {' and '.join(where)}; pass --replace (replace=True) to supersede it with this file.")

    # counts as integers, booked counts empty when absent: the shipped files' text
    ae_csv = mf.ae.assign(period=mf.ae["period"].dt.strftime("%Y-%m-%d")).astype({c: "Int64" for c in _AE_BOOKED}).to_csv(index=False, lineterminator="\n")
    em_csv = mf.emergency.assign(period=mf.emergency["period"].dt.strftime("%Y-%m-%d")).to_csv(index=False, lineterminator="\n")
    finals = {"ae": folder / f"ae_{month}.csv", "emergency": folder / f"emergency_{month}.csv", "manifest": folder / f"manifest_{month}.json"}

    made_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    temps: dict[str, Path] = {}
    moved: list[tuple[Path, Path]] = []
    replaced_dir: Path | None = None
    placed: list[Path] = []
    try:
        def _tmp(kind: str, text: str) -> Path:
            tmp = folder / f".{finals[kind].name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"  # hidden; never read as a month
            temps[kind] = tmp
            with open(tmp, "x", encoding="utf-8", newline="") as fh:
                fh.write(text)
            return tmp

        _tmp("ae", ae_csv)
        _tmp("emergency", em_csv)
        if old_local:
            base = folder / "replaced" / f"{month}_{_timestamp()}"
            replaced_dir, k = base, 1
            while replaced_dir.exists():
                replaced_dir, k = base.with_name(f"{base.name}_{k}"), k + 1
        manifest = {
            "month": month,
            "source_file": src.name,
            "source_sha256": mf.files[src.name],
            "layout": mf.layout,
            "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rows": {"ae": len(mf.ae), "emergency": len(mf.emergency)},
            "files": {finals["ae"].name: sha256(temps["ae"]), finals["emergency"].name: sha256(temps["emergency"])},
            "supersedes_shipped": shipped.get(month, []) if in_shipped else [],
            "replaced_local": str(replaced_dir.relative_to(folder)) if replaced_dir is not None else None,
            "unmapped": json.loads(unmapped.to_json(orient="records")),
        }
        _tmp("manifest", json.dumps(manifest, indent=2) + "\n")
        if replaced_dir is not None:
            replaced_dir.mkdir(parents=True)
            for p in old_local:
                dest = replaced_dir / p.name
                os.replace(p, dest)
                moved.append((dest, p))
        for kind in ("ae", "emergency", "manifest"):
            os.replace(temps[kind], finals[kind])
            placed.append(finals[kind])
    except BaseException:
        for p in placed:
            p.unlink(missing_ok=True)
        for dest, orig in moved:
            os.replace(dest, orig)
        if replaced_dir is not None and replaced_dir.is_dir() and not any(replaced_dir.iterdir()):
            replaced_dir.rmdir()
            if not any(replaced_dir.parent.iterdir()):
                replaced_dir.parent.rmdir()
        for p in temps.values():
            p.unlink(missing_ok=True)
        if made_folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return AddMonthResult(
        month=month, layout=mf.layout, folder=folder, written=finals, n_ae=len(mf.ae), n_emergency=len(mf.emergency),
        unmapped=unmapped, superseded_shipped=shipped.get(month, []) if in_shipped else [], replaced_local=replaced_dir,
        source=src.name, source_sha256=mf.files[src.name],
    )


def _local(folder: Path) -> dict[str, dict[str, Path]]:
    found: dict[str, dict[str, Path]] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _MONTH_FILE.match(p.name)
            if m and p.is_file():
                found.setdefault(m.group(2), {})[m.group(1)] = p
    return dict(sorted(found.items()))


def read_local_months(folder: str | os.PathLike[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The A&E and emergency-admission rows of every month in the local folder.

    Parameters
    ----------
    folder
        Default :data:`LOCAL_FOLDER`. The ``replaced/`` subfolder is not read.

    Returns
    -------
    (ae, emergency)
        Frames with :data:`AE_COLUMNS` and :data:`EMERGENCY_COLUMNS` (``period`` as datetime, org codes and types as
        strings, counts as integers, booked columns as floats); empty with these columns when the folder is
        missing or empty. Combine with the shipped rows with :func:`overlay_local`.

    Raises
    ------
    DataError
        If a month lacks its A&E or emergency file, or a file's rows are not of the month in its name.
    """
    folder = Path(folder) if folder is not None else LOCAL_FOLDER
    months = _local(folder)
    ae_parts, em_parts = [], []
    for month, files in months.items():
        lacking = [k for k in ("ae", "emergency") if k not in files]
        if lacking:
            raise DataError(f"{display(folder)}: month {month} has no {lacking[0]}_{month}.csv; run `evidence add-month FILE --replace` for that month again.")
        a = pd.read_csv(files["ae"], dtype={"org_code": str, "type": str})
        e = pd.read_csv(files["emergency"], dtype={"org_code": str, "org_name": str, "parent_org": str, "source_repo": str, "source_file": str}, keep_default_na=False, na_values=[])
        for df, f, cols in ((a, files["ae"], AE_COLUMNS), (e, files["emergency"], EMERGENCY_COLUMNS)):
            if list(df.columns) != cols or not df["period"].astype(str).str.startswith(month).all():
                raise DataError(f"{display(f)}: not as add-month wrote it (columns or months differ); run `evidence add-month FILE --replace` for {month} again.")
        ae_parts.append(a)
        em_parts.append(e)
    if not ae_parts:
        ae = pd.DataFrame({c: pd.Series(dtype="str") for c in AE_COLUMNS})
        em = pd.DataFrame({c: pd.Series(dtype="str") for c in EMERGENCY_COLUMNS})
        ae = ae.astype({**{c: "int64" for c in _AE_COUNTS}, **{c: "float64" for c in _AE_BOOKED}, "breaches_not_reported": bool})
        em = em.astype({c: "int64" for c in _EM_COUNTS})
    else:
        ae = pd.concat(ae_parts, ignore_index=True)
        em = pd.concat(em_parts, ignore_index=True)
        ae[_AE_BOOKED] = ae[_AE_BOOKED].astype("float64")
        ae["breaches_not_reported"] = ae["breaches_not_reported"].astype(bool)
    ae["period"] = pd.to_datetime(ae["period"], format="%Y-%m-%d").astype("datetime64[us]")  # as read_monthly_file
    em["period"] = pd.to_datetime(em["period"], format="%Y-%m-%d").astype("datetime64[us]")
    return ae[AE_COLUMNS], em[EMERGENCY_COLUMNS]


def overlay_local(shipped: pd.DataFrame, local: pd.DataFrame) -> pd.DataFrame:
    """Shipped rows with every month present in ``local`` replaced by the local rows (local read after shipped).

    Both frames need a datetime ``period`` column; columns of ``shipped`` are kept (missing ones are NaN).
    """
    if local.empty:
        return shipped
    keep = shipped[~shipped["period"].isin(local["period"].unique())]
    return pd.concat([keep, local.reindex(columns=shipped.columns)], ignore_index=True).sort_values("period", kind="stable").reset_index(drop=True)


def local_files(folder: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """File name (as users read it) -> sha256 of every local month file, for provenance; empty when there are none."""
    folder = Path(folder) if folder is not None else LOCAL_FOLDER
    return {display(p): sha256(p) for files in _local(folder).values() for p in sorted(files.values())}
