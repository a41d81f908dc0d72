"""What a simulated run records and what it may inject: the `Schedule` of its choices, its
`TraceLine`s, the `SimulationResult`, and the `Faults` it is allowed."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar, final

from attrs import field, frozen

from playbill.actors import (
    ActorEvent,
)
from playbill.effects import (
    InvalidArgument,
)

A = TypeVar("A")

Status = Literal["completed", "failed", "deadlock", "step_limit"]

_DIGITS = string.digits + string.ascii_lowercase + string.ascii_uppercase


# -- schedules and results --------------------------------------------------------------------


def _as_choices(choices: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(choice) for choice in choices)


@final
@frozen
class Schedule:
    """The choices of one run: at each choice point, an index into the enabled set sorted by
    stable names. Printed as a short string (``v3:`` then one character a choice, base 62;
    larger values in parentheses) that `Schedule.parse` reads back. The version names the
    simulator's choice points: a schedule replays only under the version that recorded it.

    >>> schedule = Schedule((0, 2, 1, 70))
    >>> str(schedule)
    'v3:021(70)'
    >>> Schedule.parse("v3:021(70)") == schedule
    True
    """

    choices: tuple[int, ...] = field(converter=_as_choices)
    version: int = 3

    def __str__(self) -> str:
        encoded = "".join(
            _DIGITS[choice] if choice < len(_DIGITS) else f"({choice})" for choice in self.choices
        )
        return f"v{self.version}:{encoded}"

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Read a schedule printed by ``str(schedule)``."""
        if isinstance(text, str) and text[:3] in ("v1:", "v2:"):
            raise InvalidArgument(
                f"{text!r} was recorded by an earlier simulator ({text[:2]}), whose choice "
                "points were different, so it cannot replay here; run explore() again for a "
                "v3 schedule"
            )
        if not isinstance(text, str) or not text.startswith("v3:"):
            raise InvalidArgument(
                f"a schedule string starts with 'v3:', got {text!r}; pass the string a "
                "simulation printed (str(result.schedule))"
            )
        choices: list[int] = []
        body = text[3:]
        position = 0
        while position < len(body):
            character = body[position]
            if character == "(":
                end = body.index(")", position)
                choices.append(int(body[position + 1 : end]))
                position = end + 1
                continue
            index = _DIGITS.find(character)
            if index < 0:
                raise InvalidArgument(f"{character!r} cannot appear in a schedule ({text!r})")
            choices.append(index)
            position += 1
        return cls(tuple(choices))

    def __len__(self) -> int:
        return len(self.choices)


@final
@frozen
class TraceLine:
    """One step of a run: its number, the virtual time, who acted, and what happened."""

    step: int
    time: float
    actor: str
    event: str

    def __str__(self) -> str:
        return f"{self.step:>4}  t={self.time:<8g} {self.actor:<24} {self.event}"


@final
@frozen
class SimulationResult(Generic[A]):
    """What one simulated run did.

    ``rows`` holds the trace compactly; ``trace`` gives it as `TraceLine` values; ``widths``
    says how many options each choice of the schedule had.

    ``status`` is ``completed`` (the main program returned ``value``), ``failed`` (it raised
    ``error``), ``deadlock`` (nothing could happen, no timer was pending, and the program had
    not finished: ``error`` says who waits for what) or ``step_limit`` (more steps than allowed:
    a livelock, or raise ``max_steps``). ``schedule`` replays the run; ``trace`` tells it.
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

    @property
    def trace(self) -> tuple[TraceLine, ...]:
        """The readable steps: time, actor or fiber, event."""
        return tuple(TraceLine(*row) for row in self.rows)

    @property
    def ok(self) -> bool:
        """True when the main program completed."""
        return self.status == "completed"

    def format_trace(self, limit: int = 200) -> str:
        """The trace, one line a step (the last ``limit`` lines)."""
        lines = [str(TraceLine(*row)) for row in self.rows[-limit:]]
        if len(self.rows) > limit:
            lines.insert(0, f"  … {len(self.rows) - limit} earlier steps")
        return "\n".join(lines)

    def replay_hint(
        self, program_expression: str = "main()", options: Mapping[str, Any] | None = None
    ) -> str:
        """The call that replays this run, with the ``options`` it ran with (a schedule replays
        only with the same ``delivery``, ``faults``, handlers ...).

        >>> from playbill import pure, simulate
        >>> simulate(pure(1)).replay_hint("main()", {"delivery": "per_pair"})
        "replay(main(), 'v3:', delivery='per_pair')"
        """
        given = "".join(
            f", {key}=..." if key == "handlers" else f", {key}={value!r}"
            for key, value in (options or {}).items()
            if key != "trace"
        )
        return f"replay({program_expression}, {str(self.schedule)!r}{given})"


# -- faults ---------------------------------------------------------------------------------


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
    - ``points``: a `maybe_fault(name)` point fails with `InjectedFault`.

    Every decision is a recorded choice (0: no fault, 1: fault), so a found fault replays,
    and shrinking removes the faults a failure does not need.

    >>> Faults(crash=0.1).crash
    0.1
    """

    crash: float = 0.0
    delay: float = 0.0
    ask_timeout: float = 0.0
    points: float = 0.0
    delay_for: float = 0.1

    def __attrs_post_init__(self) -> None:
        for name in ("crash", "delay", "ask_timeout", "points"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise InvalidArgument(f"Faults {name} is a probability in [0, 1], got {value!r}")
        if not (isinstance(self.delay_for, int | float) and self.delay_for > 0):
            raise InvalidArgument(f"Faults delay_for must be positive, got {self.delay_for!r}")


NO_FAULTS = Faults()


Delivery = Literal["causal", "per_pair"]
