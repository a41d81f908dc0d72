"""A compiled Flow beside the equivalent hand-written Program, in one run.

    python benchmarks/flow_side_by_side.py [--quick]

Per-node overhead: a pipeline of N plain steps as a Flow (events off, and on) against the same
functions chained with ``Program.map`` and against an ``@program`` generator, under the stub
interpreter (no runtime cost to hide behind). Then a 1,000-step pipeline under asyncio and under
the simulator.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

from playbill import Program, program, pure, run, simulate
from playbill.flow import Flow, step
from playbill.interpreters import stub


def inc(n: int) -> int:
    return n + 1


def flow_pipeline(steps: int) -> Flow[int, int]:
    pipeline: Flow[int, int] = step(inc)
    for _ in range(steps - 1):
        pipeline = pipeline >> step(inc)
    return pipeline


def mapped_pipeline(steps: int) -> Program[int]:
    chain: Program[int] = pure(0)
    for _ in range(steps):
        chain = chain.map(inc)
    return chain


def generator_pipeline(steps: int) -> Program[int]:
    @program
    def chain() -> Any:
        value = 0
        for _ in range(steps):
            value = yield pure(inc(value))
        return value

    return chain()


def best(function: Callable[[], object], repeat: int = 5) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(argv)
    steps = 2_000 if options.quick else 20_000
    print(f"Python {platform.python_version()} on {platform.machine()}")
    flow = flow_pipeline(steps)
    mapped = mapped_pipeline(steps)
    generated = generator_pipeline(steps)
    assert stub.run(flow.to_program(0, events=False)) == stub.run(mapped) == steps
    quiet = best(lambda: stub.run(flow.to_program(0, events=False)))
    loud = best(lambda: stub.execute(flow.to_program(0)))
    by_map = best(lambda: stub.run(mapped))
    by_generator = best(lambda: stub.run(generated))
    per = 1e6 / steps
    print(f"{steps:,}-step pipeline under the stub interpreter (µs per node):")
    print(f"  Program.map chain          {by_map * per:6.3f}")
    print(f"  @program generator         {by_generator * per:6.3f}")
    print(
        f"  Flow, events off           {quiet * per:6.3f}   {quiet / by_map:.2f}x the map chain, "
        f"{quiet / by_generator:.2f}x the generator (target <= 1.2x)"
    )
    print(
        f"  Flow, events on            {loud * per:6.3f}   {loud / by_map:.2f}x the map chain "
        "(three effects a node: started, the step, completed)"
    )
    thousand = flow_pipeline(1_000)
    asyncio_time = best(lambda: run(thousand.to_program(0)), repeat=3)
    simulated = best(lambda: simulate(thousand.to_program(0), max_steps=10**6), repeat=3)
    print(
        f"1,000-step pipeline, events on: asyncio {asyncio_time * 1e3:.1f} ms, simulator "
        f"{simulated * 1e3:.1f} ms ({asyncio_time / simulated:.2f}x asyncio's speed)"
    )


if __name__ == "__main__":
    main()
