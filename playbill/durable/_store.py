"""Where journals are kept: `SQLiteJournal` (one file, WAL mode) and `MemoryJournal`.

A store's methods are plain blocking calls; the durable layer reaches them only through the
`blocking` effect, so under asyncio they run on the system's thread pool and never hold the
event loop, and under the stub and the simulator they run inline.

Every entry carries a checksum chained to the one before it, and each workflow's row counts
its entries: a changed byte, a lost entry or a cut-off tail is found when the journal is
loaded, and `JournalCorrupted` says how many entries are intact.
"""

from __future__ import annotations

import enum
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, final

from attrs import frozen

from playbill.durable._errors import JournalCorrupted
from playbill.effects import InvalidArgument

__all__ = [
    "Entry",
    "EntryKind",
    "JournalStore",
    "Loaded",
    "MemoryJournal",
    "SQLiteJournal",
    "Status",
    "WorkflowRecord",
]


class EntryKind(enum.Enum):
    """What an entry holds."""

    VALUE = "value"
    """The effect's result."""
    ERROR = "error"
    """The effect's failure."""
    MARKER = "marker"
    """That the effect happened; its result is not kept (a fork, a join, a patch)."""


class Status(enum.Enum):
    """Where a workflow stands."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@final
@frozen
class Entry:
    """One journaled effect: its ``position``, its canonical form, and its outcome (JSON)."""

    position: str
    effect: str
    kind: EntryKind
    payload: str


@final
@frozen
class WorkflowRecord:
    """A workflow as its store knows it: which workflow function runs it on which input,
    and where it stands (with the question it waits on, when paused)."""

    workflow_id: str
    workflow: str
    input: str
    status: Status
    prompt: str = ""
    schema: str = ""
    position: str = ""


@final
@frozen
class Loaded:
    """A workflow's record and its journal, checked."""

    record: WorkflowRecord
    entries: tuple[Entry, ...]


class JournalStore(Protocol):
    """What the durable layer needs of a store (each call may block)."""

    def open(self, workflow_id: str, workflow: str, input: str) -> Loaded:
        """The workflow's record and journal, made empty (status running) if it is new."""
        ...

    def load(self, workflow_id: str) -> Loaded | None:
        """The workflow's record and checked journal, or None if there is none."""
        ...

    def append(self, workflow_id: str, entry: Entry) -> None:
        """Write ``entry``, committed before this returns. A store may also have
        ``append_all(workflow_id, entries)``, writing several in one commit, all or none;
        without it, they are appended one by one."""
        ...

    def update(
        self,
        workflow_id: str,
        status: Status,
        *,
        prompt: str = "",
        schema: str = "",
        position: str = "",
    ) -> None: ...

    def workflows(self, status: Status | None = None) -> tuple[WorkflowRecord, ...]: ...

    def truncate(self, workflow_id: str, keep: int) -> None:
        """Keep only the first ``keep`` entries (`JournalCorrupted.trusted`)."""
        ...

    def copy(self, workflow_id: str, workflow: str, input: str, entries: Sequence[Entry]) -> None:
        """A new workflow ``workflow_id`` with ``entries`` as its journal (time travel)."""
        ...


def checksum(previous: str, workflow_id: str, sequence: int, entry: Entry) -> str:
    """The checksum of ``entry`` as the ``sequence``-th of ``workflow_id``'s journal, chained
    to the ``previous`` one."""
    text = "\x1f".join(
        (previous, workflow_id, str(sequence), entry.position, entry.effect, entry.kind.value)
    )
    digest = hashlib.blake2b(text.encode(), digest_size=16)
    digest.update(entry.payload.encode())
    return digest.hexdigest()


def _check_id(workflow_id: object) -> str:
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise InvalidArgument(
            f"workflow_id must be a non-empty str (such as 'order-7'), got {workflow_id!r}"
        )
    return workflow_id


def verify(
    workflow_id: str, length: int, rows: Sequence[tuple[int, Entry, str]]
) -> tuple[Entry, ...]:
    """The entries of ``rows`` (sequence, entry, checksum), checked against their chain and
    the ``length`` the workflow's record counts; `JournalCorrupted` at the first bad one."""
    previous = ""
    entries: list[Entry] = []
    for expected, (sequence, entry, kept) in enumerate(rows):
        if sequence != expected:
            raise JournalCorrupted(workflow_id, expected, f"entry {expected} is missing")
        made = checksum(previous, workflow_id, sequence, entry)
        if made != kept:
            raise JournalCorrupted(
                workflow_id,
                expected,
                f"entry {expected} (position {entry.position}) fails its checksum",
            )
        entries.append(entry)
        previous = kept
    if len(entries) != length:
        raise JournalCorrupted(
            workflow_id,
            len(entries),
            f"it is truncated: its record counts {length} entries, {len(entries)} are left",
        )
    return tuple(entries)


# -- SQLite ---------------------------------------------------------------------------------


_NO_HEADS: dict[str, tuple[int, str]] = {}  # (a transaction of one entry: read, never written)


@final
class _Append:
    """An append waiting to be written (by its own thread, or with another's)."""

    __slots__ = ("done", "entry", "error", "workflow_id")

    def __init__(self, workflow_id: str, entry: Entry) -> None:
        self.workflow_id = workflow_id
        self.entry = entry
        self.done = False
        self.error: BaseException | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL DEFAULT '',
    schema TEXT NOT NULL DEFAULT '',
    position TEXT NOT NULL DEFAULT '',
    length INTEGER NOT NULL DEFAULT 0,
    head TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS journal (
    workflow_id TEXT NOT NULL,
    position TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    effect TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    checksum TEXT NOT NULL,
    PRIMARY KEY (workflow_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS journal_order ON journal (workflow_id, sequence);
"""


@final
class SQLiteJournal:
    """Journals in one SQLite file in WAL mode: a row per workflow, a row per journaled
    effect keyed by (workflow id, position) with a chained checksum. The journal holds one
    connection, which the threads that call it take in turn; several processes may share the
    file. Close it when done, with ``close()`` or as a context manager (it reopens if used
    again).

    >>> import tempfile, pathlib
    >>> with SQLiteJournal(pathlib.Path(tempfile.mkdtemp()) / "journal.db") as journal:
    ...     journal.open("order-7", "refund", "null").record.status
    <Status.RUNNING: 'running'>
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)) or str(path) in ("", ":memory:"):
            raise InvalidArgument(
                f"SQLiteJournal path must be the path of a database file (a str or a Path), "
                f"got {path!r}; a journal must outlive the process, so not ':memory:'"
            )
        self.path = Path(path)
        # One connection for all threads (the `blocking` calls run on a pool whose threads
        # come and go): a connection per thread would be left to the garbage collector when
        # its thread ended, never closed. The lock keeps the threads' uses apart.
        self._lock = threading.RLock()
        self._open: sqlite3.Connection | None = None
        # each workflow's (length, head) as this journal last wrote or read it: an append
        # checks it rather than reading it (and reads it if another process moved it)
        self._heads: dict[str, tuple[int, str]] = {}
        self._queue: list[_Append] = []  # appends waiting for a thread to write them
        self._queue_lock = threading.Lock()
        with self._connection() as connection:
            connection.executescript(_SCHEMA)  # idempotent; commits on its own

    def __repr__(self) -> str:
        return f"SQLiteJournal({str(self.path)!r})"

    def __enter__(self) -> SQLiteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection_now()

    def _connection_now(self) -> sqlite3.Connection:
        """The connection, opened if need be (the caller holds the lock)."""
        connection = self._open
        if connection is None:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                # in WAL mode NORMAL survives a crash of the process (not of the machine)
                connection.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                connection.close()
                raise
            self._open = connection
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        """Close the journal's connection, whichever thread opened it; a later call opens a
        new one.

        >>> import tempfile, pathlib
        >>> journal = SQLiteJournal(pathlib.Path(tempfile.mkdtemp()) / "journal.db")
        >>> journal.close()
        >>> journal.load("order-7") is None  # reopened
        True
        >>> journal.close()
        """
        with self._lock:
            connection, self._open = self._open, None
        if connection is not None:
            connection.close()

    def open(self, workflow_id: str, workflow: str, input: str) -> Loaded:
        _check_id(workflow_id)
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO workflows (workflow_id, workflow, input, status) "
                "VALUES (?, ?, ?, ?)",
                (workflow_id, workflow, input, Status.RUNNING.value),
            )
        loaded = self.load(workflow_id)
        assert loaded is not None
        return loaded

    def load(self, workflow_id: str) -> Loaded | None:
        _check_id(workflow_id)
        with self._connection() as connection:
            connection.execute("BEGIN")
            try:
                row = connection.execute(
                    "SELECT workflow, input, status, prompt, schema, position, length "
                    "FROM workflows WHERE workflow_id = ?",
                    (workflow_id,),
                ).fetchone()
                if row is None:
                    return None
                rows = connection.execute(
                    "SELECT sequence, position, effect, kind, payload, checksum FROM journal "
                    "WHERE workflow_id = ? ORDER BY sequence",
                    (workflow_id,),
                ).fetchall()
            finally:
                connection.execute("COMMIT")
        record = WorkflowRecord(workflow_id, row[0], row[1], Status(row[2]), *row[3:6])
        checked = []
        for sequence, position, effect, kind, payload, kept in rows:
            try:
                entry = Entry(position, effect, EntryKind(kind), payload)
            except ValueError:
                raise JournalCorrupted(
                    workflow_id, sequence, f"entry {sequence} has an unknown kind {kind!r}"
                ) from None
            checked.append((sequence, entry, kept))
        return Loaded(record, verify(workflow_id, row[6], checked))

    def append(self, workflow_id: str, entry: Entry) -> None:
        """Write ``entry``, committed before this returns. Appends that threads make at once
        share a commit (group commit): the first to take the journal writes what the others
        queued meanwhile, in one transaction, each entry under its own savepoint, so one that
        fails (a position taken) fails alone."""
        lock = self._lock
        if not self._queue and lock.acquire(blocking=False):  # no other: written at once
            try:
                self._write_one(workflow_id, entry)
            finally:
                lock.release()
            return
        waiting = _Append(workflow_id, entry)
        with self._queue_lock:
            self._queue.append(waiting)
        with self._lock:
            if not waiting.done:  # (else a thread before this one wrote it, with its own)
                self._write_queued()
        if waiting.error is not None:
            raise waiting.error

    def _write_queued(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            self._write(batch, all_or_nothing=len(batch) == 1)
        except BaseException as error:
            for each in batch:
                if each.error is None:
                    each.error = error
        for each in batch:
            each.done = True

    def append_all(self, workflow_id: str, entries: Sequence[Entry]) -> None:
        """Write ``entries`` in order, in one transaction: all of them or, if one fails, none
        (the durable layer writes the entries that need no durability point of their own
        with the next one that does)."""
        with self._lock:
            self._write([_Append(workflow_id, entry) for entry in entries], all_or_nothing=True)

    def _write_one(self, workflow_id: str, entry: Entry) -> None:
        execute = self._connection_now().execute
        execute("BEGIN IMMEDIATE")
        try:
            head = self._write_entry(execute, workflow_id, entry, _NO_HEADS)
            execute("COMMIT")
        except BaseException:
            execute("ROLLBACK")
            raise
        self._heads[workflow_id] = head

    def _write(self, batch: list[_Append], *, all_or_nothing: bool) -> None:
        connection = self._connection_now()
        execute = connection.execute
        heads: dict[str, tuple[int, str]] = {}  # as moved in this transaction
        execute("BEGIN IMMEDIATE")
        try:
            if all_or_nothing:
                for each in batch:
                    heads[each.workflow_id] = self._write_entry(
                        execute, each.workflow_id, each.entry, heads
                    )
            else:
                for each in batch:
                    execute("SAVEPOINT entry")
                    try:
                        head = self._write_entry(execute, each.workflow_id, each.entry, heads)
                    except Exception as error:  # this entry alone: the others are written
                        execute("ROLLBACK TO entry")
                        each.error = error
                    else:
                        heads[each.workflow_id] = head
                    execute("RELEASE entry")
            execute("COMMIT")
        except BaseException:
            execute("ROLLBACK")
            raise
        self._heads.update(heads)

    def _write_entry(
        self,
        execute: Callable[[str, tuple[object, ...]], sqlite3.Cursor],
        workflow_id: str,
        entry: Entry,
        heads: dict[str, tuple[int, str]],
    ) -> tuple[int, str]:
        """Move the workflow's row to its new head and insert the entry; the new head. The
        row is checked against the head this transaction (``heads``) or this journal last
        wrote rather than read first (it is read when another process moved it)."""
        seen = heads.get(workflow_id) or self._heads.get(workflow_id)
        moved = 0
        if seen is not None:
            length, head = seen
            made = checksum(head, workflow_id, length, entry)
            moved = execute(
                "UPDATE workflows SET length = ?, head = ? "
                "WHERE workflow_id = ? AND length = ? AND head = ?",
                (length + 1, made, workflow_id, length, head),
            ).rowcount
        if not moved:
            length, head = execute(
                "SELECT length, head FROM workflows WHERE workflow_id = ?", (workflow_id,)
            ).fetchone()
            made = checksum(head, workflow_id, length, entry)
            execute(
                "UPDATE workflows SET length = ?, head = ? WHERE workflow_id = ?",
                (length + 1, made, workflow_id),
            )
        execute(
            "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                workflow_id,
                entry.position,
                length,
                entry.effect,
                entry.kind.value,
                entry.payload,
                made,
            ),
        )
        return length + 1, made

    def update(
        self,
        workflow_id: str,
        status: Status,
        *,
        prompt: str = "",
        schema: str = "",
        position: str = "",
    ) -> None:
        with self._transaction() as connection:
            connection.execute(
                "UPDATE workflows SET status = ?, prompt = ?, schema = ?, position = ? "
                "WHERE workflow_id = ?",
                (status.value, prompt, schema, position, workflow_id),
            )

    def workflows(self, status: Status | None = None) -> tuple[WorkflowRecord, ...]:
        query = (
            "SELECT workflow_id, workflow, input, status, prompt, schema, position FROM workflows"
        )
        parameters: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            parameters = (status.value,)
        with self._connection() as connection:
            rows = connection.execute(query + " ORDER BY workflow_id", parameters).fetchall()
        return tuple(
            WorkflowRecord(row[0], row[1], row[2], Status(row[3]), *row[4:]) for row in rows
        )

    def truncate(self, workflow_id: str, keep: int) -> None:
        with self._transaction() as connection:
            self._heads.pop(workflow_id, None)
            connection.execute(
                "DELETE FROM journal WHERE workflow_id = ? AND sequence >= ?", (workflow_id, keep)
            )
            rows = connection.execute(
                "SELECT checksum FROM journal WHERE workflow_id = ? AND sequence = ?",
                (workflow_id, keep - 1),
            ).fetchone()
            connection.execute(
                "UPDATE workflows SET length = ?, head = ? WHERE workflow_id = ?",
                (keep, rows[0] if rows else "", workflow_id),
            )

    def copy(self, workflow_id: str, workflow: str, input: str, entries: Sequence[Entry]) -> None:
        _check_id(workflow_id)
        with self._transaction() as connection:
            present = connection.execute(
                "SELECT 1 FROM workflows WHERE workflow_id = ?", (workflow_id,)
            ).fetchone()
            if present:
                raise InvalidArgument(
                    f"new_id {workflow_id!r} is already a workflow of {self!r}; choose "
                    "another id for the fork"
                )
            head = ""
            for sequence, entry in enumerate(entries):
                head = checksum(head, workflow_id, sequence, entry)
                connection.execute(
                    "INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        workflow_id,
                        entry.position,
                        sequence,
                        entry.effect,
                        entry.kind.value,
                        entry.payload,
                        head,
                    ),
                )
            connection.execute(
                "INSERT INTO workflows (workflow_id, workflow, input, status, length, head) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (workflow_id, workflow, input, Status.RUNNING.value, len(entries), head),
            )


# -- memory ---------------------------------------------------------------------------------


@final
class MemoryJournal:
    """Journals in this process's memory, checked like SQLite's: for tests and the
    simulator (a "restart" is a new run on the same `MemoryJournal`).

    >>> journal = MemoryJournal()
    >>> journal.open("order-7", "refund", "null").entries
    ()
    """

    def __init__(self) -> None:
        self._records: dict[str, WorkflowRecord] = {}
        self._rows: dict[str, list[tuple[int, Entry, str]]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryJournal({len(self._records)} workflows)"

    def open(self, workflow_id: str, workflow: str, input: str) -> Loaded:
        _check_id(workflow_id)
        with self._lock:
            if workflow_id not in self._records:
                self._records[workflow_id] = WorkflowRecord(
                    workflow_id, workflow, input, Status.RUNNING
                )
                self._rows[workflow_id] = []
        loaded = self.load(workflow_id)
        assert loaded is not None
        return loaded

    def load(self, workflow_id: str) -> Loaded | None:
        _check_id(workflow_id)
        with self._lock:
            record = self._records.get(workflow_id)
            if record is None:
                return None
            rows = list(self._rows[workflow_id])
        return Loaded(record, verify(workflow_id, len(rows), rows))

    def append_all(self, workflow_id: str, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self.append(workflow_id, entry)

    def append(self, workflow_id: str, entry: Entry) -> None:
        with self._lock:
            rows = self._rows[workflow_id]
            head = rows[-1][2] if rows else ""
            rows.append((len(rows), entry, checksum(head, workflow_id, len(rows), entry)))

    def update(
        self,
        workflow_id: str,
        status: Status,
        *,
        prompt: str = "",
        schema: str = "",
        position: str = "",
    ) -> None:
        with self._lock:
            record = self._records[workflow_id]
            self._records[workflow_id] = WorkflowRecord(
                workflow_id, record.workflow, record.input, status, prompt, schema, position
            )

    def workflows(self, status: Status | None = None) -> tuple[WorkflowRecord, ...]:
        with self._lock:
            return tuple(
                record
                for _, record in sorted(self._records.items())
                if status is None or record.status is status
            )

    def truncate(self, workflow_id: str, keep: int) -> None:
        with self._lock:
            del self._rows[workflow_id][keep:]

    def copy(self, workflow_id: str, workflow: str, input: str, entries: Sequence[Entry]) -> None:
        _check_id(workflow_id)
        with self._lock:
            if workflow_id in self._records:
                raise InvalidArgument(
                    f"new_id {workflow_id!r} is already a workflow of {self!r}; choose "
                    "another id for the fork"
                )
            self._records[workflow_id] = WorkflowRecord(
                workflow_id, workflow, input, Status.RUNNING
            )
            self._rows[workflow_id] = []
        for entry in entries:
            self.append(workflow_id, entry)
