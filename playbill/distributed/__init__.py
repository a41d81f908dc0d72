"""Past one machine, on Redis: durable actors whose mailboxes are Redis Streams, one fenced
owner per actor, redelivery after a crash, and refs and asks between processes.

Delivery is at-least-once with dedup (every message carries an id made once by its sender,
and a receiver drops one it has committed), never "exactly once"; writes a handler stages
with `redis_write` are applied atomically with the message's acknowledgement. See
``docs/distributed.md``.

>>> from playbill.distributed import RedisTransport, message
>>> RedisTransport("redis://127.0.0.1:6379/0").namespace
'playbill'
"""

try:
    import msgpack  # noqa: F401
    import redis.asyncio  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "playbill.distributed needs redis-py and msgpack: pip install 'playbill[redis]'"
    ) from error

from playbill.distributed._effects import (
    WRITE_COMMANDS,
    DurableAsk,
    DurableTell,
    RedisWrite,
    redis_write,
)
from playbill.distributed._envelope import Envelope
from playbill.distributed._errors import NodeDown, RemoteError, StaleGrainState
from playbill.distributed._grains import RedisStore
from playbill.distributed._ref import DurableRef
from playbill.distributed._registry import MessageRegistry, default_registry, message
from playbill.distributed._transport import DeadEntry, RedisTransport

__all__ = [
    "WRITE_COMMANDS",
    "DeadEntry",
    "DurableAsk",
    "DurableRef",
    "DurableTell",
    "Envelope",
    "MessageRegistry",
    "NodeDown",
    "RedisStore",
    "RedisTransport",
    "RedisWrite",
    "RemoteError",
    "StaleGrainState",
    "default_registry",
    "message",
    "redis_write",
]
