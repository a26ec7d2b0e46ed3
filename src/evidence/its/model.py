"""Interrupted time series (ITS): segmented regression on one series, and controlled ITS against a comparison series.

Model
-----
Single series (periods ``t = 0 .. T-1``, intervention at period index ``t0``, ``D_t = 1[t >= t0]``)::

    g(E[y_t]) = b0 + b1 t + b2 D_t + b3 (t - t0) D_t + seasonality_t [+ log population_t]

``b2`` is the level change at the intervention and ``b3`` the change in slope per period, relative to the pre-period
trend projected forward. ``g`` is the identity (``gaussian``) or the log (``poisson``, ``quasipoisson``,
``negbin``), so for count families ``b2`` and ``b3`` are log rate ratios.

Controlled ITS (``control="pooled"``) stacks the treated series and a comparison series (units untreated throughout
the window, pooled) and fully interacts the model with a treated-series indicator ``Z`` (Linden 2015; Lopez Bernal,
Cummins and Gasparrini 2018)::

    g(E[y_st]) = b0 + b1 t + b2 D_t + b3 (t - t0) D_t + seas_t
                 + Z_s (b4 + b5 t + b6 D_t + b7 (t - t0) D_t + seas*_t) [+ log population_st]

The comparison series has its own intercept, trend, seasonality, level change ``b2`` and slope change ``b3``; the
reported level and slope changes are ``b6`` and ``b7``, the changes in the treated series over and above those in
the comparison series. A shock at the intervention that hits both series equally is absorbed by ``b2``/``b3``.

Conventions
-----------
Newey-West lag
    ``hac_lags=None`` uses ``floor(4 (T/100)^(2/9))`` with ``T`` the number of periods (Newey and West 1994's rule
    of thumb for the Bartlett kernel), e.g. 3 for 36-60 monthly periods.
Gaussian inference
    OLS with Newey-West (Bartlett kernel) covariance and the small-sample factor ``n/(n-k)`` (statsmodels
    ``cov_type="HAC", use_correction=True``); Student-t intervals with ``T - p`` degrees of freedom (``p``
    parameters per series). In the controlled model the covariance is Driscoll-Kraay (statsmodels
    ``"hac-groupsum"``): scores summed over the two series in each period, then Newey-West over periods, which
    allows the two series' errors to be correlated in the same period and over time. For the interaction terms this
    equals Newey-West on the difference series (treated minus comparison). ``robust=False`` gives classical OLS
    standard errors.
Count families
    Poisson: maximum likelihood, model-based standard errors, normal intervals. Quasi-Poisson: the same point
    estimates with the covariance scaled by the Pearson chi-squared over residual degrees of freedom (statsmodels
    ``scale="X2"``), t intervals with the GLM's residual degrees of freedom. Negative binomial (NB2, variance
    ``mu + alpha mu^2``): ``alpha`` by maximum likelihood in statsmodels' discrete ``NegativeBinomial`` model
    (``loglike_method="nb2"``; falling back to maximising the GLM profile likelihood over ``log alpha`` when that
    optimiser fails), then a GLM with that ``alpha`` fixed; standard errors do not reflect uncertainty in ``alpha``
    (NB2 coefficients and ``alpha`` are asymptotically orthogonal); normal intervals. One ``alpha`` is shared by both
    series in the controlled model. ``robust=True`` replaces the covariance of any count family by the same
    Newey-West (single series) or Driscoll-Kraay (controlled) sandwich as for Gaussian models, with normal intervals.
Offset
    For count families with a count outcome and a ``population`` column, ``log(population)`` (summed over pooled
    units) enters as an offset, so the model is for rates and the rate ratios are rate ratios.
Effects
    ``level_change`` and ``slope_change`` are coefficients (model units). The counterfactual is the fitted series
    with the treated-series intervention terms set to zero. ``abs_diff_post`` is the mean over post-intervention
    periods of fitted minus counterfactual (outcome units); ``effect_at_end`` the same difference at the last period;
    ``rate_ratio_post`` (log link) the ratio of fitted to counterfactual totals over the post period, a weighted
    average of the period rate ratios ``exp(b2 + b3 (t - t0))``. Intervals are delta-method intervals: absolute
    differences symmetric on the outcome scale; rate ratios on the log scale and exponentiated (the reported standard
    error is the delta-method ``RR * se(log RR)``, the p-value tests ``RR = 1``); counterfactual means on the
    linear-predictor scale and transformed. Because the level-change indicator is a regressor, OLS and canonical-link
    Poisson residuals sum to zero over the post period, so for those families the mean of observed minus
    counterfactual equals ``abs_diff_post``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from types import SimpleNamespace

from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import OLS

# the four statsmodels classes used, without `statsmodels.api` (which imports its datasets, graphics and every
# model: about 0.8 s more in each notebook kernel and command)
sm = SimpleNamespace(OLS=OLS, GLM=GLM, NegativeBinomial=NegativeBinomial, families=families)
from scipy import optimize
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..periods import FREQ_CODES, label
from ..periods import labels as period_labels
from ..results import normal_inference
from ..missing import attach, complete_units

FAMILIES: tuple[str, ...] = ("gaussian", "poisson", "quasipoisson", "negbin")
SEASONALITIES: tuple[str, ...] = ("fourier", "dummies", "none")
CONTROLS: tuple[str, ...] = ("none", "pooled")
LOG_LINK: frozenset[str] = frozenset({"poisson", "quasipoisson", "negbin"})
MIN_PRE: int = 3
MIN_POST: int = 1
SEASON_PERIOD: dict[str, int] = {"month": 12, "quarter": 4}
INTERVENTION_TERMS: tuple[str, str] = ("level", "slope")


def hac_lag_rule(n_periods: int) -> int:
    """Default Newey-West truncation lag ``floor(4 (T/100)^(2/9))`` for a series of ``T`` periods."""
    return int(np.floor(4.0 * (n_periods / 100.0) ** (2.0 / 9.0)))


def season_position(periods: np.ndarray, frequency: str) -> np.ndarray | None:
    """Position of each period within the year (0-based month or quarter), or ``None`` without seasons."""
    if frequency == "month":
        return np.asarray([p.month - 1 for p in periods], dtype=int)
    if frequency == "quarter":
        return np.asarray([p.quarter - 1 for p in periods], dtype=int)
    return None


def seasonal_terms(position: np.ndarray, period: int, kind: str, harmonics: int = 2) -> tuple[np.ndarray, list[str]]:
    """Seasonal regressors for periods at ``position`` (0 .. period-1) in the year.

    ``fourier``: ``sin(2 pi k s / P)`` and ``cos(2 pi k s / P)`` for ``k = 1 .. harmonics`` (the sine of the Nyquist
    harmonic ``k = P/2`` is identically zero and is left out). ``dummies``: one indicator per period of the year except
    the one of the series' first period (the reference). ``none``: no columns.
    """
    s = np.asarray(position, dtype=float)
    if kind == "none" or period <= 1:
        return np.empty((len(s), 0)), []
    if kind == "fourier":
        k = np.arange(1, harmonics + 1)
        ang = 2 * np.pi * s[:, None] * k[None, :] / period
        cols, names = [], []
        for j, kk in enumerate(k):
            if 2 * kk != period:
                cols.append(np.sin(ang[:, j]))
                names.append(f"sin{kk}")
            cols.append(np.cos(ang[:, j]))
            names.append(f"cos{kk}")
        return np.column_stack(cols), names
    ref = int(position[0])
    levels = [v for v in range(period) if v != ref]
    X = (np.asarray(position)[:, None] == np.asarray(levels)[None, :]).astype(float)
    return X, [f"season{v + 1}" for v in levels]


def segment_terms(n_periods: int, t0: int, slope: bool = True) -> tuple[np.ndarray, list[str]]:
    """Intercept, trend, level-change indicator and (optionally) slope-change terms for ``T`` periods."""
    t = np.arange(n_periods, dtype=float)
    post = (t >= t0).astype(float)
    cols = [np.ones(n_periods), t, post]
    names = ["const", "time", "level"]
    if slope:
        cols.append((t - t0) * post)
        names.append("slope")
    return np.column_stack(cols), names


@dataclass
class SeriesData:
    """The series an ITS is fitted to (one value per period)."""

    y: np.ndarray
    population: np.ndarray | None
    units: list[str]
    control_y: np.ndarray | None = None
    control_population: np.ndarray | None = None
    control_units: list[str] = field(default_factory=list)
    pooling: str = "sum"


@dataclass
class FitOutput:
    """What the model-fitting step returns."""

    model: Any
    params: np.ndarray
    cov: np.ndarray
    df: float | None
    nb_alpha: float | None
    scale: float
    notes: list[str]


# --------------------------------------------------------------------------------------------------------------
# argument checks
def _choice(value: Any, allowed: tuple[str, ...], key: str, what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise EstimationError(f"methods.its.{key} is {value!r}; use one of {', '.join(allowed)} ({what}).")
    return value


def intervention_index(design: Design, intervention: Any, units_treated_g: np.ndarray, labels: list[str] | None = None) -> int:
    """Period index of the intervention in the design's window.

    Strings are period labels (``2017-07``, ``2017Q3``, ``2017/18``) or dates inside a period (``2017-07-01``);
    integers are period indexes (0-based), except in panels with integer time, where an integer equal to one of the
    periods (such as a year) is that period.
    """
    panel = design.panel
    labels = panel.period_labels if labels is None else labels
    T = len(labels)
    span = f"{labels[0]} to {labels[-1]}"
    if intervention is None:
        finite = units_treated_g[np.isfinite(units_treated_g)]
        if finite.size == 0:
            raise EstimationError("methods.its.intervention is not set and none of the series' units is treated within the window; give the intervention period (such as 2017-07).")
        return int(finite.min())
    if isinstance(intervention, (bool, np.bool_)):
        raise EstimationError(f"methods.its.intervention is {intervention!r}; give a period label such as {labels[min(3, T - 1)]} or a period index.")
    if isinstance(intervention, (int, np.integer)):
        val = int(intervention)
        if panel.frequency == "integer" and str(val) in labels:
            return labels.index(str(val))
        if not 0 <= val < T:
            raise EstimationError(f"methods.its.intervention {val} is outside the series ({T} periods, {span}); choose a period inside it.")
        return val
    text = str(intervention).strip()
    if text in labels:
        return labels.index(text)
    if panel.frequency != "integer":
        try:
            lab = label(pd.Period(text, FREQ_CODES[panel.frequency]), panel.frequency)
        except (ValueError, TypeError):
            raise EstimationError(f"methods.its.intervention {text!r} is not a period; give a label such as {labels[min(3, T - 1)]} (the series runs {span}).") from None
        if lab in labels:
            return labels.index(lab)
    raise EstimationError(f"methods.its.intervention {text!r} is outside the series ({span}); choose a period inside it.")


def _series(design: Design, outcome: str, units: Any, control: str) -> tuple[SeriesData, str, np.ndarray]:
    """Pool the chosen units (and the comparison units) into one series each."""
    panel = design.panel
    # unit ids as one string array (vectorised lookups: a per-unit ITS on thousands of small areas calls this once
    # per unit, so nothing here loops over the units in Python, and a per-unit series reads only its own rows)
    all_units = np.asarray(panel.units).astype(str)
    if units is None:
        sel = design.treated.copy()
        group = "pooled"
    else:
        wanted = [units] if isinstance(units, str) else [str(u) for u in units]
        if not wanted:
            raise EstimationError("methods.its.units is an empty list; give unit ids, or leave it unset to pool all treated units.")
        if len(wanted) <= 8:  # a few units (one per call in 04_its): comparisons, no sort of every unit id
            hits = [all_units == w for w in wanted]
            unknown = [w for w, h in zip(wanted, hits) if not h.any()]
            sel = np.logical_or.reduce(hits)
        else:
            unknown = [u for u, ok in zip(wanted, np.isin(wanted, all_units)) if not ok]
            sel = np.isin(all_units, wanted)
        if unknown:
            raise EstimationError(f"methods.its.units: unit {unknown[0]!r} is not in the analysis panel; choose units such as {', '.join(all_units[:3])}.")
        group = wanted[0] if len(wanted) == 1 else "+".join(wanted)
    if not sel.any():
        raise EstimationError("methods.its.units selects no treated unit: the design has none; give unit ids with methods.its.units.")
    kind = panel.outcome_kinds.get(outcome, "count")
    pooling = "sum" if kind == "count" else "mean"
    agg = np.sum if pooling == "sum" else np.mean
    if control == "none":  # the selected units' rows of the (unit-major) panel only
        if outcome not in panel.outcomes:
            raise EstimationError(f"outcome '{outcome}' is not in the panel; choose from {', '.join(panel.outcomes)} (data.outcomes).")
        idx = np.flatnonzero(sel)
        T = len(panel.period_labels)
        rows = (idx[:, None] * T + np.arange(T)[None, :]).ravel()
        y_all = np.zeros((sel.size, T))
        y_all[idx] = panel.data[outcome].to_numpy(dtype=float)[rows].reshape(idx.size, T)
        if np.isnan(y_all[idx]).any():
            bad = all_units[idx[np.isnan(y_all[idx]).any(axis=1)]][0]
            raise EstimationError(f"unit {bad} has missing cells of '{outcome}', and an interrupted time series needs its full series; leave it out (or set data.missing: drop_units).")
        pop = None
        if panel.has_population:
            pop = np.zeros((sel.size, T))
            pop[idx] = panel.data["population"].to_numpy(dtype=float)[rows].reshape(idx.size, T)
    else:
        y_all, _ = outcome_matrix(design, outcome)
        pop = panel.matrix("population") if panel.has_population else None
    data = SeriesData(
        y=agg(y_all[sel], axis=0),
        population=None if pop is None else pop[sel].sum(axis=0),
        units=all_units[sel].tolist(),
        pooling=pooling,
    )
    if control == "pooled":
        ctrl = ~design.treated & ~sel
        if not ctrl.any():
            raise EstimationError("methods.its.control is 'pooled' but no unit is untreated throughout the window; use control: none or a design with comparison units (widen the window or change treatment.waves).")
        data.control_y = agg(y_all[ctrl], axis=0)
        data.control_population = None if pop is None else pop[ctrl].sum(axis=0)
        data.control_units = all_units[ctrl].tolist()
    return data, group, design.g[sel]


# --------------------------------------------------------------------------------------------------------------
# fitting
def _nb_alpha(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None, start: np.ndarray) -> tuple[float, str]:
    """NB2 dispersion by maximum likelihood: statsmodels' discrete NegativeBinomial, else the GLM profile likelihood."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("bfgs", "newton"):
            try:
                r = sm.NegativeBinomial(y, X, loglike_method="nb2", offset=offset).fit(start_params=np.r_[start, 0.1], method=method, maxiter=500, disp=0)
            except (np.linalg.LinAlgError, ValueError):
                continue
            a = float(r.params[-1])
            if r.mle_retvals.get("converged", False) and np.isfinite(a) and a > 0 and np.isfinite(r.llf):
                return a, f"discrete NegativeBinomial MLE ({method})"

        def negll(log_a: float) -> float:
            fam = sm.families.NegativeBinomial(link=sm.families.links.Log(), alpha=float(np.exp(log_a)))
            return -sm.GLM(y, X, family=fam, offset=offset).fit().llf

        opt = optimize.minimize_scalar(negll, bounds=(-18.0, 5.0), method="bounded")
    return float(np.exp(opt.x)), "GLM profile likelihood"


def _fit(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None, family: str, robust: bool, lags: int, time_idx: np.ndarray, controlled: bool, per_series_df: int) -> FitOutput:
    """Fit the segmented model; returns coefficients, their covariance and the degrees of freedom for intervals."""
    notes: list[str] = []
    if robust:
        if controlled:
            cov_type, cov_kwds = "hac-groupsum", {"time": time_idx, "maxlags": lags, "use_correction": "hac", "df_correction": False}
        else:
            cov_type, cov_kwds = "HAC", {"maxlags": lags, "use_correction": True}
    else:
        cov_type, cov_kwds = "nonrobust", {}
    nb_alpha = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if family == "gaussian":
            model = sm.OLS(y, X).fit(cov_type=cov_type, cov_kwds=cov_kwds) if robust else sm.OLS(y, X).fit()
            df: float | None = float(per_series_df) if robust else float(model.df_resid)
            scale = float(model.scale)
        else:
            glm_kw: dict[str, Any] = {"cov_type": cov_type, "cov_kwds": cov_kwds} if robust else {}
            if family in ("poisson", "quasipoisson"):
                fam = sm.families.Poisson()
            else:
                start = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit().params
                nb_alpha, how = _nb_alpha(y, X, offset, start)
                notes.append(f"Negative binomial dispersion alpha = {nb_alpha:.4g} ({how}).")
                if nb_alpha < 1e-6:
                    notes.append("The counts show no overdispersion (alpha at its lower bound): the negative binomial model is the Poisson model.")
                fam = sm.families.NegativeBinomial(link=sm.families.links.Log(), alpha=nb_alpha)
            if family == "quasipoisson":
                model = sm.GLM(y, X, family=fam, offset=offset).fit(scale="X2", **glm_kw)
            else:
                model = sm.GLM(y, X, family=fam, offset=offset).fit(**glm_kw)
            scale = float(model.scale)
            df = float(model.df_resid) if (family == "quasipoisson" and not robust) else None
    msgs = sorted({str(w.message).split("\n")[0] for w in caught if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))})
    notes.extend(f"statsmodels warned: {m}" for m in msgs[:3])
    params = np.asarray(model.params, dtype=float)
    cov = np.asarray(model.cov_params(), dtype=float)
    if not np.all(np.isfinite(params)) or not np.all(np.isfinite(np.diag(cov))):
        raise EstimationError(f"the {family} ITS model did not converge (non-finite estimates); check methods.its.family, or use seasonality: none or a longer series.")
    return FitOutput(model=model, params=params, cov=cov, df=df, nb_alpha=nb_alpha, scale=scale, notes=notes)


# --------------------------------------------------------------------------------------------------------------
WHAT = "interrupted time series (a summed series)"


def its(
    design: Design,
    outcome: str,
    *,
    intervention: Any = None,
    units: str | Sequence[str] | None = None,
    control: str = "none",
    family: str = "gaussian",
    seasonality: str = "fourier",
    harmonics: int = 2,
    hac_lags: int | None = None,
    robust: bool | None = None,
    offset: bool = True,
    horizons: Sequence[int] | None = None,
    alpha: float = 0.05,
    days_in_month: bool = False,
) -> "ItsResult":
    """Interrupted time series: segmented regression with a level and a slope change, optionally controlled.

    Estimand
        The change in the level (at the intervention period) and in the slope (per period) of the treated series,
        relative to its pre-intervention trend and seasonality projected forward (``control="none"``), or relative
        to the change in a comparison series at the same date (``control="pooled"``, controlled ITS); and the
        effect over the post period, as the fitted minus counterfactual series (absolute difference) and, for log
        link families, as a rate ratio. The counterfactual is the fitted series with the treated-series
        intervention terms set to zero.

    Assumptions
        Nothing else changed the outcome at the intervention (for controlled ITS: nothing that affected the treated
        and comparison series differently); the pre-intervention trend and seasonality would have continued
        (for controlled ITS: the difference between the series would have followed its pre-period trend); the
        functional form is right (linear trend on the model scale, level and slope change starting exactly at the
        intervention, no anticipation or phase-in); the outcome's measurement did not change; for the pooled series
        of staggered cohorts, later cohorts are still untreated at the intervention, which dilutes the effect.

    Inference
        Newey-West (HAC) standard errors for Gaussian models (Driscoll-Kraay for the stacked controlled model) with
        t intervals; model-based (Poisson, negative binomial) or Pearson-scaled (quasi-Poisson) standard errors for
        count models, HAC on request (``robust=True``). Effects on the outcome scale by the delta method. See the
        module docstring for the exact conventions.

    Parameters
    ----------
    design
        The design; its window is the series' span.
    outcome
        Outcome column.
    intervention
        Period label (``"2017-07"``), a date inside a period, or a 0-based period index. Default: the first treated
        period of the earliest cohort among the series' units.
    units
        Units pooled into the treated series: ``None`` = all units treated within the window; or a unit id / list
        of unit ids (one unit gives a per-footprint ITS). Counts are summed, other outcomes averaged; population is
        summed.
    control
        ``"none"`` (single-series ITS) or ``"pooled"``: the units untreated throughout the window, pooled the same
        way, as the comparison series of a controlled ITS.
    family
        ``"gaussian"`` (OLS), ``"poisson"``, ``"quasipoisson"`` or ``"negbin"`` (NB2), the last three with a log link.
    seasonality
        ``"fourier"`` (``harmonics`` sine/cosine pairs of period 12 for months, 4 for quarters), ``"dummies"``
        (period-of-year indicators) or ``"none"``. Annual and integer-time series have no seasonality.
    harmonics
        Number of Fourier harmonics, 1 .. P/2.
    hac_lags
        Newey-West truncation lag; ``None`` = ``floor(4 (T/100)^(2/9))``.
    robust
        HAC covariance. ``None`` = yes for ``gaussian``, no for count families.
    offset
        Use ``log(population)`` as an offset in count models when the panel has a population column and the outcome
        is a count.
    horizons
        Extra post-intervention horizons (0 = the intervention period) at which to report the effect
        (``effect_at`` rows, and ``rate_ratio_at`` for log link).
    alpha
        1 - confidence level.
    days_in_month
        Monthly data only: remove the calendar's month-length variation — for log-link families an offset of
        ``log(days / 30.4375)``, for the Gaussian family the series restated per average-length month
        (``y x 30.4375 / days``, observed and fitted alike). ``False`` fits the unadjusted model.

    Returns
    -------
    ItsResult
        ``tidy()`` rows with method ``its`` and estimands ``level_change``, ``slope_change``, ``rate_ratio_post``
        (log link), ``abs_diff_post``, ``effect_at_end`` (plus ``rate_ratio_end`` for log link and any horizon rows);
        ``counterfactual`` frame; ``diagnostics()``; ``acf``/``pacf``; ``plot()``.

    Raises
    ------
    EstimationError
        Unknown family, seasonality or control; an intervention outside the series; fewer than 3 pre-intervention
        periods (or than one seasonal cycle with seasonality); negative values under a log link or a series that is
        zero throughout the pre- or post-period; no comparison units for ``control="pooled"``.
    """
    from .results import ItsResult

    family = _choice(family, FAMILIES, "family", "the outcome model")
    seasonality = _choice(seasonality, SEASONALITIES, "seasonality", "how seasonality is modelled")
    control = _choice(control, CONTROLS, "control", "the comparison series")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise EstimationError(f"methods.its.alpha is {alpha!r}; give a number between 0 and 1 such as 0.05.")
    # data.missing: allow — pooled series need complete units (the design restricted to them, and a sentence); a
    # per-unit series (control "none") checks only its own units' cells. Context: the check over the whole panel
    # cost O(units x periods) per call, and 04_its calls this once per treated unit (6,000 calls on 30,000 areas).
    if units is None or control == "pooled":
        design, missing_note = complete_units(design, [outcome], WHAT)
    else:
        missing_note = ""
    panel = design.panel
    periods = panel.periods
    labels = period_labels(periods, panel.frequency)
    T = len(labels)
    data, group, g_sel = _series(design, outcome, units, control)
    t0 = intervention_index(design, intervention, g_sel, labels)
    day_factor = None
    if days_in_month:
        if panel.frequency == "month":
            days = np.array([pd.Period(str(x), "M").days_in_month for x in labels], dtype=float)
            day_factor = days / 30.4375
        else:
            days_in_month = False
    n_pre, n_post = t0, T - t0
    notes: list[str] = []

    # seasonality
    P = SEASON_PERIOD.get(panel.frequency, 1)
    position = season_position(periods, panel.frequency)
    if seasonality != "none" and position is None:
        notes.append(f"No seasonal terms: the series is {'annual' if panel.frequency in ('year', 'fy') else 'indexed by integers'}.")
        seasonality = "none"
    if seasonality == "fourier":
        if isinstance(harmonics, bool) or not isinstance(harmonics, (int, np.integer)) or not 1 <= int(harmonics) <= P // 2:
            raise EstimationError(f"methods.its.harmonics is {harmonics!r}; give a whole number from 1 to {P // 2} for {panel.frequency}ly data.")
        harmonics = int(harmonics)
    need_pre = max(MIN_PRE, P if seasonality != "none" else 0)
    if n_pre < need_pre:
        why = f" with {seasonality} seasonality (one full year of {P} periods)" if seasonality != "none" else ""
        raise EstimationError(
            f"methods.its.intervention {labels[t0]} leaves {n_pre} pre-intervention period(s) but the ITS needs at least {need_pre}{why};"
            f" choose a later intervention, an earlier design.start{', or seasonality: none' if seasonality != 'none' else ''}."
        )
    if n_post < MIN_POST:
        raise EstimationError(f"methods.its.intervention {labels[t0]} leaves no post-intervention period; choose an earlier intervention or a later design.end.")
    slope = n_post >= 2
    if not slope:
        notes.append(f"Only one post-intervention period ({labels[t0]}): the slope change is not identified and is not estimated.")

    seg, seg_names = segment_terms(T, t0, slope=slope)
    seas, seas_names = seasonal_terms(position, P, seasonality, harmonics) if seasonality != "none" else (np.empty((T, 0)), [])
    base = np.column_stack([seg, seas])
    base_names = seg_names + seas_names
    p = base.shape[1]
    if T - p < 1:
        raise EstimationError(f"the series has {T} periods but the model has {p} parameters; use fewer methods.its.harmonics, seasonality: none, or a longer window.")

    # offset and outcome checks
    log_link = family in LOG_LINK
    kind = panel.outcome_kinds.get(outcome, "count")
    use_offset = bool(offset) and log_link and panel.has_population and kind == "count"
    if bool(offset) and log_link and not panel.has_population:
        notes.append("No population column: the count model has no offset (it models counts, not rates).")
    if bool(offset) and log_link and panel.has_population and kind != "count":
        notes.append(f"Outcome '{outcome}' is a {kind}, so no population offset is used.")
    series_list = [("treated", data.y, data.population)] + ([("control", data.control_y, data.control_population)] if control == "pooled" else [])
    for name, yy, pop in series_list:
        which = "treated series" if name == "treated" else "comparison series"
        if log_link:
            if (yy < 0).any():
                raise EstimationError(f"outcome '{outcome}' has negative values in the {which}, which a {family} model (log link) cannot fit; use methods.its.family: gaussian.")
            if yy[:t0].sum() <= 0 or yy[t0:].sum() <= 0:
                part = "pre" if yy[:t0].sum() <= 0 else "post"
                raise EstimationError(f"outcome '{outcome}' is zero in every {part}-intervention period of the {which}, so a {family} model (log link) has no finite rate ratio; use methods.its.family: gaussian or other units.")
        if use_offset and (pop is None or not np.all(np.isfinite(pop)) or (pop <= 0).any()):
            raise EstimationError(f"the population of the {which} has zero or negative values, so log(population) cannot be an offset; fix data.population or set methods.its.offset: false.")

    if day_factor is not None and not log_link:  # Gaussian: per average-length month, observed and fitted alike
        data.y = data.y / day_factor
        if data.control_y is not None:
            data.control_y = data.control_y / day_factor
    # design matrix
    controlled = control == "pooled"
    if controlled:
        zeros = np.zeros_like(base)
        X = np.vstack([np.column_stack([base, base]), np.column_stack([base, zeros])])
        names = base_names + [f"treated:{n}" if n != "const" else "treated" for n in base_names]
        y = np.concatenate([data.y, data.control_y])
        off = np.log(np.concatenate([data.population, data.control_population])) if use_offset else None
        time_idx = np.concatenate([np.arange(T), np.arange(T)])
        effect_cols = [names.index(f"treated:{n}") for n in INTERVENTION_TERMS if n in seg_names]
    else:
        X, names, y = base, list(base_names), data.y
        off = np.log(data.population) if use_offset else None
        time_idx = np.arange(T)
        effect_cols = [names.index(n) for n in INTERVENTION_TERMS if n in seg_names]
    if day_factor is not None and log_link:  # count families: month length as an offset
        extra = np.log(np.tile(day_factor, 2 if controlled else 1))
        off = extra if off is None else off + extra
    if day_factor is not None:
        notes.append("Days-in-month adjustment: " + ("an offset of log(days in month / 30.4375)" if log_link else "the series per average-length month (x 30.4375 / days)") + " (methods.its.days_in_month).")
    robust_ = (family == "gaussian") if robust is None else bool(robust)
    if hac_lags is None:
        lags = hac_lag_rule(T)
    elif isinstance(hac_lags, bool) or not isinstance(hac_lags, (int, np.integer)) or not 0 <= int(hac_lags) < T - 1:
        raise EstimationError(f"methods.its.hac_lags is {hac_lags!r}; give a whole number from 0 to {T - 2}, or leave it unset for floor(4 (T/100)^(2/9)).")
    else:
        lags = int(hac_lags)
    fit = _fit(y, X, off, family, robust_, lags, time_idx, controlled, T - p)
    notes.extend(fit.notes)

    # effects on the treated series
    Xt = X[:T]
    Xcf = Xt.copy()
    Xcf[:, effect_cols] = 0.0
    off_t = off[:T] if off is not None else np.zeros(T)
    b, V = fit.params, fit.cov
    eta, eta_cf = Xt @ b + off_t, Xcf @ b + off_t
    inv = np.exp if log_link else (lambda v: v)
    mu, mu_cf = inv(eta), inv(eta_cf)
    se_cf = np.sqrt(np.einsum("ij,jk,ik->i", Xcf, V, Xcf))
    post = np.arange(T) >= t0
    dmu = (mu[:, None] * Xt) if log_link else Xt
    dmu_cf = (mu_cf[:, None] * Xcf) if log_link else Xcf

    # every reported effect is a smooth function of b: rows of (estimand, estimate, gradient, period, event time, ratio)
    k = len(b)
    specs: list[tuple[str, float, np.ndarray, str | None, int | None, bool]] = []
    lev = np.eye(k)[effect_cols[0]]
    specs.append(("level_change", float(b @ lev), lev, labels[t0], 0, False))
    if slope:
        slp = np.eye(k)[effect_cols[1]]
        specs.append(("slope_change", float(b @ slp), slp, labels[t0], None, False))
    if log_link:
        tot, tot_cf = mu[post].sum(), mu_cf[post].sum()
        g_rr = dmu[post].sum(0) / tot - dmu_cf[post].sum(0) / tot_cf
        specs.append(("rate_ratio_post", float(tot / tot_cf), g_rr, None, None, True))
    specs.append(("abs_diff_post", float((mu - mu_cf)[post].mean()), (dmu - dmu_cf)[post].mean(0), None, None, False))
    last = T - 1
    specs.append(("effect_at_end", float(mu[last] - mu_cf[last]), dmu[last] - dmu_cf[last], labels[last], last - t0, False))
    if log_link:
        specs.append(("rate_ratio_end", float(np.exp(eta[last] - eta_cf[last])), Xt[last] - Xcf[last], labels[last], last - t0, True))
    for h in list(horizons or []):
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or not 0 <= int(h) < n_post:
            raise EstimationError(f"methods.its.horizons has {h!r}; give post-intervention horizons from 0 (the intervention period) to {n_post - 1}.")
        i = t0 + int(h)
        specs.append(("effect_at", float(mu[i] - mu_cf[i]), dmu[i] - dmu_cf[i], labels[i], int(h), False))
        if log_link:
            specs.append(("rate_ratio_at", float(np.exp(eta[i] - eta_cf[i])), Xt[i] - Xcf[i], labels[i], int(h), True))
    est = np.array([sp[1] for sp in specs])
    G = np.vstack([sp[2] for sp in specs])
    ratio = np.array([sp[5] for sp in specs])
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, V, G))  # delta method; for ratios, se of the log ratio
    centre = np.where(ratio, np.log(np.where(ratio, est, 1.0)), est)
    lo, hi, pv = normal_inference(centre, se, alpha, fit.df)
    grp = f"{group}|controlled" if controlled else group
    n_units = len(data.units) + len(data.control_units)
    n_rows = len(specs)
    tidy = pd.DataFrame(
        {
            "method": ["its"] * n_rows,
            "outcome": [outcome] * n_rows,
            "estimand": [sp[0] for sp in specs],
            "period": [sp[3] for sp in specs],
            "event_time": [sp[4] for sp in specs],
            "estimate": est,
            "std_error": np.where(ratio, est * se, se),
            "ci_lower": np.where(ratio, np.exp(np.where(ratio, lo, 0.0)), lo),  # exp only where the row is a ratio
            "ci_upper": np.where(ratio, np.exp(np.where(ratio, hi, 0.0)), hi),
            "p_value": pv,
            "group": [grp] * n_rows,
            "n_obs": [T] * n_rows,
            "n_units": [n_units] * n_rows,
        }
    )

    cf_lo_eta, cf_hi_eta, _ = normal_inference(eta_cf, se_cf, alpha, fit.df)
    counterfactual = pd.DataFrame(
        {"period": labels, "observed": data.y, "fitted": mu, "counterfactual": mu_cf, "cf_lower": inv(cf_lo_eta), "cf_upper": inv(cf_hi_eta)}
    )
    control_frame = None
    if controlled:
        mu_all = np.asarray(fit.model.fittedvalues, dtype=float)
        control_frame = pd.DataFrame({"period": labels, "observed": data.control_y, "fitted": mu_all[T:]})
    if family == "gaussian":
        resid = np.asarray(fit.model.resid, dtype=float)
    else:
        resid = np.asarray(fit.model.resid_pearson, dtype=float)
    residuals = {"treated": resid[:T]}
    if controlled:
        residuals["control"] = resid[T:]
        if family == "gaussian":
            residuals["difference"] = resid[:T] - resid[T:]  # residuals of the treated-minus-comparison regression

    n_pooled = len(data.units)
    cohorts = sorted({int(v) for v in g_sel[np.isfinite(g_sel)]})
    if len(cohorts) > 1:
        notes.append(f"The treated series pools units from {len(cohorts)} cohorts ({', '.join(labels[c] for c in cohorts)}); units treated after {labels[t0]} are still untreated at the intervention, which dilutes the estimated change.")
    if n_pooled > 1:
        notes.append(f"The treated series is the {data.pooling} of {n_pooled} units{' (population summed)' if panel.has_population else ''}.")
    if controlled:
        notes.append(f"The comparison series is the {data.pooling} of {len(data.control_units)} units untreated throughout the window.")
    description = _description(family, seasonality, harmonics, controlled, robust_, lags, use_offset, fit, alpha)
    info = {
        "family": family,
        "seasonality": seasonality,
        "harmonics": harmonics if seasonality == "fourier" else None,
        "control": control,
        "group": grp,
        "intervention": labels[t0],
        "intervention_index": t0,
        "n_pre": n_pre,
        "n_post": n_post,
        "hac_lags": lags,
        "robust": robust_,
        "offset": use_offset,
        "nb_alpha": fit.nb_alpha,
        "scale": fit.scale,
        "df": fit.df,
        "season_period": P,
        "units": data.units,
        "control_units": data.control_units,
        "pooling": data.pooling,
        "frequency": panel.frequency,
    }
    exog = pd.DataFrame(X, columns=names)
    result = ItsResult(
        tidy,
        outcome=outcome,
        description=description,
        alpha=alpha,
        counterfactual=counterfactual,
        control_series=control_frame,
        model=fit.model,
        exog=exog,
        endog=y,
        offset=off,
        base_exog=pd.DataFrame(base, columns=base_names),
        residuals=residuals,
        info=info,
        notes=notes,
    )
    return attach(result, missing_note) if missing_note else result


def _description(family: str, seasonality: str, harmonics: int, controlled: bool, robust: bool, lags: int, use_offset: bool, fit: FitOutput, alpha: float) -> str:
    fam = {
        "gaussian": "Gaussian segmented regression (OLS)",
        "poisson": "Poisson segmented regression (log link)",
        "quasipoisson": "quasi-Poisson segmented regression (log link, Pearson-scaled variance)",
        "negbin": f"negative binomial (NB2, alpha = {fit.nb_alpha:.3g} by maximum likelihood) segmented regression (log link)" if fit.nb_alpha is not None else "negative binomial segmented regression",
    }[family]
    seas = {"fourier": f"{harmonics} Fourier harmonic(s)", "dummies": "period-of-year dummies", "none": "no seasonal terms"}[seasonality]
    if robust:
        inf = f"Driscoll-Kraay (Newey-West over periods of the scores summed across the two series, lag {lags})" if controlled else f"Newey-West HAC (Bartlett, lag {lags})"
    elif family == "quasipoisson":
        inf = "model-based, scaled by the Pearson dispersion"
    else:
        inf = "model-based"
    dist = f"t with {fit.df:g} df" if fit.df is not None else "normal"
    what = (
        "Estimand: the change in level and slope of the treated series at the intervention relative to the same change in the pooled comparison series (controlled ITS)"
        if controlled
        else "Estimand: the change in level and slope of the series at the intervention relative to its projected pre-intervention trend (ITS)"
    )
    return (
        f"{what}, and the post-period effect as fitted minus counterfactual{' and as a rate ratio' if family in LOG_LINK else ''}. "
        f"Model: {fam} with {seas}{', log population offset' if use_offset else ''}. "
        "Assumes no other change at the intervention, a stable trend and seasonality, and a correct functional form. "
        f"Inference: {inf} standard errors, {dist} intervals ({100 * (1 - alpha):.0f}%); effects on the outcome scale by the delta method."
    )
