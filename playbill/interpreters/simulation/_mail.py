"""How messages move in the simulated world: spawning and finding actors, tells and asks with
their delays and overflow, the wait-for graph of asks, and an actor handling its next
message. A part of the world (`_World` derives from `_Mail`), kept in a module of its own."""

from __future__ import annotations

import contextlib
import inspect
import math
from collections import deque
from collections.abc import Callable, Iterator
from types import GeneratorType
from typing import TYPE_CHECKING, Any

from returns.result import Success

from playbill.actors import (
    ActorEvent,
    DeadLetter,
    DeadLettered,
    DeadLetterReason,
    DeadLetters,
    MailboxFull,
    Offer,
    Terminated,
)
from playbill.actors._failure_log import FailureLog
from playbill.actors._kernel import (
    Command,
    Kernel,
    Phase,
)
from playbill.actors._reports import (
    asker_error,
    guardian_refuses,
    is_failure,
    short,
    stopped_error,
    undelivered_ask_error,
)
from playbill.actors._routing import ROUTER_MESSAGES
from playbill.actors._signals import START
from playbill.actors._tree import THROUGHPUT, find_cell
from playbill.actors._virtual import GrainBinding
from playbill.effects import (
    ActorNotFound,
    ActorRef,
    Ask,
    Cancelled,
    Deadlock,
    Effect,
    EmitStamped,
    InjectedFault,
    InvalidArgument,
    Now,
    Program,
)
from playbill.effects._checks import plural
from playbill.effects._machine import Done, Failed, Machine, Next
from playbill.effects._pretty import bounded_repr
from playbill.interpreters._fibers import (
    _WAITING,
    ERROR,
    STEP,
    VALUE,
    FiberScheduler,
    _Fiber,
    _Wait,
)
from playbill.interpreters.simulation._envelopes import (
    _NO_CHILDREN,
    _AskExpiry,
    _bind,
    _Deadlocked,
    _Deferred,
    _Envelope,
    _refuse_async,
    _SimCell,
    _StepLimit,
    _suspend,
)
from playbill.interpreters.simulation._schedule import Faults, StepKind

if TYPE_CHECKING:
    from playbill.interpreters.simulation._world import _World


_RUNNING, _STOPPING = Phase.RUNNING, Phase.STOPPING


class _Mail(FiberScheduler):
    """The world's messaging; the rest of the world is `_World`."""

    if TYPE_CHECKING:
        # what the rest of the world (`_World`) provides
        per_pair: bool
        cycles_deadlock: bool
        faults: Faults
        faults_on: bool
        tracing: bool
        stamp_inline: bool
        in_place: bool
        failure_log: FailureLog | None
        channels: dict[tuple[str, int], deque[_Envelope]]
        name: str
        max_steps: int
        ask_timeout: float
        dirty: set[_SimCell]
        # the types of what a receive returned that are plain replies (no program, effect
        # or awaitable): the builtins', and each other type once seen to be one
        plain_types: set[type]
        events: list[ActorEvent | _Deferred]
        dead_letters: DeadLetters
        names: Iterator[int]
        steps: int
        sender_now: str
        kernel: Kernel
        guardian: _SimCell
        world: _World  # this part's whole: the world it belongs to (itself)

        def log(
            self, actor: str, event: str, kind: StepKind, error: BaseException | None = None
        ) -> None: ...

        def post_system(self, cell: _SimCell, message: object) -> None: ...

        def run_fiber(self, fiber: _Fiber) -> None: ...

        def add_deadline(self, limit: float, timer: _AskExpiry) -> _AskExpiry: ...

        def fault(self, kind: str, where: str, what: str) -> bool: ...

        def fail(self, cell: _SimCell, error: BaseException) -> None: ...

        def system_message(self, cell: _SimCell, message: object) -> None: ...

        def apply(self, cell: _SimCell, commands: list[Command]) -> None: ...

    # -- actors -------------------------------------------------------------------------------

    def spawn(
        self,
        parent: _SimCell,
        actor: Any,
        name: str | None,
        supervision: Any,
        mailbox: Any,
    ) -> _SimCell:
        cell: _SimCell = self.kernel.spawn(
            parent, actor, name, supervision, mailbox, self.names.__next__, self.new_cell
        )
        if cell.routing is not None:  # a router: tells to it take the path that routes them
            cell.unbounded = False
        self.post_system(cell, START)
        return cell

    def new_cell(
        self, parent: _SimCell, path: str, factory: Callable[[], Any], policy: Any
    ) -> _SimCell:
        return _SimCell(self.world, parent, path, factory, policy)

    def resolve(self, ref: ActorRef) -> _SimCell | None:
        binding = ref.binding
        if type(binding) is _SimCell and binding.world is self:
            return binding
        if isinstance(binding, GrainBinding):  # a grain's ref (`grain_ref`): its incarnation
            return binding.resolve() if binding.directory.world is self else None
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
        if cell.routing is not None and type(message) not in ROUTER_MESSAGES:
            routed = self.route(cell, message)
            if routed is None:
                return False
            if type(routed) is tuple:  # a broadcast: never waits for room
                for each in routed:
                    with contextlib.suppress(MailboxFull):  # (a dead letter already)
                        self.tell(sender, each, message, None)
                return False
            return self.tell(sender, routed, message, fiber)
        waits = self.queue_told(cell, _Envelope(message, sender, None), fiber)
        if self.faults_on and self.duplicated(cell, message):
            # the sender's retried write: queued behind the first (or a dead letter when it
            # finds no room: nobody waits for it)
            with contextlib.suppress(MailboxFull):
                self.queue_told(cell, _Envelope(message, sender, None), None)
        return waits

    def queue_told(self, cell: _SimCell, envelope: _Envelope, fiber: _Fiber | None) -> bool:
        """Queue a told ``envelope`` (behind a delayed one of its sender, or delayed itself
        by a fault); True when ``fiber`` must wait for room."""
        message, sender = envelope.message, envelope.sender
        if self.queued_behind_delay(cell, envelope):
            return False
        if self.faults_on and self.fault("delay", cell.path, f"delay {short(message)}"):
            channel_key = (sender, cell.ref.uid)
            envelope.delayed = True
            self.channels[channel_key] = deque([envelope])
            self.add_timer(self.faults.delay_for, _bind(self.arrive, (channel_key, cell)))
            return False
        return self.offer(cell, envelope, fiber)

    def duplicated(self, cell: _SimCell, message: object) -> bool:
        """Whether a message just sent to ``cell`` is sent twice (``Faults(duplicate=...)``):
        a recorded choice, made only for an actor that takes messages."""
        if cell.phase >= _STOPPING or cell is self.guardian:
            return False
        return self.fault("duplicate", cell.path, f"{short(message)} is queued twice")

    def redelivered(self, cell: _SimCell, envelope: _Envelope) -> None:
        """``cell`` handled ``envelope``; its ack may be lost (``Faults(redeliver=...)``, a
        recorded choice): the same message is queued again, ahead of every message behind
        it, as a durable mailbox redelivers its oldest pending entry. A redelivered ask
        waits for no reply: its second reply is a late-reply dead letter."""
        if envelope.sender == "runtime" or cell.phase is not _RUNNING:
            return
        message = envelope.message
        if not self.fault(
            "redeliver", cell.path, f"the ack of {short(message)} is lost: delivered again"
        ):
            return
        again = _Envelope(message, envelope.sender, None)
        again.asked = envelope.asked
        cell.mailbox.user.appendleft(again)
        cell.queued(again)
        self.dirty.add(cell)

    def route(self, router: _SimCell, message: object) -> Any:
        """The routee(s) of ``router`` that get ``message``: a cell, a tuple of cells
        (a broadcast), or None — a dead letter (no routee, or the router is stopped)."""
        if router.phase >= _STOPPING:
            self.dead_letter(message, router.path, DeadLetterReason.STOPPED)
            return None
        routed = router.routing.route(message)
        if routed is None:
            self.dead_letter(message, router.path, DeadLetterReason.NO_ROUTEE)
            return None
        if self.tracing:
            targets = routed if type(routed) is tuple else (routed,)
            paths = ", ".join(each.path for each in targets)
            self.log(router.path, f"route {short(message)} to {paths}", StepKind.TELL)
        return routed

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
                self.log(
                    target.path, f"delayed {short(envelope.message)} arrives", StepKind.DELIVERY
                )
            with contextlib.suppress(MailboxFull):  # a refused tell: a dead letter already
                self.offer(target, envelope, None)

    def offer(self, cell: _SimCell, envelope: _Envelope, fiber: _Fiber | None) -> bool:
        if cell.phase >= _STOPPING:
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
                f"the mailbox of {cell.path} is full ({plural(cell.mailbox.capacity, 'message')}, "
                f"overflow=FAIL); the message {short(envelope.message)} is a dead letter"
            )
        elif fiber is not None:  # FULL, with a sender able to wait
            cell.blocked.append((fiber, envelope))
            self.block(fiber, _WAITING, "room in the mailbox of " + cell.path)
            fiber.wait = _Wait(_NO_CHILDREN, room=cell)
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
            self.log(fiber.label, f"ask {effect.ref.path} {short(effect.message)}", StepKind.ASK)
        if target is None:
            self.dead_letter(effect.message, effect.ref.path, DeadLetterReason.UNKNOWN)
            raise ActorNotFound(f"no actor at {effect.ref.path} to ask {short(effect.message)}")
        if target is self.guardian:
            self.dead_letter(effect.message, target.path, DeadLetterReason.GUARDIAN)
            raise guardian_refuses(target.path, effect.message)
        while target.routing is not None and type(effect.message) not in ROUTER_MESSAGES:
            # an ask of a router: asked of its routee, which answers it
            routed = self.route(target, effect.message)
            if routed is None:
                reason = (
                    DeadLetterReason.STOPPED
                    if target.phase >= _STOPPING
                    else DeadLetterReason.NO_ROUTEE
                )
                raise undelivered_ask_error(target.path, effect.message, reason)
            if type(routed) is tuple:  # a broadcast: the first answers, the others are told
                for other in routed[1:]:
                    with contextlib.suppress(MailboxFull):
                        self.tell(sender, other, effect.message, None)
                routed = routed[0]
            target = routed
        if target.phase >= _STOPPING:
            self.dead_letter(effect.message, target.path, DeadLetterReason.STOPPED)
            raise stopped_error(target.path, effect.message)
        envelope = _Envelope(effect.message, sender, fiber)
        asker = fiber.actor
        if asker is not None and self.cycles_deadlock:  # (the wait-for graph is actors')
            if asker.busy is fiber:
                self.check_ask_cycle(fiber, target, effect.message)
            fiber.asking = (target, effect.message, envelope)
        fiber.state = _WAITING
        fiber.waiting_on = "a reply from " + target.path
        fiber.wait = envelope.wait = _Wait(_NO_CHILDREN)
        limit = self.ask_timeout if effect.timeout is None else effect.timeout
        expiry = _AskExpiry(self.world, fiber, envelope, target.path, effect.message, limit)
        if limit != math.inf:
            fiber.timer = self.add_deadline(limit, expiry)
        if not self.queued_behind_delay(target, envelope):
            self.offer(target, envelope, None)
        if self.faults_on and self.duplicated(target, effect.message):
            # the sender's retried write: the same ask queued again; whichever reply comes
            # first answers it, the other is a late-reply dead letter
            again = _Envelope(effect.message, sender, fiber)
            again.wait = envelope.wait
            if not self.queued_behind_delay(target, again):
                with contextlib.suppress(MailboxFull):
                    self.offer(target, again, None)
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

    def reply(
        self,
        cell: _SimCell,
        envelope: _Envelope,
        value: object = None,
        error: BaseException | None = None,
    ) -> None:
        """Answer the ask ``envelope`` carries with ``value`` (or ``error``): its fiber goes
        on, its timeout off. A value nobody waits for any more (the ask timed out, or its
        fiber was cancelled) is a late-reply dead letter; so is nothing for a tell."""
        asker = envelope.waiting_asker()
        envelope.asker = None
        if asker is None:
            if error is None and envelope.asked:
                self.dead_letter(value, cell.path, DeadLetterReason.LATE_REPLY)
            return
        if asker.timer is not None:
            asker.timer.active = False
        if error is not None:
            self.wake(asker, ERROR, error)
            return
        if self.tracing:
            self.log(cell.path, f"reply {short(value)} to {asker.label}", StepKind.REPLY)
        self.wake(asker, VALUE, value)

    def undeliverable(self, cell: _SimCell, envelope: Any, reason: DeadLetterReason) -> None:
        """``envelope`` cannot be delivered: a dead letter, and its asker fails."""
        self.reply(cell, envelope, error=undelivered_ask_error(cell.path, envelope.message, reason))
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
            self.log(
                recipient, f"dead letter {short(message)} ({reason.name})", StepKind.DEAD_LETTER
            )

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
        per_pair, tracing, plain = self.per_pair, self.tracing, self.plain_types
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
            if (
                self.faults_on
                and queue[index].sender != "runtime"
                and self.fault("lease_loss", cell.path, "loses its lease before its next message")
            ):
                # the next owner builds the actor anew (the restart path, with no failure);
                # the message stays queued for the new instance
                reason = InjectedFault(
                    f"the simulator took the lease of {cell.path} before it handled "
                    f"{short(queue[index].message)} (Faults(lease_loss=...)): a new owner "
                    "builds a fresh instance"
                )
                self.apply(cell, self.kernel.replace(cell, reason))
                return
            if index:
                envelope = queue[index]
                del queue[index]
            else:
                envelope = queue.popleft()
            if per_pair:
                cell.removed(envelope)
            if cell.blocked:
                self.admit_blocked(cell)
            # the message to the instance: a plain value returned is the message done (the
            # common case, here); a program returned runs its first turn here, and goes on as
            # the message's fiber if it waits on the world (`received`)
            cell.handled += 1
            cell.current = envelope
            message = envelope.message
            if tracing:
                self.log(cell.path, f"receive {short(message)}", StepKind.RECEIVE)
            try:
                result = cell.instance.receive(message)
            except BaseException as error:
                if not is_failure(error):
                    raise
                self.message_failed(cell, envelope, error)
                return
            if result is None or type(result) in plain:
                cell.current = None
                cell.consecutive_restarts = 0
                if envelope.asked:
                    self.reply(cell, envelope, result)
                if self.faults_on:
                    self.redelivered(cell, envelope)
                if cell.stop_policy is not None:  # (its decision: the kernel's)
                    self.apply(cell, self.kernel.handled(cell, message))
            elif not self.received(cell, envelope, result):
                return
            if per_pair:
                return
            handled += 1
            if (
                handled >= THROUGHPUT
                or not queue
                or box.system
                or cell.phase != _RUNNING
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
                self.wake(fiber, VALUE, None)

    def still_waiting(self, fiber: _Fiber, cell: _SimCell) -> bool:
        """Whether ``fiber`` still waits for room in ``cell`` (not cancelled meanwhile)."""
        wait = fiber.wait
        return fiber.state == _WAITING and wait is not None and wait.room is cell

    def received(self, cell: _SimCell, envelope: _Envelope, result: object) -> bool:
        """``cell``'s ``receive`` returned ``result``, not a plain value: a program (or an
        effect) runs at once, in this step, as asyncio's actor loop runs it — to its end (True:
        the message is done), or to its first world-touching effect, where it goes on as the
        message's fiber (False: the message is not done yet); an awaitable is refused (False);
        anything else is the message's result (True)."""
        if isinstance(result, (Program, Effect)):
            program = result if isinstance(result, Program) else _suspend(result)
            # the fiber's number is taken even when no fiber is made, so that the names of
            # the choices (which hold fibers' numbers) are those of a traced run
            number = self.take_number()
            machine = Machine(program)
            handled = cell.handled  # (the fiber's label, made only when a fiber is)
            if self.stamp_inline:  # (untraced, no handler of its own: events published in step)
                machine.perform_in_step(EmitStamped, cell.emit_in_step)
            step = None
            if self.in_place:
                # untraced, with no handler of `Now` or `EmitStamped`: run with no fiber made
                # for as long as the program only reads the clock and publishes events (an
                # agent's task, mostly), as the fiber's turn would run it
                machine.read_in_step(Now, self.read_clock)
                step = machine.start()
                while type(step) is Next and type(step.effect) is Now:  # (one not yielded)
                    step = step.resume(self.clock)
                if type(step) is Done:
                    self.message_done(cell, envelope, step.value)
                    return True
                if type(step) is Failed:
                    self.message_failed(cell, envelope, step.error)
                    return False
            fiber = self.new_fiber(machine, f"{cell.path}#{handled}", number)
            if step is not None:  # (its first turn run already, up to this step)
                fiber.input = (STEP, step)
            return self.message_fiber(cell, envelope, fiber)
        if inspect.isawaitable(result):
            self.message_failed(cell, envelope, _refuse_async(cell, "receive", result))
            return False
        kind = type(result)
        if kind is not GeneratorType:  # (whether a generator is awaitable is its own)
            self.plain_types.add(kind)  # `handle` takes its values as replies, checking no more
        self.message_done(cell, envelope, result)
        return True

    def read_clock(self, _now: Now) -> float:
        """The virtual clock's time: a `Now` answered inside the machine's step."""
        return self.clock

    def message_fiber(self, cell: _SimCell, envelope: _Envelope, fiber: _Fiber) -> bool:
        """``fiber`` runs ``cell``'s program for ``envelope``: its first turn now (True when
        it finished with a value: the message is done)."""
        fiber.actor = cell
        cell.busy = fiber
        self.dirty.add(cell)

        def done(finished: _Fiber) -> None:
            # (a message's fiber has no handle: `finish` drops it from the run, as every
            # fiber no handle names)
            cell.busy = None
            self.dirty.add(cell)
            assert finished.outcome is not None
            if isinstance(finished.outcome, Success):
                self.message_done(cell, envelope, finished.outcome.unwrap())
            else:
                self.message_failed(cell, envelope, finished.outcome.failure())

        fiber.on_finish.append(done)
        # its first turn is this step's, as asyncio's actor loop runs a program it is given
        # at once: no choice point between a message and its program's first effect
        self.run_fiber(fiber)
        return type(fiber.outcome) is Success

    def message_done(self, cell: _SimCell, envelope: _Envelope | None, value: object) -> None:
        cell.current = None
        cell.consecutive_restarts = 0
        if envelope is not None:
            self.reply(cell, envelope, value)
            if self.faults_on:
                self.redelivered(cell, envelope)
            if cell.stop_policy is not None:
                self.apply(cell, self.kernel.handled(cell, envelope.message))

    def message_failed(
        self, cell: _SimCell, envelope: _Envelope | None, error: BaseException
    ) -> None:
        cell.current = None
        if cell.interrupted:  # free_stop(interrupt=True) cancelled the program
            cell.interrupted = False
            if isinstance(error, Cancelled) and envelope is not None:
                error = stopped_error(cell.path, envelope.message)
        if self.tracing:
            self.log(cell.path, f"failed {bounded_repr(error, 240)}", StepKind.FAILURE, error)
        if envelope is not None and envelope.asker is not None:
            self.reply(cell, envelope, error=asker_error(cell.path, envelope.message, error))
        if envelope is not None and self.failure_log is not None:
            self.failure_log.failing(cell.path, error, message=envelope.message)
        self.fail(cell, error)
