"""A durable workflow run by a durable actor on Redis: its journal appends are staged and
written by the COMMIT that acknowledges the message and records its dedup, so after a crash
the message is pending and its entries absent, or both are done."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from playbill import Actor, Effect, perform, program
from playbill.distributed import RedisTransport, message
from playbill.durable import (
    Completed,
    Durable,
    Entry,
    EntryKind,
    Paused,
    RedisJournal,
    Status,
    await_input,
    canonical,
)
from playbill.flow import Registry
from playbill.interpreters import ActorSystem
from tests.distributed.support import FAST, admin, clean, eventually


@attrs.frozen
class Charge(Effect[str]):
    order: str


@attrs.frozen
class Hold(Effect[None]):
    """Waits for the test's gate: the handler is held after its first effect."""


@message("tests.journal.order", v=1)
@attrs.frozen
class Order:
    id: str


@message("tests.journal.answer", v=1)
@attrs.frozen
class Answer:
    id: str
    approved: bool


CHARGES: list[str] = []
HANDLED: list[object] = []
GATE: list[asyncio.Event] = []


def charge(effect: Charge) -> str:
    CHARGES.append(effect.order)
    return f"receipt-{effect.order}"


async def hold(effect: Hold) -> None:
    if GATE:
        await GATE[0].wait()


@program
def order_flow(order: str) -> Any:
    receipt = yield perform(Charge(order))
    yield perform(Hold())
    return receipt


@program
def approval(order: str) -> Any:
    approved = yield await_input(f"ship {order}?", bool)
    if approved:
        return (yield perform(Charge(order)))
    return "declined"


REGISTRY = Registry()
REGISTRY.register(order_flow, name="order")
REGISTRY.register(approval, name="approval")


class Orders(Actor):
    """Runs one durable workflow per order, in its receive."""

    def __init__(self, journal: RedisJournal) -> None:
        self.durable = Durable(journal, REGISTRY)

    def receive(self, message: object) -> Any:
        HANDLED.append(message)
        if isinstance(message, Answer):
            run = self.durable.continuation(message.id, message.approved)
        else:
            assert isinstance(message, Order)
            workflow = "approval" if message.id.startswith("ask") else "order"
            run = self.durable.program(workflow, message.id, message.id)
        return run.map(lambda outcome: outcome.value if isinstance(outcome, Completed) else None)


@pytest.fixture(autouse=True)
def fresh():
    CHARGES.clear()
    HANDLED.clear()
    GATE.clear()
    yield
    CHARGES.clear()
    HANDLED.clear()
    GATE.clear()


@contextlib.asynccontextmanager
async def node(url: str, namespace: str, node_id: str) -> AsyncIterator[Any]:
    transport = RedisTransport(url, namespace=namespace, node_id=node_id, **FAST)
    handlers = {Charge: charge, Hold: hold}
    async with ActorSystem(node_id, transport=transport, handlers=handlers) as system:
        yield system, transport


async def pending(client: Any, namespace: str) -> int:
    found = await client.xpending(f"{namespace}:mbox:orders", "playbill")
    return int(found["pending"])


def test_the_journal_is_written_by_the_commit_that_acknowledges_the_message(
    arun, redis_url, namespace
):
    async def main():
        GATE.append(asyncio.Event())
        client = await admin(redis_url)
        with RedisJournal(redis_url, namespace=namespace) as journal:
            async with node(redis_url, namespace, "a") as (system, _):
                ref = await system.spawn_durable(lambda: Orders(journal), id="orders")
                ref.tell(Order("o1"))
                await eventually(lambda: CHARGES == ["o1"], what="the charge")
                # handled up to Hold: its charge is staged, not written, and not acknowledged
                assert await pending(client, namespace) == 1
                assert not await client.exists(journal.record_key("o1"))
                assert not await client.exists(journal.journal_key("o1"))
                GATE[0].set()
                await eventually(lambda: _acknowledged(client, namespace), what="the commit")
            durable = Durable(journal, REGISTRY)
            assert durable.status("o1").status is Status.COMPLETED
            assert [entry.effect for entry in durable.entries("o1")] == [
                canonical(Charge("o1")),
                canonical(Hold()),
            ]
        assert CHARGES == ["o1"]
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


async def _acknowledged(client: Any, namespace: str) -> bool:
    return await pending(client, namespace) == 0


def test_a_crash_before_the_commit_leaves_neither_and_the_redelivery_journals_it_once(
    arun, redis_url, namespace
):
    async def main():
        GATE.append(asyncio.Event())
        client = await admin(redis_url)
        with RedisJournal(redis_url, namespace=namespace) as journal:
            async with node(redis_url, namespace, "a") as (system_a, transport_a):
                ref = await system_a.spawn_durable(lambda: Orders(journal), id="orders")
                async with node(redis_url, namespace, "b") as (system_b, transport_b):
                    await system_b.spawn_durable(lambda: Orders(journal), id="orders")
                    ref.tell(Order("o1"))
                    await eventually(lambda: CHARGES == ["o1"], what="node a's charge")
                    await transport_a._halt()  # killed after the charge, before the commit
                    assert await pending(client, namespace) == 1
                    assert not await client.exists(journal.journal_key("o1"))
                    GATE[0].set()
                    await eventually(lambda: transport_b.owns("orders"), what="takeover")
                    await eventually(
                        lambda: _acknowledged(client, namespace), what="the redelivery"
                    )
            durable = Durable(journal, REGISTRY)
            assert durable.status("o1").status is Status.COMPLETED
            entries = durable.entries("o1")
        # the charge was lost with node a's uncommitted message and made again (at least
        # once); the journal holds it once, with the acknowledgement of the redelivery
        assert CHARGES == ["o1", "o1"]
        assert [entry.position for entry in entries] == ["0", "1"]
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_journal_moved_under_a_handler_leaves_its_message_pending_and_it_replays_the_move(
    arun, redis_url, namespace
):
    async def main():
        GATE.append(asyncio.Event())
        client = await admin(redis_url)
        with (
            RedisJournal(redis_url, namespace=namespace) as journal,
            RedisJournal(redis_url, namespace=namespace) as other,
        ):
            async with node(redis_url, namespace, "a") as (system, _):
                ref = await system.spawn_durable(lambda: Orders(journal), id="orders")
                answer = asyncio.ensure_future(ref.ask(Order("o1"), timeout=10))
                await eventually(lambda: CHARGES == ["o1"], what="the charge")
                # another writer journals the workflow meanwhile (two runs of one workflow)
                other.open("o1", "order", '"o1"')
                payload = '"receipt-elsewhere"'
                other.append("o1", Entry("0", canonical(Charge("o1")), EntryKind.VALUE, payload))
                GATE[0].set()
                # the commit's guard failed: nothing of it was done, the message was
                # redelivered, and the redelivery replayed the other writer's charge
                assert await answer == "receipt-elsewhere"
                assert await pending(client, namespace) == 0
            assert [type(each) for each in HANDLED] == [Order, Order]
            entries = Durable(journal, REGISTRY).entries("o1")
        assert CHARGES == ["o1"]
        assert [entry.payload for entry in entries][:1] == [payload]
        assert len(entries) == 2
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_message_reads_the_journal_its_predecessor_committed(arun, redis_url, namespace):
    # the second message resumes the workflow the first paused: the first one's commit is
    # done before the second is handled, so the second is handled once and finds it paused
    async def main():
        with RedisJournal(redis_url, namespace=namespace) as journal:
            async with node(redis_url, namespace, "a") as (system, _):
                ref = await system.spawn_durable(lambda: Orders(journal), id="orders")
                for n in range(5):
                    ref.tell(Order(f"ask-{n}"))
                    ref.tell(Answer(f"ask-{n}", n % 2 == 0))
                assert await ref.ask(Order("o-last"), timeout=10) == "receipt-o-last"
            durable = Durable(journal, REGISTRY)
            outcomes = [durable.status(f"ask-{n}").status for n in range(5)]
            paused = Durable(journal, REGISTRY).start("approval", "ask-new", "x")
        assert outcomes == [Status.COMPLETED] * 5
        assert isinstance(paused, Paused)
        assert len(HANDLED) == 11  # none redelivered
        assert CHARGES == ["ask-0", "ask-2", "ask-4", "o-last"]
        await clean(redis_url, namespace)

    arun(main())


def test_a_node_killed_mid_workflow_is_taken_over_and_each_journal_is_whole(redis_url, namespace):
    # process-level: a worker hosting the shipper is SIGKILLed while it ships, another
    # process takes the actor over; every order's workflow completes, its journal holds
    # each ship once, and only the order whose message was being handled at the kill
    # (committed one message at a time) can have shipped a parcel twice
    import os
    import pathlib
    import signal
    import sys

    import redis

    root = pathlib.Path(__file__).resolve().parent.parent.parent
    orders = [f"o{n}" for n in range(30)]

    async def start(node_id: str) -> asyncio.subprocess.Process:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.distributed.journal_worker",
            redis_url,
            namespace,
            node_id,
            cwd=root,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 15)
        assert line == b"ready\n", f"worker {node_id} did not start: {line!r}"
        return process

    async def shipped() -> dict[str, int]:
        client = await admin(redis_url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{namespace}:shipped:*")]
            values = await client.mget(keys) if keys else []
        finally:
            await client.aclose()
        return {
            key.decode().rsplit(":", 1)[1]: int(value)
            for key, value in zip(keys, values, strict=True)
        }

    async def main():
        first = await start("w1")
        second = None
        try:
            async with node(redis_url, namespace, "client") as (system, transport):
                shipper = system.remote("shipper")
                for order in orders:
                    shipper.tell(order)
                await transport.flush()
                await eventually(
                    lambda: _shipped_some(shipped, 10), timeout=30, what="shipping under way"
                )
                first.send_signal(signal.SIGKILL)  # mid-load: one message mid-workflow
                await first.wait()
                second = await start("w2")
                client = await admin(redis_url)
                await eventually(
                    lambda: _all_acknowledged(client, namespace),
                    timeout=60,
                    what="every order handled",
                )
                await client.aclose()
        finally:
            for process in (first, second):
                if process is not None and process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 15)
        return await shipped()

    counts = asyncio.run(asyncio.wait_for(main(), 150))
    from tests.distributed.journal_worker import REGISTRY as WORKER_REGISTRY
    from tests.distributed.journal_worker import Ship

    with RedisJournal(redis_url, namespace=namespace) as journal:
        durable = Durable(journal, WORKER_REGISTRY)
        statuses = {order: durable.status(order).status for order in orders}
        journals = {order: [e.effect for e in durable.entries(order)] for order in orders}
    assert set(statuses.values()) == {Status.COMPLETED}
    for order in orders:  # each ship journaled once, in order, whatever happened
        ships = [effect for effect in journals[order] if effect.startswith("Ship")]
        assert ships == [canonical(Ship(f"{order}-a")), canonical(Ship(f"{order}-b"))]
        assert len(journals[order]) == 3  # ship, sleep, ship
    assert set(counts) == {f"{order}-{parcel}" for order in orders for parcel in "ab"}
    repeated = {parcel.rsplit("-", 1)[0] for parcel, count in counts.items() if count > 1}
    assert len(repeated) <= 1, f"parcels shipped twice for {repeated}"
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.keys(f"{namespace}:*"))
    client.close()


async def _shipped_some(shipped: Any, at_least: int) -> bool:
    return sum((await shipped()).values()) >= at_least


async def _all_acknowledged(client: Any, namespace: str) -> bool:
    # every entry read and acknowledged (the last one too: nothing pending, none new)
    info = await client.xinfo_groups(f"{namespace}:mbox:shipper")
    return bool(info) and info[0]["pending"] == 0 and info[0]["lag"] == 0
