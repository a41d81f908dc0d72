"""The agent layer's values: a `Task`, its `TaskResult` and `TaskStatus`, the `TaskEvent`s a
task publishes, the items of `ask_stream`, and the span tree a flat stream of events rebuilds."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Generic, TypeVar, final

from attrs import field, frozen

from playbill.actors import Emitted
from playbill.actors._reports import short
from playbill.effects import InvalidArgument
from playbill.effects._checks import check_flag, check_iterable
from playbill.effects._program import _slot_setter

__all__ = [
    "StreamEvent",
    "StreamResult",
    "Task",
    "TaskEvent",
    "TaskEventKind",
    "TaskLink",
    "TaskResult",
    "TaskSpan",
    "TaskStatus",
    "task_events",
    "task_tree",
]

I = TypeVar("I")  # noqa: E741 (the issue's name for an agent's input type)
O = TypeVar("O")  # noqa: E741


class TaskStatus(enum.Enum):
    """Where a task stands: ``PENDING`` (sent, not started), ``RUNNING`` (started),
    then exactly one of ``COMPLETED``, ``FAILED`` or ``CANCELLED``."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the task has ended (completed, failed or cancelled)."""
        return self in _FINISHED


_FINISHED = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskEventKind(enum.Enum):
    """What a `TaskEvent` says: a task ``STARTED``; it reported ``PROGRESS`` or streamed a
    ``CHUNK`` (zero or more of each); it ended ``COMPLETED``, ``FAILED`` or ``CANCELLED``
    (exactly one of the three)."""

    STARTED = "started"
    PROGRESS = "progress"
    CHUNK = "chunk"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether this kind ends its task."""
        return self in _TERMINAL


_TERMINAL = frozenset({TaskEventKind.COMPLETED, TaskEventKind.FAILED, TaskEventKind.CANCELLED})
_STATUS_OF = {
    TaskEventKind.STARTED: TaskStatus.RUNNING,
    TaskEventKind.PROGRESS: TaskStatus.RUNNING,
    TaskEventKind.CHUNK: TaskStatus.RUNNING,
    TaskEventKind.COMPLETED: TaskStatus.COMPLETED,
    TaskEventKind.FAILED: TaskStatus.FAILED,
    TaskEventKind.CANCELLED: TaskStatus.CANCELLED,
}


@final
@frozen
class TaskLink:
    """The task that sent a nested task: its id and agent path, and its own parent's (so a
    child can stream chunks on its parent's behalf, see `stream_agent`)."""

    task_id: str = field(validator=lambda _, __, value: _check_text("TaskLink task_id", value))
    agent_path: str = field(
        validator=lambda _, __, value: _check_text("TaskLink agent_path", value)
    )
    parent_task_id: str | None = field(
        default=None,
        validator=lambda _, __, value: _check_text("TaskLink parent_task_id", value, True),
    )
    parent_agent_path: str | None = field(
        default=None,
        validator=lambda _, __, value: _check_text("TaskLink parent_agent_path", value, True),
    )


def _check_text(where: str, value: object, optional: bool = False) -> None:
    """`InvalidArgument` unless ``value`` is a non-empty str (or None, when ``optional``)."""
    if (value is None and optional) or (type(value) is str and value):
        return
    wanted = "a non-empty str or None" if optional else "a non-empty str"
    raise InvalidArgument(f"{where} must be {wanted}, got {short(value)} ({type(value).__name__})")


def _check_id(where: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if value is not None and (type(value) is not str or not value):
            # (exactly a str, as the ids of the task's events and result: a subclass's,
            # a StrEnum member's, would pass here and be refused there)
            subclass = (
                f" (a {type(value).__name__}, a subclass of str: write str(value))"
                if isinstance(value, str)
                else ""
            )
            raise InvalidArgument(
                f"{where} must be a non-empty string or None, got {value!r}{subclass}"
            )

    return check


def _check_parent(_: object, __: object, value: TaskLink | None) -> None:
    if value is not None and type(value) is not TaskLink:
        raise InvalidArgument(
            f"Task parent must be a TaskLink (the task that sent it) or None, got "
            f"{value!r} ({type(value).__name__}); leave it out: the agent layer fills it in"
        )


def _check_forward(_: object, __: object, value: bool) -> None:
    check_flag("Task forward_chunks", value)


@final
@frozen(init=False)
class Task(Generic[I]):
    """A unit of work for an agent: its ``input`` and, once sent, its identity.

    Write ``Task(input)``; the agent layer fills the rest. ``id`` names the task (drawn when
    it starts if left out), ``run_id`` the run it belongs to, ``parent`` the task that sent it
    (filled in when an agent asks another from inside its ``execute``), and
    ``forward_chunks`` asks the agent to stream each chunk on its parent's behalf too.

    >>> Task("summarise this")
    Task(input='summarise this', id=None, run_id=None, parent=None, forward_chunks=False)
    """

    input: I
    id: str | None = None
    run_id: str | None = None
    parent: TaskLink | None = None
    forward_chunks: bool = False

    def __init__(  # by hand, to be cheap: one is made per task
        self,
        input: I,
        id: str | None = None,
        run_id: str | None = None,
        parent: TaskLink | None = None,
        forward_chunks: bool = False,
    ) -> None:
        if id is not None:
            _check_task_id(None, None, id)
        if run_id is not None:
            _check_run_id(None, None, run_id)
        if parent is not None:
            _check_parent(None, None, parent)
        if forward_chunks is not False:
            _check_forward(None, None, forward_chunks)
        _set_task_input(self, input)
        _set_task_id(self, id)
        _set_task_run_id(self, run_id)
        _set_task_parent(self, parent)
        _set_task_forward_chunks(self, forward_chunks)


def trusted_task(
    input: I,
    id: str | None,
    run_id: str | None,
    parent: TaskLink | None,
    forward_chunks: bool,
) -> Task[I]:
    """A `Task` of parts the agent layer checked or made itself: not checked again (one is
    made per task an agent sends)."""
    task: Task[I] = object.__new__(Task)
    _set_task_input(task, input)
    _set_task_id(task, id)
    _set_task_run_id(task, run_id)
    _set_task_parent(task, parent)
    _set_task_forward_chunks(task, forward_chunks)
    return task


_check_task_id = _check_id("Task id")
_check_run_id = _check_id("Task run_id")
_set_task_input = _slot_setter(Task, "input")
_set_task_id = _slot_setter(Task, "id")
_set_task_run_id = _slot_setter(Task, "run_id")
_set_task_parent = _slot_setter(Task, "parent")
_set_task_forward_chunks = _slot_setter(Task, "forward_chunks")


class _TaskResultSlots:
    """The slots of a `TaskResult`, in a plain class, as `_TaskEventSlots`: a completed
    task's result (one per task) is built with plain stores (`completed_result`)."""

    task_id: str
    status: TaskStatus
    output: object
    error: BaseException | None

    __slots__ = ("__weakref__", "error", "output", "status", "task_id")


@final
@frozen(init=False)
class TaskResult(_TaskResultSlots, Generic[O]):
    """How a task ended: its ``status``, the ``output`` of a completed task, the ``error`` of
    a failed one.

    >>> TaskResult("t1", TaskStatus.COMPLETED, output=42).ok
    True
    """

    task_id: str
    status: TaskStatus
    output: O | None = None
    error: BaseException | None = None

    def __init__(  # by hand, to be cheap: one is made per task
        self,
        task_id: str,
        status: TaskStatus,
        output: O | None = None,
        error: BaseException | None = None,
    ) -> None:
        if (
            type(task_id) is not str
            or type(status) is not TaskStatus
            or (error is not None and not isinstance(error, BaseException))
        ):
            _refuse_result(task_id, status, error)
        _set_result_task_id(self, task_id)
        _set_result_status(self, status)
        _set_result_output(self, output)
        _set_result_error(self, error)

    @property
    def ok(self) -> bool:
        """Whether the task completed."""
        return self.status is TaskStatus.COMPLETED


class _TaskEventSlots:
    """The slots of a `TaskEvent`, in a plain class: the agent layer builds the events it
    publishes (one per chunk) as one of these, with plain attribute stores, then turns it into
    the `TaskEvent` it is (`new_task_event`). Setting eight slots of a frozen class goes through
    each slot's descriptor, three times the cost. `TaskEvent` adds no slot of its own, so the
    two share one layout, which is what lets an object's class be assigned."""

    kind: TaskEventKind
    task_id: str
    agent_path: str
    parent_task_id: str | None
    parent_agent_path: str | None
    run_id: str | None
    time: float
    data: object

    __slots__ = (
        "__weakref__",
        "agent_path",
        "data",
        "kind",
        "parent_agent_path",
        "parent_task_id",
        "run_id",
        "task_id",
        "time",
    )


@final
@frozen(init=False)
class TaskEvent(_TaskEventSlots):
    """One step of one task's lifecycle, as published on the event stream.

    ``kind`` says what happened; ``task_id`` and ``agent_path`` say to which task of which
    agent; ``parent_task_id`` and ``parent_agent_path`` link it to the task that sent it
    (``None`` for a root task), so a flat stream rebuilds the call tree (`task_tree`);
    ``run_id`` scopes it to one run; ``time`` is the interpreter's clock; ``data`` is the
    progress report, the chunk, the output (completed) or the error (failed).
    """

    kind: TaskEventKind
    task_id: str
    agent_path: str
    parent_task_id: str | None
    parent_agent_path: str | None
    run_id: str | None
    time: float
    data: object = None

    def __init__(  # by hand: checked, then set slot by slot (the agent layer uses new_task_event)
        self,
        kind: TaskEventKind,
        task_id: str,
        agent_path: str,
        parent_task_id: str | None,
        parent_agent_path: str | None,
        run_id: str | None,
        time: float,
        data: object = None,
    ) -> None:
        if type(kind) is not TaskEventKind:
            raise InvalidArgument(
                f"TaskEvent kind must be a TaskEventKind (TaskEventKind.STARTED, ...), got "
                f"{short(kind)} ({type(kind).__name__}); for a name write TaskEventKind(name)"
            )
        _check_text("TaskEvent task_id", task_id)
        _check_text("TaskEvent agent_path", agent_path)
        _check_text("TaskEvent parent_task_id", parent_task_id, True)
        _check_text("TaskEvent parent_agent_path", parent_agent_path, True)
        _check_text("TaskEvent run_id", run_id, True)
        if type(time) not in (int, float):
            raise InvalidArgument(
                f"TaskEvent time must be a number of seconds (the interpreter's clock), got "
                f"{short(time)} ({type(time).__name__})"
            )
        _set_event_kind(self, kind)
        _set_event_task_id(self, task_id)
        _set_event_agent_path(self, agent_path)
        _set_event_parent_task_id(self, parent_task_id)
        _set_event_parent_agent_path(self, parent_agent_path)
        _set_event_run_id(self, run_id)
        _set_event_time(self, time)
        _set_event_data(self, data)


def new_task_event(
    kind: TaskEventKind,
    task_id: str,
    agent_path: str,
    parent_task_id: str | None,
    parent_agent_path: str | None,
    run_id: str | None,
    time: float,
    data: object,
) -> TaskEvent:
    """A `TaskEvent` of parts the agent layer made itself, so not checked as ``TaskEvent(...)``
    checks them, built at a third of a class call's cost (see `_TaskEventSlots`)."""
    event = _TaskEventSlots()
    event.kind = kind
    event.task_id = task_id
    event.agent_path = agent_path
    event.parent_task_id = parent_task_id
    event.parent_agent_path = parent_agent_path
    event.run_id = run_id
    event.time = time
    event.data = data
    event.__class__ = TaskEvent  # (a plain store: a descriptor's setter call costs more)
    return event  # type: ignore[return-value]  # (a TaskEvent now)


def completed_result(task_id: str, output: O) -> TaskResult[O]:
    """``TaskResult(task_id, TaskStatus.COMPLETED, output)`` of a task id the agent layer
    made or checked, built with plain stores (less than half the class call's cost)."""
    result = _TaskResultSlots()
    result.task_id = task_id
    result.status = TaskStatus.COMPLETED
    result.output = output
    result.error = None
    result.__class__ = TaskResult
    return result  # type: ignore[return-value]  # (a TaskResult now)


_set_result_task_id = _slot_setter(TaskResult, "task_id")
_set_result_status = _slot_setter(TaskResult, "status")
_set_result_output = _slot_setter(TaskResult, "output")
_set_result_error = _slot_setter(TaskResult, "error")
_set_event_kind = _slot_setter(TaskEvent, "kind")
_set_event_task_id = _slot_setter(TaskEvent, "task_id")
_set_event_agent_path = _slot_setter(TaskEvent, "agent_path")
_set_event_parent_task_id = _slot_setter(TaskEvent, "parent_task_id")
_set_event_parent_agent_path = _slot_setter(TaskEvent, "parent_agent_path")
_set_event_run_id = _slot_setter(TaskEvent, "run_id")
_set_event_time = _slot_setter(TaskEvent, "time")
_set_event_data = _slot_setter(TaskEvent, "data")


class _StreamEventSlots:
    """The slot of a `StreamEvent`, in a plain class: `ask_stream` builds each item as one
    of these, then turns it into the `StreamEvent` it is (`new_stream_event`), as
    `new_task_event` does."""

    event: TaskEvent

    __slots__ = ("__weakref__", "event")


@final
@frozen(init=False)
class StreamEvent(_StreamEventSlots):
    """An item of `AgentSystem.ask_stream`: one event of the task (or of a task it sent)."""

    event: TaskEvent

    def __init__(self, event: TaskEvent) -> None:  # by hand: one per event streamed
        if type(event) is not TaskEvent:
            raise InvalidArgument(
                f"StreamEvent takes the TaskEvent it carries, got {short(event)} "
                f"({type(event).__name__})"
            )
        _set_stream_event(self, event)


_set_stream_event = _slot_setter(StreamEvent, "event")


def new_stream_event(event: TaskEvent) -> StreamEvent:
    """``StreamEvent(event)`` at a third of the cost (see `new_task_event`)."""
    item = _StreamEventSlots()
    item.event = event
    item.__class__ = StreamEvent
    return item  # type: ignore[return-value]  # (a StreamEvent now)


@final
@frozen
class StreamResult(Generic[O]):
    """The last item of `AgentSystem.ask_stream`: how the task ended."""

    result: TaskResult[O] = field(validator=lambda _, __, value: _check_stream_result(value))


def _check_stream_result(result: object) -> None:
    if type(result) is not TaskResult:
        raise InvalidArgument(
            f"StreamResult takes the TaskResult the task ended with, got {short(result)} "
            f"({type(result).__name__})"
        )


def _refuse_result(task_id: object, status: object, error: object) -> None:
    """`InvalidArgument` naming the first wrong part of a `TaskResult`."""
    if type(task_id) is not str:
        raise InvalidArgument(
            f"TaskResult task_id must be a str, got {short(task_id)} ({type(task_id).__name__})"
        )
    if type(status) is not TaskStatus:
        raise InvalidArgument(
            f"TaskResult status must be a TaskStatus (TaskStatus.COMPLETED, ...), got "
            f"{short(status)} ({type(status).__name__}); for a name write TaskStatus(name)"
        )
    raise InvalidArgument(
        f"TaskResult error must be an exception or None, got {short(error)} "
        f"({type(error).__name__})"
    )


@final
@frozen
class TaskSpan:
    """One task of a call tree: its events in order, its status, and the tasks it sent."""

    task_id: str
    agent_path: str
    status: TaskStatus
    events: tuple[TaskEvent, ...]
    children: tuple[TaskSpan, ...] = ()

    def walk(self) -> tuple[TaskSpan, ...]:
        """This span and every span under it, parents before children."""
        spans: list[TaskSpan] = []
        stack = [self]
        while stack:
            span = stack.pop()
            spans.append(span)
            stack.extend(reversed(span.children))
        return tuple(spans)


def task_events(events: Iterable[object]) -> tuple[TaskEvent, ...]:
    """The `TaskEvent`s of ``events``, which may hold them as they are (an `AgentSystem` run)
    or inside `Emitted` events (a simulation's ``result.events``, a system's event stream).

    >>> from playbill.actors import Emitted, Spawned
    >>> event = TaskEvent(TaskEventKind.STARTED, "t", "/app/a", None, None, "r", 0.0)
    >>> task_events([Spawned("/app/a", 0.0), Emitted("/app/a", 0.0, event)]) == (event,)
    True
    """
    found: list[TaskEvent] = []
    for event in check_iterable("task_events() events", events):
        if type(event) is Emitted:
            event = event.event
        if type(event) is TaskEvent:
            found.append(event)
    return tuple(found)


def _check_tree_event(event: Any) -> None:
    """`InvalidArgument` when ``event`` has parts no run makes (its values are not checked
    when built: agents make one per event)."""
    wrong = None
    if not isinstance(event.kind, TaskEventKind):
        wrong = f"kind {short(event.kind)}, not a TaskEventKind"
    elif not isinstance(event.task_id, str) or not event.task_id:
        wrong = f"task_id {short(event.task_id)}, not a non-empty str"
    elif event.parent_task_id is not None and not isinstance(event.parent_task_id, str):
        wrong = f"parent_task_id {short(event.parent_task_id)}, neither a str nor None"
    elif event.run_id is not None and not isinstance(event.run_id, str):
        wrong = f"run_id {short(event.run_id)}, neither a str nor None"
    if wrong is not None:
        raise InvalidArgument(
            f"task_tree() got an event with {wrong}: {short(event)}; build TaskEvents "
            "with TaskEventKind kinds and str ids, as agents publish them"
        )


def task_tree(events: Iterable[object], *, run_id: str | None = None) -> tuple[TaskSpan, ...]:
    """Rebuild the call tree from a flat stream of events: the root spans, in the order they
    started, each holding the spans of the tasks it sent. ``run_id`` keeps one run's events.

    The lifecycle is checked as the tree is built: each task's first event is ``started`` and
    nothing follows its one ``completed``, ``failed`` or ``cancelled``; a broken one raises
    `InvalidArgument` naming the event. A task whose parent is not among the events is a root.

    >>> def event(kind, task, parent=None):
    ...     return TaskEvent(TaskEventKind(kind), task, f"/app/{task}", parent, None, "r", 0.0)
    >>> [root] = task_tree([event("started", "a"), event("started", "b", "a"),
    ...                     event("completed", "b", "a"), event("completed", "a")])
    >>> root.task_id, root.status.value, [child.task_id for child in root.children]
    ('a', 'completed', ['b'])
    """
    if run_id is not None and not isinstance(run_id, str):
        raise InvalidArgument(
            f"task_tree() takes run_id, a run's id (a str, as TaskEvent.run_id) or None for "
            f"every run, got {short(run_id)} ({type(run_id).__name__})"
        )
    order: list[str] = []
    by_task: dict[str, list[TaskEvent]] = {}
    for event in task_events(check_iterable("task_tree() events", events)):
        _check_tree_event(event)
        if run_id is not None and event.run_id != run_id:
            continue
        seen = by_task.get(event.task_id)
        if seen is None:
            if event.kind is not TaskEventKind.STARTED:
                raise InvalidArgument(
                    f"task {event.task_id} of {event.agent_path} has {event.kind.value!r} "
                    f"before 'started': {event!r}; pass every event of the run, in order"
                )
            by_task[event.task_id] = [event]
            order.append(event.task_id)
            continue
        if seen[-1].kind.terminal:
            raise InvalidArgument(
                f"task {event.task_id} of {event.agent_path} has {event.kind.value!r} after "
                f"it ended with {seen[-1].kind.value!r}: {event!r}; a task ends exactly once"
            )
        if event.kind is TaskEventKind.STARTED:
            if event.run_id != seen[0].run_id:
                raise InvalidArgument(
                    f"task {event.task_id} is in two runs, {seen[0].run_id!r} and "
                    f"{event.run_id!r}: pass run_id= to build the tree of one run"
                )
            raise InvalidArgument(
                f"task {event.task_id} of {event.agent_path} started twice: {event!r}; task "
                "ids must be unique within a run"
            )
        seen.append(event)
    children: dict[str | None, list[str]] = {}
    for task_id in order:
        parent = by_task[task_id][0].parent_task_id
        children.setdefault(parent if parent in by_task else None, []).append(task_id)

    # built bottom-up on an explicit stack (a tree of any depth); a task never reached from a
    # root is in a cycle of parents, which no run makes
    built: dict[str, TaskSpan] = {}
    pending: list[tuple[str, bool]] = [(task_id, False) for task_id in children.get(None, ())]
    while pending:
        task_id, expanded = pending.pop()
        if not expanded:
            pending.append((task_id, True))
            pending.extend((child, False) for child in children.get(task_id, ()))
            continue
        seen = by_task[task_id]
        built[task_id] = TaskSpan(
            task_id,
            seen[0].agent_path,
            _STATUS_OF[seen[-1].kind],
            tuple(seen),
            tuple(built[child] for child in children.get(task_id, ())),
        )
    unreached = [task_id for task_id in order if task_id not in built]
    if unreached:
        raise InvalidArgument(
            f"tasks {', '.join(unreached)} are each other's parents (or their own): a cycle no "
            "run makes; pass the events of real runs"
        )
    return tuple(built[task_id] for task_id in children.get(None, ()))
