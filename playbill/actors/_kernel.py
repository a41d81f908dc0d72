"""The lifecycle kernel: actor semantics once, for every interpreter (h11's ``_state.py`` is
the model).

The kernel is sans-IO. It takes a cell and an input — a system message to handle, a hook that
finished, a stop, a failure, a watch — updates the cell's lifecycle fields, and returns the
**commands** the interpreter must carry out: run a hook, post (or post later) a system message,
dead-letter what is queued, release the senders waiting for room, tell a watcher its target
terminated, publish an event, escalate to the system, continue a parent whose children have
all terminated. It never awaits, never reads a clock or a random source (the performer's
`Environment` gives it time and chance), and never touches asyncio.

Each performer has one small executor of these commands: the asyncio interpreter runs hooks in
the actor's own task and posts a continuation to a parent's task; the simulator runs them in
its world, where a hook that returns a program becomes a fiber. The hot paths — a tell to a
running actor, a ``receive`` that returns a plain value, an ask answered — stay inline in each
interpreter; everything rarer goes through here, so a rule changed here changes for every
performer at once.

Hook order (Akka's): ``on_start`` before the first message; on a restart, the children stop,
then the old instance's ``on_stop``, then a new instance's ``on_restart`` (whose default calls
``on_start``); on a stop, the children stop (each terminated), then ``on_stop``, then the cell
terminates and its watchers and parent learn it.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, final

from attrs import frozen

from playbill.actors._actor import Terminated
from playbill.actors._events import (
    ActorEvent,
    DeadLetterReason,
    Failed,
    Restarted,
    Spawned,
    Stopped,
)
from playbill.actors._mailbox import Mailbox, MailboxPolicy
from playbill.actors._paths import child_path
from playbill.actors._routing import Router
from playbill.actors._signals import IDLE, RESUME, START, STOP, ChildFailed, Restart
from playbill.actors._spawning import check_spawn, child_name, instantiate
from playbill.actors._stop_policies import WHEN_DRAINED, AfterIdle, stop_policy_of, stops_after
from playbill.actors._supervising import DEFAULT_STRATEGY, decide_supervision, strategy_for
from playbill.actors._supervision import Directive, OneForOne, SupervisionStrategy
from playbill.actors._tree import CellContext
from playbill.effects import ActorRef, ActorStopped
from playbill.effects._vocabulary import _trusted_ref

__all__ = [
    "Command",
    "ContinueAfterChildren",
    "DrainMailbox",
    "Environment",
    "Escalate",
    "Gone",
    "Kernel",
    "KernelCell",
    "Note",
    "NotifyWatcher",
    "Phase",
    "PostSystem",
    "PostSystemLater",
    "Publish",
    "Report",
    "RunHook",
    "Then",
]


class Phase(enum.IntEnum):
    """Where a cell is in its life; ordered, so ``phase >= Phase.STOPPING`` reads as "going
    or gone"."""

    STARTING = 0
    """Spawned; ``on_start`` has not finished."""
    RUNNING = 1
    """Handling messages."""
    SUSPENDED = 2
    """Failed; its supervisor decides (no user message is handled meanwhile)."""
    STOPPING = 3
    """Stopping: children first, then ``on_stop``; nothing more is queued."""
    STOPPED = 4
    """Terminated: gone for good."""


_STARTING, _RUNNING, _SUSPENDED, _STOPPING, _STOPPED = Phase  # (a global reads faster)
_NO_COMMANDS: list[Any] = []  # shared, never appended to: what most transitions return


class Then(enum.Enum):
    """What a cell does once its hook has run, or once all its children have terminated."""

    RUN = "run after on_start"
    STOP_HOOK = "run on_stop once the children terminated"
    TERMINATE = "terminate after on_stop"
    RETIRE = "run the old instance's on_stop once the children terminated (a restart)"
    REBUILD = "build a new instance after the old one's on_stop (a restart)"
    RESTARTED = "report the restart after on_restart"


# -- commands: what an interpreter carries out ---------------------------------------------------


@final
@frozen
class RunHook:
    """Run ``cell.instance.<name>(*arguments)`` (a plain call, or the program or awaitable it
    returns) in the cell's own turn, then give the kernel ``hook_done(cell, error)``."""

    cell: Any
    name: str
    arguments: tuple[Any, ...] = ()


@final
@frozen
class PostSystem:
    """Queue the system message ``message`` for ``cell`` (system messages overtake user
    messages)."""

    cell: Any
    message: object


@final
@frozen
class PostSystemLater:
    """Queue ``message`` for ``cell`` after ``delay`` seconds of the performer's clock."""

    cell: Any
    message: object
    delay: float


@final
@frozen
class DrainMailbox:
    """Every user message queued for ``cell``, and every message whose sender waits for room
    in it, becomes a dead letter for ``reason`` (each asker fails, each waiting sender goes
    on)."""

    cell: Any
    reason: DeadLetterReason


@final
@frozen
class NotifyWatcher:
    """Tell ``watcher`` that ``ref`` terminated (a `Terminated` message for its receive)."""

    watcher: Any
    message: Terminated


@final
@frozen
class Publish:
    """Publish ``event`` on the system event stream."""

    event: ActorEvent


@final
@frozen
class Escalate:
    """A failure reached the root guardian ``cell``: the system fails with ``error``."""

    cell: Any
    error: BaseException


@final
@frozen
class ContinueAfterChildren:
    """Every child of ``cell`` that it waited for has terminated: in the cell's own turn, give
    the kernel ``children_terminated(cell)``."""

    cell: Any


@final
@frozen
class Gone:
    """``cell`` has terminated: release whatever waits for that."""

    cell: Any


@final
@frozen
class Note:
    """A line for a performer's trace (the simulator records it; asyncio does not)."""

    cell: Any
    text: str


@final
@frozen
class Report:
    """Something an operator must hear of (asyncio logs it as an error)."""

    text: str
    error: BaseException


Command = (
    RunHook
    | PostSystem
    | PostSystemLater
    | DrainMailbox
    | NotifyWatcher
    | Publish
    | Escalate
    | ContinueAfterChildren
    | Gone
    | Note
    | Report
)


class Environment(Protocol):
    """What the kernel may read of the world, given by the performer: the time to stamp on
    events, the clock restart budgets count on, and the random source of backoff jitter."""

    def event_time(self) -> float: ...

    def monotonic(self) -> float: ...

    def random(self) -> float: ...

    def publishing(self) -> bool:
        """Whether anybody reads the event stream (events nobody reads need not be made)."""
        ...


_NO_CHILDREN: Any = frozenset()
_NO_ONE: Any = ()  # watchers/watching until the first watch: most actors are never watched


class KernelCell(CellContext):
    """The fields of a cell the kernel reads and writes; each interpreter's cell derives from
    it (and is also the actor's context, and the binding of its refs)."""

    __slots__ = (
        "blocked",
        "children_cells",
        "consecutive_restarts",
        "covered",
        "factory",
        "group_restarts",
        "idle_armed",
        "idle_since",
        "instance",
        "mailbox",
        "name",
        "parent_cell",
        "path",
        "phase",
        "ref",
        "restart_error",
        "restart_history",
        "restart_pending",
        "retired",
        "routing",
        "stop_policy",
        "strategy",
        "then",
        "undecided",
        "waiting_children",
        "watchers",
        "watching",
    )

    def __init__(
        self,
        parent: Any,
        path: str,
        uid: int,
        factory: Callable[[], Any],
        policy: MailboxPolicy | None,
        realm: int = 0,
    ) -> None:
        self.parent_cell = parent
        self.path = path
        self.name = path[path.rfind("/") + 1 :]
        self.ref = _trusted_ref(path, uid, self, realm)  # (its path is made of checked names)
        self.factory = factory
        self.mailbox = Mailbox(policy)
        self.strategy: SupervisionStrategy = DEFAULT_STRATEGY
        self.instance: Any = None
        self.phase = _STARTING
        self.children_cells: dict[str, Any] = {}
        self.watchers: list[Any] = _NO_ONE  # a list of its own once watched
        self.watching: list[Any] = _NO_ONE  # a list of its own once it watches
        self.restart_history: tuple[float, ...] = ()  # its own restarts (OneForOne's budget)
        self.group_restarts: tuple[float, ...] = ()  # those it decided for groups of children
        self.consecutive_restarts = 0
        self.restart_pending = False
        self.restart_error: BaseException | None = None
        self.retired = False  # whether its instance's on_stop ran (a restart retired it)
        # its failures its supervisor has not decided yet, oldest first (a suspended cell fails
        # again when it escalates a child's failure); each is decided when its supervisor reads
        # it, or reported as a stop when the cell terminates first
        self.undecided: tuple[BaseException, ...] = ()
        # those a restart covered before its supervisor read them: reported as that restart
        # when it reads them, or when the cell terminates first
        self.covered: tuple[BaseException, ...] = ()
        self.waiting_children: set[Any] = _NO_CHILDREN  # a set of its own once it waits
        self.then: Then | None = None
        # its stop policy (None: NEVER, so the hot loops skip it), and AfterIdle's clock
        self.stop_policy: Any = None
        self.idle_since = 0.0
        self.idle_armed = False
        # a router's send-side routing (`playbill.actors.Routing`), else None
        self.routing: Any = None

    # -- the context's spawn and stop, alike in every interpreter ----------------------------

    def spawn(
        self,
        actor: Any,
        name: str | None = None,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> ActorRef:
        return self._spawn_child(actor, name, supervision, mailbox).ref

    def stop(self, ref: ActorRef | None = None, *, interrupt: bool = False) -> None:
        if ref is not None and ref != self.ref:
            target = self._resolve_ref(ref)
            if target is not None:
                target.stop(interrupt=interrupt)
            return
        self._stop_self(interrupt)

    # -- what each interpreter's cell does its own way ----------------------------------------

    @abc.abstractmethod
    def _spawn_child(
        self,
        actor: Any,
        name: str | None,
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
    ) -> KernelCell:
        """Start a child of this cell."""

    @abc.abstractmethod
    def _resolve_ref(self, ref: ActorRef) -> KernelCell | None:
        """The live cell ``ref`` names in this cell's system, if any."""

    def _retire(self, cell: KernelCell) -> None:
        """Stop ``cell`` once what is queued for it has been handled (`Kernel.retire`); a
        performer that does not carry that out stops it (after its current message)."""
        cell.stop()

    @abc.abstractmethod
    def _stop_self(self, interrupt: bool) -> None:
        """Stop this cell (``interrupt``: cancel the program of its message in progress)."""

    # the binding behind ActorRef's direct methods
    @abc.abstractmethod
    def tell(self, message: object) -> None: ...

    @abc.abstractmethod
    def ask(self, message: object, timeout: float | None) -> Awaitable[Any]: ...

    @abc.abstractmethod
    def send(self, message: object) -> Awaitable[None]: ...


# -- the kernel ---------------------------------------------------------------------------------


class Kernel:
    """The lifecycle transitions. Each method takes a cell (and an input) and returns the
    commands to carry out, in order; a performer carries them out depth first (a command's
    own follow-up commands before the next one).

    >>> from playbill.actors._kernel import Kernel
    >>> class Clock:
    ...     def event_time(self): return 0.0
    ...     def monotonic(self): return 0.0
    ...     def random(self): return 0.5
    >>> kernel = Kernel(Clock())
    """

    __slots__ = ("environment", "notes")

    def __init__(self, environment: Environment, *, notes: bool = False) -> None:
        self.environment = environment
        self.notes = notes  # whether to make `Note`s (only a tracing performer reads them)

    def spawn(
        self,
        parent: Any,
        actor: Any,
        name: str | None,
        supervision: Any,
        mailbox: Any,
        fresh: Callable[[], int],
        new_cell: Callable[[Any, str, Callable[[], Any], MailboxPolicy | None], Any],
    ) -> Any:
        """A new child of ``parent``: the arguments checked, its name (``fresh`` numbers
        unnamed ones), its cell (``new_cell(parent, path, factory, policy)``, the performer's),
        its instance and strategy. The performer then starts it (``on_start`` first)."""
        check_spawn(actor, supervision, mailbox)
        name = child_name(
            parent.path, parent.phase >= _STOPPING, parent.children_cells, name, fresh, actor
        )
        cell = new_cell(parent, child_path(parent.path, name), actor, mailbox)
        cell.instance = instantiate(actor, cell)
        cell.strategy = strategy_for(cell.instance, supervision)
        cell.stop_policy = stop_policy_of(cell.instance)
        parent.children_cells[name] = cell
        if isinstance(cell.instance, Router):
            # its routees exist from the spawn on, so a message sent right after is routed
            self._bind_routing(cell)
            try:
                cell.instance.populate()
            except BaseException:
                del parent.children_cells[name]
                raise
        return cell

    def _bind_routing(self, cell: Any) -> None:
        cell.routing = cell.instance.routing
        cell.routing.random = self.environment.random

    def started(self, cell: Any, error: BaseException | None) -> list[Command]:
        """``cell``'s ``on_start`` finished (``error`` if it failed). A performer that runs
        ``on_start`` inline at spawn (asyncio: one of these for every actor) calls this
        directly; the START system message gets here through `hook_done`."""
        if error is None:
            if cell.phase is _STARTING:
                cell.phase = _RUNNING
            if cell.stop_policy is not None and type(cell.stop_policy) is AfterIdle:
                armed: list[Command] = []
                self._arm_idle(cell, cell.stop_policy.seconds, armed)
                if cell.parent_cell is not None and self.environment.publishing():
                    armed.append(Publish(Spawned(cell.path, self.environment.event_time())))
                return armed
            if cell.parent_cell is None or not self.environment.publishing():
                return _NO_COMMANDS
            return [Publish(Spawned(cell.path, self.environment.event_time()))]
        out: list[Command] = []
        self._note(out, cell, f"on_start failed {error!r}")
        self._fail(cell, error, out)
        return out

    # -- inputs --------------------------------------------------------------------------

    def handled(self, cell: Any, message: object) -> list[Command]:
        """``cell`` (whose ``stop_policy`` is not None) handled ``message``: its stop policy
        decides whether it stops now (`AfterIdle` restarts its idle clock instead)."""
        out: list[Command] = []
        policy = cell.stop_policy
        if type(policy) is AfterIdle:
            cell.idle_since = self.environment.monotonic()
            if not cell.idle_armed:
                self._arm_idle(cell, policy.seconds, out)
        elif cell.phase is _RUNNING and stops_after(policy, message, _drained(cell)):
            self._note(out, cell, f"stops: its stop policy is {policy!r}")
            self._stop(cell, out)
        return out

    def retire(self, cell: Any) -> list[Command]:
        """Stop ``cell`` gracefully: once what is queued for it has been handled (at once
        when nothing is), as the stop policy `WHEN_DRAINED` does."""
        out: list[Command] = []
        if cell.phase >= _STOPPING:
            return out
        cell.stop_policy = WHEN_DRAINED
        if _drained(cell):  # (a message in progress still finishes: a stop waits for it)
            self._note(out, cell, "retired")
            self._stop(cell, out)
        return out

    def stop(self, cell: Any) -> list[Command]:
        """Stop ``cell``: nothing more is queued, what is queued becomes dead letters, and a
        STOP system message will stop its children, run ``on_stop`` and terminate it."""
        out: list[Command] = []
        self._stop(cell, out)
        return out

    def stop_at_once(self, cell: Any) -> list[Command] | None:
        """Stop ``cell`` and terminate it in this one transition, when nothing makes a stop
        wait: it runs idle (nothing queued, no sender waiting for room, no system message
        pending, no hook under way) with no children, and its ``on_stop`` is one the performer
        knows does nothing (the default). The commands are those `stop`, its STOP system
        message and that ``on_stop`` would give, in order, less those that do nothing then:
        no mailbox to drain, no STOP to post and take back, no hook to run. ``None``, with
        nothing changed, when the cell is not so: stop it with `stop`. (An ephemeral child's
        end: ``ask_agent`` stops each child it asked, most of them idle.)"""
        if (
            cell.phase is not _RUNNING
            or cell.children_cells
            or cell.then is not None
            or cell.mailbox.user
            or cell.mailbox.system
            or cell.blocked
        ):
            return None
        out: list[Command] = []
        if self.notes:
            out.append(Note(cell, "stop"))
        cell.phase = _STOPPING
        self._terminate(cell, out, drain=False)
        return out

    def fail(self, cell: Any, error: BaseException) -> list[Command]:
        """``cell`` failed with ``error`` (in a message or a hook): it is suspended and its
        supervisor decides."""
        out: list[Command] = []
        self._fail(cell, error, out)
        return out

    def replace(self, cell: Any, reason: BaseException) -> list[Command]:
        """Give a running, idle ``cell`` a fresh instance, with no failure and no supervisor's
        decision: a durable actor whose owner lost its lease is built anew by the next owner.
        It takes the restart path (children stopped, ``on_stop``, a new instance,
        ``on_restart(reason)``, a `Restarted` event); what is queued stays queued for the new
        instance. A cell that is not running (or has a restart due) is left as it is."""
        if cell.phase is not _RUNNING or cell.restart_pending:
            return _NO_COMMANDS
        out: list[Command] = []
        self._note(out, cell, f"replaced by a new instance after {reason!r}")
        cell.restart_pending = True
        cell.phase = _SUSPENDED  # it handles nothing until the new instance runs
        out.append(PostSystem(cell, Restart(reason)))
        return out

    def system_message(self, cell: Any, message: object) -> list[Command]:
        """``cell`` handles the system message ``message`` in its own turn."""
        out: list[Command] = []
        if message is START:
            self._note(out, cell, "start")
            cell.then = Then.RUN
            out.append(RunHook(cell, "on_start"))
        elif message is STOP:
            self._note(out, cell, "stop")
            self._after_children(cell, Then.STOP_HOOK, out)
        elif type(message) is ChildFailed:
            self._supervise(cell, message.child, message.error, out)
        elif type(message) is Restart:
            parent = cell.parent_cell
            if cell.phase < _STOPPING and (parent is None or parent.phase < _STOPPING):
                cell.restart_error = message.error
                self._after_children(cell, Then.RETIRE, out)
        elif message is IDLE:
            self._idle_check(cell, out)
        elif message is RESUME:
            # a RESUME answers the failure decided when it was posted; should the cell have
            # failed again since (escalating a child's failure), or a restart of it have been
            # decided, it waits for that decision or that restart
            if cell.phase == _SUSPENDED and not cell.undecided and not cell.restart_pending:
                if cell.retired:
                    # a failed rebuild left it no live instance (its old one's on_stop ran):
                    # as Akka turns Resume into Create, it resumes with a new one
                    self._note(out, cell, "resume with a new instance")
                    self._rebuild(cell, out)
                else:
                    cell.phase = _RUNNING
                    self._note(out, cell, "resume")
            for child in cell.children_cells.values():  # the children it suspended resume too
                if (
                    child.phase == _SUSPENDED
                    and not child.undecided  # (not one whose own failure waits)
                    and not child.restart_pending  # (nor one whose restart waits)
                ):
                    out.append(PostSystem(child, RESUME))
        else:  # pragma: no cover - the interpreters post only the messages above
            raise AssertionError(f"not a system message: {message!r}")
        return out

    def hook_done(self, cell: Any, error: BaseException | None) -> list[Command]:
        """The hook `RunHook` ran for ``cell`` finished (``error`` if it failed)."""
        out: list[Command] = []
        then, cell.then = cell.then, None
        if then is Then.RUN:
            return self.started(cell, error)
        if then is Then.TERMINATE:
            if error is not None:  # reported, never swallowed: the actor stops all the same
                self._stop_hook_failed(cell, error, out)
            self._terminate(cell, out)
        elif then is Then.REBUILD:
            if error is not None:
                self._stop_hook_failed(cell, error, out)
            cell.retired = True  # its on_stop ran: never again on this instance
            self._rebuild(cell, out)
        elif then is Then.RESTARTED:
            if error is not None:
                self._note(out, cell, f"on_restart failed {error!r}")
                self._fail(cell, error, out)
            else:
                restart_error = cell.restart_error
                cell.restart_error = None
                assert restart_error is not None
                out.append(
                    Publish(Restarted(cell.path, self.environment.event_time(), restart_error))
                )
                self._note(out, cell, "restarted")
        else:  # pragma: no cover - every RunHook sets `then`
            raise AssertionError(f"{cell.path} finished a hook it was not running")
        return out

    def children_terminated(self, cell: Any) -> list[Command]:
        """Every child ``cell`` waited for has terminated: go on with what it was doing."""
        out: list[Command] = []
        then, cell.then = cell.then, None
        assert then is not None
        self._continue(cell, then, out)
        return out

    def terminate(self, cell: Any) -> list[Command]:
        """``cell`` is gone (after ``on_stop``, or aborted at a shutdown that ran out of
        time)."""
        out: list[Command] = []
        self._terminate(cell, out)
        return out

    def watch(self, watcher: Any, target: Any, message: Terminated) -> list[Command]:
        """``watcher`` watches ``target`` (``None``: no such actor): it gets ``message`` once
        the target terminates, or at once when it already has."""
        if target is None or target.phase == _STOPPED:
            return [NotifyWatcher(watcher, message)]
        if watcher not in target.watchers:
            if target.watchers is _NO_ONE:
                target.watchers = []
            target.watchers.append(watcher)
            if watcher.watching is _NO_ONE:
                watcher.watching = []
            watcher.watching.append(target)
        return []

    # -- transitions ---------------------------------------------------------------------

    def _note(self, out: list[Command], cell: Any, text: str) -> None:
        if self.notes:
            out.append(Note(cell, text))

    def _arm_idle(self, cell: Any, delay: float, out: list[Command]) -> None:
        cell.idle_armed = True
        out.append(PostSystemLater(cell, IDLE, delay))

    def _idle_check(self, cell: Any, out: list[Command]) -> None:
        """An `AfterIdle` timer went off: stop if idle long enough, else wait on."""
        cell.idle_armed = False
        policy = cell.stop_policy
        if type(policy) is not AfterIdle or cell.phase >= _STOPPING:
            return
        remaining = cell.idle_since + policy.seconds - self.environment.monotonic()
        if remaining > 0:
            self._arm_idle(cell, remaining, out)
        elif cell.phase is _RUNNING and _drained(cell):
            self._note(out, cell, f"stops: idle for {policy.seconds:g}s")
            self._stop(cell, out)
        else:  # messages wait (each will restart the clock), or it is not running now
            self._arm_idle(cell, policy.seconds, out)

    def _stop(self, cell: Any, out: list[Command]) -> None:
        if cell.phase >= _STOPPING:
            return
        cell.phase = _STOPPING
        out.append(DrainMailbox(cell, DeadLetterReason.UNPROCESSED))
        out.append(PostSystem(cell, STOP))

    def _fail(self, cell: Any, error: BaseException, out: list[Command]) -> None:
        if cell.phase >= _STOPPING:
            if cell.phase is _STOPPING and not isinstance(error, ActorStopped):
                # failed while stopping (an interrupt's ActorStopped is no news): reported,
                # and the stop goes on
                self._report_failure(cell.parent_cell or cell, cell, error, Directive.STOP, out)
                out.append(Report(f"{cell.path} failed while it stopped", error))
            return
        cell.phase = _SUSPENDED
        parent = cell.parent_cell
        if parent is None:
            out.append(Escalate(cell, error))
        else:
            cell.undecided += (error,)
            out.append(PostSystem(parent, ChildFailed(cell, error)))

    def _after_children(self, cell: Any, then: Then, out: list[Command]) -> None:
        """Stop every child of ``cell``; once all have terminated, continue with ``then``."""
        children = list(cell.children_cells.values())
        if not children:
            self._continue(cell, then, out)
            return
        cell.waiting_children = set(children)
        cell.then = then
        for child in children:
            self._stop(child, out)

    def _continue(self, cell: Any, then: Then, out: list[Command]) -> None:
        if then is Then.STOP_HOOK and cell.retired:  # a restart already ran its on_stop
            self._terminate(cell, out)
        elif then is Then.STOP_HOOK:
            cell.then = Then.TERMINATE
            out.append(RunHook(cell, "on_stop"))
        elif then is Then.RETIRE and cell.retired:  # its on_stop ran (a rebuild failed)
            self._rebuild(cell, out)
        elif then is Then.RETIRE:  # Akka's pre-restart: the old instance stops first
            cell.then = Then.REBUILD
            out.append(RunHook(cell, "on_stop"))
        else:  # pragma: no cover - only the two above wait for children
            raise AssertionError(f"{cell.path} cannot continue with {then}")

    def _rebuild(self, cell: Any, out: list[Command]) -> None:
        cell.restart_pending = False
        if cell.phase >= _STOPPING:  # stopped while its children stopped: no new instance
            return
        cell.consecutive_restarts += 1
        if cell.undecided:  # the failures not decided yet are covered by this restart
            cell.covered += cell.undecided
            cell.undecided = ()
        try:
            cell.instance = instantiate(cell.factory, cell)
        except Exception as failure:
            self._fail(cell, failure, out)
            return
        cell.retired = False
        if cell.routing is not None:  # a router: the new instance's routing (its on_restart
            self._bind_routing(cell)  # spawns a new pool, in this same turn)
        cell.phase = _RUNNING
        cell.then = Then.RESTARTED
        out.append(RunHook(cell, "on_restart", (cell.restart_error,)))

    def _stop_hook_failed(self, cell: Any, error: BaseException, out: list[Command]) -> None:
        self._note(out, cell, f"on_stop failed {error!r}")
        out.append(
            Publish(Failed(cell.path, self.environment.event_time(), error, Directive.STOP.name))
        )
        out.append(Report(f"on_stop of {cell.path} failed", error))

    def _terminate(self, cell: Any, out: list[Command], *, drain: bool = True) -> None:
        if cell.phase == _STOPPED:
            return
        cell.phase = _STOPPED
        if drain:  # (not when the caller knows nothing is queued)
            out.append(DrainMailbox(cell, DeadLetterReason.UNPROCESSED))
        for target in cell.watching:
            if cell in target.watchers:
                target.watchers.remove(cell)
        cell.watching = _NO_ONE
        parent = cell.parent_cell
        if parent is not None and parent.children_cells.get(cell.name) is cell:
            del parent.children_cells[cell.name]
        for watcher in cell.watchers:
            if watcher.phase < _STOPPING:
                out.append(NotifyWatcher(watcher, Terminated(cell.ref)))
            if cell in watcher.watching:
                watcher.watching.remove(cell)
        cell.watchers = _NO_ONE
        # its failures its supervisor has not read yet are reported now, before its Stopped:
        # those a restart covered as that restart, those it failed with since as this stop
        covered, cell.covered = cell.covered, ()
        for error in covered:
            self._report_failure(parent or cell, cell, error, Directive.RESTART, out)
        undecided, cell.undecided = cell.undecided, ()
        for error in undecided:
            self._report_failure(parent or cell, cell, error, Directive.STOP, out)
        if self.environment.publishing():  # (an event nobody reads is not made)
            out.append(Publish(Stopped(cell.path, self.environment.event_time())))
        out.append(Gone(cell))
        if parent is not None and cell in parent.waiting_children:
            parent.waiting_children.discard(cell)
            if not parent.waiting_children and parent.then is not None:
                out.append(ContinueAfterChildren(parent))

    def _supervise(self, parent: Any, child: Any, error: BaseException, out: list[Command]) -> None:
        if not _holds(child.undecided, error):
            # decided already: a restart that a group decision made covered it (reported as
            # that restart, now), or it terminated (its failure reported then)
            if _holds(child.covered, error):
                child.covered = _without(child.covered, error)
                self._report_failure(parent, child, error, Directive.RESTART, out)
            return
        # (still undecided: so not terminated, still its parent's child)
        child.undecided = _without(child.undecided, error)
        if child.phase >= _STOPPING or parent.phase >= _STOPPING:
            # stopping anyway: the failure is reported, and the child goes on stopping
            self._report_failure(parent, child, error, Directive.STOP, out)
            self._stop(child, out)
            return
        if child.restart_pending:  # a decision already restarts it (AllForOne, RestForOne)
            self._report_failure(parent, child, error, Directive.RESTART, out)
            return
        environment = self.environment
        strategy = parent.strategy
        grouped = not isinstance(strategy, OneForOne)
        try:
            decision = decide_supervision(
                strategy,
                error,
                child,
                list(parent.children_cells.values()),
                # Erlang's and Akka's intensity: one budget per child under OneForOne, one per
                # supervisor when a decision restarts a group (AllForOne, RestForOne)
                parent.group_restarts if grouped else child.restart_history,
                environment.monotonic(),
                environment.random,
            )
        except Exception as failure:  # the supervisor's own decision failed: it fails
            self._note(out, parent, f"its supervision of {child.path} failed {failure!r}")
            self._fail(parent, failure, out)
            return
        if grouped:
            parent.group_restarts = decision.history
        else:
            child.restart_history = decision.history
        directive, escalate = decision.directive, decision.escalate
        self._report_failure(parent, child, error, directive, out)
        if directive is Directive.RESUME:
            if not child.undecided:  # (else it resumes once its later failures are decided)
                out.append(PostSystem(child, RESUME))
        elif directive is Directive.RESTART:
            for cell, delay in zip(decision.affected, decision.delays, strict=True):
                if cell.restart_pending:  # a restart of it is under way already: that one
                    continue
                cell.restart_pending = True
                if cell.phase < _SUSPENDED:  # a sibling waits for its restart, idle
                    cell.phase = _SUSPENDED
                if delay > 0:  # the actor stays suspended meanwhile; a stop goes through at once
                    out.append(PostSystemLater(cell, Restart(error), delay))
                else:
                    out.append(PostSystem(cell, Restart(error)))
        elif directive is Directive.STOP:
            for cell in decision.affected:
                self._stop(cell, out)
        if parent.parent_cell is None and directive is Directive.STOP:
            # no supervisor above: the root guardian reports it rather than stop it silently
            budget = " past its restart budget" if escalate else ""
            out.append(
                Report(
                    f"the root guardian stopped the top-level actor {child.path} after it "
                    f"failed{budget}",
                    error,
                )
            )
        if escalate:
            self._fail(parent, error, out)

    def _report_failure(
        self,
        parent: Any,
        child: Any,
        error: BaseException,
        directive: Directive,
        out: list[Command],
    ) -> None:
        time = self.environment.event_time()
        out.append(Publish(Failed(child.path, time, error, directive.name)))
        self._note(out, parent, f"decides {directive.name} for {child.path} after {error!r}")


def _drained(cell: Any) -> bool:
    """Whether no user message is queued for ``cell`` nor waits for room in its mailbox."""
    return not cell.mailbox.user and not cell.blocked


def _holds(errors: tuple[BaseException, ...], error: BaseException) -> bool:
    return any(each is error for each in errors)


def _without(errors: tuple[BaseException, ...], error: BaseException) -> tuple[BaseException, ...]:
    return tuple(each for each in errors if each is not error)
