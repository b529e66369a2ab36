# Developer entry points. `make install` then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Proof lanes: LANES=2 runs pytest-xdist workers sharing the one testbed (tests/api_lock.py,
# docs/writing-a-scenario.md#the-proof-budget). Serial by default: on 2 cores two lanes saved 7 % and stretched the
# timing windows of some proofs (docs/benchmarks.md#proof-lanes); machines with more cores may gain more.
LANES ?= 0
PYTEST_LANES := $(BIN)/pytest $(if $(filter-out 0,$(LANES)),-n $(LANES) --dist loadgroup)

.PHONY: install test test-variants test-mutants lint unit testbed-build clean

install: $(BIN)/lab

$(BIN)/lab: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt -e '.[dev]'
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/lab validate

# Everything but the variants and the testbed's mutants, in lanes (failing when a grader criterion was never seen
# failing or passing; the offline mutants are in); then the tests that make a new testbed, on their own.
test: install lint
	CKS_LAB_REQUIRE_CRITERIA=1 $(PYTEST_LANES) -m "not variants and not alone and not mutants"
	$(BIN)/pytest -m "alone and not variants"

# Other seeds, culprits, faults and behaviours of the scenarios: run it for every scenario you touch.
test-variants: install
	$(PYTEST_LANES) -m variants

# Mutation testing of every grader: the offline mutants, then those only the testbed can judge; prints each
# scenario's score (docs/writing-a-scenario.md#mutants).
test-mutants: install
	$(BIN)/pytest tests/test_mutants.py -rP

unit: install
	$(BIN)/pytest -m "not testbed"

testbed-build: install
	$(BIN)/lab testbed build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
