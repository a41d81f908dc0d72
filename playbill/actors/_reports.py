"""What a cell reports: the errors an asker or a sender gets, each saying what happened and
what to do, and which exceptions count as failures."""

from __future__ import annotations

from typing import Any

from playbill.actors._events import DeadLetterReason
from playbill.actors._mailbox import MailboxFull
from playbill.effects import (
    ActorNotFound,
    ActorStopped,
    AskTimeout,
    Cancelled,
    InvalidArgument,
    MessageFailed,
    PlaybillError,
)
from playbill.effects._pretty import bounded_repr

__all__ = [
    "ask_timeout_error",
    "asker_error",
    "describe_waits",
    "guardian_refuses",
    "is_failure",
    "short",
    "stopped_error",
    "undelivered_ask_error",
]


def short(value: object) -> str:
    """A repr short enough for a message or a trace line: bounded while it is built, with no
    memory address, never raising (see `bounded_repr`)."""
    return bounded_repr(value, 80)


def is_failure(error: BaseException) -> bool:
    """Whether ``error``, raised by user code in a message or a hook, is a failure of it:
    everything but the process being asked to end (``KeyboardInterrupt``, ``SystemExit``)."""
    return not isinstance(error, (KeyboardInterrupt, SystemExit))


def asker_error(path: str, message: object, error: BaseException) -> BaseException:
    """What the asker of ``message`` fails with when handling it failed with ``error``: the
    error itself, or — for a `BaseException` that is not an `Exception` — a `MessageFailed`
    caused by it, which the asker cannot mistake for its own cancellation. A program's own
    `Cancelled` reaches the asker as it is (its ask then ends as cancelled)."""
    if isinstance(error, (Exception, Cancelled)):
        return error
    wrapped = MessageFailed(
        f"{path} failed on {short(message)} with {short(error)}, which is not an Exception; raise "
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
    if reason is DeadLetterReason.NO_ROUTEE:
        return ActorNotFound(
            f"the router {path} has no routee to answer the ask {short(message)}; send it "
            "Resize(n) or AddRoutee(ref) first"
        )
    return MailboxFull(
        f"the ask {short(message)} to {path} was {reason.value}; slow the sender, raise the "
        "capacity, or pick another Overflow"
    )
