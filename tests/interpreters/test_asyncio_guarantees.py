"""Guarantees of the asyncio runtime: per-pair FIFO, nothing lost, programs' concurrency."""

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbill import (
    Actor,
    ActorSystem,
    FiberCancelled,
    TimedOut,
    fail,
    fork,
    gather,
    join,
    perform,
    program,
    pure,
    race,
    sleep,
    timeout,
)


class Log(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "seen":
            return self.seen
        self.seen.append(message)
        return None


class Sender(Actor):
    """Relays (target, message) pairs to the target: a sender of its own."""

    def receive(self, message: Any) -> Any:
        target, payload = message
        return target.free_tell(payload)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=1, max_size=60))
def test_messages_from_one_sender_arrive_in_order_under_any_interleaving(choices):
    async def main() -> list[Any]:
        async with ActorSystem() as system:
            log = system.spawn(Log, "log")
            senders = [system.spawn(Sender, f"s{n}") for n in range(3)]
            counters = [0, 0, 0]
            for choice in choices:
                senders[choice].tell((log, (choice, counters[choice])))
                counters[choice] += 1
                if counters[choice] % 3 == 0:
                    await asyncio.sleep(0)
            for sender in senders:
                await sender.ask((log, "flush"))
            seen = await log.ask("seen")
            return [item for item in seen if item != "flush"]

    seen = asyncio.run(main())
    for sender in range(3):
        numbers = [number for origin, number in seen if origin == sender]
        assert numbers == sorted(numbers)
        assert len(numbers) == choices.count(sender)


def test_nothing_is_lost_across_1000_actors_and_1000_messages_each(arun):
    class Tally(Actor):
        total = 0

        def receive(self, message: Any) -> Any:
            Tally.total += 1
            if message == 990 and self.context.self_ref.name.endswith("7"):
                self.context.stop(self.context.self_ref)  # some stop midway: dead letters

    async def main() -> tuple[int, int]:
        async with ActorSystem() as system:
            refs = [system.spawn(Tally, f"t{n}") for n in range(1000)]
            for message in range(1000):
                for ref in refs:
                    ref.tell(message)
                if message % 100 == 0:
                    await asyncio.sleep(0)
            # every message is handled or a dead letter, however long a loaded machine takes
            while Tally.total + system.dead_letters.count < 1000 * 1000:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # and nothing more arrives: none was counted twice
            return Tally.total, system.dead_letters.count

    delivered, dead = arun(main())
    assert delivered + dead == 1000 * 1000
    assert dead == 100 * 9  # 100 actors ending in 7 each dropped 991..999


def test_gather_race_timeout_fork_and_join_inside_an_actor(arun):
    log: list[str] = []

    def note(text: str) -> Any:
        return pure(None).map(lambda _: log.append(text))

    class Orchestrator(Actor):
        def receive(self, message: Any) -> Any:
            @program
            def work() -> Any:
                pair = yield gather(pure(1), sleep(0.01).then(pure(2)))
                winner = yield race(
                    sleep(1).then(pure("slow")).ensuring(note("loser finalised")),
                    sleep(0.01).then(pure("fast")),
                )
                late = yield timeout(sleep(1), 0.02).ensuring(note("timed out")).attempt()
                fiber = yield fork(sleep(0.01).then(pure("forked")))
                forked = yield join(fiber)
                return pair, winner, type(late.failure()).__name__, forked

            return work()

    async def main() -> Any:
        async with ActorSystem() as system:
            return await system.spawn(Orchestrator).ask("go")

    assert arun(main()) == ((1, 2), "fast", "TimedOut", "forked")
    assert log == ["loser finalised", "timed out"]


def test_the_first_failure_of_a_gather_cancels_the_rest_under_asyncio(arun):
    log: list[str] = []

    async def main() -> None:
        async with ActorSystem() as system:
            cleanup = pure(None).map(lambda _: log.append("cancelled member finalised"))
            built = gather(sleep(1).ensuring(cleanup), sleep(0.01).then(fail(KeyError("boom"))))
            with pytest.raises(KeyError):
                await system.run(built)

    arun(main())
    assert log == ["cancelled member finalised"]


def test_join_of_a_cancelled_fiber_and_fibers_left_running_are_cancelled(arun):
    log: list[str] = []

    @program
    def main_program() -> Any:
        fiber = yield fork(sleep(10))
        yield fiber.cancel()
        outcome = yield join(fiber).attempt()
        yield fork(sleep(10).ensuring(pure(None).map(lambda _: log.append("orphan finalised"))))
        yield sleep(0.01)
        return type(outcome.failure()).__name__

    async def main() -> Any:
        async with ActorSystem() as system:
            return await system.run(main_program())

    assert arun(main()) == FiberCancelled.__name__
    assert log == ["orphan finalised"]


def test_a_timeout_around_an_ask_fails_with_timed_out(arun):
    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0.2)

    async def main() -> None:
        async with ActorSystem() as system:
            slow = system.spawn(Slow)
            with pytest.raises(TimedOut):
                await system.run(timeout(slow.free_ask("x"), 0.01))

    arun(main())


def test_an_unhandled_user_effect_names_the_asyncio_fix(arun):
    from attrs import frozen

    from playbill import Effect, UnhandledEffect

    @frozen
    class Query(Effect[int]):
        sql: str

    async def main() -> None:
        async with ActorSystem() as system:
            with pytest.raises(UnhandledEffect, match=r"ActorSystem\(handlers=\{Query: "):
                await system.run(perform(Query("select 1")))

    arun(main())
