"""Tell and ask between two nodes (two systems with transports in one loop)."""

from __future__ import annotations

import attrs

from playbill import Actor
from playbill.distributed import DurableRef, message
from tests.distributed.support import clean, node


@message("tests.round_trip.add", v=1)
@attrs.frozen
class Add:
    amount: int


@message("tests.round_trip.total", v=1)
@attrs.frozen
class Total:
    pass


class Counter(Actor):
    def __init__(self) -> None:
        self.total = 0

    def receive(self, message: object) -> object:
        if isinstance(message, Add):
            self.total += message.amount
            return None
        if isinstance(message, Total):
            return {"total": self.total, "as": (1, "x")}
        return message


def test_tell_and_ask_between_two_nodes(arun, redis_url, namespace):
    async def main():
        async with node(redis_url, namespace, "a") as (system_a, transport_a):
            orders = await system_a.spawn_durable(Counter, id="orders")
            assert isinstance(orders, DurableRef)
            assert orders.incarnation == 1
            assert transport_a.owns("orders")
            async with node(redis_url, namespace, "b") as (system_b, _):
                remote = system_b.remote("orders")
                for amount in range(1, 11):
                    remote.tell(Add(amount))
                await remote.flush()
                reply = await remote.ask(Total(), timeout=5)
                assert reply == {"total": 55, "as": (1, "x")}, reply
                assert await remote.ask("echo", timeout=5) == "echo"
                # a local tell goes through the stream too, and keeps order with the asks
                orders.tell(Add(5))
                assert (await orders.ask(Total(), timeout=5))["total"] == 60
        await clean(redis_url, namespace)

    arun(main())


def test_core_playbill_does_not_import_the_distributed_engine():
    import subprocess
    import sys

    code = (
        "import playbill, sys; print('playbill.distributed' in sys.modules, 'redis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
