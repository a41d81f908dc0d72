"""Cluster grains deactivate: ``transport.grain(..., stop_policy=AfterIdle(seconds))`` after
``seconds`` with no message, and ``Deactivate(key)`` by hand. A deactivated grain has saved
its state, stopped and released its lease; the next message, from any process, activates a
fresh instance on a node that addressed it, with the state reloaded; a message racing with
the deactivation is handled by some incarnation, never lost."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import attrs
import pytest

from playbill import program, sleep
from playbill.actors import NEVER, ONE_TIME, AfterIdle, Deactivate, Grain
from playbill.distributed import RedisStore, message
from playbill.effects import InvalidArgument
from playbill.interpreters import stub
from tests.distributed.support import admin, clean, eventually, node


@message("tests.deactivation.add", v=1)
@attrs.frozen
class Add:
    amount: int


class Tab(Grain):
    """An int state, saved only when the grain deactivates (no ``write_state`` per message):
    a reactivation that sees the total proves the deactivation saved it. Replies ``[total,
    the node running it]``."""

    activations: ClassVar[list[str]] = []
    deactivations: ClassVar[list[str]] = []
    deactivating: ClassVar[asyncio.Event | None] = None
    linger = 0.0  # seconds its on_deactivate takes (the window a racing message falls in)

    def initial_state(self) -> object:
        return 0

    def _node(self) -> str:
        return self.context.self_ref.path.split("/")[1]  # (the node's system is its node id)

    def on_activate(self) -> object:
        Tab.activations.append(self._node())
        return None

    def on_deactivate(self) -> object:
        Tab.deactivations.append(self._node())
        if Tab.deactivating is not None:
            Tab.deactivating.set()

        @program
        def linger():
            yield sleep(Tab.linger)

        return linger()

    def receive(self, message: object) -> object:
        if isinstance(message, Add):
            self.state += message.amount
        return [self.state, self._node()]


def _reset(linger: float = 0.0) -> None:
    Tab.activations, Tab.deactivations, Tab.linger = [], [], linger
    Tab.deactivating = None


async def _leased(url: str, namespace: str, grain_id: str) -> bool:
    client = await admin(url)
    try:
        return bool(await client.exists(f"{namespace}:lease:{grain_id}"))
    finally:
        await client.aclose()


def _saved(url: str, namespace: str, key: str) -> object:
    store = RedisStore(url, namespace=namespace)
    try:
        return stub.run(store.load("Tab", key))
    finally:
        store.close()


def test_an_idle_grain_saves_stops_releases_its_lease_and_the_next_message_reactivates_it(
    arun, redis_url, namespace
):
    _reset()

    async def main() -> None:
        stores = [RedisStore(redis_url, namespace=namespace) for _ in range(2)]
        idle = AfterIdle(0.3)
        try:
            async with (
                node(redis_url, namespace, "a") as (system_a, transport_a),
                node(redis_url, namespace, "b") as (_, transport_b),
                node(redis_url, namespace, "c") as (system_c, _),
            ):
                refs = await asyncio.gather(
                    transport_a.grain(Tab, "ivy", store=stores[0], stop_policy=idle),
                    transport_b.grain(Tab, "ivy", store=stores[1], stop_policy=idle),
                )
                grain_id = refs[0].id
                total, first = await refs[0].ask(Add(10), timeout=5)
                assert total == 10
                assert await refs[1].ask(Add(5), timeout=5) == [15, first]
                assert Tab.activations == [first]
                # idle for 0.3 s: saved, stopped, the lease released; no node runs it
                await eventually(
                    lambda: Tab.deactivations == [first], timeout=5, what="the deactivation"
                )
                await eventually(
                    _not_leased(redis_url, namespace, grain_id), what="the lease's release"
                )
                assert not transport_a.owns(grain_id)
                assert not transport_b.owns(grain_id)
                assert _saved(redis_url, namespace, "ivy") == 15
                local = f"durable:{grain_id}"
                assert local not in [ref.path.rsplit("/", 1)[1] for ref in system_a.children]
                # a message from a process that never addressed it activates it again
                again = await system_c.remote(grain_id).ask(Add(1), timeout=5)
                assert again[0] == 16  # the saved state, reloaded
                assert len(Tab.activations) == 2
                assert again[1] in ("a", "b")
                # idle again: saved again; the next message reactivates it once more
                await eventually(lambda: len(Tab.deactivations) == 2, timeout=5)
                assert await refs[1].ask("total", timeout=5) == [16, Tab.activations[2]]
                # NEVER (the default) keeps a grain active
                steady = await transport_a.grain(Tab, "jon", store=stores[0])
                assert (await steady.ask(Add(1), timeout=5))[0] == 1
                await asyncio.sleep(0.5)
                assert transport_a.owns(steady.id)
        finally:
            for store in stores:
                store.close()
        await clean(redis_url, namespace)

    arun(main())


def _not_leased(url: str, namespace: str, grain_id: str):
    async def check() -> bool:
        return not await _leased(url, namespace, grain_id)

    return check


def test_messages_racing_with_a_deactivation_are_all_handled(arun, redis_url, namespace):
    """The grain's on_deactivate lingers 0.3 s; messages sent in that window (tells and an
    ask, from the owner's node, the other node and a third) all reach the next incarnation,
    which starts from the state the deactivation saved."""
    _reset(linger=0.3)

    async def main() -> None:
        stores = [RedisStore(redis_url, namespace=namespace) for _ in range(2)]
        idle = AfterIdle(0.2)
        Tab.deactivating = asyncio.Event()
        try:
            async with (
                node(redis_url, namespace, "a") as (_, transport_a),
                node(redis_url, namespace, "b") as (_, transport_b),
                node(redis_url, namespace, "c") as (system_c, _),
            ):
                refs = [
                    await transport_a.grain(Tab, "kai", store=stores[0], stop_policy=idle),
                    await transport_b.grain(Tab, "kai", store=stores[1], stop_policy=idle),
                    system_c.remote("grain.Tab.kai"),
                ]
                assert (await refs[0].ask(Add(100), timeout=5))[0] == 100
                await asyncio.wait_for(Tab.deactivating.wait(), 5)  # it is deactivating now
                for n in range(30):
                    refs[n % 3].tell(Add(1))
                asked = asyncio.ensure_future(refs[2].ask(Add(1000), timeout=10))
                for ref in refs:
                    await ref.flush()
                total, _ = await asked  # (handled after c's tells; a's and b's may follow)
                assert 1110 <= total <= 1130
                final, _ = await refs[2].ask("total", timeout=10)
                assert final == 1130  # every message handled: none lost
                assert len(Tab.deactivations) == 1
                assert len(Tab.activations) == 2  # the next incarnation handled them
                assert await transport_a.dead_letters("grain.Tab.kai") == []
        finally:
            for store in stores:
                store.close()
        await clean(redis_url, namespace)

    arun(main())


def test_deactivate_by_hand_handles_what_was_sent_before_and_after(arun, redis_url, namespace):
    _reset()

    async def main() -> None:
        store = RedisStore(redis_url, namespace=namespace)
        try:
            async with node(redis_url, namespace, "a") as (_, transport):
                tab = await transport.grain(Tab, "lou", store=store)
                tab.tell(Add(2))
                assert await tab.ask(Deactivate("someone else"), timeout=5) is False
                assert Tab.deactivations == []
                assert await tab.ask(Deactivate("lou"), timeout=5) is True
                tab.tell(Add(3))  # behind the deactivation in the stream: reactivates it
                assert await tab.ask("total", timeout=5) == [5, "a"]
                assert Tab.deactivations == ["a"]
                assert Tab.activations == ["a", "a"]
                assert _saved(redis_url, namespace, "lou") == 2  # what the deactivation saved
                # an int key, by hand too
                seven = await transport.grain(Tab, 7, store=store)
                assert await seven.ask(Deactivate(7), timeout=5) is True
                await eventually(_not_leased(redis_url, namespace, seven.id))
                assert not transport.owns(seven.id)
        finally:
            store.close()
        await clean(redis_url, namespace)

    arun(main())


def test_a_bad_stop_policy_is_refused(arun, redis_url, namespace):
    async def main() -> None:
        store = RedisStore(redis_url, namespace=namespace)
        try:
            async with node(redis_url, namespace, "a") as (_, transport):
                for policy in ("idle", ONE_TIME, 5):
                    with pytest.raises(
                        InvalidArgument,
                        match=r"grain\(\) stop_policy must be NEVER or AfterIdle\(seconds\)",
                    ):
                        await transport.grain(Tab, "x", store=store, stop_policy=policy)  # type: ignore[arg-type]
                ref = await transport.grain(Tab, "x", store=store, stop_policy=NEVER)
                assert ref.id == "grain.Tab.x"
        finally:
            store.close()
        await clean(redis_url, namespace)

    arun(main())


class Refusing(Grain):
    """Stops itself as it activates (after its first activation): it never handles the
    message that waits for it."""

    activations = 0

    def on_activate(self) -> object:
        Refusing.activations += 1
        if Refusing.activations > 1:
            self.context.stop(self.context.self_ref)
        return None

    def receive(self, message: object) -> object:
        return message


def test_a_grain_that_never_handles_a_message_is_not_activated_in_a_busy_loop(
    arun, redis_url, namespace
):
    async def main() -> None:
        Refusing.activations = 0
        store = RedisStore(redis_url, namespace=namespace)
        try:
            async with node(redis_url, namespace, "a") as (_, transport):
                ref = await transport.grain(Refusing, "r", store=store, stop_policy=AfterIdle(0.1))
                await eventually(_not_leased(redis_url, namespace, ref.id))
                ref.tell("waits for ever")
                await ref.flush()
                await asyncio.sleep(2.0)
                # with pauses growing to lease_ttl (0.6 s): about 7; without them, dozens
                assert 3 <= Refusing.activations <= 20
        finally:
            store.close()
        await clean(redis_url, namespace)

    arun(main())
