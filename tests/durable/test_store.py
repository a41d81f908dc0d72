"""The SQLite journal: one WAL file, checksummed entries, corruption and truncation found."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from playbill import perform, program, sleep
from playbill.durable import (
    Completed,
    Durable,
    Entry,
    EntryKind,
    JournalCorrupted,
    MemoryJournal,
    SQLiteJournal,
    Status,
)
from playbill.effects import InvalidArgument
from playbill.flow import Registry
from tests.durable.test_journal import Charge, Counter


@program
def three_charges(order: str) -> Any:
    first = yield perform(Charge(order + "-1"))
    yield sleep(1)
    second = yield perform(Charge(order + "-2"))
    return first, second


def durable(path: Path, counter: Counter) -> Durable:
    registry = Registry()
    registry.register(three_charges, name="three")
    return Durable(SQLiteJournal(path), registry, handlers={Charge: counter})


def test_the_file_is_in_wal_mode_and_keyed_by_workflow_and_position(tmp_path: Path) -> None:
    durable(tmp_path / "j.db", Counter()).start("three", "w", "o")
    with closing(sqlite3.connect(tmp_path / "j.db")) as connection, connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = connection.execute(
            "SELECT workflow_id, position, kind FROM journal ORDER BY sequence"
        ).fetchall()
    assert rows == [("w", "0", "value"), ("w", "1", "value"), ("w", "2", "value")]


def test_a_journal_survives_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    counter = Counter()
    first = durable(tmp_path / "j.db", counter).start("three", "w", "o")
    second = durable(tmp_path / "j.db", counter).recover("w")
    assert first == second == Completed("w", ("receipt-o-1", "receipt-o-2"))
    assert counter.calls == ["o-1", "o-2"]


def _corrupt(path: Path, sql: str) -> None:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(sql)


def test_a_changed_byte_is_found_and_nothing_after_it_is_trusted(tmp_path: Path) -> None:
    durable(tmp_path / "j.db", Counter()).start("three", "w", "o")
    _corrupt(tmp_path / "j.db", "UPDATE journal SET payload = '\"forged\"' WHERE position = '1'")
    with pytest.raises(JournalCorrupted, match="entry 1 \\(position 1\\) fails its checksum") as e:
        durable(tmp_path / "j.db", Counter()).recover("w")
    assert e.value.trusted == 1


def test_a_truncated_journal_is_found(tmp_path: Path) -> None:
    durable(tmp_path / "j.db", Counter()).start("three", "w", "o")
    _corrupt(tmp_path / "j.db", "DELETE FROM journal WHERE sequence = 2")
    with pytest.raises(JournalCorrupted, match="truncated: its record counts 3 entries, 2"):
        durable(tmp_path / "j.db", Counter()).recover("w")


def test_a_lost_entry_in_the_middle_is_found(tmp_path: Path) -> None:
    durable(tmp_path / "j.db", Counter()).start("three", "w", "o")
    _corrupt(tmp_path / "j.db", "DELETE FROM journal WHERE sequence = 0")
    with pytest.raises(JournalCorrupted, match="entry 0 is missing") as caught:
        durable(tmp_path / "j.db", Counter()).recover("w")
    assert caught.value.trusted == 0


def test_repair_drops_the_untrusted_entries_and_their_effects_run_again(tmp_path: Path) -> None:
    durable(tmp_path / "j.db", Counter()).start("three", "w", "o")
    _corrupt(tmp_path / "j.db", "UPDATE journal SET payload = '0' WHERE position = '1'")
    counter = Counter()
    assert durable(tmp_path / "j.db", counter).repair("w") == 1
    outcome = durable(tmp_path / "j.db", counter).recover("w")
    assert outcome == Completed("w", ("receipt-o-1", "receipt-o-2"))
    assert counter.calls == ["o-2"]  # entry 0 was trusted; the sleep and the rest ran again


def test_memory_journals_check_their_entries_too() -> None:
    journal = MemoryJournal()
    journal.open("w", "three", "null")
    journal.append("w", Entry("0", "Now{}", EntryKind.VALUE, "1.0"))
    journal._rows["w"][0] = (0, Entry("0", "Now{}", EntryKind.VALUE, "2.0"), "bad")
    with pytest.raises(JournalCorrupted):
        journal.load("w")


@pytest.mark.parametrize("path", [":memory:", "", 7])
def test_a_journal_path_must_name_a_file(path: Any) -> None:
    with pytest.raises(InvalidArgument, match=f"SQLiteJournal path .* got {path!r}"):
        SQLiteJournal(path)


def test_listing_by_status(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "j.db")
    journal.open("a", "three", "null")
    journal.open("b", "three", "null")
    journal.update("b", Status.PAUSED, prompt="ok?", schema="bool", position="3")
    paused = journal.workflows(Status.PAUSED)
    assert [(r.workflow_id, r.prompt, r.position) for r in paused] == [("b", "ok?", "3")]
    assert len(journal.workflows()) == 2


def test_close_closes_the_connection_other_threads_used(tmp_path: Path) -> None:
    # the `blocking` calls reach the journal from the thread pool's threads; closing it must
    # close what they used too, or it is left to the garbage collector (a ResourceWarning on
    # Python 3.13); the last connection closed removes the WAL file
    with ThreadPoolExecutor(1) as pool:
        journal = SQLiteJournal(tmp_path / "j.db")
        pool.submit(journal.open, "w", "three", "null").result()
        journal.close()
        assert not (tmp_path / "j.db-wal").exists()
        assert journal.load("w") is not None  # it reopens when used again
        journal.close()


def test_a_journal_is_a_context_manager_that_closes_it(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.db") as journal:
        journal.open("w", "three", "null")
        assert (tmp_path / "j.db-wal").exists()
    assert not (tmp_path / "j.db-wal").exists()


def test_appends_from_two_journals_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    # each journal checks the head it last saw rather than reading it: when the other one
    # moved it, it reads it and chains to it
    path = tmp_path / "j.db"
    with SQLiteJournal(path) as one, SQLiteJournal(path) as other:
        one.open("w", "steps", "null")
        for sequence in range(6):
            writer = one if sequence % 3 else other
            writer.append("w", Entry(str(sequence), "Work", EntryKind.VALUE, str(sequence)))
        loaded = one.load("w")
        assert loaded is not None
        assert [entry.payload for entry in loaded.entries] == [str(n) for n in range(6)]
        with pytest.raises(sqlite3.IntegrityError):  # a position taken: nothing is written
            one.append("w", Entry("5", "Work", EntryKind.VALUE, "again"))
        one.append("w", Entry("6", "Work", EntryKind.VALUE, "6"))
    with SQLiteJournal(path) as fresh:
        reloaded = fresh.load("w")
    assert reloaded is not None
    assert len(reloaded.entries) == 7


def test_the_journal_table_is_clustered_by_workflow_and_position(tmp_path: Path) -> None:
    SQLiteJournal(tmp_path / "j.db").close()
    with closing(sqlite3.connect(tmp_path / "j.db")) as connection, connection:
        (schema,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'journal'"
        ).fetchone()
    assert schema.rstrip().endswith("WITHOUT ROWID")  # one b-tree less to write per entry


def test_appends_made_at_once_share_one_commit_and_a_failing_one_fails_alone(
    tmp_path: Path,
) -> None:
    import threading
    import time

    with SQLiteJournal(tmp_path / "j.db") as journal:
        for name in ("a", "b"):
            journal.open(name, "steps", "null")
        journal.append("a", Entry("0", "Work", EntryKind.VALUE, "0"))
        commits: list[str] = []
        journal._open.set_trace_callback(  # type: ignore[union-attr]
            lambda sql: commits.append(sql) if sql == "COMMIT" else None
        )
        appends = [("a", "1"), ("b", "0"), ("a", "0"), ("b", "1"), ("a", "2")]  # a 0: taken
        errors: dict[tuple[str, str], BaseException] = {}

        def append(workflow_id: str, position: str) -> None:
            try:
                journal.append(workflow_id, Entry(position, "Work", EntryKind.VALUE, position))
            except BaseException as error:
                errors[workflow_id, position] = error

        with journal._lock:  # a write in progress: the appends made meanwhile queue up
            threads = []
            for workflow_id, position in appends:
                thread = threading.Thread(target=append, args=(workflow_id, position))
                thread.start()
                threads.append(thread)
                while len(journal._queue) < len(threads):  # (each queued, in this order)
                    time.sleep(0.001)
        for thread in threads:
            thread.join()
        assert commits == ["COMMIT"]  # one transaction wrote them all
        assert list(errors) == [("a", "0")]
        assert isinstance(errors["a", "0"], sqlite3.IntegrityError)
        loaded_a, loaded_b = journal.load("a"), journal.load("b")
    assert loaded_a is not None  # (its chain checks out)
    assert loaded_b is not None
    assert [entry.position for entry in loaded_a.entries] == ["0", "1", "2"]
    assert [entry.position for entry in loaded_b.entries] == ["0", "1"]
