"""A worker process for the process-level tests (test_processes.py)::

    python -m tests.distributed.worker URL NAMESPACE NODE_ID ACTOR_IDS [DELAY]

It hosts the durable actors ``ACTOR_IDS`` (comma-separated) as `Tally`s on one node, prints
``ready`` once every `spawn_durable` returned (it owns some, stands by for the others), and
runs until it is killed (SIGKILL, as a crash) or terminated (SIGTERM: a clean shutdown).

A `Tally` counts each string message once, through a staged ``HINCRBY counts <key> 1``, and
counts every *attempt* outside the commit (a plain ``INCR attempts`` on its own client, so a
handler that runs again after a crash is counted again). It also answers asks:
``["echo", x]`` with ``x``, ``["sleep", s]`` with ``"slept"`` after ``s`` seconds.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import redis

from playbill import Actor, program, sleep
from playbill.distributed import redis_write
from tests.distributed.support import node


class Tally(Actor):
    url = ""
    namespace = ""
    delay = 0.0

    def __init__(self) -> None:
        self.client = redis.Redis.from_url(Tally.url)

    def receive(self, message: object) -> object:
        if isinstance(message, list | tuple) and message and message[0] == "echo":
            return message[1]
        if isinstance(message, list | tuple) and message and message[0] == "sleep":
            seconds = float(message[1])

            @program
            def slow():
                yield sleep(seconds)
                return "slept"

            return slow()
        key = str(message)
        # outside the commit: a handler run again after a crash counts again
        self.client.incr(f"{Tally.namespace}:attempts")

        @program
        def handle():
            yield sleep(Tally.delay)  # a kill lands mid-handler
            yield redis_write("HINCRBY", "counts", key, 1)
            return None

        return handle()


async def main(url: str, namespace: str, node_id: str, ids: list[str], delay: float) -> None:
    Tally.url, Tally.namespace, Tally.delay = url, namespace, delay
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with node(url, namespace, node_id) as (system, _):
        for actor_id in ids:
            await system.spawn_durable(Tally, id=actor_id)
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    url, namespace, node_id, ids = sys.argv[1:5]
    delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.001
    asyncio.run(main(url, namespace, node_id, ids.split(","), delay))
