"""Mailboxes: the policy values and the pure queue that every interpreter uses.

A `Mailbox` holds system messages (stop, supervision, terminated), which always overtake user
messages, and user messages, bounded or not. Offering a user message returns what the
interpreter must do: it has been queued; the offered one or the oldest one was dropped (a dead
letter); it was refused (`MailboxFull` for the sender); or the sender must wait for room.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Any, final

from attrs import frozen

from playbill.effects import InvalidArgument, PlaybillError

__all__ = [
    "Bounded",
    "Mailbox",
    "MailboxFull",
    "MailboxPolicy",
    "Offer",
    "Overflow",
    "Unbounded",
]


class MailboxFull(PlaybillError):
    """A bounded mailbox refused a message (its overflow is `Overflow.FAIL`, or the direct
    ``ref.tell`` met a full `Overflow.BLOCK` mailbox, which it never waits on)."""


class Overflow(enum.Enum):
    """What a bounded mailbox does with a message when it is full."""

    BLOCK = "block"
    """The sender waits for room (``free_tell``, ``await ref.send``); ``ref.tell`` raises."""
    DROP_NEWEST = "drop newest"
    """The offered message is dropped (a dead letter)."""
    DROP_OLDEST = "drop oldest"
    """The oldest queued message is dropped (a dead letter) and the offered one queued."""
    FAIL = "fail"
    """The sender gets `MailboxFull`; the message is a dead letter."""


@final
@frozen
class Unbounded:
    """A mailbox without a limit (the default)."""


@final
@frozen
class Bounded:
    """A mailbox holding at most ``capacity`` user messages; ``overflow`` says what happens
    to one more.

    >>> Bounded(100, Overflow.DROP_OLDEST)
    Bounded(capacity=100, overflow=<Overflow.DROP_OLDEST: 'drop oldest'>)
    """

    capacity: int
    overflow: Overflow = Overflow.BLOCK

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.capacity, int) or isinstance(self.capacity, bool):
            raise InvalidArgument(f"Bounded capacity must be an int, got {self.capacity!r}")
        if self.capacity < 1:
            raise InvalidArgument(f"Bounded capacity must be at least 1, got {self.capacity}")
        if not isinstance(self.overflow, Overflow):
            raise InvalidArgument(
                f"Bounded overflow must be an Overflow member such as Overflow.DROP_OLDEST, "
                f"got {self.overflow!r}"
            )


MailboxPolicy = Unbounded | Bounded


class Offer(enum.Enum):
    """The outcome of offering a user message to a `Mailbox`."""

    QUEUED = "queued"
    DROPPED_NEWEST = "dropped newest"
    DROPPED_OLDEST = "dropped oldest"
    REFUSED = "refused"
    FULL = "full"
    """Only for `Overflow.BLOCK`: nothing was queued; the sender should wait for room."""


_NO_SYSTEM: Any = ()


class Mailbox:
    """System and user messages of one actor: system messages overtake user messages.

    >>> box = Mailbox(Bounded(1, Overflow.DROP_OLDEST))
    >>> box.offer("a"), box.offer("b")
    (<Offer.QUEUED: 'queued'>, <Offer.DROPPED_OLDEST: 'dropped oldest'>)
    >>> box.last_dropped, box.take_user()
    ('a', 'b')
    """

    __slots__ = ("capacity", "is_notice", "last_dropped", "overflow", "system", "user")

    def __init__(self, policy: MailboxPolicy | None = None) -> None:
        self.user: deque[Any] = deque()
        # system messages: a deque of its own from the first (`post_system`); most actors get
        # one only when they stop
        self.system: deque[Any] = _NO_SYSTEM
        self.last_dropped: object = None
        # which queued items are runtime notices (Terminated), kept at the head of the user
        # queue: handled before user messages, in the order they came, never dropped (set by
        # the first `notify`: a mailbox that never had one has none to skip)
        self.is_notice: Callable[[Any], bool] | None = None
        if policy is None:  # the common case, kept short: one per actor spawned
            self.capacity: int | None = None
            self.overflow = Overflow.BLOCK
            return
        if not isinstance(policy, (Unbounded, Bounded)):
            raise InvalidArgument(
                f"a mailbox policy is Unbounded() or Bounded(capacity, overflow), got {policy!r}"
            )
        self.capacity = policy.capacity if isinstance(policy, Bounded) else None
        self.overflow = policy.overflow if isinstance(policy, Bounded) else Overflow.BLOCK

    def offer(self, message: object) -> Offer:
        """Queue ``message`` if the policy allows; say what happened."""
        capacity = self.capacity
        if capacity is None or len(self.user) < capacity:
            self.user.append(message)
            return Offer.QUEUED
        overflow = self.overflow
        if overflow is Overflow.DROP_OLDEST:
            user = self.user
            oldest = self._notices_at_head()
            if oldest == len(user):  # nothing but notices: the offered message gives way
                self.last_dropped = message
                return Offer.DROPPED_NEWEST
            self.last_dropped = user[oldest]
            del user[oldest]
            user.append(message)
            return Offer.DROPPED_OLDEST
        if overflow is Overflow.DROP_NEWEST:
            self.last_dropped = message
            return Offer.DROPPED_NEWEST
        if overflow is Overflow.FAIL:
            self.last_dropped = message
            return Offer.REFUSED
        return Offer.FULL

    def notify(self, notice: object, is_notice: Callable[[Any], bool]) -> None:
        """Queue a runtime notice (``Terminated``; ``is_notice`` tells queued notices from
        user messages): after the notices already queued, ahead of every user message, never
        dropped by the overflow policy.

        >>> box = Mailbox(Bounded(2, Overflow.DROP_OLDEST))
        >>> negative = lambda item: item < 0
        >>> box.offer(1), box.notify(-1, negative), box.notify(-2, negative), box.offer(2)
        (<Offer.QUEUED: 'queued'>, None, None, <Offer.DROPPED_OLDEST: 'dropped oldest'>)
        >>> list(box.user), box.last_dropped
        ([-1, -2, 2], 1)
        """
        self.is_notice = is_notice
        self.user.insert(self._notices_at_head(), notice)

    def _notices_at_head(self) -> int:
        is_notice = self.is_notice
        if is_notice is None:
            return 0
        user = self.user
        count = 0
        while count < len(user) and is_notice(user[count]):
            count += 1
        return count

    def post_system(self, message: object) -> None:
        """Queue a system message (it overtakes every user message)."""
        system = self.system
        if system is _NO_SYSTEM:
            system = self.system = deque()
        system.append(message)

    def has_room(self) -> bool:
        return self.capacity is None or len(self.user) < self.capacity

    def take_user(self) -> object:
        return self.user.popleft()

    def drain(self) -> list[Any]:
        """Remove and return every queued user message (for dead letters on stop)."""
        drained = list(self.user)
        self.user.clear()
        return drained
