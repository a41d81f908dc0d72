"""The system event stream's events and the dead-letter office, as pure values."""

from __future__ import annotations

import enum
from collections import Counter, deque
from typing import final

from attrs import field, frozen

from playbill.effects._pretty import bounded_repr
from playbill.effects._program import _slot_setter

__all__ = [
    "ActorEvent",
    "DeadLetter",
    "DeadLetterReason",
    "DeadLettered",
    "DeadLetters",
    "Emitted",
    "Escalated",
    "Failed",
    "Restarted",
    "Spawned",
    "Stopped",
]


class DeadLetterReason(enum.Enum):
    """Why a message could not be delivered."""

    STOPPED = "the recipient is stopped"
    UNKNOWN = "no actor at that path"
    DROPPED_NEWEST = "dropped by a full mailbox (drop newest)"
    DROPPED_OLDEST = "dropped by a full mailbox (drop oldest)"
    MAILBOX_FULL = "refused by a full mailbox"
    LATE_REPLY = "the reply came after its ask had timed out or was cancelled"
    UNPROCESSED = "still queued when the recipient stopped"
    GUARDIAN = "sent to a root guardian, which takes no messages"
    GAVE_UP = "its ask timed out or was cancelled while it waited for room in a full mailbox"
    NO_ROUTEE = "sent to a router that has no routee"


@final
@frozen
class DeadLetter:
    """A message that could not be delivered: to whom, why, and when. Its repr shows the
    message bounded, and never fails (a message whose repr raises is shown as a placeholder).
    """

    message: object = field(repr=bounded_repr)
    recipient: str
    reason: DeadLetterReason
    time: float


class DeadLetters:
    """Every undeliverable message is recorded here: counted by reason, the most recent kept.

    >>> letters = DeadLetters(limit=2)
    >>> for n in range(3):
    ...     letters.record(DeadLetter(n, "/app/a", DeadLetterReason.STOPPED, 0.0))
    >>> letters.count, [letter.message for letter in letters.recent]
    (3, [1, 2])
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.recent: deque[DeadLetter] = deque(maxlen=limit)
        self.by_reason: Counter[DeadLetterReason] = Counter()
        self.count = 0

    def record(self, letter: DeadLetter) -> None:
        self.count += 1
        by_reason = self.by_reason
        by_reason[letter.reason] = by_reason.get(letter.reason, 0) + 1
        self.recent.append(letter)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        reasons = ", ".join(f"{reason.name}={n}" for reason, n in self.by_reason.items())
        return f"DeadLetters(count={self.count}{', ' if reasons else ''}{reasons})"


@frozen
class ActorEvent:
    """Base of the events on the system event stream: which actor, and when."""

    path: str
    time: float


@final
@frozen
class Spawned(ActorEvent):
    """An actor started."""


@final
@frozen
class Stopped(ActorEvent):
    """An actor stopped; it processes nothing more."""


@final
@frozen
class Failed(ActorEvent):
    """An actor failed while handling a message or a hook; its supervisor decided
    ``directive`` (a `Directive` name)."""

    error: BaseException
    directive: str


@final
@frozen
class Restarted(ActorEvent):
    """An actor was restarted after ``error``: a fresh instance, the same mailbox."""

    error: BaseException


@final
@frozen
class Escalated(ActorEvent):
    """A failure reached the root guardian, which stops the system and reports it."""

    error: BaseException


@final
@frozen
class DeadLettered(ActorEvent):
    """A message became a dead letter."""

    letter: DeadLetter


@final
@frozen(init=False)
class Emitted(ActorEvent):
    """A program emitted ``event`` (``emit(event)``). Its repr shows the event bounded, and
    never fails."""

    event: object = field(repr=lambda event: bounded_repr(event, 240))

    def __init__(self, path: str, time: float, event: object) -> None:
        _set_path(self, path)
        _set_time(self, time)
        _set_event(self, event)


# Emitted is built per emit (two per agent task): a fast ``__init__``, as for the hot Program
# nodes
_set_path = _slot_setter(ActorEvent, "path")
_set_time = _slot_setter(ActorEvent, "time")
_set_event = _slot_setter(Emitted, "event")
