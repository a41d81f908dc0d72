"""Schedule v6: under the simulator, the program a ``receive`` returns (an agent's task
included) runs its first turn in the step that handles its message, as asyncio's actor loop
runs such a program at once — no choice point between a message and its program's first
effect. Untraced, a program that only reads the clock and publishes events runs with no fiber
at all. Each behaviour under both delivery modes, traced and untraced, with faults on and off.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from playbill import (
    Actor,
    Faults,
    explore,
    free_spawn,
    gather,
    now,
    program,
    replay,
    simulate,
    sleep,
)
from playbill.actors import Emitted, Failed, Restarted
from playbill.agents import AgentActor, TaskEvent, TaskEventKind, ask_agent, sequence_agents

DELIVERIES = ("causal", "per_pair")
FAULTS = {"nofaults": None, "faults": Faults(crash=0.1, delay=0.1)}
SEEDS = range(4)

modes = pytest.mark.parametrize(
    ("delivery", "faults"),
    [(delivery, faults) for delivery in DELIVERIES for faults in FAULTS],
)
traced = pytest.mark.parametrize("trace", [True, False], ids=["traced", "untraced"])


def options(delivery: str, faults: str, **more: Any) -> dict[str, Any]:
    given: dict[str, Any] = {"delivery": delivery, **more}
    if FAULTS[faults] is not None:
        given["faults"] = FAULTS[faults]
    return given


def shown(events: Any) -> list[str]:
    """Events as they print: a failure compares by its type and message (two runs raise
    equal errors, never the same error object)."""
    return [repr(event) for event in events]


def rows_of(result: Any, actor: str) -> list[tuple[int, str]]:
    return [(step, event) for step, _, who, event in result.rows if who == actor]


def steps_of(result: Any, actor: str, begins: str) -> list[int]:
    """The steps of ``actor``'s trace lines that begin with ``begins``."""
    return [step for step, event in rows_of(result, actor) if event.startswith(begins)]


# -- (a) a program that reads the clock and returns: the choices of a plain-value receive ------


class Doubler(Actor):
    def receive(self, message: Any) -> Any:
        return message * 2


class ClockedDoubler(Actor):
    """The same answer through an @program that reads the clock first."""

    @program
    def receive(self, message: Any) -> Any:
        yield now()
        return message * 2


def fan_out(actor: type, count: int = 3) -> Any:
    @program
    def main() -> Any:
        refs = []
        for index in range(count):
            refs.append((yield free_spawn(actor, name=f"w{index}")))
        return (yield gather(*(ref.free_ask(index) for index, ref in enumerate(refs))))

    return main()


@traced
@modes
def test_a_program_that_reads_the_clock_makes_the_choices_of_a_plain_value_receive(
    delivery: str, faults: str, trace: bool
) -> None:
    for seed in SEEDS:
        given = options(delivery, faults, seed=seed, trace=trace)
        plain = simulate(fan_out(Doubler), **given)
        clocked = simulate(fan_out(ClockedDoubler), **given)
        assert (clocked.status, clocked.value) == (plain.status, plain.value)
        if faults == "nofaults":
            assert clocked.value == (0, 2, 4)
        # the program's first turn is the step that handles its message: no choice point of
        # its own (v5 gave its fiber one, so a run had more choices than the plain one)
        assert len(plain.schedule.choices) > 0
        assert len(clocked.schedule.choices) == len(plain.schedule.choices)
        assert clocked.schedule.choices == plain.schedule.choices
        assert clocked.widths == plain.widths


@modes
def test_traced_the_clock_is_read_in_the_step_that_received_the_message(
    delivery: str, faults: str
) -> None:
    result = simulate(fan_out(ClockedDoubler), **options(delivery, faults, seed=1))
    for index in range(3):
        path = f"/app/w{index}"
        read = steps_of(result, f"{path}#1", "now")
        assert read
        assert read[:1] == steps_of(result, path, "receive")[:1]


# -- (b) a program that asks another actor first: it waits, and replays ------------------------


class Store(Actor):
    def receive(self, message: Any) -> Any:
        return message + 100


class Relay(Actor):
    """Asks the store first, then reads the clock: its program waits for the reply."""

    def __init__(self, store: Any) -> None:
        self.store = store

    @program
    def receive(self, message: Any) -> Any:
        reply = yield self.store.free_ask(message)
        yield now()
        return ("relayed", reply)


@program
def relays() -> Any:
    store = yield free_spawn(Store, name="store")
    first = yield free_spawn(lambda: Relay(store), name="r1")
    second = yield free_spawn(lambda: Relay(store), name="r2")
    return (yield gather(first.free_ask(1), second.free_ask(2), store.free_ask(3)))


@traced
@modes
def test_a_program_that_asks_first_waits_for_the_reply_and_replays_from_its_schedule(
    delivery: str, faults: str, trace: bool
) -> None:
    for seed in SEEDS:
        result = simulate(relays(), **options(delivery, faults, seed=seed, trace=trace))
        if faults == "nofaults":
            assert result.value == (("relayed", 101), ("relayed", 102), 103)
        again = replay(relays(), str(result.schedule), trace=trace)
        assert (again.status, again.value, again.schedule) == (
            result.status,
            result.value,
            result.schedule,
        )
        assert shown(again.events) == shown(result.events)
        # traced and untraced runs make the same choices (the fiber's number is taken either way)
        other = simulate(relays(), **options(delivery, faults, seed=seed, trace=not trace))
        assert (other.schedule, other.value) == (result.schedule, result.value)
        assert shown(other.events) == shown(result.events)
        if trace:
            assert again.rows == result.rows  # the same trace, line by line


@modes
def test_traced_a_relays_ask_is_in_its_receive_step_and_its_reply_follows_the_stores(
    delivery: str, faults: str
) -> None:
    for seed in SEEDS:
        result = simulate(relays(), **options(delivery, faults, seed=seed))
        for relay, sent in (("/app/r1", 1), ("/app/r2", 2)):
            asked = steps_of(result, f"{relay}#1", "ask")
            assert asked
            assert asked[:1] == steps_of(result, relay, "receive")[:1]  # the same step
            if result.status != "completed":
                continue
            answered = steps_of(result, "/app/store", f"reply {sent + 100} to {relay}#")
            replied = steps_of(result, relay, "reply ('relayed'")
            assert answered
            assert replied
            assert answered[0] < replied[0]  # it waited


# -- (c) a program that fails at once ----------------------------------------------------------


class Fragile(Actor):
    """Answers "ping"; any other message fails its program, before its first yield or after
    a `now()`."""

    def __init__(self, after_now: bool) -> None:
        self.after_now = after_now

    @program
    def receive(self, message: Any) -> Any:
        if message == "ping":
            return "pong"
        if self.after_now:
            yield now()
        raise ValueError(f"boom on {message}")


def fragile(after_now: bool) -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(lambda: Fragile(after_now), name="fragile")
        outcome = yield ref.free_ask("x").attempt()
        pong = yield ref.free_ask("ping")  # restarted by its supervisor: it answers again
        error = outcome.failure()
        return type(error).__name__, str(error), pong

    return main()


@pytest.mark.parametrize("after_now", [False, True], ids=["before-first-yield", "after-now"])
@modes
def test_a_program_that_fails_at_once_fails_the_ask_and_reaches_the_supervisor(
    delivery: str, faults: str, after_now: bool
) -> None:
    for seed in SEEDS:
        runs = {
            trace: simulate(fragile(after_now), **options(delivery, faults, seed=seed, trace=trace))
            for trace in (True, False)
        }
        for result in runs.values():
            if faults == "nofaults":
                assert result.value == ("ValueError", "boom on x", "pong")
                failed = [event for event in result.events if type(event) is Failed]
                assert [(event.path, str(event.error), event.directive) for event in failed] == [
                    ("/app/fragile", "boom on x", "RESTART")
                ]
                assert any(type(event) is Restarted for event in result.events)
        traced_run, untraced = runs[True], runs[False]
        assert shown(untraced.events) == shown(traced_run.events)
        assert (untraced.schedule, untraced.value) == (traced_run.schedule, traced_run.value)
        if faults == "nofaults":
            # the failure shows in the step that received its message (v5: a step later)
            rows = rows_of(traced_run, "/app/fragile")
            received = [step for step, event in rows if event == "receive 'x'"]
            failed = [step for step, event in rows if re.match(r"failed ValueError", event)]
            assert len(received) == len(failed) == 1
            assert failed == received


# -- untraced, no fiber while a program only reads the clock and publishes ---------------------


def fiber_labels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The label of every fiber made from now on."""
    from playbill.interpreters._fibers import _Fiber

    made: list[str] = []
    init = _Fiber.__init__

    def counting(self: _Fiber, fiber_id: int, program: Any, label: str) -> None:
        made.append(label)
        init(self, fiber_id, program, label)

    monkeypatch.setattr(_Fiber, "__init__", counting)
    return made


@traced
def test_untraced_a_program_that_only_reads_the_clock_runs_with_no_fiber(
    monkeypatch: pytest.MonkeyPatch, trace: bool
) -> None:
    made = fiber_labels(monkeypatch)
    result = simulate(fan_out(ClockedDoubler), seed=0, trace=trace)
    assert result.value == (0, 2, 4)
    messages = sorted(label for label in made if "#" in label)
    assert messages == ([f"/app/w{index}#1" for index in range(3)] if trace else [])
    # a program that goes on to touch the world gets its fiber there, untraced too
    made.clear()
    assert simulate(relays(), seed=0, trace=False).value[:2] == (("relayed", 101), ("relayed", 102))
    assert sorted(label for label in made if "#" in label) == ["/app/r1#1", "/app/r2#1"]


# -- (d) determinism: a two-agent read-modify-write race is found, shrunk and replayed ---------


class Notes(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message == "read":
            return self.count
        self.count = message
        return None


class Editor(AgentActor[Any, None]):
    @program
    def execute(self, notes: Any) -> Any:
        seen = yield notes.free_ask("read")  # read-modify-write: a race
        yield notes.free_ask(seen + 1)


@program
def two_editors() -> Any:
    notes = yield free_spawn(Notes, name="notes")
    yield sequence_agents([ask_agent(Editor, notes), ask_agent(Editor, notes)])
    return (yield notes.free_ask("read"))


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_explore_finds_the_lost_update_of_two_agents_and_its_replay_reproduces_it(
    delivery: str,
) -> None:
    found = explore(
        two_editors(), lambda result: result.value == 2, runs=300, seed=1, delivery=delivery
    )
    assert found.found
    assert found.minimal is not None
    assert found.minimal.value == 1  # one update lost
    text = str(found.minimal.schedule)
    assert text.startswith("v6")
    again = replay(two_editors(), text)
    assert (again.value, again.rows) == (1, found.minimal.rows)
    assert replay(two_editors(), text, trace=False).value == 1
    # both reads come before either write: the lost update, in the trace
    handled = [event for _, _, actor, event in again.rows if actor == "/app/notes"]
    received = [event for event in handled if event.startswith("receive")]
    assert received[:2] == ["receive 'read'", "receive 'read'"]


@traced
@modes
def test_a_seeded_run_of_the_race_replays_the_same_run(
    delivery: str, faults: str, trace: bool
) -> None:
    for seed in SEEDS:
        result = simulate(two_editors(), **options(delivery, faults, seed=seed, trace=trace))
        again = replay(two_editors(), str(result.schedule), trace=trace)
        assert (again.status, again.value) == (result.status, result.value)
        assert shown(again.events) == shown(result.events)
        assert again.rows == result.rows


# -- (e) an agent run's events, traced or not ------------------------------------------------


class Words(AgentActor[str, int]):
    """Streams each word as a chunk, then answers how many there were."""

    @program
    def execute(self, text: str) -> Any:
        for word in text.split():
            yield self.chunk(word)
        return len(text.split())


class BrokenAtOnce(AgentActor[str, None]):
    def execute(self, text: str) -> Any:
        raise ValueError(f"broken at once: {text}")


class BrokenAfterNow(AgentActor[str, None]):
    @program
    def execute(self, text: str) -> Any:
        yield now()
        raise ValueError(f"broken after now: {text}")


class Lead(AgentActor[str, Any]):
    @program
    def execute(self, text: str) -> Any:
        yield self.progress("counting")
        count = yield ask_agent(Words, text)
        first = yield ask_agent(BrokenAtOnce, text).attempt()
        second = yield ask_agent(BrokenAfterNow, text).attempt()
        yield self.progress(("counted", count))
        yield sleep(0.5)
        return count, str(first.failure()), str(second.failure())


@program
def two_leads() -> Any:
    return (yield gather(ask_agent(Lead, "a b c", name="l1"), ask_agent(Lead, "d e", name="l2")))


@modes
def test_an_agent_runs_events_are_the_same_traced_and_untraced(delivery: str, faults: str) -> None:
    for seed in SEEDS:
        given = options(delivery, faults, seed=seed)
        traced_run = simulate(two_leads(), **given)
        untraced = simulate(two_leads(), trace=False, **given)
        assert shown(untraced.events) == shown(traced_run.events)
        assert (untraced.status, untraced.value, untraced.schedule) == (
            traced_run.status,
            traced_run.value,
            traced_run.schedule,
        )
        if faults == "nofaults":
            assert traced_run.value == (
                (3, "broken at once: a b c", "broken after now: a b c"),
                (2, "broken at once: d e", "broken after now: d e"),
            )
            kinds = {
                event.event.kind
                for event in traced_run.events
                if type(event) is Emitted and isinstance(event.event, TaskEvent)
            }
            assert {
                TaskEventKind.PROGRESS,
                TaskEventKind.CHUNK,
                TaskEventKind.FAILED,
                TaskEventKind.COMPLETED,
            } <= kinds
