# The two commands of README.md. Both create .venv when it is missing and install the pinned environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml

.PHONY: workbook test install notebooks docs bench clean chromium java records-example lab

$(STAMP): pyproject.toml requirements.lock setup.py src/evidence/synth/_fw_c.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

## make workbook: run the default evaluation on the real NHS data and render reports/default/
workbook: $(STAMP)
	$(BIN)/evidence run $(PARAMS)

## make test: the whole test suite, including nbval on the committed notebooks and the browser test
test: $(STAMP) chromium java
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

# System packages for the browser test (Chromium) and the Spark tests (Java 17+), from Debian. An install that fails
# is tried again after refreshing the package lists (a fresh machine has stale or no lists). Outside CI a missing
# package skips its tests with a printed line; under CI (CI=true) it fails the run: those tests must never skip there.
APT_INSTALL = apt-get install -y -qq $(1) >/dev/null 2>&1 || sudo apt-get install -y -qq $(1) >/dev/null 2>&1 || \
	((apt-get update -qq >/dev/null 2>&1 || sudo apt-get update -qq >/dev/null 2>&1) && \
	 (apt-get install -y -qq $(1) >/dev/null 2>&1 || sudo apt-get install -y -qq $(1) >/dev/null 2>&1))

# headless Chromium for the browser test (Debian's package; Playwright drives it, no browser download)
chromium:
	@command -v chromium >/dev/null 2>&1 || ($(call APT_INSTALL,chromium)) || \
	 (if [ "$$CI" = "true" ]; then echo "error: chromium could not be installed and CI=true: the browser test must run in CI" >&2; exit 1; \
	  else echo "chromium could not be installed: the browser test will be skipped"; fi)

# Java 17+ for the Spark engine tests (Debian's headless JRE; pyspark itself comes from requirements.lock)
java:
	@command -v java >/dev/null 2>&1 || ($(call APT_INSTALL,default-jre-headless)) || \
	 (if [ "$$CI" = "true" ]; then echo "error: Java could not be installed and CI=true: the Spark tests must run in CI" >&2; exit 1; \
	  else echo "Java could not be installed: the Spark engine tests will be skipped"; fi)

## make records-example: SYNTHETIC record-level spells (2 million, kept in data/synthetic/) -> the whole workbook on them
records-example: $(STAMP)
	$(BIN)/evidence generate-records data/synthetic/spells --n-records 2000000
	$(BIN)/evidence run params/records_synthetic.yaml

## make lab: JupyterLab on lab/ (a working copy of the notebooks, made once) with the project's kernel registered
LAB_PORT ?= 8888
lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name evidence --display-name "Python (evidence)" >/dev/null
	$(BIN)/python -m evidence.notebooks lab/
	$(BIN)/jupyter lab --no-browser --port $(LAB_PORT) --notebook-dir=. $$([ "$$(id -u)" = 0 ] && echo --allow-root) lab/

## make notebooks: re-execute the committed notebooks in place (after changing them or the package)
notebooks: $(STAMP)
	$(BIN)/evidence refresh-notebooks

## make docs: regenerate the generated documentation (README parameter table, record data dictionary, bad-input catalogue)
docs: $(STAMP)
	$(BIN)/python -c "from evidence.params import update_readme; update_readme()"
	$(BIN)/python -c "from evidence.records.schema import update_docs; update_docs()"
	$(BIN)/python tests/test_bad_inputs_e2e.py > docs/bad_inputs.md

## make bench: timings recorded in bench/results/
bench: $(STAMP)
	$(BIN)/python bench/bench_workbook.py

clean:
	rm -rf reports
