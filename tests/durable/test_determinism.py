"""Replay determinism over many journals: drawn programs, journaled once, replay exactly."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from playbill import Program
from playbill.durable import Durable, MemoryJournal
from playbill.effects import fail, gather, perform, pure, sleep
from playbill.flow import Registry
from playbill.interpreters import stub
from playbill.testing import LawError, Tick, programs


def _outcome(run: Any) -> Any:
    try:
        return Success(run())
    except LawError as error:
        return Failure(error.code)


_FAILING_FINALISER = gather(sleep(0).then(pure(0)).ensuring(fail(LawError(0))), fail(LawError(1)))
# the program the gather cancelled, run on by the replay, used to perform its tick
_CANCELLED_TICK = gather(
    sleep(1).then(perform(Tick(5))).ensuring(fail(LawError(0))), fail(LawError(1))
)


# a drawn program may leave a failure nobody observes (a finaliser of cancelled work that
# fails): the stub reports it as a RuntimeWarning, about the program, not the journal
@pytest.mark.filterwarnings("ignore:.*concurrent fibers were never observed:RuntimeWarning")
@settings(deadline=None)
@given(programs(), st.sampled_from(["stub", "simulation"]), st.integers(0, 3))
# issue 17: the gather settles on the first failure (1); the cancelled member's failing
# finaliser (0) finishes after it, and the replay once settled on that one
@example(_FAILING_FINALISER, "stub", 0)
@example(_FAILING_FINALISER, "simulation", 0)
@example(_CANCELLED_TICK, "stub", 0)
def test_a_journaled_program_replays_its_outcome_without_performing_again(
    body: Program[int], interpreter: Any, seed: int
) -> None:
    ticks: list[int] = []

    def tick(effect: Tick) -> int:
        ticks.append(effect.n)
        return effect.n * 3 + 1

    registry = Registry()
    registry.register(lambda _: body, name="drawn")
    registry.register(LawError)
    durable = Durable(MemoryJournal(), registry, handlers={Tick: tick})
    plain = _outcome(lambda: stub.run(body, {Tick: lambda effect: effect.n * 3 + 1}))
    first = _outcome(lambda: durable.start("drawn", "w", interpreter=interpreter).value)
    performed = list(ticks)
    again = _outcome(lambda: durable.recover("w", interpreter=interpreter, seed=seed + 1).value)
    assert again == first  # the replay gives what the run gave, whatever the new seed
    if interpreter == "stub":
        assert first == plain  # journaling changes nothing (the simulator's schedule may)
    assert ticks == performed  # the replay performed nothing


@pytest.mark.filterwarnings("ignore:.*concurrent fibers were never observed:RuntimeWarning")
@pytest.mark.parametrize("interpreter", ["stub", "simulation", "asyncio"])
def test_a_failed_gather_replays_the_failure_it_settled_on(interpreter: Any) -> None:
    # issue 17: the gather fails with 1 and cancels the first program, whose finaliser then
    # fails with 0 (after 1, in the journaled order); the replay used to give that one
    registry = Registry()
    registry.register(lambda _: _FAILING_FINALISER, name="drawn")
    registry.register(LawError)
    durable = Durable(MemoryJournal(), registry)
    first = _outcome(lambda: durable.start("drawn", "w", interpreter=interpreter).value)
    for seed in range(3):
        again = _outcome(partial(_recovered, durable, interpreter, seed))
        assert again == first == Failure(1)
    (marker,) = (entry for entry in durable.entries("w") if entry.position == "0")
    assert '"failed": 1' in marker.payload


def _recovered(durable: Durable, interpreter: Any, seed: int) -> Any:
    return durable.recover("w", interpreter=interpreter, seed=seed).value
