"""An actor under asyncio: its cell (mailbox, task, instance, children, watchers; also its
context and its refs' binding), the actor's task that drains the mailbox, and the executor
of the lifecycle kernel's commands."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, final

from playbill.actors import (
    Actor,
    DeadLetterReason,
    Failed,
    MailboxFull,
    MailboxPolicy,
    Offer,
    SupervisionStrategy,
    Terminated,
)
from playbill.actors._kernel import (
    Command,
    ContinueAfterChildren,
    DrainMailbox,
    Escalate,
    Gone,
    KernelCell,
    NotifyWatcher,
    Phase,
    PostSystem,
    PostSystemLater,
    Publish,
    Report,
    RunHook,
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
from playbill.actors._signals import STOP
from playbill.actors._stop_policies import WHEN_DRAINED
from playbill.actors._tree import THROUGHPUT
from playbill.actors._virtual import GrainBinding
from playbill.effects import (
    ActorRef,
    Cancelled,
    Effect,
    Program,
    Suspend,
)
from playbill.effects._checks import check_flag, plural

if TYPE_CHECKING:
    from playbill.interpreters._asyncio._recording import _Notes
    from playbill.interpreters._asyncio._system import ActorSystem


_STARTING, _RUNNING, _STOPPED, _STOPPING = (
    Phase.STARTING,
    Phase.RUNNING,
    Phase.STOPPED,
    Phase.STOPPING,
)
A = TypeVar("A")
_NOBODY: Any = ()  # no sender waits for room

logger = logging.getLogger("playbill")


@final
class _Ask:
    """A user message with a future for its reply. In a recording system every user message
    but a plain tell to an unbounded mailbox from the sender of the item before it is queued
    as one, with ``sender`` set (a tell's ``future`` is None), so the sender is noted beside
    the message and the message itself stays the user's (a plain tell's sender is that of the
    last item before it that carries one: `_RecordingCell`)."""

    __slots__ = ("future", "message", "sender")

    sender: str  # set only in a recording system

    def __init__(self, message: object, future: asyncio.Future[Any] | None) -> None:
        self.message = message
        self.future = future


# -- cells ------------------------------------------------------------------------------------


class _Cell(KernelCell):
    """One actor: its mailbox, task, instance, children, watchers — and its context. Its
    lifecycle fields are the kernel's (`KernelCell`)."""

    __slots__ = (
        "_terminated",
        "asking",
        "began",
        "current",
        "first",
        "handled_count",
        "in_program",
        "interrupting",
        "loop",
        "on_gone",
        "system",
        "task",
        "waiter",
    )

    _entry = _Ask  # what an ask queues (a recording system's cell notes the sender on it)
    # a grain ref's binding, when this cell is a grain directory's (`grain_ref`); the plain
    # cell's inlines the tell (set below, once the class exists)
    grain_binding: Callable[[Any, Any], GrainBinding] = GrainBinding
    # what a recording system's cell notes each handled message in (`_RecordingCell`): read
    # once per batch by the hot loop, which an unrecorded cell's None keeps as it is
    notes: _Notes | None = None

    def fresh_id(self) -> str:
        system = self.system
        return f"{system._id_prefix}{next(system._ids)}"

    def _unobserved(self, run_id: object) -> bool:
        system = self.system
        if system._subscriptions or system._emits_handled:
            return False
        gate = system._event_gate
        if gate is None:
            return True
        runs = system._event_runs
        return runs is not None and run_id not in runs

    def __init__(
        self,
        system: ActorSystem,
        parent: _Cell | None,
        path: str,
        factory: Callable[[], Any],
        policy: MailboxPolicy | None,
    ) -> None:
        super().__init__(parent, path, next(system._uids), factory, policy, system.realm)
        self.system = system
        self.loop = system._loop
        self.current: object = None  # the item being handled, failed if the task is cancelled
        # messages handled, added once per batch (never per message): telemetry's probe reads it
        self.handled_count = 0
        self.asking: tuple[_Cell, object] | None = None  # what its message's ask waits on
        self.in_program = False  # whether it is awaiting the program a receive returned
        self.interrupting = False  # whether its task was cancelled to interrupt that program
        self.waiter: asyncio.Future[None] | None = None
        # senders waiting for room (a deque of its own once one waits: most never do)
        self.blocked: deque[tuple[asyncio.Future[None], object]] = _NOBODY
        self._terminated: asyncio.Future[None] | None = None
        # called once it has terminated, in that same turn (`terminated()`'s callbacks wait
        # for the next): an ephemeral run's root ends its run there (`agents._system._Run`)
        self.on_gone: Callable[[], None] | None = None
        self.task: asyncio.Task[None] | None = None
        # set when its start, or its first message, was carried out inline by the program
        # that spawned and asked it (`ask_inline`): its task then skips on_start, and
        # finishes that message first (the reply's future, and what is left to await)
        self.began = False
        self.first: tuple[object, asyncio.Future[Any], Any] | None = None

    def start(self) -> None:
        self.task = self.loop.create_task(self._main())

    # -- a child spawned and asked at once, without a task (ask_agent's shape) --------------

    def can_begin_inline(self) -> bool:
        """Whether this actor, spawned just now and not started, may be started and take its
        first message inline, in the turn of the program that spawned it: a plain cell with
        nothing queued, the default ``on_start`` and ``on_stop``, no middleware, no stop
        policy, not a router, no telemetry timing asks, and fewer than `INLINE_DEPTH`
        children asked inline below on the stack (a deeper one gets a task, where the stack
        starts afresh)."""
        if (
            self.phase is not _STARTING
            or self.task is not None
            or self.mailbox.user
            or self.mailbox.system
            or self.routing is not None
            or self.stop_policy is not None
            or type(self) is not _Cell
            or self.system._ask_probe is not None
            or self.system._inline_depth >= INLINE_DEPTH
        ):
            return False
        kind = type(self.instance)
        plain = _DEFAULT_HOOKS.get(kind)
        if plain is None:
            plain = _DEFAULT_HOOKS[kind] = (
                kind.on_start is Actor.on_start
                and kind.on_stop is Actor.on_stop
                and not getattr(kind, "middleware", None)
            )
        return plain and not getattr(self.instance, "middleware", None)

    def ask_inline(self, message: object, timeout: float | None) -> tuple[bool, Any]:
        """Start this actor (`can_begin_inline`) and handle ``message``, its first, now, as
        its task would have: (True, the reply) when ``receive`` finished without waiting;
        (False, a future of the reply) when what it returned waits (the actor's task, started
        by the caller, finishes it first); or the asker's error raised when it failed (the
        supervisor decides, as for any failure)."""
        system = self.system
        self.began = True
        commands = system._kernel.started(self, None)  # (the default on_start: nothing ran)
        if commands:
            self._apply(commands)
        self.current = message
        system._inline_depth += 1
        try:
            result = self.instance.receive(message)
            if result is not None and type(result) not in _PLAIN:
                if isinstance(result, Program):  # run at once, as far as it goes
                    result = system._perform_now(result, self)
                    if type(result) is _Unfinished:
                        return False, self._first_waits(message, timeout, result)
                elif isinstance(result, Effect) or inspect.isawaitable(result):
                    return False, self._first_waits(message, timeout, result)
                else:
                    _PLAIN.add(type(result))
        except BaseException as error:
            if not is_failure(error):
                raise
            self.handled_count += 1
            raise self._receive_failed(error, message, None) from None
        finally:
            system._inline_depth -= 1
        self.current = None
        self.handled_count += 1
        return True, result

    def _first_waits(
        self, message: object, timeout: float | None, rest: Any
    ) -> asyncio.Future[Any]:
        """The first message's ``receive`` returned what waits: the reply's future, as an ask
        makes it (its deadline included); the actor's task finishes ``rest`` first."""
        future: asyncio.Future[Any] = self.loop.create_future()
        self.current = _Ask(message, future)
        self.first = (message, future, rest)
        system = self.system
        limit = system.ask_timeout if timeout is None else timeout
        if limit != math.inf:
            system._deadlines.add(limit, future, self, message)
        return future

    def stop_inline(self) -> bool:
        """Stop this actor, started inline and idle, now: True once it has terminated (no
        children to wait for; its ``on_stop`` is the default), else False, its task (started
        by the caller) carrying the stop on."""
        kernel = self.system._kernel
        at_once = kernel.stop_at_once(self)  # idle, childless: terminated in one transition
        if at_once is not None:
            self._apply(at_once)
            return True
        self._apply(kernel.stop(self))
        system_queue = self.mailbox.system
        if self.children_cells or len(system_queue) != 1 or system_queue[0] is not STOP:
            return False
        system_queue.popleft()
        hook = self._apply(kernel.system_message(self, STOP))
        while hook is not None:  # on_stop, the default: nothing to run or await
            getattr(self.instance, hook.name)(*hook.arguments)
            hook = self._apply(kernel.hook_done(self, None))
        return self.phase is _STOPPED

    async def _finish_first(self, message: object, future: asyncio.Future[Any], rest: Any) -> None:
        """Finish the first message, whose ``receive`` ran inline and returned ``rest`` (what
        is left of its program, or an awaitable), as the hot loop finishes any message."""
        self.in_program = True
        if self.interrupting:  # interrupted before its task began: cancelled at its first wait
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
        try:
            try:
                if type(rest) is _Unfinished:
                    result = await rest.coroutine
                else:
                    result = await self._complete(rest)
            finally:
                self.in_program = False
        except BaseException as error:
            if not is_failure(error):
                raise
            if isinstance(error, asyncio.CancelledError) and _being_cancelled():
                if not self.interrupting:
                    raise
                self.interrupting = False
                task = asyncio.current_task()
                assert task is not None
                task.uncancel()
                error = stopped_error(self.path, message)
            self.handled_count += 1
            self._receive_failed(error, message, future)
            return
        self.current = None
        self.handled_count += 1
        if future.done():
            self.system._dead_letter(result, self.path, DeadLetterReason.LATE_REPLY)
        else:
            future.set_result(result)

    def _receive_failed(
        self, error: BaseException, message: object, future: asyncio.Future[Any] | None
    ) -> BaseException:
        """``receive`` failed with ``error`` (a failure, not this task's own cancellation):
        its asker's ``future`` fails, the failure is logged and the supervisor decides. The
        error the asker gets is returned."""
        self.current = None
        # a program's own Cancelled arrives as the CancelledError that carried it out of the
        # program: the asker gets that, the supervisor the original
        own = isinstance(error, asyncio.CancelledError) and isinstance(error.__cause__, Cancelled)
        asked = error if own else asker_error(self.path, message, error)
        if future is not None and not future.done():
            future.set_exception(asked)
        cause: BaseException = error.__cause__ if own else error  # type: ignore[assignment]
        self.system._failure_log.failing(self.path, cause, message=message)
        self._fail(cause)
        return asked

    def terminated(self) -> asyncio.Future[None]:
        """A future done once the actor has stopped (made on demand: most are never awaited)."""
        if self._terminated is None:
            self._terminated = self.loop.create_future()
            if self.phase is _STOPPED:
                self._terminated.set_result(None)
        return self._terminated

    # -- ActorContext (self_ref, parent and children come from CellContext) ---------------

    def _spawn_child(
        self,
        actor: Any,
        name: str | None,
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
    ) -> _Cell:
        return self.system._spawn(self, actor, name, supervision, mailbox)

    def _resolve_ref(self, ref: ActorRef) -> _Cell | None:
        return self.system._resolve(ref)

    def watch(self, ref: ActorRef) -> None:
        target = self.system._resolve(ref)
        self._apply(self.system._kernel.watch(self, target, Terminated(ref)))

    # -- the binding behind ActorRef's direct methods -------------------------------------

    def tell(self, message: object) -> None:
        routing = self.routing
        if routing is not None and type(message) not in ROUTER_MESSAGES:
            # a router: routed here, at the send, then told to the routee below (the hot path
            # of a routed tell: no call between the router's choice and the routee's queue)
            turn = routing.turn  # (round-robin: the next routee, with no Python call)
            if self.phase >= _STOPPING:
                routed = None
            elif turn is not None:
                routed = turn()
            else:
                grains = routing.grains  # a grain directory's active grains: looked up here
                if grains is not None:
                    key = routing.key(message)
                    routed = grains.get(key)
                    if routed is None or routed.phase >= _STOPPING:
                        routed = routing.activate(key)
                    else:  # a live grain (never a router): queued here when there is room
                        box = routed.mailbox
                        if box.capacity is None or len(box.user) < box.capacity:
                            box.user.append(message)
                            waiter = routed.waiter
                            if waiter is not None:
                                routed.waiter = None
                                if not waiter.done():
                                    waiter.set_result(None)
                            return
                else:
                    routed = routing.route(message)
            if routed is None or type(routed) is tuple or routed.routing is not None:
                self._route_other(message, routed)
                return
            self = routed
        if self.phase >= _STOPPING:
            self.system._dead_letter(message, self.path, DeadLetterReason.STOPPED)
            return
        box = self.mailbox
        if box.capacity is None or len(box.user) < box.capacity:
            box.user.append(message)
        else:
            self._overflow(message, waiting_allowed=False)
            return
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def ask(self, message: object, timeout: float | None) -> Awaitable[Any]:
        """Send the ask now and return its reply's future: the ask takes its place in the
        queue at the call or, in a full `Overflow.BLOCK` mailbox, waits for room as this
        sender's next message (a deadline that passes meanwhile, or a cancelled future,
        removes it: a dead letter, never handled)."""
        if self.routing is not None and type(message) not in ROUTER_MESSAGES:
            return self._route_ask(message, timeout)
        future: asyncio.Future[Any] = self.loop.create_future()
        if self.phase >= _STOPPING:
            self.system._dead_letter(message, self.path, DeadLetterReason.STOPPED)
            future.set_exception(stopped_error(self.path, message))
            return future
        box = self.mailbox
        entry = self._entry(message, future)
        if box.capacity is None or len(box.user) < box.capacity:
            box.user.append(entry)
            waiter = self.waiter
            if waiter is not None:
                self.waiter = None
                if not waiter.done():
                    waiter.set_result(None)
        else:
            room = self._post_full(entry)
            if room is not None:  # the ask giving up gives up its place too
                future.add_done_callback(lambda _: room.cancel())
            if future.done():
                return future
        system = self.system
        limit = system.ask_timeout if timeout is None else timeout
        if limit != math.inf:
            system._deadlines.add(limit, future, self, message)
        if system._ask_probe is not None:  # telemetry asked to time asks (off: this one test)
            system._ask_probe(self.path, message, future)
        return future

    def send(self, message: object) -> Awaitable[None]:
        """Send ``message`` now; what is returned is done once it is queued (at once, unless
        a full `Overflow.BLOCK` mailbox makes it wait for room as this sender's next message;
        cancelling that wait withdraws the message, as a dead letter)."""
        room = self._post(message)
        if room is None:
            room = self.loop.create_future()
            room.set_result(None)
        return room

    def _post(self, message: object) -> asyncio.Future[None] | None:
        """Queue ``message`` now; None when done with it (queued, dropped or dead-lettered),
        else the future of its wait for room."""
        if self.routing is not None and type(message) not in ROUTER_MESSAGES:
            routed = self._route(message)
            return None if routed is None else routed._post(message)
        if self.phase >= _STOPPING:
            self.system._dead_letter(message, self.path, DeadLetterReason.STOPPED)
            return None
        box = self.mailbox
        if box.capacity is None or len(box.user) < box.capacity:
            box.user.append(message)
            self._wake()
            return None
        return self._post_full(message)

    def _post_full(self, item: object) -> asyncio.Future[None] | None:
        """The mailbox is full: apply its policy to ``item``; under `Overflow.BLOCK` it waits
        in line for room (the returned future is done once it is queued)."""
        if self._overflow(item, waiting_allowed=True):
            return None
        room: asyncio.Future[None] = self.loop.create_future()
        entry = (room, item)
        if self.blocked is _NOBODY:
            self.blocked = deque()
        self.blocked.append(entry)
        room.add_done_callback(lambda _: self._gave_up(entry))
        return room

    def _gave_up(self, entry: tuple[asyncio.Future[None], object]) -> None:
        """A sender stopped waiting for room (cancelled, or its ask ended): its message leaves
        the line, a dead letter; it is never handled."""
        room, item = entry
        if room.cancelled() and entry in self.blocked:
            self.blocked.remove(entry)
            self._undeliverable(item, DeadLetterReason.GAVE_UP)

    # -- a router's routing, at the send ---------------------------------------------------

    def _route(self, message: object) -> _Cell | None:
        """The routee that gets ``message`` sent to this router (a broadcast's others are
        told it here); None when there is none: a dead letter (no routee, or the router is
        stopped)."""
        if self.phase >= _STOPPING:
            self.system._dead_letter(message, self.path, DeadLetterReason.STOPPED)
            return None
        routed = self.routing.route(message)
        if routed is None:
            self.system._dead_letter(message, self.path, DeadLetterReason.NO_ROUTEE)
            return None
        if type(routed) is tuple:
            for other in routed[1:]:
                other.tell(message)
            routed = routed[0]
        return routed  # type: ignore[no-any-return]

    def _route_other(self, message: object, routed: Any) -> None:
        """A tell to this router that is not one routee's plain tell: a dead letter (no
        routee, or the router is stopped), a broadcast, or a routee that is a router too."""
        if routed is None:
            reason = DeadLetterReason.STOPPED if self.phase >= _STOPPING else None
            if reason is None:
                reason = DeadLetterReason.NO_ROUTEE
            self.system._dead_letter(message, self.path, reason)
        elif type(routed) is tuple:
            for each in routed:
                each.tell(message)
        else:
            routed.tell(message)

    def _route_ask(self, message: object, timeout: float | None) -> Awaitable[Any]:
        """An ask to this router: asked of the routee, which answers it."""
        if self.phase < _STOPPING:
            try:  # (a virtual-actor directory's key function, or the activation, can fail)
                routed = self.routing.route(message)
            except Exception as error:
                failed: asyncio.Future[Any] = self.loop.create_future()
                failed.set_exception(error)
                return failed
            if routed is not None:
                if type(routed) is tuple:
                    for other in routed[1:]:
                        other.tell(message)
                    routed = routed[0]
                return routed.ask(message, timeout)  # type: ignore[no-any-return]
            reason = DeadLetterReason.NO_ROUTEE
        else:
            reason = DeadLetterReason.STOPPED
        self.system._dead_letter(message, self.path, reason)
        future: asyncio.Future[Any] = self.loop.create_future()
        future.set_exception(undelivered_ask_error(self.path, message, reason))
        return future

    def _retire(self, cell: KernelCell) -> None:
        self._apply(self.system._kernel.retire(cell))

    def interrupt(self) -> None:
        """Stop, cancelling the program of the message being handled (``free_stop(ref,
        interrupt=True)``): its finalisers run, its asker fails with `ActorStopped`. An actor
        never interrupts itself: from its own task this is a plain stop."""
        self.stop()
        task = self.task
        if (
            self.in_program
            and not self.interrupting
            and task is not None
            and task is not asyncio.current_task()
        ):
            self.interrupting = True
            task.cancel()
        elif self.first is not None and not self.interrupting:
            # its first message waits, begun inline, and its task has not taken it up yet:
            # the task cancels it at its first wait
            self.interrupting = True

    def _stop_self(self, interrupt: bool) -> None:
        if check_flag("stop() interrupt", interrupt):
            self.interrupt()
        elif self.phase < _STOPPING:
            self._apply(self.system._kernel.stop(self))

    # -- mailbox --------------------------------------------------------------------------

    def _overflow(self, item: object, *, waiting_allowed: bool) -> bool:
        """Apply the bounded policy to ``item``; False when the sender must wait for room."""
        outcome = self.mailbox.offer(item)
        if outcome is Offer.QUEUED:  # pragma: no cover - callers checked there is no room
            self._wake()
        elif outcome is Offer.DROPPED_OLDEST:
            self._undeliverable(self.mailbox.last_dropped, DeadLetterReason.DROPPED_OLDEST)
            self._wake()
        elif outcome is Offer.DROPPED_NEWEST:
            self._undeliverable(item, DeadLetterReason.DROPPED_NEWEST)
        elif outcome is Offer.REFUSED:
            self._undeliverable(item, DeadLetterReason.MAILBOX_FULL)
            if type(item) is _Ask:
                if item.future is not None:  # its future carries the MailboxFull to the asker
                    return True
                item = item.message  # (a recording system's tell)
            raise MailboxFull(
                f"the mailbox of {self.path} is full ({plural(self.mailbox.capacity, 'message')}, "
                f"overflow=FAIL); the message {short(item)} is a dead letter. Slow the "
                "sender, raise the capacity, or pick another Overflow"
            )
        else:
            if waiting_allowed:
                return False
            self._undeliverable(item, DeadLetterReason.MAILBOX_FULL)
            if type(item) is _Ask:  # (a recording system's tell)
                item = item.message
            raise MailboxFull(
                f"the mailbox of {self.path} is full ({plural(self.mailbox.capacity, 'message')}, "
                f"overflow=BLOCK) and ref.tell() never waits; the message {short(item)} is a "
                "dead letter. Use `await ref.send(message)` or free_tell(...) to wait for room"
            )
        return True

    def _undeliverable(self, item: object, reason: DeadLetterReason) -> None:
        if type(item) is _Ask:
            future = item.future
            if future is not None and not future.done():
                future.set_exception(undelivered_ask_error(self.path, item.message, reason))
            item = item.message
        self.system._dead_letter(item, self.path, reason)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def post_system(self, message: object) -> None:
        self.mailbox.post_system(message)
        self._wake()

    def _admit_blocked(self) -> None:
        box = self.mailbox
        while self.blocked and len(box.user) < (box.capacity or 0):
            room, item = self.blocked.popleft()
            if room.done():  # the sender gave up just now: never handled
                self._undeliverable(item, DeadLetterReason.GAVE_UP)
                continue
            box.user.append(item)
            room.set_result(None)

    # -- the actor's task -----------------------------------------------------------------

    async def _main(self) -> None:
        system = self.system
        try:
            if self.began:  # started inline (`ask_inline`): its first message may wait
                first = self.first
                if first is not None:
                    self.first = None
                    await self._finish_first(*first)
            else:
                try:  # on_start, inline: what the kernel's START decides, for every actor
                    started = self.instance.on_start()
                except BaseException as failure:
                    if not is_failure(failure):
                        raise
                    system._failure_log.failing(self.path, failure, hook="on_start")
                    await self._perform(system._kernel.started(self, failure))
                else:
                    if started is not None:  # a program: run at once, as far as it goes
                        started = self._start_now(started)
                    if started is None:
                        commands = system._kernel.started(self, None)
                        if commands:
                            self._apply(commands)
                    else:
                        await self._finish_start(started)
            box = self.mailbox
            user_queue = box.user
            while True:
                if box.system:  # read each time: the mailbox makes its queue on the first
                    if await self._handle_system(box.system.popleft()):
                        return
                    continue
                if self.phase is not _RUNNING or not user_queue:
                    self.waiter = self.loop.create_future()
                    await self.waiter
                    continue
                # The hot loop: up to THROUGHPUT messages, inlined, awaiting only for a
                # receive that returned a program or an awaitable.
                receive = self.instance.receive
                notes = self.notes
                limit = THROUGHPUT  # handled before it yields (a recording cell: or writes)
                if notes is not None:  # a recording system's cell (`_RecordingCell`): the
                    # type of the run of plain tells it is in (`_Notes`), and its limit
                    kind, limit = notes.resume(0)
                handled = 0
                while user_queue and not box.system and self.phase is _RUNNING:
                    item = self.current = user_queue.popleft()
                    if self.blocked:
                        self._admit_blocked()
                    if type(item) is _Ask:
                        message = item.message
                        future: asyncio.Future[Any] | None = item.future
                        if notes is not None:  # noted with the sender it carries
                            kind, limit = notes.stamped(item.sender, message, handled)
                    else:
                        message = item
                        future = None
                        # a recording cell notes a plain tell only when its run ends: while
                        # the type repeats, nothing is done per message
                        if notes is not None and type(message) is not kind:
                            kind, limit = notes.plain(message, handled)
                    try:
                        result = receive(message)
                        if result is not None and type(result) not in _PLAIN:
                            if notes is not None:  # noted before others run or note
                                notes.close(handled + 1)
                            if isinstance(result, Program):  # run at once, as far as it goes
                                result = system._perform_now(result, self)
                                if type(result) is _Unfinished:  # it waits: awaited here
                                    self.in_program = True
                                    try:
                                        result = await result.coroutine
                                    finally:
                                        self.in_program = False
                            else:
                                self.in_program = True
                                try:
                                    result = await self._complete(result)
                                finally:
                                    self.in_program = False
                            if notes is not None:  # (others may have noted meanwhile)
                                kind, limit = notes.resume(handled + 1)
                    except BaseException as error:
                        if notes is not None:  # (the message it failed on was handled)
                            notes.close(handled + 1)
                        if not is_failure(error):
                            raise
                        if isinstance(error, asyncio.CancelledError) and _being_cancelled():
                            if not self.interrupting:
                                raise  # this actor's own task is cancelled (a shutdown timed out)
                            # free_stop(interrupt=True) cancelled the program: the actor goes on
                            # to stop, and its asker learns it was stopped
                            self.interrupting = False
                            task = asyncio.current_task()
                            assert task is not None
                            task.uncancel()
                            error = stopped_error(self.path, message)
                        # anything else, an inner cancellation included, is a failure
                        self.handled_count += handled + 1
                        handled = 0
                        self._receive_failed(error, message, future)
                        break
                    self.current = None
                    if self.consecutive_restarts:
                        self.consecutive_restarts = 0
                    if future is not None:
                        if future.done():
                            system._dead_letter(result, self.path, DeadLetterReason.LATE_REPLY)
                        else:
                            future.set_result(result)
                    # (a stop policy's decision: the kernel's; True: it stopped, and is gone)
                    if self.stop_policy is not None and self._handled(message):
                        self.handled_count += handled + 1
                        return
                    handled += 1
                    if handled >= limit:
                        if notes is not None:  # its run noted: before others run, or as
                            notes.close(handled)  # many as the recorder takes before writing
                        if handled >= THROUGHPUT:
                            self.handled_count += handled
                            handled = 0
                            await asyncio.sleep(0)
                        if notes is not None:
                            kind, limit = notes.resume(handled)
                if notes is not None and handled > notes.began:
                    notes.close(handled)
                self.handled_count += handled
        except asyncio.CancelledError:
            self._abort()
            raise

    def _start_now(self, started: Any) -> Any:
        """What ``on_start`` returned, with a program run at once as far as it goes (as a
        receive's is): None when it ended there, else what `_finish_start` finishes — the
        rest of the program (`_Unfinished`), an awaitable, or its failure (`_StartFailed`)."""
        if not isinstance(started, Program):
            return started
        try:
            result = self.system._perform_now(started, self)
        except BaseException as failure:
            if not is_failure(failure) or (
                isinstance(failure, asyncio.CancelledError) and _being_cancelled()
            ):
                raise
            return _StartFailed(failure)
        return result if type(result) is _Unfinished else None

    async def _finish_start(self, started: Any) -> None:
        """``on_start`` returned a program or an awaitable: finish it, then the kernel goes
        on."""
        error: BaseException | None = None
        try:
            if type(started) is _StartFailed:
                raise started.error
            if type(started) is _Unfinished:
                await started.coroutine
            else:
                await self._complete(started)
        except BaseException as failure:
            if not is_failure(failure) or (
                isinstance(failure, asyncio.CancelledError) and _being_cancelled()
            ):
                raise
            error = failure
            self.system._failure_log.failing(self.path, failure, hook="on_start")
        await self._perform(self.system._kernel.started(self, error))

    def _abort(self) -> None:
        """The task is cancelled (a shutdown ran out of time): what it was handling, what is
        queued and who waits for room all become dead letters; then it terminates."""
        if self.phase < _STOPPING:
            self.phase = _STOPPING
        current, self.current = self.current, None
        if current is not None:
            self._undeliverable(current, DeadLetterReason.UNPROCESSED)
        self._apply(self.system._kernel.terminate(self))

    def _handled(self, message: object) -> bool:
        """The kernel's decision once ``message`` is handled (the cell has a stop policy);
        True when it terminated then. A retired cell (`WHEN_DRAINED`: an ephemeral run's
        root, a router's old routee) that has nothing more to do — idle, childless, its
        ``on_stop`` the default — stops in one transition (`Kernel.stop_at_once`): no STOP
        posted to itself and taken back, no hook to run."""
        kernel = self.system._kernel
        if (
            self.stop_policy is WHEN_DRAINED
            and type(self) is _Cell
            and type(self.instance).on_stop is Actor.on_stop
        ):
            at_once = kernel.stop_at_once(self)
            if at_once is not None:
                self._apply(at_once)
                return True
        self._apply(kernel.handled(self, message))
        return False

    def _deliver_first(self, message: object) -> None:
        """Queue a runtime message (``Terminated``) ahead of the user messages: handled next,
        but only once the actor runs (not while its supervisor decides about a failure)."""
        self.mailbox.notify(message, _is_notice)
        self._wake()

    async def _complete(self, result: Any) -> Any:
        """Finish what a receive or a hook returned: run a program, await a coroutine."""
        if isinstance(result, Program):
            return await self.system._perform(result, self)
        if isinstance(result, Effect):  # an effect stands for the program that performs it
            return await self.system._perform(Suspend(result), self)
        if inspect.isawaitable(result):
            return await result
        _PLAIN.add(type(result))
        return result

    def _fail(self, error: BaseException) -> None:
        """Stop handling messages and let the supervisor decide."""
        self._apply(self.system._kernel.fail(self, error))

    async def _handle_system(self, message: object) -> bool:
        """Handle one system message in the actor's own task; True once it has terminated."""
        kernel = self.system._kernel
        if type(message) is ContinueAfterChildren:
            await self._perform(kernel.children_terminated(self))
        else:
            await self._perform(kernel.system_message(self, message))
        return self.phase is _STOPPED

    # -- the executor of the kernel's commands ------------------------------------------------

    async def _perform(self, commands: list[Command]) -> None:
        """Carry out the kernel's commands in this actor's task: the hooks they run are awaited
        here, and what the kernel decides once each has run is carried out in turn."""
        hook = self._apply(commands)
        while hook is not None:
            error: BaseException | None = None
            try:
                result = getattr(self.instance, hook.name)(*hook.arguments)
                if result is not None:
                    await self._complete(result)
            except BaseException as failure:
                if not is_failure(failure) or (
                    isinstance(failure, asyncio.CancelledError) and _being_cancelled()
                ):
                    raise  # the process ends, or a shutdown ran out of time and cancels the task
                error = failure
                self.system._failure_log.failing(self.path, failure, hook=hook.name)
            hook = self._apply(self.system._kernel.hook_done(self, error))

    def _apply(self, commands: list[Command]) -> RunHook | None:
        """Carry out every command but a hook to run, which is returned (the kernel asks for
        at most one, last, and only of the cell whose input it decided)."""
        system = self.system
        hook: RunHook | None = None
        logged: BaseException | None = None  # the failure a Failed event just logged
        for command in commands:
            kind = type(command)
            if kind is PostSystem:
                command.cell.post_system(command.message)  # type: ignore[union-attr]
            elif kind is Publish:
                event = command.event  # type: ignore[union-attr]
                if type(event) is Failed:
                    system._failure_log.failed(event)
                    logged = event.error
                if system._subscriptions:
                    system._publish(event)
            elif kind is RunHook:
                hook = command  # type: ignore[assignment]
            elif kind is DrainMailbox:
                command.cell._drain(command.reason)  # type: ignore[union-attr]
            elif kind is NotifyWatcher:
                command.watcher._deliver_first(command.message)  # type: ignore[union-attr]
            elif kind is Gone:
                system._failure_log.forget(command.cell.path)  # type: ignore[union-attr]
                gone = command.cell  # type: ignore[union-attr]
                terminated = gone._terminated
                if terminated is not None and not terminated.done():
                    terminated.set_result(None)
                then = gone.on_gone
                if then is not None:
                    gone.on_gone = None
                    then()
            elif kind is ContinueAfterChildren:  # in the parent's own task
                command.cell.post_system(command)  # type: ignore[union-attr]
            elif kind is PostSystemLater:
                target = command.cell  # type: ignore[union-attr]
                self.loop.call_later(command.delay, target.post_system, command.message)  # type: ignore[union-attr]
            elif kind is Escalate:
                system._escalate(command.error)  # type: ignore[union-attr]
            elif kind is Report:
                error = command.error  # type: ignore[union-attr]
                # its traceback is in the Failed line just logged, when it is the same failure
                logger.error("%s", command.text, exc_info=None if error is logged else error)  # type: ignore[union-attr]
        return hook

    def _drain(self, reason: DeadLetterReason) -> None:
        """What is queued, and what waits for room, becomes dead letters; senders go on."""
        for item in self.mailbox.drain():
            self._undeliverable(item, reason)
        while self.blocked:
            room, item = self.blocked.popleft()
            if room.cancelled():  # the sender gave up just now
                self._undeliverable(item, DeadLetterReason.GAVE_UP)
            elif not room.done():
                self._undeliverable(item, reason)
                room.set_result(None)


def _is_notice(item: object) -> bool:
    return type(item) is Terminated


@final
class _GrainBinding(GrainBinding):
    """A grain's ref's binding under asyncio (`grain_ref`): its tell to the incarnation it
    found, still live, is `_Cell.tell`'s hot path inline — a tell to an active grain costs a
    direct tell and two checks; every other case takes the shared path."""

    __slots__ = ()

    def tell(self, message: object) -> None:
        cell = self.cell
        if cell is not None and cell.phase < _STOPPING and self.directory.phase < _STOPPING:
            box = cell.mailbox
            if box.capacity is None or len(box.user) < box.capacity:
                box.user.append(message)
                waiter = cell.waiter
                if waiter is not None:
                    cell.waiter = None
                    if not waiter.done():
                        waiter.set_result(None)
                return
        self.resolve().tell(message)


_Cell.grain_binding = _GrainBinding


@final
class _GuardianCell(_Cell):
    """The root guardian's cell: it supervises the top-level actors and takes no messages, so
    whatever is sent to it is a dead letter (an ask fails), and nothing else is affected."""

    __slots__ = ()

    def tell(self, message: object) -> None:
        self.system._dead_letter(message, self.path, DeadLetterReason.GUARDIAN)

    def ask(self, message: object, timeout: float | None) -> Awaitable[Any]:
        self.system._dead_letter(message, self.path, DeadLetterReason.GUARDIAN)
        future: asyncio.Future[Any] = self.loop.create_future()
        future.set_exception(guardian_refuses(self.path, message))
        return future

    def _post(self, message: object) -> asyncio.Future[None] | None:
        self.tell(message)
        return None


@final
class _StartFailed:
    """``on_start``'s program failed before it waited: `_finish_start` reports it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


@final
class _Unfinished:
    """A program of a cell that waits: the coroutine finishing it (`ActorSystem._perform_now`)."""

    __slots__ = ("coroutine",)

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.coroutine = coroutine


_DEFAULT_HOOKS: dict[type, bool] = {}  # per actor class: on_start, on_stop, no middleware
INLINE_DEPTH = 24
"""How many ephemeral children, each asked by the one before, run inline on one stack (each
takes a dozen frames); a deeper one gets a task, so a chain of any depth stays within
Python's recursion limit."""

_PLAIN: set[type] = {int, float, str, bytes, bool, tuple, list, dict, set, frozenset}


def _being_cancelled() -> bool:
    """Whether the running task itself has been asked to cancel (not an inner awaitable)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
