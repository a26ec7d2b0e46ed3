"""The workbook on panels unlike the default (issue: any evaluator's data): each foreign design runs end to end
through ``evidence run`` with every notebook and publishes, and the run index states which analyses were not
applicable or ran in a fallback form — decided from the design, before any notebook ran."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from foreign_designs import DESIGNS, PAPERMILL_DESIGN, PAPERMILL_NOTEBOOKS
from evidence.params import NOTEBOOK_ORDER

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def matrix(background_runs):
    """Every design run through `evidence run` with one notebook process each, started in the background when the
    session starts (tests/background.py); design name -> (return code, stderr, its report folder)."""
    done: dict[str, tuple[int, str, Path]] = {}
    for d in DESIGNS:
        code, _, err, _ = background_runs.result(f"foreign:{d.name}")
        done[d.name] = (code, err, background_runs.matrix_reports / d.name)
    return done


class _Elements(HTMLParser):
    """Elements the hostile strings would create if any reached a page unescaped."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v or "") for k, v in attrs}
        if any(k.startswith("on") for k in a):
            self.found.append(f"<{tag}> with an event handler {a}")
        if any(v.strip().lower().startswith("javascript:") for v in a.values()):
            self.found.append(f"<{tag}> with a javascript: URL")
        self._tag = tag

    def handle_data(self, data: str) -> None:
        if self._tag == "script" and "alert(" in data:
            self.found.append("a <script> element from the data")
        if self._tag in ("strong", "em", "b", "i") and data.strip() in ("bold", "em", "b", "x", "y"):
            self.found.append(f"<{self._tag}>{data}</{self._tag}> made from the data's markup")

    def handle_endtag(self, tag: str) -> None:
        self._tag = None


def _assert_no_injected_markup(out: Path) -> None:
    pages = sorted(out.glob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parser = _Elements()
        parser.feed(text)
        assert not parser.found, (page.name, parser.found[:3])
        if page.name in ("index.html", "00_data.html"):  # the title is shown as written, markup as text
            assert "&lt;script&gt;alert(" in text and "[link](javascript:alert(1))" in text


@pytest.mark.e2e
@pytest.mark.parametrize("design", [d for d in DESIGNS if not d.error], ids=lambda d: d.name)
def test_foreign_design_publishes_with_not_applicable_notes(design, matrix):
    code, err, out = matrix[design.name]
    assert code == 0, err
    for nb in NOTEBOOK_ORDER:
        assert (out / f"{nb}.html").is_file()
    plan = pd.read_csv(out / "applicability.csv").set_index("analysis")
    for analysis, status in design.expect.items():
        assert plan.loc[analysis, "status"] == status, (analysis, plan.loc[analysis, "line"])
    index = (out / "index.html").read_text()
    index_text = re.sub(r"<[^>]+>", "", index)  # terms of art in the lines are linked to the glossary
    for line in plan.loc[plan["status"] != "runs", "line"]:
        assert line.split(":")[0].replace("'", "&#x27;") in index_text  # every not-applicable / fallback line is on the index
        assert "(parameter: " in line  # and names the parameter that would change it
    est = pd.read_csv(out / "estimates.csv", dtype={"group": "string", "period": "string"})
    assert len(est) > 0 and est["estimate"].notna().any()
    keys = ["notebook", "method", "outcome", "estimand", "group", "period", "event_time"]
    assert not est.duplicated(keys).any(), est[est.duplicated(keys, keep=False)][keys].head().to_string()  # one row per key
    skipped = set(pd.read_json(out / "manifest.json", typ="series")["applicability"]["not_applicable_notebooks"])
    for nb in skipped:  # a notebook none of whose analyses applies shows why, and records nothing
        assert "Not applicable to this design" in (out / f"{nb}.html").read_text()
        assert nb not in set(est["notebook"])
    if "log_outcomes" in design.expect:  # counts with zeros: no log models; the Poisson models take their place
        assert not est["outcome"].astype(str).str.endswith("_log").any()
        assert {"poisson_twfe", "poisson_event_study", "etwfe_poisson"} <= set(est["method"])
    if "HOSTILE" in design.what or "markup in every name" in design.what:
        _assert_no_injected_markup(out)
    if design.params["data"].get("missing") == "allow":  # an unbalanced panel: every method says how it used the cells
        cells = pd.read_csv(out / "missing_cells.csv")
        assert len(cells) > 0 and set(cells.columns) == {"unit", "period", "column"}
        assert "Missing cells and how each method used them" in index
        handling = pd.read_json(out / "manifest.json", typ="series")["missing"]["handling"]
        said = {h["method"]: h["handling"] for h in handling}
        assert "observed cells" in said["twfe"] and "available rows" in said["cs"]
        assert "left out" in said["sdid"]  # SDID needs complete units: it drops the incomplete ones and says so
    if design.expect.get("its") == "runs":
        assert (est["notebook"] == "04_its").any()
    if design.expect.get("synth") in ("runs", "fallback"):
        assert est["method"].isin(["sdid", "sc"]).any()
    if design.params["data"].get("controls"):  # time-varying controls: used by the regression estimators, and said
        html = (out / "01_did.html").read_text()
        assert "Time-varying controls (data.controls): unemployment" in html and "uses baseline covariates only" in html
    if "costs.csv" in design.extra:  # the user's own cost file, under the run's treatment: the known effect is -20
        cs = est[(est["notebook"] == "08_costs_satisfaction") & (est["outcome"] == "spend_per_head") & (est["method"] == "cs") & (est["estimand"] == "simple")].iloc[0]
        assert cs["ci_lower"] < -20 < cs["ci_upper"] and abs(cs["estimate"] + 20) < 2
        assert (est["outcome"] == "satisfied_pct").any()
        assert not est["outcome"].astype(str).str.contains("payments_per|overall_pct").any()  # nothing from the built-in NHS sources


@pytest.mark.e2e
@pytest.mark.parametrize("design", [d for d in DESIGNS if d.error], ids=lambda d: d.name)
def test_foreign_design_with_an_impossible_request_stops_with_one_line(design, matrix):
    code, stderr, _ = matrix[design.name]
    assert code == 2
    err = stderr.strip().splitlines()
    assert len(err) == 1 and design.error in err[0] and "Traceback" not in stderr


# --- papermill's own options against `evidence run` (issue 18, item 1) ------------------------------------------------

_KEYS = ["notebook", "method", "outcome", "estimand", "group", "period", "event_time"]


def _estimates(path: Path) -> pd.DataFrame:
    est = pd.read_csv(path, dtype={"group": "string", "period": "string"})
    est["_n"] = est.groupby(_KEYS, dropna=False).cumcount()  # rows sharing a key, in recording order
    return est


@pytest.fixture(scope="module")
def papermill_f(background_runs):
    """`papermill NOTEBOOK OUT -f params.yaml` for the design's notebooks and `evidence run params.yaml --only
    07_evidence`, started in the background when the session starts (tests/conftest.py)."""
    failed = []
    for nb in PAPERMILL_NOTEBOOKS:
        code, _, err, _ = background_runs.result(f"papermill:{nb}")
        if code != 0:
            failed.append((nb, err[-600:]))
    code, _, err, _ = background_runs.result("papermill:only")
    assert code == 0, err
    assert not failed, failed
    return background_runs.papermill


@pytest.mark.e2e
def test_papermill_f_gives_the_numbers_of_evidence_run_on_every_notebook(matrix, papermill_f):
    """`papermill NOTEBOOK OUT -f params.yaml` (a lab run with its own run folder) and `evidence run params.yaml`
    record the same rows with the same numbers, notebook by notebook. 07_evidence synthesises the run's other
    notebooks' estimates, so it is compared with `evidence run --only 07_evidence`, its run on its own."""
    rc, err, out = matrix[PAPERMILL_DESIGN]
    assert rc == 0, err
    full = _estimates(out / "estimates.csv")
    assert set(PAPERMILL_NOTEBOOKS) == set(full["notebook"]) | {"07_evidence"}  # every notebook that records rows
    labs = papermill_f["labs"]
    assert sorted(lab.name[len("lab-"):].rsplit("-", 2)[0] for lab in labs.iterdir()) == sorted(PAPERMILL_NOTEBOOKS)  # one run folder each
    (only_dir,) = [p for p in papermill_f["only"].iterdir() if p.is_dir() and not p.name.startswith(".")]
    reference = {"07_evidence": _estimates(only_dir / "estimates.csv")}
    compared = 0
    for lab in sorted(labs.iterdir()):
        nb = lab.name[len("lab-"):].rsplit("-", 2)[0]
        ref = reference.get(nb, full)
        ref = ref[ref["notebook"] == nb]
        got = _estimates(lab / "estimates.csv")
        both = ref.merge(got, on=_KEYS + ["_n"], how="outer", suffixes=("_run", "_pm"), indicator=True)
        assert (both["_merge"] == "both").all(), (nb, both.loc[both["_merge"] != "both", _KEYS + ["_merge"]].head())
        for col in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
            a, b = both[f"{col}_run"].astype(float), both[f"{col}_pm"].astype(float)
            assert ((a - b).abs().fillna(0) <= 1e-9 * (1 + a.abs().fillna(0))).all() and (a.isna() == b.isna()).all(), (nb, col)
        compared += len(both)
    assert compared >= 600  # every recorded row of the design's notebooks


@pytest.mark.e2e
def test_papermill_p_dotted_keys_on_every_notebook(matrix, tmp_path):
    """`-p params_file FILE -p design.end 2006 -p methods.did.log_outcomes False -p inference.seed 11`: every
    notebook's parameters cell takes the dotted keys (one kernel runs the first cells of all ten, as papermill
    parameterises them), and they resolve to the parameters `evidence run --set` would use; a misspelt key stops
    the notebook with one line."""
    import nbformat
    from nbclient import NotebookClient
    from papermill.parameterize import parameterize_notebook

    from evidence.params import load_params

    rc, err, out = matrix[PAPERMILL_DESIGN]
    params = out.parent.parent / PAPERMILL_DESIGN / "params.yaml"
    given = {"params_file": str(params), "design.end": 2006, "methods.did.log_outcomes": False, "inference.seed": 11}
    from evidence.pipeline import prepare

    expected_params = load_params(params, ["design.end=2006", "methods.did.log_outcomes=false", "inference.seed=11"])
    prepare(expected_params)  # fills an empty design.start / end from the data, as open_run does
    expected = expected_params.values
    cells = []
    def read(name: str):  # noqa: ANN202 - nbformat node, with the metadata papermill's execute would add first
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        nb.metadata["papermill"] = {}
        return nb

    for nb_name in NOTEBOOK_ORDER:
        nb = parameterize_notebook(read(nb_name), given, kernel_name="python3")
        first = [c for c in nb.cells if c.cell_type == "code"][:3]  # parameters, injected parameters, open_run
        assert "injected-parameters" in first[1].metadata.get("tags", []), nb_name
        opener = first[2].source.split("\n")
        cells += first[:2] + [nbformat.v4.new_code_cell("\n".join(line for line in opener if line.startswith(("import evidence", "ctx = evidence.open_run"))))]
        cells.append(nbformat.v4.new_code_cell(f"import json; print('DUMP', {nb_name!r}, json.dumps(ctx.params.values, default=str, sort_keys=True))"))
    bad = parameterize_notebook(read("01_did"), {"params_file": str(params), "design.ennd": 2006}, kernel_name="python3")
    cells += [c for c in bad.cells if c.cell_type == "code"][:2]
    cells.append(nbformat.v4.new_code_cell('import evidence\ntry:\n    evidence.open_run(params_file, "", "01_did", namespace=globals())\nexcept evidence.ParamsError as exc:\n    print("ERROR", exc)'))
    book = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    import json

    printed = ["".join(o["text"] for o in c.get("outputs", []) if o.get("name") == "stdout") for c in book.cells]
    printed = [t for t in printed if t.startswith(("ERROR", "DUMP"))]  # the dump cells (a stream may come in pieces)
    seen = {}
    for text in printed:
        if text.startswith("ERROR"):
            seen["error"] = text
            continue
        _, name, values = text.split(" ", 2)
        seen[name] = json.loads(values)
    want = json.loads(json.dumps(expected, default=str, sort_keys=True))
    for nb_name in NOTEBOOK_ORDER:
        diff = {k: (seen[nb_name].get(k), want.get(k)) for k in set(seen[nb_name]) | set(want) if seen[nb_name].get(k) != want.get(k)}
        assert not diff, (nb_name, diff)
    assert seen["error"].strip() == "ERROR notebook parameter design.ennd: unknown key; did you mean 'design.end'?"
