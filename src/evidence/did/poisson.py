"""Poisson pseudo-maximum-likelihood with unit and period fixed effects: TWFE and the event study for counts.

Estimand: the treatment coefficient is a log ratio of expected counts (``exp(b) - 1`` the proportional change) under
parallel trends **in log means**, not in levels: ``E[y_it(0)] = exp(a_i + l_t)``. Unlike a log-linear regression, the
model keeps zero counts and needs no transformation of the outcome. Assumptions: the conditional mean is correctly
specified (the Poisson distribution itself is not assumed: PML is consistent for any count or non-negative outcome
with that mean). Inference: cluster-robust sandwich on the clusters of the design, t with G - 1 df.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Concentrated likelihood
    Context: with unit effects the Poisson likelihood can be concentrated exactly — ``a_i`` has the closed form
    ``log(sum_t y_it / sum_t exp(l_t + x_it b))`` — leaving the multinomial (conditional) likelihood in the period
    effects and the regressors, which is concave. Decision: Newton's method on that likelihood with the analytic
    gradient and Hessian, vectorised over units (``N x T x K`` arrays); units whose counts are all zero carry no
    information (their ``a_i`` is minus infinity) and are dropped and counted, as are periods with no count in any
    unit. Consequences: the estimates equal pyfixest/fixest ``fepois`` (tested to 1e-6); the unit effects' scores
    are zero at the optimum, so the cluster sandwich on the concentrated scores equals the full model's.
Small-sample correction
    Context: fixest's ``CRV1`` multiplies by G/(G-1) and by (n-1)/(n-K). Decision: the package's one convention
    for every cluster-robust covariance, G/(G-1) x (n-1)/n (as :func:`evidence.inference.cluster_vcov`), which is
    pyfixest's ``ssc(k_adj=False, G_adj=True)`` times (n-1)/n. Consequences: the standard errors are comparable with
    the package's linear models; tests state the conversion to pyfixest's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import EstimationError
from ..results import EstimateResult, EventStudyResult, normal_inference

DESCRIPTION = (
    "Poisson pseudo-maximum likelihood with unit and period fixed effects (as fixest's fepois): the coefficient is a log ratio of "
    "expected counts, exp(b) - 1 the proportional change; zeros are kept. Assumes parallel trends in log means (not levels) and "
    "no anticipation. Cluster-robust sandwich (G/(G-1) x (n-1)/n), t with G-1 df."
)


class PoissonFit:
    """Poisson FE fit on a balanced (units x periods) count array with regressors ``X`` (units x periods x k).

    Attributes: ``coef`` (k), ``cov`` (k x k, cluster-robust), ``mu`` (fitted means, units x periods, NaN for dropped
    units), ``dropped_units`` (boolean), ``dropped_periods`` (boolean), ``iterations``, ``theta_cov`` (covariance of
    the period effects and coefficients), ``names``.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, groups: np.ndarray, names: list[str], tol: float = 1e-10, max_iter: int = 100, what: str = "Poisson model", mask: np.ndarray | None = None) -> None:
        obs = np.isfinite(y) & np.isfinite(X).all(axis=-1) if mask is None else np.asarray(mask, bool)
        y = np.where(obs, y, 0.0)
        X = np.where(obs[:, :, None], X, 0.0)
        if (y < 0).any():
            raise EstimationError(f"{what}: the outcome has negative values; Poisson models need counts or other non-negative outcomes.")
        N, T = y.shape
        keep_i = y.sum(axis=1) > 0
        keep_t = y[keep_i].sum(axis=0) > 0
        self.dropped_units, self.dropped_periods = ~keep_i, ~keep_t
        y1, X1 = y[keep_i][:, keep_t], X[keep_i][:, keep_t]
        # missing cells (data.missing: allow) drop out of each unit's multinomial: their probability is zero
        o1 = obs[keep_i][:, keep_t].astype(float)
        n1, T1 = y1.shape
        if n1 < 2 or T1 < 2:
            raise EstimationError(f"{what}: fewer than two units or periods have a positive count.")
        # regressors of the concentrated model: period dummies (first period dropped) and X. Z = [dummies, X] is
        # never built in the fit: the linear predictor, gradient and Hessian use its structure (O(N T k^2 + N T^2))
        k = X1.shape[-1]
        Xf = X1.reshape(n1 * T1, k)
        P = T1 - 1 + k
        ni = y1.sum(axis=1)
        theta = np.zeros(P)
        # start the period effects at the log of the period totals (a good start for Newton)
        tot = y1.sum(axis=0)
        theta[: T1 - 1] = np.log(tot[1:] / tot[0])

        def probs(th: np.ndarray) -> np.ndarray:
            eta = np.concatenate([[0.0], th[: T1 - 1]])[None, :] + (Xf @ th[T1 - 1 :]).reshape(n1, T1)
            eta -= np.where(o1 > 0, eta, -np.inf).max(axis=1, keepdims=True)
            e = np.exp(np.minimum(eta, 0.0)) * o1
            return e / e.sum(axis=1, keepdims=True)

        def loglik(p_: np.ndarray) -> float:
            return float((y1 * np.log(np.where(p_ > 0, p_, 1e-300))).sum())

        ll_old = -np.inf
        for it in range(1, max_iter + 1):
            p = probs(theta)
            ll = loglik(p)
            resid = y1 - ni[:, None] * p
            grad = np.concatenate([resid.sum(axis=0)[1:], Xf.T @ resid.ravel()])
            H = _hessian(X1, Xf, p, ni)
            if it == 1 and np.linalg.matrix_rank(H) < P:
                raise EstimationError(f"{what}: the regressors are collinear with the fixed effects (for example a control absorbed by them, or an event time no unit reaches); check data.controls and the event window.")
            step = np.linalg.solve(H, grad)
            # step-halving keeps the likelihood increasing (the concentrated likelihood is concave, so this is rare)
            t_ = 1.0
            while t_ > 1e-6:
                cand = theta + t_ * step
                if loglik(probs(cand)) >= ll - 1e-12 * abs(ll):
                    break
                t_ /= 2
            theta = cand
            if np.max(np.abs(t_ * step)) < tol or abs(ll - ll_old) < tol * (1 + abs(ll)):
                break
            ll_old = ll
        else:
            raise EstimationError(f"{what}: the Poisson likelihood did not converge in {max_iter} iterations.")
        p = probs(theta)
        mu = ni[:, None] * p
        H = _hessian(X1, Xf, p, ni)
        bread = np.linalg.inv(H)
        g = groups[keep_i]
        codes, g = np.unique(g, return_inverse=True)
        G = codes.size
        if G < 2:
            raise EstimationError(f"{what}: only {G} cluster(s) have positive counts; cluster-robust inference needs at least two (data.cluster).")
        r = y1 - mu
        s_unit = np.concatenate([r[:, 1:], np.matmul(r[:, None, :], X1)[:, 0, :]], axis=1)
        scores = np.zeros((G, P))
        np.add.at(scores, g, s_unit)
        n = int(o1.sum())
        V = G / (G - 1) * (n - 1) / n * bread @ (scores.T @ scores) @ bread
        self.theta, self.theta_cov = theta, V
        self.coef = theta[T1 - 1 :]
        self.cov = V[T1 - 1 :, T1 - 1 :]
        self.names = list(names)
        full = np.full((N, T), np.nan)
        full[np.ix_(keep_i, keep_t)] = np.where(o1 > 0, mu, np.nan)
        self.mu = full
        self.iterations = it
        self.n_obs, self.n_units, self.n_clusters = n, n1, G
        self.X1, self.p, self.ni, self.keep_i, self.keep_t = X1, p, ni, keep_i, keep_t

    @property
    def Z(self) -> np.ndarray:
        """Regressors of the concentrated model on the kept units and periods: period dummies (first dropped), X."""
        n1, T1, _ = self.X1.shape
        return np.concatenate([np.broadcast_to(np.eye(T1)[None, :, 1:], (n1, T1, T1 - 1)), self.X1], axis=-1)


def _hessian(X1: np.ndarray, Xf: np.ndarray, p: np.ndarray, ni: np.ndarray) -> np.ndarray:
    """Information of the concentrated likelihood, ``sum_i n_i (Z_i' diag(p_i) Z_i - zbar_i zbar_i')`` with
    ``Z = [period dummies (first dropped), X]``, block by block (``zbar_i = Z_i' p_i``)."""
    n1, T1, k = X1.shape
    pn = ni[:, None] * p  # N x T
    A = np.diag(pn.sum(axis=0)) - pn.T @ p  # period x period
    xbar = np.matmul(p[:, None, :], X1)[:, 0, :]  # N x k
    B = np.matmul(pn.T[:, None, :], X1.transpose(1, 0, 2))[:, 0, :] - pn.T @ xbar  # T x k
    C = (Xf * pn.reshape(-1, 1)).T @ Xf - (xbar * ni[:, None]).T @ xbar
    return np.block([[A[1:, 1:], B[1:]], [B[1:].T, C]])


def _count_matrix(design: Design, outcome: str) -> np.ndarray:
    panel = design.panel
    if outcome not in panel.outcomes:
        raise EstimationError(f"outcome '{outcome}' is not in the panel; choose from {', '.join(panel.outcomes)} (data.outcomes).")
    return panel.matrix(outcome)


def _dropped_note(fit: PoissonFit, design: Design) -> list[str]:
    notes = []
    if fit.dropped_units.any():
        names = design.panel.units[fit.dropped_units]
        notes.append(f"{int(fit.dropped_units.sum())} unit(s) with only zero counts carry no information in a Poisson model with unit effects and were left out: {', '.join(map(str, names[:5]))}{' ...' if names.size > 5 else ''}.")
    if fit.dropped_periods.any():
        notes.append(f"{int(fit.dropped_periods.sum())} period(s) with no count in any unit were left out.")
    return notes


def poisson_twfe(design: Design, outcome: str, *, alpha: float = 0.05, controls: list[str] | None = None) -> EstimateResult:
    """Poisson TWFE: ``E[y_it] = exp(a_i + l_t + b D_it + x_it c)``, b reported (log ratio) with ``exp(b) - 1``.

    Returns
    -------
    EstimateResult
        Rows ``estimand`` ``att_log_ratio`` (b) and ``att_pct`` (100 (exp(b) - 1), delta method), group ``all``;
        method ``poisson_twfe``.
    """
    from .estimators import control_matrices, missing_note, observed_cells

    y = _count_matrix(design, outcome)
    ctrl = control_matrices(design, controls)
    X = np.stack([design.treatment_matrix(), *ctrl.values()], axis=-1)
    fit = PoissonFit(y, X, design.cluster_codes, ["treated", *ctrl], what=f"Poisson TWFE on {outcome}")
    gap = missing_note(y, observed_cells(y, ctrl), "the Poisson model uses the observed cells")
    b, se = float(fit.coef[0]), float(np.sqrt(fit.cov[0, 0]))
    pct, pct_se = 100 * (np.exp(b) - 1), 100 * np.exp(b) * se
    est = np.array([b, pct])
    ses = np.array([se, pct_se])
    lo, hi, pv = normal_inference(est, ses, alpha, df=fit.n_clusters - 1)
    lo[1], hi[1] = 100 * (np.exp(lo[0]) - 1), 100 * (np.exp(hi[0]) - 1)  # the % interval: the log interval transformed
    pv[1] = pv[0]
    rows = pd.DataFrame({"method": "poisson_twfe", "outcome": outcome, "estimand": ["att_log_ratio", "att_pct"], "group": "all", "estimate": est, "std_error": ses, "ci_lower": lo, "ci_upper": hi, "p_value": pv, "n_obs": fit.n_obs, "n_units": fit.n_units, "n_clusters": fit.n_clusters})
    return EstimateResult(rows, method="poisson_twfe", outcome=outcome, estimand="att_log_ratio", description=DESCRIPTION, alpha=alpha, details={"notes": _dropped_note(fit, design) + ([gap] if gap else []), "missing": gap, "iterations": fit.iterations, "controls": list(controls or []), "coef": dict(zip(fit.names, fit.coef.tolist()))})


def poisson_event_study(design: Design, outcome: str, *, window: tuple[int, int] = (-12, 12), alpha: float = 0.05, controls: list[str] | None = None) -> EventStudyResult:
    """Poisson event study: event-time dummies (reference -1, ends binned as in :func:`evidence.did.event_study`)
    in the Poisson FE model; estimates are log ratios relative to event time -1."""
    from .estimators import control_matrices, missing_note, observed_cells

    lead, lag = int(window[0]), int(window[1])
    if lead > -2 or lag < 0:
        raise EstimationError(f"methods.did.event_window {list(window)} must run from -2 or earlier to 0 or later.")
    y = _count_matrix(design, outcome)
    e = design.event_time()
    eb = np.clip(e, lead, lag)
    ctrl = control_matrices(design, controls)
    used = observed_cells(y, ctrl)
    if used is not None:
        eb = np.where(used, eb, np.nan)
    present = np.unique(eb[~np.isnan(eb)]).astype(int)
    times = [k for k in range(lead, lag + 1) if k != -1 and k in present]
    notes = []
    if not (~design.treated).any() and times and times[0] < -1:
        notes.append(f"No unit is untreated throughout the window: event time {times[0]} is a second reference period besides -1.")
        times = times[1:]
    X = np.stack([(eb == k).astype(float) for k in times] + list(ctrl.values()), axis=-1)
    fit = PoissonFit(y, X, design.cluster_codes, [f"e{k}" for k in times] + list(ctrl), what=f"Poisson event study on {outcome}")
    m = len(times)
    est, se = fit.coef[:m], np.sqrt(np.diag(fit.cov)[:m])
    lo, hi, pv = normal_inference(est, se, alpha, df=fit.n_clusters - 1)
    rows = pd.DataFrame({"method": "poisson_event_study", "outcome": outcome, "estimand": "event_time", "event_time": times, "estimate": est, "std_error": se, "ci_lower": lo, "ci_upper": hi, "p_value": pv, "n_obs": fit.n_obs, "n_units": fit.n_units, "n_clusters": fit.n_clusters})
    return EventStudyResult(rows, method="poisson_event_study", outcome=outcome, estimand="event_time", description=DESCRIPTION, alpha=alpha, details={"reference": -1, "window": (lead, lag), "binned": True, "notes": notes + _dropped_note(fit, design) + ([missing_note(y, used, "the Poisson model uses the observed cells")] if used is not None else []), "missing": missing_note(y, used, "the Poisson model uses the observed cells"), "controls": list(controls or []), "vcov": fit.cov[:m, :m]})
