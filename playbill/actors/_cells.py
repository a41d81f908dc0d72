"""What every interpreter's actor cells share: the system messages, the root guardian, the
checks and decisions of spawning and supervising, and the errors a cell reports. Each
interpreter applies these decisions with its own machinery (asyncio tasks and timer handles,
or the simulator's world and virtual clock); the decisions themselves are made here, once."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, final

from attrs import frozen

from playbill.actors._actor import Actor, ActorContext
from playbill.actors._events import DeadLetterReason
from playbill.actors._mailbox import Bounded, MailboxFull, Unbounded
from playbill.actors._paths import check_name
from playbill.actors._supervision import Directive, OneForOne, SupervisionStrategy
from playbill.effects import (
    ActorRef,
    ActorStopped,
    AskTimeout,
    Cancelled,
    InvalidArgument,
    MessageFailed,
    PlaybillError,
)

__all__ = [
    "RESUME",
    "START",
    "STOP",
    "THROUGHPUT",
    "CellContext",
    "ChildFailed",
    "Guardian",
    "Restart",
    "SupervisionDecision",
    "ask_timeout_error",
    "asker_error",
    "check_spawn",
    "check_supervision",
    "child_name",
    "decide_supervision",
    "describe_waits",
    "find_cell",
    "guardian_refuses",
    "instantiate",
    "is_failure",
    "new_realm",
    "short",
    "stopped_error",
    "strategy_for",
    "undelivered_ask_error",
    "walk_cells",
]

C = TypeVar("C")

DEFAULT_STRATEGY = OneForOne()


# -- system messages: they overtake user messages ------------------------------------------------


@final
class _Signal:
    """A system message without data; its name is what it means."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


START = _Signal("START")
"""Run ``on_start`` (the first thing a new cell does)."""
STOP = _Signal("STOP")
"""Stop: children first, then ``on_stop``; then the cell is gone."""
RESUME = _Signal("RESUME")
"""The supervisor decided to resume: handle messages again."""


@final
class ChildFailed(Generic[C]):
    """To a parent: its child ``child`` failed with ``error``; decide."""

    __slots__ = ("child", "error")

    def __init__(self, child: C, error: BaseException) -> None:
        self.child = child
        self.error = error


@final
class Restart:
    """The supervisor decided to restart after ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Guardian(Actor):
    """The root of every system: it supervises the top-level actors and takes no messages."""

    def receive(self, message: Any) -> Any:
        raise InvalidArgument(f"the root guardian takes no messages, got {short(message)}")


# -- spawning --------------------------------------------------------------------------------------


def check_supervision(supervision: object, where: str = "supervision") -> None:
    """Refuse a supervision strategy that is not one, saying what to pass instead."""
    if supervision is not None and not isinstance(supervision, SupervisionStrategy):
        raise InvalidArgument(
            f"{where} must be OneForOne(...), AllForOne(...) or RestForOne(...), got "
            f"{supervision!r}"
        )


def is_failure(error: BaseException) -> bool:
    """Whether ``error``, raised by user code in a message or a hook, is a failure of it:
    everything but the process being asked to end (``KeyboardInterrupt``, ``SystemExit``)."""
    return not isinstance(error, KeyboardInterrupt | SystemExit)


def asker_error(path: str, message: object, error: BaseException) -> BaseException:
    """What the asker of ``message`` fails with when handling it failed with ``error``: the
    error itself, or — for a `BaseException` that is not an `Exception` — a `MessageFailed`
    caused by it, which the asker cannot mistake for its own cancellation. A program's own
    `Cancelled` reaches the asker as it is (its ask then ends as cancelled)."""
    if isinstance(error, Exception | Cancelled):
        return error
    wrapped = MessageFailed(
        f"{path} failed on {short(message)} with {error!r}, which is not an Exception; raise "
        "an Exception for a failure (a cancellation is the runtime's to raise)"
    )
    wrapped.__cause__ = error
    return wrapped


def guardian_refuses(path: str, message: object) -> InvalidArgument:
    """The error of an ask sent to a root guardian, which takes no messages."""
    return InvalidArgument(
        f"{path} is the root guardian, which takes no messages, so the ask {short(message)} "
        "is a dead letter; send it to an actor you spawned"
    )


def check_spawn(actor: object, supervision: object, mailbox: object) -> None:
    """Refuse what cannot be spawned, saying what to pass instead."""
    if not (isinstance(actor, type) and issubclass(actor, Actor)):
        if not callable(actor):
            raise InvalidArgument(
                f"spawn takes an actor class or a zero-argument factory, got {short(actor)}"
            )
        if isinstance(actor, type) and not callable(getattr(actor, "receive", None)):
            raise InvalidArgument(
                f"{actor.__name__} has no receive(message) method, so it is not an actor; "
                "derive it from playbill.Actor and override receive"
            )
    if mailbox is not None and not isinstance(mailbox, Unbounded | Bounded):
        raise InvalidArgument(
            f"mailbox must be Unbounded() or Bounded(capacity, overflow), got {mailbox!r}"
        )
    check_supervision(supervision)


def child_name(
    parent_path: str, stopping: bool, siblings: Any, name: str | None, fresh: Callable[[], int]
) -> str:
    """The name of a new child: checked and unique among its ``siblings``, or a fresh
    ``$n`` when none is given."""
    if stopping:
        raise ActorStopped(f"{parent_path} is stopping, so it cannot spawn children")
    if name is None:
        return f"${fresh()}"
    check_name(name)
    if name in siblings:
        raise InvalidArgument(
            f"{parent_path} already has a child named {name!r}; choose another name, or stop "
            "that child and wait for it to terminate first"
        )
    return name


def instantiate(factory: Callable[[], Any], context: object) -> Any:
    """Build an actor instance from its factory and give it its context."""
    instance = factory()
    if not isinstance(instance, Actor) and not callable(getattr(instance, "receive", None)):
        raise InvalidArgument(
            f"{short(factory)} built {short(instance)}, which has no receive(message) method; "
            "spawn a subclass of playbill.Actor"
        )
    instance.context = context
    return instance


def strategy_for(instance: Any, supervision: SupervisionStrategy | None) -> SupervisionStrategy:
    """The strategy an actor applies to its children: the spawn's, else its class's."""
    if supervision is not None:
        return supervision
    strategy = getattr(instance, "supervision", None)
    return strategy if isinstance(strategy, SupervisionStrategy) else DEFAULT_STRATEGY


class CellContext(ActorContext):
    """The part of an actor's context every interpreter's cell answers alike, from its
    ``ref``, ``parent_cell`` and ``children_cells``."""

    __slots__ = ()
    ref: ActorRef
    parent_cell: Any
    children_cells: dict[str, Any]

    @property
    def self_ref(self) -> ActorRef:
        return self.ref

    @property
    def parent(self) -> ActorRef | None:
        return None if self.parent_cell is None else self.parent_cell.ref

    @property
    def children(self) -> tuple[ActorRef, ...]:
        return tuple(child.ref for child in self.children_cells.values())


# an actor handles at most this many messages in a row before others get a turn (asyncio's
# actor loop; the simulator's causal delivery does the same)
THROUGHPUT = 64


def find_cell(root: Any, system_name: str, path: str, uid: int = 0, realm: int = 0) -> Any:
    """The cell at ``path`` under the root guardian ``root`` (cells keep their children in
    ``children_cells``), or ``None``; a relative path (``"worker/cache"``) starts under the
    root guardian, whatever the system's name; a non-zero ``uid`` must match too (a ref to an
    actor that was replaced by a new one at the same path finds nothing)."""
    segments = [segment for segment in path.split("/") if segment]
    if not path.startswith("/"):  # relative: a path under the root guardian of this system
        segments.insert(0, system_name)
    if not segments or segments[0] != system_name:
        return None
    cell = root
    for segment in segments[1:]:
        cell = cell.children_cells.get(segment)
        if cell is None:
            return None
    if (uid and cell.ref.uid != uid) or (realm and cell.ref.realm != realm):
        return None
    return cell


_SIMULATED_REALMS = itertools.count(1)


def new_realm(simulated: bool = False) -> int:
    """The ``realm`` of a new system, which every ref of its actors carries: 63 random bits
    from the operating system's entropy (unique across systems and processes), or — for a
    simulated run — the next number of this process's count (never shown in a trace, so runs
    replay exactly; still distinct from run to run)."""
    if simulated:
        return next(_SIMULATED_REALMS)
    return secrets.randbits(63) | 1 << 62  # never 0, the realm of a ref built by hand


def walk_cells(root: Any) -> list[Any]:
    """``root`` and every cell below it (each cell keeps its children in ``children_cells``)."""
    found = []
    pending = [root] if root is not None else []
    while pending:
        cell = pending.pop()
        found.append(cell)
        pending.extend(cell.children_cells.values())
    return found


# -- supervising -----------------------------------------------------------------------------------


@final
@frozen
class SupervisionDecision(Generic[C]):
    """What a supervisor does about one failed child: the ``directive`` for the ``affected``
    children (with each one's restart ``delays``), whether the failure ``escalate``s, and the
    failed child's new restart ``history``."""

    directive: Directive
    escalate: bool
    affected: tuple[C, ...]
    delays: tuple[float, ...]
    history: tuple[float, ...]


def decide_supervision(
    strategy: SupervisionStrategy,
    error: BaseException,
    failed: C,
    children: Sequence[C],
    history: tuple[float, ...],
    now: float,
    draw: Callable[[], float],
) -> SupervisionDecision[C]:
    """Decide about ``failed``: ask the strategy's decider, charge a restart to the budget
    (past it: stop and escalate), pick the affected children, and draw their backoff delays
    (``draw`` is the interpreter's random source, so the simulator controls the jitter)."""
    directive = strategy.decide(error)
    escalate = directive is Directive.ESCALATE
    if directive is Directive.RESTART:
        allowed, history = strategy.budget().record(history, now)
        if not allowed:
            directive = Directive.STOP
            escalate = True
    affected = tuple(strategy.affected(failed, list(children)))
    delays: tuple[float, ...] = ()
    if directive is Directive.RESTART:
        backoff = strategy.backoff
        delays = tuple(
            0.0
            if backoff is None
            else backoff.delay(cell.consecutive_restarts, draw() if backoff.jitter else 0.5)  # type: ignore[attr-defined]
            for cell in affected
        )
    return SupervisionDecision(directive, escalate, affected, delays, history)


# -- errors a cell reports -------------------------------------------------------------------------


def short(value: object) -> str:
    """A repr short enough for a message or a trace line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def stopped_error(path: str, message: object) -> ActorStopped:
    return ActorStopped(
        f"{path} is stopped, so the ask {short(message)} cannot be answered; watch the actor "
        "to learn when it stops, or ask one that is running"
    )


def ask_timeout_error(path: str, message: object, limit: float, waits: str = "") -> AskTimeout:
    return AskTimeout(
        f"ask timed out after {limit:g}s waiting on {path} (message: {short(message)}){waits}; "
        "raise the timeout or check the actor replies"
    )


def describe_waits(target: Any) -> str:
    """What ``target`` — the actor an ask timed out on — was itself waiting on: the chain of
    asks its message made (each actor in it waiting on the next: ``cell.asking`` is the
    ``(cell, message)`` its message waits on), and the cycle when the chain comes back.
    Computed only when an ask times out, so it costs the hot path nothing."""
    links: list[tuple[Any, object, Any]] = []
    seen = [target]
    cell = target
    cycle = False
    while len(links) < 16:
        asking = getattr(cell, "asking", None)
        if asking is None:
            break
        next_cell, message = asking
        links.append((cell, message, next_cell))
        if next_cell in seen:
            cycle = True
            break
        seen.append(next_cell)
        cell = next_cell
    if not links:
        return ""
    chain = ", ".join(
        f"{cell.path} was itself waiting on its ask {short(message)} to {next_cell.path}"
        for cell, message, next_cell in links
    )
    if not cycle:
        return f"; {chain}"
    loop = " → ".join([*(cell.path for cell, _, _ in links), links[-1][2].path])
    return (
        f"; {chain}: a cycle of asks ({loop}) that only a timeout breaks — tell instead of "
        "ask somewhere in it, or answer from a fork"
    )


def undelivered_ask_error(path: str, message: object, reason: DeadLetterReason) -> PlaybillError:
    """The error an ask fails with when its message became a dead letter for ``reason``."""
    if reason in (DeadLetterReason.STOPPED, DeadLetterReason.UNPROCESSED):
        return stopped_error(path, message)
    return MailboxFull(
        f"the ask {short(message)} to {path} was {reason.value}; slow the sender, raise the "
        "capacity, or pick another Overflow"
    )
