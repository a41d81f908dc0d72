"""Ask timeouts without a timer per ask."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

from playbill.actors._reports import ask_timeout_error, describe_waits

if TYPE_CHECKING:
    from playbill.interpreters._asyncio._cell import _Cell


A = TypeVar("A")

logger = logging.getLogger("playbill")


class _Deadlines:
    """Ask timeouts without a timer per ask (a timer handle costs more than the rest of an
    ask): one queue per timeout value, whose deadlines therefore arrive in order, and one timer
    per queue armed for its head. Answered asks leave the queue when they reach its head."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.time = loop.time  # (bound once: read on every ask)
        self.queues: dict[float, deque[tuple[float, asyncio.Future[Any], _Cell, object]]] = {}
        self.armed: dict[float, asyncio.TimerHandle] = {}
        self.compact_at: dict[float, int] = {}

    def add(self, limit: float, future: asyncio.Future[Any], cell: _Cell, message: object) -> None:
        queue = self.queues.get(limit)
        if queue is None:
            queue = self.queues[limit] = deque()
        while queue and queue[0][1].done():
            queue.popleft()
        if len(queue) >= 1024 and len(queue) >= self.compact_at.get(limit, 1024):
            # a slow ask at the head keeps answered ones behind it: drop those now and then
            queue = self.queues[limit] = deque(entry for entry in queue if not entry[1].done())
            self.compact_at[limit] = max(1024, 2 * len(queue))
        queue.append((self.time() + limit, future, cell, message))
        if limit not in self.armed:
            self.armed[limit] = self.loop.call_at(queue[0][0], self.fire, limit)

    def fire(self, limit: float) -> None:
        del self.armed[limit]
        queue = self.queues[limit]
        now = self.loop.time()
        while queue and (queue[0][0] <= now or queue[0][1].done()):
            _, future, cell, message = queue.popleft()
            if not future.done():  # (what the target waited on itself, when it did)
                waits = describe_waits(cell)
                future.set_exception(ask_timeout_error(cell.path, message, limit, waits))
        if queue:
            self.armed[limit] = self.loop.call_at(queue[0][0], self.fire, limit)
        else:
            del self.queues[limit]
            self.compact_at.pop(limit, None)

    def close(self) -> None:
        for handle in self.armed.values():
            handle.cancel()
        self.armed.clear()
