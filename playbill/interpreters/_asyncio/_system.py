"""The `ActorSystem`: its lifecycle (start, shutdown that leaves no task behind), its public
API, dead letters, escalation, spawning and resolving refs; and the synchronous `run`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import itertools
import logging
import os
import random as _random
import time
from collections.abc import Awaitable, Callable, Container, Mapping
from functools import partial
from typing import Any, Literal, TypeVar, overload

from playbill.actors import (
    DEFAULT_ASK_TIMEOUT,
    ActorEvent,
    DeadLetter,
    DeadLettered,
    DeadLetterReason,
    DeadLetters,
    Escalated,
    MailboxPolicy,
    OneForOne,
    SupervisionStrategy,
    check_name,
    split_path,
)
from playbill.actors._failure_log import FailureLog
from playbill.actors._kernel import (
    Kernel,
)
from playbill.actors._named import get_or_spawn_cell
from playbill.actors._reports import short
from playbill.actors._spawning import Guardian, instantiate, new_realm
from playbill.actors._supervising import check_supervision
from playbill.actors._tree import find_cell, walk_cells
from playbill.actors._virtual import GrainBinding
from playbill.effects import (
    ActorNotFound,
    ActorRef,
    ActorSystemFailed,
    AwaitPromise,
    Blocking,
    Cancelled,
    CompletePromise,
    Done,
    EmitStamped,
    FailPromise,
    InvalidArgument,
    NewPromise,
    PlaybillError,
    Program,
    Promise,
    Spawn,
    Stop,
)
from playbill.effects._checks import check_count, check_path, check_seconds
from playbill.effects._handlers import Handlers, HandlerTable
from playbill.interpreters._asyncio._cell import (
    _STOPPED,
    _STOPPING,
    _Cell,
    _GuardianCell,
    _Unfinished,
)
from playbill.interpreters._asyncio._deadlines import _Deadlines
from playbill.interpreters._asyncio._events import EventSubscription
from playbill.interpreters._asyncio._recording import (
    RecordingSink,
    _RecordingCell,
    recording_handlers,
)
from playbill.interpreters._asyncio._run import _Run
from playbill.interpreters._asyncio._transport import Transport
from playbill.interpreters._recording_file import Recorder

A = TypeVar("A")

logger = logging.getLogger("playbill")

# -- the system -------------------------------------------------------------------------------

DEFAULT_BLOCKING_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""The default size of a system's thread pool for `blocking` calls: the standard library's
``ThreadPoolExecutor`` default."""


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
        blocking_threads: int = DEFAULT_BLOCKING_THREADS,
        transport: Transport | None = None,
        record: str | os.PathLike[str] | RecordingSink | None = None,
    ) -> None:
        self.name = check_name(name, "an actor system name")
        self._recorder = _open_recording(record)
        if transport is not None and not isinstance(transport, Transport):
            raise InvalidArgument(
                f"ActorSystem transport must be a Transport (such as playbill.distributed."
                f"RedisTransport(url)) or None, got {short(transport)}"
            )
        self.transport = transport
        self._transport_started = False
        # the bounded pool `blocking` calls run on: made on the first one, shut down with
        # the system
        self.blocking_threads = check_count(
            "ActorSystem blocking_threads", blocking_threads, minimum=1
        )
        self._blocking_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._blocking_calls: set[concurrent.futures.Future[Any]] = set()
        self.ask_timeout = check_seconds("ActorSystem ask_timeout", ask_timeout)
        if transport is not None:  # the user's handlers win over the transport's
            handlers = {**transport.handlers(), **(handlers if handlers is not None else {})}
        if self._recorder is not None:
            handlers = recording_handlers(_handler_map(handlers), self._recorder)
        self.handlers = HandlerTable(handlers, interpreter="asyncio")
        # no user handler takes a promise effect: `_Run` performs them inline
        unbound: Promise[None] = Promise(0)
        self._promises_inline = not any(
            self.handlers.find(effect) is not None
            for effect in (
                NewPromise(),
                CompletePromise(unbound, None),
                FailPromise(unbound, PlaybillError()),
                AwaitPromise(unbound),
            )
        )
        self.dead_letters = DeadLetters(
            check_count("ActorSystem dead_letter_limit", dead_letter_limit)
        )
        self.failure: BaseException | None = None
        self._failure_log = FailureLog()  # every actor failure, on the "playbill" logger
        check_supervision(supervision)
        self._supervision = supervision if supervision is not None else OneForOne()
        self._subscriptions: set[EventSubscription] = set()
        # given each ask's target path, message and reply future when telemetry times asks
        # (`Telemetry.attach(system, asks=True)`); None otherwise, so an ask pays one test
        self._ask_probe: Callable[[str, object, asyncio.Future[Any]], None] | None = None
        # what an emitted event is also given to: None, or an awaitable when the emitting
        # program must wait (the agent layer's bounded run streams push back this way)
        self._event_gate: Callable[[object], Awaitable[None] | None] | None = None
        # the run ids of the events the gate takes (the agent layer's runs; None: every
        # event), and whether a user handler takes emitted events: what `_Cell._unobserved`
        # reads to let an agent's task that nobody watches skip making its events
        self._event_runs: Container[object] | None = None
        self._emits_handled = self.handlers.find(EmitStamped(_stamp_only)) is not None
        # no user handler takes a spawn or a stop, and the cells are plain (not recording):
        # a child spawned and asked at once may start and answer inline (`_Run._spawn_then`)
        self._spawn_inline = self._recorder is None and not any(
            self.handlers.find(object.__new__(kind)) is not None for kind in (Spawn, Stop)
        )
        self._uids = itertools.count(1)
        self.realm = new_realm()  # carried by every ref of this system's actors
        # the ids `_Cell.fresh_id` gives: 48 of the realm's random bits, then a count
        self._id_prefix = f"{self.realm & (1 << 48) - 1:012x}-"
        self._ids = itertools.count(1)
        self._fiber_ids = itertools.count(1)
        self._promise_ids = itertools.count(1)
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
        self._fresh = self._names.__next__  # numbers the children spawned without a name
        self._inline_depth = 0  # children asked inline, one inside another (`INLINE_DEPTH`)
        self._new_cell = partial(_Cell, self)
        if self._recorder is not None:  # (an unrecorded system keeps the plain cell)
            self._new_cell = partial(_RecordingCell, self)  # type: ignore[assignment]
            self.random = self._recorded_random  # type: ignore[method-assign]

    # -- the kernel's Environment ---------------------------------------------------------

    def event_time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        """Restart budgets count on the loop's clock, which a wall-clock jump cannot move."""
        return self._loop.time()

    def random(self) -> float:
        return _random.random()

    def _recorded_random(self) -> float:
        value = _random.random()
        self._recorder.jitter(value)  # type: ignore[union-attr]
        return value

    def publishing(self) -> bool:
        return bool(self._subscriptions)

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> ActorSystem:
        self.start()
        if self.transport is not None and not self._transport_started:
            self._transport_started = True
            try:
                await self.transport.start(self)
            except BaseException:
                await self.shutdown()
                raise
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
        if self._recorder is not None:
            self._recorder.start(self.name)
        self._failed = self._loop.create_future()
        guardian = _GuardianCell(self, None, f"/{self.name}", Guardian, None)
        guardian.instance = instantiate(Guardian, guardian)
        guardian.strategy = self._supervision
        self._guardian = guardian
        guardian.start()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every actor (children first, each one's ``on_stop``), waiting at most
        ``timeout`` seconds before cancelling what is left."""
        check_seconds("ActorSystem.shutdown() timeout", timeout, infinite=False)
        if self._transport_started and self.transport is not None:
            # first: no message is taken from (or committed to) the transport any more
            self._transport_started = False
            await self.transport.close()
        guardian = self._guardian
        if guardian is None or guardian.phase is _STOPPED:
            await self._close_blocking_pool(timeout)  # (a system a failure stopped)
            if self._recorder is not None:
                self._recorder.close()
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
        await self._close_blocking_pool(max(0.0, deadline - self._loop.time()))
        for subscription in list(self._subscriptions):
            subscription.close()
        self._deadlines.close()
        if self._recorder is not None:
            self._recorder.close()

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

    @overload
    def get_or_spawn(
        self, path: str, actor: Callable[[], Any], *, durable: Literal[False] = False
    ) -> ActorRef: ...

    @overload
    def get_or_spawn(
        self, path: str, actor: Callable[[], Any], *, durable: Literal[True], **options: Any
    ) -> Awaitable[Any]: ...

    def get_or_spawn(
        self, path: str, actor: Callable[[], Any], *, durable: bool = False, **options: Any
    ) -> ActorRef | Awaitable[Any]:
        """The live ref of the actor at ``path`` (``"/app/cache"``, or relative to the root,
        ``"cache"``), spawned there from ``actor`` now when there is none: atomic within the
        system, so concurrent callers get the same actor, spawned once (the direct twin of
        `free_get_or_spawn`).

        With ``durable=True`` (awaited; a system with a transport): atomic **across the
        processes** sharing the transport — the path names one actor on the cluster, a
        durable actor, and nodes racing on it get the same ref while one of them runs it
        (``options``: ``supervision``, ``mailbox``); see
        `playbill.distributed.RedisTransport.get_or_spawn`.

        >>> import asyncio
        >>> from playbill import Actor, ActorSystem
        >>> class Cache(Actor):
        ...     def receive(self, message):
        ...         return message
        >>> async def main():
        ...     async with ActorSystem("app") as system:
        ...         first = system.get_or_spawn("cache", Cache)
        ...         return first == system.get_or_spawn("/app/cache", Cache)
        >>> asyncio.run(main())
        True
        """
        if durable is True:
            self._running_guardian()
            transport = self._require_transport("get_or_spawn(durable=True)")
            method = getattr(transport, "get_or_spawn", None)
            if method is None:
                raise InvalidArgument(
                    f"system.get_or_spawn(durable=True) needs a transport with get_or_spawn "
                    f"(such as playbill.distributed.RedisTransport), got {short(transport)}"
                )
            awaitable: Awaitable[Any] = method(path, actor, **options)
            return awaitable
        if durable is not False:
            raise InvalidArgument(
                f"get_or_spawn() durable must be True (one actor across the processes of a "
                f"transport) or False (this system's), got {short(durable)}"
            )
        if options:
            raise InvalidArgument(
                f"get_or_spawn() takes {', '.join(sorted(options))} only with durable=True "
                "(a durable actor's options); spawn the actor with system.spawn for them here"
            )
        guardian = self._running_guardian()
        cell: _Cell = get_or_spawn_cell(guardian, self.name, path, actor)
        return cell.ref

    def get_actor(self, path: str) -> ActorRef:
        """The live ref of the actor at ``path`` (``/app/parent/child``)."""
        check_path("get_actor() path", path, relative=True)
        guardian = self._running_guardian()
        if not path.startswith("/"):
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

    async def spawn_durable(self, actor: Callable[[], Any], id: str, **options: Any) -> Any:
        """Host the durable actor ``id`` on this node through the system's transport (its
        mailbox and its single owner live there) and return its location-transparent ref; see
        `playbill.distributed.RedisTransport.spawn_durable`. Without a transport it says how
        to add one:

        >>> import asyncio
        >>> from playbill import Actor, InvalidArgument
        >>> async def demo():
        ...     async with ActorSystem("app") as system:
        ...         try:
        ...             await system.spawn_durable(Actor, id="orders")
        ...         except InvalidArgument as error:
        ...             return "RedisTransport(url)" in str(error)
        >>> asyncio.run(demo())
        True
        """
        self._running_guardian()
        return await self._require_transport("spawn_durable").spawn_durable(actor, id, **options)

    async def get_or_spawn_durable(self, actor: Callable[[], Any], id: str, **options: Any) -> Any:
        """The ref of the durable actor ``id``, hosted on this node too if it is not yet
        (get-or-create, atomic across the processes sharing the transport: one incarnation,
        one owner); see `playbill.distributed.RedisTransport.get_or_spawn_durable`. A
        transport without it is refused with `InvalidArgument`, as is a system with none:

        >>> import asyncio
        >>> from playbill import Actor, InvalidArgument
        >>> async def demo():
        ...     async with ActorSystem("app") as system:
        ...         try:
        ...             await system.get_or_spawn_durable(Actor, id="cache")
        ...         except InvalidArgument as error:
        ...             return "RedisTransport(url)" in str(error)
        >>> asyncio.run(demo())
        True
        """
        self._running_guardian()
        transport = self._require_transport("get_or_spawn_durable")
        method = getattr(transport, "get_or_spawn_durable", None)
        if method is None:
            raise InvalidArgument(
                f"system.get_or_spawn_durable() needs a transport with get_or_spawn_durable "
                f"(such as playbill.distributed.RedisTransport), got {short(transport)}"
            )
        return await method(actor, id, **options)

    def remote(self, id: str, **options: Any) -> Any:
        """A ref to the durable actor ``id``, wherever it runs (or will run), through the
        system's transport; see `playbill.distributed.RedisTransport.remote`."""
        return self._require_transport("remote").remote(id, **options)

    def _require_transport(self, verb: str) -> Transport:
        transport = self.transport
        if transport is None:
            raise InvalidArgument(
                f"system.{verb}() needs a transport, and /{self.name} has none (transport="
                "None); create the system with ActorSystem(..., transport=RedisTransport(url)) "
                "from playbill.distributed (pip install 'playbill[redis]')"
            )
        if not self._transport_started:
            raise PlaybillError(
                f"system.{verb}() needs the transport started: use `async with "
                f"ActorSystem(..., transport=...) as system:` (system.start() alone does not "
                "start it), and not after shutdown"
            )
        return transport

    @property
    def children(self) -> tuple[ActorRef, ...]:
        """The live refs of the top-level actors (the root guardian's children), in start
        order; empty once the system is shut down."""
        guardian = self._guardian
        if guardian is None:
            return ()
        return tuple(cell.ref for cell in guardian.children_cells.values())

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

    def _live_cells(self) -> list[_Cell]:
        """Every live actor's cell, parents before children: what telemetry's probes read
        (mailbox depths, messages handled). Each level is copied at once, so it may run on a
        metric reader's thread while the loop spawns and stops actors."""
        guardian = self._guardian
        found: list[_Cell] = []
        if guardian is None:
            return found
        level = list(guardian.children_cells.values())
        while level:
            found.extend(level)
            level = [child for cell in level for child in list(cell.children_cells.values())]
        return found

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
        cell: _Cell = self._kernel.spawn(
            parent, actor, name, supervision, mailbox, self._fresh, self._new_cell
        )
        cell.start()
        return cell

    def _resolve(self, ref: ActorRef) -> _Cell | None:
        binding = ref.binding
        if type(binding) is _Cell and binding.system is self:
            return binding
        if isinstance(binding, _Cell):  # the root guardian's, or another system's
            return binding if binding.system is self else None
        if isinstance(binding, GrainBinding):  # a grain's ref (`grain_ref`): its incarnation
            return binding.resolve() if binding.directory.system is self else None
        if binding is not None or self._guardian is None:
            return None
        found: _Cell | None = find_cell(self._guardian, self.name, ref.path, ref.uid, ref.realm)
        return found

    def _target(self, ref: object, where: str) -> _Cell | None:
        if not isinstance(ref, ActorRef):
            raise InvalidArgument(f"{where} takes an ActorRef, got {short(ref)}")
        return self._resolve(ref)

    # -- blocking calls, on the thread pool ---------------------------------------------------

    def _call_blocking(self, effect: Blocking) -> asyncio.Future[Any]:
        """Run ``effect``'s call on the pool; the future the program waits on. Cancelling it
        (the program was cancelled) drops a call not yet started; a running one finishes in
        its thread and its result is dropped."""
        pool = self._blocking_pool
        if pool is None:
            self._running_guardian()  # a shut-down system takes no new calls
            pool = self._blocking_pool = concurrent.futures.ThreadPoolExecutor(
                self.blocking_threads, thread_name_prefix=f"playbill-{self.name}-blocking"
            )
        function, args, kwargs = effect.function, effect.args, dict(effect.kwargs)
        context = contextvars.copy_context()  # as asyncio.to_thread does
        call = pool.submit(context.run, function, *args, **kwargs)
        calls = self._blocking_calls
        calls.add(call)
        call.add_done_callback(calls.discard)
        return asyncio.wrap_future(call, loop=self._loop)

    async def _close_blocking_pool(self, timeout: float) -> None:
        """Shut the pool down: calls not started are dropped; those running get what is
        left of the shutdown's timeout to finish, then are left to end in their threads."""
        pool = self._blocking_pool
        if pool is None:
            return
        # (copied at once: a finished call removes itself from its worker thread)
        calls = tuple(self._blocking_calls)
        running = [asyncio.wrap_future(call, loop=self._loop) for call in calls]
        pool.shutdown(wait=False, cancel_futures=True)
        if running:
            _, still = await asyncio.wait(running, timeout=timeout)
            if still:
                logger.error(
                    "%d blocking call(s) of /%s still ran at shutdown; their threads finish "
                    "in the background and their results are dropped",
                    len(still),
                    self.name,
                )
            for waiter in running:  # nobody reads their outcome any more
                if waiter.done() and not waiter.cancelled():
                    waiter.exception()

    # -- performing programs ------------------------------------------------------------------

    async def _perform(self, program: Program[A], cell: _Cell | None) -> A:
        result: A = await _Run(self, cell, main=True).perform(program)
        return result

    def _perform_now(self, program: Program[Any], cell: _Cell) -> Any:
        """The outcome of ``cell``'s ``program`` when it ends without waiting (its value, or
        its failure raised as `_perform` would raise it), with no coroutine made; otherwise
        a coroutine finishing it, for the cell to await (`_Unfinished`)."""
        run = _Run(self, cell, main=True)
        machine, step, pending = run.begin(program)
        if pending is None and not run.fibers:
            if type(step) is Done:
                return step.value
            failure = step.error  # type: ignore[union-attr]
            if isinstance(failure, Cancelled):
                raise asyncio.CancelledError from failure
            raise failure
        return _Unfinished(run.finish(machine, step, pending))


def _stamp_only(time: float) -> float:
    return time


def _open_recording(record: object) -> RecordingSink | None:
    if record is None:
        return None
    if isinstance(record, (str, os.PathLike)):
        return Recorder(record)
    if isinstance(record, RecordingSink):
        return record
    raise InvalidArgument(
        f"ActorSystem record must be a file path (str or os.PathLike) to write the recording "
        f"to, a Recorder, or None, got {short(record)}"
    )


def _handler_map(handlers: object) -> dict[type[Any], Any]:
    if handlers is None:
        return {}
    if not isinstance(handlers, Mapping):
        HandlerTable(handlers, interpreter="asyncio")  # type: ignore[arg-type]  # (refuses it)
    found: dict[type[Any], Any] = dict(handlers)  # type: ignore[call-overload]
    return found


def run(
    program: Program[A],
    *,
    handlers: Handlers | None = None,
    name: str = "app",
    supervision: SupervisionStrategy | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
    blocking_threads: int = DEFAULT_BLOCKING_THREADS,
    record: str | os.PathLike[str] | RecordingSink | None = None,
) -> A:
    """Perform ``program`` in a fresh `ActorSystem` on a new event loop and return its value.

    >>> from playbill import pure
    >>> run(pure(41).map(lambda x: x + 1))
    42
    """

    async def main() -> A:
        async with ActorSystem(
            name,
            handlers=handlers,
            supervision=supervision,
            ask_timeout=ask_timeout,
            blocking_threads=blocking_threads,
            record=record,
        ) as system:
            return await system.run(program)

    return asyncio.run(main())
