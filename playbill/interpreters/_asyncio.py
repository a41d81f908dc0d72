"""The asyncio interpreter: actors on real mailboxes, programs performed on the event loop.

Each actor is a cell: a `Mailbox` (system messages overtake user messages), an asyncio task
draining it one message at a time, its children (in start order), its watchers, and the
`ActorRef` whose binding is the cell itself — so ``ref.tell(msg)`` is one method call away
from the deque. Supervision decisions are taken by the parent, in its own task, between its
own messages; the policies themselves (mailbox overflow, strategies, budgets, backoff) are the
pure code of `playbill.actors`, shared with the simulator.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import math
import random as _random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, final

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
    SupervisionStrategy,
    Terminated,
    check_name,
    child_path,
    split_path,
)
from playbill.actors._cells import (
    THROUGHPUT,
    Guardian,
    ask_timeout_error,
    asker_error,
    check_spawn,
    check_supervision,
    child_name,
    describe_waits,
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
    NotifyWatcher,
    Phase,
    PostSystem,
    PostSystemLater,
    Publish,
    Report,
    RunHook,
)
from playbill.effects import (
    ActorNotFound,
    ActorRef,
    ActorSystemFailed,
    Ask,
    CancelFiber,
    Cancelled,
    Done,
    Effect,
    Emit,
    Fiber,
    FiberCancelled,
    Fork,
    InvalidArgument,
    Join,
    Machine,
    MaybeFault,
    Next,
    Now,
    Parallel,
    PlaybillError,
    Program,
    Race,
    Random,
    SelfRef,
    Sleep,
    Spawn,
    Stop,
    Suspend,
    Tell,
    TimedOut,
    Timeout,
    UnhandledEffect,
    Watch,
)
from playbill.effects._handlers import Handlers, HandlerTable, program_in_place

__all__ = ["ActorSystem", "EventSubscription", "run"]

A = TypeVar("A")

logger = logging.getLogger("playbill")

_RUNNING, _STOPPING, _STOPPED = Phase.RUNNING, Phase.STOPPING, Phase.STOPPED


@final
class _Ask:
    """A user message with a future for its reply."""

    __slots__ = ("future", "message")

    def __init__(self, message: object, future: asyncio.Future[Any]) -> None:
        self.message = message
        self.future = future


# -- events -----------------------------------------------------------------------------------


class EventSubscription:
    """An async iterator over the system event stream with a bounded buffer.

    Publishing never blocks an actor: when the buffer is full the oldest event is dropped and
    counted in ``dropped``. `drain` returns what is buffered without waiting.
    """

    def __init__(self, system: ActorSystem, buffer: int) -> None:
        if not isinstance(buffer, int) or buffer < 1:
            raise InvalidArgument(f"events(buffer=...) must be an int >= 1, got {buffer!r}")
        self._system = system
        self._events: deque[ActorEvent] = deque()
        self._buffer = buffer
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = 0

    def _push(self, event: ActorEvent) -> None:
        if len(self._events) >= self._buffer:
            self._events.popleft()
            if not self.dropped:
                logger.warning(
                    "an event subscription of /%s is full (%d events): the oldest are dropped "
                    "and counted in .dropped; read faster or subscribe with a larger buffer",
                    self._system.name,
                    self._buffer,
                )
            self.dropped += 1
        self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def drain(self) -> list[ActorEvent]:
        """Every buffered event, removed from the buffer, without waiting."""
        events = list(self._events)
        self._events.clear()
        return events

    def close(self) -> None:
        """Stop receiving events; iteration ends once the buffer is empty."""
        self._closed = True
        self._system._subscriptions.discard(self)
        self._wake()

    def __aiter__(self) -> AsyncIterator[ActorEvent]:
        return self

    async def __anext__(self) -> ActorEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._events.popleft()


# -- cells ------------------------------------------------------------------------------------


class _Cell(KernelCell):
    """One actor: its mailbox, task, instance, children, watchers — and its context. Its
    lifecycle fields are the kernel's (`KernelCell`)."""

    __slots__ = (
        "_terminated",
        "asking",
        "current",
        "in_program",
        "interrupting",
        "loop",
        "system",
        "task",
        "waiter",
    )

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
        self.asking: tuple[_Cell, object] | None = None  # what its message's ask waits on
        self.in_program = False  # whether it is awaiting the program a receive returned
        self.interrupting = False  # whether its task was cancelled to interrupt that program
        self.waiter: asyncio.Future[None] | None = None
        self.blocked: deque[tuple[asyncio.Future[None], object]] = deque()
        self._terminated: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = self.loop.create_task(self._main())

    def terminated(self) -> asyncio.Future[None]:
        """A future done once the actor has stopped (made on demand: most are never awaited)."""
        if self._terminated is None:
            self._terminated = self.loop.create_future()
            if self.phase is _STOPPED:
                self._terminated.set_result(None)
        return self._terminated

    # -- ActorContext (self_ref, parent and children come from CellContext) ---------------

    def spawn(
        self,
        actor: Any,
        name: str | None = None,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> ActorRef:
        return self.system._spawn(self, actor, name, supervision, mailbox).ref

    def watch(self, ref: ActorRef) -> None:
        target = self.system._resolve(ref)
        self._apply(self.system._kernel.watch(self, target, Terminated(ref)))

    # -- the binding behind ActorRef's direct methods -------------------------------------

    def tell(self, message: object) -> None:
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
        future: asyncio.Future[Any] = self.loop.create_future()
        if self.phase >= _STOPPING:
            self.system._dead_letter(message, self.path, DeadLetterReason.STOPPED)
            future.set_exception(stopped_error(self.path, message))
            return future
        box = self.mailbox
        if box.capacity is None or len(box.user) < box.capacity:
            box.user.append(_Ask(message, future))
            waiter = self.waiter
            if waiter is not None:
                self.waiter = None
                if not waiter.done():
                    waiter.set_result(None)
        else:
            room = self._post_full(_Ask(message, future))
            if room is not None:  # the ask giving up gives up its place too
                future.add_done_callback(lambda _: room.cancel())
            if future.done():
                return future
        limit = self.system.ask_timeout if timeout is None else timeout
        if limit != math.inf:
            self.system._deadlines.add(limit, future, self, message)
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

    def stop(self, ref: ActorRef | None = None, *, interrupt: bool = False) -> None:
        if ref is not None and ref != self.ref:
            target = self.system._resolve(ref)
            if target is not None:
                target.stop(interrupt=interrupt)
            return
        if interrupt:
            self.interrupt()
            return
        if self.phase < _STOPPING:
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
            if type(item) is _Ask:  # its future carries the MailboxFull to the asker
                return True
            raise MailboxFull(
                f"the mailbox of {self.path} is full ({self.mailbox.capacity} messages, "
                f"overflow=FAIL); the message {short(item)} is a dead letter. Slow the "
                "sender, raise the capacity, or pick another Overflow"
            )
        else:
            if waiting_allowed:
                return False
            self._undeliverable(item, DeadLetterReason.MAILBOX_FULL)
            raise MailboxFull(
                f"the mailbox of {self.path} is full ({self.mailbox.capacity} messages, "
                f"overflow=BLOCK) and ref.tell() never waits; the message {short(item)} is a "
                "dead letter. Use `await ref.send(message)` or free_tell(...) to wait for room"
            )
        return True

    def _undeliverable(self, item: object, reason: DeadLetterReason) -> None:
        if type(item) is _Ask:
            if not item.future.done():
                item.future.set_exception(undelivered_ask_error(self.path, item.message, reason))
            item = item.message
        self.system._dead_letter(item, self.path, reason)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def post_system(self, message: object) -> None:
        self.mailbox.system.append(message)
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
            try:  # on_start, inline: what the kernel's START decides, for every actor spawned
                started = self.instance.on_start()
            except BaseException as failure:
                if not is_failure(failure):
                    raise
                await self._perform(system._kernel.started(self, failure))
            else:
                if started is None:
                    commands = system._kernel.started(self, None)
                    if commands:
                        self._apply(commands)
                else:
                    await self._finish_start(started)
            box = self.mailbox
            system_queue = box.system
            user_queue = box.user
            while True:
                if system_queue:
                    if await self._handle_system(system_queue.popleft()):
                        return
                    continue
                if self.phase is not _RUNNING or not user_queue:
                    self.waiter = self.loop.create_future()
                    await self.waiter
                    continue
                # The hot loop: up to THROUGHPUT messages, inlined, awaiting only for a
                # receive that returned a program or an awaitable.
                receive = self.instance.receive
                handled = 0
                while user_queue and not system_queue and self.phase is _RUNNING:
                    item = self.current = user_queue.popleft()
                    if self.blocked:
                        self._admit_blocked()
                    if type(item) is _Ask:
                        message = item.message
                        future: asyncio.Future[Any] | None = item.future
                    else:
                        message = item
                        future = None
                    try:
                        result = receive(message)
                        if result is not None and type(result) not in _PLAIN:
                            self.in_program = True
                            try:
                                result = await self._complete(result)
                            finally:
                                self.in_program = False
                    except BaseException as error:
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
                        self.current = None
                        # a program's own Cancelled arrives as the CancelledError that carried
                        # it out of the program: the asker gets that, the supervisor the original
                        own = isinstance(error, asyncio.CancelledError) and isinstance(
                            error.__cause__, Cancelled
                        )
                        if future is not None and not future.done():
                            future.set_exception(
                                error if own else asker_error(self.path, message, error)
                            )
                        self._fail(error.__cause__ if own else error)  # type: ignore[arg-type]
                        break
                    self.current = None
                    if self.consecutive_restarts:
                        self.consecutive_restarts = 0
                    if future is not None:
                        if future.done():
                            system._dead_letter(result, self.path, DeadLetterReason.LATE_REPLY)
                        else:
                            future.set_result(result)
                    handled += 1
                    if handled >= THROUGHPUT:
                        await asyncio.sleep(0)
                        handled = 0
        except asyncio.CancelledError:
            self._abort()
            raise

    async def _finish_start(self, started: Any) -> None:
        """``on_start`` returned a program or an awaitable: finish it, then the kernel goes
        on."""
        error: BaseException | None = None
        try:
            await self._complete(started)
        except BaseException as failure:
            if not is_failure(failure) or (
                isinstance(failure, asyncio.CancelledError) and _being_cancelled()
            ):
                raise
            error = failure
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
            hook = self._apply(self.system._kernel.hook_done(self, error))

    def _apply(self, commands: list[Command]) -> RunHook | None:
        """Carry out every command but a hook to run, which is returned (the kernel asks for
        at most one, last, and only of the cell whose input it decided)."""
        system = self.system
        hook: RunHook | None = None
        for command in commands:
            kind = type(command)
            if kind is PostSystem:
                command.cell.post_system(command.message)  # type: ignore[union-attr]
            elif kind is Publish:
                if system._subscriptions:
                    system._publish(command.event)  # type: ignore[union-attr]
            elif kind is RunHook:
                hook = command  # type: ignore[assignment]
            elif kind is DrainMailbox:
                command.cell._drain(command.reason)  # type: ignore[union-attr]
            elif kind is NotifyWatcher:
                command.watcher._deliver_first(command.message)  # type: ignore[union-attr]
            elif kind is Gone:
                terminated = command.cell._terminated  # type: ignore[union-attr]
                if terminated is not None and not terminated.done():
                    terminated.set_result(None)
            elif kind is ContinueAfterChildren:  # in the parent's own task
                command.cell.post_system(command)  # type: ignore[union-attr]
            elif kind is PostSystemLater:
                target = command.cell  # type: ignore[union-attr]
                self.loop.call_later(command.delay, target.post_system, command.message)  # type: ignore[union-attr]
            elif kind is Escalate:
                system._escalate(command.error)  # type: ignore[union-attr]
            elif kind is Report:
                logger.error("%s", command.text, exc_info=command.error)  # type: ignore[union-attr]
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


_PLAIN: set[type] = {int, float, str, bytes, bool, tuple, list, dict, set, frozenset}


def _being_cancelled() -> bool:
    """Whether the running task itself has been asked to cancel (not an inner awaitable)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Deadlines:
    """Ask timeouts without a timer per ask (a timer handle costs more than the rest of an
    ask): one queue per timeout value, whose deadlines therefore arrive in order, and one timer
    per queue armed for its head. Answered asks leave the queue when they reach its head."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queues: dict[float, deque[tuple[float, asyncio.Future[Any], _Cell, object]]] = {}
        self.armed: dict[float, asyncio.TimerHandle] = {}
        self.compact_at: dict[float, int] = {}

    def add(self, limit: float, future: asyncio.Future[Any], cell: _Cell, message: object) -> None:
        queue = self.queues.get(limit)
        if queue is None:
            queue = self.queues[limit] = deque()
        while queue and queue[0][1].done():
            queue.popleft()
        if len(queue) >= self.compact_at.get(limit, 1024):
            # a slow ask at the head keeps answered ones behind it: drop those now and then
            queue = self.queues[limit] = deque(entry for entry in queue if not entry[1].done())
            self.compact_at[limit] = max(1024, 2 * len(queue))
        queue.append((self.loop.time() + limit, future, cell, message))
        if limit not in self.armed:
            self.armed[limit] = self.loop.call_at(queue[0][0], self.fire, limit)

    def fire(self, limit: float) -> None:
        del self.armed[limit]
        queue = self.queues[limit]
        now = self.loop.time()
        while queue and (queue[0][0] <= now or queue[0][1].done()):
            _, future, cell, message = queue.popleft()
            if not future.done():  # (what the target waited on itself, when it did)
                waits = describe_waits(cell)
                future.set_exception(ask_timeout_error(cell.path, message, limit, waits))
        if queue:
            self.armed[limit] = self.loop.call_at(queue[0][0], self.fire, limit)
        else:
            del self.queues[limit]
            self.compact_at.pop(limit, None)

    def close(self) -> None:
        for handle in self.armed.values():
            handle.cancel()
        self.armed.clear()


# -- the system -------------------------------------------------------------------------------


class ActorSystem:
    """A running actor system on the current event loop.

    >>> import asyncio
    >>> from playbill import Actor, ActorSystem, free_spawn, program
    >>> class Echo(Actor):
    ...     def receive(self, message):
    ...         return message
    >>> @program
    ... def main():
    ...     echo = yield free_spawn(Echo, name="echo")
    ...     return (yield echo.free_ask("hello"))
    >>> async def demo():
    ...     async with ActorSystem("app") as system:
    ...         first = await system.run(main())
    ...         second = await system.get_actor("/app/echo").ask("again")
    ...         return first, second
    >>> asyncio.run(demo())
    ('hello', 'again')
    """

    def __init__(
        self,
        name: str = "app",
        *,
        handlers: Handlers | None = None,
        supervision: SupervisionStrategy | None = None,
        ask_timeout: float = DEFAULT_ASK_TIMEOUT,
        dead_letter_limit: int = 10_000,
    ) -> None:
        self.name = check_name(name, "an actor system name")
        if not (isinstance(ask_timeout, int | float) and ask_timeout > 0):
            raise InvalidArgument(
                f"ask_timeout must be a positive number of seconds, got {ask_timeout!r}"
            )
        self.ask_timeout = float(ask_timeout)
        self.handlers = HandlerTable(handlers, interpreter="asyncio")
        self.dead_letters = DeadLetters(dead_letter_limit)
        self.failure: BaseException | None = None
        check_supervision(supervision)
        self._supervision = supervision if supervision is not None else OneForOne()
        self._subscriptions: set[EventSubscription] = set()
        self._uids = itertools.count(1)
        self.realm = new_realm()  # carried by every ref of this system's actors
        self._fiber_ids = itertools.count(1)
        self._names = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop
        self._deadlines: _Deadlines
        self._guardian: _Cell | None = None
        self._failed: asyncio.Future[None] | None = None
        self._failure_reported = False
        self._runs: set[asyncio.Task[Any]] = set()  # the programs system.run() performs
        # past the shutdown's grace, a program that swallows cancellation is abandoned
        self._abandoning = False
        self._kernel = Kernel(self)

    # -- the kernel's Environment ---------------------------------------------------------

    def event_time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        """Restart budgets count on the loop's clock, which a wall-clock jump cannot move."""
        return self._loop.time()

    def random(self) -> float:
        return _random.random()

    def publishing(self) -> bool:
        return bool(self._subscriptions)

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> ActorSystem:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()
        if self.failure is not None and not self._failure_reported:
            self._failure_reported = True
            raise ActorSystemFailed(
                f"a failure escalated to the root guardian of /{self.name} and stopped the "
                f"system: {self.failure!r}"
            ) from self.failure

    def start(self) -> None:
        """Start the root guardian on the running loop (``async with`` does it for you)."""
        if self._guardian is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._deadlines = _Deadlines(self._loop)
        self._failed = self._loop.create_future()
        guardian = _GuardianCell(self, None, f"/{self.name}", Guardian, None)
        guardian.instance = instantiate(Guardian, guardian)
        guardian.strategy = self._supervision
        self._guardian = guardian
        guardian.start()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every actor (children first, each one's ``on_stop``), waiting at most
        ``timeout`` seconds before cancelling what is left."""
        guardian = self._guardian
        if guardian is None or guardian.phase is _STOPPED:
            return
        deadline = self._loop.time() + timeout
        # the programs system.run() still performs are cancelled first (their finalisers run)
        runs = dict.fromkeys(self._runs, "a program started with system.run()")
        for run in runs:
            run.cancel()
        if runs:
            await asyncio.wait(runs, timeout=timeout)
        guardian.stop()
        left = max(0.0, deadline - self._loop.time())
        try:
            await asyncio.wait_for(asyncio.shield(guardian.terminated()), left)
        except TimeoutError:
            logger.error("shutdown of /%s took over %gs; cancelling actors", self.name, timeout)
            for cell in reversed(walk_cells(self._guardian)):  # children before parents
                # what each holds becomes a dead letter, and its asks and senders are released
                if cell.task is not None and not cell.task.done():
                    cell.task.cancel()
                    runs[cell.task] = f"the actor {cell.path}"
                else:
                    cell._abort()
        await self._abandon(runs)
        for subscription in list(self._subscriptions):
            subscription.close()
        self._deadlines.close()

    async def _abandon(self, tasks: dict[asyncio.Task[Any], str], grace: float = 1.0) -> None:
        """Wait ``grace`` seconds for the cancelled ``tasks``; those still running swallow
        their cancellation: they are cancelled again, and this time their programs get no
        chance to catch it (each is named in an error), so no task of the system remains."""
        pending = [task for task in tasks if not task.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            if still:
                self._abandoning = True
                for task in still:
                    logger.error(
                        "%s in /%s did not end when cancelled at shutdown (it catches "
                        "Cancelled and goes on); abandoned without its finalisers. Let "
                        "Cancelled propagate after cleaning up",
                        tasks[task],
                        self.name,
                    )
                    task.cancel()
                await asyncio.wait(still, timeout=grace)

    def _running_guardian(self) -> _Cell:
        guardian = self._guardian
        if guardian is None:
            raise PlaybillError(
                f"the actor system /{self.name} is not started; use `async with "
                f"ActorSystem(...) as system:` or call system.start() inside a running loop"
            )
        if guardian.phase >= _STOPPING:
            if self.failure is not None:
                raise ActorSystemFailed(
                    f"the actor system /{self.name} was stopped by a failure that escalated to "
                    f"its root: {self.failure!r}; see system.failure"
                ) from self.failure
            raise PlaybillError(
                f"the actor system /{self.name} is shut down; start a new ActorSystem"
            )
        return guardian

    # -- the public API -------------------------------------------------------------------

    async def run(self, program: Program[A]) -> A:
        """Perform ``program`` as the root: its spawns are top-level actors."""
        guardian = self._running_guardian()
        assert self._failed is not None
        task = self._loop.create_task(self._perform(program, None))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        watched: set[asyncio.Future[Any]] = {task, self._failed}
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:  # a cancelled run cancels its program (its finalisers run) and waits for it
            interrupted = not task.done()
            if interrupted:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if interrupted and self.failure is not None:
            self._failure_reported = True
            raise ActorSystemFailed(
                f"a failure escalated to the root guardian of {guardian.path} and stopped the "
                f"system while the program ran: {self.failure!r}"
            ) from self.failure
        return task.result()

    def spawn(
        self,
        actor: Callable[[], Any],
        name: str | None = None,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> ActorRef:
        """Start a top-level actor now and return its live ref."""
        return self._spawn(self._running_guardian(), actor, name, supervision, mailbox).ref

    def get_actor(self, path: str) -> ActorRef:
        """The live ref of the actor at ``path`` (``/app/parent/child``)."""
        guardian = self._running_guardian()
        if isinstance(path, str) and path and not path.startswith("/"):
            path = f"/{self.name}/{path}"  # relative: under the root guardian, as call() reads it
        segments = split_path(path)
        if not segments or segments[0] != self.name:
            raise ActorNotFound(f"{path} is not in the actor system /{self.name}")
        cell = guardian
        for segment in segments[1:]:
            found = cell.children_cells.get(segment)
            if found is None:
                raise ActorNotFound(
                    f"no actor at {path}: {cell.path} has no child named {segment!r} "
                    f"(children: {sorted(cell.children_cells) or 'none'})"
                )
            cell = found
        return cell.ref

    def events(self, buffer: int = 1000) -> EventSubscription:
        """Subscribe to the event stream: an async iterator that never blocks actors (past
        ``buffer`` events the oldest are dropped and counted)."""
        subscription = EventSubscription(self, buffer)
        self._subscriptions.add(subscription)
        return subscription

    # -- internals --------------------------------------------------------------------------

    def _publish(self, event: ActorEvent) -> None:
        for subscription in self._subscriptions:
            subscription._push(event)

    def _dead_letter(self, message: object, recipient: str, reason: DeadLetterReason) -> None:
        letter = DeadLetter(message, recipient, reason, time.time())
        self.dead_letters.record(letter)
        if self._subscriptions:
            self._publish(DeadLettered(recipient, letter.time, letter))

    def _escalate(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
            self._publish(Escalated(f"/{self.name}", time.time(), error))
            logger.error("a failure reached the root of /%s", self.name, exc_info=error)
            assert self._failed is not None
            if not self._failed.done():
                self._failed.set_result(None)
            guardian = self._guardian
            if guardian is not None:
                guardian.stop()

    def _spawn(
        self,
        parent: _Cell,
        actor: Callable[[], Any],
        name: str | None,
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
    ) -> _Cell:
        check_spawn(actor, supervision, mailbox)
        name = child_name(
            parent.path,
            parent.phase >= _STOPPING,
            parent.children_cells,
            name,
            lambda: next(self._names),
        )
        cell = _Cell(self, parent, child_path(parent.path, name), actor, mailbox)
        instance = cell.instance = instantiate(actor, cell)
        cell.strategy = strategy_for(instance, supervision)
        parent.children_cells[name] = cell
        cell.start()
        return cell

    def _resolve(self, ref: ActorRef) -> _Cell | None:
        binding = ref.binding
        if type(binding) is _Cell and binding.system is self:
            return binding
        if isinstance(binding, _Cell):  # the root guardian's, or another system's
            return binding if binding.system is self else None
        if binding is not None or self._guardian is None:
            return None
        found: _Cell | None = find_cell(self._guardian, self.name, ref.path, ref.uid, ref.realm)
        return found

    def _target(self, ref: object, where: str) -> _Cell | None:
        if not isinstance(ref, ActorRef):
            raise InvalidArgument(f"{where} takes an ActorRef, got {short(ref)}")
        return self._resolve(ref)

    # -- performing programs ------------------------------------------------------------------

    async def _perform(self, program: Program[A], cell: _Cell | None) -> A:
        result: A = await _Run(self, cell, main=True).perform(program)
        return result


class _Run:
    """One performance of one program (and the fibers it forks) on behalf of ``cell``."""

    __slots__ = ("cell", "fibers", "joined", "main", "system")

    def __init__(self, system: ActorSystem, cell: _Cell | None, main: bool = False) -> None:
        self.system = system
        self.cell = cell
        # whether it is the program of the cell's message or hook (not a fork of it): its
        # asks are what the cell waits on
        self.main = main and cell is not None
        self.fibers: dict[int, asyncio.Task[Any]] = {}
        self.joined: set[int] = set()

    async def perform(self, program: Program[A]) -> A:
        try:
            result: A = await self._drive(Machine(program))
            return result
        finally:
            if self.fibers:
                await self._cancel_fibers()

    async def _drive(self, machine: Machine) -> Any:
        system = self.system
        step = machine.start()
        swallowed_cancel = False
        waiting: _Cell | None = None  # the cell whose message waits on the ask under way
        while True:
            if type(step) is Next:
                effect: Any = step.effect
                kind = type(effect)
                if kind is Tell:
                    try:
                        target = system._target(effect.ref, "free_tell()")
                        if target is None:
                            system._dead_letter(
                                effect.message, effect.ref.path, DeadLetterReason.UNKNOWN
                            )
                            step = machine.resume(None)
                            continue
                        room = target._post(effect.message)
                    except Exception as error:
                        step = machine.throw(error)
                        continue
                    if room is None:  # queued (or a dead letter) at once: the hot path
                        step = machine.resume(None)
                        continue
                    pending: Awaitable[Any] = room
                elif kind is Ask:
                    target = effect.ref.binding
                    if type(target) is not _Cell or target.system is not system:
                        target = system._resolve(effect.ref)
                    if target is None:
                        system._dead_letter(
                            effect.message, effect.ref.path, DeadLetterReason.UNKNOWN
                        )
                        step = machine.throw(
                            ActorNotFound(
                                f"no actor at {effect.ref.path} to ask {short(effect.message)}"
                            )
                        )
                        continue
                    pending = target.ask(effect.message, effect.timeout)
                    if self.main:  # the wait-for graph an AskTimeout describes
                        waiting = self.cell
                        waiting.asking = (target, effect.message)  # type: ignore[union-attr]
                else:
                    try:
                        outcome = self._perform_effect(effect)
                    except Exception as error:
                        step = machine.throw(error)
                        continue
                    if type(outcome) is _Awaiting:
                        pending = outcome.awaitable
                    elif type(outcome) is _InPlace:
                        step = machine.resume_with(outcome.program)
                        continue
                    else:
                        step = machine.resume(outcome)
                        continue
                try:
                    value = await pending
                except asyncio.CancelledError:
                    if waiting is not None:
                        waiting.asking = None
                        waiting = None
                    if system._abandoning:  # it swallowed its cancellation once already
                        raise
                    swallowed_cancel = True
                    step = machine.throw(Cancelled())
                except Exception as error:
                    if waiting is not None:
                        waiting.asking = None
                        waiting = None
                    step = machine.throw(error)
                else:
                    if waiting is not None:
                        waiting.asking = None
                        waiting = None
                    step = machine.resume(value)
            elif type(step) is Done:
                if swallowed_cancel:  # the program caught Cancelled and went on
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        task.uncancel()
                return step.value
            else:
                failure = step.error
                if isinstance(failure, Cancelled):
                    raise asyncio.CancelledError from failure
                raise failure

    def _perform_effect(self, effect: Any) -> Any:
        system = self.system
        cell = self.cell
        kind = type(effect)
        handler = system.handlers.find(effect)
        if handler is not None:
            result = handler(effect)
            in_place = program_in_place(result)
            if in_place is not None:
                return _InPlace(in_place)
            if inspect.isawaitable(result):
                return _Awaiting(result)
            return result
        if kind is Spawn:
            parent = cell if cell is not None else system._running_guardian()
            return system._spawn(
                parent, effect.actor, effect.name, effect.supervision, effect.mailbox
            ).ref
        if kind is Stop:
            target = system._target(effect.ref, "free_stop()")
            if target is not None:
                if effect.interrupt and target is not cell:  # an actor never interrupts itself
                    target.interrupt()
                else:
                    target.stop()  # (forks of its own program run in tasks of their own)
            return None
        if kind is SelfRef:
            return self._need_actor("self_ref()").ref
        if kind is Watch:
            self._need_actor("watch()").watch(effect.ref)
            return None
        if kind is Emit:
            path = cell.path if cell is not None else f"/{system.name}"
            system._publish(Emitted(path, time.time(), effect.event))
            return None
        if kind is MaybeFault:  # fault points are inert outside the simulator
            return None
        if kind is Now:
            return time.time()
        if kind is Random:
            return _random.random()
        if kind is Sleep:
            return _Awaiting(asyncio.sleep(effect.seconds))
        if kind is Parallel:
            return _Awaiting(self._gather(effect.programs))
        if kind is Race:
            return _Awaiting(self._race(effect.programs))
        if kind is Timeout:
            return _Awaiting(self._timeout(effect.program, effect.seconds))
        if kind is Fork:
            fiber_id = next(system._fiber_ids)
            self.fibers[fiber_id] = system._loop.create_task(self._child(effect.program))
            return Fiber(fiber_id)
        if kind is Join:
            return _Awaiting(self._join(effect.fiber))
        if kind is CancelFiber:
            return _Awaiting(self._cancel(effect.fiber))
        raise UnhandledEffect(
            effect,
            "asyncio",
            f"ActorSystem(handlers={{{kind.__name__}: lambda effect: ...}}) or "
            f"playbill.run(program, handlers={{{kind.__name__}: ...}})",
        )

    def _need_actor(self, where: str) -> _Cell:
        if self.cell is None:
            raise InvalidArgument(
                f"{where} needs an actor, but this program runs at the root (system.run); "
                "run it inside an actor's receive, or spawn an actor to do it"
            )
        return self.cell

    async def _child(self, program: Program[Any]) -> Any:
        return await _Run(self.system, self.cell).perform(program)

    def _task(self, program: Program[Any]) -> asyncio.Task[Any]:
        return self.system._loop.create_task(self._child(program))

    async def _gather(self, programs: tuple[Program[Any], ...]) -> tuple[Any, ...]:
        if not programs:
            return ()
        tasks = [self._task(member) for member in programs]
        try:
            pending: set[asyncio.Task[Any]] = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:  # in program order, as the stub reports the first failure
                    if task in done and _failed(task):
                        raise _error_of(task)
            return tuple(task.result() for task in tasks)
        finally:
            await _cancel_all(tasks)

    async def _race(self, programs: tuple[Program[Any], ...]) -> Any:
        tasks = [self._task(member) for member in programs]
        try:
            pending: set[asyncio.Task[Any]] = set(tasks)
            last_error: BaseException | None = None
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    if task in done:
                        if not _failed(task):
                            return task.result()
                        last_error = _error_of(task)
            assert last_error is not None
            raise last_error
        finally:
            await _cancel_all(tasks)

    async def _timeout(self, program: Program[Any], seconds: float) -> Any:
        task = self._task(program)
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
            if not done:
                raise TimedOut(
                    f"program timed out after {seconds:g}s; raise the timeout or make the "
                    "program finish sooner"
                )
            if _failed(task):
                raise _error_of(task)
            return task.result()
        finally:
            await _cancel_all([task])

    def _fiber(self, handle: Fiber[Any]) -> asyncio.Task[Any]:
        task = self.fibers.get(handle.id)
        if task is None:
            raise InvalidArgument(
                f"{handle!r} was not forked in this run; join or cancel only the handles that "
                "fork() produced in the same program run"
            )
        return task

    async def _join(self, handle: Fiber[Any]) -> Any:
        # a run keeps its fibers until it ends, so a fiber can be joined more than once
        task = self._fiber(handle)
        self.joined.add(handle.id)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise FiberCancelled(
                    f"fiber {handle.id} was cancelled before it finished"
                ) from None
            raise

    async def _cancel(self, handle: Fiber[Any]) -> None:
        await _cancel_all([self._fiber(handle)])

    async def _cancel_fibers(self) -> None:
        tasks = list(self.fibers.values())
        await _cancel_all(tasks)
        for fiber_id, task in self.fibers.items():
            if fiber_id in self.joined:  # its failure reached whoever joined it
                continue
            if task.done() and not task.cancelled() and task.exception() is not None:
                error = task.exception()
                logger.error("a forked fiber failed and was never joined", exc_info=error)


@final
class _Awaiting:
    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable


@final
class _InPlace:
    __slots__ = ("program",)

    def __init__(self, program: Program[Any]) -> None:
        self.program = program


def _failed(task: asyncio.Task[Any]) -> bool:
    return task.cancelled() or task.exception() is not None


def _error_of(task: asyncio.Task[Any]) -> BaseException:
    """The failure of a finished member: its exception, or — when something other than this
    combinator cancelled it — a `FiberCancelled` (an error, not a cancellation of the caller)."""
    if task.cancelled():
        return FiberCancelled("a concurrent member was cancelled before it finished")
    error = task.exception()
    assert error is not None
    return error


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the unfinished tasks and wait until they (and their finalisers) are done."""
    unfinished = [task for task in tasks if not task.done()]
    for task in unfinished:
        task.cancel()
    if unfinished:
        await asyncio.wait(unfinished)


def run(
    program: Program[A],
    *,
    handlers: Handlers | None = None,
    name: str = "app",
    supervision: SupervisionStrategy | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
) -> A:
    """Perform ``program`` in a fresh `ActorSystem` on a new event loop and return its value.

    >>> from playbill import pure
    >>> run(pure(41).map(lambda x: x + 1))
    42
    """

    async def main() -> A:
        async with ActorSystem(
            name, handlers=handlers, supervision=supervision, ask_timeout=ask_timeout
        ) as system:
            return await system.run(program)

    return asyncio.run(main())
