"""Mixture-of-Agents side by side with the peer library everything-is-an-actor, in one run.

    python benchmarks/moa_side_by_side.py [--quick] [--uvloop] [--repeats N]

The tree: 3 layers of 5 proposers and an aggregator, every agent instant (a plain function:
what is measured is the framework). Ours runs it through `MoASystem.run`, a live stream of
every task event nested per layer and proposer; the peer (0.1.6 has no MoA of its own) runs
the same tree the way its agent layer offers, a root agent whose ``execute`` fans each layer
out with ``context.sequence`` and asks the aggregator, through its ``AgentSystem.run`` event
stream. The peer spawns one ephemeral actor per proposer, aggregator and run; ours, which
nobody else watches, runs the instant agents and the layers in place (the same task events,
no actor each: see docs/moa.md) and spawns the run's root alone. Each figure is the
best of ``--repeats`` runs, the two libraries interleaved (ours, the peer's, ours, ...).

Also printed: our framework overhead per layer (the target is <= 1 ms), the same tree with
plain function steps (no actor per proposer), and the simulator's throughput on the tree.
The peer needs Python >= 3.12 (`make bench-peer` builds its venv); without it its column
says "n/a".
"""

from __future__ import annotations

import gc
import platform
import time
from typing import Any

from _shared import command_line, peer_version, perform

from playbill import simulate
from playbill.agents import AgentActor
from playbill.flow import Flow, step
from playbill.moa import LayerInput, MoASystem, Proposals, moa_layer, moa_tree

try:  # the peer, for side-by-side runs only
    from actor_for_agents import agents as peer_agents
except ImportError:  # pragma: no cover - depends on the venv
    peer_agents = None

LAYERS, PROPOSERS = 3, 5

# -- playbill -----------------------------------------------------------------------------


class Proposer(AgentActor[Any, Any]):
    """An instant proposer: its input's value."""

    def execute(self, given: LayerInput[Any]) -> Any:
        return given.value


class Aggregator(AgentActor[Any, Any]):
    """An instant aggregator: the first proposal."""

    def execute(self, proposals: Proposals[Any]) -> Any:
        return proposals.outputs[0]


def agent_tree() -> Flow[Any, Any]:
    return moa_tree(
        [
            moa_layer([Proposer] * PROPOSERS, Aggregator, min_success=PROPOSERS)
            for _ in range(LAYERS)
        ]
    )


def propose(given: LayerInput[Any]) -> Any:
    return given.value


def aggregate(proposals: Proposals[Any]) -> Any:
    return proposals.outputs[0]


def step_tree() -> Flow[Any, Any]:
    return moa_tree(
        [
            moa_layer([step(propose)] * PROPOSERS, step(aggregate), min_success=PROPOSERS)
            for _ in range(LAYERS)
        ]
    )


async def playbill_runs(tree: Flow[Any, Any], runs: int) -> tuple[float, int]:
    """``runs`` MoASystem runs, each stream read to its end: the time and events per run."""
    async with MoASystem() as moa:
        events = sum([1 async for _ in moa.run(tree, "warm-up")])
        start = time.perf_counter()
        for index in range(runs):
            async for _ in moa.run(tree, index):
                pass
        return time.perf_counter() - start, events


def simulated_runs(tree: Flow[Any, Any], runs: int) -> float:
    start = time.perf_counter()
    for index in range(runs):
        result = simulate(tree.to_program(index))
        assert result.value == index, result
    return time.perf_counter() - start


# -- the peer -----------------------------------------------------------------------------

if peer_agents is not None:

    class PeerProposer(peer_agents.AgentActor[Any, Any]):
        async def execute(self, input: Any) -> Any:
            return input[0]

    class PeerAggregator(peer_agents.AgentActor[Any, Any]):
        async def execute(self, input: Any) -> Any:
            return input[1][0]

    class PeerMoA(peer_agents.AgentActor[Any, Any]):
        """The tree in the peer's terms: each layer's proposers through context.sequence
        (concurrently, order kept, all needed), then the aggregator on their outputs."""

        async def execute(self, input: Any) -> Any:
            task = peer_agents.Task  # type: ignore[union-attr]
            value, directive = input, None
            for _ in range(LAYERS):
                results = await self.context.sequence(
                    [(PeerProposer, task(input=(value, directive))) for _ in range(PROPOSERS)]
                )
                outputs = [result.output for result in results]
                answer = await self.context.ask(PeerAggregator, task(input=(value, outputs)))
                value = answer.output
            return value


async def peer_runs(runs: int) -> tuple[float, int]:
    system = peer_agents.AgentSystem("bench")  # type: ignore[union-attr]
    events = sum([1 async for _ in system.run(PeerMoA, "warm-up")])
    start = time.perf_counter()
    for index in range(runs):
        async for _ in system.run(PeerMoA, index):
            pass
    elapsed = time.perf_counter() - start
    await system.shutdown()
    return elapsed, events


# -- the table ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the table; return our figures by name."""
    options, loop_name = command_line(__doc__, argv, repeats=5, quick="fewer runs, one repeat")
    runs = 20 if options.quick else 200
    repeats = 1 if options.quick else options.repeats
    have_peer = peer_agents is not None
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {loop_name}; peer "
        f"everything-is-an-actor {peer_version() if have_peer else 'not installed'}; "
        f"{LAYERS} layers x {PROPOSERS} proposers, {runs} runs, best of {repeats}, interleaved"
    )
    agents, steps = agent_tree(), step_tree()
    ours: list[tuple[float, int]] = []
    theirs: list[tuple[float, int]] = []
    plain: list[tuple[float, int]] = []
    simulated: list[float] = []
    for _ in range(repeats):
        gc.collect()
        ours.append(perform(lambda: playbill_runs(agents, runs)))
        if have_peer:
            gc.collect()
            theirs.append(perform(lambda: peer_runs(runs)))
        gc.collect()
        plain.append(perform(lambda: playbill_runs(steps, runs)))
        gc.collect()
        simulated.append(simulated_runs(agents, runs))
    best, events = min(ours)
    figures = {
        "MoASystem runs/s": runs / best,
        "overhead per layer (ms)": best / runs / LAYERS * 1e3,
        "MoASystem runs/s, step proposers": runs / min(plain)[0],
        "overhead per layer, step proposers (ms)": min(plain)[0] / runs / LAYERS * 1e3,
        "simulator runs/s": runs / min(simulated),
    }
    rows = [
        ("MoA runs, agent proposers", f"{runs / best:,.0f} runs/s", f"{events} events/run"),
        (
            "  per layer (target <= 1 ms)",
            f"{best / runs / LAYERS * 1e3:.3f} ms",
            "no actor each, while unwatched",
        ),
    ]
    if theirs:
        peer_best, peer_events = min(theirs)
        figures["peer runs/s"] = runs / peer_best
        rows += [
            ("peer MoA runs", f"{runs / peer_best:,.0f} runs/s", f"{peer_events} events/run"),
            ("  per layer", f"{peer_best / runs / LAYERS * 1e3:.3f} ms", ""),
            ("  ours / peer throughput", f"{peer_best / best:.2f}x", ""),
        ]
    rows += [
        (
            "MoA runs, step proposers",
            f"{runs / min(plain)[0]:,.0f} runs/s",
            f"{min(plain)[1]} events/run",
        ),
        (
            "  per layer",
            f"{figures['overhead per layer, step proposers (ms)']:.3f} ms",
            "no actor per proposer",
        ),
        ("simulator, agent proposers", f"{runs / min(simulated):,.0f} runs/s", "virtual time"),
    ]
    width = max(len(row[0]) for row in rows)
    for name, figure, note in rows:
        print(f"  {name:<{width}}  {figure:>16}  {note}")
    return figures


if __name__ == "__main__":
    main()
