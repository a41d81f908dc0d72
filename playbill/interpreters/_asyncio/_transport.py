"""`Transport`: what an `ActorSystem` needs from an engine that carries messages past this
process (`playbill.distributed.RedisTransport` is one). The system starts it, delegates
durable spawns and remote refs to it, performs its effects through the handlers it gives, and
closes it first at shutdown. This layer never imports an implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from playbill.effects._handlers import Handlers

if TYPE_CHECKING:
    from playbill.interpreters._asyncio._system import ActorSystem

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """An engine for durable actors and remote refs, given as ``ActorSystem(transport=...)``.

    ``handlers()`` are the effects it performs (merged under the system's own handlers);
    ``start`` is awaited by ``async with ActorSystem(...)``; ``close`` is awaited first by
    `ActorSystem.shutdown`, before the local actors stop — and also when ``start`` raised, so
    it must undo a partial start.

    >>> class Nothing:
    ...     def handlers(self): return {}
    ...     async def start(self, system): pass
    ...     async def close(self): pass
    ...     async def spawn_durable(self, actor, id, **options): pass
    ...     def remote(self, id, **options): pass
    >>> isinstance(Nothing(), Transport)
    True
    """

    def handlers(self) -> Handlers: ...

    async def start(self, system: ActorSystem) -> None: ...

    async def close(self) -> None: ...

    async def spawn_durable(self, actor: Callable[[], Any], id: str, **options: Any) -> Any: ...

    def remote(self, id: str, **options: Any) -> Any: ...
