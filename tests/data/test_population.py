"""Monthly denominators: interpolation to mid-2020, one basis carried forward after it, registered patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evidence.data.population import GP_PAYMENTS, POPULATION, carry_forward, extrapolation_summary, monthly_population, monthly_registered

MONTHS = pd.period_range("2016-04", "2026-02", freq="M")


@pytest.fixture(scope="module")
def pop():
    return monthly_population(MONTHS).pivot(index="stp21_code", columns="period", values="population")


def test_mid_years_are_reproduced_and_england_sums(pop):
    raw = pd.read_csv(POPULATION)
    for year in (2017, 2019):
        # the June month's midpoint lies half a month before 30 June
        got = pop[pd.Period(f"{year}-06", "M")]
        want = raw[raw["year"] == year].set_index("stp21_code")["population"].reindex(got.index)
        np.testing.assert_allclose(got, want, rtol=2e-3)


def test_no_step_at_mid_2020_and_england_keeps_its_2016_2020_trend(pop):
    eng = pop.sum()
    steps = eng.diff().dropna()
    around = steps.loc[pd.Period("2020-01", "M"):pd.Period("2020-12", "M")]
    assert around.max() / around.min() < 1.6  # monthly growth stays of one size across the switch
    raw = pd.read_csv(POPULATION).groupby("year")["population"].sum()
    slope = np.polyfit(raw.index.to_numpy(float), raw.to_numpy(float), 1)[0]
    later = eng[pd.Period("2025-06", "M")] - eng[pd.Period("2021-06", "M")]
    assert later / 4 == pytest.approx(slope, rel=1e-6)  # England grows on its 2016-2020 least-squares trend
    shares = pop.div(eng, axis=1)
    np.testing.assert_allclose(shares.sum(), 1.0)


def test_extrapolation_summary_states_the_size_of_the_assumption():
    ex = extrapolation_summary(MONTHS)
    assert ex["months_extrapolated"] == 68 and ex["last_month"] == "2026-02"
    assert ex["england_mid2020"] == 56_550_138
    assert 2.5 < ex["growth_pct"] < 4.0  # about 58.4 million by February 2026
    assert 0 < ex["max_share_change_pct"] < 10
    assert extrapolation_summary(pd.period_range("2016-04", "2019-03", freq="M"))["months_extrapolated"] == 0


def test_registered_patients_are_the_financial_year_lists_at_1_october():
    reg = monthly_registered(pd.period_range("2016-04", "2026-02", freq="M")).pivot(index="stp21_code", columns="period", values="registered_patients")
    raw = pd.read_csv(GP_PAYMENTS)
    want = raw[raw["fin_year"] == "2018/19"].set_index("stp21_code")["registered_patients"].reindex(reg.index)
    # October 2018's midpoint is half a month after 1 October: between the 2018/19 and 2019/20 lists
    got = reg[pd.Period("2018-09", "M")] * 0.5 + reg[pd.Period("2018-10", "M")] * 0.5
    np.testing.assert_allclose(got, want, rtol=5e-3)
    assert reg.notna().all().all() and (reg > 0).all().all()


def test_carry_forward_on_a_toy_table():
    wide = pd.DataFrame([[10.0, 12.0, 14.0], [30.0, 30.0, 30.0]], index=["a", "b"])
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    out = carry_forward(wide, np.array([0.0, 1.0, 2.0]), x)
    np.testing.assert_allclose(out[:, :3], wide.to_numpy())
    total = out.sum(axis=0)
    np.testing.assert_allclose(total[3:], [46.0, 48.0])  # total trend +2 per step from 44
    share_a = wide.iloc[0] / wide.sum()
    slope = np.polyfit([0, 1, 2], share_a.to_numpy(), 1)[0]
    assert out[0, 3] / total[3] == pytest.approx(share_a.iloc[-1] + slope)
