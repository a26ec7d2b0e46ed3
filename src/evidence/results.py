"""The results contract: one tidy estimates table for every method.

Every estimator's results object exposes ``.tidy()`` returning a DataFrame with exactly the columns in
:data:`ESTIMATE_COLUMNS` (plus nothing else); ``estimates.csv`` of a run is these frames stacked. Later methods add
rows, never columns. Columns that do not apply to a row are empty (NaN / missing).

=============  =========================================================================================
column         meaning
=============  =========================================================================================
notebook       notebook that produced the row (filled in when the row is recorded)
method         estimator: ``did_2x2``, ``twfe``, ``twfe_event_study``, ``cs``, ``sun_abraham`` ...
outcome        outcome column, with a transformation suffix where one was applied (``admissions_log``)
estimand       what the number estimates: ``att``, ``event_time``, ``att_gt``, ``simple``, ``dynamic`` ...
group          cohort (first treated period label) or another subgroup; empty for pooled estimates
period         calendar period label where the estimate is period-specific
event_time     periods since treatment (0 = first treated period) for event-study rows
estimate       point estimate, in the outcome's units (or log points for ``*_log`` outcomes)
std_error      standard error
ci_lower       lower end of the (1 - alpha) confidence interval
ci_upper       upper end of the interval
p_value        two-sided p-value of estimate = 0
n_obs          observations (unit-periods) used
n_units        units used
n_clusters     clusters used for inference
=============  =========================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import special

ESTIMATE_COLUMNS: list[str] = [
    "notebook",
    "method",
    "outcome",
    "estimand",
    "group",
    "period",
    "event_time",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "p_value",
    "n_obs",
    "n_units",
    "n_clusters",
]

_DTYPES: dict[str, str] = {
    "notebook": "string",
    "method": "string",
    "outcome": "string",
    "estimand": "string",
    "group": "string",
    "period": "string",
    "event_time": "Int64",
    "estimate": "float64",
    "std_error": "float64",
    "ci_lower": "float64",
    "ci_upper": "float64",
    "p_value": "float64",
    "n_obs": "Int64",
    "n_units": "Int64",
    "n_clusters": "Int64",
}


def normal_inference(
    estimate: np.ndarray | float, std_error: np.ndarray | float, alpha: float = 0.05, df: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence interval and two-sided p-value from an estimate and its standard error.

    Uses the normal distribution, or Student's t with ``df`` degrees of freedom when ``df`` is given (for example
    G - 1 with G clusters).
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(est / se)
    # scipy.special rather than scipy.stats: the same functions without a second of import time
    if df is None:
        crit = special.ndtri(1 - alpha / 2)
        p = 2 * special.ndtr(-z)
    else:
        crit = special.stdtrit(df, 1 - alpha / 2)
        p = 2 * special.stdtr(df, -z)
    return est - crit * se, est + crit * se, p


def tidy_frame(rows: Iterable[dict] | pd.DataFrame) -> pd.DataFrame:
    """Coerce rows to the contract: all columns present, in order, with stable dtypes."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    unknown = [c for c in df.columns if c not in ESTIMATE_COLUMNS]
    if unknown:
        raise ValueError(f"tidy rows carry columns outside the estimates contract: {unknown}")
    n = len(df)
    out = {}
    for col, dtype in _DTYPES.items():
        values = df[col] if col in df.columns else pd.Series([pd.NA] * n, dtype="object")
        if dtype == "string":
            out[col] = pd.array(values.astype("object").where(values.notna(), None), dtype="string")
        elif dtype == "Int64":
            out[col] = pd.array(pd.to_numeric(values, errors="coerce").round(), dtype="Float64").astype("Int64")
        else:
            out[col] = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def stack(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack tidy frames into one estimates table."""
    frames = [tidy_frame(f) for f in frames]
    if not frames:
        return tidy_frame([])
    return tidy_frame(pd.concat(frames, ignore_index=True))


class EstimateResult:
    """Results of one estimator on one outcome, in the style of linearmodels / pyfixest.

    ``tidy()`` is the single source of numbers; ``summary()`` formats it; ``plot(ax=None)`` draws it (through
    :mod:`evidence.plots`, so that estimation code never draws).

    Parameters
    ----------
    rows
        Tidy rows (see :data:`ESTIMATE_COLUMNS`).
    method, outcome, estimand
        What was estimated (also in the rows).
    description
        The estimand, assumptions and inference of the estimator, in a sentence or two, for the reports.
    details
        Anything else a plot or a diagnostic needs (e.g. pre-period means, the fitted model).
    """

    kind: str = "coefficients"

    def __init__(self, rows: pd.DataFrame, *, method: str, outcome: str, estimand: str, description: str = "", alpha: float = 0.05, details: dict | None = None) -> None:
        self._tidy = tidy_frame(rows)
        self.method = method
        self.outcome = outcome
        self.estimand = estimand
        self.description = description
        self.alpha = alpha
        self.details = details or {}

    def tidy(self) -> pd.DataFrame:
        """The estimates as a DataFrame with the contract columns."""
        return self._tidy.copy()

    def summary(self, digits: int = 4) -> str:
        """Text table of the estimates."""
        df = self._tidy
        cols = [c for c in ("group", "period", "event_time") if df[c].notna().any()]
        show = df[cols + ["estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_units", "n_clusters"]]
        head = f"{self.method} | outcome: {self.outcome} | estimand: {self.estimand} | {100 * (1 - self.alpha):.0f}% CI"
        body = show.to_string(index=False, float_format=lambda v: f"{v:.{digits}g}", na_rep="")
        return f"{head}\n{body}" + (f"\n{self.description}" if self.description else "")

    def _repr_html_(self) -> str:
        df = self._tidy
        cols = [c for c in ("group", "period", "event_time") if df[c].notna().any()]
        show = df[cols + ["estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_units", "n_clusters"]]
        from html import escape

        return f"<p><b>{escape(str(self.method))}</b> — outcome <code>{escape(str(self.outcome))}</code>, estimand {escape(str(self.estimand))}</p>" + show.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, ax=None):  # noqa: ANN001 - matplotlib Axes
        """Plot the estimates; returns the matplotlib Axes."""
        from . import plots

        if self.kind == "event_study":
            return plots.plot_event_study(self, ax=ax)
        return plots.plot_coefficients(self, ax=ax)


class EventStudyResult(EstimateResult):
    """Event-study results (estimates by event time, reference period omitted)."""

    kind = "event_study"

    @property
    def reference(self) -> int | None:
        """Event time normalised to zero (``None`` when every event time is estimated, as in imputation)."""
        ref = self.details.get("reference", -1)
        return None if ref is None else int(ref)
