"""Synthetic area x period panels with known effects — SYNTHETIC DATA, for power analysis and method validation.

Everything this module produces is labelled synthetic: :class:`SimulatedPanels` has ``synthetic = True`` and
``source = "synthetic"``; the panels and designs it returns have ``panel.source == "synthetic"``,
``panel.extras["synthetic"] = True`` and ``panel.data.attrs["synthetic"] = True``; every DataFrame it returns has
``attrs["synthetic"] = True``. No simulated number should ever be read as NHS data.

The model
---------
Each outcome is generated on a latent scale ``z`` — the log rate per head of population for counts; the outcome
itself for continuous outcomes and for proportions/percentages (``link="identity"``, the default: parallel trends
then hold on the scale the estimators use), or the logit of the proportion (``link="logit"``: bounded, but
parallel in logits is not parallel in percentage points when areas differ in level)::

    z_it = A_i + gamma * tau_t + s_m(t) + p_t + b_i * (tau_t - tau_c) + covid_it + k_i * (u_it + e_it)

``A_i``        area level (per-area baselines, plus random area effects with sd ``unit_sd``);
``gamma``      common secular trend per year (``trend``; per period for integer time);
``s_m``        seasonality: one value per calendar month (or quarter), summing to zero (``seasonality``);
``p_t``        common period shocks, sd ``period_sd`` (bad winters);
``b_i``        area-specific trends per year, sd ``unit_trend_sd``, centred on the middle of the window;
``covid_it``   a COVID-19 shock from March 2020: a drop and a partial recovery (``covid_shock``), scaled per area;
``u_it``       serially correlated area-period noise: stationary AR(1) with sd ``noise_sd`` and autocorrelation ``rho``;
``e_it``       serially uncorrelated noise, sd ``iid_sd`` (continuous and proportion outcomes);
``k_i``        how noisy each area is relative to the others (``noise_scale``, mean square 1; 1 by default).

Counts: ``mu0_it = exposure_it * exp(z_it)`` with the population as exposure; the observed count is negative
binomial — Poisson with a gamma-distributed rate multiplier of mean 1 and variance ``overdispersion`` (``phi``), so
``Var = mu + phi mu^2``. Treated cells have mean ``mu0_it * RR_it`` (``effect`` is a rate ratio). Proportions:
``y0 = clip(z, 0, scale)`` (identity link) or ``scale * expit(z)`` (logit link), ``scale`` 100 for percentages;
treated ``y1 = clip(y0 + delta, 0, scale)`` (clipping is reported in the notes). Continuous: ``y1 = y0 + delta``. The truth is the unit-period effect ``y1 - y0`` on the expected outcome given the latent state
(``mu0 (RR - 1)`` for counts), with the true ATT its mean over treated unit-periods.

Effects (``effect=``)
    a number (constant; a rate ratio for counts, additive in outcome units otherwise), a dict by cohort label
    (``"2017-07"``) or ICS wave number (``1``), a 1-D sequence (a path by event time 0, 1, ...; the last value
    carries on), a callable ``f(event_time)`` or ``f(event_time, cohort_label)``, a units x periods array, or an
    :class:`EffectSpec` (sizes by cohort with a linear phase-in). :func:`heterogeneous_dynamic` builds the effect
    used to validate staggered estimators.

Calibration
    :func:`calibrate` estimates the area levels, trend, seasonality, period shocks, area-trend spread, AR(1) noise,
    overdispersion and per-area noise scales from the untreated cells of a real panel (pre-periods of treated areas
    and all periods of comparison areas; outlying cells winsorised), so that power is computed on the actual design
    with noise like the real data's. ``bench/results/power.md`` checks it with placebo cohorts among the real
    comparison footprints: the simulated spread of each estimator matches the real spread to within about 25%.

Designs
    Any :class:`~evidence.design.Design` (for example the real default design from :func:`evidence.pipeline.prepare`)
    or :func:`synthetic_design`: the 42 ICS footprints with their ONS populations and staggered waves from the
    real designation table over any window (e.g. 2016-04 to 2022-03 so that waves 1-6 fall inside), or a generic
    design with chosen cohort sizes.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.special import expit, logit

from .design import Design, design_from_cohort_column, design_from_designations
from .errors import DataError
from .panel import Panel, validate_panel
from .periods import FREQ_CODES, labels as period_labels_of

FAMILIES: tuple[str, ...] = ("count", "continuous", "proportion")
SOURCE = "synthetic"
COVID_START = "2020-03"
PER_YEAR: dict[str, float] = {"month": 12.0, "quarter": 4.0, "year": 1.0, "fy": 1.0, "integer": 1.0}
SEASONS: dict[str, int] = {"month": 12, "quarter": 4}
_DAYS = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _default_seasonality(family: str, frequency: str, link: str = "log", scale: float = 1.0) -> np.ndarray:
    """A&E-like seasonal profiles on the latent scale (calendar month 1..12, or quarter 1..4), summing to zero."""
    P = SEASONS.get(frequency, 0)
    if P == 0:
        return np.zeros(0)
    k = np.arange(1, P + 1)
    peak = 6 if P == 12 else 2  # summer peak (June / Q2) for activity, winter trough for performance
    wave = np.cos(2 * np.pi * (k - peak) / P)
    if family == "count":
        s = 0.04 * wave
        if P == 12:
            s = s + np.log(_DAYS / _DAYS.mean())  # days in the month
    elif family == "proportion":  # on the logit scale; times 0.1 x scale on the outcome scale (identity link)
        s = 0.3 * np.cos(2 * np.pi * (k - (7 if P == 12 else 3)) / P)
    else:
        s = 0.5 * wave
    if family == "proportion" and link == "identity":
        s = s * 0.1 * scale
    return s - s.mean()


# default parameters per family (monthly data; latent scale: log for counts, logit for proportions)
DEFAULTS: dict[str, dict[str, float]] = {
    "count": dict(unit_sd=0.2, trend=0.02, unit_trend_sd=0.03, period_sd=0.02, noise_sd=0.03, rho=0.6, overdispersion=0.0005, iid_sd=0.0),
    # proportions: logit link (latent logit) and identity link (outcome scale, in units of `scale`)
    "proportion": dict(unit_sd=0.3, trend=-0.1, unit_trend_sd=0.1, period_sd=0.1, noise_sd=0.15, rho=0.6, overdispersion=0.0, iid_sd=0.05),
    "proportion_identity": dict(unit_sd=0.05, trend=-0.01, unit_trend_sd=0.01, period_sd=0.01, noise_sd=0.02, rho=0.6, overdispersion=0.0, iid_sd=0.005),
    "continuous": dict(unit_sd=1.0, trend=0.0, unit_trend_sd=0.2, period_sd=0.2, noise_sd=1.0, rho=0.6, overdispersion=0.0, iid_sd=0.5),
}
COVID_DEFAULT: dict[str, Any] = dict(start=COVID_START, drop=None, recovery=0.8, halflife=3.0, first_month=0.5, unit_sd=0.1)
COVID_DROP: dict[str, float] = {"count": 0.5, "proportion": 0.5, "proportion_identity": 0.05, "continuous": 2.0}
LINKS: dict[str, tuple[str, ...]] = {"count": ("log",), "continuous": ("identity",), "proportion": ("identity", "logit")}


def _err(message: str) -> DataError:
    return DataError(message)


def family_of_kind(kind: str) -> tuple[str, float]:
    """Simulation family and scale of a panel outcome kind (``percent`` -> proportion on 0-100)."""
    return {"count": ("count", 1.0), "percent": ("proportion", 100.0), "proportion": ("proportion", 1.0), "continuous": ("continuous", 1.0)}.get(kind, ("continuous", 1.0))


def _kind_of(family: str, scale: float) -> str:
    if family == "count":
        return "count"
    if family == "proportion":
        return "percent" if scale == 100 else "proportion"
    return "continuous"


def _check_family(family: Any) -> str:
    if family not in FAMILIES:
        raise _err(f"simulate: family={family!r} is not recognised; use 'count', 'continuous' or 'proportion'.")
    return str(family)


def _check_number(name: str, value: Any, *, minimum: float | None = 0.0, maximum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise _err(f"simulate: {name}={value!r} must be a finite number.")
    v = float(value)
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        raise _err(f"simulate: {name}={value!r} must be {'greater than' if strict else 'at least'} {minimum:g}.")
    if maximum is not None and v > maximum:
        raise _err(f"simulate: {name}={value!r} must be at most {maximum:g}.")
    return v


def _check_reps(reps: Any, where: str = "simulate") -> int:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise _err(f"{where}: reps={reps!r} must be a whole number of replicates, at least 1.")
    return int(reps)


def _check_seed(seed: Any, where: str = "simulate") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise _err(f"{where}: seed={seed!r} must be a non-negative whole number.")
    return int(seed)


# ---------------------------------------------------------------------------------------------------------------
# time axis
def _time_axis(panel: Panel) -> dict[str, Any]:
    """Ordinals, years-since-origin scale, season index and COVID month mapping of a panel's periods."""
    freq = panel.frequency
    periods = panel.periods
    if freq == "integer":
        ords = np.asarray(periods, dtype=float)
        season = np.zeros(len(ords), dtype=int)
        months = None
    else:
        ords = np.asarray([p.ordinal for p in periods], dtype=float)
        if freq == "month":
            season = np.asarray([p.month - 1 for p in periods], dtype=int)
        elif freq == "quarter":
            season = np.asarray([p.quarter - 1 for p in periods], dtype=int)
        else:
            season = np.zeros(len(ords), dtype=int)
        # the calendar months each period covers (first and last month ordinals; for the COVID shock)
        pidx = pd.PeriodIndex(list(periods))
        months = (np.asarray(pidx.asfreq("M", how="start").asi8), np.asarray(pidx.asfreq("M", how="end").asi8))
    return {"frequency": freq, "ordinals": ords, "season": season, "months": months, "per_year": PER_YEAR[freq]}


# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Calibration:
    """Parameters of the latent model estimated from the untreated cells of a real panel (see :func:`calibrate`).

    Attributes
    ----------
    outcome, kind, family, scale, link
        The outcome, its panel kind, the simulation family, the outcome scale (100 for percentages) and the link
        of the latent scale (``log`` for counts, ``identity`` or ``logit`` for proportions).
    units
        Unit identifiers, in the order of ``intercept`` and ``population0``.
    intercept
        Area levels ``A_i`` on the latent scale at the origin period (log rate per head for counts).
    population0
        Population of each unit in the origin period (counts with a population column), else ``None``.
    frequency, origin, origin_ordinal
        Time frequency and the first period of the calibration panel (the origin of the trend).
    trend, seasonality, period_sd, unit_trend_sd, noise_sd, rho, overdispersion, iid_sd
        The model parameters (see the module docstring); ``overdispersion`` for counts, ``iid_sd`` otherwise;
        scales as the latent scale (log, or outcome units; trends per year, or per period for integer time).
    unit_sd
        Spread (sd) of the area levels ``A_i`` — used for units that are not in the calibration panel.
    noise_scale
        Per-area multiplier of the noise (mean square 1): how noisy each area is relative to the others, from the
        mean squared first differences of its residuals, shrunk towards 1.
    n_cells, n_units, n_periods
        Untreated unit-periods, units and periods the calibration used.
    notes
        What the calibration did (cells used, corrections, anything it could not estimate).
    """

    outcome: str
    kind: str
    family: str
    scale: float
    units: np.ndarray
    intercept: np.ndarray
    population0: np.ndarray | None
    frequency: str
    origin: str
    origin_ordinal: float
    trend: float
    seasonality: np.ndarray
    period_sd: float
    unit_trend_sd: float
    noise_sd: float
    rho: float
    overdispersion: float
    iid_sd: float
    unit_sd: float
    n_cells: int
    n_units: int
    n_periods: int
    notes: list[str] = field(default_factory=list)
    link: str = "log"
    noise_scale: np.ndarray | None = None

    def table(self) -> pd.DataFrame:
        """The scalar parameters as a two-column table (parameter, value)."""
        rows = [
            ("outcome", self.outcome), ("family", self.family), ("scale", self.scale),
            ("latent scale", "log rate per head" if self.family == "count" else ("logit" if self.link == "logit" else "outcome units")),
            ("trend (per year)", self.trend), ("seasonal range", float(np.ptp(self.seasonality)) if self.seasonality.size else 0.0),
            ("period_sd", self.period_sd), ("unit_sd (area levels)", self.unit_sd), ("unit_trend_sd (per year)", self.unit_trend_sd),
            ("noise_sd (AR(1))", self.noise_sd), ("rho", self.rho),
            ("noise_scale range (per area)", f"{np.min(self.noise_scale):.2f}-{np.max(self.noise_scale):.2f}" if self.noise_scale is not None else "1"),
            ("overdispersion" if self.family == "count" else "iid_sd", self.overdispersion if self.family == "count" else self.iid_sd),
            ("untreated cells used", self.n_cells),
        ]
        df = pd.DataFrame(rows, columns=["parameter", "value"])
        df.attrs["synthetic"] = False
        return df

    def as_kwargs(self) -> dict[str, Any]:
        """The scalar model parameters as keyword arguments of :func:`simulate`."""
        out = dict(trend=self.trend, seasonality=self.seasonality.copy(), period_sd=self.period_sd, unit_trend_sd=self.unit_trend_sd, noise_sd=self.noise_sd, rho=self.rho)
        if self.family == "count":
            out["overdispersion"] = self.overdispersion
        else:
            out["iid_sd"] = self.iid_sd
        return out

    def __repr__(self) -> str:
        return f"<Calibration {self.outcome} ({self.family}): trend {self.trend:.4g}/yr, noise_sd {self.noise_sd:.3g}, rho {self.rho:.2f}, " + (
            f"overdispersion {self.overdispersion:.3g}>" if self.family == "count" else f"iid_sd {self.iid_sd:.3g}>"
        )


def _latent(y: np.ndarray, family: str, scale: float, exposure: np.ndarray | None, link: str) -> np.ndarray:
    if family == "count":
        base = np.maximum(y, 0.5)
        return np.log(base / exposure) if exposure is not None else np.log(base)
    if family == "proportion" and link == "logit":
        p = np.clip(y / scale, 1e-4, 1 - 1e-4)
        return logit(p)
    return y.astype(float)


def _ar1_corr(rho: float, L: int) -> np.ndarray:
    k = np.arange(L)
    return rho ** np.abs(k[:, None] - k[None, :])


def _check_link(link: Any, family: str, where: str) -> str:
    if link is None:
        return LINKS[family][0]
    if link not in LINKS[family]:
        raise _err(f"{where}: link={link!r} does not apply to {family} outcomes; use {' or '.join(repr(v) for v in LINKS[family])}.")
    return str(link)


def calibrate(design: Design, outcome: str, *, cells: str = "untreated", exclude_covid: bool = True, link: str | None = None, robust: bool = True) -> Calibration:
    """Estimate the simulation model's parameters from a real panel's untreated cells.

    Steps (all on the latent scale: log rate per head for counts; for proportions/percentages the outcome scale
    with ``link="identity"`` (default) or the logit with ``link="logit"``):

    1. a least-squares fit of area levels, area-specific linear trends and period effects on the untreated cells
       (``cells="untreated"``: pre-treatment periods of treated areas and every period of comparison areas;
       ``"pre"``: only periods before the first cohort is treated); with ``exclude_covid`` periods from March 2020
       are left out;
    2. the period effects are split into a common linear trend, seasonality (calendar month or quarter) and period
       shocks (``period_sd`` = residual sd);
    3. the residuals after area levels and period effects give the spread of area trends and the noise: a
       covariance model ``s_b^2 d d' + s_u^2 R(rho) + s_e^2 I`` (area trends, AR(1) noise, white noise; ``d`` time in
       years) fitted to the average within-area residual covariance, accounting for the area means removed (method of
       moments by non-negative least squares over a grid of ``rho``); for counts the white-noise variance minus
       the Poisson part ``1/mu`` is the negative binomial overdispersion.

    Parameters
    ----------
    design
        A design over a real panel (e.g. from :func:`evidence.pipeline.prepare`).
    outcome
        Outcome column.
    cells
        ``untreated`` (default) or ``pre``.
    exclude_covid
        Leave out periods from March 2020 on (the simulator adds its own COVID shock).
    robust
        Winsorise unit-periods whose residual exceeds 4 robust (MAD) standard deviations, then refit (default): one
        data glitch otherwise inflates the noise of every simulated area.
    link
        Proportions only: ``identity`` (default; parallel trends then hold on the outcome scale the estimators
        use) or ``logit`` (bounded latent scale; with treated and comparison areas at different levels, parallel
        trends on the logit scale are not parallel in percentage points).

    Returns
    -------
    Calibration
    """
    panel = design.panel
    if outcome not in panel.outcomes:
        raise _err(f"calibrate: outcome={outcome!r} is not in the panel; choose from {', '.join(panel.outcomes)}.")
    if cells not in ("untreated", "pre"):
        raise _err(f"calibrate: cells={cells!r} is not recognised; use 'untreated' or 'pre'.")
    kind = panel.outcome_kinds.get(outcome, "count")
    family, scale = family_of_kind(kind)
    link = _check_link(link, family, "calibrate")
    y = panel.matrix(outcome)
    N, T = y.shape
    ax = _time_axis(panel)
    notes: list[str] = []
    pop = panel.matrix("population") if (family == "count" and panel.has_population) else None
    z = _latent(y, family, scale, pop, link)
    t = np.arange(T)
    U = t[None, :] < design.g[:, None]
    if cells == "pre":
        first = np.min(design.g[np.isfinite(design.g)]) if design.treated.any() else T
        U &= t[None, :] < first
    if exclude_covid and ax["frequency"] != "integer":
        start = pd.Period(COVID_START, "M")
        late = ax["months"][1] >= start.ordinal
        if late.any():
            notes.append(f"Periods from {COVID_START} on ({int(late.sum())}) were left out (exclude_covid).")
        U &= ~late[None, :]
    if family == "count" and (y[U] <= 0).any():
        notes.append("Zero counts were set to 0.5 before taking logs.")
    tau = (ax["ordinals"] - ax["ordinals"][0]) / ax["per_year"]
    n_i = U.sum(axis=1)
    use_t = U.any(axis=0)
    if use_t.sum() < 3:
        raise _err(f"calibrate: only {int(use_t.sum())} period(s) have untreated cells; the calibration needs at least 3.")
    # ---- 1. levels, area trends, period effects (least squares on the untreated cells) ---------------------
    # the unit parameters are concentrated out: for each pattern of untreated cells, M projects off a level and a
    # trend; the period effects solve sum_i S_i' M_i S_i lam = sum_i S_i' M_i z_i (a T x T system, pseudo-inverse)
    tbar = np.divide((U * tau).sum(1), n_i, out=np.zeros(N), where=n_i > 0)
    has_trend = n_i >= 3
    tcols = np.flatnonzero(use_t)
    patterns, pat_of = np.unique(U, axis=0, return_inverse=True)
    pat_of = np.asarray(pat_of).ravel()
    proj = []
    for k, pat in enumerate(patterns):
        idx = np.flatnonzero(pat)
        if idx.size == 0:
            continue
        tk = tau[idx]
        Xk = np.column_stack([np.ones(idx.size), tk - tk.mean()]) if idx.size >= 3 else np.ones((idx.size, 1))
        proj.append((idx, np.flatnonzero(pat_of == k), np.eye(idx.size) - Xk @ np.linalg.pinv(Xk)))
    dt = np.where(U, tau[None, :] - tbar[:, None], 0.0)
    sxx = (dt**2).sum(1)

    def fit(zz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        Amat = np.zeros((T, T))
        rhs = np.zeros(T)
        for idx, members, Mk in proj:
            Amat[np.ix_(idx, idx)] += members.size * Mk
            rhs[idx] += Mk @ zz[np.ix_(members, idx)].sum(axis=0)
        lam_ = np.full(T, np.nan)
        lam_[tcols] = np.linalg.pinv(Amat[np.ix_(tcols, tcols)]) @ rhs[tcols]
        r0 = np.where(U, zz - np.nan_to_num(lam_), 0.0)
        a_ = np.divide(r0.sum(1), n_i, out=np.zeros(N), where=n_i > 0)
        b_ = np.where(has_trend & (sxx > 0), np.divide((dt * r0).sum(1), sxx, out=np.zeros(N), where=sxx > 0), 0.0)
        return lam_, a_, b_, np.where(U, r0 - a_[:, None] - b_[:, None] * dt, 0.0)

    lam, a, b, resid = fit(z)
    if robust:
        # winsorise outlying cells (data glitches such as a month with a provider missing) at 4 robust sds and refit
        scale_r = 1.4826 * np.median(np.abs(resid[U]))
        out = U & (np.abs(resid) > 4 * scale_r)
        if out.any() and scale_r > 0:
            z = np.where(out, z - resid + np.clip(resid, -4 * scale_r, 4 * scale_r), z)
            lam, a, b, resid = fit(z)
            cells_txt = ", ".join(f"{panel.units[i]} {panel.period_labels[j]}" for i, j in list(zip(*np.nonzero(out)))[:4])
            notes.append(f"Winsorised {int(out.sum())} outlying unit-period(s) at 4 robust sds before estimating the noise ({cells_txt}{' ...' if out.sum() > 4 else ''}).")
    # normalise: mean area trend into the period effects (b_i (tau - tbar_i) = (b_i - bm)(tau - tbar_i) + bm tau - bm tbar_i)
    bm = b[has_trend].mean() if has_trend.any() else 0.0
    b[has_trend] -= bm
    lam[tcols] += bm * tau[tcols]
    a[has_trend] -= bm * tbar[has_trend]
    # ---- 2. period effects -> trend, seasonality, shocks ----------------------------------------------------
    P = SEASONS.get(ax["frequency"], 0)
    lt, tt, st = lam[tcols], tau[tcols], ax["season"][tcols]
    seasonality = np.zeros(P)
    if P and tcols.size >= P + 3 and np.unique(st).size == P:
        D = np.zeros((tcols.size, P))
        D[np.arange(tcols.size), st] = 1.0
        Xs = np.column_stack([tt, D])
        cs_ = np.linalg.lstsq(Xs, lt, rcond=None)[0]
        gamma = float(cs_[0])
        c0 = float(cs_[1:].mean())
        seasonality = cs_[1:] - c0
        shocks = lt - Xs @ cs_
        dof = tcols.size - P - 1
    else:
        if P:
            notes.append(f"Seasonality not estimated: {tcols.size} usable periods do not cover every {'month' if P == 12 else 'quarter'} with enough left over; set to zero.")
        Xs = np.column_stack([np.ones_like(tt), tt])
        cs_ = np.linalg.lstsq(Xs, lt, rcond=None)[0]
        c0, gamma = float(cs_[0]), float(cs_[1])
        shocks = lt - Xs @ cs_
        dof = tcols.size - 2
    period_sd = float(np.sqrt((shocks**2).sum() / dof)) if dof > 0 else 0.0
    intercept = a + c0
    # ---- 3. area trends and noise: one covariance model fitted to the within-area residual covariance ----------
    # residuals after area levels and period effects (area trends kept): r_i = M0 (b_i d + u_i + e_i), with M0 the
    # within-area demeaning, d the time in years, u AR(1) and e white noise. For the units sharing the same run of
    # untreated periods (a prefix 0..L-1 of the window) the average r r' estimates
    #     M0 (s_b^2 d d' + s_u^2 R(rho) + s_e^2 I) M0,
    # fitted by non-negative least squares over a grid of rho (method of moments on the whole covariance, so the
    # slope spread and the persistence of the noise are pinned down together).
    rfull = np.where(U, resid + b[:, None] * dt, 0.0)
    prefix = np.array([bool(U[i, : n_i[i]].all()) for i in range(N)])
    lengths = np.where(prefix & (n_i >= 4), n_i, 0)
    groups = {int(L): np.flatnonzero(lengths == L) for L in np.unique(lengths[lengths > 0])}
    n_per_t = U.sum(axis=0)
    corr = float(np.mean(n_per_t[use_t]) / max(np.mean(n_per_t[use_t]) - 1, 1))  # period effects use up one unit per period
    pieces = []
    for L, idx in groups.items():
        R = rfull[idx, :L]
        C = R.T @ R / idx.size * corr
        M0 = np.eye(L) - 1.0 / L
        d = tau[:L] - tau[:L].mean()
        pieces.append((math.sqrt(idx.size), C, M0, np.outer(d, d), L))
    if not pieces:
        raise _err("calibrate: no unit has 4 or more consecutive untreated periods; the noise cannot be estimated.")
    grid = np.round(np.arange(0.0, 0.981, 0.01), 2)
    target = np.concatenate([w * C.ravel() for w, C, _, _, _ in pieces])
    fixed_b = np.concatenate([w * K.ravel() for w, _, _, K, _ in pieces])
    fixed_e = np.concatenate([w * M0.ravel() for w, _, M0, _, _ in pieces])
    best = None
    for rho_ in grid:
        col_u = np.concatenate([w * (M0 @ _ar1_corr(float(rho_), L) @ M0).ravel() for w, _, M0, _, L in pieces])
        cols = [fixed_b, fixed_e] if rho_ == 0 else [fixed_b, col_u, fixed_e]
        coef, res_norm = nnls(np.column_stack(cols), target)
        if rho_ == 0:
            coef = np.array([coef[0], 0.0, coef[1]])
        if best is None or res_norm < best[0] - 1e-15:
            best = (res_norm, float(rho_), coef)
    _, rho, (sb2, su, se) = best
    noise_sd = math.sqrt(su)
    unit_trend_sd = math.sqrt(sb2)
    # ---- 4. how noisy each area is, relative to the others ---------------------------------------------------
    # mean squared first difference of each area's residuals (free of its level and nearly of its trend), relative
    # to the average, shrunk towards 1 on the log scale with the weight of 10 differences, normalised to mean square 1
    diffs = np.diff(rfull, axis=1)
    both = U[:, 1:] & U[:, :-1]
    n_d = both.sum(axis=1)
    v = np.divide((np.where(both, diffs, 0.0) ** 2).sum(axis=1), n_d, out=np.full(N, np.nan), where=n_d > 0)
    vbar = float(np.nanmean(v)) if np.isfinite(v).any() else 0.0
    if vbar > 0:
        rel = np.where(np.isfinite(v) & (v > 0), v / vbar, 1.0)
        shrink = n_d / (n_d + 10.0)
        noise_scale = np.exp(0.5 * shrink * np.log(rel))
        noise_scale = noise_scale / math.sqrt(np.mean(noise_scale**2))
    else:
        noise_scale = np.ones(N)
    if family == "count":
        poisson = float(np.mean(1.0 / np.maximum(y[U], 0.5)))
        overdispersion = float(max(se - poisson, 0.0))
        iid_sd = 0.0
        notes.append(f"White-noise variance {se:.3g} on the log scale, of which {min(poisson, se):.3g} is Poisson; negative binomial overdispersion {overdispersion:.3g}.")
    else:
        overdispersion = 0.0
        iid_sd = math.sqrt(se)
    notes.insert(0, f"Calibrated on {int(U.sum())} untreated unit-periods ({cells}) of {N} units and {int(use_t.sum())} periods.")
    units = np.asarray(panel.units)
    return Calibration(
        outcome=outcome, kind=kind, family=family, scale=scale, units=units, intercept=intercept,
        population0=pop[:, 0].copy() if pop is not None else None, frequency=ax["frequency"], origin=panel.period_labels[0],
        origin_ordinal=float(ax["ordinals"][0]), trend=gamma, seasonality=seasonality, period_sd=period_sd,
        unit_trend_sd=unit_trend_sd, noise_sd=noise_sd, rho=rho, overdispersion=overdispersion, iid_sd=iid_sd, noise_scale=noise_scale,
        unit_sd=float(np.std(intercept)), n_cells=int(U.sum()), n_units=N, n_periods=int(use_t.sum()), notes=notes, link=link,
    )


# ---------------------------------------------------------------------------------------------------------------
# effects
@dataclass(frozen=True)
class EffectSpec:
    """A true effect: a size per cohort with an optional linear phase-in over event time.

    Parameters
    ----------
    size
        The full effect: a number (every cohort), a sequence (cohorts in order of treatment; the last value is used
        for any further cohort) or a dict by cohort label (``"2017-07"``) or wave number. A rate ratio for counts
        (0.9 = a 10% reduction), additive in outcome units otherwise.
    ramp
        Periods over which the effect phases in: at event time e the effect is ``size ** f`` (counts) or
        ``size * f`` (others) with ``f = min((e + 1) / ramp, 1)``; 0 = immediate.
    """

    size: float | Sequence[float] | Mapping[Any, float]
    ramp: int = 0

    def describe(self) -> str:
        ramp = f", phased in over {self.ramp} periods" if self.ramp else ""
        return f"size {self.size!r}{ramp}"


def heterogeneous_dynamic(family: str = "count", sizes: Sequence[float] | None = None, ramp: int = 12, scale: float = 1.0) -> EffectSpec:
    """An effect that differs by cohort and grows with event time (the setting in which TWFE is biased).

    Defaults: counts — rate ratio 0.90 for the first cohort and 0.96 for later ones, phased in over 12 periods;
    proportions — +0.03 and +0.01 (times ``scale``, so +3 and +1 percentage points for percentages); continuous —
    +1.0 and +0.25.
    """
    _check_family(family)
    if sizes is None:
        sizes = {"count": [0.90, 0.96], "proportion": [0.03 * scale, 0.01 * scale], "continuous": [1.0, 0.25]}[family]
    return EffectSpec(size=list(sizes), ramp=int(ramp))


def _n_params(fn: Callable) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    ps = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return len(ps)


def _cohort_lookup(mapping: Mapping[Any, Any], cohort: np.ndarray, wave: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Value per cohort label from a dict keyed by cohort labels or wave numbers (or ``default``)."""
    out: dict[str, Any] = {}
    str_keys = {str(k): v for k, v in mapping.items() if not isinstance(k, (int, np.integer)) or isinstance(k, bool)}
    wave_keys = {int(k): v for k, v in mapping.items() if isinstance(k, (int, np.integer)) and not isinstance(k, bool)}
    known = set(labels) | {"default"}
    bad = [k for k in str_keys if k not in known]
    if bad:
        raise _err(f"simulate: effect has key {bad[0]!r}, which is not a cohort of the design; use cohort labels ({', '.join(labels)}), wave numbers or 'default'.")
    for lab in labels:
        if lab in str_keys:
            out[lab] = str_keys[lab]
            continue
        waves = {int(w) for w in wave[cohort == lab] if pd.notna(w)}
        hit = [wave_keys[w] for w in sorted(waves) if w in wave_keys]
        if hit:
            out[lab] = hit[0]
        elif "default" in str_keys:
            out[lab] = str_keys["default"]
        else:
            raise _err(f"simulate: effect gives no value for cohort {lab} (waves {', '.join(map(str, sorted(waves))) or 'unknown'}); add it, its wave number or a 'default' key.")
    return out


def effect_cells(effect: Any, design: Design, family: str) -> np.ndarray:
    """The effect of every unit-period on the effect scale (rate ratio for counts, additive otherwise).

    Untreated cells hold the null (1 for counts, 0 otherwise). Raises :class:`~evidence.errors.DataError` naming
    ``effect`` when the specification does not fit the design.
    """
    N, T = design.panel.n_units, design.panel.n_periods
    null = 1.0 if family == "count" else 0.0
    D = design.treatment_matrix().astype(bool)
    E = np.nan_to_num(design.event_time(), nan=-1).astype(int)
    inc = design.included
    cohort = np.asarray(inc["first_treated"].astype(str).to_numpy(), dtype=object)
    wave = pd.to_numeric(inc["wave"], errors="coerce").to_numpy() if "wave" in inc else np.full(N, np.nan)
    labels = design.cohort_labels
    out = np.full((N, T), null)
    if effect is None:
        return out
    ev, coh = E[D], np.broadcast_to(cohort[:, None], (N, T))[D]
    if isinstance(effect, EffectSpec):
        ramp = effect.ramp
        if isinstance(ramp, bool) or not isinstance(ramp, (int, np.integer)) or ramp < 0:
            raise _err(f"simulate: effect ramp={ramp!r} must be a non-negative whole number of periods.")
        size = effect.size
        if isinstance(size, Mapping):
            per = _cohort_lookup(size, cohort, wave, labels)
        elif isinstance(size, (list, tuple, np.ndarray)):
            sizes = list(np.asarray(size, dtype=float).ravel())
            if not sizes:
                raise _err("simulate: effect size is an empty sequence; give one size per cohort.")
            per = {lab: sizes[min(j, len(sizes) - 1)] for j, lab in enumerate(labels)}
        else:
            per = {lab: size for lab in labels}
        base = np.array([_scalar(per[c], "effect size") for c in coh])
        f = np.minimum((ev + 1) / ramp, 1.0) if ramp else np.ones(ev.size)
        if family == "count":
            _check_rr(base)
            vals = base**f
        else:
            vals = base * f
    elif isinstance(effect, (bool, np.bool_)):
        raise _err(f"simulate: effect={effect!r} is not an effect; give a number, a dict by cohort, a path by event time, a function or an EffectSpec.")
    elif isinstance(effect, (int, float, np.integer, np.floating)):
        vals = np.full(ev.size, _scalar(effect, "effect"))
    elif isinstance(effect, Mapping):
        per = _cohort_lookup(effect, cohort, wave, labels)
        vals = np.empty(ev.size)
        for lab, v in per.items():
            m = coh == lab
            vals[m] = _path_or_number(v, ev[m]) if not callable(v) else np.broadcast_to(np.asarray(v(ev[m]), dtype=float), (int(m.sum()),))
    elif callable(effect):
        try:
            res = effect(ev, coh) if _n_params(effect) >= 2 else effect(ev)
        except Exception as exc:  # a user's function: report where it failed, in one line
            raise _err(f"simulate: the effect function failed on event times {int(ev.min()) if ev.size else 0}..{int(ev.max()) if ev.size else 0} ({type(exc).__name__}: {str(exc)[:80]}).") from None
        try:
            vals = np.broadcast_to(np.asarray(res, dtype=float), ev.shape).copy()
        except ValueError:
            raise _err(f"simulate: the effect function returned shape {np.shape(res)}; it must return one value per event time (shape {ev.shape}).") from None
    else:
        arr = np.asarray(effect, dtype=float) if not isinstance(effect, str) else None
        if arr is None or arr.ndim not in (1, 2) or arr.size == 0:
            raise _err(f"simulate: effect={effect!r} is not an effect specification; give a number, a dict by cohort, a 1-D path by event time, a function, an EffectSpec or an array of shape ({N}, {T}).")
        if arr.ndim == 1:
            vals = _path_or_number(arr, ev)
        else:
            if arr.shape != (N, T):
                raise _err(f"simulate: effect has shape {arr.shape}; a unit-period effect array must have shape (units, periods) = ({N}, {T}).")
            vals = arr[D]
    vals = np.asarray(vals, dtype=float)
    if not np.isfinite(vals).all():
        raise _err("simulate: effect has missing or infinite values on treated unit-periods; give finite effects.")
    if family == "count":
        _check_rr(vals)
    out[D] = vals
    return out


def _scalar(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise _err(f"simulate: {name} {v!r} must be a number.")
    return float(v)


def _check_rr(v: np.ndarray) -> None:
    if (np.asarray(v) <= 0).any():
        raise _err("simulate: effect for a count outcome is a rate ratio and must be positive (0.9 = a 10% reduction, 1 = no effect).")


def _path_or_number(v: Any, ev: np.ndarray) -> np.ndarray:
    arr = np.asarray(v, dtype=float)
    if arr.ndim == 0:
        return np.full(ev.size, float(arr))
    if arr.ndim != 1 or arr.size == 0:
        raise _err(f"simulate: effect path has shape {arr.shape}; a path by event time is a 1-D sequence (values for event times 0, 1, ...).")
    return arr[np.minimum(ev, arr.size - 1)]


# ---------------------------------------------------------------------------------------------------------------
@dataclass
class SimTruth:
    """The true effects of a simulation (SYNTHETIC).

    Attributes
    ----------
    effects
        ``reps x units x periods`` unit-period effects in outcome units (``y1 - y0`` on the expected outcome;
        zero on untreated cells).
    effect_scale
        ``units x periods`` effect on the specification scale: rate ratios for counts (1 untreated), additive
        otherwise (0 untreated).
    untreated_mean
        ``reps x units x periods`` expected untreated outcome given the latent state (``mu0`` for counts).
    treated
        ``units x periods`` treated cells.
    family
        Outcome family.
    """

    effects: np.ndarray
    effect_scale: np.ndarray
    untreated_mean: np.ndarray
    treated: np.ndarray
    event_time: np.ndarray
    cohort: np.ndarray
    cohort_labels: list[str]
    family: str
    synthetic: bool = True

    def _cells(self, scale: str) -> np.ndarray:
        if scale == "level":
            return self.effects
        if scale == "log":
            if self.family != "count":
                raise _err(f"truth: scale='log' is defined for count outcomes (rate ratios); this simulation is {self.family}.")
            return np.broadcast_to(np.log(self.effect_scale), self.effects.shape)
        raise _err(f"truth: scale={scale!r} is not recognised; use 'level' or 'log'.")

    def att(self, scale: str = "level") -> np.ndarray:
        """True ATT per replicate: the mean effect over treated unit-periods (``scale='log'``: mean log rate ratio)."""
        cells = self._cells(scale)
        return cells[:, self.treated].mean(axis=1)

    def att_cohort_weighted(self, scale: str = "level") -> np.ndarray:
        """Cohort ATTs (mean over each cohort's treated unit-periods) weighted by cohort size in units (the 2x2's overall)."""
        cells = self._cells(scale)
        tot, wsum = 0.0, 0
        for lab in self.cohort_labels:
            m = self.treated & (self.cohort[:, None] == lab)
            n = int((self.cohort == lab).sum())
            tot = tot + n * cells[:, m].mean(axis=1)
            wsum += n
        return tot / wsum

    def att_by_cohort(self, scale: str = "level") -> pd.DataFrame:
        """True ATT by cohort and replicate (rep, cohort, att)."""
        cells = self._cells(scale)
        frames = []
        for lab in self.cohort_labels:
            m = self.treated & (self.cohort[:, None] == lab)
            frames.append(pd.DataFrame({"rep": np.arange(cells.shape[0]), "cohort": lab, "att": cells[:, m].mean(axis=1)}))
        df = pd.concat(frames, ignore_index=True)
        df.attrs["synthetic"] = True
        return df

    def att_by_event_time(self, scale: str = "level") -> pd.DataFrame:
        """True ATT by event time and replicate (rep, event_time, att): mean over treated cells at that event time."""
        cells = self._cells(scale)
        frames = []
        for e in np.unique(self.event_time[self.treated]).astype(int):
            m = self.treated & (self.event_time == e)
            frames.append(pd.DataFrame({"rep": np.arange(cells.shape[0]), "event_time": e, "att": cells[:, m].mean(axis=1)}))
        df = pd.concat(frames, ignore_index=True)
        df.attrs["synthetic"] = True
        return df

    def tidy(self, outcome: str = "synthetic", scale: str = "level") -> pd.DataFrame:
        """The true aggregates averaged over replicates, as contract rows (method ``truth``)."""
        from .results import tidy_frame

        rows = [{"estimand": "att", "group": "all", "estimate": float(self.att(scale).mean())}]
        rows += [{"estimand": "group", "group": r.cohort, "estimate": r.att} for r in self.att_by_cohort(scale).groupby("cohort", sort=False)["att"].mean().reset_index().itertuples()]
        rows += [{"estimand": "dynamic", "event_time": int(r.event_time), "estimate": r.att} for r in self.att_by_event_time(scale).groupby("event_time")["att"].mean().reset_index().itertuples()]
        df = tidy_frame(pd.DataFrame(rows).assign(method="truth", outcome=outcome + ("_log" if scale == "log" else "")))
        df.attrs["synthetic"] = True
        return df


@dataclass
class SimulatedPanels:
    """Simulated outcomes for ``reps`` replicates over one design — SYNTHETIC DATA.

    Attributes
    ----------
    Y
        ``reps x units x periods`` simulated outcomes (units in ``base_design.panel.units`` order).
    outcome, family, scale, kind
        Outcome column name, family, scale (100 for percentages) and the panel kind it is labelled with.
    base_design
        The design the outcomes were simulated on.
    truth
        :class:`SimTruth`: unit-period effects and true ATT aggregates.
    params
        Every parameter used (seed included), for the record.
    notes
        What the simulator did (COVID shock applied or not, calibration units matched ...).
    synthetic, source
        Always ``True`` and ``"synthetic"``.
    """

    Y: np.ndarray
    outcome: str
    family: str
    scale: float
    base_design: Design
    truth: SimTruth
    params: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    synthetic: bool = True
    source: str = SOURCE

    @property
    def reps(self) -> int:
        return int(self.Y.shape[0])

    @property
    def kind(self) -> str:
        return _kind_of(self.family, self.scale)

    def _check_rep(self, rep: int) -> int:
        if isinstance(rep, bool) or not isinstance(rep, (int, np.integer)) or not 0 <= rep < self.reps:
            raise _err(f"simulated panels: rep={rep!r} must be a replicate number from 0 to {self.reps - 1}.")
        return int(rep)

    def panel(self, rep: int = 0) -> Panel:
        """A validated :class:`~evidence.panel.Panel` of one replicate, labelled synthetic.

        Real outcome columns of the base panel are dropped (only the simulated outcome remains); unit names,
        clusters, population and baseline covariates are kept. ``source == "synthetic"``,
        ``extras["synthetic"] = True``, ``data.attrs["synthetic"] = True``.
        """
        rep = self._check_rep(rep)
        base = self.base_design.panel
        df = base.data.drop(columns=[c for c in base.outcomes if c in base.data.columns]).copy()
        df[self.outcome] = self.Y[rep].ravel()
        df["time"] = [p.start_time for p in df["time"]] if base.frequency != "integer" else df["time"]
        std = [c for c in ("unit", "time", "t", "cluster", "unit_name", "population") if c in df.columns]
        extra = [c for c in df.columns if c not in std + [self.outcome] + list(base.covariates)]
        out, freq, vnotes = validate_panel(
            df, name=f"synthetic ({self.outcome}, replicate {rep})", unit="unit", time="time", outcomes=[self.outcome],
            outcome_kinds={self.outcome: self.kind}, unit_name="unit_name" if "unit_name" in df else None,
            population="population" if "population" in df else None, cluster="cluster", covariates=list(base.covariates),
            extra=extra, frequency=base.frequency,
        )
        out.attrs["synthetic"] = True
        notes = [f"SYNTHETIC DATA: '{self.outcome}' simulated by evidence.synthetic (family {self.family}, seed {self.params.get('seed')}, replicate {rep}); not NHS data."] + self.notes + vnotes
        extras = {k: v for k, v in base.extras.items() if k not in ("mapping",)}
        extras.update({"synthetic": True, "simulation": {k: v for k, v in self.params.items() if k != "seasonality"}, "replicate": rep})
        return Panel(out, [self.outcome], {self.outcome: self.kind}, freq, list(base.covariates), SOURCE, {}, notes, dict(base.columns), extras)

    def design(self, rep: int = 0) -> Design:
        """The base design with the simulated outcome of replicate ``rep`` (a validated synthetic panel)."""
        d = self.base_design
        panel = self.panel(rep)
        notes = [f"SYNTHETIC DATA (replicate {rep}): outcomes simulated with known effects."] + list(d.notes)
        return Design(panel, d.cohorts.copy(), d.comparison, d.window, notes, d.treatment_source, dict(d.settings, synthetic=True))

    def frame(self, rep: int | None = None) -> pd.DataFrame:
        """Long table of the simulation: rep, unit, period, outcome, untreated mean, true effect, treated, cohort.

        ``rep=None``: every replicate. ``attrs["synthetic"] = True``.
        """
        reps = range(self.reps) if rep is None else [self._check_rep(rep)]
        d = self.base_design
        N, T = self.Y.shape[1:]
        units = np.asarray(d.panel.units)
        labs = d.panel.period_labels
        cohort = d.included["first_treated"].astype(str).to_numpy()
        frames = []
        for r in reps:
            frames.append(pd.DataFrame({
                "rep": r, "unit": np.repeat(units, T), "period": np.tile(labs, N), self.outcome: self.Y[r].ravel(),
                "untreated_mean": self.truth.untreated_mean[r].ravel(), "true_effect": self.truth.effects[r].ravel(),
                "treated": self.truth.treated.ravel(), "cohort": np.repeat(cohort, T),
            }))
        df = pd.concat(frames, ignore_index=True)
        df.attrs["synthetic"] = True
        df.attrs["source"] = SOURCE
        return df

    def __repr__(self) -> str:
        N, T = self.Y.shape[1:]
        return f"<SimulatedPanels SYNTHETIC {self.outcome} ({self.family}): {self.reps} replicate(s) of {N} units x {T} periods, seed {self.params.get('seed')}>"


# ---------------------------------------------------------------------------------------------------------------
def _covid_shape(ax: dict[str, Any], spec: dict[str, Any]) -> np.ndarray:
    """Share of the full COVID drop in each period: partial first month, then an exponential partial recovery."""
    start = pd.Period(str(spec["start"]), "M").ordinal
    first_m, last_m = ax["months"]
    span = int((last_m - first_m).max()) + 1
    m = first_m[:, None] + np.arange(span)[None, :]  # months of each period (padded)
    inside = m <= last_m[:, None]
    k = (m - start).astype(float)
    rec = float(spec["recovery"])
    after = (1 - rec) + rec * 0.5 ** (np.maximum(k - 1, 0) / float(spec["halflife"]))
    val = np.where(k < 0, 0.0, np.where(k == 0, float(spec["first_month"]), after))
    return (val * inside).sum(axis=1) / inside.sum(axis=1)


def _resolve_covid(covid_shock: Any, family: str, ax: dict[str, Any], notes: list[str], identity_scale: float | None = None) -> dict[str, Any] | None:
    if covid_shock is False:
        return None
    if ax["frequency"] == "integer":
        if covid_shock in (None, "auto"):
            return None
        raise _err("simulate: covid_shock needs dated periods; the design's periods are integers — set covid_shock=False.")
    spec = dict(COVID_DEFAULT, drop=COVID_DROP[family] if identity_scale is None else COVID_DROP["proportion_identity"] * identity_scale)
    if isinstance(covid_shock, Mapping):
        unknown = [k for k in covid_shock if k not in COVID_DEFAULT]
        if unknown:
            raise _err(f"simulate: covid_shock key {unknown[0]!r} is not recognised; use {', '.join(COVID_DEFAULT)}.")
        spec.update({k: v for k, v in covid_shock.items() if v is not None})
    elif covid_shock not in (None, True, "auto"):
        raise _err(f"simulate: covid_shock={covid_shock!r} must be None/'auto' (a shock when the periods reach March 2020), True, False or a dict of settings.")
    for k in ("drop", "recovery", "halflife", "first_month", "unit_sd"):
        _check_number(f"covid_shock['{k}']", spec[k], minimum=0.0, strict=(k == "halflife"))
    if family == "count" and spec["drop"] >= 1:
        raise _err(f"simulate: covid_shock['drop']={spec['drop']!r} is a proportional drop for counts and must be below 1.")
    if spec["recovery"] > 1:
        raise _err(f"simulate: covid_shock['recovery']={spec['recovery']!r} is the share of the drop recovered and must be at most 1.")
    try:
        pd.Period(str(spec["start"]), "M")
    except ValueError:
        raise _err(f"simulate: covid_shock['start']={spec['start']!r} is not a month such as 2020-03.") from None
    shape = _covid_shape(ax, spec)
    if not shape.any():
        if covid_shock not in (None, "auto"):
            notes.append(f"The periods end before {spec['start']}: no COVID shock applied.")
        return None
    spec["shape"] = shape
    first = int(np.flatnonzero(shape > 0)[0])
    notes.append(f"COVID shock from period {first} ({spec['start']}): drop {spec['drop']:g} ({'proportional' if family == 'count' else 'latent units'}), {spec['recovery']:.0%} recovered with half-life {spec['halflife']:g} months, area spread {spec['unit_sd']:g}.")
    return spec


def _per_unit(value: Any, N: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(N, float(arr))
    if arr.shape != (N,):
        raise _err(f"simulate: {name} has shape {arr.shape}; give a number or one value per unit ({N}).")
    return arr


def simulate(
    design: Design,
    *,
    family: str | None = None,
    outcome: str | None = None,
    calibration: Calibration | None = None,
    baseline: float | np.ndarray | None = None,
    trend: float | None = None,
    seasonality: Any = None,
    unit_sd: float | None = None,
    unit_trend_sd: float | None = None,
    period_sd: float | None = None,
    noise_sd: float | None = None,
    rho: float | None = None,
    overdispersion: float | None = None,
    iid_sd: float | None = None,
    noise_scale: Any = None,
    covid_shock: Any = None,
    effect: Any = None,
    population: np.ndarray | float | None = None,
    scale: float | None = None,
    link: str | None = None,
    seed: int = 0,
    reps: int = 1,
    _latent_only: bool = False,
) -> SimulatedPanels:
    """Simulate outcomes with known effects on a design's units, periods and cohorts — SYNTHETIC DATA.

    Parameters are on the latent scale (log rate for counts; outcome units for continuous outcomes and for
    proportions with the default identity link, the logit with ``link="logit"``; trends per year, or per period for
    integer time); each defaults to the ``calibration`` value when one is given, else to the family default in
    :data:`DEFAULTS` (``proportion_identity`` values are in units of ``scale``).

    Parameters
    ----------
    design
        The design: units, periods, cohorts and clusters (a real design from :func:`evidence.pipeline.prepare`,
        one from :func:`synthetic_design`, or any other).
    family
        ``count`` (negative binomial with population exposure), ``continuous`` or ``proportion``; default the
        calibration's, else ``count``.
    outcome
        Name of the simulated outcome column (default the calibration's outcome, else ``y``).
    calibration
        Parameters estimated by :func:`calibrate` (area levels matched to the design's units by identifier).
    baseline
        Outcome level in the first period before seasonality, a number or one per unit: the expected count per
        period (counts), the proportion (in ``scale`` units) or the mean (continuous). Default: the calibration's
        area levels; else for counts 2% of the population per month (20,000 without a population), 0.85 x
        ``scale`` for proportions, 0 for continuous outcomes.
    trend, seasonality, unit_sd, unit_trend_sd, period_sd, noise_sd, rho, overdispersion, iid_sd
        Model parameters (module docstring). ``seasonality``: one value per calendar month (12) or quarter (4),
        ``False``/``0`` for none. ``overdispersion`` applies to counts, ``iid_sd`` to the other families.
    noise_scale
        Per-unit multiplier of ``noise_sd`` and ``iid_sd`` (how noisy each area is): one positive value per unit,
        ``False`` for equal noise; default the calibration's (matched by unit; 1 for units it lacks), else equal.
    covid_shock
        ``None``/``"auto"`` (default): a shock from March 2020 when the periods reach it; ``False``: none;
        ``True`` or a dict with keys ``start``, ``drop`` (proportional for counts, latent units otherwise),
        ``recovery`` (share of the drop recovered), ``halflife`` (months), ``first_month`` (share of the drop in
        the first month), ``unit_sd`` (relative spread across areas).
    effect
        The true effect (module docstring): rate ratio for counts, additive otherwise; ``None`` for no effect.
    population
        Exposure for counts: a number, one per unit or a units x periods array; default the panel's population
        column (or the calibration's), else 1.
    scale
        Outcome scale for proportions: 1 (proportions) or 100 (percentages); default the calibration's, else 1.
    link
        Proportions: ``identity`` (default; the model holds on the outcome scale, values clipped to
        [0, scale]) or ``logit`` (bounded latent scale); default the calibration's.
    seed
        Seed of ``numpy.random.default_rng``: the same seed gives the same panels.
    reps
        Number of replicates.

    Returns
    -------
    SimulatedPanels
    """
    reps = _check_reps(reps)
    seed = _check_seed(seed)
    if calibration is not None and not isinstance(calibration, Calibration):
        raise _err(f"simulate: calibration must be a Calibration from evidence.synthetic.calibrate (got {type(calibration).__name__}).")
    if not isinstance(design, Design):
        raise _err(f"simulate: design must be an evidence Design (got {type(design).__name__}); build one with evidence.pipeline.prepare or synthetic_design.")
    family = _check_family(family if family is not None else (calibration.family if calibration is not None else "count"))
    if calibration is not None and calibration.family != family:
        raise _err(f"simulate: family={family!r} differs from the calibration's family ({calibration.family}); drop one of them.")
    outcome = str(outcome if outcome is not None else (calibration.outcome if calibration is not None else "y"))
    link = _check_link(link if link is not None else (calibration.link if calibration is not None else None), family, "simulate")
    if calibration is not None and calibration.link != link:
        raise _err(f"simulate: link={link!r} differs from the calibration's link ({calibration.link}); calibrate with the same link.")
    panel = design.panel
    N, T = panel.n_units, panel.n_periods
    ax = _time_axis(panel)
    notes: list[str] = []
    if scale is None:
        scale = calibration.scale if calibration is not None else 1.0
    scale = _check_number("scale", scale, minimum=0.0, strict=True)
    if family == "proportion" and scale not in (1.0, 100.0):
        raise _err(f"simulate: scale={scale!r} must be 1 (proportions) or 100 (percentages).")
    identity_prop = family == "proportion" and link == "identity"
    fam = dict(DEFAULTS["proportion_identity"]) if identity_prop else dict(DEFAULTS[family])
    if identity_prop:
        fam = {k: (v if k in ("rho", "overdispersion") else v * scale) for k, v in fam.items()}
    cal = calibration.as_kwargs() if calibration is not None else {}
    if calibration is not None:
        if calibration.frequency != ax["frequency"]:
            raise _err(f"simulate: the calibration is {calibration.frequency}ly but the design is {ax['frequency']}ly; calibrate on a panel of the same frequency.")
        fam["unit_sd"] = 0.0

    def pick(name: str, value: Any) -> Any:
        return value if value is not None else cal.get(name, fam.get(name))

    trend_v = _check_number("trend", pick("trend", trend), minimum=None)
    unit_sd_v = _check_number("unit_sd", pick("unit_sd", unit_sd))
    utsd = _check_number("unit_trend_sd", pick("unit_trend_sd", unit_trend_sd))
    psd = _check_number("period_sd", pick("period_sd", period_sd))
    nsd = _check_number("noise_sd", pick("noise_sd", noise_sd))
    rho_v = _check_number("rho", pick("rho", rho), minimum=0.0, maximum=0.99)
    if family == "count":
        if iid_sd not in (None, 0, 0.0):
            raise _err("simulate: iid_sd applies to continuous and proportion outcomes; for counts the white noise is the negative binomial overdispersion.")
        od = _check_number("overdispersion", pick("overdispersion", overdispersion))
        isd = 0.0
    else:
        if overdispersion not in (None, 0, 0.0):
            raise _err(f"simulate: overdispersion applies to count outcomes (negative binomial); for {family} outcomes use iid_sd or noise_sd.")
        od = 0.0
        isd = _check_number("iid_sd", pick("iid_sd", iid_sd))
    # seasonality
    P = SEASONS.get(ax["frequency"], 0)
    if seasonality is None:
        seas = cal.get("seasonality", _default_seasonality(family, ax["frequency"], link, scale))
    elif seasonality is False or (np.ndim(seasonality) == 0 and not isinstance(seasonality, str) and float(seasonality) == 0):
        seas = np.zeros(P)
    else:
        seas = np.asarray(seasonality, dtype=float) if not isinstance(seasonality, str) else None
        if seas is None or seas.shape != (P,) or P == 0:
            what = f"{P} values (one per {'calendar month' if P == 12 else 'quarter'})" if P else "nothing (this frequency has no seasons): leave it None or 0"
            raise _err(f"simulate: seasonality has shape {np.shape(seasonality)}; give {what}.")
        if not np.isfinite(seas).all():
            raise _err("simulate: seasonality has missing or infinite values.")
    seas = np.asarray(seas, dtype=float)
    season_t = seas[ax["season"]] if P and seas.size == P else np.zeros(T)
    # exposure (counts)
    exposure = None
    if family == "count":
        if population is not None:
            pa = np.asarray(population, dtype=float)
            if pa.ndim == 0:
                exposure = np.full((N, T), float(pa))
            elif pa.shape == (N,):
                exposure = np.repeat(pa[:, None], T, axis=1)
            elif pa.shape == (N, T):
                exposure = pa.copy()
            else:
                raise _err(f"simulate: population has shape {pa.shape}; give a number, one value per unit ({N}) or a units x periods array ({N}, {T}).")
            if not (np.isfinite(exposure).all() and (exposure > 0).all()):
                raise _err("simulate: population must be positive and finite.")
        elif panel.has_population:
            exposure = panel.matrix("population")
        elif calibration is not None and calibration.population0 is not None:
            exposure = np.repeat(_match_units(calibration, panel, calibration.population0, np.mean)[0][:, None], T, axis=1)
            notes.append("The design has no population column: the calibration panel's first-period populations are the exposure.")
        else:
            exposure = np.ones((N, T))
    # area levels (latent, at the first period, before seasonality)
    if not _latent_only:
        effect_cells(effect, design, family)  # check the effect before drawing anything
    if baseline is not None:
        base = _per_unit(baseline, N, "baseline")
        if family == "count":
            if (base <= 0).any():
                raise _err("simulate: baseline for counts is the expected count per period and must be positive.")
            level = np.log(base / exposure[:, 0])
        elif family == "proportion":
            if ((base <= 0) | (base >= scale)).any():
                raise _err(f"simulate: baseline for a proportion must lie strictly between 0 and {scale:g}.")
            level = logit(base / scale) if link == "logit" else base
        else:
            level = base
        level = level - season_t[0]
    elif calibration is not None:
        level, matched = _match_units(calibration, panel, calibration.intercept, np.mean)
        if not matched:
            unit_sd_v = unit_sd if unit_sd is not None else calibration.unit_sd
            notes.append(f"The design's units are not the calibration's: area levels are the calibration mean plus random area effects (sd {unit_sd_v:.3g}).")
        # the calibration's trend origin may differ from the design's first period
        level = level + trend_v * (ax["ordinals"][0] - calibration.origin_ordinal) / ax["per_year"]
    else:
        if family == "count":
            level = np.log(np.full(N, 0.02)) if panel.has_population or population is not None else np.log(np.full(N, 20000.0) / exposure[:, 0])
        elif family == "proportion":
            level = np.full(N, logit(0.85) if link == "logit" else 0.85 * scale)
        else:
            level = np.zeros(N)
    covid = _resolve_covid(covid_shock, family, ax, notes, scale if identity_prop else None)
    if noise_scale is None:
        nscale = _match_units(calibration, panel, calibration.noise_scale, lambda v: 1.0)[0] if (calibration is not None and calibration.noise_scale is not None) else np.ones(N)
    elif noise_scale is False:
        nscale = np.ones(N)
    else:
        nscale = _per_unit(noise_scale, N, "noise_scale")
        if not (np.isfinite(nscale).all() and (nscale > 0).all()):
            raise _err("simulate: noise_scale must hold positive finite values, one per unit.")
    # ---- latent draws (their own seed stream: the observation noise is drawn from a second one, so every effect
    # applied to the same latent panels shares the random numbers) -------------------------------------------------
    latent_ss, obs_ss = np.random.SeedSequence(seed).spawn(2)
    tau = (ax["ordinals"] - ax["ordinals"][0]) / ax["per_year"]
    params = dict(family=family, outcome=outcome, scale=scale, link=link, trend=trend_v, seasonality=seas.tolist(), unit_sd=unit_sd_v, unit_trend_sd=utsd,
                  period_sd=psd, noise_sd=nsd, rho=rho_v, overdispersion=od, iid_sd=isd, noise_scale_range=[float(nscale.min()), float(nscale.max())], covid=None if covid is None else {k: v for k, v in covid.items() if k != "shape"},
                  calibrated=calibration is not None, seed=seed, reps=reps)
    model = dict(level=level, unit_sd=unit_sd_v, unit_trend_sd=utsd, period_sd=psd, noise_sd=nsd, rho=rho_v, iid_sd=isd, nscale=nscale, season_t=season_t, trend=trend_v, tau=tau, covid=covid, exposure=exposure)
    plan = _Latent(design=design, outcome=outcome, family=family, scale=scale, link=link, overdispersion=od, obs_seed=obs_ss, params=params, notes=notes, reps=reps, latent_seed=latent_ss, model=model)
    if _latent_only:  # power_curve: one set of latent panels, many effects, in blocks of replicates
        return plan  # type: ignore[return-value]
    return plan.observe(effect)


BLOCK_CELLS = 1 << 22
"""Replicates x unit-periods simulated at once by :meth:`_Latent.stream` (about 32 MB per array)."""


def _generator_at(state: dict) -> np.random.Generator:
    """A generator continuing from a saved bit-generator state (PCG64, as ``default_rng``)."""
    g = np.random.Generator(np.random.PCG64())
    g.bit_generator.state = state
    return g


@dataclass
class _Latent:
    """Latent panels of a simulation before the effect and the observation noise (internal; see :func:`simulate`).

    Context: the simulation drew every replicate at once — several reps x units x periods arrays (200 replicates of
    3,000 areas x 48 months: 230 MB each, about ten of them), so memory grew with replicates times rows.
    Decision: :meth:`stream` simulates blocks of replicates (``BLOCK_CELLS`` unit-periods at a time) with exactly
    the random numbers of the one-block draw: the streams are sequential, so each array's stream is entered at its
    saved state, the arrays drawn after it in the same stream are reached by a first pass that draws and discards
    (for counts the negative binomial's gamma multipliers, which every effect shares), and each effect's Poisson
    draws continue their own copy of the stream. Consequences: the same panels whatever the block size (tested),
    memory bounded by the block, and the default design (2,000 unit-periods) still one block.
    """

    design: Design
    outcome: str
    family: str
    scale: float
    link: str
    overdispersion: float
    obs_seed: np.random.SeedSequence
    params: dict[str, Any]
    notes: list[str]
    reps: int
    latent_seed: np.random.SeedSequence
    model: dict[str, Any]
    _out0: int = 0

    def _latent_blocks(self, size: int):  # noqa: ANN202 - generator of (r0, r1, y0)
        m = self.model
        reps = self.reps
        N, T = self.design.panel.n_units, self.design.panel.n_periods
        rng = np.random.default_rng(self.latent_seed)
        a_rand = rng.standard_normal((reps, N)) * m["unit_sd"]
        b = rng.standard_normal((reps, N)) * m["unit_trend_sd"]
        p = rng.standard_normal((reps, T)) * m["period_sd"]
        bounds = [(r0, min(reps, r0 + size)) for r0 in range(0, reps, size)]
        isd = m["iid_sd"]
        if len(bounds) == 1:
            eps = rng.standard_normal((reps, N, T))
            iid = rng.standard_normal((reps, N, T)) * isd if isd > 0 else 0.0
            cdev = rng.standard_normal((reps, N))
            yield 0, reps, self._y0(a_rand, b, p, eps, iid, cdev)
            return
        eps_gen = _generator_at(rng.bit_generator.state)
        for r0, r1 in bounds:  # reach the draws that follow eps in the stream
            rng.standard_normal((r1 - r0, N, T))
        iid_gen = _generator_at(rng.bit_generator.state)
        if isd > 0:
            for r0, r1 in bounds:
                rng.standard_normal((r1 - r0, N, T))
        cdev = rng.standard_normal((reps, N))
        for r0, r1 in bounds:
            eps = eps_gen.standard_normal((r1 - r0, N, T))
            iid = iid_gen.standard_normal((r1 - r0, N, T)) * isd if isd > 0 else 0.0
            yield r0, r1, self._y0(a_rand[r0:r1], b[r0:r1], p[r0:r1], eps, iid, cdev[r0:r1])

    def _y0(self, a_rand: np.ndarray, b: np.ndarray, p: np.ndarray, eps: np.ndarray, iid: Any, cdev: np.ndarray) -> np.ndarray:
        """Expected untreated outcomes of a block of replicates from its standard normal draws."""
        m = self.model
        family, scale, link = self.family, self.scale, self.link
        nsd, rho_v, tau = m["noise_sd"], m["rho"], m["tau"]
        u = np.empty(eps.shape)
        u[:, :, 0] = eps[:, :, 0] * nsd
        innov = nsd * math.sqrt(1 - rho_v**2)
        for t in range(1, eps.shape[2]):
            u[:, :, t] = rho_v * u[:, :, t - 1] + innov * eps[:, :, t]
        tau_c = tau.mean()
        z = (m["level"][None, :, None] + a_rand[:, :, None] + m["trend"] * tau[None, None, :] + m["season_t"][None, None, :] + p[:, None, :]
             + b[:, :, None] * (tau - tau_c)[None, None, :] + (u + iid) * m["nscale"][None, :, None])
        covid = m["covid"]
        if covid is not None:
            scale_i = np.maximum(1 + covid["unit_sd"] * cdev, 0.0)
            hit = covid["drop"] * covid["shape"][None, None, :] * scale_i[:, :, None]
            z = z + (np.log(np.clip(1 - hit, 0.05, None)) if family == "count" else -hit)
        if family == "count":
            return m["exposure"][None] * np.exp(z)
        if family == "proportion" and link == "logit":
            return scale * expit(z)
        if family == "proportion":
            self._out0 += int(((z < 0) | (z > scale)).sum())
            return np.clip(z, 0.0, scale)
        return z

    def _close_notes(self) -> None:
        if self._out0:
            size = self.reps * self.design.panel.n_units * self.design.panel.n_periods
            note = f"{self._out0} of {size} simulated untreated value(s) ({self._out0 / size:.2%}) fell outside [0, {self.scale:g}] and were clipped."
            if note not in self.notes:
                self.notes.append(note)
            self._out0 = 0

    def stream(self, effects: Sequence[Any], block_cells: int | None = None, truth: bool = True):  # noqa: ANN201 - generator
        """Blocks of replicates, each as (first replicate, one :class:`SimulatedPanels` of the block per effect), drawn
        exactly as one :meth:`observe` per effect would; ``effect_notes`` (one list per effect, as ``observe`` gives)
        is set when the stream is exhausted. ``truth=False`` leaves the true effects out (``truth`` is None: a power
        curve needs only the outcomes)."""
        design, family = self.design, self.family
        N, T = design.panel.n_units, design.panel.n_periods
        size = max(1, (BLOCK_CELLS if block_cells is None else block_cells) // max(1, N * T))
        cells = [effect_cells(e, design, family) for e in effects]
        D = design.treatment_matrix().astype(bool)
        E = np.nan_to_num(design.event_time(), nan=-1).astype(int)
        cohort = design.included["first_treated"].astype(str).to_numpy()
        clipped = [0] * len(effects)
        od = self.overdispersion
        gamma_gen = pois_start = None
        if family == "count":
            rng = np.random.default_rng(self.obs_seed)
            if od > 0 and self.reps > size:  # the Poisson draws follow every gamma draw in the stream
                gamma_gen = _generator_at(rng.bit_generator.state)
                for r0 in range(0, self.reps, size):
                    rng.gamma(shape=1.0 / od, scale=od, size=(min(self.reps, r0 + size) - r0, N, T))
            elif od > 0:
                gamma_gen = rng
            pois_start = rng.bit_generator.state
        pois = [None] * len(effects)
        for r0, r1, y0 in self._latent_blocks(size):
            if family == "count" and od > 0:
                mult = gamma_gen.gamma(shape=1.0 / od, scale=od, size=y0.shape)
                if self.reps <= size:
                    pois_start = gamma_gen.bit_generator.state
            else:
                mult = 1.0
            out = []
            for j, eff in enumerate(cells):
                if family == "count":
                    if pois[j] is None:
                        pois[j] = _generator_at(pois_start)
                    mu1 = y0 * eff[None]
                    Y = pois[j].poisson(mu1 * mult).astype(float)
                    effects_ = (mu1 - y0) if truth else None
                elif family == "proportion":
                    raw = y0 + eff[None]
                    clipped[j] += int(((raw < 0) | (raw > self.scale)).sum())
                    Y = np.clip(raw, 0.0, self.scale)
                    effects_ = Y - y0
                else:
                    Y = y0 + eff[None]
                    effects_ = np.broadcast_to(eff[None], Y.shape)
                tr = SimTruth(effects=np.where(D[None], effects_, 0.0), effect_scale=eff, untreated_mean=y0, treated=D, event_time=E, cohort=cohort, cohort_labels=design.cohort_labels, family=family) if truth else None
                out.append(SimulatedPanels(Y=Y, outcome=self.outcome, family=family, scale=self.scale, base_design=design, truth=tr, params=dict(self.params, effect=_describe_effect(effects[j])), notes=[]))  # type: ignore[arg-type]
            yield r0, out
        self._close_notes()
        self.effect_notes = [list(self.notes) + ([f"{c} treated unit-period value(s) were clipped to [0, {self.scale:g}]; the truth uses the clipped values."] if c else []) for c in clipped]

    def observe(self, effect: Any) -> SimulatedPanels:
        """Apply a true effect and draw the observation noise (the same draws for every effect), every replicate at once."""
        ((_, (sims,)),) = list(self.stream([effect], block_cells=max(1, self.reps * self.design.panel.n_units * self.design.panel.n_periods)))
        sims.notes = self.effect_notes[0]
        return sims


def _describe_effect(effect: Any) -> str:
    if effect is None:
        return "none"
    if isinstance(effect, EffectSpec):
        return f"EffectSpec({effect.describe()})"
    if isinstance(effect, np.ndarray):
        return f"array {effect.shape}"
    if callable(effect):
        return f"function {getattr(effect, '__name__', 'effect')}"
    return repr(effect)


def _match_units(cal: Calibration, panel: Panel, values: np.ndarray, fill: Callable) -> tuple[np.ndarray, bool]:
    """Calibration values in the panel's unit order; the calibration mean for units it does not have."""
    s = pd.Series(values, index=pd.Index(cal.units.astype(str)))
    units = pd.Index(np.asarray(panel.units).astype(str))
    matched = bool(units.isin(s.index).all())
    out = s.reindex(units).to_numpy(dtype=float)
    out = np.where(np.isnan(out), float(fill(values)), out)
    return out, matched


# ---------------------------------------------------------------------------------------------------------------
def synthetic_design(
    start: str = "2016-04",
    end: str = "2022-03",
    *,
    frequency: str = "month",
    waves: Sequence[int] = (1, 2, 3, 4, 5, 6),
    date_basis: str = "announced",
    partial: str = "treat",
    other_waves: str = "exclude",
    first_period: str = "first_full",
    comparison: str = "not_yet_treated",
    cluster: str | None = None,
    cohorts: Mapping[str, int] | None = None,
    n_units: int | None = None,
) -> Design:
    """A design for simulation over any window — labelled synthetic (it holds no outcome).

    Default: the 42 ICS footprints (2021 STP codes) with their ONS populations (interpolated monthly, extrapolated
    linearly beyond 2020) and the staggered ICS waves of the real designation table
    (``data/reference/ics_designations.csv``) under the usual ``treatment.*`` rules, over ``start``..``end`` (by
    default 2016-04 to 2022-03 so that waves 1-6 fall inside). With ``cohorts`` (first treated period label ->
    number of units) and ``n_units``, a generic design of units ``S001``... instead (no population).

    Parameters
    ----------
    start, end
        Window (``YYYY-MM``; quarterly designs accept months too).
    frequency
        ``month`` or ``quarter``.
    waves, date_basis, partial, other_waves, first_period, comparison
        As the ``treatment.*`` and ``design.comparison`` parameters.
    cluster
        ``None`` (clusters = footprints) or ``region`` (NHS regions; footprint designs only).
    cohorts, n_units
        Generic design: cohort sizes and the total number of units (the rest untreated).
    """
    if frequency not in ("month", "quarter"):
        raise _err(f"synthetic_design: frequency={frequency!r} must be 'month' or 'quarter'.")
    code = FREQ_CODES[frequency]
    try:
        periods = pd.period_range(pd.Period(str(start), code), pd.Period(str(end), code), freq=code)
    except ValueError:
        raise _err(f"synthetic_design: start={start!r} / end={end!r} must be months such as 2016-04.") from None
    if len(periods) < 2:
        raise _err(f"synthetic_design: start={start!r} to end={end!r} gives {len(periods)} period(s); a design needs at least two.")
    times = [p.start_time for p in periods]
    labels = period_labels_of(periods, frequency)
    if cohorts is not None:
        if n_units is None or isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 2:
            raise _err(f"synthetic_design: n_units={n_units!r} must be a whole number of units (at least 2) when cohorts are given.")
        sizes = {str(k): int(v) for k, v in cohorts.items()}
        bad = [k for k in sizes if k not in labels]
        if bad:
            raise _err(f"synthetic_design: cohort {bad[0]!r} is not a period of the window {labels[0]} to {labels[-1]}.")
        if sum(sizes.values()) > n_units or any(v < 0 for v in sizes.values()):
            raise _err(f"synthetic_design: cohorts hold {sum(sizes.values())} units but n_units={n_units}; cohort sizes must be non-negative and sum to at most n_units.")
        first = []
        for lab, n in sizes.items():
            first += [str(pd.Period(lab, code).start_time.date())] * n
        first += ["0"] * (n_units - len(first))
        ids = [f"S{i + 1:03d}" for i in range(n_units)]
        df = pd.DataFrame({"unit": np.repeat(ids, len(times)), "time": np.tile(times, n_units), "first": np.repeat(first, len(times))})
        out, freq, notes = validate_panel(df, name="synthetic design", unit="unit", time="time", outcomes=[], extra=["first"], frequency=frequency)
        out.attrs["synthetic"] = True
        panel = Panel(out, [], {}, freq, [], SOURCE, {}, ["SYNTHETIC design: generic units and cohorts."] + notes, {}, {"synthetic": True})
        return design_from_cohort_column(panel, "first", start=labels[0], end=labels[-1], comparison=comparison)
    from .data.ae import POPULATION, footprint_covariates, monthly_population
    from .data.designations import load_designations

    pop_tab = pd.read_csv(POPULATION)
    names = pop_tab.drop_duplicates("stp21_code").set_index("stp21_code")["stp21_name"]
    months = pd.period_range(periods[0].start_time, periods[-1].end_time, freq="M")
    pop = monthly_population(months)
    pop["period"] = pd.PeriodIndex(pop["period"], freq="M") if not isinstance(pop["period"].dtype, pd.PeriodDtype) else pop["period"]
    pop["p"] = pop["period"].dt.asfreq(code) if frequency != "month" else pop["period"]
    popq = pop.groupby(["stp21_code", "p"], as_index=False)["population"].mean()
    popq["time"] = popq["p"].dt.start_time
    cov = footprint_covariates().set_index("stp21_code")
    popq["unit_name"] = popq["stp21_code"].map(names)
    popq["region"] = popq["stp21_code"].map(cov["region"]).fillna("unknown")
    if cluster not in (None, "region"):
        raise _err(f"synthetic_design: cluster={cluster!r} must be None (footprints) or 'region'.")
    out, freq, notes = validate_panel(popq, name="synthetic design", unit="stp21_code", time="time", outcomes=[], unit_name="unit_name", population="population",
                                      cluster="region" if cluster == "region" else None, extra=["region"], frequency=frequency)
    out.attrs["synthetic"] = True
    note = f"SYNTHETIC design: the 42 ICS footprints with ONS populations ({'extrapolated beyond mid-2020' if periods[-1].end_time.year > 2020 else 'interpolated'}), periods {labels[0]} to {labels[-1]}, waves {list(waves)} from the designation table; no outcome data."
    panel = Panel(out, [], {}, freq, [], SOURCE, {}, [note] + notes, {"unit": "stp21_code", "time": "period", "unit_name": "stp21_name"}, {"synthetic": True})
    return design_from_designations(panel, load_designations(), date_basis=date_basis, partial=partial, waves=list(waves), other_waves=other_waves,
                                    first_period=first_period, start=labels[0], end=labels[-1], comparison=comparison)


__all__ = [
    "COVID_DEFAULT", "Calibration", "DEFAULTS", "EffectSpec", "FAMILIES", "SimTruth", "SimulatedPanels", "calibrate", "effect_cells",
    "family_of_kind", "heterogeneous_dynamic", "simulate", "synthetic_design",
]
