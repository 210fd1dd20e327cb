# The two commands of the README: `make demo` and `make test`, from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bwsim run scenarios/haarlem/baseline.yaml --replications 30 --out results/haarlem-baseline

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) results/*/
