"""The public surface of the simulator: `simulate` and `replay` one run, `explore` many (and
shrink a failing schedule), `check_determinism`."""

from __future__ import annotations

import contextlib
import enum
import random as _random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, final

import attrs
from attrs import field, frozen
from returns.result import Success

from playbill.actors import SupervisionStrategy
from playbill.actors._supervising import check_supervision
from playbill.effects import (
    InvalidArgument,
    NondeterminismError,
    Program,
    ProgramError,
)
from playbill.effects._checks import check_flag
from playbill.effects._handlers import Handlers, HandlerTable
from playbill.interpreters.simulation._choosers import Chooser, _chooser
from playbill.interpreters.simulation._schedule import (
    AskCycles,
    Delivery,
    Faults,
    Schedule,
    SimulationOptions,
    SimulationResult,
    TraceLine,
)
from playbill.interpreters.simulation._world import _World

# -- the public API ---------------------------------------------------------------------------


A = TypeVar("A")


class _Unset(enum.Enum):
    """An option left out: the schedule's value, else the default."""

    UNSET = "unset"

    def __repr__(self) -> str:
        return "<from the schedule, else the default>"


_UNSET = _Unset.UNSET


def simulate(
    program: Program[A],
    *,
    seed: int | None = None,
    schedule: Schedule | Sequence[int] | str | None = None,
    strategy: str | Chooser = "random",
    handlers: Handlers | None = None,
    max_steps: int | _Unset = _UNSET,
    name: str | _Unset = _UNSET,
    ask_timeout: float | _Unset = _UNSET,
    supervision: SupervisionStrategy | None = None,
    faults: Faults | _Unset = _UNSET,
    trace: bool = True,
    delivery: Delivery | _Unset = _UNSET,
    ask_cycles: AskCycles | _Unset = _UNSET,
) -> SimulationResult[A]:
    """Run ``program`` once in a simulated world; the same seed (or schedule) gives the same
    run, every time, on every machine.

    ``schedule`` replays recorded choices: a `Schedule`, its string, or a list of ints >= 0
    (any such list is valid: values are taken modulo the options, and past its end the first
    option is taken). Otherwise ``strategy`` chooses: ``"random"`` (from ``seed``) or ``"pct"``
    (priority-change scheduling). The actor semantics are those of the asyncio interpreter.
    ``faults`` switches on injected faults (see `Faults`), each a recorded choice.
    ``trace=False`` skips recording the trace (faster; `explore` searches that way).

    The options that give a schedule its meaning — ``delivery``, ``faults``, ``ask_timeout``,
    ``ask_cycles``, ``max_steps`` and ``name``, the `SimulationOptions` — are recorded in the
    result's schedule, and a schedule string (or `Schedule`) replays with its own: leave them
    out (one given with another value than the schedule's is refused). Left out with no
    schedule to take them from, they are ``delivery="causal"``, no faults,
    ``ask_timeout=30.0``, ``ask_cycles="deadlock"``, ``max_steps=100_000``, ``name="app"``.

    ``delivery`` says which message orders are possible. ``"causal"`` (the default) is the
    asyncio runtime's: each actor's mailbox is first in, first out, and a fiber's consecutive
    tells land together (a tell never suspends its sender, as under asyncio), so the schedule
    chooses who runs, not how the mailboxes are ordered. ``"per_pair"`` allows every order the
    documented guarantee allows — only each sender's own messages to one receiver keep their
    order — as a deployment across processes may deliver them: which sender's message an actor
    handles next is a choice too.

    ``ask_cycles``: when a cycle of asks forms (A's message waits on B's reply while B's waits
    on A's, or an actor asks itself from its own message), the run ends at once with status
    ``deadlock`` and an error that lists the cycle in order (``"deadlock"``, the default);
    ``"wait"`` lets the ask timeouts play out instead, for a program that relies on them.

    >>> from playbill import sleep, now
    >>> result = simulate(sleep(3600).then(now()), delivery="per_pair")
    >>> result.value, result.clock, str(result.schedule)
    (3600.0, 3600.0, 'v4[delivery=per_pair]:')
    >>> replay(sleep(3600).then(now()), "v4[delivery=per_pair]:").clock
    3600.0
    """
    given: dict[str, Any] = {
        key: value
        for key, value in (
            ("delivery", delivery),
            ("faults", faults),
            ("ask_timeout", ask_timeout),
            ("ask_cycles", ask_cycles),
            ("max_steps", max_steps),
            ("name", name),
        )
        if value is not _UNSET
    }
    explicit = SimulationOptions(**given)  # each option checked
    recorded = _as_schedule(schedule)
    carried = recorded.options if recorded is not None else None
    if carried is None:
        options = explicit
    else:
        for key in given:
            if getattr(explicit, key) != getattr(carried, key):
                raise InvalidArgument(
                    f"simulate() {key}={getattr(explicit, key)!r} contradicts the schedule, "
                    f"which was recorded with {key}={getattr(carried, key)!r}; leave {key} out "
                    "to replay it as recorded (a schedule carries its options), or pass the "
                    "bare choices (list(schedule.choices)) to run them under other options"
                )
        options = carried
    check_supervision(supervision)
    check_flag("simulate() trace", trace)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InvalidArgument(
            f"simulate() seed must be an int or None, got {seed!r} ({type(seed).__name__})"
        )
    world = _World(
        _chooser(strategy, seed, recorded),
        HandlerTable(handlers, interpreter="simulation"),
        options.name,
        options.max_steps,
        options.ask_timeout,
        supervision,
        options.faults,
        trace,
        options.delivery == "per_pair",
        options.ask_cycles == "deadlock",
    )
    status, outcome = world.run(program)
    value: Any = None
    error: BaseException | None = None
    if outcome is not None:
        if isinstance(outcome, Success):
            value = outcome.unwrap()
        else:
            error = outcome.failure()
    elif status == "step_limit":
        error = ProgramError(
            f"the simulation stopped after {options.max_steps} steps without the program "
            "finishing: a livelock (actors or fibers that keep each other busy), or work "
            "larger than max_steps"
        )
    return SimulationResult(
        status,
        value,
        error,
        Schedule(tuple(world.choices), options),
        tuple(world.trace),
        world.finished_at if status in ("completed", "failed") else world.clock,
        world.dead_letters.count,
        tuple(world.events),
        world.unobserved_failures(),
        tuple(world.widths),
    )


def _as_schedule(schedule: object) -> Schedule | None:
    if schedule is None or isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        return Schedule.parse(schedule)
    return Schedule(schedule)  # its choices are checked


def replay(
    program: Program[A],
    schedule: Schedule | Sequence[int] | str,
    **options: Any,
) -> SimulationResult[A]:
    """Run ``program`` again along ``schedule`` (what a result printed): the same trace. The
    schedule carries the options it was recorded with (see `simulate`); handlers and
    ``supervision`` are code, which no string carries: pass them again.

    >>> from playbill import pure
    >>> replay(pure(1), "v4:").value
    1
    """
    if schedule is None:
        raise InvalidArgument(
            "replay() needs the schedule to replay: a schedule string such as 'v4:0102', a "
            "Schedule, or a list of choices"
        )
    for refused in ("seed", "strategy", "schedule"):
        if refused in options:
            raise InvalidArgument(
                f"replay() takes no {refused}=: the schedule decides every choice; use "
                "simulate() to draw a new run"
            )
    return simulate(program, schedule=schedule, **options)


@final
@frozen
class Exploration(Generic[A]):
    """What `explore` found: how many runs it made, the first failing run, and the minimal
    failing run it shrank that to (``None`` for both when every run passed)."""

    runs: int
    failing: SimulationResult[A] | None
    minimal: SimulationResult[A] | None
    exhausted: bool = False
    """True when the ``dfs`` strategy tried every schedule (within the step bound)."""
    options: Mapping[str, Any] = field(factory=dict, repr=False)
    """The options the runs were simulated with, which a replay needs too."""

    @property
    def found(self) -> bool:
        return self.failing is not None

    def assert_passed(self, program_expression: str = "main()") -> None:
        """Raise ``AssertionError`` if a schedule failed, with the call that replays it, the
        minimal schedule and its trace — what a test wants to print.

        >>> from playbill import pure
        >>> explore(pure(1), lambda result: result.value == 1, runs=3).assert_passed()
        """
        if self.minimal is None:
            return
        minimal = self.minimal
        outcome = f"{minimal.status}: {minimal.error!r}" if minimal.error else repr(minimal.value)
        raise AssertionError(
            f"a schedule broke the check after {self.runs} runs ({outcome}); replay it with\n"
            f"    {minimal.replay_hint(program_expression, self.options)}\n"
            f"{minimal.format_trace()}"
        )


def check_determinism(program: Program[A], *, seed: int = 0, **options: Any) -> None:
    """Run ``program`` twice with the same seed and raise `NondeterminismError` unless both
    runs are identical step for step — naming the first step that differs and any direct
    call to a clock or random source that the program made instead of an effect.

    >>> from playbill import pure
    >>> check_determinism(pure(1))
    """
    with _watching_direct_calls() as direct_calls:
        first = simulate(program, seed=seed, **options)
        second = simulate(program, seed=seed, **options)
    if first.rows == second.rows and first.schedule == second.schedule:
        return
    step = next(
        (
            index
            for index, (one, other) in enumerate(zip(first.rows, second.rows, strict=False))
            if one != other
        ),
        min(len(first.rows), len(second.rows)),
    )
    lines = [
        "the same seed gave two different runs, so schedules cannot be replayed;",
        f"  first run,  step {step}: {_row(first.rows, step)}",
        f"  second run, step {step}: {_row(second.rows, step)}",
    ]
    if direct_calls:
        lines.append(
            "  the program called, outside the effects: "
            + ", ".join(sorted(direct_calls))
            + " — read time with now(), chance with random(), and do I/O through effects"
        )
    else:
        lines.append(
            "  look for state shared between runs (class attributes, module globals), or "
            "a clock, random source or I/O used directly instead of through effects"
        )
    raise NondeterminismError("\n".join(lines))


def _row(rows: tuple[tuple[int, float, str, str], ...], step: int) -> str:
    if step >= len(rows):
        return "(the run had ended)"
    return str(TraceLine(*rows[step])).strip()


@contextlib.contextmanager
def _watching_direct_calls() -> Any:
    """Record calls to the usual clocks and random sources made from code outside playbill and
    the standard library while the body runs (modules' attributes are wrapped, then restored)."""
    import os
    import sys
    import time

    watched = [
        (time, "time"),
        (time, "monotonic"),
        (time, "perf_counter"),
        (_random, "random"),
        (_random, "randint"),
        (_random, "choice"),
        (_random, "uniform"),
    ]
    calls: set[str] = set()
    library = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    standard = os.path.dirname(os.__file__)
    originals = []

    def wrap(module: Any, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def watched_call(*arguments: Any, **keywords: Any) -> Any:
            caller = sys._getframe(1)
            filename = caller.f_code.co_filename
            if not filename.startswith((library, standard)):
                calls.add(f"{module.__name__}.{name}() at {filename}:{caller.f_lineno}")
            return original(*arguments, **keywords)

        return watched_call

    for module, name in watched:
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, wrap(module, name, original))
    try:
        yield calls
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def _passes(
    check: Callable[[SimulationResult[Any]], object], result: SimulationResult[Any]
) -> bool:
    if result.status in ("deadlock", "step_limit"):
        return False
    try:
        return bool(check(result))
    except AssertionError:
        return False


def explore(
    program: Program[A],
    check: Callable[[SimulationResult[A]], object],
    *,
    runs: int = 1000,
    strategy: str = "random",
    seed: int = 0,
    shrink: bool = True,
    max_shrinks: int = 2000,
    **options: Any,
) -> Exploration[A]:
    """Run ``program`` under up to ``runs`` schedules until ``check(result)`` is false (or
    raises ``AssertionError``, or the run deadlocks or hits the step limit); then shrink that
    schedule to a minimal one that still fails. The search runs without traces (``check``
    sees the status, value, error and events); the failing and minimal runs are traced.

    ``strategy`` is ``"random"``, ``"pct"``, or ``"dfs"``: every schedule in turn, depth
    first (for small programs; ``Exploration.exhausted`` says when all passed).

    >>> from playbill import pure
    >>> explore(pure(1), lambda result: result.value == 1, runs=5).found
    False
    """
    quiet = {**options, "trace": False}
    schedules = _depth_first(program, quiet) if strategy == "dfs" else None
    for run in range(runs):
        if schedules is None:
            result = simulate(program, seed=seed + run, strategy=strategy, **quiet)
        else:
            next_result = next(schedules, None)
            if next_result is None:
                return Exploration(run, None, None, exhausted=True, options=options)
            result = next_result
        if not _passes(check, result):
            failing = simulate(program, schedule=result.schedule, **options)
            if shrink:
                shrunk = _shrink(program, check, result, max_shrinks, quiet).schedule
            else:
                shrunk = result.schedule
            minimal = simulate(program, schedule=shrunk, **options)
            minimal = attrs.evolve(minimal, schedule=shrunk)
            again = simulate(program, schedule=shrunk, **options)
            if again.rows != minimal.rows:  # the self-check: a schedule must replay exactly
                check_determinism(program, seed=seed + run, **options)
                raise NondeterminismError(
                    f"the schedule {minimal.schedule} did not replay the same run; the program "
                    "depends on something outside its effects (shared state, a clock, I/O)"
                )
            return Exploration(run + 1, failing, minimal, options=options)
    return Exploration(runs, None, None, options=options)


def _depth_first(program: Program[A], options: dict[str, Any]) -> Any:
    """Every schedule of ``program``, one after the other: an odometer over the choices of the
    last run, whose digits each count up to the number of options that choice had."""
    prefix: list[int] = []
    while True:
        result = simulate(program, schedule=prefix, **options)
        yield result
        choices = list(result.schedule.choices)
        position = len(choices) - 1
        while position >= 0 and choices[position] + 1 >= result.widths[position]:
            position -= 1
        if position < 0:
            return
        prefix = [*choices[:position], choices[position] + 1]


def _shrink(
    program: Program[A],
    check: Callable[[SimulationResult[A]], object],
    failing: SimulationResult[A],
    budget: int,
    options: dict[str, Any],
) -> SimulationResult[A]:
    """Shrink a failing schedule: shorter, then smaller choices — each candidate replayed and
    kept when it still fails. Past its end a schedule takes the first option, so zeroing the
    tail shortens it, and a prefix is a complete schedule."""
    best = failing
    attempts = 0

    def canonical(result: SimulationResult[A]) -> list[int]:
        choices = list(result.schedule.choices)
        while choices and choices[-1] == 0:
            choices.pop()
        return choices

    def attempt(choices: list[int]) -> bool:
        nonlocal best, attempts
        attempts += 1
        candidate = simulate(program, schedule=choices, **options)
        if _passes(check, candidate):
            return False
        shorter = canonical(candidate)
        if (len(shorter), shorter) < (len(best_choices), best_choices):
            best, best_choices[:] = candidate, shorter
            return True
        return False

    best_choices = canonical(best)
    improved = True
    while improved and attempts < budget:
        improved = False
        # each choice as small as it can be, from the end (zeros at the end vanish)
        position = len(best_choices) - 1
        while position >= 0 and attempts < budget:
            for smaller in range(min(best_choices[position], 3)):
                candidate = list(best_choices)
                candidate[position] = smaller
                if attempt(candidate):
                    improved = True
                    break
            position = min(position, len(best_choices)) - 1
        # a choice removed altogether
        position = len(best_choices) - 1
        while position >= 0 and attempts < budget:
            if attempt(best_choices[:position] + best_choices[position + 1 :]):
                improved = True
            position = min(position, len(best_choices)) - 1
    return attrs.evolve(best, schedule=attrs.evolve(best.schedule, choices=tuple(best_choices)))
