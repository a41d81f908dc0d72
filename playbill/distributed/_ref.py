"""`DurableRef`: the location-transparent address of a durable actor."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, final

from attrs import field, frozen

from playbill.effects import InvalidArgument, PlaybillError, Program, perform, self_ref

__all__ = ["DurableRef"]


class _Sender(Protocol):
    def _tell(self, ref: DurableRef, message: object) -> None: ...

    def _ask(self, ref: DurableRef, message: object, timeout: float | None) -> Awaitable[Any]: ...

    def flush(self) -> Awaitable[None]: ...


@final
@frozen
class DurableRef:
    """The address of the durable actor ``id``, wherever (and whether) it runs: a message
    sent through it is appended to the actor's mailbox stream in Redis, and processed by the
    one node that owns the actor, now or once one does. ``incarnation`` names the actor's
    incarnation (``None``: whichever is current); a message for another incarnation is
    dead-lettered, so a ref never reaches a newer actor by accident.

    Get one from ``await system.spawn_durable(Actor, id=...)`` or ``system.remote(id)``.
    ``tell`` returns at once (messages from one sender are appended in order; ``await
    ref.flush()`` waits until they are in Redis); ``await ref.ask(message, timeout=...)``
    waits for the reply. ``free_tell`` and ``free_ask`` are the same as program values:

    >>> ref = DurableRef("orders", 3)
    >>> ref
    DurableRef('orders', incarnation=3)
    >>> ref.free_ask("total")  # doctest: +ELLIPSIS
    perform(DurableAsk(ref=DurableRef('orders', incarnation=3), ...)
    """

    id: str
    incarnation: int | None = None
    binding: _Sender | None = field(default=None, eq=False, repr=False)

    def tell(self, message: object) -> None:
        """Append ``message`` to the actor's mailbox stream; returns at once (an unregistered
        or oversize message is refused here, before anything is sent)."""
        self._sender("tell")._tell(self, message)

    def ask(self, message: object, timeout: float | None = None) -> Awaitable[Any]:
        """Append ``message`` with this node's reply address and await the reply
        (``timeout=None``: the system's ask timeout). Fails with `AskTimeout`, with `NodeDown`
        when no node owns the actor or its owner stops heartbeating, or with `RemoteError`
        when the handler raised."""
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not timeout > 0  # (NaN too)
        ):
            raise InvalidArgument(
                f"DurableRef.ask() timeout must be a positive number of seconds or None for "
                f"the system's default, got {timeout!r}"
            )
        return self._sender("ask")._ask(self, message, timeout)

    def flush(self) -> Awaitable[None]:
        """Wait until every message this node sent so far is in Redis."""
        return self._sender("flush").flush()

    def free_tell(self, message: object) -> Program[None]:
        """A program that tells ``message`` (performed by a system with a transport). In a
        durable actor's ``receive`` the message is staged: appended by the commit of the
        message being processed, atomically with its acknowledgement, so a handler that runs
        again after a crash does not send it twice."""
        from playbill.distributed._effects import DurableTell

        return (
            self_ref()
            .recover(lambda _: None, catching=InvalidArgument)  # (at the root: no actor)
            .flat_map(lambda sender: perform(DurableTell(self, message, sender)))
        )

    def free_ask(self, message: object, timeout: float | None = None) -> Program[Any]:
        """A program that asks ``message`` and gives the reply."""
        from playbill.distributed._effects import DurableAsk

        return perform(DurableAsk(self, message, timeout))

    def _sender(self, verb: str) -> _Sender:
        if self.binding is None:
            raise PlaybillError(
                f"DurableRef({self.id!r}) is a plain value with no transport behind it, so "
                f"ref.{verb}() cannot send; get a live one from system.remote({self.id!r}) "
                "or system.spawn_durable(...), or use ref.free_tell / ref.free_ask in a program"
            )
        return self.binding

    def __repr__(self) -> str:
        return f"DurableRef({self.id!r}, incarnation={self.incarnation})"
