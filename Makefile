# The two commands of README.md. Both create .venv when it is missing and install the pinned environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml

.PHONY: workbook test install notebooks docs bench clean chromium java records-example

$(STAMP): pyproject.toml requirements.lock
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

# headless Chromium for the browser test (Debian's package; Playwright drives it, no browser download)
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get install -y -qq chromium >/dev/null 2>&1 || sudo apt-get install -y -qq chromium >/dev/null 2>&1) || echo "chromium could not be installed: the browser test will be skipped"

# Java 17+ for the Spark engine tests (Debian's headless JRE; pyspark itself comes from requirements.lock)
java:
	@command -v java >/dev/null 2>&1 || (apt-get install -y -qq default-jre-headless >/dev/null 2>&1 || sudo apt-get install -y -qq default-jre-headless >/dev/null 2>&1) || echo "Java could not be installed: the Spark engine tests will be skipped"

## make records-example: SYNTHETIC record-level spells (2 million, kept in data/synthetic/) -> the whole workbook on them
records-example: $(STAMP)
	$(BIN)/evidence generate-records data/synthetic/spells --n-records 2000000
	$(BIN)/evidence run params/records_synthetic.yaml

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
