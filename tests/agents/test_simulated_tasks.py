"""Under the simulator, an agent's task that finishes at once (a plain ``execute``, or a
`Pure`) is done in the step that handles its message, as a plain actor's ask is: no fiber of
its own, so no step and no choice point of its own; its ``started`` and ``completed`` events
are published all the same, in place, and replay, tracing and handlers see what they saw.
A task whose ``execute`` is a program runs its first turn in that step too (Schedule v6), so
one that finishes in that turn takes the steps of a plain ask as well."""

from __future__ import annotations

import gc
import pickle
from typing import Any

import attrs
import pytest

from playbill import (
    Actor,
    emit,
    free_ask,
    free_spawn,
    free_stop,
    free_tell,
    now,
    program,
    replay,
    simulate,
    sleep,
)
from playbill.actors import Emitted
from playbill.agents import (
    AgentActor,
    Task,
    TaskEvent,
    TaskEventKind,
    ask_agent,
    sequence_agents,
)
from playbill.agents._agent import _Running
from playbill.effects import EmitStamped, Now
from tests.agents.support import Echo, Plain


class Stepped(AgentActor[Any, Any]):
    """The same output through a program (an @program generator) that finishes in its first
    turn: run in the step that handles its message (Schedule v6), as a plain ask is."""

    @program
    def execute(self, input: Any) -> Any:
        return input
        yield  # pragma: no cover - makes it a generator


class Napping(AgentActor[Any, Any]):
    """The same output through a program that touches the world first (a sleep(0)): its fiber
    waits for the timer, so it takes steps of its own."""

    @program
    def execute(self, input: Any) -> Any:
        yield sleep(0)
        return input


class PlainActor(Actor):
    def receive(self, message: Any) -> Any:
        return message


def asks(actor: type, count: int, wrap: bool) -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(actor, name="echo")
        outputs = []
        for index in range(count):
            reply = yield free_ask(ref, Task(index) if wrap else index)
            outputs.append(reply.output if wrap else reply)
        return outputs

    return main()


def last_step(result: Any) -> int:
    return max(row[0] for row in result.rows)


@pytest.mark.parametrize("agent", [Echo, Plain, Stepped])
def test_a_task_that_finishes_at_once_takes_the_steps_of_a_plain_ask(agent: type) -> None:
    # a generator task that finishes in its first turn included: that turn is the step that
    # handles its message (Schedule v6; v5 gave its message's fiber a step of its own)
    tasks = simulate(asks(agent, 5, wrap=True))
    plain = simulate(asks(PlainActor, 5, wrap=False))
    assert tasks.value == plain.value == [0, 1, 2, 3, 4]
    assert last_step(tasks) == last_step(plain)
    # a task whose program waits on the world (a timer) takes steps of its own, two each:
    # the timer firing, then its fiber's next turn
    napping = simulate(asks(Napping, 5, wrap=True))
    assert napping.value == plain.value
    assert last_step(napping) == last_step(plain) + 2 * 5


def events(result: Any) -> list[Any]:
    return [event.event for event in result.events if type(event) is Emitted]


@pytest.mark.parametrize("trace", [True, False])
@pytest.mark.parametrize("agent", [Echo, Plain])
def test_its_events_and_trace_lines_are_those_of_a_task_run_as_a_program(
    agent: type, trace: bool
) -> None:
    at_once = simulate(asks(agent, 3, wrap=True), trace=trace)
    stepped = simulate(asks(Stepped, 3, wrap=True), trace=trace)
    assert events(at_once) == events(stepped)
    assert [event.kind for event in events(at_once)] == [
        TaskEventKind.STARTED,
        TaskEventKind.COMPLETED,
    ] * 3
    assert [event.task_id for event in events(at_once)] == ["t1", "t1", "t2", "t2", "t3", "t3"]
    emitted = [(line.actor, line.event) for line in at_once.trace_lines(kinds={"emit"})]
    assert emitted == [(line.actor, line.event) for line in stepped.trace_lines(kinds={"emit"})]
    assert len(emitted) == (6 if trace else 0)


def test_a_handler_of_stamped_events_gets_each_of_them() -> None:
    handled: list[Any] = []
    result = simulate(asks(Echo, 2, wrap=True), handlers={EmitStamped: handled.append})
    assert result.value == [0, 1]
    assert [effect.make(0.0).kind for effect in handled] == [
        TaskEventKind.STARTED,
        TaskEventKind.COMPLETED,
    ] * 2


@program
def team() -> Any:
    notes = yield free_spawn(PlainActor, name="notes")
    outputs = yield sequence_agents(
        [ask_agent(Echo, "a"), ask_agent(Plain, "b"), ask_agent(Stepped, "c")]
    )
    yield free_ask(notes, outputs)
    return outputs


@pytest.mark.parametrize("seed", range(5))
def test_a_traced_run_and_an_untraced_one_make_the_same_choices_and_replay(seed: int) -> None:
    traced = simulate(team(), seed=seed)
    untraced = simulate(team(), seed=seed, trace=False)
    assert traced.schedule == untraced.schedule
    assert events(traced) == events(untraced)
    again = replay(team(), str(untraced.schedule))
    assert again.value == ("a", "b", "c")
    assert again.rows == traced.rows


def alive(kind: type, collect: bool = True) -> int:
    if collect:
        gc.collect()
    return sum(1 for each in gc.get_objects() if type(each) is kind)


def test_untraced_the_events_of_tasks_that_finish_at_once_are_made_when_read() -> None:
    before = alive(TaskEvent)
    result = simulate(asks(Echo, 20, wrap=True), trace=False)
    assert result.value == list(range(20))
    assert alive(TaskEvent) == before  # not made: nothing has read them
    made = result.events
    assert alive(TaskEvent) == before + 40
    assert result.events is made  # made once
    assert events(result) == events(simulate(asks(Echo, 20, wrap=True)))


@program
def mixed() -> Any:
    """Tasks that finish at once among other events: a spawn, an emit, a dead letter."""
    echo = yield free_spawn(Echo, name="echo")
    first = yield free_ask(echo, Task("a"))
    yield emit(("between", first.output))
    gone = yield free_spawn(PlainActor, name="gone")
    yield free_stop(gone)
    yield free_tell(gone, "lost")
    second = yield free_ask(echo, Task("b"))
    return second.output


@pytest.mark.parametrize("seed", range(3))
def test_events_made_when_read_are_those_a_traced_run_publishes_in_the_same_order(
    seed: int,
) -> None:
    untraced = simulate(mixed(), seed=seed, trace=False)
    traced = simulate(mixed(), seed=seed)
    assert untraced.events == traced.events
    assert [type(event).__name__ for event in untraced.events] == [
        type(event).__name__ for event in traced.events
    ]
    # the result as a value: compared, shown, copied and pickled with its events
    again = simulate(mixed(), seed=seed, trace=False)
    assert again == untraced
    assert hash(again) == hash(untraced)
    assert "events=(" in repr(simulate(mixed(), seed=seed, trace=False))
    assert attrs.evolve(again, status="failed").events == traced.events
    assert pickle.loads(pickle.dumps(again)).events == traced.events


def test_a_finished_task_leaves_nothing_for_the_collector() -> None:
    # its running record is no reference cycle: freed as the task ends, not when the
    # collector next runs (a run of many tasks made it walk every one of them)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = alive(_Running, collect=False)
        for trace in (True, False):
            result = simulate(asks(Echo, 10, wrap=True), trace=trace)
            assert result.value == list(range(10))
            assert len(result.events) > 20
            assert alive(_Running, collect=False) == before
    finally:
        if enabled:
            gc.enable()


class Chunky(AgentActor[Any, Any]):
    """A task run as a program that streams one chunk (its input) before it returns."""

    @program
    def execute(self, input: Any) -> Any:
        yield self.chunk(input)
        return input


def resumed_effects(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The effects of each `Next` resumed from now on (each a round trip through the turn)."""
    from playbill.effects._machine import Next

    resumed: list[object] = []
    resume = Next.resume

    def counting(self: Next, value: object) -> object:
        resumed.append(self.effect)
        return resume(self, value)

    monkeypatch.setattr(Next, "resume", counting)
    return resumed


def task_events(result: Any) -> list[TaskEvent]:
    return [
        event.event
        for event in result.events
        if isinstance(event, Emitted) and isinstance(event.event, TaskEvent)
    ]


def test_untraced_a_program_tasks_chunks_are_published_inside_its_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # untraced, a message fiber's EmitStamped (a chunk) is performed inside its machine's
    # step (`Machine.perform_in_step`): no Next made and resumed for it
    resumed = resumed_effects(monkeypatch)
    untraced = simulate(asks(Chunky, 3, wrap=True), trace=False)
    assert untraced.value == [0, 1, 2]
    assert [type(effect) for effect in resumed].count(EmitStamped) == 0
    # a traced run performs each as an effect of the fiber (its trace line written): the
    # same events, in the same order
    traced = simulate(asks(Chunky, 3, wrap=True))
    assert [type(effect) for effect in resumed].count(EmitStamped) == 3
    kinds = [event.kind for event in task_events(untraced)]
    assert kinds == [TaskEventKind.STARTED, TaskEventKind.CHUNK, TaskEventKind.COMPLETED] * 3
    assert untraced.events == traced.events


@pytest.mark.parametrize("trace", [True, False])
def test_a_program_tasks_started_and_completed_are_stamped_in_its_turn_with_no_effect(
    monkeypatch: pytest.MonkeyPatch, trace: bool
) -> None:
    # a task run as a program publishes its started and completed events with the cell's
    # stamp (`context._stamp`), in its fiber's turn: no effect performed for either, the
    # same events and trace lines as a handler of EmitStamped sees performed as effects
    resumed = resumed_effects(monkeypatch)
    result = simulate(asks(Stepped, 3, wrap=True), trace=trace)
    assert result.value == [0, 1, 2]
    assert not [effect for effect in resumed if type(effect) is EmitStamped]
    kinds = [event.kind for event in task_events(result)]
    assert kinds == [TaskEventKind.STARTED, TaskEventKind.COMPLETED] * 3
    assert [event.task_id for event in task_events(result)] == ["t1", "t1", "t2", "t2", "t3", "t3"]
    if trace:
        # each written in its fiber's first turn, which is the step that received its
        # message (Schedule v6; the step after it in v5)
        emitted = [(line.step, line.actor) for line in result.trace_lines(kinds={"emit"})]
        received = [line.step for line in result.trace_lines(kinds={"receive"})]
        assert emitted == [
            (step, f"/app/echo#{n}") for n, step in enumerate(received, 1) for _ in "sc"
        ]


class Clocked(AgentActor[Any, Any]):
    """A task run as a program that reads the clock: the output is the input and the time."""

    @program
    def execute(self, input: Any) -> Any:
        when = yield now()
        return (input, when)


@pytest.mark.parametrize("trace", [True, False])
def test_untraced_a_programs_now_is_read_in_its_turn_with_no_pass_through_immediate(
    monkeypatch: pytest.MonkeyPatch, trace: bool
) -> None:
    from playbill.interpreters.simulation._world import _World

    seen: list[object] = []
    immediate = _World.immediate

    def counting(self: _World, fiber: Any, effect: Any, step: Any) -> Any:
        seen.append(effect)
        return immediate(self, fiber, effect, step)

    monkeypatch.setattr(_World, "immediate", counting)
    result = simulate(asks(Clocked, 3, wrap=True), trace=trace)
    assert result.value == [(0, 0.0), (1, 0.0), (2, 0.0)]
    assert [type(effect) for effect in seen].count(Now) == (3 if trace else 0)
    if trace:
        assert len(result.trace_lines(kinds={"now"})) == 3


def test_a_handler_of_now_still_answers_an_untraced_programs_now() -> None:
    result = simulate(asks(Clocked, 2, wrap=True), trace=False, handlers={Now: lambda effect: 7.5})
    assert result.value == [(0, 7.5), (1, 7.5)]
