"""The simulator: determinism, replay, exploration and shrinking, deadlocks, virtual time."""

import pathlib
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbill import (
    Actor,
    ProgramError,
    Schedule,
    explore,
    free_spawn,
    gather,
    now,
    program,
    pure,
    replay,
    run,
    simulate,
    sleep,
)
from playbill.interpreters.simulation import TraceLine
from playbill.testing import schedules

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "examples"))

from bank_race import two_deposits


def test_the_race_passes_under_asyncio():
    assert [run(two_deposits()) for _ in range(3)] == [100, 100, 100]


def test_the_same_seed_gives_the_same_run():
    first = simulate(two_deposits(), seed=11)
    second = simulate(two_deposits(), seed=11)
    assert first.trace == second.trace
    assert first.schedule == second.schedule


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_replaying_a_schedule_reproduces_the_trace_exactly(seed):
    original = simulate(two_deposits(), seed=seed)
    again = replay(two_deposits(), str(original.schedule))
    assert again.trace == original.trace
    assert again.value == original.value


def test_explore_finds_the_race_and_shrinks_it_to_a_replayable_minimal_schedule():
    found = explore(two_deposits(), check=lambda result: result.value == 100, runs=500)
    assert found.found
    assert found.failing is not None
    assert found.minimal is not None
    assert found.minimal.value == 50
    assert len(found.minimal.schedule) <= len(found.failing.schedule)
    again = replay(two_deposits(), str(found.minimal.schedule))
    assert again.value == 50
    assert again.trace == found.minimal.trace


def test_pct_finds_the_race_too():
    found = explore(two_deposits(), check=lambda r: r.value == 100, runs=500, strategy="pct")
    assert found.found


def test_explore_reports_nothing_when_every_run_passes():
    found = explore(pure(1), check=lambda result: result.value == 1, runs=20)
    assert not found.found
    assert found.runs == 20


def test_hypothesis_draws_schedules_and_shrinks_a_failing_one():
    from hypothesis import errors, find

    with pytest.raises(errors.NoSuchExample):
        find(schedules(), lambda s: simulate(pure(1), schedule=s).value != 1)
    smallest = find(schedules(), lambda s: simulate(two_deposits(), schedule=s).value != 100)
    assert simulate(two_deposits(), schedule=smallest).value == 50


def test_schedules_print_and_parse():
    schedule = Schedule((0, 1, 35, 61, 62, 300))
    assert str(schedule) == "v6:01zZ(62)(300)"
    assert Schedule.parse(str(schedule)).choices == schedule.choices
    with pytest.raises(ValueError, match="starts with 'v6:'"):
        Schedule.parse("0121")


def test_virtual_time_costs_nothing_and_every_trace_line_carries_the_clock():
    class Sleepy(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(3600).then(now())

    asked = free_spawn(Sleepy, name="sleepy").flat_map(lambda r: r.free_ask("zz", timeout=4000))
    result = simulate(asked)
    assert result.value == 3600.0
    assert all(isinstance(line, TraceLine) for line in result.trace)
    assert result.trace[-1].time == 3600.0


def test_a_deadlock_is_reported_with_who_waits_for_what():
    class Asker(Actor):
        def receive(self, message: Any) -> Any:
            if message == "ping":
                return "pong"
            return message.free_ask("ping", timeout=float("inf"))

    @program
    def main() -> Any:
        first = yield free_spawn(Asker, name="first")
        second = yield free_spawn(Asker, name="second")
        forever = float("inf")
        yield gather(
            first.free_ask(second, timeout=forever), second.free_ask(first, timeout=forever)
        )

    # some schedules let a ping through first; explore finds one where each waits on the other
    found = explore(main(), check=lambda result: True, runs=200)
    assert found.minimal is not None
    assert found.minimal.status == "deadlock"
    message = str(found.minimal.error)
    assert message.startswith("ask cycle: /app/"), message
    assert "/app/first asks 'ping'" in message
    assert "/app/second asks 'ping'" in message
    # the moment the cycle forms, not when a timeout would have noticed
    assert found.minimal.clock == 0.0


def test_an_ask_cycle_can_wait_for_its_timeouts_instead():
    class Asker(Actor):
        def receive(self, message: Any) -> Any:
            if message == "inner":
                return "never"
            return self.context.self_ref.free_ask("inner", timeout=5)

    program_ = free_spawn(Asker, name="asker").flat_map(lambda ref: ref.free_ask("outer"))
    reported = simulate(program_, seed=0)
    assert reported.status == "deadlock"
    assert "ask cycle: /app/asker asks 'inner' → back to /app/asker" in str(reported.error)
    waited = simulate(program_, seed=0, ask_cycles="wait")
    assert waited.status == "failed"
    assert type(waited.error).__name__ == "AskTimeout"
    assert waited.clock == 5.0


def test_a_livelock_hits_the_step_limit():
    class Ping(Actor):
        def receive(self, message: Any) -> Any:
            return message.free_tell(self.context.self_ref)

    @program
    def main() -> Any:
        a = yield free_spawn(Ping, name="a")
        b = yield free_spawn(Ping, name="b")
        yield a.free_tell(b)
        yield sleep(1)

    result = simulate(main(), max_steps=500)
    assert result.status == "step_limit"
    assert isinstance(result.error, ProgramError)


def test_an_async_receive_is_refused_with_how_to_express_the_await_as_an_effect():
    class Awaiting(Actor):
        async def receive(self, message: Any) -> Any:
            return message

    result = simulate(free_spawn(Awaiting, name="a").flat_map(lambda ref: ref.free_ask("x")))
    assert result.status == "failed"
    assert "Awaiting.receive returned an awaitable" in str(result.error)
    assert "effect with a handler" in str(result.error)


def test_the_result_says_how_to_replay_it():
    result = simulate(two_deposits(), seed=3)
    assert (
        result.replay_hint("two_deposits()") == f"replay(two_deposits(), {str(result.schedule)!r})"
    )
    assert "receive 'read'" in result.format_trace()


def test_a_bad_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy must be 'random' or 'pct'"):
        simulate(pure(1), strategy="fastest")


def test_depth_first_tries_every_schedule_of_a_small_program_once():
    class Echo(Actor):
        def receive(self, message: Any) -> Any:
            return message

    @program
    def two_asks() -> Any:
        first = yield free_spawn(Echo, name="first")
        second = yield free_spawn(Echo, name="second")
        return (yield gather(first.free_ask(1), second.free_ask(2)))

    seen: list[tuple[int, ...]] = []

    def record(result: Any) -> bool:
        seen.append(result.schedule.choices)
        return bool(result.value == (1, 2))

    passing = explore(two_asks(), check=record, runs=10_000, strategy="dfs")
    assert passing.exhausted
    assert not passing.found
    assert len(seen) == passing.runs == len(set(seen))
    assert passing.runs > 10


def test_depth_first_finds_a_lost_update():
    from bank_race import Balance

    from tests.simulation.examples_path import two_deposits as _unused  # noqa: F401

    @program
    def racing() -> Any:
        balance = yield free_spawn(Balance, name="balance")

        @program
        def deposit() -> Any:
            current = yield balance.free_ask("read")
            yield balance.free_tell(("write", current + 50))

        yield gather(deposit(), deposit())
        return (yield balance.free_ask("read"))

    found = explore(racing(), check=lambda result: result.value == 100, runs=1000, strategy="dfs")
    assert found.found
    assert found.minimal is not None
    assert found.minimal.value == 50


def test_random_draws_are_part_of_the_schedule_so_a_replay_draws_the_same_values():
    from playbill import random

    @program
    def draws() -> Any:
        values = []
        for _ in range(3):
            values.append((yield random()))
        return values

    original = simulate(draws(), seed=9)
    assert len(set(original.value)) == 3
    assert all(0 <= value < 1 for value in original.value)
    assert replay(draws(), str(original.schedule)).value == original.value
    assert simulate(draws(), seed=10).value != original.value


def test_dfs_does_not_enumerate_random_values_and_hypothesis_spreads_them():
    from playbill import random

    @program
    def coin() -> Any:
        return (yield random()) < 0.5

    exhaustive = explore(coin(), check=lambda result: True, runs=50, strategy="dfs")
    assert exhaustive.exhausted
    outcomes = {simulate(coin(), schedule=[n]).value for n in range(8)}
    assert outcomes == {True, False}


def test_an_actor_stuck_at_shutdown_is_aborted_and_its_message_is_a_dead_letter():
    class Stuck(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(float("inf"))

    @program
    def main() -> Any:
        stuck = yield free_spawn(Stuck, name="stuck")
        yield stuck.free_tell("never finished")
        yield stuck.free_tell("never started")
        yield sleep(1)
        return "done"

    result = simulate(main(), seed=1)
    assert result.value == "done"
    assert result.dead_letters == 2
    assert [type(event).__name__ for event in result.events][-2:] == ["Stopped", "Stopped"]
    assert "never finished; aborted at shutdown" in result.format_trace()


def test_a_fiber_cancelling_the_fiber_that_forked_its_gather_is_delivered_as_in_the_stub():
    from playbill import FiberCancelled, cancel, fork, join
    from playbill.interpreters import stub

    handles: list[Any] = []

    @program
    def inner() -> Any:
        yield sleep(0)
        yield cancel(handles[0])
        return "not reached"

    @program
    def main() -> Any:
        fiber = yield fork(gather(inner()))
        handles.append(fiber)
        yield sleep(1)
        outcome = yield join(fiber).attempt()
        return type(outcome.failure()).__name__

    assert stub.run(main()) == FiberCancelled.__name__
    handles.clear()
    result = simulate(main(), seed=1)
    assert result.status == "completed", result.format_trace()
    assert result.value == FiberCancelled.__name__
