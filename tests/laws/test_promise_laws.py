"""Promises (`new_promise`, `complete`, `fail_promise`, `await_promise`) under every
interpreter: complete-once, an await after completion returns at once, a waiter cancelled
before the completion never receives it — and, under the simulator, in any schedule."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbill import (
    ActorSystem,
    FiberCancelled,
    InvalidArgument,
    Promise,
    await_promise,
    cancel,
    complete,
    fail_promise,
    fork,
    gather,
    join,
    new_promise,
    now,
    program,
    simulate,
    sleep,
)
from playbill.interpreters import stub
from playbill.interpreters.simulation import replay
from playbill.testing import explore


def under_asyncio(build: Any) -> Any:
    async def main() -> Any:
        async with ActorSystem("app") as system:
            value = await system.run(build())
            return value, system.dead_letters.count

    return asyncio.run(main())


def run_everywhere(build: Any) -> list[Any]:
    """The value of ``build()`` under the stub, asyncio and the simulator (seeds 0-2)."""
    values = [stub.run(build())]
    value, dead_letters = under_asyncio(build)
    assert dead_letters == 0
    values.append(value)
    for seed in range(3):
        result = simulate(build(), seed=seed)
        assert result.status == "completed", result.format_trace()
        assert result.dead_letters == 0
        values.append(result.value)
    return values


outcomes = st.lists(
    st.one_of(st.integers().map(lambda n: ("value", n)), st.integers().map(lambda n: ("error", n))),
    min_size=1,
    max_size=5,
)


def settle(promise: Promise[Any], outcome: tuple[str, int]) -> Any:
    kind, number = outcome
    if kind == "value":
        return complete(promise, number)
    return fail_promise(promise, KeyError(number))


@given(outcomes)
def test_complete_once_the_first_completion_decides_and_later_ones_change_nothing(
    completions: list[tuple[str, int]],
) -> None:
    @program
    def main() -> Any:
        promise = yield new_promise()
        answers = []
        for outcome in completions:
            answers.append((yield settle(promise, outcome)))
        got = yield await_promise(promise).attempt()
        again = yield await_promise(promise).attempt()
        return answers, repr(got), repr(again)

    first_kind, first_number = completions[0]
    expected_got = (
        f"<Success: {first_number}>" if first_kind == "value" else f"<Failure: {first_number}>"
    )
    for answers, got, again in run_everywhere(main):
        assert answers == [True] + [False] * (len(completions) - 1)
        assert got == again == expected_got


def test_an_await_after_completion_returns_at_once_with_no_time_passing() -> None:
    @program
    def main() -> Any:
        promise = yield new_promise()
        yield complete(promise, "done")
        start = yield now()
        values = []
        for _ in range(3):
            values.append((yield await_promise(promise)))
        return values, (yield now()) - start

    for values, elapsed in run_everywhere(main):
        assert values == ["done"] * 3
        assert elapsed < 0.05  # (wall-clock under asyncio: no wait, no sleep)


def test_every_waiter_wakes_with_the_value_and_the_error_reaches_each() -> None:
    @program
    def main() -> Any:
        good, bad = yield gather(new_promise(), new_promise())
        waiters = []
        for _ in range(3):
            waiters.append((yield fork(await_promise(good))))
            waiters.append((yield fork(await_promise(bad).attempt().map(repr))))
        yield sleep(0.01)
        yield complete(good, 7)
        yield fail_promise(bad, ValueError("no"))
        results = []
        for waiter in waiters:
            results.append((yield join(waiter)))
        return results

    for values in run_everywhere(main):
        assert values == [7, "<Failure: no>"] * 3


def test_a_waiter_cancelled_before_the_completion_never_receives_it() -> None:
    received: list[Any] = []

    @program
    def main() -> Any:
        promise = yield new_promise()
        waiter = yield fork(await_promise(promise).map(received.append))
        other = yield fork(await_promise(promise))
        yield sleep(0.01)  # both wait now
        yield cancel(waiter)
        answered = yield complete(promise, "late")
        yield sleep(0.01)
        cancelled = yield join(waiter).attempt()
        return answered, (yield join(other)), type(cancelled.failure()).__name__

    for answered, other, cancelled in run_everywhere(main):
        assert (answered, other, cancelled) == (True, "late", FiberCancelled.__name__)
    assert received == []


def test_in_any_schedule_a_cancelled_waiter_never_receives_and_the_others_all_do() -> None:
    def build() -> Any:
        received: list[str] = []

        @program
        def main() -> Any:
            promise = yield new_promise()
            waiters = []
            for _ in range(3):
                waiters.append((yield fork(await_promise(promise).map(received.append))))
            canceller = yield fork(cancel(waiters[1]))
            yield complete(promise, "x")
            yield join(canceller)
            outcomes = []
            for waiter in waiters:
                outcome = yield join(waiter).attempt()
                outcomes.append("ok" if outcome.value_or(False) is None else "failed")
            return outcomes, len(received)

        return main()

    def check(result: Any) -> None:
        assert result.status == "completed", result.error
        assert result.dead_letters == 0
        assert not result.unobserved_failures
        outcomes, delivered = result.value
        assert outcomes[0] == outcomes[2] == "ok"
        # the cancelled one either had received it already, or never does
        assert (outcomes[1], delivered) in (("ok", 3), ("failed", 2))

    explore(build, check, runs=60).assert_passed()


def test_a_promise_made_elsewhere_or_by_hand_is_refused_naming_it() -> None:
    with pytest.raises(InvalidArgument, match=r"got 3 \(int\)"):
        await_promise(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="fail_promise\\(\\) error must be an Exception"):
        fail_promise(Promise(1), "oops")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="was not made by new_promise"):
        stub.run(await_promise(Promise(1)))
    with pytest.raises(InvalidArgument, match="was not made by new_promise"):
        under_asyncio(lambda: complete(Promise(1), None))
    made = stub.run(new_promise())
    result = simulate(complete(made, None))
    assert isinstance(result.error, InvalidArgument)


def test_asyncio_performs_promise_effects_inline_yet_a_handler_for_one_still_answers_it() -> None:
    from playbill.effects import NewPromise

    made = Promise(99)

    async def main() -> Any:
        async with ActorSystem("app", handlers={NewPromise: lambda effect: made}) as system:
            return await system.run(new_promise())

    assert asyncio.run(main()) is made


def test_under_the_simulator_each_wake_up_is_a_scheduling_point_and_replays() -> None:
    def build() -> Any:
        @program
        def main() -> Any:
            promise = yield new_promise()
            waiters = []
            for _ in range(2):
                # a traced effect right after the wake-up: `now` (its row names the fiber)
                waiters.append((yield fork(await_promise(promise).then(now()))))
            yield sleep(0.01)  # both wait now
            yield complete(promise, None)
            for waiter in waiters:
                yield join(waiter)

        return main()

    def woken_order(seed: int) -> tuple[str, ...]:
        result = simulate(build(), seed=seed)
        assert result.status == "completed"
        assert replay(build(), result.schedule).rows == result.rows
        return tuple(
            row[2].rsplit("/", 1)[-1]
            for row in result.rows
            if row[2].startswith("main/fork") and row[3].startswith("now")
        )

    # which woken waiter runs first is the scheduler's choice: some seed picks each order
    orders = {woken_order(seed) for seed in range(20)}
    assert orders == {("fork1", "fork2"), ("fork2", "fork1")}
