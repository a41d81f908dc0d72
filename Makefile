# The two set-up commands for a fresh machine are `make demo` and `make test`; each builds
# .venv itself. `make bench` runs the benchmarks, `make lint` the linters and type check.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `ci` (thorough) when CI is set, `dev` (quick) otherwise; override with HYPOTHESIS_PROFILE=...
HYPOTHESIS_PROFILE ?= $(if $(CI),ci,dev)
export HYPOTHESIS_PROFILE

.PHONY: demo test test-pythons lint docs mermaid redis-server chromium format bench bench-peer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[testing,cli,models,redis]'
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

# The whole suite on this venv's Python, then a documented core of it on every other supported
# Python found (3.12, 3.13: PATH, uv's or pyenv's), each in its own .venv-3.X; it says which
# Pythons it skipped. See tools/test_on_pythons.sh for which tests and why.
# OTHER_PYTHON_VERSIONS="" runs the primary Python alone.
test: lint mermaid redis-server chromium
	tools/test_on_pythons.sh $(BIN)/python -m pytest --benchmark-disable

# (its former name: the same as `make test`)
test-pythons: test

# The documentation site, built strictly (a broken link, a missing reference or a page left out
# of mkdocs.yml's nav fails it); the suite builds it too (tests/test_docs_site.py).
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site
	@echo "the site is in $(CURDIR)/site: open $(CURDIR)/site/index.html, or serve it with $(BIN)/mkdocs serve"

# A Debian package the tests need, installed when missing and this runs as root; otherwise
# only the tests that need it are skipped, each saying how to install it.
# $(1): the command, $(2): the package, $(3): what it is for, $(4): apt-get options, $(5): a
# command to run after installing it.
define debian_package
	@command -v $(1) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's $(2) for $(3)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $(4) $(2) >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(4) $(2) >/dev/null 2>&1; } || \
	      echo "could not install $(2): $(3) will be skipped (apt-get install $(2))"; \
	    $(5) \
	  else \
	    echo "$(1) not found: $(3) will be skipped (as root: apt-get install $(2))"; \
	  fi; }
endef

# The Redis tests start their own redis-server (127.0.0.1, a random port, a temporary
# directory); the service the package starts on install is stopped again.
redis-server:
	$(call debian_package,redis-server,redis-server,the Redis tests,,/etc/init.d/redis-server stop >/dev/null 2>&1 || true;)

# The site is loaded in headless Chromium (tests/test_browser.py).
chromium:
	$(call debian_package,chromium,chromium,the browser check of the site,--no-install-recommends)

# Mermaid's own parser checks the flow drawings in the suite (skipped, saying why, without npm)
mermaid: tools/mermaid/node_modules/.installed
tools/mermaid/node_modules/.installed: tools/mermaid/package.json
	-command -v npm >/dev/null && cd tools/mermaid && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The peer library everything-is-an-actor needs Python >= 3.12: the side-by-side with it runs
# in its own venv, with playbill installed there too, so that all are measured in one process.
PYTHON312 ?= $(shell for candidate in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) /usr/bin/python3.12; do $$candidate --version >/dev/null 2>&1 && { echo $$candidate; break; }; done)
BENCH_VENV := .venv-bench

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest benchmarks --benchmark-only -q
	$(BIN)/python benchmarks/side_by_side.py
	$(BIN)/python benchmarks/actors_side_by_side.py
	$(BIN)/python benchmarks/simulation_side_by_side.py
	$(BIN)/python benchmarks/flow_side_by_side.py
	$(BIN)/python benchmarks/agents_side_by_side.py
	$(BIN)/python benchmarks/moa_side_by_side.py
	$(BIN)/python benchmarks/streams_side_by_side.py
	@$(MAKE) --no-print-directory bench-peer

bench-peer:
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "python3.12 not found: the peer everything-is-an-actor needs Python >= 3.12, so the side-by-side with it is skipped; install python3.12 to run it"; \
	else \
	  [ -x $(BENCH_VENV)/bin/python ] || $(PYTHON312) -m venv $(BENCH_VENV); \
	  $(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench,uvloop]' && \
	  echo "== side by side on $$($(BENCH_VENV)/bin/python --version), asyncio ==" && \
	  $(BENCH_VENV)/bin/python benchmarks/actors_side_by_side.py && \
	  echo "== side by side on $$($(BENCH_VENV)/bin/python --version), uvloop ==" && \
	  $(BENCH_VENV)/bin/python benchmarks/actors_side_by_side.py --uvloop && \
	  echo "== agents side by side on $$($(BENCH_VENV)/bin/python --version), asyncio ==" && \
	  $(BENCH_VENV)/bin/python benchmarks/agents_side_by_side.py && \
	  echo "== agents side by side on $$($(BENCH_VENV)/bin/python --version), uvloop ==" && \
	  $(BENCH_VENV)/bin/python benchmarks/agents_side_by_side.py --uvloop && \
	  echo "== MoA side by side on $$($(BENCH_VENV)/bin/python --version), asyncio ==" && \
	  $(BENCH_VENV)/bin/python benchmarks/moa_side_by_side.py; \
	fi

clean:
	rm -rf $(VENV) .venv-3.* .test-logs $(BENCH_VENV) site .mypy_cache .ruff_cache .hypothesis .pytest_cache tools/mermaid/node_modules
