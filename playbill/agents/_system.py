"""`AgentSystem`: runs of agents on asyncio that you watch as a bounded stream of events,
abort, or stream one task of; each run scoped by its run id."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Generic, TypeVar, final

import attrs

from playbill.actors import DEFAULT_ASK_TIMEOUT, SupervisionStrategy, check_name
from playbill.actors._reports import short
from playbill.actors._tree import find_cell, list_live, walk_cells
from playbill.actors._virtual import Grain, GrainBinding
from playbill.agents._agent import AgentActor, agent_class
from playbill.agents._cards import AgentListing, _check_skill, listings
from playbill.agents._values import (
    StreamEvent,
    StreamResult,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskResult,
    TaskStatus,
    _StreamEventSlots,
    new_stream_event,
)
from playbill.effects import ActorRef, ActorStopped, AskTimeout, InvalidArgument, ProgramError
from playbill.effects._checks import check_count, check_seconds
from playbill.effects._handlers import Handlers
from playbill.effects._vocabulary import _check_timeout
from playbill.interpreters import ActorSystem
from playbill.interpreters._asyncio._cell import _Cell
from playbill.interpreters._asyncio._system import DEFAULT_BLOCKING_THREADS

__all__ = ["AgentRun", "AgentSystem", "TaskStream"]

O = TypeVar("O")  # noqa: E741

_new = object.__new__


_CHUNK = TaskEventKind.CHUNK
_COMPLETED = TaskEventKind.COMPLETED
_FAILED = TaskEventKind.FAILED
_CANCELLED = TaskEventKind.CANCELLED


class _Channel:
    """One run's events between the agents that publish them and the one consumer: bounded,
    pushing back on the publishers, never dropping an event while the consumer reads."""

    __slots__ = ("ended", "events", "left", "limit", "loop", "reader", "unbounded", "writers")

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        self.events: deque[TaskEvent] = deque()
        self.limit = limit
        self.loop = loop
        self.reader: asyncio.Future[None] | None = None
        self.writers: deque[asyncio.Future[None]] = deque()
        self.ended = False  # no event comes any more: the run is over
        self.left = False  # the consumer left: what comes is not kept
        self.unbounded = False  # the run is being cancelled: its last events never wait

    def offer(self, event: TaskEvent) -> asyncio.Future[None] | None:
        """Keep ``event``; a future to wait on while the buffer is over its limit."""
        if self.left:
            return None
        self.events.append(event)
        if self.reader is not None:
            self.wake()
        if len(self.events) > self.limit and not self.unbounded:
            return self.wait()
        return None

    def wake(self) -> None:
        """Wake the consumer waiting for an event."""
        reader = self.reader
        self.reader = None
        if reader is not None and not reader.done():
            reader.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """A future for a publisher to wait on until the consumer makes room."""
        room = self.loop.create_future()
        self.writers.append(room)
        return room

    def release(self, everyone: bool = False) -> None:
        writers = self.writers
        while writers and (everyone or len(self.events) <= self.limit):
            room = writers.popleft()
            if not room.done():
                room.set_result(None)

    def end(self) -> None:
        self.ended = True
        self.release(everyone=True)
        reader = self.reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    def leave(self) -> None:
        self.left = True
        self.events.clear()
        self.release(everyone=True)

    def take(self) -> TaskEvent | None:
        """The next event if one is kept (no waiting), else ``None``."""
        events = self.events
        if not events:
            return None
        event = events.popleft()
        if self.writers:
            self.release()
        return event

    async def next(self, run_id: str) -> TaskEvent | None:
        """The next event, or ``None`` once the run is over and every event was read. A run
        has one consumer: a second one waiting at the same time is refused."""
        while not self.events:
            if self.ended or self.left:
                return None
            waiting = self.reader
            if waiting is not None and not waiting.done():
                raise InvalidArgument(
                    f"the run {run_id!r} already has a consumer waiting for its next event; "
                    "a run's events go to one consumer (each event is read once), so read it "
                    "from one task and hand the events on from there"
                )
            self.reader = self.loop.create_future()
            await self.reader
        event = self.events.popleft()
        if self.writers:
            self.release()
        return event


class _Run:
    """One run: its channel, the task that drives it, and how it ended."""

    def __init__(
        self,
        system: AgentSystem,
        run_id: str,
        task: Task[Any],
        buffer: int,
        timeout: float,
        agent: type | None,
        target: ActorRef | None,
    ) -> None:
        self.system = system
        self.run_id = run_id
        self.task = task
        self.timeout = timeout
        self.channel = _Channel(buffer, system.actors._loop)
        self.status = TaskStatus.PENDING
        self.result: TaskResult[Any] | None = None
        self.root: ActorRef | None = None
        self.cancelling = False
        self.root_ended = False  # the root published its terminal event
        self.timed_out: BaseException | None = None  # the root's deadline passed mid-task
        self.held: TaskEvent | None = None  # the root's 'cancelled', once it timed out
        self.gone = False  # the ephemeral root terminated
        self.reply: Awaitable[Any]
        actors = system.actors
        if agent is not None:  # an ephemeral root: spawned now, so a bad agent fails here
            cell = actors._spawn(actors._running_guardian(), agent, f"run-{run_id}", None, None)
            self.root = cell.ref
            self.ephemeral = True
            # the task is sent now, so the root takes it on the loop's next turn (its
            # timeout checked by `run`); then it stops by itself, its last step
            self.reply = cell.ask(task, timeout)
            cell._retire(cell)
            # and the run ends as it terminates, in that same turn: the consumer woken by
            # its first event then reads every event and the end at once
            cell.on_gone = self._root_gone
        else:
            self.root = target
            self.ephemeral = False
            assert target is not None
            # a refusal (a ref that is not live) is the run's failure, as any other
            try:
                self.reply = target.ask(task, self.timeout)
            except Exception as error:
                refused = actors._loop.create_future()
                refused.set_exception(error)
                self.reply = refused
        # done once the run is over: its outcome settled and its actors gone
        self.driver: asyncio.Future[None] = system.actors._loop.create_future()
        self.settled = False
        asyncio.ensure_future(self.reply, loop=system.actors._loop).add_done_callback(self._replied)

    def task_path(self) -> str:
        root = self.root
        return root.path if root is not None else "?"

    def offer(self, event: TaskEvent) -> asyncio.Future[None] | None:
        if event.task_id == self.task.id:
            if self.status is TaskStatus.PENDING:
                self.status = TaskStatus.RUNNING
            kind = event.kind
            if kind is _COMPLETED or kind is _FAILED or kind is _CANCELLED:  # (terminal)
                if self.timed_out is not None and event.agent_path == self.task_path():
                    # the root timed out: its 'cancelled' becomes a 'failed' carrying the
                    # timeout, published once its children's last events are
                    self.held = event
                    return None
                self.root_ended = True
        return self.channel.offer(event)

    def _replied(self, reply: asyncio.Future[Any]) -> None:
        """The root answered (or failed, or the ask was cancelled): the run's outcome."""
        if reply.cancelled():
            self._settle(None, asyncio.CancelledError())
            return
        error = reply.exception()
        self._settle(reply.result() if error is None else None, error)

    def _root_gone(self) -> None:
        """The ephemeral root terminated (its answer given, or failed): the run ends now,
        rather than once the reply's callback runs on the loop's next turn."""
        self.gone = True
        reply = self.reply
        if isinstance(reply, asyncio.Future) and reply.done():
            self._replied(reply)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        """Record how the root task ended, then end the run once its actors are gone."""
        if self.settled:
            return
        self.settled = True
        root = self.root
        assert root is not None
        task_id = self.task.id
        assert task_id is not None
        if error is None and type(result) is not TaskResult:  # not an agent's answer
            error = ProgramError(
                f"the target {root.path} of the run {self.run_id!r} is not an agent: it "
                f"answered the Task with {short(result)} rather than a TaskResult"
            )
        if error is None:
            self.result = result
            self.status = TaskStatus.COMPLETED
        elif isinstance(error, (asyncio.CancelledError, ActorStopped)):
            if not self.cancelling and isinstance(error, ActorStopped):
                self.result = TaskResult(task_id, TaskStatus.FAILED, error=error)
                self.status = TaskStatus.FAILED
            else:
                self.result = TaskResult(task_id, TaskStatus.CANCELLED)
                self.status = TaskStatus.CANCELLED
        else:
            if isinstance(error, AskTimeout) and self.ephemeral and not self.root_ended:
                # the root's deadline passed while it worked: it is stopped below, and the
                # run's last events never wait for room
                self.timed_out = error
                self.channel.unbounded = True
                self.channel.release(everyone=True)
            self.result = TaskResult(task_id, TaskStatus.FAILED, error=error)
            self.status = TaskStatus.FAILED
        if self.ephemeral and not self.gone:  # its whole tree is gone before the stream ends
            root.stop(interrupt=True)
            cell = self.system.actors._resolve(root)
            if cell is not None:
                terminated = cell.terminated()
                if not terminated.done():
                    terminated.add_done_callback(self._end)
                    return
        self._end()

    def _end(self, _: object = None) -> None:
        held = self.held
        if held is not None:  # a root that timed out failed with the timeout, last
            self.held = None
            self.channel.offer(attrs.evolve(held, kind=TaskEventKind.FAILED, data=self.timed_out))
        self.system._runs.pop(self.run_id, None)
        self.channel.end()
        if not self.driver.done():
            self.driver.set_result(None)

    def cancel(self) -> None:
        """Cancel the work in flight now: the root's ``execute`` is interrupted (its children
        with it); the events this publishes never wait for the consumer. A live agent's task
        is not interrupted (that would stop the agent): only `shutdown` cancels such a run,
        as it stops every agent."""
        if self.driver.done() or self.cancelling:
            return
        self.cancelling = True
        self.channel.unbounded = True
        self.channel.release(everyone=True)
        root = self.root
        if root is not None:
            if self.ephemeral:
                root.stop(interrupt=True)
            else:  # a long-lived agent keeps its task; the run stops waiting for it
                self._settle(None, asyncio.CancelledError())

    def leave(self) -> None:
        """The consumer is gone: keep nothing more, and cancel an ephemeral root. A live
        agent finishes its task unobserved, and the run's status then says how it ended."""
        self.channel.leave()
        if self.ephemeral:
            self.cancel()


class _Stream:
    """What `AgentRun` and `TaskStream` share: iteration, closing, cleanup."""

    _run: _Run

    @property
    def run_id(self) -> str:
        """The id that scopes this run's events."""
        return self._run.run_id

    @property
    def status(self) -> TaskStatus:
        """The root task's status: pending, running, then completed, failed or cancelled."""
        return self._run.status

    @property
    def result(self) -> TaskResult[Any] | None:
        """How the root task ended (``None`` while it runs)."""
        return self._run.result

    async def aclose(self) -> None:
        """Stop reading: cancel the run if it is still going and wait until its actors are
        gone (what it still publishes is not kept). An `ask_stream` of a live agent is not
        cancelled: the agent finishes the task unobserved, and ``status`` then says how."""
        run = self._run
        run.leave()
        if run.ephemeral:
            await asyncio.shield(run.driver)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        run = getattr(self, "_run", None)
        if run is not None and not run.driver.done():
            # the consumer dropped the stream (an early break): cancel the run, unless the
            # loop is already closed
            with contextlib.suppress(RuntimeError):
                run.leave()


@final
class AgentRun(_Stream):
    """A run of an agent, as an async iterator over every `TaskEvent` of its tree (see
    `AgentSystem.run`). The root's ``completed`` event, the last, carries the output;
    ``result`` holds the `TaskResult`. A failed root's error is raised after its events."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def __aiter__(self) -> AsyncIterator[TaskEvent]:
        return self

    async def __anext__(self) -> TaskEvent:
        run = self._run
        event = run.channel.take()  # one kept already: no coroutine to wait on
        if event is None:
            event = await run.channel.next(run.run_id)
        if event is not None:
            return event
        driver = run.driver
        if not driver.done():  # (done, as it mostly is by now: nothing to wait for)
            await asyncio.shield(driver)
        result = run.result
        if result is not None and result.status is TaskStatus.FAILED and not run.channel.left:
            run.channel.left = True  # raised once
            assert result.error is not None
            raise result.error
        raise StopAsyncIteration

    async def __aenter__(self) -> AgentRun:
        return self


@final
class TaskStream(_Stream, Generic[O]):
    """One task as an async iterator: a `StreamEvent` per event of it and of the tasks it
    sends, then one `StreamResult` (see `AgentSystem.ask_stream`)."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._done = False
        # the channel's queues, read by every item: the events kept, the publishers waiting
        self._events = run.channel.events
        self._writers = run.channel.writers

    def __aiter__(self) -> AsyncIterator[StreamEvent | StreamResult[O]]:
        return self

    async def __anext__(self) -> StreamEvent | StreamResult[O]:
        events = self._events
        if events and not self._writers:  # one kept already, nobody to let in: the usual
            # (built as `new_stream_event` does, inline: one is made per event)
            item = _StreamEventSlots()
            item.event = events.popleft()
            item.__class__ = StreamEvent
            return item  # type: ignore[return-value]  # (a StreamEvent now)
        return await self._wait()

    async def _wait(self) -> StreamEvent | StreamResult[O]:
        """The next item when none is kept, or a publisher waits for room."""
        if self._done:
            raise StopAsyncIteration
        run = self._run
        channel = run.channel
        event = channel.take()  # (lets a waiting publisher in)
        if event is None:
            event = await channel.next(run.run_id)
        if event is not None:
            return new_stream_event(event)
        if run.channel.left:  # left early: nothing more, even while a live agent works on
            self._done = True
            raise StopAsyncIteration
        await asyncio.shield(run.driver)
        self._done = True
        assert run.result is not None
        return StreamResult(run.result)

    async def __aenter__(self) -> TaskStream[O]:
        return self


class AgentSystem:
    """An actor system for agents: start runs you watch as streams of events, and abort.

    ``buffer`` bounds each run's stream: past it, the agents publishing events wait for the
    consumer (backpressure), so nothing is dropped and nothing grows without bound. Every other
    option is the `ActorSystem`'s, which ``actors`` is: ``blocking_threads`` bounds the thread
    pool that agents' `playbill.blocking` calls run on.

    >>> import asyncio
    >>> from playbill import program
    >>> from playbill.agents import AgentActor, AgentSystem
    >>> class Writer(AgentActor[str, list]):
    ...     @program
    ...     def execute(self, prompt):
    ...         for word in prompt.split():
    ...             yield self.chunk(word)
    ...         return prompt.split()
    >>> async def main():
    ...     async with AgentSystem("app") as system:
    ...         return [event.kind.value async for event in system.run(Writer, "a b")]
    >>> asyncio.run(main())
    ['started', 'chunk', 'chunk', 'completed']
    """

    def __init__(
        self,
        name: str = "app",
        *,
        buffer: int = 1000,
        handlers: Handlers | None = None,
        supervision: SupervisionStrategy | None = None,
        ask_timeout: float = DEFAULT_ASK_TIMEOUT,
        blocking_threads: int = DEFAULT_BLOCKING_THREADS,
    ) -> None:
        self.buffer = check_count("AgentSystem buffer", buffer, minimum=1)
        self.actors = ActorSystem(
            name,
            handlers=handlers,
            supervision=supervision,
            ask_timeout=ask_timeout,
            blocking_threads=check_count(
                "AgentSystem blocking_threads", blocking_threads, minimum=1
            ),
        )
        self._runs: dict[str, _Run] = {}

    async def __aenter__(self) -> AgentSystem:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()
        await self.actors.__aexit__(*exc_info)

    def start(self) -> None:
        """Start the actor system on the running loop (``async with`` does it for you)."""
        self.actors.start()
        self.actors._event_gate = self._route
        self.actors._event_runs = self._runs  # a task of no run here publishes to nobody

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every run still going, then stop every actor."""
        check_seconds("AgentSystem.shutdown() timeout", timeout, infinite=False)
        runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        if runs:
            await asyncio.wait([run.driver for run in runs], timeout=timeout)
        await self.actors.shutdown(timeout)

    @property
    def running(self) -> tuple[str, ...]:
        """The ids of the runs still going."""
        return tuple(self._runs)

    def run(
        self,
        agent: object,
        input: object,
        *,
        run_id: str | None = None,
        buffer: int | None = None,
        timeout: float = math.inf,
    ) -> AgentRun:
        """Start a run of ``agent`` on ``input`` now: an ephemeral top-level actor
        ``run-<run_id>`` performs the root task, and the `AgentRun` yields every event of the
        tree, in the order they were published, ending with the root's last.

        A completed run ends the iteration (``run.result`` holds the output); a failed one
        raises the root's error after its events; a cancelled one (`abort`, `shutdown`) ends
        after its ``cancelled`` events. When the stream ends, every actor of the run is gone.
        Leaving early — ``break``, ``aclose()``, or ``async with`` — cancels the run.

        ``buffer`` (the system's by default) bounds the events waiting for the consumer;
        past it the agents wait for it to read. ``timeout`` bounds the root task.
        """
        factory = agent_class(agent, "AgentSystem.run()")
        run_id = self._new_run_id(run_id, "AgentSystem.run()")
        self._check_root_name(run_id, "AgentSystem.run()")
        task = Task(input, id=run_id, run_id=run_id)
        limit = _timeout("AgentSystem.run()", timeout)
        run = _Run(self, run_id, task, self._buffer(buffer), limit, factory, None)
        self._runs[run_id] = run
        return AgentRun(run)

    def ask_stream(
        self,
        target: object,
        task: object,
        *,
        buffer: int | None = None,
        timeout: float = math.inf,
    ) -> TaskStream[Any]:
        """Send ``task`` (a `Task`, or an input to wrap in one) to ``target`` and stream it: a
        `StreamEvent` for each event of the task and of the tasks it sends, then a
        `StreamResult` whose status is completed, failed (with the error) or cancelled.

        ``target`` is the `ActorRef` of a live agent, or an agent (class or function) to run
        as an ephemeral actor, stopped when the stream ends. Leaving early cancels: an
        ephemeral agent is stopped; a live agent finishes its task unobserved.

        ``target`` may be a grain's ref (`playbill.actors.grain_ref`) whose class is both a
        `Grain` and an `AgentActor`: the task goes to the grain's live incarnation (activated
        now when none is, its state loaded), which streams it as any live agent does, and
        keeps its ``state`` across deactivations. A grain that is not an agent is refused
        with `InvalidArgument`.

        >>> import asyncio
        >>> from playbill import program
        >>> from playbill.actors import Grain, VirtualActors, grain_ref
        >>> class Notes(Grain, AgentActor[str, list]):
        ...     def initial_state(self):
        ...         return []
        ...     @program
        ...     def execute(self, note):
        ...         yield self.chunk(note)
        ...         self.state.append(note)
        ...         return self.state
        >>> async def main():
        ...     async with AgentSystem("app") as system:
        ...         notes = system.actors.spawn(VirtualActors(Notes, key=str), "notes")
        ...         alice = grain_ref(notes, "alice")
        ...         await alice.ask(Task("hello"))
        ...         return [item async for item in system.ask_stream(alice, Task("again"))]
        >>> *events, last = asyncio.run(main())
        >>> [item.event.kind.value for item in events], last.result.output
        (['started', 'chunk', 'completed'], ['hello', 'again'])
        """
        if not isinstance(task, Task):
            task = Task(task)
        run_id = self._new_run_id(task.run_id, "ask_stream()")
        task_id = task.id if task.id is not None else run_id
        task = Task(task.input, task_id, run_id, task.parent, task.forward_chunks)
        limit = _timeout("AgentSystem.ask_stream()", timeout)
        if isinstance(target, ActorRef):
            self._check_agent_ref(target)
            run = _Run(self, run_id, task, self._buffer(buffer), limit, None, target)
        else:
            factory = agent_class(target, "ask_stream()")
            self._check_root_name(run_id, "ask_stream()")
            run = _Run(self, run_id, task, self._buffer(buffer), limit, factory, None)
        self._runs[run_id] = run
        return TaskStream(run)

    async def abort(self, run_id: str) -> bool:
        """Cancel the run ``run_id`` now — the ``execute`` in flight is interrupted, and with
        it every task it sent — and wait until its actors are gone; its stream then ends
        after the ``cancelled`` events. False if no such run is going.

        An `ask_stream` of a live agent (a ref) is refused with `InvalidArgument`: its task
        cannot be interrupted without stopping the agent, so abort would claim a cancellation
        that did not happen. Leave such a stream instead (``aclose()``)."""
        check_name(run_id, "AgentSystem.abort() run_id")
        run = self._runs.get(run_id)
        if run is None:
            return False
        if not run.ephemeral:
            raise InvalidArgument(
                f"abort() cannot cancel the run {run_id!r}: it streams a task of the live "
                f"agent {run.task_path()}, whose execute abort cannot interrupt without "
                "stopping the agent; leave the stream (aclose(), or break) to stop watching "
                "it, or stream an ephemeral agent (ask_stream(AgentClass, task)), which abort "
                "cancels"
            )
        run.cancel()
        current = asyncio.current_task()
        if current is not None and self._runs_within(run, current):
            # an agent of the run aborts it: its own execute is cancelled too, as the rest of
            # the run is (an actor never interrupts itself, and waiting for the run's actors
            # to go would wait for this one)
            current.cancel()
            await asyncio.sleep(0)
        await asyncio.shield(run.driver)
        return True

    def find_agents(self, skill: str | None = None) -> tuple[AgentListing, ...]:
        """The live agents offering ``skill`` (every live agent when ``None``), in tree order
        (parents first, siblings in start order), each with its ref and `AgentCard`: the
        long-lived ones `spawn` started and those running tasks now. Inside a program, the
        `find_agents` program does the same under any interpreter."""
        wanted = _check_skill("AgentSystem.find_agents()", skill)
        return listings(list_live(self.actors._running_guardian()), wanted)

    def spawn(self, agent: object, name: str | None = None) -> ActorRef:
        """Start a long-lived top-level agent now (to `ask_stream` or ask ``Task``\\ s)."""
        return self.actors.spawn(agent_class(agent, "AgentSystem.spawn()"), name)

    # -- internals ------------------------------------------------------------------------

    def _runs_within(self, run: _Run, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` is the task of one of ``run``'s actors."""
        actors, ref = self.actors, run.root
        if ref is None:
            return False
        root = find_cell(actors._guardian, actors.name, ref.path, ref.uid)
        return root is not None and any(cell.task is task for cell in walk_cells(root))

    def _check_root_name(self, run_id: str, where: str) -> None:
        """Refuse a run id whose root actor's name, ``run-<run_id>``, a live top-level actor
        already has (one the user spawned)."""
        name = f"run-{run_id}"
        child = self.actors._running_guardian().children_cells.get(name)
        if child is not None:
            raise InvalidArgument(
                f"{where} run_id {run_id!r} would name the run's root actor {name!r}, "
                f"but {child.path} is already a live actor of that name; give another "
                "run_id (or leave it out for a fresh one)"
            )

    def _check_agent_ref(self, target: ActorRef) -> None:
        """Refuse a live actor that is not an agent: it would not answer a `Task` with a
        `TaskResult` nor publish its events (one that is gone fails the stream as a refusal).
        A grain's ref (`grain_ref`) stands for its live incarnation, activated here when none
        is — unless its directory builds grains of a class that is not an agent, refused
        before anything is activated; while its directory is stopping, the stream fails as
        one to an actor that is gone does."""
        binding = target.binding
        system = (
            binding.system
            if isinstance(binding, _Cell)
            else binding.directory.system
            if isinstance(binding, GrainBinding)
            else None
        )
        if system is not None and system is not self.actors:
            raise InvalidArgument(
                f"ask_stream() target {target.path} is an actor of another actor system "
                f"({getattr(system, 'name', '?')!r}, not this AgentSystem's "
                f"{self.actors.name!r}): its events are published there, so this stream "
                "would see none; stream it with the AgentSystem that spawned it"
            )
        if isinstance(binding, GrainBinding):
            built = binding.directory.routing.spec.grain
            if isinstance(built, type) and not issubclass(built, AgentActor):
                raise _not_an_agent_grain(target, built)
        cell = self.actors._resolve(target)
        if cell is None:
            return
        if isinstance(binding, GrainBinding) and cell is binding.directory:
            return  # its directory is stopping: the task is its dead letter, the stream fails
        instance = cell.instance
        if instance is None or isinstance(instance, AgentActor):
            return
        if isinstance(instance, Grain):
            raise _not_an_agent_grain(target, type(instance))
        raise InvalidArgument(
            f"ask_stream() target {target.path} is not an agent: it is a "
            f"{type(instance).__qualname__}, a plain actor, which neither performs Tasks nor "
            "publishes their events; ask it with ref.ask(message), or spawn an agent (an "
            "AgentActor subclass, a class with execute(self, input), or a function)"
        )

    def _route(self, event: object) -> asyncio.Future[None] | None:
        if type(event) is TaskEvent:
            run = self._runs.get(event.run_id)  # type: ignore[arg-type]  # (None: no run)
            if run is not None:
                if event.kind is _CHUNK:  # never a task's first or last: straight in
                    channel = run.channel  # (`_Channel.offer`, inline: one per chunk)
                    if channel.left:
                        return None
                    events = channel.events
                    events.append(event)
                    if channel.reader is not None:
                        channel.wake()
                    if len(events) > channel.limit and not channel.unbounded:
                        return channel.wait()
                    return None
                return run.offer(event)
        return None

    def _buffer(self, buffer: int | None) -> int:
        if buffer is None:
            return self.buffer
        return check_count("buffer", buffer, minimum=1)

    def _new_run_id(self, run_id: str | None, where: str) -> str:
        self.actors._running_guardian()  # started and not shut down, or a clear error
        if run_id is None:  # unique across systems and processes, as a task id is
            actors = self.actors
            return f"r{actors._id_prefix}{next(actors._ids)}"
        check_name(run_id, f"{where} run_id")
        if run_id in self._runs:
            raise InvalidArgument(
                f"{where} run_id {run_id!r} names a run still going; give a unique run_id or "
                "wait for that run to end"
            )
        return run_id


def _not_an_agent_grain(target: ActorRef, grain: type) -> InvalidArgument:
    return InvalidArgument(
        f"ask_stream() target {target.path} is a grain of {grain.__qualname__}, a Grain but "
        "not an AgentActor, which neither performs Tasks nor publishes their events; make "
        f"its class an agent grain too (class {grain.__name__}(Grain, AgentActor[I, O]) with "
        "execute(self, input)), or ask it with ref.ask(message)"
    )


def _timeout(where: str, timeout: float) -> float:
    checked = _check_timeout(where, timeout)
    return math.inf if checked is None else checked
