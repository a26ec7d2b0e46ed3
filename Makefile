# The two commands of README.md. Both create .venv when it is missing and install the pinned environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml

.PHONY: workbook test install notebooks bench clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

## make workbook: run the default evaluation on the real NHS data and render reports/default/
workbook: $(STAMP)
	$(BIN)/evidence run $(PARAMS)

## make test: the whole test suite, including nbval on the committed notebooks
test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

## make notebooks: re-execute the committed notebooks in place (after changing them or the package)
notebooks: $(STAMP)
	$(BIN)/evidence refresh-notebooks

## make bench: timings recorded in bench/results/
bench: $(STAMP)
	$(BIN)/python bench/bench_workbook.py

clean:
	rm -rf reports
