"""The built-in effect vocabulary: actors, events, identity, time and chance.

Each effect is a frozen value; each smart constructor returns a `Program` that performs it.
Naming rule: a verb that also has a performing twin on a live `ActorRef` (``ref.tell(msg)``,
``await ref.ask(msg)``, ``ref.stop()``) carries the ``free_`` prefix on its value form
(`free_tell`, `free_ask`, `free_stop`, `free_spawn`); verbs with no twin need none.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, final

from attrs import field, frozen

from playbill.effects._checks import check_flag, check_path, is_number
from playbill.effects._errors import InvalidArgument, PlaybillError
from playbill.effects._program import Effect, Program, Suspend, _slot_setter

__all__ = [
    "ActorRef",
    "Ask",
    "Await",
    "Blocking",
    "Emit",
    "EmitStamped",
    "GetOrSpawn",
    "LiveActor",
    "LiveActors",
    "MaybeFault",
    "Now",
    "Random",
    "RefBinding",
    "SelfRef",
    "Sleep",
    "Spawn",
    "Stop",
    "Tell",
    "Watch",
    "blocking",
    "emit",
    "emit_stamped",
    "free_ask",
    "free_get_or_spawn",
    "free_spawn",
    "free_stop",
    "free_tell",
    "live_actors",
    "maybe_fault",
    "now",
    "random",
    "self_ref",
    "sleep",
    "watch",
]


class RefBinding(Protocol):
    """What a runtime attaches to an `ActorRef` to make its direct methods work."""

    def tell(self, message: object) -> None: ...

    def ask(self, message: object, timeout: float | None) -> Awaitable[Any]: ...

    def send(self, message: object) -> Awaitable[None]: ...

    def stop(self, ref: ActorRef | None = None, *, interrupt: bool = False) -> None: ...


@final
@frozen(init=False, repr=False)
class ActorRef:
    """The address of an actor incarnation: its path, its ``uid`` (a count within its system)
    and its system's ``realm`` (an id drawn when the system started, unique across systems
    and processes), so a ref never reaches a newer actor at the same path by accident.

    A plain value, compared by path, uid and realm; a runtime gives it life by attaching a
    ``binding``, which makes the direct methods (`tell`, `ask`, `send`, `stop`) work. Its
    ``free_*`` methods build programs and work on any ref; one built by hand (realm 0) names
    whatever actor is at its path:

    >>> ref = ActorRef("/app/counter", 1)
    >>> ref.free_ask("get")
    free_ask(/app/counter, 'get')
    >>> ref.name
    'counter'

    The path is absolute, its segments non-empty: ``ActorRef("app/x")`` is refused.
    """

    path: str
    uid: int
    binding: RefBinding | None = field(eq=False, repr=False)
    realm: int = field(default=0, repr=False, hash=False)

    def __init__(
        self, path: str, uid: int = 0, binding: RefBinding | None = None, realm: int = 0
    ) -> None:
        _set_ref_path(self, check_path("ActorRef path", path))
        _set_ref_uid(self, uid)
        _set_ref_binding(self, binding)
        _set_ref_realm(self, realm)

    def tell(self, message: object) -> None:
        """Send ``message`` now, fire-and-forget; never waits (a full `Block` mailbox makes it
        raise ``MailboxFull``: use ``await ref.send(message)`` to wait for room)."""
        try:
            tell = self.binding.tell  # type: ignore[union-attr]
        except AttributeError:
            raise self._not_live("tell") from None
        tell(message)

    def ask(self, message: object, timeout: float | None = None) -> Awaitable[Any]:
        """Send ``message`` now and await the reply (``timeout=None``: the runtime's
        default)."""
        try:
            ask = self.binding.ask  # type: ignore[union-attr]
        except AttributeError:
            raise self._not_live("ask") from None
        return ask(message, _check_timeout("ask()", timeout))

    def send(self, message: object) -> Awaitable[None]:
        """Send ``message``, waiting for room in a full bounded mailbox."""
        try:
            send = self.binding.send  # type: ignore[union-attr]
        except AttributeError:
            raise self._not_live("send") from None
        return send(message)

    def stop(self, *, interrupt: bool = False) -> None:
        """Stop the actor after its current message (children first); with ``interrupt``, a
        message it is handling as a program is cancelled instead (see `free_stop`)."""
        try:
            stop = self.binding.stop  # type: ignore[union-attr]
        except AttributeError:
            raise self._not_live("stop") from None
        stop(interrupt=check_flag("ref.stop() interrupt", interrupt))

    def _not_live(self, verb: str) -> PlaybillError:
        return PlaybillError(
            f"{self.path} is a plain ActorRef value with no running system behind it, so "
            f"ref.{verb}() cannot perform anything; use ref.free_{verb}(...) in a program, or "
            "a ref obtained from a running ActorSystem"
        )

    @property
    def name(self) -> str:
        """The last segment of the path."""
        return self.path.rsplit("/", 1)[-1]

    def free_tell(self, message: object) -> Program[None]:
        """A program that sends ``message`` to this actor, fire-and-forget."""
        return Suspend(Tell(self, message))

    def free_ask(self, message: object, timeout: float | None = None) -> Program[Any]:
        """A program that sends ``message`` and waits for the reply (default timeout if
        ``None``)."""
        if timeout is not None:
            timeout = _check_timeout("free_ask", timeout)
        return Suspend(Ask(self, message, timeout))

    def free_stop(self, *, interrupt: bool = False) -> Program[None]:
        """A program that stops this actor (after its current message, children first; with
        ``interrupt``, cancelling the message it is handling as a program)."""
        return Suspend(Stop(self, check_flag("ref.free_stop() interrupt", interrupt)))

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"ActorRef({self.path!r}, uid={self.uid})"


_set_ref_path = _slot_setter(ActorRef, "path")
_set_ref_uid = _slot_setter(ActorRef, "uid")
_set_ref_binding = _slot_setter(ActorRef, "binding")
_set_ref_realm = _slot_setter(ActorRef, "realm")


def _trusted_ref(path: str, uid: int, binding: RefBinding | None, realm: int) -> ActorRef:
    """An `ActorRef` whose ``path`` a runtime built from checked names: not checked again
    (one is made per actor spawned)."""
    ref: ActorRef = object.__new__(ActorRef)
    _set_ref_path(ref, path)
    _set_ref_uid(ref, uid)
    _set_ref_binding(ref, binding)
    _set_ref_realm(ref, realm)
    return ref


def relative_ref(path: str) -> ActorRef:
    """A ref to the actor at ``path`` relative to the root guardian of whichever system
    performs it (``"worker"`` is ``/app/worker`` under a system named ``app``): what
    ``call("worker")`` asks. Only the runtimes' lookup (`find_cell`) reads such a path.

    >>> relative_ref("worker/cache")
    ActorRef('worker/cache', uid=0)
    """
    ref: ActorRef = object.__new__(ActorRef)
    _set_ref_path(ref, check_path("a relative actor path", path, relative=True))
    _set_ref_uid(ref, 0)
    _set_ref_binding(ref, None)
    _set_ref_realm(ref, 0)
    return ref


@final
@frozen
class Spawn(Effect[ActorRef]):
    """Start an actor as a child of the current actor (or of the root guardian).

    ``supervision`` and ``mailbox`` are the runtimes' option values; ``None`` takes their
    defaults.
    """

    actor: Callable[[], object]
    name: str | None = None
    supervision: object | None = None
    mailbox: object | None = None


@final
@frozen
class GetOrSpawn(Effect[ActorRef]):
    """The actor at ``path``, or one started there from ``actor``: one step, so concurrent
    callers get the same actor, spawned once (see `free_get_or_spawn`)."""

    path: str
    actor: Callable[[], object]


@final
@frozen(init=False)
class Tell(Effect[None]):
    """Send ``message`` to ``ref``, fire-and-forget; per sender→receiver order is kept."""

    ref: ActorRef
    message: object

    def __init__(self, ref: ActorRef, message: object) -> None:
        _set_tell_ref(self, ref)
        _set_tell_message(self, message)


@final
@frozen(init=False)
class Ask(Effect[Any]):
    """Send ``message`` to ``ref`` and wait for the reply, at most ``timeout`` seconds
    (``None``: the interpreter's documented default)."""

    ref: ActorRef
    message: object
    timeout: float | None

    def __init__(self, ref: ActorRef, message: object, timeout: float | None = None) -> None:
        _set_ask_ref(self, ref)
        _set_ask_message(self, message)
        _set_ask_timeout(self, timeout)


# Tell and Ask are built per message: fast ``__init__``s, as for the hot Program nodes.
_set_tell_ref = _slot_setter(Tell, "ref")
_set_tell_message = _slot_setter(Tell, "message")
_set_ask_ref = _slot_setter(Ask, "ref")
_set_ask_message = _slot_setter(Ask, "message")
_set_ask_timeout = _slot_setter(Ask, "timeout")


@final
@frozen
class Stop(Effect[None]):
    """Stop ``ref`` after its current message, children first; with ``interrupt``, a message
    it is handling as a program is cancelled instead (its finalisers run, its asker fails with
    `ActorStopped`)."""

    ref: ActorRef
    interrupt: bool = field(
        default=False, validator=lambda _, __, value: check_flag("Stop interrupt", value)
    )


@final
@frozen
class Emit(Effect[None]):
    """Publish ``event`` on the system event stream."""

    event: object


def _check_make(_: object, __: object, make: Any) -> None:
    if not callable(make):
        raise InvalidArgument(
            f"emit_stamped() takes make, a function of the time returning the event, got "
            f"{make!r} ({type(make).__name__}); pass a callable such as "
            "lambda time: (time, 'started')"
        )


class _EmitStampedSlots:
    """The slot of an `EmitStamped`, in a plain class, for the agent layer's hot path (one
    per chunk streamed): built with a plain store, then made the `EmitStamped` it is by
    assigning its class, as `Suspend`'s (`_SuspendSlots`)."""

    make: Callable[[float], object]

    __slots__ = ("__weakref__", "make")


@final
@frozen(init=False)
class EmitStamped(_EmitStampedSlots, Effect[None]):
    """Publish ``make(time)`` on the system event stream, ``time`` being the interpreter's
    clock (`Now`'s): one effect where ``now()`` then ``emit(...)`` are two."""

    make: Callable[[float], object]

    def __init__(self, make: Callable[[float], object]) -> None:  # by hand: one per event
        _check_make(None, None, make)
        _set_emit_stamped_make(self, make)


_set_emit_stamped_make = _slot_setter(EmitStamped, "make")


@final
@frozen
class SelfRef(Effect[ActorRef]):
    """The `ActorRef` of the actor running the program."""


@final
@frozen
class Now(Effect[float]):
    """The interpreter's current time in seconds (virtual under the stub and simulator)."""


@final
@frozen
class Sleep(Effect[None]):
    """Wait ``seconds`` on the interpreter's clock."""

    seconds: float


@final
@frozen
class Random(Effect[float]):
    """A float in [0, 1) from the interpreter's random source (seeded in tests)."""


@final
@frozen
class MaybeFault(Effect[None]):
    """A code-level fault point named ``name`` (like FoundationDB's BUGGIFY): inert under
    asyncio and the stub; under the simulator with fault points on, it may raise
    ``InjectedFault`` — a recorded choice, so a found fault replays."""

    name: str


@final
@frozen
class Watch(Effect[None]):
    """Death-watch ``ref``: a ``Terminated`` message arrives when it stops."""

    ref: ActorRef


@final
@frozen
class Await(Effect[Any]):
    """Await ``awaitable``, which ``origin`` returned (``"the flow step parse"``): how a
    program carries a coroutine that a flow step or other user code gave it. Only asyncio
    performs it; the stub and the simulator have no event loop and fail it with a
    `ProgramError` that says how to write the code instead (the coroutine is closed, so Python
    does not warn that it was never awaited)."""

    awaitable: Awaitable[Any] = field(repr=lambda value: f"<{type(value).__name__}>")
    origin: str


@final
@frozen
class LiveActor:
    """One actor of a running system, as `live_actors` lists it: its ``ref`` and the class of
    its instance (``actor_class``), from which the agent layer reads its card."""

    ref: ActorRef
    actor_class: type


@final
@frozen
class LiveActors(Effect[tuple[LiveActor, ...]]):
    """Every live actor of the system (started, not stopping; the guardians left out), in
    tree order: each parent before its children, siblings in start order."""


@final
@frozen
class Blocking(Effect[Any]):
    """Call ``function(*args, **kwargs)``, a blocking or CPU-bound call (a synchronous client,
    a parser, a model): asyncio runs it on the system's bounded thread pool
    (``ActorSystem(blocking_threads=...)``), so the event loop and every other actor keep
    running; the stub and the simulator call it inline, in the program's turn, so a run stays
    deterministic. ``kwargs`` is a tuple of ``(name, value)`` pairs, so the effect stays a
    hashable value."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


def _check_ref(where: str, ref: object) -> ActorRef:
    if not isinstance(ref, ActorRef):
        raise InvalidArgument(
            f"{where} takes an ActorRef, got {ref!r} ({type(ref).__name__}); "
            "use the ref that free_spawn(...) produced or that the system looked up"
        )
    return ref


def _check_timeout(where: str, timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not is_number(timeout) or timeout <= 0 or math.isnan(timeout):
        raise InvalidArgument(
            f"{where} takes a positive timeout in seconds or None for the default, "
            f"got {timeout!r}; use math.inf to wait forever"
        )
    return float(timeout)


def free_spawn(
    actor: Callable[[], object],
    name: str | None = None,
    *,
    supervision: object | None = None,
    mailbox: object | None = None,
) -> Program[ActorRef]:
    """A program that starts an actor from ``actor`` (a class or a zero-argument factory).

    >>> free_spawn(dict, name="store")
    free_spawn(dict, name='store')
    """
    if not callable(actor):
        raise InvalidArgument(
            f"free_spawn() takes an actor class or a zero-argument factory, got {actor!r} "
            f"({type(actor).__name__})"
        )
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise InvalidArgument(
            f"free_spawn() name must be a non-empty string without '/', got {name!r}"
        )
    return Suspend(Spawn(actor, name, supervision, mailbox))


def free_get_or_spawn(path: str, actor: Callable[[], object]) -> Program[ActorRef]:
    """A program that produces the ref of the live actor at ``path`` (``"/app/cache"``, or
    relative to the root, ``"cache"``), spawning it there from ``actor`` (a class or a
    zero-argument factory) when there is none — atomically within one system: concurrent
    callers get the same actor, and it is spawned once. Its parent is the actor at the
    parent path. (``system.get_or_spawn(path, actor)`` is its direct twin.)

    >>> free_get_or_spawn("cache", dict)
    free_get_or_spawn('cache', dict)
    """
    check_path("free_get_or_spawn() path", path, relative=True)
    if not callable(actor):
        raise InvalidArgument(
            f"free_get_or_spawn() factory must be an actor class or a zero-argument factory, "
            f"got {actor!r} ({type(actor).__name__})"
        )
    return Suspend(GetOrSpawn(path, actor))


def free_tell(ref: ActorRef, message: object) -> Program[None]:
    """A program that sends ``message`` to ``ref``, fire-and-forget."""
    return Suspend(Tell(_check_ref("free_tell()", ref), message))


def free_ask(ref: ActorRef, message: object, timeout: float | None = None) -> Program[Any]:
    """A program that sends ``message`` to ``ref`` and produces the reply.

    >>> free_ask(ActorRef("/app/a"), "ping", timeout=2)
    free_ask(/app/a, 'ping', timeout=2.0)
    """
    return Suspend(
        Ask(_check_ref("free_ask()", ref), message, _check_timeout("free_ask()", timeout))
    )


def free_stop(ref: ActorRef, *, interrupt: bool = False) -> Program[None]:
    """A program that stops ``ref``: after the message it is handling, children first. With
    ``interrupt=True``, a message it is handling as a program (what ``receive`` returned) is
    cancelled rather than finished — its finalisers run and its asker fails with
    `ActorStopped` — as a flow does to an actor whose work it no longer needs.

    >>> free_stop(ActorRef("/app/worker", 3), interrupt=True)
    free_stop(/app/worker, interrupt=True)
    """
    return Suspend(
        Stop(_check_ref("free_stop()", ref), check_flag("free_stop() interrupt", interrupt))
    )


def emit(event: object) -> Program[None]:
    """A program that publishes ``event`` on the system event stream."""
    return Suspend(Emit(event))


def emit_stamped(make: Callable[[float], object]) -> Program[None]:
    """A program that publishes ``make(time)`` on the system event stream, ``time`` being the
    interpreter's clock as `now` gives it (virtual under the stub and the simulator, the wall
    clock under asyncio): a timestamped event in one effect, not two.

    >>> from playbill import simulate, sleep
    >>> from playbill.actors import Emitted
    >>> result = simulate(sleep(2).then(emit_stamped(lambda time: ("started", time))))
    >>> [event.event for event in result.events if isinstance(event, Emitted)]
    [('started', 2.0)]
    """
    return Suspend(EmitStamped(make))


def self_ref() -> Program[ActorRef]:
    """A program that produces the `ActorRef` of the actor running it."""
    return Suspend(SelfRef())


def now() -> Program[float]:
    """A program that reads the interpreter's clock (the only reproducible way to read time).

    >>> from playbill.interpreters import stub
    >>> stub.run(sleep(2.5).then(now()))
    2.5
    """
    return _NOW  # (a program is an immutable value: one serves every call)


_NOW: Program[float] = Suspend(Now())


def sleep(seconds: float) -> Program[None]:
    """A program that waits ``seconds`` on the interpreter's clock."""
    if not is_number(seconds) or seconds < 0 or math.isnan(seconds):
        raise InvalidArgument(
            f"sleep() takes a number of seconds >= 0, got {seconds!r} ({type(seconds).__name__})"
        )
    return Suspend(Sleep(float(seconds)))


def random() -> Program[float]:
    """A program that draws a float in [0, 1) from the interpreter's random source.

    >>> from playbill.interpreters import stub
    >>> stub.run(random(), seed=1) == stub.run(random(), seed=1)
    True
    """
    return Suspend(Random())


def maybe_fault(name: str) -> Program[None]:
    """A fault point: does nothing, except under a simulation with fault points switched on,
    where it may fail with ``InjectedFault`` (and the schedule records that it did).

    >>> from playbill.interpreters import stub
    >>> stub.run(maybe_fault("before commit").then(now()))
    0.0
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"maybe_fault() takes a non-empty name, got {name!r}")
    return Suspend(MaybeFault(name))


def blocking(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Program[Any]:
    """A program that calls ``function(*args, **kwargs)`` — blocking I/O or CPU-bound work —
    without stalling the event loop, and produces its return value (or raises what it raised).

    Under asyncio the call runs on the system's bounded thread pool
    (``ActorSystem(blocking_threads=...)``); the program waits for it while the other actors
    run. If the waiting program is cancelled, a call not yet started never starts, and one
    already running finishes in its thread with its result dropped (a thread cannot be
    interrupted). Under the stub and the simulator the call runs inline, deterministically.

    >>> from playbill.interpreters import stub
    >>> stub.run(blocking(sum, [1, 2, 3], start=10))
    16
    """
    if not callable(function):
        raise InvalidArgument(
            f"blocking() takes a function to call, got {function!r:.60} "
            f"({type(function).__name__}); pass the function and its arguments separately: "
            "blocking(fn, *args, **kwargs)"
        )
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise InvalidArgument(
            f"blocking() takes a plain (synchronous) function, got the async function "
            f"{getattr(function, '__qualname__', function)!r}; a thread cannot await it — "
            "return its coroutine from an async def step or receive instead"
        )
    return Suspend(Blocking(function, args, tuple(kwargs.items())))


def live_actors() -> Program[tuple[LiveActor, ...]]:
    """A program that lists every live actor of the system running it — its ref and its
    class — in tree order (parents first, siblings in start order): discovery over the live
    tree, under asyncio and the simulator alike (the agent layer's ``find_agents`` reads
    skills from it).

    >>> from playbill import Actor, free_spawn, simulate
    >>> class Echo(Actor):
    ...     def receive(self, message):
    ...         return message
    >>> listed = simulate(free_spawn(Echo, name="echo").then(live_actors())).value
    >>> [(each.ref.path, each.actor_class.__name__) for each in listed]
    [('/app/echo', 'Echo')]
    """
    return Suspend(LiveActors())


def watch(ref: ActorRef) -> Program[None]:
    """A program that death-watches ``ref``: a ``Terminated`` message arrives when it stops."""
    return Suspend(Watch(_check_ref("watch()", ref)))
