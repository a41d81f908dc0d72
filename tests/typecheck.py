"""``mypy --strict`` on a snippet, as a user's own type check sees playbill.

In a subprocess, not through ``mypy.api`` in the suite's process: an in-process run leaves
its half a million objects alive for the rest of the suite (so every later garbage collection
walks them: the tests after it ran up to four times slower) and raises the recursion limit
that the stack-safety tests check is the default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy_strict(source: Path) -> str:
    """mypy's report on ``source`` under ``--strict`` (its notes, errors and revealed types)."""
    options = ["--strict", "--no-incremental", "--cache-dir=/dev/null"]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *options, str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode in (0, 1), f"mypy crashed ({done.returncode}):\n{done.stderr}"
    return done.stdout
