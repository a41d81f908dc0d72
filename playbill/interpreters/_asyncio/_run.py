"""One performance of one program on the event loop: the effect dispatch, and the concurrency
combinators (gather and race stepped in the program's own task by `_members`; timeout, fork,
join, cancel on asyncio tasks)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, final

from playbill.actors import (
    DeadLetterReason,
    Emitted,
)
from playbill.actors._named import get_or_spawn_cell
from playbill.actors._reports import short
from playbill.actors._tree import list_live
from playbill.effects import (
    ActorNotFound,
    ActorRef,
    Ask,
    Await,
    AwaitPromise,
    Blocking,
    CancelFiber,
    Cancelled,
    CompletePromise,
    Done,
    Effect,
    Emit,
    EmitStamped,
    Ensuring,
    FailPromise,
    Fiber,
    FiberCancelled,
    Fork,
    GetOrSpawn,
    InvalidArgument,
    Join,
    LiveActor,
    LiveActors,
    Machine,
    Map,
    MaybeFault,
    NewPromise,
    Next,
    Now,
    Parallel,
    Program,
    Pure,
    Race,
    Random,
    SelfRef,
    Settle,
    Sleep,
    Spawn,
    Step,
    Stop,
    Suspend,
    Tell,
    TimedOut,
    Timeout,
    UnhandledEffect,
    Watch,
)
from playbill.effects._ask_once import AskThenStop, stop_of
from playbill.effects._handlers import program_in_place

if TYPE_CHECKING:
    from playbill.interpreters._asyncio._system import ActorSystem
from playbill.actors._kernel import Phase
from playbill.interpreters._asyncio._cell import _Cell
from playbill.interpreters._asyncio._members import Members, Nested, sleeping
from playbill.interpreters._asyncio._promises import LoopPromise, new_promise, promise_state

A = TypeVar("A")
_STOPPED = Phase.STOPPED
_NO_FIBERS: Any = {}  # shared, never written: a run's fibers until it forks one

logger = logging.getLogger("playbill")


class _Run:
    """One performance of one program (and the fibers it forks) on behalf of ``cell``."""

    __slots__ = ("cell", "fibers", "inline", "joined", "main", "system")

    def __init__(
        self, system: ActorSystem, cell: _Cell | None, main: bool = False, inline: bool = False
    ) -> None:
        self.system = system
        self.cell = cell
        # whether it is the program of the cell's message or hook (not a fork of it): its
        # asks are what the cell waits on
        self.main = main and cell is not None
        # whether it is a member of a gather or race, stepped by `_Members` in the task of
        # the program that waits on it (its sleeps are futures, its gathers and races nest)
        self.inline = inline
        # the fibers it forked, and those joined (shared empties until the first fork: most
        # runs, each member of a gather among them, fork none)
        self.fibers: dict[int, asyncio.Task[Any]] = _NO_FIBERS
        self.joined: set[int] = _NO_FIBERS

    async def perform(self, program: Program[A]) -> A:
        result: A = await self.finish(*self.begin(program))
        return result

    def begin(self, program: Program[Any]) -> tuple[Machine, Step, Any]:
        """Run ``program`` as far as it goes without waiting: its machine, the step reached
        and what that step waits on (None: it ended). A program that ends here, forking
        nothing, needs no coroutine at all (`ActorSystem._perform_now`); any other goes on
        with `finish`."""
        machine = Machine(program)
        if not self.system._emits_handled:
            machine.perform_in_step(EmitStamped, self._emit_in_step)
        step, pending = self._advance(machine, machine.start())
        return machine, step, pending

    async def finish(self, machine: Machine, step: Step, pending: Any) -> Any:
        """Drive ``machine`` on from ``step`` (waiting on ``pending``) to its end, then cancel
        the fibers it forked and left running."""
        try:
            return await self._drive(machine, step, pending)
        finally:
            if self.fibers:
                await self._cancel_fibers()

    async def _drive(self, machine: Machine, step: Step, pending: Any) -> Any:
        system = self.system
        swallowed_cancel = False
        while True:
            if pending is not None:
                # the cell whose message waits on the ask under way (the wait-for graph)
                waiting = self.cell if self.main and type(step.effect) is Ask else None  # type: ignore[union-attr]
                try:
                    value = await pending
                except asyncio.CancelledError:
                    if waiting is not None:
                        waiting.asking = None
                    if system._abandoning:  # it swallowed its cancellation once already
                        raise
                    swallowed_cancel = True
                    step = machine.throw(Cancelled())
                except (KeyboardInterrupt, SystemExit, GeneratorExit):
                    # the process is asked to end, or this coroutine is being closed (it may
                    # not wait again): not a failure of this program
                    raise
                except BaseException as error:  # at that point, as the machine fails user code
                    if waiting is not None:
                        waiting.asking = None
                    step = machine.throw(error)
                else:
                    if waiting is not None:
                        waiting.asking = None
                    step = machine.resume(value)
                step, pending = self._advance(machine, step)
            elif type(step) is Done:
                if swallowed_cancel:  # the program caught Cancelled and went on
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        task.uncancel()
                return step.value
            else:
                failure = step.error  # type: ignore[union-attr]
                if isinstance(failure, Cancelled):
                    raise asyncio.CancelledError from failure
                raise failure

    def _advance(self, machine: Machine, step: Step) -> tuple[Step, Any]:
        """Perform every effect that needs no waiting; the step reached (its program's end, or
        an effect) and, for an effect, what to wait on (None at the end)."""
        system = self.system
        while type(step) is Next:
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
                return step, room
            if kind is Ask:
                target = effect.ref.binding
                if type(target) is not _Cell or target.system is not system:
                    target = system._resolve(effect.ref)
                if target is None:
                    system._dead_letter(effect.message, effect.ref.path, DeadLetterReason.UNKNOWN)
                    step = machine.throw(
                        ActorNotFound(
                            f"no actor at {effect.ref.path} to ask {short(effect.message)}"
                        )
                    )
                    continue
                pending = target.ask(effect.message, effect.timeout)
                if self.main:  # the wait-for graph an AskTimeout describes
                    self.cell.asking = (target, effect.message)  # type: ignore[union-attr]
                return step, pending
            if kind is Spawn and system._spawn_inline:
                step, pending = self._spawn_then(machine, effect)
                if pending is not None:
                    return step, pending
                continue
            if kind is EmitStamped and not system._emits_handled:
                # an agent's event (a chunk, say): performed here, as `_emit_stamped` does
                try:
                    stamp = time.time()  # the wall clock, as now() gives it
                    event = effect.make(stamp)
                    if system._subscriptions:
                        published = self._publish(event, stamp)
                        if published is not None:
                            return step, published.awaitable
                    else:  # only the agent layer's gate to pass: no `_publish` frame
                        gate = system._event_gate
                        if gate is not None:
                            pushback = gate(event)
                            if pushback is not None:  # a consumer pushing back
                                return step, pushback
                except Exception as error:
                    step = machine.throw(error)
                    continue
                step = machine.resume(None)
                continue
            if kind in _PROMISE_EFFECTS and system._promises_inline:
                # a stream's wake-ups: performed here, with no handler lookup or _Awaiting
                if kind is NewPromise:
                    step = machine.resume(new_promise(system, system._promise_ids))
                    continue
                state = effect.promise.binding
                if type(state) is LoopPromise and state.owner is system:
                    if kind is AwaitPromise:
                        if not state.settled:
                            return step, state.waiter(system._loop)
                        if state.error is None:
                            step = machine.resume(state.value)
                        else:
                            step = machine.throw(state.error)
                    elif kind is CompletePromise:
                        step = machine.resume(state.settle(effect.value, None))
                    else:
                        step = machine.resume(state.settle(None, effect.error))
                    continue
            try:
                outcome = self._perform_effect(effect)
            except Exception as error:
                step = machine.throw(error)
                continue
            if type(outcome) is _Awaiting:
                return step, outcome.awaitable
            if type(outcome) is _InPlace:
                step = machine.resume_with(outcome.program)
            else:
                step = machine.resume(outcome)
        return step, None

    def _spawn_then(self, machine: Machine, effect: Spawn) -> tuple[Step, Any]:
        """Perform ``effect`` and go on to the program's next effect. A child the program
        asks at once (``ask_agent``'s shape: spawn, ask, stop) is started and handles that
        first message inline, with no task, when its ``receive`` finishes without waiting
        (`_Cell.ask_inline`); stopped next, it terminates inline too. A task runs what is
        left, as soon as anything is: the child's own messages and hooks run where they
        would have, and in the same order. The step reached, and what it waits on."""
        system = self.system
        parent = self.cell if self.cell is not None else system._running_guardian()
        try:
            cell: _Cell = system._kernel.spawn(
                parent,
                effect.actor,
                effect.name,
                effect.supervision,
                effect.mailbox,
                system._fresh,
                system._new_cell,
            )
        except Exception as error:
            return machine.throw(error), None
        try:  # every way out leaves the child a task, unless it terminated inline
            plan = machine.pop_continuation(AskThenStop)
            if plan is not None:  # ask it once and stop it: performed here, not expanded
                return self._ask_then_stop(machine, cell, plan)
            step = machine.resume(cell.ref)
            if type(step) is not Next:
                return step, None
            asked = step.effect
            if type(asked) is not Ask or asked.ref.binding is not cell:
                return step, None
            if not cell.can_begin_inline():
                return step, None
            try:
                done, reply = cell.ask_inline(asked.message, asked.timeout)
            except Exception as error:  # it failed: the asker's error, its supervisor decides
                return machine.throw(error), None
            if not done:  # it waits: its task finishes the message, the program awaits it
                if self.main:  # the wait-for graph an AskTimeout describes
                    self.cell.asking = (cell, asked.message)  # type: ignore[union-attr]
                return step, reply
            step = machine.resume(reply)
            if type(step) is not Next:
                return step, None
            stop = step.effect
            if type(stop) is not Stop or stop.ref.binding is not cell:
                return step, None
            cell.stop_inline()  # (an interrupt of an idle actor is a plain stop)
            return machine.resume(None), None
        finally:
            if cell.task is None and cell.phase is not _STOPPED:
                cell.start()

    def _ask_then_stop(self, machine: Machine, cell: _Cell, plan: AskThenStop) -> tuple[Step, Any]:
        """What `AskThenStop` stands for — ask the child just spawned, stop it whatever
        happens, then ``plan.then`` of the reply — performed with no program built: the ask
        and the stop pass through the program's intercepts as the expansion's effects would,
        each once and in that order. A child that answers inline is stopped inline;
        otherwise the machine waits on the ask inside the expansion's frames (the stop a
        finaliser, ``then`` a map) and the rest goes on as the expansion's would. The step
        reached, and what it waits on (the caller gives the child a task if it needs one)."""
        ref = cell.ref
        ask = Ask(ref, plan.message, plan.timeout)
        if not cell.can_begin_inline():
            # it needs its task, and the program the expansion as it is
            return machine.wait_within(_expansion(plan, ref), machine.intercept(ask)), None
        asked = machine.intercept(ask)
        if type(asked) is not Ask or asked.ref.binding is not cell:  # rewritten: performed
            return machine.wait_within(_expansion(plan, ref), asked), None
        try:
            done, reply = cell.ask_inline(asked.message, asked.timeout)
        except Exception as error:  # it failed: the asker's error, its supervisor decides
            machine.wait_within(_expansion(plan, ref), asked)
            return machine.throw(error), None
        if not done:  # it waits: its task finishes the message, the program awaits it
            if self.main:  # the wait-for graph an AskTimeout describes
                self.cell.asking = (cell, asked.message)  # type: ignore[union-attr]
            return machine.wait_within(_expansion(plan, ref), asked), reply
        stop = machine.intercept(stop_of(ref))
        if type(stop) is not Stop or stop.ref.binding is not cell:
            # the stop was rewritten: performed as the expansion's finaliser, then the reply
            frames = (Map(_IGNORED, plan.then), Map(_IGNORED, _Constant(reply)))
            return machine.wait_within(frames, stop), None
        cell.stop_inline()  # (an interrupt of an idle actor is a plain stop)
        try:
            output = plan.then(reply)
        except Exception as error:
            return machine.throw(error), None
        return machine.resume(output), None

    def _perform_effect(self, effect: Any) -> Any:
        system = self.system
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
        performer = _PERFORMERS.get(kind)
        if performer is None:
            raise UnhandledEffect(
                effect,
                "asyncio",
                f"ActorSystem(handlers={{{kind.__name__}: lambda effect: ...}}) or "
                f"playbill.run(program, handlers={{{kind.__name__}: ...}})",
            )
        return performer(self, effect)

    # -- the built-in effects, one performer each (tell and ask: inline in `_drive`) -------
    # A performer returns the effect's value, or an `_Awaiting` to await for it.

    def _spawn(self, effect: Any) -> ActorRef:  # (its options are checked by check_spawn)
        system = self.system
        parent = self.cell if self.cell is not None else system._running_guardian()
        return system._spawn(
            parent, effect.actor, effect.name, effect.supervision, effect.mailbox
        ).ref

    def _get_or_spawn(self, effect: GetOrSpawn) -> ActorRef:
        system = self.system
        cell = get_or_spawn_cell(system._running_guardian(), system.name, effect.path, effect.actor)
        return cell.ref  # type: ignore[no-any-return]

    def _stop(self, effect: Stop) -> _Awaiting | None:
        target = self.system._target(effect.ref, "free_stop()")
        if target is not None:
            if effect.interrupt and target is not self.cell:  # an actor never interrupts itself
                target.interrupt()
                if (
                    target.interrupting
                    and self.cell is not None
                    and target.parent_cell is self.cell
                ):
                    # a child's message program was cancelled and unwinds in its task: go on
                    # once it has terminated, so that no ephemeral child (ask_agent's, a flow
                    # leaf's) outlives the call, nor publishes its last events after it
                    return _Awaiting(target.terminated())
            else:
                target.stop()  # (forks of its own program run in tasks of their own)
        return None

    def _self_ref(self, effect: SelfRef) -> ActorRef:
        return self._need_actor("self_ref()").ref

    def _watch(self, effect: Watch) -> None:
        self._need_actor("watch()").watch(effect.ref)

    def _live_actors(self, effect: LiveActors) -> tuple[LiveActor, ...]:
        return list_live(self.system._running_guardian())

    def _emit(self, effect: Emit) -> _Awaiting | None:
        return self._publish(effect.event, time.time())

    def _emit_stamped(self, effect: EmitStamped) -> _Awaiting | None:
        stamp = time.time()  # the wall clock, as now() gives it
        return self._publish(effect.make(stamp), stamp)

    def _emit_in_step(self, effect: EmitStamped) -> Effect[None] | None:
        """`EmitStamped` performed inside the machine's step (`Machine.perform_in_step`: an
        agent's chunk, with no round trip through `_advance`); a wait for the consumer of
        the agent layer's run, when it pushes back."""
        stamp = time.time()  # the wall clock, as now() gives it
        event = effect.make(stamp)
        system = self.system
        if system._subscriptions:  # (as `_publish` does)
            cell = self.cell
            path = cell.path if cell is not None else f"/{system.name}"
            system._publish(Emitted(path, stamp, event))
        gate = system._event_gate
        if gate is not None:  # a consumer that pushes back (the agent layer's runs)
            pushback = gate(event)
            if pushback is not None:  # a consumer pushing back
                return Await(pushback, _EVENT_BUFFER)
        return None

    def _publish(self, event: object, stamp: float) -> _Awaiting | None:
        system = self.system
        if system._subscriptions:
            cell = self.cell
            path = cell.path if cell is not None else f"/{system.name}"
            system._publish(Emitted(path, stamp, event))
        gate = system._event_gate
        if gate is not None:  # a consumer that pushes back (the agent layer's runs)
            waiting = gate(event)
            if waiting is not None:
                return _Awaiting(waiting)
        return None

    def _fault_point(self, effect: MaybeFault) -> None:
        return None  # fault points are inert outside the simulator

    def _now(self, effect: Now) -> float:
        return time.time()

    def _random(self, effect: Random) -> float:
        return _random.random()

    def _await(self, effect: Await) -> _Awaiting:
        return _Awaiting(effect.awaitable)

    def _blocking(self, effect: Blocking) -> _Awaiting:
        return _Awaiting(self.system._call_blocking(effect))

    def _sleep(self, effect: Sleep) -> _Awaiting:
        if self.inline:
            return _Awaiting(sleeping(self.system._loop, effect.seconds))
        return _Awaiting(asyncio.sleep(effect.seconds))

    def _parallel(self, effect: Parallel) -> Any:
        if not effect.programs:
            return ()
        if self.inline:  # a group nested in the group this member belongs to
            return _Awaiting(Nested(effect.programs, race=False))
        return _Awaiting(Members(self).perform(effect.programs, race=False))

    def _race_of(self, effect: Race) -> _Awaiting:
        if not effect.programs:
            raise InvalidArgument("race() needs at least one program; a race of none has no winner")
        if self.inline:
            return _Awaiting(Nested(effect.programs, race=True))
        return _Awaiting(Members(self).perform(effect.programs, race=True))

    def _settle_of(self, effect: Settle) -> _Awaiting:
        # a counting join: no member is left waiting to be cancelled once it has reported
        if not effect.programs:
            raise InvalidArgument("a Settle needs at least one program; none cannot settle")
        if self.inline:
            return _Awaiting(Nested(effect.programs, race=True, decide=effect.decide))
        return _Awaiting(Members(self).perform(effect.programs, race=True, decide=effect.decide))

    def _timeout_of(self, effect: Timeout) -> _Awaiting:
        return _Awaiting(self._timeout(effect.program, effect.seconds))

    def _fork(self, effect: Fork) -> Fiber[Any]:
        system = self.system
        fiber_id = next(system._fiber_ids)
        if self.fibers is _NO_FIBERS:
            self.fibers, self.joined = {}, set()
        self.fibers[fiber_id] = system._loop.create_task(self._child(effect.program))
        return Fiber(fiber_id)

    def _join_of(self, effect: Join) -> _Awaiting:
        return _Awaiting(self._join(effect.fiber))

    def _cancel_of(self, effect: CancelFiber) -> _Awaiting:
        return _Awaiting(self._cancel(effect.fiber))

    def _new_promise(self, effect: NewPromise) -> Any:
        system = self.system
        return new_promise(system, system._promise_ids)

    def _complete_promise(self, effect: CompletePromise) -> bool:
        return promise_state(effect.promise, self.system).settle(effect.value, None)

    def _fail_promise(self, effect: FailPromise) -> bool:
        return promise_state(effect.promise, self.system).settle(None, effect.error)

    def _await_promise(self, effect: AwaitPromise) -> Any:
        state = promise_state(effect.promise, self.system)
        if state.settled:  # complete already: no wait, no turn of the loop
            if state.error is not None:
                raise state.error
            return state.value
        return _Awaiting(state.waiter(self.system._loop))

    def _need_actor(self, where: str) -> _Cell:
        if self.cell is None:
            raise InvalidArgument(
                f"{where} needs an actor, but this program runs at the root (system.run); "
                "run it inside an actor's receive, or spawn an actor to do it"
            )
        return self.cell

    def member_run(self) -> _Run:
        """The run of one member of a gather or race this run performs: the same actor, its
        own fibers, stepped in this run's task."""
        return _Run(self.system, self.cell, inline=True)

    async def _child(self, program: Program[Any]) -> Any:
        return await _Run(self.system, self.cell).perform(program)

    def _task(self, program: Program[Any]) -> asyncio.Task[Any]:
        return self.system._loop.create_task(self._child(program))

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
        self.report_unjoined()

    def report_unjoined(self) -> None:
        """Log the failures of the fibers that ended with one nobody joined."""
        for fiber_id, task in self.fibers.items():
            if fiber_id in self.joined:  # its failure reached whoever joined it
                continue
            if task.done() and not task.cancelled() and task.exception() is not None:
                error = task.exception()
                logger.error("a forked fiber failed and was never joined", exc_info=error)


_IGNORED: Program[Any] = Pure(None)  # the source of a frame the machine is given directly


def _expansion(plan: AskThenStop, ref: ActorRef) -> tuple[Program[Any], ...]:
    """The frames of what ``plan`` expands to around its ask (`AskThenStop.__call__`)."""
    return (Map(_IGNORED, plan.then), Ensuring(_IGNORED, Suspend(stop_of(ref))))


@final
class _Constant:
    """A function giving ``value`` whatever it is given."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __call__(self, _: object) -> object:
        return self.value


@final
class _Awaiting:
    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[Any] | Nested) -> None:
        self.awaitable = awaitable  # (a `Nested` group only from an inline member's run)


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


_PERFORMERS: dict[type, Callable[[_Run, Any], Any]] = {
    Spawn: _Run._spawn,
    GetOrSpawn: _Run._get_or_spawn,
    Stop: _Run._stop,
    SelfRef: _Run._self_ref,
    Watch: _Run._watch,
    LiveActors: _Run._live_actors,
    Emit: _Run._emit,
    EmitStamped: _Run._emit_stamped,
    MaybeFault: _Run._fault_point,
    Now: _Run._now,
    Random: _Run._random,
    Sleep: _Run._sleep,
    Await: _Run._await,
    Blocking: _Run._blocking,
    Parallel: _Run._parallel,
    Race: _Run._race_of,
    Settle: _Run._settle_of,
    Timeout: _Run._timeout_of,
    Fork: _Run._fork,
    Join: _Run._join_of,
    CancelFiber: _Run._cancel_of,
    NewPromise: _Run._new_promise,
    CompletePromise: _Run._complete_promise,
    FailPromise: _Run._fail_promise,
    AwaitPromise: _Run._await_promise,
}

_EVENT_BUFFER = "the event stream's consumer (a full buffer)"

_PROMISE_EFFECTS = frozenset({NewPromise, CompletePromise, FailPromise, AwaitPromise})

VOCABULARY = frozenset(_PERFORMERS) | {Tell, Ask}
"""Every built-in effect the asyncio interpreter performs (a test checks every interpreter's is
the whole vocabulary)."""
