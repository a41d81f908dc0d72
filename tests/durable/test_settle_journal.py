"""A durable workflow's `at_least` (a `Settle`) is journaled as the race it expands to (its
members' effects under the race's position, its winner recorded), under every interpreter.

(Recovering such a run deadlocks, before `Settle` as now: the replay runs the race's
cancelled members again, and they wait on their ``sleep(inf)`` for ever. Not covered here.)"""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen

from playbill import Effect, perform, program
from playbill.durable import Durable, MemoryJournal
from playbill.flow import Registry, at_least, step


@frozen
class Charge(Effect[str]):
    order: str


@program
def quorum_of_charges(order: str) -> Any:
    charges = at_least(
        2, *(step(lambda given, n=n: perform(Charge(f"{given}-{n}"))) for n in range(3))
    )
    outcome = yield charges.to_program(order, events=False)
    return outcome.succeeded


@pytest.mark.parametrize("interpreter", ["stub", "simulation", "asyncio"])
def test_an_at_least_is_journaled_as_the_race_it_expands_to(
    interpreter: str,
) -> None:
    calls: list[str] = []

    def charge(effect: Charge) -> str:
        calls.append(effect.order)
        return f"receipt-{effect.order}"

    registry = Registry()
    registry.register(quorum_of_charges, name="quorum_of_charges")
    journal = MemoryJournal()
    first = Durable(journal, registry, handlers={Charge: charge}).start(
        "quorum_of_charges", "w", "o", interpreter=interpreter
    )
    receipts = first.value  # type: ignore[union-attr]
    assert len(receipts) == 2
    assert all(receipt.startswith("receipt-o-") for receipt in receipts)
    entries = Durable(journal, registry).entries("w")
    assert any(entry.effect.startswith("Race") and '"winner"' in entry.payload for entry in entries)
    assert not any("Settle" in entry.effect for entry in entries)
