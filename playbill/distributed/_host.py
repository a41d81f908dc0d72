"""`_Host`: one durable actor on one node. While this node holds the actor's fenced lease,
the actor runs as an ordinary local actor of the `ActorSystem` (the kernel owns its lifecycle
and supervision), and the host feeds it its stream one entry at a time — pending entries
first, then new ones — as a local ask, committing each after the handler finished."""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any

import msgpack
import redis.exceptions

from playbill.actors import MailboxPolicy, SupervisionStrategy
from playbill.actors._kernel import Phase
from playbill.distributed._effects import RedisWrite
from playbill.distributed._envelope import Envelope, Refusal, decode_envelope, encode_reply
from playbill.distributed._round_trips import Lane, one_write
from playbill.distributed._staging import HOSTING, Guard, MessageStage, Write
from playbill.effects import ActorRef, ActorStopped, InvalidArgument

if TYPE_CHECKING:
    from playbill.distributed._transport import RedisTransport
    from playbill.interpreters import ActorSystem

logger = logging.getLogger("playbill")

_FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_KEPT_DATA = 1024
_UNTRACED: AbstractContextManager[object] = nullcontext()  # (reusable: no trace to restore)


class _Outcome(enum.Enum):
    DONE = "committed, acknowledged or dead-lettered"
    RETRY = "left pending: read the pending entries again"


class _Lost(Exception):
    """This node no longer holds the actor's lease."""


class _Commit:
    """One entry's commit, queued for the committer: ``item`` is its part of a ``COMMIT``
    batch (see `_scripts.COMMIT`); ``done`` gets the script's status."""

    __slots__ = ("done", "entry", "envelope", "item")

    def __init__(
        self,
        entry: str,
        envelope: Envelope | None,
        item: tuple[Any, ...],
        done: asyncio.Future[int],
    ) -> None:
        self.entry = entry
        self.envelope = envelope
        self.item = item
        self.done = done


def _wire(value: str | bytes | int | float) -> str | bytes:
    """A staged write's argument as redis-py would send it (Lua numbers would lose digits)."""
    if isinstance(value, (str, bytes)):
        return value
    return repr(value)


class _Copy:
    """A new entry carrying a message that an earlier entry of the batch, or a commit under
    way, already handles (a sender's retried XADD): it is acknowledged only."""

    __slots__ = ("envelope",)

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope


_Decoded = tuple[Envelope, Any] | Refusal | _Copy | None  # an entry, read

_REFUSED, _DONE, _ALREADY, _WRITE_FAILED, _MOVED, _ERROR = 0, 1, 2, 3, 4, -1
_NOTHING_STAGED: tuple[list[Guard], list[Write]] = ([], [])
_COMMIT_BATCH = 256
_COMMIT_DELAY = 0.05  # seconds a first delivery's commit may wait for the rest of its batch


async def _drop(reading: asyncio.Future[Any]) -> None:
    """Cancel a read under way (redis-py closes its connection); what it read is pending."""
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)


class _Host:
    __slots__ = (
        "closing",
        "commit_ready",
        "commit_timer",
        "commits",
        "commits_queued",
        "committer",
        "committing",
        "factory",
        "fence",
        "id",
        "in_flight",
        "incarnation",
        "keys",
        "lane",
        "local",
        "mailbox",
        "outgoing",
        "owning",
        "released",
        "reread",
        "retired",
        "settled_since_read",
        "stage",
        "supervision",
        "system",
        "task",
        "transport",
        "trim_due",
        "writes",
    )

    def __init__(
        self,
        transport: RedisTransport,
        system: ActorSystem,
        id: str,
        factory: Callable[[], Any],
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
        incarnation: int,
    ) -> None:
        self.transport = transport
        self.system = system
        self.id = id
        self.factory = factory
        self.supervision = supervision
        self.mailbox = mailbox
        self.incarnation = incarnation
        key = transport.key
        self.keys = {
            name: key(name, id)
            for name in ("mbox", "lease", "epoch", "deliveries", "dead", "actor")
        }
        self.keys["seen"] = key("seen", id, "")  # + the generation: the dedup records' hash
        self.fence: str | None = None  # the lease value every write script compares
        self.owning = False
        self.local: ActorRef | None = None
        self.writes: list[RedisWrite] | None = None  # staged by the message being handled
        # its tells to durable refs, staged too: (stream, envelope, message id) each
        self.outgoing: list[tuple[str, bytes, str]] = []
        # the guarded writes of stores (the durable journal) staged by that message, if any
        self.stage: MessageStage | None = None
        self.closing = False
        self.retired = False
        self.commits = 0
        # commits are pipelined in order by the committer, while the next handlers run
        self.commits_queued: list[_Commit] = []
        self.commit_ready = asyncio.Event()
        # a first delivery's commit waits for the end of its read batch (one COMMIT call a
        # batch), at most _COMMIT_DELAY after the first waiting commit was queued: this timer
        self.commit_timer: asyncio.TimerHandle | None = None
        self.released = 0  # how many of the queued commits the committer may start
        self.committer: asyncio.Task[None] | None = None
        # a batch of commits is under way (the committer's call, or one riding on a read):
        # one at a time, so they run in order
        self.committing = False
        self.trim_due = False  # trim_every commits were done: the next commit call trims
        self.reread = False  # a commit failed: read the pending entries again
        self.in_flight: set[str] = set()  # message ids whose commits are queued, not done
        # message ids whose commits were done since the last READ was sent: READ may not
        # have seen their dedup records (its answer can be handled after theirs)
        self.settled_since_read: set[str] = set()
        self.task: asyncio.Task[Any] | None = None
        self.lane: Lane | None = None  # the read loop's connection, while this node owns

    @property
    def lease(self) -> str | None:
        return self.fence if self.owning else None

    def _script(self, name: str) -> Any:
        return self.transport._scripts[name]

    # -- the lease -----------------------------------------------------------------------------

    async def try_acquire(self) -> bool:
        transport = self.transport
        try:
            value = await self._script("ACQUIRE")(
                keys=[self.keys["lease"], self.keys["epoch"]],
                args=[transport.node_id, transport._ms(transport.lease_ttl)],
                client=transport._redis,
            )
        except _FAULTS as error:
            logger.warning(
                "node %s could not try the lease of %r: %r", transport.node_id, self.id, error
            )
            return False
        if value is None:
            return False
        self.fence = value.decode()
        self.owning = True
        logger.info(
            "node %s owns the durable actor %r (lease %s)", transport.node_id, self.id, self.fence
        )
        return True

    def lose(self, why: str) -> None:
        """Stop processing at once: the local actor stops after its current message, whose
        commit the lease check refuses."""
        if self.owning:
            logger.warning(
                "node %s lost the lease of the durable actor %r (%s); it stops processing it",
                self.transport.node_id,
                self.id,
                why,
            )
        self.owning = False
        if self.local is not None:
            self.local.stop()

    async def _renew(self) -> None:
        transport = self.transport
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while self.owning:
            await asyncio.sleep(transport.lease_ttl / 3)
            try:
                kept = await self._script("RENEW")(
                    keys=[self.keys["lease"]],
                    args=[self.fence, transport._ms(transport.lease_ttl)],
                    client=transport._redis,
                )
            except _FAULTS as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # (a cancellation the client turned into a connection error: still one)
                    raise asyncio.CancelledError("lease renewal cancelled") from error
                if loop.time() - renewed >= transport.lease_ttl:
                    self.lose(f"it could not renew the lease for lease_ttl: {error!r}")
                    return
                continue
            if not kept:
                self.lose("another node holds it, or it expired")
                return
            renewed = loop.time()

    # -- the host's life -----------------------------------------------------------------------

    async def run(self) -> None:
        while not self.closing and not self.retired:
            if not self.owning and not await self._take_turn():
                continue
            renewer = asyncio.ensure_future(self._renew())
            commits = self.commits
            try:
                await self._own()
            except _Lost:
                self.owning = False
            finally:
                renewer.cancel()
                await asyncio.gather(renewer, return_exceptions=True)
                await self.stop_local()
            await self._after_turn(self.commits - commits)

    async def _take_turn(self) -> bool:
        """Whether this node took the lease; if not, it waits a while first (a standby)."""
        if await self.try_acquire():
            return True
        await asyncio.sleep(self.transport.lease_ttl / 3)
        return False

    async def _after_turn(self, committed: int) -> None:
        """What follows an ownership that ``committed`` so many batches: nothing here (a
        cluster grain pauses after activations that committed nothing)."""

    async def stop_local(self) -> None:
        local = self.local
        if local is None:
            return
        self.local = None
        self.transport._by_local.pop(local, None)
        cell = self.system._resolve(local)
        if cell is None:
            return
        if self.transport._halted:  # as a crash: its current message is interrupted
            local.stop(interrupt=True)
            return
        local.stop()
        try:
            await asyncio.wait_for(asyncio.shield(cell.terminated()), self.transport.lease_ttl)
        except TimeoutError:
            logger.error("the local actor of durable actor %r did not stop in time", self.id)

    def _active(self) -> bool:
        return self.owning and not self.closing

    def _system_stopping(self) -> bool:
        guardian = self.system._guardian
        return (
            self.system.failure is not None or guardian is None or guardian.phase >= Phase.STOPPING
        )

    def _local_stopped(self) -> bool:
        if self.local is None:
            return True
        cell = self.system._resolve(self.local)
        return cell is None or cell.terminated().done()

    async def _own(self) -> None:
        transport = self.transport
        client = transport._redis
        assert client is not None
        mbox = self.keys["mbox"]
        await self._create_group()
        HOSTING.set(self)  # the actor's task inherits it: its stores find the message's stage
        self.local = self.system.spawn(
            self.factory,
            f"durable:{self.id}",
            supervision=self.supervision,
            mailbox=self.mailbox,
        )
        transport._by_local[self.local] = self
        await self._claim()
        self.commits_queued = []
        self.released = 0
        self.committing = False
        self.in_flight.clear()
        self.settled_since_read = set()
        self.reread = False
        self.committer = asyncio.ensure_future(self._commit_loop())
        self.lane = Lane(client)
        try:
            await self._read_loop(client, mbox)
        finally:
            lane, self.lane = self.lane, None
            await lane.close()
            if self._active() or self.closing:
                await self._drain()
            self.committer.cancel()
            await asyncio.gather(self.committer, return_exceptions=True)
            self.committer = None
            if self.commit_timer is not None:
                self.commit_timer.cancel()
                self.commit_timer = None
            for pending in self.commits_queued:  # (refused anyway: the lease is gone)
                if not pending.done.done():
                    pending.done.set_result(_REFUSED)
            self.commits_queued = []

    async def _read_loop(self, client: Any, mbox: str) -> None:
        transport = self.transport
        history = True  # this node's pending entries first
        block = max(10, transport._ms(min(transport.heartbeat, 1.0)))
        last = b"0-0"  # new entries are awaited from here (READ says where it got to)
        attempt = 0
        # after a full batch of new entries, the next READ goes out before its handlers run
        # (its entries are handled after theirs; if it is dropped, they are pending: read again)
        prefetch: asyncio.Future[tuple[bytes, list[tuple[str, Any, int]]]] | None = None
        try:
            while True:
                if self.closing:
                    return
                if not self.owning:
                    raise _Lost
                if self._local_stopped():
                    await self._drain()
                    if not self._system_stopping():  # (a system's failure stops it: not for good)
                        await self._retire()
                    return
                if self.reread:
                    self.reread = False
                    history = True
                if history and prefetch is not None:
                    await _drop(prefetch)
                    prefetch = None
                if history:  # (the commits under way settle first: their entries are pending)
                    await self._drain()
                    if not self.owning:
                        raise _Lost
                try:
                    if history:
                        found: Any = await client.xreadgroup(
                            "playbill", transport.node_id, {mbox: "0"}, count=transport.read_count
                        )
                        entries: list[tuple[str, Any, int]] = [
                            (entry.decode(), fields, -1)
                            for _, batch in found or ()
                            for entry, fields in batch
                        ]
                    elif prefetch is not None:
                        reading, prefetch = prefetch, None
                        last, entries = await reading
                    else:  # (it carries the commits released at the end of the batch)
                        last, entries = await self._read_new(client, last, block, carry=True)
                except _FAULTS as error:
                    attempt += 1
                    history = True  # what was read but not received is pending now
                    await transport._pause(f"read of {mbox}", error, attempt)
                    continue
                except redis.exceptions.ResponseError as error:
                    # the stream was deleted (or Redis lost it): start it again, never die
                    attempt += 1
                    logger.error(
                        "reading the mailbox %s failed (%s); it is made again", mbox, error
                    )
                    await self._create_group()
                    await transport._pause(f"read of {mbox}", error, attempt)
                    history = True
                    continue
                attempt = 0
                if not entries:
                    history = False
                    continue
                try:
                    batch: list[tuple[str, Any, _Decoded]]
                    if history:
                        batch = [(entry, fields, None) for entry, fields, _ in entries]
                    else:
                        batch = await self._fresh(entries)
                        if len(entries) >= transport.read_count:  # (more are likely waiting)
                            prefetch = asyncio.ensure_future(self._read_new(client, last, block))
                    try:
                        for entry, fields, decoded in batch:
                            if not self._active():
                                break
                            outcome = await self._process(entry, fields, decoded, fresh=not history)
                            if outcome is _Outcome.RETRY:
                                history = True
                                break
                    finally:
                        if self.commits_queued:  # (the batch's commits go in one call)
                            self._kick()
                except (_Lost, asyncio.CancelledError):
                    raise
                except Exception as error:  # (a script refused, say): logged, retried
                    attempt += 1
                    logger.exception("durable actor %r could not handle its entries", self.id)
                    await transport._pause(f"entries of {mbox}", error, attempt)
                    history = True
        finally:
            if prefetch is not None:
                await _drop(prefetch)

    async def _create_group(self) -> None:
        transport = self.transport
        client = transport._redis
        assert client is not None
        try:
            await transport._retrying(
                "create the consumer group",
                lambda: client.xgroup_create(self.keys["mbox"], "playbill", id="0", mkstream=True),
            )
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _claim(self) -> None:
        """Take over the entries the previous owner left pending (only now that this node
        holds the lease anew, never on a timer)."""
        transport = self.transport
        client = transport._redis
        assert client is not None
        cursor: Any = "0-0"
        while True:
            answer: Any = await transport._retrying(
                "claim",
                partial(
                    client.xautoclaim,
                    self.keys["mbox"],
                    "playbill",
                    transport.node_id,
                    min_idle_time=0,
                    start_id=cursor,
                    count=transport.read_count,
                ),
            )
            cursor = answer[0]
            if cursor in (b"0-0", "0-0"):
                return

    async def _retire(self) -> None:
        """The local actor stopped for good (not by a lost lease or shutdown): the durable
        actor is stopped permanently; spawning it again makes a new incarnation."""
        transport = self.transport
        await transport._retrying(
            "retire",
            lambda: self._script("RETIRE")(
                keys=[self.keys["lease"], self.keys["actor"]],
                args=[self.fence],
                client=transport._redis,
            ),
        )
        self.owning = False
        self.retired = True
        if transport._hosts.get(self.id) is self:  # spawning it again makes a new incarnation
            del transport._hosts[self.id]
        logger.info("the durable actor %r stopped permanently", self.id)

    # -- one entry -----------------------------------------------------------------------------

    # -- one entry -----------------------------------------------------------------------------

    async def _read_new(
        self, client: Any, last: bytes, block: int, *, carry: bool = False
    ) -> tuple[bytes, list[tuple[str, dict[bytes, Any], int]]]:
        """The next new entries (and the id to wait from next), each with READ's flag: in
        one round trip, a blocking ``XREAD`` from ``last`` and, behind it in the pipeline,
        the ``READ`` script (which runs as soon as the wait ends). With ``carry`` (the read
        that follows a batch's handlers), the commits released meanwhile go first in the
        same pipeline (and a due ``TRIM``): one write for the batch's commit and the next
        read, the reply of an ask on its way before the read waits. Their statuses come
        back with the read, so they are settled only then."""
        transport = self.transport
        script = self._script("READ")
        keys = self.keys
        mbox = keys["mbox"]
        args = (
            keys["lease"],
            mbox,
            keys["seen"],
            self.fence,
            "playbill",
            transport._ms(transport.dedup_ttl),
            transport.node_id,
            transport.read_count,
        )
        self.settled_since_read = set()  # (READ sees the dedup records of those done before)
        batch = self._take_released() if carry else []
        while True:
            trim = self._take_trim()
            commands: list[tuple[Any, ...]] = []
            if batch:
                commands.append(("EVALSHA", *self._commit_command(batch)))
            if trim:
                commands.append(("EVALSHA", *self._trim_command()))
            early = len(commands)
            commands.append(("XREAD", "COUNT", 1, "BLOCK", block, "STREAMS", mbox, last))
            commands.append(("EVALSHA", script.sha, 3, *args))
            settled = False

            async def settle(answers: list[Any], trim: bool = trim) -> None:
                # (Redis ran them before the read began to wait: settled now, not after it)
                nonlocal batch, settled
                settled = True
                if trim:
                    await self._trimmed(answers[-1])
                if batch:
                    done, batch = batch, []
                    await self._settle_ride(done, answers[0])

            try:
                answers = await one_write(
                    client, commands, early=early, on_early=settle, lane=self.lane
                )
            except BaseException:
                if not settled:  # (not known to be done: run again, harmless)
                    self.trim_due = self.trim_due or trim
                    if batch:
                        self._put_back(batch)
                raise
            answer = answers[-1]
            if isinstance(answer, redis.exceptions.NoScriptError):
                # (Redis restarted and forgot the script: load it and read again)
                script.sha = await client.script_load(script.script)
                continue
            for found in answers[-2:]:
                if isinstance(found, Exception):
                    raise found
            break
        if answer[0] == -2:
            self.lose("the lease check of a delivery failed")
            raise _Lost
        if answer[0] == 0:
            return answer[1], []
        return answer[1], [
            (entry.decode(), dict(zip(fields[::2], fields[1::2], strict=True)), flag)
            for (entry, fields), flag in zip(answer[2], answer[3], strict=True)
        ]

    async def _fresh(
        self, entries: list[tuple[str, dict[bytes, Any], int]]
    ) -> list[tuple[str, Any, _Decoded]]:
        """New entries (never delivered before), decoded; those already committed (a
        sender's retried XADD) are acknowledged only. READ's flags say which are, for the
        entries whose ``i`` field is their envelope's id; the others (no such field:
        another writer, or a hostile one) are checked by ``DEDUP``, one more round trip,
        which acknowledges their duplicates and leaves them out."""
        transport = self.transport
        decoded: list[tuple[str, Any, _Decoded]] = []
        seen: set[str] = set()  # duplicates READ found: acknowledged by a commit
        checked: list[tuple[str, str]] = []  # (entry, message id) for DEDUP
        for entry, fields, flag in entries:
            read = self._decode(fields.get(b"e"))
            decoded.append((entry, fields, read))
            if isinstance(read, tuple):
                message_id = read[0].id
                if flag >= 0 and fields.get(b"i") == message_id.encode():
                    if flag == 1:
                        seen.add(entry)
                else:
                    checked.append((entry, message_id))
        duplicates: set[str] = set()
        if checked:
            flags: Any = await transport._retrying(
                "dedup",
                lambda: self._script("DEDUP")(
                    keys=[self.keys["lease"], self.keys["mbox"], self.keys["seen"]],
                    args=[
                        self.fence,
                        "playbill",
                        transport._ms(transport.dedup_ttl),
                        *(entry for entry, _ in checked),
                        *(message_id for _, message_id in checked),
                    ],
                    client=transport._redis,
                ),
            )
            if flags and flags[0] == -2:
                self.lose("the lease check of a delivery failed")
                raise _Lost
            duplicates = {
                entry for (entry, _), flag in zip(checked, flags, strict=True) if flag == 1
            }
        # a copy of a message already committed (READ's flag), or that this batch or a
        # queued commit already handles: acknowledged only, by a commit queued after the
        # original's
        taken = self.in_flight | self.settled_since_read
        kept: list[tuple[str, Any, _Decoded]] = []
        for item in decoded:
            entry, _, found = item
            if entry in duplicates:
                continue
            if isinstance(found, tuple):
                if entry in seen or found[0].id in taken:
                    kept.append((entry, None, _Copy(found[0])))
                    continue
                taken.add(found[0].id)
            kept.append(item)
        return kept

    async def _process(
        self,
        entry: str,
        fields: dict[bytes, Any] | None,
        decoded: _Decoded = None,
        *,
        fresh: bool = False,
    ) -> _Outcome:
        """Handle one entry. A fresh one (first delivery, dedup already checked) counts as
        delivery 1 and its commit is not awaited; a redelivered one is checked and counted
        (BEGIN) before its handler runs, and its commit is awaited."""
        transport = self.transport
        wait = not fresh
        if isinstance(decoded, _Copy):
            await self._commit(entry, decoded.envelope, b"", [], wait=wait)
            return _Outcome.DONE
        if not fields:  # (deleted from the stream while pending)
            await self._commit(entry, None, b"", [], wait=wait)
            return _Outcome.DONE
        raw = fields.get(b"e")
        if decoded is None:
            decoded = self._decode(raw)
        if isinstance(decoded, Refusal):
            await self._dead(entry, decoded.reason, raw, decoded.envelope, wait=wait)
            return _Outcome.DONE
        envelope, message = decoded
        prefix = transport.key("reply", "")
        if envelope.reply_to is not None and not envelope.reply_to.startswith(prefix):
            await self._dead(
                entry,
                f"reply_to {envelope.reply_to!r} is not a reply stream of this namespace",
                raw,
                None,
                wait=wait,
            )
            return _Outcome.DONE
        if envelope.incarnation is not None and envelope.incarnation != self.incarnation:
            await self._dead(
                entry,
                f"sent to incarnation {envelope.incarnation}; the actor is incarnation "
                f"{self.incarnation}",
                raw,
                envelope,
                wait=wait,
            )
            return _Outcome.DONE
        count = 1 if fresh else await self._begin(entry, envelope)
        if count == -2:
            self.lose("the lease check of a delivery failed")
            raise _Lost
        if count == -1:
            return _Outcome.DONE  # a duplicate: acknowledged only
        if count > transport.max_deliveries:
            await self._dead(
                entry,
                f"delivered {count - 1} times without a commit (max_deliveries="
                f"{transport.max_deliveries}): its node crashed or lost the lease mid-handler",
                raw,
                envelope,
                wait=wait,
            )
            return _Outcome.DONE
        local = self.local
        assert local is not None
        self.writes = []
        self.outgoing = []
        tracing = transport.tracing
        scope: AbstractContextManager[object] = (
            _UNTRACED
            if tracing is None or envelope.trace is None
            else tracing.handling(envelope.trace, self.id, envelope.type)
        )
        try:
            with scope:  # the sender's trace context, when its envelope carries one
                result = await local.ask(message, math.inf)
        except Exception as error:
            if not self.owning:
                raise _Lost from None
            if isinstance(error, ActorStopped) or self._local_stopped():
                return _Outcome.RETRY  # the actor stopped: the loop retires it
            if fresh:  # (a first delivery is counted when it fails)
                count = await self._count(entry)
            if count >= transport.max_deliveries:
                await self._dead(
                    entry,
                    f"failed {count} deliveries (max_deliveries={transport.max_deliveries}); "
                    f"last error: {type(error).__name__}: {error}",
                    raw,
                    envelope,
                    error=(type(error).__name__, str(error)),
                    wait=wait,
                    counted=True,
                )
                return _Outcome.DONE
            logger.warning(
                "durable actor %r failed entry %s (delivery %d of %d): %r; it is redelivered",
                self.id,
                entry,
                count,
                transport.max_deliveries,
                error,
            )
            return _Outcome.RETRY
        finally:
            writes, self.writes = self.writes, None
            outgoing, self.outgoing = self.outgoing, []
            stage, self.stage = self.stage, None
        reply = b""
        if envelope.reply_to is not None and envelope.corr is not None:
            try:
                reply = encode_reply(envelope.corr, transport.registry.pack(result), None)
            except InvalidArgument as error:
                reply = encode_reply(envelope.corr, None, ("InvalidArgument", str(error)))
        staged = stage.commands() if stage is not None else None
        await self._commit(
            entry,
            envelope,
            reply,
            writes or [],
            outgoing=outgoing,
            staged=staged,
            # (a journal written: the next message reads it, so it is committed first)
            wait=wait or bool(staged and staged[1]),
        )
        return _Outcome.DONE

    def _decode(self, raw: object) -> tuple[Envelope, Any] | Refusal:
        transport = self.transport
        with transport.registry.binding(transport):
            return decode_envelope(raw, transport.registry, transport.max_payload)

    async def _begin(self, entry: str, envelope: Envelope) -> int:
        transport = self.transport
        count: int = await transport._retrying(
            "begin",
            lambda: self._script("BEGIN")(
                keys=[
                    self.keys["lease"],
                    self.keys["mbox"],
                    self.keys["seen"],
                    self.keys["deliveries"],
                ],
                args=[
                    self.fence,
                    "playbill",
                    entry,
                    envelope.id,
                    transport._ms(transport.dedup_ttl),
                ],
                client=transport._redis,
            ),
        )
        return count

    async def _count(self, entry: str) -> int:
        transport = self.transport
        client = transport._redis
        assert client is not None
        count: int = await transport._retrying(
            "count", lambda: client.hincrby(self.keys["deliveries"], entry, 1)
        )
        return count

    async def _dead(
        self,
        entry: str,
        reason: str,
        raw: object,
        envelope: Envelope | None,
        error: tuple[str, str] | None = None,
        *,
        wait: bool = True,
        counted: bool = False,
    ) -> None:
        data = raw if isinstance(raw, bytes) else b""
        if len(data) > self.transport.max_payload:
            data = data[:_KEPT_DATA]
        logger.warning("durable actor %r dead-letters entry %s: %s", self.id, entry, reason)
        reply = b""
        if envelope is not None and envelope.reply_to is not None and envelope.corr is not None:
            reply = encode_reply(envelope.corr, None, error or ("DeadLettered", reason))
        await self._commit(
            entry, envelope, reply, [], dead=(reason, data), wait=wait, counted=counted
        )

    async def _commit(
        self,
        entry: str,
        envelope: Envelope | None,
        reply: bytes,
        writes: list[RedisWrite],
        dead: tuple[str, bytes] | None = None,
        outgoing: list[tuple[str, bytes, str]] | None = None,
        *,
        wait: bool = True,
        counted: bool = False,
        staged: tuple[list[Guard], list[Write]] | None = None,
    ) -> None:
        """Queue the entry's commit for the committer; with ``wait``, until it is done.
        ``wait`` is false for a first delivery, whose delivery count exists only if
        ``counted``."""
        transport = self.transport
        item = (
            entry,
            envelope.id if envelope is not None else "",
            envelope.reply_to if envelope is not None and reply and envelope.reply_to else "",
            reply,
            dead[0] if dead else "",
            dead[1] if dead else b"",
            envelope.id if envelope is not None else "",
            [
                (write.command, transport.data_key(write.key), *map(_wire, write.args))
                for write in writes
            ],
            outgoing or [],
            1 if wait or counted else 0,  # (a first delivery has a count only if it failed)
            *(staged or _NOTHING_STAGED),
        )
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        queue = self.commits_queued
        queue.append(_Commit(entry, envelope, item, done))
        if envelope is not None:
            self.in_flight.add(envelope.id)
        if wait or reply or len(queue) >= _COMMIT_BATCH:  # (an asker waits for its reply)
            self._kick()
        elif self.commit_timer is None:
            # (on a grid of a quarter of the delay: the node's actors whose commits began to
            # wait in the same quarter are released in one loop turn, and their commits go
            # in one write; none waits longer than _COMMIT_DELAY)
            step = _COMMIT_DELAY / 4
            due = math.floor((loop.time() + _COMMIT_DELAY) / step) * step
            self.commit_timer = loop.call_at(due, self._kick)
        if wait:
            status = await asyncio.shield(done)
            if status == _REFUSED:
                raise _Lost

    def _kick(self) -> None:
        """Start the queued commits now."""
        if self.commit_timer is not None:
            self.commit_timer.cancel()
            self.commit_timer = None
        self.released = len(self.commits_queued)
        self.commit_ready.set()

    async def _drain(self) -> None:
        """Wait until every queued commit is done (bounded by the lease: past it they would
        be refused anyway)."""
        self._kick()
        pending = [commit.done for commit in self.commits_queued if not commit.done.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.transport.lease_ttl)

    async def _commit_loop(self) -> None:
        """Run the queued commits in order, pipelined: while one batch is under way the
        handlers go on, and the next batch is what was released meanwhile (`_kick`: at the
        end of a read batch, for a reply or an awaited commit, or after _COMMIT_DELAY). A
        batch released at the end of a read batch usually rides on the next read instead
        (`_read_new`); one batch is under way at a time, whoever sends it."""
        transport = self.transport
        while True:
            await self.commit_ready.wait()
            self.commit_ready.clear()
            while batch := self._take_released():
                try:
                    results = await transport._retrying("commit", partial(self._run_commits, batch))
                except BaseException:
                    self._put_back(batch)
                    raise
                await self._settle_batch(batch, results)

    def _take_released(self) -> list[_Commit]:
        """The next batch of released commits, now under way (none if a batch is)."""
        if self.committing or self.released <= 0 or not self.commits_queued:
            return []
        self.committing = True
        batch = self.commits_queued[: min(self.released, _COMMIT_BATCH)]
        every = self.transport.trim_every
        if (self.commits + len(batch)) // every > self.commits // every:
            self.trim_due = True  # (TRIM goes right behind this COMMIT, in its round trip)
        self.commits += len(batch)
        return batch

    def _put_back(self, batch: list[_Commit]) -> None:
        """The batch under way did not run, or its outcome is unknown: it stays at the
        head of the queue, and the committer runs it (again: an entry already committed
        answers "already committed")."""
        self.committing = False
        self.commit_ready.set()

    async def _settle_ride(self, batch: list[_Commit], answer: Any) -> None:
        """Settle a batch whose ``COMMIT`` rode on a read, from its answer."""
        if isinstance(answer, Exception):
            # (the script unknown after a restart, or a script error: run as the committer
            # does, which loads it, or runs the batch one entry a call)
            try:
                results = await self.transport._retrying(
                    "commit", partial(self._run_commits, batch)
                )
            except BaseException:
                self._put_back(batch)
                raise
        else:
            results = self._statuses(answer, batch)
        await self._settle_batch(batch, results)

    async def _settle_batch(self, batch: list[_Commit], results: list[Any]) -> None:
        del self.commits_queued[: len(batch)]
        self.released = max(0, self.released - len(batch))
        self.committing = False
        if self.released > 0:
            self.commit_ready.set()
        for pending, result in zip(batch, results, strict=True):
            await self._settle(pending, result)

    def _take_trim(self) -> bool:
        due, self.trim_due = self.trim_due, False
        return due

    async def _trimmed(self, result: Any) -> None:
        """A ``TRIM``'s answer (it went in a commit's pipeline)."""
        if isinstance(result, redis.exceptions.NoScriptError):
            # (Redis restarted and forgot the script: load it; the next commit trims)
            script = self._script("TRIM")
            client = self.transport._redis
            assert client is not None
            script.sha = await client.script_load(script.script)
            self.trim_due = True
        elif isinstance(result, Exception):
            logger.warning("trim of %s failed: %r", self.keys["mbox"], result)

    def _trim_command(self) -> tuple[Any, ...]:
        """``EVALSHA`` arguments of ``TRIM`` (a due trim goes in a commit's pipeline)."""
        return self._script("TRIM").sha, 1, self.keys["mbox"], "playbill"

    async def _run_commits(self, batch: list[_Commit]) -> list[Any]:
        """One ``COMMIT`` call for the batch: a status per entry, in order. A script error
        (a reply stream of the wrong type, say) ends the call where it happened; the batch is
        then run again one entry a call, so only the entry at fault is left pending (those
        already committed answer "already committed")."""
        try:
            return await self._call_commit(batch)
        except redis.exceptions.ResponseError as error:
            if len(batch) == 1:
                return [error]
        results: list[Any] = []
        for pending in batch:
            try:
                results += await self._call_commit([pending])
            except redis.exceptions.ResponseError as error:
                results.append(error)
        return results

    def _commit_command(self, batch: list[_Commit]) -> tuple[Any, ...]:
        """``EVALSHA`` arguments of ``COMMIT`` for the batch."""
        transport = self.transport
        keys = self.keys
        assert self.fence is not None
        return (
            self._script("COMMIT").sha,
            5,
            keys["lease"],
            keys["mbox"],
            keys["deliveries"],
            keys["dead"],
            keys["seen"],
            self.fence,
            "playbill",
            transport._ms(transport.dedup_ttl),
            # (raw strings only: Redis's cmsgpack refuses msgpack's bin and str8 types)
            msgpack.packb([pending.item for pending in batch], use_bin_type=False),
        )

    @staticmethod
    def _statuses(flat: Any, batch: list[_Commit]) -> list[Any]:
        if len(flat) == 1:  # refused: the lease is not this node's
            return [(_REFUSED, b"")] * len(batch)
        return list(zip(flat[::2], flat[1::2], strict=True))

    async def _call_commit(self, batch: list[_Commit]) -> list[Any]:
        """One ``COMMIT`` call (and a due ``TRIM`` behind it), in the write of the node's
        other actors' commits sent in this loop turn (`WriteGroup`)."""
        transport = self.transport
        client = transport._redis
        assert client is not None
        script = self._script("COMMIT")
        while True:
            trim = self._take_trim()
            commands: list[tuple[Any, ...]] = [("EVALSHA", *self._commit_command(batch))]
            if trim:
                commands.append(("EVALSHA", *self._trim_command()))
            try:
                answers = await transport._commit_writes.send(client, commands)
            except BaseException:
                self.trim_due = self.trim_due or trim
                raise
            if trim:
                await self._trimmed(answers[1])
            flat = answers[0]
            if isinstance(flat, redis.exceptions.NoScriptError):
                # (Redis restarted and forgot the script: load it and run the batch again)
                script.sha = await client.script_load(script.script)
                continue
            if isinstance(flat, Exception):
                raise flat
            break
        return self._statuses(flat, batch)

    async def _settle(self, pending: _Commit, result: Any) -> None:
        transport = self.transport
        if pending.envelope is not None:
            self.in_flight.discard(pending.envelope.id)
            self.settled_since_read.add(pending.envelope.id)
        if isinstance(result, Exception):
            logger.error(
                "durable actor %r: the commit of entry %s failed: %r; it stays pending and is "
                "redelivered",
                self.id,
                pending.entry,
                result,
            )
            self.reread = True
            pending.done.set_result(_ERROR)
            return
        status, error = result
        if status == _MOVED:  # a guard of its staged writes failed: left pending
            logger.warning(
                "durable actor %r: entry %s is redelivered: %s",
                self.id,
                pending.entry,
                error.decode(errors="replace"),
            )
            self.reread = True
            pending.done.set_result(_ERROR)
            return
        if status == _REFUSED:
            self.lose("its commit was refused by the lease check")
        elif status == _WRITE_FAILED:  # acked and dead-lettered
            reason = error.decode(errors="replace")
            logger.error(
                "durable actor %r: %s; the entry %s is dead-lettered",
                self.id,
                reason,
                pending.entry,
            )
            envelope = pending.envelope
            if envelope is not None and envelope.reply_to and envelope.corr:
                client = transport._redis
                assert client is not None
                stream = envelope.reply_to
                body = encode_reply(envelope.corr, None, ("StagedWriteFailed", reason))
                await transport._retrying("error reply", lambda: client.xadd(stream, {b"r": body}))
        pending.done.set_result(status)
