"""Regression tests for the second adversarial review of the agent layer (issue 12): declared
outputs that are unions, TypedDicts or Protocols; an execute generator missing @program; a
``receive`` inherited from a mixin; effects called from an async execute; ``task_tree`` of
malformed events; an agent aborting its own run; a ref of another system; ``shutdown``'s
timeout checked before it acts."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, TypedDict

import pytest

from playbill import Actor, InvalidArgument, ProgramError, program
from playbill.agents import (
    AgentActor,
    AgentCard,
    AgentSystem,
    StreamEvent,
    StreamResult,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskLink,
    TaskResult,
    TaskStatus,
    ask_agent,
    task_tree,
)
from playbill.agents._values import new_task_event
from tests.agents.support import INTERPRETERS, perform


class MaybeInt(AgentActor[str, int | None]):
    def execute(self, text: str) -> int | None:
        return {"none": None, "five": 5}.get(text, text)  # type: ignore[return-value]


class Row(TypedDict):
    name: str


class RowAgent(AgentActor[object, Row]):
    def execute(self, value: object) -> Row:
        return value  # type: ignore[return-value]


class Named(Protocol):  # not runtime_checkable: isinstance cannot check it
    name: str


class NamedAgent(AgentActor[str, Named]):
    def execute(self, text: str) -> Named:
        return text  # type: ignore[return-value]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
@pytest.mark.parametrize(("text", "expected"), [("five", 5), ("none", None)])
def test_an_output_declared_as_a_union_accepts_each_member(interpreter, text, expected):
    outcome = perform(ask_agent(MaybeInt, text), interpreter)
    assert outcome.error is None
    assert outcome.value == expected


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_output_outside_a_declared_union_fails_naming_the_union(interpreter):
    outcome = perform(ask_agent(MaybeInt, "other"), interpreter)
    assert isinstance(outcome.error, ProgramError)
    assert "int | None" in str(outcome.error)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_typed_dict_output_is_checked_as_a_dict(interpreter):
    assert perform(ask_agent(RowAgent, {"name": "ada"}), interpreter).value == {"name": "ada"}
    outcome = perform(ask_agent(RowAgent, ["ada"]), interpreter)
    assert isinstance(outcome.error, ProgramError)
    assert "Row" in str(outcome.error)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_output_isinstance_cannot_check_is_not_checked(interpreter):
    outcome = perform(ask_agent(NamedAgent, "ada"), interpreter)
    assert outcome.error is None
    assert outcome.value == "ada"


class Forgot(AgentActor[str, str]):
    def execute(self, text: str):  # type: ignore[no-untyped-def]  # the @program is missing
        yield self.progress("working")
        return text


def forgot_function(text: str):  # type: ignore[no-untyped-def]
    yield text


@pytest.mark.parametrize("interpreter", INTERPRETERS)
@pytest.mark.parametrize("agent", [Forgot, forgot_function], ids=["class", "function"])
def test_an_execute_generator_without_program_fails_saying_to_add_it(interpreter, agent):
    outcome = perform(ask_agent(agent, "x"), interpreter)
    assert isinstance(outcome.error, ProgramError)
    assert "@program" in str(outcome.error)
    assert [event.kind for event in outcome.events][-1] is TaskEventKind.FAILED


def test_a_receive_inherited_from_a_mixin_is_refused_naming_the_mixin():
    class Mixin:
        def receive(self, message: object) -> object:
            return message

    with pytest.raises(ProgramError, match=r"overrides receive\(\) \(from .*Mixin\)"):

        class Bad(Mixin, AgentActor[str, str]):  # type: ignore[misc]
            def execute(self, text: str) -> str:
                return text


class AsyncProgress(AgentActor[str, str]):
    async def execute(self, text: str) -> str:
        self.progress("lost")  # a Program, neither yielded nor performable here
        return text


class AsyncGeneratorOfChunks(AgentActor[str, list[object]]):
    async def execute(self, text: str):  # type: ignore[no-untyped-def,override]
        yield self.chunk(text)


@pytest.mark.parametrize(
    ("agent", "says"), [(AsyncProgress, "progress()"), (AsyncGeneratorOfChunks, "a Program")]
)
def test_an_async_execute_performing_an_agent_effect_fails_clearly(arun, agent, says):
    async def main():
        async with AgentSystem() as system:
            run = system.run(agent, "x")
            with pytest.raises(ProgramError) as raised:
                _ = [event async for event in run]
            return raised.value

    error = arun(main())
    assert says in str(error)
    assert "@program" in str(error)


def _event(task_id: object, kind: object = TaskEventKind.STARTED) -> TaskEvent:
    # built unchecked, as the agent layer builds its own (a malformed one gets this far only
    # so: TaskEvent(...) refuses it, see below)
    return new_task_event(kind, task_id, "/app/a", None, None, "r", 0.0, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (_event(None), "task_id None"),
        (_event(["t"]), "task_id"),
        (_event("t", "started"), "kind 'started'"),
    ],
)
def test_task_tree_refuses_a_malformed_event_rather_than_looping(event, says):
    with pytest.raises(InvalidArgument, match=says):
        task_tree([event])


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("started", "t", "/a", None, None, "r", 0.0), "TaskEvent kind must be a TaskEventKind"),
        ((TaskEventKind.STARTED, None, "/a", None, None, "r", 0.0), "TaskEvent task_id"),
        ((TaskEventKind.STARTED, "t", 5, None, None, "r", 0.0), "TaskEvent agent_path"),
        ((TaskEventKind.STARTED, "t", "/a", 1, None, "r", 0.0), "TaskEvent parent_task_id"),
        ((TaskEventKind.STARTED, "t", "/a", None, "", "r", 0.0), "TaskEvent parent_agent_path"),
        ((TaskEventKind.STARTED, "t", "/a", None, None, 7, 0.0), "TaskEvent run_id"),
        ((TaskEventKind.STARTED, "t", "/a", None, None, "r", "now"), "TaskEvent time"),
    ],
)
def test_a_task_event_refuses_parts_of_the_wrong_type(arguments, says):
    with pytest.raises(InvalidArgument, match=says):
        TaskEvent(*arguments)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: TaskResult("t", "completed"), "TaskResult status must be a TaskStatus"),
        (lambda: TaskResult(5, TaskStatus.COMPLETED), "TaskResult task_id must be a str"),
        (lambda: TaskResult("t", TaskStatus.FAILED, error="oops"), "TaskResult error"),
        (lambda: TaskLink(5, "/a"), "TaskLink task_id"),
        (lambda: TaskLink("t", "/a", parent_task_id=3), "TaskLink parent_task_id"),
        (lambda: StreamEvent("x"), "StreamEvent takes the TaskEvent"),
        (lambda: StreamResult("x"), "StreamResult takes the TaskResult"),
    ],
)
def test_the_other_task_values_refuse_parts_of_the_wrong_type(build, says):
    with pytest.raises(InvalidArgument, match=says):
        build()


def test_well_formed_task_values_are_built_as_before():
    event = TaskEvent(TaskEventKind.CHUNK, "t", "/a", "p", "/b", "r", 1, data=[1])
    result = TaskResult("t", TaskStatus.FAILED, error=ValueError("x"))
    assert StreamEvent(event).event is event
    assert StreamResult(result).result is result
    assert TaskLink("t", "/a").parent_task_id is None


def test_task_tree_refuses_a_run_id_that_is_not_a_str():
    with pytest.raises(InvalidArgument, match="run_id"):
        task_tree([_event("t")], run_id=5)  # type: ignore[arg-type]


def test_an_agent_that_aborts_its_own_run_is_cancelled_at_once(arun):
    run_ids: list[str] = []

    class SelfAbort(AgentActor[str, str]):
        async def execute(self, text: str) -> str:
            await system.abort(run_ids[0])
            return "never"

    async def main():
        nonlocal system
        async with AgentSystem() as system:
            run = system.run(SelfAbort, "x")
            run_ids.append(run.run_id)
            started = time.monotonic()
            kinds = [event.kind async for event in run]
            took = time.monotonic() - started
            return kinds, run.status, took, system.actors.children

    system: AgentSystem
    kinds, status, took, left = arun(main())
    assert kinds == [TaskEventKind.STARTED, TaskEventKind.CANCELLED]
    assert status is TaskStatus.CANCELLED
    assert took < 5  # (it deadlocked before: the run waited for its own aborting execute)
    assert left == ()


def test_ask_stream_of_another_systems_agent_is_refused(arun):
    async def main():
        async with AgentSystem("a") as first, AgentSystem("b") as second:
            ref = first.spawn(MaybeInt, "worker")
            with pytest.raises(InvalidArgument, match="another actor system"):
                second.ask_stream(ref, Task("five"))
            return [item async for item in first.ask_stream(ref, Task("five"))][-1]

    assert arun(main()).result.output == 5


class Sleepy(AgentActor[str, str]):
    async def execute(self, text: str) -> str:
        await asyncio.sleep(30)
        return text


@pytest.mark.parametrize("timeout", ["x", -1, None, float("nan")])
def test_shutdown_checks_its_timeout_before_cancelling_anything(arun, timeout):
    async def main():
        async with AgentSystem() as system:
            run = system.run(Sleepy, "x")
            await anext(run)  # started
            with pytest.raises(InvalidArgument, match="shutdown"):
                await system.shutdown(timeout)
            status = run.status
            await run.aclose()
            return status

    assert arun(main()) is TaskStatus.RUNNING


def test_a_plain_actor_may_still_define_receive():
    class Plain(Actor):
        def receive(self, message: object) -> object:
            return message

    assert Plain().receive(1) == 1


def _no_input() -> int:
    return 1


def _two_inputs(first: object, second: object) -> object:
    return first


class ExecuteWithoutInput(AgentActor[str, str]):
    def execute(self) -> str:  # type: ignore[override]
        return "x"


class PlainWithoutInput:
    def execute(self) -> str:
        return "x"


class PlainStatic:
    @staticmethod
    def execute(text: str) -> str:
        return text.upper()


@pytest.mark.parametrize("agent", [_no_input, _two_inputs, ExecuteWithoutInput, PlainWithoutInput])
def test_an_agent_whose_execute_cannot_take_the_input_is_refused_up_front(agent):
    with pytest.raises(InvalidArgument, match="cannot be called with one"):
        ask_agent(agent, "x")


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_static_execute_and_a_callable_instance_still_take_the_input(interpreter):
    class Double:
        def __call__(self, value: int) -> int:
            return value * 2

    assert perform(ask_agent(PlainStatic, "a"), interpreter).value == "A"
    assert perform(ask_agent(Double(), 3), interpreter).value == 6


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"name": 5}, "AgentCard name must be a non-empty str"),
        ({"name": ""}, "AgentCard name must be a non-empty str"),
        ({"name": "x", "description": None}, "AgentCard description must be a str"),
        ({"name": "x", "skills": "abc"}, r"for one skill write \('abc',\)"),
        ({"name": "x", "skills": ("a", 1)}, "AgentCard skills must be a tuple"),
        ({"name": "x", "input_schema": 5}, "AgentCard input_schema must be a JSON Schema"),
        ({"name": "x", "output_schema": "{}"}, "AgentCard output_schema must be a JSON Schema"),
    ],
)
def test_an_agent_card_refuses_parts_of_the_wrong_type(fields, says):
    with pytest.raises(InvalidArgument, match=says):
        AgentCard(**fields)


def test_an_agent_cards_skills_given_as_a_list_are_kept_as_a_tuple():
    card = AgentCard("x", skills=["a", "b"])  # type: ignore[arg-type]
    assert card.skills == ("a", "b")
    assert card == AgentCard("x", skills=("a", "b"))


class Chain(AgentActor[int, int]):
    @program
    def execute(self, depth: int):  # type: ignore[no-untyped-def]
        if depth == 0:
            return 0
        return 1 + (yield ask_agent(Chain, depth - 1))


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_chain_of_agents_deeper_than_the_recursion_limit_completes(interpreter):
    # each asks the next and finishes without waiting: under asyncio the children ran inline,
    # one inside another, and overflowed the stack at ~200 levels
    depth = 1_200
    outcome = perform(ask_agent(Chain, depth), interpreter)
    assert outcome.error is None
    assert outcome.value == depth
    assert len(task_tree(outcome.events)) == 1
    assert outcome.left == ()
