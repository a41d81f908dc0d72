"""The errors of the distributed engine: all are `PlaybillError`s."""

from __future__ import annotations

from typing import final

from playbill.effects import PlaybillError

__all__ = ["NodeDown", "RemoteError", "StaleGrainState"]


@final
class NodeDown(PlaybillError):
    """An ask to a durable actor cannot be answered now: no node owns the actor, or the node
    that owned it stopped heartbeating while the ask waited. The message itself is not lost:
    it stays in the actor's mailbox stream and is processed once a node hosts the actor.

    >>> issubclass(NodeDown, PlaybillError)
    True
    """


@final
class RemoteError(PlaybillError):
    """The durable actor's handler raised while answering an ask (or its message was
    dead-lettered). Exceptions do not travel as objects — nothing is imported from the wire —
    so this carries the original's class name (``error_type``) and text.

    >>> error = RemoteError("ValueError", "bad order", "orders")
    >>> error.error_type, str(error)
    ('ValueError', "the durable actor 'orders' failed the ask with ValueError: bad order")
    """

    def __init__(self, error_type: str, text: str, actor: str) -> None:
        self.error_type = error_type
        self.text = text
        self.actor = actor
        super().__init__(f"the durable actor {actor!r} failed the ask with {error_type}: {text}")

    def __reduce__(self) -> tuple[type[RemoteError], tuple[str, str, str]]:
        return (RemoteError, (self.error_type, self.text, self.actor))


@final
class StaleGrainState(PlaybillError):
    """A `RedisStore` refused a save: another activation of the grain saved a newer state
    since this one loaded (a second activation, in another process, of a grain that should
    be active in one place). The stale state is not written; the grain should stop.

    >>> issubclass(StaleGrainState, PlaybillError)
    True
    """
