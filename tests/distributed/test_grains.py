"""Grains on Redis: `RedisStore` (state kept across activations and processes, stale saves
refused) under every interpreter."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import attrs
import pytest
import redis

from playbill import Actor, ActorSystem, free_spawn, program, simulate, sleep
from playbill.actors import AfterIdle, Deactivate, GetRoutees, Grain, VirtualActors
from playbill.distributed import RedisStore, StaleGrainState, message
from playbill.effects import InvalidArgument
from playbill.interpreters import stub
from tests.distributed.support import clean, eventually, node


@message("tests.grains.deposit", v=1)
@attrs.frozen
class Deposit:
    account: str
    amount: int


@message("tests.grains.balance", v=1)
@attrs.frozen
class Balance:
    account: str


class Account(Grain):
    def initial_state(self) -> object:
        return {"balance": 0, "history": []}

    def receive(self, message: object) -> object:
        if isinstance(message, Deposit):
            self.state["balance"] += message.amount
            self.state["history"].append(message)
        return self.state["balance"]


def _stored(url: str, key: str) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(url)
    try:
        return client.hgetall(key)  # type: ignore[return-value]
    finally:
        client.close()


def test_a_state_saved_is_loaded_back(redis_url, namespace):
    store = RedisStore(redis_url, namespace=namespace)
    try:
        assert stub.run(store.load("Account", "alice")) is None
        state = {"balance": 5, "history": [Deposit("alice", 5)], "pair": (1, "x")}
        stub.run(store.save("Account", "alice", state))
        other = RedisStore(redis_url, namespace=namespace)  # (another process's)
        assert stub.run(other.load("Account", "alice")) == state
        other.close()
        stored = _stored(redis_url, f"{namespace}:grain:Account:alice")
        assert stored[b"v"] == b"1"
        stub.run(store.save("Account", "alice", {"balance": 6}))  # (it knows version 1)
        assert stub.run(store.load("Account", "alice")) == {"balance": 6}
    finally:
        store.close()
    asyncio.run(clean(redis_url, namespace))


def test_a_stale_save_is_refused_and_the_newer_state_kept(redis_url, namespace):
    first, second = (
        RedisStore(redis_url, namespace=namespace),
        RedisStore(redis_url, namespace=namespace),
    )
    try:
        stub.run(first.save("Account", "bob", {"balance": 1}))
        assert stub.run(first.load("Account", "bob")) == {"balance": 1}
        assert stub.run(second.load("Account", "bob")) == {"balance": 1}
        stub.run(second.save("Account", "bob", {"balance": 2}))  # the newer activation
        with pytest.raises(StaleGrainState, match=r"version 2 since this one loaded version 1"):
            stub.run(first.save("Account", "bob", {"balance": 99}))
        assert stub.run(second.load("Account", "bob")) == {"balance": 2}
        # a blind save (no load first) expects nothing stored
        third = RedisStore(redis_url, namespace=namespace)
        with pytest.raises(StaleGrainState):
            stub.run(third.save("Account", "bob", {"balance": 0}))
        third.close()
    finally:
        first.close()
        second.close()
    asyncio.run(clean(redis_url, namespace))


@program
def _bank(store: RedisStore, idle: float, wait: float) -> object:
    accounts = yield free_spawn(
        VirtualActors(Account, lambda m: m.account, store, AfterIdle(idle)), name="accounts"
    )
    yield accounts.free_ask(Deposit("carol", 10))
    yield accounts.free_ask(Deposit("carol", 5))
    active = yield accounts.free_ask(GetRoutees())
    yield sleep(wait)  # deactivated: saved
    idle_now = yield accounts.free_ask(GetRoutees())
    balance = yield accounts.free_ask(Deposit("carol", 1))  # reactivated: reloaded
    return len(active), len(idle_now), balance


def test_idle_deactivation_saves_and_reactivation_reloads_under_asyncio(redis_url, namespace):
    async def main() -> object:
        store = RedisStore(redis_url, namespace=namespace)
        try:
            async with ActorSystem("app") as system:
                result = await system.run(_bank(store, 0.05, 0.3))
                await asyncio.sleep(0.3)  # idle again: saved again
        finally:
            store.close()
        return result

    assert asyncio.run(main()) == (1, 0, 16)
    stored = _stored(redis_url, f"{namespace}:grain:Account:carol")
    assert stored[b"v"] == b"2"  # saved by each deactivation
    fresh = RedisStore(redis_url, namespace=namespace)
    assert stub.run(fresh.load("Account", "carol"))["balance"] == 16
    fresh.close()
    asyncio.run(clean(redis_url, namespace))


def test_the_store_works_under_the_simulator(redis_url, namespace):
    store = RedisStore(redis_url, namespace=namespace)
    try:
        assert simulate(_bank(store, 60, 3600), seed=0).value == (1, 0, 16)
    finally:
        store.close()
    fresh = RedisStore(redis_url, namespace=namespace)
    # saved when idle, and again when the run's system stopped
    assert stub.run(fresh.load("Account", "carol"))["balance"] == 16
    assert _stored(redis_url, f"{namespace}:grain:Account:carol")[b"v"] == b"2"
    fresh.close()
    asyncio.run(clean(redis_url, namespace))


def test_a_second_activation_elsewhere_cannot_overwrite(redis_url, namespace):
    """Two systems, each with its own store (as two processes), activate the same grain:
    the one that saves second after the other saved is refused, its state dropped."""

    async def main() -> None:
        stores = [RedisStore(redis_url, namespace=namespace) for _ in range(2)]
        try:
            async with ActorSystem("a") as one, ActorSystem("b") as two:
                grains = [
                    system.spawn(VirtualActors(Account, lambda m: m.account, store), "accounts")
                    for system, store in zip((one, two), stores, strict=True)
                ]
                assert await grains[0].ask(Deposit("dave", 1), 5) == 1
                assert await grains[1].ask(Deposit("dave", 100), 5) == 100  # loaded nothing too
                assert await grains[1].ask(Deactivate("dave"), 5) is True
                await asyncio.sleep(0.1)
                assert stub.run(stores[1].load("Account", "dave"))["balance"] == 100
                assert await grains[0].ask(Deactivate("dave"), 5) is True
                await asyncio.sleep(0.1)
        finally:
            for store in stores:
                store.close()

    asyncio.run(main())
    fresh = RedisStore(redis_url, namespace=namespace)
    assert stub.run(fresh.load("Account", "dave"))["balance"] == 100  # not 1
    fresh.close()
    asyncio.run(clean(redis_url, namespace))


def test_bad_input_names_the_option():
    with pytest.raises(InvalidArgument, match="RedisStore url must start with redis://"):
        RedisStore("http://127.0.0.1")
    with pytest.raises(InvalidArgument, match=r"RedisStore refuses redis://10.0.0.5"):
        RedisStore("redis://10.0.0.5:6379/0")
    with pytest.raises(InvalidArgument, match=r"RedisStore namespace must be .* got 'a b'"):
        RedisStore("redis://127.0.0.1:6379/0", namespace="a b")
    with pytest.raises(InvalidArgument, match="RedisStore registry must be a MessageRegistry"):
        RedisStore("redis://127.0.0.1:6379/0", registry={})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="RedisStore allow_insecure must be True or False"):
        RedisStore("redis://127.0.0.1:6379/0", allow_insecure=1)  # type: ignore[arg-type]
    store = RedisStore("redis://127.0.0.1:6379/0")
    with pytest.raises(InvalidArgument, match=r"RedisStore keeps states as msgpack.*object"):
        store.save("Account", "x", object())
    with pytest.raises(InvalidArgument, match="RedisStore grain kind must be"):
        store.load("Acc:ount", "x")


# -- one activation across processes ----------------------------------------------------------


class Counter(Actor):
    built = 0

    def __init__(self) -> None:
        Counter.built += 1
        self.total = 0

    def receive(self, message: object) -> object:
        if isinstance(message, int):
            self.total += message
        return self.total


def test_two_nodes_racing_get_or_spawn_durable_get_one_actor(arun, redis_url, namespace):
    Counter.built = 0

    async def main() -> None:
        async with (
            node(redis_url, namespace, "a") as (one, transport_a),
            node(redis_url, namespace, "b") as (two, transport_b),
        ):
            refs = await asyncio.gather(
                one.get_or_spawn_durable(Counter, "cache"),
                two.get_or_spawn_durable(Counter, "cache"),
                one.get_or_spawn_durable(Counter, "cache"),  # (the same process, too)
                transport_b.get_or_spawn_durable(Counter, "cache"),
            )
            assert len(set(refs)) == 1, refs
            assert refs[0].incarnation == 1
            assert [transport_a.owns("cache"), transport_b.owns("cache")].count(True) == 1
            for ref in refs:
                ref.tell(5)
                await ref.flush()
            assert await refs[0].ask("total", timeout=5) == 20
            assert await refs[1].ask("total", timeout=5) == 20
            assert Counter.built == 1  # the standby built none
            again = await two.get_or_spawn_durable(Counter, "cache")
            assert again == refs[0]
        await clean(redis_url, namespace)

    arun(main())


class Wallet(Grain):
    activations: ClassVar[list[str]] = []

    def initial_state(self) -> object:
        return 0

    def on_activate(self) -> object:
        Wallet.activations.append(self.key)
        return None

    def receive(self, message: object) -> object:
        if isinstance(message, Deposit):
            self.state += message.amount
            balance = self.state
            return self.write_state().map(lambda _: balance)  # kept at once: a crash loses none
        return self.state


def test_a_grain_is_active_on_one_node_and_every_node_reaches_it(arun, redis_url, namespace):
    Wallet.activations = []

    async def main() -> None:
        stores = [RedisStore(redis_url, namespace=namespace) for _ in range(2)]
        try:
            async with (
                node(redis_url, namespace, "a") as (_, transport_a),
                node(redis_url, namespace, "b") as (_, transport_b),
            ):
                refs = await asyncio.gather(
                    transport_a.grain(Wallet, "erin", store=stores[0]),
                    transport_b.grain(Wallet, "erin", store=stores[1]),
                )
                assert refs[0] == refs[1]
                assert refs[0].id == "grain.Wallet.erin"
                assert await refs[0].ask(Deposit("erin", 10), timeout=5) == 10
                assert await refs[1].ask(Deposit("erin", 5), timeout=5) == 15
                assert await refs[0].ask(Balance("erin"), timeout=5) == 15
                assert Wallet.activations == ["erin"]
                owners = [transport_a.owns(refs[0].id), transport_b.owns(refs[0].id)]
                assert owners.count(True) == 1
                other = await transport_b.grain(Wallet, "frank", store=stores[1])
                assert await other.ask(Balance("frank"), timeout=5) == 0  # another key
        finally:
            for store in stores:
                store.close()
        # deactivated at shutdown: saved, by the store of the node that held it
        fresh = RedisStore(redis_url, namespace=namespace)
        assert stub.run(fresh.load("Wallet", "erin")) == 15
        fresh.close()
        await clean(redis_url, namespace)

    arun(main())


def test_after_its_node_dies_a_grain_activates_elsewhere_with_its_state(arun, redis_url, namespace):
    Wallet.activations = []

    async def main() -> None:
        stores = [RedisStore(redis_url, namespace=namespace) for _ in range(2)]
        loop = asyncio.get_running_loop()
        try:
            async with node(redis_url, namespace, "b") as (_, transport_b):
                async with node(redis_url, namespace, "a") as (_, transport_a):
                    on_a = await transport_a.grain(Wallet, "gina", store=stores[0])
                    assert await on_a.ask(Deposit("gina", 7), timeout=5) == 7
                    assert transport_a.owns(on_a.id)
                    await transport_a._halt()  # as SIGKILL
                    started = loop.time()
                # b addresses it after the crash: the lease expires, b activates it
                on_b = await transport_b.grain(Wallet, "gina", store=stores[1])
                on_b.tell(Deposit("gina", 3))
                await eventually(lambda: transport_b.owns(on_b.id), what="b takes it over")
                assert loop.time() - started < 3.0  # lease_ttl 0.6 and a standby's retry
                assert await on_b.ask(Balance("gina"), timeout=5) == 10
                assert Wallet.activations == ["gina", "gina"]
        finally:
            for store in stores:
                store.close()
        await clean(redis_url, namespace)

    arun(main())


def test_grain_bad_input_names_the_option(arun, redis_url, namespace):
    async def main() -> None:
        store = RedisStore(redis_url, namespace=namespace)
        async with node(redis_url, namespace, "a") as (system, transport):
            with pytest.raises(InvalidArgument, match="grain\\(\\) store must be a GrainStore"):
                await transport.grain(Wallet, "x", store={})  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="grain\\(\\) key must be 1-200"):
                await transport.grain(Wallet, "a b", store=store)
            with pytest.raises(InvalidArgument, match="grain\\(\\) key must be a str or an int"):
                await transport.grain(Wallet, 1.5, store=store)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="grain\\(\\) kind must be 1-200"):
                await transport.grain(lambda key: Wallet(key), "x", store=store)
            with pytest.raises(InvalidArgument, match="grain\\(\\) grain must be a Grain"):
                await transport.grain(42, "x", store=store)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="get_or_spawn_durable\\(\\) id must"):
                await system.get_or_spawn_durable(Counter, "a b")
        store.close()
        await clean(redis_url, namespace)

    arun(main())
