"""Borusyak, Jaravel and Spiess (2024) imputation estimator.

Estimand: averages of unit-period treatment effects over the treated observations in the window — overall
(``simple``), by event time (``dynamic``) and by cohort (``group``), each observation weighted equally.
Method: (1) fit unit and period fixed effects on the untreated observations only (never-treated units, and treated
units before their first treated period minus any anticipation); (2) impute each treated observation's untreated
outcome from those effects; (3) average the differences. Assumptions: parallel trends in the two-way fixed effects
form for all periods (a stronger use of the pre-periods than Callaway-Sant'Anna's), no anticipation beyond
``anticipation`` periods. Inference: BJS Theorem 3 conservative variance — the estimator is linear in the outcomes,
``sum v_it y_it``; with residuals from the untreated fit and, for treated observations, deviations of the imputed
effects from their cohort x event-time means, the variance is ``sum_clusters (sum v_it e_it)^2``; t with G - 1 df.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lu_factor, lu_solve

from .._blas import limit_blas_threads
from ..design import Design
from ..did.estimators import outcome_matrix
from ..errors import EstimationError
from ..results import EventStudyResult, normal_inference

DESCRIPTION = (
    "Borusyak-Jaravel-Spiess imputation: unit and period effects fitted on untreated observations only, each treated "
    "observation's untreated outcome imputed, effects averaged (all treated observations weighted equally). Assumes parallel "
    "trends in all periods and no anticipation. Conservative cluster-robust variance (BJS Theorem 3); t with G-1 df."
)


def _fe_system(untreated: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """Normal equations Z0'Z0 of unit + period dummies on untreated cells (period 0 dropped for identification), as a
    sparse matrix (used by :mod:`evidence.power`; the estimator solves them with :class:`_FESolver`)."""
    N, T = untreated.shape
    ui, ti = np.nonzero(untreated)
    n_i = untreated.sum(axis=1).astype(float)
    n_t = untreated.sum(axis=0).astype(float)
    # a unit or period without untreated cells (possible with missing cells) has no equation: pin its effect at 0
    n_i[n_i == 0] = 1.0
    n_t[n_t == 0] = 1.0
    B = sp.csr_matrix((np.ones(ui.size), (ui, ti)), shape=(N, T))[:, 1:]
    A = sp.bmat([[sp.diags(n_i), B], [B.T, sp.diags(n_t[1:])]]).tocsc()
    return A, ui, ti


class _FESolver:
    """Solves the normal equations ``Z0'Z0 theta = rhs`` of unit + period dummies on the untreated cells (period 0
    dropped for identification), for one or many right-hand sides.

    Context: the system has one equation per unit and per period; a sparse LU of it (``scipy.sparse.linalg.splu``)
    grew faster than the data (1.5 s at 1 million rows, 13 s at 5 million). Decision: eliminate the diagonal unit
    block — with ``D_u = diag(n_i)``, ``B`` the untreated-cell indicator (units x periods 1..T-1) and
    ``D_t = diag(n_t)`` — through the Schur complement ``S = D_t - B' D_u^-1 B`` ((T-1) x (T-1)): the period
    effects solve ``S l = c - B' D_u^-1 r`` and the unit effects are ``(r - B l) / n_i``. Consequences: O(units x
    periods) per solve plus a T x T factorisation, the same solution up to rounding; a unit or period without
    untreated cells (possible with missing cells) keeps its effect pinned at 0 as before.
    """

    def __init__(self, untreated: np.ndarray) -> None:
        N, T = untreated.shape
        self.N = N
        self.B = untreated[:, 1:].astype(np.float64)
        n_i = untreated.sum(axis=1).astype(np.float64)
        n_t = untreated.sum(axis=0).astype(np.float64)[1:]
        n_i[n_i == 0] = 1.0  # no equation: effect pinned at 0 (its row of B is zero)
        n_t[n_t == 0] = 1.0
        self.inv_i = 1.0 / n_i
        S = np.diag(n_t) - self.B.T @ (self.B * self.inv_i[:, None])
        self.lu = lu_factor(S)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        r, c = rhs[: self.N], rhs[self.N :]
        w = self.inv_i if r.ndim == 1 else self.inv_i[:, None]
        lam = lu_solve(self.lu, c - self.B.T @ (r * w))
        return np.concatenate([(r - self.B @ lam) * w, lam], axis=0)


@limit_blas_threads(1)  # tall, narrow products: a second BLAS thread only spins (evidence._blas)
def imputation(design: Design, outcome: str, *, log: bool = False, anticipation: int = 0, horizons: tuple[int, int] | None = None, alpha: float = 0.05, controls: list[str] | None = None) -> EventStudyResult:
    """Imputation estimator with overall, event-time and cohort aggregates.

    Parameters
    ----------
    design, outcome, log, alpha
        As for the other estimators.
    anticipation
        Periods before the first treated period that are also excluded from the untreated fit.
    horizons
        ``(0, H)`` to report event times 0..H only (all by default). The overall estimate always uses every treated
        observation in the window.
    controls
        Time-varying control columns (``data.controls``) in the first stage, fitted with the unit and period effects
        on the untreated observations (BJS eq. 5 with covariates); the implied weights and the variance include
        their estimation.

    Returns
    -------
    EventStudyResult
        Rows ``estimand`` in ``simple`` (group ``all``), ``dynamic`` (by event time) and ``group`` (by cohort).
    """
    y, label_ = outcome_matrix(design, outcome, log, missing="allow")
    g = design.g
    N, T = y.shape
    t = np.arange(T)
    treated = np.isfinite(g)[:, None] & (t[None, :] >= g[:, None])
    untreated = np.isfinite(g)[:, None] & (t[None, :] < g[:, None] - anticipation) | ~np.isfinite(g)[:, None]
    from ..did.estimators import control_matrices, missing_note, observed_cells

    ctrl = control_matrices(design, controls)
    used = observed_cells(y, ctrl)
    if used is not None:  # data.missing: allow — both stages use the observed cells only
        treated &= used
        untreated &= used
        y = np.where(used, y, 0.0)
        ctrl = {k: np.where(used, v, 0.0) for k, v in ctrl.items()}
    if not treated.any():
        raise EstimationError("imputation: no treated observation in the window.")
    units_ok = untreated.any(axis=1)
    if not units_ok[treated.any(axis=1)].all():
        if used is None:
            raise EstimationError("imputation: a treated cohort has no untreated period (check the window and methods.staggered.anticipation).")
        treated &= units_ok[:, None]  # a unit observed only after treatment has no unit effect to impute from
    gap = missing_note(y, used, "unit and period effects are fitted on the observed untreated cells and the observed treated cells are imputed" + ("" if units_ok[np.isfinite(g)].all() else f"; {int((~units_ok & np.isfinite(g)).sum())} treated unit(s) with no observed untreated cell are left out"))
    periods_ok = untreated.any(axis=0)
    bad_t = np.flatnonzero(treated.any(axis=0) & ~periods_ok)
    if bad_t.size:
        raise EstimationError(f"imputation: in period {design.panel.period_labels[bad_t[0]]} every unit is treated, so its untreated outcome cannot be imputed; shorten the window (design.end) or add never-treated units.")
    lu = _FESolver(untreated)

    def zt(m: np.ndarray) -> np.ndarray:  # Z0' m for (N x T [x K]) arrays, on the untreated cells
        m0 = np.where(untreated[(...,) + (None,) * (m.ndim - 2)], m, 0.0)
        return np.concatenate([m0.sum(axis=1), m0.sum(axis=0)[1:]], axis=0)

    def zs(s: np.ndarray) -> np.ndarray:  # Z s as (N x T [x K]) for stacked unit and period coefficients
        lam_s = np.concatenate([np.zeros((1,) + s.shape[1:]), s[N:]], axis=0)
        return s[:N][:, None, ...] + lam_s[None, :, ...]

    Xc = np.stack(list(ctrl.values()), axis=-1) if controls else np.zeros((N, T, 0))
    k_c = Xc.shape[-1]
    if k_c:
        # Frisch-Waugh-Lovell on the untreated cells: controls and outcome net of the unit and period effects
        Bz = lu.solve(zt(Xc))  # A^-1 Z0'X0, (N + T - 1) x k
        Xt = np.where(untreated[:, :, None], Xc - zs(Bz), 0.0)
        S = np.einsum("itk,itl->kl", Xt, Xc * untreated[:, :, None])  # X0'M X0
        if np.linalg.matrix_rank(S) < k_c:
            raise EstimationError(f"imputation: the controls {', '.join(controls or [])} (data.controls) are collinear on the untreated observations once unit and period effects are removed; remove one from data.controls.")
        beta_c = np.linalg.solve(S, np.einsum("itk,it->k", Xt, y))
    else:
        beta_c = np.zeros(0)
    xb = Xc @ beta_c if k_c else np.zeros_like(y)
    theta = lu.solve(zt(y - xb))
    alpha_i, lam = theta[:N], np.concatenate([[0.0], theta[N:]])
    y0_hat = alpha_i[:, None] + lam[None, :] + xb
    tau = np.where(treated, y - y0_hat, np.nan)
    resid0 = np.where(untreated, y - y0_hat, 0.0)
    E = np.where(treated, t[None, :] - g[:, None], np.nan)

    # estimands: (label, treated cells averaged with equal weights)
    specs: list[tuple[dict, np.ndarray]] = [({"estimand": "simple", "group": "all"}, treated)]
    ev = np.unique(E[treated]).astype(int)
    if horizons is not None:
        ev = ev[(ev >= horizons[0]) & (ev <= horizons[1])]
    specs += [({"estimand": "dynamic", "event_time": int(h)}, treated & (E == h)) for h in ev]
    labels = design.panel.period_labels
    specs += [({"estimand": "group", "group": labels[c]}, treated & (g[:, None] == c)) for c in np.unique(g[np.isfinite(g)]).astype(int)]
    K = len(specs)

    # Context: BJS's variance needs, per estimand, the implied weights v on every untreated observation
    # (v0 = -Z0 (Z0'Z0)^-1 Z1'w1) and the treated residuals; holding them as units x periods x estimands arrays
    # made imputation the memory peak at scale (3.6 GB at 5 million rows, time growing faster than the data).
    # Decision: keep per-estimand quantities at the unit and period level — the weights w1 are a mask over treated
    # cells divided by its count, v0 on untreated cell (i, t) is -(a_i + l_t [+ x_it s]), so each unit's
    # contribution sum_t v_it (resid0_it + e1_it) is -(a_i sum_t resid0_it + sum_t l_t resid0_it [+ (sum_t resid0_it
    # x_it) s]) plus sum over its treated cells in the mask of (tau - the cell's mean tau) / count (w1 is constant
    # within a cohort x event-time cell, so its weighted cell mean is the plain mean).
    # Consequences: O(units x periods x estimands) time with O(units x estimands) memory; equal to the materialised
    # computation up to rounding (tested against the dense least-squares form and the previous implementation).
    cnt = np.array([float(m.sum()) for _, m in specs])
    Wu = np.stack([m.sum(axis=1) for _, m in specs], axis=1) / cnt  # Z1'w1, unit part (N x K)
    Wt = np.stack([m.sum(axis=0) for _, m in specs], axis=1) / cnt  # period part (T x K)
    rhs_w = np.concatenate([Wu, Wt[1:]], axis=0)
    if k_c:  # v0 = -R0 (R0'R0)^-1 R1'w1 with R = [Z, X], by the partitioned (Schur complement) solve
        qx = np.stack([np.einsum("itk,it->k", Xc, m) for _, m in specs], axis=1) / cnt  # X1'w1, k x K
        s_x = np.linalg.solve(S, qx - Bz.T @ rhs_w)
        theta_w = lu.solve(rhs_w - zt(Xc * untreated[:, :, None]) @ s_x)
    else:
        theta_w = lu.solve(rhs_w)
    a_w = theta_w[:N]
    lam_w = np.concatenate([np.zeros((1, K)), theta_w[N:]], axis=0)
    contrib = -(a_w * resid0.sum(axis=1)[:, None] + resid0 @ lam_w)  # untreated cells, per unit and estimand
    if k_c:
        contrib -= np.einsum("it,itk->ik", resid0, Xc) @ s_x
    # treated cells: imputed effects minus their cohort x event-time cell mean
    cohort_of = np.where(np.isfinite(g), g, -1).astype(int)
    cell = cohort_of[:, None] * (T + 1) + np.nan_to_num(E, nan=-1).astype(int)
    _, cell_inv = np.unique(cell[treated], return_inverse=True)
    n_cells = int(cell_inv.max()) + 1
    tau_tr = tau[treated]
    tbar = np.bincount(cell_inv, tau_tr, n_cells) / np.bincount(cell_inv, minlength=n_cells)
    e1 = np.zeros((N, T))
    e1[treated] = tau_tr - tbar[cell_inv]
    tau0 = np.where(treated, tau, 0.0)
    groups = design.cluster_codes
    G = int(groups.max()) + 1
    rows = []
    n_obs = int(treated.sum() + untreated.sum())
    for k, (meta, m) in enumerate(specs):
        est = float(np.where(m, tau0, 0.0).sum() / cnt[k])
        c_k = contrib[:, k] + np.where(m, e1, 0.0).sum(axis=1) / cnt[k]
        se = float(np.sqrt((np.bincount(groups, c_k, G) ** 2).sum()))
        rows.append({**meta, "estimate": est, "std_error": se, "n_obs": n_obs})
    df = pd.DataFrame(rows)
    lo, hi, p = normal_inference(df["estimate"].to_numpy(), df["std_error"].to_numpy(), alpha, df=G - 1)
    df = df.assign(method="imputation", outcome=label_, ci_lower=lo, ci_upper=hi, p_value=p, n_units=N, n_clusters=G)
    return EventStudyResult(df, method="imputation", outcome=label_, estimand="dynamic", description=DESCRIPTION, alpha=alpha, details={"reference": None, "anticipation": anticipation, "tau": tau, "fe_unit": alpha_i, "fe_period": lam, "controls": list(controls or []), "control_coef": dict(zip(controls or [], beta_c.tolist())), "missing": gap, "notes": [gap] if gap else []})
