"""`AgentActor`: an actor whose framework-owned ``receive`` runs one `Task` at a time through
``execute``, publishing its lifecycle as `TaskEvent`s; and the progressive API that turns a
function or a plain class into an agent."""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
import typing
import weakref
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, ClassVar, Generic, TypeVar, cast, final

from playbill.actors import Actor
from playbill.actors._reports import short
from playbill.actors._tree import CellContext
from playbill.agents._values import (
    Task,
    TaskEvent,
    TaskEventKind,
    TaskLink,
    TaskResult,
    _TaskEventSlots,
    completed_result,
    new_task_event,
    trusted_task,
)
from playbill.effects import (
    ActorRef,
    Ask,
    Await,
    Cancelled,
    Effect,
    EmitStamped,
    Fail,
    Fork,
    Intercept,
    InvalidArgument,
    Parallel,
    Program,
    ProgramError,
    Pure,
    Race,
    Random,
    SelfRef,
    Settle,
    Suspend,
    Timeout,
    program,
)
from playbill.effects._program import _SuspendSlots, intercept_ending
from playbill.effects._vocabulary import _EmitStampedSlots

__all__ = ["AgentActor", "agent_class", "check_skills", "is_agent"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
A = TypeVar("A")


class _Running:
    """The task an agent is performing: who it is, where its events go, how its children are
    numbered; and, when its ``execute`` returned a program under an interpreter that
    publishes events in place (``context._stamp``, the simulator's), how that program ends
    (`ended_by_frame`)."""

    __slots__ = (
        "_link",
        "agent",
        "agent_path",
        "children",
        "forward",
        "parent",
        "parent_agent_path",
        "parent_task_id",
        "run_id",
        "stamp",
        "task_id",
    )

    def __init__(
        self,
        task: Task[Any],
        task_id: str,
        agent_path: str,
        agent: AgentActor[Any, Any] | None = None,
        stamp: Callable[..., None] | None = None,
    ) -> None:
        # (``agent`` and ``stamp``: given under an interpreter that publishes in place, for
        # `ended_by_frame`)
        self.agent = agent
        self.stamp = stamp
        self.task_id = task_id
        self.agent_path = agent_path
        parent = self.parent = task.parent
        self.parent_task_id = parent.task_id if parent is not None else None
        self.parent_agent_path = parent.agent_path if parent is not None else None
        self.run_id = task.run_id if task.run_id is not None else task_id
        self.forward = task.parent if task.forward_chunks else None
        self._link: TaskLink | None = None
        self.children = 0
        # (no bound ``link_effect`` kept here: it would make each running task a reference
        # cycle, freed only by the collector; a task that finishes at once never needs it)

    def ended_by_frame(self, produced: Program[Any]) -> Program[TaskResult[Any]]:
        """The task whose ``execute`` returned ``produced``, under an interpreter that
        publishes events in place (``stamp``): ``started`` published now, then ``produced``
        with the tasks it sends linked to this one, then its ending (`completed`, `failed`),
        done by the frame that links them (an `Intercept` whose ``on_value`` and
        ``on_error`` end the task), not by a generator wrapped around it (`_perform`), which
        costs a program run of its own (a generator made, resumed and finished) each task."""
        _stamp_lifecycle(self.stamp, self, _STARTED, None)  # type: ignore[arg-type]
        return intercept_ending(produced, self.link_effect, self.completed, self.failed)

    def completed(self, output: Any) -> TaskResult[Any]:
        """`ended_by_frame`'s ending when the program produced ``output``."""
        agent: AgentActor[Any, Any] = self.agent  # type: ignore[assignment]
        if agent._running is self:
            agent._running = None
        try:
            agent._check_output(output)
        except Exception as error:  # a failed task (the intercept's ending is passed)
            self.failed(error)
            raise
        # stamped when published: execute may have taken time
        _stamp_lifecycle(self.stamp, self, _COMPLETED, output)  # type: ignore[arg-type]
        return completed_result(self.task_id, output)

    def failed(self, error: BaseException) -> Program[Any]:
        """`ended_by_frame`'s ending when the program failed with ``error``."""
        agent: AgentActor[Any, Any] = self.agent  # type: ignore[assignment]
        if agent._running is self:
            agent._running = None
        ending = _ending(error)
        if ending is not None:
            _stamp_lifecycle(self.stamp, self, *ending)  # type: ignore[arg-type]
        return Fail(error)

    @property
    def link(self) -> TaskLink:
        """This task as the parent of the tasks it sends (made when one is sent)."""
        link = self._link
        if link is None:
            link = self._link = TaskLink(
                self.task_id, self.agent_path, self.parent_task_id, self.parent_agent_path
            )
        return link

    def link_task(self, task: Task[Any]) -> Task[Any]:
        """``task`` as a child of this one: its parent, run and id filled in."""
        self.children += 1
        return trusted_task(  # (its parts checked already, or made here)
            task.input,
            task.id if task.id is not None else f"{self.task_id}.{self.children}",
            task.run_id if task.run_id is not None else self.run_id,
            self.link,
            task.forward_chunks,
        )

    def link_effect(self, effect: Effect[Any]) -> Effect[Any]:
        """``effect`` of ``execute``, with a `Task` it asks for linked to this one; the members
        of a concurrent effect (gather, race, timeout, fork) run on their own, so they are
        wrapped to be linked the same way."""
        kind = type(effect)
        if kind not in _LINKED:  # an event, a sleep...: most effects of execute, the chunks
            return effect
        if kind is Ask:
            ask: Ask = effect  # type: ignore[assignment]  # (no cast: a call per task)
            message = ask.message
            if type(message) is Task:
                if message.parent is None:
                    return Ask(ask.ref, self.link_task(message), ask.timeout)
                if message.run_id is None:  # linked elsewhere (a flow's span): in this run still
                    # (built directly: attrs.evolve costs several times a Task's own __init__)
                    task = Task(
                        message.input, message.id, self.run_id, message.parent,
                        message.forward_chunks,
                    )  # fmt: skip
                    return Ask(ask.ref, task, ask.timeout)
        elif kind is Parallel:  # (each member linked as `_linked` does, inline: one per child)
            intercept = self.link_effect
            return Parallel(tuple([Intercept(member, intercept) for member in effect.programs]))  # type: ignore[attr-defined]
        elif kind is Race:
            return Race(tuple(_linked(member, self) for member in effect.programs))  # type: ignore[attr-defined]
        elif kind is Settle:
            # the expansion runs in place, under this same intercept: only the members the
            # interpreter runs on their own are wrapped
            settle = cast(Settle, effect)
            members = tuple(_linked(member, self) for member in settle.programs)
            return Settle(members, settle.decide, settle.expansion)
        elif kind is Timeout:
            return Timeout(_linked(effect.program, self), effect.seconds)  # type: ignore[attr-defined]
        elif kind is Fork:
            return Fork(_linked(effect.program, self))  # type: ignore[attr-defined]
        return effect


_CHUNK = TaskEventKind.CHUNK
# the effects `_Running.link_effect` rewrites: an ask (its Task) and the concurrent ones
_LINKED = frozenset({Ask, Parallel, Race, Settle, Timeout, Fork})

# the effects the lifecycle performs, built once (a Suspend yielded is the machine's fast path)
_RANDOM: Program[float] = Suspend(Random())
_SELF: Program[Any] = Suspend(SelfRef())


def _event(running: _Running, kind: TaskEventKind, data: object, time: float) -> TaskEvent:
    """One event of the running task, made with the time the interpreter stamps it with
    (`EmitStamped`: one effect, where the time and then the event would be two). Bound to
    its task, kind and data by `functools.partial`, which is made in C: no frame, no
    ``__init__`` per event; the event is built as `new_task_event` does (inline: one is made
    per chunk)."""
    event = _TaskEventSlots()
    event.kind = kind
    event.task_id = running.task_id
    event.agent_path = running.agent_path
    event.parent_task_id = running.parent_task_id
    event.parent_agent_path = running.parent_agent_path
    event.run_id = running.run_id
    event.time = time
    event.data = data
    event.__class__ = TaskEvent
    return event  # type: ignore[return-value]  # (a TaskEvent now)


@final
class _Forwarded:
    """A chunk of the running task on its parent's behalf (`stream_agent`), stamped alike."""

    __slots__ = ("data", "running")

    def __init__(self, running: _Running, data: object) -> None:
        self.running = running
        self.data = data

    def __call__(self, time: float) -> TaskEvent:
        running = self.running
        forward = running.forward
        assert forward is not None
        return new_task_event(
            TaskEventKind.CHUNK,
            forward.task_id,
            forward.agent_path,
            forward.parent_task_id,
            forward.parent_agent_path,
            running.run_id,
            time,
            self.data,
        )


def _stamped(running: _Running, kind: TaskEventKind, data: object) -> Suspend[None]:
    # built as their plain slots classes, then given their own: EmitStamped's check of its
    # maker is skipped (a partial is callable), and neither pays a class call nor a slot
    # setter's (several a task, one per chunk)
    effect = _EmitStampedSlots()
    effect.make = _partial(_event, running, kind, data)
    effect.__class__ = EmitStamped
    suspend = _SuspendSlots()
    suspend.effect = effect  # type: ignore[assignment]  # (an EmitStamped now)
    suspend.__class__ = Suspend
    return suspend  # type: ignore[return-value]  # (a Suspend now)


_partial = functools.partial


def _publish(running: _Running, kind: TaskEventKind, data: object) -> Program[None]:
    """A program publishing one event (a chunk, under `stream_agent`, the parent's too),
    stamped by the interpreter with its time: one effect, no generator."""
    event: Program[None] = _stamped(running, kind, data)
    if running.forward is not None and kind is TaskEventKind.CHUNK:
        # on the parent's behalf too (stream_agent)
        event = event.then(Suspend(EmitStamped(_Forwarded(running, data))))
    return event


def _chunk(running: _Running, data: object) -> Program[None]:
    return _publish(running, TaskEventKind.CHUNK, data)


def _linked(body: Program[A], running: _Running) -> Program[A]:
    """``body`` with every `Task` it asks for (``ask_agent`` and friends) linked to the
    running task: each of its effects passes through `_Running.link_effect` on its way to the
    interpreter (an `Intercept`, so it runs on every interpreter, and costs one call per
    effect). Concurrent members (gather, race, timeout, fork) are linked the same way."""
    return Intercept(body, running.link_effect)


async def _next_chunk(chunks: AsyncIterator[Any], ran: list[bool]) -> tuple[bool, Any]:
    ran[0] = True  # an interpreter awaited it: the generator may have started
    try:
        return True, await chunks.__anext__()
    except StopAsyncIteration:
        return False, None


@program
def _drain(
    chunks: AsyncIterator[Any], running: _Running, origin: str
) -> Generator[Any, Any, list[Any]]:
    """An async generator's ``execute``: each yield a chunk; the output is the list of them."""
    collected: list[Any] = []
    ran = [False]
    try:
        while True:
            try:
                more, chunk = yield Await(_next_chunk(chunks, ran), origin)
            except ProgramError as refused:
                if ran[0]:
                    raise
                # an interpreter with no event loop (the simulator, the stub) refused it
                raise ProgramError(
                    f"{origin} is an async generator, which only asyncio can run: this "
                    "interpreter has no event loop to iterate it. To stream under every "
                    "interpreter, the simulator included, write execute as an @program "
                    "generator that publishes each item with `yield self.chunk(item)` and "
                    "returns the output (the list of the items, say)"
                ) from refused
            if not more:
                return collected
            if isinstance(chunk, Program):
                raise ProgramError(
                    f"{origin} yielded {short(chunk)}, a Program: an async generator's "
                    "yields are its chunks themselves (yield x, not yield self.chunk(x)); "
                    "to perform effects, write execute as an @program generator"
                )
            yield _chunk(running, chunk)
            collected.append(chunk)
    except GeneratorExit:
        raise
    except BaseException:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None and ran[0]:  # never started: nothing to close
            yield Await(aclose(), origin)
        raise


def _declared_output(cls: type) -> tuple[type | tuple[type, ...] | None, str]:
    """What ``isinstance`` checks of the ``O`` of ``AgentActor[I, O]`` that ``cls`` declares,
    and how to name it: ``list[str]`` checks ``list``, ``int | None`` both, a ``TypedDict``
    ``dict``; ``Any``, a type variable, a ``Literal`` or a ``Protocol`` that is not
    ``runtime_checkable`` nothing. Read once a class, as it is made
    (`AgentActor.__init_subclass__`)."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is AgentActor:
                arguments = typing.get_args(base)
                if len(arguments) != 2:
                    return None, ""
                declared = arguments[1]
                name = getattr(declared, "__name__", None) or repr(declared)
                return _checkable(declared), name
    return None, ""


def _checkable(declared: object) -> type | tuple[type, ...] | None:
    """The class (or classes) ``isinstance`` can check of the type ``declared``, or None."""
    origin = typing.get_origin(declared)
    if origin is typing.Annotated:
        return _checkable(typing.get_args(declared)[0])
    if origin is typing.Union or origin is types.UnionType:
        classes: list[type] = []
        for member in typing.get_args(declared):
            checked = _checkable(member)
            if checked is None:  # (`int | Any`: anything goes)
                return None
            classes.extend(checked if isinstance(checked, tuple) else (checked,))
        return tuple(classes)
    if declared is None:
        return type(None)
    if isinstance(origin, type):
        declared = origin
    if not isinstance(declared, type) or declared is object:
        return None
    if typing.is_typeddict(declared):
        return dict
    try:
        isinstance(None, declared)
    except TypeError:  # (a Protocol that is not runtime_checkable, say)
        return None
    return declared


def check_skills(skills: object, name: str) -> tuple[str, ...]:
    """An agent's ``skills`` as a tuple of non-empty strings, or `InvalidArgument` naming the
    agent and what it got."""
    if not isinstance(skills, (tuple, list)) or not all(
        isinstance(skill, str) and skill for skill in skills
    ):
        hint = f"; for one skill write ({skills!r},)" if isinstance(skills, str) else ""
        whose = name if name.endswith(" skills") else f"the agent {name}'s skills"
        raise InvalidArgument(
            f"{whose} must be a tuple of non-empty strings, got "
            f"{short(skills)} ({type(skills).__name__}){hint}"
        )
    return tuple(skills)


class AgentActor(Actor, Generic[I, O]):
    """An actor that performs `Task`\\ s: override ``execute(self, input)``; the framework
    owns ``receive``, which publishes each task's lifecycle (``started``, then any
    ``progress`` and ``chunk`` events, then exactly one of ``completed``, ``failed``,
    ``cancelled``), links tasks it sends to other agents to its own, and replies with a
    `TaskResult`.

    ``execute`` may return a `Program` (an ``@program`` generator: runs under every
    interpreter, the simulator included), a plain value, a coroutine (``async def``: asyncio
    only) or an async generator (asyncio only: each ``yield`` is a chunk and the output is
    the list of them). Inside it, ``yield self.progress(data)`` and ``yield self.chunk(data)``
    publish events; they are effects, so streaming is deterministic under the simulator.

    A failure of ``execute`` is published (``failed``) and raised, so the agent's supervisor
    decides and the asker gets the error. When ``O`` is a class (``AgentActor[str, int]``),
    an output of another type is such a failure.

    >>> from playbill import program, simulate
    >>> from playbill.agents import ask_agent
    >>> class Shout(AgentActor[str, str]):
    ...     @program
    ...     def execute(self, text):
    ...         yield self.progress("shouting")
    ...         return text.upper()
    >>> simulate(ask_agent(Shout, "hi")).value
    'HI'
    """

    _running: _Running | None = None
    _asynchronous = False  # performing an async execute: progress() and chunk() refuse
    _handed: tuple[Any] | None = None  # what execute gave for the task begun in place
    # the class of ``O`` that `_check_output` checks (None: nothing to check), set for each
    # subclass as it is made
    _declared: ClassVar[Any] = None
    _declared_name: ClassVar[str] = ""
    _path: str | None = None  # this instance's actor path, read at its first task
    _agent_name: ClassVar[str | None] = None  # the class or function a wrapper stands for
    skills: ClassVar[tuple[str, ...]] = ()
    """What the agent can do, for discovery (`find_agents`) and its `AgentCard`."""
    description: ClassVar[str | None] = None
    """Its card's description (``None``: the first paragraph of the class's docstring)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the output type `_check_output` checks, read once (its bases are known by now)
        cls._declared, cls._declared_name = _declared_output(cls)
        if "skills" in cls.__dict__:
            check_skills(cls.__dict__["skills"], cls.__qualname__)
        if "__init__" in cls.__dict__:  # its failure is a ProgramError, as a plain class's
            cls.__init__ = _guarded_init(cls.__dict__["__init__"])  # type: ignore[method-assign]
        if cls.receive is not AgentActor.receive:
            owner = next(k for k in cls.__mro__ if "receive" in k.__dict__)
            raise ProgramError(
                f"{cls.__qualname__} overrides receive() (from {owner.__qualname__}), which "
                "an AgentActor's framework owns (it runs the task's lifecycle and publishes "
                "its events); override "
                "execute(self, input) instead, or subclass playbill.Actor for a plain actor"
            )

    def execute(self, input: I) -> Any:
        """Perform one task's ``input``: return the output, or a `Program` producing it."""
        raise NotImplementedError(
            f"{type(self).__name__} must override execute(self, input), returning the output "
            "or a Program (an @program generator) producing it"
        )

    @classmethod
    def flow_ask(
        cls, ref: ActorRef, input: object, span: str, timeout: float | None
    ) -> Program[Any]:
        """How a flow's ``actor(cls)`` leaf asks this agent (``playbill.flow.actor``): a
        `Task` of ``input`` whose parent is the flow node's ``span`` (and the actor running
        the flow), so the task's events nest under it; the output, or the task's failure."""
        parent_path = ref.path.rsplit("/", 1)[0] or "/"
        task = Task(input, parent=TaskLink(span, parent_path, None, None))
        return Suspend(Ask(ref, task, timeout)).map(_task_output)

    def progress(self, data: object = None) -> Program[None]:
        """A program that publishes a ``progress`` event of the running task."""
        return _publish(self._need_running("progress"), TaskEventKind.PROGRESS, data)

    def chunk(self, data: object) -> Program[None]:
        """A program that publishes a ``chunk`` of the running task's streamed output (and,
        under `stream_agent`, the same chunk on the calling task's behalf)."""
        running = self._running
        if running is None or running.forward is not None or self._asynchronous:
            # (checked, or stream_agent's)
            return _chunk(self._need_running("chunk"), data)
        # the common case, `_stamped` inlined: one is made per chunk streamed, and the call
        # cost ~0.9K instructions a chunk (of ~19K; cachegrind)
        effect = _EmitStampedSlots()
        effect.make = _partial(_event, running, _CHUNK, data)
        effect.__class__ = EmitStamped
        suspend = _SuspendSlots()
        suspend.effect = effect  # type: ignore[assignment]  # (an EmitStamped now)
        suspend.__class__ = Suspend
        return suspend  # type: ignore[return-value]  # (a Suspend now)

    @property
    def task(self) -> TaskLink:
        """The running task: its id and agent path, and its parent's."""
        return self._need_running("task").link

    def _need_running(self, where: str) -> _Running:
        running = self._running
        if self._asynchronous:
            raise ProgramError(
                f"{self._name()}.{where}() was called in an async execute, which cannot "
                "perform it (a Program is yielded from an @program execute, not awaited); "
                f"write execute as an @program generator: yield self.{where}(...), and ask "
                "other agents with yield ask_agent(...), linked to this task and explorable "
                "by the simulator"
                + (
                    "; or as an async generator yielding each chunk itself"
                    if where == "chunk"
                    else ""
                )
            )
        if running is None:
            raise InvalidArgument(
                f"{type(self).__name__}.{where}() was called outside execute(); it publishes "
                "an event of the running task, so call it while execute() runs (yield "
                f"self.{where}(...) inside an @program execute)"
            )
        return running

    def receive(self, message: Any) -> Any:  # the framework's: see __init_subclass__
        if type(message) is not Task:
            raise InvalidArgument(
                f"{self._name()} takes Task messages, got {short(message)}; send "
                "Task(input), or use ask_agent(agent, input) or system.run(agent, input), "
                "which wrap the input for you"
            )
        handed = self._handed
        if handed is not None:  # its first task, begun in place (`InPlaceAgents`)
            self._handed = None
            return _perform(self, message, None, handed[0])
        context = self.context
        stamp = context._stamp
        if stamp is not None:  # (the simulator's: its events published in place)
            return _perform_at_once(self, message, cast(CellContext, context), stamp)
        if context._unobserved(message.run_id):
            return _perform_at_once(self, message, context, None)  # type: ignore[arg-type]
        return _perform(self, message)

    def _name(self) -> str:
        return self._agent_name or type(self).__qualname__

    def _check_output(self, output: object) -> None:
        if type(output) is types.GeneratorType:
            raise ProgramError(
                f"{self._name()}.execute returned a generator, not an output: an execute "
                "that yields effects must be decorated with @program (from playbill import "
                "program), so that its yields are performed"
            )
        declared = self._declared
        if declared is not None and not isinstance(output, declared):
            name = self._declared_name
            raise ProgramError(
                f"{self._name()}.execute produced {short(output)}, but the agent declares "
                f"its output as {name} (AgentActor[..., {name}]); "
                "return a value of that type, or change the declared output type"
            )


def _init_failed(name: str, error: Exception) -> ProgramError:
    failed = ProgramError(
        f"the agent class {name} could not be constructed: {error!r}; an agent's __init__ "
        "takes no arguments and must succeed (pass what a task needs in its input)"
    )
    failed._agent_init = True  # type: ignore[attr-defined]  # made once, not wrapped again
    return failed


def _guarded_init(init: Callable[..., None]) -> Callable[..., None]:
    """``init``, with what it raises turned into a `ProgramError` naming the class."""

    @functools.wraps(init)
    def guarded(self: AgentActor[Any, Any], *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except InvalidArgument:
            raise  # a refusal of the agent's own configuration says what to fix already
        except Exception as error:
            if getattr(error, "_agent_init", False):
                raise
            raise _init_failed(self._name(), error) from error

    return guarded


def _task_output(result: TaskResult[Any]) -> Any:
    return result.output


def _new_task_id(draw: float) -> str:
    return f"t{int(draw * 2**48):012x}"


_NOT_YET: Any = object()  # (execute not called yet)


@program
def _perform(
    agent: AgentActor[Any, Any],
    task: Task[Any],
    running: _Running | None = None,
    produced: Any = _NOT_YET,
) -> Generator[Any, Any, TaskResult[Any]]:
    # (`_perform_at_once` gives the running task and what its execute returned; a program
    # under an interpreter that publishes events in place is `_Running.ended_by_frame`'s instead)
    if running is None:
        # the path and a fresh task id come from the actor's cell, with no effect performed;
        # a context that is no interpreter's cell pays an effect for each
        context = agent.context
        path = agent._path
        if path is None:  # the first task of this instance: its path, once
            path = agent._path = (
                context.self_ref.path if isinstance(context, CellContext) else (yield _SELF).path
            )
        task_id = task.id
        if task_id is None:
            if isinstance(context, CellContext):
                task_id = f"t{context.fresh_id()}"
            else:
                task_id = _new_task_id((yield _RANDOM))
        running = _Running(task, task_id, path)
    agent._running = running
    try:
        yield _stamped(running, TaskEventKind.STARTED, None)
        try:
            if produced is _NOT_YET:
                produced = agent.execute(task.input)
            if isinstance(produced, Program):
                if type(produced) is Pure:  # nothing to perform, so nothing to link
                    output = produced.value
                else:
                    output = yield Intercept(produced, running.link_effect)
            elif inspect.isasyncgen(produced):
                agent._asynchronous = True
                output = yield _drain(produced, running, f"{agent._name()}.execute")
            elif inspect.isawaitable(produced):
                agent._asynchronous = True
                output = yield Await(produced, f"{agent._name()}.execute")
            else:
                output = produced
            agent._check_output(output)
        except BaseException as error:
            ending = _ending(error)
            if ending is not None:
                yield _stamped(running, *ending)
            raise
        # stamped when published: execute may have taken time, even a plain function's
        yield _stamped(running, TaskEventKind.COMPLETED, output)
    finally:
        if agent._running is running:
            agent._running = None
            agent._asynchronous = False
    return completed_result(running.task_id, output)


def _perform_at_once(
    agent: AgentActor[Any, Any],
    task: Task[Any],
    context: CellContext,
    stamp: Callable[..., None] | None,
) -> Any:
    """`_perform`, with no program run when ``execute`` finishes at once (a plain value, a
    `Pure`): the `TaskResult` is the reply, and the ``started`` and ``completed`` events are
    published with ``stamp`` (the interpreter's ``context._stamp``, which publishes in place)
    or, when ``stamp`` is None, never made, since nobody can see them
    (``context._unobserved``). Otherwise the task goes on as `_perform` does from its
    ``started`` event, published before any of ``execute``'s work is done (a program,
    coroutine or async generator has not started when ``execute`` returns it)."""
    path = agent._path
    if path is None:
        path = agent._path = context.self_ref.path
    task_id = task.id
    if task_id is None:
        task_id = f"t{context.fresh_id()}"
    running = _Running(task, task_id, path, agent, stamp)
    agent._running = running
    handed_on = False  # (whether a program's own frames end the task, freeing the agent)
    try:
        produced = agent.execute(task.input)
        kind = type(produced)
        if kind in _PLAIN_OUTPUTS:  # (no program, coroutine or generator: the common case)
            output = produced
            if agent._declared is not None:  # (nothing else to check of such an output)
                agent._check_output(output)
        else:
            if kind is Pure:
                output = produced.value
            elif stamp is not None and isinstance(produced, Program):
                handed_on = True
                return running.ended_by_frame(produced)
            elif (
                isinstance(produced, Program)
                or inspect.isasyncgen(produced)
                or inspect.isawaitable(produced)
            ):
                return _perform(agent, task, running, produced)
            else:
                output = produced
            agent._check_output(output)
    except BaseException as error:
        if isinstance(error, _NOT_TASK_FAILURES):
            raise
        # failed at once: published and raised as `_perform` does it (the events may have a
        # reader by the time the failure is handled)
        return _perform(agent, task, running, Fail(error))
    finally:
        if agent._running is running and not handed_on:
            agent._running = None
    if stamp is not None:  # (no time passed: both events carry the same time)
        # made of the task's parts, not of its running record: the simulator may keep the
        # call until its events are read, and parts (strings, mostly) cost the collector less
        stamp(
            _started_and_completed,
            task_id,
            path,
            running.parent_task_id,
            running.parent_agent_path,
            running.run_id,
            output,
        )
    return completed_result(task_id, output)


_STARTED, _COMPLETED = TaskEventKind.STARTED, TaskEventKind.COMPLETED

# what ends a task without being its failure (no terminal event: nobody is left to read it):
# the process asked to end, a generator closed. Any other exception that ends a task fails
# it, a `BaseException` of the user's own included; a `Cancelled` cancels it.
_NOT_TASK_FAILURES = (KeyboardInterrupt, SystemExit, GeneratorExit)


def _ending(error: BaseException) -> tuple[TaskEventKind, object] | None:
    """The terminal event (its kind and data) of a task ended by ``error``, by that rule:
    ``cancelled``, ``failed`` with the error, or none."""
    if isinstance(error, Cancelled):
        return TaskEventKind.CANCELLED, None
    if isinstance(error, _NOT_TASK_FAILURES):
        return None
    return TaskEventKind.FAILED, error


# outputs that are plainly no program, awaitable or async generator (exact types only)
_PLAIN_OUTPUTS = frozenset(
    {type(None), int, float, complex, str, bytes, bool, tuple, list, dict, set, frozenset}
)


def _stamp_lifecycle(
    stamp: Callable[..., None], running: _Running, kind: TaskEventKind, data: object
) -> None:
    """Publish ``running``'s ``kind`` event with ``stamp`` (``context._stamp``), made of the
    task's parts (the simulator may keep the call until its events are read)."""
    stamp(
        _lifecycle_event,
        running.task_id,
        running.agent_path,
        running.parent_task_id,
        running.parent_agent_path,
        running.run_id,
        kind,
        data,
    )


def _lifecycle_event(
    task_id: str,
    path: str,
    parent_task_id: str | None,
    parent_path: str | None,
    run_id: str,
    kind: TaskEventKind,
    data: object,
    time: float,
) -> tuple[TaskEvent]:
    """One event of a task run as a program, published with ``context._stamp``."""
    return (new_task_event(kind, task_id, path, parent_task_id, parent_path, run_id, time, data),)


def _started_and_completed(
    task_id: str,
    path: str,
    parent_task_id: str | None,
    parent_path: str | None,
    run_id: str,
    output: object,
    time: float,
) -> tuple[TaskEvent, TaskEvent]:
    """The ``started`` and ``completed`` events of a task that finished at once."""
    return (
        new_task_event(
            TaskEventKind.STARTED, task_id, path, parent_task_id, parent_path, run_id, time, None
        ),
        new_task_event(
            TaskEventKind.COMPLETED,
            task_id,
            path,
            parent_task_id,
            parent_path,
            run_id,
            time,
            output,
        ),
    )


# -- the progressive API: a function, a plain class, an AgentActor -----------------------------

_WRAPPERS: weakref.WeakKeyDictionary[Any, type[AgentActor[Any, Any]]] = weakref.WeakKeyDictionary()
# the classes `agent_class` accepted, and the agent class each stands for
_CLASSES: weakref.WeakKeyDictionary[type, type[AgentActor[Any, Any]]] = weakref.WeakKeyDictionary()


class _FunctionAgent(AgentActor[Any, Any]):
    _function: ClassVar[Callable[[Any], Any]]

    def execute(self, input: Any) -> Any:
        return type(self)._function(input)


class _ClassAgent(AgentActor[Any, Any]):
    _plain: ClassVar[type]

    def __init__(self) -> None:
        plain = type(self)._plain
        try:
            self._instance = plain()
        except InvalidArgument:
            raise  # as an AgentActor's (see _guarded_init)
        except Exception as error:
            raise _init_failed(plain.__qualname__, error) from error

    def execute(self, input: Any) -> Any:
        return self._instance.execute(input)


def is_agent(candidate: object) -> bool:
    """Whether ``candidate`` can be run as an agent: an `AgentActor` subclass, a plain class
    with an ``execute(self, input)`` method, or a function of the input."""
    try:
        agent_class(candidate, "is_agent()")
    except InvalidArgument:
        return False
    return True


def agent_class(candidate: object, where: str) -> type[AgentActor[Any, Any]]:
    """The `AgentActor` class that runs ``candidate`` (the progressive API):

    - an `AgentActor` subclass, as it is;
    - a plain class with an ``execute(self, input)`` method: an agent that builds one
      instance per actor and calls its ``execute``;
    - a function of the input (a plain, ``@program``, ``async def`` or async generator
      function): an agent whose ``execute`` it is.

    Anything else is refused with `InvalidArgument`, naming ``where``.
    """
    if isinstance(candidate, type):
        try:  # (a try, not contextlib.suppress: this is on every run's and ask_agent's way)
            return _CLASSES[candidate]  # checked before: a signature costs more than a task
        except (KeyError, TypeError):
            pass
        _check_constructible(candidate, where)
        if issubclass(candidate, AgentActor):
            with contextlib.suppress(TypeError):
                _CLASSES[candidate] = candidate
            return candidate
        if issubclass(candidate, Actor):
            raise InvalidArgument(
                f"{where} takes an agent, got the actor class {candidate.__qualname__}, which "
                "is not one; subclass AgentActor and override execute(self, input), or ask a "
                "plain actor with free_ask"
            )
        if callable(getattr(candidate, "execute", None)):
            made = _wrapper(candidate, _ClassAgent, "_plain", candidate)
            with contextlib.suppress(TypeError):
                _CLASSES[candidate] = made
            return made
    elif callable(candidate):
        with contextlib.suppress(KeyError, TypeError):
            return _WRAPPERS[candidate]  # checked before
        _check_takes_input(candidate, False, getattr(candidate, "__qualname__", None), where)
        return _wrapper(candidate, _FunctionAgent, "_function", staticmethod(candidate))
    raise InvalidArgument(
        f"{where} takes an agent — an AgentActor subclass, a class with an execute(self, "
        f"input) method, or a function of the input — got {short(candidate)} "
        f"({type(candidate).__name__})"
    )


def _check_constructible(cls: type, where: str) -> None:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # a builtin without one: let construction tell
        return
    required = [
        parameter.name
        for parameter in signature.parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise InvalidArgument(
            f"{where} cannot construct the agent class {cls.__qualname__}: its __init__ "
            f"requires {', '.join(required)}, and an agent is built with no arguments (one "
            "instance per actor, again on a restart); give them defaults, or pass them in "
            "the task's input"
        )
    execute = inspect.getattr_static(cls, "execute", None)
    if execute is not None and not isinstance(execute, classmethod):
        method = not isinstance(execute, staticmethod)
        function = execute if method else execute.__func__
        _check_takes_input(function, method, f"{cls.__qualname__}.execute", where)


def _check_takes_input(function: Any, method: bool, name: str | None, where: str) -> None:
    """`InvalidArgument` when ``function`` (a method when ``method``) cannot be called with one
    input, as an agent's execute is."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without one: let the call tell
        return
    try:
        signature.bind(*((None, None) if method else (None,)))
    except TypeError as error:
        taken = "execute(self, input)" if method else "a function of one input"
        raise InvalidArgument(
            f"{where} takes an agent whose execute takes the task's input, but "
            f"{name or short(function)}{signature} cannot be called with one ({error}); "
            f"write {taken}, and pass what it needs in the input"
        ) from None


def _wrapper(
    candidate: Any, base: type[AgentActor[Any, Any]], slot: str, value: object
) -> type[AgentActor[Any, Any]]:
    try:
        return _WRAPPERS[candidate]
    except (KeyError, TypeError):
        pass
    name = getattr(candidate, "__qualname__", type(candidate).__name__)
    made = cast(
        type[AgentActor[Any, Any]],
        type(name, (base,), {slot: value, "_agent_name": name, "__module__": base.__module__}),
    )
    with contextlib.suppress(TypeError):  # not weakly referenceable: made anew each time
        _WRAPPERS[candidate] = made
    return made
