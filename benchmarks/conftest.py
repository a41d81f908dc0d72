"""Fixtures shared by the benchmark tests."""

import contextlib
import io

import actors_side_by_side
import pytest


@pytest.fixture(scope="session")
def actors_quick_table() -> str:
    """What ``actors_side_by_side.py --quick`` prints, run once for every test that reads it
    (the router's and the toolkit's ratios are lines of the same table)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        actors_side_by_side.main(["--quick"])
    return printed.getvalue()
