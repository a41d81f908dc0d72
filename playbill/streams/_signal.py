"""A wake-up call between the fibers of one stream run, on promises.

Fibers of one run share the stream's state (plain deques, owned by the run), but a fiber that
finds nothing to do must wait until another one changes that state. It waits on a `Promise`
(`new_promise` / `await_promise`), which the next `Signal.fire` completes: one effect to wait,
one to wake, no helper actor and no message. Under asyncio the waiter awaits a future of its
own; under the simulator the wake-up is a scheduling point named by the waiter's fiber id, so
it is recorded, replayed and explored like any other. A waiter that is cancelled (its stage
closed) just stops waiting: a later `fire` completes a promise nobody awaits, which costs
nothing and leaves nothing behind.
"""

from __future__ import annotations

import math
from typing import Any, final

from playbill.effects import (
    AwaitPromise,
    CompletePromise,
    Program,
    Promise,
    Suspend,
    TimedOut,
    new_promise,
    program,
    pure,
    timeout,
)

__all__ = ["NOTHING", "Signal"]

NOTHING: Program[None] = pure(None)
"""What `Signal.fire` gives when no one waits (callers may skip performing it)."""


@final
class Signal:
    """One waiter at a time, any number of firers; a firing between the waiter's check and
    its wait is not lost (the waiter passes the `version` it checked against).

    A waiter that stops waiting (cancelled, or timed out) leaves its promise behind; the next
    `fire` completes it, which no one sees and which costs nothing, so there is nothing to
    clean up."""

    __slots__ = ("_promise", "version")

    def __init__(self) -> None:
        self.version = 0
        self._promise: Promise[None] | None = None

    def fire(self) -> Program[object]:
        """Wake the waiter, if one waits; a waiter that checked before this sees it anyway.
        `NOTHING` when no one waits."""
        self.version += 1
        promise = self._promise
        if promise is None:
            return NOTHING
        self._promise = None
        return Suspend(CompletePromise(promise, None))

    def wait(self, seen: int, seconds: float = math.inf) -> Program[bool]:
        """Wait until a firing after version ``seen``, or ``seconds``; True if fired."""
        if self.version != seen:
            return _TRUE
        if seconds == math.inf:
            return _NEW_PROMISE.flat_map(_Install(self, seen))
        return _timed_wait(self, seen, seconds)


_TRUE: Program[bool] = pure(True)
_NEW_PROMISE = new_promise()


@final
class _Install:
    """With the new promise made: wait on it, unless a firing came meanwhile (another fiber's
    turn may come between the check and the promise)."""

    __slots__ = ("seen", "signal")

    def __init__(self, signal: Signal, seen: int) -> None:
        self.signal = signal
        self.seen = seen

    def __call__(self, promise: Promise[None]) -> Program[bool]:
        signal = self.signal
        if signal.version != self.seen:
            return _TRUE
        signal._promise = promise
        return Suspend(AwaitPromise(promise)).then(_TRUE)


@program
def _timed_wait(signal: Signal, seen: int, seconds: float) -> Any:
    promise = yield _NEW_PROMISE
    if signal.version != seen:
        return True
    signal._promise = promise
    try:
        yield timeout(Suspend(AwaitPromise(promise)), seconds)
    except TimedOut:
        return False
    return True
