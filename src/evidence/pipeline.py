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


def missing_mode(params: Params) -> str:
    """``data.missing`` (with its deprecated alias ``data.balance``) as :func:`evidence.panel.validate_panel`'s mode."""
    if params["data.missing"] == "allow":
        return "allow"
    return "drop" if params["data.missing"] == "drop_units" or params["data.balance"] == "drop" else "error"


def load_panel(params: Params) -> Panel:
    """The validated panel named by the ``data.*`` parameters."""
    d = params["data"]
    treatment_cols = [c for c in (params["treatment.cohort"], params["treatment.indicator"]) if c]
    source = d["source"]
    if source == "records":
        if d["incomplete"] != "flag":
            raise DataError(f"data.incomplete: {d['incomplete']} applies to the built-in nhs_ae source (provider completeness), not to record-level data; remove it.")
        return _records_panel(params, treatment_cols)
    if source != "file":
        if treatment_cols:
            raise DataError(f"built-in source {source} has no column '{treatment_cols[0]}' (treatment.cohort/indicator); leave them empty to use the designation table.")
        defaults = BUILTIN_COLUMNS[source]
        if (d["unit"], d["time"]) not in (defaults, ("stp21_code", "period")):
            raise DataError(f"built-in source {source} has its own unit and time columns; remove data.unit/data.time from the params file or use data.path for your own file.")
        panel = _builtin_panel(source, d, params)
        if d["reference_rates"]:
            if source != "nhs_ae":
                raise DataError(f"data.reference_rates applies to the nhs_ae source (population by age band), not {source}.")
            from .data.ae import add_indirectly_standardised

            panel = add_indirectly_standardised(panel, resolve(d["reference_rates"]))
        return _cluster_and_covariates(panel, d, f"built-in source {source}", region=source == "nhs_ae", available=COVARIATES.get(source, ()))
    if d["incomplete"] != "flag":
        raise DataError(f"data.incomplete: {d['incomplete']} applies to the built-in nhs_ae source (provider completeness), not to a user's file or records; remove it.")
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
        balance=missing_mode(params),
        controls=list(d["controls"]),
    )


BUILTIN_COLUMNS: dict[str, tuple[str, str]] = {"nhs_ae": ("stp21_code", "period"), "gp_payments": ("stp21_code", "fin_year"), "gp_payments_practice": ("practice_code", "fin_year"), "gpps": ("unit", "Year")}
COVARIATES: dict[str, tuple[str, ...]] = {"nhs_ae": ("imd_score", "pct_65_plus_2016", "log_population_2016")}


def _records_panel(params: Params, treatment_cols: list[str]) -> Panel:
    """Footprint x month panel aggregated from record-level data (``data.records.*``; :mod:`evidence.records`).

    The window is ``design.start``..``design.end``; costs use ``costs.unit_costs`` when given; the panel holds the
    outcomes of ``data.outcomes``.
    """
    from .records import panel_from_records

    d, r = params["data"], params["data"]["records"]
    if treatment_cols:
        raise DataError(f"record-level data (data.records.path) carry no column '{treatment_cols[0]}' (treatment.cohort/indicator); leave them empty to use the designation table.")
    if (d["unit"], d["time"]) != ("stp21_code", "period"):
        raise DataError("record-level data are aggregated to 2021 footprints by month; remove data.unit/data.time from the params file.")
    start, end = params["design.start"], params["design.end"]
    if isinstance(start, int) or isinstance(end, int):
        raise DataError(f"record-level data give monthly panels; write design.start and design.end as months (for example 2016-04), not {start!r}.")
    panel = panel_from_records(
        r["path"], engine=r["engine"], geography=r["geography"], start=str(start)[:7], end=str(end)[:7],
        spark_master=r["spark_master"], memory_limit=r["memory_limit"], temp_dir=resolve(r["temp_dir"]) if r["temp_dir"] else None,
        unit_costs=resolve(params["costs.unit_costs"]) if params["costs.unit_costs"] else None,
        unknown_codes=r["unknown_codes"], outside_window=r["outside_window"], outcomes=list(d["outcomes"]),
    )
    return _cluster_and_covariates(panel, d, "record-level panels", region=True, available=COVARIATES["nhs_ae"])


def _cluster_and_covariates(panel: Panel, d: dict, what: str, *, region: bool, available: tuple[str, ...]) -> Panel:
    """Apply ``data.cluster`` (only ``region`` exists, where ``region`` is true) and ``data.covariates`` to a built-in
    or record-level panel."""
    if d["cluster"] is not None:
        if d["cluster"] != "region" or not region:
            raise DataError(f"{what}: data.cluster '{d['cluster']}' is not available; leave it empty (clusters = footprints){' or use region' if region else ''}.")
        panel.data["cluster"] = panel.data["region"].astype("string")
        panel.columns["cluster"] = "region"
    if d["controls"]:
        raise DataError(f"{what}: data.controls names columns of a user's file; the built-in sources have no time-varying controls — remove data.controls.")
    if d["covariates"]:
        unknown = [c for c in d["covariates"] if c not in available]
        if unknown:
            raise DataError(f"{what}: covariate '{unknown[0]}' (data.covariates) does not exist; choose from {', '.join(available) or 'none (this source has no covariates)'}.")
        panel.covariates = list(d["covariates"])
    return panel


def _builtin_panel(source: str, d: dict, params: Params) -> Panel:
    if source == "nhs_ae":
        window = (str(params["design.start"]), str(params["design.end"]))
        panel, _ = build_ae_panel(d["ae_types"], d["outcomes"], incomplete=d["incomplete"], window=window, local_dir=resolve(d["local_months"]))
        return panel
    if d["incomplete"] != "flag":
        raise DataError(f"data.incomplete: {d['incomplete']} applies to the built-in nhs_ae source (provider completeness), not {source}; remove it.")
    if source == "gp_payments":
        from .data.costs import build_gp_payments_panel

        return build_gp_payments_panel(d["outcomes"], deflator=resolve(params["costs.deflator"]) if params["costs.deflator"] else None, price_year=params["costs.price_year"])
    if source == "gp_payments_practice":
        from .data.costs import build_gp_practice_panel

        return build_gp_practice_panel(d["outcomes"], balance="drop")
    from .data.satisfaction import build_gpps_panel

    return build_gpps_panel(d["outcomes"], balance="drop")


def build_design(panel: Panel, params: Params) -> Design:
    """The design named by the ``treatment.*`` and ``design.*`` parameters."""
    t, g = params["treatment"], params["design"]
    common = dict(start=g["start"], end=g["end"], comparison=g["comparison"])
    if t["cohort"]:
        return design_from_cohort_column(panel, t["cohort"], first_period=t["first_period"], **common)
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
        first_period=t["first_period"] or "first_full",
        **common,
    )


NHS_WINDOW: tuple[str, str] = ("2016-04", "2020-02")
"""The analysis window of the built-in nhs_ae source when design.start/design.end are empty (pre-COVID)."""


def _fill_window(params: Params, panel: Panel | None) -> None:
    """Empty design.start/design.end: the built-in NHS window, or the data's own first/last period (written back into
    the parameters, so params.yaml, the notebooks and the protocol all see the window used)."""
    g = params.values["design"]
    for i, key in enumerate(("start", "end")):
        if g[key] is not None:
            continue
        if params["data.source"] == "nhs_ae" or panel is None:
            g[key] = NHS_WINDOW[i]
        else:
            per = panel.periods[0 if i == 0 else -1]
            if panel.frequency == "integer":
                g[key] = int(per)
            elif panel.frequency == "fy":
                g[key] = panel.period_labels[0 if i == 0 else -1]  # 2017/18
            else:  # the first month of the period (2015-01 for 2015Q1): a form design.start/end accept
                g[key] = per.start_time.strftime("%Y-%m")


def prepare(params: Params) -> tuple[Panel, Design]:
    """Validated panel and design for a run."""
    if params["data.source"] == "nhs_ae":
        _fill_window(params, None)
    if params["data.source"] == "records" and (params["design.start"] is None or params["design.end"] is None):
        from .errors import ParamsError

        raise ParamsError("record-level data are aggregated over the analysis window: give design.start and design.end as months (for example 2016-04 and 2019-03).")
    panel = load_panel(params)
    _fill_window(params, panel)
    if panel.extras.get("synthetic") and not params["report.synthetic"]:
        # records made by evidence.records.generate: the whole run is labelled synthetic, whatever the params say
        params.values["report"]["synthetic"] = True
    return panel, build_design(panel, params)


def prepare_source(params: Params, source: str, outcomes: list[str], start: object, end: object, waves: list[int] | None = None) -> tuple[Panel, Design]:
    """Panel and design of another built-in source under the run's treatment parameters (costs, satisfaction).

    The treatment definition (designation table, date basis, partial designations, waves, first-period rule) is the
    run's own; only the data source, outcomes and window change.
    """
    from .params import load_params

    values = params.values
    override = {
        **values,
        "data": {**values["data"], "source": source, "path": None, "records": {**values["data"]["records"], "path": None, "spark_master": None}, "outcomes": list(outcomes), "unit": "stp21_code", "time": "period", "covariates": [], "controls": [], "cluster": None, "outcome_kinds": {}, "incomplete": "flag"},
        "treatment": {**values["treatment"], "cohort": None, "indicator": None, **({"waves": list(waves)} if waves is not None else {})},
        "design": {**values["design"], "start": start, "end": end},
    }
    sub = load_params(data=override)
    return prepare(sub)


def prepare_family(params: Params, design: Design, family: str) -> tuple[Panel | None, Design | None]:
    """Panel and design of the cost or satisfaction analyses (``family``: ``costs`` or ``satisfaction``).

    Context: 08_costs_satisfaction analyses built-in NHS sources (GP payments, GP Patient Survey) that belong only to
    an evaluation of the built-in NHS data. Decision: a user's run analyses costs or satisfaction only from the user's
    own file (``costs.path`` / ``satisfaction.path``), under the run's own treatment: each unit's first treated
    period is carried to the file's periods with ``treatment.first_period`` (first_full when empty); with no file,
    nothing. Consequences: NHS results never appear under a user's title; a user's cost file may have another
    frequency than the service-use data (annual costs beside monthly activity).

    Returns
    -------
    (panel, design), or (None, None) when the family is disabled or has no data for this run.
    """
    if not params[f"{family}.enabled"]:
        return None, None
    outcomes = list(params[f"{family}.outcomes"])
    path = params[f"{family}.path"]
    if path is None:
        if params["data.source"] != "nhs_ae":
            return None, None
        if family == "costs":
            return prepare_source(params, "gp_payments", outcomes, params["costs.start"], params["costs.end"])
        return prepare_source(params, "gpps", outcomes, params["satisfaction.start"], params["satisfaction.end"])
    from .data.user import read_table
    from .panel import validate_panel

    full = resolve(path)
    raw = read_table(full)
    unit, time = params["data.unit"], params["costs.time"] or params["data.time"]
    kinds = {o: ("percent" if family == "satisfaction" else "continuous") for o in outcomes}
    df, freq, notes = validate_panel(raw, name=display(full), unit=unit, time=time, outcomes=outcomes, outcome_kinds=kinds, frequency=None, balance=missing_mode(params))
    from .design import _to_period

    labels = design.cohorts.set_index("unit")["first_treated"].astype("string").fillna("")
    main_freq = design.panel.frequency
    if main_freq == "integer":
        first = labels
    else:  # the first day of each unit's first treated period, so files of another frequency can place it
        uniq = {lab: _to_period(lab, main_freq).start_time.strftime("%Y-%m-%d") for lab in labels.unique() if lab}
        first = labels.map(lambda lab: uniq.get(lab, "0"))
    df["_first_treated"] = df["unit"].astype("string").map(first).fillna("0").replace("", "0").to_numpy()
    panel = Panel(df, outcomes, kinds, freq, [], display(full), {display(full): sha256(full)}, notes)
    unknown = int((~df["unit"].astype("string").isin(first.index.astype("string"))).sum())
    if unknown:
        panel.notes.append(f"{unknown} row(s) of {display(full)} belong to units that are not in the run's data; they count as never treated.")
    span = [int(panel.periods[0]), int(panel.periods[-1])] if freq == "integer" else [p.start_time.strftime("%Y-%m") if freq != "fy" else lab for p, lab in ((panel.periods[0], panel.period_labels[0]), (panel.periods[-1], panel.period_labels[-1]))]
    sub = design_from_cohort_column(panel, "_first_treated", first_period=params["treatment.first_period"] or ("first_full" if freq != "integer" else None), start=span[0], end=span[1], comparison=params["design.comparison"])
    return panel, sub


def prepare_outcomes(params: Params, outcomes: list[str]) -> tuple[Panel, Design]:
    """Panel and design of the run's own data and treatment, analysing ``outcomes`` instead of ``data.outcomes``.

    Used for outcomes that need their own panel (for example a 4-hour measure that leaves a footprint out).
    """
    from .params import load_params

    values = params.values
    override = {**values, "data": {**values["data"], "outcomes": list(outcomes)}}
    return prepare(load_params(data=override))


def preflight(params: Params, panel: Panel, design: Design | None = None) -> None:
    """Checks of the analysis options that would otherwise fail inside a notebook, run before any notebook starts.

    Raises a one-line :class:`~evidence.errors.EvidenceError` for: a unit-cost table that cannot value every activity,
    a deflator without a price year (or the reverse), plan assumptions about outcomes the run does not estimate in
    logs, and placebo outcomes that are not in the panel.
    """
    from .data.costs import deflate, unit_costs
    from .errors import ParamsError

    costs = unit_costs(resolve(params["costs.unit_costs"])) if params["costs.unit_costs"] else unit_costs()
    deflate(costs, resolve(params["costs.deflator"]) if params["costs.deflator"] else None, params["costs.price_year"])
    counts = [o for o in panel.outcomes if panel.outcome_kinds.get(o) == "count"]
    for i, a in enumerate(params["plan.assumptions"]):
        if a["outcome"] not in counts or not params["methods.did.log_outcomes"]:
            raise ParamsError(f"plan.assumptions[{i}]: outcome '{a['outcome']}' is not a count outcome estimated in logs in this run; choose from {', '.join(counts) or 'none'} and keep methods.did.log_outcomes: true.")
    missing = [o for o in params["robustness.placebo_outcomes"] if o not in panel.outcomes]
    if missing:
        raise ParamsError(f"robustness.placebo_outcomes: '{missing[0]}' is not in the panel; add it to data.outcomes (it must be a column of the data).")
    if design is not None and "00_primary" in params["notebooks"]:
        from .protocol import check

        check(params, panel, design)
