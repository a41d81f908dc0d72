"""Hypothesis strategies for programs over ``int`` and for functions between them.

Every drawn function carries a readable description, so a shrunk counterexample reads like
code: ``pure(3).flat_map(x -> tick(x + 1))``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, final

from attrs import frozen
from hypothesis import strategies as st
from returns.result import Result

from playbill.effects import Effect, Program, fail, gather, perform, program, pure, sleep

__all__ = [
    "Described",
    "LawError",
    "Tick",
    "error_handlers",
    "error_kleislis",
    "int_functions",
    "kleislis",
    "law_errors",
    "programs",
    "tick_handlers",
]

A = TypeVar("A")
B = TypeVar("B")


@final
@frozen
class Tick(Effect[int]):
    """A user effect for law tests: its handler answers ``n * 3 + 1``."""

    n: int


def tick_handlers() -> dict[type[Any], Callable[[Any], Any]]:
    """The handler map that answers `Tick`."""
    return {Tick: lambda effect: effect.n * 3 + 1}


class LawError(Exception):
    """The failure drawn programs fail with; ``code`` identifies it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    def __repr__(self) -> str:
        return f"LawError({self.code})"


def error_code(error: Exception) -> int:
    """A number for an error, so that handlers can compute with it."""
    return error.code if isinstance(error, LawError) else -1


@final
@frozen(repr=False)
class Described(Generic[A, B]):
    """A function with a readable description (what Hypothesis prints)."""

    description: str
    function: Callable[[A], B]

    def __call__(self, argument: A) -> B:
        return self.function(argument)

    def __repr__(self) -> str:
        return self.description


def _arithmetic(constant: int, kind: str) -> Described[int, int]:
    operations: dict[str, tuple[str, Callable[[int], int]]] = {
        "add": (f"x + {constant}", lambda x: x + constant),
        "mul": (f"x * {constant}", lambda x: x * constant),
        "sub": (f"{constant} - x", lambda x: constant - x),
        "half": ("x // 2", lambda x: x // 2),
        "const": (f"{constant}", lambda x: constant),
    }
    description, function = operations[kind]
    return Described(f"x -> {description}", function)


def _body(function: Described[int, int]) -> str:
    return function.description.removeprefix("x -> ")


def int_functions() -> st.SearchStrategy[Described[int, int]]:
    """Plain functions ``int -> int``."""
    return st.builds(
        _arithmetic,
        st.integers(-5, 5),
        st.sampled_from(["add", "mul", "sub", "half", "const"]),
    )


def law_errors() -> st.SearchStrategy[LawError]:
    """Errors to fail programs with."""
    return st.builds(LawError, st.integers(0, 9))


def _leaves(values: st.SearchStrategy[int]) -> st.SearchStrategy[Program[int]]:
    return st.one_of(
        values.map(pure),
        law_errors().map(fail),
        values.map(lambda n: perform(Tick(n))),
        st.tuples(st.integers(0, 3), values).map(lambda pair: sleep(pair[0]).then(pure(pair[1]))),
    )


@program
def _in_do_notation(first: Program[int], second: Program[int]) -> Any:
    a = yield first
    b = yield second
    return a - b


def _extender(
    finalisers: bool,
) -> Callable[[st.SearchStrategy[Program[int]]], st.SearchStrategy[Program[int]]]:
    def extend(children: st.SearchStrategy[Program[int]]) -> st.SearchStrategy[Program[int]]:
        options = [
            st.builds(lambda p, f: p.map(f), children, int_functions()),
            st.builds(lambda p, k: p.flat_map(k), children, kleislis(children)),
            st.builds(lambda p, h: p.recover(h), children, error_handlers()),
            st.builds(lambda p, h: p.recover_with(h), children, error_kleislis()),
            st.builds(lambda p, q: p.then(q), children, children),
            st.builds(lambda p, q: gather(p, q).map(_add_pair), children, children),
            st.builds(lambda p: p.attempt().map(_result_to_int), children),
            st.builds(_in_do_notation, children, children),
        ]
        if finalisers:
            options.append(st.builds(lambda p, q: p.ensuring(q), children, children))
        return st.one_of(options)

    return extend


def _add_pair(pair: tuple[int, int]) -> int:
    return pair[0] + pair[1]


def _result_to_int(result: Result[int, Exception]) -> int:
    return result.value_or(-100)


def programs(
    values: st.SearchStrategy[int] | None = None,
    *,
    max_leaves: int = 8,
    finalisers: bool = True,
) -> st.SearchStrategy[Program[int]]:
    """Programs producing an ``int``: pure values, failures, `Tick` effects and sleeps,
    nested under map, flat_map, recover, recover_with, then, ensuring, gather, attempt and
    do-notation. Run them with `tick_handlers`. With ``finalisers=False``, no ``ensuring``.

    >>> from hypothesis import given
    >>> from playbill.interpreters import stub
    >>> @given(programs())
    ... def test_runs(p):
    ...     stub.execute(p, tick_handlers())
    >>> test_runs()
    """
    drawn = values if values is not None else st.integers(-10, 10)
    return st.recursive(_leaves(drawn), _extender(finalisers), max_leaves=max_leaves)


def kleislis(
    inner: st.SearchStrategy[Program[int]] | None = None,
) -> st.SearchStrategy[Described[int, Program[int]]]:
    """Functions ``int -> Program[int]`` (continuations for ``flat_map``)."""
    nested = inner if inner is not None else _leaves(st.integers(-10, 10))

    def to_pure(f: Described[int, int]) -> Described[int, Program[int]]:
        return Described(f"x -> pure({_body(f)})", lambda x: pure(f(x)))

    def to_tick(f: Described[int, int]) -> Described[int, Program[int]]:
        return Described(f"x -> tick({_body(f)})", lambda x: perform(Tick(f(x))))

    def to_failure_when(modulus: int) -> Described[int, Program[int]]:
        return Described(
            f"x -> fail(LawError(x % {modulus})) if x % {modulus} == 0 else pure(x)",
            lambda x: fail(LawError(x % modulus)) if x % modulus == 0 else pure(x),
        )

    def to_nested(p: Program[int]) -> Described[int, Program[int]]:
        return Described(f"x -> ({p!r}).map(y -> y + x)", lambda x: p.map(lambda y: y + x))

    return st.one_of(
        int_functions().map(to_pure),
        int_functions().map(to_tick),
        st.integers(2, 4).map(to_failure_when),
        nested.map(to_nested),
    )


def error_handlers() -> st.SearchStrategy[Described[Exception, int]]:
    """Functions ``Exception -> int`` (handlers for ``recover``)."""
    return int_functions().map(
        lambda f: Described(f"e -> ({f.description})(code(e))", lambda e: f(error_code(e)))
    )


def error_kleislis() -> st.SearchStrategy[Described[Exception, Program[int]]]:
    """Functions ``Exception -> Program[int]`` (handlers for ``recover_with``)."""

    def to_pure(f: Described[int, int]) -> Described[Exception, Program[int]]:
        return Described(f"e -> pure(({f.description})(code(e)))", lambda e: pure(f(error_code(e))))

    def to_tick(f: Described[int, int]) -> Described[Exception, Program[int]]:
        return Described(
            f"e -> tick(({f.description})(code(e)))",
            lambda e: perform(Tick(f(error_code(e)))),
        )

    def to_failure(f: Described[int, int]) -> Described[Exception, Program[int]]:
        return Described(
            f"e -> fail(LawError(({f.description})(code(e))))",
            lambda e: fail(LawError(f(error_code(e)))),
        )

    return st.one_of(
        int_functions().map(to_pure),
        int_functions().map(to_tick),
        int_functions().map(to_failure),
    )
