"""The simulated world's pieces: queued messages (`_Envelope`), ask timeouts, the actor cell,
what can happen next (`_Option`), and the small helpers the world's modules share."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, final

from playbill.actors import (
    ActorEvent,
    Emitted,
    MailboxPolicy,
    SupervisionStrategy,
)
from playbill.actors._kernel import (
    KernelCell,
    Phase,
)
from playbill.actors._reports import ask_timeout_error
from playbill.effects import (
    ActorRef,
    Emit,
    EmitStamped,
    InvalidArgument,
    Now,
    PlaybillError,
    Program,
    ProgramError,
    Random,
    SelfRef,
)
from playbill.effects._checks import check_flag
from playbill.effects._handlers import refuse_awaitable
from playbill.effects._pretty import bounded_repr
from playbill.interpreters._fibers import (
    _WAITING,
    ERROR,
    _Fiber,
    _Timer,
    _Wait,
)
from playbill.interpreters.simulation._schedule import StepKind

if TYPE_CHECKING:
    from playbill.interpreters.simulation._world import _World

# -- actors in the world ----------------------------------------------------------------------


_RUNNING = Phase.RUNNING


@final
class _Envelope:
    """A queued message: who sent it and, for an ask, the fiber waiting for the reply (cleared
    once answered or timed out)."""

    __slots__ = ("asked", "asker", "delayed", "message", "sender", "wait")

    def __init__(self, message: object, sender: str, asker: _Fiber | None) -> None:
        self.message = message
        self.sender = sender
        self.asker = asker
        self.asked = asker is not None
        self.delayed = False
        self.wait: _Wait | None = None

    def waiting_asker(self) -> _Fiber | None:
        """The fiber still waiting for this ask's reply, if any (not one that timed out, was
        cancelled, or now waits for something else)."""
        asker = self.asker
        if asker is not None and asker.state == _WAITING and asker.wait is self.wait:
            return asker
        return None


def _never() -> None:
    """The action of an `_AskExpiry` as a plain timer's: none (`_World.fire` calls it)."""


class _AskExpiry(_Timer):
    """An ask's timeout, and the timer of its deadline (one object an ask, not two): if its
    fiber still waits for this reply, it fails with `AskTimeout`."""

    __slots__ = ("envelope", "fiber", "limit", "message", "path", "world")

    def __init__(
        self,
        world: _World,
        fiber: _Fiber,
        envelope: _Envelope,
        path: str,
        message: object,
        limit: float,
    ) -> None:
        self.world = world
        self.fiber = fiber
        self.envelope = envelope
        self.path = path
        self.message = message
        self.limit = limit
        self.action = _never  # (`_World.fire` calls the expiry itself)
        self.active = True
        self.sequence = -1

    def __call__(self) -> None:
        fiber, envelope, world = self.fiber, self.envelope, self.world
        if envelope.waiting_asker() is fiber:
            envelope.asker = None
            error = ask_timeout_error(self.path, self.message, self.limit)
            if world.tracing:
                world.log(fiber.label, f"ask of {self.path} timed out", StepKind.TIMEOUT, error)
            world.wake(fiber, ERROR, error)


_NO_CHILDREN: list[_Fiber] = []  # shared by waits on no child fiber: never appended to


class _SimCell(KernelCell):
    """An actor in the simulated world; also its context and its refs' binding."""

    def fresh_id(self) -> str:
        return str(next(self.world.ids))

    def __init__(
        self,
        world: _World,
        parent: _SimCell | None,
        path: str,
        factory: Callable[[], Any],
        policy: MailboxPolicy | None,
    ) -> None:
        super().__init__(parent, path, next(world.uids), factory, policy, world.realm)
        self.world = world
        self.busy: _Fiber | None = None  # the fiber handling the current message or hook
        self.blocked: deque[tuple[_Fiber | None, _Envelope]] = deque()
        self.current: _Envelope | None = None  # the message being handled
        self.handled = 0
        # its entry among the choices: a restarted parent's new child may share the path of
        # an old one still stopping, so the name carries the ref's id too
        actor = f"{path}@{self.ref.uid}"
        self.option: _Option = (f"handle {actor}", world.handle, (self, None), actor)
        self.listed: tuple[_Option, ...] = ()  # its options among the world's current choices
        # how many queued user messages each sender has: with several senders, which one's
        # next message is handled is a choice (each sender's own messages keep their order);
        # counted only with delivery="per_pair" (causal delivery is first in, first out)
        self.counting = world.per_pair
        self.senders: dict[str, int] = {}
        self.sender_options: dict[str, _Option] = {}
        self.choice: tuple[_Option, ...] | None = None  # the options of several senders
        self.interrupted = False  # whether free_stop(interrupt=True) cancelled its program
        # told without a choice point between consecutive tells (see _World.take_turn)
        self.unbounded = self.mailbox.capacity is None
        # an agent's task that finishes at once publishes its events here, in the step that
        # handles its message, with no fiber (unless a user handler takes `EmitStamped`)
        self._stamp = self.stamp_now if world.stamps_in_place else None

    def emit_in_step(self, effect: Any) -> Any:
        """An `EmitStamped` of this actor's message program, performed inside the machine's
        step (`Machine.perform_in_step`) in an untraced run: published as `_World.take_turn`
        publishes it, with no `Next` made and resumed (a chunk, a progress event). What
        ``make`` raises is raised into the program. While a user handler's answer runs the
        machine on ahead of its fiber's turn (`_World.perform`), the effect is handed back to
        wait on: it is published at that turn, where a traced run publishes it."""
        world = self.world
        if world.ahead:
            return effect
        clock = world.clock
        world.events.append(Emitted(self.path, clock, effect.make(clock)))
        return None

    def stamp_now(self, make: Callable[..., tuple[object, ...]], *arguments: object) -> None:
        """Publish the events ``make(*arguments, time)`` makes at the virtual clock's time, as
        performing an `EmitStamped` for each in this actor's message fiber would (trace lines
        included). Untraced, nothing reads them before the run is over: they are made only
        if the result's ``events`` are read (`made_events`), and kept until then as the
        call that makes them."""
        world = self.world
        clock = world.clock
        path = self.path
        if not world.tracing:
            world.events.append((path, clock, make, arguments))
            world.events_deferred = True
            return
        append = world.events.append
        for event in make(*arguments, clock):
            append(Emitted(path, clock, event))
            if world.tracing:
                world.log(
                    f"{path}#{self.handled}", f"emit {bounded_repr(event, 240)}", StepKind.EMIT
                )

    def queued(self, envelope: _Envelope) -> None:
        if not self.counting:
            return
        senders = self.senders
        count = senders.get(envelope.sender, 0)
        senders[envelope.sender] = count + 1
        if not count:
            self.choice = None

    def removed(self, envelope: _Envelope) -> None:
        if not self.counting:
            return
        senders = self.senders
        left = senders[envelope.sender] - 1
        if left:
            senders[envelope.sender] = left
        else:
            del senders[envelope.sender]
            self.choice = None

    def forget_senders(self) -> None:
        self.senders.clear()
        self.choice = None

    def wanted_options(self) -> tuple[_Option, ...]:
        """The options this cell should have among the world's choices now."""
        if self.busy is not None:
            return ()
        box = self.mailbox
        if box.system:
            return (self.option,)
        if not box.user or self.phase != _RUNNING:
            return ()
        if len(self.senders) == 1 or not self.world.per_pair or box.user[0].sender == "runtime":
            return (self.option,)  # first in, first out (or one sender, or a runtime message)
        if self.choice is None:  # made again only when the set of senders changed
            options = self.sender_options
            wanted = []
            for sender in sorted(self.senders):
                option = options.get(sender)
                if option is None:
                    participant = f"{self.path}@{self.ref.uid} from {sender}"
                    option = options[sender] = (
                        f"handle {participant}",
                        self.world.handle,
                        (self, sender),
                        participant,
                    )
                wanted.append(option)
            self.choice = tuple(wanted)
        return self.choice

    # the context (self_ref, parent and children come from CellContext; spawn and stop from
    # KernelCell)
    def _spawn_child(
        self,
        actor: Any,
        name: str | None,
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
    ) -> _SimCell:
        return self.world.spawn(self, actor, name, supervision, mailbox)

    def _resolve_ref(self, ref: ActorRef) -> _SimCell | None:
        return self.world.resolve(ref)

    def _retire(self, cell: KernelCell) -> None:
        self.world.apply(cell, self.world.kernel.retire(cell))  # type: ignore[arg-type]

    def _stop_self(self, interrupt: bool) -> None:
        check_flag("stop() interrupt", interrupt)
        self.world.stop(self)
        if interrupt:
            self.world.interrupt(self, self.world.current_sender())

    def watch(self, ref: ActorRef) -> None:
        self.world.watch(self, ref)

    # the binding behind ActorRef's direct methods
    def tell(self, message: object) -> None:
        self.world.tell(self.world.current_sender(), self, message, None)

    def ask(self, message: object, timeout: float | None) -> Any:
        raise ProgramError(
            "await ref.ask(...) cannot run in the simulator, which has no event loop; "
            "yield ref.free_ask(...) from a program instead"
        )

    def send(self, message: object) -> Any:
        raise ProgramError(
            "await ref.send(...) cannot run in the simulator; yield ref.free_tell(...) instead"
        )


# published events not made yet (`_SimCell.stamp_now`): the actor's path, the time, and the
# call that makes them
_Deferred = tuple[str, float, Callable[..., tuple[object, ...]], tuple[object, ...]]


def made_events(published: list[ActorEvent | _Deferred]) -> tuple[ActorEvent, ...]:
    """The events of a run, in the order they were published, those deferred made now."""
    events: list[ActorEvent] = []
    append = events.append
    for entry in published:
        if type(entry) is tuple:
            path, clock, make, arguments = entry
            for event in make(*arguments, clock):
                append(Emitted(path, clock, event))
        else:
            append(entry)  # type: ignore[arg-type]
    return tuple(events)


# -- the world --------------------------------------------------------------------------------

_IMMEDIATE = (Now, Random, SelfRef, Emit, EmitStamped)

# one thing that could happen next: its stable name (what choices sort by), what does it
_Option = tuple[str, Callable[[Any], None], Any, str]
"""One thing that could happen next: its stable name (what choices sort by), what does it, its
argument, and its participant — the actor or fiber it belongs to, to which PCT gives a
priority (with ``delivery="per_pair"``, an actor's option for each sender is a participant of
its own)."""


class _StepLimit(Exception):
    pass


class _Deadlocked(BaseException):  # past every `except Exception` to the run loop
    def __init__(self, error: PlaybillError) -> None:
        super().__init__(str(error))
        self.error = error


# -- helpers ----------------------------------------------------------------------------------

_PLAIN = frozenset({int, float, str, bytes, bool, tuple, list, dict, set, frozenset})


class _Names(Sequence[str]):
    """The names of the enabled options, read only by a chooser that needs them (PCT), and
    their participants."""

    __slots__ = ("options",)

    def __init__(self, options: list[_Option]) -> None:
        self.options = options

    def participant(self, index: int) -> str:
        return self.options[index][3]

    def __len__(self) -> int:
        return len(self.options)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [option[0] for option in self.options[index]]
        return self.options[index][0]


def _bind(function: Callable[..., None], argument: object) -> Callable[[], None]:
    return lambda: function(argument)


def _suspend(effect: Any) -> Program[Any]:
    from playbill.effects import Suspend

    return Suspend(effect)


def _is_notice(envelope: _Envelope) -> bool:
    return envelope.sender == "runtime"


def _refuse_async(cell: _SimCell, method: str, awaitable: object) -> ProgramError:
    """An ``async def receive`` (or hook): refused as a handler's awaitable is, in the same
    words (the coroutine is closed, so Python does not warn it was never awaited)."""
    return refuse_awaitable(awaitable, f"{type(cell.instance).__name__}.{method}", "the simulator")


def _needs_actor(where: str) -> InvalidArgument:
    return InvalidArgument(
        f"{where} needs an actor, but this program runs at the root; run it inside an actor's "
        "receive, or spawn an actor to do it"
    )
