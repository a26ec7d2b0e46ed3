"""Synthetic record generator: admitted-patient-care spells or A&E attendances, written as partitioned Parquet.

Every file, row and panel it produces is labelled **synthetic**: file names start with ``synthetic_``, every row
has ``synthetic = true``, each Parquet file carries key-value metadata ``evidence.synthetic = true`` (with the
generator's parameters), and a ``synthetic_manifest.json`` sits beside the files. Panels built from such records say
so in their ``source`` and notes (:func:`evidence.records.panel_from_records`).

How the records are made (vectorised, in chunks of at most ``chunk_rows`` rows, so memory stays bounded at any size)
---------------------------------------------------------------------------------------------------------------------
1. **Counts from the real data.** For each provider and month of the real A&E return (``evidence.data.ae``), the
   number of emergency spells is ``round(scale * admissions)`` (emergency admissions via A&E, A&E types
   ``ae_types``) and of elective spells ``round(scale * elective_ratio * admissions)``; for attendances,
   ``round(scale * attendances)``. ``n_records`` sets ``scale`` so the total is about that size. Aggregated by
   provider, the records therefore reproduce the real footprint x month pattern exactly (times ``scale``, up to
   rounding per provider-month). Providers that map to no 2021 footprint are left out (none of type 1).
2. **Residence.** With probability ``home_share`` (default 0.9) a patient lives in the provider's footprint;
   otherwise in another footprint of the same NHS region, chosen in proportion to its population. The LSOA is
   then drawn **uniformly among the footprint's LSOAs** (see the decision below).
3. **Age.** The broad band is drawn with probability proportional to the residence footprint's ONS population in
   that band (interpolated to the month) times a relative rate per person (:data:`RELATIVE_RATES`): for emergency
   spells 0-17 0.9, 18-64 1.0, 65-74 2.2, 75+ 5.5, which puts about 30% of emergency spells among the 8% of people
   aged 75+ (England, HES 2018/19: about 29%). With ``age_bands="fine"`` a 5-year band is drawn within the broad
   band from ESP 2013 weights times an illustrative within-band gradient (:data:`FINE_WEIGHTS`).
4. **Sex.** Female with the probability of :data:`FEMALE_SHARE` for the band (0.1% ``U``, not known).
5. **Length of stay** (spells). Zero (same day) with probability ``p0`` by band and method, otherwise
   ``1 + floor(LogNormal(log(median), sigma))`` days, capped at 365 (:data:`LOS_PARAMS`): emergency medians
   1.2 / 2.0 / 3.0 / 4.5 days (0-17 / 18-64 / 65-74 / 75+), sigma 1.1, p0 0.45 / 0.35 / 0.25 / 0.15 — a
   right-skewed distribution with an overall mean near 4.3 days (HES 2018/19 emergency spells: about 4.5);
   elective p0 0.8 (day cases), median 1.5, sigma 0.9.
6. **Dates.** Emergency spells and attendances: any day of the month, uniformly; elective spells: weekdays only.
7. **Cost currency** (``hrg=True``). Drawn in proportion to NCC 2023/24 national activity within the setting the
   record falls in (non-elective short stay for LOS 0-1, long stay otherwise; day case / elective inpatient; VB
   codes for A&E), independently of age.
8. **Ids.** ``spell_id``/``attendance_id``: consecutive integers, unique over the whole extract. ``patient_id``: a
   64-bit hash of (LSOA, age band, sex, one of 64 slots), so a patient id always has one residence, age band and
   sex and repeat admissions arise by chance; it carries no clinical meaning.

Decision: residence over LSOAs (Context / Decision / Consequences)
    Context: no population by LSOA ships with the project; LSOAs were drawn to hold 1,000-3,000 residents
    (about 1,600 on average). Decision: spread a footprint's residents **uniformly over its LSOAs** (every LSOA
    of the footprint equally likely); footprints themselves are weighted by their ONS population.
    Consequences: footprint-level totals are right; within-footprint LSOA patterns (deprivation gradients) are
    not, so the synthetic records support footprint analyses only.

Decision: scaling to the real data
    Context: the A&E return counts emergency admissions via A&E only (about 70% of all emergency admissions).
    Decision: the generator reproduces the real provider x month shape times ``scale``; it does not try to add
    other admission routes. Consequences: at ``scale = 1`` emergency spells match the A&E return's admissions, not
    HES totals; elective spells follow the same monthly shape (no separate elective seasonality).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.ae import footprint_covariates, map_providers, monthly_population, read_ae
from ..errors import DataError
from ..standardise import BANDS
from .costs import hrg_unit_costs
from .schema import BROAD_LABELS, FINE_LABELS
from .lookups import lsoa_lookup

GENERATOR_VERSION = "1"
MANIFEST = "synthetic_manifest.json"

RELATIVE_RATES: dict[str, tuple[float, float, float, float]] = {
    "emergency": (0.9, 1.0, 2.2, 5.5),
    "elective": (0.35, 1.0, 2.6, 2.8),
    "attendance": (1.0, 0.85, 0.95, 1.8),
}
"""Events per person relative to ages 18-64, by broad band (0-17, 18-64, 65-74, 75+); illustrative, HES-like."""

FINE_WEIGHTS: dict[str, float] = {
    # ESP 2013 five-year weight (15-19 split 3:2 at 18) x an illustrative within-band rate gradient
    "0-4": 5000 * 2.0, "5-9": 5500 * 0.7, "10-14": 5500 * 0.8, "15-17": 3300 * 1.2,
    "18-19": 2200 * 1.0, "20-24": 6000 * 0.9, "25-29": 6000 * 0.9, "30-34": 6500 * 0.9, "35-39": 7000 * 0.9,
    "40-44": 7000 * 1.0, "45-49": 7000 * 1.1, "50-54": 7000 * 1.2, "55-59": 6500 * 1.4, "60-64": 6000 * 1.6,
    "65-69": 5500 * 1.0, "70-74": 5000 * 1.3,
    "75-79": 4000 * 1.0, "80-84": 2500 * 1.5, "85-89": 1500 * 2.1, "90+": 1000 * 2.6,
}

FEMALE_SHARE: tuple[float, float, float, float] = (0.47, 0.53, 0.48, 0.58)
"""Probability that a record is female, by broad band (given sex is known)."""

UNKNOWN_SEX = 0.001
"""Probability of sex ``U`` (not known)."""

LOS_PARAMS: dict[str, dict[str, tuple[float, ...]]] = {
    "emergency": {"p0": (0.45, 0.35, 0.25, 0.15), "median": (1.2, 2.0, 3.0, 4.5), "sigma": (1.1, 1.1, 1.1, 1.1)},
    "elective": {"p0": (0.8, 0.8, 0.8, 0.8), "median": (1.5, 1.5, 1.5, 1.5), "sigma": (0.9, 0.9, 0.9, 0.9)},
}
"""Length of stay: P(0 days), then 1 + floor(LogNormal(log(median), sigma)), by broad band; capped at 365."""

MAX_LOS = 365
PATIENT_SLOTS = 64


@dataclass
class GenerationResult:
    """What :func:`generate_records` wrote.

    Attributes
    ----------
    kind
        ``spells`` or ``attendances``.
    directory
        Output folder.
    files
        Parquet files written (one per month; ``synthetic_<kind>_<YYYY-MM>.parquet``).
    n_records
        Rows written.
    counts
        The generated counts by provider and month: ``provider_code``, ``stp21_code``, ``period`` (first of
        month), ``admission_method`` (spells) and ``n``.
    params
        The parameters (as written to the manifest and the Parquet metadata).
    reused
        True when matching files were already there and nothing was written.
    """

    kind: str
    directory: Path
    files: list[Path]
    n_records: int
    counts: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    reused: bool = False
    seconds: float | None = None
    """Wall time of the generation that wrote the files (from the manifest when they were reused)."""

    @property
    def glob(self) -> str:
        """A glob matching the files (for :func:`evidence.records.panel_from_records`)."""
        return str(self.directory / f"synthetic_{self.kind}_*.parquet")


def _month_list(start: str, end: str) -> pd.PeriodIndex:
    try:
        s, e = pd.Period(start, "M"), pd.Period(end, "M")
    except (ValueError, TypeError):
        raise DataError(f"generate_records: start {start!r} and end {end!r} must be months like 2016-04.") from None
    if e < s:
        raise DataError(f"generate_records: end {end} is before start {start}.")
    return pd.period_range(s, e, freq="M")


def real_counts(kind: str, months: pd.PeriodIndex, ae_types: tuple[str, ...]) -> pd.DataFrame:
    """Real activity by provider and month from the A&E return, for providers mapped to a 2021 footprint.

    Returns
    -------
    pandas.DataFrame
        ``provider_code``, ``stp21_code``, ``period`` (Period[M]), ``real`` (admissions via A&E for spells,
        attendances for attendances).
    """
    raw = read_ae()
    raw = raw[raw["type"].isin([str(t) for t in ae_types])]
    col = "admissions" if kind == "spells" else "attendances"
    raw = raw.assign(period=raw["period"].dt.to_period("M"))
    if not set(months) <= set(raw["period"]):
        have = sorted(raw["period"].unique())
        raise DataError(f"generate_records: months {months[0]}..{months[-1]} go beyond the A&E return ({have[0]}..{have[-1]}); choose start and end inside it.")
    raw = raw[raw["period"].isin(months)]
    g = raw.groupby(["org_code", "period"], as_index=False)[col].sum().rename(columns={"org_code": "provider_code", col: "real"})
    m = map_providers(g["provider_code"])[["org_code", "stp21_code"]].rename(columns={"org_code": "provider_code"})
    g = g.merge(m, on="provider_code", how="left")
    g = g[g["stp21_code"].notna() & (g["real"] > 0)]
    return g.sort_values(["period", "provider_code"], kind="stable").reset_index(drop=True)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 (vectorised; wraps modulo 2**64)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw: index of the first cumulative probability above ``u`` (cdf rows per draw)."""
    return np.minimum((u[:, None] >= cdf).sum(axis=1), cdf.shape[1] - 1)


def _params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def generate_records(
    out_dir: str | os.PathLike[str],
    *,
    kind: str = "spells",
    scale: float | None = None,
    n_records: int | None = None,
    start: str = "2016-04",
    end: str = "2019-03",
    ae_types: tuple[str, ...] | list[str] = ("1",),
    elective_ratio: float = 1.4,
    home_share: float = 0.9,
    age_bands: str = "fine",
    hrg: bool = True,
    seed: int = 20170615,
    chunk_rows: int = 2_000_000,
    row_group_rows: int = 1_000_000,
    reuse: bool = True,
) -> GenerationResult:
    """Write synthetic spells or attendances consistent with the real A&E data (see the module docstring).

    Parameters
    ----------
    out_dir
        Folder for the Parquet files (created). Existing ``synthetic_<kind>_*`` files there are replaced unless
        they were made with the same parameters and ``reuse`` is true.
    kind
        ``spells`` (admitted patient care) or ``attendances`` (A&E).
    scale, n_records
        Records per real event (default 1.0), or a target total that sets ``scale``; give at most one.
    start, end
        First and last month (inside the A&E return, 2016-04..2019-03).
    ae_types
        A&E types whose admissions (or attendances) set the counts.
    elective_ratio
        Elective spells per emergency spell (spells only; HES 2018/19 about 1.4).
    home_share
        Probability that a patient lives in the provider's footprint.
    age_bands
        ``fine`` (5-year bands, 15-19 split at 18) or ``broad`` (0-17, 18-64, 65-74, 75+).
    hrg
        Write an ``hrg_code`` column (cost currency).
    seed
        Seed; the output depends only on the parameters (chunks draw from their own seeded streams).
    chunk_rows, row_group_rows
        Rows generated at a time (bounds memory: about 100 bytes a row) and rows per Parquet row group.
    reuse
        Keep files made earlier with identical parameters instead of writing them again.

    Returns
    -------
    GenerationResult

    Raises
    ------
    DataError
        Bad parameters (months outside the A&E return, both ``scale`` and ``n_records``, unknown ``kind``).
    """
    t_start = time.perf_counter()
    if kind not in ("spells", "attendances"):
        raise DataError(f"generate_records: kind must be spells or attendances, not {kind!r}.")
    if scale is not None and n_records is not None:
        raise DataError("generate_records: give scale or n_records, not both.")
    if age_bands not in ("fine", "broad"):
        raise DataError(f"generate_records: age_bands must be fine or broad, not {age_bands!r}.")
    if not 0 <= home_share <= 1 or elective_ratio < 0:
        raise DataError("generate_records: home_share must lie in [0, 1] and elective_ratio be non-negative.")
    months = _month_list(start, end)
    ae_types = tuple(str(t) for t in ae_types)
    real = real_counts(kind, months, ae_types)
    ratio = elective_ratio if kind == "spells" else 0.0
    if n_records is not None:
        scale = float(n_records) / (float(real["real"].sum()) * (1.0 + ratio))
    scale = 1.0 if scale is None else float(scale)
    if scale <= 0:
        raise DataError("generate_records: scale (or n_records) must be positive.")

    params: dict[str, Any] = {
        "generator": f"evidence.records.generate v{GENERATOR_VERSION}", "kind": kind, "scale": scale, "start": str(months[0]),
        "end": str(months[-1]), "ae_types": list(ae_types), "elective_ratio": ratio, "home_share": home_share,
        "age_bands": age_bands, "hrg": hrg, "seed": seed, "chunk_rows": chunk_rows, "synthetic": True,
    }

    # --- cells: provider x month (x method), with counts -------------------------------------------------------
    methods = ("emergency", "elective") if kind == "spells" else ("attendance",)
    cells = []
    for mi, method in enumerate(methods):
        factor = scale * (ratio if method == "elective" else 1.0)
        c = real[["provider_code", "stp21_code", "period"]].copy()
        c["method"] = mi
        c["n"] = np.rint(real["real"].to_numpy(float) * factor).astype("int64")
        cells.append(c)
    cells = pd.concat(cells, ignore_index=True)
    cells = cells[cells["n"] > 0].sort_values(["period", "provider_code", "method"], kind="stable").reset_index(drop=True)
    counts = cells.assign(period=cells["period"].dt.to_timestamp())
    if kind == "spells":
        counts["admission_method"] = np.asarray(methods, dtype=object)[counts["method"].to_numpy()]
        counts = counts[["provider_code", "stp21_code", "period", "admission_method", "n"]]
    else:
        counts = counts[["provider_code", "stp21_code", "period", "n"]]
    n_total = int(cells["n"].sum())

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    prefix = f"synthetic_{kind}_"
    if reuse and manifest.is_file():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        files = [out / f for f in old.get("files", [])]
        if old.get("params_key") == _params_key(params) and files and all(f.is_file() for f in files):
            return GenerationResult(kind, out, files, int(old["n_records"]), counts.reset_index(drop=True), params, reused=True, seconds=old.get("seconds"))
    for f in out.glob(f"{prefix}*.parquet"):
        f.unlink()
    manifest.unlink(missing_ok=True)

    # --- reference tables -----------------------------------------------------------------------------------------
    lsoa = lsoa_lookup()  # sorted by stp21_code then lsoa11_code
    fps = np.sort(lsoa["stp21_code"].unique())
    fp_index = {c: i for i, c in enumerate(fps)}
    lsoa_fp = lsoa["stp21_code"].map(fp_index).to_numpy()
    lsoa_count = np.bincount(lsoa_fp, minlength=len(fps))
    lsoa_off = np.concatenate([[0], np.cumsum(lsoa_count)[:-1]])
    lsoa_dict = pa.array(lsoa["lsoa11_code"].to_numpy(dtype=object), pa.string())

    pop = np.stack([monthly_population(months, b).pivot(index="stp21_code", columns="period", values=b).reindex(fps).to_numpy(float) for b in BANDS], axis=-1)  # fp x month x band
    total_pop = pop.sum(axis=-1).mean(axis=1)
    region = footprint_covariates().set_index("stp21_code")["region"].reindex(fps).to_numpy()
    away = np.zeros((len(fps), len(fps)))
    for i in range(len(fps)):
        w = np.where((region == region[i]) & (np.arange(len(fps)) != i), total_pop, 0.0)
        if w.sum() == 0:
            w = np.where(np.arange(len(fps)) != i, total_pop, 0.0)
        away[i] = np.cumsum(w / w.sum())

    band_cdf = {}
    for mi, method in enumerate(methods):
        w = pop * np.asarray(RELATIVE_RATES[method])[None, None, :]
        band_cdf[mi] = np.cumsum(w / w.sum(axis=-1, keepdims=True), axis=-1)  # fp x month x band

    labels = list(FINE_LABELS) if age_bands == "fine" else list(BROAD_LABELS)
    label_dict = pa.array(labels, pa.string())
    if age_bands == "fine":
        fine_cdf = np.ones((len(BANDS), max(sum(1 for v in FINE_LABELS.values() if v == b) for b in BANDS)))
        fine_first = np.zeros(len(BANDS), dtype=np.int64)
        for bi, b in enumerate(BANDS):
            names = [k for k, v in FINE_LABELS.items() if v == b]
            w = np.asarray([FINE_WEIGHTS[k] for k in names])
            fine_cdf[bi, : len(names)] = np.cumsum(w / w.sum())
            fine_first[bi] = labels.index(names[0])

    providers = np.sort(cells["provider_code"].unique())
    prov_index = {c: i for i, c in enumerate(providers)}
    prov_dict = pa.array(providers.astype(object), pa.string())
    method_dict = pa.array(["emergency", "elective"], pa.string())
    sex_dict = pa.array(["F", "M", "U"], pa.string())
    female = np.asarray(FEMALE_SHARE)

    hrg_tabs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hrg_dict = pa.array([], pa.string())
    if hrg:
        costs = hrg_unit_costs()
        union = np.sort(costs["currency_code"].unique())
        hrg_dict = pa.array(union.astype(object), pa.string())
        for setting in ("short_stay", "long_stay", "day_case", "elective_inpatient", "ae"):
            t = costs[costs["setting"] == setting].sort_values("currency_code")
            hrg_tabs[setting] = (np.searchsorted(union, t["currency_code"].to_numpy()).astype(np.int32), np.cumsum(t["activity"].to_numpy(float) / t["activity"].sum()))

    id_col = "spell_id" if kind == "spells" else "attendance_id"
    date_col = "admission_date" if kind == "spells" else "arrival_date"
    fields = [pa.field("patient_id", pa.int64()), pa.field(id_col, pa.int64()), pa.field("provider_code", pa.dictionary(pa.int32(), pa.string())),
              pa.field("lsoa11_code", pa.dictionary(pa.int32(), pa.string())), pa.field(date_col, pa.date32())]
    if kind == "spells":
        fields.append(pa.field("admission_method", pa.dictionary(pa.int8(), pa.string())))
    fields += [pa.field("age_band", pa.dictionary(pa.int8(), pa.string())), pa.field("sex", pa.dictionary(pa.int8(), pa.string()))]
    if kind == "spells":
        fields.append(pa.field("length_of_stay", pa.int32()))
    if hrg:
        fields.append(pa.field("hrg_code", pa.dictionary(pa.int32(), pa.string())))
    fields.append(pa.field("synthetic", pa.bool_()))
    meta = {b"evidence.synthetic": b"true", b"evidence.kind": kind.encode(), b"evidence.generator": json.dumps(params, sort_keys=True).encode()}
    schema = pa.schema(fields, metadata=meta)

    cell_prov = cells["provider_code"].map(prov_index).to_numpy()
    cell_fp = cells["stp21_code"].map(fp_index).to_numpy()
    cell_method = cells["method"].to_numpy()
    cell_month = cells["period"].map({p: i for i, p in enumerate(months)}).to_numpy()
    files: list[Path] = []
    next_id = 1
    for mi_month, month in enumerate(months):
        sel = np.flatnonzero(cell_month == mi_month)
        if len(sel) == 0:
            continue
        cum = np.cumsum(cells["n"].to_numpy()[sel])
        n_month = int(cum[-1])
        days = pd.date_range(month.start_time, month.end_time.normalize(), freq="D")
        epoch = (days.values.astype("datetime64[D]").astype(np.int64))
        weekdays = epoch[days.day_of_week < 5]
        path = out / f"{prefix}{month.strftime('%Y-%m')}.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for ci, a in enumerate(range(0, n_month, chunk_rows)):
                b = min(a + chunk_rows, n_month)
                rng = np.random.default_rng(np.random.SeedSequence([seed, mi_month, ci]))
                cell = sel[np.searchsorted(cum, np.arange(a, b), side="right")]
                n = b - a
                fp = cell_fp[cell]
                method = cell_method[cell]
                # residence
                res = fp.copy()
                moved = rng.random(n) >= home_share
                if moved.any():
                    res[moved] = _pick(away[fp[moved]], rng.random(int(moved.sum())))
                lsoa_idx = (lsoa_off[res] + np.floor(rng.random(n) * lsoa_count[res]).astype(np.int64)).astype(np.int32)
                # age
                band = np.empty(n, dtype=np.int64)
                for m_i in range(len(methods)):
                    k = method == m_i
                    if k.any():
                        band[k] = _pick(band_cdf[m_i][res[k], mi_month], rng.random(int(k.sum())))
                if age_bands == "fine":
                    label_idx = fine_first[band] + _pick(fine_cdf[band], rng.random(n))
                else:
                    label_idx = band
                # sex
                u = rng.random(n)
                sex = np.where(u < UNKNOWN_SEX, 2, np.where(u < UNKNOWN_SEX + (1 - UNKNOWN_SEX) * female[band], 0, 1)).astype(np.int8)
                # dates
                if kind == "spells":
                    day = np.where(method == 1, weekdays[rng.integers(0, len(weekdays), n)], epoch[rng.integers(0, len(epoch), n)])
                else:
                    day = epoch[rng.integers(0, len(epoch), n)]
                cols: dict[str, pa.Array] = {}
                key = (lsoa_idx.astype(np.uint64) << np.uint64(24)) | (label_idx.astype(np.uint64) << np.uint64(16)) | (sex.astype(np.uint64) << np.uint64(8)) | rng.integers(0, PATIENT_SLOTS, n).astype(np.uint64)
                cols["patient_id"] = pa.array((_mix64(key ^ np.uint64(seed)) >> np.uint64(1)).astype(np.int64))
                cols[id_col] = pa.array(np.arange(next_id + a, next_id + b, dtype=np.int64))
                cols["provider_code"] = pa.DictionaryArray.from_arrays(pa.array(cell_prov[cell].astype(np.int32)), prov_dict)
                cols["lsoa11_code"] = pa.DictionaryArray.from_arrays(pa.array(lsoa_idx), lsoa_dict)
                cols[date_col] = pa.array(day.astype(np.int32), pa.int32()).cast(pa.date32())
                if kind == "spells":
                    cols["admission_method"] = pa.DictionaryArray.from_arrays(pa.array(method.astype(np.int8)), method_dict)
                cols["age_band"] = pa.DictionaryArray.from_arrays(pa.array(label_idx.astype(np.int8)), label_dict)
                cols["sex"] = pa.DictionaryArray.from_arrays(pa.array(sex), sex_dict)
                if kind == "spells":
                    los = np.zeros(n, dtype=np.int64)
                    for m_i, m_name in enumerate(methods):
                        k = method == m_i
                        if not k.any():
                            continue
                        prm = LOS_PARAMS[m_name]
                        bk = band[k]
                        pos = rng.random(int(k.sum())) >= np.asarray(prm["p0"])[bk]
                        draw = rng.lognormal(np.log(np.asarray(prm["median"])[bk]), np.asarray(prm["sigma"])[bk])
                        los[k] = np.where(pos, 1 + np.floor(draw), 0).astype(np.int64)
                    los = np.minimum(los, MAX_LOS)
                    cols["length_of_stay"] = pa.array(los.astype(np.int32))
                if hrg:
                    if kind == "spells":
                        setting = np.where(method == 0, np.where(los <= 1, 0, 1), np.where(los == 0, 2, 3))
                        names = ("short_stay", "long_stay", "day_case", "elective_inpatient")
                    else:
                        setting = np.zeros(n, dtype=np.int64)
                        names = ("ae",)
                    hrg_idx = np.zeros(n, dtype=np.int32)
                    for s_i, s_name in enumerate(names):
                        k = setting == s_i
                        if k.any():
                            codes, cdf = hrg_tabs[s_name]
                            hrg_idx[k] = codes[np.minimum(np.searchsorted(cdf, rng.random(int(k.sum())), side="right"), len(cdf) - 1)]
                    cols["hrg_code"] = pa.DictionaryArray.from_arrays(pa.array(hrg_idx), hrg_dict)
                cols["synthetic"] = pa.array(np.ones(n, dtype=bool))
                table = pa.Table.from_arrays([cols[f.name] for f in fields], schema=schema)
                writer.write_table(table, row_group_size=row_group_rows)
        next_id += n_month
        files.append(path)

    seconds = round(time.perf_counter() - t_start, 2)
    manifest.write_text(json.dumps({"params": params, "params_key": _params_key(params), "n_records": n_total, "files": [f.name for f in files], "synthetic": True, "seconds": seconds}, indent=2, default=str))
    return GenerationResult(kind, out, files, n_total, counts.reset_index(drop=True), params, seconds=seconds)

