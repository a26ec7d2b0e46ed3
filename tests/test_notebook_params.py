"""Notebooks as papermill and JupyterLab users run them (issue 18, items 1, 2 and 4).

- papermill's ``-p design.end 2018-12`` (a change to ``params_file``), ``-f my.yaml`` / ``-y`` (a whole parameters
  file) and an unknown parameter (an error) — read by the same validation as ``evidence run``;
- a notebook run outside ``evidence run`` (JupyterLab, papermill) writes a run folder of its own;
- committed notebooks carry a fingerprint of the sources their outputs came from;
- paths: command-line paths from the working folder, paths in a parameters file from its folder, the project root
  as the fallback, and not-found messages naming the absolute paths tried.

The end-to-end comparison of ``papermill -f`` with ``evidence run`` on every notebook is in test_foreign_designs.py
(it reuses that module's runs).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from evidence.errors import ParamsError
from evidence.notebooks import check_committed, source_fingerprint
from evidence.params import NOTEBOOK_ORDER, SCHEMA, load_params
from evidence.paths import ROOT
from evidence.workbook import Section, notebook_parameters



# --- sections and the notebook's namespace -------------------------------------------------------------------------


def test_section_collects_dotted_changes_at_any_depth():
    design, methods = Section("design"), Section("methods")
    design.end = "2018-12"
    methods.did.log_outcomes = False
    methods.staggered.control_group = "not_yet_treated"
    assert design.changes() == {"design.end": "2018-12"}
    assert methods.changes() == {"methods.did.log_outcomes": False, "methods.staggered.control_group": "not_yet_treated"}


def _namespace(**extra):
    ns = {name: Section(name) for name in {k.split(".")[0] for k in SCHEMA if "." in k}}
    ns.update(run_name=None, title=None, description=None, notebooks=None, params_file="params/default.yaml", run_dir="")
    ns.update(extra)
    return ns


def test_dotted_changes_are_validated_like_set(monkeypatch):
    monkeypatch.setattr("evidence.workbook._injected_names", lambda: ([], ["design.end", "inference.seed"]))
    ns = _namespace()
    ns["design"].end = "2018-12"
    ns["inference"].seed = 7
    whole, changes = notebook_parameters(ns)
    assert whole is None and changes == {"design.end": "2018-12", "inference.seed": 7}
    p = load_params("params/default.yaml", given=changes)
    assert p["design.end"] == "2018-12" and p["inference.seed"] == 7
    assert p.overrides == ["design.end='2018-12'", "inference.seed=7"]
    ns["design"].ennd = "2018-12"
    with pytest.raises(ParamsError, match=r"^notebook parameter design.ennd: unknown key; did you mean 'design.end'\?"):
        load_params("params/default.yaml", given=notebook_parameters(ns)[1])


def test_whole_sections_from_papermill_f_are_the_parameters_file(monkeypatch):
    """`-f x.yaml` injects one line per top-level key: those keys are the file, as `evidence run x.yaml` reads it."""
    text = (ROOT / "params" / "effective_dates.yaml").read_text()
    given = yaml.safe_load(text)
    monkeypatch.setattr("evidence.workbook._injected_names", lambda: (list(given), []))
    ns = _namespace(**given)
    whole, changes = notebook_parameters(ns)
    assert changes == {} and whole == given
    assert load_params(data=whole).values == load_params("params/effective_dates.yaml").values


def test_list_values_given_as_text_are_read_as_yaml():
    p = load_params("params/default.yaml", given={"treatment.waves": "[1]"})
    assert p["treatment.waves"] == [1]


def test_an_unknown_injected_parameter_is_an_error_listing_the_forms(monkeypatch):
    monkeypatch.setattr("evidence.workbook._injected_names", lambda: (["params_file", "desing"], []))
    with pytest.raises(ParamsError) as exc:
        notebook_parameters(_namespace(desing={"end": "2018-12"}))
    msg = str(exc.value)
    assert "'desing' is not a parameter" in msg and "design" in msg
    assert "-p KEY VALUE" in msg and "-f my.yaml" in msg and "\n" not in msg


def test_every_notebook_defines_the_sections_in_its_parameters_cell():
    import nbformat

    sections = {k.split(".")[0] for k in SCHEMA if "." in k}
    scalars = {k for k in SCHEMA if "." not in k}
    for name in NOTEBOOK_ORDER:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        for s in sections:
            assert f'{s} = Section("{s}")' in cell.source, (name, s)
        for s in scalars:
            assert f"{s} = None" in cell.source, (name, s)
        opener = next(c for c in nb.cells if "open_run(" in c.source)
        assert "namespace=globals()" in opener.source, name
        # nothing may rebind a section name between the parameters cell and open_run
        before = opener.source.split("open_run(")[0]
        assert all(f"import {s}" not in before and f" {s}," not in before for s in sections), name


# --- committed notebooks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOK_ORDER)
def test_committed_notebook_matches_the_fingerprint_of_its_sources(name):
    assert check_committed(ROOT / "notebooks" / f"{name}.ipynb") is None


def test_an_edited_committed_notebook_is_caught(tmp_path):
    import nbformat

    src = ROOT / "notebooks" / "01_did.ipynb"
    nb = nbformat.read(src, as_version=4)
    nb.metadata["evidence"] = {"source_sha256": source_fingerprint(nb)}
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace('params_file = "params/default.yaml"', 'params_file = "params/effective_dates.yaml"')
    path = tmp_path / "01_did.ipynb"
    nbformat.write(nb, path)
    assert "edited or saved outside `make notebooks`" in check_committed(path)
    nb.metadata["evidence"]["source_sha256"] = source_fingerprint(nb)
    for i, c in enumerate(c for c in nb.cells if c.cell_type == "code"):
        c.execution_count = 2 * i + 1  # run out of order in a Lab session
    nbformat.write(nb, path)
    assert "not executed once from top to bottom" in check_committed(path)


# --- paths ---------------------------------------------------------------------------------------------------------


def _user_folder(tmp_path: Path) -> Path:
    """A user's study folder outside the repository: data and parameters side by side, relative paths."""
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(ROOT / "data" / "examples" / "mpdta.csv", folder / "mpdta.csv")
    text = (ROOT / "params" / "example_mpdta.yaml").read_text()
    import re

    text = re.sub(r"path: \S*mpdta\.csv", "path: mpdta.csv", text)
    (folder / "study.yaml").write_text(text)
    return folder


def test_paths_in_a_params_file_are_read_from_its_folder(tmp_path, monkeypatch):
    folder = _user_folder(tmp_path)
    monkeypatch.chdir(tmp_path)  # neither the project nor the study folder
    p = load_params("study/study.yaml")
    assert Path(p["data.path"]) == folder / "mpdta.csv"
    assert p["treatment.designations"] == "data/reference/ics_designations.csv"  # the project root: the fallback


def test_command_line_paths_are_read_from_the_working_folder_then_the_root(tmp_path, monkeypatch):
    folder = _user_folder(tmp_path)
    monkeypatch.chdir(folder)
    assert load_params("study.yaml").source.endswith("study.yaml")
    assert load_params("params/default.yaml").source == "params/default.yaml"  # not here: the project root
    p = load_params("params/example_mpdta.yaml", overrides=["data.path=mpdta.csv"])
    assert Path(p["data.path"]) == folder / "mpdta.csv"


def test_not_found_messages_name_the_absolute_paths_tried(tmp_path, monkeypatch):
    folder = _user_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError) as exc:
        load_params("nowhere/study.yaml")
    assert str(tmp_path / "nowhere" / "study.yaml") in str(exc.value) and str(ROOT / "nowhere" / "study.yaml") in str(exc.value)
    (folder / "mpdta.csv").unlink()
    with pytest.raises(ParamsError) as exc:
        load_params("study/study.yaml")
    assert str(folder / "mpdta.csv") in str(exc.value) and str(ROOT / "mpdta.csv") in str(exc.value)


def test_evidence_validate_from_another_folder(tmp_path):
    import subprocess

    folder = _user_folder(tmp_path)
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "validate", "study.yaml"], cwd=folder, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("ok: ")
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "validate", "./missing.yaml"], cwd=folder, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and str(folder / "missing.yaml") in proc.stderr and proc.stderr.count("\n") == 1


# --- a JupyterLab-style run --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_lab_style_run_writes_its_own_run_folder(tmp_path):
    """The parameters cell edited as a Lab user would (another file, a dotted change), executed by nbclient: the
    estimates, figures, parameters and provenance go to reports/lab-<notebook>-<time>/, and the committed notebook
    is untouched."""
    import nbformat
    from nbclient import NotebookClient

    folder = _user_folder(tmp_path)
    src = ROOT / "notebooks" / "01_did.ipynb"
    before = src.read_bytes()
    nb = nbformat.read(src, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace('params_file = "params/default.yaml"', f'params_file = "{folder / "study.yaml"}"') + "\ndesign.end = 2006\nmethods.did.log_outcomes = False\n"
    labs = tmp_path / "reports"
    os.environ["EVIDENCE_LAB_REPORTS"] = str(labs)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        os.environ["EVIDENCE_LAB_REPORTS"] = "off"
    assert src.read_bytes() == before
    (run,) = list(labs.glob("lab-01_did-*"))
    assert {"estimates.csv", "params.yaml", "manifest.json"} <= {p.name for p in run.iterdir()}
    import pandas as pd

    est = pd.read_csv(run / "estimates.csv")
    assert len(est) > 0 and set(est["notebook"]) == {"01_did"}
    used = yaml.safe_load((run / "params.yaml").read_text())
    assert used["design"]["end"] == 2006 and used["methods"]["did"]["log_outcomes"] is False
    assert not any(str(o).startswith("lemp_log") for o in est["outcome"])
    said = "".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells for o in c.get("outputs", []))
    assert f"lab-01_did-" in said and "own run folder" in said
