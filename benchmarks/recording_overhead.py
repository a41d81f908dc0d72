"""What recording a run costs under asyncio: tell and ask to one actor, in a system without
and with ``record=`` (a JSON-lines file in a temporary directory), measured in one process.

    python benchmarks/recording_overhead.py [--quick] [--repeats N]

Prints µs per message (CPU time of the process) for each, and the ratio recorded / unrecorded
(the target is at most 1.3x). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
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


def _time(once: Callable[[], None]) -> float:
    # the process's CPU time: the other processes of a shared machine weigh on it less than
    # on the wall clock (the run is one thread; the file writes count, as system time)
    began = time.process_time()
    once()
    return time.process_time() - began


def measure(count: int, repeats: int) -> dict[str, tuple[float, float]]:
    """µs per message, unrecorded and recorded, for tell and ask: the two runs alternate
    (so a change in the machine's load falls on both), and the best of ``repeats`` counts."""
    figures = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run.jsonl"
        for name, case in (("tell", tells), ("ask", asks)):
            plain: list[float] = []
            recorded: list[float] = []
            for _ in range(repeats):
                plain.append(_time(lambda case=case: asyncio.run(case(count, None))))
                recorded.append(_time(lambda case=case: asyncio.run(case(count, path))))
            figures[name] = (min(plain) / count * 1e6, min(recorded) / count * 1e6)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    count = 2_000 if options.quick else 50_000
    print(f"{count} messages to one actor, best of {options.repeats} alternating runs")
    print(f"{'case':<6} {'unrecorded µs':>14} {'recorded µs':>12} {'ratio':>7}")
    for name, (plain, recorded) in measure(count, options.repeats).items():
        print(f"{name:<6} {plain:>14.2f} {recorded:>12.2f} {recorded / plain:>6.2f}x")


if __name__ == "__main__":
    main()
