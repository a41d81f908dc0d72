"""A task nobody watches (asyncio: no subscriber, no handler of emitted events, no run
consuming its events) skips making its events when execute finishes at once; whatever it
does, it replies, fails and is supervised exactly as a watched one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from playbill import ActorSystem, ProgramError, program, sleep
from playbill.actors import Emitted
from playbill.agents import AgentActor, AgentSystem, Task, TaskEvent
from playbill.agents import _agent as agent_module
from playbill.effects import EmitStamped
from tests.agents.support import Echo, Plain


class Slow(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield sleep(0.001)
        return input


class Failing(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        raise ValueError(f"no {input}")


class Counting(AgentActor[Any, int]):
    def execute(self, input: Any) -> Any:
        return "not an int"


@pytest.fixture
def events_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kinds of the task events made (whoever reads them, if anyone)."""
    made: list[str] = []
    real = agent_module._event

    def counting(running: Any, kind: Any, data: object, time: float) -> TaskEvent:
        made.append(kind.value)
        return real(running, kind, data, time)

    monkeypatch.setattr(agent_module, "_event", counting)
    return made


@pytest.mark.parametrize("agent", [Echo, Plain])
def test_a_task_nobody_watches_makes_no_events(arun, events_made, agent):
    async def main():
        async with AgentSystem("app") as system:
            ref = system.spawn(agent, "echo")
            return await ref.ask(Task(7))

    result = arun(main())
    assert (result.status.value, result.output) == ("completed", 7)
    assert events_made == []


def test_a_subscriber_sees_every_event_of_the_same_task(arun, events_made):
    async def main():
        async with AgentSystem("app") as system:
            ref = system.spawn(Echo, "echo")
            subscription = system.actors.events()
            result = await ref.ask(Task(7))
            seen = [e.event for e in subscription.drain() if type(e) is Emitted]
            subscription.close()
            return result, seen

    result, seen = arun(main())
    assert [event.kind.value for event in seen] == ["started", "completed"]
    assert {event.task_id for event in seen} == {result.task_id}
    assert events_made == ["started", "completed"]


def test_a_handler_of_emitted_events_gets_them(arun):
    handled: list[object] = []

    async def main():
        results = []
        async with AgentSystem("app", handlers={EmitStamped: handled.append}) as system:
            results.append(await system.spawn(Echo, "echo").ask(Task(7)))
        async with ActorSystem("app", handlers={EmitStamped: handled.append}) as actors:
            results.append(await actors.spawn(Echo, "echo").ask(Task(8)))
        return results

    results = arun(main())
    assert [result.output for result in results] == [7, 8]
    assert len(handled) == 4


def test_a_run_sees_its_tasks_events_while_other_asks_go_unwatched(arun, events_made):
    async def main():
        async with AgentSystem("app") as system:
            ref = system.spawn(Echo, "echo")
            await ref.ask(Task(1))
            kinds = [event.kind.value async for event in system.run(Echo, 2)]
            await ref.ask(Task(3))
            return kinds

    kinds = arun(main())
    assert kinds == ["started", "completed"]
    assert events_made == ["started", "completed"]


def test_a_program_that_waits_publishes_its_lifecycle_unwatched_too(arun, events_made):
    async def main():
        async with AgentSystem("app") as system:
            ref = system.spawn(Slow, "slow")
            return await ref.ask(Task(5))

    assert arun(main()).output == 5
    assert events_made == ["started", "completed"]


@pytest.mark.parametrize("watched", [False, True])
def test_a_failure_reaches_the_asker_and_the_supervisor_alike(arun, watched):
    async def main():
        async with AgentSystem("app") as system:
            subscription = system.actors.events() if watched else None
            ref = system.spawn(Failing, "failing")
            with pytest.raises(ValueError, match="no 1") as raised:
                await ref.ask(Task(1))
            with pytest.raises(ValueError, match="no 2"):  # restarted, and failing again
                await ref.ask(Task(2))
            bad = system.spawn(Counting, "counting")
            with pytest.raises(ProgramError, match="declares its output as int"):
                await bad.ask(Task(3))
            seen = []
            if subscription is not None:
                seen = [e.event.kind.value for e in subscription.drain() if type(e) is Emitted]
                subscription.close()
            return raised.value, seen

    error, seen = arun(main())
    assert isinstance(error, ValueError)
    if watched:
        assert seen == ["started", "failed"] * 3


def test_a_task_asked_concurrently_by_many_replies_to_each(arun):
    async def main():
        async with AgentSystem("app") as system:
            ref = system.spawn(Plain, "plain")
            results = await asyncio.gather(*(ref.ask(Task(i)) for i in range(200)))
            return [result.output for result in results], {r.task_id for r in results}

    outputs, ids = arun(main())
    assert outputs == list(range(200))
    assert len(ids) == 200
