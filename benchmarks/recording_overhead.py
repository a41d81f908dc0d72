"""What recording a run costs under asyncio: tell and ask to one actor, in a system without
and with ``record=`` (a JSON-lines file in a temporary directory), measured in one process.

    python benchmarks/recording_overhead.py [--quick] [--repeats N]

Prints µs per message for each, and the ratio recorded / unrecorded (the target is at most
1.3x). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playbill import Actor, ActorSystem


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


async def tells(count: int, record: Path | None) -> None:
    async with ActorSystem("bench", record=record) as system:
        counter = system.spawn(Counter, name="counter")
        for _ in range(count):
            counter.tell(1)
        await counter.ask(0)  # the tells before it are handled


async def asks(count: int, record: Path | None) -> None:
    async with ActorSystem("bench", record=record) as system:
        counter = system.spawn(Counter, name="counter")
        for _ in range(count):
            await counter.ask(1)


def _best(repeats: int, once: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        once()
        times.append(time.perf_counter() - began)
    return min(times) if len(times) < 3 else statistics.median(times)


def measure(count: int, repeats: int) -> dict[str, tuple[float, float]]:
    """µs per message, unrecorded and recorded, for tell and ask."""
    figures = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run.jsonl"
        for name, case in (("tell", tells), ("ask", asks)):
            plain = _best(repeats, lambda case=case: asyncio.run(case(count, None)))
            recorded = _best(repeats, lambda case=case: asyncio.run(case(count, path)))
            figures[name] = (plain / count * 1e6, recorded / count * 1e6)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    count = 2_000 if options.quick else 50_000
    print(f"{count} messages to one actor, best/median of {options.repeats} runs")
    print(f"{'case':<6} {'unrecorded µs':>14} {'recorded µs':>12} {'ratio':>7}")
    for name, (plain, recorded) in measure(count, options.repeats).items():
        print(f"{name:<6} {plain:>14.2f} {recorded:>12.2f} {recorded / plain:>6.2f}x")


if __name__ == "__main__":
    main()
