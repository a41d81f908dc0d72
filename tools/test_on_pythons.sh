#!/bin/sh
# `make test`: the suite on the primary interpreter (the command given), then, one after the
# other, a documented core of it on every other supported Python found on the machine
# (python3.X on PATH, uv's or pyenv's 3.X), each in its own venv .venv-3.X created here with
# the dev extras. It says which Pythons it skipped, and fails if any run fails.
#
# After, not alongside: on two cores a second suite running concurrently slows the primary
# one, whose Redis lease and process-kill tests wait on real time. The other Pythons run the
# core (effects, laws, interpreters, actors, conformance, flow, streams, simulation, durable,
# testing kit, models, and the doctests in playbill/), not the Redis tests (tests/distributed:
# redis-servers and leases, seconds per test), the agents/MoA/OpenTelemetry layers, the docs
# site, snippets, examples, CLI, browser and packaging checks (they test the tools and the
# artefacts, which the primary run covers) nor the benchmarks. OTHER_PYTHONS_FULL=1 runs
# everything there too; OTHER_PYTHON_VERSIONS="3.13" picks the versions ("" none). They run
# Hypothesis's quick `dev` profile (the thorough search is the primary run's under CI);
# OTHER_PYTHONS_PROFILE=ci makes them thorough too.
set -u
VERSIONS="${OTHER_PYTHON_VERSIONS-3.12 3.13}"  # set but empty: none
LOGS=.test-logs
mkdir -p "$LOGS"
if [ "${OTHER_PYTHONS_FULL:-}" = 1 ]; then
  SUBSET="tests playbill"
else
  SUBSET="tests/effects tests/laws tests/interpreters tests/actors tests/conformance tests/flow
    tests/streams tests/simulation tests/durable tests/testing tests/models playbill"
fi

find_python() {  # the first python$1 that really runs and is $1 (a pyenv shim may refuse)
  for candidate in "python$1" \
      "$HOME"/.local/share/uv/python/cpython-"$1".*/bin/"python$1" \
      "$HOME"/.pyenv/versions/"$1".*/bin/"python$1" "/usr/bin/python$1"; do
    if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$1'.split('.'))))" \
        >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
}

run_on() {  # version python: venv, install, suite; the log in $LOGS
  venv=".venv-$1"
  {
    [ -x "$venv/bin/python" ] || "$2" -m venv "$venv" || exit 1
    if [ ! -f "$venv/.installed-dev" ] || [ pyproject.toml -nt "$venv/.installed-dev" ]; then
      "$venv/bin/python" -m pip install --quiet --upgrade pip &&
        "$venv/bin/python" -m pip install --quiet -e '.[dev]' &&
        touch "$venv/.installed-dev" || exit 1
    fi
    # shellcheck disable=SC2086
    HYPOTHESIS_PROFILE="${OTHER_PYTHONS_PROFILE:-dev}" "$venv/bin/python" -m pytest -q $SUBSET
  } >"$LOGS/python$1.log" 2>&1
}

"$@"
status=$?

for version in $VERSIONS; do
  python=$(find_python "$version")
  if [ -z "$python" ]; then
    echo "Python $version skipped: no python$version found (PATH, ~/.local/share/uv/python, ~/.pyenv/versions, /usr/bin)"
    continue
  fi
  echo "Python $version ($python): the core of the suite, in .venv-$version; log in $LOGS/python$version.log"
  if run_on "$version" "$python"; then
    echo "Python $version: $(tail -n 1 "$LOGS/python$version.log")"
  else
    echo "Python $version FAILED: the end of $LOGS/python$version.log:"
    tail -n 30 "$LOGS/python$version.log"
    status=1
  fi
done
exit $status
