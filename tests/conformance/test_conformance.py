"""Every conformance program under every interpreter: the same outcome."""

import asyncio
from typing import Any

import pytest

from playbill import ActorSystem, simulate
from playbill.interpreters import stub
from tests.conformance.programs import CASES, Case


def outcome_of_error(error: BaseException) -> tuple[str, Any]:
    return ("error", type(error).__name__)


def under_asyncio(case: Case) -> tuple[tuple[str, Any], int]:
    async def main() -> tuple[tuple[str, Any], int]:
        system = ActorSystem("app", handlers=case.handlers)
        outcome: tuple[str, Any]
        try:
            async with system:
                try:
                    outcome = ("value", await system.run(case.build()))
                except Exception as error:
                    outcome = outcome_of_error(error)
        except Exception as error:
            outcome = outcome_of_error(error)
        return outcome, system.dead_letters.count

    return asyncio.run(main())


def under_simulation(
    case: Case, seed: int, delivery: str = "causal"
) -> tuple[tuple[str, Any], int]:
    result = simulate(case.build(), seed=seed, handlers=case.handlers, delivery=delivery)  # type: ignore[arg-type]
    assert result.status in ("completed", "failed"), result.format_trace()
    if result.status == "completed":
        return ("value", result.value), result.dead_letters
    assert result.error is not None
    return outcome_of_error(result.error), result.dead_letters


def test_the_suite_has_at_least_40_programs():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_asyncio(case: Case) -> None:
    outcome, dead_letters = under_asyncio(case)
    assert outcome == case.expected
    if case.dead_letters is not None:
        assert dead_letters == case.dead_letters


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulation(case: Case, seed: int) -> None:
    outcome, dead_letters = under_simulation(case, seed)
    assert outcome == case.expected
    if case.dead_letters is not None:
        assert dead_letters == case.dead_letters


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("seed", [0, 1])
def test_simulation_with_per_pair_delivery(case: Case, seed: int) -> None:
    # the outcomes here depend only on what the per-pair FIFO guarantee promises
    outcome, dead_letters = under_simulation(case, seed, delivery="per_pair")
    assert outcome == case.expected
    if case.dead_letters is not None:
        assert dead_letters == case.dead_letters


@pytest.mark.parametrize(
    "case", [case for case in CASES if not case.actors], ids=lambda case: case.name
)
def test_stub(case: Case) -> None:
    result = stub.execute(case.build(), case.handlers)
    if result.outcome.__class__.__name__ == "Success":
        outcome: tuple[str, Any] = ("value", result.unwrap())
    else:
        outcome = outcome_of_error(result.outcome.failure())
    assert outcome == case.expected
