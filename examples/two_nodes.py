"""Two processes on one Redis: each hosts a durable actor and tells the other's, then one is
killed with SIGKILL in the middle of its handlers and started again — and nothing is lost,
nothing counted twice.

    python examples/two_nodes.py

Node A hosts the durable actor "alpha", node B hosts "beta"; A tells beta 100 messages and B
tells alpha 100 (through `system.remote`, location-transparent). Each handler takes 10 ms and
stages ``HINCRBY <actor> <message> 1``, applied atomically with the message's
acknowledgement. B is killed while beta is mid-way; its replacement takes beta's lease once
the old one expired, and beta's unacknowledged messages are redelivered to it.

Then, on the same Redis, two nodes in this process show the cluster's named actors and
grains: both race ``system.get_or_spawn("shared/cache", Cache, durable=True)`` and get one
actor; a grain with ``stop_policy=AfterIdle(0.3)`` idles out (its state saved, its lease
released) and the next message, from the other node, activates it again with its state.

It starts its own ``redis-server`` (127.0.0.1, a random port, AOF on) when one is installed;
otherwise it prints how to get one and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MESSAGES = 100
HANDLER_SECONDS = 0.01
OPTIONS: dict[str, Any] = {"lease_ttl": 1.0, "heartbeat": 0.25}
ROOT = Path(__file__).resolve().parent.parent

# -- a node (run as ``python two_nodes.py node URL NAMESPACE ACTOR PEER SEND``) ----------------


async def run_node(url: str, namespace: str, actor: str, peer: str, send: bool) -> None:
    from playbill import Actor, program, sleep
    from playbill.distributed import RedisTransport, redis_write
    from playbill.interpreters import ActorSystem

    class Counter(Actor):
        def receive(self, message: str) -> object:
            @program
            def handle():  # type: ignore[no-untyped-def]
                yield sleep(HANDLER_SECONDS)  # a kill lands mid-handler
                yield redis_write("HINCRBY", actor, message, 1)
                return None

            return handle()

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    transport = RedisTransport(url, namespace=namespace, **OPTIONS)
    async with ActorSystem(actor, transport=transport) as system:
        await system.spawn_durable(Counter, id=actor)
        if send:
            other = system.remote(peer)  # wherever it runs
            for n in range(MESSAGES):
                other.tell(f"from {actor} #{n}")
            await other.flush()  # all in Redis: durable from here on
        print("ready", flush=True)
        await stop.wait()


# -- the driver ---------------------------------------------------------------------------------


def start_node(
    url: str, namespace: str, actor: str, peer: str, send: bool
) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    process = subprocess.Popen(
        [sys.executable, __file__, "node", url, namespace, actor, peer, "1" if send else "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    return process


def wait_ready(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line != "ready\n":
            process.kill()
            raise RuntimeError(f"a node did not start (it said {line!r})")


def finish(process: subprocess.Popen[str]) -> None:
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


# -- named actors and an idle grain, two nodes in this process --------------------------------


async def cluster_names_and_grains(url: str, namespace: str) -> dict[str, Any]:
    from playbill import Actor
    from playbill.actors import AfterIdle, Grain
    from playbill.distributed import RedisStore, RedisTransport
    from playbill.interpreters import ActorSystem

    class Cache(Actor):
        def receive(self, message: object) -> object:
            return message

    class Tab(Grain):
        def initial_state(self) -> object:
            return 0

        def receive(self, amount: int) -> object:
            self.state += amount  # saved when it deactivates
            return [self.state, self.context.self_ref.path.split("/")[1]]

    async with (
        ActorSystem("A", transport=RedisTransport(url, namespace=namespace, **OPTIONS)) as a,
        ActorSystem("B", transport=RedisTransport(url, namespace=namespace, **OPTIONS)) as b,
    ):
        caches = await asyncio.gather(
            a.get_or_spawn("shared/cache", Cache, durable=True),
            b.get_or_spawn("shared/cache", Cache, durable=True),
        )
        stores = [RedisStore(url, namespace=namespace) for _ in range(2)]
        tabs = [
            await system.transport.grain(Tab, "t1", store=store, stop_policy=AfterIdle(0.3))  # type: ignore[union-attr]
            for system, store in zip((a, b), stores, strict=True)
        ]
        first = await tabs[0].ask(5, timeout=5)
        lease = f"{namespace}:lease:{tabs[0].id}"
        client = a.transport._redis  # type: ignore[union-attr]
        while await client.exists(lease):  # idle: saved, stopped, lease released
            await asyncio.sleep(0.05)
        again = await tabs[1].ask(1, timeout=5)  # activates it again, state reloaded
        for store in stores:
            store.close()
    return {"named": len(set(caches)), "grain": [first, again]}


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the two nodes, kill one, restart it; return the counts (None when Redis or the
    ``redis`` extra is missing)."""
    from playbill.testing.redis import REDIS_MISSING, RedisServer, redis_server_path

    try:
        import redis
    except ImportError:
        printer("this example needs the redis extra: pip install 'playbill[redis]'")
        return {"skipped": "redis-py"}
    if redis_server_path() is None:
        printer(REDIS_MISSING)
        return {"skipped": "redis-server"}
    namespace = "two-nodes"
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)

        def handled(actor: str) -> int:
            return int(client.hlen(f"{namespace}:data:{actor}"))

        a = start_node(server.url, namespace, "alpha", "beta", send=True)
        b = start_node(server.url, namespace, "beta", "alpha", send=True)
        wait_ready(a, b)  # (started side by side: each is a Python start-up)
        started = time.monotonic()
        while handled("beta") < MESSAGES // 3:
            time.sleep(0.01)
        b.send_signal(signal.SIGKILL)
        finish(b)
        before = {"alpha": handled("alpha"), "beta": handled("beta")}
        printer(
            f"node B killed (SIGKILL) mid-handler: alpha had {before['alpha']}/{MESSAGES}, "
            f"beta {before['beta']}/{MESSAGES}"
        )
        b = start_node(server.url, namespace, "beta", "alpha", send=False)  # hosts, no resend
        wait_ready(b)
        printer("node B started again: it takes beta over once the old lease expired")
        deadline = time.monotonic() + 30
        while min(handled("alpha"), handled("beta")) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.02)
        after = {"alpha": handled("alpha"), "beta": handled("beta")}
        counted = [
            int(value)
            for actor in ("alpha", "beta")
            for value in client.hvals(f"{namespace}:data:{actor}")
        ]
        twice = sum(1 for value in counted if value > 1)
        printer(
            f"after: alpha {after['alpha']}/{MESSAGES}, beta {after['beta']}/{MESSAGES}, "
            f"counted twice: {twice} ({time.monotonic() - started:.1f}s)"
        )
        for process in (a, b):
            process.send_signal(signal.SIGTERM)  # a clean shutdown: leases released
            finish(process)
        client.close()
        cluster = asyncio.run(cluster_names_and_grains(server.url, "names"))
        first, again = cluster["grain"]
        printer(
            f"get_or_spawn('shared/cache', durable=True) on both nodes: {cluster['named']} actor; "
            f"grain t1 was {first[0]} on {first[1]}, idled out, and came back as {again[0]} "
            f"on {again[1]}"
        )
    return {"before": before, "after": after, "twice": twice, **cluster}


if __name__ == "__main__":
    if sys.argv[1:2] == ["node"]:
        url, namespace, actor, peer, send = sys.argv[2:7]
        asyncio.run(run_node(url, namespace, actor, peer, send == "1"))
    else:
        main()
