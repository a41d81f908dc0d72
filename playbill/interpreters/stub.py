"""The stub interpreter: synchronous, deterministic, no actors — for unit-testing a program's
logic with plain functions as handlers, in the style of ``effect.testing``.

Semantics, all deterministic:

* **User effects** (and the actor effects — spawn, tell, ask, stop, watch, self_ref,
  live_actors) are
  answered by the handler map; an effect with no handler fails with `UnhandledEffect`. A
  handler returns a value or a Program; an ``async def`` handler (an awaitable) fails with
  `ProgramError`, as does a flow step's coroutine (`Await`): the stub has no event loop.
  ``emit`` is recorded (in `StubResult.effects`) and answered with ``None``; ``blocking``
  calls its function inline.
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
  `FiberCancelled`. When a fiber finishes, the fibers it forked that still run are cancelled,
  and it completes once they (and their finalisers) have finished: when the main program
  finishes, nothing it started is left running (structured concurrency, as under asyncio).
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

import random as _random
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar, final

from attrs import frozen
from returns.result import Failure, Result, Success

from playbill.effects import (
    Await,
    Blocking,
    Deadlock,
    Done,
    Effect,
    Emit,
    EmitStamped,
    Failed,
    MaybeFault,
    Next,
    Now,
    ProgramError,
    Random,
    Sleep,
    Step,
    UnhandledEffect,
)
from playbill.effects import Program as _Program
from playbill.effects._handlers import (
    Handler,
    Handlers,
    HandlerTable,
    perform_with,
    refuse_awaitable,
)
from playbill.interpreters._fibers import STRUCTURAL, FiberScheduler, _Fiber

__all__ = ["StubResult", "execute", "run"]

A = TypeVar("A")


Fallback = Callable[[Effect[Any]], Handler | None]


@final
@frozen
class StubResult(Generic[A]):
    """What one stub run did: its outcome, the effects it performed (in order; the structural
    ``gather``/``race``/``timeout``/``fork``/``join`` effects are not listed, what they run
    is), the virtual clock when the program (and what it forked) finished, and the failures
    nobody observed — a
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
    table = HandlerTable(handlers, interpreter="the stub")
    scheduler = _Scheduler(table, fallback, _random.Random(seed), float(start_time), max_steps)
    outcome, finished_at = scheduler.run(program)
    return StubResult(
        outcome, tuple(scheduler.effects), finished_at, scheduler.unobserved_failures()
    )


class _Scheduler(FiberScheduler):
    def __init__(
        self,
        handlers: HandlerTable,
        fallback: Fallback | None,
        source: _random.Random,
        clock: float,
        max_steps: int,
    ) -> None:
        super().__init__(clock)
        self.handlers = handlers
        self.fallback = fallback
        self.source = source
        self.max_steps = max_steps
        self.effects: list[Effect[Any]] = []
        self.ready: deque[_Fiber] = deque()

    def enqueue(self, fiber: _Fiber, *, first: bool) -> None:
        if first:
            self.ready.appendleft(fiber)
        else:
            self.ready.append(fiber)

    def unqueue(self, fiber: _Fiber) -> None:
        self.ready.remove(fiber)

    # -- the loop ---------------------------------------------------------------------------

    def run(self, program: _Program[A]) -> tuple[Result[A, BaseException], float]:
        root = self.new_fiber(program, "main")
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

    def step(self, fiber: _Fiber) -> None:
        step: Step | None = self.resume(fiber)
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
        self.settle(fiber)

    # -- effects ----------------------------------------------------------------------------

    def perform(self, fiber: _Fiber, step: Next) -> Step | None:
        effect = step.effect
        kind = type(effect)
        if kind in STRUCTURAL:
            return self.structural(fiber, effect)
        self.effects.append(effect)
        handler = self.handlers.find(effect)
        if handler is None and self.fallback is not None:
            handler = self.fallback(effect)
        if handler is None:
            return self.builtin(fiber, step, effect, kind)
        return perform_with(handler, effect, step.machine, interpreter="the stub")

    def builtin(self, fiber: _Fiber, step: Next, effect: Effect[Any], kind: type) -> Step | None:
        """The stub's own answer to an effect no handler takes."""
        if kind is Emit or kind is MaybeFault:  # recorded, inert
            return step.resume(None)
        if kind is Sleep:
            self.sleep(fiber, effect.seconds)  # type: ignore[attr-defined]
            return None
        if kind is Now:
            return step.resume(self.clock)
        if kind is Random:
            return step.resume(self.source.random())
        if kind is EmitStamped:  # inert, but the event is made, as elsewhere
            try:
                effect.make(self.clock)  # type: ignore[attr-defined]
            except Exception as error:
                return step.throw(error)
            return step.resume(None)
        if kind is Blocking:  # inline: the stub has no threads
            try:
                value = effect.function(*effect.args, **dict(effect.kwargs))  # type: ignore[attr-defined]
            except Exception as error:
                return step.throw(error)
            return step.resume(value)
        if isinstance(effect, Await):  # no event loop here
            return step.throw(refuse_awaitable(effect.awaitable, effect.origin, "the stub"))
        return step.throw(
            UnhandledEffect(
                effect,
                "stub",
                f"stub.run(program, handlers={{{kind.__name__}: lambda effect: ...}})",
            )
        )


VOCABULARY = frozenset(STRUCTURAL) | {
    Sleep,
    Now,
    Random,
    Emit,
    EmitStamped,
    MaybeFault,
    Await,
    Blocking,
}
"""The built-in effects the stub performs by itself: concurrency, time, chance, the inert
ones, and `Await`, which it refuses. Actor effects need handlers here (the stub has no
actors): a test checks that this and the actor effects make up the whole vocabulary."""
