from typing import Any

import pytest
from attrs import frozen

from playbill import (
    Effect,
    Fiber,
    FiberCancelled,
    InvalidArgument,
    TimedOut,
    UnhandledEffect,
    fail,
    fork,
    gather,
    join,
    now,
    perform,
    program,
    pure,
    race,
    random,
    sleep,
    timeout,
)
from playbill.effects import Now, Sleep
from playbill.interpreters import stub


@frozen
class Note(Effect[str]):
    text: str


@frozen
class Base(Effect[str]):
    pass


@frozen
class Derived(Base):
    pass


def noting() -> tuple[list[str], dict[type, Any]]:
    seen: list[str] = []

    def handle(effect: Note) -> str:
        seen.append(effect.text)
        return effect.text

    return seen, {Note: handle}


def note(text: str) -> Any:
    return perform(Note(text))


# -- handlers ------------------------------------------------------------------------------


def test_an_effect_without_a_handler_fails_naming_the_type_interpreter_and_fix():
    with pytest.raises(UnhandledEffect) as caught:
        stub.run(note("x"))
    message = str(caught.value)
    assert "Note(text='x')" in message
    assert "stub interpreter" in message
    assert "handlers={Note: lambda effect: ...}" in message


def test_an_unhandled_effect_can_be_recovered_by_the_program():
    assert stub.run(note("x").recover(lambda e: type(e).__name__)) == "UnhandledEffect"


def test_a_handler_registered_for_a_base_class_serves_subclasses_most_specific_first():
    assert stub.run(perform(Derived()), {Base: lambda e: "base"}) == "base"
    handlers = {Base: lambda e: "base", Derived: lambda e: "derived"}
    assert stub.run(perform(Derived()), handlers) == "derived"


def test_a_handler_may_return_a_program_that_runs_in_place():
    seen, handlers = noting()

    def retry_twice(effect: Base) -> Any:
        return note("first try").then(note("second try"))

    assert stub.run(perform(Base()), {**handlers, Base: retry_twice}) == "second try"
    assert seen == ["first try", "second try"]


def test_a_handler_exception_is_raised_into_the_program_at_the_effect():
    def broken(effect: Note) -> str:
        raise ConnectionError(f"cannot send {effect.text}")

    built = note("x").recover(lambda e: f"recovered: {e}")
    assert stub.run(built, {Note: broken}) == "recovered: cannot send x"


@pytest.mark.parametrize(
    ("handlers", "message"),
    [
        ({"Note": lambda e: 1}, "is not an Effect class"),
        ({int: lambda e: 1}, "is not an Effect class"),
        ({Note: "answer"}, "not callable"),
        ([(Note, lambda e: 1)], "must be a mapping"),
    ],
)
def test_a_malformed_handler_map_is_refused_with_the_fix(handlers, message):
    with pytest.raises(InvalidArgument, match=message):
        stub.run(pure(1), handlers)


def test_handlers_may_override_the_built_in_clock():
    assert stub.run(now(), {Now: lambda e: 123.0}) == 123.0


def test_the_result_lists_the_performed_effects_and_the_clock():
    _, handlers = noting()
    result = stub.execute(gather(note("a"), sleep(2).then(note("b"))), handlers)
    assert result.effects == (Note("a"), Sleep(2.0), Note("b"))
    assert result.clock == 2.0


# -- time and chance ------------------------------------------------------------------------


def test_virtual_time_starts_at_start_time_and_sleep_costs_nothing():
    assert stub.run(sleep(3600).then(now()), start_time=100.0) == 3700.0


def test_random_is_reproducible_from_the_seed():
    draws = gather(random(), random(), random())
    assert stub.run(draws, seed=3) == stub.run(draws, seed=3)
    assert stub.run(draws, seed=3) != stub.run(draws, seed=4)


# -- gather ---------------------------------------------------------------------------------


def test_gather_without_waiting_runs_left_to_right_like_sequence():
    seen, handlers = noting()
    assert stub.run(gather(note("a"), note("b"), note("c")), handlers) == ("a", "b", "c")
    assert seen == ["a", "b", "c"]


def test_gather_of_nothing_is_the_empty_tuple():
    assert stub.run(gather()) == ()


def test_gather_takes_as_long_as_its_longest_member():
    built = gather(sleep(3), sleep(5), sleep(1)).then(now())
    assert stub.run(built) == 5.0


def test_gather_interleaves_members_on_the_virtual_clock():
    seen, handlers = noting()
    slow = sleep(2).then(note("slow"))
    fast = sleep(1).then(note("fast"))
    assert stub.run(gather(slow, fast), handlers) == ("slow", "fast")
    assert seen == ["fast", "slow"]


def test_the_first_failure_of_a_gather_cancels_the_rest_and_fails_it():
    seen, handlers = noting()
    started = sleep(5).then(note("never")).ensuring(note("finalised"))
    not_started = note("not started")
    built = gather(started, fail(KeyError("boom")), not_started)
    with pytest.raises(KeyError, match="boom"):
        stub.run(built, handlers)
    assert seen == ["finalised"]


# -- race and timeout -----------------------------------------------------------------------


def test_race_is_won_by_the_first_to_succeed_on_the_virtual_clock():
    seen, handlers = noting()
    slow = sleep(5).then(note("slow")).ensuring(note("slow cancelled"))
    built = race(slow, sleep(1).then(note("fast")))
    timed = built.flat_map(lambda v: now().map(lambda t: (v, t)))
    assert stub.run(timed, handlers) == ("fast", 1.0)
    assert seen == ["fast", "slow cancelled"]


def test_race_ties_go_to_the_earlier_program():
    assert stub.run(race(pure("first"), pure("second"))) == "first"


def test_a_failure_does_not_win_a_race():
    built = race(fail(KeyError("fast failure")), sleep(1).then(pure("slow success")))
    assert stub.run(built) == "slow success"


def test_a_race_everyone_loses_fails_with_the_last_error():
    built = race(sleep(2).then(fail(KeyError("late"))), fail(ValueError("early")))
    with pytest.raises(KeyError, match="late"):
        stub.run(built)


def test_race_needs_a_program():
    with pytest.raises(InvalidArgument, match="at least one program"):
        race()


def test_timeout_lets_a_fast_program_through():
    assert stub.run(timeout(sleep(1).then(pure("done")), 2)) == "done"


def test_timeout_cancels_a_slow_program_runs_its_finalisers_and_fails():
    seen, handlers = noting()
    slow = sleep(10).then(note("finished")).ensuring(note("finalised"))
    built = timeout(slow, 2).attempt().flat_map(lambda o: now().map(lambda t: (o, t)))
    outcome, elapsed = stub.run(built, handlers)
    assert isinstance(outcome.failure(), TimedOut)
    assert "timed out after 2s" in str(outcome.failure())
    assert elapsed == 2.0
    assert seen == ["finalised"]


def test_at_the_very_deadline_the_timeout_wins():
    with pytest.raises(TimedOut):
        stub.run(timeout(sleep(2), 2))


def test_a_failure_inside_a_timeout_passes_through():
    with pytest.raises(KeyError):
        stub.run(timeout(fail(KeyError("k")), 2))


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_timeout_needs_a_positive_duration(seconds):
    with pytest.raises(InvalidArgument, match="positive number of seconds"):
        timeout(pure(1), seconds)


# -- fork, join, cancel ---------------------------------------------------------------------


def test_fork_continues_at_once_and_join_waits_for_the_result():
    seen, handlers = noting()

    @program
    def main() -> Any:
        fiber = yield fork(sleep(3).then(note("child")))
        yield note("parent")
        value = yield join(fiber)
        return value, (yield now())

    assert stub.run(main(), handlers) == ("child", 3.0)
    assert seen == ["parent", "child"]


def test_join_raises_the_fiber_failure():
    @program
    def main() -> Any:
        fiber = yield fork(fail(KeyError("child failed")))
        return (yield fiber.join())

    with pytest.raises(KeyError, match="child failed"):
        stub.run(main())


def test_joining_a_cancelled_fiber_fails_with_fiber_cancelled():
    @program
    def main() -> Any:
        fiber = yield fork(sleep(10))
        yield fiber.cancel()
        return (yield join(fiber))

    with pytest.raises(FiberCancelled):
        stub.run(main())


def test_cancelling_a_fiber_waits_for_its_finalisers():
    seen, handlers = noting()

    @program
    def main() -> Any:
        fiber = yield fork(sleep(10).ensuring(sleep(1).then(note("finalised"))))
        yield sleep(2)
        yield fiber.cancel()
        yield note("after cancel")
        return (yield now())

    assert stub.run(main(), handlers) == 3.0
    assert seen == ["finalised", "after cancel"]


def test_cancelling_a_fiber_that_has_not_started_means_it_never_runs():
    seen, handlers = noting()

    @program
    def main() -> Any:
        fiber = yield fork(note("never"))
        yield fiber.cancel()
        return "done"

    assert stub.run(main(), handlers) == "done"
    assert seen == []


def test_cancelling_a_finished_fiber_does_nothing():
    @program
    def main() -> Any:
        fiber = yield fork(pure(1))
        yield sleep(1)
        yield fiber.cancel()
        return (yield fiber.join())

    assert stub.run(main()) == 1


def test_cancelling_a_fiber_waiting_on_a_gather_cancels_its_members():
    seen, handlers = noting()

    @program
    def main() -> Any:
        members = gather(sleep(5).ensuring(note("a")), sleep(6).ensuring(note("b")))
        fiber = yield fork(members)
        yield sleep(1)
        yield fiber.cancel()
        return (yield now())

    assert stub.run(main(), handlers) == 1.0
    assert seen == ["a", "b"]


def test_fibers_still_running_when_the_program_ends_are_cancelled_and_finalised():
    seen, handlers = noting()

    @program
    def main() -> Any:
        yield fork(sleep(100).ensuring(note("orphan finalised")))
        yield sleep(1)  # the first orphan starts and waits
        yield fork(note("orphan never started"))
        return "main done"

    result = stub.execute(main(), handlers)
    assert result.unwrap() == "main done"
    assert seen == ["orphan finalised"]
    assert result.clock == 1.0


def test_failures_of_forked_fibers_nobody_joined_are_reported_not_lost():
    @program
    def main() -> Any:
        yield fork(fail(KeyError("lost?")))
        joined = yield fork(fail(ValueError("seen")))
        yield fork(sleep(50))  # cancelled at the end: not a failure
        yield sleep(1)
        yield join(joined).recover(lambda e: None)
        return "done"

    result = stub.execute(main())
    assert result.unwrap() == "done"
    assert [repr(error) for error in result.unobserved_failures] == ["KeyError('lost?')"]
    with pytest.warns(RuntimeWarning, match=r"1 failure\(s\) .* never observed: KeyError"):
        assert stub.run(main()) == "done"


def test_join_of_a_handle_from_another_run_is_refused():
    with pytest.raises(InvalidArgument, match="was not forked in this run"):
        stub.run(join(Fiber(99)))


def test_join_and_cancel_need_a_fiber_handle():
    with pytest.raises(InvalidArgument, match=r"join\(\) takes the Fiber handle"):
        join("fiber")  # type: ignore[arg-type]
    from playbill import cancel

    with pytest.raises(InvalidArgument, match=r"cancel\(\) takes the Fiber handle"):
        cancel(3)  # type: ignore[arg-type]
