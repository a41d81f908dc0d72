"""`RedisJournal`: durable journals in Redis, for workflows that run on several machines and
for durable actors on `RedisTransport`, whose journal appends are atomic with the message's
acknowledgement.

Keys, under ``namespace``: per workflow, ``{namespace}:workflow:{id}`` (a hash: the workflow
function, its input, status, prompt, schema, pause position, entry count and head checksum),
``{namespace}:journal:{id}`` (a list, one JSON row per entry: sequence, position, effect,
kind, payload, checksum chained as in SQLite) and ``{namespace}:positions:{id}`` (a hash,
position -> sequence: a position is written once); ``{namespace}:workflows`` (a set of the
ids). Every write is one Lua script.

Two ways to write:

- **At once** (a workflow run outside a durable actor's message, on any interpreter): each
  append is a script that checks the workflow's entry count and head against those this
  store last saw (read again, and the entries chained to them, if another store moved them),
  refuses a taken position (`JournalConflict`), and — when it runs for a durable actor, in
  its ``on_start`` say — is fenced by the actor's lease like every write of its owner.
- **Staged** (a workflow run while a durable actor handles a message, on the same Redis as
  its transport): open, append and status writes go into the message's stage
  (`playbill.distributed._staging`), and the message's ``COMMIT`` script writes them with
  the acknowledgement and the dedup record, after checking that the journal's count and
  head are still those the handler read (else nothing is done and the message is
  redelivered). After a crash the message is pending and its entries absent, or both are
  done; a run in the same message reads what it staged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any, final

import attrs
import redis

from playbill.distributed._staging import MessageStage, Write, message_stage, owner_fence
from playbill.distributed._transport import _check_id, _check_url
from playbill.durable._errors import JournalConflict, JournalCorrupted
from playbill.durable._store import (
    Entry,
    EntryKind,
    Loaded,
    Status,
    WorkflowRecord,
    checksum,
    verify,
)
from playbill.durable._store import _check_id as _check_workflow_id
from playbill.effects import InvalidArgument
from playbill.effects._checks import check_flag

__all__ = ["RedisJournal"]

# KEYS: lease (or any key: not read without a fence), record, index; ARGV: fence ('' none),
# workflow id, workflow, input -> -2 fenced, 0 it exists, 1 made
_OPEN = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'workflow', ARGV[3], 'input', ARGV[4], 'status', 'running',
  'prompt', '', 'schema', '', 'position', '', 'length', '0', 'head', '')
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""

# KEYS: lease, record, journal, positions; ARGV: fence, expected length, expected head, new
# head, then (position, row) pairs -> {1} written, {0, length, head} the head moved (nothing
# written: chain to it), {-1, position} taken, {-2} fenced, {-3} no such workflow
_APPEND = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-2} end
local found = redis.call('HMGET', KEYS[2], 'length', 'head')
if not found[1] then return {-3} end
if found[1] ~= ARGV[2] or found[2] ~= ARGV[3] then return {0, found[1], found[2]} end
local taken = {}
for i = 5, #ARGV, 2 do
  if taken[ARGV[i]] or redis.call('HEXISTS', KEYS[4], ARGV[i]) == 1 then return {-1, ARGV[i]} end
  taken[ARGV[i]] = true
end
local length = tonumber(ARGV[2])
for i = 5, #ARGV, 2 do
  redis.call('RPUSH', KEYS[3], ARGV[i + 1])
  redis.call('HSET', KEYS[4], ARGV[i], string.format('%d', length))
  length = length + 1
end
redis.call('HSET', KEYS[2], 'length', string.format('%d', length), 'head', ARGV[4])
return {1}
"""

# KEYS: lease, record; ARGV: fence, status, prompt, schema, position -> -2 fenced, 0 no such
# workflow, 1 done
_UPDATE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'status', ARGV[2], 'prompt', ARGV[3], 'schema', ARGV[4],
  'position', ARGV[5])
return 1
"""

# KEYS: record, journal, positions; ARGV: how many entries to keep (they are intact)
_TRUNCATE = """
local keep = tonumber(ARGV[1])
if keep == 0 then redis.call('DEL', KEYS[2]) else redis.call('LTRIM', KEYS[2], 0, keep - 1) end
redis.call('DEL', KEYS[3])
local head = ''
local rows = redis.call('LRANGE', KEYS[2], 0, -1)
for i, row in ipairs(rows) do
  local fields = cjson.decode(row)
  redis.call('HSET', KEYS[3], fields[2], string.format('%d', i - 1))
  head = fields[6]
end
redis.call('HSET', KEYS[1], 'length', string.format('%d', #rows), 'head', head)
return #rows
"""

# KEYS: record, journal, positions, index; ARGV: workflow id, workflow, input, head, then
# (position, row) pairs -> 0 the id is taken, 1 made
_COPY = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
local n = 0
for i = 5, #ARGV, 2 do
  redis.call('RPUSH', KEYS[2], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], string.format('%d', n))
  n = n + 1
end
redis.call('HSET', KEYS[1], 'workflow', ARGV[2], 'input', ARGV[3], 'status', 'running',
  'prompt', '', 'schema', '', 'position', '', 'length', string.format('%d', n), 'head', ARGV[4])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
"""

_RECORD_FIELDS = ("workflow", "input", "status", "prompt", "schema", "position")
_CHUNK = 500  # rows per staged command (Redis's Lua unpacks at most about 8000 arguments)


def _row(sequence: int, entry: Entry, made: str) -> str:
    return json.dumps(
        [sequence, entry.position, entry.effect, entry.kind.value, entry.payload, made],
        separators=(",", ":"),
    )


def _chained(
    workflow_id: str, length: int, head: str, entries: Sequence[Entry]
) -> tuple[list[tuple[str, str]], str]:
    """The (position, row) of each of ``entries`` appended after ``length`` entries ending at
    ``head``, and the new head."""
    pairs = []
    for offset, entry in enumerate(entries):
        head = checksum(head, workflow_id, length + offset, entry)
        pairs.append((entry.position, _row(length + offset, entry, head)))
    return pairs, head


@final
class _Staged:
    """One workflow's share of a message's commit: its journal as the handler read it (the
    guard) and what the handler added (the writes)."""

    __slots__ = (
        "base",
        "changed",
        "entries",
        "head",
        "journal",
        "length",
        "new",
        "pairs",
        "positions",
        "record",
    )

    def __init__(
        self, journal: RedisJournal, record: WorkflowRecord, loaded: Loaded | None, head: str
    ) -> None:
        self.journal = journal
        self.record = record
        self.new = loaded is None  # made in this message
        self.entries: list[Entry] = list(loaded.entries) if loaded is not None else []
        self.positions = {entry.position for entry in self.entries}
        self.length = len(self.entries)
        self.head = head
        self.base = (self.length, head)
        self.pairs: list[tuple[str, str]] = []  # (position, row) staged
        self.changed = False  # the status was written

    def loaded(self) -> Loaded:
        return Loaded(self.record, tuple(self.entries))

    def guards(self) -> list[tuple[str, str, str]]:
        key = self.journal.record_key(self.record.workflow_id)
        if self.new:
            return [(key, "workflow", "")]  # (no record yet)
        return [(key, "length", str(self.base[0])), (key, "head", self.base[1])]

    def writes(self) -> list[Write]:
        journal = self.journal
        workflow_id = self.record.workflow_id
        record = journal.record_key(workflow_id)
        writes: list[Write] = []
        if self.new:
            writes.append(
                ("HSET", record, "workflow", self.record.workflow, "input", self.record.input)
            )
            writes.append(("SADD", journal.index_key, workflow_id))
        pairs = self.pairs
        for first in range(0, len(pairs), _CHUNK):
            chunk = pairs[first : first + _CHUNK]
            sequence = self.base[0] + first
            writes.append(("RPUSH", journal.journal_key(workflow_id), *(row for _, row in chunk)))
            fields: list[str] = []
            for offset, (position, _) in enumerate(chunk):
                fields += (position, str(sequence + offset))
            writes.append(("HSET", journal.positions_key(workflow_id), *fields))
        if self.new or self.changed or pairs:
            status = self.record
            writes.append(
                (
                    "HSET",
                    record,
                    "status",
                    status.status.value,
                    "prompt",
                    status.prompt,
                    "schema",
                    status.schema,
                    "position",
                    status.position,
                    "length",
                    str(self.length),
                    "head",
                    self.head,
                )
            )
        return writes if (self.new or self.changed or pairs) else []


@final
class RedisJournal:
    """Journals in Redis (``url``, keys under ``namespace``): usable wherever
    `SQLiteJournal` is, by several processes and machines at once. In a durable actor's
    message on a `RedisTransport` of the same ``url``, its writes are staged and committed
    with the message (see the module's notes and ``docs/durable.md``); ``staged=False``
    writes them at once there too (for an actor that a durable actor spawned, which runs in
    its context: else its writes would join the message its parent is handling).

    A non-loopback ``url`` must use TLS with credentials (``rediss://user:pw@host``) unless
    ``allow_insecure``. Every call is a blocking call on a synchronous client (the durable
    layer makes it a `blocking` effect); close the journal when done (``close()`` or as a
    context manager: it reconnects if used again).

    >>> journal = RedisJournal("redis://127.0.0.1:6379/0", namespace="shop")
    >>> journal.journal_key("order-7")
    'shop:journal:order-7'
    >>> RedisJournal("redis://10.0.0.5:6379/0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    playbill.effects._errors.InvalidArgument: RedisJournal refuses redis://10.0.0.5: ...

    With a server::

        durable = Durable(RedisJournal(url), registry, handlers=...)
        durable.start("order", "order-7", 40)
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "playbill",
        staged: bool = True,
        allow_insecure: bool = False,
    ) -> None:
        check_flag("RedisJournal allow_insecure", allow_insecure)
        self.staged = check_flag("RedisJournal staged", staged)
        try:
            self.url = _check_url(url, allow_insecure)
        except InvalidArgument as error:  # (its message names RedisTransport)
            raise InvalidArgument(str(error).replace("RedisTransport", "RedisJournal")) from None
        self.namespace = _check_id("RedisJournal namespace", namespace)
        self.index_key = f"{self.namespace}:workflows"
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._lock = threading.Lock()
        # each workflow's (length, head) as this journal last wrote or read it: an append
        # is checked against it in its script (and chained again if another store moved it)
        self._heads: dict[str, tuple[int, str]] = {}

    def __repr__(self) -> str:
        return f"RedisJournal(namespace={self.namespace!r})"

    def __enter__(self) -> RedisJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the journal's connections (it reconnects if used again)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- keys ------------------------------------------------------------------------------

    def record_key(self, workflow_id: str) -> str:
        """The hash of ``workflow_id``'s record."""
        return f"{self.namespace}:workflow:{workflow_id}"

    def journal_key(self, workflow_id: str) -> str:
        """The list of ``workflow_id``'s entries."""
        return f"{self.namespace}:journal:{workflow_id}"

    def positions_key(self, workflow_id: str) -> str:
        """The hash of ``workflow_id``'s positions written."""
        return f"{self.namespace}:positions:{workflow_id}"

    # -- the connection --------------------------------------------------------------------

    def _redis(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                client = redis.Redis.from_url(self.url, decode_responses=True)
                self._scripts = {
                    name: client.register_script(text)
                    for name, text in (
                        ("open", _OPEN),
                        ("append", _APPEND),
                        ("update", _UPDATE),
                        ("truncate", _TRUNCATE),
                        ("copy", _COPY),
                    )
                }
                self._client = client
            return self._client

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        client = self._redis()
        return self._scripts[name](keys=keys, args=args, client=client)

    def _stage(self) -> MessageStage | None:
        """The stage of the durable actor's message this call is made for, if its transport
        is on this journal's Redis."""
        if not self.staged:
            return None
        stage = message_stage()
        if stage is None or stage.url != self.url:
            return None
        return stage

    def _fence(self, workflow_id: str) -> tuple[str, str]:
        """The lease key and value to fence a write with ('' when it runs for no actor)."""
        fence = owner_fence()
        if fence is None or fence.url != self.url:
            return self.record_key(workflow_id), ""
        return fence.lease_key, fence.value

    def _fenced(self, workflow_id: str) -> JournalConflict:
        return JournalConflict(
            f"a write to the journal of workflow {workflow_id!r} was refused: the durable "
            "actor it was made for is no longer owned by this node (its lease passed to "
            "another); the new owner runs the workflow on from the journal"
        )

    # -- reading ---------------------------------------------------------------------------

    def _load_now(self, workflow_id: str) -> Loaded | None:
        read = self._read(workflow_id)
        return read[0] if read is not None else None

    def _read(self, workflow_id: str) -> tuple[Loaded, str] | None:
        """The workflow's record and checked journal, and its head checksum."""
        with self._redis().pipeline(transaction=True) as pipe:  # (one snapshot)
            pipe.hmget(self.record_key(workflow_id), [*_RECORD_FIELDS, "length", "head"])
            pipe.lrange(self.journal_key(workflow_id), 0, -1)
            fields, rows = pipe.execute()
        if fields[0] is None:
            return None
        try:
            status = Status(fields[2])
            length = int(fields[6])
        except (TypeError, ValueError):
            raise JournalCorrupted(
                workflow_id, 0, f"its record has a bad status or length: {fields!r:.200}"
            ) from None
        record = WorkflowRecord(workflow_id, fields[0], fields[1], status, *fields[3:6])
        checked: list[tuple[int, Entry, str]] = []
        for index, raw in enumerate(rows):
            try:
                sequence, position, effect, kind, payload, kept = json.loads(raw)
                entry = Entry(position, effect, EntryKind(kind), payload)
                if not isinstance(sequence, int) or not all(
                    isinstance(text, str) for text in (position, effect, payload, kept)
                ):
                    raise ValueError(raw)
            except ValueError:
                raise JournalCorrupted(
                    workflow_id, index, f"entry {index} cannot be read: {raw!r:.80}"
                ) from None
            checked.append((sequence, entry, kept))
        entries = verify(workflow_id, length, checked)
        head = checked[-1][2] if checked else ""
        self._heads[workflow_id] = (length, head)
        return Loaded(record, entries), head

    def _part(self, stage: MessageStage, workflow_id: str) -> _Staged | None:
        """``workflow_id``'s part of ``stage`` (read from Redis the first time; the caller
        holds the stage's lock)."""
        key = self.record_key(workflow_id)
        part: _Staged | None = stage.parts.get(key)
        if part is None:
            read = self._read(workflow_id)
            if read is None:
                return None
            loaded, head = read
            part = stage.parts[key] = _Staged(self, loaded.record, loaded, head)
        return part

    def load(self, workflow_id: str) -> Loaded | None:
        _check_workflow_id(workflow_id)
        stage = self._stage()
        if stage is not None:
            with stage.lock:
                if not stage.sealed:
                    part = self._part(stage, workflow_id)
                    return part.loaded() if part is not None else None
        return self._load_now(workflow_id)

    def workflows(self, status: Status | None = None) -> tuple[WorkflowRecord, ...]:
        client = self._redis()
        members: Any = client.smembers(self.index_key)
        ids: list[str] = sorted(members)
        records: dict[str, WorkflowRecord] = {}
        if ids:
            with client.pipeline(transaction=False) as pipe:
                for workflow_id in ids:
                    pipe.hmget(self.record_key(workflow_id), list(_RECORD_FIELDS))
                rows = pipe.execute()
            for workflow_id, fields in zip(ids, rows, strict=True):
                if fields[0] is not None:
                    records[workflow_id] = WorkflowRecord(
                        workflow_id, fields[0], fields[1], Status(fields[2]), *fields[3:]
                    )
        stage = self._stage()
        if stage is not None:  # what this message staged
            with stage.lock:
                for part in stage.parts.values():
                    if isinstance(part, _Staged) and part.journal is self:
                        records[part.record.workflow_id] = part.record
        return tuple(
            record
            for _, record in sorted(records.items())
            if status is None or record.status is status
        )

    # -- writing ---------------------------------------------------------------------------

    def open(self, workflow_id: str, workflow: str, input: str) -> Loaded:
        _check_workflow_id(workflow_id)
        stage = self._stage()
        if stage is not None:
            with stage.lock:
                if not stage.sealed:
                    part = self._part(stage, workflow_id)
                    if part is None:
                        record = WorkflowRecord(workflow_id, workflow, input, Status.RUNNING)
                        part = _Staged(self, record, None, "")
                        stage.parts[self.record_key(workflow_id)] = part
                    return part.loaded()
        lease, fence = self._fence(workflow_id)
        made = self._run(
            "open",
            [lease, self.record_key(workflow_id), self.index_key],
            [fence, workflow_id, workflow, input],
        )
        if made == -2:
            raise self._fenced(workflow_id)
        loaded = self._load_now(workflow_id)
        assert loaded is not None
        return loaded

    def append(self, workflow_id: str, entry: Entry) -> None:
        self.append_all(workflow_id, (entry,))

    def append_all(self, workflow_id: str, entries: Sequence[Entry]) -> None:
        """Write ``entries`` in order, all of them or none."""
        stage = self._stage()
        if stage is not None:
            with stage.lock:
                if not stage.sealed:
                    self._stage_entries(stage, workflow_id, entries)
                    return
        lease, fence = self._fence(workflow_id)
        keys = [
            lease,
            self.record_key(workflow_id),
            self.journal_key(workflow_id),
            self.positions_key(workflow_id),
        ]
        seen = self._heads.get(workflow_id)
        if seen is None:
            found: Any = self._redis().hmget(self.record_key(workflow_id), ["length", "head"])
            seen = (int(found[0] or 0), found[1] or "")
        while True:
            length, head = seen
            pairs, new_head = _chained(workflow_id, length, head, entries)
            flat = [item for pair in pairs for item in pair]
            answer = self._run("append", keys, [fence, length, head, new_head, *flat])
            if answer[0] == 1:
                self._heads[workflow_id] = (length + len(entries), new_head)
                return
            if answer[0] == 0:  # another store moved the head: chained to it
                seen = (int(answer[1]), answer[2])
                continue
            if answer[0] == -1:
                raise self._taken(workflow_id, answer[1])
            if answer[0] == -2:
                raise self._fenced(workflow_id)
            raise self._missing(workflow_id)

    def _stage_entries(
        self, stage: MessageStage, workflow_id: str, entries: Sequence[Entry]
    ) -> None:
        part = self._part(stage, workflow_id)
        if part is None:
            raise self._missing(workflow_id)
        for entry in entries:
            if entry.position in part.positions:
                raise self._taken(workflow_id, entry.position)
        pairs, head = _chained(workflow_id, part.length, part.head, entries)
        part.pairs += pairs
        part.entries += entries
        part.positions.update(entry.position for entry in entries)
        part.length += len(entries)
        part.head = head

    def _taken(self, workflow_id: str, position: str) -> JournalConflict:
        return JournalConflict(
            f"the journal of workflow {workflow_id!r} already has an entry at position "
            f"{position} (another run of the workflow wrote it); nothing of this append was "
            "written — run one instance of a workflow at a time"
        )

    def _missing(self, workflow_id: str) -> InvalidArgument:
        return InvalidArgument(f"there is no workflow {workflow_id!r} in {self!r}")

    def update(
        self,
        workflow_id: str,
        status: Status,
        *,
        prompt: str = "",
        schema: str = "",
        position: str = "",
    ) -> None:
        stage = self._stage()
        if stage is not None:
            with stage.lock:
                if not stage.sealed:
                    part = self._part(stage, workflow_id)
                    if part is not None:
                        part.record = attrs.evolve(
                            part.record,
                            status=status,
                            prompt=prompt,
                            schema=schema,
                            position=position,
                        )
                        part.changed = True
                    return
        lease, fence = self._fence(workflow_id)
        done = self._run(
            "update",
            [lease, self.record_key(workflow_id)],
            [fence, status.value, prompt, schema, position],
        )
        if done == -2:
            raise self._fenced(workflow_id)

    def truncate(self, workflow_id: str, keep: int) -> None:
        self._heads.pop(workflow_id, None)
        self._run(
            "truncate",
            [
                self.record_key(workflow_id),
                self.journal_key(workflow_id),
                self.positions_key(workflow_id),
            ],
            [keep],
        )

    def copy(self, workflow_id: str, workflow: str, input: str, entries: Sequence[Entry]) -> None:
        _check_workflow_id(workflow_id)
        pairs, head = _chained(workflow_id, 0, "", entries)
        made = self._run(
            "copy",
            [
                self.record_key(workflow_id),
                self.journal_key(workflow_id),
                self.positions_key(workflow_id),
                self.index_key,
            ],
            [workflow_id, workflow, input, head, *(item for pair in pairs for item in pair)],
        )
        if not made:
            raise InvalidArgument(
                f"new_id {workflow_id!r} is already a workflow of {self!r}; choose another id "
                "for the fork"
            )
        self._heads[workflow_id] = (len(entries), head)
