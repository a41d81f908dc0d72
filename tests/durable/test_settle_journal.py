"""A durable workflow's `at_least` (a `Settle`) is journaled as the race it expands to (its
members' effects under the race's position, its winner recorded), under every interpreter;
recovered after a crash past it (or past a plain race with a sleeping loser), the race gives
its journaled winner: its cancelled losers replay up to where they waited, then stop, so
none waits on its ``sleep(inf)`` and no effect is performed again (issue 17)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from attrs import frozen

from playbill import Effect, perform, program, race, sleep
from playbill.durable import Durable, Entry, MemoryJournal
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


@frozen
class Tip(Effect[str]):
    order: str


@program
def quorum_then_tip(order: str) -> Any:
    charges = at_least(
        2, *(step(lambda given, n=n: perform(Charge(f"{given}-{n}"))) for n in range(3))
    )
    outcome = yield charges.to_program(order, events=False)
    tip = yield perform(Tip(order))
    return sorted(outcome.succeeded), tip


@program
def race_then_tip(order: str) -> Any:
    slow = sleep(10).then(perform(Charge(f"{order}-slow")))
    fast = perform(Charge(f"{order}-fast"))
    winner = yield race(slow, fast)
    tip = yield perform(Tip(order))
    return winner, tip


class ProcessDied(BaseException):
    """The process ends mid-run (not a failure of the program): what a crash leaves."""


def _crashing_once(calls: list[str]) -> dict[type, Any]:
    crashed: list[bool] = []

    def charge(effect: Charge) -> str:
        calls.append(effect.order)
        return f"receipt-{effect.order}"

    def tip(effect: Tip) -> str:
        if not crashed:
            crashed.append(True)
            raise ProcessDied
        calls.append(f"tip-{effect.order}")
        return f"tip-{effect.order}"

    return {Charge: charge, Tip: tip}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("interpreter", ["stub", "simulation", "asyncio"])
@pytest.mark.parametrize("workflow", [quorum_then_tip, race_then_tip])
def test_a_workflow_recovered_past_a_race_gets_its_journaled_winner_and_finishes(
    workflow: Any, interpreter: str
) -> None:
    registry = Registry()
    registry.register(workflow, name="w")
    journal = MemoryJournal()
    calls: list[str] = []
    handlers = _crashing_once(calls)
    with pytest.raises(ProcessDied):
        Durable(journal, registry, handlers=handlers).start("w", "w", "o", interpreter=interpreter)
    charged = list(calls)
    assert charged  # the race ran, and was journaled, before the crash
    recovered = Durable(journal, registry, handlers=handlers).recover("w", interpreter=interpreter)
    # no charge performed again: each comes from the journal; only the tip is live
    assert calls == [*charged, "tip-o"]
    value, tip = recovered.value  # type: ignore[union-attr]
    assert tip == "tip-o"
    if workflow is quorum_then_tip:
        assert len(value) == 2
        assert set(value) <= {f"receipt-{order}" for order in charged}
    else:
        assert value == "receipt-o-fast"
    again = Durable(journal, registry, handlers=handlers).recover("w", interpreter=interpreter)
    assert again == recovered  # a completed workflow replays whole


def test_a_race_journaled_before_its_losers_stops_were_recorded_still_recovers() -> None:
    registry = Registry()
    registry.register(quorum_then_tip, name="w")
    journal = MemoryJournal()
    calls: list[str] = []
    handlers = _crashing_once(calls)
    with pytest.raises(ProcessDied):
        Durable(journal, registry, handlers=handlers).start("w", "w", "o")
    charged = list(calls)
    old = []
    for entry in Durable(journal, registry).entries("w"):
        if entry.effect.startswith("Race"):
            record = json.loads(entry.payload)
            assert record["stopped"]  # what this test takes away
            del record["stopped"], record["sequence"]
            entry = Entry(entry.position, entry.effect, entry.kind, json.dumps(record))
        old.append(entry)
    journal.copy("old", "w", json.dumps("o"), old)
    recovered = Durable(journal, registry, handlers=handlers).recover("old")
    assert calls == [*charged, "tip-o"]  # the losers replayed first, to their journals' ends
    assert recovered.value[1] == "tip-o"  # type: ignore[union-attr]
