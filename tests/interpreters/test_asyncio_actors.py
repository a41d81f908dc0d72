"""The asyncio runtime: spawning, telling, asking, stopping, watching, events, lookup."""

import asyncio
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorNotFound,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    InvalidArgument,
    PlaybillError,
    Terminated,
    emit,
    free_spawn,
    free_stop,
    program,
    pure,
    run,
    self_ref,
    sleep,
    watch,
)
from playbill.actors import DeadLetterReason, Emitted, Spawned, Stopped


class Counter(Actor):
    def __init__(self) -> None:
        self.n = 0

    def receive(self, message: Any) -> Any:
        match message:
            case "inc":
                self.n += 1
            case "get":
                return self.n
        return None


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


@program
def count_once() -> Any:
    counter = yield free_spawn(Counter, name="counter")
    yield counter.free_tell("inc")
    return (yield counter.free_ask("get"))


def test_the_issue_example_free_and_direct(arun):
    async def main() -> Any:
        async with ActorSystem("app") as system:
            assert await system.run(count_once()) == 1
            ref = system.get_actor("/app/counter")
            ref.tell("inc")
            return await ref.ask("get")

    assert arun(main()) == 2


def test_the_synchronous_entry_point():
    assert run(count_once()) == 1


def test_receive_may_return_a_program_run_to_completion_before_the_next_message(arun):
    log: list[str] = []

    class Slow(Actor):
        def receive(self, message: Any) -> Any:
            @program
            def handle() -> Any:
                log.append(f"start {message}")
                yield sleep(0.01)
                log.append(f"end {message}")
                return message

            return handle()

    async def main() -> Any:
        async with ActorSystem() as system:
            ref = system.spawn(Slow, "slow")
            ref.tell(1)
            return await ref.ask(2)

    assert arun(main()) == 2
    assert log == ["start 1", "end 1", "start 2", "end 2"]


def test_async_receive_is_accepted_under_asyncio(arun):
    class Awaiting(Actor):
        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0)
            return message * 2

    async def main() -> Any:
        async with ActorSystem() as system:
            return await system.spawn(Awaiting).ask(21)

    assert arun(main()) == 42


def test_one_message_at_a_time_even_when_receive_awaits(arun):
    active = [0]
    most = [0]

    class Careful(Actor):
        async def receive(self, message: Any) -> Any:
            active[0] += 1
            most[0] = max(most[0], active[0])
            await asyncio.sleep(0)
            active[0] -= 1

    async def main() -> None:
        async with ActorSystem() as system:
            ref = system.spawn(Careful)
            for n in range(50):
                ref.tell(n)
            await ref.ask("last")

    arun(main())
    assert most[0] == 1


def test_spawn_inside_an_actor_makes_a_child_with_a_path(arun):
    class Parent(Actor):
        def receive(self, message: Any) -> Any:
            return free_spawn(Echo, name="child").map(lambda ref: ref.path)

    async def main() -> Any:
        async with ActorSystem("app") as system:
            parent = system.spawn(Parent, "parent")
            path = await parent.ask("spawn")
            child = system.get_actor("/app/parent/child")
            assert system.get_actor(path) == child
            assert parent.binding.children == (child,)  # type: ignore[union-attr]
            return await child.ask("hi")

    assert arun(main()) == "hi"


def test_a_duplicate_name_is_refused_and_an_unknown_path_is_not_found(arun):
    async def main() -> None:
        async with ActorSystem("app") as system:
            system.spawn(Echo, "echo")
            with pytest.raises(InvalidArgument, match="already has a child named 'echo'"):
                system.spawn(Echo, "echo")
            with pytest.raises(ActorNotFound, match="no actor at /app/nobody"):
                system.get_actor("/app/nobody")
            with pytest.raises(ActorNotFound, match="not in the actor system"):
                system.get_actor("/other/echo")

    arun(main())


def test_ask_fails_with_the_target_exception(arun):
    class Broken(Actor):
        def receive(self, message: Any) -> Any:
            raise ValueError(f"cannot handle {message}")

    async def main() -> None:
        async with ActorSystem() as system:
            with pytest.raises(ValueError, match="cannot handle x"):
                await system.spawn(Broken).ask("x")

    arun(main())


def test_ask_times_out_with_a_message_naming_target_message_and_fix(arun):
    class Silent(Actor):
        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0.2)

    async def main() -> None:
        async with ActorSystem("app") as system:
            ref = system.spawn(Silent, "silent")
            with pytest.raises(AskTimeout) as caught:
                await ref.ask("ping", timeout=0.05)
            assert str(caught.value) == (
                "ask timed out after 0.05s waiting on /app/silent (message: 'ping'); raise the "
                "timeout or check the actor replies"
            )
            await ref.ask("again", timeout=2)
            assert system.dead_letters.by_reason[DeadLetterReason.LATE_REPLY] == 1

    arun(main())


def test_asks_with_different_timeouts_each_expire_on_time(arun):
    class Silent(Actor):
        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0.3)

    async def main() -> list[str]:
        async with ActorSystem() as system:
            ref = system.spawn(Silent)
            loop = asyncio.get_running_loop()
            start = loop.time()
            expired: list[str] = []

            async def ask(timeout: float) -> None:
                try:
                    await ref.ask(timeout, timeout=timeout)
                except AskTimeout:
                    expired.append(f"{timeout}: {loop.time() - start >= timeout * 0.9}")

            await asyncio.gather(ask(0.2), ask(0.05), ask(0.1))
            ref.stop()
            return expired

    assert arun(main()) == ["0.05: True", "0.1: True", "0.2: True"]


def test_stop_stops_children_first_then_on_stop_and_fails_pending_asks(arun):
    log: list[str] = []

    class Leaf(Actor):
        def on_stop(self) -> None:
            log.append(f"stop {self.context.self_ref.name}")

        def receive(self, message: Any) -> Any:
            return message

    class Node(Actor):
        def on_start(self) -> None:
            self.context.spawn(Leaf, "leaf")

        def on_stop(self) -> None:
            log.append("stop node")

        async def receive(self, message: Any) -> Any:
            await asyncio.sleep(0.05)
            return message

    async def main() -> None:
        async with ActorSystem("app") as system:
            node = system.spawn(Node, "node")
            first = asyncio.ensure_future(node.ask("first"))
            await asyncio.sleep(0.01)  # node is busy with "first"
            queued = asyncio.ensure_future(node.ask("queued"))
            node.tell("told")
            await asyncio.sleep(0)
            node.stop()
            assert await first == "first"  # the current message completes
            with pytest.raises(ActorStopped):
                await queued
            with pytest.raises(ActorStopped, match="/app/node is stopped"):
                await node.ask("later")
            node.tell("after")
            await asyncio.sleep(0.01)
            reasons = system.dead_letters.by_reason
            assert reasons[DeadLetterReason.UNPROCESSED] == 2
            assert reasons[DeadLetterReason.STOPPED] == 2

    arun(main())
    assert log == ["stop leaf", "stop node"]


def test_a_stopped_actor_processes_nothing_more(arun):
    seen: list[int] = []

    class Recorder(Actor):
        def receive(self, message: Any) -> Any:
            seen.append(message)
            if message == 3:
                self.context.stop(self.context.self_ref)

    async def main() -> None:
        async with ActorSystem() as system:
            ref = system.spawn(Recorder)
            for n in range(10):
                ref.tell(n)
            await asyncio.sleep(0.02)
            assert system.dead_letters.count == 6

    arun(main())
    assert seen == [0, 1, 2, 3]


def test_watchers_receive_terminated(arun):
    class Watcher(Actor):
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def receive(self, message: Any) -> Any:
            if isinstance(message, Terminated):
                self.seen.append(message.ref.path)
                return None
            if message == "seen":
                return self.seen
            return watch(message)

    async def main() -> Any:
        async with ActorSystem("app") as system:
            watcher = system.spawn(Watcher, "watcher")
            target = system.spawn(Echo, "target")
            await watcher.ask(target)
            target.stop()
            await asyncio.sleep(0.01)
            gone = system.spawn(Echo, "gone")
            gone.stop()
            await asyncio.sleep(0.01)
            await watcher.ask(gone)  # watching a stopped actor: Terminated at once
            await asyncio.sleep(0.01)
            return await watcher.ask("seen")

    assert arun(main()) == ["/app/target", "/app/gone"]


def test_the_event_stream_carries_lifecycle_and_emitted_events(arun):
    class Emitter(Actor):
        def receive(self, message: Any) -> Any:
            return emit({"got": message})

    async def main() -> list[Any]:
        async with ActorSystem("app") as system:
            events = system.events()
            ref = system.spawn(Emitter, "emitter")
            await ref.ask("hello")
            ref.stop()
            await asyncio.sleep(0.01)
            return events.drain()

    kinds = [(type(event).__name__, event.path) for event in arun(main())]
    assert kinds == [
        ("Spawned", "/app/emitter"),
        ("Emitted", "/app/emitter"),
        ("Stopped", "/app/emitter"),
    ]


def test_the_event_stream_is_an_async_iterator_that_never_blocks_actors(arun):
    async def main() -> tuple[int, list[str]]:
        async with ActorSystem("app") as system:
            events = system.events(buffer=3)
            for n in range(5):
                system.spawn(Echo, f"e{n}")
            await asyncio.sleep(0.01)
            received = []
            async for event in events:
                received.append(event.path)
                if len(received) == 3:
                    break
            return events.dropped, received

    dropped, received = arun(main())
    assert dropped == 2  # counted, and reported once in the log
    assert received == ["/app/e2", "/app/e3", "/app/e4"]


def test_self_ref_inside_an_actor_and_its_absence_at_the_root(arun):
    class Me(Actor):
        def receive(self, message: Any) -> Any:
            return self_ref().map(lambda ref: ref.path)

    async def main() -> None:
        async with ActorSystem("app") as system:
            assert await system.spawn(Me, "me").ask("who") == "/app/me"
            with pytest.raises(InvalidArgument, match=r"self_ref\(\) needs an actor"):
                await system.run(self_ref())

    arun(main())


def test_free_stop_and_a_tell_to_a_stopped_ref_is_a_dead_letter(arun):
    @program
    def main_program() -> Any:
        echo = yield free_spawn(Echo, name="echo")
        yield free_stop(echo)
        yield sleep(0.01)
        yield echo.free_tell("too late")
        return (yield echo.free_ask("too late").recover(lambda e: type(e).__name__))

    async def main() -> Any:
        async with ActorSystem() as system:
            result = await system.run(main_program())
            return result, system.dead_letters.count

    assert arun(main()) == ("ActorStopped", 2)


def test_spawning_something_that_is_not_an_actor_is_refused(arun):
    class NotAnActor:
        pass

    async def main() -> None:
        async with ActorSystem() as system:
            with pytest.raises(InvalidArgument, match="has no receive"):
                system.spawn(NotAnActor)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="actor class or a zero-argument factory"):
                system.spawn(Echo())  # type: ignore[arg-type]

    arun(main())


def test_a_plain_ref_value_refuses_the_direct_api_with_the_fix():
    from playbill import ActorRef

    with pytest.raises(PlaybillError, match=r"use ref.free_tell\(...\) in a program"):
        ActorRef("/app/a").tell("x")


def test_an_unstarted_actor_has_no_context():
    with pytest.raises(PlaybillError, match="was not started by an interpreter"):
        _ = Echo().context.self_ref


def test_a_system_that_is_not_started_says_how_to_start_it():
    with pytest.raises(PlaybillError, match="async with ActorSystem"):
        ActorSystem().spawn(Echo)


def test_user_effect_handlers_may_return_a_value_a_program_or_an_awaitable(arun):
    from attrs import frozen

    from playbill import Effect, perform

    @frozen
    class Lookup(Effect[str]):
        key: str

    async def fetch(key: str) -> str:
        await asyncio.sleep(0)
        return key.upper()

    def handler(effect: Lookup) -> Any:
        if effect.key == "value":
            return "v"
        if effect.key == "program":
            return pure("p")
        return fetch(effect.key)

    async def main() -> Any:
        async with ActorSystem(handlers={Lookup: handler}) as system:
            return await system.run(
                perform(Lookup("value")).zip(perform(Lookup("program"))).zip(Lookup("awaited"))
            )

    assert arun(main()) == (("v", "p"), "AWAITED")


def test_events_are_values_with_path_and_time():
    event = Spawned("/app/a", 1.0)
    assert event == Spawned("/app/a", 1.0)
    assert Stopped("/app/a", 1.0) != event
    assert Emitted("/app/a", 1.0, "x").event == "x"
