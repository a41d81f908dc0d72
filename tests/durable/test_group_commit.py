"""Markers that need no durability point of their own (a patch, a fork, a join, a promise)
are written with the next entry that does, or before the workflow's status changes: so what
is written is always a prefix of the journal, with one commit less per marker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from playbill import Effect, gather, perform, program
from playbill.durable import (
    Completed,
    Durable,
    Entry,
    MemoryJournal,
    Paused,
    SQLiteJournal,
    await_input,
    patched,
)
from playbill.flow import Registry
from tests.durable.test_journal import Charge, Counter


@frozen
class Peek(Effect[tuple[str, ...]]):
    """Answered with the positions the journal file holds now, read by another connection."""


@program
def patched_then_gathered(order: str) -> Any:
    if (yield patched("tip")):  # a marker at 0
        tip = yield perform(Charge(order + "-tip"))  # 1
    else:  # pragma: no cover - a new run takes the patch
        tip = None
    seen = yield perform(Peek())  # 2: what is written when it is performed
    both = yield gather(perform(Charge(order + "-a")), perform(Charge(order + "-b")))  # 3.x.0
    return tip, seen, both  # (the gather's marker, 3, is a durability point)


@program
def patched_then_asked(order: str) -> Any:
    if (yield patched("ask")):  # a marker at 0
        answer = yield await_input(f"charge {order}?", bool)  # pauses at 1
        return answer
    return "before the patch"  # pragma: no cover - a new run takes the patch


def _durable(path: Path, counter: Counter) -> Durable:
    registry = Registry()
    registry.register(patched_then_gathered, name="gathered")
    registry.register(patched_then_asked, name="asked")

    def peek(effect: Peek) -> tuple[str, ...]:
        with SQLiteJournal(path) as other:
            loaded = other.load("w")
        assert loaded is not None
        return tuple(entry.position for entry in loaded.entries)

    return Durable(SQLiteJournal(path), registry, handlers={Charge: counter, Peek: peek})


def test_a_marker_is_written_in_one_commit_with_the_result_of_the_effect_after_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    durable = _durable(path, Counter())
    journal = durable.journal
    assert isinstance(journal, SQLiteJournal)
    statements: list[str] = []
    journal.load("w")  # (opens the connection, to trace it)
    journal._open.set_trace_callback(statements.append)  # type: ignore[union-attr]
    outcome = durable.start("gathered", "w", "o")
    assert isinstance(outcome, Completed)
    tip, seen, both = outcome.value
    assert tip == "receipt-o-tip"
    assert seen == ("0", "1")  # the patch's marker, written with the charge after it
    assert both == ("receipt-o-a", "receipt-o-b")
    positions = [entry.position for entry in durable.entries("w")]
    assert positions == ["0", "1", "2", "3.0.0", "3.1.0", "3"]
    transactions, wrote = [], 0  # the entries each commit wrote
    for statement in statements:
        if statement.startswith("BEGIN"):
            wrote = 0
        elif statement.startswith("INSERT INTO journal"):
            wrote += 1
        elif statement == "COMMIT" and wrote:
            transactions.append(wrote)
    assert transactions == [2, 1, 1, 1, 1]  # the marker and the charge after it: one commit


def test_a_replay_of_a_run_with_deferred_markers_performs_nothing_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    counter = Counter()
    first = _durable(path, counter).start("gathered", "w", "o")
    again = _durable(path, counter).recover("w")
    assert again == first
    assert counter.calls == ["o-tip", "o-a", "o-b"]  # nothing performed again


def test_a_marker_before_a_pause_is_written_before_the_status_says_paused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    paused = _durable(path, Counter()).start("asked", "w", "o")
    assert isinstance(paused, Paused)
    assert [entry.position for entry in _durable(path, Counter()).entries("w")] == ["0"]
    resumed = _durable(path, Counter()).resume("w", True)  # the patched branch again
    assert resumed == Completed("w", True)


@program
def patched_last(order: str) -> Any:
    receipt = yield perform(Charge(order))  # 0
    first = yield patched("first")  # 1, 2: markers after the last result
    second = yield patched("second")
    return receipt, first, second


class OwnStore:
    """A store of one's own, with no ``append_all``: deferred markers are appended one by one."""

    def __init__(self) -> None:
        self.inner = MemoryJournal()
        self.appended: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name == "append_all":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def append(self, workflow_id: str, entry: Entry) -> None:
        self.appended.append(entry.position)
        self.inner.append(workflow_id, entry)


@pytest.mark.parametrize("store", ["sqlite", "own"])
def test_markers_after_the_last_result_are_written_before_the_status_says_completed(
    tmp_path: Path, store: str
) -> None:
    registry = Registry()
    registry.register(patched_last, name="last")
    counter = Counter()
    journal: Any = SQLiteJournal(tmp_path / "j.db") if store == "sqlite" else OwnStore()
    durable = Durable(journal, registry, handlers={Charge: counter})
    assert durable.start("last", "w", "o") == Completed("w", ("receipt-o", True, True))
    assert [entry.position for entry in durable.entries("w")] == ["0", "1", "2"]
    assert durable.recover("w") == Completed("w", ("receipt-o", True, True))
    assert counter.calls == ["o"]
    if store == "own":
        assert journal.appended == ["0", "1", "2"]
