"""Benchmark and report of the simulation-based power analysis (evidence.power) on the real default design.

Not a test. Run from the project root::

    .venv/bin/python bench/bench_power.py              # writes bench/results/power.md
    .venv/bin/python bench/bench_power.py --no-sdid    # skip the (slow, optional) SDID loop

Everything simulated here is SYNTHETIC DATA: outcomes drawn from a model calibrated on the real pre-period
(untreated unit-periods) of the default design (42 ICS footprints x 36 months, cohorts 2017-07 and 2018-06).

Timed task (the notebook-sized default): power for 3 outcomes (attendances, admissions, pct_within_4h) x 5 methods
(twfe, cs, sun_abraham, imputation, did_2x2) x 6 effect sizes x 200 replicates — calibration, building the linear
operators once for the design, simulation and estimation. Wall time is best of 3 (``time.perf_counter``), with the
process CPU time alongside (the machine may be shared). Also reported: size (the null column), minimum detectable
effects, a calibration check (the standard error on the real data against the distribution of simulated standard
errors under no effect), method validation under a heterogeneous dynamic effect (bias, RMSE, coverage), the bias a
differential population growth alone induces in log counts, and the speed-up over running the package's own
estimators replicate by replicate.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "power.md"
OUTCOMES = ["attendances", "admissions", "pct_within_4h"]
REPS = 200
VAL_REPS = 2000
SEED = 20170615


def _md(df: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    d = df.copy()
    if index:
        d = d.reset_index()
    cols = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" if d[c].dtype == object else "---:" for c in d.columns) + " |"]
    for row in d.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append("" if not np.isfinite(v) else (f"{v:.3f}" if digits == 3 and 0 <= v <= 1 else f"{v:.{digits}g}"))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _placebo_design(design, rng):  # noqa: ANN001, ANN202 - Design in, Design out
    """The comparison footprints only, with placebo cohorts of the real cohorts' sizes and dates drawn among them."""
    from evidence.design import Design

    inc = design.included
    ctrl = inc.loc[~design.treated, "unit"].to_numpy()
    tr = inc.loc[design.treated]
    sizes = tr.groupby("first_treated", sort=False).agg(n=("unit", "size"), g=("g", "first"))
    perm = rng.permutation(ctrl)
    cohorts = design.cohorts[design.cohorts["unit"].isin(ctrl)].copy()
    cohorts["g"] = cohorts["g"].astype("Int64")
    pos = 0
    for label, row in sizes.iterrows():
        units = perm[pos : pos + int(row["n"])]
        pos += int(row["n"])
        sel = cohorts["unit"].isin(units)
        cohorts.loc[sel, "status"] = "treated"
        cohorts.loc[sel, "first_treated"] = label
        cohorts.loc[sel, "g"] = int(row["g"])
    panel = design.panel.subset(units=ctrl)
    return Design(panel, cohorts.reset_index(drop=True), design.comparison, design.window, ["placebo cohorts"], design.treatment_source, dict(design.settings, placebo=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-sdid", action="store_true", help="skip the optional SDID per-replicate loop")
    args = ap.parse_args()

    from evidence.did import did_2x2, twfe
    from evidence.params import load_params
    from evidence.pipeline import prepare
    from evidence.power import LinearEstimators, power_curve, replicate_estimates, sdid_available, validate_methods
    from evidence.staggered import cs, imputation, sun_abraham
    from evidence.synthetic import calibrate, simulate

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    _, design = prepare(load_params(ROOT / "params" / "default.yaml"))
    t_load = time.perf_counter() - t0

    # ---- the timed default run ----------------------------------------------------------------------------------
    def run() -> dict[str, object]:
        cals = {o: calibrate(design, o) for o in OUTCOMES}
        est = LinearEstimators(design)
        return {o: power_curve(design, o, reps=REPS, seed=SEED, calibration=cals[o], estimators=est) for o in OUTCOMES}

    walls, cpus = [], []
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        results = run()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    # components (one pass)
    w = time.perf_counter()
    cals = {o: calibrate(design, o) for o in OUTCOMES}
    t_cal = time.perf_counter() - w
    w = time.perf_counter()
    est = LinearEstimators(design)
    t_ops = time.perf_counter() - w

    # ---- calibration check: real-data SE vs simulated SEs under no effect ---------------------------------------
    check_rows = []
    for o in OUTCOMES:
        log = cals[o].family == "count"
        yr = design.panel.matrix(o)
        real = replicate_estimates(design, yr, log=log, estimators=est)
        null = results[o].estimates
        null = null[null["effect"] == results[o].effects[0]]
        for m in est.methods:
            se_sim = null.loc[null["method"] == m, "std_error"].to_numpy()
            se_real = float(real.loc[real["method"] == m, "std_error"].iloc[0])
            check_rows.append({"outcome": o + ("_log" if log else ""), "method": m, "real-data SE": se_real, "simulated SE (median)": float(np.median(se_sim)),
                               "simulated SE 5%-95%": f"{np.quantile(se_sim, 0.05):.4g}-{np.quantile(se_sim, 0.95):.4g}",
                               "percentile of real SE": float((se_sim < se_real).mean() * 100), "sd of null estimates": float(null.loc[null["method"] == m, "estimate"].std())})
    check = pd.DataFrame(check_rows)

    # ---- placebo check on the real comparison footprints ---------------------------------------------------------
    # placebo cohorts (same sizes and dates as the real ones) drawn among the 29 comparison footprints, which no
    # real effect touches: the spread of the estimates on the real data against the simulated spread on the same
    # placebo designs (the noise model is right if they agree), and the real data's own placebo rejection rate
    rng = np.random.default_rng(SEED)
    n_placebo, sim_per = 40, 50
    placebo_rows = {o: {m: {"real_est": [], "real_se": [], "real_rej": [], "sim_est": [], "sim_se": [], "sim_rej": []} for m in est.methods} for o in OUTCOMES}
    w = time.perf_counter()
    for k in range(n_placebo):
        pd_ = _placebo_design(design, rng)
        est_p = LinearEstimators(pd_)
        for o in OUTCOMES:
            log = cals[o].family == "count"
            real = replicate_estimates(pd_, pd_.panel.matrix(o), log=log, estimators=est_p)
            sims_p = simulate(pd_, calibration=cals[o], reps=sim_per, seed=SEED + k)
            simr = replicate_estimates(pd_, sims_p.Y, log=log, estimators=est_p)
            for m in est_p.methods:
                rr, ss = real[real["method"] == m], simr[simr["method"] == m]
                d = placebo_rows[o][m]
                d["real_est"] += rr["estimate"].tolist()
                d["real_se"] += rr["std_error"].tolist()
                d["real_rej"] += rr["reject"].tolist()
                d["sim_est"] += ss["estimate"].tolist()
                d["sim_se"] += ss["std_error"].tolist()
                d["sim_rej"] += ss["reject"].tolist()
    t_placebo = time.perf_counter() - w
    prow = []
    for o in OUTCOMES:
        for m, d in placebo_rows[o].items():
            prow.append({"outcome": o + ("_log" if cals[o].family == "count" else ""), "method": m,
                         "real: sd of placebo estimates": float(np.std(d["real_est"], ddof=1)), "simulated: sd of estimates": float(np.std(d["sim_est"], ddof=1)),
                         "real: median SE": float(np.median(d["real_se"])), "simulated: median SE": float(np.median(d["sim_se"])),
                         "real: placebo rejection rate": float(np.mean(d["real_rej"])), "simulated: rejection rate": float(np.mean(d["sim_rej"]))})
    placebo = pd.DataFrame(prow)

    # ---- method validation ---------------------------------------------------------------------------------------
    pop0 = design.panel.matrix("population")[:, 0]
    val = {}
    w = time.perf_counter()
    for o in OUTCOMES:
        val[o] = validate_methods(design, o, reps=VAL_REPS, seed=SEED, calibration=cals[o])
    t_val = time.perf_counter() - w
    val_fixed = validate_methods(design, "attendances", reps=VAL_REPS, seed=SEED, calibration=cals["attendances"], population=pop0)
    logpop = np.log(design.panel.matrix("population"))
    popbias = {m: float(logpop.ravel() @ lm.a) for m, lm in est.methods.items()}

    # ---- logit-link comparison for the percentage outcome (non-parallel trends in levels) -----------------------
    cal_logit = calibrate(design, "pct_within_4h", link="logit")
    pr_logit = power_curve(design, "pct_within_4h", effects=[0.0], reps=VAL_REPS, seed=SEED, calibration=cal_logit, estimators=est)
    pr_ident = power_curve(design, "pct_within_4h", effects=[0.0], reps=VAL_REPS, seed=SEED, calibration=cals["pct_within_4h"], estimators=est)
    # size with many null replicates (counts: real population path, and population held fixed)
    size_big = {}
    for o in OUTCOMES:
        null = 1.0 if cals[o].family == "count" else 0.0
        size_big[o + ("_log" if null else "")] = power_curve(design, o, effects=[null], reps=VAL_REPS, seed=SEED + 1, calibration=cals[o], estimators=est).table().iloc[:, 0]
        if null:
            size_big[o + "_log (population fixed)"] = power_curve(design, o, effects=[null], reps=VAL_REPS, seed=SEED + 1, calibration=cals[o], estimators=est, population=pop0).table().iloc[:, 0]

    # ---- speed-up over the package estimators replicate by replicate --------------------------------------------
    sims = simulate(design, calibration=cals["attendances"], reps=20, seed=SEED)
    w = time.perf_counter()
    for r in range(sims.reps):
        d = sims.design(r)
        twfe(d, "attendances", log=True)
        did_2x2(d, "attendances", log=True)
        cs(d, "attendances", log=True, control_group=d.comparison, est_method="reg").aggregate("simple")
        sun_abraham(d, "attendances", log=True)
        imputation(d, "attendances", log=True)
    t_pkg = (time.perf_counter() - w) / sims.reps
    Y = simulate(design, calibration=cals["attendances"], reps=REPS, seed=SEED).Y
    w = time.perf_counter()
    replicate_estimates(design, Y, log=True, estimators=est)
    t_vec = (time.perf_counter() - w) / REPS

    # ---- optional SDID ------------------------------------------------------------------------------------------
    sdid_text = "SDID: skipped (--no-sdid)."
    if not args.no_sdid:
        if sdid_available():
            n_sd, draws = 40, 10
            Ys = simulate(design, calibration=cals["attendances"], reps=n_sd, seed=SEED).Y
            w = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sd = replicate_estimates(design, Ys, methods=["sdid"], log=True, sdid_draws=draws, seed=SEED)
            t_sd = time.perf_counter() - w
            sdid_text = (f"SDID (optional, per-replicate loop, placebo SE with {draws} draws): {n_sd} null replicates of attendances (log) in {t_sd:.1f} s "
                         f"({t_sd / n_sd:.2f} s per replicate); rejection rate {sd['reject'].mean():.3f}, sd of estimates {sd['estimate'].std():.4f}, "
                         f"median SE {sd['std_error'].median():.4f}. Too slow for the default power grid; use methods=[..., 'sdid'] with few replicates.")
        else:
            sdid_text = "SDID: evidence.synth.sdid is not importable here; the optional hook skips it with a message."

    # ---- report -------------------------------------------------------------------------------------------------
    import numpy as _np
    import scipy as _sp

    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        "# Power and method validation by simulation (SYNTHETIC DATA)",
        "",
        f"Run {now} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {_np.__version__}, "
        f"pandas {pd.__version__}, scipy {_sp.__version__}, by `bench/bench_power.py` (load average at start {load:.2f}: the machine is shared, so wall times vary; CPU time is the process's own).",
        "",
        "**Every number below comes from simulated (synthetic) panels**, calibrated on the untreated unit-periods of the real default design "
        f"({design.panel.n_units} ICS footprints x {design.panel.n_periods} months, cohorts {', '.join(design.cohort_labels)}, {design.n_comparison} comparison footprints, clusters = footprints). "
        "Counts are analysed in logs (as the workbook does), so count effects are rate ratios and estimates are in log points; pct_within_4h is simulated on the percentage-point scale (identity link) and effects are percentage points.",
        "",
        "## Timing of the default run",
        "",
        f"Task: power for 3 outcomes x 5 methods (twfe, cs, sun_abraham, imputation, did_2x2) x 6 effect sizes x {REPS} replicates "
        f"({3 * 6 * REPS:,} simulated panels, {3 * 5 * 6 * REPS:,} estimates with standard errors), including calibration and the operators.",
        "",
        "| step | time (s) |",
        "| --- | ---: |",
        f"| **whole default run, wall (best of 3)** | **{min(walls):.2f}** |",
        f"| whole default run, wall (all 3) | {', '.join(f'{v:.2f}' for v in walls)} |",
        f"| whole default run, process CPU (best of 3) | {min(cpus):.2f} |",
        f"| of which: calibration of 3 outcomes | {t_cal:.2f} |",
        f"| of which: building the 5 linear operators (once per design) | {t_ops:.2f} |",
        f"| loading the real panel and design (not part of the run) | {t_load:.2f} |",
        f"| method validation, 3 outcomes x {VAL_REPS} replicates | {t_val:.2f} |",
        "",
        f"Per replicate, the 5 package estimators run one by one take {t_pkg * 1000:.0f} ms; the vectorised operators take {t_vec * 1000:.3f} ms "
        f"(x{t_pkg / t_vec:,.0f}). The vectorised estimates and standard errors equal the package's to 1e-8 (tests/test_power.py).",
        "",
        "## Calibration (real pre-period, untreated unit-periods)",
        "",
    ]
    cal_tab = pd.concat([c.table().set_index("parameter")["value"].rename(o) for o, c in cals.items()], axis=1)
    cal_tab = cal_tab.map(lambda v: f"{v:.4g}" if isinstance(v, (float, np.floating)) else ("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)))
    lines += [_md(cal_tab.fillna("")), ""]
    for o, c in cals.items():
        lines.append(f"- {o}: " + " ".join(c.notes))
    lines += ["", "## Power (share of replicates rejecting no effect at 5%)", ""]
    size_rows = []
    mde_rows = []
    for o, pr in results.items():
        lines += [f"### {pr.outcome_label} — effects: {pr.effect_scale}", "", _md(pr.table()), ""]
        size_rows.append(pr.table().iloc[:, 0].rename(pr.outcome_label))
        mde_rows.append(pr.mde().rename(pr.outcome_label))
        if pr.notes:
            lines += ["Notes: " + " ".join(pr.notes), ""]
    lines += [
        "### Size (effect = null) and minimum detectable effect at 80% power",
        "",
        f"Size from {REPS} replicates (Monte Carlo SE about {np.sqrt(0.05 * 0.95 / REPS):.3f}):",
        "",
        _md(pd.concat(size_rows, axis=1).rename_axis("method")),
        "",
        f"Size from {VAL_REPS} null replicates (Monte Carlo SE about {np.sqrt(0.05 * 0.95 / VAL_REPS):.3f}); cluster-robust t tests with G - 1 = 41 df "
        "(CS: normal critical values), 13 treated clusters of 42:",
        "",
        _md(pd.DataFrame(size_big).rename_axis("method")),
        "",
        "MDE at 80% power, interpolated between the simulated effects (rate ratio for counts; percentage points for pct_within_4h):",
        "",
        _md(pd.concat(mde_rows, axis=1).rename_axis("method"), digits=4),
        "",
        "## Calibration check: real-data standard errors against simulated ones",
        "",
        "The estimator's standard error on the real panel, and where it falls in the distribution of standard errors over the simulated null replicates. "
        "A percentile far from 50 would mean the noise model does not reproduce the real data's covariance for that estimator; but the real panel is a single draw "
        "(the percentiles of the five methods are strongly correlated) and its cluster-robust SEs are themselves noisy with 13 treated clusters, so the placebo check "
        "below, which compares spreads over many placebo designs, is the sharper test.",
        "",
        _md(check, digits=4, index=False),
        "",
        f"## Placebo check on the real data ({n_placebo} placebo designs, {t_placebo:.0f} s)",
        "",
        f"Placebo cohorts with the real cohorts' sizes and dates (9 footprints from 2017-07, 4 from 2018-06) are drawn {n_placebo} times among the 29 comparison footprints "
        "(untouched by any real ICS effect), and every estimator is run on the real outcomes and on "
        f"{sim_per} simulated panels per placebo design. If the noise model is right, the simulated spread of the estimates matches the real spread across placebo designs. "
        "The real data's own placebo rejection rate is the size of each test on the real data.",
        "",
        _md(placebo, digits=4, index=False),
        "",
        "Reading: for TWFE, imputation and the 2x2 the simulated spread is within about 10% of the real one for every outcome; for the anchored estimators "
        "(CS, Sun-Abraham: one base period per cohort) on attendances the simulation is about 25% noisier than the real data, so their power there is understated. "
        "The real placebo rejection rates come from only 40 overlapping placebo designs (each a handful of independent comparisons) and are noisy.",
        "",
        "## Method validation: heterogeneous, dynamic true effect",
        "",
        "True effect: counts — rate ratio 0.90 for the 2017-07 cohort and 0.96 for the 2018-06 cohort, phased in linearly over 12 months; "
        "pct_within_4h — +3 and +1 percentage points, phased in over 12 months. Truth per replicate: mean effect over treated unit-periods "
        f"(mean log rate ratio for logged counts). {VAL_REPS} replicates; MC SE = Monte Carlo standard error of the bias; "
        "bias_own_target: against the method's own estimand (did_2x2's overall row weights cohorts by units, not unit-periods; TWFE has no such target). "
        "Coverage is of the ATT by the 95% intervals.",
        "",
    ]
    for o, v in val.items():
        t = v.table()[["mean_estimate", "truth", "bias", "bias_mc_se", "relative_bias", "bias_own_target", "rmse", "sd_estimate", "mean_se", "se_ratio", "coverage"]]
        lines += [f"### {v.outcome_label} (true ATT {v.true_att:.4g}; did_2x2's own target, cohorts weighted by units: {v.true_att_cohort_weighted:.4g})", "", _md(t, digits=4), ""]
    t = val_fixed.table()[["mean_estimate", "truth", "bias", "bias_mc_se", "relative_bias", "bias_own_target", "rmse", "se_ratio", "coverage"]]
    lines += [
        "### attendances_log with each footprint's population held at its April 2016 value",
        "",
        "With the real population path, log counts carry each footprint's own population growth; footprints grow at different rates, so even with parallel "
        "trends in log rates there is a small deterministic bias in log counts. Applying each estimator to log(population) alone gives that bias: "
        + ", ".join(f"{m} {b:+.4f}" for m, b in popbias.items())
        + " log points. Holding population fixed removes it:",
        "",
        _md(t, digits=4),
        "",
        f"### pct_within_4h: identity vs logit link, size at 5% ({VAL_REPS} null replicates)",
        "",
        "With a logit link, parallel trends on the logit scale are not parallel in percentage points when treated and comparison footprints differ in level, "
        "so estimators in levels are biased under the null; anchored estimators (CS, Sun-Abraham: one base period) suffer most from the seasonal part.",
        "",
        _md(pd.concat([pr_ident.table().iloc[:, 0].rename("identity link (default)"), pr_logit.table().iloc[:, 0].rename("logit link")], axis=1)),
        "",
        "Mean null estimate (percentage points), logit link: " + ", ".join(f"{m} {g:+.3f}" for m, g in pr_logit.estimates.groupby("method", sort=False)["estimate"].mean().items()) + ".",
        "",
        "## SDID (optional)",
        "",
        sdid_text,
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"default run: wall {min(walls):.2f} s (runs {', '.join(f'{v:.2f}' for v in walls)}), CPU {min(cpus):.2f} s; wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
