"""Cancellation, masking, structured forks and no-lost-failure rules of the stub."""

from typing import Any

import pytest
from attrs import frozen

from playbill import (
    Cancelled,
    Deadlock,
    Effect,
    FiberCancelled,
    ProgramError,
    TimedOut,
    cancel,
    fail,
    fork,
    gather,
    join,
    now,
    perform,
    program,
    pure,
    race,
    sleep,
    timeout,
)
from playbill.interpreters import stub


@frozen
class Note(Effect[None]):
    text: str


def notes() -> tuple[list[str], dict[type, Any]]:
    seen: list[str] = []
    return seen, {Note: lambda effect: seen.append(effect.text)}


def test_a_finally_block_that_waits_completes_and_the_timeout_is_reported():
    seen, handlers = notes()

    @program
    def cleanup() -> Any:
        try:
            yield sleep(10)
        finally:
            yield sleep(1)
            yield Note("cleaned")

    result = stub.execute(cleanup().timeout(2), handlers)
    assert isinstance(result.outcome.failure(), TimedOut)
    assert seen == ["cleaned"]
    assert result.clock == 3.0


def test_a_handler_raising_cancelled_fails_the_program_without_escaping():
    result = stub.execute(perform(Note("x")), {Note: _raise_cancelled})
    assert isinstance(result.outcome.failure(), Cancelled)


def _raise_cancelled(effect: object) -> None:
    raise Cancelled()


def test_finalisers_are_not_interrupted_by_a_second_cancellation():
    seen, handlers = notes()
    loser = sleep(10).ensuring(sleep(5).then(perform(Note("finaliser done"))))
    built = race(loser, sleep(1).then(pure("winner"))).timeout(3)
    result = stub.execute(built, handlers)
    assert seen == ["finaliser done"]
    assert isinstance(result.outcome.failure(), TimedOut)


def test_cancelling_twice_lets_the_finaliser_finish():
    seen, handlers = notes()

    @program
    def main() -> Any:
        fiber = yield fork(sleep(10).ensuring(sleep(5).then(perform(Note("finalised")))))
        yield sleep(1)
        yield gather(cancel(fiber), cancel(fiber))
        return (yield now())

    assert stub.run(main(), handlers) == 6.0
    assert seen == ["finalised"]


def test_a_fiber_cancelling_an_ancestor_that_waits_on_it_is_delivered_when_it_waits():
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
        return (yield join(fiber).attempt())

    outcome = stub.run(main())
    assert isinstance(outcome.failure(), FiberCancelled)


def test_a_join_that_timed_out_does_not_hide_the_later_failure():
    @program
    def main() -> Any:
        fiber = yield fork(sleep(5).then(fail(KeyError("crash"))))
        yield join(fiber).timeout(1).attempt()
        yield sleep(10)
        return "done"

    result = stub.execute(main())
    assert [repr(error) for error in result.unobserved_failures] == ["KeyError('crash')"]


def test_fibers_forked_by_a_finaliser_are_cancelled_too_and_the_run_ends():
    @program
    def forever() -> Any:
        while True:
            yield sleep(1)

    @program
    def main() -> Any:
        yield fork(sleep(10).ensuring(fork(forever())))
        yield sleep(1)
        return "done"

    assert stub.run(main()) == "done"


def test_a_fiber_that_swallows_cancellation_forever_hits_the_step_limit():
    @program
    def stubborn() -> Any:
        while True:
            try:
                yield sleep(1)
            except Cancelled:
                continue

    @program
    def main() -> Any:
        yield fork(stubborn())
        yield sleep(0)
        return "done"

    with pytest.raises(ProgramError, match=r"stopped after 1000 fiber steps; still alive: fiber"):
        stub.execute(main(), max_steps=1000)


def test_a_failing_finaliser_of_a_cancelled_gather_member_is_reported():
    built = gather(sleep(1).then(fail(KeyError("first"))), sleep(5).ensuring(fail(ValueError())))
    result = stub.execute(built)
    assert isinstance(result.outcome.failure(), KeyError)
    assert [type(error) for error in result.unobserved_failures] == [ValueError]


def test_a_failing_finaliser_of_a_race_loser_is_reported():
    built = race(sleep(5).ensuring(fail(ValueError("fin"))), sleep(1).then(pure("w")))
    result = stub.execute(built)
    assert result.unwrap() == "w"
    assert [str(error) for error in result.unobserved_failures] == ["fin"]


def test_a_failing_finaliser_chains_the_error_it_replaced():
    original = KeyError("original")
    with pytest.raises(ValueError, match="finaliser") as caught:
        stub.run(fail(original).ensuring(fail(ValueError("finaliser"))))
    assert caught.value.__context__ is original


def test_a_program_waiting_forever_is_a_deadlock_naming_what_each_fiber_waits_for():
    @program
    def main() -> Any:
        fiber = yield fork(sleep(float("inf")))
        return (yield join(fiber))

    with pytest.raises(
        Deadlock, match=r"fiber main waits for join\(main/fork1\); fiber main/fork1 waits for sleep"
    ):
        stub.run(main())


def test_an_infinite_timeout_never_fires():
    assert stub.run(timeout(sleep(5).then(pure("ok")), float("inf"))) == "ok"


def test_a_program_finishes_once_the_fibers_it_forked_have_unwound():
    seen, handlers = notes()

    @program
    def main() -> Any:
        yield fork(sleep(10).ensuring(sleep(5).then(perform(Note("fork finalised")))))
        yield sleep(1)
        return "done"

    result = stub.execute(main(), handlers)
    assert result.unwrap() == "done"
    assert seen == ["fork finalised"]
    assert result.clock == 6.0  # cancelled at 1, its finaliser took 5: structured concurrency


def test_a_fiber_cannot_join_itself():
    handles: list[Any] = []

    @program
    def body() -> Any:
        yield sleep(0)
        return (yield join(handles[0]))

    @program
    def main() -> Any:
        fiber = yield fork(body())
        handles.append(fiber)
        return (yield join(fiber).recover(str))

    assert stub.run(main()) == "a fiber cannot join itself: it would wait forever"


def test_cancelled_has_a_message():
    assert str(Cancelled()) == "the fiber was cancelled"
