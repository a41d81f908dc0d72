"""A wake-up call between the fibers of one stream run, in any interpreter with actors.

Fibers of one run share the stream's state (plain deques, owned by the run), but a fiber that
finds nothing to do must wait until another one changes that state. The effect vocabulary has
no condition variable, and a fiber may join or cancel only the fibers it forked (asyncio keeps
fiber handles per fiber), so the wait is an ask to a tiny actor that sleeps: `Signal.fire`
stops it, interrupting the sleep, and the ask returns. Under the simulator that is an ordinary
actor, so every wake-up is a scheduling point that it records, replays and explores.
"""

from __future__ import annotations

import math
from typing import Any, final

from returns.result import Failure

from playbill.actors import Actor
from playbill.effects import ActorRef, Program, free_spawn, free_stop, program, pure, sleep

__all__ = ["Signal"]


@final
class _Sleeper(Actor):
    """Sleeps for the seconds it is asked (forever for ``math.inf``); stopping it wakes the
    asker."""

    def receive(self, seconds: float) -> Program[None]:
        return sleep(seconds)


@final
class Signal:
    """One waiter, any number of firers; a firing between the waiter's check and its wait is
    not lost (the waiter passes the `version` it checked against)."""

    __slots__ = ("_sleeper", "version")

    def __init__(self) -> None:
        self.version = 0
        self._sleeper: ActorRef | None = None

    def fire(self) -> Program[None]:
        """Wake the waiter, if one waits; a waiter that checked before this sees it anyway."""
        self.version += 1
        sleeper = self._sleeper
        if sleeper is None:
            return _DONE
        self._sleeper = None
        return free_stop(sleeper, interrupt=True)

    def wait(self, seen: int, seconds: float = math.inf) -> Program[bool]:
        """Wait until a firing after version ``seen``, or ``seconds``; True if fired."""
        return _wait(self, seen, seconds)


_DONE: Program[None] = pure(None)


@program
def _wait(signal: Signal, seen: int, seconds: float) -> Any:
    if signal.version != seen:
        return True
    sleeper = yield free_spawn(_Sleeper)
    if signal.version != seen:  # fired while the sleeper was being spawned
        yield free_stop(sleeper, interrupt=True)
        return True
    signal._sleeper = sleeper
    woken = (
        yield sleeper.free_ask(seconds, timeout=math.inf)
        .attempt()
        .ensuring(_forget(signal, sleeper))
    )
    return isinstance(woken, Failure)  # stopped by `fire`; a reply means the deadline passed


def _forget(signal: Signal, sleeper: ActorRef) -> Program[None]:
    @program
    def body() -> Any:
        if signal._sleeper is sleeper:  # woken by its own deadline, or cancelled: not fired
            signal._sleeper = None
            yield free_stop(sleeper, interrupt=True)

    return body()
