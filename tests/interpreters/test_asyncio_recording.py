"""A recording system (``ActorSystem(record=...)``) is observably the same as an unrecorded
one: what it notes about each message (its sender) never reaches what must see the user's
message — stop policies, dead letters, routing at the send, middleware, asker errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

from playbill import Actor, ActorSystem, OneForOne, free_spawn, program, sleep
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


# -- what a recorded tell queues, and how its receiver notes it ---------------------------------


def test_a_run_of_tells_from_one_sender_carries_the_sender_on_its_first_only() -> None:
    from playbill.interpreters._asyncio._cell import _Ask

    sink = NotedSink()

    async def main() -> list[Any]:
        async with ActorSystem("app", record=sink) as system:
            echo = system.spawn(Echo, name="echo")
            for message in ("a", "b", "c"):
                echo.tell(message)
            asked = echo.ask("d")  # an ask carries its sender ...
            echo.tell("e")  # ... and a tell from the same sender after it does not
            cell = system._resolve(echo)
            assert cell is not None
            queued = [
                (item.message, item.sender) if type(item) is _Ask else item
                for item in cell.mailbox.user
            ]
            await asked
            return queued

    queued = asyncio.run(main())
    assert queued == [("a", "main"), "b", "c", ("d", "main"), "e"]
    assert sink.handled_messages == [("/app/echo", "main", each) for each in "abcde"]


@frozen
class Watch:
    ref: Any


class Log(Actor):
    """Logs the id of each message it handles (its type varies with the id's form); a
    negative id fails (a restart: the mailbox and the log are kept); every fourth waits."""

    def __init__(self, log: list[object]) -> None:
        self.log = log

    def receive(self, message: Any) -> Any:
        from playbill import Terminated, watch

        if type(message) is Watch:
            self.log.append("watch")
            return watch(message.ref)
        if type(message) is Terminated:
            self.log.append("terminated")
            return None
        number = message[0] if type(message) is tuple else int(message)
        self.log.append(number)
        if number < 0:
            raise ValueError(f"failed on {number}")
        if number % 4 == 0:  # a program that waits: what is sent meanwhile queues up
            return sleep(0.001).map(lambda _: number)
        return number


class Sender(Actor):
    """Sends to the log what it is told to, from its own task: a tell, an ask or a send."""

    def receive(self, message: Any) -> Any:
        how, target, payload = message
        if how == "tell":
            target.tell(payload)
        elif how == "ask":
            target.ask(payload)  # (its reply is not awaited)
        else:
            return target.send(payload)
        return None


def _payload(number: int, form: str) -> Any:
    return {"str": str(number), "int": number, "tuple": (number,), "bytes": str(number).encode()}[
        form
    ]


_STEP = st.one_of(
    st.tuples(
        st.sampled_from(["tell", "ask", "send"]),
        st.sampled_from(["main", "/app/one", "/app/two"]),
        st.sampled_from(["str", "int", "tuple", "bytes"]),
        st.just(False),
    ),
    st.tuples(st.just("tell"), st.just("main"), st.just("int"), st.just(True)),  # a failure
    st.just(("pause",)),
    st.just(("stop the watched",)),
)


@settings(deadline=None)
@given(steps=st.lists(_STEP, max_size=60), flush_size=st.sampled_from([1, 3, 64, 10_000]))
def test_each_message_is_recorded_with_its_sender_and_type_in_the_order_handled(
    steps: list[tuple[Any, ...]], flush_size: int
) -> None:
    # tells, asks and sends from three senders interleaved in one mailbox, failures and a
    # Terminated put ahead of the queue: what is recorded is what the actor handled
    import tempfile

    from playbill.durable import Recorder, read_recording

    log: list[object] = []
    sent: dict[object, tuple[str, str]] = {"watch": ("main", "Watch")}
    sent["terminated"] = ("runtime", "Terminated")

    async def main(path: Path) -> None:
        recorder = Recorder(path, flush_every=3600, flush_size=flush_size)
        # (a budget no list of steps exhausts: every failure is a restart, none escalates)
        restarts = OneForOne(max_restarts=len(steps) + 1)
        async with ActorSystem("app", record=recorder, supervision=restarts) as system:
            target = system.spawn(lambda: Log(log), name="log")
            senders = {"/app/one": system.spawn(Sender, name="one")}
            senders["/app/two"] = system.spawn(Sender, name="two")
            watched = system.spawn(Echo, name="watched")
            target.tell(Watch(watched))
            replies = []
            for number, step in enumerate(steps, start=1):
                if step[0] == "pause":
                    await asyncio.sleep(0)
                    continue
                if step[0] == "stop the watched":
                    watched.stop()
                    continue
                how, sender, form, fails = step
                payload = _payload(-number if fails else number, form)
                sent[-number if fails else number] = (sender, type(payload).__name__)
                if sender == "main":
                    if how == "tell":
                        target.tell(payload)
                    elif how == "ask":
                        replies.append(target.ask(payload))
                    else:
                        await target.send(payload)
                else:
                    senders[sender].tell((how, target, payload))
            await asyncio.gather(*replies, return_exceptions=True)
            await target.ask(0)
            sent[0] = ("main", "int")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run.jsonl"
        asyncio.run(main(path))
        recorded = [
            (m.sender, m.kind) for m in read_recording(path).messages if m.path == "/app/log"
        ]
    assert recorded == [sent[each] for each in log]
