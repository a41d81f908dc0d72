"""Stream ``map`` throughput beside a hand-written asyncio producer/consumer, in one run.

    python benchmarks/streams_side_by_side.py [--quick]

N integers go through ``+1`` and are summed. The floor is a producer task and a consumer
task around an ``asyncio.Queue(maxsize=16)``. playbill runs the same as a stream under
asyncio: fused (``source(...).map(...)``: one fiber, no queue), and with an asynchronous
boundary (``.buffer(16)``: a pump fiber and a bounded queue, as in the floor), with
``.map_async(inc_program, 16)`` (a pump and 16 worker fibers, at most 16 elements in flight)
and with ``.merge`` of two halves (a pump per input, each up to 16 elements ahead); then the fused
stream under the simulator. Elements per second (best of 3, the rows measured in turn, so a
noisy moment of a shared machine hits each of them), and each beside the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import platform
import time
from collections.abc import Callable
from typing import Any

from playbill import pure, run, simulate
from playbill.streams import source


def inc(n: int) -> int:
    return n + 1


async def producer_consumer(count: int, size: int = 16) -> int:
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=size)

    async def produce() -> None:
        for n in range(count):
            await queue.put(n)
        await queue.put(None)

    async def consume() -> int:
        total = 0
        while (element := await queue.get()) is not None:
            total += inc(element)
        return total

    producing = asyncio.create_task(produce())
    total = await consume()
    await producing
    return total


def inc_program(n: int) -> Any:
    return pure(n + 1)


def interleaved(runs: dict[str, Callable[[], Any]], repeats: int = 3) -> dict[str, float]:
    """The best time of each of ``runs``, run in turn ``repeats`` times (so that a noisy
    moment of a shared machine hits every one of them, the floor included, not one)."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, function in runs.items():
            start = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in timings.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(argv)
    count = 20_000 if options.quick else 200_000
    expected = sum(range(1, count + 1))
    fused = source(range(count)).map(inc).run_fold(0, operator.add)
    buffered = source(range(count)).buffer(16).map(inc).run_fold(0, operator.add)
    mapped = source(range(count)).map_async(inc_program, 16).run_fold(0, operator.add)
    half = count // 2
    merged = (
        source(range(half)).merge(source(range(half, count))).map(inc).run_fold(0, operator.add)
    )
    assert asyncio.run(producer_consumer(count)) == run(fused) == run(buffered) == expected
    assert run(mapped) == run(merged) == expected
    print(f"Python {platform.python_version()} on {platform.machine()}, {count:,} elements")
    timings = interleaved(
        {
            "asyncio.Queue(16) producer/consumer": lambda: asyncio.run(producer_consumer(count)),
            "stream, fused map (asyncio)": lambda: run(fused),
            "stream, buffer(16) + map (asyncio)": lambda: run(buffered),
            "stream, map_async(16) (asyncio)": lambda: run(mapped),
            "stream, merge of two + map (asyncio)": lambda: run(merged),
            "stream, fused map (simulator)": lambda: simulate(fused, max_steps=10**8),
        }
    )
    floor = timings["asyncio.Queue(16) producer/consumer"]
    print(f"  {'':40} {'elements/s':>12} {'vs the floor':>13}")
    for name, seconds in timings.items():
        rate = count / seconds
        print(f"  {name:40} {rate:12,.0f} {floor / seconds:12.2f}x")


if __name__ == "__main__":
    main()
