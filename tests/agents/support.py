"""Run one program under asyncio and under the simulator (both delivery modes), and see what
it produced, the task events it published, and which actors it left behind; and the small
agents several test files share."""

from __future__ import annotations

import asyncio
from typing import Any

from attrs import frozen

from playbill import ActorSystem, Program, pure, simulate
from playbill.actors import Spawned, Stopped
from playbill.agents import AgentActor, TaskEvent, task_events

INTERPRETERS = ["asyncio", "causal", "per_pair"]


class Echo(AgentActor[Any, Any]):
    """Answers with its input as a `Pure` program: a task that finishes at once."""

    def execute(self, input: Any) -> Any:
        return pure(input)


class Plain(AgentActor[Any, Any]):
    """Answers with its input as a plain value: a task that finishes at once, no program."""

    def execute(self, input: Any) -> Any:
        return input


@frozen
class Outcome:
    value: Any
    error: BaseException | None
    events: tuple[TaskEvent, ...]
    left: tuple[str, ...]  # paths of actors still alive when the program ended
    clock: float | None = None  # the simulator's virtual clock at the end (when it says)


def perform(program: Program[Any], interpreter: str, **options: Any) -> Outcome:
    if interpreter == "asyncio":
        return asyncio.run(asyncio.wait_for(perform_asyncio(program), 20))
    result = simulate(program, delivery=interpreter, seed=options.pop("seed", 7), **options)
    assert result.status in ("completed", "failed"), result
    return Outcome(result.value, result.error, task_events(result.events), ())


async def perform_asyncio(program: Program[Any]) -> Outcome:
    """``program`` on a fresh asyncio system: what it produced, its task events, and the
    actors still alive once the stops under way had time to finish."""
    async with ActorSystem("app") as system:
        subscription = system.events(buffer=1_000_000)
        value: Any = None
        error: BaseException | None = None
        try:
            value = await system.run(program)
        except Exception as failure:
            error = failure
        for _ in range(500):  # let the stops under way finish
            if not system.children:
                break
            await asyncio.sleep(0.001)
        left = tuple(ref.path for ref in system.children)
        events = subscription.drain()
    return Outcome(value, error, task_events(events), left)


def lifetimes(events: tuple[object, ...]) -> dict[str, tuple[float, float | None]]:
    """Each actor's spawn and stop time in a simulation's events."""
    spans: dict[str, tuple[float, float | None]] = {}
    for event in events:
        if type(event) is Spawned:
            spans[event.path] = (event.time, None)
        elif type(event) is Stopped and event.path in spans:
            spans[event.path] = (spans[event.path][0], event.time)
    return spans


def check_lifecycle(events: tuple[TaskEvent, ...]) -> None:
    """started first, then progress/chunk, then exactly one terminal event, per task."""
    seen: dict[str, list[str]] = {}
    for event in events:
        seen.setdefault(event.task_id, []).append(event.kind.value)
    for task_id, kinds in seen.items():
        assert kinds[0] == "started", (task_id, kinds)
        assert kinds[-1] in ("completed", "failed", "cancelled"), (task_id, kinds)
        assert all(kind in ("progress", "chunk") for kind in kinds[1:-1]), (task_id, kinds)
