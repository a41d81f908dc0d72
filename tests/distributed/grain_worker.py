"""A worker process for the process-level grain test (test_processes.py)::

    python -m tests.distributed.grain_worker URL NAMESPACE NODE_ID KEY [IDLE]

It addresses the grain ``Purse(KEY)`` on the cluster (`RedisTransport.grain`, with a
`RedisStore` of its own; with ``IDLE``, ``stop_policy=AfterIdle(IDLE)``), prints ``ready``
once it did, and runs until it is killed (SIGKILL, as a crash) or terminated (SIGTERM: a
clean shutdown)."""

from __future__ import annotations

import asyncio
import signal
import sys

from playbill.actors import NEVER, AfterIdle, Grain
from playbill.distributed import RedisStore
from tests.distributed.support import node


class Purse(Grain):
    """An int balance: an int message adds to it (saved at once), anything else reads it;
    the reply is ``[balance, the node that runs it]``."""

    node = ""

    def initial_state(self) -> object:
        return 0

    def receive(self, message: object) -> object:
        if isinstance(message, int):
            self.state += message
            balance = self.state
            return self.write_state().map(lambda _: [balance, Purse.node])
        return [self.state, Purse.node]


async def main(url: str, namespace: str, node_id: str, key: str, idle: float | None) -> None:
    Purse.node = node_id
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    store = RedisStore(url, namespace=namespace)
    async with node(url, namespace, node_id) as (_, transport):
        policy = NEVER if idle is None else AfterIdle(idle)
        await transport.grain(Purse, key, store=store, stop_policy=policy)
        print("ready", flush=True)
        await stop.wait()
    store.close()


if __name__ == "__main__":
    url, namespace, node_id, key = sys.argv[1:5]
    idle = float(sys.argv[5]) if len(sys.argv) > 5 else None
    asyncio.run(main(url, namespace, node_id, key, idle))
