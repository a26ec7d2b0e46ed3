"""What an analysis needs from the design, decided before it runs: fallbacks the field accepts, or "not applicable".

Decisions (Context / Decision / Consequences)
---------------------------------------------
Fall back where the field has a fallback, say so
    Context: evaluators' designs differ (one treated unit, no never-treated units, a single cohort, a single series);
    one inapplicable analysis must not fail the whole run. Decision: placebo inference for synthetic control needs more
    donors than treated units — otherwise the jackknife (two or more treated units) or the bootstrap is used;
    leave-one-wave-out needs two cohorts — otherwise only leave-one-unit-out runs; the controlled ITS needs comparison
    units — otherwise only the single-series ITS runs. Each choice is returned with a sentence naming the parameter
    that would change it. Consequences: every run publishes; the report says what was substituted or left out.
Size down what cannot scale, say so
    Context: a residence-level panel (3,000 or 30,000 small areas x 48 months) made analyses whose cost grows faster
    than the panel run for hours or out of memory: per-unit classic synthetic controls with placebo inference
    (treated x donors fits), SDID's per-replicate weights, power simulations of 200 panels of 1.4 million cells.
    Decision: the same verdicts carry size rules — placebo gives way to the jackknife beyond ``PLACEBO_MAX_FITS``
    classic fits (:func:`synth_inference`), 03_synthetic_control is not applicable beyond
    ``methods.synth.max_units`` treated units with per-unit fits (:func:`per_unit_size`), and 06_power's simulations
    are sized to the panel (:func:`power_size`, :func:`evidence.power.sized_reps`), each with one sentence and the
    parameter. Consequences: the workbook finishes on 30,000 areas; the default design is below every threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .design import Design


PLACEBO_MAX_FITS = 100_000
"""Most classic synthetic-control fits placebo inference may take (treated units x (1 + donors)); see :func:`synth_inference`."""


def synth_inference(design: Design, requested: str) -> tuple[str, str]:
    """The synthetic-control inference to use on ``design`` (the cohort it analyses) and a note when it changed.

    Placebo inference re-assigns treatment to donors, so it needs more donors than treated units; the jackknife needs
    two or more treated units; the bootstrap needs both groups.

    Context: placebo inference for the per-unit classic synthetic control (03_synthetic_control uses the pooled
    estimators' placebo/none choice for it) refits every treated unit at every donor — treated x (1 + donors)
    simplex fits: 585 treated small areas and 1,239 donors are 725,000 fits (an hour), where the jackknife, which
    Arkhangelsky et al. (2021) recommend when several units are treated, keeps the fitted weights (under a second).
    Decision: with two or more treated units and more than ``PLACEBO_MAX_FITS`` such fits, the jackknife replaces
    placebo inference, said with the numbers and the parameter. Consequences: large designs get jackknife intervals
    (and the per-unit synthetic controls no placebo p-values); designs up to about a few hundred areas, the default
    among them (14 treated, 29 donors), keep placebo inference.
    """
    n_tr = int(design.treated.sum())
    n_co = int((~design.treated).sum())
    if requested == "placebo" and n_co <= n_tr:
        fallback = "jackknife" if n_tr >= 2 else "bootstrap"
        return fallback, (f"Placebo inference needs more donors than treated units ({n_co} donors, {n_tr} treated): {fallback} "
                          f"inference is used instead (parameter: methods.synth.inference).")
    if requested == "placebo" and n_tr >= 2 and n_tr * (1 + n_co) > PLACEBO_MAX_FITS:
        return "jackknife", (f"Placebo inference would refit the synthetic controls at every donor ({n_tr:,} treated units x {n_co:,} donors: "
                             f"{n_tr * (1 + n_co):,} classic fits, more than {PLACEBO_MAX_FITS:,}): with this many treated units jackknife inference is used "
                             f"instead, and the per-unit synthetic controls have no placebo inference (parameter: methods.synth.inference).")
    if requested == "jackknife" and n_tr < 2:
        fallback = "placebo" if n_co > n_tr else "bootstrap"
        return fallback, f"The jackknife needs two or more treated units ({n_tr} here): {fallback} inference is used instead (parameter: methods.synth.inference)."
    return requested, ""


def leave_one_out(design: Design, requested: list[str]) -> tuple[list[str], str]:
    """The leave-one-out analyses that apply: waves need two or more cohorts; units need two or more treated units."""
    keep, notes = [], []
    n_cohorts = len(design.cohort_labels)
    n_tr = int(design.treated.sum())
    for by in requested:
        if by == "wave" and n_cohorts < 2:
            notes.append(f"leave one wave out: not applicable — the design has {n_cohorts} treated cohort (parameter: robustness.leave_one_out)")
        elif by == "unit" and n_tr < 2:
            notes.append(f"leave one unit out: not applicable — the design has {n_tr} treated unit (parameter: robustness.leave_one_out)")
        else:
            keep.append(by)
    return keep, "; ".join(notes) + ("." if notes else "")


def its_controls(design: Design) -> tuple[bool, str]:
    """Whether a controlled ITS can run: it needs units untreated throughout the window as the comparison series."""
    n_co = int((~design.treated).sum())
    if n_co == 0:
        return False, "Controlled ITS: not applicable — no unit is untreated throughout the window, so there is no comparison series; the single-series ITS is shown alone (parameters: design.end, treatment.waves)."
    return True, ""


def summary(design: Design) -> dict[str, int]:
    """Counts the applicability rules read (for reports and tests)."""
    g = design.g
    return {
        "treated": int(design.treated.sum()),
        "comparison": int((~design.treated).sum()),
        "cohorts": len(design.cohort_labels),
        "min_pre_periods": int(np.nanmin(g)) if np.isfinite(g).any() else 0,
        "periods": int(design.panel.n_periods),
    }


# ---------------------------------------------------------------------------------------------------------------
# The preflight: what each analysis needs, decided from the design before any notebook runs
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """What the applicability rules read from a design (computed once, vectorised over units)."""

    units: int
    treated: int
    comparison: int
    cohorts: int
    cohort_pre: tuple[int, ...]
    """Pre-treatment periods of each cohort in the window, earliest cohort first."""
    periods: int
    clusters: int
    treated_clusters: int
    untreated_cells_last: int
    """Units untreated in the last period of the window (0: every unit is treated by then)."""
    first_all_treated: int | None
    """First period index in which every unit is treated (None if there is none)."""
    untreated_periods: int
    """Periods in which some unit is untreated."""
    zero_outcomes: tuple[str, ...]
    """Count outcomes with a zero (or negative) value somewhere: they cannot be logged."""
    frequency: str
    user_data: bool

    @property
    def min_pre(self) -> int:
        return min(self.cohort_pre) if self.cohort_pre else 0

    @property
    def max_pre(self) -> int:
        return max(self.cohort_pre) if self.cohort_pre else 0


def facts(design: Design, user_data: bool = True) -> Facts:
    """The :class:`Facts` of ``design``."""
    g = design.g
    fin = np.isfinite(g)
    pre = tuple(int(v) for v in np.unique(g[fin]))
    D = design.treatment_matrix().astype(bool)
    all_tr = np.flatnonzero(D.all(axis=0))
    panel = design.panel
    zeros = []
    for o in panel.outcomes:
        if panel.outcome_kinds.get(o) == "count" and (panel.data[o].to_numpy(dtype=float) <= 0).any():
            zeros.append(o)
    clusters = panel.unit_table()["cluster"].to_numpy()
    return Facts(
        units=int(panel.n_units), treated=int(fin.sum()), comparison=int((~fin).sum()), cohorts=len(pre), cohort_pre=pre,
        periods=int(panel.n_periods), clusters=int(pd.unique(clusters).size), treated_clusters=int(pd.unique(clusters[fin]).size),
        untreated_cells_last=int((~D[:, -1]).sum()) if D.size else 0, first_all_treated=int(all_tr[0]) if all_tr.size else None,
        untreated_periods=int((~D).any(axis=0).sum()),
        zero_outcomes=tuple(zeros), frequency=str(panel.frequency), user_data=user_data,
    )


@dataclass(frozen=True)
class Verdict:
    """Whether one analysis runs: ``runs``, ``fallback`` (runs in a changed form, said in ``reason``) or ``not applicable``."""

    notebook: str
    analysis: str
    label: str
    status: str
    reason: str = ""
    parameter: str = ""

    @property
    def applies(self) -> bool:
        return self.status != "not applicable"

    def sentence(self) -> str:
        """One line for the notebook and the run index."""
        if self.status == "runs":
            return f"{self.label}: runs."
        head = "Not applicable" if self.status == "not applicable" else "Fallback"
        return f"{head} — {self.label}: {self.reason}" + (f" (parameter: {self.parameter})." if self.parameter else ".")


def _regression(f: Facts) -> tuple[str, str, str] | None:
    """Why a regression on the panel with cluster-robust inference cannot run (None: it can)."""
    if f.units < 2:
        return ("the data hold a single series, so there is no comparison unit; the single-series interrupted time series (04_its) is the analysis that applies", "data.path")
    if f.comparison == 0 and f.cohorts < 2:
        return ("every unit is treated at the same time, so no unit serves as a comparison", "design.end")
    if f.clusters < 2:
        return (f"the design has {f.clusters} cluster, and cluster-robust inference needs two or more", "data.cluster")
    return None


def _inline(text: str) -> tuple[str, str]:
    """A note with inline "(parameter: x)" markers as (text without them, the parameters joined)."""
    import re

    found = re.findall(r"\s*\(parameters?: ([^)]+)\)", text)
    clean = re.sub(r"\s*\(parameters?: [^)]+\)", "", text).strip().rstrip(".")
    return clean, ", ".join(dict.fromkeys(found))


def _v(nb: str, key: str, label: str, why: tuple[str, str] | None = None, fallback: tuple[str, str] | None = None) -> Verdict:
    if fallback is not None and not fallback[1]:
        fallback = _inline(fallback[0])
    if why is not None:
        return Verdict(nb, key, label, "not applicable", why[0], why[1])
    if fallback is not None:
        return Verdict(nb, key, label, "fallback", fallback[0], fallback[1])
    return Verdict(nb, key, label, "runs")


def synth_plan(design: Design, requested: str | None) -> tuple[Design | None, str, tuple[str, str] | None]:
    """The design synthetic control and SDID analyse, a note on what changed, or why they cannot run.

    Context: SDID/SC need a donor pool of units untreated in every period of the window and at least two
    pre-periods (SDID's noise level uses first differences of the pre-period). Decision: the requested cohort (the
    earliest by default); a cohort with fewer than two pre-periods is left out in favour of the earliest that has
    two (said); with no never-treated units the window ends just before the next cohort is treated, and the
    not-yet-treated units are the donors (said). Consequences: designs without never-treated units still get
    synthetic-control estimates, for a shorter post-period; a design where no cohort has two pre-periods and a
    donor is not applicable.
    """
    f = facts(design)
    if f.units < 2:
        return None, "", ("the data hold a single series, so there is no donor pool", "data.path")
    labels = design.cohort_labels
    notes: list[str] = []
    gs = {lab: int(design.g[design.included["first_treated"].to_numpy() == lab][0]) for lab in labels}
    order = [str(requested)] if requested else []
    order += [lab for lab in labels if lab not in order]
    if requested and str(requested) not in labels:
        return None, "", (f"cohort {requested} is not in the design (cohorts: {', '.join(labels)})", "methods.synth.cohort")
    chosen = next((lab for lab in order if gs[lab] >= 2), None)
    if chosen is None:
        return None, "", (f"every cohort has fewer than two pre-periods in the window ({', '.join(f'{lab}: {gs[lab]}' for lab in labels)}); SDID needs two", "design.start")
    if chosen != order[0]:
        notes.append(f"Cohort {order[0]} has {gs[order[0]]} pre-period(s) in the window and is left out (SDID needs two); cohort {chosen} is analysed instead (parameter: methods.synth.cohort).")
    later = [gs[lab] for lab in labels if gs[lab] > gs[chosen]]
    if f.comparison == 0:
        if not later:
            return None, "", ("no unit is untreated while the cohort is treated: there are no never-treated units and no later cohort to serve as not-yet-treated donors", "design.end")
        end = min(later) - 1
        design = design.truncate(end, why="synthetic control with not-yet-treated donors")
        notes.append(f"No never-treated units: the donors are units treated after {design.window[1]}, and the window ends there ({end - gs[chosen] + 1} post-period(s) for cohort {chosen}) (parameter: design.end).")
    sub = design.only_cohort(chosen)
    if sub.n_comparison == 0:
        return None, "", ("the donor pool is empty", "design.end")
    return sub, " ".join(notes), None


def per_unit_size(design: Design, max_units: int) -> tuple[str, str] | None:
    """Why the per-unit classic synthetic control is too large to run on ``design`` (the cohort synthetic control
    analyses), or None.

    Context: 03_synthetic_control fits a classic synthetic control for every treated unit of the cohort, each a
    simplex least squares over all donors, and tabulates and plots them one by one; for 6,000 treated small areas
    and 12,000 donors that is over five minutes of fits and a table nobody reads. Decision: with more treated units
    than ``methods.synth.max_units`` the notebook is not applicable, saying the size and the parameters that change
    it (``methods.synth.per_unit: false`` keeps SDID and the pooled estimators, whose cost grows with the donors
    only). Consequences: the run finishes on large small-area designs and says why the synthetic-control notebook is
    missing; designs up to ``max_units`` treated units (the default's 14 among them) are unchanged.
    """
    n_tr, n_co = int(design.treated.sum()), int((~design.treated).sum())
    if n_tr <= max_units:
        return None
    return (f"cohort {design.cohort_labels[0]} has {n_tr:,} treated units, and the per-unit classic synthetic control would fit one for each over {n_co:,} donors, "
            f"more than methods.synth.max_units ({max_units:,}); set methods.synth.per_unit: false to run SDID and the pooled estimators without it",
            "methods.synth.per_unit, methods.synth.max_units")


def power_size(params: Any, design: Design) -> tuple[str, str] | None:
    """The fallback sentence when 06_power's simulations are sized down to the panel (:func:`evidence.power.sized_reps`)."""
    from .power import SDID_MAX_UNITS, SIMULATION_CELLS, sized_reps

    parts, keys = [], []
    cells = design.panel.n_units * design.panel.n_periods
    cut = [(key, int(params[key]), sized_reps(int(params[key]), design, key)[0]) for key in ("power.reps", "power.validation_reps") if int(params[key])]
    cut = [c for c in cut if c[2] < c[1]]
    if cut:
        parts.append(f"{'; '.join(f'{used} simulated panels instead of {asked} ({key})' for key, asked, used in cut)}, as replicates x {cells:,} unit-periods would exceed the budget of {SIMULATION_CELLS:,}")
        keys += [c[0] for c in cut]
    n_sdid = design.only_cohort(params["methods.synth.cohort"]).panel.n_units if design.cohort_labels else design.panel.n_units  # 06_power validates SDID on one cohort
    if int(params["power.sdid_reps"]) and n_sdid > SDID_MAX_UNITS:
        parts.append(f"SDID is validated on a random subsample of about {SDID_MAX_UNITS:,} of the cohort design's {n_sdid:,} units (its weights are re-fitted on every replicate at a cost growing with the square of the donors)")
        keys.append("power.sdid_reps")
    if not parts:
        return None
    return "simulations sized to the panel: " + "; ".join(parts), ", ".join(keys)


def honest_window(design: Design, window: tuple[int, int]) -> tuple[tuple[int, int] | None, str]:
    """The HonestDiD event window the design supports.

    Context: HonestDiD needs at least one pre-period coefficient (event time -2 or earlier) and a non-singular
    covariance of the event-study coefficients; a cluster-robust covariance from G clusters has rank at most G - 1.
    Decision: the window is cut to the event times the data have, then narrowed symmetrically until its
    coefficients number at most G - 1 (said). Consequences: few clusters give a short HonestDiD window rather than
    a failed run; with no pre-period coefficient, or G < 3, HonestDiD is not applicable.
    """
    f = facts(design)
    lead0, lag0 = int(window[0]), int(window[1])
    lead, lag = max(lead0, -f.max_pre), min(lag0, f.periods - 1 - f.min_pre)
    notes = []
    if (lead, lag) != (lead0, lag0):
        notes.append(f"event times limited to {lead}..{lag}, those the window contains")
    if lead > -2:
        return None, "no cohort has two or more pre-periods in the window, so the event study has no pre-period coefficient to bound violations with"
    cap = f.clusters - 1

    def n_coef() -> int:
        return (-lead - 1) + (lag + 1)

    narrowed = False
    while n_coef() > cap and (lead < -2 or lag > 0):
        if (-lead - 1) >= (lag + 1) and lead < -2:
            lead += 1
        elif lag > 0:
            lag -= 1
        else:
            lead += 1
        narrowed = True
    if n_coef() > cap:
        return None, f"the design has {f.clusters} clusters, too few for a non-singular covariance of even two event-study coefficients"
    if narrowed:
        notes.append(f"narrowed to {lead}..{lag} so that its {n_coef()} coefficients stay below the {f.clusters} clusters (a cluster-robust covariance has rank at most clusters - 1)")
    return (lead, lag), "; ".join(notes)


def imputation_plan(design: Design) -> tuple[Design, str]:
    """The design the imputation estimator runs on: periods in which every unit is treated are left out (no
    untreated outcome can be imputed there, as in Borusyak, Jaravel and Spiess's did_imputation)."""
    f = facts(design)
    if f.first_all_treated is None:
        return design, ""
    return design.truncate(f.first_all_treated - 1, why="every unit is treated from the next period, so untreated outcomes cannot be imputed there"), (
        f"Every unit is treated from {design.panel.period_labels[f.first_all_treated]}: the imputation estimator leaves those periods out (their effects are not identified without never-treated units) (parameter: design.end).")


def plan(params: Any, design: Design) -> list[Verdict]:
    """Which analysis of which notebook runs on ``design``, runs in a fallback form, or is not applicable.

    The rules are cheap checks of the design's shape (units, cohorts, pre-periods, donors, clusters, zeros); a
    real error inside an analysis that applies still fails the run.
    """
    user = params["data.source"] not in ("nhs_ae", "records")
    f = facts(design, user_data=user)
    reg = _regression(f)
    out: list[Verdict] = []
    add = out.append
    nbs = set(params["notebooks"])
    log_on = bool(params["methods.did.log_outcomes"])
    if log_on and f.zero_outcomes:
        add(_v("all", "log_outcomes", "log outcomes", (f"{', '.join(f.zero_outcomes)} {'has' if len(f.zero_outcomes) == 1 else 'have'} zero counts, which cannot be logged; levels are analysed", "methods.did.log_outcomes")))
    no_cmp = f.comparison == 0
    # 00_primary
    add(_v("00_primary", "primary", "primary analysis (Callaway-Sant'Anna)", reg))
    # 01_did
    add(_v("01_did", "did_2x2", "2x2 difference-in-differences", reg or (("no unit is untreated throughout the window; the staggered estimators (02_staggered) use not-yet-treated units instead", "design.end") if no_cmp else None)))
    add(_v("01_did", "twfe", "two-way fixed effects", reg))
    add(_v("01_did", "event_study", "TWFE event study", reg))
    # 02_staggered
    sep = separation(design, list(design.panel.covariates)) if params["data.covariates"] and params["methods.staggered.est_method"] != "reg" else ""
    add(_v("02_staggered", "cs", "Callaway-Sant'Anna", reg, (f"{sep}, so propensity scores are 0 or 1: outcome regression (est_method reg) is used instead of {params['methods.staggered.est_method']}", "methods.staggered.est_method") if sep else None))
    add(_v("02_staggered", "sun_abraham", "Sun-Abraham", reg, (("no never-treated units: the last treated cohort is the control group, and periods from its treatment on are left out", "design.end") if no_cmp else None)))
    imp_fb = None
    if reg is None and f.first_all_treated is not None:
        imp_fb = (f"every unit is treated from {design.panel.period_labels[f.first_all_treated]}, so those periods are left out (untreated outcomes cannot be imputed there)", "design.end")
    add(_v("02_staggered", "imputation", "imputation (Borusyak-Jaravel-Spiess)", reg, imp_fb))
    add(_v("02_staggered", "bacon", "Goodman-Bacon decomposition", reg))
    # 03_synthetic_control
    if "03_synthetic_control" in nbs:
        sd, note, why = synth_plan(design, params["methods.synth.cohort"])
        if why is None and params["methods.synth.per_unit"]:
            why = per_unit_size(sd, int(params["methods.synth.max_units"]))
        add(_v("03_synthetic_control", "synth", "synthetic control / SDID", why, (note.rstrip("."), "") if note else None))
        if sd is not None and why is None:
            inf, inote = synth_inference(sd, params["methods.synth.inference"])
            if inote:
                add(_v("03_synthetic_control", "synth_inference", "synthetic-control inference", None, (inote.split(" (parameter")[0], "methods.synth.inference")))
    # 04_its
    from .its import applicability as its_app

    its_design = design.only_cohort(params["methods.its.cohort"]) if design.cohort_labels else design
    ok, why = its_app(its_design, params["methods.its.min_pre"])
    add(_v("04_its", "its", "interrupted time series", None if ok else (why.replace("not applicable: ", "").split("; an earlier")[0], "methods.its.min_pre")))
    ok_c, _ = its_controls(its_design)
    add(_v("04_its", "its_controlled", "controlled interrupted time series", None if ok_c and ok else (("no unit is untreated throughout the window, so there is no comparison series; the single-series ITS is shown alone", "design.end") if not ok_c else ("the ITS does not apply", "methods.its.min_pre"))))
    # 05_robustness
    wild_why = reg or ((f"the design has {f.treated_clusters} treated and {f.clusters - f.treated_clusters} untreated clusters; the wild bootstrap needs both", "data.cluster") if f.clusters - f.treated_clusters == 0 and no_cmp and f.cohorts < 2 else None)
    add(_v("05_robustness", "wild_bootstrap", "wild cluster bootstrap", wild_why))
    ri_why = None if f.units >= 2 else ("the data hold a single series; randomisation inference re-assigns treatment across units", "data.path")
    add(_v("05_robustness", "randomization_inference", "randomisation inference", ri_why or reg))
    if reg is None:
        hw, hnote = honest_window(design, tuple(params["robustness.honest_window"]))
        add(_v("05_robustness", "honest_did", "HonestDiD sensitivity", (hnote, "robustness.honest_window") if hw is None else None, (hnote, "robustness.honest_window") if hw is not None and hnote else None))
    else:
        add(_v("05_robustness", "honest_did", "HonestDiD sensitivity", reg))
    def _fits(k: int) -> bool:  # a cohort with k + 1 pre-periods, and something to compare it with
        ok = [p for p in f.cohort_pre if p >= k + 1]
        return bool(ok) and (f.comparison > 0 or len(ok) >= 2)

    shifts = [s for s in params["robustness.placebo_shifts"] if _fits(int(s))]
    add(_v("05_robustness", "placebo_in_time", "placebo in time", reg or ((f"no placebo shift {params['robustness.placebo_shifts']} fits before treatment with a comparison (pre-periods per cohort: {', '.join(map(str, f.cohort_pre))}; {'no' if f.comparison == 0 else f.comparison} untreated units)", "robustness.placebo_shifts") if not shifts else None),
           (f"shifts {sorted(set(params['robustness.placebo_shifts']) - set(shifts))} do not fit before treatment and are left out", "robustness.placebo_shifts") if shifts and len(shifts) < len(params["robustness.placebo_shifts"]) else None))
    by, lnote = leave_one_out(design, list(params["robustness.leave_one_out"]))
    add(_v("05_robustness", "leave_one_out", "leave-one-out", reg or (("nothing to leave out", "robustness.leave_one_out") if not by and params["robustness.leave_one_out"] else None), (lnote.rstrip("."), "") if lnote and by else None))
    # 06_power
    power_why = reg or ((f"only {f.untreated_periods} period(s) of the window have untreated units; the simulations calibrate on at least 3", "design.start") if f.untreated_periods < 3 else None)
    add(_v("06_power", "power", "power and method validation", power_why, None if power_why else power_size(params, design)))
    # 08_costs_satisfaction
    if user and not (params["costs.path"] and params["costs.enabled"]) and not (params["satisfaction.path"] and params["satisfaction.enabled"]):
        add(_v("08_costs_satisfaction", "costs_satisfaction", "costs and patient satisfaction", ("the built-in NHS GP-payments and GP Patient Survey data do not belong to this evaluation's panel, and no cost or survey file of its own is given", "costs.path, satisfaction.path")))
    return [v for v in out if v.notebook in nbs or v.notebook == "all"]


def plan_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """The preflight as a table (written to ``applicability.csv``, shown on the run index)."""
    return pd.DataFrame([{"notebook": v.notebook, "analysis": v.analysis, "status": v.status, "reason": v.reason, "parameter": v.parameter, "line": v.sentence()} for v in verdicts],
                        columns=["notebook", "analysis", "status", "reason", "parameter", "line"])


def verdict(verdicts: list[Verdict], key: str) -> Verdict | None:
    return next((v for v in verdicts if v.analysis == key), None)


def notebook_applies(verdicts: list[Verdict], notebook: str) -> bool:
    """A notebook runs unless every analysis the preflight judged for it is not applicable."""
    own = [v for v in verdicts if v.notebook == notebook]
    return not own or any(v.applies for v in own)


def separation(design: Design, covariates: list[str]) -> str:
    """A baseline covariate whose values in some cohort do not overlap those of the never-treated units (propensity
    scores of 0 or 1: the doubly robust and IPW estimators cannot weight such cells); empty when there is none."""
    if not covariates or not (~design.treated).any() or not design.treated.any():
        return ""
    ut = design.panel.unit_table()
    ctrl = ~design.treated
    lab = design.included["first_treated"].to_numpy()
    for c in covariates:
        x = ut[c].to_numpy(dtype=float)
        lo, hi = x[ctrl].min(), x[ctrl].max()
        for g in design.cohort_labels:
            xs = x[lab == g]
            if xs.min() > hi or xs.max() < lo:
                return f"covariate {c} separates cohort {g} from the never-treated units (no overlap of values)"
    return ""
