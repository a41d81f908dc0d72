"""What a durable actor's message stages for its commit besides `redis_write` and its tells:
the guarded writes of a store that must be atomic with the message's acknowledgement (the
durable journal, `playbill.durable.RedisJournal`).

While a `_Host` runs its actor, a context variable names it: the actor's task is made by
the host's, so it inherits the variable, and so does every `blocking` call the actor's
programs make (the thread pool runs each call in a copy of its caller's context). A store
reached from there asks `message_stage()` for the stage of the message being handled: what
it adds there is written by the message's ``COMMIT`` script — after the script checked the
stage's guards, and atomically with the ack and the dedup record — or, if the handler fails
or the node dies first, not at all.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, final

from attrs import frozen

if TYPE_CHECKING:
    from playbill.distributed._host import _Host

__all__ = ["Fence", "MessageStage", "StagedPart", "message_stage", "owner_fence"]

# the host whose actor this code runs for (set by the host before it spawns its actor)
HOSTING: ContextVar[_Host | None] = ContextVar("playbill_durable_host", default=None)

_MAKING = threading.Lock()

Guard = tuple[str, str, str]
"""``(hash key, field, value)``: the commit goes on only if ``HGET key field`` (``""`` when
absent) is ``value``."""

Write = tuple[str | bytes | int, ...]
"""A command and its arguments, key first: ``("RPUSH", key, value, ...)``."""


class StagedPart(Protocol):
    """One store's share of a message's commit."""

    def guards(self) -> list[Guard]: ...

    def writes(self) -> list[Write]: ...


@final
class MessageStage:
    """The guarded writes staged by the message a durable actor is handling, on the Redis
    server at ``url``. ``parts`` holds one part per store object (keyed by the store's
    choice, a key name say); the lock keeps threads that stage at once apart."""

    __slots__ = ("lock", "parts", "sealed", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.parts: dict[object, Any] = {}
        self.lock = threading.Lock()
        # set once the host took the commands: a store that finds it set (holding the lock)
        # writes at once instead, or its write would be lost
        self.sealed = False

    def commands(self) -> tuple[list[Guard], list[Write]]:
        """Every part's guards and writes, in the order the parts were staged; the stage
        takes no more after this."""
        guards: list[Guard] = []
        writes: list[Write] = []
        with self.lock:
            self.sealed = True
            for part in self.parts.values():
                part_writes = part.writes()
                if part_writes:  # (a part read but not written guards nothing)
                    guards += part.guards()
                    writes += part_writes
        return guards, writes


@final
@frozen
class Fence:
    """The lease of the durable actor some code runs for: a write fenced by it is refused
    unless ``GET lease_key`` is still ``value`` (the owner's ``node:epoch``)."""

    url: str
    lease_key: str
    value: str


def message_stage() -> MessageStage | None:
    """The stage of the message the durable actor this code runs for is handling, if any
    (none outside a durable actor, or between its messages)."""
    host = HOSTING.get()
    if host is None or host.writes is None:  # (writes: a list while a message is handled)
        return None
    stage = host.stage
    if stage is None:  # made on demand: most messages stage nothing
        with _MAKING:
            stage = host.stage
            if stage is None:
                stage = host.stage = MessageStage(host.transport.url)
    return stage


def owner_fence() -> Fence | None:
    """The lease of the durable actor this code runs for, while its node holds it."""
    host = HOSTING.get()
    if host is None:
        return None
    value = host.lease
    if value is None:
        return None
    return Fence(host.transport.url, host.keys["lease"], value)
