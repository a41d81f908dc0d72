"""The error tree: every failure playbill raises is a `PlaybillError` (or `Cancelled`).

Usage errors also subclass the matching builtin (``TypeError``, ``ValueError``, ...), so code
that already catches the builtin keeps working. Every message says what happened, the value
that was received, and what to do about it.
"""

from __future__ import annotations

from typing import final

__all__ = [
    "ActorNotFound",
    "ActorStopped",
    "ActorSystemFailed",
    "AskTimeout",
    "Cancelled",
    "Deadlock",
    "FiberCancelled",
    "InjectedFault",
    "InvalidArgument",
    "NondeterminismError",
    "PlaybillError",
    "ProgramError",
    "TimedOut",
    "UnhandledEffect",
]


class PlaybillError(Exception):
    """Root of every error playbill raises on purpose.

    >>> issubclass(UnhandledEffect, PlaybillError)
    True
    """


class ProgramError(PlaybillError, TypeError):
    """A program is malformed: something that must be a `Program` was not, or a generator
    decorated with ``@program`` yielded a value that is neither a `Program` nor an `Effect`."""


class InvalidArgument(PlaybillError, ValueError, TypeError):
    """An argument of the wrong type or with a value that cannot work (a negative sleep, a
    timeout of zero, a race of no programs, a tell to something that is not an `ActorRef`).

    It is both a ``ValueError`` and a ``TypeError``, so code catching either builtin catches it.
    """


@final
class UnhandledEffect(PlaybillError, LookupError):
    """An interpreter met an effect for which it has no handler."""

    def __init__(self, effect: object, interpreter: str, how_to_register: str) -> None:
        self.effect = effect
        self.interpreter = interpreter
        name = type(effect).__name__
        super().__init__(
            f"no handler for effect {effect!r} in the {interpreter} interpreter; "
            f"register one for its type {name}: {how_to_register}"
        )


class TimedOut(PlaybillError, TimeoutError):
    """A program did not finish within its timeout."""


class AskTimeout(TimedOut):
    """An ask received no reply within its timeout."""


class ActorStopped(PlaybillError):
    """The target actor is stopped (or stopped while the request was pending)."""


@final
class ActorNotFound(PlaybillError, LookupError):
    """No actor lives at the given path (or the ref's actor was replaced by a new one)."""


@final
class MessageFailed(PlaybillError):
    """What an asker gets when the actor's ``receive`` (or the program it returned) raised a
    `BaseException` that is not an `Exception` — ``GeneratorExit``, or a cancellation raised
    by the actor's own code. The original is the ``__cause__``; it is wrapped so that the
    asker never mistakes it for a cancellation of its own."""


class ActorSystemFailed(PlaybillError):
    """A failure escalated to the root guardian and stopped the actor system; the original
    error is the ``__cause__``."""


class FiberCancelled(PlaybillError):
    """`join` was asked for the value of a fiber that was cancelled before it finished."""


@final
class InjectedFault(PlaybillError):
    """A fault the simulator injected on purpose (a crash, a timed-out ask, a `maybe_fault`
    point): recorded in the schedule, so the run that met it replays."""


class NondeterminismError(PlaybillError):
    """The same schedule gave two different runs: something outside the effects (a clock, a
    random source, I/O, shared state) decided what happened. A durable program that asks for
    a different effect than its journal recorded raises the subclass ``JournalMismatch``."""


@final
class Deadlock(PlaybillError):
    """Every fiber waits and nothing can wake any of them; the message says who waits for
    what."""


@final
class Cancelled(BaseException):
    """Thrown into a fiber to cancel it (a race loser, timed-out work, a cancelled fork).

    Like ``asyncio.CancelledError`` it derives from ``BaseException``, not from
    `PlaybillError`: ``recover``, ``attempt`` and ``except Exception`` in do-notation do not
    swallow it, while ``ensuring`` finalisers and ``try/finally`` blocks still run.
    """

    def __init__(self, message: str = "the fiber was cancelled") -> None:
        super().__init__(message)
