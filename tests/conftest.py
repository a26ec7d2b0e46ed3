"""Shared fixtures."""

from __future__ import annotations

import pytest

from simdata import design_of, simulate_panel


@pytest.fixture
def simulated():
    return simulate_panel


@pytest.fixture
def make_design():
    return design_of
