"""The Program laws, one test per law (counts follow the loaded Hypothesis profile)."""

from typing import Any

import pytest
from hypothesis import given, settings

from playbill import Program, perform, pure
from playbill.effects import Map
from playbill.interpreters import stub
from playbill.testing import Tick, programs, tick_handlers
from playbill.testing.laws import (
    ALL_LAWS,
    FUNCTOR_LAWS,
    MONAD_LAWS,
    Law,
    check_law,
    equation,
)


@pytest.mark.parametrize("law", ALL_LAWS, ids=lambda law: law.name)
def test_law(law: Law) -> None:
    check_law(law)


@given(programs())
def test_a_stub_run_is_deterministic(program: Program[int]) -> None:
    first = stub.execute(program, tick_handlers())
    second = stub.execute(program, tick_handlers())
    assert first.effects == second.effects
    assert first.clock == second.clock
    assert repr(first.outcome) == repr(second.outcome)


QUICK = settings(max_examples=200)


def test_the_functor_checker_fails_on_a_map_that_performs_an_extra_effect(monkeypatch):
    def noisy_map(self: Program[Any], function: Any) -> Program[Any]:
        return perform(Tick(0)).then(Map(self, function))

    monkeypatch.setattr(Program, "map", noisy_map)
    with pytest.raises(AssertionError, match="not observationally equivalent"):
        check_law(FUNCTOR_LAWS[0], hypothesis_settings=QUICK)


def test_the_monad_checker_fails_on_a_flat_map_that_runs_its_source_twice(monkeypatch):
    from playbill.effects import FlatMap

    def twice(self: Program[Any], continuation: Any) -> Program[Any]:
        return FlatMap(self, lambda _: FlatMap(self, continuation))

    monkeypatch.setattr(Program, "flat_map", twice)
    with pytest.raises(AssertionError, match="not observationally equivalent"):
        check_law(MONAD_LAWS[1], hypothesis_settings=QUICK)


def test_the_checker_finds_a_false_law():
    commutes = equation(
        "flat_map commutes (false)",
        "p.then(q) == q.then(p)",
        ("program", "program"),
        lambda p, q: (p.then(q), q.then(p)),
    )
    with pytest.raises(AssertionError):
        check_law(commutes, hypothesis_settings=QUICK)


def test_laws_accept_user_strategies_and_handlers():
    from hypothesis import strategies as st

    check_law(
        MONAD_LAWS[1],
        strategies={"program": st.integers().map(pure)},
        handlers={},
        hypothesis_settings=settings(max_examples=20),
    )
