"""Fibers on a virtual clock: the concurrency semantics the stub interpreter and the simulator
share — gather, race, timeout, fork, join and cancel, with structured cancellation, masking,
and no failure silently lost — and promises, whose completion wakes each waiter at a turn of
its own (under the simulator, a scheduling point named by the waiter's stable fiber id).
Subclasses decide which ready fiber runs next and how plain effects are performed."""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Callable
from typing import Any

from returns.result import Failure, Result, Success

from playbill.effects import (
    AwaitPromise,
    CancelFiber,
    Cancelled,
    CompletePromise,
    FailPromise,
    Fiber,
    FiberCancelled,
    Fork,
    InvalidArgument,
    Join,
    Machine,
    NewPromise,
    Next,
    Parallel,
    Race,
    Settle,
    Step,
    TimedOut,
    Timeout,
)
from playbill.effects import Program as _Program
from playbill.effects._promises import bound_promise

__all__ = ["ERROR", "START", "STEP", "STRUCTURAL", "VALUE", "FiberScheduler", "Resume"]

STRUCTURAL = (
    Parallel,
    Race,
    Settle,
    Timeout,
    Fork,
    Join,
    CancelFiber,
    NewPromise,
    CompletePromise,
    FailPromise,
    AwaitPromise,
)

_NEW, _READY, _RUNNING, _SLEEPING, _WAITING, _FINISHED = range(6)


class Resume(enum.Enum):
    """How a fiber goes on at its next turn (with the payload beside it in ``fiber.input``)."""

    START = "start"
    """From the beginning of its program."""
    VALUE = "value"
    """With the result of what it waited for."""
    ERROR = "error"
    """With the error raised at the point where it waited."""
    STEP = "step"
    """At a step already reached (a handler ran its program on to it)."""


START, VALUE, ERROR, STEP = Resume.START, Resume.VALUE, Resume.ERROR, Resume.STEP


class _Fiber:
    __slots__ = (
        "actor",
        "asking",
        "cancel_pending",
        "cancelling",
        "closing",
        "forked",
        "forks",
        "id",
        "input",
        "joined",
        "label",
        "machine",
        "on_finish",
        "option",
        "outcome",
        "state",
        "timer",
        "wait",
        "waiting_on",
    )

    def __init__(self, fiber_id: int, program: _Program[Any] | Machine, label: str) -> None:
        self.id = fiber_id
        self.label = label
        self.actor: Any = None  # the actor a fiber runs for (the simulator sets it)
        self.asking: Any = None  # the ask it made last (the simulator's wait-for graph)
        self.option: Any = None  # its entry among the simulator's choices, made once
        # (a machine given: one that has run already, whose program this fiber goes on with)
        self.machine = program if type(program) is Machine else Machine(program)
        self.state = _NEW
        self.input: tuple[Resume, Any] = (START, None)
        self.outcome: Result[Any, BaseException] | None = None
        self.on_finish: list[Callable[[_Fiber], None]] = []
        self.wait: _Wait | None = None
        self.timer: _Timer | None = None
        self.waiting_on = ""
        self.forked = False
        self.forks: list[_Fiber] = []
        self.joined = False
        self.cancelling = False
        self.closing = False
        self.cancel_pending = False


class _Timer:
    __slots__ = ("action", "active", "sequence")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.active = True
        self.sequence = -1  # its place among the simulator's due timers, once due


class _Wait:
    """What a waiting fiber waits for; cancelling the fiber cancels the wait."""

    __slots__ = ("cancelled", "children", "room")

    def __init__(self, children: list[_Fiber], room: object = None) -> None:
        self.children = children
        self.cancelled = False
        self.room = room  # the actor cell whose mailbox it waits for room in, if that


class _PromiseState:
    """A promise of one run: its outcome once complete, and the fibers that await it."""

    __slots__ = ("id", "outcome", "owner", "waiters")

    def __init__(self, owner: FiberScheduler, promise_id: int) -> None:
        self.owner = owner
        self.id = promise_id
        self.outcome: tuple[Resume, Any] | None = None
        self.waiters: list[tuple[_Fiber, _Wait]] = []


class FiberScheduler:
    """Fibers, timers and the structural effects; subclasses queue ready fibers and run them."""

    def __init__(self, clock: float) -> None:
        self.clock = clock
        self.fibers: dict[int, _Fiber] = {}
        self.timers: list[tuple[float, int, _Timer]] = []
        self.sequence = 0
        self.promises = 0  # how many promises this run made: the next one's id
        self.unobserved: list[BaseException] = []

    def enqueue(self, fiber: _Fiber, *, first: bool) -> None:
        """Make ``fiber`` ready to run; ``first``: it should run before the others."""
        raise NotImplementedError

    def unqueue(self, fiber: _Fiber) -> None:
        """Take a ready (or not yet started) ``fiber`` out of the queue."""
        raise NotImplementedError

    def resume(self, fiber: _Fiber) -> Step:
        """Feed a ready fiber what it waits for; the step it reaches."""
        kind, payload = fiber.input
        fiber.state = _RUNNING
        machine = fiber.machine
        if kind is START:
            return machine.start()
        if kind is VALUE:
            return machine.resume(payload)
        if kind is STEP:  # a handler already ran the fiber on to this step
            return payload  # type: ignore[no-any-return]
        return machine.throw(payload)

    def alive(self) -> list[_Fiber]:
        return [fiber for fiber in self.fibers.values() if fiber.outcome is None]

    def describe_alive(self) -> str:
        return "; ".join(
            f"fiber {fiber.label} waits for {fiber.waiting_on or 'its turn'}"
            for fiber in self.alive()
        )

    def cancel_alive(self) -> bool:
        """Cancel every fiber still alive that is not being cancelled; True if any was."""
        targets = [fiber for fiber in self.alive() if not fiber.cancelling]
        for fiber in reversed(targets):
            self.cancel(fiber)
        return bool(targets)

    def unobserved_failures(self) -> tuple[BaseException, ...]:
        unjoined = [
            fiber.outcome.failure()
            for fiber in self.fibers.values()
            if fiber.forked
            and not fiber.joined
            and isinstance(fiber.outcome, Failure)
            and not isinstance(fiber.outcome.failure(), Cancelled)
        ]
        return (*self.unobserved, *unjoined)

    def new_fiber(
        self, program: _Program[Any] | Machine, label: str, number: int | None = None
    ) -> _Fiber:
        """A fiber for ``program`` (or for a machine that has run already), numbered next or
        ``number`` (one taken earlier with `take_number`), known to the scheduler."""
        fiber = _Fiber(self.take_number() if number is None else number, program, label)
        self.fibers[fiber.id] = fiber
        return fiber

    def take_number(self) -> int:
        """The next number of the run's sequence (fibers, timers)."""
        number = self.sequence
        self.sequence += 1
        return number

    def fire_next_timer(self) -> None:
        when, _, timer = heapq.heappop(self.timers)
        if timer.active:
            timer.active = False
            self.clock = max(self.clock, when)
            timer.action()

    def add_timer(self, delay: float, action: Callable[[], None]) -> _Timer:
        timer = _Timer(action)
        if delay != math.inf:  # a timer that never fires is never scheduled
            heapq.heappush(self.timers, (self.clock + delay, self.take_number(), timer))
        return timer

    def wake(self, fiber: _Fiber, kind: Resume, payload: object, *, first: bool = False) -> None:
        """``fiber`` goes on (``kind`` and ``payload`` say how) at a turn of its own; ``first``:
        before the others that are ready."""
        fiber.input = (kind, payload)
        fiber.state = _READY
        fiber.wait = None
        fiber.waiting_on = ""
        self.enqueue(fiber, first=first)

    def settle(self, fiber: _Fiber) -> None:
        """After a fiber's turn: deliver a cancellation asked for while it ran (a fiber that
        cancelled an ancestor waiting on it), now that it waits."""
        if fiber.cancel_pending and fiber.state != _FINISHED:
            fiber.cancel_pending = False
            self.cancel(fiber)

    def sleep(self, fiber: _Fiber, seconds: float) -> None:
        """Park ``fiber`` until the clock has moved ``seconds`` on (forever for ``inf``)."""
        self.block(fiber, _SLEEPING, f"sleep({seconds:g}) until {self.clock + seconds:g}")
        fiber.timer = self.add_timer(seconds, lambda: self.wake(fiber, VALUE, None))

    def block(self, fiber: _Fiber, state: int, waiting_on: str) -> None:
        fiber.state = state
        fiber.waiting_on = waiting_on

    def finish(self, fiber: _Fiber, outcome: Result[Any, BaseException]) -> None:
        """End ``fiber`` with ``outcome`` — once the fibers it forked that still run have been
        cancelled and have finished (their finalisers included): structured concurrency."""
        alive = [child for child in fiber.forks if child.outcome is None]
        if alive:
            fiber.closing = True
            self.block(fiber, _WAITING, "the fibers it forked to finish")
            fiber.wait = None
            remaining = [len(alive)]

            def fork_finished(_child: _Fiber) -> None:
                remaining[0] -= 1
                if remaining[0] == 0:
                    self.finish(fiber, outcome)

            for child in alive:
                child.on_finish.append(fork_finished)
            for child in reversed(alive):
                self.cancel(child)
            return
        fiber.state = _FINISHED
        fiber.outcome = outcome
        # what it waited for last is over: a fiber kept after it ends (a fork's, for its
        # handle) must not keep the actors it asked, or their messages, alive with it; and
        # its entry among the simulator's choices (which holds the fiber: a reference cycle
        # only the collector would free) goes too, made again were it ever queued again
        fiber.asking = fiber.wait = fiber.timer = fiber.option = None
        callbacks, fiber.on_finish = fiber.on_finish, []
        # reversed, so that waiters woken "first" keep the order in which they waited
        for callback in reversed(callbacks):
            callback(fiber)
        if not fiber.forked:  # no handle can name it again: the run keeps it no longer
            self.fibers.pop(fiber.id, None)

    def structural(self, fiber: _Fiber, effect: object) -> Step | None:
        machine = fiber.machine
        kind = type(effect)
        if kind is AwaitPromise or kind is CompletePromise or kind is FailPromise:
            return self.promise_effect(fiber, effect)
        if kind is NewPromise:
            self.promises += 1
            state = _PromiseState(self, self.promises)
            return machine.resume(bound_promise(state.id, state))
        if isinstance(effect, Parallel):
            if not effect.programs:
                return machine.resume(())
            self.wait_all(fiber, effect.programs, _GatherState(len(effect.programs)), "gather")
            return None
        if kind is Settle:  # no counting join here: its expansion, in place
            return machine.resume_with(effect.expansion)  # type: ignore[attr-defined]
        if isinstance(effect, Race):
            if not effect.programs:
                return machine.throw(InvalidArgument("race() needs at least one program"))
            self.wait_all(fiber, effect.programs, _RaceState(), "race")
            return None
        if isinstance(effect, Timeout):
            self.wait_timeout(fiber, effect)
            return None
        if isinstance(effect, Fork):
            child = self.new_fiber(effect.program, f"{fiber.label}/fork{len(fiber.forks) + 1}")
            child.actor = fiber.actor
            child.forked = True
            fiber.forks.append(child)
            self.enqueue(child, first=False)
            return machine.resume(Fiber(child.id))
        if isinstance(effect, Join):
            target = self.lookup(effect.fiber)
            if target is None:
                return machine.throw(self.unknown_fiber(effect.fiber))
            if target is fiber:
                return machine.throw(
                    InvalidArgument("a fiber cannot join itself: it would wait forever")
                )
            if target.outcome is not None:
                target.joined = True
                return _resume_with_outcome(machine, target)
            self.wait_for(fiber, target, _outcome_input, f"join({target.label})")
            return None
        assert isinstance(effect, CancelFiber)
        target = self.lookup(effect.fiber)
        if target is None:
            return machine.throw(self.unknown_fiber(effect.fiber))
        if target is fiber:
            return machine.throw(
                InvalidArgument("a fiber cannot cancel itself; return or fail instead")
            )
        if target.outcome is not None:
            return machine.resume(None)
        self.cancel(target)
        if target.state == _FINISHED:  # it had not started: cancelled on the spot
            return machine.resume(None)
        self.wait_for(fiber, target, lambda _done: (VALUE, None), f"cancel({target.label})")
        return None

    def promise_effect(self, fiber: _Fiber, effect: Any) -> Step | None:
        """Await, complete or fail a promise. Completing wakes each waiter not cancelled, in
        the order they began to wait, each at a turn of its own; the completer goes on."""
        machine = fiber.machine
        handle = effect.promise
        state = handle.binding
        if type(state) is not _PromiseState or state.owner is not self:
            return machine.throw(
                InvalidArgument(
                    f"{handle!r} was not made by new_promise() in this run; await, complete "
                    "or fail only the promises new_promise() produced in the same run"
                )
            )
        if type(effect) is AwaitPromise:
            outcome = state.outcome
            if outcome is not None:
                kind, payload = outcome
                return machine.resume(payload) if kind is VALUE else machine.throw(payload)
            wait = _Wait([])
            self.block(fiber, _WAITING, f"await_promise(promise {state.id})")
            fiber.wait = wait
            state.waiters.append((fiber, wait))
            return None
        if state.outcome is not None:
            return machine.resume(False)  # complete once: the first completion stands
        if type(effect) is CompletePromise:
            outcome = state.outcome = (VALUE, effect.value)
        else:
            outcome = state.outcome = (ERROR, effect.error)
        waiters, state.waiters = state.waiters, []
        for waiter, wait in waiters:
            if not wait.cancelled:  # a cancelled waiter was woken with Cancelled already
                self.wake(waiter, *outcome)
        return machine.resume(True)

    def lookup(self, handle: Fiber[Any]) -> _Fiber | None:
        return self.fibers.get(handle.id)

    def unknown_fiber(self, handle: Fiber[Any]) -> InvalidArgument:
        return InvalidArgument(
            f"{handle!r} was not forked in this run; join or cancel only the handles that "
            "fork() produced in the same run"
        )

    def wait_for(
        self,
        fiber: _Fiber,
        target: _Fiber,
        answer: Callable[[_Fiber], tuple[Resume, Any]],
        waiting_on: str,
    ) -> None:
        wait = _Wait([])
        self.block(fiber, _WAITING, waiting_on)
        fiber.wait = wait

        def on_target_finished(done: _Fiber) -> None:
            if not wait.cancelled:
                kind, payload = answer(done)
                self.wake(fiber, kind, payload, first=True)

        target.on_finish.append(on_target_finished)

    def wait_all(
        self, fiber: _Fiber, programs: tuple[_Program[Any], ...], state: _Group, what: str
    ) -> None:
        children = [
            self.new_fiber(member, f"{fiber.label}/{what}{self.sequence}.{index + 1}")
            for index, member in enumerate(programs)
        ]
        for child in children:
            child.actor = fiber.actor
        wait = _Wait(children)
        self.block(fiber, _WAITING, f"{what} of {', '.join(c.label for c in children)}")
        fiber.wait = wait
        remaining = [len(children)]

        def on_child_finished(index: int) -> Callable[[_Fiber], None]:
            def finished(child: _Fiber) -> None:
                assert child.outcome is not None
                self.note_cancelled_failure(child)
                if state.child_finished(index, child.outcome) and not wait.cancelled:
                    for other in reversed(children):
                        self.cancel(other)
                remaining[0] -= 1
                if remaining[0] == 0:
                    if wait.cancelled:
                        self.wake(fiber, ERROR, Cancelled(), first=True)
                    else:
                        kind, payload = state.result()
                        self.wake(fiber, kind, payload, first=True)

            return finished

        for index, child in enumerate(children):
            child.on_finish.append(on_child_finished(index))
        for child in reversed(children):
            self.enqueue(child, first=True)

    def wait_timeout(self, fiber: _Fiber, effect: Timeout) -> None:
        child = self.new_fiber(effect.program, f"{fiber.label}/timeout{self.sequence}")
        child.actor = fiber.actor
        wait = _Wait([child])
        self.block(fiber, _WAITING, f"timeout({effect.seconds:g}s) of {child.label}")
        fiber.wait = wait
        expired = [False]

        def on_deadline() -> None:
            expired[0] = True
            self.cancel(child)

        timer = self.add_timer(effect.seconds, on_deadline)

        def on_child_finished(done: _Fiber) -> None:
            timer.active = False
            assert done.outcome is not None
            self.note_cancelled_failure(done)
            if wait.cancelled:
                self.wake(fiber, ERROR, Cancelled(), first=True)
            elif expired[0]:
                error = TimedOut(
                    f"program timed out after {effect.seconds:g}s of virtual time; raise the "
                    "timeout or make the program finish sooner"
                )
                self.wake(fiber, ERROR, error, first=True)
            else:
                kind, payload = _outcome_input(done)
                self.wake(fiber, kind, payload, first=True)

        child.on_finish.append(on_child_finished)
        self.enqueue(child, first=True)

    def note_cancelled_failure(self, child: _Fiber) -> None:
        """A fiber we cancelled that failed with a real error (a failing finaliser): no one
        will see that error, so record it."""
        outcome = child.outcome
        if child.cancelling and isinstance(outcome, Failure):
            error = outcome.failure()
            if not isinstance(error, Cancelled):
                self.unobserved.append(error)

    def cancel(self, fiber: _Fiber) -> None:
        """Raise `Cancelled` into ``fiber`` where it waits. It runs next (callers cancel
        several fibers in reverse, so they run in order), so that a failed gather fails as soon
        as its started members have unwound, before unrelated fibers move. Cancellation is
        delivered once; finalisers are not interrupted again."""
        state = fiber.state
        if state == _FINISHED or fiber.cancelling or fiber.closing:
            return  # finished, already cancelled, or only waiting for its forks to finish
        if state == _RUNNING:  # a fiber cancelling an ancestor that waits on it
            fiber.cancel_pending = True
            return
        fiber.cancelling = True
        if state == _NEW:
            self.unqueue(fiber)  # a fiber not yet started waits in the queue
            self.finish(fiber, Failure(Cancelled()))
        elif state == _READY:
            kind, payload = fiber.input
            if kind is STEP and type(payload) is not Next:
                fiber.cancelling = False  # its program already ended: too late to cancel it
                return
            self.unqueue(fiber)
            self.wake(fiber, ERROR, Cancelled(), first=True)
        elif state == _SLEEPING:
            assert fiber.timer is not None
            fiber.timer.active = False
            self.wake(fiber, ERROR, Cancelled(), first=True)
        else:
            wait = fiber.wait
            assert state == _WAITING
            assert wait is not None
            wait.cancelled = True
            if wait.children:
                # the fiber is woken with Cancelled when its last child finished
                for child in reversed(wait.children):
                    self.cancel(child)
            else:
                self.wake(fiber, ERROR, Cancelled(), first=True)


class _Group:
    def child_finished(self, index: int, outcome: Result[Any, BaseException]) -> bool:
        """Record a child's outcome; True when the remaining children must be cancelled."""
        raise NotImplementedError

    def result(self) -> tuple[Resume, Any]:
        raise NotImplementedError


class _GatherState(_Group):
    def __init__(self, size: int) -> None:
        self.values: list[Any] = [None] * size
        self.error: BaseException | None = None

    def child_finished(self, index: int, outcome: Result[Any, BaseException]) -> bool:
        if isinstance(outcome, Success):
            self.values[index] = outcome.unwrap()
            return False
        if self.error is None:
            self.error = outcome.failure()
            return True
        return False

    def result(self) -> tuple[Resume, Any]:
        if self.error is not None:
            return (ERROR, self.error)
        return (VALUE, tuple(self.values))


class _RaceState(_Group):
    def __init__(self) -> None:
        self.winner: Success[Any] | None = None
        self.last_error: BaseException | None = None

    def child_finished(self, index: int, outcome: Result[Any, BaseException]) -> bool:
        if isinstance(outcome, Success):
            if self.winner is None:
                self.winner = outcome
                return True
            return False
        self.last_error = outcome.failure()
        return False

    def result(self) -> tuple[Resume, Any]:
        if self.winner is not None:
            return (VALUE, self.winner.unwrap())
        assert self.last_error is not None
        return (ERROR, self.last_error)


def _outcome_input(fiber: _Fiber) -> tuple[Resume, Any]:
    outcome = fiber.outcome
    assert outcome is not None
    if isinstance(outcome, Success):
        return (VALUE, outcome.unwrap())
    error = outcome.failure()
    if isinstance(error, Cancelled) and fiber.forked:
        fiber.joined = True
        return (ERROR, FiberCancelled(f"fiber {fiber.id} was cancelled before it finished"))
    fiber.joined = True
    return (ERROR, error)


def _resume_with_outcome(machine: Machine, fiber: _Fiber) -> Step:
    kind, payload = _outcome_input(fiber)
    if kind is VALUE:
        return machine.resume(payload)
    return machine.throw(payload)
