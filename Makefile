# The two commands of the README: `make demo` and `make test`, from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench mutants defects docs clean

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

# Mutation testing of sim/model/ and sim/record/monitor.py (slow: about an hour and a half on 2 cores;
# not part of `make test`). Options: make mutants MUTANTS_ARGS="--sample 0" runs every mutant.
mutants: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,mutants]"
	$(BIN)/python mutation/run_mutants.py $(MUTANTS_ARGS)

# Put each defect of the "every journey whole" issue back into a copy of the code and show that
# the test written for it goes red (a minute or two; nothing in the checkout changes).
defects: $(STAMP)
	$(BIN)/python mutation/reintroduce_defects.py

# Every published number and figure made again with the README's commands (docs/remake.sh; slow,
# 15-30 minutes on 2 cores; DOCS_ARGS=--no-fit keeps the stored fit).
docs: $(STAMP)
	bash docs/remake.sh $(DOCS_ARGS)

clean:
	rm -rf $(VENV) results/*/
