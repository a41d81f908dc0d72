"""`RedisStore`: grain states in Redis, so that a grain activated in another process (or
after a crash) loads what the last activation saved, and a stale activation cannot overwrite
a newer state (every save is a compare-and-set on the grain's version, in one Lua script)."""

from __future__ import annotations

import threading
from typing import Any, final

import redis

from playbill.actors import GrainStore
from playbill.actors._reports import short
from playbill.distributed._errors import StaleGrainState
from playbill.distributed._registry import MessageRegistry, default_registry
from playbill.distributed._transport import _check_id, _check_url
from playbill.effects import InvalidArgument, Program, blocking
from playbill.effects._checks import check_flag

__all__ = ["SAVE_GRAIN", "RedisStore"]

# KEYS: the grain's hash; ARGV: the version the saving activation loaded, the encoded state
# -> {1, the new version} saved, or {0, the version stored} refused (another activation
# saved since this one loaded)
SAVE_GRAIN = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if stored ~= tonumber(ARGV[1]) then return {0, stored} end
redis.call('HSET', KEYS[1], 's', ARGV[2], 'v', stored + 1)
return {1, stored + 1}
"""


@final
class RedisStore(GrainStore):
    """Grain states in Redis: one hash per grain, ``{namespace}:grain:{kind}:{key}``, holding
    the state (msgpack, encoded by the ``registry`` the envelopes use: plain data, and
    classes registered with ``@message``) and a version. ``load`` notes the version it read;
    ``save`` writes only if the stored version is still that one (compare-and-set in a Lua
    script), so an activation that loaded before another one saved — a stale second
    activation in another process — fails with `StaleGrainState` rather than overwrite the
    newer state. A save that no load preceded (in this store) expects no state stored.

    Every call is a `blocking` effect on a synchronous client (asyncio: the system's thread
    pool; the simulator and the stub: inline). The versions seen are kept by the store, so
    give each process (each `ActorSystem`) its own ``RedisStore``.

    >>> store = RedisStore("redis://127.0.0.1:6379/0", namespace="bank")
    >>> store.key_of("Account", "alice")
    'bank:grain:Account:alice'
    >>> RedisStore("redis://127.0.0.1:6379/0", namespace="a:b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    playbill.effects._errors.InvalidArgument: RedisStore namespace must be 1-200 characters ...

    With a server::

        stub.run(store.save("Account", "alice", {"balance": 5}))
        stub.run(store.load("Account", "alice"))  # {'balance': 5}
    """

    __slots__ = ("_client", "_lock", "_versions", "namespace", "registry", "url")

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "playbill",
        allow_insecure: bool = False,
        registry: MessageRegistry | None = None,
    ) -> None:
        check_flag("RedisStore allow_insecure", allow_insecure)
        try:
            self.url = _check_url(url, allow_insecure)
        except InvalidArgument as error:  # (its message names RedisTransport)
            raise InvalidArgument(str(error).replace("RedisTransport", "RedisStore")) from None
        self.namespace = _check_id("RedisStore namespace", namespace)
        if registry is not None and not isinstance(registry, MessageRegistry):
            raise InvalidArgument(
                f"RedisStore registry must be a MessageRegistry or None (the default registry "
                f"that @message fills), got {short(registry)}"
            )
        self.registry = registry if registry is not None else default_registry
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        # (kind, key) -> the version the last load or save of this store saw
        self._versions: dict[tuple[str, str], int] = {}

    def key_of(self, kind: str, key: str) -> str:
        """The Redis key of the grain ``key`` of type ``kind``."""
        _check_id("RedisStore grain kind", kind)
        if not isinstance(key, str) or not key:
            raise InvalidArgument(f"RedisStore grain key must be a non-empty str, got {key!r}")
        return f"{self.namespace}:grain:{kind}:{key}"

    def load(self, kind: str, key: str) -> Program[Any]:
        return blocking(self._load, kind, key, self.key_of(kind, key))

    def save(self, kind: str, key: str, state: Any) -> Program[None]:
        name = self.key_of(kind, key)
        try:
            data = self.registry.pack(state)
        except InvalidArgument as error:
            raise InvalidArgument(
                f"RedisStore keeps states as msgpack, and the state of {kind} {key!r} cannot "
                f"be encoded: {error}"
            ) from None
        return blocking(self._save, kind, key, name, data)

    def close(self) -> None:
        """Close the store's connections (it opens them again if used after)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _redis(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(self.url)
            return self._client

    def _load(self, kind: str, key: str, name: str) -> Any:
        found: Any = self._redis().hmget(name, ["s", "v"])
        data, version = found
        self._versions[(kind, key)] = int(version or 0)
        if data is None:
            return None
        with self.registry.binding(None):
            return self.registry.unpack(data)

    def _save(self, kind: str, key: str, name: str, data: bytes) -> None:
        expected = self._versions.get((kind, key), 0)
        saved, version = self._redis().eval(SAVE_GRAIN, 1, name, expected, data)
        if not saved:
            raise StaleGrainState(
                f"RedisStore refused to save the grain {kind} {key!r}: another activation "
                f"saved version {version} since this one loaded version {expected}; the grain "
                "was active in two places, and this stale state is dropped (address grains "
                "through RedisTransport.grain() for one activation across processes)"
            )
        self._versions[(kind, key)] = int(version)

    def __repr__(self) -> str:
        return f"RedisStore(namespace={self.namespace!r})"
