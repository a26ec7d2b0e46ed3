"""Figures on the summary's scale and titled with their question (issue 17, item 4)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evidence import plots
from evidence.results import tidy_frame


class _ES:
    method = "twfe_event_study"
    reference = -1

    def __init__(self, outcome: str, est: list[float]):
        self.outcome = outcome
        self._est = np.array(est)

    def tidy(self) -> pd.DataFrame:
        e = self._est
        return tidy_frame(pd.DataFrame({"method": self.method, "outcome": self.outcome, "estimand": "event_time", "event_time": [-3, -2, 0, 1], "estimate": e, "ci_lower": e - 1.0, "ci_upper": e + 1.0}))


@pytest.fixture(autouse=True)
def _baselines():
    plots.set_report_baselines({"y": 200.0, "z": 0.0})
    yield
    plots.set_report_baselines({})
    plt.close("all")


def _points(ax):
    line = ax.containers[0].lines[0]
    return np.asarray(line.get_ydata(), dtype=float)


def test_event_study_in_percent_of_the_pre_designation_level():
    ax = plots.plot_event_study(_ES("y", [2.0, -2.0, 10.0, 20.0]))
    got = _points(ax)
    np.testing.assert_allclose(got[~np.isnan(got)], [1.0, -1.0, 0.0, 5.0, 10.0])  # 100 x b / 200, reference 0 added
    assert ax.get_ylabel() == plots.PCT_LABEL


def test_log_event_study_as_percent_change_and_no_baseline_keeps_units():
    ax = plots.plot_event_study(_ES("y_log", [0.1, 0.0, -0.2, 0.05]))
    got = _points(ax)
    np.testing.assert_allclose(np.sort(got), np.sort(100 * np.expm1([0.1, 0.0, 0.0, -0.2, 0.05])))
    assert ax.get_ylabel().endswith("(log model)")
    ax = plots.plot_event_study(_ES("z", [1.0, 2.0, 3.0, 4.0]))  # baseline 0: no % scale
    assert "outcome units" in ax.get_ylabel() and 4.0 in _points(ax)


def test_results_grid_titles_ask_the_question():
    class WildBootstrapResult:
        outcome = "attendances_log"

        def plot(self, ax):
            ax.set_title("WCR wild bootstrap, attendances_log: p = 0.210")

    fig = plots.results_grid([WildBootstrapResult()])
    title = fig.axes[0].get_title().replace("\n", " ")
    assert title.startswith("Does the effect on attendances (log scale) hold with few treated clusters?")
    assert title.endswith("p = 0.210")


def test_power_curve_effect_axis_in_percent():
    class PowerResult:
        outcome = "y"
        outcome_label = "y"

        def __init__(self, family):
            self.family = family

        def plot(self, ax):
            ax.plot([1.0, 1.05, 1.1] if self.family == "count" else [0.0, 2.0, 4.0], [0.05, 0.5, 0.9])
            ax.set_title("Power: y (100 replicates)")

    fig = plots.results_grid([PowerResult("count"), PowerResult("gaussian")], ncols=2)
    a, b = fig.axes[:2]
    assert a.get_xlabel() == "true effect, % change (rate ratio − 1)"
    assert a.xaxis.get_major_formatter()(1.05, 0) == "+5%"
    assert b.get_xlabel() == "true effect, % of the treated areas' pre-designation level"
    assert b.xaxis.get_major_formatter()(4.0, 0) == "+2.0%"  # 100 x 4 / 200
    assert a.get_title().startswith("How large an effect on y could this design detect?")
