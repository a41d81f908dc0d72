"""What journaling costs per effect: a workflow of N effects run unjournaled, journaled in
memory, and journaled on SQLite (one WAL file), on the stub — so the figure is the journal's
own cost, not an event loop's — and under asyncio, where each journal write is a `blocking`
call on the thread pool.

    python benchmarks/durable_overhead.py [--quick] [--repeats N]

A last row runs several workflows at once under asyncio, whose journal writes can share a
commit. Prints µs per effect for each, wall-clock and CPU time of the process, and the ratio to
unjournaled. No timing is asserted anywhere.
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

from attrs import frozen

from playbill import ActorSystem, Effect, perform, program
from playbill.durable import Durable, MemoryJournal, SQLiteJournal
from playbill.flow import Registry
from playbill.interpreters import run as run_on_asyncio
from playbill.interpreters import stub


@frozen
class Work(Effect[int]):
    n: int


HANDLERS: dict[type[Any], Callable[[Any], Any]] = {Work: lambda effect: effect.n + 1}


@program
def steps(count: int) -> Any:
    total = 0
    for n in range(count):
        total += yield perform(Work(n))
    return total


AT_ONCE = 8  # workflows run at once: their journal writes may share a commit


async def _at_once(durable: Durable, prefix: str, count: int) -> None:
    """``AT_ONCE`` workflows of ``count // AT_ONCE`` effects each, run at once in one system."""
    async with ActorSystem("bench", handlers=HANDLERS) as system:
        await asyncio.gather(
            *(
                system.run(durable.program("steps", f"{prefix}-{n}", count // AT_ONCE))
                for n in range(AT_ONCE)
            )
        )


def _best(repeats: int, once: Callable[[int], None]) -> tuple[float, float]:
    """The median wall time and the median CPU time of the process (all its threads: the
    thread pool's included), which the other processes of a shared machine weigh on less."""
    times = []
    cpu = []
    for repeat in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        once(repeat)
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    if len(times) < 3:
        return min(times), min(cpu)
    return statistics.median(times), statistics.median(cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer effects, for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    count = 200 if options.quick else 2000
    registry = Registry()
    registry.register(steps, name="steps")
    directory = Path(tempfile.mkdtemp())
    sqlite = Durable(SQLiteJournal(directory / "bench.db"), registry, handlers=HANDLERS)
    memory = Durable(MemoryJournal(), registry, handlers=HANDLERS)
    rows = [
        ("stub, unjournaled", _best(options.repeats, lambda r: stub.run(steps(count), HANDLERS))),
        (
            "stub, journaled in memory",
            _best(options.repeats, lambda r: memory.start("steps", f"m{r}", count)),
        ),
        (
            "stub, journaled on SQLite",
            _best(options.repeats, lambda r: sqlite.start("steps", f"s{r}", count)),
        ),
        (
            "stub, replayed from SQLite",
            _best(options.repeats, lambda r: sqlite.recover(f"s{r}")),
        ),
        (
            "asyncio, unjournaled",
            _best(options.repeats, lambda r: run_on_asyncio(steps(count), handlers=HANDLERS)),
        ),
        (
            "asyncio, journaled on SQLite",
            _best(
                options.repeats,
                lambda r: sqlite.start("steps", f"a{r}", count, interpreter="asyncio"),
            ),
        ),
        (
            f"asyncio, {AT_ONCE} at once on SQLite",
            _best(options.repeats, lambda r: asyncio.run(_at_once(sqlite, f"c{r}", count))),
        ),
    ]
    floor = {"stub": rows[0][1], "asyncio": rows[4][1]}
    print(f"{count} effects per run, {options.repeats} runs each (median)")
    print(f"{'':32} {'µs/effect':>10} {'ratio':>7} {'CPU µs/effect':>14} {'ratio':>7}")
    for label, (seconds, cpu) in rows:
        wall_floor, cpu_floor = floor[label.split(",")[0]]
        print(
            f"{label:32} {seconds / count * 1e6:10.1f} {seconds / wall_floor:7.1f} "
            f"{cpu / count * 1e6:14.1f} {cpu / cpu_floor:7.1f}"
        )


if __name__ == "__main__":
    main()
