"""Autocorrelation diagnostics for interrupted time series residuals.

Residuals are the raw residuals of Gaussian (OLS) models and the Pearson residuals of count models, one series at a
time: ``treated``; in a controlled ITS also ``control`` and, for Gaussian models, ``difference`` (treated minus
comparison residuals, i.e. the residuals of the difference-series regression, whose autocorrelation is what the
Driscoll-Kraay standard errors of the controlled effects must absorb). Tests:

* Breusch-Godfrey LM test (OLS only): the residuals regressed on the series' own regressors and their first ``p``
  lags (pre-sample lags set to zero), ``n R^2 ~ chi2(p)`` (statsmodels ``acorr_breusch_godfrey``). In a controlled
  ITS each series is tested with its own segmented regression, which has the same residuals as the stacked, fully
  interacted model.
* Ljung-Box Q at several lags (statsmodels ``acorr_ljungbox``; no degrees-of-freedom adjustment for the fitted
  regression).
* Durbin-Watson statistic (about 2 without first-order autocorrelation; below 2 for positive autocorrelation). No
  p-value is reported.

Default lags: Breusch-Godfrey of order 1 and of order ``min(P, (T - k) // 3)`` with ``P`` the seasonal period (12
monthly, 4 quarterly, 2 otherwise; whether or not seasonality is modelled) and ``k`` regressors; Ljung-Box at 1, P and 2P (1, 2 and 4 without seasons) up to ``T / 3``; ACF and PACF
(Yule-Walker, statsmodels ``method="ywm"``) to lag ``min(2P, T/2 - 1)`` (10 instead of 2P without seasons).
"""

from __future__ import annotations

from collections.abc import Sequence

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
from statsmodels.stats.diagnostic import acorr_breusch_godfrey, acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson
from statsmodels.tsa.stattools import acf, pacf

DIAGNOSTIC_COLUMNS: list[str] = ["series", "test", "lag", "statistic", "p_value", "residuals"]


def acf_lags(n_obs: int, season_period: int = 1) -> int:
    """Number of lags for the residual ACF/PACF."""
    want = 2 * season_period if season_period > 1 else 10
    return int(max(1, min(want, n_obs // 2 - 1)))


def default_test_lags(n_obs: int, n_params: int, season_period: int = 1) -> tuple[list[int], list[int]]:
    """(Breusch-Godfrey lag orders, Ljung-Box lags) for a series of ``n_obs`` periods and ``n_params`` regressors."""
    P = season_period if season_period > 1 else 2
    bg = sorted({1, int(max(1, min(P, (n_obs - n_params) // 3)))})
    cands = (1, season_period, 2 * season_period) if season_period > 1 else (1, 2, 4)
    cap = max(1, n_obs // 3)
    lb = sorted({int(c) for c in cands if c <= cap}) or [1]
    return bg, lb


def residual_acf_pacf(resid: np.ndarray, nlags: int) -> tuple[np.ndarray, np.ndarray]:
    """Residual autocorrelations and partial autocorrelations at lags 0 .. nlags."""
    r = np.asarray(resid, dtype=float)
    nlags = int(max(1, min(nlags, r.size // 2 - 1)))
    return acf(r, nlags=nlags, fft=False), pacf(r, nlags=nlags, method="ywm")


def breusch_godfrey(y: np.ndarray, exog: np.ndarray, nlags: int) -> tuple[float, float]:
    """Breusch-Godfrey LM statistic and p-value for the OLS regression of ``y`` on ``exog``."""
    res = sm.OLS(np.asarray(y, dtype=float), np.asarray(exog, dtype=float)).fit()
    out = acorr_breusch_godfrey(res, nlags=int(nlags), result_object=True)
    return float(out.lm), float(out.lmpval)


def autocorrelation_tests(
    residuals: dict[str, np.ndarray],
    *,
    ols: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    n_params: int,
    season_period: int = 1,
    lags: int | Sequence[int] | None = None,
    residual_kind: str = "raw",
) -> pd.DataFrame:
    """Breusch-Godfrey (when ``ols`` gives each series' outcome and regressors), Ljung-Box and Durbin-Watson.

    Parameters
    ----------
    residuals
        Series name -> residuals in time order.
    ols
        Series name -> (outcome, regressors) of the series' OLS regression, for the Breusch-Godfrey test.
    n_params
        Regressors per series (for the default lag order).
    season_period
        12 (monthly), 4 (quarterly) or 1.
    lags
        A lag or lags for the Ljung-Box and Breusch-Godfrey tests. Default: see the module docstring.
    residual_kind
        ``raw`` or ``pearson``, recorded in the table.

    Returns
    -------
    DataFrame
        Columns ``series``, ``test``, ``lag``, ``statistic``, ``p_value``, ``residuals``.
    """
    rows = []
    for name, r in residuals.items():
        r = np.asarray(r, dtype=float)
        n = r.size
        if lags is None:
            bg_lags, lb_lags = default_test_lags(n, n_params, season_period)
        else:
            lb_lags = sorted({int(v) for v in ([lags] if np.isscalar(lags) else lags)})
            bg_lags = list(lb_lags)
        lb_lags = [v for v in lb_lags if 1 <= v < n]
        if ols is not None and name in ols:
            for bg_lag in bg_lags:
                if bg_lag >= 1 and n - n_params - bg_lag >= 1:
                    stat, pv = breusch_godfrey(*ols[name], nlags=bg_lag)
                    rows.append({"series": name, "test": "breusch_godfrey", "lag": bg_lag, "statistic": stat, "p_value": pv})
        if lb_lags:
            lb = acorr_ljungbox(r, lags=lb_lags, return_df=True)
            for lag, row in lb.iterrows():
                rows.append({"series": name, "test": "ljung_box", "lag": int(lag), "statistic": float(row["lb_stat"]), "p_value": float(row["lb_pvalue"])})
        rows.append({"series": name, "test": "durbin_watson", "lag": 1, "statistic": float(durbin_watson(r)), "p_value": np.nan})
    out = pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS[:-1])
    out["lag"] = out["lag"].astype("Int64")
    out["residuals"] = residual_kind
    return out
