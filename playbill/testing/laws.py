"""Law checkers for `Program`: monad, functor, applicative (``gather``/``zip``) and recovery
(``recover``/``recover_with``/``attempt``/``ensuring``) laws, as data, checked by Hypothesis
(in the style of dry-python/returns); and for `Flow` (`FLOW_LAWS`, `check_flow_law`),
checked under the simulator across many schedules.

A `Law` names what must hold, states it, names the roles of its arguments (``"program"``,
``"kleisli"``, ...) and verifies one drawn instance. `check_law` draws the arguments from the
default strategies of `playbill.testing` (or yours) and checks the law on many of them.

Equality of programs is observational: both sides run under the stub interpreter with the same
handlers, and must agree on their outcome (value, or error type and arguments), the sequence of
effects they performed, and the virtual time they took.

>>> from hypothesis import settings
>>> for law in FUNCTOR_LAWS:
...     check_law(law, hypothesis_settings=settings(max_examples=10))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, final

from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Result, Success

from playbill.effects import Program, fail, gather, pure
from playbill.effects._handlers import HandlerFactory, Handlers, fresh_handlers
from playbill.interpreters import stub
from playbill.testing._flow_laws import (
    FLOW_LAWS,
    FlowLaw,
    assert_flows_equivalent,
    check_flow_law,
    chosen_strategies,
    flow_strategies,
)
from playbill.testing._strategies import (
    error_handlers,
    error_kleislis,
    int_functions,
    kleislis,
    law_errors,
    programs,
    tick_handlers,
)

__all__ = [
    "ALL_LAWS",
    "APPLICATIVE_LAWS",
    "FLOW_LAWS",
    "FUNCTOR_LAWS",
    "MONAD_LAWS",
    "RECOVERY_LAWS",
    "FlowLaw",
    "Law",
    "assert_equivalent",
    "assert_flows_equivalent",
    "check_flow_law",
    "check_law",
    "default_strategies",
    "equation",
    "flow_strategies",
]


@final
@frozen
class Law:
    """A law: its ``name``, its ``statement``, the roles of its ``arguments``, and ``verify``,
    which raises ``AssertionError`` when one drawn instance breaks it."""

    name: str
    statement: str
    arguments: tuple[str, ...]
    verify: Callable[..., None]

    def __repr__(self) -> str:
        return f"Law({self.name}: {self.statement})"


def default_strategies() -> dict[str, st.SearchStrategy[Any]]:
    """The strategy for each argument role the built-in laws use."""
    return {
        "value": st.integers(-10, 10),
        "program": programs(),
        "program_without_finalisers": programs(finalisers=False),
        "function": int_functions(),
        "kleisli": kleislis(programs(max_leaves=3)),
        "error": law_errors(),
        "handler": error_handlers(),
        "error_kleisli": error_kleislis(),
    }


def _observe(program: Program[Any], handlers: Handlers | HandlerFactory) -> tuple[object, ...]:
    result = stub.execute(program, fresh_handlers(handlers))
    return (_normalise(result.outcome), result.effects, result.clock)


def _normalise(outcome: Result[Any, BaseException]) -> object:
    if isinstance(outcome, Success):
        return ("value", outcome.unwrap())
    error = outcome.failure()
    return ("error", type(error), error.args)


def assert_equivalent(
    left: Program[Any],
    right: Program[Any],
    handlers: Handlers | HandlerFactory | None = None,
) -> None:
    """Raise ``AssertionError`` unless both programs, run under the stub interpreter with
    ``handlers``, give the same outcome, perform the same effects and take the same time.
    ``handlers`` may be a function of no arguments returning a map: each side gets a fresh
    one, so a stateful fake does not carry the left side's calls into the right.

    >>> from playbill import pure
    >>> assert_equivalent(pure(1).map(lambda x: x + 1), pure(2))
    >>> assert_equivalent(pure(1), pure(2))
    Traceback (most recent call last):
    ...
    AssertionError: the programs are not observationally equivalent
      left:  pure(1)
        outcome ('value', 1), effects (), clock 0.0
      right: pure(2)
        outcome ('value', 2), effects (), clock 0.0
    """
    answers = handlers if handlers is not None else tick_handlers()
    seen_left = _observe(left, answers)
    seen_right = _observe(right, answers)
    if seen_left != seen_right:
        raise AssertionError(
            "the programs are not observationally equivalent\n"
            f"  left:  {left!r}\n"
            f"    outcome {seen_left[0]!r}, effects {seen_left[1]!r}, clock {seen_left[2]!r}\n"
            f"  right: {right!r}\n"
            f"    outcome {seen_right[0]!r}, effects {seen_right[1]!r}, clock {seen_right[2]!r}"
        )


def equation(
    name: str,
    statement: str,
    arguments: tuple[str, ...],
    sides: Callable[..., tuple[Program[Any], Program[Any]]],
) -> Law:
    """A law saying two programs built from the arguments are observationally equivalent:
    ``sides`` takes one drawn value per role in ``arguments`` and returns the two programs.

    >>> from hypothesis import settings
    >>> twice = equation(
    ...     "map twice",
    ...     "p.map(f).map(f) == p.map(f . f)",
    ...     ("program", "function"),
    ...     lambda p, f: (p.map(f).map(f), p.map(lambda x: f(f(x)))),
    ... )
    >>> check_law(twice, hypothesis_settings=settings(max_examples=10))
    """

    def verify(handlers: Handlers | HandlerFactory | None, *drawn: Any) -> None:
        left, right = sides(*drawn)
        assert_equivalent(left, right, handlers)

    return Law(name, statement, arguments, verify)


def check_law(
    law: Law,
    *,
    handlers: Handlers | HandlerFactory | None = None,
    strategies: Mapping[str, st.SearchStrategy[Any]] | None = None,
    hypothesis_settings: settings | None = None,
) -> None:
    """Check ``law`` on many drawn instances (as many as the loaded Hypothesis profile says).

    ``strategies`` overrides the default strategy of an argument role (`default_strategies`
    lists them; a role no law knows is an `InvalidArgument`) — give your own ``"program"``
    strategy and its ``handlers`` to check your programs. ``handlers`` may be a function of
    no arguments returning a map: it is called once per side of each instance.

    >>> check_law(MONAD_LAWS[0], hypothesis_settings=settings(max_examples=20))
    """
    chosen = chosen_strategies("check_law", law, default_strategies(), strategies, law.arguments)

    @given(st.tuples(*(chosen[role] for role in law.arguments)))
    def check(drawn: tuple[Any, ...]) -> None:
        law.verify(handlers, *drawn)

    if hypothesis_settings is not None:
        check = hypothesis_settings(check)
    check()


def _identity(value: Any) -> Any:
    return value


def _first(pair: tuple[Any, ...]) -> Any:
    return pair[0]


def _flatten_left(nested: tuple[tuple[Any, Any], Any]) -> tuple[Any, Any, Any]:
    return (nested[0][0], nested[0][1], nested[1])


def _flatten_right(nested: tuple[Any, tuple[Any, Any]]) -> tuple[Any, Any, Any]:
    return (nested[0], nested[1][0], nested[1][1])


def _never_fails(handlers: Handlers | HandlerFactory | None, program: Program[Any]) -> None:
    answers = fresh_handlers(handlers) if handlers is not None else tick_handlers()
    result = stub.execute(program.attempt(), answers)
    if not isinstance(result.outcome, Success):
        raise AssertionError(f"{program!r}.attempt() failed with {result.outcome.failure()!r}")


MONAD_LAWS = (
    equation(
        "left identity",
        "pure(a).flat_map(k) == k(a)",
        ("value", "kleisli"),
        lambda a, k: (pure(a).flat_map(k), k(a)),
    ),
    equation(
        "right identity",
        "p.flat_map(pure) == p",
        ("program",),
        lambda p: (p.flat_map(pure), p),
    ),
    equation(
        "associativity",
        "p.flat_map(k).flat_map(h) == p.flat_map(lambda x: k(x).flat_map(h))",
        ("program", "kleisli", "kleisli"),
        lambda p, k, h: (p.flat_map(k).flat_map(h), p.flat_map(lambda x: k(x).flat_map(h))),
    ),
)

FUNCTOR_LAWS = (
    equation("identity", "p.map(id) == p", ("program",), lambda p: (p.map(_identity), p)),
    equation(
        "composition",
        "p.map(f).map(g) == p.map(lambda x: g(f(x)))",
        ("program", "function", "function"),
        lambda p, f, g: (p.map(f).map(g), p.map(lambda x: g(f(x)))),
    ),
)

APPLICATIVE_LAWS = (
    equation(
        "gather identity",
        "gather(p).map(first) == p",
        ("program",),
        lambda p: (gather(p).map(_first), p),
    ),
    equation(
        "homomorphism",
        "gather(pure(a), pure(b)) == pure((a, b))",
        ("value", "value"),
        lambda a, b: (gather(pure(a), pure(b)), pure((a, b))),
    ),
    equation(
        "zip with pure on the right",
        "p.zip(pure(b)) == p.map(lambda a: (a, b))",
        ("program", "value"),
        lambda p, b: (p.zip(pure(b)), p.map(lambda a: (a, b))),
    ),
    equation(
        "zip with pure on the left",
        "pure(a).zip(p) == p.map(lambda b: (a, b))",
        ("value", "program"),
        lambda a, p: (pure(a).zip(p), p.map(lambda b: (a, b))),
    ),
    equation(
        "zip associativity",
        # When a member fails, the others are cancelled and their finalisers run. The nesting
        # decides which gather reacts first, so the order of those finalisers (and, if they
        # wait, which of two failures wins) follows the nesting — as under any concurrent
        # runtime. Without finalisers the law is exact, failures included.
        "p.zip(q).zip(r) == p.zip(q.zip(r)), up to nesting, for programs without finalisers",
        ("program_without_finalisers",) * 3,
        lambda p, q, r: (
            p.zip(q).zip(r).map(_flatten_left),
            p.zip(q.zip(r)).map(_flatten_right),
        ),
    ),
    equation(
        "zip naturality",
        "p.map(f).zip(q.map(g)) == p.zip(q).map(lambda ab: (f(ab[0]), g(ab[1])))",
        ("program", "program", "function", "function"),
        lambda p, q, f, g: (
            p.map(f).zip(q.map(g)),
            p.zip(q).map(lambda ab: (f(ab[0]), g(ab[1]))),
        ),
    ),
)

RECOVERY_LAWS = (
    equation(
        "recover on success",
        "pure(a).recover(h) == pure(a)",
        ("value", "handler"),
        lambda a, h: (pure(a).recover(h), pure(a)),
    ),
    equation(
        "recover on failure",
        "fail(e).recover(h) == pure(h(e))",
        ("error", "handler"),
        lambda e, h: (fail(e).recover(h), pure(h(e))),
    ),
    equation(
        "recover_with on failure",
        "fail(e).recover_with(k) == k(e)",
        ("error", "error_kleisli"),
        lambda e, k: (fail(e).recover_with(k), k(e)),
    ),
    equation(
        "recover_with on success",
        "pure(a).recover_with(k) == pure(a)",
        ("value", "error_kleisli"),
        lambda a, k: (pure(a).recover_with(k), pure(a)),
    ),
    equation(
        "attempt on success",
        "pure(a).attempt() == pure(Success(a))",
        ("value",),
        lambda a: (pure(a).attempt(), pure(Success(a))),
    ),
    equation(
        "attempt on failure",
        "fail(e).attempt() == pure(Failure(e))",
        ("error",),
        lambda e: (fail(e).attempt().map(_normalise), pure(Failure(e)).map(_normalise)),
    ),
    Law("attempt never fails", "p.attempt() always succeeds", ("program",), _never_fails),
    equation(
        "ensuring on success",
        "pure(a).ensuring(q) == q.then(pure(a))",
        ("value", "program"),
        lambda a, q: (pure(a).ensuring(q), q.then(pure(a))),
    ),
    equation(
        "ensuring on failure",
        "fail(e).ensuring(q) == q.then(fail(e))",
        ("error", "program"),
        lambda e, q: (fail(e).ensuring(q), q.then(fail(e))),
    ),
)

ALL_LAWS = MONAD_LAWS + FUNCTOR_LAWS + APPLICATIVE_LAWS + RECOVERY_LAWS


def __dir__() -> list[str]:
    """The public names only: the imports this module uses (``st``, ``given``, ``Any``)
    are not part of it."""
    return sorted(__all__)
