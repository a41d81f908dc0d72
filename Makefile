# The two set-up commands for a fresh machine are `make demo` and `make test`; each builds
# .venv itself. `make bench` runs the benchmarks, `make lint` the linters and type check.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `ci` (thorough) when CI is set, `dev` (quick) otherwise; override with HYPOTHESIS_PROFILE=...
HYPOTHESIS_PROFILE ?= $(if $(CI),ci,dev)
export HYPOTHESIS_PROFILE

.PHONY: demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[testing]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/python examples/demo.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict playbill

test: lint
	$(BIN)/python -m pytest --benchmark-disable

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest benchmarks --benchmark-only -q
	$(BIN)/python benchmarks/side_by_side.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis .pytest_cache
