"""Recording a run under asyncio (``ActorSystem(record=...)``) and replaying it exactly in the
simulator (``replay_recording``)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorSystem,
    InvalidArgument,
    free_spawn,
    gather,
    now,
    program,
    run,
    sleep,
)
from playbill import random as draw_random
from playbill.durable import (
    RecordedMessage,
    Recorder,
    RecordingCorrupted,
    RecordingDivergence,
    read_recording,
    replay_recording,
)

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))
from bank_race import Balance, Courier, two_deposits


class SlowTeller(Actor):
    """Reads, waits, writes: under asyncio both tellers read before either writes."""

    def receive(self, message: Any) -> Any:
        balance, amount = message

        @program
        def deposit() -> Any:
            current = yield balance.free_ask("read")
            yield sleep(0.01)
            yield balance.free_tell(("write", current + amount))
            return "deposited"

        return deposit()


@program
def racy_deposits() -> Any:
    balance = yield free_spawn(Balance, name="balance")
    alice = yield free_spawn(SlowTeller, name="alice")
    bob = yield free_spawn(SlowTeller, name="bob")
    courier = yield free_spawn(Courier, name="courier")
    yield gather(alice.free_ask((balance, 50)), courier.free_ask((bob, (balance, 50))))
    return (yield balance.free_ask("read"))


def _balance_order(result: Any) -> list[str]:
    return [line.event for line in result.trace if line.actor == "/app/balance"]


def test_the_bank_race_recorded_under_asyncio_replays_with_its_outcome(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    assert run(two_deposits(), record=path) == 100
    replayed = replay_recording(two_deposits(), path)
    assert replayed.result.status == "completed"
    assert replayed.result.value == 100
    recorded = [m for m in read_recording(path).messages if m.path == "/app/balance"]
    assert replayed.followed == len(read_recording(path).messages)
    assert [m.sender for m in recorded][:2] == ["/app/alice", "/app/alice"]


def test_a_lost_deposit_under_asyncio_is_lost_again_in_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "lost.jsonl"
    assert run(racy_deposits(), record=path) == 50  # the race happened in production
    replayed = replay_recording(racy_deposits(), path)
    assert replayed.result.value == 50
    senders = [m.sender for m in read_recording(path).messages if m.path == "/app/balance"]
    assert senders[:4] == ["/app/alice", "/app/bob", "/app/alice", "/app/bob"]
    # the replay's schedule replays the same run again, step for step
    from playbill import replay

    again = replay(racy_deposits(), replayed.result.schedule, handlers={})
    assert again.value == 50


class Flaky(Actor):
    def __init__(self) -> None:
        self.seen = 0

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        self.seen += 1
        return self.seen


@program
def supervised() -> Any:
    flaky = yield free_spawn(Flaky, name="flaky")
    first = yield flaky.free_ask("count")
    failed = yield flaky.free_ask("boom").attempt()
    after = yield flaky.free_ask("count")  # a restarted instance counts from zero
    stamp = yield now()
    chance = yield draw_random()
    return first, type(failed.failure()).__name__, after, stamp, chance


def test_a_supervised_failure_and_restart_replays_with_the_recorded_time_and_chance(
    tmp_path: Path,
) -> None:
    path = tmp_path / "restart.jsonl"
    value = run(supervised(), record=path)
    assert value[0] == 1
    assert value[2] == 1
    replayed = replay_recording(supervised(), path)
    assert replayed.result.value == value  # the same time and number, from the recording
    assert any("restart" in line.event for line in replayed.result.trace)


def test_a_changed_program_is_a_divergence_naming_the_step(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    run(two_deposits(), record=path)

    @program
    def changed() -> Any:
        balance = yield free_spawn(Balance, name="balance")
        return (yield balance.free_ask(("write", 7)))

    with pytest.raises(RecordingDivergence, match=r"diverged at step \d+: the recording says"):
        replay_recording(changed(), path)


def test_a_changed_effect_is_a_divergence(tmp_path: Path) -> None:
    path = tmp_path / "time.jsonl"
    run(now(), record=path)
    with pytest.raises(RecordingDivergence, match="main performed Random"):
        replay_recording(draw_random(), path)


def test_a_cut_recording_replays_its_prefix_and_says_where_it_ended(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    run(racy_deposits(), record=path)
    lines = path.read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    # the header, then three messages, each after the line defining its number; then a crash
    # mid-line
    cut.write_text("\n".join(lines[:7]) + '\n{"d":3,"h":"/app/b')
    recording = read_recording(cut)
    assert not recording.complete
    assert len(recording.messages) == 3
    replayed = replay_recording(racy_deposits(), cut)
    assert replayed.followed == 3
    assert "cut short after line 7" in replayed.note
    assert "on its own from step" in replayed.note


def test_a_corrupted_line_before_the_end_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    run(two_deposits(), record=path)
    lines = path.read_text().splitlines()
    lines[2] = "garbage"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordingCorrupted, match="line 3 is not a recording entry"):
        read_recording(path)


def test_bad_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"ActorSystem record must be a file path.*got 42"):
        ActorSystem(record=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="cannot be read"):
        replay_recording(now(), tmp_path / "missing.jsonl")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"hello": 1}) + "\n")
    with pytest.raises(InvalidArgument, match="is not a playbill recording"):
        replay_recording(now(), other)
    with pytest.raises(InvalidArgument, match="takes the Program that was recorded"):
        replay_recording("main", other)  # type: ignore[arg-type]


def test_explore_around_a_recording_finds_the_lost_deposit_the_production_run_missed(
    tmp_path: Path,
) -> None:
    from playbill import explore

    path = tmp_path / "bank.jsonl"
    assert run(two_deposits(), record=path) == 100  # asyncio's order: no race seen
    found = explore(two_deposits, lambda result: result.value == 100, around=path, runs=200)
    assert found.found
    assert found.minimal is not None
    assert found.minimal.value == 50
    with pytest.raises(InvalidArgument, match=r"around=.*strategy='random'"):
        explore(two_deposits, lambda result: True, around=path, strategy="dfs")


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


def crash_copy(
    tmp_path: Path, flush_size: int, body: Callable[[ActorSystem], Awaitable[Any]]
) -> tuple[Any, Path, Path]:
    """Run ``body`` on a system that records to ``run.jsonl``, written by the size bound alone
    (every ``flush_size`` entries; no timer writes), and keep ``crashed.jsonl``, the file as a
    crash right after ``body`` would leave it. Returns body's value and the two paths."""
    path = tmp_path / "run.jsonl"
    crashed = tmp_path / "crashed.jsonl"

    async def main() -> Any:
        recorder = Recorder(path, flush_every=3600, flush_size=flush_size)
        async with ActorSystem("app", record=recorder) as system:
            value = await body(system)
            crashed.write_bytes(path.read_bytes())
        return value

    return asyncio.run(main()), path, crashed


def test_a_crash_loses_only_what_was_noted_after_the_last_write_of_flush_size_entries(
    tmp_path: Path,
) -> None:
    @program
    def told() -> Any:
        counter = yield free_spawn(Counter, name="counter")
        for _ in range(9):
            yield counter.free_tell("tick")
        return (yield counter.free_ask("tock"))

    async def body(system: ActorSystem) -> Any:
        return await system.run(told())

    value, path, crashed = crash_copy(tmp_path, 3, body)  # written every 3 entries
    assert value == 10
    kept = read_recording(crashed)
    assert not kept.complete
    # 10 handled, noted in 11 lines (the first defines their number): written 3 by 3, so the
    # last 2 were noted, not yet written
    assert len(kept.messages) == 8
    replayed = replay_recording(told(), crashed)
    assert replayed.followed == 8
    assert replayed.result.value == 10  # past the prefix, the simulator goes on
    assert len(read_recording(path).messages) == 10  # closed: everything written


def test_runs_of_tells_are_written_at_flush_size_entries_across_batches(tmp_path: Path) -> None:
    # a receiver notes a run of tells from one sender once, when it ends: it still ends each
    # time the recorder holds flush_size entries, in the middle of a batch or not
    async def body(system: ActorSystem) -> Any:
        counter = system.spawn(Counter, name="counter")
        for _ in range(150):  # three batches of the actor's hot loop
            counter.tell("tick")
        return await counter.ask("tock")

    value, path, crashed = crash_copy(tmp_path, 7, body)
    assert value == 151
    # 151 handled, noted in 152 lines (the first defines their number): written 7 by 7, so
    # 147 lines are in the file, the last 5 noted, not yet written
    assert len(read_recording(crashed).messages) == 146
    assert len(read_recording(path).messages) == 151


def test_what_is_noted_is_written_within_flush_every_seconds(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"

    async def main() -> int:
        async with ActorSystem("app", record=Recorder(path, flush_every=0.01)) as system:
            counter = system.spawn(Counter, name="counter")
            counter.tell("tick")
            await counter.ask("tock")
            await asyncio.sleep(0.1)  # a few ticks of the recorder's timer
            return len(read_recording(path).messages)

    assert asyncio.run(main()) == 2


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"flush_size": 0}, "flush_size must be an int >= 1.*got 0"),
        ({"flush_size": 2.5}, "flush_size must be an int >= 1.*got 2.5"),
        ({"flush_size": True}, "flush_size must be an int >= 1.*got True"),
        ({"flush_every": 0}, "flush_every must be a number of seconds > 0, got 0"),
    ],
)
def test_bad_recorder_bounds_are_named(tmp_path: Path, options: Any, named: str) -> None:
    with pytest.raises(InvalidArgument, match=named):
        Recorder(tmp_path / "run.jsonl", **options)


def test_a_recorder_started_with_no_running_loop_writes_each_entry_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.jsonl"
    recorder = Recorder(path)
    recorder.handled("/app/a", "main", "before the start")  # nothing is recording yet
    recorder.start("app")  # no event loop runs here: no timer to write later
    recorder.handled("/app/a", "main", "hi")
    assert [m.kind for m in read_recording(path).messages] == ["str"]
    recorder.close()
    assert read_recording(path).complete


# -- what the hot path notes: the sender of each kind of queued item ----------------------------


class Relay(Actor):
    """Tells ``count`` plain messages to ``target`` from inside its receive (so their sender is
    this actor's path), then answers."""

    def receive(self, message: Any) -> Any:
        target, count = message
        for _ in range(count):
            target.tell("relayed")
        return "relayed"


class Watcher(Actor):
    """Watches the actor it is asked to watch; its ``Terminated`` is noted as the runtime's."""

    def __init__(self) -> None:
        self.notices = 0

    def receive(self, message: Any) -> Any:
        from playbill import Terminated, watch

        if isinstance(message, Terminated):
            self.notices += 1
            return None
        if message == "notices":
            return self.notices
        return watch(message)


@program
def mixed_senders() -> Any:
    from playbill.actors import Bounded, Overflow

    flaky = yield free_spawn(Flaky, name="flaky")
    relay = yield free_spawn(Relay, name="relay")
    bounded = yield free_spawn(Counter, name="bounded", mailbox=Bounded(2, Overflow.DROP_OLDEST))
    watcher = yield free_spawn(Watcher, name="watcher")
    doomed = yield free_spawn(Counter, name="doomed")
    yield flaky.free_tell("a")  # a plain tell from main
    yield relay.free_ask((flaky, 2))  # two plain tells from /app/relay
    yield flaky.free_tell("boom")  # a failure: a restart, with the tells behind it kept
    yield flaky.free_tell("b")
    yield flaky.free_tell("c")
    yield bounded.free_tell("x")  # a bounded mailbox: the sender rides with the message
    yield bounded.free_tell("y")
    yield watcher.free_ask(doomed)
    yield doomed.free_stop()
    yield sleep(0.05)
    notices = yield watcher.free_ask("notices")
    return (yield flaky.free_ask("count")), (yield bounded.free_ask("count")), notices


def test_each_handled_message_is_recorded_with_its_sender_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    value = run(mixed_senders(), record=path)
    assert value == (3, 3, 1)  # the restarted flaky counts b, c and the ask
    messages = read_recording(path).messages
    flaky = [(m.sender, m.kind) for m in messages if m.path == "/app/flaky"]
    assert flaky == [
        ("main", "str"),
        ("/app/relay", "str"),
        ("/app/relay", "str"),
        ("main", "str"),  # boom
        ("main", "str"),
        ("main", "str"),
        ("main", "str"),  # the ask
    ]
    watcher = [(m.sender, m.kind) for m in messages if m.path == "/app/watcher"]
    assert watcher == [("main", "ActorRef"), ("runtime", "Terminated"), ("main", "str")]
    replayed = replay_recording(mixed_senders(), path)
    assert replayed.result.value == value
    assert replayed.followed == len(messages)


class Recursive(Actor):
    """Handles "outer" by calling its own receive with "inner": one message handled."""

    def receive(self, message: Any) -> Any:
        if message == "outer":
            return ("outer", self.receive("inner"))
        return message


def test_a_receive_that_calls_itself_is_one_handled_message(tmp_path: Path) -> None:
    path = tmp_path / "recursive.jsonl"

    @program
    def main() -> Any:
        recursive = yield free_spawn(Recursive, name="recursive")
        return (yield recursive.free_ask("outer"))

    assert run(main(), record=path) == ("outer", "inner")
    assert [m.path for m in read_recording(path).messages] == ["/app/recursive"]
    assert replay_recording(main(), path).result.value == ("outer", "inner")


class Stamping(Actor):
    """Answers each message with the time: a program whose effect's result is noted while
    the actor handles its messages, between two of them."""

    def receive(self, message: Any) -> Any:
        return now()


def test_results_noted_between_handled_messages_count_toward_flush_size(tmp_path: Path) -> None:
    async def body(system: ActorSystem) -> Any:
        stamping = system.spawn(Stamping, name="stamping")
        for _ in range(4):
            stamping.tell("tick")  # handled in one batch: message, result, message, ...
        return await stamping.ask("tock")

    _, path, crashed = crash_copy(tmp_path, 3, body)
    lines = len(path.read_text().splitlines())
    # the header, the line defining the messages' number, 5 messages and their 5 results, the end
    assert lines == 1 + 1 + 10 + 1
    # written each time 3 lines were waiting, never later: 9 of the 11 (the definition, then
    # a message and a result alternating), the last 2 noted, not yet written
    kept = read_recording(crashed)
    assert len(kept.messages) + len(kept.results) == 8


# -- the file format ----------------------------------------------------------------------


def test_a_repeated_message_is_written_as_its_number(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"

    async def main() -> int:
        async with ActorSystem("app", record=path) as system:
            counter = system.spawn(Counter, name="counter")
            for _ in range(1_000):
                counter.tell("tick")
            return int(await counter.ask("tock"))

    assert asyncio.run(main()) == 1_001
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["playbill-recording"] == 2
    assert json.loads(lines[1]) == {"d": 0, "h": "/app/counter", "s": "main", "t": "str"}
    assert lines[2:-1] == ["0"] * 1_001  # each message two bytes of file
    recording = read_recording(path)
    assert recording.complete
    assert len(recording.messages) == 1_001
    assert set(recording.messages) == {RecordedMessage("/app/counter", "main", "str")}


def test_a_version_1_recording_still_reads_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    run(racy_deposits(), record=path)
    numbered = read_recording(path)
    lines = [json.dumps({"playbill-recording": 1, "system": "app"})]
    for message in numbered.messages:
        lines.append(json.dumps({"h": message.path, "s": message.sender, "t": message.kind}))
    lines.append(json.dumps({"end": True}))
    old = tmp_path / "old.jsonl"
    old.write_text("\n".join(lines) + "\n")
    assert read_recording(old).messages == numbered.messages
    assert replay_recording(racy_deposits(), old).result.value == (
        replay_recording(racy_deposits(), path).result.value
    )


def test_a_number_cut_short_by_a_crash_is_not_read_as_another(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    defined = [json.dumps({"d": n, "h": f"/app/a{n}", "s": "main", "t": "str"}) for n in (1, 12)]
    header = json.dumps({"playbill-recording": 2, "system": "app"})
    path.write_text("\n".join([header, *defined, "12", "1"]))  # "12" cut to "1" mid-write
    recording = read_recording(path)
    assert [message.path for message in recording.messages] == ["/app/a12"]
    assert not recording.complete


def test_a_number_never_defined_is_a_corrupted_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    header = json.dumps({"playbill-recording": 2, "system": "app"})
    path.write_text("\n".join([header, "3", json.dumps({"end": True})]) + "\n")
    with pytest.raises(RecordingCorrupted, match="line 2 is not a recording entry: '3'"):
        read_recording(path)
