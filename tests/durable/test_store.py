"""The SQLite journal: one WAL file, checksummed entries, corruption and truncation found."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import pytest

from playbill import perform, program, sleep
from playbill.durable import (
    Completed,
    Durable,
    Entry,
    EntryKind,
    JournalConflict,
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


class Backend:
    """Where the journals of a test live: one SQLite file, or one Redis namespace; each
    ``journal()`` is a new store on it (as another process would open), and the helpers
    corrupt what is stored behind the store's back."""

    taken: type[BaseException]  # what appending at a taken position raises

    def journal(self) -> Any:
        raise NotImplementedError

    def change_payload(self, position: str, payload: str) -> None:
        raise NotImplementedError

    def delete_sequence(self, sequence: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        for journal in self.opened:
            journal.close()

    opened: list[Any]


class SQLiteBackend(Backend):
    taken = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = []

    def journal(self) -> Any:
        journal = SQLiteJournal(self.path)
        self.opened.append(journal)
        return journal

    def _corrupt(self, sql: str, *parameters: object) -> None:
        with closing(sqlite3.connect(self.path)) as connection, connection:
            connection.execute(sql, parameters)

    def change_payload(self, position: str, payload: str) -> None:
        self._corrupt("UPDATE journal SET payload = ? WHERE position = ?", payload, position)

    def delete_sequence(self, sequence: int) -> None:
        self._corrupt("DELETE FROM journal WHERE sequence = ?", sequence)


class RedisBackend(Backend):
    taken = JournalConflict

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.url = url
        self.namespace = namespace
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.opened = []

    def journal(self) -> Any:
        from playbill.durable import RedisJournal

        journal = RedisJournal(self.url, namespace=self.namespace)
        self.opened.append(journal)
        return journal

    def _rows(self, workflow_id: str = "w") -> list[list[Any]]:
        key = f"{self.namespace}:journal:{workflow_id}"
        return [json.loads(row) for row in self.client.lrange(key, 0, -1)]

    def change_payload(self, position: str, payload: str) -> None:
        key = f"{self.namespace}:journal:w"
        for index, row in enumerate(self._rows()):
            if row[1] == position:
                row[4] = payload
                self.client.lset(key, index, json.dumps(row))

    def delete_sequence(self, sequence: int) -> None:
        key = f"{self.namespace}:journal:w"
        for row in self.client.lrange(key, 0, -1):
            if json.loads(row)[0] == sequence:
                self.client.lrem(key, 1, row)

    def close(self) -> None:
        super().close()
        keys = list(self.client.scan_iter(match=f"{self.namespace}:*"))
        if keys:
            self.client.delete(*keys)
        self.client.close()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The store conformance tests run on SQLite and on Redis."""
    made: Backend
    if request.param == "sqlite":
        made = SQLiteBackend(tmp_path / "j.db")
    else:
        made = RedisBackend(
            request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
        )
    try:
        yield made
    finally:
        made.close()


def durable(backend: Backend, counter: Counter) -> Durable:
    registry = Registry()
    registry.register(three_charges, name="three")
    return Durable(backend.journal(), registry, handlers={Charge: counter})


def test_the_file_is_in_wal_mode_and_keyed_by_workflow_and_position(tmp_path: Path) -> None:
    durable(SQLiteBackend(tmp_path / "j.db"), Counter()).start("three", "w", "o")
    with closing(sqlite3.connect(tmp_path / "j.db")) as connection, connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = connection.execute(
            "SELECT workflow_id, position, kind FROM journal ORDER BY sequence"
        ).fetchall()
    assert rows == [("w", "0", "value"), ("w", "1", "value"), ("w", "2", "value")]


def test_a_journal_survives_a_new_store_on_the_same_file(backend: Backend) -> None:
    counter = Counter()
    first = durable(backend, counter).start("three", "w", "o")
    second = durable(backend, counter).recover("w")
    assert first == second == Completed("w", ("receipt-o-1", "receipt-o-2"))
    assert counter.calls == ["o-1", "o-2"]


def test_a_changed_byte_is_found_and_nothing_after_it_is_trusted(backend: Backend) -> None:
    durable(backend, Counter()).start("three", "w", "o")
    backend.change_payload("1", '"forged"')
    with pytest.raises(JournalCorrupted, match="entry 1 \\(position 1\\) fails its checksum") as e:
        durable(backend, Counter()).recover("w")
    assert e.value.trusted == 1


def test_a_truncated_journal_is_found(backend: Backend) -> None:
    durable(backend, Counter()).start("three", "w", "o")
    backend.delete_sequence(2)
    with pytest.raises(JournalCorrupted, match="truncated: its record counts 3 entries, 2"):
        durable(backend, Counter()).recover("w")


def test_a_lost_entry_in_the_middle_is_found(backend: Backend) -> None:
    durable(backend, Counter()).start("three", "w", "o")
    backend.delete_sequence(0)
    with pytest.raises(JournalCorrupted, match="entry 0 is missing") as caught:
        durable(backend, Counter()).recover("w")
    assert caught.value.trusted == 0


def test_repair_drops_the_untrusted_entries_and_their_effects_run_again(
    backend: Backend,
) -> None:
    durable(backend, Counter()).start("three", "w", "o")
    backend.change_payload("1", "0")
    counter = Counter()
    assert durable(backend, counter).repair("w") == 1
    outcome = durable(backend, counter).recover("w")
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


def test_listing_by_status(backend: Backend) -> None:
    journal = backend.journal()
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


def test_appends_from_two_journals_on_one_file_keep_one_chain(backend: Backend) -> None:
    # each journal checks the head it last saw rather than reading it: when the other one
    # moved it, it reads it and chains to it
    one, other = backend.journal(), backend.journal()
    one.open("w", "steps", "null")
    for sequence in range(6):
        writer = one if sequence % 3 else other
        writer.append("w", Entry(str(sequence), "Work", EntryKind.VALUE, str(sequence)))
    loaded = one.load("w")
    assert loaded is not None
    assert [entry.payload for entry in loaded.entries] == [str(n) for n in range(6)]
    with pytest.raises(backend.taken):  # a position taken: nothing is written
        one.append("w", Entry("5", "Work", EntryKind.VALUE, "again"))
    one.append("w", Entry("6", "Work", EntryKind.VALUE, "6"))
    reloaded = backend.journal().load("w")
    assert reloaded is not None
    assert len(reloaded.entries) == 7


def test_appending_several_entries_writes_all_or_none(backend: Backend) -> None:
    journal = backend.journal()
    journal.open("w", "steps", "null")
    journal.append("w", Entry("0", "Work", EntryKind.VALUE, "0"))
    batch = [Entry("1", "Work", EntryKind.VALUE, "1"), Entry("0", "Work", EntryKind.VALUE, "x")]
    with pytest.raises(backend.taken):
        journal.append_all("w", batch)
    journal.append_all("w", [Entry("1", "Work", EntryKind.MARKER, "null")])
    loaded = backend.journal().load("w")
    assert loaded is not None
    assert [(entry.position, entry.payload) for entry in loaded.entries] == [
        ("0", "0"),
        ("1", "null"),
    ]


def test_a_fork_copies_the_journal_into_a_new_workflow(backend: Backend) -> None:
    counter = Counter()
    durable(backend, counter).start("three", "w", "o")
    forked = durable(backend, counter).fork("w", at=2, new_id="w2", result="receipt-x")
    assert forked == Completed("w2", ("receipt-o-1", "receipt-x"))
    assert counter.calls == ["o-1", "o-2"]  # the fork replayed 0 and 1, and was given 2
    with pytest.raises(InvalidArgument, match="new_id 'w2' is already a workflow"):
        durable(backend, counter).fork("w", at=2, new_id="w2")
    ids = [record.workflow_id for record in backend.journal().workflows()]
    assert ids == ["w", "w2"]


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


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"namespace": "a:b"}, "RedisJournal namespace must be 1-200 characters .* got 'a:b'"),
        ({"allow_insecure": "yes"}, "RedisJournal allow_insecure .* 'yes'"),
        ({"staged": 1}, "RedisJournal staged must be True or False, .*1"),
    ],
)
def test_redis_journal_options_are_checked(options: dict[str, Any], named: str) -> None:
    pytest.importorskip("redis")
    from playbill.durable import RedisJournal

    with pytest.raises(InvalidArgument, match=named):
        RedisJournal("redis://127.0.0.1:6379/0", **options)


def _fake_host(url: str, namespace: str, handling: bool) -> Any:
    """What the staging module reads of a `_Host` (a durable actor's host)."""

    class Transport:
        pass

    class Host:
        transport = Transport()
        keys: ClassVar[dict[str, str]] = {"lease": f"{namespace}:lease:orders"}
        lease = "node-a:1"
        writes: list[object] | None = [] if handling else None
        stage = None

    Host.transport.url = url  # type: ignore[attr-defined]
    return Host()


def test_a_redis_journal_in_a_durable_actors_message_stages_its_writes(
    redis_url: str, namespace: str
) -> None:
    import redis

    from playbill.distributed._staging import HOSTING, message_stage
    from playbill.durable import RedisJournal

    host = _fake_host(redis_url, namespace, handling=True)
    with (
        redis.Redis.from_url(redis_url, decode_responses=True) as client,
        RedisJournal(redis_url, namespace=namespace) as journal,
    ):
        client.set(host.keys["lease"], host.lease)
        for workflow_id in ("old", "other"):
            journal.open(workflow_id, "steps", "null")
            journal.append(workflow_id, Entry("0", "Work", EntryKind.VALUE, "0"))
        token = HOSTING.set(host)
        try:
            stage = message_stage()
            assert stage is not None
            journal.open("new", "steps", '"x"')
            journal.append_all("new", [Entry(str(n), "Work", EntryKind.VALUE, "1") for n in (0, 1)])
            journal.update("new", Status.PAUSED, prompt="ok?", schema="bool", position="2")
            journal.append("old", Entry("1", "Work", EntryKind.VALUE, "1"))
            with pytest.raises(JournalConflict, match="position 0"):
                journal.append("old", Entry("0", "Work", EntryKind.VALUE, "again"))
            staged = journal.load("new")  # a run later in the message reads what it staged
            assert staged is not None
            assert (staged.record.status, len(staged.entries)) == (Status.PAUSED, 2)
            assert not client.exists(journal.record_key("new"))  # nothing written yet
            assert client.llen(journal.journal_key("old")) == 1
            guards, writes = stage.commands()  # what the message's COMMIT checks and writes
            # once the host took them, a write goes at once (fenced), never to a lost stage
            journal.append("other", Entry("1", "Work", EntryKind.MARKER, "null"))
            assert client.llen(journal.journal_key("other")) == 2
        finally:
            HOSTING.reset(token)
        assert guards == [
            (journal.record_key("new"), "workflow", ""),  # no such workflow yet
            (journal.record_key("old"), "length", "1"),  # as the message read it
            (journal.record_key("old"), "head", journal._heads["old"][1]),
        ]
        for write in writes:  # as COMMIT does, after its guards held
            client.execute_command(*write)
        with RedisJournal(redis_url, namespace=namespace) as fresh:
            assert fresh.load("new") == staged
            old = fresh.load("old")
            assert old is not None
            assert [entry.position for entry in old.entries] == ["0", "1"]
            assert [record.workflow_id for record in fresh.workflows(Status.PAUSED)] == ["new"]
        client.delete(*client.keys(f"{namespace}:*"))


def test_a_redis_journal_made_with_staged_false_writes_at_once_in_a_message(
    redis_url: str, namespace: str
) -> None:
    import redis

    from playbill.distributed._staging import HOSTING, message_stage
    from playbill.durable import RedisJournal

    host = _fake_host(redis_url, namespace, handling=True)
    with (
        redis.Redis.from_url(redis_url) as client,
        RedisJournal(redis_url, namespace=namespace, staged=False) as journal,
    ):
        client.set(host.keys["lease"], host.lease)
        token = HOSTING.set(host)
        try:
            journal.open("w", "steps", "null")
            journal.append("w", Entry("0", "Work", EntryKind.VALUE, "0"))
            stage = message_stage()
            assert stage is not None
            assert stage.commands() == ([], [])  # nothing staged
        finally:
            HOSTING.reset(token)
        assert client.llen(journal.journal_key("w")) == 1  # written at once
        client.delete(*client.keys(f"{namespace}:*"))


def test_a_redis_journal_write_made_for_a_durable_actor_is_fenced_by_its_lease(
    redis_url: str, namespace: str
) -> None:
    # outside a message (an on_start, say) a durable actor's journal writes go at once,
    # each checked against the actor's lease: a stale owner's write is refused
    import redis

    from playbill.distributed._staging import HOSTING
    from playbill.durable import RedisJournal

    Host = type(_fake_host(redis_url, namespace, handling=False))  # noqa: N806

    with (
        redis.Redis.from_url(redis_url) as client,
        RedisJournal(redis_url, namespace=namespace) as journal,
    ):
        client.set(Host.keys["lease"], "node-a:1")
        token = HOSTING.set(Host())
        try:
            journal.open("w", "steps", "null")
            journal.append("w", Entry("0", "Work", EntryKind.VALUE, "0"))
            client.set(Host.keys["lease"], "node-b:2")  # another node took the actor over
            with pytest.raises(JournalConflict, match="no longer owned by this node"):
                journal.append("w", Entry("1", "Work", EntryKind.VALUE, "1"))
            with pytest.raises(JournalConflict, match="no longer owned"):
                journal.update("w", Status.COMPLETED)
        finally:
            HOSTING.reset(token)
        loaded = journal.load("w")
        assert loaded is not None
        assert [entry.position for entry in loaded.entries] == ["0"]
        assert loaded.record.status is Status.RUNNING
        client.delete(*client.keys(f"{namespace}:*"))
