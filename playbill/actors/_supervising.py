"""A supervisor's decision about a failed child, as a pure function of its strategy, the
restart history, the time and a random draw; and the strategy an actor applies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, final

from attrs import frozen

from playbill.actors._supervision import Directive, OneForOne, SupervisionStrategy
from playbill.effects import (
    InvalidArgument,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "SupervisionDecision",
    "check_supervision",
    "decide_supervision",
    "strategy_for",
]

C = TypeVar("C")


DEFAULT_STRATEGY = OneForOne()


def check_supervision(supervision: object, where: str = "supervision") -> None:
    """Refuse a supervision strategy that is not one, saying what to pass instead."""
    if supervision is not None and not isinstance(supervision, SupervisionStrategy):
        raise InvalidArgument(
            f"{where} must be OneForOne(...), AllForOne(...) or RestForOne(...), got "
            f"{supervision!r}"
        )


def strategy_for(instance: Any, supervision: SupervisionStrategy | None) -> SupervisionStrategy:
    """The strategy an actor applies to its children: the spawn's, else its class's."""
    if supervision is not None:
        return supervision
    strategy = getattr(instance, "supervision", None)
    return strategy if isinstance(strategy, SupervisionStrategy) else DEFAULT_STRATEGY


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
