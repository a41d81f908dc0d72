"""A long simulation keeps only what can still be used: a fiber that ended and that no handle
names (a gather's or race's member, a timeout's body, a message's program) leaves the run,
and no fiber that ended keeps the actors it asked alive. Before, every member of every gather
stayed in the run until it ended, with the last actor it asked: a lead asking 50 ephemeral
agents a round kept all of them, cells, mailboxes and agents, for the rest of the run."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from playbill import Actor, fork, free_ask, free_spawn, gather, join, program, pure, simulate
from playbill.agents import AgentActor, Task, ask_agent, traverse_agents
from playbill.interpreters._fibers import _Fiber
from playbill.interpreters.simulation._envelopes import _SimCell


class Echo(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        return pure(input)


class Lead(AgentActor[int, Any]):
    def execute(self, width: int) -> Any:
        return traverse_agents(Echo, range(width))


class Census(Actor):
    """Counts the simulator's live cells and fibers, after a collection (runs in the run)."""

    def receive(self, message: Any) -> tuple[int, int]:
        gc.collect()
        objects = gc.get_objects()
        return (
            sum(1 for o in objects if type(o) is _SimCell),
            sum(1 for o in objects if type(o) is _Fiber),
        )


@program
def _rounds(census_class: type[Actor]) -> Any:
    """30 rounds of a lead asking 20 ephemeral agents; ``census_class``'s counts after the
    5th and the 30th."""
    lead = yield free_spawn(Lead, name="lead")
    census = yield free_spawn(census_class, name="census")
    counts = []
    for round_ in range(30):
        yield free_ask(lead, Task(20))
        if round_ in (4, 29):
            counts.append((yield free_ask(census, "count")))
    return counts


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
@pytest.mark.parametrize("trace", [True, False])
def test_ephemeral_agents_asked_in_rounds_do_not_pile_up(delivery: str, trace: bool) -> None:
    result = simulate(_rounds(Census), delivery=delivery, trace=trace, seed=5)
    assert result.status == "completed", result.error
    (cells_early, fibers_early), (cells_late, fibers_late) = result.value
    # 25 rounds of 20 agents apart: nothing of them is left
    assert cells_late == cells_early
    assert fibers_late == fibers_early


def test_a_fork_that_ended_is_kept_for_its_handle_without_what_it_asked() -> None:
    @program
    def main() -> Any:
        census = yield free_spawn(Census, name="census")
        # each fork asks an ephemeral agent of its own, stopped once it answers
        handles = []
        for index in range(40):
            handles.append((yield fork(ask_agent(Echo, index))))
        outputs = yield gather(*[join(handle) for handle in handles])
        count = yield free_ask(census, "count")
        return outputs, count

    result = simulate(main(), seed=1)
    outputs, (cells, fibers) = result.value
    assert outputs == tuple(range(40))  # every handle still joins to its outcome
    assert cells < 10  # the census and the guardians: no ephemeral agent kept by a fork
    assert fibers >= 40  # the forks themselves stay, for their handles


class FiberCensus(Actor):
    """Counts the simulator's fiber objects as they are, without a collection: a fiber that
    is a reference cycle stays among them until the collector runs."""

    def receive(self, message: Any) -> int:
        return sum(1 for o in gc.get_objects() if type(o) is _Fiber)


def test_an_ended_fiber_is_freed_without_the_collector() -> None:
    gc.collect()
    gc.disable()
    try:
        result = simulate(_rounds(FiberCensus), seed=2, trace=False)
    finally:
        gc.enable()
    early, late = result.value
    assert late == early  # 500 gather members later, none of them waits for the collector
