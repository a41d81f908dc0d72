"""A recording system (``ActorSystem(record=...)``) is observably the same as an unrecorded
one: what it notes about each message (its sender) never reaches what must see the user's
message — stop policies, dead letters, routing at the send, middleware, asker errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from playbill import Actor, ActorSystem, free_spawn, program, sleep
from playbill.actors import (
    AfterMessage,
    Bounded,
    ConsistentHash,
    Grain,
    Middleware,
    Overflow,
    Pool,
    VirtualActors,
    WithMiddleware,
    grain_ref,
)


class Polite(Actor):
    stop_policy = AfterMessage("bye")

    def receive(self, message: Any) -> Any:
        return f"got {message}"


class Named(Actor):
    """A routee that answers with its own name."""

    def receive(self, message: Any) -> Any:
        from playbill import self_ref

        return self_ref().map(lambda ref: (ref.path.rsplit("/", 1)[-1], message))


@frozen
class SeenTypes(Middleware):
    """Answers what the layers inside answered, with the type of the message it was given."""

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        return (type(message).__name__, proceed(message))


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Slow(Actor):
    def receive(self, message: Any) -> Any:
        return sleep(0.05).map(lambda _: message)


@program
def observed() -> Any:
    polite = yield free_spawn(Polite, name="polite")
    yield polite.free_tell("hello")
    bye = yield polite.free_ask("bye")  # AfterMessage("bye") compares the message itself
    after = yield polite.free_ask("again").attempt()  # stopped: a dead letter
    pool = yield free_spawn(
        Pool(Named, 3, routing=ConsistentHash(lambda message: message[0])), name="pool"
    )
    routed = []
    for key in ("a", "b", "c", "a"):
        routed.append((yield pool.free_ask((key, 1))))
    layered = yield free_spawn(WithMiddleware(Echo, [SeenTypes()]), name="layered")
    seen = yield layered.free_ask("plain")
    full = yield free_spawn(Slow, name="full", mailbox=Bounded(1, Overflow.DROP_NEWEST))
    yield full.free_tell("first")
    yield full.free_tell("second")
    yield full.free_tell("dropped")  # the mailbox is full: a dead letter
    yield sleep(0.2)
    return bye, type(after.failure()).__name__, str(after.failure()), routed, seen


def _run(record: Path | None) -> tuple[Any, list[tuple[Any, str, str]]]:
    async def main() -> tuple[Any, list[tuple[Any, str, str]]]:
        async with ActorSystem("app", record=record) as system:
            value = await system.run(observed())
            letters = [
                (letter.message, letter.recipient, letter.reason.name)
                for letter in system.dead_letters.recent
            ]
        return value, letters

    return asyncio.run(main())


def test_a_recorded_system_gives_the_same_outcome_and_dead_letters_as_an_unrecorded_one(
    tmp_path: Path,
) -> None:
    plain = _run(None)
    recorded = _run(tmp_path / "run.jsonl")
    assert recorded == plain
    value, letters = recorded
    assert value[0] == "got bye"
    assert value[1] == "ActorStopped"
    assert value[4] == ("str", "plain")
    assert ("again", "/app/polite", "STOPPED") in letters
    assert ("dropped", "/app/full", "DROPPED_NEWEST") in letters
    assert all(type(message) in (str, tuple) for message, _, _ in letters)


@pytest.mark.parametrize("record", [False, True])
def test_a_router_s_key_function_sees_the_user_s_message(tmp_path: Path, record: bool) -> None:
    keys: list[object] = []

    def key(message: Any) -> Any:
        keys.append(message)
        return message[0]

    @program
    def main() -> Any:
        pool = yield free_spawn(Pool(Named, 2, routing=ConsistentHash(key)), name="pool")
        yield pool.free_tell(("x", 1))
        return (yield pool.free_ask(("y", 2)))

    async def go() -> Any:
        async with ActorSystem("app", record=tmp_path / "r.jsonl" if record else None) as system:
            return await system.run(main())

    asyncio.run(go())
    assert keys == [("x", 1), ("y", 2)]


class NotedSink:
    """A sink of one's own (any `RecordingSink`): it is told each handled message."""

    def __init__(self) -> None:
        self.handled_messages: list[tuple[str, str, object]] = []

    def start(self, system: str) -> None:
        pass

    def handled(self, path: str, sender: str, message: object) -> None:
        self.handled_messages.append((path, sender, message))

    def reserve(self, context: str) -> int:
        return 0

    def result(
        self, context: str, index: int, effect: object, value: object, error: BaseException | None
    ) -> None:
        pass

    def jitter(self, value: float) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_sink_of_one_s_own_is_told_each_handled_message_with_its_sender() -> None:
    sink = NotedSink()

    async def main() -> None:
        async with ActorSystem("app", record=sink) as system:
            echo = system.spawn(Echo, name="echo")
            echo.tell("one")
            await echo.ask("two")

    asyncio.run(main())
    assert sink.handled_messages == [("/app/echo", "main", "one"), ("/app/echo", "main", "two")]


class Tally(Grain):
    def initial_state(self) -> int:
        return 0

    def receive(self, message: Any) -> Any:
        self.state += message
        return self.state


def test_a_grain_ref_s_messages_are_noted_with_their_sender() -> None:
    # a grain's ref tells the grain's recording cell, which notes the sender (its plain
    # binding's inline tell would queue the bare message: noted as the runtime's)
    sink = NotedSink()

    async def main() -> Any:
        async with ActorSystem("app", record=sink) as system:
            tallies = system.spawn(VirtualActors(Tally, lambda message: "t"), name="tallies")
            tally = grain_ref(tallies, "t")
            tally.tell(1)
            tally.tell(2)
            return await tally.ask(3)

    assert asyncio.run(main()) == 6
    assert sink.handled_messages == [
        ("/app/tallies/t", "main", 1), ("/app/tallies/t", "main", 2), ("/app/tallies/t", "main", 3),
    ]  # fmt: skip
