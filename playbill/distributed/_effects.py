"""The distributed engine's effects: staged Redis writes, and tell/ask to a durable ref as
values. `RedisTransport` gives the `ActorSystem` their handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

from attrs import field, frozen

from playbill.effects import ActorRef, Effect, InvalidArgument, Program, perform, self_ref

if TYPE_CHECKING:
    from playbill.distributed._ref import DurableRef

__all__ = ["WRITE_COMMANDS", "DurableAsk", "DurableTell", "RedisWrite", "redis_write"]

WRITE_COMMANDS = frozenset(
    {
        "SET",
        "DEL",
        "INCRBY",
        "DECRBY",
        "INCRBYFLOAT",
        "HSET",
        "HDEL",
        "HINCRBY",
        "SADD",
        "SREM",
        "RPUSH",
        "LPUSH",
        "ZADD",
        "ZINCRBY",
        "PEXPIRE",
    }
)
"""The commands `redis_write` accepts: each takes its one key first."""


@final
@frozen
class RedisWrite(Effect[None]):
    """A write staged for the message the durable actor ``ref`` is processing, applied by
    the commit that acknowledges that message (atomically with it), under
    ``{namespace}:data:{key}``."""

    ref: ActorRef
    command: str
    key: str
    args: tuple[str | bytes | int | float, ...]


@final
@frozen
class DurableTell(Effect[None]):
    """``ref.free_tell(message)`` for a `DurableRef`: append ``message`` to its stream.
    ``sender`` is the actor performing it, when there is one: a durable actor's tells are
    staged and appended by the commit of the message it is processing."""

    ref: DurableRef = field(repr=lambda ref: repr(ref))
    message: object
    sender: ActorRef | None = field(default=None, repr=False)


@final
@frozen
class DurableAsk(Effect[Any]):
    """``ref.free_ask(message)`` for a `DurableRef`: append it with a reply address and wait
    for the reply."""

    ref: DurableRef = field(repr=lambda ref: repr(ref))
    message: object
    timeout: float | None = None


def redis_write(command: str, key: str, *args: str | bytes | int | float) -> Program[None]:
    """A program, for a durable actor's ``receive``, that stages ``command key *args``: the
    write is applied once, atomically with the acknowledgement of the message being
    processed — never when the message is redelivered after a crash before its commit.
    ``key`` lives under ``{namespace}:data:`` (`RedisTransport.data_key`).

    >>> redis_write("HINCRBY", "counts", "tea", 1)  # doctest: +ELLIPSIS
    self_ref().flat_map(...)
    >>> redis_write("FLUSHALL", "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    playbill.effects._errors.InvalidArgument: redis_write command must be one of DECRBY, ...
    """
    if not isinstance(command, str) or command.upper() not in WRITE_COMMANDS:
        raise InvalidArgument(
            f"redis_write command must be one of {', '.join(sorted(WRITE_COMMANDS))}, got "
            f"{command!r}"
        )
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"redis_write key must be a non-empty str, got {key!r}")
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, (str, bytes, int, float)):
            raise InvalidArgument(
                f"redis_write arguments must be str, bytes, int or float, got {arg!r} in {args!r}"
            )
    upper = command.upper()
    return self_ref().flat_map(lambda me: perform(RedisWrite(me, upper, key, tuple(args))))
