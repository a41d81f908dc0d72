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
from functools import partial
from typing import TYPE_CHECKING, Any

import redis.exceptions

from playbill.actors import MailboxPolicy, SupervisionStrategy
from playbill.distributed._effects import RedisWrite
from playbill.distributed._envelope import Envelope, Refusal, decode_envelope, encode_reply
from playbill.effects import ActorRef, ActorStopped, InvalidArgument

if TYPE_CHECKING:
    from playbill.distributed._transport import RedisTransport
    from playbill.interpreters import ActorSystem

logger = logging.getLogger("playbill")

_FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_KEPT_DATA = 1024


class _Outcome(enum.Enum):
    DONE = "committed, acknowledged or dead-lettered"
    RETRY = "left pending: read the pending entries again"


class _Lost(Exception):
    """This node no longer holds the actor's lease."""


class _Host:
    __slots__ = (
        "closing",
        "commits",
        "decoded",
        "factory",
        "fence",
        "id",
        "incarnation",
        "keys",
        "local",
        "mailbox",
        "next_entry",
        "outgoing",
        "owning",
        "prefetched",
        "retired",
        "supervision",
        "system",
        "task",
        "transport",
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
        self.fence: str | None = None  # the lease value every write script compares
        self.owning = False
        self.local: ActorRef | None = None
        self.writes: list[RedisWrite] | None = None  # staged by the message being handled
        self.outgoing: list[tuple[str, bytes]] = []  # its tells to durable refs, staged too
        self.closing = False
        self.retired = False
        self.commits = 0
        # one round trip per entry: a commit also begins the next entry of the batch
        self.next_entry: tuple[str, Any] | None = None
        self.prefetched: dict[str, int] = {}  # entry id -> what BEGIN gave for it
        self.decoded: dict[str, tuple[Envelope, Any] | Refusal] = {}
        self.task: asyncio.Task[Any] | None = None

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
        transport = self.transport
        while not self.closing and not self.retired:
            if not self.owning and not await self.try_acquire():
                await asyncio.sleep(transport.lease_ttl / 3)  # a standby
                continue
            renewer = asyncio.ensure_future(self._renew())
            try:
                await self._own()
            except _Lost:
                self.owning = False
            finally:
                renewer.cancel()
                await asyncio.gather(renewer, return_exceptions=True)
                await self.stop_local()

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
        self.local = self.system.spawn(
            self.factory,
            f"durable:{self.id}",
            supervision=self.supervision,
            mailbox=self.mailbox,
        )
        transport._by_local[self.local] = self
        await self._claim()
        history = True  # this node's pending entries first
        block = max(10, transport._ms(min(transport.heartbeat, 1.0)))
        attempt = 0
        while True:
            if self.closing:
                return
            if not self.owning:
                raise _Lost
            if self._local_stopped():
                await self._retire()
                return
            try:
                found: Any = await client.xreadgroup(
                    "playbill",
                    transport.node_id,
                    {mbox: "0" if history else ">"},
                    count=transport.read_count,
                    block=None if history else block,
                )
            except _FAULTS as error:
                attempt += 1
                history = True  # what was read but not received is pending now
                await transport._pause(f"read of {mbox}", error, attempt)
                continue
            except redis.exceptions.ResponseError as error:
                # the stream was deleted (or Redis lost it): start it again, never die
                attempt += 1
                logger.error("reading the mailbox %s failed (%s); it is made again", mbox, error)
                await self._create_group()
                await transport._pause(f"read of {mbox}", error, attempt)
                history = True
                continue
            attempt = 0
            entries = [entry for _, batch in found or () for entry in batch]
            if history and not entries:
                history = False
                continue
            self.prefetched.clear()
            self.decoded.clear()
            for index, (entry, fields) in enumerate(entries):
                if not self._active():
                    break
                following = entries[index + 1] if index + 1 < len(entries) else None
                self.next_entry = (
                    (following[0].decode(), following[1]) if following is not None else None
                )
                try:
                    outcome = await self._process(entry.decode(), fields)
                except (_Lost, asyncio.CancelledError):
                    raise
                except Exception as error:  # (a script refused, say): logged, retried
                    attempt += 1
                    logger.exception(
                        "durable actor %r: entry %s could not be handled", self.id, entry
                    )
                    await transport._pause(f"entry {entry} of {mbox}", error, attempt)
                    outcome = _Outcome.RETRY
                if outcome is _Outcome.RETRY:
                    history = True
                    break

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

    async def _process(self, entry: str, fields: dict[bytes, Any] | None) -> _Outcome:
        transport = self.transport
        if not fields:  # (deleted from the stream while pending)
            await self._commit(entry, None, b"", [])
            return _Outcome.DONE
        raw = fields.get(b"e")
        decoded = self.decoded.pop(entry, None) or self._decode(raw)
        if isinstance(decoded, Refusal):
            await self._dead(entry, decoded.reason, raw, decoded.envelope)
            return _Outcome.DONE
        envelope, message = decoded
        prefix = transport.key("reply", "")
        if envelope.reply_to is not None and not envelope.reply_to.startswith(prefix):
            await self._dead(
                entry,
                f"reply_to {envelope.reply_to!r} is not a reply stream of this namespace",
                raw,
                None,
            )
            return _Outcome.DONE
        if envelope.incarnation is not None and envelope.incarnation != self.incarnation:
            await self._dead(
                entry,
                f"sent to incarnation {envelope.incarnation}; the actor is incarnation "
                f"{self.incarnation}",
                raw,
                envelope,
            )
            return _Outcome.DONE
        count = self.prefetched.pop(entry, None)
        if count is None:
            count = await self._begin(entry, envelope)
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
            )
            return _Outcome.DONE
        local = self.local
        assert local is not None
        self.writes = []
        self.outgoing = []
        try:
            result = await local.ask(message, math.inf)
        except Exception as error:
            if not self.owning:
                raise _Lost from None
            if isinstance(error, ActorStopped) or self._local_stopped():
                return _Outcome.RETRY  # the actor stopped: the loop retires it
            if count >= transport.max_deliveries:
                await self._dead(
                    entry,
                    f"failed {count} deliveries (max_deliveries={transport.max_deliveries}); "
                    f"last error: {type(error).__name__}: {error}",
                    raw,
                    envelope,
                    error=(type(error).__name__, str(error)),
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
        reply = b""
        if envelope.reply_to is not None and envelope.corr is not None:
            try:
                reply = encode_reply(envelope.corr, transport.registry.pack(result), None)
            except InvalidArgument as error:
                reply = encode_reply(envelope.corr, None, ("InvalidArgument", str(error)))
        await self._commit(entry, envelope, reply, writes or [], outgoing=outgoing)
        return _Outcome.DONE

    def _decode(self, raw: object) -> tuple[Envelope, Any] | Refusal:
        transport = self.transport
        return decode_envelope(raw, transport.registry, transport.max_payload)

    async def _begin(self, entry: str, envelope: Envelope) -> int:
        transport = self.transport
        count: int = await transport._retrying(
            "begin",
            lambda: self._script("BEGIN")(
                keys=[
                    self.keys["lease"],
                    self.keys["mbox"],
                    self._seen(envelope.id),
                    self.keys["deliveries"],
                ],
                args=[self.fence, "playbill", entry, "1"],
                client=transport._redis,
            ),
        )
        return count

    def _peek(self) -> tuple[str, str] | None:
        """The next entry of the batch and its message id, when it is one to begin."""
        following, self.next_entry = self.next_entry, None
        if following is None or not following[1]:
            return None
        entry, fields = following
        decoded = self._decode(fields.get(b"e"))
        self.decoded[entry] = decoded
        if isinstance(decoded, Refusal):
            return None
        return entry, decoded[0].id

    def _seen(self, message_id: str) -> str:
        return self.transport.key("seen", self.id, message_id)

    async def _dead(
        self,
        entry: str,
        reason: str,
        raw: object,
        envelope: Envelope | None,
        error: tuple[str, str] | None = None,
    ) -> None:
        data = raw if isinstance(raw, bytes) else b""
        if len(data) > self.transport.max_payload:
            data = data[:_KEPT_DATA]
        logger.warning("durable actor %r dead-letters entry %s: %s", self.id, entry, reason)
        reply = b""
        if envelope is not None and envelope.reply_to is not None and envelope.corr is not None:
            reply = encode_reply(envelope.corr, None, error or ("DeadLettered", reason))
        await self._commit(entry, envelope, reply, [], dead=(reason, data))

    async def _commit(
        self,
        entry: str,
        envelope: Envelope | None,
        reply: bytes,
        writes: list[RedisWrite],
        dead: tuple[str, bytes] | None = None,
        outgoing: list[tuple[str, bytes]] | None = None,
    ) -> None:
        outgoing = outgoing or []
        transport = self.transport
        following = self._peek()
        reply_to = envelope.reply_to if envelope is not None and reply else None
        keys = [
            self.keys["lease"],
            self.keys["mbox"],
            self._seen(envelope.id) if envelope is not None else self.keys["mbox"],
            self.keys["deliveries"],
            reply_to or self.keys["mbox"],
            self.keys["dead"],
            *(transport.data_key(write.key) for write in writes),
            *(stream for stream, _ in outgoing),
            self._seen(following[1]) if following is not None else self.keys["mbox"],
        ]
        args: list[Any] = [
            self.fence,
            "playbill",
            entry,
            "1" if envelope is not None else "0",
            transport._ms(transport.dedup_ttl),
            reply,
            dead[0] if dead else "",
            dead[1] if dead else b"",
            envelope.id if envelope is not None else "",
            len(writes),
        ]
        for write in writes:
            args += [write.command, len(write.args), *write.args]
        args += [len(outgoing), *(envelope for _, envelope in outgoing)]
        args += [following[0], "1"] if following is not None else ["", "0"]
        result: Any = await transport._retrying(
            "commit",
            lambda: self._script("COMMIT")(keys=keys, args=args, client=transport._redis),
        )
        status, error, next_count = result
        if status == 0:
            self.lose("its commit was refused by the lease check")
            raise _Lost
        if following is not None and next_count != -3:
            self.prefetched[following[0]] = next_count
        if status == 3:  # a staged write failed: acked and dead-lettered
            reason = error.decode(errors="replace")
            logger.error(
                "durable actor %r: %s; the entry %s is dead-lettered", self.id, reason, entry
            )
            if envelope is not None and envelope.reply_to and envelope.corr:
                client = transport._redis
                assert client is not None
                await client.xadd(
                    envelope.reply_to,
                    {b"r": encode_reply(envelope.corr, None, ("StagedWriteFailed", reason))},
                )
        self.commits += 1
        if self.commits % transport.trim_every == 0:
            try:
                await self._script("TRIM")(
                    keys=[self.keys["mbox"]], args=["playbill"], client=transport._redis
                )
            except _FAULTS as error:
                logger.warning("trim of %s failed: %r", self.keys["mbox"], error)
