"""Synthetic difference-in-differences (SDID) and synthetic control.

SDID (Arkhangelsky, Athey, Hirshberg, Imbens and Wager 2021, AER 111(12))
    Estimand: the average effect on the treated units over their post-treatment periods in the window (ATT),
    ``tau = mean_{i treated, t post} [Y_it(1) - Y_it(0)]``. Method: the treatment coefficient of a two-way fixed
    effects regression weighted by unit weights ``omega_i`` (treated units ``1/N_tr``) times time weights
    ``lambda_t`` (post-periods ``1/T_post``). ``omega`` makes the weighted controls' pre-period path parallel to the
    treated units' mean path (Frank-Wolfe on the simplex with an intercept ``omega_0`` and ridge
    ``zeta = (N_tr T_post)^(1/4) sigma``, ``sigma`` the standard deviation of the controls' first differences in the
    pre-period); ``lambda`` makes the weighted pre-periods predict the controls' post-period mean (intercept, ridge
    ``1e-6 sigma``). Defaults follow the reference R package ``synthdid`` (10,000 iterations at most, stopping
    decrease ``1e-5 sigma``, the two-pass sparsification of weights below a quarter of the largest).
    Assumptions: the treated units' untreated outcomes follow the weighted controls' path up to a constant
    (parallel trends after weighting), no anticipation, and controls untreated throughout the window (no
    spillovers). The synthetic control (``estimator="sc"``: no intercept, ``lambda = 0``, a vanishing ridge) and
    the plain difference-in-differences (``estimator="did"``: uniform weights) are computed by the same code
    path with synthdid's ``sc_estimate`` / ``did_estimate`` settings.

Staggered adoption
    Each cohort (first treated period ``c``) is its own block: its treated units against the units untreated
    throughout the window, over every period of the window (pre-periods ``0..c-1``, post-periods ``c..T-1``), as
    in the staggered extension of Clarke, Pailañir, Athey and Imbens (2024, Stata ``sdid``). The overall ATT
    averages the cohort estimates with weights proportional to each cohort's treated unit-periods
    ``N_tr,c x T_post,c`` (``details["cohort_weights"]``). Inference re-runs every cohort in each draw (see
    :mod:`evidence.synth.inference`).

Classic synthetic control (Abadie, Diamond and Hainmueller 2010)
    :func:`synthetic_control` fits, for each treated unit, donor weights ``w >= 0`` summing to one (no intercept, no
    regularisation) on the pre-period outcomes, or on a predictor matrix with ADH's diagonal predictor weights
    ``V`` chosen to minimise the pre-period outcome MSPE. The effect is the mean post-period gap between the unit
    and its synthetic control; inference is placebo-in-space over the donors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._blas import limit_blas_threads
from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..results import normal_inference
from . import inference as inf
from .results import SynthResult
from .weights import KINDS, block_contrast, block_weights, sc_predictor_weights, simplex_lsq
from .weights import noise_level as _noise_level
from ..missing import balanced_only

METHODS: dict[str, str] = {"sdid": "sdid", "sc": "sc_sdid_form", "did": "did_sdid_form"}
INFERENCE: tuple[str, ...] = ("placebo", "jackknife", "bootstrap", "none")

DESCRIPTIONS: dict[str, str] = {
    "sdid": (
        "Synthetic difference-in-differences (Arkhangelsky et al. 2021): ATT over the post-treatment periods from a two-way "
        "fixed effects regression weighted by unit weights (controls matched to the treated pre-period path up to a constant, "
        "ridge-regularised) and time weights (pre-periods matched to the post-period). Assumes parallel trends after weighting, "
        "no anticipation and untreated controls. Staggered cohorts are estimated one by one against never-treated units and "
        "averaged by treated unit-periods."
    ),
    "sc": (
        "Synthetic control in SDID form (synthdid's sc_estimate): unit weights without intercept fitted to the treated "
        "pre-period path, no time weights; the ATT is the mean post-period gap. Assumes the weighted controls reproduce the "
        "treated units' untreated path in levels."
    ),
    "did": (
        "Difference-in-differences in SDID form (synthdid's did_estimate): uniform unit and time weights; equals the 2x2 "
        "comparison of pre/post means. Assumes parallel trends with the unweighted controls."
    ),
    "synthetic_control": (
        "Synthetic control (Abadie, Diamond and Hainmueller 2010): each treated unit is compared with a convex combination "
        "of donor units (never treated in the window) fitted on pre-period outcomes or predictors; the effect is the mean "
        "post-period gap. Assumes the synthetic control reproduces the unit's untreated path; placebo-in-space inference."
    ),
}

INFERENCE_TEXT: dict[str, str] = {
    "placebo": "Standard errors: placebo (AAHIW Algorithm 4) — controls reassigned at random to play the treated block, weights re-estimated, SE = sd of the placebo estimates (times sqrt((r-1)/r)); normal intervals.",
    "jackknife": "Standard errors: leave-one-unit-out jackknife with the estimated weights held fixed (AAHIW Algorithm 3); normal intervals.",
    "bootstrap": "Standard errors: unit bootstrap (AAHIW Algorithm 2), weights re-estimated in each draw, draws without a treated or a control unit redrawn; normal intervals.",
    "none": "No standard errors (inference: none).",
}


@dataclass
class CohortFit:
    """One treated block: a cohort's treated units against the controls, with its weights and estimate."""

    c: int
    label: str
    tr: np.ndarray  # row indices of the treated units
    co: np.ndarray  # row indices of the controls
    kind: str
    tau: float = np.nan
    omega: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lam: np.ndarray = field(default_factory=lambda: np.zeros(0))
    noise: float = np.nan
    zeta_omega: float = np.nan
    zeta_lambda: float = np.nan
    min_decrease: float = np.nan
    iterations: tuple[int, int] = (0, 0)

    @property
    def n_tr(self) -> int:
        return int(self.tr.size)


# ---- preparation and checks ------------------------------------------------------------------------------------------
def _check_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise EstimationError(f"{name}={value!r} is not recognised; use one of {', '.join(choices)}.")


def _check_alpha(alpha: float) -> None:
    if not (0 < float(alpha) < 1):
        raise EstimationError(f"alpha={alpha!r} must be between 0 and 1 (for example 0.05 for 95% intervals).")


def _select_treated(design: Design, units: list | tuple | np.ndarray | str | None, what: str) -> np.ndarray:
    """Boolean per unit: treated units used (all treated, or those listed in ``units``)."""
    treated = design.treated.copy()
    if units is None:
        return treated
    wanted = [units] if isinstance(units, str) else list(units)
    ids = pd.Index(design.panel.units.astype(str))
    tr_ids = set(ids[treated])
    bad = [u for u in map(str, wanted) if u not in tr_ids]
    if bad:
        choices = ", ".join(sorted(tr_ids)[:8])
        raise EstimationError(f"{what}: units={bad[0]!r} is not a treated unit of the design; choose treated units such as {choices}{' ...' if len(tr_ids) > 8 else ''}.")
    if not wanted:
        raise EstimationError(f"{what}: units is empty; give at least one treated unit, or units=None for all.")
    return np.asarray(ids.isin([str(u) for u in wanted])) & treated


def _check_complete(Y: np.ndarray, rows: np.ndarray, design: Design, outcome: str, role: str, what: str) -> None:
    bad = ~np.isfinite(Y[rows])
    if bad.any():
        i, t = np.argwhere(bad)[0]
        unit = design.panel.units[rows[i]]
        period = design.panel.period_labels[t]
        raise EstimationError(f"{what}: outcome '{outcome}' is missing for {role} unit {unit} at {period}; {what} needs complete outcomes for every unit it uses — fill the value, drop the unit or shorten the window.")


def _prepare(design: Design, outcome: str, log: bool, units, what: str, min_pre: int = 2):  # noqa: ANN001
    """Outcome matrix, treated cohorts (row indices) and controls, with the checks every estimator needs."""
    Y, label = outcome_matrix(design, outcome, log)
    use = _select_treated(design, units, what)
    g = design.g
    co = np.flatnonzero(~np.isfinite(g))
    if co.size == 0:
        raise EstimationError(f"{what}: the donor pool is empty — no unit is untreated throughout the window; shorten the window (design.end) so that later-treated units serve as controls, or use the staggered DiD estimators.")
    labels = design.panel.period_labels
    cohorts = np.unique(g[use]).astype(int)
    for c in cohorts:
        if c < min_pre:
            raise EstimationError(f"{what}: cohort {labels[c]} has {c} pre-period(s) in the window; at least {min_pre} are needed (the noise level uses first differences) — start the window earlier (design.start) or analyse another cohort (methods.synth.cohort).")
    tr_rows = np.flatnonzero(use)
    _check_complete(Y, tr_rows, design, outcome, "treated", what)
    _check_complete(Y, co, design, outcome, "control", what)
    return Y, label, use, co, cohorts


def _fit_block(Y: np.ndarray, fit: CohortFit, sigma: float | None = None) -> CohortFit:
    """Weights and estimate of one block (the main estimate), with synthdid's default tuning.

    ``sigma`` overrides the noise level (synthdid's ``noise.level``); by default it is the standard deviation of
    the controls' pre-period first differences.
    """
    c, kind = fit.c, fit.kind
    Yco = Y[fit.co][None]
    ybar = Y[fit.tr].mean(axis=0)[None]
    T = Y.shape[1]
    n_diff = fit.co.size * (c - 1)
    if sigma is None:
        if n_diff < 2 and kind != "did":
            raise EstimationError(f"cohort {fit.label}: only {n_diff} pre-period first difference(s) among the controls, too few to set the noise level; use more control units or pre-periods.")
        sigma = float(_noise_level(Yco[:, :, :c])[0]) if n_diff >= 2 else 0.0
    if kind == "sdid":
        zo = (fit.n_tr * (T - c)) ** 0.25 * sigma
    else:  # sc: synthdid's sc_estimate sets eta.omega = 1e-6; unused for did
        zo = 1e-6 * sigma
    zl = 1e-6 * sigma
    md = 1e-5 * sigma
    w = block_weights(Yco, ybar, c, kind, zeta_omega=zo, zeta_lambda=zl, min_decrease=md)
    fit.omega, fit.lam = w.omega[0], w.lam[0]
    fit.tau = float(block_contrast(Yco, ybar, w.omega, w.lam)[0])
    fit.noise, fit.zeta_omega, fit.zeta_lambda, fit.min_decrease = sigma, zo, zl, md
    fit.iterations = (int(w.iterations[0, 0]), int(w.iterations[0, 1]))
    return fit


def _trajectory(Y: np.ndarray, fit: CohortFit, labels: list[str]) -> pd.DataFrame:
    """Treated mean path, synthetic path (weighted controls shifted by the time-weighted pre-period gap) and gap."""
    ybar = Y[fit.tr].mean(axis=0)
    raw = fit.omega @ Y[fit.co]
    diff = ybar - raw
    shift = float(fit.lam @ diff[: fit.c])
    gap = diff - shift
    T = Y.shape[1]
    return pd.DataFrame(
        {
            "group": fit.label,
            "period": labels,
            "event_time": np.arange(T) - fit.c,
            "treated": ybar,
            "synthetic": raw + shift,
            "control_weighted": raw,
            "gap": gap,
        }
    )


def _rmspe(gap: np.ndarray, c: int) -> tuple[float, float]:
    pre = float(np.sqrt(np.mean(gap[:c] ** 2)))
    post = float(np.sqrt(np.mean(gap[c:] ** 2)))
    return pre, post


# ---- SDID and its special cases ----------------------------------------------------------------------------------
@balanced_only("synthetic difference-in-differences")
@limit_blas_threads(1)  # thousands of small products per fit: a second BLAS thread only spins (evidence._blas)
def sdid(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    estimator: str = "sdid",
    inference: str = "placebo",
    draws: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    units: list | tuple | np.ndarray | str | None = None,
    noise_level: float | None = None,
) -> SynthResult:
    """Synthetic difference-in-differences, or its synthetic-control / DiD special cases, with inference.

    Estimand: the ATT — the average over the treated units and their post-treatment periods in the window of the
    effect of treatment. With several cohorts, each cohort is estimated against the units untreated throughout the
    window, and the cohort ATTs are averaged with weights proportional to treated units x post-periods.

    Assumptions: treated units' untreated outcomes move like the (unit- and time-) weighted controls up to a
    constant; no anticipation; controls untreated throughout the window and unaffected by treatment.

    Parameters
    ----------
    design
        Analysis design (balanced panel, cohorts); controls are the units untreated throughout the window.
    outcome
        Outcome column.
    log
        Analyse log(outcome) (effects in log points).
    estimator
        ``sdid`` (default), ``sc`` (synthetic control, synthdid's ``sc_estimate``: no intercept, no time weights) or
        ``did`` (uniform weights: the 2x2 difference-in-differences). All three run the same weighted two-way code.
    inference
        ``placebo`` (default; AAHIW Algorithm 4, the only option with one treated unit), ``jackknife`` (fixed
        weights, needs two or more treated units in every cohort), ``bootstrap`` (units resampled, weights
        re-estimated) or ``none``. Applied jointly to all cohorts (every draw re-estimates every cohort and the
        cohort-weighted average); see :mod:`evidence.synth.inference`.
    draws
        Placebo or bootstrap draws.
    seed
        Seed of the random draws (``numpy.random.default_rng``); results are deterministic given the seed.
    alpha
        1 - confidence level of the normal intervals.
    units
        Restrict the treated units (for example one footprint); other treated units are left out entirely.
        Default: every treated unit of the design.
    noise_level
        The noise level ``sigma`` behind the regularisation (synthdid's ``noise.level``), for every cohort. Default:
        the standard deviation of the controls' pre-period first differences, pooled over units and periods as in
        synthdid. Given ``sigma`` the estimate is invariant to adding unit or period constants to the outcome; the
        default ``sigma`` itself is unchanged by unit constants and by linear trends, but not by arbitrary period
        effects (they add between-period variance to the first differences).

    Returns
    -------
    SynthResult
        Rows ``estimand='att'`` (``group='all'`` and one per cohort when there are several) and
        ``estimand='gap'`` (treated minus synthetic path by period, per cohort), method ``sdid``,
        ``sc_sdid_form`` or ``did_sdid_form``. Weights in ``weights_unit`` / ``weights_time``; placebo estimates in
        ``placebo``; cohort weights, tuning and diagnostics in ``details``.
    """
    _check_choice(estimator, KINDS, "estimator")
    _check_choice(inference, INFERENCE, "inference")
    _check_alpha(alpha)
    if inference in ("placebo", "bootstrap") and (isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 2):
        raise EstimationError(f"draws={draws!r}: {inference} inference needs a whole number of draws, at least 2 (200 is usual).")
    what = {"sdid": "SDID", "sc": "synthetic control (SDID form)", "did": "DiD (SDID form)"}[estimator]
    Y, label, use, co, cohorts = _prepare(design, outcome, log, units, what)
    labels = design.panel.period_labels
    T = Y.shape[1]
    g = design.g
    if noise_level is not None and not (np.isfinite(noise_level) and noise_level >= 0):
        raise EstimationError(f"noise_level={noise_level!r} must be a non-negative number (or None for the default).")
    fits = [_fit_block(Y, CohortFit(int(c), labels[int(c)], np.flatnonzero(use & (g == c)), co, estimator), noise_level) for c in cohorts]
    sizes = np.array([f.n_tr * (T - f.c) for f in fits], dtype=float)
    cw = sizes / sizes.sum()
    taus = np.array([f.tau for f in fits])
    att = float(cw @ taus)

    rng = np.random.default_rng(seed)
    draws_agg = draws_coh = None
    if inference == "placebo":
        draws_agg, draws_coh = inf.placebo_draws(Y, fits, cw, int(draws), rng)
        se_all, se_coh = inf.resampling_se(draws_agg), inf.resampling_se(draws_coh)
    elif inference == "bootstrap":
        draws_agg, draws_coh = inf.bootstrap_draws(Y, fits, T, int(draws), rng)
        se_all, se_coh = inf.resampling_se(draws_agg), inf.resampling_se(draws_coh)
    elif inference == "jackknife":
        jk_agg, jk_coh = inf.jackknife_values(Y, fits, T)
        se_all, se_coh = inf.jackknife_se(jk_agg), inf.jackknife_se(jk_coh)
    else:
        se_all, se_coh = np.nan, np.full(len(fits), np.nan)

    method = METHODS[estimator]
    n_units = int(use.sum() + co.size)
    traj = pd.concat([_trajectory(Y, f, labels) for f in fits], ignore_index=True)
    rows = []
    groups = ["all"] + ([f.label for f in fits] if len(fits) > 1 else [])
    ests = [att] + (list(taus) if len(fits) > 1 else [])
    ses = [float(se_all)] + (list(np.atleast_1d(se_coh)) if len(fits) > 1 else [])
    units_per = [n_units] + ([f.n_tr + co.size for f in fits] if len(fits) > 1 else [])
    lo, hi, p = normal_inference(np.array(ests), np.array(ses), alpha)
    for grp, e, s, l_, h_, p_, nu in zip(groups, ests, ses, lo, hi, p, units_per):
        rows.append({"estimand": "att", "group": grp, "estimate": e, "std_error": s, "ci_lower": l_, "ci_upper": h_, "p_value": p_, "n_obs": nu * T, "n_units": nu})
    for f in fits:
        tr = traj[traj["group"] == f.label]
        rows += [{"estimand": "gap", "group": f.label, "period": per, "event_time": int(et), "estimate": gp, "n_units": f.n_tr + co.size} for per, et, gp in zip(tr["period"], tr["event_time"], tr["gap"])]
    df = pd.DataFrame(rows).assign(method=method, outcome=label)

    unit_ids = design.panel.units
    w_unit = pd.concat(
        [pd.DataFrame({"group": f.label, "unit": unit_ids[f.co], "weight": f.omega}) for f in fits], ignore_index=True
    )
    w_time = pd.concat([pd.DataFrame({"group": f.label, "period": labels[: f.c], "weight": f.lam}) for f in fits], ignore_index=True)
    rmspe = {f.label: _rmspe(traj.loc[traj["group"] == f.label, "gap"].to_numpy(), f.c) for f in fits}
    pre_rmspe = float(np.sqrt(cw @ np.array([rmspe[f.label][0] ** 2 for f in fits])))
    details = {
        "estimator": estimator,
        "inference": inference,
        "draws": int(draws) if inference in ("placebo", "bootstrap") else None,
        "seed": seed,
        "cohort_weights": dict(zip([f.label for f in fits], cw.tolist())),
        "cohort_estimates": dict(zip([f.label for f in fits], taus.tolist())),
        "cohort_se": dict(zip([f.label for f in fits], np.atleast_1d(se_coh).tolist())),
        "treated_units": {f.label: unit_ids[f.tr].tolist() for f in fits},
        "control_units": unit_ids[co].tolist(),
        "noise_level": {f.label: f.noise for f in fits},
        "zeta_omega": {f.label: f.zeta_omega for f in fits},
        "zeta_lambda": {f.label: f.zeta_lambda for f in fits},
        "min_decrease": {f.label: f.min_decrease for f in fits},
        "iterations": {f.label: {"lambda": f.iterations[0], "omega": f.iterations[1]} for f in fits},
        "omega0": {f.label: (float(np.mean((Y[f.tr].mean(0) - f.omega @ Y[f.co])[: f.c])) if estimator == "sdid" else None) for f in fits},
        "lambda0": {f.label: (float(np.mean(Y[f.co][:, f.c :].mean(1) - Y[f.co][:, : f.c] @ f.lam)) if estimator == "sdid" else None) for f in fits},
        "effective_controls": {f.label: float(1.0 / np.sum(f.omega**2)) for f in fits},
        "pre_rmspe_by_group": {k: v[0] for k, v in rmspe.items()},
        "post_rmspe_by_group": {k: v[1] for k, v in rmspe.items()},
        "rmspe_ratio_by_group": {k: (v[1] / v[0] if v[0] > 0 else np.inf) for k, v in rmspe.items()},
        "trajectories": traj,
        "weights_unit": w_unit,
        "weights_time": w_time,
        "placebo": draws_agg if inference == "placebo" else None,
        "bootstrap": draws_agg if inference == "bootstrap" else None,
        "draws_by_cohort": draws_coh,
        "pre_rmspe": pre_rmspe,
        "synthetic": bool(getattr(design.panel, "extras", {}).get("synthetic", False)),
    }
    if inference == "placebo":
        details["p_value_placebo"] = float(np.mean(np.abs(draws_agg) >= abs(att)))
    details["notes"] = _sdid_notes(fits, estimator, inference, co.size)
    description = DESCRIPTIONS[estimator] + " " + INFERENCE_TEXT[inference]
    if len(fits) > 1 and inference != "none":
        description += " With several cohorts, every draw re-estimates all cohorts and their weighted average."
    return SynthResult(df, method=method, outcome=label, estimand="att", description=description, alpha=alpha, details=details)


def _sdid_notes(fits: list[CohortFit], estimator: str, inference: str, n_co: int) -> list[str]:
    """Sentences for the reports about the reliability of the inference."""
    notes = []
    n_tr = sum(f.n_tr for f in fits)
    if inference == "placebo":
        if any(n_co - n_tr <= f.c for f in fits) and estimator == "sdid":
            notes.append(
                f"Placebo draws keep {n_co - n_tr} controls, no more than the pre-periods of a cohort: the time weights are then "
                "not identified, each placebo fit stays near the estimated weights and the placebo SE can be too small."
            )
        if n_co < 20:
            notes.append(f"Only {n_co} control units: the placebo distribution is coarse and the normal interval approximate.")
    if inference == "jackknife" and estimator == "sc":
        notes.append("The jackknife is not recommended for synthetic control (Arkhangelsky et al. 2021, Section 5).")
    return notes


# ---- classic synthetic control ------------------------------------------------------------------------------------
def synth_predictors(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    cohort: str | None = None,
    blocks: int = 3,
    covariates: list[str] | None = None,
) -> pd.DataFrame:
    """A predictor matrix for :func:`synthetic_control`: pre-period outcome means and baseline covariates.

    Parameters
    ----------
    design, outcome, log
        As for :func:`synthetic_control`.
    cohort
        Cohort label whose pre-period is used (default: the earliest cohort).
    blocks
        The pre-period is cut into this many consecutive blocks of (nearly) equal length; one predictor per block
        holds each unit's mean outcome over it.
    covariates
        Baseline covariate columns of the panel to add (default: none).

    Returns
    -------
    pandas.DataFrame
        One row per unit (index: unit id), one column per predictor.
    """
    Y, label = outcome_matrix(design, outcome, log)
    labels = design.panel.period_labels
    cl = design.cohort_labels
    if not cl:
        raise EstimationError("synth_predictors: the design has no treated cohort.")
    cohort = cl[0] if cohort is None else str(cohort)
    if cohort not in cl:
        raise EstimationError(f"synth_predictors: cohort={cohort!r} is not in the design; choose from {', '.join(cl)}.")
    c = labels.index(cohort)
    if blocks < 1 or blocks > c:
        raise EstimationError(f"synth_predictors: blocks={blocks} must be between 1 and the {c} pre-period(s) of cohort {cohort}.")
    parts = np.array_split(np.arange(c), blocks)
    out = pd.DataFrame({f"{label}_mean_{labels[p[0]]}_{labels[p[-1]]}": Y[:, p].mean(axis=1) for p in parts}, index=pd.Index(design.panel.units, name="unit"))
    for cov in covariates or []:
        ut = design.panel.unit_table().set_index("unit")
        if cov not in ut.columns:
            raise EstimationError(f"synth_predictors: covariate {cov!r} is not a baseline covariate of the panel; choose from {', '.join(design.panel.covariates) or '(none)'}.")
        out[cov] = pd.to_numeric(ut.loc[out.index, cov], errors="coerce").to_numpy(dtype=float)
    return out


def _predictor_array(design: Design, predictors) -> tuple[np.ndarray, list[str]]:  # noqa: ANN001
    units = design.panel.units
    if isinstance(predictors, pd.DataFrame):
        idx = predictors.index.astype(str)
        missing = [u for u in units.astype(str) if u not in set(idx)]
        if missing:
            raise EstimationError(f"predictors: no row for unit {missing[0]} ({len(missing)} unit(s) missing); give one row per unit of the design, indexed by unit id.")
        frame = predictors.copy()
        frame.index = idx
        frame = frame.loc[units.astype(str)]
        try:
            X = frame.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise EstimationError("predictors: every column must be numeric; drop or encode text columns.") from None
        names = [str(c) for c in frame.columns]
    else:
        X = np.asarray(predictors, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[0] != len(units):
            raise EstimationError(f"predictors: expected a (units x k) array with {len(units)} rows in design.panel.units order; got shape {X.shape}.")
        names = [f"predictor_{j + 1}" for j in range(X.shape[1])]
    if X.shape[1] == 0:
        raise EstimationError("predictors: no predictor columns; give at least one, or predictors=None to fit on pre-period outcomes.")
    if not np.isfinite(X).all():
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise EstimationError(f"predictors: value for unit {units[i]} in column {names[j]!r} is missing or infinite; fill it or drop the predictor.")
    return X, names


def _sc_fit(Y: np.ndarray, tr: int, donors: np.ndarray, c: int, X: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """ADH weights of one treated unit on its donors (and predictor weights V when predictors are used)."""
    Z0 = Y[donors, :c].T
    z1 = Y[tr, :c]
    if X is None:
        return simplex_lsq(Z0, z1), None
    rows = np.append(donors, tr)
    sd = X[rows].std(axis=0, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    Xs = X / sd
    v, w, _ = sc_predictor_weights(Xs[donors].T, Xs[tr], Z0, z1)
    return w, v


def _sc_unit_estimates(Y: np.ndarray, tr_rows: np.ndarray, cs: np.ndarray, donors: np.ndarray, X: np.ndarray | None):  # noqa: ANN001
    """Per treated unit: weights, V, gap path, estimate, pre/post RMSPE."""
    out = []
    for r, c in zip(tr_rows, cs):  # one synthetic control per treated unit (a handful)
        w, v = _sc_fit(Y, int(r), donors, int(c), X)
        gap = Y[r] - w @ Y[donors]
        pre, post = _rmspe(gap, int(c))
        out.append({"row": int(r), "c": int(c), "w": w, "v": v, "gap": gap, "tau": float(gap[c:].mean()), "pre": pre, "post": post})
    return out


@balanced_only("the synthetic control")
@limit_blas_threads(1)
def synthetic_control(
    design: Design,
    outcome: str,
    *,
    log: bool = False,
    predictors: pd.DataFrame | np.ndarray | None = None,
    inference: str = "placebo",
    draws: int | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    units: list | tuple | np.ndarray | str | None = None,
) -> SynthResult:
    """Classic synthetic control (Abadie, Diamond and Hainmueller), one synthetic unit per treated unit.

    Estimand: for each treated unit, the mean post-treatment gap between its outcome and its synthetic control (a
    convex combination of donors, the units untreated throughout the window); with several treated units, their
    average weighted by post-treatment periods (treated unit-periods). Assumption: the synthetic control reproduces
    the unit's untreated path (good pre-period fit, no interpolation bias, no spillovers to donors).

    Weights: with ``predictors=None`` the donor weights minimise the pre-period squared gap of the outcome (V = I
    on the pre-period outcomes). With predictors (a units x k matrix: DataFrame indexed by unit, or an array in
    ``design.panel.units`` order; see :func:`synth_predictors`), predictors are scaled by their standard deviation
    and the diagonal predictor weights V are chosen to minimise the pre-period outcome MSPE (nested optimisation,
    deterministic Nelder-Mead starts; :func:`evidence.synth.weights.sc_predictor_weights`).

    Inference (``placebo``, default): placebo-in-space. With one treated unit each donor in turn (all donors when
    ``draws`` is None, else ``draws`` donors drawn without replacement) is treated as if treated at the unit's
    treatment date and fitted on the other donors; with several treated units each draw assigns the treated units'
    dates to randomly chosen donors (``draws`` None = as many draws as donors). SE = sd of the placebo estimates
    (times sqrt((r-1)/r)), normal intervals; ``details`` also holds the permutation p-value (share of placebo
    effects at least as large in absolute value) and ADH's post/pre RMSPE-ratio rank p-value. ``none`` skips it.

    Parameters
    ----------
    design, outcome, log, units, seed, alpha
        As for :func:`sdid`.
    predictors
        Predictor matrix, or None for pre-period outcomes.
    inference
        ``placebo`` or ``none``.
    draws
        Placebo draws (see above).

    Returns
    -------
    SynthResult
        Method ``synthetic_control``: ``att`` rows (``group='all'`` and one per treated unit when several) and
        ``gap`` rows per treated unit and period; ``pre_rmspe``, RMSPE ratio, donor weights, V and the placebo
        distribution in ``details``.
    """
    _check_choice(inference, ("placebo", "none"), "inference")
    _check_alpha(alpha)
    what = "synthetic control"
    Y, label, use, donors, _ = _prepare(design, outcome, log, units, what)
    X, pnames = (None, []) if predictors is None else _predictor_array(design, predictors)
    labels = design.panel.period_labels
    unit_ids = design.panel.units
    T = Y.shape[1]
    tr_rows = np.flatnonzero(use)
    cs = design.g[tr_rows].astype(int)
    if donors.size < 2:
        raise EstimationError(f"{what}: only {donors.size} donor unit(s) untreated throughout the window; a synthetic control needs at least 2.")
    fits = _sc_unit_estimates(Y, tr_rows, cs, donors, X)
    sizes = np.array([T - f["c"] for f in fits], dtype=float)
    uw = sizes / sizes.sum()
    taus = np.array([f["tau"] for f in fits])
    att = float(uw @ taus)

    placebo = ratios = None
    se_all, se_unit = np.nan, np.full(len(fits), np.nan)
    if inference == "placebo":
        J, n_tr = donors.size, tr_rows.size
        if n_tr == 1:
            if draws is not None and (not isinstance(draws, (int, np.integer)) or draws < 2 or draws > J):
                raise EstimationError(f"draws={draws!r}: placebo-in-space uses each donor at most once, so draws must be between 2 and the {J} donors (or None for all of them).")
            pick = np.arange(J) if draws is None else np.sort(np.random.default_rng(seed).choice(J, size=int(draws), replace=False))
            assign = pick[:, None]
        else:
            if J <= n_tr:
                raise EstimationError(f"{what}: placebo inference needs more donors ({J}) than treated units ({n_tr}); set methods.synth.inference: jackknife, bootstrap or none.")
            n_draws = J if draws is None else int(draws)
            if n_draws < 2:
                raise EstimationError(f"draws={draws!r}: placebo inference needs at least 2 draws.")
            rng = np.random.default_rng(seed)
            assign = np.argsort(rng.random((n_draws, J)), axis=1)[:, :n_tr]
        placebo, ratios, placebo_unit = inf.sc_placebo(Y, donors, assign, cs, X, _sc_unit_estimates, uw)
        se_all = inf.resampling_se(placebo)
        se_unit = inf.resampling_se(placebo_unit)

    rows = []
    multi = len(fits) > 1
    groups = ["all"] + ([str(unit_ids[f["row"]]) for f in fits] if multi else [])
    ests = [att] + (list(taus) if multi else [])
    ses = [float(se_all)] + (list(se_unit) if multi else [])
    nunits = [int(use.sum() + donors.size)] + ([1 + donors.size] * len(fits) if multi else [])
    lo, hi, p = normal_inference(np.array(ests), np.array(ses), alpha)
    for grp, e, s, l_, h_, p_, nu in zip(groups, ests, ses, lo, hi, p, nunits):
        rows.append({"estimand": "att", "group": grp, "estimate": e, "std_error": s, "ci_lower": l_, "ci_upper": h_, "p_value": p_, "n_obs": nu * T, "n_units": nu})
    trajs = []
    for f in fits:
        uid = str(unit_ids[f["row"]])
        et = np.arange(T) - f["c"]
        rows += [{"estimand": "gap", "group": uid, "period": labels[t], "event_time": int(et[t]), "estimate": float(f["gap"][t]), "n_units": 1 + donors.size} for t in range(T)]
        trajs.append(pd.DataFrame({"group": uid, "period": labels, "event_time": et, "treated": Y[f["row"]], "synthetic": Y[f["row"]] - f["gap"], "control_weighted": Y[f["row"]] - f["gap"], "gap": f["gap"]}))
    df = pd.DataFrame(rows).assign(method="synthetic_control", outcome=label)
    traj = pd.concat(trajs, ignore_index=True)
    w_unit = pd.concat([pd.DataFrame({"group": str(unit_ids[f["row"]]), "unit": unit_ids[donors], "weight": f["w"]}) for f in fits], ignore_index=True)
    w_time = pd.concat([pd.DataFrame({"group": str(unit_ids[f["row"]]), "period": labels[: f["c"]], "weight": 0.0}) for f in fits], ignore_index=True)
    pre_rmspe = float(np.sqrt(uw @ np.array([f["pre"] ** 2 for f in fits])))
    post_rmspe = float(np.sqrt(uw @ np.array([f["post"] ** 2 for f in fits])))
    ratio = post_rmspe / pre_rmspe if pre_rmspe > 0 else np.inf
    details = {
        "inference": inference,
        "draws": None if placebo is None else int(len(placebo)),
        "seed": seed,
        "unit_weights_in_average": dict(zip([str(unit_ids[f["row"]]) for f in fits], uw.tolist())),
        "unit_estimates": dict(zip([str(unit_ids[f["row"]]) for f in fits], taus.tolist())),
        "treated_units": [str(unit_ids[f["row"]]) for f in fits],
        "control_units": unit_ids[donors].tolist(),
        "predictors": pnames,
        "predictor_weights": None if X is None else {str(unit_ids[f["row"]]): dict(zip(pnames, f["v"].tolist())) for f in fits},
        "pre_rmspe": pre_rmspe,
        "post_rmspe": post_rmspe,
        "rmspe_ratio": ratio,
        "pre_rmspe_by_group": {str(unit_ids[f["row"]]): f["pre"] for f in fits},
        "post_rmspe_by_group": {str(unit_ids[f["row"]]): f["post"] for f in fits},
        "rmspe_ratio_by_group": {str(unit_ids[f["row"]]): (f["post"] / f["pre"] if f["pre"] > 0 else np.inf) for f in fits},
        "trajectories": traj,
        "weights_unit": w_unit,
        "weights_time": w_time,
        "placebo": placebo,
        "placebo_rmspe_ratio": ratios,
        "synthetic": bool(getattr(design.panel, "extras", {}).get("synthetic", False)),
    }
    if placebo is not None:
        details["p_value_placebo"] = float(np.mean(np.abs(placebo) >= abs(att)))
        details["p_value_rmspe_ratio"] = float((1 + np.sum(ratios >= ratio)) / (1 + ratios.size))
        details["placebo_units"] = unit_ids[donors[assign]].tolist() if assign.shape[1] > 1 else unit_ids[donors[assign[:, 0]]].tolist()
    description = DESCRIPTIONS["synthetic_control"] + (" Predictors: " + ", ".join(pnames) + " (V chosen to minimise the pre-period outcome MSPE)." if X is not None else " Fitted on the pre-period outcomes.")
    if inference == "placebo":
        description += " Standard errors: placebo-in-space over the donors (SD of placebo effects), normal intervals."
    return SynthResult(df, method="synthetic_control", outcome=label, estimand="att", description=description, alpha=alpha, details=details)
