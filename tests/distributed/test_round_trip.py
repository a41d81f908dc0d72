"""Tell and ask between two nodes (two systems with transports in one loop)."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from playbill import Actor, program, sleep
from playbill.distributed import DurableRef, RemoteError, message
from tests.distributed.support import admin, clean, eventually, node


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


def test_a_clean_shutdown_releases_the_lease_and_a_standby_takes_over_at_once(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "b") as (system_b, transport_b):
            async with node(redis_url, namespace, "a") as (system_a, _):
                ref = await system_a.spawn_durable(Counter, id="c")
                await system_b.spawn_durable(Counter, id="c")  # b stands by
                ref.tell(Add(2))
                assert (await ref.ask(Total(), timeout=5))["total"] == 2
                assert not transport_b.owns("c")
            # a closed: its lease, heartbeat and reply stream are gone
            assert await client.exists(f"{namespace}:node:a", f"{namespace}:reply:a") == 0
            await eventually(lambda: transport_b.owns("c"), timeout=1.0, what="the takeover")
            remote = system_b.remote("c")
            remote.tell(Add(3))
            # the state was a's instance's; b's instance starts afresh (state in Redis is
            # what survives: see redis_write)
            assert (await remote.ask(Total(), timeout=5))["total"] == 3
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


class Unencodable(Actor):
    def receive(self, message: object) -> object:
        return object()


def test_a_reply_that_cannot_travel_fails_the_ask_with_a_remote_error(arun, redis_url, namespace):
    async def main():
        async with node(redis_url, namespace, "a") as (system, _):
            ref = await system.spawn_durable(Unencodable, id="u")
            with pytest.raises(RemoteError, match="InvalidArgument: object is not a registered"):
                await ref.ask("x", timeout=5)
        await clean(redis_url, namespace)

    arun(main())


class Relay(Actor):
    """Tells Add to the durable actor COUNTER[0] and asks it for the total; on node a's
    system it then waits for GATE (so node a can be killed mid-handler)."""

    def receive(self, message: object) -> object:
        target = COUNTER[0]
        on_a = self.context.self_ref.path.startswith("/a/")

        @program
        def relay():
            yield target.free_tell(message)  # staged: appended by this message's commit
            total = yield target.free_ask(Total(), timeout=5)  # sent at once
            while on_a and not GATE.is_set():
                yield sleep(0.02)
            return total

        return relay()


COUNTER: list[DurableRef] = []
GATE = asyncio.Event()


def test_a_durable_actor_tells_and_asks_another_as_effects_its_tells_sent_by_the_commit(
    arun, redis_url, namespace
):
    async def main():
        async with node(redis_url, namespace, "b") as (system, _):
            counter = await system.spawn_durable(Counter, id="counter")
            COUNTER[:] = [counter]
            relay = await system.spawn_durable(Relay, id="relay")
            # the ask overtakes the handler's own staged tell: it sees the total before it
            assert (await relay.ask(Add(4), timeout=5))["total"] == 0
            assert (await relay.ask(Add(1), timeout=5))["total"] == 4
            assert (await counter.ask(Total(), timeout=5))["total"] == 5
        await clean(redis_url, namespace)

    arun(main())


def test_a_tell_staged_by_a_handler_killed_mid_way_is_sent_once(arun, redis_url, namespace):
    async def main():
        GATE.clear()
        async with node(redis_url, namespace, "b") as (system_b, transport_b):
            counter = await system_b.spawn_durable(Counter, id="counter")
            COUNTER[:] = [counter]
            async with node(redis_url, namespace, "a") as (system_a, transport_a):
                relay = await system_a.spawn_durable(Relay, id="relay")
                await system_b.spawn_durable(Relay, id="relay")  # b stands by
                relay.tell(Add(1))
                await eventually(
                    lambda: transport_a._hosts["relay"].writes is not None, what="a handles it"
                )
                await asyncio.sleep(0.2)  # a told and asked, and waits for the gate
                await transport_a._halt()  # killed: no commit, so its tell was never sent
                await eventually(lambda: transport_b.owns("relay"), what="b's takeover")
                await eventually(lambda: _total(counter, 1), what="the redelivered handler's tell")
                await asyncio.sleep(0.3)
                assert (await counter.ask(Total(), timeout=5))["total"] == 1  # once
                GATE.set()
        await clean(redis_url, namespace)

    arun(main())


async def _total(counter, expected):
    return (await counter.ask(Total(), timeout=5))["total"] == expected


def test_the_node_resumes_after_redis_restarts(arun, tmp_path, namespace):
    from playbill.testing.redis import RedisServer

    # its own server (a small AOF reloads at once) and a lease that outlives the restart: the
    # actor keeps its lease, so its state, through the outage (a longer outage than the lease
    # hands the actor over, and a new instance starts; see test_lease.py)
    server = RedisServer(directory=tmp_path, appendfsync="always").start()

    async def main():
        async with node(server.url, namespace, "a", lease_ttl=10.0, heartbeat=1.0) as (
            system,
            _,
        ):
            ref = await system.spawn_durable(Counter, id="c")
            for n in range(10):
                ref.tell(Add(n))
            assert (await ref.ask(Total(), timeout=5))["total"] == 45
            await asyncio.get_running_loop().run_in_executor(None, server.restart)
            for n in range(10):
                ref.tell(Add(n))
            assert (await ref.ask(Total(), timeout=15))["total"] == 90
        await clean(server.url, namespace)

    try:
        arun(main())
    finally:
        server.close()


class Greeter(Actor):
    """Answers Hello(reply_to) by telling the ref it was given."""

    def receive(self, message: object) -> object:
        if isinstance(message, Hello):
            message.reply_to.tell(f"hello from {self.context.self_ref.path}")
            return message.reply_to
        return None


class Inbox(Actor):
    def receive(self, message: object) -> object:
        RECEIVED.append(message)
        return None


RECEIVED: list[object] = []


@message("tests.round_trip.hello", v=1)
@attrs.frozen
class Hello:
    reply_to: DurableRef


def test_a_durable_ref_travels_in_a_message_and_works_on_arrival(arun, redis_url, namespace):
    async def main():
        RECEIVED.clear()
        async with node(redis_url, namespace, "a") as (system_a, _):
            greeter = await system_a.spawn_durable(Greeter, id="greeter")
            async with node(redis_url, namespace, "b") as (system_b, transport_b):
                inbox = await system_b.spawn_durable(Inbox, id="inbox")
                returned = await system_b.remote("greeter").ask(Hello(inbox), timeout=5)
                assert returned == inbox  # came back as a ref, bound to b's transport
                assert returned.binding is transport_b
                await eventually(lambda: RECEIVED == ["hello from /a/durable:greeter"])
            del greeter
        await clean(redis_url, namespace)

    arun(main())


def test_on_an_ask_path_each_side_writes_first_what_the_other_side_waits_for(
    arun, redis_url, namespace, monkeypatch
):
    from playbill.distributed import _host, _transport

    events = []
    real_append, real_commit = _transport.RedisTransport._append, _host._Host._call_commit

    def append(self, *args):  # a sender's write alone
        events.append("append")
        return real_append(self, *args)

    def call_commit(self, *args):  # a commit sent alone
        events.append("commit")
        return real_commit(self, *args)

    monkeypatch.setattr(_transport.RedisTransport, "_append", append)
    monkeypatch.setattr(_host._Host, "_call_commit", call_commit)

    def record_writes(module, client, names):
        """Each write of ``client`` through ``module``'s one_write, as command names."""
        real_one_write = module.one_write

        def one_write(to, commands, **kwargs):
            if to is client:
                sent = [names(command) for command in commands]
                events.append("+".join(name for name in sent if name))
            return real_one_write(to, commands, **kwargs)

        monkeypatch.setattr(module, "one_write", one_write)

    async def main():
        async with node(redis_url, namespace, "host") as (host, host_transport):
            await host.spawn_durable(Counter, id="echo")
            async with node(redis_url, namespace, "asker") as (asker, transport):
                ref = asker.remote("echo")
                assert await ref.ask(0, timeout=5) == 0
                commit_sha = host_transport._scripts["COMMIT"].sha
                append_sha = transport._scripts["APPEND"].sha
                record_writes(
                    _host,
                    host_transport._redis,
                    lambda command: (
                        "commit"
                        if command[:2] == ("EVALSHA", commit_sha)
                        else "read"
                        if command[0] == "XREAD"
                        else ""
                    ),
                )
                record_writes(
                    _transport,
                    transport._redis,
                    lambda command: (
                        "append"
                        if command[:2] == ("EVALSHA", append_sha)
                        else "xadd"
                        if command[0] == "XADD"
                        else "reread"
                        if command[0] == "XREAD"
                        else ""
                    ),
                )
                events.clear()
                for n in range(1, 4):
                    assert await ref.ask(n, timeout=5) == n
        # one write a side and an ask: the asker's next message goes in the write of its
        # reply read (a plain XADD: no script for one entry), and the host's commit (the
        # reply) in the write of its next read
        assert events[:6] == ["xadd+reread", "commit+read"] * 3, events
        await clean(redis_url, namespace)

    arun(main())


def test_an_asks_reply_is_matched_by_its_message_id_with_no_uuid_drawn(
    arun, redis_url, namespace, monkeypatch
):
    """The correlation id of an ask is its message id (random per node run, then a
    counter): unique to the node's reply stream as a uuid4 was, without drawing one (an
    ``os.urandom`` call) an ask."""
    import msgpack

    from playbill.distributed import _transport

    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "host") as (host, _):
            await host.spawn_durable(Counter, id="echo")
            async with node(redis_url, namespace, "asker") as (asker, _):
                ref = asker.remote("echo")

                def no_uuid():
                    raise AssertionError("an ask drew a uuid4")

                monkeypatch.setattr(_transport.uuid, "uuid4", no_uuid)
                assert [await ref.ask(n, timeout=5) for n in range(3)] == [0, 1, 2]
                monkeypatch.undo()
                entries = await client.xrange(f"{namespace}:mbox:echo")
        await client.aclose()
        await clean(redis_url, namespace)
        return [(fields[b"i"], msgpack.unpackb(fields[b"e"])) for _, fields in entries]

    sent = arun(main())
    assert len(sent) == 3
    for message_id, envelope in sent:
        assert envelope["c"] == envelope["id"] == message_id.decode()
        assert envelope["r"] == f"{namespace}:reply:asker"
