"""The deterministic simulator: actors and fibers on a virtual clock, every interleaving a
recorded choice.

A world of actor cells (each with its `Mailbox`), fibers (the main program, the programs
actors' ``receive`` returns, and what they fork or gather), timers and a virtual clock. At every
point where more than one thing could happen next — which ready fiber takes its next step,
which actor handles its next message, which due timer fires — a chooser picks an index into
the enabled set sorted by stable names (fiber labels and actor paths, never ``id()``). The
sequence of picks is the `Schedule`: a short string that replays the run exactly.

Time is virtual and jumps when nothing else can happen: ``sleep(3600)`` costs nothing. Every
effect that touches the world (tell, ask, spawn, stop, watch, user effects) is a scheduling
point; ``now``, ``random``, ``self_ref`` and ``emit`` are not.

>>> from playbill import Actor, free_spawn, program
>>> class Echo(Actor):
...     def receive(self, message):
...         return message
>>> @program
... def main():
...     echo = yield free_spawn(Echo, name="echo")
...     return (yield echo.free_ask("hi"))
>>> result = simulate(main(), seed=7)
>>> result.status, result.value
('completed', 'hi')
>>> replay(main(), result.schedule).trace == result.trace
True
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import inspect
import itertools
import math
import random as _random
import string
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, Protocol, TypeVar, final

import attrs
from attrs import field, frozen
from returns.result import Failure, Result, Success

from playbill.actors import (
    DEFAULT_ASK_TIMEOUT,
    ActorEvent,
    DeadLetter,
    DeadLettered,
    DeadLetterReason,
    DeadLetters,
    Emitted,
    Escalated,
    MailboxFull,
    MailboxPolicy,
    Offer,
    OneForOne,
    Stopped,
    SupervisionStrategy,
    Terminated,
    check_name,
    child_path,
)
from playbill.actors._cells import (
    START,
    THROUGHPUT,
    Guardian,
    Restart,
    ask_timeout_error,
    asker_error,
    check_spawn,
    check_supervision,
    child_name,
    find_cell,
    guardian_refuses,
    instantiate,
    is_failure,
    new_realm,
    short,
    stopped_error,
    strategy_for,
    undelivered_ask_error,
    walk_cells,
)
from playbill.actors._kernel import (
    Command,
    ContinueAfterChildren,
    DrainMailbox,
    Escalate,
    Gone,
    Kernel,
    KernelCell,
    Note,
    NotifyWatcher,
    Phase,
    PostSystem,
    PostSystemLater,
    Publish,
    RunHook,
)
from playbill.effects import (
    ActorNotFound,
    ActorRef,
    ActorSystemFailed,
    Ask,
    Cancelled,
    Deadlock,
    Done,
    Effect,
    Emit,
    InjectedFault,
    InvalidArgument,
    MaybeFault,
    Next,
    NondeterminismError,
    Now,
    PlaybillError,
    Program,
    ProgramError,
    Random,
    SelfRef,
    Sleep,
    Spawn,
    Stop,
    Tell,
    UnhandledEffect,
    Watch,
)
from playbill.effects._handlers import Handlers, HandlerTable, perform_with
from playbill.effects._pretty import one_line
from playbill.interpreters._fibers import (
    _WAITING,
    STRUCTURAL,
    FiberScheduler,
    _Fiber,
    _Timer,
    _Wait,
)

__all__ = [
    "Exploration",
    "Faults",
    "Schedule",
    "SimulationResult",
    "TraceLine",
    "check_determinism",
    "explore",
    "replay",
    "simulate",
]

A = TypeVar("A")

Status = Literal["completed", "failed", "deadlock", "step_limit"]

_DIGITS = string.digits + string.ascii_lowercase + string.ascii_uppercase


# -- schedules and results --------------------------------------------------------------------


def _as_choices(choices: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(choice) for choice in choices)


@final
@frozen
class Schedule:
    """The choices of one run: at each choice point, an index into the enabled set sorted by
    stable names. Printed as a short string (``v2:`` then one character a choice, base 62;
    larger values in parentheses) that `Schedule.parse` reads back. The version names the
    simulator's choice points: a schedule replays only under the version that recorded it.

    >>> schedule = Schedule((0, 2, 1, 70))
    >>> str(schedule)
    'v2:021(70)'
    >>> Schedule.parse("v2:021(70)") == schedule
    True
    """

    choices: tuple[int, ...] = field(converter=_as_choices)
    version: int = 2

    def __str__(self) -> str:
        encoded = "".join(
            _DIGITS[choice] if choice < len(_DIGITS) else f"({choice})" for choice in self.choices
        )
        return f"v{self.version}:{encoded}"

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Read a schedule printed by ``str(schedule)``."""
        if isinstance(text, str) and text.startswith("v1:"):
            raise InvalidArgument(
                f"{text!r} was recorded by an earlier simulator (v1), whose choice points were "
                "different, so it cannot replay here; run explore() again for a v2 schedule"
            )
        if not isinstance(text, str) or not text.startswith("v2:"):
            raise InvalidArgument(
                f"a schedule string starts with 'v2:', got {text!r}; pass the string a "
                "simulation printed (str(result.schedule))"
            )
        choices: list[int] = []
        body = text[3:]
        position = 0
        while position < len(body):
            character = body[position]
            if character == "(":
                end = body.index(")", position)
                choices.append(int(body[position + 1 : end]))
                position = end + 1
                continue
            index = _DIGITS.find(character)
            if index < 0:
                raise InvalidArgument(f"{character!r} cannot appear in a schedule ({text!r})")
            choices.append(index)
            position += 1
        return cls(tuple(choices))

    def __len__(self) -> int:
        return len(self.choices)


@final
@frozen
class TraceLine:
    """One step of a run: its number, the virtual time, who acted, and what happened."""

    step: int
    time: float
    actor: str
    event: str

    def __str__(self) -> str:
        return f"{self.step:>4}  t={self.time:<8g} {self.actor:<24} {self.event}"


@final
@frozen
class SimulationResult(Generic[A]):
    """What one simulated run did.

    ``rows`` holds the trace compactly; ``trace`` gives it as `TraceLine` values; ``widths``
    says how many options each choice of the schedule had.

    ``status`` is ``completed`` (the main program returned ``value``), ``failed`` (it raised
    ``error``), ``deadlock`` (nothing could happen, no timer was pending, and the program had
    not finished: ``error`` says who waits for what) or ``step_limit`` (more steps than allowed:
    a livelock, or raise ``max_steps``). ``schedule`` replays the run; ``trace`` tells it.
    """

    status: Status
    value: A | None
    error: BaseException | None
    schedule: Schedule
    rows: tuple[tuple[int, float, str, str], ...] = field(repr=False)
    clock: float
    dead_letters: int
    events: tuple[ActorEvent, ...]
    unobserved_failures: tuple[BaseException, ...] = ()
    widths: tuple[int, ...] = field(default=(), repr=False)

    @property
    def trace(self) -> tuple[TraceLine, ...]:
        """The readable steps: time, actor or fiber, event."""
        return tuple(TraceLine(*row) for row in self.rows)

    @property
    def ok(self) -> bool:
        """True when the main program completed."""
        return self.status == "completed"

    def format_trace(self, limit: int = 200) -> str:
        """The trace, one line a step (the last ``limit`` lines)."""
        lines = [str(TraceLine(*row)) for row in self.rows[-limit:]]
        if len(self.rows) > limit:
            lines.insert(0, f"  … {len(self.rows) - limit} earlier steps")
        return "\n".join(lines)

    def replay_hint(
        self, program_expression: str = "main()", options: Mapping[str, Any] | None = None
    ) -> str:
        """The call that replays this run, with the ``options`` it ran with (a schedule replays
        only with the same ``delivery``, ``faults``, handlers ...).

        >>> from playbill import pure
        >>> simulate(pure(1)).replay_hint("main()", {"delivery": "per_pair"})
        "replay(main(), 'v2:', delivery='per_pair')"
        """
        given = "".join(
            f", {key}=..." if key == "handlers" else f", {key}={value!r}"
            for key, value in (options or {}).items()
            if key != "trace"
        )
        return f"replay({program_expression}, {str(self.schedule)!r}{given})"


# -- faults ---------------------------------------------------------------------------------


@final
@frozen
class Faults:
    """Which faults the simulator may inject, each a probability per opportunity (for the
    random and PCT strategies; a replayed schedule says exactly where). Off by default.

    - ``crash``: an actor fails with `InjectedFault` before it handles its next message (its
      supervisor decides, as for any failure; the message stays queued, so a restarted
      instance handles it and a stop makes it a dead letter);
    - ``delay``: a told message arrives ``delay_for`` seconds later (later messages of the
      same sender to the same actor wait behind it: per-pair order is kept);
    - ``ask_timeout``: an ask fails with `AskTimeout` at once (its reply becomes a late-reply
      dead letter);
    - ``points``: a `maybe_fault(name)` point fails with `InjectedFault`.

    Every decision is a recorded choice (0: no fault, 1: fault), so a found fault replays,
    and shrinking removes the faults a failure does not need.

    >>> Faults(crash=0.1).crash
    0.1
    """

    crash: float = 0.0
    delay: float = 0.0
    ask_timeout: float = 0.0
    points: float = 0.0
    delay_for: float = 0.1

    def __attrs_post_init__(self) -> None:
        for name in ("crash", "delay", "ask_timeout", "points"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise InvalidArgument(f"Faults {name} is a probability in [0, 1], got {value!r}")
        if not (isinstance(self.delay_for, int | float) and self.delay_for > 0):
            raise InvalidArgument(f"Faults delay_for must be positive, got {self.delay_for!r}")


NO_FAULTS = Faults()


# -- choosers ---------------------------------------------------------------------------------


class Chooser(Protocol):
    def choose(self, options: Sequence[str]) -> int: ...

    def decide(self, label: str, probability: float) -> bool: ...

    def draw(self, buckets: int) -> int: ...


class _RandomChooser:
    def __init__(self, seed: int | None) -> None:
        self.source = _random.Random(seed)

    def choose(self, options: Sequence[str]) -> int:
        return int(self.source.random() * len(options))

    def decide(self, label: str, probability: float) -> bool:
        return self.source.random() < probability

    def draw(self, buckets: int) -> int:
        return int(self.source.random() * buckets)


class _ReplayChooser:
    """Follows recorded choices (taken modulo the options, so any list of numbers is a valid
    schedule — what lets Hypothesis shrink them); past the end, always the first option."""

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = choices
        self.position = 0

    def choose(self, options: Sequence[str]) -> int:
        if self.position >= len(self.choices):
            return 0
        choice = self.choices[self.position]
        self.position += 1
        return choice % len(options)

    def decide(self, label: str, probability: float) -> bool:
        return self.choose(("no", "yes")) == 1

    def draw(self, buckets: int) -> int:
        if self.position >= len(self.choices):
            return 0
        choice = self.choices[self.position]
        self.position += 1
        return (choice * _MIX) % buckets


class _PriorityChooser:
    """PCT (probabilistic concurrency testing, Burckhardt et al.): every participant gets a
    random priority; the highest enabled one moves; at ``depth - 1`` random steps the one that
    moves is pushed below all others. Finds bugs of depth d with a guaranteed probability."""

    def __init__(self, seed: int | None, depth: int = 3, horizon: int = 200) -> None:
        self.source = _random.Random(seed)
        self.priorities: dict[str, float] = {}
        self.change_points = {self.source.randrange(horizon) for _ in range(max(0, depth - 1))}
        self.step = 0
        self.lowest = 0.0

    def choose(self, options: Sequence[str]) -> int:
        keys = [_participant(option) for option in options]
        for key in keys:
            if key not in self.priorities:
                self.priorities[key] = 1.0 + self.source.random()
        best = max(range(len(options)), key=lambda index: self.priorities[keys[index]])
        if self.step in self.change_points:
            self.lowest -= 1.0
            self.priorities[keys[best]] = self.lowest
            best = max(range(len(options)), key=lambda index: self.priorities[keys[index]])
        self.step += 1
        return best

    def decide(self, label: str, probability: float) -> bool:
        return self.source.random() < probability

    def draw(self, buckets: int) -> int:
        return int(self.source.random() * buckets)


def _participant(option: str) -> str:
    """The actor or fiber an enabled option belongs to (PCT gives priorities to these); with
    ``delivery="per_pair"``, an actor's option for each sender is a participant of its own."""
    return option.split(" ", 1)[1].split("#", 1)[0]


def _chooser(
    strategy: str | Chooser, seed: int | None, schedule: Schedule | Sequence[int] | str | None
) -> Chooser:
    if schedule is not None:
        if isinstance(schedule, str):
            schedule = Schedule.parse(schedule)
        choices = schedule.choices if isinstance(schedule, Schedule) else tuple(schedule)
        return _ReplayChooser(choices)
    if not isinstance(strategy, str):
        return strategy
    if strategy == "random":
        return _RandomChooser(seed)
    if strategy == "pct":
        return _PriorityChooser(seed)
    raise InvalidArgument(
        f"strategy must be 'random' or 'pct' (or a chooser object), got {strategy!r}"
    )


# -- actors in the world ----------------------------------------------------------------------


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


class _AskExpiry:
    """An ask's timeout: if its fiber still waits for this reply, it fails with `AskTimeout`."""

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

    def __call__(self) -> None:
        fiber, envelope, world = self.fiber, self.envelope, self.world
        if envelope.waiting_asker() is fiber:
            envelope.asker = None
            if world.tracing:
                world.log(fiber.label, f"ask of {self.path} timed out")
            error = ask_timeout_error(self.path, self.message, self.limit)
            world.wake(fiber, "error", error, first=False)


_NO_CHILDREN: list[_Fiber] = []  # shared by waits on no child fiber: never appended to


class _SimCell(KernelCell):
    """An actor in the simulated world; also its context and its refs' binding."""

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
        self.option: _Option = (f"handle {path}@{self.ref.uid}", world.handle, (self, None))
        self.listed: tuple[_Option, ...] = ()  # its options among the world's current choices
        # how many queued user messages each sender has: with several senders, which one's
        # next message is handled is a choice (each sender's own messages keep their order)
        self.senders: dict[str, int] = {}
        self.sender_options: dict[str, _Option] = {}
        self.choice: tuple[_Option, ...] | None = None  # the options of several senders
        self.interrupted = False  # whether free_stop(interrupt=True) cancelled its program
        # told without a choice point between consecutive tells (see _World.take_turn)
        self.unbounded = self.mailbox.capacity is None

    def queued(self, envelope: _Envelope) -> None:
        senders = self.senders
        count = senders.get(envelope.sender, 0)
        senders[envelope.sender] = count + 1
        if not count:
            self.choice = None

    def removed(self, envelope: _Envelope) -> None:
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
        if not box.user or self.phase != Phase.RUNNING:
            return ()
        if len(self.senders) == 1 or not self.world.per_pair or box.user[0].sender == "runtime":
            return (self.option,)  # first in, first out (or one sender, or a runtime message)
        if self.choice is None:  # made again only when the set of senders changed
            options = self.sender_options
            wanted = []
            for sender in sorted(self.senders):
                option = options.get(sender)
                if option is None:
                    option = options[sender] = (
                        f"handle {self.path}@{self.ref.uid} from {sender}",
                        self.world.handle,
                        (self, sender),
                    )
                wanted.append(option)
            self.choice = tuple(wanted)
        return self.choice

    # ActorContext (self_ref, parent and children come from CellContext)
    def spawn(
        self,
        actor: Any,
        name: str | None = None,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> ActorRef:
        return self.world.spawn(self, actor, name, supervision, mailbox).ref

    def stop(self, ref: ActorRef | None = None, *, interrupt: bool = False) -> None:
        if ref is not None and ref != self.ref:
            target = self.world.resolve(ref)
            if target is not None:
                target.stop(interrupt=interrupt)
            return
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


# -- the world --------------------------------------------------------------------------------

_IMMEDIATE = (Now, Random, SelfRef, Emit)

# one thing that could happen next: its stable name (what choices sort by), what does it
_Option = tuple[str, Callable[[Any], None], Any]

# random() draws one of these many values, recorded in the schedule like any choice
_RANDOM_BUCKETS = 1 << 16
_MIX = 40503  # odd: invertible modulo 2**16 (Knuth's multiplicative hashing constant)
_UNMIX = pow(_MIX, -1, _RANDOM_BUCKETS)


Delivery = Literal["causal", "per_pair"]


class _StepLimit(Exception):
    pass


class _Deadlocked(BaseException):  # past every `except Exception` to the run loop
    def __init__(self, error: PlaybillError) -> None:
        super().__init__(str(error))
        self.error = error


class _World(FiberScheduler):
    def __init__(
        self,
        chooser: Chooser,
        handlers: HandlerTable,
        name: str,
        max_steps: int,
        ask_timeout: float,
        supervision: SupervisionStrategy | None,
        faults: Faults,
        tracing: bool,
        per_pair: bool = False,
        cycles_deadlock: bool = True,
    ) -> None:
        super().__init__(0.0)
        self.per_pair = per_pair
        self.cycles_deadlock = cycles_deadlock
        self.faults = faults
        self.faults_on = faults != NO_FAULTS
        self.tracing = tracing
        self.channels: dict[tuple[str, int], deque[_Envelope]] = {}
        self.chooser = chooser
        self.handlers = handlers
        self.name = name
        self.max_steps = max_steps
        self.ask_timeout = ask_timeout

        # what could happen next, kept sorted by name as it changes (never re-sorted):
        # ready fibers, actors able to handle their next message, timers due now
        self.options: list[_Option] = []
        self.ready: dict[int, _Option] = {}  # the ready fibers' options, by fiber id
        self.dirty: set[_SimCell] = set()  # cells whose ability to act may have changed
        self.due: dict[int, _Option] = {}  # the options of timers due now, by sequence
        self.deadlines: dict[float, deque[tuple[float, int, _Timer]]] = {}  # asks, by timeout
        self.choices: list[int] = []
        self.widths: list[int] = []  # how many options each choice had
        self.trace: list[tuple[int, float, str, str]] = []
        self.events: list[ActorEvent] = []
        self.dead_letters = DeadLetters()
        self.uids = itertools.count(1)
        self.realm = new_realm(simulated=True)
        self.names = itertools.count(1)
        self.steps = 0
        self.sender_now = "main"
        self.root_id = -1
        self.tell_handled = handlers.find(Tell(ActorRef("/"), None)) is not None
        self.escalated: BaseException | None = None
        self.finished_at = 0.0
        self.kernel = Kernel(self, notes=tracing)
        guardian = _SimCell(self, None, f"/{name}", Guardian, None)
        guardian.instance = instantiate(Guardian, guardian)
        guardian.strategy = supervision if supervision is not None else OneForOne()
        guardian.phase = Phase.RUNNING
        guardian.unbounded = False  # tells to it take the general path, which refuses them
        self.guardian = guardian

    # -- fiber queue: a set, ordered by label when offered as choices -------------------------

    def enqueue(self, fiber: _Fiber, *, first: bool) -> None:
        option = fiber.option
        if option is None:
            # labels can repeat (an old and a new incarnation of an actor, both unwinding),
            # so the fiber's creation number, stable run to run, makes the name unique
            option = fiber.option = (f"run {fiber.label}@{fiber.id}", self.run_fiber, fiber)
        if fiber.id not in self.ready:
            self.ready[fiber.id] = option
            bisect.insort(self.options, option)

    def unqueue(self, fiber: _Fiber) -> None:
        option = self.ready.pop(fiber.id, None)
        if option is not None:
            self.drop_option(option)

    def drop_option(self, option: _Option) -> None:
        options = self.options
        del options[bisect.bisect_left(options, option)]

    # -- the run ------------------------------------------------------------------------------

    def log(self, actor: str, event: str) -> None:
        self.trace.append((self.steps, self.clock, actor, event))

    def run(self, program: Program[A]) -> tuple[Status, Result[A, BaseException] | None]:
        root = self.new_fiber(program, "main")
        self.root_id = root.id
        self.enqueue(root, first=False)
        shutting_down = False
        try:
            while True:
                if not shutting_down and (root.outcome is not None or self.escalated):
                    # the program is over: shut the world down as `async with` does —
                    # its own fibers are cancelled, every actor stops (children first)
                    shutting_down = True
                    self.finished_at = self.clock
                    if self.tracing:
                        self.log("main", "finished; shutting down")
                    for fiber in self.alive():
                        if fiber.actor is None:
                            self.cancel(fiber)
                    for child in list(self.guardian.children_cells.values()):
                        self.stop(child)
                options = self.enabled()
                if not options:
                    if self.advance_clock():
                        continue
                    if shutting_down:
                        self.abort_stuck()
                        break
                    return "deadlock", Failure(self.deadlock())
                index = 0
                if len(options) > 1:
                    index = self.chooser.choose(_Names(options))
                    self.choices.append(index)
                    self.widths.append(len(options))
                self.steps += 1
                if self.steps > self.max_steps:
                    raise _StepLimit
                _, action, argument = options[index]
                action(argument)
        except _StepLimit:
            return "step_limit", None
        except _Deadlocked as found:
            if self.tracing:
                self.log("main", "deadlock: an ask cycle formed")
            return "deadlock", Failure(found.error)
        if self.escalated is not None:
            failure = ActorSystemFailed(
                f"a failure escalated to the root guardian of /{self.name} and stopped the "
                f"system: {self.escalated!r}"
            )
            failure.__cause__ = self.escalated
            return "failed", Failure(failure)
        assert root.outcome is not None
        return ("completed" if isinstance(root.outcome, Success) else "failed"), root.outcome

    def enabled(self) -> list[_Option]:
        """What could happen next, sorted by stable name: ready fibers, actors able to handle
        their next message, timers due now. The list is the world's own, updated in place."""
        if self.dirty:
            options = self.options
            for cell in self.dirty:
                wanted = cell.wanted_options()
                listed = cell.listed
                if wanted != listed:
                    for option in listed:
                        if option not in wanted:
                            self.drop_option(option)
                    for option in wanted:
                        if option not in listed:
                            bisect.insort(options, option)
                    cell.listed = wanted
            self.dirty.clear()
        if self.due:
            for sequence, option in list(self.due.items()):
                if not option[2][1].active:
                    del self.due[sequence]
                    self.drop_option(option)
        return self.options

    def post_system(self, cell: _SimCell, message: object) -> None:
        cell.mailbox.system.append(message)
        self.dirty.add(cell)

    def deliver_first(self, cell: _SimCell, message: object) -> None:
        """Queue a runtime message (``Terminated``) ahead of the user messages: handled next,
        but only once the actor runs (not while its supervisor decides about a failure)."""
        envelope = _Envelope(message, "runtime", None)
        cell.mailbox.notify(envelope, _is_notice)
        cell.queued(envelope)
        self.dirty.add(cell)

    def restart_later(self, arguments: tuple[_SimCell, Restart]) -> None:
        self.post_system(*arguments)

    def add_timer(self, delay: float, action: Callable[[], None]) -> Any:
        timer = _Timer(action)
        sequence = self.sequence
        self.sequence += 1
        if delay <= 0:
            self.make_due(sequence, timer)
        elif delay != math.inf:
            heapq.heappush(self.timers, (self.clock + delay, sequence, timer))
        return timer

    def add_deadline(self, limit: float, action: Callable[[], None]) -> _Timer:
        """A timer for an ask: asks with one timeout expire in the order they were made, so
        each timeout keeps a plain queue (no heap to sift for the many answered in time)."""
        timer = _Timer(action)
        queue = self.deadlines.get(limit)
        if queue is None:
            queue = self.deadlines[limit] = deque()
        queue.append((self.clock + limit, self.sequence, timer))
        self.sequence += 1
        return timer

    def cells(self) -> list[_SimCell]:
        cells: list[_SimCell] = walk_cells(self.guardian)
        return cells

    def advance_clock(self) -> bool:
        """Jump the virtual clock to the next timer and make every timer due then a choice;
        False if no timer is pending."""
        timers = self.timers
        while timers and not timers[0][2].active:
            heapq.heappop(timers)
        soonest = timers[0][0] if timers else math.inf
        for queue in self.deadlines.values():
            while queue and not queue[0][2].active:
                queue.popleft()
            if queue and queue[0][0] < soonest:
                soonest = queue[0][0]
        if soonest == math.inf:
            return False
        self.clock = max(self.clock, soonest)
        while timers and timers[0][0] <= self.clock:
            _, sequence, timer = heapq.heappop(timers)
            if timer.active:
                self.make_due(sequence, timer)
        for queue in self.deadlines.values():
            while queue and queue[0][0] <= self.clock:
                _, sequence, timer = queue.popleft()
                if timer.active:
                    self.make_due(sequence, timer)
        return True

    def make_due(self, sequence: int, timer: _Timer) -> None:
        option = (f"timer {sequence:06d}", self.fire, (sequence, timer))
        self.due[sequence] = option
        bisect.insort(self.options, option)

    def fire(self, entry: tuple[int, Any]) -> None:
        sequence, timer = entry
        self.drop_option(self.due.pop(sequence))
        timer.active = False
        timer.action()

    def abort_stuck(self) -> None:
        """The shutdown cannot go on (an actor never finishes its message): as asyncio does
        when a shutdown times out, what each holds becomes a dead letter and it is stopped."""
        for cell in reversed(self.cells()):  # children before parents
            if cell is self.guardian or cell.phase == Phase.STOPPED:
                continue
            if self.tracing:
                self.log(cell.path, "never finished; aborted at shutdown")
            cell.phase = Phase.STOPPING
            if cell.current is not None:
                current, cell.current = cell.current, None
                self.undeliverable(cell, current, DeadLetterReason.UNPROCESSED)
            self.apply(cell, self.kernel.terminate(cell))
        self.events.append(Stopped(self.guardian.path, self.clock))

    def deadlock(self) -> PlaybillError:
        waits = [self.describe_alive()] if self.alive() else []
        for cell in self.cells():
            if cell.phase == Phase.SUSPENDED:
                waits.append(f"{cell.path} is suspended after a failure")
        return Deadlock(
            "nothing can happen and no timer is pending: "
            + "; ".join(waits)
            + ". Two actors ask each other, or an ask waits on a reply that never comes"
        )

    # -- fibers -------------------------------------------------------------------------------

    def run_fiber(self, fiber: _Fiber) -> None:
        self.take_turn(fiber)
        self.settle(fiber)

    def take_turn(self, fiber: _Fiber) -> None:
        """Run ``fiber`` to its next world-touching effect (or to its end)."""
        self.unqueue(fiber)
        self.sender_now = fiber.actor.path if fiber.actor is not None else "main"
        step = self.resume(fiber)
        told = False  # whether this turn told already (then anything else waits for a choice)
        while True:
            if type(step) is not Next:
                if told:  # others may act before it ends: asyncio runs the actors it woke
                    self.park(fiber, step)
                elif type(step) is Done:
                    self.finish(fiber, Success(step.value))
                else:
                    self.finish(fiber, Failure(step.error))
                return
            effect = step.effect
            kind = type(effect)
            if kind is Tell and self.tell_in_turn(fiber, effect):
                told = True
                step = step.resume(None)
                continue
            if told and (kind not in _IMMEDIATE or self.handlers.find(effect) is not None):
                self.park(fiber, step)
                return
            if kind in STRUCTURAL:
                if self.tracing:
                    self.log(fiber.label, one_line(_suspend(effect)))
                next_step = self.structural(fiber, effect)
                if next_step is None:
                    return
                step = next_step
                continue
            if kind in _IMMEDIATE and self.handlers.find(effect) is None:
                step = self.immediate(fiber, effect, step)
                continue
            self.perform(fiber, effect)
            return

    def tell_in_turn(self, fiber: _Fiber, effect: Any) -> bool:
        """Perform a tell within the fiber's turn, with no choice point before its next effect
        (the next tell included), when the target's mailbox is unbounded: under asyncio a tell
        never suspends its sender, so a fiber's consecutive tells land together. A run of tells
        then costs one step, not one each. With ``delivery="per_pair"`` only a fiber sending
        alone as its actor (or as the main program) does so: other senders' messages still
        interleave with its own at the receiver, where which sender's message comes next is a
        choice (`_SimCell.wanted_options`)."""
        if self.tell_handled:
            return False
        ref = effect.ref
        if type(ref) is not ActorRef:
            return False
        if self.per_pair:
            # fibers sending as one actor (or as the main program) share its channels: only a
            # lone fiber may send a run of tells without a choice point between them
            cell = fiber.actor
            if cell is None:
                if fiber.id != self.root_id:
                    return False
            elif cell.busy is not fiber:
                return False
            for child in fiber.forks:
                if child.outcome is None:
                    return False
        target = ref.binding
        if type(target) is not _SimCell or target.world is not self:
            target = self.resolve(ref)
        if target is not None and not target.unbounded:
            return False
        self.steps += 1
        if self.steps > self.max_steps:
            raise _StepLimit
        if self.tracing:
            self.log(fiber.label, f"tell {ref.path} {short(effect.message)}")
        if target is None:
            self.dead_letter(effect.message, ref.path, DeadLetterReason.UNKNOWN)
        elif self.faults_on or self.channels or target.phase >= Phase.STOPPING:
            self.tell(self.sender_now, target, effect.message, None)
        else:  # the common case, in place: queued in an unbounded mailbox
            envelope = _Envelope(effect.message, self.sender_now, None)
            target.mailbox.user.append(envelope)
            target.queued(envelope)
            self.dirty.add(target)
        return True

    def immediate(self, fiber: _Fiber, effect: Any, step: Next) -> Any:
        kind = type(effect)
        if kind is Now:
            return step.resume(self.clock)
        if kind is Random:
            return step.resume(self.random_value())
        if kind is SelfRef:
            if fiber.actor is None:
                return step.throw(_needs_actor("self_ref()"))
            return step.resume(fiber.actor.ref)
        path = fiber.actor.path if fiber.actor is not None else f"/{self.name}"
        event = Emitted(path, self.clock, effect.event)
        self.events.append(event)
        if self.tracing:
            self.log(fiber.label, f"emit {effect.event!r}")
        return step.resume(None)

    def answer(self, fiber: _Fiber, kind: str, payload: object) -> None:
        self.wake(fiber, kind, payload, first=False)

    def perform(self, fiber: _Fiber, effect: Any) -> None:
        """Perform one world-touching effect for ``fiber``; it is ready again or waits."""
        handler = self.handlers.find(effect)
        if handler is not None:
            if self.tracing:
                self.log(fiber.label, f"perform {effect!r}")
            step = perform_with(handler, effect, fiber.machine)
            # the handler's answer (or its program) continues the fiber at its next step
            self.park(fiber, step)
            return
        kind = type(effect)
        sender = fiber.actor.path if fiber.actor is not None else "main"
        try:
            if kind is Tell:
                target = self.target(effect.ref, "free_tell()")
                if self.tracing:
                    self.log(fiber.label, f"tell {effect.ref.path} {short(effect.message)}")
                if target is None:
                    self.dead_letter(effect.message, effect.ref.path, DeadLetterReason.UNKNOWN)
                elif self.tell(sender, target, effect.message, fiber):
                    return  # waits for room in a full BLOCK mailbox
                self.answer(fiber, "value", None)
            elif kind is Ask:
                self.ask(fiber, sender, effect)
            elif kind is Spawn:
                parent = fiber.actor if fiber.actor is not None else self.guardian
                cell = self.spawn(
                    parent, effect.actor, effect.name, effect.supervision, effect.mailbox
                )
                if self.tracing:
                    self.log(fiber.label, f"spawn {cell.path}")
                self.answer(fiber, "value", cell.ref)
            elif kind is Stop:
                target = self.target(effect.ref, "free_stop()")
                if self.tracing:
                    self.log(fiber.label, f"stop {effect.ref.path}")
                if target is not None:
                    self.stop(target)
                    if effect.interrupt:
                        self.interrupt(target, sender)
                self.answer(fiber, "value", None)
            elif kind is Watch:
                if fiber.actor is None:
                    raise _needs_actor("watch()")
                if self.tracing:
                    self.log(fiber.label, f"watch {effect.ref.path}")
                self.watch(fiber.actor, effect.ref)
                self.answer(fiber, "value", None)
            elif kind is Sleep:
                if self.tracing:
                    self.log(fiber.label, f"sleep {effect.seconds:g}")
                self.sleep(fiber, effect.seconds)
            elif kind is MaybeFault:
                if self.fault("points", fiber.label, f"fault point {effect.name!r}"):
                    raise InjectedFault(
                        f"the simulator failed the fault point {effect.name!r} (Faults(points=...))"
                    )
                self.answer(fiber, "value", None)
            else:
                raise UnhandledEffect(
                    effect,
                    "simulation",
                    f"simulate(program, handlers={{{kind.__name__}: lambda effect: ...}})",
                )
        except Exception as error:
            self.answer(fiber, "error", error)

    def park(self, fiber: _Fiber, step: Any) -> None:
        """A handler ran the fiber on to ``step``: the fiber takes it at its next turn."""
        self.answer(fiber, "step", step)

    def random_value(self) -> float:
        """A float in [0, 1) for ``random()`` and backoff jitter: a recorded choice, so a
        replayed schedule draws the same values. Recorded numbers are mixed into buckets by an
        odd multiplier (invertible modulo the bucket count), so the small numbers Hypothesis
        draws spread over [0, 1); its width is recorded as 1, so ``dfs`` does not enumerate
        the 65,536 values."""
        bucket = self.chooser.draw(_RANDOM_BUCKETS)
        self.choices.append((bucket * _UNMIX) % _RANDOM_BUCKETS)
        self.widths.append(1)
        return bucket / _RANDOM_BUCKETS

    def fault(self, kind: str, where: str, what: str) -> bool:
        """Whether to inject a fault of ``kind`` here: a recorded choice when that kind is on."""
        probability = getattr(self.faults, kind)
        if probability <= 0:
            return False
        hit = self.chooser.decide(f"fault {kind} {where}", probability)
        self.choices.append(1 if hit else 0)
        self.widths.append(2)
        if hit and self.tracing:
            self.log(where, f"fault: {what}")
        return hit

    # the kernel's Environment: one virtual clock, and chance as recorded choices
    def event_time(self) -> float:
        return self.clock

    monotonic = event_time

    def publishing(self) -> bool:
        return True

    def random(self) -> float:
        return self.random_value()

    def current_sender(self) -> str:
        """Who sends a direct ``ref.tell``: the same name ``free_tell`` uses there."""
        return self.sender_now

    # -- actors -------------------------------------------------------------------------------

    def spawn(
        self,
        parent: _SimCell,
        actor: Any,
        name: str | None,
        supervision: Any,
        mailbox: Any,
    ) -> _SimCell:
        check_spawn(actor, supervision, mailbox)
        name = child_name(
            parent.path,
            parent.phase >= Phase.STOPPING,
            parent.children_cells,
            name,
            lambda: next(self.names),
        )
        cell = _SimCell(self, parent, child_path(parent.path, name), actor, mailbox)
        cell.instance = instantiate(actor, cell)
        cell.strategy = strategy_for(cell.instance, supervision)
        parent.children_cells[name] = cell
        self.post_system(cell, START)
        return cell

    def resolve(self, ref: ActorRef) -> _SimCell | None:
        binding = ref.binding
        if type(binding) is _SimCell and binding.world is self:
            return binding
        if binding is not None:
            return None  # an actor of another run (uids count from 1 in each): not ours
        found: _SimCell | None = find_cell(self.guardian, self.name, ref.path, ref.uid, ref.realm)
        return found

    def target(self, ref: object, where: str) -> _SimCell | None:
        if not isinstance(ref, ActorRef):
            raise InvalidArgument(f"{where} takes an ActorRef, got {short(ref)}")
        return self.resolve(ref)

    def tell(self, sender: str, cell: _SimCell, message: object, fiber: _Fiber | None) -> bool:
        """Queue a tell; True when ``fiber`` must wait for room (a full BLOCK mailbox)."""
        envelope = _Envelope(message, sender, None)
        if self.queued_behind_delay(cell, envelope):
            return False
        if self.faults_on and self.fault("delay", cell.path, f"delay {short(message)}"):
            channel_key = (sender, cell.ref.uid)
            envelope.delayed = True
            self.channels[channel_key] = deque([envelope])
            self.add_timer(self.faults.delay_for, _bind(self.arrive, (channel_key, cell)))
            return False
        return self.offer(cell, envelope, fiber)

    def queued_behind_delay(self, cell: _SimCell, envelope: _Envelope) -> bool:
        """If an earlier message of the same sender to ``cell`` is delayed, this one (tell or
        ask) waits behind it: per-pair order holds even under delays."""
        channel = self.channels.get((envelope.sender, cell.ref.uid))
        if not channel:
            return False
        envelope.delayed = True
        channel.append(envelope)
        return True

    def arrive(self, entry: tuple[tuple[str, int], _SimCell]) -> None:
        """Delayed messages of one sender-receiver pair arrive at that very actor, in order."""
        channel_key, target = entry
        channel = self.channels.pop(channel_key)
        while channel:
            envelope = channel.popleft()
            if self.tracing:
                self.log(target.path, f"delayed {short(envelope.message)} arrives")
            with contextlib.suppress(MailboxFull):  # a refused tell: a dead letter already
                self.offer(target, envelope, None)

    def offer(self, cell: _SimCell, envelope: _Envelope, fiber: _Fiber | None) -> bool:
        if cell.phase >= Phase.STOPPING:
            self.undeliverable(cell, envelope, DeadLetterReason.STOPPED)
            return False
        if cell is self.guardian:  # it takes no messages: a dead letter, nothing else happens
            self.undeliverable(cell, envelope, DeadLetterReason.GUARDIAN)
            return False
        outcome = cell.mailbox.offer(envelope)
        self.dirty.add(cell)
        if outcome is Offer.QUEUED:
            cell.queued(envelope)
            return False
        if outcome is Offer.DROPPED_OLDEST:
            cell.queued(envelope)
            cell.removed(cell.mailbox.last_dropped)  # type: ignore[arg-type]
            self.undeliverable(cell, cell.mailbox.last_dropped, DeadLetterReason.DROPPED_OLDEST)
        elif outcome is Offer.DROPPED_NEWEST:
            self.undeliverable(cell, envelope, DeadLetterReason.DROPPED_NEWEST)
        elif outcome is Offer.REFUSED:
            self.undeliverable(cell, envelope, DeadLetterReason.MAILBOX_FULL)
            raise MailboxFull(
                f"the mailbox of {cell.path} is full ({cell.mailbox.capacity} messages, "
                f"overflow=FAIL); the message {short(envelope.message)} is a dead letter"
            )
        elif fiber is not None:  # FULL, with a sender able to wait
            cell.blocked.append((fiber, envelope))
            self.block(fiber, _WAITING, "room in the mailbox of " + cell.path)
            fiber.wait = _Wait([])
            return True
        elif envelope.asked or envelope.delayed:  # an ask (its fiber waits for the reply)
            cell.blocked.append((None, envelope))  # or a delayed tell: queued for room
            return False
        else:
            self.undeliverable(cell, envelope, DeadLetterReason.MAILBOX_FULL)
            raise MailboxFull(
                f"the mailbox of {cell.path} is full and ref.tell() never waits; use "
                "free_tell(...) to wait for room"
            )
        return False

    def ask(self, fiber: _Fiber, sender: str, effect: Ask) -> None:
        target = self.target(effect.ref, "free_ask()")
        if self.tracing:
            self.log(fiber.label, f"ask {effect.ref.path} {short(effect.message)}")
        if target is None:
            self.dead_letter(effect.message, effect.ref.path, DeadLetterReason.UNKNOWN)
            raise ActorNotFound(f"no actor at {effect.ref.path} to ask {short(effect.message)}")
        if target is self.guardian:
            self.dead_letter(effect.message, target.path, DeadLetterReason.GUARDIAN)
            raise guardian_refuses(target.path, effect.message)
        if target.phase >= Phase.STOPPING:
            self.dead_letter(effect.message, target.path, DeadLetterReason.STOPPED)
            raise stopped_error(target.path, effect.message)
        envelope = _Envelope(effect.message, sender, fiber)
        if self.cycles_deadlock:
            self.check_ask_cycle(fiber, target, effect.message)
        fiber.asking = (target, effect.message, envelope)
        fiber.state = _WAITING
        fiber.waiting_on = "a reply from " + target.path
        fiber.wait = envelope.wait = _Wait(_NO_CHILDREN)
        limit = self.ask_timeout if effect.timeout is None else effect.timeout
        expiry = _AskExpiry(self, fiber, envelope, target.path, effect.message, limit)
        if limit != math.inf:
            fiber.timer = self.add_deadline(limit, expiry)
        if not self.queued_behind_delay(target, envelope):
            self.offer(target, envelope, None)
        if self.faults_on and self.fault(
            "ask_timeout", target.path, f"the ask {short(effect.message)} times out"
        ):
            expiry()

    def check_ask_cycle(self, fiber: _Fiber, target: _SimCell, message: object) -> None:
        """Follow the wait-for graph from ``target``: an actor whose message (or hook) fiber
        waits on an ask cannot handle another message until that ask returns. If the chain
        comes back to the asking actor, the ask closes a cycle: nobody in it can ever go on
        (but for a timeout), so the run ends as a deadlock now, naming the cycle."""
        asker = fiber.actor
        if asker is None or asker.busy is not fiber:
            return  # the main program, or a fork: its actor can still handle messages
        links = [(asker, message)]
        node = target
        while node is not asker:
            waiting = node.busy
            asking = waiting.asking if waiting is not None else None
            if asking is None or asking[2].waiting_asker() is not waiting:
                return  # the chain ends at an actor that can go on
            if len(links) > len(self.fibers):  # pragma: no cover - a cycle not through asker
                return
            links.append((node, asking[1]))
            node = asking[0]
        links = links[1:] + links[:1]  # from the actor that has waited longest
        first = links[0][0]
        cycle = " → ".join(f"{cell.path} asks {short(asked)}" for cell, asked in links)
        raise _Deadlocked(
            Deadlock(
                f"ask cycle: {cycle} → back to {first.path}. Each of these actors waits for "
                "the next one's reply before it can handle another message, so none ever "
                "will. Break the cycle (tell instead of ask, or answer from a fork), or pass "
                "ask_cycles='wait' to let the ask timeouts play out"
            )
        )

    def reply_value(self, cell: _SimCell, envelope: _Envelope, value: object) -> None:
        """Answer an ask with ``value`` (what `reply` does for a success, without a Result)."""
        asker = envelope.waiting_asker()
        envelope.asker = None
        if asker is None:  # the ask timed out, or its fiber was cancelled, before
            self.dead_letter(value, cell.path, DeadLetterReason.LATE_REPLY)
            return
        if self.tracing:
            self.log(cell.path, f"reply {short(value)} to {asker.label}")
        self.answer_asker(asker, "value", value)

    def answer_asker(self, asker: _Fiber, kind: str, payload: object) -> None:
        """The asking fiber goes on with the reply (or the error); its timeout is off."""
        if asker.timer is not None:
            asker.timer.active = False
        self.wake(asker, kind, payload, first=False)

    def reply(
        self, cell: _SimCell, envelope: _Envelope, outcome: Result[Any, BaseException]
    ) -> None:
        if not envelope.asked:
            return
        if isinstance(outcome, Success):
            self.reply_value(cell, envelope, outcome.unwrap())
            return
        asker = envelope.waiting_asker()
        envelope.asker = None
        if asker is not None:  # (else the ask timed out, or its fiber was cancelled, before)
            self.answer_asker(asker, "error", outcome.failure())

    def undeliverable(self, cell: _SimCell, envelope: Any, reason: DeadLetterReason) -> None:
        asker = envelope.waiting_asker()
        envelope.asker = None
        if asker is not None:
            self.answer_asker(
                asker, "error", undelivered_ask_error(cell.path, envelope.message, reason)
            )
        self.dead_letter(envelope.message, cell.path, reason)

    def interrupt(self, cell: _SimCell, by: str) -> None:
        """Cancel the program ``cell`` runs for the message it is handling (it is stopping):
        ``free_stop(ref, interrupt=True)``. An actor never interrupts itself (``by`` is the
        path of whoever asks, or ``main``)."""
        if cell.busy is not None and cell.current is not None and by != cell.path:
            cell.interrupted = True
            self.cancel(cell.busy)

    def dead_letter(self, message: object, recipient: str, reason: DeadLetterReason) -> None:
        letter = DeadLetter(message, recipient, reason, self.clock)
        self.dead_letters.record(letter)
        self.events.append(DeadLettered(recipient, self.clock, letter))
        if self.tracing:
            self.log(recipient, f"dead letter {short(message)} ({reason.name})")

    def watch(self, watcher: _SimCell, ref: ActorRef) -> None:
        self.apply(watcher, self.kernel.watch(watcher, self.resolve(ref), Terminated(ref)))

    # -- handling messages ---------------------------------------------------------------------

    def handle(self, entry: tuple[_SimCell, str | None]) -> None:
        """``cell`` handles its next system message, or its next user message (from
        ``sender``, when several senders have messages queued). With causal delivery it goes on
        to the messages queued behind, as asyncio's actor loop does (up to `THROUGHPUT` in a
        row), while each ``receive`` returns a plain value: nothing else runs in between."""
        cell, sender = entry
        self.sender_now = cell.path
        self.dirty.add(cell)
        box = cell.mailbox
        if box.system:
            self.system_message(cell, box.system.popleft())
            return
        queue = box.user
        index = 0
        if sender is not None and queue[0].sender != sender:
            index = next(i for i, queued in enumerate(queue) if queued.sender == sender)
        handled = 0
        while True:
            if self.faults_on and self.fault("crash", cell.path, "crash before its next message"):
                # the message stays queued: a restarted instance handles it, a stop
                # dead-letters it
                self.fail(
                    cell,
                    InjectedFault(
                        f"the simulator crashed {cell.path} before it handled "
                        f"{short(queue[index].message)} (Faults(crash=...))"
                    ),
                )
                return
            if index:
                envelope = queue[index]
                del queue[index]
            else:
                envelope = queue.popleft()
            cell.removed(envelope)
            if cell.blocked:
                self.admit_blocked(cell)
            if not self.deliver(cell, envelope.message, envelope) or self.per_pair:
                return
            handled += 1
            if (
                handled >= THROUGHPUT
                or not queue
                or box.system
                or cell.phase != Phase.RUNNING
                or cell.busy is not None
            ):
                return
            self.steps += 1
            if self.steps > self.max_steps:
                raise _StepLimit

    def admit_blocked(self, cell: _SimCell) -> None:
        """Move waiting messages into the mailbox while it has room; their senders go on."""
        while cell.blocked and cell.mailbox.has_room():
            fiber, waiting = cell.blocked.popleft()
            if (fiber is not None and not self.still_waiting(fiber, cell)) or (
                waiting.asked and waiting.waiting_asker() is None
            ):  # its sender gave up (cancelled, or its ask timed out): never handled
                self.undeliverable(cell, waiting, DeadLetterReason.GAVE_UP)
                continue
            cell.mailbox.user.append(waiting)
            cell.queued(waiting)
            if fiber is not None:
                self.answer(fiber, "value", None)

    def still_waiting(self, fiber: _Fiber, cell: _SimCell) -> bool:
        """Whether ``fiber`` still waits for room in ``cell`` (not cancelled meanwhile)."""
        return fiber.state == _WAITING and fiber.waiting_on == "room in the mailbox of " + cell.path

    def deliver(self, cell: _SimCell, message: object, envelope: _Envelope | None) -> bool:
        """Hand ``message`` to ``cell``'s instance; True when ``receive`` returned a plain value
        (the message is done), False when it failed or returned a program to run."""
        cell.handled += 1
        cell.current = envelope
        if self.tracing:
            self.log(cell.path, f"receive {short(message)}")
        try:
            result = cell.instance.receive(message)
        except BaseException as error:
            if not is_failure(error):
                raise
            self.message_failed(cell, envelope, error)
            return False
        if result is None or type(result) in _PLAIN:
            cell.current = None
            cell.consecutive_restarts = 0
            if envelope is not None and envelope.asked:
                self.reply_value(cell, envelope, result)
            return True
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            self.message_failed(cell, envelope, _refuse_async(cell, "receive"))
            return False
        if isinstance(result, Program | Effect):
            fiber = self.new_fiber(
                result if isinstance(result, Program) else _suspend(result),
                f"{cell.path}#{cell.handled}",
            )
            fiber.actor = cell
            cell.busy = fiber
            self.dirty.add(cell)

            def done(finished: _Fiber) -> None:
                cell.busy = None
                self.dirty.add(cell)
                assert finished.outcome is not None
                if isinstance(finished.outcome, Success):
                    self.message_done(cell, envelope, finished.outcome)
                else:
                    self.message_failed(cell, envelope, finished.outcome.failure())

            fiber.on_finish.append(done)
            self.enqueue(fiber, first=False)
            return False
        self.message_done(cell, envelope, Success(result))
        return True

    def message_done(
        self, cell: _SimCell, envelope: _Envelope | None, outcome: Result[Any, BaseException]
    ) -> None:
        cell.current = None
        cell.consecutive_restarts = 0
        if envelope is not None:
            self.reply(cell, envelope, outcome)

    def message_failed(
        self, cell: _SimCell, envelope: _Envelope | None, error: BaseException
    ) -> None:
        cell.current = None
        if cell.interrupted:  # free_stop(interrupt=True) cancelled the program
            cell.interrupted = False
            if isinstance(error, Cancelled) and envelope is not None:
                error = stopped_error(cell.path, envelope.message)
        if self.tracing:
            self.log(cell.path, f"failed {error!r}")
        if envelope is not None and envelope.asker is not None:
            self.reply(cell, envelope, Failure(asker_error(cell.path, envelope.message, error)))
        self.fail(cell, error)

    def fail(self, cell: _SimCell, error: BaseException) -> None:
        self.apply(cell, self.kernel.fail(cell, error))

    def stop(self, cell: _SimCell) -> None:
        self.apply(cell, self.kernel.stop(cell))

    def system_message(self, cell: _SimCell, message: object) -> None:
        self.apply(cell, self.kernel.system_message(cell, message))

    # -- the executor of the kernel's commands ------------------------------------------------

    def apply(self, cell: _SimCell, commands: list[Command]) -> None:
        """Carry out what the lifecycle kernel decided about ``cell``, depth first."""
        self.dirty.add(cell)
        for command in commands:
            kind = type(command)
            if kind is PostSystem:
                self.post_system(command.cell, command.message)  # type: ignore[union-attr]
            elif kind is Note:
                if self.tracing:
                    self.log(command.cell.path, command.text)  # type: ignore[union-attr]
            elif kind is Publish:
                self.events.append(command.event)  # type: ignore[union-attr]
            elif kind is RunHook:
                self.run_hook(command)  # type: ignore[arg-type]
            elif kind is DrainMailbox:
                self.drain(command.cell, command.reason)  # type: ignore[union-attr]
            elif kind is NotifyWatcher:
                self.deliver_first(command.watcher, command.message)  # type: ignore[union-attr]
            elif kind is Gone:
                if self.tracing:
                    self.log(command.cell.path, "stopped")  # type: ignore[union-attr]
            elif kind is ContinueAfterChildren:
                target = command.cell  # type: ignore[union-attr]
                self.apply(target, self.kernel.children_terminated(target))
            elif kind is PostSystemLater:
                later = (command.cell, command.message)  # type: ignore[union-attr]
                self.add_timer(command.delay, _bind(self.restart_later, later))  # type: ignore[union-attr]
            elif kind is Escalate:
                error = command.error  # type: ignore[union-attr]
                self.escalated = error
                self.events.append(Escalated(command.cell.path, self.clock, error))  # type: ignore[union-attr]
                if self.tracing:
                    self.log(command.cell.path, f"failure reached the root: {error!r}")  # type: ignore[union-attr]
            # a Report is for an operator's log: the trace has the failure already

    def drain(self, cell: _SimCell, reason: DeadLetterReason) -> None:
        """What is queued for ``cell``, and what waits for room in it, becomes dead letters."""
        self.dirty.add(cell)
        cell.forget_senders()
        for envelope in cell.mailbox.drain():
            self.undeliverable(cell, envelope, reason)
        while cell.blocked:
            fiber, envelope = cell.blocked.popleft()
            self.undeliverable(cell, envelope, reason)
            if fiber is not None and self.still_waiting(fiber, cell):
                self.answer(fiber, "value", None)

    def run_hook(self, command: RunHook) -> None:
        """Run a lifecycle hook (a plain call, or a fiber for the program it returns); then
        the kernel goes on."""
        cell = command.cell
        try:
            result = getattr(cell.instance, command.name)(*command.arguments)
        except BaseException as error:
            if not is_failure(error):
                raise
            self.apply(cell, self.kernel.hook_done(cell, error))
            return
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            refused = _refuse_async(cell, command.name)
            self.apply(cell, self.kernel.hook_done(cell, refused))
            return
        if isinstance(result, Program):
            fiber = self.new_fiber(result, f"{cell.path}#{command.name}{cell.handled}")
            fiber.actor = cell
            cell.busy = fiber
            self.dirty.add(cell)

            def done(finished: _Fiber) -> None:
                cell.busy = None
                outcome = finished.outcome
                error = outcome.failure() if isinstance(outcome, Failure) else None
                self.apply(cell, self.kernel.hook_done(cell, error))

            fiber.on_finish.append(done)
            self.enqueue(fiber, first=False)
            return
        self.apply(cell, self.kernel.hook_done(cell, None))


# -- helpers ----------------------------------------------------------------------------------

_PLAIN = frozenset({int, float, str, bytes, bool, tuple, list, dict, set, frozenset})


class _Names(Sequence[str]):
    """The names of the enabled options, read only by a chooser that needs them (PCT)."""

    __slots__ = ("options",)

    def __init__(self, options: list[tuple[str, Any, Any]]) -> None:
        self.options = options

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


def _refuse_async(cell: _SimCell, method: str) -> ProgramError:
    return ProgramError(
        f"{type(cell.instance).__name__}.{method} is async, and the simulator has no event loop "
        "to await it; return a program instead (decorate a generator with @program) and turn "
        "each awaited call into an effect with a handler"
    )


def _needs_actor(where: str) -> InvalidArgument:
    return InvalidArgument(
        f"{where} needs an actor, but this program runs at the root; run it inside an actor's "
        "receive, or spawn an actor to do it"
    )


# -- the public API ---------------------------------------------------------------------------


def simulate(
    program: Program[A],
    *,
    seed: int | None = None,
    schedule: Schedule | Sequence[int] | str | None = None,
    strategy: str | Chooser = "random",
    handlers: Handlers | None = None,
    max_steps: int = 100_000,
    name: str = "app",
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
    supervision: SupervisionStrategy | None = None,
    faults: Faults = NO_FAULTS,
    trace: bool = True,
    delivery: Delivery = "causal",
    ask_cycles: Literal["deadlock", "wait"] = "deadlock",
) -> SimulationResult[A]:
    """Run ``program`` once in a simulated world; the same seed (or schedule) gives the same
    run, every time, on every machine.

    ``schedule`` replays recorded choices (a `Schedule`, its string, or a list of numbers —
    any list is valid: values are taken modulo the options, and past its end the first option
    is taken). Otherwise ``strategy`` chooses: ``"random"`` (from ``seed``) or ``"pct"``
    (priority-change scheduling). The actor semantics are those of the asyncio interpreter.
    ``faults`` switches on injected faults (see `Faults`), each a recorded choice.
    ``trace=False`` skips recording the trace (faster; `explore` searches that way).

    ``delivery`` says which message orders are possible. ``"causal"`` (the default) is the
    asyncio runtime's: each actor's mailbox is first in, first out, and a fiber's consecutive
    tells land together (a tell never suspends its sender, as under asyncio), so the schedule
    chooses who runs, not how the mailboxes are ordered. ``"per_pair"`` allows every order the
    documented guarantee allows — only each sender's own messages to one receiver keep their
    order — as a deployment across processes may deliver them: which sender's message an actor
    handles next is a choice too. Replay a schedule with the ``delivery`` (and ``faults``) it
    was recorded with.

    ``ask_cycles``: when a cycle of asks forms (A's message waits on B's reply while B's waits
    on A's, or an actor asks itself from its own message), the run ends at once with status
    ``deadlock`` and an error that lists the cycle in order (``"deadlock"``, the default);
    ``"wait"`` lets the ask timeouts play out instead, for a program that relies on them.

    >>> from playbill import sleep, now
    >>> result = simulate(sleep(3600).then(now()))
    >>> result.value, result.clock
    (3600.0, 3600.0)
    """
    check_supervision(supervision)
    if ask_cycles not in ("deadlock", "wait"):
        raise InvalidArgument(f"ask_cycles must be 'deadlock' or 'wait', got {ask_cycles!r}")
    if delivery not in ("causal", "per_pair"):
        raise InvalidArgument(f"delivery must be 'causal' or 'per_pair', got {delivery!r}")
    world = _World(
        _chooser(strategy, seed, schedule),
        HandlerTable(handlers, interpreter="simulation"),
        check_name(name, "an actor system name"),
        max_steps,
        ask_timeout,
        supervision,
        faults,
        trace,
        delivery == "per_pair",
        ask_cycles == "deadlock",
    )
    status, outcome = world.run(program)
    value: Any = None
    error: BaseException | None = None
    if outcome is not None:
        if isinstance(outcome, Success):
            value = outcome.unwrap()
        else:
            error = outcome.failure()
    elif status == "step_limit":
        error = ProgramError(
            f"the simulation stopped after {max_steps} steps without the program finishing: "
            "a livelock (actors or fibers that keep each other busy), or work larger than "
            "max_steps"
        )
    return SimulationResult(
        status,
        value,
        error,
        Schedule(tuple(world.choices)),
        tuple(world.trace),
        world.finished_at if status in ("completed", "failed") else world.clock,
        world.dead_letters.count,
        tuple(world.events),
        world.unobserved_failures(),
        tuple(world.widths),
    )


def replay(
    program: Program[A],
    schedule: Schedule | Sequence[int] | str,
    **options: Any,
) -> SimulationResult[A]:
    """Run ``program`` again along ``schedule`` (what a result printed): the same trace.

    >>> from playbill import pure
    >>> replay(pure(1), "v2:").value
    1
    """
    return simulate(program, schedule=schedule, **options)


@final
@frozen
class Exploration(Generic[A]):
    """What `explore` found: how many runs it made, the first failing run, and the minimal
    failing run it shrank that to (``None`` for both when every run passed)."""

    runs: int
    failing: SimulationResult[A] | None
    minimal: SimulationResult[A] | None
    exhausted: bool = False
    """True when the ``dfs`` strategy tried every schedule (within the step bound)."""
    options: Mapping[str, Any] = field(factory=dict, repr=False)
    """The options the runs were simulated with, which a replay needs too."""

    @property
    def found(self) -> bool:
        return self.failing is not None

    def assert_passed(self, program_expression: str = "main()") -> None:
        """Raise ``AssertionError`` if a schedule failed, with the call that replays it, the
        minimal schedule and its trace — what a test wants to print.

        >>> from playbill import pure
        >>> explore(pure(1), lambda result: result.value == 1, runs=3).assert_passed()
        """
        if self.minimal is None:
            return
        minimal = self.minimal
        outcome = f"{minimal.status}: {minimal.error!r}" if minimal.error else repr(minimal.value)
        raise AssertionError(
            f"a schedule broke the check after {self.runs} runs ({outcome}); replay it with\n"
            f"    {minimal.replay_hint(program_expression, self.options)}\n"
            f"{minimal.format_trace()}"
        )


def check_determinism(program: Program[A], *, seed: int = 0, **options: Any) -> None:
    """Run ``program`` twice with the same seed and raise `NondeterminismError` unless both
    runs are identical step for step — naming the first step that differs and any direct
    call to a clock or random source that the program made instead of an effect.

    >>> from playbill import pure
    >>> check_determinism(pure(1))
    """
    with _watching_direct_calls() as direct_calls:
        first = simulate(program, seed=seed, **options)
        second = simulate(program, seed=seed, **options)
    if first.rows == second.rows and first.schedule == second.schedule:
        return
    step = next(
        (
            index
            for index, (one, other) in enumerate(zip(first.rows, second.rows, strict=False))
            if one != other
        ),
        min(len(first.rows), len(second.rows)),
    )
    lines = [
        "the same seed gave two different runs, so schedules cannot be replayed;",
        f"  first run,  step {step}: {_row(first.rows, step)}",
        f"  second run, step {step}: {_row(second.rows, step)}",
    ]
    if direct_calls:
        lines.append(
            "  the program called, outside the effects: "
            + ", ".join(sorted(direct_calls))
            + " — read time with now(), chance with random(), and do I/O through effects"
        )
    else:
        lines.append(
            "  look for state shared between runs (class attributes, module globals), or "
            "a clock, random source or I/O used directly instead of through effects"
        )
    raise NondeterminismError("\n".join(lines))


def _row(rows: tuple[tuple[int, float, str, str], ...], step: int) -> str:
    if step >= len(rows):
        return "(the run had ended)"
    return str(TraceLine(*rows[step])).strip()


@contextlib.contextmanager
def _watching_direct_calls() -> Any:
    """Record calls to the usual clocks and random sources made from code outside playbill and
    the standard library while the body runs (modules' attributes are wrapped, then restored)."""
    import os
    import sys
    import time

    watched = [
        (time, "time"),
        (time, "monotonic"),
        (time, "perf_counter"),
        (_random, "random"),
        (_random, "randint"),
        (_random, "choice"),
        (_random, "uniform"),
    ]
    calls: set[str] = set()
    library = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    standard = os.path.dirname(os.__file__)
    originals = []

    def wrap(module: Any, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def watched_call(*arguments: Any, **keywords: Any) -> Any:
            caller = sys._getframe(1)
            filename = caller.f_code.co_filename
            if not filename.startswith((library, standard)):
                calls.add(f"{module.__name__}.{name}() at {filename}:{caller.f_lineno}")
            return original(*arguments, **keywords)

        return watched_call

    for module, name in watched:
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, wrap(module, name, original))
    try:
        yield calls
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def _passes(
    check: Callable[[SimulationResult[Any]], object], result: SimulationResult[Any]
) -> bool:
    if result.status in ("deadlock", "step_limit"):
        return False
    try:
        return bool(check(result))
    except AssertionError:
        return False


def explore(
    program: Program[A],
    check: Callable[[SimulationResult[A]], object],
    *,
    runs: int = 1000,
    strategy: str = "random",
    seed: int = 0,
    shrink: bool = True,
    max_shrinks: int = 2000,
    **options: Any,
) -> Exploration[A]:
    """Run ``program`` under up to ``runs`` schedules until ``check(result)`` is false (or
    raises ``AssertionError``, or the run deadlocks or hits the step limit); then shrink that
    schedule to a minimal one that still fails. The search runs without traces (``check``
    sees the status, value, error and events); the failing and minimal runs are traced.

    ``strategy`` is ``"random"``, ``"pct"``, or ``"dfs"``: every schedule in turn, depth
    first (for small programs; ``Exploration.exhausted`` says when all passed).

    >>> from playbill import pure
    >>> explore(pure(1), lambda result: result.value == 1, runs=5).found
    False
    """
    quiet = {**options, "trace": False}
    schedules = _depth_first(program, quiet) if strategy == "dfs" else None
    for run in range(runs):
        if schedules is None:
            result = simulate(program, seed=seed + run, strategy=strategy, **quiet)
        else:
            next_result = next(schedules, None)
            if next_result is None:
                return Exploration(run, None, None, exhausted=True, options=options)
            result = next_result
        if not _passes(check, result):
            failing = simulate(program, schedule=result.schedule, **options)
            if shrink:
                shrunk = _shrink(program, check, result, max_shrinks, quiet).schedule
            else:
                shrunk = result.schedule
            minimal = simulate(program, schedule=shrunk, **options)
            minimal = attrs.evolve(minimal, schedule=shrunk)
            again = simulate(program, schedule=shrunk, **options)
            if again.rows != minimal.rows:  # the self-check: a schedule must replay exactly
                check_determinism(program, seed=seed + run, **options)
                raise NondeterminismError(
                    f"the schedule {minimal.schedule} did not replay the same run; the program "
                    "depends on something outside its effects (shared state, a clock, I/O)"
                )
            return Exploration(run + 1, failing, minimal, options=options)
    return Exploration(runs, None, None, options=options)


def _depth_first(program: Program[A], options: dict[str, Any]) -> Any:
    """Every schedule of ``program``, one after the other: an odometer over the choices of the
    last run, whose digits each count up to the number of options that choice had."""
    prefix: list[int] = []
    while True:
        result = simulate(program, schedule=prefix, **options)
        yield result
        choices = list(result.schedule.choices)
        position = len(choices) - 1
        while position >= 0 and choices[position] + 1 >= result.widths[position]:
            position -= 1
        if position < 0:
            return
        prefix = [*choices[:position], choices[position] + 1]


def _shrink(
    program: Program[A],
    check: Callable[[SimulationResult[A]], object],
    failing: SimulationResult[A],
    budget: int,
    options: dict[str, Any],
) -> SimulationResult[A]:
    """Shrink a failing schedule: shorter, then smaller choices — each candidate replayed and
    kept when it still fails. Past its end a schedule takes the first option, so zeroing the
    tail shortens it, and a prefix is a complete schedule."""
    best = failing
    attempts = 0

    def canonical(result: SimulationResult[A]) -> list[int]:
        choices = list(result.schedule.choices)
        while choices and choices[-1] == 0:
            choices.pop()
        return choices

    def attempt(choices: list[int]) -> bool:
        nonlocal best, attempts
        attempts += 1
        candidate = simulate(program, schedule=choices, **options)
        if _passes(check, candidate):
            return False
        shorter = canonical(candidate)
        if (len(shorter), shorter) < (len(best_choices), best_choices):
            best, best_choices[:] = candidate, shorter
            return True
        return False

    best_choices = canonical(best)
    improved = True
    while improved and attempts < budget:
        improved = False
        # each choice as small as it can be, from the end (zeros at the end vanish)
        position = len(best_choices) - 1
        while position >= 0 and attempts < budget:
            for smaller in range(min(best_choices[position], 3)):
                candidate = list(best_choices)
                candidate[position] = smaller
                if attempt(candidate):
                    improved = True
                    break
            position = min(position, len(best_choices)) - 1
        # a choice removed altogether
        position = len(best_choices) - 1
        while position >= 0 and attempts < budget:
            if attempt(best_choices[:position] + best_choices[position + 1 :]):
                improved = True
            position = min(position, len(best_choices)) - 1
    return attrs.evolve(best, schedule=Schedule(tuple(best_choices)))
