"""From parameters to the analysis design: raw -> validated panel -> design.

This is the one place where parameters meet data; notebooks and the runner both call :func:`prepare`.
"""

from __future__ import annotations

from .data.ae import build_ae_panel
from .data.designations import load_designations
from .data.user import load_user_panel
from .design import Design, design_from_cohort_column, design_from_designations, design_from_indicator
from .errors import DataError
from .panel import Panel, sha256
from .params import Params
from .paths import display, resolve


def load_panel(params: Params) -> Panel:
    """The validated panel named by the ``data.*`` parameters."""
    d = params["data"]
    treatment_cols = [c for c in (params["treatment.cohort"], params["treatment.indicator"]) if c]
    if d["source"] == "nhs_ae":
        if treatment_cols:
            raise DataError(f"built-in source nhs_ae has no column '{treatment_cols[0]}' (treatment.cohort/indicator); leave them empty to use the designation table.")
        if d["unit"] != "stp21_code" or d["time"] != "period":
            raise DataError("built-in source nhs_ae has unit column stp21_code and time column period; remove data.unit/data.time from the params file or use data.path for your own file.")
        if d["covariates"]:
            from .data.ae import COVARIATES

            unknown = [c for c in d["covariates"] if c not in COVARIATES]
            if unknown:
                raise DataError(f"built-in source nhs_ae: covariate '{unknown[0]}' (data.covariates) does not exist; choose from {', '.join(COVARIATES)}.")
        panel, _ = build_ae_panel(d["ae_types"], d["outcomes"])
        if d["cluster"] is not None:
            if d["cluster"] != "region":
                raise DataError(f"built-in source nhs_ae: data.cluster '{d['cluster']}' does not exist; use region or leave it empty (clusters = footprints).")
            panel.data["cluster"] = panel.data["region"].astype("string")
            panel.columns["cluster"] = "region"
        if d["covariates"]:
            panel.covariates = list(d["covariates"])
        return panel
    return load_user_panel(
        resolve(d["path"]),
        unit=d["unit"],
        time=d["time"],
        outcomes=list(d["outcomes"]),
        outcome_kinds=d["outcome_kinds"],
        unit_name=d["unit_name"],
        population=d["population"],
        cluster=d["cluster"],
        covariates=list(d["covariates"]),
        treatment_columns=treatment_cols,
        frequency=d["frequency"],
        balance=d["balance"],
    )


def build_design(panel: Panel, params: Params) -> Design:
    """The design named by the ``treatment.*`` and ``design.*`` parameters."""
    t, g = params["treatment"], params["design"]
    common = dict(start=g["start"], end=g["end"], comparison=g["comparison"])
    if t["cohort"]:
        return design_from_cohort_column(panel, t["cohort"], **common)
    if t["indicator"]:
        return design_from_indicator(panel, t["indicator"], **common)
    path = resolve(t["designations"])
    table = load_designations(path)
    panel.files[display(path)] = sha256(path)
    return design_from_designations(
        panel,
        table,
        date_basis=t["date_basis"],
        partial=t["partial"],
        waves=t["waves"],
        other_waves=t["other_waves"],
        disputed_dates=t["disputed_dates"],
        first_period=t["first_period"],
        **common,
    )


def prepare(params: Params) -> tuple[Panel, Design]:
    """Validated panel and design for a run."""
    panel = load_panel(params)
    return panel, build_design(panel, params)
