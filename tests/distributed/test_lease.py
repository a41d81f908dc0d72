"""One fenced owner per durable actor: a stale owner's commit is refused, a standby takes
over, and a permanently stopped actor comes back as a new incarnation."""

from __future__ import annotations

import asyncio

import msgpack
import pytest

from playbill import Actor, program, sleep
from playbill.distributed import redis_write
from tests.distributed.support import admin, clean, eventually, node

GATE: dict[str, asyncio.Event] = {}
RAN: list[str] = []


class Slow(Actor):
    """Stages one write per message; on node a's system it first waits for GATE["a"]."""

    def receive(self, message: object) -> object:
        path = self.context.self_ref.path
        RAN.append(path)

        @program
        def write():
            while path.startswith("/a/") and not GATE["a"].is_set():
                yield sleep(0.02)
            yield redis_write("INCRBY", "writes", 1)
            return path

        return write()


def test_two_nodes_racing_for_one_lease_never_both_write(arun, redis_url, namespace):
    async def main():
        GATE["a"] = asyncio.Event()
        RAN.clear()
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system_a, transport_a):
            ref = await system_a.spawn_durable(Slow, id="slow")
            async with node(redis_url, namespace, "b") as (system_b, transport_b):
                await system_b.spawn_durable(Slow, id="slow")
                ref.tell("charge")
                await eventually(lambda: RAN == ["/a/durable:slow"], what="a took it")
                # a pauses (a long GC, a frozen VM) past its lease: it expires, b takes over
                await client.delete(f"{namespace}:lease:slow")
                await eventually(lambda: transport_b.owns("slow"), what="b's takeover")
                await eventually(lambda: len(RAN) == 2, what="b's redelivery")
                assert RAN[1] == "/b/durable:slow"
                await eventually(
                    lambda: _get(client, transport_a.data_key("writes"), b"1"), what="b's write"
                )
                GATE["a"].set()  # a wakes up and tries to commit: refused by the epoch fence
                await eventually(lambda: not transport_a.owns("slow"), what="a stands down")
                await asyncio.sleep(0.3)
                assert await client.get(transport_a.data_key("writes")) == b"1"
                assert await client.get(f"{namespace}:lease:slow") == b"b:2"
                pending = await client.xpending(f"{namespace}:mbox:slow", "playbill")
                assert pending["pending"] == 0
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


async def _get(client, key, expected):
    return await client.get(key) == expected


def test_a_stale_fence_is_refused_by_the_commit_script(arun, redis_url, namespace):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            await system.spawn_durable(Slow, id="x")
            commit = transport._scripts["COMMIT"]
            parts = ("lease", "mbox", "deliveries", "dead")
            keys = [*(f"{namespace}:{part}:x" for part in parts), f"{namespace}:seen:x:"]
            write = ("SET", transport.data_key("w"), "v")
            batch = msgpack.packb(
                [("0-1", "", "", b"", "", b"", "", [write], [])], use_bin_type=False
            )
            answer = await commit(keys=keys, args=["a:0", "playbill", 1000, batch], client=client)
            assert answer == [0]
            assert await client.exists(transport.data_key("w")) == 0
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


class Stoppable(Actor):
    def receive(self, message: object) -> object:
        if message == "stop":
            self.context.stop(self.context.self_ref)
        return message


def test_a_permanently_stopped_actor_spawned_again_is_a_new_incarnation(arun, redis_url, namespace):
    async def main():
        async with node(redis_url, namespace, "a") as (system, transport):
            first = await system.spawn_durable(Stoppable, id="s")
            assert await first.ask("hello", timeout=5) == "hello"
            first.tell("stop")
            await eventually(lambda: not transport.owns("s"), what="the permanent stop")
            second = await system.spawn_durable(Stoppable, id="s")
            assert (first.incarnation, second.incarnation) == (1, 2)
            first.tell("for the old one")
            assert await second.ask("hello again", timeout=5) == "hello again"
            dead = await transport.dead_letters("s")
            assert any("sent to incarnation 1" in entry.reason for entry in dead)
            # a ref without an incarnation reaches whichever is current
            assert await transport.remote("s").ask("any", timeout=5) == "any"
        await clean(redis_url, namespace)

    arun(main())


class Failing(Actor):
    def receive(self, message: object) -> object:
        raise RuntimeError("escalate me")


def test_a_failure_that_stops_the_system_does_not_stop_the_durable_actor_for_good(
    arun, redis_url, namespace
):
    from playbill import ActorSystemFailed, OneForOne
    from playbill.actors import Directive
    from playbill.distributed import RedisTransport
    from playbill.interpreters import ActorSystem
    from tests.distributed.support import FAST

    async def main():
        client = await admin(redis_url)
        escalate = OneForOne(decider=lambda error: Directive.ESCALATE)
        transport = RedisTransport(redis_url, namespace=namespace, node_id="a", **FAST)

        async def fail():
            async with ActorSystem("a", transport=transport, supervision=escalate) as system:
                ref = await system.spawn_durable(Failing, id="f")
                ref.tell("boom")
                await eventually(lambda: system.failure is not None, what="the failure")
                await asyncio.sleep(0.5)  # the host sees its local actor stopped

        with pytest.raises(ActorSystemFailed):
            await fail()
        assert await client.hget(f"{namespace}:actor:f", "state") == b"live"
        assert await client.exists(f"{namespace}:lease:f") == 0  # released at shutdown
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())
