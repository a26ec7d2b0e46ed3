"""Direct and indirect age standardisation against hand-computed textbook values."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.errors import DataError
from evidence.standardise import direct_standardised_rate, esp_weights, indirect_standardisation, read_reference_rates


def test_esp_weights_are_the_broad_bands_of_esp2013():
    w = esp_weights()
    assert list(w.index) == ["pop_0_17", "pop_18_64", "pop_65_74", "pop_75_plus"]
    assert w.sum() == pytest.approx(1.0)
    assert w["pop_18_64"] == pytest.approx(61200 / 100000, abs=1e-9)


def test_direct_rate_by_hand():
    events = np.array([[10, 40, 30, 60]])
    pop = np.array([[2000, 6000, 1000, 500]])
    w = np.array([0.2, 0.6, 0.1, 0.1])
    expected = 1000 * (0.2 * 10 / 2000 + 0.6 * 40 / 6000 + 0.1 * 30 / 1000 + 0.1 * 60 / 500)
    assert direct_standardised_rate(events, pop, w)[0] == pytest.approx(expected)
    # two areas with the same age-specific rates but different age mixes have the same standardised rate
    older = np.array([[5, 30, 60, 120]]), np.array([[1000, 4500, 2000, 1000]])
    assert direct_standardised_rate(*older, w)[0] == pytest.approx(expected)


def test_indirect_by_hand():
    pop = np.array([[2000, 6000, 1000, 500], [1000, 4500, 2000, 1000]])
    rates = np.array([0.005, 0.0067, 0.03, 0.12])
    expected, ratio = indirect_standardisation(np.array([200, 250]), pop, rates)
    np.testing.assert_allclose(expected, [2000 * 0.005 + 6000 * 0.0067 + 30 + 60, 5 + 4500 * 0.0067 + 60 + 120])
    np.testing.assert_allclose(ratio, np.array([200, 250]) / expected)


def test_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="do not line up"):
        direct_standardised_rate(np.ones((2, 3)), np.ones((2, 4)), np.ones(4))
    with pytest.raises(DataError, match="zero or negative"):
        direct_standardised_rate(np.ones((1, 4)), np.zeros((1, 4)), np.ones(4))
    f = tmp_path / "r.csv"
    f.write_text("band,rate\npop_0_17,0.1\npop_18_64,0.1\npop_65_74,0.2\n")
    with pytest.raises(DataError, match="no rate for age band pop_75_plus"):
        read_reference_rates(f)
