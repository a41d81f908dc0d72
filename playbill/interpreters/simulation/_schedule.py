"""What a simulated run records and what it may inject: the `Schedule` of its choices and the
`SimulationOptions` that give them their meaning, its `TraceLine`s, the `SimulationResult`,
and the `Faults` it is allowed."""

from __future__ import annotations

import enum
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, final
from urllib.parse import quote, unquote

import attrs
from attrs import field, frozen
from returns.result import Failure, Result, Success

from playbill.actors import DEFAULT_ASK_TIMEOUT, ActorEvent, check_name
from playbill.effects import InvalidArgument
from playbill.effects._checks import (
    check_count,
    check_one_of,
    check_path,
    check_probability,
    check_seconds,
)

A = TypeVar("A")

Status = Literal["completed", "failed", "deadlock", "step_limit"]

_DIGITS = string.digits + string.ascii_lowercase + string.ascii_uppercase

Delivery = Literal["causal", "per_pair"]
AskCycles = Literal["deadlock", "wait"]
DELIVERIES: tuple[Delivery, ...] = ("causal", "per_pair")
ASK_CYCLES: tuple[AskCycles, ...] = ("deadlock", "wait")


# -- faults ---------------------------------------------------------------------------------


def _probability(name: str) -> Any:
    return field(default=0.0, validator=lambda _, __, value: check_probability(name, value))


@final
@frozen
class Faults:
    """Which faults the simulator may inject, each a probability per opportunity (for the
    random and PCT strategies; a replayed schedule says exactly where). Off by default.

    - ``crash``: an actor fails with `InjectedFault` before it handles its next message (its
      supervisor decides, as for any failure; the message stays queued, so a restarted
      instance handles it and a stop makes it a dead letter);
    - ``delay``: a told message arrives ``delay_for`` seconds later (later messages of the
      same sender to the same actor wait behind it: per-pair order is kept);
    - ``ask_timeout``: an ask fails with `AskTimeout` at once (its reply becomes a late-reply
      dead letter);
    - ``points``: a `maybe_fault(name)` point fails with `InjectedFault`;

    and the failure modes of a durable mailbox (the Redis transport's: at-least-once delivery),
    for every actor of the world:

    - ``redeliver``: an actor handled a message, but its ack is lost: the same message is
      delivered again, ahead of the messages queued behind it (a redelivered ask's second
      reply is a late-reply dead letter);
    - ``duplicate``: a told or asked message is queued twice, as a sender's retried write
      (only the first reply of an ask counts; the second is a late-reply dead letter);
    - ``lease_loss``: before an actor handles its next message, its owner loses the lease: a
      fresh instance replaces it (its state is lost; ``on_stop``, then ``on_restart``, which
      calls ``on_start``, with no supervisor's decision) and handles the message.

    Every decision is a recorded choice (0: no fault, 1: fault), so a found fault replays,
    and shrinking removes the faults a failure does not need. A probability is a number in
    [0, 1] (not a bool); ``delay_for`` is positive, finite seconds.

    >>> Faults(crash=0.1).crash
    0.1
    >>> from playbill import pure, simulate
    >>> str(simulate(pure(1), faults=Faults(redeliver=0.5)).schedule)
    'v6[faults.redeliver=0.5]:'
    """

    crash: float = _probability("Faults crash")
    delay: float = _probability("Faults delay")
    ask_timeout: float = _probability("Faults ask_timeout")
    points: float = _probability("Faults points")
    redeliver: float = _probability("Faults redeliver")
    duplicate: float = _probability("Faults duplicate")
    lease_loss: float = _probability("Faults lease_loss")
    delay_for: float = field(
        default=0.1,
        validator=lambda _, __, value: check_seconds("Faults delay_for", value, infinite=False),
    )


NO_FAULTS = Faults()


# -- what a schedule carries ------------------------------------------------------------------


def _choice_of(name: str, accepted: tuple[str, ...]) -> Any:
    return lambda _, __, value: check_one_of(name, value, accepted)


def _is_faults(_: object, __: object, value: object) -> None:
    if not isinstance(value, Faults):
        raise InvalidArgument(
            f"faults must be a Faults value, such as Faults(crash=0.1), got {value!r} "
            f"({type(value).__name__}); leave it out for no faults"
        )


@final
@frozen
class SimulationOptions:
    """The options that give a schedule its meaning: the same choices under another delivery,
    other faults, another ask timeout ... are another run. `simulate` records them in every
    schedule it returns, so that the schedule's string alone replays the run.

    Each is the `simulate` argument of the same name (``name`` is the actor system's name).
    Handlers and ``supervision`` are code, which no string carries: pass them again.

    >>> SimulationOptions(delivery="per_pair").delivery
    'per_pair'
    """

    delivery: Delivery = field(default="causal", validator=_choice_of("delivery", DELIVERIES))
    faults: Faults = field(default=NO_FAULTS, validator=_is_faults)
    ask_timeout: float = field(
        default=DEFAULT_ASK_TIMEOUT,
        validator=lambda _, __, value: check_seconds("ask_timeout", value),
    )
    ask_cycles: AskCycles = field(
        default="deadlock", validator=_choice_of("ask_cycles", ASK_CYCLES)
    )
    max_steps: int = field(
        default=100_000, validator=lambda _, __, value: check_count("max_steps", value, minimum=1)
    )
    name: str = field(
        default="app", validator=lambda _, __, value: check_name(value, "an actor system name")
    )

    def header(self) -> str:
        """The options that differ from the defaults, as a schedule string writes them
        (``delivery=per_pair,faults.crash=0.1``; empty for the defaults)."""
        items = []
        for key, value, default in self._items():
            if value != default:
                items.append(f"{key}={_format_value(value)}")
        return ",".join(items)

    def _items(self) -> list[tuple[str, object, object]]:
        items: list[tuple[str, object, object]] = []
        for attribute in attrs.fields(SimulationOptions):
            if attribute.name == "faults":
                for fault in attrs.fields(Faults):
                    items.append(
                        (
                            f"faults.{fault.name}",
                            getattr(self.faults, fault.name),
                            getattr(NO_FAULTS, fault.name),
                        )
                    )
            else:
                items.append((attribute.name, getattr(self, attribute.name), attribute.default))
        return items


DEFAULT_OPTIONS = SimulationOptions()
_OPTION_KEYS = tuple(key for key, _, _ in DEFAULT_OPTIONS._items())


def _format_value(value: object) -> str:
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, int):
        return str(value)
    return quote(str(value), safe="-_.~$")


def _read_options(text: str, header: str, offset: int) -> SimulationOptions:
    """The options of a schedule's header (``header`` starts at index ``offset`` of
    ``text``)."""
    fields = attrs.fields_dict(SimulationOptions)
    options: dict[str, Any] = {}
    faults: dict[str, Any] = {}
    position = offset
    for item in header.split(","):
        key, equals, value = item.partition("=")
        if not equals or key not in _OPTION_KEYS:
            raise InvalidArgument(
                f"{text!r} at index {position}: {item!r} is not an option of a schedule; "
                f"its header holds key=value items with keys {', '.join(_OPTION_KEYS)}"
            )
        fault = key.startswith("faults.")
        into, name = (faults, key[7:]) if fault else (options, key)
        if name in into:
            raise InvalidArgument(f"{text!r} at index {position}: {key} is given twice")
        default = getattr(NO_FAULTS, name) if fault else fields[name].default
        into[name] = _read_value(text, position + len(key) + 1, key, value, default)
        position += len(item) + 1
    try:
        if faults:
            options["faults"] = Faults(**faults)
        return SimulationOptions(**options)
    except InvalidArgument as error:
        raise InvalidArgument(f"{text!r}: its header holds a bad option: {error}") from None


def _read_value(text: str, position: int, key: str, value: str, default: object) -> object:
    try:
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            return int(value)
    except ValueError:
        raise InvalidArgument(
            f"{text!r} at index {position}: {key}={value!r} is not a number, as {key} must be"
        ) from None
    return unquote(value)


# -- schedules and results --------------------------------------------------------------------


def _as_choices(choices: object) -> tuple[int, ...]:
    if isinstance(choices, (bytes, bytearray, memoryview)):
        raise InvalidArgument(
            f"a schedule is a str such as 'v6:0102', a Schedule or a list of ints >= 0, got "
            f"{bytes(choices)!r} ({type(choices).__name__}), whose bytes would be read as "
            "choices; decode it first: replay(program, data.decode())"
        )
    if isinstance(choices, str) or not isinstance(choices, Sequence):
        raise InvalidArgument(
            f"a schedule's choices are a sequence of ints >= 0, got {choices!r} "
            f"({type(choices).__name__}); read a printed schedule with Schedule.parse(text)"
        )
    for index, choice in enumerate(choices):
        if not isinstance(choice, int) or isinstance(choice, bool) or choice < 0:
            raise InvalidArgument(
                f"a schedule's choices are ints >= 0, got {choice!r} "
                f"({type(choice).__name__}) at index {index} of {choices!r}"
            )
    return tuple(choices)


def _as_options(options: object) -> SimulationOptions | None:
    if options is not None and not isinstance(options, SimulationOptions):
        raise InvalidArgument(
            f"a schedule's options are a SimulationOptions value or None, got {options!r}"
        )
    return options


@final
@frozen
class Schedule:
    """The choices of one run — at each choice point, an index into the enabled set sorted by
    stable names — and the `SimulationOptions` it ran with.

    Printed as a short string: ``v6``, the options that differ from the defaults in brackets,
    ``:``, then one character a choice (base 62; larger values in parentheses). `Schedule.parse`
    reads it back, and ``replay(program, text)`` replays the run from it alone. The version
    names the simulator's choice points and the format: a schedule replays only under the
    version that recorded it.

    >>> schedule = Schedule((0, 2, 1, 70), SimulationOptions(delivery="per_pair"))
    >>> str(schedule)
    'v6[delivery=per_pair]:021(70)'
    >>> Schedule.parse("v6[delivery=per_pair]:021(70)") == schedule
    True

    A schedule built from numbers alone (``options=None``, as Hypothesis draws them) carries
    no options: `simulate` takes them from its arguments. Printed, it reads back as one
    recorded with the defaults (``v6:021(70)``).
    """

    choices: tuple[int, ...] = field(converter=_as_choices)
    options: SimulationOptions | None = field(default=None, converter=_as_options)
    version: ClassVar[int] = 6

    def __str__(self) -> str:
        encoded = "".join(
            _DIGITS[choice] if choice < len(_DIGITS) else f"({choice})" for choice in self.choices
        )
        header = self.options.header() if self.options is not None else ""
        return f"v{self.version}[{header}]:{encoded}" if header else f"v{self.version}:{encoded}"

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Read a schedule printed by ``str(schedule)``: its choices and its options (the
        defaults for those its header leaves out)."""
        if not isinstance(text, str):
            raise InvalidArgument(
                f"a schedule string is a str such as 'v{cls.version}:0102', got {text!r} "
                f"({type(text).__name__})"
            )
        if text[:3] in ("v1:", "v2:"):
            raise InvalidArgument(
                f"{text!r} was recorded by an earlier simulator ({text[:2]}), whose choice "
                "points were different, so it cannot replay here; run explore() again for a "
                f"v{cls.version} schedule"
            )
        if text[:3] == "v3:":
            choices = list(_read_choices(text, 3).choices)
            raise InvalidArgument(
                f"{text!r} is a v3 schedule, which did not say which options (delivery, "
                "faults, ask_timeout ...) it was recorded with, so it cannot replay on its own; "
                "its choice points are those of v4 (and of v5 unless an agent's task finishes "
                "at once; of v6 unless also a receive returns a program): pass its choices with "
                "the options it ran with, as in "
                f"replay(program, {choices!r}, delivery=..., faults=...), or run explore() "
                f"again for a v{cls.version} schedule, which carries them"
            )
        if text[:3] in ("v4:", "v4["):
            raise InvalidArgument(
                f"{text!r} was recorded by an earlier simulator (v4), whose choice points were "
                "different: an agent's task that finishes at once (a plain execute, or a Pure) "
                "took a step of its own there, and is done in the step that handles its message "
                f"here (v5 on), so the schedule cannot replay; run explore() again for a "
                f"v{cls.version} schedule (a v4 schedule of a run with no agent task and no "
                f"receive that returns a program replays with its 'v4' changed to "
                f"'v{cls.version}')"
            )
        if text[:3] in ("v5:", "v5["):
            raise InvalidArgument(
                f"{text!r} was recorded by an earlier simulator (v5), whose choice points were "
                "different: the program a receive returns (an agent's task included) took a "
                "step of its own there, after the step that handled its message, and runs its "
                "first turn in the step that handles its message here (v6 on), so the schedule "
                f"cannot replay; run explore() again for a v{cls.version} schedule (a v5 "
                "schedule of a run where no receive returns a program replays with its 'v5' "
                f"changed to 'v{cls.version}')"
            )
        prefix = f"v{cls.version}"
        if not text.startswith(prefix) or text[len(prefix) : len(prefix) + 1] not in ("[", ":"):
            raise InvalidArgument(
                f"a schedule string starts with '{prefix}:' (or '{prefix}[options]:'), got "
                f"{text!r}; pass the string a simulation printed (str(result.schedule))"
            )
        start = len(prefix)
        options = DEFAULT_OPTIONS
        if text[start] == "[":
            end = text.find("]:", start)
            if end < 0:
                raise InvalidArgument(
                    f"{text!r} at index {start}: the '[' of the options is not closed by ']:'"
                )
            if end > start + 1:
                options = _read_options(text, text[start + 1 : end], start + 1)
            start = end + 1
        return _read_choices(text, start + 1, options)

    def __len__(self) -> int:
        return len(self.choices)


def _shortened(text: str, keep: int = 60) -> str:
    """``text``'s repr, its middle elided when long."""
    if len(text) <= keep:
        return repr(text)
    return f"{text[: keep // 2]!r}…{text[-keep // 2 :]!r} ({len(text)} characters)"


def _read_choices(text: str, start: int, options: SimulationOptions = DEFAULT_OPTIONS) -> Schedule:
    """The choices written from index ``start`` of ``text``."""
    choices: list[int] = []
    position = start
    while position < len(text):
        character = text[position]
        if character == "(":
            end = text.find(")", position)
            if end < 0:
                raise InvalidArgument(
                    f"{text!r} at index {position}: '(' is not closed by ')'; a choice of 62 "
                    "or more is written in decimal between parentheses, as in '(70)'"
                )
            digits = text[position + 1 : end]
            if not digits or not all(digit in string.digits for digit in digits):
                raise InvalidArgument(
                    f"{text!r} at index {position + 1}: {digits!r} is not a choice; between "
                    "parentheses a choice is written in decimal digits, as in '(70)'"
                )
            try:
                choices.append(int(digits))
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                raise InvalidArgument(
                    f"{_shortened(text)} at index {position + 1}: a choice of {len(digits)} "
                    "digits is too large to be a choice; pass the string a simulation printed"
                ) from None
            position = end + 1
            continue
        index = _DIGITS.find(character)
        if index < 0:
            raise InvalidArgument(
                f"{text!r} at index {position}: {character!r} cannot appear in a schedule's "
                "choices (0-9, a-z, A-Z, or a decimal number in parentheses)"
            )
        choices.append(index)
        position += 1
    return Schedule(tuple(choices), options)


class StepKind(enum.Enum):
    """What kind of step a trace line records, to filter a trace by
    (`SimulationResult.trace_lines`). Each effect a program performs is one line of its kind
    (``tell`` ... ``concurrency``); the others say what the world did in answer."""

    # one line per effect performed
    TELL = "tell"
    ASK = "ask"
    SPAWN = "spawn"
    STOP = "stop"
    WATCH = "watch"
    SLEEP = "sleep"
    EMIT = "emit"
    NOW = "now"
    RANDOM = "random"
    SELF_REF = "self_ref"
    FAULT_POINT = "fault_point"
    PERFORM = "perform"
    """a user effect, answered by its handler (or a built-in one a handler overrides)"""
    CONCURRENCY = "concurrency"
    """gather, race, timeout, fork, join, cancel"""
    # what the world did
    RECEIVE = "receive"
    """an actor takes a message"""
    REPLY = "reply"
    DELIVERY = "delivery"
    """a delayed message arrives"""
    DEAD_LETTER = "dead_letter"
    FAILURE = "failure"
    """a message, a fiber or an actor failed; a failure reached the root"""
    TIMEOUT = "timeout"
    """an ask timed out"""
    FAULT = "fault"
    """the simulator injected a fault"""
    LIFECYCLE = "lifecycle"
    """start, stop, restart, supervision decisions, hooks, stopped"""
    RUN = "run"
    """the run itself: finished, deadlock, aborted at shutdown"""


def _as_kinds(kinds: Iterable[StepKind | str]) -> frozenset[StepKind]:
    if isinstance(kinds, (str, StepKind)):
        kinds = (kinds,)
    if not isinstance(kinds, Iterable) or isinstance(kinds, (bytes, Mapping)):
        raise InvalidArgument(
            f"kinds must be a StepKind, a kind's name, or a collection of them (such as "
            f"{{'receive', 'reply'}}), got {kinds!r} ({type(kinds).__name__})"
        )
    chosen = set()
    for kind in kinds:
        if isinstance(kind, StepKind):
            chosen.add(kind)
            continue
        try:
            chosen.add(StepKind(kind))
        except ValueError:
            raise InvalidArgument(
                f"kinds takes StepKind values or their names, got {kind!r}; the kinds are "
                + ", ".join(repr(each.value) for each in StepKind)
            ) from None
    return frozenset(chosen)


def _by_actor(prefix: str) -> Any:
    """Whether a trace line's actor is ``prefix`` or under it: its children (``/``), and its
    fibers (``#``: ``/app/bank#3``, ``/app/bank#3/fork1``); ``main`` takes ``main/...``."""
    if prefix != "main":
        try:
            check_path("actor", prefix)
        except InvalidArgument as error:
            raise InvalidArgument(f"{error}; or 'main' for the main program") from None
    under, fibers = prefix + "/", prefix + "#"
    return lambda actor: actor == prefix or actor.startswith((under, fibers))


@final
@frozen
class TraceLine:
    """One step of a run: its number, the virtual time, who acted, what happened, and the
    `StepKind` of it (``None`` for a line built by hand)."""

    step: int
    time: float
    actor: str
    event: str
    kind: StepKind | None = None

    def __str__(self) -> str:
        return f"{self.step:>4}  t={self.time:<8g} {self.actor:<24} {self.event}"


_FAILURE_MARK = "   <-- the failure started here"


@final
@frozen
class SimulationResult(Generic[A]):
    """What one simulated run did.

    ``rows`` holds the trace compactly; ``trace`` gives it as `TraceLine` values,
    `trace_lines` filtered by actor and `StepKind`; ``widths`` says how many options each
    choice of the schedule had; ``failure_index`` is the index in ``rows`` of the line where
    the failure of a failed run first appeared (``failure_line`` gives it).

    ``status`` is ``completed`` (the main program returned ``value``), ``failed`` (it raised
    ``error``), ``deadlock`` (nothing could happen, no timer was pending, and the program had
    not finished: ``error`` says who waits for what) or ``step_limit`` (more steps than allowed:
    a livelock, or raise ``max_steps``). ``schedule`` replays the run; ``trace`` tells it.

    As `StubResult` does, a result has its ``outcome`` as a `returns` ``Result`` and
    `unwrap` gives the value (typed ``A``) or raises: ``value`` is ``None`` unless the run
    completed, so typed code reads ``result.unwrap()`` rather than ``result.value``.

    >>> from playbill import pure, simulate
    >>> simulate(pure(1)).unwrap() + 1
    2
    """

    status: Status
    value: A | None
    error: BaseException | None
    schedule: Schedule
    rows: tuple[tuple[int, float, str, str], ...] = field(repr=False)
    clock: float
    dead_letters: int
    events: tuple[ActorEvent, ...]
    unobserved_failures: tuple[BaseException, ...] = ()
    widths: tuple[int, ...] = field(default=(), repr=False)
    kinds: tuple[StepKind, ...] = field(default=(), repr=False)
    """The `StepKind` of each row (empty when the run was not traced)."""
    failure_index: int | None = field(default=None, repr=False)
    # what makes ``events`` when they are first read, while they are not made yet (see
    # `defer_events`); None once they are
    _events_maker: Callable[[], tuple[ActorEvent, ...]] | None = field(
        default=None, init=False, eq=False, hash=False, repr=False
    )

    if not TYPE_CHECKING:  # (typed code sees ``events`` as the field it is)

        def __getattr__(self, name: str) -> Any:
            # called only for an attribute not set: ``events`` of a run that left them to
            # be made when read (equality, repr, pickling and attrs' helpers read them too)
            if name == "events":
                maker = self._events_maker
                if maker is not None:
                    events = maker()
                    _set_result_events(self, events)
                    _set_result_events_maker(self, None)
                    return events
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
            )

    @property
    def trace(self) -> tuple[TraceLine, ...]:
        """The readable steps: time, actor or fiber, event, kind."""
        return self.trace_lines()

    def trace_lines(
        self,
        *,
        actor: str | None = None,
        kinds: Iterable[StepKind | str] | None = None,
    ) -> tuple[TraceLine, ...]:
        """The trace lines of ``actor`` (an actor path: that actor, its children and its
        fibers; ``"main"``: the main program and its fibers) whose kind is one of ``kinds``
        (`StepKind` values or their names); all of them when left out.

        >>> from playbill import Actor, free_spawn, program, simulate
        >>> class Echo(Actor):
        ...     def receive(self, message):
        ...         return message
        >>> @program
        ... def main():
        ...     echo = yield free_spawn(Echo, name="echo")
        ...     return (yield echo.free_ask("hi"))
        >>> result = simulate(main())
        >>> [line.event for line in result.trace_lines(actor="/app/echo", kinds={"receive"})]
        ["receive 'hi'"]
        """
        return tuple(line for _, line in self._select(actor, kinds))

    def _select(
        self, actor: str | None, kinds: Iterable[StepKind | str] | None
    ) -> list[tuple[int, TraceLine]]:
        """The lines `trace_lines` keeps, each with its index in ``rows``."""
        wanted = _as_kinds(kinds) if kinds is not None else None
        matches = _by_actor(actor) if actor is not None else None
        kinds_of = self.kinds if len(self.kinds) == len(self.rows) else (None,) * len(self.rows)
        lines = []
        for index, (row, kind) in enumerate(zip(self.rows, kinds_of, strict=True)):
            if wanted is not None and kind not in wanted:
                continue
            if matches is not None and not matches(row[2]):
                continue
            lines.append((index, TraceLine(*row, kind)))
        return lines

    @property
    def failure_line(self) -> TraceLine | None:
        """The trace line where the failure of a failed (or deadlocked) run first appeared:
        the receive that raised, the fiber that failed, the ask that timed out, the deadlock.
        ``None`` when the run did not fail or was not traced."""
        if self.failure_index is None:
            return None
        kind = self.kinds[self.failure_index] if self.kinds else None
        return TraceLine(*self.rows[self.failure_index], kind)

    @property
    def ok(self) -> bool:
        """True when the main program completed."""
        return self.status == "completed"

    @property
    def outcome(self) -> Result[A, BaseException]:
        """``Success(value)`` when the run completed, else ``Failure(error)``: the program's
        failure, the `Deadlock`, or the step limit's `ProgramError`."""
        if self.status == "completed":
            return Success(self.value)  # type: ignore[arg-type]
        assert self.error is not None
        return Failure(self.error)

    def unwrap(self) -> A:
        """The value the main program returned, or raise why it did not: its failure, the
        `Deadlock` (saying who waits for what) or the step limit's `ProgramError`.

        >>> from playbill import fail, simulate
        >>> simulate(fail(ValueError("no"))).unwrap()
        Traceback (most recent call last):
        ...
        ValueError: no
        """
        if self.status == "completed":
            return self.value  # type: ignore[return-value]
        assert self.error is not None
        raise self.error

    def format_trace(
        self,
        limit: int = 200,
        *,
        actor: str | None = None,
        kinds: Iterable[StepKind | str] | None = None,
    ) -> str:
        """The trace, one line a step (the last ``limit`` lines; with ``actor`` or ``kinds``,
        those `trace_lines` keeps). The line where a failure started is marked, and shown even
        when it is older than the last ``limit``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise InvalidArgument(
                f"format_trace() limit must be an int >= 0 (how many of the last lines to "
                f"show; len(result.rows) shows them all), got {limit!r} ({type(limit).__name__})"
            )
        marked = self.failure_index
        lines = self._select(actor, kinds)
        shown = lines[-limit:] if limit > 0 else []
        text = [str(line) + (_FAILURE_MARK if index == marked else "") for index, line in shown]
        if len(lines) > len(shown):
            earlier = len(lines) - len(shown)
            text.insert(0, f"  … {earlier} earlier line{'' if earlier == 1 else 's'}")
            first = [line for index, line in lines[: len(lines) - len(shown)] if index == marked]
            if first:
                text.insert(0, str(first[0]) + _FAILURE_MARK)
        return "\n".join(text)

    def replay_hint(
        self, program_expression: str = "main()", options: Mapping[str, Any] | None = None
    ) -> str:
        """The call that replays this run. The schedule carries its `SimulationOptions`; of
        the other ``options`` it ran with, those no string can carry are named (handlers and
        ``supervision`` are code: pass them again).

        >>> from playbill import pure, simulate
        >>> simulate(pure(1), delivery="per_pair").replay_hint("main()", {"delivery": "per_pair"})
        "replay(main(), 'v6[delivery=per_pair]:')"
        """
        carried = attrs.fields_dict(SimulationOptions) if self.schedule.options else {}
        given = "".join(
            f", {key}=..." if key == "handlers" else f", {key}={value!r}"
            for key, value in (options or {}).items()
            if key != "trace" and key not in carried
        )
        return f"replay({program_expression}, {str(self.schedule)!r}{given})"


_set_result_events = SimulationResult.__dict__["events"].__set__
_set_result_events_maker = SimulationResult.__dict__["_events_maker"].__set__
_unset_result_events = SimulationResult.__dict__["events"].__delete__


def defer_events(
    result: SimulationResult[A], maker: Callable[[], tuple[ActorEvent, ...]]
) -> SimulationResult[A]:
    """``result``, its ``events`` made by ``maker`` when first read rather than now: a run
    that publishes many events nobody reads (an agent's tasks, two events each) does not
    pay for them. ``maker`` must make the same events whenever it is called."""
    _unset_result_events(result)
    _set_result_events_maker(result, maker)
    return result
