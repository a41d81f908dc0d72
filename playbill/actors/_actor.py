"""`Actor`: state in the instance, behaviour in `receive`, lifecycle hooks, and the context
an interpreter gives it."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

from attrs import frozen

from playbill.actors._stop_policies import NEVER, StopPolicy
from playbill.actors._supervision import OneForOne, SupervisionStrategy
from playbill.effects import ActorRef, PlaybillError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from playbill.actors._mailbox import MailboxPolicy
    from playbill.actors._middleware import Middleware

__all__ = ["DEFAULT_ASK_TIMEOUT", "Actor", "ActorContext", "Terminated"]

DEFAULT_ASK_TIMEOUT = 30.0
"""The one default ask timeout, in seconds, of every interpreter (``ActorSystem(ask_timeout=)``
changes it for a system; ``free_ask(..., timeout=)`` for one ask)."""


@frozen
class Terminated:
    """Delivered to ``receive`` of every actor that watches ``ref`` when ``ref`` stopped."""

    ref: ActorRef


class ActorContext(abc.ABC):
    """What an actor can see and do besides its messages; given by the interpreter.

    ``self_ref``, ``parent`` (``None`` for the root guardian) and ``children``; ``spawn`` a
    child, ``stop`` a child or itself, ``watch`` another actor.
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def self_ref(self) -> ActorRef: ...

    @property
    @abc.abstractmethod
    def parent(self) -> ActorRef | None: ...

    @property
    @abc.abstractmethod
    def children(self) -> tuple[ActorRef, ...]: ...

    @abc.abstractmethod
    def spawn(
        self,
        actor: Any,
        name: str | None = None,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> ActorRef: ...

    @abc.abstractmethod
    def stop(self, ref: ActorRef, *, interrupt: bool = False) -> None: ...

    @abc.abstractmethod
    def watch(self, ref: ActorRef) -> None: ...

    # ``_stamp(make, *arguments)`` publishes events here and now, in order: those
    # ``make(*arguments, time)`` makes of the interpreter's time (as `EmitStamped` effects
    # would be). An interpreter sets it when it performs `EmitStamped` itself, in place, with
    # no user handler (the simulator); then an agent's task that finishes at once publishes
    # its events with it and runs no program (see `playbill.agents`). ``make`` must not fail
    # and must make the same events whenever it is called: an interpreter may call it only
    # when the events are read (the simulator, untraced). None: the events are effects of a
    # program.
    _stamp: Callable[..., None] | None = None

    def _unobserved(self, run_id: object) -> bool:
        """Whether nothing can see the events a task of run ``run_id`` would publish, were it
        to complete here and now, without waiting (no subscriber, no handler of `Emit`
        effects, no consumer of that run): then the agent layer may skip making them. An
        interpreter that records or traces events (the simulator) says False, as here."""
        return False


class _NoContext(ActorContext):
    """The context of an actor instance that no interpreter started: every use says so."""

    def _refuse(self) -> PlaybillError:
        return PlaybillError(
            "this actor was not started by an interpreter, so it has no context; spawn it "
            "with free_spawn(...) or system.spawn(...) instead of calling its class"
        )

    @property
    def self_ref(self) -> ActorRef:
        raise self._refuse()

    @property
    def parent(self) -> ActorRef | None:
        raise self._refuse()

    @property
    def children(self) -> tuple[ActorRef, ...]:
        raise self._refuse()

    def spawn(
        self,
        actor: Any,
        name: str | None = None,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> ActorRef:
        raise self._refuse()

    def stop(self, ref: ActorRef, *, interrupt: bool = False) -> None:
        raise self._refuse()

    def watch(self, ref: ActorRef) -> None:
        raise self._refuse()


class Actor:
    """Base class of actors. Override `receive`; optionally the hooks.

    ``receive(message)`` returns the reply (for an ask; ignored for a tell), or a `Program`
    that the interpreter runs to completion before the next message (its result is the
    reply). Under asyncio, ``async def receive`` is accepted too. One message is processed at
    a time; state lives in the instance.

    ``supervision`` is the strategy this actor applies to its own children (a class
    attribute; ``free_spawn(..., supervision=...)`` overrides it for one actor).

    ``stop_policy`` says when it stops by itself: `NEVER` (the default), `ONE_TIME`,
    `AfterMessage(x)` or `AfterIdle(seconds)` (a class attribute, or set in ``__init__`` to
    choose it per spawn); it is read once, when the actor is spawned.

    >>> from playbill import Actor
    >>> class Counter(Actor):
    ...     def __init__(self) -> None:
    ...         self.count = 0
    ...     def receive(self, message):
    ...         if message == "inc":
    ...             self.count += 1
    ...         return self.count
    >>> Counter().receive("inc")
    1
    """

    supervision: ClassVar[SupervisionStrategy] = OneForOne()
    stop_policy: StopPolicy = NEVER
    middleware: Sequence[Middleware] = ()
    context: ActorContext = _NoContext()

    def receive(self, message: Any) -> Any:
        """Handle one message; return the reply or a `Program` producing it."""
        raise NotImplementedError(f"{type(self).__name__} must override receive(self, message)")

    def on_start(self) -> Any:
        """Called before the first message (may return a `Program`)."""
        return None

    def on_stop(self) -> Any:
        """Called once the actor's children stopped, before it is gone (may return a
        `Program`)."""
        return None

    def on_restart(self, error: BaseException) -> Any:
        """Called on the fresh instance after a restart caused by ``error``, instead of
        `on_start` (whose call is the default)."""
        return self.on_start()
