"""The simulated world: fibers and actor cells on a virtual clock, what could happen next
kept sorted by stable names, the run loop where the chooser picks, and the executor of the
lifecycle kernel's commands. Messaging is `_Mail`'s, in its own module."""

from __future__ import annotations

import bisect
import contextvars
import heapq
import inspect
import itertools
import math
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from returns.result import Failure, Result, Success

from playbill.actors import (
    ActorEvent,
    DeadLetterReason,
    DeadLetters,
    Emitted,
    Escalated,
    Failed,
    OneForOne,
    SupervisionStrategy,
)
from playbill.actors._failure_log import FailureLog, logger
from playbill.actors._kernel import (
    Command,
    ContinueAfterChildren,
    DrainMailbox,
    Escalate,
    Gone,
    Kernel,
    Note,
    NotifyWatcher,
    Phase,
    PostSystem,
    PostSystemLater,
    Publish,
    Report,
    RunHook,
)
from playbill.actors._named import get_or_spawn_cell
from playbill.actors._reports import is_failure, short
from playbill.actors._signals import Restart
from playbill.actors._spawning import Guardian, instantiate, new_realm
from playbill.actors._tree import list_live, walk_cells
from playbill.actors._virtual import GrainBinding
from playbill.effects import (
    ActorRef,
    ActorSystemFailed,
    Ask,
    Await,
    Blocking,
    Cancelled,
    Deadlock,
    Done,
    Emit,
    EmitStamped,
    GetOrSpawn,
    InjectedFault,
    LiveActors,
    MaybeFault,
    Next,
    Now,
    PlaybillError,
    Program,
    Random,
    SelfRef,
    Settle,
    Sleep,
    Spawn,
    Stop,
    Tell,
    UnhandledEffect,
    Watch,
)
from playbill.effects._checks import plural
from playbill.effects._handlers import HandlerTable, perform_with, refuse_awaitable
from playbill.effects._pretty import bounded_repr, one_line
from playbill.interpreters._fibers import (
    ERROR,
    STEP,
    STRUCTURAL,
    VALUE,
    _Fiber,
    _Timer,
)
from playbill.interpreters.simulation._choosers import _RANDOM_BUCKETS, _UNMIX, Chooser
from playbill.interpreters.simulation._envelopes import (
    _IMMEDIATE,
    _PLAIN,
    _AskExpiry,
    _bind,
    _Deadlocked,
    _Deferred,
    _Envelope,
    _is_notice,
    _Names,
    _needs_actor,
    _Option,
    _refuse_async,
    _SimCell,
    _StepLimit,
    _suspend,
)
from playbill.interpreters.simulation._mail import _Mail
from playbill.interpreters.simulation._schedule import NO_FAULTS, Faults, Status, StepKind

_RUNNING, _STOPPED, _STOPPING, _SUSPENDED = (
    Phase.RUNNING,
    Phase.STOPPED,
    Phase.STOPPING,
    Phase.SUSPENDED,
)
A = TypeVar("A")
_RUN, _FAILURE, _LIFECYCLE = StepKind.RUN, StepKind.FAILURE, StepKind.LIFECYCLE


# the world running now (what a handler serving a recording asks who performs its effect)
CURRENT_WORLD: contextvars.ContextVar[_World | None] = contextvars.ContextVar(
    "playbill_world", default=None
)


def _no_event(time: float) -> None:
    """An `EmitStamped`'s maker, for finding whether a handler takes the effect."""


def _sender(fiber: _Fiber) -> str:
    """Who a fiber's messages come from: its actor's path, or ``main``."""
    return fiber.actor.path if fiber.actor is not None else "main"


class _World(_Mail):
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
        log_failures: bool = False,
    ) -> None:
        super().__init__(0.0)
        # actor failures on the "playbill" logger, when asked (exploration stays quiet)
        self.failure_log = FailureLog() if log_failures else None
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
        self.plain_types: set[type] = set(_PLAIN)
        self.due: dict[int, _Option] = {}  # the options of timers due now, by sequence
        self.deadlines: dict[float, deque[tuple[float, int, _Timer]]] = {}  # asks, by timeout
        self.choices: list[int] = []
        self.widths: list[int] = []  # how many options each choice had
        self.trace: list[tuple[int, float, str, str]] = []
        self.kinds: list[StepKind] = []  # of each trace line
        # the errors trace lines showed, by id, with the index of the first line of each
        self.failures: dict[int, tuple[BaseException, int]] = {}
        self.hook_error: BaseException | None = None  # the failure of the hook just finished
        self.events: list[ActorEvent | _Deferred] = []
        self.events_deferred = False  # whether some are (`_SimCell.stamp_now`)
        self.dead_letters = DeadLetters()
        self.uids = itertools.count(1)
        self.realm = new_realm(simulated=True)
        self.ids = itertools.count(1)  # what `_SimCell.fresh_id` gives: the same on a replay
        self.names = itertools.count(1)
        self.steps = 0
        self.sender_now = "main"
        self.root_id = -1
        self.tell_handled = handlers.find(Tell(ActorRef(f"/{name}"), None)) is not None
        # an event stamped with the clock is published right in the turn (`take_turn`) when
        # nothing else would see it: no trace line to write, no handler of the user's
        self.stamps_in_place = handlers.find(EmitStamped(_no_event)) is None
        self.stamp_inline = not tracing and self.stamps_in_place
        # the clock read right in the turn (`take_turn`) when no trace line is written and no
        # handler of the user's takes `Now`
        self.now_inline = not tracing and handlers.find(Now()) is None
        # a message's program runs with no fiber for as long as it only reads the clock and
        # publishes events (`_Mail.received`)
        self.in_place = self.now_inline and self.stamp_inline
        # whether a user handler's answer is running a fiber's machine on, ahead of its turn
        self.ahead = False
        self.escalated: BaseException | None = None
        self.finished_at = 0.0
        self.kernel = Kernel(self, notes=tracing)
        self.world = self  # what `_Mail` (a part of the world) knows it by
        guardian = _SimCell(self, None, f"/{name}", Guardian, None)
        guardian.instance = instantiate(Guardian, guardian)
        guardian.strategy = supervision if supervision is not None else OneForOne()
        guardian.phase = _RUNNING
        guardian.unbounded = False  # tells to it take the general path, which refuses them
        self.guardian = guardian

    # -- fiber queue: a set, ordered by label when offered as choices -------------------------

    def enqueue(self, fiber: _Fiber, *, first: bool) -> None:
        option = fiber.option
        if option is None:
            # labels can repeat (an old and a new incarnation of an actor, both unwinding),
            # so the fiber's creation number, stable run to run, makes the name unique
            participant = (
                fiber.actor.path if fiber.actor is not None else f"{fiber.label}@{fiber.id}"
            )
            option = fiber.option = (
                f"run {fiber.label}@{fiber.id}",
                self.run_fiber,
                fiber,
                participant,
            )
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

    def log(
        self, actor: str, event: str, kind: StepKind, error: BaseException | None = None
    ) -> None:
        """Add a trace line; ``error`` is the failure it shows, whose first line it may be."""
        if error is not None and id(error) not in self.failures:
            self.failures[id(error)] = (error, len(self.trace))
        self.trace.append((self.steps, self.clock, actor, event))
        self.kinds.append(kind)

    def failure_index(self, error: BaseException | None) -> int | None:
        """The index of the trace line where ``error`` (or an error that caused it) first
        appeared, if a line showed it."""
        found: int | None = None
        pending = [error]
        seen: set[int] = set()
        while pending:
            each = pending.pop()
            if each is None or id(each) in seen:
                continue
            seen.add(id(each))
            recorded = self.failures.get(id(each))
            if recorded is not None and (found is None or recorded[1] < found):
                found = recorded[1]
            pending += [each.__cause__, each.__context__]
        return found

    def finish(self, fiber: _Fiber, outcome: Result[Any, BaseException]) -> None:
        if self.tracing and isinstance(outcome, Failure):
            # where a failure first shows: a fiber that fails with an error no line showed
            # yet (an actor's failed message is shown by `message_failed`)
            error = outcome.failure()
            cell = fiber.actor
            if (
                id(error) not in self.failures
                and not isinstance(error, Cancelled)
                and (cell is None or cell.busy is not fiber)
            ):
                self.log(fiber.label, f"failed {bounded_repr(error, 240)}", _FAILURE, error)
        super().finish(fiber, outcome)

    def run(self, program: Program[A]) -> tuple[Status, Result[A, BaseException] | None]:
        token = CURRENT_WORLD.set(self)
        try:
            return self.run_world(program)
        finally:
            CURRENT_WORLD.reset(token)

    def run_world(self, program: Program[A]) -> tuple[Status, Result[A, BaseException] | None]:
        root = self.new_fiber(program, "main")
        self.root_id = root.id
        self.enqueue(root, first=False)
        shutting_down = False
        # (a chooser following a recording is told of each step, not only of real choices;
        # what it is told without a choice is no part of the schedule)
        every_step = getattr(self.chooser, "every_step", False)
        try:
            while True:
                if not shutting_down and (root.outcome is not None or self.escalated):
                    # the program is over: shut the world down as `async with` does —
                    # its own fibers are cancelled, every actor stops (children first)
                    shutting_down = True
                    self.finished_at = self.clock
                    if self.tracing:
                        self.log("main", "finished; shutting down", _RUN)
                    for fiber in self.alive():
                        if fiber.actor is None:
                            self.cancel(fiber)
                    # the root guardian stops as asyncio's does, through the kernel: what it
                    # has queued (a child's failure) first, then its STOP, children first
                    # (handled in place: no choice is added)
                    guardian = self.guardian
                    self.stop(guardian)
                    while guardian.mailbox.system:
                        self.system_message(guardian, guardian.mailbox.system.popleft())
                options = self.enabled()
                if not options:
                    if self.advance_clock():
                        continue
                    if shutting_down:
                        self.abort_stuck()
                        break
                    deadlock = self.deadlock()
                    if self.tracing:
                        self.log("main", "deadlock: nothing can happen", _RUN, deadlock)
                    return "deadlock", Failure(deadlock)
                index = 0
                if len(options) > 1:
                    index = self.chooser.choose(_Names(options))
                    self.choices.append(index)
                    self.widths.append(len(options))
                elif every_step:  # a chooser that follows a recording sees each step
                    self.chooser.choose(_Names(options))
                self.steps += 1
                if self.steps > self.max_steps:
                    raise _StepLimit
                _, action, argument, _ = options[index]
                action(argument)
        except _StepLimit:
            if self.tracing:
                self.log("main", f"step limit: more than {plural(self.max_steps, 'step')}", _RUN)
            return "step_limit", None
        except _Deadlocked as found:
            if self.tracing:
                self.log("main", "deadlock: an ask cycle formed", _RUN, found.error)
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
                if not option[2].active:
                    del self.due[sequence]
                    self.drop_option(option)
        return self.options

    def post_system(self, cell: _SimCell, message: object) -> None:
        cell.mailbox.post_system(message)
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
        sequence = self.take_number()
        if delay <= 0:
            self.make_due(sequence, timer)
        elif delay != math.inf:
            heapq.heappush(self.timers, (self.clock + delay, sequence, timer))
        return timer

    def add_deadline(self, limit: float, timer: _AskExpiry) -> _AskExpiry:
        """Queue an ask's deadline: asks with one timeout expire in the order they were made,
        so each timeout keeps a plain queue (no heap to sift for the many answered in time)."""
        queue = self.deadlines.get(limit)
        if queue is None:
            queue = self.deadlines[limit] = deque()
        else:
            # the asks answered already (the oldest, mostly) leave the queue now, not when the
            # clock next moves: what each holds (its envelope, message and expiry) is freed
            # at once, not kept for the collector to walk again and again
            while queue and not queue[0][2].active:
                queue.popleft()
        # (`take_number`, inlined: a deadline an ask)
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
        timer.sequence = sequence
        option = (f"timer {sequence:06d}", self.fire, timer, f"{sequence:06d}")
        self.due[sequence] = option
        bisect.insort(self.options, option)

    def fire(self, timer: _Timer) -> None:
        self.drop_option(self.due.pop(timer.sequence))
        timer.active = False
        if type(timer) is _AskExpiry:  # an ask's deadline: the expiry is its own timer
            timer()
        else:
            timer.action()

    def abort_stuck(self) -> None:
        """The shutdown cannot go on (an actor never finishes its message): as asyncio does
        when a shutdown times out, what each holds becomes a dead letter and it is stopped."""
        for cell in reversed(self.cells()):  # children before parents
            if cell is self.guardian or cell.phase == _STOPPED:
                continue
            if self.tracing:
                self.log(cell.path, "never finished; aborted at shutdown", _RUN)
            cell.phase = _STOPPING
            if cell.current is not None:
                current, cell.current = cell.current, None
                self.undeliverable(cell, current, DeadLetterReason.UNPROCESSED)
            self.apply(cell, self.kernel.terminate(cell))
        if self.guardian.phase is not _STOPPED:
            self.apply(self.guardian, self.kernel.terminate(self.guardian))

    def deadlock(self) -> PlaybillError:
        waits = [self.describe_alive()] if self.alive() else []
        for cell in self.cells():
            if cell.phase == _SUSPENDED:
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
        # a plain tell to a running actor's unbounded mailbox is queued right here (the common
        # case of `tell_in_turn`, inlined: no trace, fault, tell handler or per-pair channel)
        inline = not (self.tracing or self.faults_on or self.per_pair or self.tell_handled)
        stamp_inline = self.stamp_inline
        now_inline = self.now_inline
        dirty = self.dirty
        while True:
            if type(step) is not Next:
                if told:  # others may act before it ends: asyncio runs the actors it woke
                    self.wake(fiber, STEP, step)
                elif type(step) is Done:
                    self.finish(fiber, Success(step.value))
                else:
                    self.finish(fiber, Failure(step.error))
                return
            effect: Any = step.effect
            kind = type(effect)
            if kind is EmitStamped and stamp_inline:
                # `immediate`'s, inlined for the agent layer's lifecycle events (two a task)
                clock = self.clock
                try:
                    published = effect.make(clock)
                except Exception as error:
                    step = step.throw(error)
                    continue
                actor = fiber.actor
                path = actor.path if actor is not None else f"/{self.name}"
                self.events.append(Emitted(path, clock, published))
                step = step.resume(None)
                continue
            if kind is Now and now_inline:  # `immediate`'s, inlined (a program's now())
                step = step.resume(self.clock)
                continue
            if kind is Tell:
                ref = effect.ref
                if (
                    inline
                    and type(ref) is ActorRef
                    and type(target := ref.binding) is _SimCell
                    and target.world is self
                    and target.unbounded
                    and target.phase < _STOPPING
                    and not self.channels
                ):
                    self.steps += 1
                    if self.steps > self.max_steps:
                        raise _StepLimit
                    target.mailbox.user.append(_Envelope(effect.message, self.sender_now, None))
                    dirty.add(target)
                    told = True
                    step = step.machine.resume(None)
                    continue
                if self.tell_in_turn(fiber, effect):
                    told = True
                    step = step.machine.resume(None)
                    continue
            if told and (kind not in _IMMEDIATE or self.handlers.find(effect) is not None):
                self.wake(fiber, STEP, step)
                return
            if kind is Settle:
                # its expansion, in place and unrecorded: the schedule and the trace are those
                # of the race it expands to
                step = step.machine.resume_with(effect.expansion)
                continue
            if kind in STRUCTURAL:
                if self.tracing:
                    self.log(fiber.label, one_line(_suspend(effect)), StepKind.CONCURRENCY)
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
            if isinstance(target, GrainBinding):
                return False  # a grain's ref: `perform_tell` resolves it, at the send
            target = self.resolve(ref)
        if target is not None and not target.unbounded:
            return False
        self.steps += 1
        if self.steps > self.max_steps:
            raise _StepLimit
        if self.tracing:
            self.log(fiber.label, f"tell {ref.path} {short(effect.message)}", StepKind.TELL)
        if target is None:
            self.dead_letter(effect.message, ref.path, DeadLetterReason.UNKNOWN)
        elif self.faults_on or self.channels or target.phase >= _STOPPING:
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
            if self.tracing:
                self.log(fiber.label, f"now {self.clock:g}", StepKind.NOW)
            return step.resume(self.clock)
        if kind is Random:
            value = self.random_value()
            if self.tracing:
                self.log(fiber.label, f"random {value!r}", StepKind.RANDOM)
            return step.resume(value)
        if kind is SelfRef:
            if fiber.actor is None:
                error = _needs_actor("self_ref()")
                if self.tracing:
                    self.log(fiber.label, f"self_ref failed: {short(error)}", StepKind.SELF_REF)
                return step.throw(error)
            if self.tracing:
                self.log(fiber.label, f"self_ref {fiber.actor.path}", StepKind.SELF_REF)
            return step.resume(fiber.actor.ref)
        if kind is Emit:
            published = effect.event
        else:  # EmitStamped: the event made at the virtual clock's time, as now() gives it
            try:
                published = effect.make(self.clock)
            except Exception as error:
                if self.tracing:
                    self.log(fiber.label, f"emit failed: {short(error)}", StepKind.EMIT)
                return step.throw(error)
        path = fiber.actor.path if fiber.actor is not None else f"/{self.name}"
        self.events.append(Emitted(path, self.clock, published))
        if self.tracing:
            self.log(fiber.label, f"emit {bounded_repr(published, 240)}", StepKind.EMIT)
        return step.resume(None)

    def perform(self, fiber: _Fiber, effect: Any) -> None:
        """Perform one world-touching effect for ``fiber``; it is ready again or waits."""
        handler = self.handlers.find(effect)
        if handler is not None:
            if self.tracing:
                self.log(fiber.label, f"perform {short(effect)}", StepKind.PERFORM)
            # the handler's answer (or its program) runs the fiber's machine on to its next
            # step, which the fiber takes at its next turn: what it publishes on the way is
            # published then, as a traced run does (`_SimCell.emit_in_step`)
            self.ahead = True
            try:
                step = perform_with(handler, effect, fiber.machine, interpreter="the simulator")
            finally:
                self.ahead = False
            self.wake(fiber, STEP, step)
            return
        kind = type(effect)
        lines = len(self.trace)
        try:
            if kind is Ask:  # the hot one, without the table's indirection
                self.ask(fiber, _sender(fiber), effect)
                return
            performer = _PERFORMERS.get(kind)
            if performer is None:
                raise UnhandledEffect(
                    effect,
                    "simulation",
                    f"simulate(program, handlers={{{kind.__name__}: lambda effect: ...}})",
                )
            performer(self, fiber, effect)
        except Exception as error:
            if self.tracing and len(self.trace) == lines:
                # refused before its line (a bad ref, a taken name, no handler): one still
                self.log(
                    fiber.label,
                    f"{one_line(_suspend(effect))} failed: {short(error)}",
                    _EFFECT_KINDS.get(kind, StepKind.PERFORM),
                )
            self.wake(fiber, ERROR, error)

    # -- the built-in effects that touch the world, one performer each ---------------------

    def perform_tell(self, fiber: _Fiber, effect: Tell) -> None:
        target = self.target(effect.ref, "free_tell()")
        if self.tracing:
            self.log(fiber.label, f"tell {effect.ref.path} {short(effect.message)}", StepKind.TELL)
        if target is None:
            self.dead_letter(effect.message, effect.ref.path, DeadLetterReason.UNKNOWN)
        elif self.tell(_sender(fiber), target, effect.message, fiber):
            return  # waits for room in a full BLOCK mailbox
        self.wake(fiber, VALUE, None)

    def perform_await(self, fiber: _Fiber, effect: Await) -> None:
        self.wake(fiber, ERROR, refuse_awaitable(effect.awaitable, effect.origin, "the simulator"))

    def perform_blocking(self, fiber: _Fiber, effect: Blocking) -> None:
        # inline, in the fiber's turn: deterministic; the fiber is then ready again, so the
        # scheduler may run others before it goes on, as the loop does under asyncio
        function = effect.function
        if self.tracing:
            name = getattr(function, "__qualname__", None) or short(function)
            self.log(fiber.label, f"blocking {name}", StepKind.PERFORM)
        try:
            value = function(*effect.args, **dict(effect.kwargs))
        except Exception as error:
            self.wake(fiber, ERROR, error)
        else:
            self.wake(fiber, VALUE, value)

    def perform_live_actors(self, fiber: _Fiber, effect: LiveActors) -> None:
        listed = list_live(self.guardian)
        if self.tracing:
            self.log(fiber.label, f"live_actors: {len(listed)}", StepKind.PERFORM)
        self.wake(fiber, VALUE, listed)

    def perform_ask(self, fiber: _Fiber, effect: Ask) -> None:
        self.ask(fiber, _sender(fiber), effect)

    def perform_spawn(self, fiber: _Fiber, effect: Spawn) -> None:
        parent = fiber.actor if fiber.actor is not None else self.guardian
        cell = self.spawn(parent, effect.actor, effect.name, effect.supervision, effect.mailbox)
        if self.tracing:
            self.log(fiber.label, f"spawn {cell.path}", StepKind.SPAWN)
        self.wake(fiber, VALUE, cell.ref)

    def perform_get_or_spawn(self, fiber: _Fiber, effect: GetOrSpawn) -> None:
        cell = get_or_spawn_cell(self.guardian, self.name, effect.path, effect.actor)
        if self.tracing:
            self.log(fiber.label, f"get_or_spawn {cell.path}@{cell.ref.uid}", StepKind.SPAWN)
        self.wake(fiber, VALUE, cell.ref)

    def perform_stop(self, fiber: _Fiber, effect: Stop) -> None:
        target = self.target(effect.ref, "free_stop()")
        if self.tracing:
            self.log(fiber.label, f"stop {effect.ref.path}", StepKind.STOP)
        if target is not None:
            self.stop(target)
            if effect.interrupt:
                self.interrupt(target, _sender(fiber))
        self.wake(fiber, VALUE, None)

    def perform_watch(self, fiber: _Fiber, effect: Watch) -> None:
        if fiber.actor is None:
            raise _needs_actor("watch()")
        if self.tracing:
            self.log(fiber.label, f"watch {effect.ref.path}", StepKind.WATCH)
        self.watch(fiber.actor, effect.ref)
        self.wake(fiber, VALUE, None)

    def perform_sleep(self, fiber: _Fiber, effect: Sleep) -> None:
        if self.tracing:
            self.log(fiber.label, f"sleep {effect.seconds:g}", StepKind.SLEEP)
        self.sleep(fiber, effect.seconds)

    def perform_fault_point(self, fiber: _Fiber, effect: MaybeFault) -> None:
        if self.tracing:
            self.log(fiber.label, f"fault point {effect.name!r}", StepKind.FAULT_POINT)
        if self.fault("points", fiber.label, f"fault point {effect.name!r}"):
            raise InjectedFault(
                f"the simulator failed the fault point {effect.name!r} (Faults(points=...))"
            )
        self.wake(fiber, VALUE, None)

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
            self.log(where, f"fault: {what}", StepKind.FAULT)
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
        logged: BaseException | None = None  # the failure a Failed event just logged
        for command in commands:
            kind = type(command)
            if kind is PostSystem:
                self.post_system(command.cell, command.message)  # type: ignore[union-attr]
            elif kind is Note:
                if self.tracing:
                    self.log(command.cell.path, command.text, _LIFECYCLE, self.hook_error)  # type: ignore[union-attr]
            elif kind is Publish:
                event = command.event  # type: ignore[union-attr]
                self.events.append(event)
                if self.failure_log is not None and type(event) is Failed:
                    self.failure_log.failed(event)
                    logged = event.error
            elif kind is RunHook:
                self.run_hook(command)  # type: ignore[arg-type]
            elif kind is DrainMailbox:
                self.drain(command.cell, command.reason)  # type: ignore[union-attr]
            elif kind is NotifyWatcher:
                self.deliver_first(command.watcher, command.message)  # type: ignore[union-attr]
            elif kind is Gone:
                if self.failure_log is not None:
                    self.failure_log.forget(command.cell.path)  # type: ignore[union-attr]
                if self.tracing:
                    self.log(command.cell.path, "stopped", _LIFECYCLE)  # type: ignore[union-attr]
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
                    self.log(
                        command.cell.path,  # type: ignore[union-attr]
                        f"failure reached the root: {bounded_repr(error, 240)}",
                        _FAILURE,
                        error,
                    )
            elif kind is Report and self.failure_log is not None:
                # for an operator's log (the trace has the failure already); its traceback
                # is in the Failed line just logged, when it is the same failure
                error = command.error  # type: ignore[union-attr]
                logger.error("%s", command.text, exc_info=None if error is logged else error)  # type: ignore[union-attr]

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
                self.wake(fiber, VALUE, None)

    def hook_finished(self, cell: _SimCell, error: BaseException | None, hook: str) -> None:
        """The kernel goes on after the hook ``hook`` of ``cell`` finished; the trace line of
        its failure (the kernel's note) is where ``error`` first appeared."""
        if error is not None and self.failure_log is not None:
            self.failure_log.failing(cell.path, error, hook=hook)
        self.hook_error = error
        try:
            self.apply(cell, self.kernel.hook_done(cell, error))
        finally:
            self.hook_error = None

    def run_hook(self, command: RunHook) -> None:
        """Run a lifecycle hook (a plain call, or a fiber for the program it returns); then
        the kernel goes on."""
        cell = command.cell
        try:
            result = getattr(cell.instance, command.name)(*command.arguments)
        except BaseException as error:
            if not is_failure(error):
                raise
            self.hook_finished(cell, error, command.name)
            return
        if inspect.isawaitable(result):
            refused = _refuse_async(cell, command.name, result)
            self.hook_finished(cell, refused, command.name)
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
                self.hook_finished(cell, error, command.name)

            fiber.on_finish.append(done)
            self.enqueue(fiber, first=False)
            return
        self.apply(cell, self.kernel.hook_done(cell, None))


# the built-in effects that touch the world, each with its performer (the pure ones are
# `immediate`'s, the concurrency ones the fiber scheduler's)
_PERFORMERS: dict[type, Callable[[_World, _Fiber, Any], None]] = {
    Tell: _World.perform_tell,
    Ask: _World.perform_ask,
    Spawn: _World.perform_spawn,
    GetOrSpawn: _World.perform_get_or_spawn,
    Stop: _World.perform_stop,
    Watch: _World.perform_watch,
    Sleep: _World.perform_sleep,
    MaybeFault: _World.perform_fault_point,
    Await: _World.perform_await,
    Blocking: _World.perform_blocking,
    LiveActors: _World.perform_live_actors,
}

# the kind of the trace line of each built-in effect a performer performs
_EFFECT_KINDS: dict[type, StepKind] = {
    Tell: StepKind.TELL,
    Ask: StepKind.ASK,
    Spawn: StepKind.SPAWN,
    GetOrSpawn: StepKind.SPAWN,
    Stop: StepKind.STOP,
    Watch: StepKind.WATCH,
    Sleep: StepKind.SLEEP,
    MaybeFault: StepKind.FAULT_POINT,
}

VOCABULARY = frozenset(_PERFORMERS) | frozenset(_IMMEDIATE) | frozenset(STRUCTURAL)
"""Every built-in effect the simulator performs (a test checks every interpreter's is the
whole vocabulary)."""
