"""Stop policies: NEVER, ONE_TIME, AfterMessage(x), AfterIdle(seconds) — one decision in the
kernel, the same under asyncio and the simulator."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure

from playbill import (
    Actor,
    ActorStopped,
    InvalidArgument,
    free_spawn,
    free_stop,
    program,
    run,
    simulate,
    sleep,
)
from playbill.actors import NEVER, ONE_TIME, AfterIdle, AfterMessage
from playbill.actors._kernel import DrainMailbox, Kernel, PostSystem, PostSystemLater
from playbill.actors._stop_policies import WHEN_DRAINED, check_stop_policy, stops_after
from playbill.interpreters.simulation import explore

INTERPRETERS = ["asyncio", "simulation"]


def perform(main: Any, interpreter: str, seed: int = 0) -> tuple[Any, int]:
    """The program's value and the dead letters counted, under ``interpreter``."""
    if interpreter == "asyncio":
        import asyncio

        from playbill import ActorSystem

        async def go() -> tuple[Any, int]:
            async with ActorSystem("app") as system:
                value = await system.run(main)
            return value, system.dead_letters.count

        return asyncio.run(go())
    result = simulate(main, seed=seed)
    assert result.status == "completed", result.format_trace()
    return result.value, result.dead_letters


def recording(policy: Any, log: list[str]) -> type[Actor]:
    class Recording(Actor):
        stop_policy = policy

        def receive(self, message: Any) -> Any:
            log.append(f"got {message}")
            return message

        def on_stop(self) -> None:
            log.append("on_stop")

    return Recording


def attempt_ask(ref: Any, message: Any) -> Any:
    """Ask; the reply, or the name of the error the ask failed with."""
    return ref.free_ask(message).attempt().map(_outcome)


def _outcome(result: Any) -> Any:
    if isinstance(result, Failure):
        return type(result.failure()).__name__
    return result.unwrap()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_one_time_stops_after_one_message_and_fails_the_asks_queued_behind(interpreter):
    log: list[str] = []

    @program
    def main():
        ref = yield free_spawn(recording(ONE_TIME, log), name="once")
        yield ref.free_tell("first")
        yield ref.free_tell("second")  # queued behind, or sent once it stopped: a dead letter
        late = yield attempt_ask(ref, "third")
        yield sleep(0.01)
        return late

    value, dead_letters = perform(main(), interpreter)
    assert value == "ActorStopped"
    assert log == ["got first", "on_stop"]
    assert dead_letters == 2  # "second" and "third", never silently lost


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_after_message_handles_that_message_then_stops(interpreter):
    log: list[str] = []

    @program
    def main():
        ref = yield free_spawn(recording(AfterMessage("bye"), log), name="polite")
        yield ref.free_tell("hello")
        reply = yield ref.free_ask("bye")  # handled (and answered) before the stop
        after = yield attempt_ask(ref, "hello again")
        return reply, after

    value, dead_letters = perform(main(), interpreter)
    assert value == ("bye", "ActorStopped")
    assert log == ["got hello", "got bye", "on_stop"]
    assert dead_letters == 1


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_never_is_the_default_and_keeps_the_actor_running(interpreter):
    log: list[str] = []

    @program
    def main():
        ref = yield free_spawn(recording(NEVER, log), name="steady")
        for each in range(3):
            yield ref.free_tell(each)
        return (yield ref.free_ask("still here"))

    assert perform(main(), interpreter) == ("still here", 0)
    assert Actor.stop_policy is NEVER


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_the_stop_hook_runs_exactly_once_when_a_policy_stop_meets_a_stop(interpreter):
    log: list[str] = []

    @program
    def main():
        ref = yield free_spawn(recording(ONE_TIME, log), name="once")
        yield ref.free_tell("only")
        yield free_stop(ref)
        yield free_stop(ref)
        yield sleep(0.01)

    perform(main(), interpreter)
    assert log.count("on_stop") == 1


def test_after_idle_counts_virtual_time_under_the_simulator():
    log: list[str] = []

    @program
    def main():
        ref = yield free_spawn(recording(AfterIdle(60), log), name="idle")
        yield sleep(50)
        first = yield ref.free_ask("at 50")  # resets the clock: idle until 110
        yield sleep(59)
        second = yield ref.free_ask("at 109")  # still alive; idle until 169
        yield sleep(61)
        third = yield attempt_ask(ref, "at 170")
        return first, second, third

    result = simulate(main(), seed=3)
    assert result.value == ("at 50", "at 109", "ActorStopped")
    assert log == ["got at 50", "got at 109", "on_stop"]
    assert result.clock == 170  # an hour of idling would cost nothing either


def test_after_idle_counts_the_loops_clock_under_asyncio():
    log: list[str] = []

    @program
    def main():
        ref = yield free_spawn(recording(AfterIdle(0.2), log), name="idle")
        yield sleep(0.1)
        first = yield ref.free_ask("soon")
        yield sleep(0.1)
        second = yield ref.free_ask("soon again")  # 0.2s after the start, 0.1s idle
        yield sleep(0.4)
        third = yield attempt_ask(ref, "too late")
        return first, second, third

    assert run(main()) == ("soon", "soon again", "ActorStopped")
    assert log == ["got soon", "got soon again", "on_stop"]


@settings(max_examples=20, deadline=None)
@given(
    idle=st.integers(min_value=1, max_value=100),
    gaps=st.lists(st.integers(min_value=0, max_value=150), min_size=1, max_size=5),
)
def test_after_idle_stops_exactly_when_a_gap_exceeds_the_idle_time(idle, gaps):
    @program
    def main():
        ref = yield free_spawn(recording(AfterIdle(idle), []), name="idle")
        answered = 0
        for gap in gaps:
            yield sleep(gap + 0.5)  # (never exactly on the deadline)
            reply = yield attempt_ask(ref, "ping")
            if reply == "ActorStopped":
                return answered
            answered += 1
        return answered

    expected = next((index for index, gap in enumerate(gaps) if gap + 0.5 > idle), len(gaps))

    def check(result: Any) -> None:
        assert result.value == expected

    explore(main, check, runs=5).assert_passed()


def test_the_decision_is_one_pure_function():
    assert stops_after(ONE_TIME, "anything", drained=False)
    assert stops_after(AfterMessage(3), 3, drained=False)
    assert not stops_after(AfterMessage(3), 4, drained=True)
    assert not stops_after(AfterIdle(1), "x", drained=True)  # its timer decides
    assert stops_after(WHEN_DRAINED, "x", drained=True)
    assert not stops_after(WHEN_DRAINED, "x", drained=False)
    assert not stops_after(None, "x", drained=True)


class _Environment:
    def __init__(self) -> None:
        self.now = 0.0

    def event_time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def random(self) -> float:
        return 0.5

    def publishing(self) -> bool:
        return False


class _Cell:
    def __init__(self, policy: Any) -> None:
        from playbill.actors import Mailbox
        from playbill.actors._kernel import Phase

        self.phase = Phase.RUNNING
        self.stop_policy = policy
        self.mailbox = Mailbox()
        self.blocked = ()
        self.idle_since = 0.0
        self.idle_armed = False
        self.path = "/app/cell"


def test_the_kernel_stops_a_one_time_cell_and_arms_an_idle_timer_once():
    kernel = Kernel(_Environment())
    once = _Cell(ONE_TIME)
    commands = kernel.handled(once, "x")
    assert [type(command) for command in commands] == [DrainMailbox, PostSystem]
    idle = _Cell(AfterIdle(5))
    first = kernel.handled(idle, "x")
    assert [type(command) for command in first] == [PostSystemLater]
    assert first[0].delay == 5
    assert kernel.handled(idle, "y") == []  # armed already: one timer, not one per message


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), "5", True])
def test_after_idle_refuses_what_is_not_a_positive_finite_number_of_seconds(seconds):
    with pytest.raises(InvalidArgument, match=r"AfterIdle seconds must be a positive, finite"):
        AfterIdle(seconds)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_actor_naming_something_else_as_its_stop_policy_is_refused_at_spawn(interpreter):
    class Odd(Actor):
        stop_policy = "once"  # type: ignore[assignment]

        def receive(self, message: Any) -> Any:
            return message

    @program
    def main():
        yield free_spawn(Odd, name="odd")

    with pytest.raises(InvalidArgument, match=r"Odd.stop_policy must be NEVER, ONE_TIME, .*'once'"):
        run(main()) if interpreter == "asyncio" else simulate(main(), seed=0).unwrap()


def test_check_stop_policy_names_the_accepted_values():
    with pytest.raises(InvalidArgument, match=r"AfterMessage\(message\) or AfterIdle\(seconds\)"):
        check_stop_policy(3)


def test_a_stopped_actors_pending_asks_fail_promptly():
    @program
    def main():
        ref = yield free_spawn(recording(ONE_TIME, []), name="once")
        yield ref.free_tell("first")
        try:
            yield ref.free_ask("second", timeout=3600)
        except ActorStopped:
            return "failed at once"

    result = simulate(main(), seed=0)
    assert result.value == "failed at once"
    assert result.clock == 0  # not after the hour's timeout
