"""``evidence run``: execute the workbook's notebooks with papermill and publish a report atomically.

Steps: validate parameters -> build the panel and design once -> execute notebooks (in parallel processes, each a
fresh interpreter) into a temporary folder -> render HTML with a provenance header -> stack ``estimates.csv`` ->
write ``manifest.json`` -> move the folder into ``reports/<run_name>/`` in one rename.

Decisions (Context / Decision / Consequences)
---------------------------------------------
Atomic publication
    Context: a failed or interrupted run must never destroy the previous report. Decision: everything is written to
    ``reports/.tmp-<run_name>-<pid>/``; only when every notebook has succeeded is the old report renamed aside and
    the new folder renamed into place. Consequences: a report folder is always complete; a failed run's notebooks
    are kept in ``reports/.failed/<run_name>/`` for inspection and the previous report is untouched.
Kernel
    Context: a notebook's stored kernelspec may not exist on another machine, and a user-level ``python3`` kernel can
    point to another interpreter. Decision: the runner writes a private kernelspec for the current interpreter and
    points ``JUPYTER_PATH`` at it. Consequences: notebooks always run in the environment that runs ``evidence``.
Parallel notebooks
    Context: papermill in several threads of one process can collide on ZMQ ports. Decision: one fresh process per
    notebook (``spawn``), at most ``--jobs`` at a time. Consequences: independent notebooks overlap their kernel
    start-up; output is deterministic because each notebook writes only its own files.
"""

from __future__ import annotations

import re

import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EvidenceError
from .params import NOTEBOOK_ORDER, Params, load_params
from .paths import NOTEBOOKS, REPORTS, display
from .provenance import collect, now

KERNEL_NAME = "evidence-workbook"
KERNEL_START_ATTEMPTS = 3
"""A kernel that does not start is started again: jupyter_client picks free ports before the kernel binds them, so
another process starting kernels at the same moment can take one (ZMQ "Address already in use"); no cell has run
then, so a new start is safe."""
SINGLE_THREADED: dict[str, str] = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
"""Kernels run one thread each: notebooks already run in parallel processes, and threaded BLAS or LP solvers in
several processes on a small machine oversubscribe the cores (measured: the HonestDiD cell ran 6x slower)."""
RUN_LAST: tuple[str, ...] = ("07_evidence",)
"""Notebooks that read the other notebooks' estimates, so run after them."""
EXPECTED_SECONDS: dict[str, float] = {"05_robustness": 14, "00_primary": 9, "02_staggered": 9, "04_its": 8, "03_synthetic_control": 8, "08_costs_satisfaction": 7, "06_power": 7, "01_did": 6, "00_data": 5}
"""Rough notebook run times, to start the longest first and so finish sooner on two workers."""


class RunFailed(EvidenceError):
    """A notebook failed; the message names the notebook and cell."""


@dataclass
class NotebookOutcome:
    name: str
    ok: bool
    seconds: float
    message: str = ""


def _write_kernelspec(base: Path) -> Path:
    kdir = base / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=CRITICAL"], "display_name": "Python (evidence workbook)", "language": "python", "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "MATPLOTLIBRC": str(Path(__file__).parent / "templates" / "matplotlibrc"), "PYTHONHASHSEED": "0", **SINGLE_THREADED}}
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return base


def _provenance_cell(title: str, prov: dict[str, Any], notebook: str, seconds: float | None, synthetic: bool) -> str:
    git = prov["git"]
    commit = git["commit"][:12] + (" (uncommitted changes)" if git.get("dirty") else "")
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items())
    from .report import _esc, code

    sums = "\n".join(f"| {_esc(k)} | {code(v[:16] + '…')} |" for k, v in prov["data_checksums"].items())
    banner = "<div style='border:2px solid #DA291C;padding:6px;color:#DA291C'><b>SYNTHETIC DATA</b> — made from simulated data, not NHS data.</div>\n\n" if synthetic else ""
    took = f"{seconds:.1f} s" if seconds is not None else "-"
    # the parameters in a fence longer than any backtick run they contain, so no value can close it
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", prov["params"])), default=0))
    return (
        f"{banner}<details><summary><b>{_esc(title)}</b> · notebook <code>{_esc(notebook)}</code> · run started {_esc(prov['started'])} · git {_esc(commit)} · "
        f"(click for parameters, data checksums and package versions)</summary>\n\n"
        f"**Notebook run time:** {took}  \n**Package versions:** {_esc(versions)}\n\n"
        f"| data file | sha256 |\n|---|---|\n{sums}\n\n**Parameters**\n\n{fence}yaml\n{prov['params']}{fence}\n</details>"
    )


def not_applicable_notebook(name: str, params_path: str, run_dir: str) -> Any:
    """The report of a notebook none of whose analyses applies to the design: its title and introduction, the run
    header and one generated line per analysis saying why it does not apply (no kernel is started: nothing runs)."""
    import nbformat

    from .report import header, not_applicable
    from .workbook import open_run

    ctx = open_run(params_path, run_dir, notebook=name)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    text = lambda m: getattr(m, "data", str(m))  # noqa: E731 - IPython Markdown or plain text
    nb.cells = [nb.cells[0], nbformat.v4.new_markdown_cell(text(header(ctx))), nbformat.v4.new_markdown_cell(text(not_applicable(ctx)))]
    return nb


def execute_notebook(name: str, run_dir: str, params_path: str, kernel_base: str, title: str, prov: dict[str, Any], hide_code: bool, synthetic: bool, not_applicable: tuple[str, ...] = (), run_notebooks: tuple[str, ...] = ()) -> NotebookOutcome:
    """Execute one notebook and render it (runs in a fresh worker process)."""
    os.environ["JUPYTER_PATH"] = kernel_base + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import nbformat
    import papermill as pm

    src = NOTEBOOKS / f"{name}.ipynb"
    out = Path(run_dir) / f"{name}.ipynb"
    t0 = time.perf_counter()
    if name in not_applicable:
        try:
            nbformat.write(not_applicable_notebook(name, params_path, run_dir), out)
            render_html(out, title, prov, name, time.perf_counter() - t0, synthetic, hide_code, run_notebooks)
        except Exception as exc:
            return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} (not applicable) could not be written: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return NotebookOutcome(name, True, time.perf_counter() - t0)
    try:
        for attempt in range(KERNEL_START_ATTEMPTS):
            try:
                pm.execute_notebook(
                    str(src),
                    str(out),
                    parameters={"params_file": params_path, "run_dir": run_dir},
                    kernel_name=KERNEL_NAME,
                    cwd=str(NOTEBOOKS),
                    progress_bar=False,
                    log_output=False,
                    request_save_on_cell_execute=False,
                )
                break
            except RuntimeError as exc:  # the kernel did not start (a port taken by another process): start it again
                if "Kernel didn't respond" not in str(exc) or attempt == KERNEL_START_ATTEMPTS - 1:
                    raise
    except pm.PapermillExecutionError as exc:
        where = f"In [{exc.exec_count}]"
        if out.exists():  # name the cell by its first line (papermill adds a banner cell, so indexes shift)
            nb = nbformat.read(out, as_version=4)
            hit = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count") == exc.exec_count]
            if hit:
                first = next((ln.strip() for ln in hit[0].source.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
                where += f" ({first[:60]}{'...' if len(first) > 60 else ''})"
        evalue = " ".join(str(exc.evalue).split())
        return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} failed in cell {where}: {exc.ename}: {evalue}")
    except Exception as exc:  # kernel death, missing notebook ...
        return NotebookOutcome(name, False, time.perf_counter() - t0, f"notebook {name} could not run: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    seconds = time.perf_counter() - t0
    try:
        render_html(out, title, prov, name, seconds, synthetic, hide_code, run_notebooks)
    except Exception as exc:
        return NotebookOutcome(name, False, seconds, f"notebook {name} ran but its HTML could not be rendered: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    return NotebookOutcome(name, True, seconds)


def render_html(out: Path, title: str, prov: dict[str, Any], name: str, seconds: float | None, synthetic: bool, hide_code: bool, run_notebooks: tuple[str, ...] = ()) -> Path:
    """Insert the provenance header into an executed notebook and render it to HTML beside it (offline template),
    with the navigation bar (index, glossary, previous and next in reading order) at the top and the bottom, and
    without the cells that exist for the test suite (the nbval-checked "Key numbers" print and its note)."""
    import copy

    import nbformat

    from .index import nav_html

    nb = nbformat.read(out, as_version=4)
    cell = nbformat.v4.new_markdown_cell(_provenance_cell(title, prov, name, seconds, synthetic), metadata={"tags": ["provenance"]})
    nb.cells.insert(0, cell)
    nbformat.write(nb, out)
    nb = copy.deepcopy(nb)
    nb.cells = _reader_cells(nb.cells)
    nav = nav_html(name, run_notebooks or (name,))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(nav, metadata={"tags": ["navigation"]}))
    nb.cells.append(nbformat.v4.new_markdown_cell(nav, metadata={"tags": ["navigation"]}))
    exporter = _exporter()
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{title} — {name}"}})
    from .glossary import link_first_uses

    html = link_first_uses(html)  # terms of art linked to glossary.html at their first use
    html_path = out.with_suffix(".html")
    html_path.write_text(html, encoding="utf-8")
    return html_path


def _reader_cells(cells: list) -> list:
    """The cells a reader sees: without the test suite's checked print (``# NBVAL_CHECK_OUTPUT``) and the note that
    introduces it (developer-only text), and without library warnings printed to stderr."""
    keep = []
    for c in cells:
        if c.cell_type == "code" and c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT"):
            if keep and keep[-1].cell_type == "markdown" and "nbval" in keep[-1].source:
                keep.pop()
            continue
        if c.cell_type == "code":  # library warnings (stderr) stay in the .ipynb, not in the reader's page
            c.outputs = [o for o in c.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        keep.append(c)
    return keep


_EXPORTER: Any = None


def _exporter() -> Any:
    """The HTML exporter with the offline template, built once per worker (template compilation takes seconds)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        templates = Path(__file__).parent / "templates"
        _EXPORTER = HTMLExporter(template_name="lab", extra_template_basedirs=[str(templates)], template_file=str(templates / "evidence_offline.html.j2"))
    return _EXPORTER


def _warm_up() -> None:
    """Import the notebook machinery and compile the HTML template in a worker before its first notebook (this runs
    while the parent builds the panel)."""
    import nbformat
    import papermill  # noqa: F401

    _exporter().from_notebook_node(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("warm-up")]))


def _log(fh: Any, text: str, quiet: bool = False) -> None:
    fh.write(f"{now()} {text}\n")
    fh.flush()
    if not quiet:
        print(text, flush=True)


def run(params_file: str, overrides: list[str] | None = None, only: list[str] | None = None, jobs: int = 2, reports: Path = REPORTS, quiet: bool = False) -> Path:
    """Run the workbook and publish ``reports/<run_name>/``.

    Parameters
    ----------
    params_file
        YAML parameters file.
    overrides
        ``key=value`` strings (``--set``).
    only
        Run only these notebooks (names like ``01_did``); the report then holds only them.
    jobs
        Notebooks executed at once.
    reports
        Folder holding the reports.

    Returns
    -------
    pathlib.Path
        The published report folder.

    Raises
    ------
    EvidenceError
        Bad parameters or data (before anything runs), or a failed notebook (named, with its cell).
    """
    started = now()
    t_start = time.perf_counter()
    params = load_params(params_file, overrides or [])
    notebooks = list(params["notebooks"])
    if only:
        unknown = [n for n in only if n not in NOTEBOOK_ORDER]
        if unknown:
            raise EvidenceError(f"--only {unknown[0]}: unknown notebook; choose from {', '.join(NOTEBOOK_ORDER)}.")
        notebooks = [n for n in NOTEBOOK_ORDER if n in only]
    missing = [n for n in notebooks if not (NOTEBOOKS / f"{n}.ipynb").is_file()]
    if missing:
        raise EvidenceError(f"notebook {display(NOTEBOOKS / (missing[0] + '.ipynb'))} is missing; restore it from the repository.")
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    final = reports / params.run_name
    tmp = reports / f".tmp-{params.run_name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log = open(tmp / "run.log", "w", encoding="utf-8")
    try:
        _log(log, f"evidence run {display(params_file)} -> {display(final)} ({len(notebooks)} notebook(s): {', '.join(notebooks)})", quiet)
        return _run(params, notebooks, jobs, tmp, final, reports, log, started, t_start, quiet)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        msg = "interrupted" if interrupted else str(exc)
        try:
            _log(log, f"FAILED: {msg}", True)
            if not isinstance(exc, EvidenceError) and not interrupted:
                log.write(traceback.format_exc())
            log.close()
        except Exception:
            pass
        failed = reports / ".failed" / params.run_name
        if failed.exists():
            shutil.rmtree(failed, ignore_errors=True)
        failed.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp / "_work", ignore_errors=True)
            os.replace(tmp, failed)
        raise
    finally:
        if not log.closed:
            log.close()


def _run(params: Params, notebooks: list[str], jobs: int, tmp: Path, final: Path, reports: Path, log: Any, started: str, t_start: float, quiet: bool) -> Path:
    from .pipeline import preflight, prepare
    from .results import stack
    from .workbook import save_prepared, work_dir

    import pandas as pd

    t0 = time.perf_counter()
    # start the worker processes now, so their interpreter start and imports overlap with building the panel
    ctx = mp.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=max(1, min(jobs, len(notebooks))), mp_context=ctx)
    warm = [pool.submit(_warm_up) for _ in range(max(1, min(jobs, len(notebooks))))]
    try:
        panel, design = prepare(params)
        preflight(params, panel, design)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    params_path = tmp / "params.yaml"
    params_path.write_text(f"# resolved parameters of run {params.run_name} (from {params.source}{', overrides: ' + '; '.join(params.overrides) if params.overrides else ''})\n" + params.to_yaml(), encoding="utf-8")
    # panel.csv: the whole built panel; analysis_panel.csv: what the estimators use (window applied, units dropped)
    for name, pn in (("panel.csv", panel), ("analysis_panel.csv", design.panel)):
        frame = pn.to_frame()
        if params["report.synthetic"]:
            frame.insert(0, "synthetic", True)
        frame.to_csv(tmp / name, index=False, lineterminator="\n")
    cells = panel.missing_cells()
    if len(cells):  # data.missing: allow — every missing unit-period cell, by column
        cells.to_csv(tmp / "missing_cells.csv", index=False, lineterminator="\n")
    completeness = panel.extras.get("completeness")
    if completeness is not None:
        completeness.to_csv(tmp / "completeness.csv", index=False, lineterminator="\n")
    design.cohorts.to_csv(tmp / "cohorts.csv", index=False, lineterminator="\n")
    save_prepared(tmp, panel, design, params)
    from .applicability import notebook_applies, plan, plan_table

    verdicts = plan(params, design)
    judged = [v for v in verdicts if v.notebook != "all"]
    if judged and not any(v.applies for v in judged):
        from .errors import DesignError

        reasons = list(dict.fromkeys(f"{v.reason} (parameter: {v.parameter})" for v in judged))
        raise DesignError(f"no analysis of the workbook applies to this design: {'; '.join(reasons[:3])}{f'; and {len(reasons) - 3} more' if len(reasons) > 3 else ''}.")
    plan_table(verdicts).to_csv(tmp / "applicability.csv", index=False, lineterminator="\n")
    skipped = tuple(n for n in notebooks if not notebook_applies(verdicts, n))
    _log(log, f"panel.csv (built): {panel.n_units} units x {panel.n_periods} periods ({panel.period_labels[0]} to {panel.period_labels[-1]}) from {panel.source}; "
              f"analysis_panel.csv (used by the estimators): {design.panel.n_units} units x {design.panel.n_periods} periods ({design.window[0]} to {design.window[1]}); "
              f"design: {design.n_treated} treated, {design.n_comparison} comparison ({time.perf_counter() - t0:.1f} s)", quiet)
    for note in panel.notes + design.notes:
        _log(log, f"  note: {note}", True)
    for v in verdicts:
        if v.status != "runs":
            _log(log, f"  {v.notebook}: {v.sentence()}", True)
    prov = collect(params.to_yaml(), panel.files, started)
    kernel_base = str(_write_kernelspec(work_dir(tmp)))
    outcomes: dict[str, NotebookOutcome] = {}
    args = dict(run_dir=str(tmp), params_path=str(params_path), kernel_base=kernel_base, title=str(params["title"]), prov=prov, hide_code=bool(params["report.hide_code"]), synthetic=bool(params["report.synthetic"]), not_applicable=skipped, run_notebooks=tuple(notebooks))
    cf.wait(warm)
    failures: list[NotebookOutcome] = []
    # notebooks that summarise the others run after them; the rest run in parallel, longest first. A failed notebook
    # does not stop the others of its stage: the run reports every failure at once (the summary stage is skipped).
    stages = [[n for n in notebooks if n not in RUN_LAST], [n for n in notebooks if n in RUN_LAST]]
    stages[0].sort(key=lambda n: -EXPECTED_SECONDS.get(n, 10))
    try:
        for stage in stages:
            if not stage or failures:
                continue
            futures = {pool.submit(execute_notebook, n, **args): n for n in stage}
            for fut in cf.as_completed(futures):
                res = fut.result()
                outcomes[res.name] = res
                _log(log, f"  [{len(outcomes)}/{len(notebooks)}] {res.name}: {'ok' if res.ok else 'FAILED'} ({res.seconds:.1f} s)", quiet)
                if not res.ok:
                    failures.append(res)
    except BaseException:  # Ctrl-C: the kernels received it too; stop the workers at once
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if failures:
        kept = f"the previous report in {display(final)} is unchanged" if final.exists() else "nothing was published"
        failures.sort(key=lambda r: NOTEBOOK_ORDER.index(r.name) if r.name in NOTEBOOK_ORDER else 99)
        what = failures[0].message if len(failures) == 1 else f"{len(failures)} notebooks failed: " + " | ".join(f.message for f in failures)
        raise RunFailed(f"{what} — {kept}; the failed notebook{'s are' if len(failures) > 1 else ' is'} in {display(reports / '.failed' / params.run_name)}.")
    frames = []
    warnings: dict[str, list[str]] = {}
    handling: list[dict[str, str]] = []
    for n in notebooks:
        f = work_dir(tmp) / "estimates" / f"{n}.csv"
        if f.is_file():
            frames.append(pd.read_csv(f, dtype={"group": "string", "period": "string"}))
        w = work_dir(tmp) / "warnings" / f"{n}.json"
        if w.is_file():
            warnings[n] = json.loads(w.read_text())
        mh = work_dir(tmp) / "missing" / f"{n}.json"
        if mh.is_file():
            handling.extend(json.loads(mh.read_text()))
    estimates = stack(frames)
    if params["report.synthetic"] and len(estimates):  # a synthetic run's every row says so (as 06_power's own rows do)
        plain = ~estimates["outcome"].astype(str).str.startswith("synthetic:")
        estimates.loc[plain, "outcome"] = "synthetic:" + estimates.loc[plain, "outcome"].astype(str)
    estimates.to_csv(tmp / "estimates.csv", index=False, lineterminator="\n")
    from .panel import sha256

    manifest = {
        "run_name": params.run_name,
        "title": params["title"],
        "params_file": params.source,
        "overrides": params.overrides,
        "notebooks": {n: {"seconds": round(outcomes[n].seconds, 2), "ipynb": f"{n}.ipynb", "html": f"{n}.html"} for n in notebooks},
        "outputs": {},
        "estimates_rows": int(len(estimates)),
        "synthetic": bool(params["report.synthetic"]),
        "panel": {"units": panel.n_units, "periods": panel.n_periods, "frequency": panel.frequency, "source": panel.source},
        "design": {"treated": design.n_treated, "comparison": design.n_comparison, "cohorts": design.cohort_labels, "window": list(design.window), "staggered": design.is_staggered},
        "notes": panel.notes + design.notes,
        "applicability": {"not_applicable_notebooks": list(skipped), "lines": [{"notebook": v.notebook, "analysis": v.analysis, "status": v.status, "line": v.sentence()} for v in verdicts if v.status != "runs"]},
        "warnings": warnings,
        "missing": {"cells": [n for n in panel.notes if "(data.missing: allow)" in n], "handling": handling},
        **{k: v for k, v in prov.items() if k != "params"},
    }
    shutil.rmtree(work_dir(tmp))
    manifest["outputs"] = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name not in ("run.log",)}
    manifest["finished"] = now()
    manifest["seconds"] = round(time.perf_counter() - t_start, 2)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
    from .index import build_index

    build_index(tmp)
    _log(log, f"published {display(final)} in {manifest['seconds']:.1f} s: {len(estimates)} estimate rows", quiet)
    log.close()
    # publish: rename the old report aside, the new one into place, then delete the old one
    old = reports / f".old-{params.run_name}-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    return final
