"""A worker process for the process-level get-or-create test (test_named.py)::

    python -m tests.distributed.named_worker URL NAMESPACE NODE_ID PATH

It starts its node and prints ``started``; it then waits for the key ``{NAMESPACE}:go`` (so
that the test releases every worker at once, and they race), calls
``system.get_or_spawn(PATH, Counter, durable=True)``, prints ``ready ID INCARNATION`` and runs
until it is terminated (SIGTERM). A `Counter` counts its constructions in Redis
(``INCR {NAMESPACE}:built``), outside any commit, so an actor built twice is seen."""

from __future__ import annotations

import asyncio
import signal
import sys

import redis

from playbill import Actor
from tests.distributed.support import admin, node


class Counter(Actor):
    """Adds the ints it is told; answers anything else with ``[total, its node]``."""

    url = ""
    namespace = ""
    node = ""

    def __init__(self) -> None:
        client = redis.Redis.from_url(Counter.url)
        client.incr(f"{Counter.namespace}:built")
        client.close()
        self.total = 0

    def receive(self, message: object) -> object:
        if isinstance(message, int):
            self.total += message
        return [self.total, Counter.node]


async def main(url: str, namespace: str, node_id: str, path: str) -> None:
    Counter.url, Counter.namespace, Counter.node = url, namespace, node_id
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with node(url, namespace, node_id) as (system, _):
        print("started", flush=True)
        client = await admin(url)
        while not await client.exists(f"{namespace}:go"):
            await asyncio.sleep(0.001)
        await client.aclose()
        ref = await system.get_or_spawn(path, Counter, durable=True)
        print(f"ready {ref.id} {ref.incarnation}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    url, namespace, node_id, path = sys.argv[1:5]
    asyncio.run(main(url, namespace, node_id, path))
