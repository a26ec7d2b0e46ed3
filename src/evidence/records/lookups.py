"""Geography lookups for records: LSOA (2011) -> 2021 footprint, and provider code -> 2021 footprint.

Decision: residence or provider (Context / Decision / Consequences)
    Context: the built-in A&E panel is by provider, the only geography the monthly return has; record-level data
    also carry the patient's LSOA of residence. Decision: ``geography="residence"`` (LSOA -> 2021 footprint through
    ``data/raw/reference/lookup_lsoa11_ccg21_stp21_ltla21.csv.gz``) is the default for records: it counts what
    happens to a footprint's population wherever they are treated, matches the population denominator, and is what
    direct standardisation needs. ``geography="provider"`` (trust -> footprint through
    :func:`evidence.data.ae.map_providers`, successor chains included) reproduces the A&E panel's definition for
    comparison. Consequences: residence panels are not comparable level-for-level with the provider-based A&E
    panel (cross-boundary flows, about 10% in the synthetic data); an effect on provider activity and an effect on
    residents' use of hospitals are different estimands and the notes say which one a panel holds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..data.ae import EXTRA_SUCCESSORS, TRUST_STP, TRUST_SUCCESSORS, map_providers
from ..errors import DataError
from ..paths import RAW, display

LSOA_LOOKUP: Path = RAW / "reference" / "lookup_lsoa11_ccg21_stp21_ltla21.csv.gz"
"""Every English LSOA (2011) -> 2021 CCG -> 2021 footprint -> 2021 LTLA (geographr; ONS, OGL v3)."""


@lru_cache(maxsize=1)
def _lsoa_lookup() -> pd.DataFrame:
    try:
        t = pd.read_csv(LSOA_LOOKUP, dtype=str)
    except FileNotFoundError:
        raise DataError(f"{display(LSOA_LOOKUP)} is missing; restore data/raw/reference from the repository.") from None
    for col in ("lsoa11_code", "stp21_code", "stp21_name"):
        if col not in t.columns:
            raise DataError(f"{display(LSOA_LOOKUP)}: column {col} is missing; restore the original file.")
    if t["lsoa11_code"].duplicated().any():
        raise DataError(f"{display(LSOA_LOOKUP)}: LSOA codes repeat; restore the original file.")
    return t.sort_values(["stp21_code", "lsoa11_code"], kind="stable").reset_index(drop=True)


def lsoa_lookup() -> pd.DataFrame:
    """The LSOA lookup sorted by footprint then LSOA (a copy; columns as in the file)."""
    return _lsoa_lookup().copy()


def footprint_names() -> pd.DataFrame:
    """The 42 footprints: ``stp21_code``, ``stp21_name``."""
    return _lsoa_lookup().drop_duplicates("stp21_code")[["stp21_code", "stp21_name"]].sort_values("stp21_code").reset_index(drop=True)


@lru_cache(maxsize=1)
def _provider_map() -> pd.DataFrame:
    trusts = pd.read_csv(TRUST_STP, dtype=str)
    succ = pd.read_csv(TRUST_SUCCESSORS, dtype=str)
    codes = pd.Series(pd.unique(pd.concat([trusts["nhs_trust22_code"], succ["old_code"], succ["new_code"], pd.Series(list(EXTRA_SUCCESSORS))]).dropna()))
    m = map_providers(codes)
    return m[m["stp21_code"].notna()].rename(columns={"org_code": "code", "stp21_code": "unit"})[["code", "unit", "route"]].reset_index(drop=True)


def geo_map(geography: str) -> pd.DataFrame:
    """Code -> unit table the engines join on.

    Parameters
    ----------
    geography
        ``residence``: every LSOA (2011) code -> its 2021 footprint. ``provider``: every provider code the trust
        lookups know (2022 trusts, and predecessors reaching exactly one 2021 footprint through successor chains)
        -> that footprint. Codes outside the table are *unknown* and reported.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``unit``.
    """
    if geography == "residence":
        t = _lsoa_lookup()
        return pd.DataFrame({"code": t["lsoa11_code"].to_numpy(), "unit": t["stp21_code"].to_numpy()})
    if geography == "provider":
        t = _provider_map()
        return pd.DataFrame({"code": t["code"].to_numpy(), "unit": t["unit"].to_numpy()})
    raise DataError(f"geography must be residence or provider, not {geography!r} (data.records.geography).")


def lookup_files(geography: str) -> list[Path]:
    """The reference files a geography reads (for checksums in the panel's provenance)."""
    return [LSOA_LOOKUP] if geography == "residence" else [TRUST_STP, TRUST_SUCCESSORS]
