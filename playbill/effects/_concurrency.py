"""Concurrency inside one program: gather, race, timeout, fork, join — as effects.

These are ordinary effect values; each interpreter decides how to run the programs they carry
(the stub runs them one after another on a virtual clock, asyncio as tasks, the simulator as
fibers whose interleaving its scheduler chooses).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar, final, overload

from attrs import frozen
from returns.result import Result

from playbill.effects._errors import InvalidArgument
from playbill.effects._program import Effect, Program, Suspend, as_program
from playbill.effects._structure import walk_class

__all__ = [
    "CancelFiber",
    "Fiber",
    "Fork",
    "Join",
    "Parallel",
    "Race",
    "Settle",
    "Timeout",
    "cancel",
    "fork",
    "gather",
    "join",
    "race",
    "timeout",
]

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")


@final
@frozen
class Fiber(Generic[A]):
    """The handle of a forked program: join it for its result, or cancel it.

    Handles are plain values, meaningful only within the run that forked them.
    """

    id: int

    def join(self) -> Program[A]:
        """Wait for the fiber and produce its result (or fail with its error)."""
        return Suspend(Join(self))

    def cancel(self) -> Program[None]:
        """Cancel the fiber and wait until it (and its finalisers) finished."""
        return Suspend(CancelFiber(self))


@final
@frozen
class Parallel(Effect[tuple[Any, ...]]):
    """Run ``programs`` concurrently; the result is the tuple of their results, in order. The
    first failure cancels the others and fails the whole."""

    programs: tuple[Program[Any], ...]


@final
@frozen
class Race(Effect[Any]):
    """Run ``programs`` concurrently; the first to succeed wins and the others are cancelled.
    If every one fails, the race fails with the error of the last to fail."""

    programs: tuple[Program[Any], ...]


@final
@frozen
class Settle(Effect[Any]):
    """Run ``programs`` concurrently until ``decide`` settles the outcome: as each ends,
    ``decide(index, outcome)`` is called with its ``Result`` (a cancelled member's is a
    ``FiberCancelled`` failure), in the order they end, and gives ``None`` while the outcome is
    open or a ``Result`` once it is settled. That result is the effect's (its failure raised);
    the members still running are cancelled, as a race's losers are. Every member starts, in
    program order, and runs to its first wait before any outcome is looked at.

    ``expansion`` is the same thing built from the core effects (a race of members that each
    report to a shared tally, say). An interpreter with no counting join of its own runs it
    in place, unrecorded: the simulator (so its schedules and traces are the expansion's), the
    stub and the durable journal do; asyncio counts natively, with no fiber left waiting to
    be cancelled. ``flow.at_least`` compiles to one.

    >>> from returns.result import Success
    >>> from playbill import pure
    >>> from playbill.interpreters import stub
    >>> def first_even(index, outcome):
    ...     return outcome if outcome.unwrap() % 2 == 0 else None
    >>> settle = Settle((pure(1), pure(4), pure(6)), first_even, pure(4))
    >>> stub.run(Suspend(settle))
    4
    """

    programs: tuple[Program[Any], ...]
    decide: Callable[[int, Result[Any, BaseException]], Result[Any, BaseException] | None]
    expansion: Program[Any]


@final
@frozen
class Timeout(Effect[Any]):
    """Run ``program``; if it has not finished after ``seconds``, cancel it and fail with
    `TimedOut`."""

    program: Program[Any]
    seconds: float


@final
@frozen
class Fork(Effect[Fiber[Any]]):
    """Start ``program`` as a concurrent fiber and continue at once with its handle."""

    program: Program[Any]


@final
@frozen
class Join(Effect[Any]):
    """Wait for a forked fiber's outcome."""

    fiber: Fiber[Any]


@final
@frozen
class CancelFiber(Effect[None]):
    """Cancel a forked fiber and wait until it finished."""

    fiber: Fiber[Any]


# gather(gather(...)) and timeout(timeout(...)) nest programs through these effects: equality
# and hashing of a program walk into them rather than recurse.
walk_class(Parallel, Race, Settle, Timeout, Fork)


def _members(where: str, programs: tuple[object, ...]) -> tuple[Program[Any], ...]:
    return tuple(
        as_program(member, f"{where} argument {index}")  # type: ignore[call-overload]
        for index, member in enumerate(programs)
    )


@overload
def gather(first: Program[A], /) -> Program[tuple[A]]: ...
@overload
def gather(first: Program[A], second: Program[B], /) -> Program[tuple[A, B]]: ...
@overload
def gather(
    first: Program[A], second: Program[B], third: Program[C], /
) -> Program[tuple[A, B, C]]: ...
@overload
def gather(
    first: Program[A], second: Program[B], third: Program[C], fourth: Program[D], /
) -> Program[tuple[A, B, C, D]]: ...
@overload
def gather(*programs: Program[A]) -> Program[tuple[A, ...]]: ...
def gather(*programs: Program[Any]) -> Program[tuple[Any, ...]]:
    """Run programs concurrently; the result is the tuple of their results, in order.

    >>> from playbill import pure
    >>> from playbill.interpreters import stub
    >>> stub.run(gather(pure(1), pure(2), pure(3)))
    (1, 2, 3)
    """
    return Suspend(Parallel(_members("gather(...)", programs)))


def race(*programs: Program[A]) -> Program[A]:
    """The result of the first program to succeed; the others are cancelled.

    >>> from playbill import pure, sleep
    >>> from playbill.interpreters import stub
    >>> stub.run(race(sleep(5).then(pure("slow")), sleep(1).then(pure("fast"))))
    'fast'
    """
    if not programs:
        raise InvalidArgument("race() needs at least one program; a race of none has no winner")
    return Suspend(Race(_members("race(...)", programs)))


def timeout(program: Program[A], seconds: float) -> Program[A]:
    """``program``, failing with `TimedOut` if it runs longer than ``seconds``.

    >>> from playbill import pure, sleep
    >>> from playbill.interpreters import stub
    >>> stub.run(timeout(sleep(1).then(pure("in time")), 5))
    'in time'
    """
    program = as_program(program, "timeout(...)")
    if not (
        isinstance(seconds, (int, float))
        and not isinstance(seconds, bool)
        and seconds > 0
        and not math.isnan(seconds)
    ):
        raise InvalidArgument(
            f"timeout() takes a positive number of seconds, got {seconds!r}; "
            "use math.inf for no timeout"
        )
    return Suspend(Timeout(program, float(seconds)))


def fork(program: Program[A]) -> Program[Fiber[A]]:
    """Start ``program`` as a concurrent fiber; the result is its `Fiber` handle.

    >>> from playbill import pure
    >>> from playbill.interpreters import stub
    >>> stub.run(fork(pure(7)).flat_map(join))
    7
    """
    return Suspend(Fork(as_program(program, "fork(...)")))


def join(fiber: Fiber[A]) -> Program[A]:
    """Wait for a forked fiber and produce its result (or fail with its error)."""
    return Suspend(Join(_check_fiber("join()", fiber)))


def cancel(fiber: Fiber[Any]) -> Program[None]:
    """Cancel a forked fiber and wait until it (and its finalisers) finished."""
    return Suspend(CancelFiber(_check_fiber("cancel()", fiber)))


def _check_fiber(where: str, fiber: object) -> Fiber[Any]:
    if not isinstance(fiber, Fiber):
        raise InvalidArgument(
            f"{where} takes the Fiber handle that fork() produced, got {fiber!r} "
            f"({type(fiber).__name__})"
        )
    return fiber
