"""Per-bind cost of playbill's interpreter loop beside a minimal trampoline, in one run.

    python benchmarks/side_by_side.py [--binds N] [--repeats R]

Prints µs per bind (best of R runs of N binds) and the ratio playbill / minimal.
Targets from the design: at most 1 µs per bind, at most 2x the minimal trampoline.
"""

from __future__ import annotations

import argparse
import platform
import sys

from scenarios import SCENARIOS, best_time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binds", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    n = options.binds
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {n:,} binds, best of "
        f"{options.repeats}"
    )
    header = f"{'scenario':<20} {'playbill µs':>12} {'minimal µs':>11} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for name, (ours, floor) in SCENARIOS.items():
        mine = best_time(ours(n), options.repeats) / n * 1e6
        least = best_time(floor(n), options.repeats) / n * 1e6
        ratio = mine / least
        verdict = "ok" if mine <= 1.0 and ratio <= 2.0 else "MISSED (<= 1 µs, <= 2x)"
        print(f"{name:<20} {mine:>12.3f} {least:>11.3f} {ratio:>6.2f}x  {verdict}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
