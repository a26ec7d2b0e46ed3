"""Age standardisation: direct (age-specific counts available) and indirect (only totals available).

Direct standardisation
    The rate an area would have with a standard population's age structure:
    ``DSR = sum_a w_a * (d_a / n_a)`` with ``w_a`` the standard population weights (European Standard Population
    2013 by default, ``data/raw/population/esp2013_broad_bands.csv``), ``d_a`` and ``n_a`` the area's events and
    population in age band ``a``. Needs counts by age — available from record-level data (``evidence`` record
    pipeline) but not in the provider-level A&E return.
Indirect standardisation
    Observed events against those expected if the area had reference age-specific rates:
    ``expected = sum_a r_a * n_a``, ``SMR = observed / expected`` (an index, 1 = as expected for the age mix).
    Needs only the area's total events and its population by age, plus reference rates ``r_a`` — which the user
    supplies (``data.reference_rates``: age band, rate per person-period), since no national age-specific A&E rates
    ship with the project.

Both work on arrays over areas and periods (vectorised; the age band is the last axis).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .paths import RAW, display

ESP_BANDS: Path = RAW / "population" / "esp2013_broad_bands.csv"
BANDS: tuple[str, ...] = ("pop_0_17", "pop_18_64", "pop_65_74", "pop_75_plus")


def esp_weights() -> pd.Series:
    """European Standard Population 2013 weights for the four broad bands (sum to 1)."""
    t = pd.read_csv(ESP_BANDS)
    w = t.set_index("band")["esp2013_weight"].astype(float)
    return w / w.sum()


def direct_standardised_rate(events: np.ndarray, population: np.ndarray, weights: np.ndarray, per: float = 1000.0) -> np.ndarray:
    """Directly standardised rate per ``per`` people: ``per * sum_a w_a d_a / n_a`` over the last axis.

    Parameters
    ----------
    events, population
        Arrays (..., bands) of events and population by age band.
    weights
        Standard population weights by band (normalised to sum to one).
    """
    events = np.asarray(events, float)
    population = np.asarray(population, float)
    w = np.asarray(weights, float)
    if events.shape != population.shape or events.shape[-1] != w.size:
        raise DataError(f"direct standardisation: events {events.shape}, population {population.shape} and {w.size} weights do not line up by age band.")
    if (population <= 0).any():
        raise DataError("direct standardisation: a population by age band is zero or negative; rates need positive populations.")
    return per * (events / population) @ (w / w.sum())


def indirect_standardisation(observed: np.ndarray, population: np.ndarray, reference_rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected events and the standardised ratio (observed / expected) with reference age-specific rates.

    Parameters
    ----------
    observed
        Total events (...).
    population
        Population by age band (..., bands).
    reference_rates
        Reference events per person-period by band (bands,).
    """
    population = np.asarray(population, float)
    r = np.asarray(reference_rates, float)
    if population.shape[-1] != r.size:
        raise DataError(f"indirect standardisation: {population.shape[-1]} population bands but {r.size} reference rates.")
    if (r < 0).any():
        raise DataError("indirect standardisation: reference rates cannot be negative.")
    expected = population @ r
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(observed, float) / expected
    return expected, ratio


def read_reference_rates(path: str | Path, bands: tuple[str, ...] = BANDS) -> np.ndarray:
    """Reference rates per person-period by band from a CSV with columns ``band, rate`` (``data.reference_rates``)."""
    path = Path(path)
    try:
        t = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise DataError(f"{display(path)} cannot be read as CSV (data.reference_rates); give columns band, rate.") from None
    for col in ("band", "rate"):
        if col not in t.columns:
            raise DataError(f"{display(path)}: column {col} is missing (data.reference_rates); give columns band, rate.")
    missing = [b for b in bands if b not in set(t["band"])]
    if missing:
        raise DataError(f"{display(path)}: no rate for age band {missing[0]} (data.reference_rates); give one row for each of {', '.join(bands)}.")
    rates = pd.to_numeric(t.set_index("band").loc[list(bands), "rate"], errors="coerce")
    if rates.isna().any() or (rates < 0).any():
        raise DataError(f"{display(path)}: column rate must be non-negative numbers (data.reference_rates).")
    return rates.to_numpy(float)
