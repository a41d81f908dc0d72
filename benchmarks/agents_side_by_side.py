"""The agent layer side by side with the peer library everything-is-an-actor, in one run,
printed as ratios.

    python benchmarks/agents_side_by_side.py [--quick] [--uvloop] [--repeats N]

The peer (import name ``actor_for_agents``) needs Python >= 3.12; `make bench` builds a
separate venv for it. Without it installed, its columns say "n/a". Each scenario is measured
best of ``--repeats`` runs, the two libraries interleaved (ours, the peer's, ours, ...) so a
noisy machine slows both alike. Ratios are ours relative to the peer's: throughput ratios
above 1 and time ratios below 1 are better; the issue's targets are >= 2x and <= 0.5x.
"""

from __future__ import annotations

import gc
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from _shared import command_line, peer_version, perform

from playbill import (
    Actor,
    ActorSystem,
    Program,
    free_ask,
    free_spawn,
    now,
    program,
    pure,
    simulate,
)
from playbill.agents import AgentActor, AgentSystem, StreamResult, Task, traverse_agents

try:  # the peer, for side-by-side runs only
    import actor_for_agents as peer
    from actor_for_agents import agents as peer_agents
except ImportError:  # pragma: no cover - depends on the venv
    peer = None
    peer_agents = None


# -- playbill -----------------------------------------------------------------------------


class Echo(AgentActor[Any, Any]):
    """A Program agent: its output is its input."""

    def execute(self, input: Any) -> Program[Any]:
        return pure(input)


class GeneratorEcho(AgentActor[Any, Any]):
    """An ``@program`` generator agent, as users write one: it reads the clock, then its
    output is its input (a fiber of its own under the simulator)."""

    @program
    def execute(self, input: Any) -> Any:
        yield now()
        return input


class PlainEcho(AgentActor[Any, Any]):
    """A plain-function agent: its output is its input."""

    def execute(self, input: Any) -> Any:
        return input


class FanOut(AgentActor[int, Any]):
    """Asks ``input`` ephemeral `Echo` agents at once (`traverse_agents`)."""

    def execute(self, input: int) -> Program[Any]:
        return traverse_agents(Echo, range(input))


class Streamer(AgentActor[int, int]):
    """Streams ``input`` chunks as effects."""

    @program
    def execute(self, input: int) -> Any:
        for index in range(input):
            yield self.chunk(index)
        return input


async def playbill_ask(n: int, agent: type[AgentActor[Any, Any]] = Echo) -> list[float]:
    async with AgentSystem("bench") as system:
        ref = system.spawn(agent, "echo")
        await ref.ask(Task(0))
        latencies = []
        clock = time.perf_counter
        for i in range(n):
            start = clock()
            await ref.ask(Task(i))
            latencies.append(clock() - start)
        return latencies


class PlainActor(Actor):
    """No agent layer at all: the floor an agent's ask stands on."""

    def receive(self, message: Any) -> Any:
        return message


class ProgramActor(Actor):
    """No agent layer, but an ``@program`` receive (as `GeneratorEcho`'s execute): what
    stepping a generator program costs a message under the simulator."""

    @program
    def receive(self, message: Any) -> Any:
        yield now()
        return message


async def actor_ask(n: int) -> list[float]:
    async with ActorSystem("bench") as system:
        ref = system.spawn(PlainActor, "echo")
        await ref.ask(0)
        latencies = []
        clock = time.perf_counter
        for i in range(n):
            start = clock()
            await ref.ask(i)
            latencies.append(clock() - start)
        return latencies


async def playbill_plain_ask(n: int) -> list[float]:
    return await playbill_ask(n, PlainEcho)


async def playbill_fanout(width: int, rounds: int) -> float:
    async with AgentSystem("bench") as system:
        ref = system.spawn(FanOut, "lead")
        await ref.ask(Task(width))
        start = time.perf_counter()
        for _ in range(rounds):
            result = await ref.ask(Task(width))
        elapsed = time.perf_counter() - start
        assert len(result.output) == width
        return elapsed


async def playbill_stream(chunks: int, rounds: int) -> float:
    async with AgentSystem("bench") as system:
        ref = system.spawn(Streamer, "writer")
        start = time.perf_counter()
        for _ in range(rounds):
            items = [item async for item in system.ask_stream(ref, Task(chunks))]
            last = items[-1]
            assert type(last) is StreamResult
            assert last.result.output == chunks
            assert len(items) == chunks + 3  # started, the chunks, completed, the result
        return time.perf_counter() - start


async def playbill_run(n: int) -> list[float]:
    async with AgentSystem("bench") as system:
        latencies = []
        clock = time.perf_counter
        for i in range(n + 1):
            start = clock()
            async for _ in system.run(Echo, i):
                pass
            latencies.append(clock() - start)
        return latencies[1:]  # the first run warms the agent class's caches


def simulated_tasks(n: int, agent: type[AgentActor[Any, Any]] = Echo) -> float:
    @program
    def asks() -> Any:
        ref = yield free_spawn(agent, name="echo")
        for i in range(n):
            yield free_ask(ref, Task(i))
        return n

    start = time.perf_counter()
    result = simulate(asks(), max_steps=10**8, trace=False)
    elapsed = time.perf_counter() - start
    assert result.value == n, result.error
    return elapsed


def simulated_actor_asks(n: int, actor: type[Actor] = PlainActor) -> float:
    @program
    def asks() -> Any:
        ref = yield free_spawn(actor, name="echo")
        for i in range(n):
            yield free_ask(ref, i)
        return n

    start = time.perf_counter()
    result = simulate(asks(), max_steps=10**8, trace=False)
    elapsed = time.perf_counter() - start
    assert result.value == n, result.error
    return elapsed


def simulated_fanout(width: int, rounds: int) -> float:
    @program
    def fan() -> Any:
        ref = yield free_spawn(FanOut, name="lead")
        for _ in range(rounds):
            yield free_ask(ref, Task(width))
        return rounds

    start = time.perf_counter()
    result = simulate(fan(), max_steps=10**8, trace=False)
    elapsed = time.perf_counter() - start
    assert result.value == rounds, result.error
    return elapsed


# -- the peer -----------------------------------------------------------------------------

if peer_agents is not None:

    class PeerEcho(peer_agents.AgentActor[Any, Any]):
        async def execute(self, input: Any) -> Any:
            return input

    class PeerFanOut(peer_agents.AgentActor[int, Any]):
        async def execute(self, input: int) -> Any:
            return await self.context.traverse(list(range(input)), PeerEcho)

    class PeerStreamer(peer_agents.AgentActor[int, int]):
        async def execute(self, input: int) -> Any:  # type: ignore[override]
            for index in range(input):
                yield index


async def peer_ask(n: int) -> list[float]:
    system = peer_agents.AgentSystem("bench")  # type: ignore[union-attr]
    ref = await system.spawn(PeerEcho, "echo")
    task = peer_agents.Task  # type: ignore[union-attr]
    await ref.ask(task(input=0))
    latencies = []
    clock = time.perf_counter
    for i in range(n):
        start = clock()
        await ref.ask(task(input=i))
        latencies.append(clock() - start)
    await system.shutdown()
    return latencies


async def peer_fanout(width: int, rounds: int) -> float:
    system = peer_agents.AgentSystem("bench")  # type: ignore[union-attr]
    ref = await system.spawn(PeerFanOut, "lead")
    task = peer_agents.Task  # type: ignore[union-attr]
    await ref.ask(task(input=width))
    start = time.perf_counter()
    for _ in range(rounds):
        result = await ref.ask(task(input=width))
    elapsed = time.perf_counter() - start
    assert len(result.output) == width
    await system.shutdown()
    return elapsed


async def peer_stream(chunks: int, rounds: int) -> float:
    system = peer_agents.AgentSystem("bench")  # type: ignore[union-attr]
    ref = await system.spawn(PeerStreamer, "writer")
    task = peer_agents.Task  # type: ignore[union-attr]
    start = time.perf_counter()
    for _ in range(rounds):
        items = [item async for item in ref.ask_stream(task(input=chunks))]
        assert len(items) == chunks + 3, len(items)
    elapsed = time.perf_counter() - start
    await system.shutdown()
    return elapsed


async def peer_run(n: int) -> list[float]:
    system = peer_agents.AgentSystem("bench")  # type: ignore[union-attr]
    latencies = []
    clock = time.perf_counter
    for i in range(n + 1):
        start = clock()
        async for _ in system.run(PeerEcho, i):
            pass
        latencies.append(clock() - start)
    await system.shutdown()
    return latencies[1:]


# -- the table ----------------------------------------------------------------------------


def measure(
    ours: Callable[[], Any], theirs: Callable[[], Any] | None, repeats: int
) -> tuple[list[Any], list[Any]]:
    """Every run of each side, the two interleaved so that noise falls on both alike."""
    mine: list[Any] = []
    peers: list[Any] = []
    for _ in range(repeats):
        gc.collect()
        mine.append(perform(ours))
        if theirs is not None:
            gc.collect()
            peers.append(perform(theirs))
    return mine, peers


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the table; return our figures by name (a test checks the script runs)."""
    options, loop_name = command_line(__doc__, argv, repeats=5, quick="smaller counts, one repeat")
    scale = 10 if options.quick else 1
    repeats = 1 if options.quick else options.repeats
    asks, width, fan_rounds = 20_000 // scale, 50, 200 // scale
    chunks, stream_rounds, runs, simulated = 1_000, 20 // scale, 2_000 // scale, 20_000 // scale
    have_peer = peer_agents is not None
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {loop_name}; peer "
        f"everything-is-an-actor {peer_version() if have_peer else 'not installed'}; "
        f"best of {repeats}, interleaved"
    )
    rows: list[tuple[str, str, str, str, str]] = []
    figures: dict[str, float] = {}

    def throughput(name: str, unit: str, count: int, ours: float, theirs: float | None) -> None:
        mine = count / ours
        figures[name] = mine
        rows.append(
            (
                name,
                f"{mine / 1e3:,.1f}K {unit}/s",
                f"{count / theirs / 1e3:,.1f}K {unit}/s" if theirs else "n/a",
                f"{theirs / ours:.2f}x" if theirs else "n/a",
                "target >= 2x",
            )
        )

    def latency(name: str, ours: float, theirs: float | None) -> None:
        figures[name] = ours
        rows.append(
            (
                name,
                f"{ours * 1e6:.1f} µs",
                f"{theirs * 1e6:.1f} µs" if theirs else "n/a",
                f"{ours / theirs:.2f}x time" if theirs else "n/a",
                "target <= 0.5x",
            )
        )

    # sequential asks of a long-lived agent: throughput from the best total, p50 from the
    # best run's latencies
    ours_a, peer_a = measure(
        lambda: playbill_ask(asks), (lambda: peer_ask(asks)) if have_peer else None, repeats
    )
    ours_plain, _ = measure(lambda: playbill_plain_ask(asks), None, repeats)
    floor_a, _ = measure(lambda: actor_ask(asks), None, repeats)
    best_a = min(ours_a, key=sum)
    best_plain = min(ours_plain, key=sum)
    best_peer_a = min(peer_a, key=sum) if peer_a else None
    throughput(
        "AgentActor ask, Program execute",
        "asks",
        asks,
        sum(best_a),
        sum(best_peer_a) if best_peer_a else None,
    )
    throughput(
        "AgentActor ask, plain execute",
        "asks",
        asks,
        sum(best_plain),
        sum(best_peer_a) if best_peer_a else None,
    )
    latency(
        "AgentActor ask p50",
        min(median(run) for run in ours_a),
        min(median(run) for run in peer_a) if peer_a else None,
    )
    best_floor = min(floor_a, key=sum)
    figures["Actor ask (floor)"] = asks / sum(best_floor)
    rows.append(
        (
            "  floor: playbill Actor ask, no agents",
            f"{asks / sum(best_floor) / 1e3:,.1f}K asks/s, p50 "
            f"{min(median(run) for run in floor_a) * 1e6:.1f} µs",
            "",
            f"{sum(best_peer_a) / sum(best_floor):.2f}x" if best_peer_a else "n/a",
            "(what an agent's ask stands on)",
        )
    )

    ours_f, peer_f = measure(
        lambda: playbill_fanout(width, fan_rounds),
        (lambda: peer_fanout(width, fan_rounds)) if have_peer else None,
        repeats,
    )
    throughput(
        f"fan-out of {width} (traverse)",
        "child tasks",
        width * fan_rounds,
        min(ours_f),
        min(peer_f) if peer_f else None,
    )

    ours_s, peer_s = measure(
        lambda: playbill_stream(chunks, stream_rounds),
        (lambda: peer_stream(chunks, stream_rounds)) if have_peer else None,
        repeats,
    )
    throughput(
        f"ask_stream of {chunks:,} chunks",
        "chunks",
        chunks * stream_rounds,
        min(ours_s),
        min(peer_s) if peer_s else None,
    )

    ours_r, peer_r = measure(
        lambda: playbill_run(runs), (lambda: peer_run(runs)) if have_peer else None, repeats
    )
    latency(
        "AgentSystem.run() p50",
        min(median(run) for run in ours_r),
        min(median(run) for run in peer_r) if peer_r else None,
    )

    sim, _ = measure(lambda: simulated_tasks(simulated), None, repeats)
    sim_generator, _ = measure(lambda: simulated_tasks(simulated, GeneratorEcho), None, repeats)
    sim_floor, _ = measure(lambda: simulated_actor_asks(simulated), None, repeats)
    sim_program_floor, _ = measure(
        lambda: simulated_actor_asks(simulated, ProgramActor), None, repeats
    )
    sim_fan, _ = measure(lambda: simulated_fanout(width, fan_rounds), None, repeats)
    tasks_per_second = simulated / min(sim)
    figures["simulator tasks"] = tasks_per_second
    figures["simulator fan-out"] = width * fan_rounds / min(sim_fan)
    rows.append(
        (
            "simulator: Program agent tasks",
            f"{tasks_per_second / 1e3:,.1f}K tasks/s",
            "(no simulator)",
            "",
            "target >= 50K/s",
        )
    )
    figures["simulator generator tasks"] = simulated / min(sim_generator)
    rows.append(
        (
            "simulator: @program generator agent tasks",
            f"{figures['simulator generator tasks'] / 1e3:,.1f}K tasks/s",
            "(no simulator)",
            "",
            "(yield now(); return input: a fiber a task)",
        )
    )
    rows.append(
        (
            "  floor: simulator, plain Actor asks",
            f"{simulated / min(sim_floor) / 1e3:,.1f}K asks/s",
            "",
            "",
            "(what an agent's task stands on)",
        )
    )
    rows.append(
        (
            "  floor: simulator, @program Actor asks",
            f"{simulated / min(sim_program_floor) / 1e3:,.1f}K asks/s",
            "",
            "",
            "(yield now(); return message: no agent layer)",
        )
    )
    rows.append(
        (
            f"simulator: fan-out of {width}",
            f"{figures['simulator fan-out'] / 1e3:,.1f}K child tasks/s",
            "(no simulator)",
            "",
            "",
        )
    )

    header = ("scenario", "playbill", "peer", "ours vs peer", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(size) for cell, size in zip(line, widths, strict=True)))
    sys.stdout.flush()
    return figures


if __name__ == "__main__":
    main()
