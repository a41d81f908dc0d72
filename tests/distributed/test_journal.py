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
