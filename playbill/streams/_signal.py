"""A wake-up call between the fibers of one stream run, in any interpreter with actors.

Fibers of one run share the stream's state (plain deques, owned by the run), but a fiber that
finds nothing to do must wait until another one changes that state. The effect vocabulary has
no condition variable, and a fiber may join or cancel only the fibers it forked (asyncio keeps
fiber handles per fiber), so the wait is an ask to a one-shot actor that sleeps: `Signal.fire`
stops it with ``interrupt=True`` once it sleeps, and the ask returns. A firing that comes
before it sleeps is seen when it handles the ask, which it then answers at once, so no
message is ever left queued in a stopped actor (no dead letter). Under the simulator that is
an ordinary actor: every wake-up is a scheduling point it records, replays and explores.
"""

from __future__ import annotations

import functools
import math
from typing import Any, final

from returns.result import Result, Success

from playbill.actors import ONE_TIME, Actor
from playbill.effects import (
    ActorRef,
    Fiber,
    Program,
    fork,
    free_spawn,
    free_stop,
    join,
    program,
    pure,
    sleep,
)

__all__ = ["Signal"]


@final
class _Ticket:
    """One wait: what the waiter and its actor share."""

    __slots__ = ("answered", "over", "ref", "seen", "signal", "sleeping")

    def __init__(self, signal: Signal, seen: int) -> None:
        self.signal = signal
        self.seen = seen
        self.ref: ActorRef | None = None
        self.sleeping = False  # its actor handles the ask by sleeping: a stop interrupts that
        self.answered = False
        self.over = False  # the waiter gave up (it was cancelled)

    def answer(self, reply: Result[Any, Exception]) -> Result[Any, Exception]:
        self.answered = True
        return reply


@final
class StreamSignal(Actor):
    """Handles one ask, then stops: sleeps for the seconds asked unless the signal already
    fired; the reply is True if it slept that long (the waiter's deadline)."""

    stop_policy = ONE_TIME

    def __init__(self, ticket: _Ticket) -> None:
        self.ticket = ticket

    def receive(self, seconds: float) -> Any:
        ticket = self.ticket
        if ticket.over or ticket.signal.version != ticket.seen:
            return False
        ticket.sleeping = True
        return sleep(seconds).then(_TRUE)


_TRUE: Program[bool] = pure(True)
_NOTHING: Program[None] = pure(None)


@final
class Signal:
    """One waiter at a time, any number of firers; a firing between the waiter's check and
    its wait is not lost (the waiter passes the `version` it checked against)."""

    __slots__ = ("_ticket", "version")

    def __init__(self) -> None:
        self.version = 0
        self._ticket: _Ticket | None = None

    def fire(self) -> Program[None]:
        """Wake the waiter, if one waits; a waiter that checked before this sees it anyway."""
        self.version += 1
        ticket = self._ticket
        if ticket is None:
            return _NOTHING
        self._ticket = None
        if ticket.sleeping and not ticket.answered and ticket.ref is not None:
            return free_stop(ticket.ref, interrupt=True)
        return _NOTHING  # its actor has not handled the ask yet: it will see the new version

    def wait(self, seen: int, seconds: float = math.inf) -> Program[bool]:
        """Wait until a firing after version ``seen``, or ``seconds``; True if fired."""
        return _wait(self, seen, seconds)


@program
def _wait(signal: Signal, seen: int, seconds: float) -> Any:
    if signal.version != seen:
        return True
    ticket = _Ticket(signal, seen)
    signal._ticket = ticket
    ticket.ref = yield free_spawn(functools.partial(StreamSignal, ticket))
    # the ask runs in a fork, so that a waiter cancelled before its actor handled the ask can
    # still wait for the (immediate) answer: a reply left to nobody would be a dead letter
    asking = yield fork(ticket.ref.free_ask(seconds, timeout=math.inf).attempt().map(ticket.answer))
    reply = yield join(asking).ensuring(_forget(ticket, asking))
    return reply != Success(True)  # stopped by `fire`, or answered at once: fired


@program
def _forget(ticket: _Ticket, asking: Fiber[Any]) -> Any:
    ticket.over = True
    signal = ticket.signal
    if signal._ticket is ticket:
        signal._ticket = None
    if ticket.sleeping and not ticket.answered and ticket.ref is not None:
        ticket.answered = True  # the waiter was cancelled while its actor sleeps: interrupt it
        yield free_stop(ticket.ref, interrupt=True)
    yield join(asking).attempt()
