"""The public surface of the simulator: `simulate` and `replay` one run, `explore` many (and
shrink a failing schedule), `check_determinism`."""

from __future__ import annotations

import contextlib
import enum
import functools
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
from playbill.effects._checks import callable_with, check_flag, describe_callable, plural
from playbill.effects._handlers import HandlerFactory, Handlers, HandlerTable, fresh_handlers
from playbill.effects._program import Generate
from playbill.interpreters.simulation._choosers import Chooser, _AroundChooser, _chooser
from playbill.interpreters.simulation._envelopes import made_events
from playbill.interpreters.simulation._progress import Progress
from playbill.interpreters.simulation._schedule import (
    AskCycles,
    Delivery,
    Faults,
    Schedule,
    SimulationOptions,
    SimulationResult,
    TraceLine,
    defer_events,
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
    handlers: Handlers | HandlerFactory | None = None,
    max_steps: int | _Unset = _UNSET,
    name: str | _Unset = _UNSET,
    ask_timeout: float | _Unset = _UNSET,
    supervision: SupervisionStrategy | None = None,
    faults: Faults | _Unset = _UNSET,
    trace: bool = True,
    delivery: Delivery | _Unset = _UNSET,
    ask_cycles: AskCycles | _Unset = _UNSET,
    log_failures: bool = False,
) -> SimulationResult[A]:
    """Run ``program`` once in a simulated world; the same seed (or schedule) gives the same
    run, every time, on every machine.

    ``schedule`` replays recorded choices: a `Schedule`, its string, or a list of ints >= 0
    (any such list is valid: values are taken modulo the options, and past its end the first
    option is taken). Otherwise ``strategy`` chooses: ``"random"`` (from ``seed``) or ``"pct"``
    (priority-change scheduling). The actor semantics are those of the asyncio interpreter.
    ``faults`` switches on injected faults (see `Faults`), each a recorded choice.
    ``trace=False`` skips recording the trace (faster; `explore` searches that way).
    ``handlers`` is a handler map, or a function of no arguments that returns a fresh one: it
    is called once per run, so a stateful fake starts anew on every run `explore` makes.

    ``log_failures=True`` logs each actor failure on the ``playbill`` logger as the asyncio
    runtime always does (off by default, so that exploring thousands of runs stays quiet;
    the failures are in ``events`` either way).

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
    (3600.0, 3600.0, 'v6[delivery=per_pair]:')
    >>> replay(sleep(3600).then(now()), "v6[delivery=per_pair]:").clock
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
    check_flag("simulate() log_failures", log_failures)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InvalidArgument(
            f"simulate() seed must be an int or None, got {seed!r} ({type(seed).__name__})"
        )
    world = _World(
        _chooser(strategy, seed, recorded),
        HandlerTable(fresh_handlers(handlers), interpreter="simulation"),
        options.name,
        options.max_steps,
        options.ask_timeout,
        supervision,
        options.faults,
        trace,
        options.delivery == "per_pair",
        options.ask_cycles == "deadlock",
        log_failures=log_failures,
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
            f"the simulation stopped after {plural(options.max_steps, 'step')} without the program "
            "finishing: a livelock (actors or fibers that keep each other busy), or work "
            "larger than max_steps"
        )
    result = SimulationResult(
        status,
        value,
        error,
        Schedule(tuple(world.choices), options),
        tuple(world.trace),
        world.finished_at if status in ("completed", "failed") else world.clock,
        world.dead_letters.count,
        () if world.events_deferred else tuple(world.events),  # type: ignore[arg-type]
        world.unobserved_failures(),
        tuple(world.widths),
        tuple(world.kinds),
        world.failure_index(error) if status != "completed" else None,
    )
    if world.events_deferred:  # made when read, if ever
        result = defer_events(result, functools.partial(made_events, world.events))
    return result


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
    >>> replay(pure(1), "v6:").value
    1
    """
    if schedule is None:
        raise InvalidArgument(
            "replay() needs the schedule to replay: a schedule string such as 'v6:0102', a "
            "Schedule, or a list of choices"
        )
    for refused in ("seed", "strategy", "schedule"):
        if refused in options:
            raise InvalidArgument(
                f"replay() takes no {refused}=: the schedule decides every choice; use "
                "simulate() to draw a new run"
            )
    return simulate(program, schedule=schedule, **options)


class CheckFailureKind(enum.Enum):
    """How a run broke `explore`'s check."""

    DEADLOCK = "the run deadlocked"
    STEP_LIMIT = "the run hit the step limit"
    RETURNED_FALSE = "the check returned a false value"
    ASSERTION = "an assertion of the check failed"
    CHECK_RAISED = "the check raised an exception"


@final
@frozen
class CheckFailure:
    """Why a run broke `explore`'s check: the run deadlocked or hit the step limit, the check
    returned a false value, or it raised (an ``AssertionError`` of an ``assert``, or any other
    exception of a buggy check) — ``error`` is what it raised, or the run's error."""

    kind: CheckFailureKind
    reason: str
    """One line for a person: ``"AssertionError: o0 charged twice"``."""
    error: BaseException | None = None

    @property
    def signature(self) -> tuple[CheckFailureKind, type[BaseException] | None]:
        """What shrinking keeps: a smaller schedule must fail the same way."""
        return (self.kind, type(self.error) if self.error is not None else None)


@final
@frozen
class Exploration(Generic[A]):
    """What `explore` found: how many runs it made, the first failing run, and the minimal
    failing run it shrank that to (``None`` for both when every run passed), with why the
    minimal run broke the check (``failure``) and the program's name for a replay line."""

    runs: int
    failing: SimulationResult[A] | None
    minimal: SimulationResult[A] | None
    exhausted: bool = False
    """True when the ``dfs`` strategy tried every schedule (within the step bound)."""
    options: Mapping[str, Any] = field(factory=dict, repr=False)
    """The options the runs were simulated with, which a replay needs too."""
    failure: CheckFailure | None = None
    """Why the minimal run broke the check."""
    program_expression: str = "main()"
    """What builds the program, for the replay line (``world()``)."""
    program_named: bool = True
    """False when the program came from a lambda, which has no name to paste: the replay
    line says ``main()`` in its place, and the report says so."""

    @property
    def found(self) -> bool:
        return self.failing is not None

    def replay_call(self, program_expression: str | None = None) -> str | None:
        """The call that replays the minimal failing run, ready to paste (``None`` when every
        run passed)."""
        if self.minimal is None:
            return None
        return replay_line(
            self.minimal, program_expression or self.program_expression, self.options
        )

    def report(self, program_expression: str | None = None) -> str:
        """What a failing exploration says: the program, why the check failed, the minimal
        schedule, the call that replays it and the shrunk trace (``""`` when all passed)."""
        minimal, failure = self.minimal, self.failure
        if minimal is None or failure is None:
            return ""
        expression = program_expression or self.program_expression
        assert self.failing is not None
        shrunk = (
            f" (shrunk from {plural(len(self.failing.schedule), 'choice')})"
            if self.failing.schedule != minimal.schedule
            else ""
        )
        outcome = f"{minimal.status}: {minimal.error!r}" if minimal.error else repr(minimal.value)
        runs = plural(self.runs, "run")
        placeholder = (
            f"    ({expression} stands for the program: the lambda given to explore has no "
            "name to paste; build the program in a def, or pass program_expression=)\n"
            if program_expression is None and not self.program_named
            else ""
        )
        if minimal.rows:
            trace = f"the minimal run, step by step:\n{minimal.format_trace()}"
        elif self.options.get("trace") is False:
            trace = (
                "the minimal run's trace was not recorded (explore ran with trace=False): "
                "leave trace out to see it here, or print the replay's format_trace()"
            )
        else:
            trace = "the minimal run took no step"
        return (
            f"explore({expression}) found a schedule that breaks the check after {runs}\n"
            f"  check:            {failure.reason}\n"
            f"  run:              {outcome}\n"
            f"  minimal schedule: {str(minimal.schedule)!r}{shrunk}\n"
            f"replay it with\n"
            f"    {self.replay_call(expression)}\n"
            f"{placeholder}"
            f"{trace}"
        )

    def assert_passed(self, program_expression: str | None = None) -> None:
        """Raise ``AssertionError`` if a schedule failed, with `report`: the program, the
        check's own message, the minimal schedule, the call that replays it and its trace.
        The program's name comes from the ``@program`` function (or the factory) given to
        `explore`; pass ``program_expression`` to write it another way.

        >>> from playbill import pure
        >>> explore(pure(1), lambda result: result.value == 1, runs=3).assert_passed()
        """
        if self.minimal is None:
            return
        error = AssertionError(self.report(program_expression))
        if self.failure is not None and self.failure.error is not None:
            raise error from self.failure.error
        raise error


def replay_line(result: SimulationResult[Any], expression: str, options: Mapping[str, Any]) -> str:
    """``result.replay_hint(expression, options)``, naming a handler factory (``handlers=
    make_fakes``) where the hint elides a map (``handlers=...``)."""
    handlers = options.get("handlers")
    others = {key: value for key, value in options.items() if key != "handlers"}
    call = result.replay_hint(expression, others)
    if handlers is None:
        return call
    name = getattr(handlers, "__qualname__", None)
    if isinstance(handlers, Mapping) or not name or "<" in name:
        name = "..."
    return f"{call[:-1]}, handlers={name})"


def program_name(program: object) -> str:
    """How a person writes ``program``: ``world()`` for a ``@program`` function's value or
    a factory ``world``, else its repr when short, else ``program``."""
    if isinstance(program, Generate):
        function = program.function
        arguments = [repr(argument) for argument in program.args]
        arguments += [f"{key}={value!r}" for key, value in program.kwargs]
        return f"{_short_qualname(function)}({', '.join(arguments)})"
    if not isinstance(program, Program) and callable(program):
        name = _short_qualname(program)
        return "main()" if "<" in name else f"{name}()"  # a lambda has no name to paste
    text = repr(program)
    return text if len(text) <= 60 and "\n" not in text and "<" not in text else "program"


def _short_qualname(function: object) -> str:
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", "program")
    return str(name).rsplit("<locals>.", 1)[-1]


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


def _judge(
    check: Callable[[SimulationResult[Any]], object], result: SimulationResult[Any]
) -> CheckFailure | None:
    """``None`` when ``result`` passes ``check``; else why not. A check passes by returning a
    true value or ``None`` (the pytest way: ``assert`` inside, nothing returned)."""
    if result.status == "deadlock":
        return CheckFailure(CheckFailureKind.DEADLOCK, f"deadlock: {result.error}", result.error)
    if result.status == "step_limit":
        return CheckFailure(
            CheckFailureKind.STEP_LIMIT, f"step limit: {result.error}", result.error
        )
    try:
        verdict = check(result)
        passed = verdict is None or bool(verdict)
    except AssertionError as error:
        message = _first_line(error)
        reason = f"AssertionError: {message}" if message else "AssertionError (no message)"
        return CheckFailure(CheckFailureKind.ASSERTION, reason, error)
    except Exception as error:
        return CheckFailure(
            CheckFailureKind.CHECK_RAISED,
            f"the check raised {type(error).__name__}: {_first_line(error)}",
            error,
        )
    if passed:
        return None
    return CheckFailure(CheckFailureKind.RETURNED_FALSE, f"the check returned {verdict!r}", None)


def _first_line(error: BaseException) -> str:
    """The first line of ``error``'s message: pytest's assertion rewriting appends a long
    explanation (with the whole result's repr) after the line a person wrote."""
    return str(error).strip().split("\n", 1)[0]


def _check_count(name: str, value: object, *, least: int | None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (least is not None and value < least)
    ):
        accepted = {None: "an int", 0: "an int >= 0", 1: "a positive int"}[least]
        raise InvalidArgument(f"explore's {name} must be {accepted}, got {value!r}")
    return value


def explore(
    program: Program[A] | Callable[[], Program[A]],
    check: Callable[[SimulationResult[A]], object],
    *,
    runs: int = 1000,
    strategy: str = "random",
    seed: int = 0,
    shrink: bool = True,
    max_shrinks: int = 2000,
    progress: bool | None = None,
    around: object = None,
    **options: Any,
) -> Exploration[A]:
    """Run ``program`` under up to ``runs`` schedules until a run breaks ``check``; then
    shrink that schedule to a minimal one that breaks it the same way.

    ``check(result)`` passes by returning a true value, or ``None`` (``assert`` inside, the
    pytest way). A run breaks it when the check returns a false value, raises (its
    ``AssertionError`` message, or any other exception of a buggy check, is kept in the
    report), or the run deadlocks or hits the step limit. The search runs without traces
    (``check`` sees the status, value, error and events); the failing and minimal runs are
    traced. `Exploration.assert_passed` raises with the report.

    ``program`` is a program, or a function of no arguments that builds one (called once per
    run); ``handlers=`` may likewise be a function returning a fresh handler map.
    ``strategy`` is ``"random"``, ``"pct"``, or ``"dfs"``: every schedule in turn, depth
    first (for small programs; ``Exploration.exhausted`` says when all passed).
    ``progress`` shows a line of runs done, runs a second and failures found: ``None`` (the
    default) shows it on a terminal, but not when ``CI`` is set or under pytest.

    ``around`` explores the schedules near a recorded production run (a recording's path, a
    `playbill.durable.Recording` or a `playbill.durable.RecordingReplay`): run 0 replays it
    exactly; each later run changes one to three of its choices (PCT-style deviations from
    the recorded order), with effects answered from the recording where it has them and by
    ``handlers`` past it. It runs with ``delivery="per_pair"`` and the recorded system's name.

    >>> from playbill import pure
    >>> explore(pure(1), lambda result: result.value == 1, runs=5).found
    False
    """
    runs = _check_count("runs", runs, least=1)
    seed = _check_count("seed", seed, least=None)
    max_shrinks = _check_count("max_shrinks", max_shrinks, least=0)
    if strategy not in ("random", "pct", "dfs"):
        raise InvalidArgument(
            f"explore's strategy must be 'random', 'pct' or 'dfs', got {strategy!r}"
        )
    if progress is not None and not isinstance(progress, bool):
        raise InvalidArgument(
            f"explore's progress must be True, False or None, got {progress!r} "
            f"({type(progress).__name__})"
        )
    check_flag("explore's shrink", shrink)
    _check_program(program)
    _check_check(check)
    _check_options(options)
    build = _builder(program)
    around_choices: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    if around is not None:
        if strategy == "dfs":
            raise InvalidArgument(
                "explore(around=...) varies the recorded schedule; it takes strategy='random' "
                f"or 'pct', got {strategy!r}"
            )
        recorded: Any = around  # (read_recording refuses what is not a recording)
        choices, widths, system, fresh = around_recording(
            recorded, build(), options.get("handlers")
        )
        around_choices = (choices, widths)
        options = {**options, "handlers": fresh, "delivery": "per_pair", "name": system}
    expression = program_name(program)
    named = isinstance(program, Program) or "<" not in _short_qualname(program)
    quiet = {**options, "trace": False}
    meter = Progress.start(runs, progress)
    try:
        schedules = _depth_first(build, quiet) if strategy == "dfs" else None
        for run in range(runs):
            if around_choices is not None:
                chooser = _AroundChooser(*around_choices, seed + run, run and 1 + run % 3)
                result = simulate(build(), strategy=chooser, **quiet)
            elif schedules is None:
                result = simulate(build(), seed=seed + run, strategy=strategy, **quiet)
            else:
                next_result = next(schedules, None)
                if next_result is None:
                    return Exploration(
                        run,
                        None,
                        None,
                        exhausted=True,
                        options=options,
                        program_expression=expression,
                        program_named=named,
                    )
                result = next_result
            meter.ran(run + 1)
            failure = _judge(check, result)
            if failure is None:
                continue
            meter.found()
            failing = simulate(build(), schedule=result.schedule, **options)
            if shrink:
                shrunk, failure = _shrink(build, check, result, failure, max_shrinks, quiet, meter)
            else:
                shrunk = result.schedule
            minimal = simulate(build(), schedule=shrunk, **options)
            minimal = attrs.evolve(minimal, schedule=shrunk)
            again = simulate(build(), schedule=shrunk, **options)
            if again.rows != minimal.rows:  # the self-check: a schedule must replay exactly
                check_determinism(build(), seed=seed + run, **options)
                raise NondeterminismError(
                    f"the schedule {minimal.schedule} did not replay the same run; the program "
                    "depends on something outside its effects (shared state, a clock, I/O)"
                )
            return Exploration(
                run + 1,
                failing,
                minimal,
                options=options,
                failure=failure,
                program_expression=expression,
                program_named=named,
            )
        return Exploration(
            runs,
            None,
            None,
            options=options,
            program_expression=expression,
            program_named=named,
        )
    finally:
        meter.close()


_SIMULATE_OPTIONS = (
    "handlers",
    "supervision",
    "faults",
    "delivery",
    "ask_timeout",
    "ask_cycles",
    "max_steps",
    "name",
    "trace",
    "log_failures",
)


def _check_program(program: object) -> None:
    if isinstance(program, Program):
        return
    if not callable(program):
        raise InvalidArgument(
            f"explore takes a Program or a function of no arguments that builds one, got "
            f"{program!r} ({type(program).__name__})"
        )
    if not callable_with(program, 0):
        raise InvalidArgument(
            f"explore's program must be a Program or a function of no arguments that builds "
            f"one (it is called once per run), got {describe_callable(program)}, which takes "
            "arguments; wrap it: explore(lambda: ..., check)"
        )


def _check_check(check: object) -> None:
    if not callable_with(check, 1):
        what = (
            f"{describe_callable(check)}, which cannot take one argument"
            if callable(check)
            else f"{check!r} ({type(check).__name__})"
        )
        raise InvalidArgument(
            f"explore's check must be a function of one argument, the SimulationResult of a "
            f"run, that returns a true value or None to pass (or asserts), got {what}"
        )


def _check_options(options: Mapping[str, Any]) -> None:
    if "schedule" in options:
        raise InvalidArgument(
            f"explore() takes no schedule= (got {options['schedule']!r}): every run explores a "
            "schedule of its own, and one fixed schedule would replay the same run every time; "
            "to run one schedule, use replay(program, schedule)"
        )
    unknown = sorted(key for key in options if key not in _SIMULATE_OPTIONS)
    if unknown:
        raise InvalidArgument(
            f"explore() got the unknown option {unknown[0]}={options[unknown[0]]!r}; besides "
            "runs, strategy, seed, shrink, max_shrinks and progress, it takes the options of "
            f"simulate(): {', '.join(_SIMULATE_OPTIONS)}"
        )


def _builder(program: Program[A] | Callable[[], Program[A]]) -> Callable[[], Program[A]]:
    if isinstance(program, Program):
        return lambda: program
    factory = program

    def build() -> Program[A]:
        built = factory()
        if not isinstance(built, Program):
            raise InvalidArgument(
                f"the program factory {program_name(factory)} returned {built!r}, not a Program"
            )
        return built

    return build


def _depth_first(build: Callable[[], Program[A]], options: dict[str, Any]) -> Any:
    """Every schedule of the program, one after the other: an odometer over the choices of the
    last run, whose digits each count up to the number of options that choice had."""
    prefix: list[int] = []
    while True:
        result = simulate(build(), schedule=prefix, **options)
        yield result
        choices = list(result.schedule.choices)
        position = len(choices) - 1
        while position >= 0 and choices[position] + 1 >= result.widths[position]:
            position -= 1
        if position < 0:
            return
        prefix = [*choices[:position], choices[position] + 1]


def _shrink(
    build: Callable[[], Program[A]],
    check: Callable[[SimulationResult[A]], object],
    failing: SimulationResult[A],
    failure: CheckFailure,
    budget: int,
    options: dict[str, Any],
    meter: Progress,
) -> tuple[Schedule, CheckFailure]:
    """Shrink a failing schedule: shorter, then smaller choices — each candidate replayed and
    kept when it still fails the same way (a smaller schedule that fails otherwise is another
    bug). Past its end a schedule takes the first option, so zeroing the tail shortens it,
    and a prefix is a complete schedule."""
    best_failure = failure
    attempts = 0

    def canonical(result: SimulationResult[A]) -> list[int]:
        choices = list(result.schedule.choices)
        while choices and choices[-1] == 0:
            choices.pop()
        return choices

    def attempt(choices: list[int]) -> bool:
        nonlocal best_failure, attempts
        attempts += 1
        meter.shrinking(attempts)
        candidate = simulate(build(), schedule=choices, **options)
        candidate_failure = _judge(check, candidate)
        if candidate_failure is None or candidate_failure.signature != failure.signature:
            return False
        shorter = canonical(candidate)
        if (len(shorter), shorter) < (len(best_choices), best_choices):
            best_choices[:] = shorter
            best_failure = candidate_failure
            return True
        return False

    best_choices = canonical(failing)
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
    # the minimal schedule keeps the options the failing run carried
    return attrs.evolve(failing.schedule, choices=tuple(best_choices)), best_failure


# (below: the replay of a recording runs `simulate`, defined above)
from playbill.interpreters.simulation._recording import around_recording  # noqa: E402
