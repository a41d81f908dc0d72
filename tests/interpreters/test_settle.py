"""`Settle`, the counting join `flow.at_least` compiles to: asyncio counts natively (no member
left waiting to be cancelled); the stub, the simulator and the durable journal run its
expansion in place, so their traces are those of the race it stands for."""

import asyncio
import math
from typing import Any

import pytest
from returns.result import Failure, Result, Success

from playbill import ActorSystem, Program, gather, program, pure, simulate, sleep
from playbill.effects import ProgramError, Settle, Sleep, Suspend
from playbill.flow import QuorumNotReached, at_least, step
from playbill.interpreters import stub


def settle(
    programs: tuple[Program[Any], ...], decide: Any, expansion: Program[Any] | None = None
) -> Program[Any]:
    return Suspend(Settle(programs, decide, expansion or pure("expanded")))


def run(program: Program[Any], **options: Any) -> Any:
    async def main() -> Any:
        async with ActorSystem("settle", **options) as system:
            return await system.run(program)

    return asyncio.run(main())


def at(count: int) -> Any:
    """A decider settling on the list of the outcomes seen once there are ``count``."""
    seen: list[tuple[int, Result[Any, BaseException]]] = []

    def decide(index: int, outcome: Result[Any, BaseException]) -> Any:
        seen.append((index, outcome))
        return Success([(i, o.value_or(None)) for i, o in seen]) if len(seen) == count else None

    return decide


def test_asyncio_settles_in_the_order_members_end_and_cancels_the_rest() -> None:
    finalised: list[str] = []

    @program
    def slow(name: str, seconds: float) -> Any:
        try:
            yield sleep(seconds)
        finally:
            finalised.append(name)
        return name

    decided = run(settle((slow("c", 0.03), slow("a", 0.01), slow("never", 60)), at(2)))
    assert decided == [(1, "a"), (0, "c")]
    assert finalised == ["a", "c", "never"]  # the straggler was cancelled, its finaliser ran


def test_asyncio_raises_a_failure_decide_settles_on() -> None:
    def fail_at_once(index: int, outcome: Any) -> Any:
        return Failure(ValueError(f"decided by {index}"))

    with pytest.raises(ValueError, match="decided by 0"):
        run(settle((pure(1), sleep(60)), fail_at_once))


def test_asyncio_gives_a_failure_of_decide_itself_as_the_settles() -> None:
    def broken(index: int, outcome: Any) -> Any:
        raise KeyError("decider defect")

    with pytest.raises(KeyError, match="decider defect"):
        run(settle((pure(1), sleep(60)), broken))


def test_asyncio_refuses_a_settle_that_decides_nothing() -> None:
    with pytest.raises(ProgramError, match="settled nothing"):
        run(settle((pure(1), pure(2)), lambda index, outcome: None))


def test_a_settle_nested_in_a_gather_member_counts_too() -> None:
    inner = settle((sleep(60).then(pure("late")), pure("early")), at(1))
    assert run(gather(pure(0), inner)) == (0, [(1, "early")])


def test_the_stub_and_the_simulator_run_the_expansion() -> None:
    program = settle((pure(1),), at(1), expansion=pure("the race it stands for"))
    assert stub.run(program) == "the race it stands for"
    assert simulate(program).value == "the race it stands for"
    assert run(program) == [(0, 1)]


def test_an_at_least_under_asyncio_leaves_no_member_sleeping_to_be_cancelled() -> None:
    # the race it used to compile to parked every undecided member on sleep(inf)
    sleeps: list[float] = []

    def sleeping(effect: Sleep) -> Any:
        sleeps.append(effect.seconds)
        return asyncio.sleep(effect.seconds if effect.seconds != math.inf else 3600)

    quorum = at_least(3, step(abs), step(str), step(lambda x: x * 2), step(repr))
    outcome = run(quorum.to_program(-4), handlers={Sleep: sleeping})
    assert (outcome.succeeded, outcome.indices) == ((4, "-4", -8), (0, 1, 2))
    assert sleeps == []
    with pytest.raises(QuorumNotReached):
        run(at_least(2, step(abs), step(lambda x: 1 / 0)).to_program(0))


def test_an_at_least_traces_as_the_race_it_expands_to_under_the_simulator() -> None:
    quorum = at_least(2, step(abs), step(str), step(repr))
    result = simulate(quorum.to_program(-1, events=False), seed=0)
    lines = [row[3] for row in result.rows]
    assert any(line.startswith("race(@program _member(<at_least 2 of 3") for line in lines)
    assert "sleep inf" in lines
    assert not any("settle" in line for line in lines)
