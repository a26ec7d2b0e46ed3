"""Results of an interrupted time series fit (:func:`evidence.its.its`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..results import EstimateResult
from . import diagnostics as diag


class ItsResult(EstimateResult):
    """Interrupted time series estimates, counterfactual series and residual diagnostics.

    Attributes
    ----------
    counterfactual
        One row per period: ``period``, ``observed``, ``fitted``, ``counterfactual`` (fitted with the treated-series
        intervention terms set to zero) and its ``cf_lower``/``cf_upper`` confidence limits (of the expected value).
    control_series
        Controlled ITS: ``period``, ``observed`` and ``fitted`` of the comparison series; else ``None``.
    model
        The statsmodels results object (OLS or GLM).
    exog
        The model's design matrix (stacked treated then comparison rows in a controlled ITS).
    acf, pacf
        Residual autocorrelations and partial autocorrelations of the treated series, lags 0 .. L.
    acf_by_series
        Series name -> (acf, pacf) for every residual series (``treated``; ``control`` and, for Gaussian controlled
        ITS, ``difference``, the residuals of treated minus comparison, whose autocorrelation drives the
        Driscoll-Kraay standard errors).
    notes
        What the fit did or found, in sentences.
    info
        Settings and fitted constants: family, seasonality, intervention, hac_lags, nb_alpha, scale ...
    """

    kind = "its"

    def __init__(
        self,
        rows: pd.DataFrame,
        *,
        outcome: str,
        description: str,
        alpha: float,
        counterfactual: pd.DataFrame,
        control_series: pd.DataFrame | None,
        model: Any,
        exog: pd.DataFrame,
        endog: np.ndarray,
        offset: np.ndarray | None,
        base_exog: pd.DataFrame,
        residuals: dict[str, np.ndarray],
        info: dict[str, Any],
        notes: list[str],
    ) -> None:
        super().__init__(rows, method="its", outcome=outcome, estimand="level_change", description=description, alpha=alpha, details=info)
        self.counterfactual = counterfactual
        self.control_series = control_series
        self.model = model
        self.exog = exog
        self.endog = np.asarray(endog, dtype=float)
        self.offset = offset
        self.base_exog = base_exog
        self.residuals = residuals
        self.info = info
        self.notes = list(notes)

    # -- residual autocorrelation (computed on first use) ---------------------------------------------------
    @cached_property
    def acf_by_series(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Series name -> (ACF, PACF) of its residuals at lags 0 .. L."""
        nl = diag.acf_lags(len(self.counterfactual), self.info.get("season_period", 1))
        return {name: diag.residual_acf_pacf(r, nl) for name, r in self.residuals.items()}

    @property
    def acf(self) -> np.ndarray:
        """Residual autocorrelations of the treated series, lags 0 .. L."""
        return self.acf_by_series["treated"][0]

    @property
    def pacf(self) -> np.ndarray:
        """Residual partial autocorrelations (Yule-Walker) of the treated series, lags 0 .. L."""
        return self.acf_by_series["treated"][1]

    # -- convenience -----------------------------------------------------------------------------------------
    @property
    def family(self) -> str:
        return self.info["family"]

    @property
    def intervention(self) -> str:
        """Label of the first post-intervention period."""
        return self.info["intervention"]

    @property
    def controlled(self) -> bool:
        return self.info["control"] == "pooled"

    def estimate(self, estimand: str) -> pd.Series:
        """The tidy row of one estimand (the first, if several)."""
        df = self._tidy
        hit = df[df["estimand"] == estimand]
        if hit.empty:
            raise KeyError(f"no {estimand!r} row; estimands: {', '.join(df['estimand'].unique())}")
        return hit.iloc[0]

    # -- diagnostics -----------------------------------------------------------------------------------------
    def diagnostics(self, lags: int | Sequence[int] | None = None) -> pd.DataFrame:
        """Residual autocorrelation tests: Breusch-Godfrey (Gaussian models), Ljung-Box at several lags, Durbin-Watson.

        One block of rows per series (``treated``; ``control`` and, for Gaussian models, ``difference`` in a
        controlled ITS). See
        :mod:`evidence.its.diagnostics` for the residuals used and the default lags. The residual ACF and PACF are
        in :attr:`acf` and :attr:`pacf`.
        """
        T = len(self.counterfactual)
        base = self.base_exog.to_numpy()
        ols = None
        if self.family == "gaussian":
            ols = {"treated": (self.endog[:T], base)}
            if self.controlled:
                ols["control"] = (self.endog[T:], base)
                ols["difference"] = (self.endog[:T] - self.endog[T:], base)
        return diag.autocorrelation_tests(
            self.residuals,
            ols=ols,
            n_params=base.shape[1],
            season_period=self.info.get("season_period", 1),
            lags=lags,
            residual_kind="raw" if self.family == "gaussian" else "pearson",
        )

    # -- display ---------------------------------------------------------------------------------------------
    def _table(self) -> pd.DataFrame:
        df = self._tidy
        return df[["group", "estimand", "period", "event_time", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_obs"]]

    def summary(self, digits: int = 4) -> str:
        """Text summary: model settings, estimates and notes."""
        i = self.info
        head = (
            f"its | outcome: {self.outcome} | {i['group']} | family: {i['family']} | seasonality: {i['seasonality']}"
            f" | intervention: {i['intervention']} ({i['n_pre']} pre, {i['n_post']} post periods)"
            f" | {'HAC lag ' + str(i['hac_lags']) if i['robust'] else 'model-based SEs'}"
            f"{' | NB alpha ' + format(i['nb_alpha'], '.4g') if i['nb_alpha'] is not None else ''}"
            f" | {100 * (1 - self.alpha):.0f}% CI"
        )
        body = self._table().to_string(index=False, float_format=lambda v: f"{v:.{digits}g}", na_rep="")
        tail = "\n".join(["", self.description] + [f"Note: {n}" for n in self.notes])
        return f"{head}\n{body}{tail}"

    def _repr_html_(self) -> str:
        i = self.info
        from html import escape

        notes = "".join(f"<li>{escape(str(n))}</li>" for n in self.notes)
        return (
            f"<p><b>its</b> — outcome <code>{escape(str(self.outcome))}</code>, {escape(str(i['group']))}, {escape(str(i['family']))}, intervention {escape(str(i['intervention']))}</p>"
            + self._table().to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")
            + (f"<ul>{notes}</ul>" if notes else "")
        )

    def plot(self, ax: Any = None, synthetic: bool = False) -> Any:  # noqa: ANN401 - matplotlib Axes
        """Observed, fitted and counterfactual series with the intervention marked; returns the Axes."""
        from .plots import plot_counterfactual

        return plot_counterfactual(self, ax=ax, synthetic=synthetic)
