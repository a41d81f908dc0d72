"""Bind-loop scenarios for playbill and for a minimal hand-written trampoline.

The minimal trampoline is the floor: the least a free-monad interpreter can do per bind in
Python (two plain slotted node classes, a list as the stack, no error handling, no effects).
Both sides run the same shape of work, so their ratio is the price of playbill's features.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from playbill import Program, program, pure
from playbill.effects import Machine

# -- playbill -----------------------------------------------------------------------------


def playbill_right(n: int) -> Callable[[], object]:
    def step(x: int) -> Program[int]:
        return pure(x) if x >= n else pure(x + 1).flat_map(step)

    def run() -> object:
        return Machine(pure(0).flat_map(step)).start()

    return run


def playbill_left(n: int) -> Callable[[], object]:
    def increment(x: int) -> Program[int]:
        return pure(x + 1)

    built: Program[int] = pure(0)
    for _ in range(n):
        built = built.flat_map(increment)

    def run() -> object:
        return Machine(built).start()

    return run


def playbill_do(n: int) -> Callable[[], object]:
    @program
    def loop() -> Generator[Program[int], int, int]:
        total = 0
        for _ in range(n):
            total = yield pure(total + 1)
        return total

    def run() -> object:
        return Machine(loop()).start()

    return run


# -- the minimal trampoline ---------------------------------------------------------------


class MinimalPure:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class MinimalBind:
    __slots__ = ("continuation", "source")

    def __init__(self, source: Any, continuation: Callable[[Any], Any]) -> None:
        self.source = source
        self.continuation = continuation


def minimal_run(current: Any) -> Any:
    stack: list[Callable[[Any], Any]] = []
    while True:
        if type(current) is MinimalBind:
            stack.append(current.continuation)
            current = current.source
        elif stack:
            current = stack.pop()(current.value)
        else:
            return current.value


def minimal_right(n: int) -> Callable[[], object]:
    def step(x: int) -> Any:
        return MinimalPure(x) if x >= n else MinimalBind(MinimalPure(x + 1), step)

    def run() -> object:
        return minimal_run(MinimalBind(MinimalPure(0), step))

    return run


def minimal_left(n: int) -> Callable[[], object]:
    def increment(x: int) -> Any:
        return MinimalPure(x + 1)

    built: Any = MinimalPure(0)
    for _ in range(n):
        built = MinimalBind(built, increment)

    def run() -> object:
        return minimal_run(built)

    return run


def minimal_do(n: int) -> Callable[[], object]:
    def loop() -> Generator[Any, int, int]:
        total = 0
        for _ in range(n):
            total = yield MinimalPure(total + 1)
        return total

    def run() -> object:
        generator = loop()
        value = None
        while True:
            try:
                yielded = generator.send(value)
            except StopIteration as stop:
                return stop.value
            value = yielded.value

    return run


SCENARIOS = {
    "right-nested bind": (playbill_right, minimal_right),
    "left-nested bind": (playbill_left, minimal_left),
    "do-notation step": (playbill_do, minimal_do),
}


def best_time(run: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
