"""Under the simulator an agent whose ``execute`` returns a program (an ``@program``
generator, a ``flat_map`` chain) runs it in the step that handles its message, and its task
ends through one frame around that program (`_Running.ended_by_frame`): the lifecycle of its
events, its failures and cancellations, the output check and the agent's running record must
be those of a task run by `_perform` — traced or not, in both delivery modes, with faults
on."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from attrs import frozen

from playbill import (
    Actor,
    Effect,
    Faults,
    free_ask,
    free_spawn,
    gather,
    now,
    perform,
    program,
    replay,
    simulate,
    sleep,
)
from playbill.actors import Emitted
from playbill.agents import (
    AgentActor,
    Task,
    TaskEventKind,
    TaskStatus,
    ask_agent,
    race_agents,
    task_tree,
)
from playbill.effects import Now, ProgramError

STARTED, PROGRESS, COMPLETED = (
    TaskEventKind.STARTED,
    TaskEventKind.PROGRESS,
    TaskEventKind.COMPLETED,
)
FAILED, CANCELLED = TaskEventKind.FAILED, TaskEventKind.CANCELLED
MODES = [
    pytest.param({"trace": True}, id="traced"),
    pytest.param({"trace": False}, id="untraced"),
    pytest.param({"trace": False, "delivery": "per_pair"}, id="per_pair"),
    pytest.param({"trace": True, "delivery": "per_pair"}, id="per_pair-traced"),
]


class Clocked(AgentActor[Any, Any]):
    """Reads the clock and reports progress before it answers."""

    @program
    def execute(self, input: Any) -> Any:
        when = yield now()
        yield self.progress(("at", when))
        return input


class Chained(AgentActor[Any, Any]):
    """A program with no generator: ``now().map(...)``."""

    def execute(self, input: Any) -> Any:
        return now().map(lambda _time: input)


class Broken(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield now()
        raise ValueError(f"broken by {input!r}")


class Counting(AgentActor[Any, int]):
    """Declares an int output and returns a str once the clock is read."""

    @program
    def execute(self, input: Any) -> Any:
        yield now()
        return "not an int"


class Slow(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield sleep(5)
        return "slow"


class Quick(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield now()
        return "quick"


class Lead(AgentActor[Any, Any]):
    """Sends a child task after reading the clock: the child links to this task."""

    @program
    def execute(self, input: Any) -> Any:
        yield now()
        child = yield ask_agent(Clocked, input)
        return ("lead", child)


def kinds(result: Any, path: str | None = None) -> list[TaskEventKind]:
    return [
        each.event.kind
        for each in result.events
        if type(each) is Emitted
        and hasattr(each.event, "kind")
        and (path is None or each.event.agent_path == path)
    ]


def published(result: Any) -> list[tuple[Any, ...]]:
    """The events a run published, failures by their repr (two runs raise equal errors, not
    the same ones)."""
    return [
        (each.path, each.time, each.event.kind, each.event.task_id, repr(each.event.data))
        for each in result.events
        if type(each) is Emitted
    ]


def asked(agent: type, *inputs: Any) -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(agent, name="agent")
        results = []
        for input in inputs:
            results.append((yield free_ask(ref, Task(input))))
        return results

    return main()


@pytest.mark.parametrize("options", MODES)
@pytest.mark.parametrize("agent", [Clocked, Chained])
def test_a_program_task_completes_with_its_lifecycle(agent: type, options: dict[str, Any]) -> None:
    result = simulate(asked(agent, "a", "b"), **options)
    assert [each.output for each in result.value] == ["a", "b"]
    assert {each.status for each in result.value} == {TaskStatus.COMPLETED}
    middle = [PROGRESS] if agent is Clocked else []
    assert kinds(result) == [STARTED, *middle, COMPLETED] * 2


@pytest.mark.parametrize("options", MODES)
def test_a_failing_program_task_publishes_failed_and_fails_its_asker(
    options: dict[str, Any],
) -> None:
    result = simulate(ask_agent(Broken, "x"), **options)
    assert isinstance(result.error, ValueError)
    assert "broken by 'x'" in str(result.error)
    assert kinds(result) == [STARTED, FAILED]
    failed = [each.event for each in result.events if type(each) is Emitted][-1]
    assert isinstance(failed.data, ValueError)


@pytest.mark.parametrize("options", MODES)
def test_a_wrong_output_type_fails_the_task_after_its_program_ran(options: dict[str, Any]) -> None:
    result = simulate(ask_agent(Counting, "x"), **options)
    assert isinstance(result.error, ProgramError)
    assert "declares its output as int" in str(result.error)
    assert kinds(result) == [STARTED, FAILED]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("options", MODES)
def test_a_race_loser_that_started_is_cancelled_with_its_event(
    options: dict[str, Any], seed: int
) -> None:
    result = simulate(race_agents([ask_agent(Slow, 1), ask_agent(Quick, 2)]), seed=seed, **options)
    assert result.value == "quick"
    spans = {
        span.agent_path.rsplit("/", 1)[1].split("$")[0]: span.status
        for root in task_tree([each.event for each in result.events if type(each) is Emitted])
        for span in root.walk()
    }
    assert spans["Quick"] is TaskStatus.COMPLETED
    # the loser is stopped before its task began (no events) or cancelled in its sleep
    assert spans.get("Slow", TaskStatus.CANCELLED) is TaskStatus.CANCELLED


def test_some_seed_cancels_a_race_loser_mid_task() -> None:
    cancelled = [
        seed
        for seed in range(20)
        if CANCELLED
        in kinds(simulate(race_agents([ask_agent(Slow, 1), ask_agent(Quick, 2)]), seed=seed))
    ]
    assert cancelled


@pytest.mark.parametrize("options", MODES)
def test_a_child_sent_after_the_clock_links_to_its_parent(options: dict[str, Any]) -> None:
    result = simulate(ask_agent(Lead, "x"), **options)
    assert result.value == ("lead", "x")
    (root,) = task_tree([each.event for each in result.events if type(each) is Emitted])
    assert [child.agent_path.rsplit("/", 1)[0] for child in root.children] == [root.agent_path]
    assert [span.status for span in root.walk()] == [TaskStatus.COMPLETED] * 2


def test_the_agent_is_free_of_its_task_after_each_ending() -> None:
    seen: list[Any] = []

    class Probe(Actor):
        """Asks each agent, then records whether the agent still holds a running task."""

        @program
        def receive(self, agent: Any) -> Any:
            ref = yield free_spawn(agent, name=agent.__name__)
            with contextlib.suppress(Exception):  # (a failing agent: its record is checked)
                yield free_ask(ref, Task("x"))
            seen.append(ref.binding.instance._running)
            return None

    @program
    def main() -> Any:
        probe = yield free_spawn(Probe, name="probe")
        for agent in (Clocked, Broken, Counting):
            yield free_ask(probe, agent)
        return None

    assert simulate(main()).error is None
    assert seen == [None, None, None]


@pytest.mark.parametrize("seed", range(4))
def test_traced_and_untraced_runs_choose_alike_and_replay_with_faults(seed: int) -> None:
    @program
    def main() -> Any:
        results = []
        for agent in (Clocked, Lead, Chained):
            try:
                results.append((yield ask_agent(agent, seed)))
            except Exception as error:  # (an injected crash)
                results.append(type(error).__name__)
        return results

    faults = Faults(crash=0.2)
    traced = simulate(main(), seed=seed, faults=faults)
    untraced = simulate(main(), seed=seed, faults=faults, trace=False)
    assert traced.schedule == untraced.schedule
    assert traced.value == untraced.value
    assert published(traced) == published(untraced)
    assert replay(main(), str(untraced.schedule)).rows == traced.rows


@frozen
class Llm(Effect[str]):
    """A user effect (a model call, say), answered by a handler of the test's."""

    prompt: str


class Asking(AgentActor[Any, Any]):
    """Publishes progress right after a user handler answers its effect."""

    @program
    def execute(self, input: Any) -> Any:
        answer = yield perform(Llm(input))
        yield self.progress(answer)
        return answer


@program
def two_askers() -> Any:
    return (yield gather(ask_agent(Asking, "a"), ask_agent(Asking, "b")))


def order(result: Any) -> list[str]:
    return [f"{e.event.kind.value} {e.event.task_id}" for e in result.events if type(e) is Emitted]


@pytest.mark.parametrize(
    "handlers",
    [
        pytest.param({Llm: lambda e: e.prompt.upper()}, id="user-effect"),
        pytest.param({Llm: lambda e: e.prompt.upper(), Now: lambda e: 3.0}, id="and-now"),
    ],
)
def test_events_a_handlers_answer_leads_to_are_published_when_a_traced_run_publishes_them(
    handlers: dict[type, Any],
) -> None:
    # a handler's answer runs the task's program on ahead of its fiber's next turn; what it
    # publishes on the way waits for that turn, traced or not, so the orders agree
    differ = []
    for seed in range(30):
        untraced = simulate(two_askers(), seed=seed, trace=False, handlers=handlers)
        traced = simulate(two_askers(), seed=seed, handlers=handlers)
        again = replay(two_askers(), str(untraced.schedule), handlers=handlers)
        assert untraced.schedule == traced.schedule
        if not order(untraced) == order(traced) == order(again):
            differ.append(seed)
    assert differ == []


class Abort(BaseException):
    """A user's own `BaseException`: the task fails with it (test_base_exception_tasks.py)."""


def test_a_task_ended_by_another_base_exception_frees_the_agent() -> None:
    seen: list[Any] = []

    class Aborting(AgentActor[Any, Any]):
        @program
        def execute(self, input: Any) -> Any:
            yield now()
            raise Abort("abort!")

        def on_stop(
            self,
        ) -> None:  # (the failed instance's, before its restart; then the new one's)
            seen.append(self._running)

    @program
    def main() -> Any:
        ref = yield free_spawn(Aborting, name="aborting")
        with contextlib.suppress(BaseException):
            yield free_ask(ref, Task("x"))
        yield sleep(0.01)
        return "done"

    assert simulate(main(), seed=0).value == "done"
    assert seen
    assert seen == [None] * len(seen)
