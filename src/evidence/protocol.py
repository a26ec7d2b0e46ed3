"""The pre-specified evaluation protocol: what the primary analysis is, fixed before the results, and how a run departs.

Decisions (Context / Decision / Consequences)
---------------------------------------------
One primary analysis, pre-specified
    Context: nine estimators on fifteen outcomes invite choosing the answer after seeing it. Decision: the
    ``protocol.*`` parameters name one primary outcome, estimator, comparison, window and inference, the secondary
    family with its multiplicity adjustment, and negative controls; the shipped protocol is hashed and the commit
    that fixed it is recorded, and a test fails if the protocol changes without a deviation. Consequences: the
    headline of every report is that analysis; everything else is secondary, sensitivity or exploration.
The default primary analysis (built-in NHS data)
    Context: total emergency admissions are the activity integration plans promise to cut; footprints differ
    tenfold in size, and with 14 treated footprints, cohorts of one and region-like covariates, doubly robust
    propensity models separate or fail. Decision: total emergency admissions per 100,000 residents per month;
    Callaway-Sant'Anna, not-yet-treated comparison, unconditional, universal base period, footprints unweighted;
    April 2016 - February 2020 (pre-COVID), waves 1-3 treated; cluster-robust analytic standard errors and,
    pre-specified beside them, randomisation inference over designation timing. Consequences: the estimand is the
    average effect of designation over treated footprint-months, per resident; covariate adjustment belongs to the
    sensitivity set.
Derived protocol for a user's data
    Context: the NHS defaults mean nothing for another panel. Decision: for a user's file or records the protocol is
    derived (primary = the first of ``data.outcomes``, the other outcomes secondary, unconditional
    Callaway-Sant'Anna, the data's own window) unless the user writes one; a written key the data or design cannot
    support is a one-line error before any notebook runs. Consequences: every run has a primary analysis; a derived
    protocol is labelled as derived, not as pre-specified.
Deviations
    Context: protocols change, and a reviewer must see how. Decision: ``protocol.deviations`` lists written
    deviations (date, change, reason); differences between the run's own parameters and the protocol (window,
    waves, comparison) are detected and listed as deviations of the run. Consequences: a run on other parameters
    says, at the top of every report, where it departs from the protocol.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ParamsError

NHS_PRIMARY = "emergency_admissions_per_100k"
NHS_SECONDARY: tuple[str, ...] = ("attendances_per_100k", "emergency_admissions_via_ae_per_100k", "emergency_admissions_other_per_100k", "pct_within_4h", "gp_payments:payments_per_registered_patient_real", "gpps:overall_pct")
OTHER_SOURCES: tuple[str, ...] = ("gp_payments", "gpps")
"""Built-in sources whose outcomes a protocol may name as ``source:outcome`` (analysed on their own panel and window:
``costs.start``/``costs.end``, ``satisfaction.start``/``satisfaction.end``) when the run's data are ``nhs_ae``."""
NHS_NEGATIVE_CONTROLS: tuple[str, ...] = ("attendances_type2_per_100k",)


@dataclass
class Protocol:
    """The resolved protocol of a run.

    Attributes
    ----------
    primary
        ``outcome``, ``estimator``, ``control_group``, ``base_period``, ``covariates``, ``anticipation``,
        ``inference``, ``permutations``.
    window, waves
        The pre-specified window (start, end) and treated waves (``None`` when the treatment is a column).
    secondary, multiplicity, negative_controls
        The secondary family, its adjustment, and negative-control outcomes.
    fixed_on, fixed_commit, seen_before
        When and in which commit the protocol was fixed, and what had been seen by then.
    deviations
        Written deviations (date, change, reason).
    run_deviations
        Where this run's parameters depart from the protocol (generated).
    derived
        Which parts were derived rather than written.
    source
        ``nhs_ae`` default, ``written`` or ``derived``.
    """

    primary: dict[str, Any]
    window: tuple[str, str]
    waves: list[int] | None
    secondary: list[str]
    multiplicity: str
    negative_controls: list[str]
    sensitivity: list[str] = field(default_factory=list)
    fixed_on: str | None = None
    fixed_commit: str | None = None
    seen_before: str | None = None
    deviations: list[dict[str, Any]] = field(default_factory=list)
    run_deviations: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    source: str = "written"

    def content(self) -> dict[str, Any]:
        """The hashed content, as plain data."""
        d: dict[str, Any] = {
            "primary": dict(self.primary),
            "window": list(self.window),
            "waves": self.waves,
            "secondary": list(self.secondary),
            "multiplicity": self.multiplicity,
            "negative_controls": list(self.negative_controls),
            "fixed_on": self.fixed_on,
            "seen_before": self.seen_before,
        }
        if self.sensitivity:  # hashed when present (protocols fixed before the sensitivity set keep their hash)
            d["sensitivity"] = list(self.sensitivity)
        return d

    @property
    def digest(self) -> str:
        """sha256 of the protocol's content (canonical JSON), first 12 hex digits shown in reports."""
        return content_digest(self.content())

    @property
    def outcomes(self) -> list[str]:
        """Primary, secondary and negative-control outcomes, in that order, without repeats."""
        return list(dict.fromkeys([self.primary["outcome"], *self.secondary, *self.negative_controls]))

    def table(self) -> list[tuple[str, str]]:
        """(item, value) pairs describing the protocol, for the reports."""
        p = self.primary
        cov = ", ".join(p["covariates"]) or "none (unconditional)"
        rows = [
            ("primary outcome", p["outcome"]),
            ("estimator", f"Callaway-Sant'Anna overall ATT (simple aggregation), {p['control_group'].replace('_', '-')} comparison, {p['base_period']} base period, covariates: {cov}, anticipation {p['anticipation']}"),
            ("inference", " and ".join({"analytic": "cluster-robust analytic standard errors", "randomization": f"randomisation inference over designation timing ({p['permutations']} re-assignments)"}[i] for i in p["inference"])),
            ("window", f"{self.window[0]} to {self.window[1]}"),
            ("treated waves", ", ".join(map(str, self.waves)) if self.waves else "from the treatment column"),
            ("secondary outcomes", ", ".join(self.secondary) or "none"),
            ("multiplicity", "Holm over the secondary family" if self.multiplicity == "holm" else "none"),
            ("negative controls", ", ".join(self.negative_controls) or "none"),
            ("sensitivity set", ", ".join(self.sensitivity) or "none"),
        ]
        return rows


def content_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _label(value: Any, which: str = "start") -> str:
    if value is None:  # only before prepare() fills the window from the data
        return "first period of the data" if which == "start" else "last period of the data"
    return str(value)[:7] if not isinstance(value, int) else str(value)


def resolve(params: Any, panel: Any = None) -> Protocol:
    """The protocol of a run: written keys, else the built-in source's defaults, else derived from the data.

    Parameters
    ----------
    params
        The run's :class:`evidence.params.Params`.
    panel
        The run's panel (only its ``source`` and outcomes are read); ``None`` reads them from the parameters.
    """
    pr = params["protocol"]
    source = params["data.source"]
    nhs = source == "nhs_ae"
    derived: list[str] = []
    outcome = pr["primary"]["outcome"]
    outcomes = list(params["data.outcomes"])
    if outcome is None:
        outcome = NHS_PRIMARY if nhs else outcomes[0]
        derived.append("primary outcome")
    secondary = list(pr["secondary"]["outcomes"])
    negative = list(pr["negative_controls"])
    if not secondary and pr["primary"]["outcome"] is None:
        secondary = list(NHS_SECONDARY) if nhs else [o for o in outcomes if o != outcome]
        derived.append("secondary outcomes")
    if not negative and nhs and pr["primary"]["outcome"] is None:
        negative = list(NHS_NEGATIVE_CONTROLS)
        derived.append("negative controls")
    control = pr["primary"]["control_group"] or params["design.comparison"]
    design_window = (_label(params["design.start"], "start"), _label(params["design.end"], "end"))
    window = tuple(pr["window"]) if pr["window"] else design_window
    if not pr["window"]:
        derived.append("window")
    from_table = not (params["treatment.cohort"] or params["treatment.indicator"])
    waves = (list(pr["waves"]) if pr["waves"] else list(params["treatment.waves"])) if from_table else None
    if from_table and not pr["waves"]:
        derived.append("waves")
    primary = {
        "outcome": outcome,
        "estimator": pr["primary"]["estimator"],
        "control_group": control,
        "base_period": pr["primary"]["base_period"],
        "covariates": list(pr["primary"]["covariates"]),
        "anticipation": int(pr["primary"]["anticipation"]),
        "inference": list(pr["primary"]["inference"]),
        "permutations": int(pr["primary"]["permutations"]),
    }
    run_dev: list[str] = []
    if tuple(window) != design_window:
        run_dev.append(f"window: this run analyses {design_window[0]} to {design_window[1]} (design.start/design.end); the protocol's is {window[0]} to {window[1]}.")
    if waves is not None and sorted(waves) != sorted(params["treatment.waves"]):
        run_dev.append(f"treated waves: this run treats waves {', '.join(map(str, params['treatment.waves']))} (treatment.waves); the protocol's are {', '.join(map(str, waves))}.")
    if pr["primary"]["control_group"] and pr["primary"]["control_group"] != params["design.comparison"]:
        run_dev.append(f"comparison: the design uses {params['design.comparison']} (design.comparison); the primary analysis keeps the protocol's {pr['primary']['control_group']}.")
    if params["data.source"] == "nhs_ae" and params["data.incomplete"] != "flag":
        run_dev.append(f"provider completeness: data.incomplete is {params['data.incomplete']}; " + ("outcomes are analysed with imputed provider months." if params["data.incomplete"] == "impute" else "footprint-months touched by missing or partial provider months are missing cells (an unbalanced panel)."))
    written = any(pr["primary"][k] is not None for k in ("outcome", "control_group")) or bool(pr["window"] or pr["secondary"]["outcomes"])
    kind = "written" if written else ("nhs_ae default" if nhs else "derived")
    sensitivity = list(pr["sensitivity"])
    if not sensitivity and not written:
        from .sensitivity import NAMES

        sensitivity = list(NAMES)
        derived.append("sensitivity set")
    return Protocol(primary, (str(window[0]), str(window[1])), waves, secondary, pr["secondary"]["multiplicity"], negative, sensitivity, pr["fixed_on"], pr["fixed_commit"], pr["seen_before"], list(pr["deviations"]), run_dev, derived, kind)


def check(params: Any, panel: Any, design: Any) -> Protocol:
    """Resolve the protocol and refuse, in one line, a written key the data or design cannot support.

    Raises
    ------
    ParamsError
        An outcome the data do not have, more than two covariates or unknown ones, a window outside the data, or a
        never-treated comparison with no never-treated units.
    """
    proto = resolve(params, panel)
    avail = _available_outcomes(params, panel)
    for key, names in (("protocol.primary.outcome", [proto.primary["outcome"]]), ("protocol.secondary.outcomes", proto.secondary), ("protocol.negative_controls", proto.negative_controls)):
        missing = [o for o in names if o not in avail]
        if missing:
            raise ParamsError(f"{key}: '{missing[0]}' is not an outcome of this data; choose from {', '.join(sorted(avail)[:12])}{' ...' if len(avail) > 12 else ''} (user data: list it in data.outcomes).")
    cov = proto.primary["covariates"]
    if len(cov) > 2:
        raise ParamsError(f"protocol.primary.covariates: {len(cov)} covariates given; the protocol allows at most two baseline covariates (more separate the propensity model with few treated areas).")
    have = set(getattr(panel, "covariates", []) or [])
    if params["data.source"] == "nhs_ae":
        from .pipeline import COVARIATES

        have |= set(COVARIATES["nhs_ae"])
    bad = [c for c in cov if c not in have]
    if bad:
        raise ParamsError(f"protocol.primary.covariates: '{bad[0]}' is not a baseline covariate of this data; choose from {', '.join(sorted(have)) or 'none (list them in data.covariates)'}.")
    labels = list(panel.period_labels)
    for end in proto.window:
        if str(end) in labels:
            continue
        try:  # a date inside a period of the data (2015-01 for 2015Q1) names that period
            from .design import _to_period

            ok = panel.frequency != "integer" and _to_period(end, panel.frequency) in set(panel.periods)
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise ParamsError(f"protocol.window: {end} is not a period of the data, which runs {labels[0]} to {labels[-1]}; write the window as periods of the data.")
    if proto.primary["control_group"] == "never_treated" and not (~design.treated).any():
        raise ParamsError("protocol.primary.control_group: never_treated, but every unit is treated within the window; use not_yet_treated.")
    return proto


def _available_outcomes(params: Any, panel: Any) -> set[str]:
    if params["data.source"] == "nhs_ae":
        from .data.costs import GP_OUTCOMES
        from .data.satisfaction import INDICATORS
        from .data.service_use import outcome_kinds

        return set(outcome_kinds()) | {f"gp_payments:{o}" for o in GP_OUTCOMES} | {f"gpps:{o}" for o in INDICATORS}
    return set(panel.outcomes)


def file_digest_at(commit: str, path: Path) -> str | None:
    """The protocol digest of the parameters file ``path`` as committed in ``commit`` (None when git cannot tell)."""
    from .params import _safe_load, load_params
    from .paths import ROOT

    try:
        rel = Path(path).resolve().relative_to(ROOT)
        text = subprocess.run(["git", "show", f"{commit}:{rel.as_posix()}"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (ValueError, OSError, subprocess.SubprocessError):
        return None
    if text.returncode != 0:
        return None
    raw = _safe_load(text.stdout)
    try:
        old = load_params(data=raw)
    except Exception:  # noqa: BLE001 - an old file the current schema cannot read: not comparable
        return None
    return resolve(old).digest


def fixed_status(proto: Protocol, params_path: str | Path | None) -> str:
    """A sentence on whether the protocol is unchanged since the commit that fixed it."""
    if not proto.fixed_on:
        return "This protocol has not been fixed (protocol.fixed_on is empty): treat the analysis as exploratory." if proto.source != "derived" else "This protocol was derived from the data (no protocol was written): treat the analysis as exploratory."
    if not proto.fixed_commit:
        return f"Fixed on {proto.fixed_on}; no commit recorded (protocol.fixed_commit)."
    if params_path is None:
        return f"Fixed on {proto.fixed_on} in commit {proto.fixed_commit[:10]}; not checked (no parameters file)."
    then = file_digest_at(proto.fixed_commit, Path(params_path))
    if then is None:
        return f"Fixed on {proto.fixed_on} in commit {proto.fixed_commit[:10]}; not checked against it (git or the committed file is not available here)."
    if then == proto.digest:
        return f"Fixed on {proto.fixed_on} in commit {proto.fixed_commit[:10]}; unchanged since (hash {proto.digest[:12]})."
    n = len(proto.deviations)
    return f"Fixed on {proto.fixed_on} in commit {proto.fixed_commit[:10]} (hash {then[:12]}); CHANGED since (now {proto.digest[:12]}): {n} deviation(s) written in protocol.deviations."
