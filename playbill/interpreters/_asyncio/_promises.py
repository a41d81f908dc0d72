"""Promises on the event loop: each waiter awaits a future of its own.

A shared future would not do: asyncio cancels the future a cancelled task awaits, so one
cancelled waiter would cancel the promise for all. With a future per waiter, a cancelled
waiter's future is simply done, and the completion passes it over: no value is delivered
late, no ``InvalidStateError`` reaches the completer, nothing becomes a dead letter.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, final

from playbill.effects import InvalidArgument, Promise
from playbill.effects._promises import bound_promise

__all__ = ["LoopPromise", "promise_state"]

_PRUNE_AT = 8  # waiters listed before the cancelled ones are dropped


@final
class LoopPromise:
    """The state of one promise of an actor system: its outcome once complete (the value, or
    the error), and the futures of the fibers that await it."""

    __slots__ = ("error", "id", "owner", "settled", "value", "waiters")

    def __init__(self, owner: object, promise_id: int) -> None:
        self.owner = owner
        self.id = promise_id
        self.settled = False
        self.value: Any = None
        self.error: Exception | None = None
        self.waiters: list[asyncio.Future[Any]] = []

    def settle(self, value: Any, error: Exception | None) -> bool:
        """Complete with ``value`` (or ``error``); False if complete already."""
        if self.settled:
            return False
        self.settled = True
        self.value, self.error = value, error
        waiters, self.waiters = self.waiters, []
        for future in waiters:
            if not future.done():  # a cancelled waiter's future is done: passed over
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)
        return True

    def waiter(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        """A future for one more waiter, done when the promise is complete."""
        waiters = self.waiters
        if len(waiters) >= _PRUNE_AT:  # waiters cancelled before any completion: forget them
            waiters[:] = [future for future in waiters if not future.done()]
        future: asyncio.Future[Any] = loop.create_future()
        waiters.append(future)
        return future


def new_promise(owner: object, ids: itertools.count[int]) -> Promise[Any]:
    state = LoopPromise(owner, next(ids))
    return bound_promise(state.id, state)


def promise_state(handle: Promise[Any], owner: object) -> LoopPromise:
    """The state behind ``handle``, if ``owner`` (an actor system) made it."""
    state = handle.binding
    if type(state) is not LoopPromise or state.owner is not owner:
        raise InvalidArgument(
            f"{handle!r} was not made by new_promise() in this actor system; await, complete "
            "or fail only the promises new_promise() produced there"
        )
    return state
