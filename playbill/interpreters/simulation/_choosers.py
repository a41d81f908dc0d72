"""Who picks at each choice point: a seeded random chooser, a replay of recorded choices, and
PCT (priority-change scheduling)."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import NoReturn, Protocol

from playbill.effects import (
    InvalidArgument,
)
from playbill.interpreters.simulation._schedule import Schedule

# random() draws one of these many values, recorded in the schedule like any choice
_RANDOM_BUCKETS = 1 << 16
_MIX = 40503  # odd: invertible modulo 2**16 (Knuth's multiplicative hashing constant)
_UNMIX = pow(_MIX, -1, _RANDOM_BUCKETS)


# -- choosers ---------------------------------------------------------------------------------


class Chooser(Protocol):
    def choose(self, options: Sequence[str]) -> int: ...

    def decide(self, label: str, probability: float) -> bool: ...

    def draw(self, buckets: int) -> int: ...


class _RandomChooser:
    def __init__(self, seed: int | None) -> None:
        self.source = _random.Random(seed)

    def choose(self, options: Sequence[str]) -> int:
        return int(self.source.random() * len(options))

    def decide(self, label: str, probability: float) -> bool:
        return self.source.random() < probability

    def draw(self, buckets: int) -> int:
        return int(self.source.random() * buckets)


class _ReplayChooser:
    """Follows recorded choices (taken modulo the options, so any list of numbers is a valid
    schedule — what lets Hypothesis shrink them); past the end, always the first option."""

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = choices
        self.position = 0

    def choose(self, options: Sequence[str]) -> int:
        if self.position >= len(self.choices):
            return 0
        choice = self.choices[self.position]
        self.position += 1
        return choice % len(options)

    def decide(self, label: str, probability: float) -> bool:
        return self.choose(("no", "yes")) == 1

    def draw(self, buckets: int) -> int:
        if self.position >= len(self.choices):
            return 0
        choice = self.choices[self.position]
        self.position += 1
        return (choice * _MIX) % buckets


class _AroundChooser(_ReplayChooser):
    """The choices of a recorded run with a few deviations (``explore(around=...)``): run 0
    follows them exactly; each later run moves ``1 + run % depth`` of them, at random
    positions among the real choices, to another option (PCT's few priority changes, taken
    from the recorded order)."""

    def __init__(
        self, choices: Sequence[int], widths: Sequence[int], seed: int, deviations: int
    ) -> None:
        source = _random.Random(seed)
        changed = list(choices)
        positions = [index for index, width in enumerate(widths) if width > 1]
        for index in source.sample(positions, min(deviations, len(positions))):
            width = widths[index]
            changed[index] = (changed[index] + 1 + source.randrange(width - 1)) % width
        super().__init__(changed)


class _PriorityChooser:
    """PCT (probabilistic concurrency testing, Burckhardt et al.): every participant gets a
    random priority; the highest enabled one moves; at ``depth - 1`` random steps the one that
    moves is pushed below all others. Finds bugs of depth d with a guaranteed probability."""

    def __init__(self, seed: int | None, depth: int = 3, horizon: int = 200) -> None:
        self.source = _random.Random(seed)
        self.priorities: dict[str, float] = {}
        self.change_points = {self.source.randrange(horizon) for _ in range(max(0, depth - 1))}
        self.step = 0
        self.lowest = 0.0

    def choose(self, options: Sequence[str]) -> int:
        participant = getattr(options, "participant", None)
        if participant is None:  # plain names: each its own participant
            keys = list(options)
        else:
            keys = [participant(index) for index in range(len(options))]
        for key in keys:
            if key not in self.priorities:
                self.priorities[key] = 1.0 + self.source.random()
        best = max(range(len(options)), key=lambda index: self.priorities[keys[index]])
        if self.step in self.change_points:
            self.lowest -= 1.0
            self.priorities[keys[best]] = self.lowest
            best = max(range(len(options)), key=lambda index: self.priorities[keys[index]])
        self.step += 1
        return best

    def decide(self, label: str, probability: float) -> bool:
        return self.source.random() < probability

    def draw(self, buckets: int) -> int:
        return int(self.source.random() * buckets)


def _chooser(strategy: str | Chooser, seed: int | None, schedule: Schedule | None) -> Chooser:
    if isinstance(strategy, str):
        if strategy not in ("random", "pct"):
            strategy = _refuse_strategy(strategy)
    elif not all(callable(getattr(strategy, verb, None)) for verb in ("choose", "decide", "draw")):
        strategy = _refuse_strategy(strategy)
    if schedule is not None:
        return _ReplayChooser(schedule.choices)
    if strategy == "random":
        return _RandomChooser(seed)
    if strategy == "pct":
        return _PriorityChooser(seed)
    return strategy  # type: ignore[return-value]


def _refuse_strategy(strategy: object) -> NoReturn:
    raise InvalidArgument(
        f"strategy must be 'random' or 'pct' (or a chooser object with choose, decide and "
        f"draw methods), got {strategy!r} ({type(strategy).__name__})"
    )
