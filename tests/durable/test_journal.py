"""The journal: results served on replay, live after the last entry, divergence detected."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen

from playbill import (
    Effect,
    await_promise,
    complete,
    fork,
    gather,
    join,
    new_promise,
    now,
    perform,
    program,
    race,
    random,
    sleep,
)
from playbill.durable import (
    Completed,
    Durable,
    JournalMismatch,
    MemoryJournal,
    NotEncodable,
    SQLiteJournal,
    canonical,
)
from playbill.effects import NondeterminismError, timeout
from playbill.flow import Registry


@frozen
class Charge(Effect[str]):
    order: str


class Counter:
    """A handler that counts its calls, per order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, effect: Charge) -> str:
        self.calls.append(effect.order)
        return f"receipt-{effect.order}"


def make(journal: Any, counter: Counter, **workflows: Any) -> Durable:
    registry = Registry()
    for name, function in workflows.items():
        registry.register(function, name=name)
    return Durable(journal, registry, handlers={Charge: counter})


@program
def checkout(order: str) -> Any:
    first = yield perform(Charge(order))
    yield sleep(5)
    stamp = yield now()
    chance = yield random()
    second = yield perform(Charge(order + "-tip"))
    return first, second, stamp, chance


def test_a_replayed_run_serves_every_result_from_the_journal() -> None:
    counter = Counter()
    journal = MemoryJournal()
    first = make(journal, counter, checkout=checkout).start("checkout", "w", "o-1", seed=1)
    again = make(journal, counter, checkout=checkout).start("checkout", "w", "o-1", seed=99)
    assert first == again  # now and random came from the journal, not the new seed
    assert counter.calls == ["o-1", "o-1-tip"]  # each charge performed once
    assert [entry.effect.split("{")[0] for entry in make(journal, counter).entries("w")] == [
        "Charge",
        "Sleep",
        "Now",
        "Random",
        "Charge",
    ]


def test_after_a_crash_the_run_continues_live_after_the_last_entry() -> None:
    journal = MemoryJournal()
    calls: list[str] = []

    def crash_on_tip(effect: Charge) -> str:
        if effect.order.endswith("tip"):
            raise SystemExit("the process dies")  # not a failure of the program: it ends it
        calls.append(effect.order)
        return "r"

    registry = Registry()
    registry.register(checkout, name="checkout")
    with pytest.raises(SystemExit):
        Durable(journal, registry, handlers={Charge: crash_on_tip}).start("checkout", "w", "o")
    assert len(Durable(journal, registry).entries("w")) == 4
    counter = Counter()
    outcome = make(journal, counter, checkout=checkout).recover("w")
    assert isinstance(outcome, Completed)
    assert counter.calls == ["o-tip"]  # only what the journal did not hold
    assert calls == ["o"]


def test_a_failed_effect_is_journaled_and_raised_again_on_replay() -> None:
    journal = MemoryJournal()
    failures = []

    def refuse(effect: Charge) -> str:
        failures.append(effect)
        raise KeyError(effect.order)

    @program
    def guarded(order: str) -> Any:
        try:
            yield perform(Charge(order))
        except KeyError as error:
            return f"declined {error}"
        return "charged"

    registry = Registry()
    registry.register(guarded, name="guarded")
    durable = Durable(journal, registry, handlers={Charge: refuse})
    assert durable.start("guarded", "w", "o").value == "declined 'o'"  # type: ignore[union-attr]
    assert durable.recover("w").value == "declined 'o'"  # type: ignore[union-attr]
    assert len(failures) == 1


def test_a_changed_program_is_detected_with_position_expected_and_found() -> None:
    journal = MemoryJournal()
    make(journal, Counter(), checkout=checkout).start("checkout", "w", "o")

    @program
    def changed(order: str) -> Any:
        yield perform(Charge(order))
        yield sleep(7)  # was sleep(5)
        return None

    with pytest.raises(JournalMismatch) as caught:
        make(journal, Counter(), checkout=changed).recover("w")
    assert caught.value.position == "1"
    assert caught.value.expected == 'Sleep{"seconds":5.0}'
    assert caught.value.found == 'Sleep{"seconds":7.0}'
    assert isinstance(caught.value, NondeterminismError)
    assert "position 1" in str(caught.value)
    assert "patched" in str(caught.value)


def test_a_mismatch_is_not_raised_into_the_program() -> None:
    journal = MemoryJournal()
    make(journal, Counter(), checkout=checkout).start("checkout", "w", "o")

    @program
    def swallowing(order: str) -> Any:
        try:
            yield perform(Charge("other"))
        except Exception:
            return "swallowed"
        return "went on"

    with pytest.raises(JournalMismatch):
        make(journal, Counter(), checkout=swallowing).recover("w")


@program
def fan_out(order: str) -> Any:
    both = yield gather(
        sleep(3).then(perform(Charge(order + "-a"))),
        perform(Charge(order + "-b")),
    )
    winner = yield race(sleep(9).map(lambda _: "slow"), sleep(1).map(lambda _: "fast"))
    bounded = yield timeout(sleep(2).then(perform(Charge(order + "-c"))), 10)
    return both, winner, bounded


@pytest.mark.parametrize("interpreter", ["stub", "simulation", "asyncio"])
def test_gather_race_and_timeout_replay_with_their_recorded_outcomes(
    interpreter: Any, tmp_path: Any
) -> None:
    journal = SQLiteJournal(tmp_path / "j.db")
    counter = Counter()
    durable = make(journal, counter, fan_out=fan_out)
    if interpreter == "asyncio":
        fan_out_fast = _scaled_fan_out
        durable = make(journal, counter, fan_out=fan_out_fast)
    first = durable.start("fan_out", "w", "o", interpreter=interpreter)
    calls = list(counter.calls)
    again = durable.recover("w", interpreter=interpreter, seed=7)
    assert first == again
    assert counter.calls == calls  # nothing performed twice
    assert sorted(calls) == ["o-a", "o-b", "o-c"]
    structure = {e.position: e for e in durable.entries("w")}
    assert '"winner": 1' in structure["1"].payload
    # the gather's children are journaled under its position, in the order they finished
    assert {"0.0.0", "0.0.1", "0.1.0"} <= set(structure)
    assert '"order": [[1, true], [0, true]]' in structure["0"].payload


@program
def _scaled_fan_out(order: str) -> Any:  # fan_out with real-time sleeps kept short
    both = yield gather(
        sleep(0.03).then(perform(Charge(order + "-a"))),
        perform(Charge(order + "-b")),
    )
    winner = yield race(sleep(0.5).map(lambda _: "slow"), sleep(0.01).map(lambda _: "fast"))
    bounded = yield timeout(sleep(0.01).then(perform(Charge(order + "-c"))), 5)
    return both, winner, bounded


def test_a_gather_interrupted_half_way_goes_on_from_each_childs_journal() -> None:
    journal = MemoryJournal()
    registry = Registry()
    registry.register(fan_out, name="fan_out")

    def die_on_a(effect: Charge) -> str:
        if effect.order.endswith("-a"):
            raise SystemExit("killed")
        return "r"

    with pytest.raises(SystemExit):
        Durable(journal, registry, handlers={Charge: die_on_a}).start("fan_out", "w", "o")
    counter = Counter()
    make(journal, counter, fan_out=fan_out).recover("w")
    assert counter.calls == ["o-a", "o-c"]  # o-b was journaled before the crash


def test_a_timed_out_program_replays_as_timed_out_without_running_again() -> None:
    journal = MemoryJournal()

    @program
    def slow(order: str) -> Any:
        try:
            yield timeout(sleep(60).then(perform(Charge(order))), 1)
        except TimeoutError:
            return "gave up"
        return "done"

    counter = Counter()
    durable = make(journal, counter, slow=slow)
    assert durable.start("slow", "w", "o").value == "gave up"  # type: ignore[union-attr]
    assert durable.recover("w").value == "gave up"  # type: ignore[union-attr]
    assert counter.calls == []


def test_a_result_the_codec_cannot_write_is_an_error_naming_the_effect() -> None:
    class Opaque:
        pass

    @program
    def opaque(order: str) -> Any:
        return (yield perform(Charge(order)))

    registry = Registry()
    registry.register(opaque, name="opaque")
    durable = Durable(MemoryJournal(), registry, handlers={Charge: lambda effect: Opaque()})
    with pytest.raises(NotEncodable, match=r"Charge\(order='o'\) at journal position 0"):
        durable.start("opaque", "w", "o")


def test_canonical_forms_hold_no_memory_address() -> None:
    @frozen
    class Holds(Effect[None]):
        thing: object

    assert canonical(Holds(object())).endswith('Holds{"thing":"<object>"}')
    assert canonical(Holds(len)).endswith('Holds{"thing":"builtins.len"}')


@program
def handed_over(order: str) -> Any:
    receipt = yield new_promise()
    shipper = yield fork(await_promise(receipt).map(lambda got: f"shipped with {got}"))
    yield complete(receipt, (yield perform(Charge(order))))
    shipped = yield join(shipper)
    tip = yield perform(Charge(order + "-tip"))
    return shipped, tip


@pytest.mark.parametrize("interpreter", ["stub", "simulation"])
def test_promises_are_performed_on_every_run_and_what_awaits_one_replays(interpreter) -> None:
    journal = MemoryJournal()
    registry = Registry()
    registry.register(handed_over, name="handed_over")

    def crash_on_tip(effect: Charge) -> str:
        if effect.order.endswith("tip"):
            raise SystemExit("the process dies")
        return f"receipt-{effect.order}"

    with pytest.raises(SystemExit):
        Durable(journal, registry, handlers={Charge: crash_on_tip}).start(
            "handed_over", "w", "o", interpreter=interpreter
        )
    counter = Counter()
    outcome = make(journal, counter, handed_over=handed_over).recover("w", interpreter=interpreter)
    assert outcome == Completed("w", ("shipped with receipt-o", "receipt-o-tip"))
    assert counter.calls == ["o-tip"]  # the first charge replayed from the journal
