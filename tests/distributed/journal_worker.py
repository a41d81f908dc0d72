"""A worker process for the journal's kill -9 test (test_journal.py)::

    python -m tests.distributed.journal_worker URL NAMESPACE NODE_ID

It hosts the durable actor ``shipper`` on one node: each message (a str, an order id) runs
the durable workflow ``delivery`` on a `RedisJournal` — ship two parcels, a pause between —
so the journal of each order is staged and committed with its message. Each ship is also
counted outside the commit (``INCR shipped:<order>-<parcel>`` on its own client), so a
handling lost in a crash and done again shows. It prints ``ready`` and runs until it is
killed (SIGKILL) or terminated (SIGTERM).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import redis
from attrs import frozen

from playbill import Actor, Effect, perform, program, sleep
from playbill.distributed import RedisTransport
from playbill.durable import Durable, RedisJournal
from playbill.flow import Registry
from playbill.interpreters import ActorSystem


@frozen
class Ship(Effect[str]):
    parcel: str


@program
def delivery(order: str) -> Any:
    first = yield perform(Ship(f"{order}-a"))
    yield sleep(0.02)  # a kill lands mid-workflow
    second = yield perform(Ship(f"{order}-b"))
    return [first, second]


REGISTRY = Registry()
REGISTRY.register(delivery, name="delivery")


class Shipper(Actor):
    def __init__(self, journal: RedisJournal) -> None:
        self.durable = Durable(journal, REGISTRY)

    def receive(self, order: str) -> Any:
        return self.durable.program("delivery", order, order)


async def main(url: str, namespace: str, node_id: str) -> None:
    counter = redis.Redis.from_url(url)

    def ship(effect: Ship) -> str:
        counter.incr(f"{namespace}:shipped:{effect.parcel}")
        return f"shipped {effect.parcel}"

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    transport = RedisTransport(
        url, namespace=namespace, node_id=node_id, lease_ttl=1.0, heartbeat=0.25
    )
    with RedisJournal(url, namespace=namespace) as journal:
        async with ActorSystem(node_id, transport=transport, handlers={Ship: ship}) as system:
            await system.spawn_durable(lambda: Shipper(journal), id="shipper")
            print("ready", flush=True)
            await stop.wait()
    counter.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
