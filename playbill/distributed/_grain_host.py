"""`_GrainHost`: the host of a cluster grain (`RedisTransport.grain`). It is a durable actor's
host (`_Host`) whose actor never stops for good: when the grain stops — idle for its
``stop_policy`` (``AfterIdle(seconds)``), or sent `Deactivate` — that is a **deactivation**.
The grain saved its state in its ``on_stop``; the host then releases the lease and goes
**dormant**: it holds nothing and runs nothing until a message waits in the grain's stream,
and then it (or a dormant host on another node, whichever takes the lease first) activates a
fresh instance, which loads the state and handles the message.

A message racing with a deactivation is never lost: it stays in the stream, either new or
pending (read, but its handler refused by the stopping grain, so not acknowledged), and
either kind counts as "waiting" for the dormant hosts, so the next activation claims it and
handles it first."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, final

from attrs import frozen

from playbill.actors import Deactivate
from playbill.actors._kernel import Phase
from playbill.actors._middleware import Middleware
from playbill.distributed._host import _FAULTS, _Decoded, _Host, _Outcome

logger = logging.getLogger("playbill")

# KEYS: mbox, lease; ARGV: group -> {waiting, the stream's last entry id ('0-0' none)}:
# waiting is 0 (nothing to handle), 1 (entries wait: pending, or not yet delivered to the
# group, and the lease is free) or 2 (entries wait, and a node holds the lease)
WAITING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '0-0'} end
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last = '0-0'
if #newest > 0 then last = newest[1][1] end
local pending, delivered = 0, nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, count, seen = nil, 0, nil
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'pending' then count = group[i + 1] end
    if group[i] == 'last-delivered-id' then seen = group[i + 1] end
  end
  if name == ARGV[1] then pending, delivered = count, seen end
end
local waiting = pending > 0
if not waiting and last ~= '0-0' then
  if delivered == nil then
    waiting = true
  else
    waiting = #redis.call('XRANGE', KEYS[1], '(' .. delivered, '+', 'COUNT', 1) > 0
  end
end
if not waiting then return {0, last} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {2, last} end
return {1, last}
"""


@final
@frozen
class Deactivation(Middleware):
    """The layer every cluster grain gets: `Deactivate` (for this grain's key) stops it
    after the message — a deactivation, answered ``True`` — and never reaches its
    ``receive``; a `Deactivate` for another key is answered ``False``."""

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        if type(message) is not Deactivate:
            return proceed(message)
        if message.key != actor.key and str(message.key) != str(actor.key):
            return False
        context = actor.context
        context.stop(context.self_ref)
        return True


DEACTIVATION = Deactivation()


@final
class _GrainHost(_Host):
    # As `_Host.run`, but a host that does not own the grain is dormant rather than a standby:
    # it tries the lease only when a message waits in the stream (`_take_turn`). Activations
    # that end having committed nothing (a grain that stops itself as it activates, say) are
    # followed by a growing pause (up to ``lease_ttl``, `_after_turn`), so that a message
    # waiting for such a grain cannot make the nodes activate it in a busy loop.
    __slots__ = ("barren",)

    barren: int

    async def _take_turn(self) -> bool:
        return await self._wait_for_work()

    async def _after_turn(self, committed: int) -> None:
        barren = self.barren = getattr(self, "barren", 0) + 1 if not committed else 0
        if barren > 1 and not self.closing:
            await asyncio.sleep(min(self.transport.lease_ttl, 0.01 * 2.0**barren))

    async def _wait_for_work(self) -> bool:
        """Whether this node took the lease (a message waits); ``False`` when closing."""
        transport = self.transport
        client = transport._redis
        assert client is not None
        script = transport._scripts.get("WAITING")
        if script is None:
            script = transport._scripts["WAITING"] = client.register_script(WAITING)
        block = max(10, transport._ms(min(transport.heartbeat, 1.0)))
        keys = [self.keys["mbox"], self.keys["lease"]]
        attempt = 0
        registered = False
        while not self.closing:
            try:
                if not registered:  # (askers wait for a grain that a live node can activate)
                    await self._dormant(True)
                    registered = True
                waiting, last = await script(keys=keys, args=["playbill"], client=client)
                if waiting == 1 and await self.try_acquire():
                    await self._dormant(False)
                    return True
                if waiting:  # (an owner is at work, or its lease has yet to expire)
                    await asyncio.sleep(transport.lease_ttl / 3)
                else:  # until an entry is appended after the last one, or the block ends
                    await client.xread({self.keys["mbox"]: last}, count=1, block=block)
            except _FAULTS as error:
                attempt += 1
                await transport._pause(f"dormant wait on {self.keys['mbox']}", error, attempt)
                continue
            attempt = 0
        try:
            await self._dormant(False)
        except _FAULTS as error:
            logger.warning("node %s could not clean %s: %r", transport.node_id, self.id, error)
        return False

    async def _dormant(self, dormant: bool) -> None:
        """Note (or unnote) this node in ``{ns}:dormant:{id}``: the nodes that activate the
        grain when a message comes (an asker waits for the activation while one of them is
        alive, rather than fail with `NodeDown`)."""
        transport = self.transport
        client = transport._redis
        assert client is not None
        key = transport.key("dormant", self.id)
        if dormant:
            await client.hset(key, transport.node_id, b"1")
        else:
            await client.hdel(key, transport.node_id)

    async def _process(
        self,
        entry: str,
        fields: dict[bytes, Any] | None,
        decoded: _Decoded = None,
        *,
        fresh: bool = False,
    ) -> _Outcome:
        """As `_Host._process`, but an entry that meets the grain deactivating waits until
        it has stopped (its state saved) and is left pending, uncounted, for the next
        activation — it is not fed to the stopping grain again and again, each time counted
        as a delivery."""
        if self._local_stopping():
            await self._local_terminated()
            return _Outcome.RETRY
        return await super()._process(entry, fields, decoded, fresh=fresh)

    def _local_stopping(self) -> bool:
        if self.local is None:
            return True
        cell = self.system._resolve(self.local)
        return cell is None or cell.phase >= Phase.STOPPING

    async def _local_terminated(self) -> None:
        cell = None if self.local is None else self.system._resolve(self.local)
        if cell is not None:
            try:
                await asyncio.wait_for(asyncio.shield(cell.terminated()), self.transport.lease_ttl)
            except TimeoutError:
                logger.error("the grain %r did not stop in time", self.id)

    async def _retire(self) -> None:
        """The grain stopped (not by a lost lease or shutdown): a deactivation, never for
        good — its state is saved (its ``on_stop`` ran), so the lease is released and the
        host goes dormant; the next message activates the grain again, here or elsewhere."""
        transport = self.transport
        # dormant before the lease is gone: an asker never sees neither owner nor activator
        await transport._retrying("dormant", lambda: self._dormant(True))
        await transport._retrying(
            "release",
            lambda: self._script("RELEASE")(
                keys=[self.keys["lease"]], args=[self.fence], client=transport._redis
            ),
        )
        self.owning = False
        logger.info("node %s deactivated the grain %r", transport.node_id, self.id)
