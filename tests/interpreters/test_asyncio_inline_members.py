"""The members of a gather or race under asyncio are stepped in the waiting program's task:
no task per member, and the semantics of a task per member (cancellation order, finalisers,
fail-fast, nesting, forks, interrupts, shutdown) unchanged."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorStopped,
    ActorSystem,
    Cancelled,
    Program,
    fork,
    free_spawn,
    free_stop,
    gather,
    now,
    program,
    pure,
    race,
    sleep,
)
from playbill.effects import live_actors


class Boom(Exception):
    pass


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Slow(Actor):
    """Replies after ten seconds: an asker waits on it."""

    def receive(self, message: Any) -> Any:
        return sleep(10).then(pure(message))


def note(log: list[str], entry: str) -> Program[None]:
    return pure(None).map(lambda _: log.append(entry))


@program
def fail_soon() -> Any:
    yield sleep(0.01)
    raise Boom("member failed")


async def wait_for_no_leftovers(seconds: float) -> set[asyncio.Task[Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        current = asyncio.current_task()
        left = {task for task in asyncio.all_tasks() if task is not current and not task.done()}
        if not left or loop.time() >= deadline:
            return left
        await asyncio.sleep(0.01)


async def tasks_created(system: ActorSystem, work: Program[Any]) -> tuple[Any, int]:
    """Run ``work`` with ``system.run``; its result and the asyncio tasks created meanwhile."""
    loop = asyncio.get_running_loop()
    created = [0]
    previous = loop.get_task_factory()

    def factory(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
        created[0] += 1
        return asyncio.Task(coro, loop=loop)

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    try:
        result = await system.run(work)
    finally:
        loop.set_task_factory(previous)
    return result, created[0]


def test_a_gather_whose_members_need_no_wait_creates_no_task_for_them(arun):
    async def main() -> None:
        async with ActorSystem("app") as system:
            echo = system.spawn(Echo, "echo")
            _, baseline = await tasks_created(system, pure(None))
            members = [now().then(echo.free_tell(i)).then(pure(i)) for i in range(50)]
            result, created = await tasks_created(system, gather(*members))
            assert result == tuple(range(50))
            assert created == baseline  # a task per member before

    arun(main())


def test_members_that_wait_on_asks_and_sleeps_create_no_task_for_them(arun):
    async def main() -> None:
        async with ActorSystem("app") as system:
            echo = system.spawn(Echo, "echo")
            _, baseline = await tasks_created(system, pure(None))
            members = [echo.free_ask(i) if i % 2 else sleep(0.001).then(pure(i)) for i in range(20)]
            result, created = await tasks_created(system, gather(*members))
            assert result == tuple(range(20))
            won, created_by_race = await tasks_created(
                system, race(sleep(10).then(pure("slow")), echo.free_ask("fast"))
            )
            assert won == "fast"
            assert created == created_by_race == baseline

    arun(main())


def test_race_losers_are_cancelled_in_program_order_and_unwind_before_the_race_returns(arun):
    log: list[str] = []

    async def main() -> Any:
        async with ActorSystem("app") as system:
            slow = system.spawn(Slow, "slow")
            won = race(
                sleep(10).ensuring(note(log, "first loser")),
                slow.free_ask("never").ensuring(sleep(0.01).then(note(log, "second loser"))),
                sleep(0.01).then(pure("winner")),
                sleep(10).ensuring(note(log, "third loser")),
            )
            try:
                return await system.run(won.flat_map(lambda w: note(log, "after").then(pure(w))))
            finally:
                slow.stop(interrupt=True)

    assert arun(main()) == "winner"
    assert log == ["first loser", "third loser", "second loser", "after"]


def test_a_gather_fails_fast_while_a_member_is_blocked_on_an_ask(arun):
    log: list[str] = []

    async def main() -> None:
        async with ActorSystem("app") as system:
            slow = system.spawn(Slow, "slow")
            members = gather(
                slow.free_ask("never", timeout=30).ensuring(note(log, "asker unwound")),
                fail_soon(),
                sleep(10).ensuring(note(log, "sleeper unwound")),
            )
            started = asyncio.get_running_loop().time()
            with pytest.raises(Boom, match="member failed"):
                await system.run(members)
            assert asyncio.get_running_loop().time() - started < 5
            assert log == ["asker unwound", "sleeper unwound"]
            slow.stop(interrupt=True)

    arun(main())


def test_nested_gathers_and_races_in_members_give_their_results_in_order(arun):
    async def main() -> None:
        async with ActorSystem("app") as system:
            echo = system.spawn(Echo, "echo")
            nested = gather(
                gather(pure(1), echo.free_ask(2)),
                race(sleep(10).then(pure("slow")), sleep(0.01).then(pure(3))),
                pure(4),
                gather(),
            )
            assert await system.run(nested) == ((1, 2), 3, 4, ())

    arun(main())


def test_a_failure_deep_in_a_nested_gather_cancels_every_other_member(arun):
    log: list[str] = []

    async def main() -> None:
        async with ActorSystem("app") as system:
            nested = gather(
                gather(sleep(10).ensuring(note(log, "inner sibling")), fail_soon()),
                race(sleep(10).ensuring(note(log, "cousin")), sleep(20)),
            ).ensuring(note(log, "outer"))
            with pytest.raises(Boom):
                await system.run(nested)

    arun(main())
    assert log == ["inner sibling", "cousin", "outer"]


def test_a_member_that_spawned_an_actor_and_is_cancelled_leaves_no_actor(arun):
    @program
    def delegate() -> Any:
        child = yield free_spawn(Slow, "helper")
        return (yield child.free_ask("work").ensuring(free_stop(child, interrupt=True)))

    async def main() -> None:
        async with ActorSystem("app") as system:
            with pytest.raises(Boom):
                await system.run(gather(delegate(), fail_soon()))
            await asyncio.sleep(0.05)
            live = await system.run(live_actors())
            assert [actor.path for actor in live] == []

    arun(main())


@pytest.mark.parametrize("started", [True, False])
def test_fibers_a_member_forked_are_cancelled_before_the_gather_returns(arun, started):
    log: list[str] = []

    @program
    def forks_and_returns() -> Any:
        yield fork(sleep(10).ensuring(sleep(0.01).then(note(log, "fiber unwound"))))
        if started:  # the fiber gets a turn to start
            yield sleep(0.01)
        return "member done"

    async def main() -> Any:
        async with ActorSystem("app") as system:
            return await system.run(
                gather(forks_and_returns(), pure(2)).flat_map(
                    lambda result: note(log, "gather returned").then(pure(result))
                )
            )

    assert arun(main()) == ("member done", 2)
    # cancelled before it started, a fiber never runs (as an asyncio task cancelled then)
    assert log == (["fiber unwound"] if started else []) + ["gather returned"]


def test_interrupting_an_actor_inside_a_gather_runs_the_finalisers_of_every_member(arun):
    log: list[str] = []

    class Busy(Actor):
        def receive(self, message: Any) -> Any:
            return gather(
                sleep(10).ensuring(note(log, "a")),
                gather(sleep(10).ensuring(note(log, "b"))),
            )

    async def main() -> None:
        async with ActorSystem("app") as system:
            busy = system.spawn(Busy, "busy")
            asked = asyncio.ensure_future(busy.ask("work", timeout=30))
            await asyncio.sleep(0.02)
            busy.stop(interrupt=True)
            with pytest.raises(ActorStopped):
                await asyncio.wait_for(asked, 5)

    arun(main())
    assert log == ["a", "b"]


def test_a_member_that_refuses_cancellation_is_abandoned_at_shutdown_and_no_task_remains(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = [False]
    refusals = [0]

    @program
    def stubborn() -> Any:
        while not released[0]:
            try:
                yield sleep(0.01)
            except Cancelled:
                refusals[0] += 1

    async def main() -> set[asyncio.Task[Any]]:
        system = ActorSystem("app")
        system.start()
        running = asyncio.ensure_future(system.run(gather(stubborn(), sleep(10))))
        await asyncio.sleep(0.02)
        try:
            async with asyncio.timeout(3):
                await system.shutdown(timeout=0.2)
            with pytest.raises(asyncio.CancelledError):
                await running
            return await wait_for_no_leftovers(1)
        finally:
            released[0] = True

    with caplog.at_level(logging.ERROR, logger="playbill"):
        left = asyncio.run(main())
    assert refusals[0] >= 1
    assert left == set()
