"""The stub interpreter: synchronous, deterministic, no actors — for unit-testing a program's
logic with plain functions as handlers, in the style of ``effect.testing``.

Semantics, all deterministic:

* **User effects** (and the actor effects — spawn, tell, ask, stop, watch, emit, self_ref)
  are answered by the handler map; an effect with no handler fails with `UnhandledEffect`.
* **Time** is virtual: `now()` reads a clock that starts at ``start_time`` (0.0) and moves only
  when every fiber waits; ``sleep(3600)`` costs nothing. **Chance**: `random()` draws from a
  ``random.Random(seed)``. A handler map may override ``Now``, ``Sleep`` and ``Random``.
* **Concurrency** runs one fiber at a time, each until it completes or waits. `gather` runs its
  programs left to right; the first failure cancels the rest (those not started never start),
  and the gather fails with it. A fiber whose wait is over runs next, as if called. With no
  waiting, ``gather(p, q)`` therefore behaves like ``sequence([p, q])``.
* `race` runs its programs left to right the same way; the first to *succeed* (on the virtual
  clock, ties to the earlier one) wins and the others are cancelled; if all fail, the race fails
  with the error of the last to fail.
* `timeout` fails with `TimedOut` once the virtual clock reaches the deadline (a program that
  would finish at the very same instant loses) after cancelling the program.
* `fork` continues the forking fiber at once; the forked fiber starts when every fiber before
  it in the queue has waited. `join` waits for it; joining a cancelled fiber fails with
  `FiberCancelled`. When a fiber finishes, the fibers it forked that still run are cancelled
  (so when the main program finishes, nothing it started is left running) and their
  finalisers run before `run` returns.
* Cancellation raises `Cancelled` into the fiber where it waits, so ``ensuring`` finalisers
  and ``try/finally`` blocks run; the cancelled fiber runs next. Cancellation is delivered
  once: finalisers then run to completion, and cancelling again does nothing (a fiber that
  swallows `Cancelled` and goes on cannot be cancelled again).
* Failures nobody observed — a forked fiber never joined, a finaliser of cancelled work that
  failed — are listed in `StubResult.unobserved_failures`, never silently lost.
* A run where every fiber waits and no timer is pending fails with `Deadlock`, naming what
  each fiber waits for.

>>> from attrs import frozen
>>> from playbill import Effect, gather, perform, program, sleep, now
>>> @frozen
... class Fetch(Effect[int]):
...     key: str
>>> @program
... def main():
...     a, b = yield gather(perform(Fetch("a")), sleep(5).then(perform(Fetch("bb"))))
...     return a + b, (yield now())
>>> run(main(), {Fetch: lambda effect: len(effect.key)})
(3, 5.0)
"""

from __future__ import annotations

import heapq
import math
import random as _random
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar, final

from attrs import frozen
from returns.result import Failure, Result, Success

from playbill.effects import (
    CancelFiber,
    Cancelled,
    Deadlock,
    Done,
    Effect,
    Failed,
    Fiber,
    FiberCancelled,
    Fork,
    InvalidArgument,
    Join,
    Machine,
    Next,
    Now,
    Parallel,
    ProgramError,
    Race,
    Random,
    Sleep,
    Step,
    TimedOut,
    Timeout,
    UnhandledEffect,
)
from playbill.effects import Program as _Program
from playbill.effects._handlers import Handler, Handlers, HandlerTable, perform_with

__all__ = ["StubResult", "execute", "run"]

A = TypeVar("A")

_STRUCTURAL = (Parallel, Race, Timeout, Fork, Join, CancelFiber)

Fallback = Callable[[Effect[Any]], Handler | None]


@final
@frozen
class StubResult(Generic[A]):
    """What one stub run did: its outcome, the effects it performed (in order; the structural
    ``gather``/``race``/``timeout``/``fork``/``join`` effects are not listed, what they run
    is), the virtual clock when the program finished, and the failures nobody observed — a
    forked fiber that failed and was never joined, a finaliser of cancelled work that failed —
    so that no failure is silently lost."""

    outcome: Result[A, BaseException]
    effects: tuple[Effect[Any], ...]
    clock: float
    unobserved_failures: tuple[BaseException, ...] = ()

    def unwrap(self) -> A:
        """The value, or raise the program's failure."""
        if isinstance(self.outcome, Success):
            return self.outcome.unwrap()  # type: ignore[no-any-return]
        raise self.outcome.failure()


def run(
    program: _Program[A],
    handlers: Handlers | None = None,
    *,
    seed: int = 0,
    start_time: float = 0.0,
) -> A:
    """Run ``program`` to completion and return its value, or raise its failure.

    Failures nobody observed (a forked fiber never joined, a finaliser of cancelled work that
    failed) are reported with a ``RuntimeWarning``, as asyncio reports a task exception that
    was never retrieved; `execute` lists them.

    >>> from playbill import pure
    >>> run(pure(1).map(lambda x: x + 1))
    2
    """
    result = execute(program, handlers, seed=seed, start_time=start_time)
    if result.unobserved_failures:
        warnings.warn(
            f"{len(result.unobserved_failures)} failure(s) of concurrent fibers were never "
            "observed: "
            + ", ".join(repr(error) for error in result.unobserved_failures)
            + "; join forked fibers, and make finalisers of cancelled work recover",
            RuntimeWarning,
            stacklevel=2,
        )
    return result.unwrap()


def execute(
    program: _Program[A],
    handlers: Handlers | None = None,
    *,
    seed: int = 0,
    start_time: float = 0.0,
    fallback: Fallback | None = None,
    max_steps: int = 10_000_000,
) -> StubResult[A]:
    """Run ``program`` and report its outcome, the effects it performed and the final clock.

    ``max_steps`` bounds how many times fibers are resumed (a livelock guard: past it the run
    fails with `ProgramError` naming the fibers still alive).

    ``fallback``, if given, is asked for a handler for any effect the map does not cover,
    before the built-in clock and random source (the sequence checker of `playbill.testing`
    uses it to see every effect).

    >>> from playbill import fail, sleep
    >>> result = execute(sleep(2).then(fail(KeyError("k"))))
    >>> result.outcome, result.effects, result.clock
    (<Failure: 'k'>, (Sleep(seconds=2.0),), 2.0)
    """
    table = HandlerTable(handlers, interpreter="stub")
    scheduler = _Scheduler(table, fallback, _random.Random(seed), float(start_time), max_steps)
    outcome, finished_at = scheduler.run(program)
    return StubResult(
        outcome, tuple(scheduler.effects), finished_at, scheduler.unobserved_failures()
    )


_NEW, _READY, _RUNNING, _SLEEPING, _WAITING, _FINISHED = range(6)


class _Fiber:
    __slots__ = (
        "cancel_pending",
        "cancelling",
        "forked",
        "forks",
        "id",
        "input",
        "joined",
        "machine",
        "on_finish",
        "outcome",
        "state",
        "timer",
        "wait",
        "waiting_on",
    )

    def __init__(self, fiber_id: int, program: _Program[Any]) -> None:
        self.id = fiber_id
        self.machine = Machine(program)
        self.state = _NEW
        self.input: tuple[str, Any] = ("start", None)
        self.outcome: Result[Any, BaseException] | None = None
        self.on_finish: list[Callable[[_Fiber], None]] = []
        self.wait: _Wait | None = None
        self.timer: _Timer | None = None
        self.waiting_on = ""
        self.forked = False
        self.forks: list[_Fiber] = []
        self.joined = False
        self.cancelling = False
        self.cancel_pending = False


class _Timer:
    __slots__ = ("action", "active")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.active = True


class _Wait:
    """What a waiting fiber waits for; cancelling the fiber cancels the wait."""

    __slots__ = ("cancelled", "children")

    def __init__(self, children: list[_Fiber]) -> None:
        self.children = children
        self.cancelled = False


class _Scheduler:
    def __init__(
        self,
        handlers: HandlerTable,
        fallback: Fallback | None,
        source: _random.Random,
        clock: float,
        max_steps: int,
    ) -> None:
        self.handlers = handlers
        self.fallback = fallback
        self.source = source
        self.clock = clock
        self.max_steps = max_steps
        self.effects: list[Effect[Any]] = []
        self.fibers: dict[int, _Fiber] = {}
        self.ready: deque[_Fiber] = deque()
        self.timers: list[tuple[float, int, _Timer]] = []
        self.sequence = 0
        self.unobserved: list[BaseException] = []

    # -- the loop ---------------------------------------------------------------------------

    def run(self, program: _Program[A]) -> tuple[Result[A, BaseException], float]:
        root = self.new_fiber(program)
        self.ready.append(root)
        finished_at: float | None = None
        steps = 0
        while True:
            if root.outcome is not None and finished_at is None:
                finished_at = self.clock
                self.cancel_alive()
            elif self.ready:
                steps += 1
                if steps > self.max_steps:
                    raise ProgramError(
                        f"the stub interpreter stopped after {self.max_steps} fiber steps; "
                        f"still alive: {self.describe_alive()}. A fiber loops forever (or "
                        "swallows Cancelled and goes on); raise max_steps if the work is real"
                    )
                self.step(self.ready.popleft())
            elif self.timers:
                self.fire_next_timer()
            elif finished_at is not None:
                if not self.cancel_alive():
                    return root.outcome, finished_at  # type: ignore[return-value]
            else:
                raise Deadlock(
                    "no fiber can make progress and no timer is pending: "
                    + self.describe_alive()
                    + "; a fiber waits on another that waits on it, or sleeps forever"
                )

    def alive(self) -> list[_Fiber]:
        return [fiber for fiber in self.fibers.values() if fiber.outcome is None]

    def describe_alive(self) -> str:
        return "; ".join(
            f"fiber {fiber.id} waits for {fiber.waiting_on or 'its turn'}" for fiber in self.alive()
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

    def new_fiber(self, program: _Program[Any]) -> _Fiber:
        fiber = _Fiber(self.sequence, program)
        self.sequence += 1
        self.fibers[fiber.id] = fiber
        return fiber

    def fire_next_timer(self) -> None:
        when, _, timer = heapq.heappop(self.timers)
        if timer.active:
            timer.active = False
            self.clock = max(self.clock, when)
            timer.action()

    def add_timer(self, delay: float, action: Callable[[], None]) -> _Timer:
        timer = _Timer(action)
        if delay != math.inf:  # a timer that never fires is never scheduled
            heapq.heappush(self.timers, (self.clock + delay, self.sequence, timer))
            self.sequence += 1
        return timer

    def wake(self, fiber: _Fiber, kind: str, payload: object, *, first: bool) -> None:
        fiber.input = (kind, payload)
        fiber.state = _READY
        fiber.wait = None
        fiber.waiting_on = ""
        if first:
            self.ready.appendleft(fiber)
        else:
            self.ready.append(fiber)

    def block(self, fiber: _Fiber, state: int, waiting_on: str) -> None:
        fiber.state = state
        fiber.waiting_on = waiting_on

    def step(self, fiber: _Fiber) -> None:
        kind, payload = fiber.input
        fiber.state = _RUNNING
        machine = fiber.machine
        step: Step | None
        if kind == "start":
            step = machine.start()
        elif kind == "value":
            step = machine.resume(payload)
        else:
            step = machine.throw(payload)
        while step is not None:
            if type(step) is Next:
                step = self.perform(fiber, step)
            elif type(step) is Done:
                self.finish(fiber, Success(step.value))
                return
            else:
                assert isinstance(step, Failed)
                self.finish(fiber, Failure(step.error))
                return
        if fiber.cancel_pending:  # asked for while it ran: delivered now that it waits
            fiber.cancel_pending = False
            self.cancel(fiber)

    def finish(self, fiber: _Fiber, outcome: Result[Any, BaseException]) -> None:
        fiber.state = _FINISHED
        fiber.outcome = outcome
        for child in reversed(fiber.forks):
            self.cancel(child)
        callbacks, fiber.on_finish = fiber.on_finish, []
        # reversed, so that waiters woken "first" keep the order in which they waited
        for callback in reversed(callbacks):
            callback(fiber)

    # -- effects ----------------------------------------------------------------------------

    def perform(self, fiber: _Fiber, step: Next) -> Step | None:
        effect = step.effect
        kind = type(effect)
        if kind in _STRUCTURAL:
            return self.structural(fiber, effect)
        self.effects.append(effect)
        handler = self.handlers.find(effect)
        if handler is None and self.fallback is not None:
            handler = self.fallback(effect)
        if handler is None and kind is Sleep:
            seconds = effect.seconds  # type: ignore[attr-defined]
            self.block(fiber, _SLEEPING, f"sleep({seconds:g}) until {self.clock + seconds:g}")
            fiber.timer = self.add_timer(
                seconds, lambda: self.wake(fiber, "value", None, first=False)
            )
            return None
        if handler is None and kind is Now:
            return step.resume(self.clock)
        if handler is None and kind is Random:
            return step.resume(self.source.random())
        if handler is None:
            return step.throw(
                UnhandledEffect(
                    effect,
                    "stub",
                    f"stub.run(program, handlers={{{kind.__name__}: lambda effect: ...}})",
                )
            )
        return perform_with(handler, effect, step.machine)

    def structural(self, fiber: _Fiber, effect: object) -> Step | None:
        machine = fiber.machine
        if isinstance(effect, Parallel):
            if not effect.programs:
                return machine.resume(())
            self.wait_all(fiber, effect.programs, _GatherState(len(effect.programs)), "gather")
            return None
        if isinstance(effect, Race):
            if not effect.programs:
                return machine.throw(InvalidArgument("race() needs at least one program"))
            self.wait_all(fiber, effect.programs, _RaceState(), "race")
            return None
        if isinstance(effect, Timeout):
            self.wait_timeout(fiber, effect)
            return None
        if isinstance(effect, Fork):
            child = self.new_fiber(effect.program)
            child.forked = True
            fiber.forks.append(child)
            self.ready.append(child)
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
            self.wait_for(fiber, target, _outcome_input, f"join(fiber {target.id})")
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
        self.wait_for(fiber, target, lambda _done: ("value", None), f"cancel(fiber {target.id})")
        return None

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
        answer: Callable[[_Fiber], tuple[str, Any]],
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
        children = [self.new_fiber(member) for member in programs]
        wait = _Wait(children)
        self.block(fiber, _WAITING, f"{what} of fibers {', '.join(str(c.id) for c in children)}")
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
                        self.wake(fiber, "error", Cancelled(), first=True)
                    else:
                        kind, payload = state.result()
                        self.wake(fiber, kind, payload, first=True)

            return finished

        for index, child in enumerate(children):
            child.on_finish.append(on_child_finished(index))
        self.ready.extendleft(reversed(children))

    def wait_timeout(self, fiber: _Fiber, effect: Timeout) -> None:
        child = self.new_fiber(effect.program)
        wait = _Wait([child])
        self.block(fiber, _WAITING, f"timeout({effect.seconds:g}s) of fiber {child.id}")
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
                self.wake(fiber, "error", Cancelled(), first=True)
            elif expired[0]:
                error = TimedOut(
                    f"program timed out after {effect.seconds:g}s of virtual time; raise the "
                    "timeout or make the program finish sooner"
                )
                self.wake(fiber, "error", error, first=True)
            else:
                kind, payload = _outcome_input(done)
                self.wake(fiber, kind, payload, first=True)

        child.on_finish.append(on_child_finished)
        self.ready.appendleft(child)

    def note_cancelled_failure(self, child: _Fiber) -> None:
        """A fiber we cancelled that failed with a real error (a failing finaliser): no one
        will see that error, so record it."""
        outcome = child.outcome
        if child.cancelling and isinstance(outcome, Failure):
            error = outcome.failure()
            if not isinstance(error, Cancelled):
                self.unobserved.append(error)

    # -- cancellation -----------------------------------------------------------------------

    def cancel(self, fiber: _Fiber) -> None:
        """Raise `Cancelled` into ``fiber`` where it waits. It runs next (callers cancel
        several fibers in reverse, so they run in order), so that a failed gather fails as soon
        as its started members have unwound, before unrelated fibers move. Cancellation is
        delivered once; finalisers are not interrupted again."""
        state = fiber.state
        if state == _FINISHED or fiber.cancelling:
            return
        if state == _RUNNING:  # a fiber cancelling an ancestor that waits on it
            fiber.cancel_pending = True
            return
        fiber.cancelling = True
        if state == _NEW:
            self.ready.remove(fiber)  # a fiber not yet started waits in the queue
            self.finish(fiber, Failure(Cancelled()))
        elif state == _READY:
            self.ready.remove(fiber)
            self.wake(fiber, "error", Cancelled(), first=True)
        elif state == _SLEEPING:
            assert fiber.timer is not None
            fiber.timer.active = False
            self.wake(fiber, "error", Cancelled(), first=True)
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
                self.wake(fiber, "error", Cancelled(), first=True)


class _Group:
    def child_finished(self, index: int, outcome: Result[Any, BaseException]) -> bool:
        """Record a child's outcome; True when the remaining children must be cancelled."""
        raise NotImplementedError

    def result(self) -> tuple[str, Any]:
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

    def result(self) -> tuple[str, Any]:
        if self.error is not None:
            return ("error", self.error)
        return ("value", tuple(self.values))


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

    def result(self) -> tuple[str, Any]:
        if self.winner is not None:
            return ("value", self.winner.unwrap())
        assert self.last_error is not None
        return ("error", self.last_error)


def _outcome_input(fiber: _Fiber) -> tuple[str, Any]:
    outcome = fiber.outcome
    assert outcome is not None
    if isinstance(outcome, Success):
        return ("value", outcome.unwrap())
    error = outcome.failure()
    if isinstance(error, Cancelled) and fiber.forked:
        fiber.joined = True
        return ("error", FiberCancelled(f"fiber {fiber.id} was cancelled before it finished"))
    fiber.joined = True
    return ("error", error)


def _resume_with_outcome(machine: Machine, fiber: _Fiber) -> Step:
    kind, payload = _outcome_input(fiber)
    if kind == "value":
        return machine.resume(payload)
    return machine.throw(payload)
