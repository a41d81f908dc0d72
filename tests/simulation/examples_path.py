"""Makes examples/ importable for the simulation tests."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "examples"))

from bank_race import two_deposits

__all__ = ["two_deposits"]
