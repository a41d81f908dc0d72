"""`RedisTransport`: durable actors on Redis Streams, one fenced owner each, and refs and
asks across processes. The hosted actor is an ordinary local actor of the `ActorSystem`
(its lifecycle and supervision are the kernel's); the node is its mailbox source and sink."""

from __future__ import annotations

import asyncio
import collections
import functools
import ipaddress
import itertools
import logging
import math
import random as _random
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, final
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from attrs import frozen

from playbill.actors import (
    NEVER,
    AfterIdle,
    Deactivate,
    DeadLetterReason,
    Grain,
    GrainStore,
    MailboxPolicy,
    StopPolicy,
    SupervisionStrategy,
)
from playbill.actors._spawning import actor_label
from playbill.actors._stop_policies import Never
from playbill.distributed import _scripts
from playbill.distributed._effects import DurableAsk, DurableTell, RedisWrite
from playbill.distributed._envelope import Envelope, decode_reply
from playbill.distributed._errors import NodeDown, RemoteError
from playbill.distributed._ref import DurableRef
from playbill.distributed._registry import MessageRegistry, UnknownMessageType, default_registry
from playbill.distributed._round_trips import Lane, WriteGroup, one_write, stream_entries
from playbill.distributed._tracing import TraceCarrier
from playbill.effects import ActorRef, AskTimeout, InvalidArgument, PlaybillError
from playbill.effects._checks import check_count, check_flag, check_seconds
from playbill.effects._handlers import Handlers

if TYPE_CHECKING:
    from playbill.interpreters import ActorSystem

__all__ = ["DeadEntry", "RedisTransport"]

T = TypeVar("T")
# a message to append: its mailbox stream, its encoded envelope and its message id
_Entry = tuple[str, bytes, str]

logger = logging.getLogger("playbill")

GROUP = "playbill"  # the consumer group of every mailbox stream
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")  # a path segment on the cluster: no '.' (the joint)
_FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_KEPT_DATA = 1024  # bytes of a refused oversize entry kept in its dead letter
_DEACTIVATE = ("playbill.Deactivate", 1)  # how `Deactivate` travels
_APPEND_BYTES = 8_000_000  # envelope bytes past which an APPEND call takes no more entries


@final
@frozen
class DeadEntry:
    """One entry of a durable actor's dead-letter stream: the mailbox entry it was, the
    message id (``""`` when unreadable), why, and the raw entry (cut at 1 KiB if oversize)."""

    entry: str
    message_id: str
    reason: str
    data: bytes


def _check_id(where: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidArgument(
            f"{where} must be 1-200 characters of letters, digits and '_.-' (it is part of "
            f"Redis key names), got {value!r}"
        )
    return value


def _loopback(host: str | None) -> bool:
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: object, allow_insecure: bool) -> str:
    if not isinstance(url, str):
        raise InvalidArgument(
            f"RedisTransport url must be a str such as 'redis://127.0.0.1:6379/0', got {url!r}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise InvalidArgument(
            f"RedisTransport url must start with redis://, rediss:// or unix://, got {url!r}"
        )
    if parts.scheme == "unix" or _loopback(parts.hostname) or allow_insecure:
        return url
    if parts.scheme != "rediss" or not parts.password:
        raise InvalidArgument(
            f"RedisTransport refuses {parts.scheme}://{parts.hostname}: a non-loopback Redis "
            "must be reached over TLS with credentials (rediss://user:password@host:port/0); "
            "pass allow_insecure=True to accept it anyway"
        )
    return url


def _backoff(attempt: int, cap: float) -> float:
    return float(min(cap, 0.02 * 2.0**attempt) * (0.5 + _random.random() / 2))


@final
class RedisTransport:
    """The Redis engine of an `ActorSystem`: durable actors whose mailboxes are Redis Streams
    (acknowledged after processing, redelivered after a crash), one fenced owner per actor,
    and refs and asks between processes and hosts.

    >>> transport = RedisTransport("redis://127.0.0.1:6379/0", namespace="shop", node_id="n1")
    >>> transport.data_key("counts")
    'shop:data:counts'
    >>> RedisTransport("redis://10.0.0.5:6379/0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    playbill.effects._errors.InvalidArgument: RedisTransport refuses redis://10.0.0.5: ...

    With a server (``async with ActorSystem("app", transport=transport) as system:``)::

        orders = await system.spawn_durable(OrderBook, id="orders")
        orders.tell(PlaceOrder("tea", 2))
        total = await system.remote("orders").ask(Total(), timeout=5)

    Options: ``namespace`` prefixes every key; ``node_id`` names this node (its consumer
    name; random by default); ``lease_ttl`` is how long an owner's lease lasts unrenewed
    (renewed every ``lease_ttl / 3``; also the expiry of the node's heartbeat key, renewed
    every ``heartbeat``); after ``max_deliveries`` failed deliveries a message is
    dead-lettered; a message over ``max_payload`` bytes is refused; ``read_count`` entries are
    read at a time; dedup records last ``dedup_ttl`` to twice that (the same on every
    node); the mailbox is trimmed every ``trim_every`` commits; a failing Redis call is
    retried with backoff up to ``retry_max`` seconds apart; ``registry`` resolves message
    types (`default_registry` by default).
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "playbill",
        node_id: str | None = None,
        lease_ttl: float = 5.0,
        heartbeat: float = 1.0,
        max_deliveries: int = 5,
        max_payload: int = 1_000_000,
        read_count: int = 100,
        dedup_ttl: float = 86_400.0,
        trim_every: int = 100,
        retry_max: float = 2.0,
        allow_insecure: bool = False,
        registry: MessageRegistry | None = None,
    ) -> None:
        self.allow_insecure = check_flag("RedisTransport allow_insecure", allow_insecure)
        self.url = _check_url(url, allow_insecure)
        self.namespace = _check_id("RedisTransport namespace", namespace)
        self.node_id = (
            uuid.uuid4().hex[:16]
            if node_id is None
            else _check_id("RedisTransport node_id", node_id)
        )
        self.lease_ttl = check_seconds("RedisTransport lease_ttl", lease_ttl, infinite=False)
        self.heartbeat = check_seconds("RedisTransport heartbeat", heartbeat, infinite=False)
        if self.heartbeat >= self.lease_ttl:
            raise InvalidArgument(
                f"RedisTransport heartbeat must be shorter than lease_ttl (a node's heartbeat "
                f"key expires after lease_ttl), got heartbeat={heartbeat!r} with "
                f"lease_ttl={lease_ttl!r}"
            )
        if self.lease_ttl < 0.01:
            raise InvalidArgument(
                f"RedisTransport lease_ttl must be at least 0.01 seconds, got {lease_ttl!r}"
            )
        self.max_deliveries = check_count(
            "RedisTransport max_deliveries", max_deliveries, minimum=1
        )
        self.max_payload = check_count("RedisTransport max_payload", max_payload, minimum=64)
        self.read_count = check_count("RedisTransport read_count", read_count, minimum=1)
        self.dedup_ttl = check_seconds("RedisTransport dedup_ttl", dedup_ttl, infinite=False)
        self.trim_every = check_count("RedisTransport trim_every", trim_every, minimum=1)
        self.retry_max = check_seconds("RedisTransport retry_max", retry_max, infinite=False)
        if registry is not None and not isinstance(registry, MessageRegistry):
            raise InvalidArgument(
                f"RedisTransport registry must be a MessageRegistry or None (the default "
                f"registry that @message fills), got {registry!r}"
            )
        self.registry = registry if registry is not None else default_registry
        if not self.registry.knows(*_DEACTIVATE):  # (sent to a cluster grain: `grain()`)
            self.registry.message(*_DEACTIVATE)(Deactivate)
        self._system: ActorSystem | None = None
        self._redis: aioredis.Redis | None = None
        self._hosts: dict[str, _Host] = {}
        self._spawning: dict[str, asyncio.Future[DurableRef]] = {}  # get_or_spawn_durable
        self._by_local: dict[ActorRef, _Host] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outbox: collections.deque[_Entry | asyncio.Future[None]] = collections.deque()
        self._outbox_ready = asyncio.Event()
        self._writing = False  # the outbox's head is being written (by the sender or the reader)
        self._commit_writes = WriteGroup()  # the hosts' commits of a loop turn: one write
        # replies were just handled: the askers' next messages go in the reply read's write
        self._reply_window = False
        self._asks: dict[str, _PendingAsk] = {}
        # actor id -> (until when, its live owner): asks in a burst look the owner up once
        self._owners: dict[str, tuple[float, str]] = {}
        self._closing = False
        self._halted = False
        self._ending = False  # the background tasks are being stopped
        self._scripts: dict[str, Any] = {}
        # message ids: a random prefix per transport and a counter (unique without a uuid4
        # a message: 64 random bits per node run, then the counter in hex)
        self._id_prefix = uuid.uuid4().hex[:16] + "."
        self._id_counter = itertools.count()
        self.late_replies = 0
        # set by `Telemetry.trace_transport`: envelopes then carry the sender's traceparent
        self.tracing: TraceCarrier | None = None

    # -- keys -------------------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        """A key of this namespace: ``key("mbox", "orders")`` is ``"{namespace}:mbox:orders"``."""
        return ":".join((self.namespace, *parts))

    def data_key(self, key: str) -> str:
        """The Redis key that ``redis_write(command, key, ...)`` writes."""
        return self.key("data", key)

    # -- the Transport protocol -------------------------------------------------------------

    def handlers(self) -> Handlers:
        return {
            RedisWrite: self._stage,
            DurableTell: self._tell_effect,
            DurableAsk: lambda effect: effect.ref.ask(effect.message, effect.timeout),
        }

    async def start(self, system: ActorSystem) -> None:
        if self._system is not None:
            raise PlaybillError("a RedisTransport serves one ActorSystem, once; make another")
        self._system = system
        client = aioredis.Redis.from_url(self.url, decode_responses=False)
        self._redis = client
        try:
            await client.ping()
        except _FAULTS as error:
            await client.aclose()
            self._redis = None
            raise PlaybillError(
                f"cannot reach Redis at {self.url}: {error}; start redis-server or fix the url"
            ) from error
        for name in _scripts.__all__:
            self._scripts[name] = client.register_script(getattr(_scripts, name))
        # loaded now, in one round trip: a script's first call in a pipeline or one write
        # would otherwise answer NOSCRIPT and be sent again
        async with client.pipeline(transaction=False) as pipe:
            for script in self._scripts.values():
                pipe.script_load(script.script)
            await pipe.execute()
        await client.set(self.key("node", self.node_id), b"1", px=self._ms(self.lease_ttl))
        self._spawn_task(self._heartbeat(), "heartbeat")
        self._spawn_task(self._read_replies(), "reply reader")
        self._spawn_task(self._send(), "sender")

    async def close(self) -> None:
        """Stop taking messages: each hosted actor finishes its current one (committed),
        leases are released, what was told is flushed, pending asks fail, and the node's
        heartbeat and reply stream are deleted."""
        if self._closing or self._redis is None:
            return
        self._closing = True
        hosts = list(self._hosts.values())
        for host in hosts:
            host.closing = True
        if hosts:
            await asyncio.wait(
                [host.task for host in hosts if host.task is not None],
                timeout=self.lease_ttl,
            )
        try:
            await asyncio.wait_for(self._flush(), self.lease_ttl)
        except (TimeoutError, PlaybillError):
            logger.error("node %s closed with messages not yet written to Redis", self.node_id)
        await self._stop_tasks()
        client = self._redis
        try:
            for host in hosts:
                if host.lease is not None:
                    await self._scripts["RELEASE"](
                        keys=[self.key("lease", host.id)], args=[host.lease], client=client
                    )
            await client.delete(self.key("node", self.node_id), self.key("reply", self.node_id))
        except _FAULTS as error:
            logger.warning("node %s could not clean its keys at close: %r", self.node_id, error)
        self._fail_asks(PlaybillError(f"the node {self.node_id} closed its transport"))
        await client.aclose()

    async def _halt(self) -> None:
        """Stop at once as a crash would (tests): no commit, no release, no clean-up."""
        self._closing = self._halted = True
        for host in self._hosts.values():
            host.closing = True
        await self._stop_tasks()
        self._fail_asks(PlaybillError(f"the node {self.node_id} was halted"))
        if self._redis is not None:
            await self._redis.aclose()

    async def _stop_tasks(self) -> None:
        self._ending = True
        await self._cancel_tasks()
        for host in self._hosts.values():
            await host.stop_local()
        await self._cancel_tasks()  # (any a host's stop began)

    async def _cancel_tasks(self) -> None:
        """Cancel the node's tasks and wait for their end, again for any begun meanwhile."""
        for _ in range(3):
            tasks = [task for task in self._tasks if not task.done()]
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            _, still = await asyncio.wait(tasks, timeout=self.lease_ttl + 1.0)
            for task in still:
                logger.error("node %s: %r did not end when cancelled", self.node_id, task)
            if still:
                return

    def _spawn_task(self, coroutine: Awaitable[Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(self._guard(coroutine, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coroutine: Awaitable[Any], what: str) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except BaseException:  # never dies silently
            logger.exception("the %s of node %s failed", what, self.node_id)

    # -- durable actors -----------------------------------------------------------------------

    async def spawn_durable(
        self,
        actor: Callable[[], Any],
        id: str,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> DurableRef:
        """Host the durable actor ``id`` here (``actor`` makes its instance) and return its
        ref. If another node owns it, this node stands by and takes it over when that
        node's lease expires; either way the ref works at once."""
        _check_id("spawn_durable() id", id)
        if not callable(actor):
            raise InvalidArgument(f"spawn_durable() takes an actor class or factory, got {actor!r}")
        return await self._spawn_host(actor, id, supervision, mailbox, _Host)

    async def _spawn_host(
        self,
        actor: Callable[[], Any],
        id: str,
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
        kind: type[_Host],
    ) -> DurableRef:
        system = self._require_started()
        if id in self._hosts:
            raise InvalidArgument(f"the durable actor {id!r} is already hosted by this node")
        incarnation = int(
            await self._retrying(
                "incarnation",
                lambda: self._scripts["INCARNATION"](
                    keys=[self.key("actor", id)], args=[], client=self._redis
                ),
            )
        )
        host = kind(self, system, id, actor, supervision, mailbox, incarnation)
        self._hosts[id] = host
        await host.try_acquire()
        host.task = self._spawn_task(host.run(), f"host of durable actor {id!r}")
        return DurableRef(id, incarnation, self)

    async def get_or_spawn_durable(
        self,
        actor: Callable[[], Any],
        id: str,
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> DurableRef:
        """The ref of the durable actor ``id``, hosted here now if this node does not host it
        yet (get-or-create): atomic across processes, as every node that calls it with one
        ``id`` gets the same incarnation (one script step) and one node at a time owns the
        actor (its fenced lease) while the others stand by; concurrent calls in this
        process share one spawn. ``actor`` is used only when this node hosts it anew.

        >>> import asyncio
        >>> transport = RedisTransport("redis://127.0.0.1:6379/0")
        >>> asyncio.run(transport.get_or_spawn_durable(object, "a b"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        playbill.effects._errors.InvalidArgument: get_or_spawn_durable() id must be 1-200 ...

        With a server, in two processes: both get the same ref, one of them runs the actor::

            ref = await system.get_or_spawn_durable(Cache, "cache")
        """
        _check_id("get_or_spawn_durable() id", id)
        if not callable(actor):
            raise InvalidArgument(
                f"get_or_spawn_durable() takes an actor class or factory, got {actor!r}"
            )
        return await self._get_or_spawn_host(actor, id, supervision, mailbox, _Host)

    async def _get_or_spawn_host(
        self,
        actor: Callable[[], Any],
        id: str,
        supervision: SupervisionStrategy | None,
        mailbox: MailboxPolicy | None,
        kind: type[_Host],
    ) -> DurableRef:
        self._require_started()
        host = self._hosts.get(id)
        if host is not None and not host.retired:
            return DurableRef(id, host.incarnation, self)
        spawning = self._spawning.get(id)
        if spawning is None:
            spawning = asyncio.ensure_future(
                self._spawn_host(actor, id, supervision, mailbox, kind)
            )
            self._spawning[id] = spawning
            spawning.add_done_callback(lambda _: self._spawning.pop(id, None))
        return await asyncio.shield(spawning)

    def id_of(self, path: str) -> str:
        """The durable id that the actor path ``path`` names on the cluster (used by
        `get_or_spawn`): its segments under the root guardian, joined by ``.``. A relative
        path is under the root (``"sessions/alice"``); an absolute one starts with this
        system's name (``"/app/sessions/alice"``), which is dropped, so every node — each
        with its own system name — maps one path to one id. Segments are letters, digits,
        ``_`` and ``-`` (``.`` joins them, so it is refused in a segment).

        >>> transport = RedisTransport("redis://127.0.0.1:6379/0")
        >>> transport.id_of("sessions/alice"), transport.id_of("/app/cache")
        ('sessions.alice', 'cache')
        >>> transport.id_of("worker.1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        playbill.effects._errors.InvalidArgument: get_or_spawn() path must be ...
        """
        accepted = (
            "an actor path like 'parent/child' (under the root guardian) or "
            "'/system/parent/child', each segment letters, digits, '_' and '-' ('.' joins "
            "them in the durable id)"
        )
        if not isinstance(path, str):
            raise InvalidArgument(f"get_or_spawn() path must be {accepted}, got {path!r}")
        segments = path.split("/")
        if path.startswith("/"):
            system, segments = segments[1], segments[2:]
            if self._system is not None and system != self._system.name:
                raise InvalidArgument(
                    f"get_or_spawn() path {path!r} is under /{system}, not this system "
                    f"/{self._system.name}; give it relative to the root ('a/b'), which every "
                    "node maps to the same durable id"
                )
        if not segments or not all(_SEGMENT.match(segment) for segment in segments):
            raise InvalidArgument(f"get_or_spawn() path must be {accepted}, got {path!r}")
        durable_id = ".".join(segments)
        if len(durable_id) > 200:
            raise InvalidArgument(
                f"get_or_spawn() path must give a durable id of at most 200 characters, got "
                f"{path!r} ({len(durable_id)})"
            )
        return durable_id

    async def get_or_spawn(
        self,
        path: str,
        actor: Callable[[], Any],
        *,
        supervision: SupervisionStrategy | None = None,
        mailbox: MailboxPolicy | None = None,
    ) -> DurableRef:
        """``get_or_spawn(path, actor)`` across processes: the ref of the one actor the path
        names on the cluster, the durable actor `id_of(path)` (``"sessions/alice"`` is
        ``"sessions.alice"``), got or spawned here as by `get_or_spawn_durable` — nodes
        racing on one path get the same ref and one of them runs the actor (its fenced
        lease) while the others stand by. ``actor`` is used only by a node that hosts it
        anew. ``system.get_or_spawn(path, actor, durable=True)`` is the same call.

        >>> import asyncio
        >>> transport = RedisTransport("redis://127.0.0.1:6379/0")
        >>> asyncio.run(transport.get_or_spawn("a//b", object))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        playbill.effects._errors.InvalidArgument: get_or_spawn() path must be ...

        With a server, in every process (one actor is built, on one node)::

            cache = await system.get_or_spawn("caches/users", Cache, durable=True)
            await cache.ask(Lookup("alice"), timeout=5)
        """
        durable_id = self.id_of(path)
        if not callable(actor):
            raise InvalidArgument(
                f"get_or_spawn() factory must be an actor class or a zero-argument factory, "
                f"got {actor!r}"
            )
        return await self.get_or_spawn_durable(
            actor, durable_id, supervision=supervision, mailbox=mailbox
        )

    async def grain(
        self,
        grain: Callable[[Any], Grain],
        key: str | int,
        *,
        store: GrainStore,
        kind: str | None = None,
        stop_policy: StopPolicy = NEVER,
    ) -> DurableRef:
        """The ref of the virtual actor ``(kind, key)`` on the cluster: a durable actor named
        ``grain.{kind}.{key}`` (``kind``: the grain class's name by default), got or spawned
        here (`get_or_spawn_durable`), so it is active on exactly one node at a time; on
        that node it is ``grain(key)``, its state loaded from ``store`` when it activates
        and saved when it deactivates (or by ``write_state()``). When its owner dies,
        another node that addressed it takes it over once a message waits and the lease
        expired, loading the state ``store`` kept (a `RedisStore`: each process its own).

        ``stop_policy=AfterIdle(seconds)`` deactivates the grain after ``seconds`` with no
        message, as `VirtualActors` does in one process; ``Deactivate(key)`` sent to it does
        it by hand (answered ``True``). Deactivated, the grain saves its state, stops and
        releases its lease; no node runs it until the next message, which activates a fresh
        instance (on whichever node addressed it takes the lease first) with the state
        reloaded. A message racing with the deactivation stays in the stream and is handled
        by the next activation: never lost. Give every node the same options.

        >>> import asyncio
        >>> from playbill.actors import Grain, InMemoryStore
        >>> transport = RedisTransport("redis://127.0.0.1:6379/0")
        >>> asyncio.run(transport.grain(Grain, "a/b", store=InMemoryStore()))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        playbill.effects._errors.InvalidArgument: grain() key must be 1-200 characters ...

        With a server (in every process that addresses it)::

            purse = await transport.grain(Purse, "alice", store=RedisStore(url))
            balance = await purse.ask(5, timeout=5)
        """
        if not callable(grain):
            raise InvalidArgument(
                f"grain() grain must be a Grain subclass or a factory of the key, got {grain!r}"
            )
        if not isinstance(store, GrainStore):
            raise InvalidArgument(
                f"grain() store must be a GrainStore (RedisStore(url) for grains that move "
                f"between processes), got {store!r}"
            )
        name = kind if kind is not None else actor_label(grain)
        _check_id("grain() kind", name)
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise InvalidArgument(f"grain() key must be a str or an int, got {key!r}")
        text = _check_id("grain() key", str(key))
        if not isinstance(stop_policy, (Never, AfterIdle)):
            raise InvalidArgument(
                f"grain() stop_policy must be NEVER or AfterIdle(seconds) (when an idle grain "
                f"deactivates), got {stop_policy!r}"
            )
        factory = functools.partial(_build_grain, grain, key, store, name, stop_policy)
        return await self._get_or_spawn_host(
            factory, f"grain.{name}.{text}", None, None, _GrainHost
        )

    def remote(self, id: str, *, incarnation: int | None = None) -> DurableRef:
        """A ref to the durable actor ``id`` wherever it runs (``incarnation=None``:
        whichever incarnation is current when a message is processed)."""
        _check_id("remote() id", id)
        if incarnation is not None:
            check_count("remote() incarnation", incarnation, minimum=1)
        return DurableRef(id, incarnation, self)

    def owns(self, id: str) -> bool:
        """Whether this node holds the lease of the durable actor ``id`` now."""
        host = self._hosts.get(id)
        return host is not None and host.lease is not None

    async def dead_letters(self, id: str) -> list[DeadEntry]:
        """The entries of the durable actor ``id``'s dead-letter stream, oldest first."""
        client = self._require_client()
        found = []
        entries: Any = await client.xrange(self.key("dead", id))
        for entry, fields in entries:
            found.append(
                DeadEntry(
                    # the mailbox entry it was (hostile entries refused before a script ran
                    # carry none: then the dead-letter stream's own id)
                    fields.get(b"entry", entry).decode(),
                    fields.get(b"id", b"").decode(),
                    fields.get(b"reason", b"").decode(errors="replace"),
                    fields.get(b"data", b""),
                )
            )
        return found

    # -- sending ----------------------------------------------------------------------------

    def _envelope(self, ref: DurableRef, message: object, ask: bool = False) -> _Entry:
        """The mailbox stream, the encoded envelope and its message id (written beside the
        envelope as the entry's ``i`` field, so that the reader's READ script looks it up
        in the dedup records without decoding the envelope). An ask's envelope carries this
        node's reply stream, and its message id as the correlation id of the reply (unique
        to this node's run as the id is: no uuid4 an ask)."""
        self._require_client()
        kind, version = self.registry.type_of(message)
        payload = self.registry.pack(message)
        message_id = f"{self._id_prefix}{next(self._id_counter):x}"
        envelope = Envelope(
            message_id,
            kind,
            version,
            payload,
            self.node_id,
            self.key("reply", self.node_id) if ask else None,
            message_id if ask else None,
            ref.incarnation,
            self.tracing.inject() if self.tracing is not None else None,
        ).encode()
        if len(envelope) > self.max_payload:
            raise InvalidArgument(
                f"the message for {ref.id!r} is {len(envelope)} bytes encoded, over "
                f"max_payload={self.max_payload}; send a reference to the data instead, or "
                "raise RedisTransport(max_payload=...) on every node"
            )
        return self.key("mbox", ref.id), envelope, message_id

    def _tell_effect(self, effect: DurableTell) -> None:
        host = self._by_local.get(effect.sender) if effect.sender is not None else None
        if host is not None and host.writes is not None:  # staged for the commit
            host.outgoing.append(self._envelope(effect.ref, effect.message))
        else:
            effect.ref.tell(effect.message)

    def _tell(self, ref: DurableRef, message: object) -> None:
        self._outbox.append(self._envelope(ref, message))
        self._outbox_ready.set()

    def flush(self) -> Awaitable[None]:
        """Done once every message sent before the call is written to Redis."""
        self._require_client()
        return self._flush()

    def _flush(self) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outbox.append(done)
        self._outbox_ready.set()
        return done

    def _ask(self, ref: DurableRef, message: object, timeout: float | None) -> Awaitable[Any]:
        system = self._require_started()
        entry = self._envelope(ref, message, ask=True)
        corr = entry[2]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        limit = system.ask_timeout if timeout is None else float(timeout)
        pending = _PendingAsk(future, ref.id, message, None, limit)
        self._asks[corr] = pending
        self._outbox.append(entry)
        written: asyncio.Future[None] = loop.create_future()
        self._outbox.append(written)
        self._outbox_ready.set()
        if limit != math.inf:
            pending.timer = loop.call_later(limit, self._time_out, corr)
        future.add_done_callback(lambda _: self._forget(corr))
        written.add_done_callback(lambda _: self._written(corr))
        return future

    def _written(self, corr: str) -> None:
        """An ask's message is in Redis: its target's owner is watched from now on (known
        if it was seen live within a heartbeat, else looked up)."""
        pending = self._asks.get(corr)
        if pending is None or self._ending:
            return
        known = self._owners.get(pending.actor)
        if known is not None and known[0] > asyncio.get_running_loop().time():
            pending.owner = known[1]  # (a live owner seen just now)
        else:
            self._spawn_task(self._find_owner(corr), "ask")

    def _time_out(self, corr: str) -> None:
        pending = self._asks.get(corr)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(
                AskTimeout(
                    f"ask timed out after {pending.timeout:g}s waiting on the durable actor "
                    f"{pending.actor!r} (message: {pending.message!r}); raise the timeout or "
                    "check that a node hosts the actor and that it replies"
                )
            )

    def _forget(self, corr: str) -> None:
        pending = self._asks.pop(corr, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    async def _find_owner(self, corr: str) -> None:
        pending = self._asks.get(corr)
        if pending is None:
            return
        loop = asyncio.get_running_loop()
        delay = 0.005
        while True:
            owner = await self._owner_of(pending.actor)
            if owner is not None or not await self._activatable(pending.actor):
                break
            # a dormant grain: the message activates it on one of its nodes; wait for it
            if pending.future.done() or self._ending:
                return
            await asyncio.sleep(delay)
            delay = min(2 * delay, self.heartbeat)
        if owner is not None:
            if len(self._owners) >= 1024:  # (stale entries go now and then)
                self._owners.clear()
            self._owners[pending.actor] = (loop.time() + self.heartbeat, owner)
        if owner is None and not pending.future.done():
            pending.future.set_exception(
                NodeDown(
                    f"no node owns the durable actor {pending.actor!r} now, so the ask "
                    f"{pending.message!r} cannot be answered; the message stays in its "
                    f"mailbox ({self.key('mbox', pending.actor)}) and is processed once a "
                    "node hosts the actor (system.spawn_durable)"
                )
            )
        pending.owner = owner

    async def _owner_of(self, actor: str) -> str | None:
        """The node holding ``actor``'s lease, if that node is alive."""
        client = self._client()
        lease: Any = await self._retrying(
            "lease lookup", lambda: client.get(self.key("lease", actor))
        )
        if lease is None:
            return None
        node = lease.decode().rpartition(":")[0]
        alive = await self._retrying(
            "heartbeat lookup", lambda: client.exists(self.key("node", node))
        )
        return node if alive else None

    async def _activatable(self, actor: str) -> bool:
        """Whether a live node keeps ``actor`` dormant (a deactivated cluster grain), so that
        a message waiting in its stream activates it there (dead nodes' notes are dropped)."""
        client = self._client()
        key = self.key("dormant", actor)
        nodes: Any = await self._retrying("dormant lookup", lambda: client.hkeys(key))
        if not nodes:
            return False
        names = sorted(node.decode() for node in nodes)
        beats: Any = await self._retrying(
            "heartbeat lookup", lambda: client.mget([self.key("node", name) for name in names])
        )
        dead = [name for name, beat in zip(names, beats, strict=True) if beat is None]
        if dead:
            await self._retrying("dormant clean-up", lambda: client.hdel(key, *dead))
        return len(dead) < len(names)

    def _fail_asks(self, error: PlaybillError) -> None:
        for pending in list(self._asks.values()):
            if not pending.future.done():
                pending.future.set_exception(error)
        self._asks.clear()

    async def _send(self) -> None:
        """Write the outbox in order, in pipelined batches; retried on a fault (a message
        written twice has one id, so the receiver drops the copy). Right after replies came
        in, the reply reader writes the outbox's head in the write of its next read
        (`_take_outbox`) instead."""
        client = self._client()
        outbox = self._outbox
        attempt = 0
        while not self._ending:  # (not cancellation alone: a redis-py read timeout can swallow it)
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while outbox and not self._writing and not self._reply_window:
                batch = self._outbox_head()
                entries = [item for item in batch if isinstance(item, tuple)]
                if entries:
                    self._writing = True
                    try:
                        await self._append(client, entries)
                    except _FAULTS as error:
                        attempt += 1
                        delay = _backoff(attempt, self.retry_max)
                        logger.warning(
                            "node %s could not write %d message(s) to Redis (%r); retry %d in "
                            "%.2fs",
                            self.node_id,
                            len(entries),
                            error,
                            attempt,
                            delay,
                        )
                        await asyncio.sleep(delay)
                        continue
                    finally:
                        self._writing = False
                attempt = 0
                self._written_head(len(batch))

    def _outbox_head(self, limit: int = 512) -> list[_Entry | asyncio.Future[None]]:
        batch: list[_Entry | asyncio.Future[None]] = []
        for item in self._outbox:
            batch.append(item)
            if len(batch) >= limit:
                break
        return batch

    def _written_head(self, count: int) -> None:
        """The first ``count`` items of the outbox are in Redis."""
        outbox = self._outbox
        for _ in range(count):
            item = outbox.popleft()
            if isinstance(item, asyncio.Future) and not item.done():
                item.set_result(None)

    def _take_outbox(self) -> list[_Entry | asyncio.Future[None]]:
        """The outbox's head, for the reply reader to write with its read (none if the
        sender is writing, or if it is too big for one ``APPEND`` call: the sender splits
        it); the caller calls `_outbox_done`."""
        if self._writing or not self._outbox:
            return []
        batch: list[_Entry | asyncio.Future[None]] = []
        size = 0
        for item in self._outbox_head():
            if isinstance(item, tuple):
                if size >= _APPEND_BYTES:  # (as `_append` splits: one call's worth)
                    break
                size += len(item[1])
            batch.append(item)
        if not any(isinstance(item, tuple) for item in batch):
            return []
        self._writing = True
        return batch

    def _outbox_done(self, batch: list[_Entry | asyncio.Future[None]], written: bool) -> None:
        """The reply reader's write of ``batch`` is over: written, or to be written by the
        sender (a fault, or an error answer: the sender's retries and script loading)."""
        self._writing = False
        if written:
            self._written_head(len(batch))
        if self._outbox:
            self._outbox_ready.set()

    def _append_command(self, entries: list[_Entry]) -> tuple[Any, ...]:
        """The command that appends ``entries``: an ``APPEND`` call, or for one entry (an
        ask's message, say) the ``XADD`` it would run, without a script's cost."""
        if len(entries) == 1:
            [(stream, envelope, message_id)] = entries
            return ("XADD", stream, "*", "e", envelope, "i", message_id)
        streams, envelopes, ids = zip(*entries, strict=True)
        return ("EVALSHA", self._scripts["APPEND"].sha, len(entries), *streams, *envelopes, *ids)

    async def _append(self, client: aioredis.Redis, entries: list[_Entry]) -> None:
        """Append the entries in order (one `_append_command`, unless the batch is over
        _APPEND_BYTES: a command is held whole in Redis's query buffer)."""
        script = self._scripts["APPEND"]
        start = 0
        while start < len(entries):
            end, size = start, 0
            while end < len(entries) and (end == start or size < _APPEND_BYTES):
                size += len(entries[end][1])
                end += 1
            [answer] = await one_write(client, [self._append_command(entries[start:end])])
            if isinstance(answer, redis.exceptions.NoScriptError):
                # (Redis restarted and forgot the script: load it and write the batch)
                script.sha = await client.script_load(script.script)
                continue
            if isinstance(answer, Exception):
                raise answer
            start = end

    # -- replies and membership ---------------------------------------------------------------

    async def _read_replies(self) -> None:
        client = self._client()
        lane = Lane(client)  # (one connection for every read: none taken and given back a turn)
        try:
            await self._reply_loop(client, lane)
        finally:
            await lane.close()

    async def _reply_loop(self, client: aioredis.Redis, lane: Lane) -> None:
        stream = self.key("reply", self.node_id)
        last = b"0-0"
        attempt = 0
        block = max(10, self._ms(min(self.heartbeat, 1.0)))
        seen: list[bytes] = []  # replies read, deleted in the next read's round trip
        while not self._ending:  # (not cancellation alone: a redis-py read timeout can swallow it)
            # the askers' next messages, if any, go first in the same write
            batch = self._take_outbox()
            if self._reply_window and not batch and self._outbox:
                self._outbox_ready.set()  # (the sender left it to this read: it writes it)
            self._reply_window = False
            commands: list[tuple[Any, ...]] = []
            entries = [item for item in batch if isinstance(item, tuple)]
            if entries:
                commands.append(self._append_command(entries))
            if seen:
                commands.append(("XDEL", stream, *seen))
            commands.append(
                ("XREAD", "COUNT", self.read_count, "BLOCK", block, "STREAMS", stream, last)
            )
            appended = False

            async def written(answers: list[Any], batch: list[Any] = batch) -> None:
                nonlocal appended
                appended = True
                self._outbox_done(batch, not isinstance(answers[0], Exception))

            try:
                answers = await one_write(
                    client,
                    commands,
                    early=1 if entries else 0,
                    on_early=written if entries else None,
                    lane=lane,
                )
            except _FAULTS as error:
                if entries and not appended:
                    self._outbox_done(batch, False)
                attempt += 1
                await self._pause("read replies", error, attempt)
                continue
            except BaseException:
                if entries and not appended:
                    self._outbox_done(batch, False)
                raise
            found = answers[-1]
            if isinstance(found, Exception):
                attempt += 1
                await self._pause("read replies", found, attempt)
                continue
            attempt = 0
            seen = []
            for entry, fields in stream_entries(found):
                last = entry
                seen.append(entry)
                self._resolve_reply(dict(zip(fields[::2], fields[1::2], strict=True)).get(b"r"))
            if seen:
                # the askers run first (an asker's next message is then written with the
                # next read: the sender leaves the outbox to this window), then this read is
                # sent again
                self._reply_window = True
                await asyncio.sleep(0)
                await asyncio.sleep(0)

    def _resolve_reply(self, raw: object) -> None:
        data = decode_reply(raw)
        if data is None:
            logger.warning("node %s dropped a malformed reply", self.node_id)
            return
        pending = self._asks.get(data["c"])
        if pending is None or pending.future.done():
            self.late_replies += 1
            if self._system is not None:
                self._system._dead_letter(
                    data, f"reply to ask {data['c']}", DeadLetterReason.LATE_REPLY
                )
            return
        if not data.get("ok"):
            pending.future.set_exception(
                RemoteError(str(data.get("t")), str(data.get("e")), pending.actor)
            )
            return
        try:
            with self.registry.binding(self):
                value = self.registry.unpack(data.get("v") or b"\xc0")
        except (UnknownMessageType, ValueError) as error:
            pending.future.set_exception(
                RemoteError(
                    "UnknownMessageType", f"the reply could not be read: {error}", pending.actor
                )
            )
            return
        pending.future.set_result(value)

    async def _heartbeat(self) -> None:
        client = self._client()
        attempt = 0
        while not self._ending:  # (not cancellation alone: a redis-py read timeout can swallow it)
            await asyncio.sleep(self.heartbeat)
            try:
                await client.set(self.key("node", self.node_id), b"1", px=self._ms(self.lease_ttl))
                await self._check_owners()
            except _FAULTS as error:
                attempt += 1
                logger.warning("node %s heartbeat failed (%r)", self.node_id, error)
                continue
            attempt = 0

    async def _check_owners(self) -> None:
        """Fail the pending asks whose target's owner stopped heartbeating (unless another
        live node took the actor over)."""
        client = self._client()
        watched = {pending.owner for pending in self._asks.values() if pending.owner}
        if not watched:
            return
        nodes = sorted(watched)
        alive = await client.mget([self.key("node", node) for node in nodes])
        dead = {node for node, beat in zip(nodes, alive, strict=True) if beat is None}
        for corr, pending in list(self._asks.items()):
            if pending.owner in dead and not pending.future.done():
                successor = await self._owner_of(pending.actor)
                if successor is not None and successor != pending.owner:
                    pending.owner = successor
                    continue
                if successor is None and await self._activatable(pending.actor):
                    # a grain another live node activates once the lease expired: wait
                    pending.owner = None
                    self._spawn_task(self._find_owner(corr), "ask")
                    continue
                if corr in self._asks and not pending.future.done():
                    pending.future.set_exception(
                        NodeDown(
                            f"the node {pending.owner} that owned the durable actor "
                            f"{pending.actor!r} stopped heartbeating while the ask "
                            f"{pending.message!r} waited; the message stays in the mailbox "
                            "and is processed when another node takes the actor over"
                        )
                    )

    # -- staged writes ------------------------------------------------------------------------

    def _stage(self, effect: RedisWrite) -> None:
        host = self._by_local.get(effect.ref)
        if host is None or host.writes is None:
            raise PlaybillError(
                f"redis_write({effect.command} {effect.key}) was performed outside a message of "
                "a durable actor; only a durable actor's receive can stage writes (they are "
                "applied with the message's commit)"
            )
        host.writes.append(effect)

    # -- helpers ------------------------------------------------------------------------------

    def _ms(self, seconds: float) -> int:
        return max(1, int(seconds * 1000))

    def _require_client(self) -> aioredis.Redis:
        if self._redis is None or self._closing:
            raise PlaybillError(
                "the RedisTransport is not running: use it inside `async with "
                "ActorSystem(..., transport=transport)`, and not after shutdown"
            )
        return self._redis

    def _client(self) -> aioredis.Redis:
        assert self._redis is not None
        return self._redis

    def _require_started(self) -> ActorSystem:
        self._require_client()
        assert self._system is not None
        return self._system

    async def _pause(self, what: str, error: BaseException, attempt: int) -> None:
        delay = _backoff(attempt, self.retry_max)
        logger.warning(
            "node %s: redis %s failed (%r); retry %d in %.2fs",
            self.node_id,
            what,
            error,
            attempt,
            delay,
        )
        await asyncio.sleep(delay)

    async def _retrying(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await operation()
            except _FAULTS as error:
                if self._ending:
                    raise
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # a cancellation the client turned into a connection error (redis-py can,
                    # mid-read): it is still a cancellation, never a fault to retry
                    raise asyncio.CancelledError(f"{what} cancelled") from error
                attempt += 1
                await self._pause(what, error, attempt)


def _build_grain(
    grain: Callable[[Any], Grain], key: Any, store: GrainStore, kind: str, policy: StopPolicy
) -> Grain:
    instance = grain(key)
    if not isinstance(instance, Grain):
        raise InvalidArgument(
            f"grain() grain must build a Grain (a subclass of playbill.actors.Grain), got "
            f"{instance!r}"
        )
    instance.grain_store = store
    instance.grain_kind = kind
    if policy is not NEVER:
        instance.stop_policy = policy
    instance.middleware = (*instance.middleware, DEACTIVATION)  # (Deactivate stops it)
    return instance


class _PendingAsk:
    __slots__ = ("actor", "future", "message", "owner", "timeout", "timer")

    def __init__(
        self,
        future: asyncio.Future[Any],
        actor: str,
        message: object,
        owner: str | None,
        timeout: float,
    ) -> None:
        self.future = future
        self.actor = actor
        self.message = message
        self.owner = owner
        self.timeout = timeout
        self.timer: asyncio.TimerHandle | None = None


from playbill.distributed._grain_host import DEACTIVATION, _GrainHost  # noqa: E402
from playbill.distributed._host import _Host  # noqa: E402  (they refer to each other)
