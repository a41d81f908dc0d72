#!/bin/sh
# `make test`: the suite on the primary interpreter (the command given, in the foreground) and,
# concurrently, on every other supported Python found on the machine (python3.X on PATH, or
# ~/.pyenv/versions/3.X.*), each in its own venv .venv-3.X created here with the dev extras.
# It says which it skipped, and fails if any run fails.
#
# The other interpreters run a smaller set, to keep `make test` near its time on two cores:
# the unit, property, conformance and doctest suites (tests/ and playbill/), but not the
# Redis tests (tests/distributed: each starts redis-servers and waits on leases, seconds per
# test), the docs site, browser and packaging checks (they test the tools and the artefacts,
# which the primary run covers) nor the benchmarks. Set OTHER_PYTHONS_FULL=1 for everything.
set -u
VERSIONS="${OTHER_PYTHON_VERSIONS:-3.12 3.13}"
LOGS=.test-logs
mkdir -p "$LOGS"
if [ "${OTHER_PYTHONS_FULL:-}" = 1 ]; then
  SUBSET="tests playbill"
else
  SUBSET="tests playbill --ignore=tests/distributed --ignore=tests/test_docs_site.py
    --ignore=tests/test_packaging.py --ignore=tests/test_browser.py"
fi

find_python() {  # the first python$1 that really is $1
  for candidate in "python$1" "$HOME"/.pyenv/versions/"$1".*/bin/"python$1"; do
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
    exec "$venv/bin/python" -m pytest -q $SUBSET
  } >"$LOGS/python$1.log" 2>&1
}

started=""
for version in $VERSIONS; do
  python=$(find_python "$version")
  if [ -z "$python" ]; then
    echo "python$version not found (PATH or ~/.pyenv/versions): the suite is not run on Python $version"
    continue
  fi
  echo "Python $version ($python): the suite runs concurrently, in .venv-$version; log in $LOGS/python$version.log"
  run_on "$version" "$python" &
  started="$started $version:$!"
done

"$@"
status=$?

for entry in $started; do
  version=${entry%%:*}
  if wait "${entry#*:}"; then
    echo "Python $version: $(tail -n 1 "$LOGS/python$version.log")"
  else
    echo "Python $version FAILED: the end of $LOGS/python$version.log:"
    tail -n 30 "$LOGS/python$version.log"
    status=1
  fi
done
exit $status
