"""The pre-specified sensitivity set: the primary analysis re-run under reasonable alternatives.

Every sensitivity keeps the primary's outcome, estimator and options and changes one thing (the protocol lists which
run: ``protocol.sensitivity``). One that cannot apply to the design says *not applicable*, with the reason and the
parameter that would change it; it never fails the run.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Thresholds for "exposed" footprints
    Context: overlapping programmes covered parts of footprints. Decision: a footprint is left out of
    ``vanguard_excluded`` when area-type vanguards covered at least half of its areas, and out of
    ``field_test_excluded`` when field-test trusts saw at least a quarter of its type-1 attendances (2018/19); GM
    devolution covers its whole footprint. Consequences: light exposure stays in (the covariate version adjusts for
    the shares instead).
Covariates
    Context: the protocol's primary analysis is unconditional; outcome regression with at most two baseline
    covariates is the pre-specified adjustment. Decision: for the built-in data, IMD 2019 score and the share aged
    65+ (``covariates``), and the pioneer-free programme shares (area vanguard and field-test) for
    ``programmes_as_covariates``; for a user's data, the first two of ``data.covariates``. Consequences: doubly
    robust propensity models (which separate with 14 treated areas) are not used.
Partial designations: why the default treats them
    Context: four wave-1/2 designations covered part of a footprint; one (North Cumbria, May 2018) covered about a
    tenth of the Cumbria and North East footprint's residents. Decision: the default (``treatment.partial: treat``)
    counts the footprint as treated from the partial designation — intention to treat: the designation is the policy
    event, the footprint's system leadership took part, and diluting an effect biases towards the null rather than
    away from it; ``partial_excluded`` drops those footprints. Consequences: the primary is conservative about
    partial designations, and the sensitivity shows how much they matter.
Leave one wave out
    Decision: each treated cohort is dropped in turn, labelled "excluding wave k" (the estimate *without* it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from .design import Design
from .errors import EvidenceError
from .panel import Panel
from .protocol import Protocol


@dataclass
class NotApplicable(Exception):
    """A sensitivity that cannot apply to this design: why, and which parameter would change it."""

    reason: str
    parameter: str = ""


def _override(params: Any, changes: dict[str, Any]) -> Any:
    """Parameters with dotted keys changed (validated like a parameters file)."""
    import copy

    from .params import load_params

    values = copy.deepcopy(params.values)
    for key, value in changes.items():
        d = values
        parts = key.split(".")
        for p in parts[:-1]:
            d = d[p]
        d[parts[-1]] = value
    return load_params(data=values)


def _prepare(params: Any, outcome: str, changes: dict[str, Any]) -> Design:
    from .pipeline import prepare

    return prepare(_override(params, {"data.outcomes": [outcome], **changes}))[1]


def exclude_units(design: Design, units: list[str] | np.ndarray, reason: str) -> Design:
    """The design without some units (status ``excluded`` with the reason)."""
    units = set(map(str, units))
    cohorts = design.cohorts.copy()
    hit = cohorts["unit"].astype(str).isin(units) & (cohorts["status"] != "excluded")
    cohorts.loc[hit, "status"] = "excluded"
    cohorts.loc[hit, "reason"] = reason
    keep = cohorts.loc[cohorts["status"] != "excluded", "unit"].to_numpy()
    return Design(design.panel.subset(units=keep), cohorts, design.comparison, design.window, list(design.notes) + [f"{int(hit.sum())} unit(s) excluded: {reason}."], design.treatment_source, dict(design.settings))


def with_covariates(design: Design, table: pd.DataFrame) -> Design:
    """The design with unit-level covariates (``table`` indexed by unit) added to its panel."""
    panel = design.panel.subset()
    for c in table.columns:
        panel.data[c] = panel.data["unit"].astype(str).map(table[c]).astype(float).to_numpy()
        if panel.data[c].isna().any():
            raise NotApplicable(f"covariate {c} is missing for some units")
    panel.covariates = list(panel.covariates) + [c for c in table.columns if c not in panel.covariates]
    return Design(panel, design.cohorts, design.comparison, design.window, list(design.notes), design.treatment_source, dict(design.settings))


@dataclass
class Sensitivity:
    name: str
    label: str
    run: Callable[[Any, Protocol, Design], tuple[Design, Protocol, str]]
    """(ctx, protocol, primary design) -> (design, protocol, outcome) to estimate, or raises NotApplicable."""
    imputation: dict[str, Any] | None = None
    """Options of :func:`evidence.staggered.imputation_general.imputation_general` when the alternative is the
    imputation estimator with a richer untreated model (``weights="balance"`` for balancing weights)."""


def _nhs_only(ctx: Any, what: str) -> None:
    if ctx.panel.source != "nhs_ae":
        raise NotApplicable(f"{what} exists for the built-in NHS data only", "data.source")


def _designations_only(ctx: Any) -> None:
    if ctx.params["treatment.cohort"] or ctx.params["treatment.indicator"]:
        raise NotApplicable("the treatment comes from a column, not from the designation table", "treatment.cohort / treatment.indicator")


def _covariates(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    cov = ["imd_score", "pct_65_plus_2016"] if ctx.panel.source == "nhs_ae" else list(ctx.params["data.covariates"])[:2]
    if not cov:
        raise NotApplicable("the data have no baseline covariates", "data.covariates")
    return d, _with_primary(proto, covariates=cov), proto.primary["outcome"]


def _anticipation(k: int) -> Callable[..., tuple[Design, Protocol, str]]:
    def run(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
        g = d.g[np.isfinite(d.g)]
        if g.size == 0 or g.min() - k < 1:
            raise NotApplicable(f"the earliest cohort has fewer than {k + 1} periods before treatment", "design.start")
        return d, _with_primary(proto, anticipation=k), proto.primary["outcome"]

    return run


def _effective(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    _designations_only(ctx)
    if ctx.params["treatment.date_basis"] == "effective":
        raise NotApplicable("the run already uses effective dates", "treatment.date_basis")
    return _prepare(ctx.params, proto.primary["outcome"], {"treatment.date_basis": "effective"}), proto, proto.primary["outcome"]


def _partial(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    _designations_only(ctx)
    if ctx.params["treatment.partial"] == "exclude":
        raise NotApplicable("the run already excludes partial designations", "treatment.partial")
    return _prepare(ctx.params, proto.primary["outcome"], {"treatment.partial": "exclude"}), proto, proto.primary["outcome"]


def _exposure(ctx: Any) -> pd.DataFrame:
    from .data.programmes import read_exposure

    return read_exposure().set_index("stp21_code")


def _excluding(column: str, threshold: float, what: str) -> Callable[..., tuple[Design, Protocol, str]]:
    def run(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
        _nhs_only(ctx, what)
        exp = _exposure(ctx)
        units = exp.index[exp[column] >= threshold]
        units = [u for u in units if u in set(d.panel.units)]
        if not units:
            raise NotApplicable(f"no footprint of the design has {what}")
        d2 = exclude_units(d, units, f"{what} (sensitivity)")
        if not d2.treated.any():
            raise NotApplicable(f"every treated footprint has {what}")
        return d2, proto, proto.primary["outcome"]

    return run


def _programme_covariates(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    _nhs_only(ctx, "overlapping-programme exposure")
    exp = _exposure(ctx)[["vanguard_area_share", "field_test_share"]]
    return with_covariates(d, exp), _with_primary(proto, covariates=["vanguard_area_share", "field_test_share"]), proto.primary["outcome"]


def _registered(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    _nhs_only(ctx, "the registered-patient denominator")
    o = proto.primary["outcome"]
    if not o.endswith("_per_100k"):
        raise NotApplicable(f"the primary outcome {o} is not a rate per 100,000 residents", "protocol.primary.outcome")
    alt = f"{o}_registered"
    return _prepare(ctx.params, alt, {}), proto, alt


def _same(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    return d, proto, proto.primary["outcome"]


def _region(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    if "region" not in d.panel.data.columns:
        raise NotApplicable("the data have no region column", "data.source")
    return d, proto, proto.primary["outcome"]


def _monthly(ctx: Any, proto: Protocol, d: Design) -> tuple[Design, Protocol, str]:
    if d.panel.frequency != "month":
        raise NotApplicable(f"month-of-year effects need monthly data; these are {d.panel.frequency} periods", "data.frequency")
    return d, proto, proto.primary["outcome"]


def balance_weights_for(design: Design, outcome: str) -> tuple[np.ndarray, float]:
    """Entropy-balancing weights of the comparison units on three baseline moments of the outcome's unit series
    (level and trend over the baseline, and log population where there is one); treated units weigh 1."""
    from .balance import unit_baseline
    from .staggered.imputation_general import balancing_weights

    ub = unit_baseline(design, [outcome])
    cols = [outcome] + [c for c in ub.columns if c.endswith("(trend per year)")]
    X = ub[cols].to_numpy(dtype=float)
    if design.panel.has_population:
        pop = design.panel.data.loc[design.panel.data["t"] == 0, "population"].to_numpy(dtype=float)
        X = np.column_stack([X, np.log(pop)])
    tr = design.treated
    w = np.ones(len(tr))
    w[~tr] = balancing_weights(X[tr].mean(axis=0), X[~tr])
    ess = float(w[~tr].sum() ** 2 / (w[~tr] ** 2).sum())
    return w, ess


def _with_primary(proto: Protocol, **changes: Any) -> Protocol:
    return dataclasses.replace(proto, primary={**proto.primary, **changes})


REGISTRY: dict[str, Sensitivity] = {s.name: s for s in [
    Sensitivity("covariates", "covariate-adjusted (outcome regression, two baseline covariates)", _covariates),
    Sensitivity("anticipation_3", "anticipation of 3 periods", _anticipation(3)),
    Sensitivity("anticipation_6", "anticipation of 6 periods", _anticipation(6)),
    Sensitivity("effective_dates", "effective rather than announced designation dates", _effective),
    Sensitivity("partial_excluded", "footprints first designated in part excluded", _partial),
    Sensitivity("gm_excluded", "excluding Greater Manchester (devolution from April 2016)", _excluding("gm_devolution", 1, "Greater Manchester devolution")),
    Sensitivity("vanguard_excluded", "excluding footprints at least half covered by area-type vanguards", _excluding("vanguard_area_share", 0.5, "area-type vanguards covering half or more")),
    Sensitivity("field_test_excluded", "excluding footprints with a quarter or more of type-1 attendances at field-test trusts", _excluding("field_test_share", 0.25, "A&E field-test trusts with a quarter or more of attendances")),
    Sensitivity("programmes_as_covariates", "overlapping programmes as covariates (vanguard and field-test shares)", _programme_covariates),
    Sensitivity("registered_denominator", "per 100,000 GP registered patients instead of residents", _registered),
    Sensitivity("imputation", "imputation estimator, unit and period effects (the reference for the imputation rows below)", _same, {}),
    Sensitivity("region_period", "imputation with region x period effects (fitted on untreated cells)", _region, {"region_period": True}),
    Sensitivity("pre_trends", "imputation with unit linear trends fitted on untreated cells", _same, {"unit_trends": True}),
    Sensitivity("unit_seasonality", "imputation with unit month-of-year effects fitted on untreated cells", _monthly, {"unit_seasonality": True}),
    Sensitivity("balancing_weights", "imputation with comparison areas weighted to balance baseline level, trend and size", _same, {"weights": "balance"}),
]}
DENSE_CELLS = 20_000_000
"""Largest dense first-stage matrix (unit-periods x parameters) the imputation sensitivities build: 160 MB, about
700 MB with the copies the fit makes, and a pseudo-inverse of at most a few thousand parameters (about 450 areas
with unit trends over 48 months; the 42-footprint default needs 1.2 million cells)."""


def _dense_columns(d: Design, opts: dict[str, Any]) -> int:
    """Parameters of :func:`evidence.staggered.imputation_general.imputation_general`'s untreated model on ``d``."""
    N, T = d.panel.n_units, d.panel.n_periods
    regions = int(d.panel.data["region"].nunique()) if opts.get("region_period") and "region" in d.panel.data.columns else 1
    return N + regions * T + (N if opts.get("unit_trends") else 0) + (11 * N if opts.get("unit_seasonality") else 0)


def _imputation_rows(ctx: Any, d: Design, outcome: str, options: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    """The imputation alternative as tidy rows (method ``imputation``), with the % of the treated baseline.

    Context: the richer untreated models are fitted by dense least squares on a unit-periods x parameters matrix
    (:func:`evidence.staggered.imputation_general.imputation_general`, meant for up to a few hundred units): for
    3,000 small areas x 48 months with unit month-of-year effects that is 144,000 x 36,048 (41 GB), and the run
    died for memory (and 300 areas took 1.4 GB and a minute). Decision: above ``DENSE_CELLS`` the plain model (unit and period effects, no weights) is the
    package's sparse imputation estimator — the same estimator and variance (equal to 1e-12 on the default and a
    300-area design) — and a richer model is not applicable, saying the size and the parameter. Consequences: the
    sensitivity table is complete on every design a dense fit can hold, and says which rows a large design leaves out.
    """
    from .primary import treated_baseline
    from .staggered.imputation_general import imputation_general

    from .missing import complete_units

    opts = dict(options)
    d, note = complete_units(d, [outcome], "the imputation estimator with trends, region-period effects or weights")  # data.missing: allow
    if opts.get("weights") == "balance" and d.treated.all():
        raise NotApplicable("balancing weights reweight comparison areas, and no unit is untreated throughout the window", "design.end")
    rows, cols = d.panel.n_units * d.panel.n_periods, _dense_columns(d, opts)
    sparse = rows * cols > DENSE_CELLS and not opts
    if rows * cols > DENSE_CELLS and not sparse:
        raise NotApplicable(f"this untreated model is fitted by dense least squares on a {rows:,} x {cols:,} matrix ({8 * rows * cols / 2**30:.0f} GB) for {d.panel.n_units:,} units; "
                            f"it is meant for designs of up to a few hundred units", "protocol.sensitivity")
    if opts.get("weights") == "balance":
        w, ess = balance_weights_for(d, outcome)
        opts["weights"] = w
        note = (note + " " if note else "") + f"effective number of comparison areas {ess:.1f} of {int((~d.treated).sum())}"
    if sparse:
        from .staggered import imputation

        r = imputation(d, outcome, alpha=ctx.alpha).tidy()
        r = r[r["estimand"] == "simple"].reset_index(drop=True)
    else:
        r = imputation_general(d, outcome, alpha=ctx.alpha, **opts).tidy()
    base = treated_baseline(d, outcome)
    pct = r.copy()
    pct["estimand"] = "simple_pct"
    for c in ("estimate", "std_error", "ci_lower", "ci_upper"):
        pct[c] = 100 * pct[c] / base
    return pd.concat([r, pct], ignore_index=True), note


LEAVE_ONE_OUT = "leave_one_wave_out"
NAMES: tuple[str, ...] = (*REGISTRY, LEAVE_ONE_OUT)


def run_sensitivities(ctx: Any, proto: Protocol, names: list[str] | None = None) -> pd.DataFrame:
    """Run the sensitivity set on the primary analysis.

    Returns
    -------
    pandas.DataFrame
        One row per sensitivity (and per wave left out): ``sensitivity``, ``label``, ``status`` (``ok`` or ``not
        applicable``), ``estimate``, ``ci_lower``, ``ci_upper``, ``p_value``, ``n_units``, ``n_treated``, ``note``
        (the reason and parameter when not applicable); ``attrs["tidy"]`` holds the estimates rows (method ``cs``,
        estimand ``simple``, group ``sensitivity: <name>``) for ``estimates.csv``.
    """
    from .primary import _design_for, analyse
    from .results import tidy_frame

    names = list(names) if names is not None else list(NAMES)
    base = _design_for(ctx, proto.primary["outcome"])
    rows, tidy = [], []

    def add(name: str, label: str, fn: Callable[[], tuple[Design, Protocol, str]], imputation: dict[str, Any] | None = None) -> None:
        note = ""
        try:
            d, pr, outcome = fn()
            if imputation is None:
                t, _ = analyse(ctx, pr, outcome, design=d, randomization=False)
            else:
                t, note = _imputation_rows(ctx, d, outcome, imputation)
        except NotApplicable as na:
            rows.append({"sensitivity": name, "label": label, "status": "not applicable", "note": na.reason + (f" (parameter: {na.parameter})" if na.parameter else "")})
            return
        except EvidenceError as exc:  # an estimator that cannot run on the variant design: not applicable, with why
            rows.append({"sensitivity": name, "label": label, "status": "not applicable", "note": str(exc)})
            return
        est = t["method"].isin(["cs", "imputation"])
        r = t[est & (t["estimand"] == "simple")].iloc[0]
        pct = t[est & (t["estimand"] == "simple_pct")]
        rows.append({"sensitivity": name, "label": label, "status": "ok", "estimate": r["estimate"], "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"], "p_value": r["p_value"],
                     "pct": float(pct["estimate"].iloc[0]) if len(pct) else np.nan, "n_units": int(r["n_units"]), "n_treated": int(d.n_treated), "outcome": outcome, "note": note})
        keep = t[est & t["estimand"].isin(["simple", "simple_pct", "simple_per_year"])].copy()
        keep["group"] = f"sensitivity: {name}"
        keep["outcome"] = proto.primary["outcome"]
        tidy.append(keep)

    for name in names:
        if name == LEAVE_ONE_OUT:
            labels = base.cohort_labels
            if len(labels) < 2:
                rows.append({"sensitivity": LEAVE_ONE_OUT, "label": "leave one wave out", "status": "not applicable", "note": "the design has a single treated cohort (parameter: treatment.waves)"})
                continue
            for k, lab in enumerate(labels, 1):
                units = base.included.loc[base.included["first_treated"] == lab, "unit"].to_numpy()
                add(f"excluding_wave_{k}", f"excluding wave {k} (cohort {lab}, {len(units)} unit{'s' if len(units) != 1 else ''})", lambda u=units, lab=lab: (exclude_units(base, u, f"cohort {lab} left out (sensitivity)"), proto, proto.primary["outcome"]))
            continue
        s = REGISTRY[name]
        add(s.name, s.label, lambda s=s: s.run(ctx, proto, base), s.imputation)
    out = pd.DataFrame(rows)
    out.attrs["tidy"] = tidy_frame(pd.concat(tidy, ignore_index=True)) if tidy else tidy_frame([])
    return out
