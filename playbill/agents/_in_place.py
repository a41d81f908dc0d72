"""Agents run in place: a flow's ``actor(AgentClass)`` leaf whose task finishes at once (its
``execute`` returns a plain value) needs no actor of its own when nobody watches the actor
tree. `InPlaceAgents` runs such a leaf in the fiber of the actor running the flow, publishing
the task events the ephemeral child would have published — the same kinds, ids, agent path
(a fresh ``Name$n`` under that actor) and parent links — and hands every other task (a
program, a coroutine, a failure) to a child actor built from the same instance, as before.
Only the asyncio interpreter's cells offer it; the simulator keeps one actor per leaf."""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import Callable, Generator
from typing import Any, final

from playbill.actors import NEVER, Actor, ActorContext, Grain, Router
from playbill.actors._spawning import actor_label
from playbill.agents._agent import (
    _NOT_TASK_FAILURES,
    _NOT_YET,
    AgentActor,
    _perform,
    _Running,
    _task_output,
)
from playbill.agents._values import Task, TaskEvent, TaskEventKind, TaskLink, new_task_event
from playbill.effects import (
    Ask,
    Await,
    Fail,
    Generate,
    Program,
    Pure,
    Suspend,
    free_spawn,
    free_stop,
)

__all__ = ["InPlaceAgents", "in_place_label", "never_in_place", "runs_in_place"]

_STARTED, _COMPLETED = TaskEventKind.STARTED, TaskEventKind.COMPLETED

# each agent class checked: its label (what its unnamed children are called) when its tasks
# may run in place, None when they may not
_ELIGIBLE: weakref.WeakKeyDictionary[type, str | None] = weakref.WeakKeyDictionary()


def in_place_label(factory: object) -> str | None:
    """The label of ``factory``'s children when its tasks may run in place: an `AgentActor`
    class asked the usual way (its own ``flow_ask``), with the default lifecycle hooks, no
    middleware, no stop policy, not a grain nor a router, whose own methods never read
    ``self.context`` (which only an actor has)."""
    if not isinstance(factory, type):
        return None
    try:
        return _ELIGIBLE[factory]
    except KeyError:
        pass
    label: str | None = None
    if (
        issubclass(factory, AgentActor)
        and not issubclass(factory, (Grain, Router))
        and factory.flow_ask.__func__ is AgentActor.flow_ask.__func__  # type: ignore[attr-defined]
        and factory.on_start is Actor.on_start
        and factory.on_stop is Actor.on_stop
        and factory.on_restart is Actor.on_restart
        and not getattr(factory, "middleware", None)
        and factory.stop_policy is NEVER
        and not _reads_context(factory)
    ):
        label = actor_label(factory)
    _ELIGIBLE[factory] = label
    return label


# the agent classes whose program-returning task runs in place too (`runs_in_place`)
_PROGRAMS: weakref.WeakSet[type] = weakref.WeakSet()


def runs_in_place(cls: type) -> None:
    """Run ``cls``'s tasks in place, whatever its ``execute`` returns: a class (MoASystem's
    layers) whose task only runs a flow, built for the `InPlaceAgents` it finds on its
    instance as ``in_place`` (its agents' tasks then name it as their parent, though their
    actors, when they need one, are children of the actor running the flow around it)."""
    _ELIGIBLE[cls] = None
    _PROGRAMS.add(cls)


def never_in_place(cls: type) -> None:
    """Keep ``cls``'s tasks in actors of their own (an agent whose ``execute`` reads its
    actor in ways `in_place_label` cannot see)."""
    _ELIGIBLE[cls] = None


def _reads_context(cls: type) -> bool:
    """Whether a function of ``cls`` or of a class between it and `AgentActor` names
    ``context`` (``self.context``: the actor's context, which a task run in place has not)."""
    for klass in cls.__mro__:
        if klass is AgentActor:
            return False
        for member in vars(klass).values():
            function = getattr(member, "__func__", member)
            code = getattr(function, "__code__", None)
            if code is not None and _names_context(code):
                return True
    return False


def _names_context(code: Any) -> bool:
    if "context" in code.co_names:
        return True
    return any(_names_context(const) for const in code.co_consts if inspect.iscode(const))


class _NeedsActor(Exception):
    """Raised by an in-place instance's context: the task goes to an actor after all."""


@final
class _NoActorYet(ActorContext):
    """The context of an instance whose task runs in place: any use of it sends the task to
    an actor (it is never reached by a class `in_place_label` accepts, short of reaching
    the context other than by name)."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__"):  # (Python's own lookups: doctest's unwrap, copy, repr...)
            return object.__getattribute__(self, name)
        raise _NeedsActor(name)

    self_ref = parent = children = None  # type: ignore[assignment]

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        raise _NeedsActor("spawn")

    def stop(self, *args: Any, **kwargs: Any) -> None:
        raise _NeedsActor("stop")

    def watch(self, *args: Any, **kwargs: Any) -> None:
        raise _NeedsActor("watch")


_NO_ACTOR_YET = _NoActorYet()


@final
class _Built:
    """The factory of a child actor that takes over an instance built already (named after
    its class, as the class's own children are)."""

    def __init__(self, instance: AgentActor[Any, Any], name: str) -> None:
        self.instance = instance
        self.__name__ = name

    def __call__(self) -> AgentActor[Any, Any]:
        return self.instance


@final
class InPlaceAgents:
    """Runs the ``actor(AgentClass)`` leaves of a flow compiled inside the asyncio actor
    whose ``context`` it is given, for the run ``run_id``: each eligible agent's task in
    place when its ``execute`` returns a plain value, else in a child actor (see the module's
    docstring). Give it to ``compile_flow(..., agents=)``."""

    __slots__ = ("fresh_id", "fresh_name", "gate", "path", "run_id", "virtual")

    def __init__(self, context: Any, run_id: str | None) -> None:
        system = context.system
        self.path: str = context.ref.path
        self.run_id = run_id
        self.fresh_id: Callable[[], str] = context.fresh_id
        self.fresh_name: Callable[[], int] = system._fresh  # the numbers of unnamed children
        self.virtual = False  # whether ``path`` names a task run in place, not an actor
        self.gate: Callable[[object], Any] | None = system._event_gate

    def under(self, path: str) -> InPlaceAgents:
        """The site of the agents of a task run in place at ``path`` (`runs_in_place`)."""
        site = object.__new__(InPlaceAgents)
        site.path, site.run_id, site.virtual = path, self.run_id, True
        site.fresh_id, site.fresh_name, site.gate = self.fresh_id, self.fresh_name, self.gate
        return site

    def __call__(self, leaf: Any, value: Any, span: str) -> Program[Any] | None:
        factory = leaf.factory
        label = in_place_label(factory)
        if label is not None:
            return _in_place(self, factory, label, value, span, leaf.ask_timeout)
        if factory in _PROGRAMS:
            return Generate(_program_in_place, (self, factory, value, span), ())
        if self.virtual and isinstance(factory, type) and issubclass(factory, AgentActor):
            # an actor after all, whose task names the task run in place as its parent
            parent = TaskLink(span, self.path, None, None)
            task = Task(value, None, self.run_id, parent)
            instance = factory()
            return _in_actor(instance, actor_label(factory), task, _NOT_YET, leaf.ask_timeout)
        return None


def _in_place(
    site: InPlaceAgents,
    factory: type[AgentActor[Any, Any]],
    label: str,
    value: Any,
    span: str,
    timeout: float | None,
) -> Program[Any]:
    """The leaf's task, performed now: the program giving its output once its events are
    published, or the program of the actor it needs after all."""
    parent = TaskLink(span, site.path, None, None)
    instance = factory()  # (a failure is raised here, as the spawn of the class would)
    if instance.stop_policy is not NEVER or getattr(instance, "middleware", None):
        # chosen per instance: an actor of its own, as ever
        task = Task(value, None, site.run_id, parent)
        return _in_actor(instance, label, task, _NOT_YET, timeout)
    task_id = f"t{site.fresh_id()}"
    task = Task(value, task_id, site.run_id, parent)
    running = _Running(task, task_id, f"{site.path}/{label}${site.fresh_name()}")
    instance.context = _NO_ACTOR_YET
    instance._running = running
    try:
        produced = instance.execute(value)
        if type(produced) is Pure:
            output = produced.value
            instance._check_output(output)
        elif (
            isinstance(produced, Program)
            or inspect.isasyncgen(produced)
            or inspect.isawaitable(produced)
        ):
            output = _NOT_YET  # it waits: an actor performs it, from its 'started' event on
        else:
            output = produced
            instance._check_output(output)
    except _NeedsActor:
        # it reached for the actor's context: the task is an actor's after all, from the start
        _ELIGIBLE[factory] = None
        instance._running = None
        task = Task(value, None, site.run_id, parent)
        return _in_actor(factory(), label, task, _NOT_YET, timeout)
    except BaseException as error:
        if isinstance(error, _NOT_TASK_FAILURES):
            raise
        # a failure is an actor's to report, as ever (its supervisor decides, it is logged)
        produced, output = Fail(error), _NOT_YET
    finally:
        if instance._running is running:
            instance._running = None
    if output is _NOT_YET:
        del instance.context  # (the class's until an actor gives it its own)
        handed = Task(value, None, site.run_id, parent)
        return _in_actor(instance, label, handed, produced, timeout)
    # published as the interpreter publishes an agent's events when nobody subscribes (this
    # runs only then): to the agent layer's gate, waiting while the run's buffer is full
    gate = site.gate
    if gate is None:
        return Pure(output)
    room = gate(_event(running, _STARTED, None))
    if room is not None:
        return Generate(_published, (gate, room, running, output), ())
    room = gate(_event(running, _COMPLETED, output))
    if room is not None:
        return Suspend(Await(room, "the agent layer's event buffer")).map(lambda _: output)
    return Pure(output)


def _event(running: _Running, kind: TaskEventKind, data: object) -> TaskEvent:
    return new_task_event(
        kind,
        running.task_id,
        running.agent_path,
        running.parent_task_id,
        running.parent_agent_path,
        running.run_id,
        time.time(),  # the wall clock, as the interpreter stamps an agent's events
        data,
    )


def _published(
    gate: Callable[[object], Any], room: Any, running: _Running, output: Any
) -> Generator[Any, Any, Any]:
    """The rest of an in-place task's events, once the buffer had room for its start."""
    yield Await(room, "the agent layer's event buffer")
    room = gate(_event(running, _COMPLETED, output))
    if room is not None:
        yield Await(room, "the agent layer's event buffer")
    return output


def _program_in_place(
    site: InPlaceAgents, factory: type[AgentActor[Any, Any]], value: Any, span: str
) -> Generator[Any, Any, Any]:
    """The task of a `runs_in_place` agent, run here: its events published as its actor's
    would be, its program (linked to it) run in this fiber."""
    instance = factory()
    task_id = f"t{site.fresh_id()}"
    task = Task(value, task_id, site.run_id, TaskLink(span, site.path, None, None))
    path = f"{site.path}/{actor_label(factory)}${site.fresh_name()}"
    instance.in_place = site.under(path)  # type: ignore[attr-defined]
    result = yield _perform(instance, task, _Running(task, task_id, path))
    return result.output


def _in_actor(
    instance: AgentActor[Any, Any],
    label: str,
    task: Task[Any],
    produced: Any,
    timeout: float | None,
) -> Program[Any]:
    """A child actor taking over ``instance`` performs ``task``, whose ``execute`` gave
    ``produced`` already (`_NOT_YET`: not called yet), and is stopped whatever happens."""

    instance._handed = (produced,)  # what the actor's first task goes on from

    def ask(ref: Any) -> Program[Any]:
        return (
            Suspend(Ask(ref, task, timeout))
            .ensuring(free_stop(ref, interrupt=True))
            .map(_task_output)
        )

    return free_spawn(_Built(instance, label)).flat_map(ask)
