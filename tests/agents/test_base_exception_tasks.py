"""A task ended by an exception that derives from `BaseException` but is neither an
`Exception` nor a cancellation (a user's own ``class Halt(BaseException)``) fails: ``started``
then ``failed``, under every interpreter and every form of ``execute``, as any failure does.
Only the process asked to end (``KeyboardInterrupt``, ``SystemExit``) and a generator closed
(``GeneratorExit``) end a task with no terminal event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorSystem,
    Faults,
    free_ask,
    free_spawn,
    now,
    program,
    simulate,
    sleep,
)
from playbill.agents import AgentActor, AgentSystem, Task, TaskEventKind, ask_agent, task_events
from playbill.effects import Await
from tests.agents.support import INTERPRETERS, check_lifecycle, perform


class Halt(BaseException):
    """A user's own: neither an Exception nor a cancellation."""


class PlainHalt(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        raise Halt(f"plain {input}")


class ProgramHalt(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield now()
        raise Halt(f"program {input}")


class ChainHalt(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        def halt(_: float) -> Any:
            raise Halt(f"chain {input}")

        return now().map(halt)


class Lead(AgentActor[Any, Any]):
    """Asks a halting child: both tasks fail, each with its own terminal event."""

    @program
    def execute(self, input: Any) -> Any:
        return (yield ask_agent(ProgramHalt, input))


def _asking(agent: type[AgentActor[Any, Any]]) -> Any:
    @program
    def body() -> Any:
        ref = yield free_spawn(agent, name="agent")
        try:
            yield free_ask(ref, Task("x"))
        except BaseException as error:  # (a MessageFailed naming the Halt)
            failure = repr(error)
        else:  # pragma: no cover - the test fails below
            failure = "no failure"
        yield sleep(0.01)
        return failure

    return body()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
@pytest.mark.parametrize("agent", [PlainHalt, ProgramHalt, ChainHalt])
def test_a_task_ended_by_a_users_base_exception_fails(interpreter: str, agent: type) -> None:
    outcome = perform(_asking(agent), interpreter)
    assert "Halt" in outcome.value
    kinds = [event.kind for event in outcome.events]
    assert kinds == [TaskEventKind.STARTED, TaskEventKind.FAILED]
    failed = outcome.events[-1]
    assert type(failed.data) is Halt
    check_lifecycle(outcome.events)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_nested_tasks_ended_by_a_base_exception_each_fail(interpreter: str) -> None:
    outcome = perform(_asking(Lead), interpreter)
    assert "Halt" in outcome.value
    check_lifecycle(outcome.events)
    terminal = {event.task_id: event.kind for event in outcome.events}
    assert len(terminal) == 2
    assert set(terminal.values()) == {TaskEventKind.FAILED}


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
@pytest.mark.parametrize("agent", [PlainHalt, ProgramHalt, ChainHalt, Lead])
def test_traced_and_untraced_simulations_publish_the_same_failure(
    delivery: str, agent: type
) -> None:
    runs = [
        simulate(_asking(agent), delivery=delivery, seed=3, trace=trace, faults=faults)
        for trace in (True, False)
        for faults in (Faults(), Faults(delay=0.5))
    ]
    kinds = {tuple(event.kind for event in task_events(run.events)) for run in runs}
    assert len(kinds) == 1
    (only,) = kinds
    assert only[-1] is TaskEventKind.FAILED


def test_an_async_execute_ended_by_a_base_exception_fails(arun: Any) -> None:
    class AsyncHalt(AgentActor[Any, Any]):
        async def execute(self, input: Any) -> Any:
            await asyncio.sleep(0)
            raise Halt("async")

    outcome = arun(asyncio.wait_for(_perform_asyncio(AsyncHalt), 20))
    assert "Halt" in outcome.value
    assert [event.kind for event in outcome.events] == [
        TaskEventKind.STARTED,
        TaskEventKind.FAILED,
    ]


async def _perform_asyncio(agent: type) -> Any:
    from tests.agents.support import perform_asyncio

    return await perform_asyncio(_asking(agent))


def test_a_run_ended_by_a_base_exception_delivers_its_events_then_raises(arun: Any) -> None:
    async def main() -> tuple[list[TaskEventKind], BaseException | None]:
        kinds: list[TaskEventKind] = []
        raised: BaseException | None = None
        async with AgentSystem("app") as system:
            try:
                async for event in system.run(ProgramHalt, "x"):
                    kinds.append(event.kind)
            except BaseException as error:
                raised = error
        return kinds, raised

    kinds, raised = arun(asyncio.wait_for(main(), 20))
    assert kinds == [TaskEventKind.STARTED, TaskEventKind.FAILED]
    assert raised is not None
    assert "Halt" in repr(raised) + repr(raised.__cause__)


def test_asyncio_raises_an_awaited_base_exception_into_the_program(arun: Any) -> None:
    """As the machine fails user code that raises one, and the simulator a program: the
    program may catch it where it awaited."""

    async def halting() -> None:
        await asyncio.sleep(0)
        raise Halt("awaited")

    class Catching(Actor):
        @program
        def receive(self, message: Any) -> Any:
            try:
                yield Await(halting(), "halting")
            except Halt as error:
                return f"caught {error}"
            return "not raised"  # pragma: no cover - the test fails

    async def main() -> Any:
        async with ActorSystem("app") as system:
            return await system.spawn(Catching, "catching").ask("go")

    assert arun(asyncio.wait_for(main(), 20)) == "caught awaited"
