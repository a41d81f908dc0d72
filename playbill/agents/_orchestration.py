"""Orchestration as Programs: ask an ephemeral agent, fan out, race, zip and stream — built
from the core effects (spawn, ask, stop, gather, race), so they run under every interpreter
and inside any actor, agent or flow."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from playbill.actors import check_name
from playbill.actors._reports import short
from playbill.agents._agent import agent_class
from playbill.agents._values import Task, TaskResult
from playbill.effects import (
    ActorRef,
    FlatMap,
    InvalidArgument,
    Parallel,
    Program,
    Spawn,
    Suspend,
    gather,
    pure,
    race,
)
from playbill.effects._ask_once import AskThenStop
from playbill.effects._checks import check_iterable
from playbill.effects._vocabulary import _check_timeout

__all__ = [
    "ask_agent",
    "race_agents",
    "sequence_agents",
    "stream_agent",
    "traverse_agents",
    "zip_agents",
]

A = TypeVar("A")
B = TypeVar("B")


def _output(result: TaskResult[A]) -> A:
    return result.output  # type: ignore[return-value]


def _ask_once(spawn: Program[ActorRef], task: Task[Any], timeout: float | None) -> Program[Any]:
    """``spawn``, then ask the child ``task``, then stop it, whatever happens — its work
    interrupted if the ask failed or was cancelled, so no ephemeral child outlives the call —
    and produce the output; built from parts the callers checked (the ref is the spawn's).
    The continuation is an `AskThenStop`, which the asyncio interpreter performs natively."""
    return FlatMap(spawn, AskThenStop(task, timeout, _output))


def _ask_checked(
    agent: object,
    task: Task[Any],
    name: str | None,
    timeout: float | None,
    where: str,
) -> Program[Any]:
    factory = agent_class(agent, where)
    timeout = _check_timeout(where, timeout)
    if name is not None:  # up front, with every rule a name follows ('$' included)
        check_name(name, f"{where} name")
    return _ask_once(Suspend(Spawn(factory, name)), task, timeout)


def ask_agent(
    agent: object, input: object, *, name: str | None = None, timeout: float | None = None
) -> Program[Any]:
    """A program that spawns ``agent`` as an ephemeral child of the current actor, asks it to
    perform ``input`` once, stops it, and produces the output (or raises its failure).

    ``agent`` is an `AgentActor` subclass, a class with ``execute(self, input)`` or a function
    of the input. Inside an agent's ``execute``, the child's task is linked to the running
    task (its events carry it as their parent) and belongs to the same run. ``timeout``
    bounds the ask (``None``: the interpreter's default; ``math.inf``: none).

    >>> from playbill import simulate
    >>> simulate(ask_agent(lambda text: text[::-1], "stressed")).value
    'desserts'
    """
    return _ask_checked(agent, Task(input), name, timeout, "ask_agent()")


def stream_agent(
    agent: object, input: object, *, name: str | None = None, timeout: float | None = None
) -> Program[Any]:
    """`ask_agent`, with every chunk the child streams published on the calling task's behalf
    too, so whoever watches the caller sees them (one level up; outside an agent it is
    `ask_agent`)."""
    return _ask_checked(agent, Task(input, forward_chunks=True), name, timeout, "stream_agent()")


def _members(where: str, programs: Iterable[Program[A]]) -> tuple[Program[A], ...]:
    if isinstance(programs, Program):
        raise InvalidArgument(
            f"{where} takes an iterable of programs, got the single program {programs!r}; "
            "wrap it in a list"
        )
    members = tuple(check_iterable(f"{where} programs", programs))
    for member in members:
        if not isinstance(member, Program):
            raise InvalidArgument(
                f"{where} takes programs such as ask_agent(agent, input), got {short(member)}"
            )
    return members


def sequence_agents(programs: Iterable[Program[A]]) -> Program[tuple[A, ...]]:
    """A program that runs ``programs`` (typically `ask_agent` calls) concurrently and
    produces their results in input order. Fail-fast: the first failure cancels the others
    (each ephemeral child is stopped) and is raised. None gives ``()``.

    >>> from playbill import simulate
    >>> double = lambda n: 2 * n
    >>> simulate(sequence_agents([ask_agent(double, 1), ask_agent(double, 2)])).value
    (2, 4)
    """
    members = _members("sequence_agents()", programs)
    if not members:
        return pure(())
    return gather(*members)


def traverse_agents(agent: object, inputs: Iterable[object]) -> Program[tuple[Any, ...]]:
    """A program that asks a fresh ephemeral ``agent`` for each of ``inputs``, concurrently:
    the outputs in input order, fail-fast like `sequence_agents`.

    >>> from playbill import simulate
    >>> simulate(traverse_agents(str.upper, ["a", "b"])).value
    ('A', 'B')
    """
    factory = agent_class(agent, "traverse_agents()")
    items = tuple(check_iterable("traverse_agents() inputs", inputs))
    if not items:
        return pure(())
    # `ask_agent(agent, item)` for each, its checks made once: one spawn shared by all
    spawn = Suspend(Spawn(factory))
    return Suspend(Parallel(tuple([_ask_once(spawn, Task(item), None) for item in items])))


def race_agents(programs: Iterable[Program[A]]) -> Program[A]:
    """A program that runs ``programs`` concurrently: the first to succeed wins and the others
    are cancelled (their children stopped); if every one fails, the race fails with the last
    failure; a race of none is refused — the rule of Flow's ``race`` and the core's.

    >>> from playbill import simulate
    >>> simulate(race_agents([ask_agent(str.lower, "A"), ask_agent(str.title, "a")])).ok
    True
    """
    members = _members("race_agents()", programs)
    if not members:
        raise InvalidArgument(
            "race_agents() needs at least one program; a race of none has no winner"
        )
    return race(*members)


def zip_agents(first: Program[A], second: Program[B]) -> Program[tuple[A, B]]:
    """A program that runs two programs (typically `ask_agent` calls) concurrently and pairs
    their results; fail-fast like `sequence_agents`.

    >>> from playbill import simulate
    >>> simulate(zip_agents(ask_agent(len, "abc"), ask_agent(str.upper, "x"))).value
    (3, 'X')
    """
    _members("zip_agents()", (first, second))
    return gather(first, second)
