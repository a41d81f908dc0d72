"""Edge cases of the asyncio runtime: shutdown that times out, inner cancellations,
supervision races, backoff, memory that must not grow."""

import asyncio
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorStopped,
    ActorSystem,
    ActorSystemFailed,
    AllForOne,
    AskTimeout,
    Backoff,
    Bounded,
    Directive,
    FiberCancelled,
    MessageFailed,
    OneForOne,
    Overflow,
    Terminated,
    gather,
    perform,
    program,
    sleep,
)
from playbill.actors import Failed, Restarted


class Stuck(Actor):
    async def receive(self, message: Any) -> Any:
        await asyncio.Event().wait()


def test_a_shutdown_that_times_out_fails_pending_asks_and_dead_letters_what_was_held(arun):
    async def main() -> None:
        system = ActorSystem("app")
        async with system:
            stuck = system.spawn(Stuck, "stuck", mailbox=Bounded(1, Overflow.BLOCK))
            in_flight = asyncio.ensure_future(stuck.ask("in flight", timeout=30))
            await asyncio.sleep(0.01)
            stuck.tell("queued")
            blocked = asyncio.ensure_future(stuck.send("blocked"))
            await asyncio.sleep(0.01)
            await system.shutdown(timeout=0.1)
            with pytest.raises(ActorStopped):
                await in_flight
            await asyncio.wait_for(blocked, 1)
            letters = sorted(str(letter.message) for letter in system.dead_letters.recent)
            assert letters == ["blocked", "in flight", "queued"]

    arun(main())


def test_an_inner_cancellation_in_receive_is_a_supervised_failure(arun):
    class Unlucky(Actor):
        async def receive(self, message: Any) -> Any:
            inner = asyncio.ensure_future(asyncio.sleep(10))
            await asyncio.sleep(0)
            inner.cancel()
            await inner

    async def main() -> list[str]:
        async with ActorSystem("app") as system:
            events = system.events()
            ref = system.spawn(Unlucky, "unlucky")
            # the asker gets MessageFailed, not a CancelledError it would take for its own
            with pytest.raises(MessageFailed) as failure:
                await ref.ask("x")
            assert isinstance(failure.value.__cause__, asyncio.CancelledError)
            await asyncio.sleep(0.01)
            return [type(event).__name__ for event in events.drain()]

    assert arun(main()) == ["Spawned", "Failed", "Restarted"]


def test_an_ask_waiting_for_room_in_a_full_mailbox_still_times_out(arun):
    async def main() -> None:
        async with ActorSystem() as system:
            stuck = system.spawn(Stuck, mailbox=Bounded(1, Overflow.BLOCK))
            stuck.tell("held")
            await asyncio.sleep(0.01)
            stuck.tell("fills the mailbox")
            with pytest.raises(AskTimeout):
                await asyncio.wait_for(stuck.ask("q", timeout=0.1), 1)
            await system.shutdown(timeout=0.1)

    arun(main())


def test_cancelling_system_run_cancels_the_program_and_runs_its_finalisers(arun):
    log: list[str] = []

    @program
    def forever() -> Any:
        try:
            while True:
                yield sleep(0.01)
                log.append("tick")
        finally:
            log.append("finalised")

    async def main() -> None:
        async with ActorSystem() as system:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(system.run(forever()), 0.05)
            ticks = log.count("tick")
            await asyncio.sleep(0.05)
            assert log.count("tick") == ticks  # nothing runs on in the background

    arun(main())
    assert log[-1] == "finalised"


def test_terminated_waits_until_the_supervisor_decided(arun):
    handled: list[str] = []

    class Watcher(Actor):
        def receive(self, message: Any) -> Any:
            if isinstance(message, Terminated):
                handled.append("terminated")
                return None
            if message == "boom":
                raise ValueError("boom")
            self.context.watch(message)
            return None

    class SlowParent(Actor):
        def on_start(self) -> None:
            self.context.spawn(Watcher, "watcher")

        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0.05)  # busy: its decision about the watcher comes later

    async def main() -> list[Any]:
        async with ActorSystem("app") as system:
            events = system.events()
            parent = system.spawn(SlowParent, "parent")
            target = system.spawn(Stuck, "target")
            await asyncio.sleep(0.01)
            watcher = system.get_actor("/app/parent/watcher")
            watcher.tell(target)
            await asyncio.sleep(0.01)
            parent.tell("keep busy")
            await asyncio.sleep(0.005)
            watcher.tell("boom")
            await asyncio.sleep(0.005)
            target.stop()
            await asyncio.sleep(0.15)
            return [type(event).__name__ for event in events.drain() if isinstance(event, Failed)]

    assert arun(main()) == ["Failed"]  # one failure, not a second from a broken instance


def test_concurrent_failures_under_all_for_one_restart_each_child_once(arun):
    class Child(Actor):
        def receive(self, message: Any) -> Any:
            raise ValueError(message)

    class Team(Actor):
        supervision = AllForOne()

        def on_start(self) -> None:
            for name in ("a", "b", "c"):
                self.context.spawn(Child, name)

        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0.05)

    async def main() -> int:
        async with ActorSystem("app") as system:
            events = system.events()
            team = system.spawn(Team, "team")
            await asyncio.sleep(0.01)
            team.tell("busy")
            await asyncio.sleep(0.005)
            system.get_actor("/app/team/a").tell("a fails")
            system.get_actor("/app/team/b").tell("b fails")
            await asyncio.sleep(0.15)
            return sum(isinstance(event, Restarted) for event in events.drain())

    assert arun(main()) == 3


def test_a_stop_during_a_restart_backoff_is_prompt(arun):
    class Fragile(Actor):
        def receive(self, message: Any) -> Any:
            raise ValueError(message)

    async def main() -> float:
        backoff = Backoff(initial=5, jitter=0)
        async with ActorSystem(supervision=OneForOne(backoff=backoff)) as system:
            ref = system.spawn(Fragile)
            ref.tell("boom")
            await asyncio.sleep(0.01)
            loop = asyncio.get_running_loop()
            start = loop.time()
            ref.stop()
            await asyncio.wait_for(ref.binding.terminated(), 1)  # type: ignore[union-attr]
            return loop.time() - start

    assert arun(main()) < 0.5


def test_a_gather_member_cancelled_by_someone_else_fails_the_gather_at_once(arun):
    from attrs import frozen

    from playbill import Effect

    @frozen
    class Fetch(Effect[int]):
        pass

    async def cancelled_io(effect: Fetch) -> int:
        inner = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.sleep(0)
        inner.cancel()
        return await inner  # type: ignore[no-any-return]

    async def main() -> float:
        async with ActorSystem(handlers={Fetch: cancelled_io}) as system:
            loop = asyncio.get_running_loop()
            start = loop.time()
            with pytest.raises((FiberCancelled, asyncio.CancelledError)):
                await system.run(gather(perform(Fetch()), sleep(2)))
            return loop.time() - start

    assert arun(main()) < 1


def test_ask_deadline_queues_are_dropped_once_empty(arun):
    class Echo(Actor):
        def receive(self, message: Any) -> Any:
            return message

    async def main() -> int:
        async with ActorSystem() as system:
            ref = system.spawn(Echo)
            for n in range(50):
                await ref.ask(n, timeout=0.01 + n / 1000)
            await asyncio.sleep(0.1)
            return len(system._deadlines.queues)

    assert arun(main()) == 0


def test_watchers_that_stopped_are_forgotten(arun):
    class Watcher(Actor):
        def receive(self, message: Any) -> Any:
            self.context.watch(message)

    async def main() -> int:
        async with ActorSystem() as system:
            target = system.spawn(Stuck)
            for _ in range(20):
                watcher = system.spawn(Watcher)
                await watcher.ask(target)
                watcher.stop()
            await asyncio.sleep(0.01)
            return len(target.binding.watchers)  # type: ignore[union-attr]

    assert arun(main()) == 0


def test_after_an_escalation_the_system_says_why_it_is_shut_down(arun):
    class Fails(Actor):
        def receive(self, message: Any) -> Any:
            raise ValueError("root cause")

    async def escalate(system: ActorSystem) -> None:
        async with system:
            system.spawn(Fails).tell("x")
            await asyncio.sleep(0.02)
            with pytest.raises(ActorSystemFailed, match="root cause"):
                system.spawn(Fails)

    async def main() -> None:
        system = ActorSystem("app", supervision=OneForOne(lambda e: Directive.ESCALATE))
        with pytest.raises(ActorSystemFailed):
            await escalate(system)

    arun(main())


def test_a_refused_ask_leaves_no_unretrieved_future(arun, caplog):
    async def main() -> None:
        async with ActorSystem() as system:
            stuck = system.spawn(Stuck, mailbox=Bounded(1, Overflow.FAIL))
            stuck.tell("held")
            await asyncio.sleep(0.01)
            stuck.tell("fills")
            from playbill import MailboxFull

            with pytest.raises(MailboxFull):
                await stuck.ask("refused")
            await system.shutdown(timeout=0.05)

    arun(main())
    import gc

    gc.collect()
    assert "never retrieved" not in caplog.text


def test_a_sender_that_gives_up_waiting_for_room_leaves_a_dead_letter(arun):
    async def main() -> int:
        async with ActorSystem() as system:
            stuck = system.spawn(Stuck, mailbox=Bounded(1, Overflow.BLOCK))
            stuck.tell("held")
            await asyncio.sleep(0.01)
            stuck.tell("fills")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(stuck.send("given up"), 0.05)
            await system.shutdown(timeout=0.05)
            return sum(letter.message == "given up" for letter in system.dead_letters.recent)

    assert arun(main()) == 1


def test_a_handler_returning_an_effect_runs_it_in_place_as_every_interpreter_does(arun):
    from attrs import frozen

    from playbill import Effect, now, perform, simulate
    from playbill.effects import Sleep
    from playbill.interpreters import stub

    @frozen
    class Nap(Effect[None]):
        pass

    handlers = {Nap: lambda effect: Sleep(0.0)}
    built = perform(Nap()).then(now()).map(lambda _: "napped")

    async def main() -> Any:
        async with ActorSystem(handlers=handlers) as system:
            return await system.run(perform(Nap()))

    assert arun(main()) is None
    assert stub.run(perform(Nap()), handlers) is None
    assert simulate(built, handlers=handlers).value == "napped"
