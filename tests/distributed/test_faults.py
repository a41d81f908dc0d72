"""Faults: a read error, an ask that times out, an ask whose target's node dies, an ask to an
actor no node owns."""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions

from playbill import Actor, AskTimeout, program, sleep
from playbill.distributed import NodeDown, redis_write
from tests.distributed.support import admin, clean, eventually, node, script_calls

STARTS: list[int] = []


class Counter(Actor):
    def __init__(self) -> None:
        self.total = 0
        STARTS.append(1)

    def receive(self, message: object) -> object:
        if isinstance(message, int):
            self.total += message
        return self.total


def test_after_a_read_error_the_actor_keeps_its_state_and_resumes(
    arun, redis_url, namespace, caplog
):
    async def main():
        STARTS.clear()
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, _):
            ref = await system.spawn_durable(Counter, id="c")
            for n in range(1, 6):
                ref.tell(n)
            assert await ref.ask(0, timeout=5) == 15
            await asyncio.sleep(0.1)  # the reader is blocked in XREADGROUP now
            killed = await client.client_kill_filter(skipme=True, _type="normal")
            assert killed >= 1
            for n in range(6, 11):
                ref.tell(n)
            assert await ref.ask(0, timeout=5) == 55  # the same instance: state kept
            assert STARTS == [1]
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())
    assert "failed" in caplog.text  # logged on the "playbill" logger, never silent


class Sleepy(Actor):
    def receive(self, message: object) -> object:
        @program
        def slow():
            yield sleep(float(message))
            return "done"

        return slow()


def test_an_ask_times_out_and_its_late_reply_is_a_dead_letter(arun, redis_url, namespace):
    async def main():
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Sleepy, id="z")
            with pytest.raises(AskTimeout, match="durable actor 'z'"):
                await ref.ask(0.5, timeout=0.1)
            await eventually(lambda: transport.late_replies == 1, what="the late reply")
            assert system.dead_letters.count >= 1
        await clean(redis_url, namespace)

    arun(main())


def test_an_ask_fails_promptly_when_the_target_node_dies(arun, redis_url, namespace):
    async def main():
        loop = asyncio.get_running_loop()
        async with node(redis_url, namespace, "a") as (system_a, transport_a):
            await system_a.spawn_durable(Sleepy, id="z")
            async with node(redis_url, namespace, "b") as (system_b, _):
                asked = asyncio.ensure_future(system_b.remote("z").ask(30, timeout=20))
                await asyncio.sleep(0.3)  # delivered and being handled on a
                assert not asked.done()
                started = loop.time()
                await transport_a._halt()  # as SIGKILL: its heartbeat key just expires
                with pytest.raises(NodeDown, match="stopped heartbeating"):
                    await asked
                assert loop.time() - started < 2.0  # lease_ttl 0.6 + a heartbeat or two
        await clean(redis_url, namespace)

    arun(main())


def test_an_ask_to_an_actor_no_node_owns_fails_at_once_and_the_message_stays(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "b") as (system, _):
            with pytest.raises(NodeDown, match="stays in its mailbox"):
                await system.remote("nobody").ask("hello", timeout=5)
            assert await client.xlen(f"{namespace}:mbox:nobody") == 1
            # once a node hosts it, the message is processed
            async with node(redis_url, namespace, "a") as (system_a, _):
                await system_a.spawn_durable(Counter, id="nobody")
                await eventually(
                    lambda: _acked(client, namespace), what="the waiting message processed"
                )
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


async def _acked(client, namespace):
    groups = await client.xinfo_groups(f"{namespace}:mbox:nobody")
    return bool(groups) and groups[0]["pending"] == 0 and groups[0]["entries-read"] == 1


def test_a_deleted_mailbox_is_made_again_and_the_actor_goes_on(arun, redis_url, namespace):
    async def main():
        STARTS.clear()
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, _):
            ref = await system.spawn_durable(Counter, id="c")
            ref.tell(5)
            assert await ref.ask(0, timeout=5) == 5
            await asyncio.sleep(0.1)
            await client.delete(f"{namespace}:mbox:c")  # an operator's mistake, say
            await asyncio.sleep(0.3)
            assert await ref.ask(1, timeout=5) == 6  # the same instance goes on
            assert STARTS == [1]
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


class Stager(Actor):
    def receive(self, message: object) -> object:
        return redis_write("INCRBY", "applied", 1).map(lambda _: message)


@pytest.mark.parametrize(
    ("script", "logged"),
    # (an ask's commit goes in the write of the host's next read, and an ask made as a
    # reply came in goes in the write of the reply reader's next read: that read fails)
    [("COMMIT", "redis read of"), ("APPEND", "redis read replies failed")],
    ids=["a commit", "a sender's APPEND"],
)
def test_a_write_whose_answer_is_lost_is_retried_and_takes_effect_once(
    arun, redis_url, namespace, caplog, monkeypatch, script, logged
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Stager, id="s")
            assert await ref.ask("warm", timeout=5) == "warm"
            lost = []

            def lose_the_answer(args):  # once; alone or in a pipeline (a commit on a read)
                if not lost:
                    lost.append(args)
                    raise redis.exceptions.ConnectionError("the answer was lost")

            script_calls(transport, script, monkeypatch, after=lose_the_answer)
            assert await ref.ask("once", timeout=5) == "once"
            # it ran, its answer was lost, and it was run again (the reply may come first)
            await eventually(lambda: lost, what="the lost answer")
            await transport._hosts["s"]._drain()  # the retry is done too
            assert await client.get(transport.data_key("applied")) == b"2"  # warm + once
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())
    assert logged in caplog.text


def test_a_cancellation_the_client_turns_into_a_connection_error_still_cancels(arun):
    """redis-py can turn a cancellation mid-read into a ConnectionError: a retried operation
    then ends cancelled rather than retrying on (a host's committer waits on it to stop)."""
    from playbill.distributed import RedisTransport

    transport = RedisTransport("redis://127.0.0.1:1")  # never connected
    calls: list[int] = []

    async def read() -> None:
        calls.append(1)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise redis.exceptions.ConnectionError("Connection closed by server.") from None

    async def main() -> bool:
        task = asyncio.ensure_future(transport._retrying("read", read))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait([task], timeout=5)
        cancelled = task.done() and task.cancelled()
        if not task.done():  # (it retries on: end it, so that the test fails rather than hangs)
            transport._ending = True
            task.cancel()
            await asyncio.wait([task])
        return cancelled

    assert arun(main()) is True
    assert calls == [1]  # cancelled, not retried


def test_a_lease_renewal_whose_cancellation_the_client_turns_into_an_error_still_ends(arun):
    """The renewer of a host's lease is cancelled when the host stops owning; a RENEW call
    that redis-py turns from that cancellation into a ConnectionError must not keep it
    renewing (the host would wait on it, and the node's close would find it left)."""
    from playbill.distributed import RedisTransport, _host

    transport = RedisTransport("redis://127.0.0.1:1", lease_ttl=0.3, heartbeat=0.1)
    host = _host._Host(transport, None, "x", object, None, None, 1)  # type: ignore[arg-type]
    host.fence, host.owning = "n:1", True
    calls: list[int] = []

    async def renew(**_: object) -> int:
        calls.append(1)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise redis.exceptions.ConnectionError("Connection closed by server.") from None
        return 1

    transport._scripts["RENEW"] = renew

    async def main() -> bool:
        task = asyncio.ensure_future(host._renew())
        while not calls:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait([task], timeout=2)
        cancelled = task.done() and task.cancelled()
        if not task.done():  # (it renews on: end it, so that the test fails rather than hangs)
            host.owning = False
            task.cancel()
            await asyncio.wait([task])
        return cancelled

    assert arun(main()) is True
