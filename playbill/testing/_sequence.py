"""Assert that a program performs exactly the given effects, in order (``effect.testing``
style): each expected effect is answered with the given result, exception or program."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, final

from attrs import frozen
from returns.result import Success

from playbill.effects import Effect, Program
from playbill.effects._handlers import Handler, Handlers
from playbill.effects._pretty import one_line
from playbill.interpreters import stub

__all__ = ["Raise", "SequenceMismatch", "perform_sequence"]

A = TypeVar("A")


@final
@frozen
class Raise:
    """An answer that fails the effect with ``error`` (raised into the program there)."""

    error: BaseException


@final
class SequenceMismatch(AssertionError):
    """The program's effects differed from the expected sequence."""


def perform_sequence(
    program: Program[A],
    expected: Sequence[tuple[Effect[Any], object]],
    *,
    handlers: Handlers | None = None,
) -> A:
    """Run ``program`` under the stub interpreter, answering its effects from ``expected``.

    Each entry is ``(effect, answer)``: the program's next effect must equal ``effect``; the
    answer is its result, a `Raise` to fail it, or a `Program` to run in its place. Every
    effect except the structural ones (gather, race, timeout, fork, join) must appear —
    ``sleep``, ``now`` and ``random`` included — unless ``handlers`` answers its type. Returns
    the program's value (or raises its failure); raises `SequenceMismatch` with a log of what
    was performed, what was NOT FOUND and what was NEXT EXPECTED when the two differ.

    >>> from attrs import frozen
    >>> from playbill import Effect, perform, program
    >>> @frozen
    ... class Get(Effect[int]):
    ...     key: str
    >>> @program
    ... def total():
    ...     return (yield perform(Get("a"))) + (yield perform(Get("b")))
    >>> perform_sequence(total(), [(Get("a"), 1), (Get("b"), 2)])
    3
    >>> perform_sequence(total(), [(Get("a"), 1), (Get("c"), 2)])
    Traceback (most recent call last):
    ...
    playbill.testing._sequence.SequenceMismatch: the program performed an unexpected effect
      performed, as expected:
        1. Get(key='a') -> 1
      NOT FOUND: Get(key='b')
      NEXT EXPECTED: Get(key='c')
    """
    checker = _Checker(tuple(expected))
    result = stub.execute(program, handlers, fallback=checker.handler_for)
    if checker.mismatch is not None:
        raise checker.mismatch
    if checker.position < len(checker.expected):
        ending = (
            f"returned {result.outcome.unwrap()!r}"
            if isinstance(result.outcome, Success)
            else f"failed with {result.outcome.failure()!r}"
        )
        raise SequenceMismatch(
            checker.report(
                f"the program {ending} before performing every expected effect",
                "(nothing more)",
            )
        )
    return result.unwrap()


class _Checker:
    def __init__(self, expected: tuple[tuple[object, object], ...]) -> None:
        for index, entry in enumerate(expected):
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise SequenceMismatch(
                    f"expected entry {index} is {entry!r}; write each as (effect, answer)"
                )
            if not isinstance(entry[0], Effect):
                hint = (
                    " (a Program, not its effect: write Now() rather than now())"
                    if isinstance(entry[0], Program)
                    else ""
                )
                raise SequenceMismatch(
                    f"expected entry {index} starts with {entry[0]!r}, which is not an "
                    f"Effect value{hint}; write each entry as (effect, answer)"
                )
        self.expected: tuple[tuple[Effect[Any], object], ...] = expected  # type: ignore[assignment]
        self.position = 0
        self.mismatch: SequenceMismatch | None = None

    def handler_for(self, effect: Effect[Any]) -> Handler:
        return self.answer

    def answer(self, effect: Effect[Any]) -> object:
        if self.mismatch is not None:
            raise self.mismatch
        if self.position >= len(self.expected) or self.expected[self.position][0] != effect:
            self.mismatch = SequenceMismatch(
                self.report("the program performed an unexpected effect", effect)
            )
            raise self.mismatch
        answer = self.expected[self.position][1]
        self.position += 1
        if isinstance(answer, Raise):
            raise answer.error
        return answer

    def report(self, headline: str, found: object) -> str:
        lines = [headline]
        if self.position:
            lines.append("  performed, as expected:")
            for number, (effect, answer) in enumerate(self.expected[: self.position], 1):
                shown = one_line(answer) if isinstance(answer, Program) else repr(answer)
                lines.append(f"    {number}. {effect!r} -> {shown}")
        lines.append(f"  NOT FOUND: {found if isinstance(found, str) else repr(found)}")
        if self.position < len(self.expected):
            lines.append(f"  NEXT EXPECTED: {self.expected[self.position][0]!r}")
            more = len(self.expected) - self.position - 1
            if more:
                lines.append(f"  then {more} more expected")
        else:
            lines.append("  NEXT EXPECTED: (the end of the sequence)")
        return "\n".join(lines)
