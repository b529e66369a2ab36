# Developer entry points. `make install` then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint unit testbed-build clean

install: $(BIN)/lab

$(BIN)/lab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lab validate

test: install lint
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m "not testbed"

testbed-build: install
	$(BIN)/lab testbed build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
