"""Supervision: strategies, directives, restart budgets and backoff, as pure values.

A parent supervises its children. When a child fails while handling a message, the parent —
serialised with its own messages — asks its strategy's ``decider`` for a `Directive`, and the
strategy says which children it applies to: only the failed one (`OneForOne`), all of them
(`AllForOne`), or the failed one and those started after it (`RestForOne`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TypeVar, final

from attrs import field, frozen

from playbill.effects import InvalidArgument

__all__ = [
    "AllForOne",
    "Backoff",
    "Directive",
    "OneForOne",
    "RestForOne",
    "RestartBudget",
    "SupervisionStrategy",
    "restart_on_exception",
]

T = TypeVar("T")


class Directive(enum.Enum):
    """What a supervisor does with a failed child."""

    RESUME = "resume"
    """Keep the instance and its state; go on with the next message."""
    RESTART = "restart"
    """Stop the instance's children, build a fresh instance (state reset), keep the mailbox."""
    STOP = "stop"
    """Stop the child; it processes nothing more."""
    ESCALATE = "escalate"
    """Fail the supervisor itself with the child's error, for its own supervisor to decide."""


def restart_on_exception(error: BaseException) -> Directive:
    """The default decider: restart on any exception."""
    return Directive.RESTART


def _check_positive(name: str) -> Callable[[object, object, float], None]:
    def check(_instance: object, _attribute: object, value: float) -> None:
        if not (isinstance(value, (int, float)) and value > 0 and value == value):  # not NaN
            raise InvalidArgument(f"{name} must be a positive number, got {value!r}")

    return check


@final
@frozen
class Backoff:
    """Exponential restart backoff: the n-th consecutive restart (from 0) waits
    ``min(maximum, initial * multiplier**n)`` seconds, spread by ``±jitter`` (a fraction).

    >>> Backoff(initial=0.1, maximum=1.0, jitter=0.0).delay(5, 0.5)
    1.0
    >>> Backoff(initial=1.0, jitter=0.5).delay(0, 1.0)
    1.5
    """

    initial: float = field(default=0.1, validator=_check_positive("Backoff initial"))
    maximum: float = field(default=10.0, validator=_check_positive("Backoff maximum"))
    multiplier: float = field(default=2.0, validator=_check_positive("Backoff multiplier"))
    jitter: float = 0.2

    def __attrs_post_init__(self) -> None:
        if not (isinstance(self.jitter, (int, float)) and 0 <= self.jitter <= 1):
            raise InvalidArgument(f"Backoff jitter is a fraction in [0, 1], got {self.jitter!r}")

    def delay(self, attempt: int, random_value: float) -> float:
        """The delay before restart number ``attempt``; ``random_value`` in [0, 1) comes from
        the interpreter's random source (so the simulator controls it)."""
        try:
            base = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        except OverflowError:  # a huge multiplier: the delay is capped at the maximum anyway
            base = self.maximum
        spread = 1.0 + self.jitter * (2.0 * random_value - 1.0)
        return float(max(0.0, base * spread))


@frozen
class RestartBudget:
    """At most ``max_restarts`` restarts within ``within`` seconds (a sliding window).

    >>> budget = RestartBudget(2, 10.0)
    >>> history = ()
    >>> allowed, history = budget.record(history, now=0.0)
    >>> allowed, history = budget.record(history, now=1.0)
    >>> budget.record(history, now=2.0)[0], budget.record(history, now=10.5)[0]
    (False, True)
    """

    max_restarts: int
    within: float

    def record(self, history: tuple[float, ...], now: float) -> tuple[bool, tuple[float, ...]]:
        """Whether one more restart at ``now`` is allowed, and the history to keep."""
        recent = tuple(moment for moment in history if now - moment < self.within)
        if len(recent) >= self.max_restarts:
            return False, recent
        return True, (*recent, now)


@frozen
class SupervisionStrategy:
    """Base of the strategies: a decider, a restart budget and an optional backoff."""

    decider: Callable[[BaseException], Directive] = restart_on_exception
    max_restarts: int = 10
    within: float = 60.0
    backoff: Backoff | None = None

    def __attrs_post_init__(self) -> None:
        if not callable(self.decider):
            raise InvalidArgument(
                f"decider must be a function from exception to Directive, got {self.decider!r}"
            )
        if not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            raise InvalidArgument(f"max_restarts must be an int >= 0, got {self.max_restarts!r}")
        if not (isinstance(self.within, (int, float)) and self.within > 0):
            raise InvalidArgument(
                f"within must be a positive number of seconds, got {self.within!r}"
            )
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise InvalidArgument(f"backoff must be a Backoff or None, got {self.backoff!r}")

    def decide(self, error: BaseException) -> Directive:
        """The directive for ``error`` (a decider that fails or answers nonsense escalates)."""
        try:
            directive = self.decider(error)
        except Exception:
            return Directive.ESCALATE
        return directive if isinstance(directive, Directive) else Directive.ESCALATE

    def budget(self) -> RestartBudget:
        return RestartBudget(self.max_restarts, self.within)

    def affected(self, failed: T, children: Sequence[T]) -> list[T]:
        """The children (in start order) a directive for ``failed`` applies to."""
        raise NotImplementedError


@final
@frozen
class OneForOne(SupervisionStrategy):
    """Apply the directive to the failed child only.

    >>> OneForOne().affected("b", ["a", "b", "c"])
    ['b']
    """

    def affected(self, failed: T, children: Sequence[T]) -> list[T]:
        return [failed]


@final
@frozen
class AllForOne(SupervisionStrategy):
    """Apply the directive to every child.

    >>> AllForOne().affected("b", ["a", "b", "c"])
    ['a', 'b', 'c']
    """

    def affected(self, failed: T, children: Sequence[T]) -> list[T]:
        return list(children)


@final
@frozen
class RestForOne(SupervisionStrategy):
    """Apply the directive to the failed child and every child started after it.

    >>> RestForOne().affected("b", ["a", "b", "c"])
    ['b', 'c']
    """

    def affected(self, failed: T, children: Sequence[T]) -> list[T]:
        position = list(children).index(failed)
        return list(children[position:])
