"""The ACL that docs/distributed.md gives is enough for a node, and keeps it in its
namespace."""

from __future__ import annotations

import logging
import pathlib
import re

import pytest
import redis
import redis.exceptions

from playbill import Actor
from playbill.actors import Deactivate, Grain
from playbill.distributed import RedisStore, RedisTransport, redis_write
from playbill.interpreters import ActorSystem
from tests.distributed.support import FAST, admin, clean, eventually

DOCS = pathlib.Path(__file__).parent.parent.parent / "docs" / "distributed.md"


def documented_acl() -> list[str]:
    [block] = re.findall(r"```text\n(ACL SETUSER .*?)```", DOCS.read_text(), re.DOTALL)
    return block.split()[2:]  # after "ACL SETUSER"


class Shelf(Grain):
    def initial_state(self) -> object:
        return 0

    def receive(self, amount: int) -> object:
        self.state += amount
        return self.state


class Stock(Actor):
    def receive(self, message: object) -> object:
        if message == "poison":
            raise ValueError("poison")
        return redis_write("HINCRBY", "stock", "tea", 1).map(lambda _: message)


def test_the_documented_acl_lets_a_node_work_and_keeps_it_in_its_namespace(arun, redis_url, caplog):
    rules = documented_acl()
    assert rules[0] == "shop-node"
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    url = f"redis://shop-node:long-random-password@127.0.0.1:{port}/0"

    async def main():
        client = await admin(redis_url)
        await client.execute_command("ACL", "SETUSER", *rules)
        try:
            transport = RedisTransport(url, namespace="shop", max_deliveries=1, **FAST)
            async with ActorSystem("app", transport=transport) as system:
                ref = await system.spawn_durable(
                    Stock,
                    id="stock",
                )
                assert await ref.ask("one", timeout=5) == "one"
                ref.tell("poison")
                assert await ref.ask("two", timeout=5) == "two"
                assert len(await transport.dead_letters("stock")) == 1
                assert await client.hget("shop:data:stock", "tea") == b"2"
                with pytest.raises(redis.exceptions.NoPermissionError):
                    await transport._redis.set("elsewhere", "x")
                # get-or-create on the cluster, and a grain deactivated then asked (dormant)
                cache = await system.get_or_spawn("caches/stock", Stock, durable=True)
                assert await cache.ask("three", timeout=5) == "three"
                store = RedisStore(url, namespace="shop")
                shelf = await transport.grain(Shelf, "s1", store=store)
                assert await shelf.ask(4, timeout=5) == 4
                assert await shelf.ask(Deactivate("s1"), timeout=5) is True

                async def released() -> bool:
                    return not await client.exists("shop:lease:grain.Shelf.s1")

                await eventually(released, what="the deactivation")
                assert await shelf.ask(1, timeout=5) == 5  # activated again, state reloaded
                store.close()
        finally:
            await client.execute_command("ACL", "DELUSER", "shop-node")
            await client.aclose()
        await clean(redis_url, "shop")

    with caplog.at_level(logging.ERROR, logger="playbill"):
        arun(main())
    # a command the ACL refuses inside a script is an error the node logs and retries (the
    # poison message's failure is the supervisor's log, expected)
    refused = [record.getMessage() for record in caplog.records if record.module != "_failure_log"]
    assert not refused, refused


def test_the_documented_acl_lets_a_redis_journal_work_in_its_namespace(redis_url):
    from attrs import frozen

    from playbill import Effect, perform, program
    from playbill.durable import Completed, Durable, RedisJournal
    from playbill.flow import Registry

    @frozen
    class Pay(Effect[str]):
        amount: int

    @program
    def pay_twice(amount):
        first = yield perform(Pay(amount))
        return first, (yield perform(Pay(amount + 1)))

    registry = Registry()
    registry.register(pay_twice, name="pay")
    paid: list[int] = []

    def pay(effect):
        paid.append(effect.amount)
        return effect.amount

    rules = documented_acl()
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    url = f"redis://shop-node:long-random-password@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(redis_url)
    client.execute_command("ACL", "SETUSER", *rules)
    try:
        with RedisJournal(url, namespace="shop") as journal:
            durable = Durable(journal, registry, handlers={Pay: pay})
            assert durable.start("pay", "p-1", 5) == Completed("p-1", (5, 6))
            assert durable.recover("p-1") == Completed("p-1", (5, 6))
            durable.fork("p-1", at=1, new_id="p-2", result=9)
            assert durable.repair("p-2") == 2
            assert [record.workflow_id for record in durable.journal.workflows()] == ["p-1", "p-2"]
        assert paid == [5, 6]
        with (
            RedisJournal(url, namespace="elsewhere") as outside,
            pytest.raises(redis.exceptions.NoPermissionError),
        ):
            outside.open("x", "pay", "null")
    finally:
        client.execute_command("ACL", "DELUSER", "shop-node")
        for key in client.scan_iter(match="shop:*"):
            client.delete(key)
        client.close()
