"""The system event stream as an async iterator with a bounded buffer."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeVar

from playbill.actors import (
    ActorEvent,
)
from playbill.effects._checks import check_count

if TYPE_CHECKING:
    from playbill.interpreters._asyncio._system import ActorSystem


A = TypeVar("A")

logger = logging.getLogger("playbill")

# -- events -----------------------------------------------------------------------------------


class EventSubscription:
    """An async iterator over the system event stream with a bounded buffer.

    Publishing never blocks an actor: when the buffer is full the oldest event is dropped and
    counted in ``dropped``. `drain` returns what is buffered without waiting.
    """

    def __init__(self, system: ActorSystem, buffer: int) -> None:
        check_count("ActorSystem.events() buffer", buffer, minimum=1)
        self._system = system
        self._events: deque[ActorEvent] = deque()
        self._buffer = buffer
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = 0

    def _push(self, event: ActorEvent) -> None:
        if len(self._events) >= self._buffer:
            self._events.popleft()
            if not self.dropped:
                logger.warning(
                    "an event subscription of /%s is full (%d events): the oldest are dropped "
                    "and counted in .dropped; read faster or subscribe with a larger buffer",
                    self._system.name,
                    self._buffer,
                )
            self.dropped += 1
        self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def drain(self) -> list[ActorEvent]:
        """Every buffered event, removed from the buffer, without waiting."""
        events = list(self._events)
        self._events.clear()
        return events

    def close(self) -> None:
        """Stop receiving events; iteration ends once the buffer is empty."""
        self._closed = True
        self._system._subscriptions.discard(self)
        self._wake()

    def __aiter__(self) -> AsyncIterator[ActorEvent]:
        return self

    async def __anext__(self) -> ActorEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._events.popleft()
