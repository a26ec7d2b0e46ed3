"""The notebook side of a run: one call gives a notebook its parameters, panel and design, and records results.

A notebook's parameters cell holds ``params_file`` and ``run_dir``. Under ``evidence run`` the runner builds the
panel and design once, stores them in ``run_dir``, and every notebook loads them from there; opened by hand or by
nbval (``run_dir`` empty) the notebook builds them itself from ``params_file``. Results recorded with
:meth:`RunContext.record` go to ``run_dir/_work/estimates/<notebook>.csv``, which the runner stacks into
``estimates.csv``.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from .design import Design
from .panel import Panel
from .params import Params, load_params
from .paths import resolve
from .results import stack, tidy_frame

WORK = "_work"


def work_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / WORK


def save_prepared(run_dir: str | Path, panel: Panel, design: Design, params: Params | None = None) -> None:
    """Store the panel and design for the notebooks of a run (internal; removed before publishing)."""
    w = work_dir(run_dir)
    w.mkdir(parents=True, exist_ok=True)
    if params is not None:
        (w / "origin.json").write_text(json.dumps({"source": params.source, "overrides": params.overrides}))
    with open(w / "prepared.pkl", "wb") as fh:
        pickle.dump((panel, design), fh, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass
class RunContext:
    """What a notebook needs: parameters, panel, design, and a place to record results and warnings."""

    params: Params
    panel: Panel
    design: Design
    notebook: str
    run_dir: Path | None
    results: list[pd.DataFrame] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _shown: set[str] = field(default_factory=set)
    lab: bool = False  # run outside `evidence run`: rd is this notebook's own run folder

    def _start_lab(self) -> None:
        """Create a lab run's folder with its parameters and provenance, and say where its results go."""
        from .provenance import collect
        from .paths import display

        rd = self.run_dir
        assert rd is not None
        rd.mkdir(parents=True, exist_ok=True)
        text = self.params.to_yaml()
        (rd / "params.yaml").write_text(f"# parameters of this notebook run (from {self.params.source})\n" + text, encoding="utf-8")
        prov = collect(text, dict(getattr(self.panel, "files", {}) or {}))
        prov.update(notebook=self.notebook, params_source=self.params.source, overrides=self.params.overrides, synthetic=self.synthetic)
        (rd / "manifest.json").write_text(json.dumps(prov, indent=1, default=str), encoding="utf-8")
        self.note(f"Results of this notebook run go to its own run folder `{display(rd)}` (estimates.csv, figures/, params.yaml, "
                  "manifest.json); the committed notebook and `evidence run` reports are not touched.")

    @cached_property
    def plan(self) -> list[Any]:
        """The preflight's verdicts (:func:`evidence.applicability.plan`): which analyses run on this design."""
        from .applicability import plan

        return plan(self.params, self.design)

    @cached_property
    def facts(self) -> Any:
        """The design's :class:`evidence.applicability.Facts` (computed once per notebook)."""
        from .applicability import facts

        return facts(self.design)

    def verdict(self, analysis: str) -> Any:
        """The preflight verdict of one analysis (``did_2x2``, ``synth`` ...), or None when the preflight has no rule."""
        from .applicability import verdict

        return verdict(self.plan, analysis)

    def applies(self, analysis: str, show: bool = True) -> bool:
        """Whether ``analysis`` runs on this design; when it does not, or runs in a fallback form, the one-line reason
        is shown in the notebook (once)."""
        v = self.verdict(analysis)
        if v is None:
            return True
        if show and v.status != "runs" and analysis not in self._shown:
            self._shown.add(analysis)
            self.note(v.sentence())
        return v.applies

    def note(self, text: str) -> None:
        """Show a one-line note (a fallback, a left-out analysis) in the notebook at once."""
        from IPython.display import display

        from .report import md

        display(md(text))

    def specs(self, analysis: str) -> list[tuple[str, bool]]:
        """:meth:`outcome_specs` when ``analysis`` applies, else none (the reason is shown)."""
        return self.outcome_specs() if self.applies(analysis) else []

    @property
    def alpha(self) -> float:
        return float(self.params["inference.alpha"])

    @property
    def seed(self) -> int:
        return int(self.params["inference.seed"])

    @property
    def synthetic(self) -> bool:
        return bool(self.params["report.synthetic"])

    def outcome_specs(self) -> list[tuple[str, bool]]:
        """(outcome, log) pairs to analyse: every outcome in levels, counts also in logs when methods.did.log_outcomes."""
        specs = [(o, False) for o in self.panel.outcomes]
        if self.params["methods.did.log_outcomes"]:
            zeros = set(self.facts.zero_outcomes)
            if zeros:
                self.applies("log_outcomes")
            specs += [(o, True) for o in self.panel.outcomes if self.panel.outcome_kinds.get(o) == "count" and o not in zeros]
        return specs

    def cs_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`evidence.staggered.from_design.cs` from ``methods.staggered.*``, ``data.covariates`` and ``inference.*``."""
        st = self.params["methods.staggered"]
        v = self.verdict("cs")
        return dict(
            control_group=st["control_group"] or self.params["design.comparison"],
            est_method="reg" if v is not None and v.status == "fallback" and "est_method reg" in v.reason else st["est_method"],
            base_period=st["base_period"],
            anticipation=int(st["anticipation"]),
            covariates=list(self.panel.covariates) if self.params["data.covariates"] else None,
            bootstrap_draws=int(self.params["inference.bootstrap_draws"]),
            seed=self.seed,
            alpha=self.alpha,
        )

    def its_options(self, outcome: str) -> dict[str, Any]:
        """Keyword arguments for :func:`evidence.its.its` from ``methods.its.*``; the family defaults to quasi-Poisson
        for count outcomes and Gaussian otherwise."""
        it = self.params["methods.its"]
        family = it["family"] or ("quasipoisson" if self.panel.outcome_kinds.get(outcome) == "count" else "gaussian")
        if family != "gaussian" and self.panel.outcome_kinds.get(outcome) != "count":
            family = "gaussian"  # log-link count models only for counts
        return dict(intervention=it["intervention"], family=family, seasonality=it["seasonality"], harmonics=int(it["harmonics"]), hac_lags=it["hac_lags"], robust=bool(it["robust"]), alpha=self.alpha, days_in_month=bool(it["days_in_month"]))

    def synth_specs(self) -> list[tuple[str, bool]]:
        """(outcome, log) for the synthetic-control notebook: counts in logs (footprints differ greatly in size, and
        synthetic control has no intercept), other outcomes in levels."""
        zeros = set(self.facts.zero_outcomes)
        if zeros & set(self.panel.outcomes):
            self.applies("log_outcomes")
        return [(o, self.panel.outcome_kinds.get(o) == "count" and o not in zeros) for o in self.panel.outcomes]

    def wild_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`evidence.robust.wild_bootstrap` from ``inference.*``."""
        i = self.params["inference"]
        return dict(restricted=bool(i["wild_restricted"]), weights=i["wild_weights"], draws=int(i["wild_draws"]), seed=self.seed, alpha=self.alpha)

    @property
    def controls(self) -> list[str]:
        """Time-varying controls (``data.controls``) for the regression estimators; empty when none."""
        return list(getattr(self.panel, "controls", []) or [])

    def count_model_outcomes(self) -> list[str]:
        """Count outcomes the Poisson models analyse (``methods.did.count_model``): with ``auto`` those with zeros."""
        mode = self.params["methods.did.count_model"]
        counts = [o for o in self.panel.outcomes if self.panel.outcome_kinds.get(o) == "count"]
        if mode == "none":
            return []
        if mode == "always":
            return counts
        zeros = set(self.facts.zero_outcomes)
        return [o for o in counts if o in zeros]

    def controls_note(self) -> str:
        """One sentence on which methods use the time-varying controls (empty when there are none)."""
        if not self.controls:
            return ""
        return (f"Time-varying controls (data.controls): {', '.join(self.controls)} — partialled out in the 2x2 (its regression "
                "form), TWFE, the TWFE event study, Sun–Abraham, the imputation estimator's first stage and the Poisson models. "
                "Callaway–Sant'Anna uses baseline covariates only (data.covariates), as R did does; synthetic control, ITS and "
                "the robustness checks do not use the controls.")

    @property
    def sa_control(self) -> str:
        """Sun-Abraham control group: never-treated units when the design has any, else the last treated cohort."""
        return "never_treated" if (~self.design.treated).any() else "last_cohort"

    def record(self, result: Any) -> Any:
        """Add a result's tidy rows (or a tidy DataFrame) to the run's estimates; returns the result unchanged."""
        rows = tidy_frame(result.tidy() if hasattr(result, "tidy") else result)
        rows["notebook"] = self.notebook
        self.results.append(rows)
        gap = (getattr(result, "details", None) or {}).get("missing") if isinstance(getattr(result, "details", None), dict) else None
        if gap:  # data.missing: allow — how this method handled the missing cells, for the run index
            self._missing_handling({"notebook": self.notebook, "method": str(getattr(result, "method", "")), "outcome": str(getattr(result, "outcome", "")), "handling": gap})
        if self.run_dir is not None and self.lab:  # a lab run: its estimates.csv, rewritten whole (cells may be rerun)
            frame = self.estimates()
            if self.synthetic:
                frame.insert(0, "synthetic", True)
            frame.to_csv(self.run_dir / "estimates.csv", index=False, lineterminator="\n")
        elif self.run_dir is not None:  # append only the new rows: recording stays linear in the number of rows
            out = work_dir(self.run_dir) / "estimates"
            out.mkdir(parents=True, exist_ok=True)
            f = out / f"{self.notebook}.csv"
            rows.to_csv(f, mode="a", header=not f.exists(), index=False)
        return result

    def write_csv(self, name: str, table: pd.DataFrame) -> Path | None:
        """Write a table into the run's report folder (``evidence run``); returns its path, or None outside a run."""
        if self.run_dir is None:
            return None
        path = Path(self.run_dir) / name
        frame = table.copy()
        if self.synthetic:
            frame.insert(0, "synthetic", True)
        frame.to_csv(path, index=False, lineterminator="\n")
        return path

    def _missing_handling(self, entry: dict[str, str]) -> None:
        self.missing_handling = getattr(self, "missing_handling", [])
        if entry in self.missing_handling:
            return
        self.missing_handling.append(entry)
        if self.run_dir is not None and self.lab:
            (self.run_dir / "missing_handling.json").write_text(json.dumps(self.missing_handling, indent=1))
        elif self.run_dir is not None:
            out = work_dir(self.run_dir) / "missing"
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{self.notebook}.json").write_text(json.dumps(self.missing_handling, indent=1))

    def warn(self, text: str) -> None:
        """A warning for the run index (few treated clusters, failed pre-trend test ...)."""
        if text not in self.warnings:
            self.warnings.append(text)
        if self.run_dir is not None and self.lab:
            (self.run_dir / "warnings.json").write_text(json.dumps(self.warnings, indent=1))
        elif self.run_dir is not None:
            out = work_dir(self.run_dir) / "warnings"
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{self.notebook}.json").write_text(json.dumps(self.warnings, indent=1))

    def estimates(self) -> pd.DataFrame:
        """Everything this notebook has recorded."""
        return stack(self.results)


class Section:
    """One section of the parameters (``design``, ``methods`` ...) in a notebook's parameters cell.

    Context: papermill writes ``-p design.end 2018-12`` as the Python line ``design.end = "2018-12"`` after the
    parameters cell, and ``-f my.yaml`` as one ``design = {...}`` line per top-level key.
    Decision: the parameters cell defines every top-level section as a :class:`Section`; attributes set on it, at any
    depth (``methods.did.log_outcomes = False``), are changes to ``params_file``, validated like ``--set``. A section
    replaced by a mapping (``-f``/``-y``) makes the given keys a whole parameters file (see :func:`notebook_parameters`).
    Consequences: the same validation, messages and defaults as ``evidence run``; a misspelt key is an error naming the
    nearest key.
    """

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", {})

    def __getattr__(self, key: str) -> Section:
        if key.startswith("_"):
            raise AttributeError(key)
        child = self._values.get(key)
        if not isinstance(child, Section):
            child = Section(f"{self._name}.{key}")
            self._values[key] = child
        return child

    def __setattr__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def changes(self) -> dict[str, Any]:
        """Dotted key -> value of everything set on this section."""
        out: dict[str, Any] = {}
        for key, value in self._values.items():
            if isinstance(value, Section):
                out.update(value.changes())
            else:
                out[f"{self._name}.{key}"] = value
        return out

    def __repr__(self) -> str:
        return f"Section({self._name!r}, changes={self.changes()!r})"


NOTEBOOK_PARAMETERS = ("params_file", "run_dir")


def _injected_names() -> tuple[list[str], list[str]]:
    """Names papermill injected into this kernel (its ``# Parameters`` cell): (plain names, dotted targets)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return [], []
    ip = get_ipython()
    history = list(ip.user_ns.get("In", [])) if ip is not None else []
    cell = next((c for c in reversed(history[:-1]) if isinstance(c, str) and c.lstrip().startswith("# Parameters")), None)
    if cell is None:
        return [], []
    import ast

    names, dotted = [], []
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return [], []
    for node in tree.body:
        for target in getattr(node, "targets", []):
            if isinstance(target, ast.Name):
                names.append(target.id)
            elif isinstance(target, ast.Attribute):
                dotted.append(ast.unparse(target))
    return names, dotted


def notebook_parameters(namespace: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A notebook's parameters beyond ``params_file`` and ``run_dir``: (whole file, changes).

    ``whole file`` is a mapping when papermill gave whole sections (``-f``/``-y``): those keys *are* the parameters
    file, read as ``evidence run FILE`` reads one (keys not given take the documented defaults); else None and the
    notebook's ``params_file`` is used. ``changes`` are dotted keys set on the sections (``-p design.end 2018-12``,
    or typed into the parameters cell). A name injected by papermill that is not a parameter is an error.
    """
    from .errors import ParamsError
    from .params import SCHEMA, _suggest

    top = {k.split(".")[0] for k in SCHEMA}
    injected, _ = _injected_names()
    unknown = [n for n in injected if n not in top and n not in NOTEBOOK_PARAMETERS]
    if unknown:
        hint = _suggest(unknown[0]).strip("; ").rstrip(".")
        raise ParamsError(
            f"notebook parameter '{unknown[0]}' is not a parameter ({hint}); the supported forms are -p params_file FILE, "
            "-p run_dir DIR, -p KEY VALUE for any key of the parameters file (dotted: -p design.end 2018-12, a change to "
            "params_file), and -f my.yaml or -y \"...\" (a whole parameters file)."
        )
    whole: dict[str, Any] | None = None
    changes: dict[str, Any] = {}
    for name in sorted(top):
        value = namespace.get(name)
        if isinstance(value, Section):
            changes.update(value.changes())
        elif isinstance(value, dict) and name in injected:
            whole = whole or {}
            whole[name] = value
    for name in sorted(top):  # scalars (run_name, title ...) given with -p, or with -f as part of the file
        value = namespace.get(name)
        if value is not None and not isinstance(value, (Section, dict)) and name in {k for k in SCHEMA if "." not in k}:
            if whole is not None and name in injected:
                whole[name] = value
            else:
                changes[name] = value
    return whole, changes


def _lab_folder(notebook: str) -> Path | None:
    """The run folder of a notebook run outside ``evidence run``: ``reports/lab-<notebook>-<time>/`` (or under
    ``$EVIDENCE_LAB_REPORTS``); None when ``EVIDENCE_LAB_REPORTS=off`` (``evidence refresh-notebooks`` and nbval)."""
    import os
    import time

    from .paths import REPORTS

    where = os.environ.get("EVIDENCE_LAB_REPORTS", "")
    if where.lower() == "off":
        return None
    base = Path(where) if where else REPORTS
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = base / f"lab-{notebook}-{stamp}"
    n = 1
    while folder.exists():  # two runs of one notebook within a second
        n += 1
        folder = base / f"lab-{notebook}-{stamp}-{n}"
    return folder


def open_run(params_file: str, run_dir: str | None = "", notebook: str = "notebook", namespace: dict[str, Any] | None = None) -> RunContext:
    """Open a run from a notebook.

    Parameters
    ----------
    params_file
        Parameters file (a relative path is read from the working folder, then from the project root).
    run_dir
        The run's working folder when executed by ``evidence run``. Empty in JupyterLab or under papermill: the
        notebook then writes its estimates, figures, parameters and provenance into a run folder of its own,
        ``reports/lab-<notebook>-<time>/`` (or the ``run_dir`` given, when it is not an ``evidence run`` folder).
    notebook
        This notebook's name (``01_did``), stamped on every recorded row.
    namespace
        The notebook's ``globals()``: the sections of its parameters cell and what papermill injected
        (:func:`notebook_parameters`).
    """
    # tables in the reports show whole sentences (notes, checks, reasons): no "..." cut at 50 characters
    pd.set_option("display.max_colwidth", None)
    from .tables import install_table_style

    install_table_style()  # every DataFrame a notebook shows in the package's table style
    from .plots import FIGURE_DIR, install_figure_alt

    install_figure_alt()  # and every figure with alt text generated from its content
    whole, changes = notebook_parameters(namespace) if namespace is not None else (None, {})
    if whole is not None:
        params = load_params(data=whole, given=changes, given_label="papermill -p")
        params.source = "parameters given by papermill -f/-y"
    else:
        params = load_params(params_file, given=changes, given_label="notebook parameter")
    rd = Path(run_dir) if run_dir else None
    cached = work_dir(rd) / "prepared.pkl" if rd is not None else None
    lab = cached is None or not cached.is_file()  # not under `evidence run`: a run folder of its own
    if lab:
        rd = (Path(run_dir).resolve() if run_dir else _lab_folder(notebook))
    origin = work_dir(rd) / "origin.json" if rd is not None else None
    if not lab and origin is not None and origin.is_file():  # report the user's file and overrides, not the resolved copy
        info = json.loads(origin.read_text())
        params.source, params.overrides = info["source"], list(info["overrides"])
    if not lab:
        with open(cached, "rb") as fh:
            panel, design = pickle.load(fh)
    else:
        from .pipeline import prepare

        panel, design = prepare(params)
    ctx = RunContext(params, panel, design, notebook, rd, lab=lab)
    FIGURE_DIR.clear()
    if lab and rd is not None:
        ctx._start_lab()
        FIGURE_DIR.append(rd / "figures")
    from .plots import set_report_frequency

    set_report_frequency(panel.frequency)  # axes in the panel's units (months since designation ...)
    from .plots import set_report_baselines

    set_report_baselines(treated_baselines(design))  # effects drawn as % of the pre-designation level
    if "unit_name" in panel.data.columns:  # tables show area names, not codes
        names = panel.data.drop_duplicates("unit").set_index("unit")["unit_name"]
        install_table_style(names.dropna().astype(str).to_dict())
    if params["report.synthetic"]:
        ctx.warn("SYNTHETIC DATA: every number in this run comes from simulated data, not from the NHS.")
    return ctx


def treated_baselines(design: Design) -> dict[str, float]:
    """Mean of each outcome over treated units' observed periods before their designation (the level the summary's
    % changes are relative to); vectorised over units and periods."""
    import numpy as np

    panel = design.panel
    pre = np.arange(panel.n_periods)[None, :] < design.g[:, None]
    mask = pre & design.treated[:, None]
    out: dict[str, float] = {}
    if not mask.any():
        return out
    for o in panel.outcomes:
        y = panel.matrix(o)[mask]
        y = y[np.isfinite(y)]
        if y.size:
            out[o] = float(y.mean())
    return out


def resolve_params_path(params_file: str) -> Path:
    return resolve(params_file)
