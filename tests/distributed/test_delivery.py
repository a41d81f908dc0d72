"""Acknowledgement after processing, redelivery, takeover, dedup, staged writes, poison and
hostile messages, trimming: each against a real redis-server."""

from __future__ import annotations

import asyncio
import pickle
import re
from typing import ClassVar

import attrs
import msgpack
import pytest

from playbill import Actor, program, sleep
from playbill.distributed import Envelope, RemoteError, _host, message, redis_write
from tests.distributed.support import admin, clean, eventually, node, script_calls

LOG: list[object] = []


@message("tests.delivery.work", v=1)
@attrs.frozen
class Work:
    n: int


class Recorder(Actor):
    """Records each message; ``Work(n)`` with n < 0 blocks until GATE is set."""

    gate: asyncio.Event | None = None

    async def receive(self, message: object) -> object:
        LOG.append(message)
        if isinstance(message, Work) and message.n < 0:
            assert Recorder.gate is not None
            await Recorder.gate.wait()
        return message


@pytest.fixture(autouse=True)
def fresh_log():
    LOG.clear()
    Recorder.gate = None
    yield
    LOG.clear()


def test_an_entry_is_acknowledged_only_after_processing_and_redelivered_pending_first(
    arun, redis_url, namespace
):
    async def main():
        Recorder.gate = asyncio.Event()
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system_a, transport_a):
            ref = await system_a.spawn_durable(Recorder, id="rec")
            async with node(redis_url, namespace, "b") as (system_b, transport_b):
                standby = await system_b.spawn_durable(Recorder, id="rec")
                assert not transport_b.owns("rec")
                ref.tell(Work(-1))  # node a takes it and blocks in the handler
                await eventually(lambda: [Work(-1)] == LOG, what="node a took the entry")
                pending = await client.xpending(f"{namespace}:mbox:rec", "playbill")
                assert pending["pending"] == 1  # delivered, not acknowledged
                await transport_a._halt()  # killed mid-handler: no commit
                standby.tell(Work(2))  # a new entry, after the pending one
                Recorder.gate.set()
                await eventually(lambda: transport_b.owns("rec"), what="takeover")
                await eventually(lambda: len(LOG) == 3, what="redelivery")
                # the pending entry first (claimed from a), then the new one
                assert [Work(-1), Work(-1), Work(2)] == LOG
                await eventually(
                    lambda: _pending(client, namespace, "rec", 0), what="all acknowledged"
                )
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


async def _pending(client, namespace, actor, expected):
    found = await client.xpending(f"{namespace}:mbox:{actor}", "playbill")
    return found["pending"] == expected


class Charger(Actor):
    """Stages one write per message; fails the first delivery of Work(n) for odd n."""

    failed: ClassVar[set[int]] = set()

    def receive(self, message: object) -> object:
        @program
        def charge():
            yield redis_write("HINCRBY", "charges", str(message.n), 1)
            yield redis_write("RPUSH", "order", message.n)
            if message.n % 2 and message.n not in Charger.failed:
                Charger.failed.add(message.n)
                raise RuntimeError(f"transient failure of {message.n}")
            return message.n

        return charge()


def test_staged_writes_are_applied_once_with_the_commit_even_when_a_delivery_fails(
    arun, redis_url, namespace
):
    async def main():
        Charger.failed = set()
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Charger, id="charger")
            for n in range(6):
                ref.tell(Work(n))
            assert await ref.ask(Work(6), timeout=5) == 6
            charges = await client.hgetall(transport.data_key("charges"))
            order = await client.lrange(transport.data_key("order"), 0, -1)
        assert charges == {str(n).encode(): b"1" for n in range(7)}  # once each
        assert sorted(int(n) for n in order) == list(range(7))
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_duplicate_entry_with_the_same_message_id_is_dropped(arun, redis_url, namespace):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Charger, id="charger")
            envelope = Envelope(
                "m-1", "tests.delivery.work", 1, transport.registry.pack(Work(4)), "x"
            ).encode()
            for _ in range(3):  # a sender retried its XADD after a timeout, say
                await client.xadd(f"{namespace}:mbox:charger", {b"e": envelope})
            assert await ref.ask(Work(8), timeout=5) == 8
            charges = await client.hgetall(transport.data_key("charges"))
            assert charges == {b"4": b"1", b"8": b"1"}
            await eventually(lambda: _pending(client, namespace, "charger", 0))
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_copy_from_a_retrying_sender_is_dropped_in_the_round_trip_that_read_it(
    arun, redis_url, namespace, monkeypatch
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Charger, id="charger")
            dedup = script_calls(transport, "DEDUP", monkeypatch)
            stream, envelope, message_id = transport._envelope(ref, Work(4))
            fields = {b"e": envelope, b"i": message_id}  # as the node's sender writes it
            await client.xadd(stream, fields)
            assert await ref.ask(Work(2), timeout=5) == 2  # (Work(4) committed before it)
            for _ in range(2):  # the sender's XADD again, after a timeout say
                await client.xadd(stream, fields)
            assert await ref.ask(Work(6), timeout=5) == 6
            charges = await client.hgetall(transport.data_key("charges"))
            assert charges == {b"4": b"1", b"2": b"1", b"6": b"1"}
            assert dedup == []  # READ's flags found the copies: no second round trip
            await eventually(lambda: _pending(client, namespace, "charger", 0))
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_an_entry_whose_i_field_is_not_its_envelopes_id_is_checked_by_the_envelopes_id(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Charger, id="charger")
            mbox = f"{namespace}:mbox:charger"

            def envelope(message_id, n):
                payload = transport.registry.pack(Work(n))
                return Envelope(message_id, "tests.delivery.work", 1, payload, "x").encode()

            await client.xadd(mbox, {b"e": envelope("m-1", 4), b"i": b"m-1"})
            assert await ref.ask(Work(2), timeout=5) == 2
            # another writer's entries (or a hostile one's): the i field is not trusted
            await client.xadd(mbox, {b"e": envelope("m-1", 4), b"i": b"not-m-1"})  # a copy
            await client.xadd(mbox, {b"e": envelope("m-3", 8), b"i": b"m-1"})  # not a copy
            assert await ref.ask(Work(6), timeout=5) == 6
            charges = await client.hgetall(transport.data_key("charges"))
            assert charges == {b"4": b"1", b"2": b"1", b"8": b"1", b"6": b"1"}
            await eventually(lambda: _pending(client, namespace, "charger", 0))
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_dedup_record_outlives_a_generation_change_and_is_gone_after_two(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        ttl = 0.4
        async with node(redis_url, namespace, "a", dedup_ttl=ttl) as (system, transport):
            ref = await system.spawn_durable(Charger, id="charger")
            envelope = Envelope(
                "m-1", "tests.delivery.work", 1, transport.registry.pack(Work(4)), "x"
            ).encode()
            mbox = f"{namespace}:mbox:charger"
            await client.xadd(mbox, {b"e": envelope})
            assert await ref.ask(Work(2), timeout=5) == 2
            # the record's generation: the hash it is in; wait until the next generation
            [seen] = [key async for key in client.scan_iter(match=f"{namespace}:seen:charger:*")]
            written = int(seen.rsplit(b":", 1)[1])
            while True:
                seconds, micros = await client.time()
                if seconds * 1000 + micros // 1000 > (written + 1) * ttl * 1000 + 20:
                    break
                await asyncio.sleep(0.02)
            await client.xadd(mbox, {b"e": envelope})  # a copy, one generation later
            assert await ref.ask(Work(6), timeout=5) == 6
            assert (await client.hgetall(transport.data_key("charges")))[b"4"] == b"1"
            await asyncio.sleep(2 * ttl + 0.05)  # both generations' hashes have expired
            assert not [key async for key in client.scan_iter(match=f"{namespace}:seen:*")]
            await client.xadd(mbox, {b"e": envelope})  # past dedup_ttl * 2: handled again
            assert await ref.ask(Work(10), timeout=5) == 10
            assert (await client.hgetall(transport.data_key("charges")))[b"4"] == b"2"
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_message_ids_are_a_random_prefix_per_transport_and_a_counter(arun, redis_url, namespace):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system_a, transport_a):
            async with node(redis_url, namespace, "b") as (system_b, transport_b):
                for system in (system_a, system_a, system_b, system_b):
                    system.remote("nobody").tell(Work(1))
                await transport_a.flush()
                await transport_b.flush()
            read = await client.xrange(f"{namespace}:mbox:nobody")
        ids = [msgpack.unpackb(fields[b"e"])["id"] for _, fields in read]
        assert len(set(ids)) == 4
        parsed = [re.fullmatch(r"([0-9a-f]{16})\.([0-9a-f]+)", id).groups() for id in ids]
        prefixes = {prefix for prefix, _ in parsed}
        assert len(prefixes) == 2  # one per transport
        by_prefix = {p: sorted(int(n, 16) for q, n in parsed if q == p) for p in prefixes}
        assert all(numbers[1] == numbers[0] + 1 for numbers in by_prefix.values())
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_burst_of_tells_is_written_by_one_append_call_in_order(
    arun, redis_url, namespace, monkeypatch
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            appends = script_calls(transport, "APPEND", monkeypatch)
            refs = [system.remote(f"w{k}") for k in range(3)]
            for n in range(300):
                refs[n % 3].tell(n)
            await transport.flush()
            for k in range(3):
                read = await client.xrange(f"{namespace}:mbox:w{k}")
                envelopes = [msgpack.unpackb(fields[b"e"]) for _, fields in read]
                assert [fields[b"i"].decode() for _, fields in read] == [
                    envelope["id"] for envelope in envelopes
                ]
                sent = [transport.registry.unpack(envelope["p"]) for envelope in envelopes]
                assert sent == list(range(k, 300, 3))
        assert [len(args) for args in appends] == [3 * 300]  # streams, envelopes, ids
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_burst_of_large_tells_is_split_into_append_calls_in_order(
    arun, redis_url, namespace, monkeypatch
):
    from playbill.distributed import _transport

    monkeypatch.setattr(_transport, "_APPEND_BYTES", 2_000)  # (8 MB by default)

    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            appends = script_calls(transport, "APPEND", monkeypatch)
            ref = system.remote("big")
            for n in range(10):
                ref.tell(f"{n}" * 700)  # about 800 bytes an envelope: 3 a call
            await transport.flush()
            read = await client.xrange(f"{namespace}:mbox:big")
            sent = [
                transport.registry.unpack(msgpack.unpackb(fields[b"e"])["p"]) for _, fields in read
            ]
        assert sent == [f"{n}" * 700 for n in range(10)]
        assert [len(args) // 3 for args in appends] == [3, 3, 3, 1]
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


class Poisoned(Actor):
    def __init__(self) -> None:
        self.seen = 0

    def receive(self, message: object) -> object:
        self.seen += 1
        if message == "poison":
            raise ValueError("cannot digest")
        return (message, self.seen)


def test_a_poison_message_is_dead_lettered_after_max_deliveries_and_the_stream_continues(
    arun, redis_url, namespace
):
    async def main():
        async with node(redis_url, namespace, "a", max_deliveries=3) as (system, transport):
            ref = await system.spawn_durable(Poisoned, id="p")
            ref.tell("before")
            with pytest.raises(RemoteError, match="ValueError: cannot digest") as raised:
                await ref.ask("poison", timeout=5)
            assert raised.value.error_type == "ValueError"
            reply = await ref.ask("after", timeout=5)
            assert reply[0] == "after"
            [dead] = await transport.dead_letters("p")
            assert "failed 3 deliveries" in dead.reason
            assert dead.message_id
            client = await admin(redis_url)
            [(own_id, _)] = await client.xrange(transport.key("dead", "p"))
            await client.aclose()
            # the mailbox entry it was, not the dead-letter stream's own id
            assert dead.entry != own_id.decode()
            assert re.fullmatch(r"\d+-\d+", dead.entry)
        await clean(redis_url, namespace)

    arun(main())


class Executed(Actor):
    def receive(self, message: object) -> object:
        LOG.append(message)
        return message


def test_hostile_entries_are_dead_lettered_and_nothing_is_executed(arun, redis_url, namespace):
    async def main():
        client = await admin(redis_url)
        mbox = f"{namespace}:mbox:h"
        async with node(redis_url, namespace, "a", max_payload=10_000) as (system, transport):
            ref = await system.spawn_durable(Executed, id="h")
            pickled = pickle.dumps(Work(1))
            await client.xadd(mbox, {b"e": pickled})
            await client.xadd(mbox, {b"other": b"field"})
            unknown = Envelope("m-2", "no.such.type", 1, b"\xc0", "x").encode()
            await client.xadd(mbox, {b"e": unknown})
            wrong_version = Envelope("m-3", "tests.delivery.work", 9, b"\xc0", "x").encode()
            await client.xadd(mbox, {b"e": wrong_version})
            await client.xadd(mbox, {b"e": b"\x00" * 50_000})  # over max_payload
            outside = Envelope(
                "m-4", "", 0, transport.registry.pack("x"), "x", "elsewhere:key", "c"
            ).encode()
            await client.xadd(mbox, {b"e": outside})
            assert await ref.ask("alive", timeout=5) == "alive"
            dead = await transport.dead_letters("h")
            reasons = [entry.reason for entry in dead]
            assert len(reasons) == 6, reasons
            assert "not a playbill envelope" in reasons[0]
            assert "no 'e' field" in reasons[1]
            assert "unknown message type 'no.such.type'" in reasons[2]
            assert "v=9" in reasons[3]
            assert "oversize: 50000 bytes" in reasons[4]
            assert len(dead[4].data) == 1024  # kept cut
            assert "reply_to" in reasons[5]
            assert LOG == ["alive"]  # nothing else executed
            assert await client.exists("elsewhere:key") == 0
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_acknowledged_entries_are_trimmed_and_pending_ones_never(arun, redis_url, namespace):
    async def main():
        Recorder.gate = asyncio.Event()
        client = await admin(redis_url)
        mbox = f"{namespace}:mbox:t"
        async with node(redis_url, namespace, "a", trim_every=5) as (system, transport):
            ref = await system.spawn_durable(Recorder, id="t")
            for n in range(12):
                ref.tell(Work(n))
            assert await ref.ask(Work(100), timeout=5) == Work(100)
            assert await client.xlen(mbox) < 13  # trimmed as it went
            ref.tell(Work(-1))  # pending while its handler blocks
            for n in range(10):
                ref.tell(Work(200 + n))
            await ref.flush()
            await eventually(lambda: Work(-1) in LOG)
            trim = transport._scripts["TRIM"]
            await trim(keys=[mbox], args=["playbill"], client=client)
            pending = await client.xpending(mbox, "playbill")
            [(first, _)] = await client.xrange(mbox, count=1)
            assert first == pending["min"]  # acknowledged ones gone, the pending one kept
            assert await client.xlen(mbox) == 11  # and those not yet delivered
            Recorder.gate.set()
            assert await ref.ask(Work(300), timeout=5) == Work(300)
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


class Appender(Actor):
    def receive(self, message: object) -> object:
        return redis_write("RPUSH", "log", message)


def test_pipelined_commits_apply_staged_writes_in_message_order(arun, redis_url, namespace):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a", read_count=7) as (system, transport):
            ref = await system.spawn_durable(Appender, id="log")
            for n in range(200):
                ref.tell(n)
            await ref.ask(200, timeout=10)
            written = await client.lrange(transport.data_key("log"), 0, -1)
        assert [int(n) for n in written] == list(range(201))
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_one_commit_call_covers_a_batch_of_consecutive_entries_in_order(
    arun, redis_url, namespace, monkeypatch
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Appender, id="log")
            await ref.ask(-1, timeout=5)
            commits = script_calls(transport, "COMMIT", monkeypatch)
            for n in range(300):
                ref.tell(n)
            await ref.ask(300, timeout=10)
            written = await client.lrange(transport.data_key("log"), 0, -1)
        assert [int(n) for n in written] == list(range(-1, 301))
        sizes = [len(msgpack.unpackb(args[-1], raw=True)) for args in commits]
        assert sum(sizes) == 301  # each entry committed once, by one of the calls
        assert max(sizes) > 1, sizes  # the handlers ran while a call was under way
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_the_first_deliveries_of_a_read_batch_are_committed_by_one_call(
    arun, redis_url, namespace, monkeypatch
):
    monkeypatch.setattr(_host, "_COMMIT_DELAY", 60.0)  # only the batch's end starts the call

    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            sender = system.remote("log")
            for n in range(100):
                sender.tell(n)
            await transport.flush()  # in the stream before the actor reads it: one batch
            commits = script_calls(transport, "COMMIT", monkeypatch)
            await system.spawn_durable(Appender, id="log")

            async def written():
                return await client.llen(transport.data_key("log")) == 100

            await eventually(written, what="the batch committed")
        assert [len(msgpack.unpackb(args[-1])) for args in commits] == [100]
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_slow_handler_does_not_hold_back_the_commits_of_the_entries_before_it(
    arun, redis_url, namespace
):
    async def main():
        Recorder.gate = asyncio.Event()
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            sender = system.remote("rec")
            for n in (1, -1, 2):  # Work(-1) blocks until the gate opens
                sender.tell(Work(n))
            await transport.flush()  # one read batch
            await system.spawn_durable(Recorder, id="rec")
            await eventually(lambda: [Work(1), Work(-1)] == LOG, what="the slow handler began")
            await eventually(
                lambda: _pending(client, namespace, "rec", 2),
                what="the first entry committed while the second's handler runs",
            )
            Recorder.gate.set()
            await eventually(lambda: _pending(client, namespace, "rec", 0), what="the rest")
        assert [Work(1), Work(-1), Work(2)] == LOG
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_after_a_full_batch_the_next_read_goes_out_before_its_handlers_run(
    arun, redis_url, namespace, monkeypatch
):
    began = []  # how many messages were handled when each read of new entries began
    real = _host._Host._read_new

    def read_new(self, *args, **kwargs):
        began.append(len(LOG))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(_host._Host, "_read_new", read_new)

    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a", read_count=2) as (system, transport):
            sender = system.remote("rec")
            for n in range(1, 6):
                sender.tell(Work(n))
            await transport.flush()
            await system.spawn_durable(Recorder, id="rec")
            await eventually(lambda: len(LOG) == 5, what="every entry handled")
            await eventually(lambda: _pending(client, namespace, "rec", 0), what="committed")
        assert [Work(n) for n in range(1, 6)] == LOG  # in stream order all the same
        assert began[:3] == [0, 0, 2], began  # batches (1, 2), (3, 4), (5): reads 2 and 3 early
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_copy_of_a_message_committed_after_the_read_was_sent_is_acknowledged_only(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            ref = await system.spawn_durable(Charger, id="charger")
            assert await ref.ask(Work(2), timeout=5) == 2
            host = transport._hosts["charger"]
            _, envelope, message_id = transport._envelope(ref, Work(4))
            fields = {b"e": envelope, b"i": message_id.encode()}
            # READ saw no dedup record (flag 0): the original's commit was done after READ
            # was sent, and before its answer was handled
            host.settled_since_read.add(message_id)
            [(_, _, copy)] = await host._fresh([("1-1", fields, 0)])
            assert isinstance(copy, _host._Copy)
            host.settled_since_read.clear()
            [(_, _, original)] = await host._fresh([("1-2", fields, 0)])
            assert original[1] == Work(4)
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


class Steady(Actor):
    """Each message takes 10 ms."""

    def receive(self, message: object) -> object:
        @program
        def handle():
            yield sleep(0.01)
            LOG.append(message)
            return message

        return handle()


def test_steady_handlers_do_not_hold_back_their_batchs_commits_to_its_end(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (system, transport):
            sender = system.remote("steady")
            for n in range(40):
                sender.tell(n)
            await transport.flush()  # one read batch: 0.4 s of handlers
            await system.spawn_durable(Steady, id="steady")
            committed_mid_batch = 0
            while len(LOG) < 40:
                pending = await client.xpending(f"{namespace}:mbox:steady", "playbill")
                if len(LOG) < 40 and pending["pending"]:
                    committed_mid_batch = max(committed_mid_batch, 40 - pending["pending"])
                await asyncio.sleep(0.01)
            # commits go out at most _COMMIT_DELAY (50 ms) after they were queued
            assert committed_mid_batch >= 5, committed_mid_batch
            await eventually(lambda: _pending(client, namespace, "steady", 0), what="the rest")
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_a_failed_staged_write_dead_letters_its_entry_and_the_rest_of_the_batch_commits(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a") as (_, transport):
            mbox, lease = f"{namespace}:mbox:b", f"{namespace}:lease:b"
            await client.set(lease, "a:1")
            await client.xgroup_create(mbox, "playbill", id="0", mkstream=True)
            entries = [(await client.xadd(mbox, {"e": b"x"})).decode() for _ in range(3)]
            await client.xreadgroup("playbill", "a", {mbox: ">"})
            await client.set(transport.data_key("text"), "not a number")
            reply = f"{namespace}:reply:elsewhere"

            def item(n, key):
                write = ("INCRBY", transport.data_key(key), "1")
                return (entries[n], f"m{n}", reply, f"r{n}", "", b"", f"m{n}", [write], [])

            batch = [item(0, "count"), item(1, "text"), item(2, "count")]
            answer = await transport._scripts["COMMIT"](
                keys=[
                    lease,
                    mbox,
                    f"{namespace}:deliveries:b",
                    f"{namespace}:dead:b",
                    f"{namespace}:seen:b:",
                ],
                args=["a:1", "playbill", 60_000, msgpack.packb(batch, use_bin_type=False)],
                client=client,
            )
            statuses = answer[::2]
            assert statuses == [1, 3, 1]
            assert answer[3].startswith(b"staged write INCRBY")
            assert await client.get(transport.data_key("count")) == b"2"  # entries 0 and 2
            assert (await client.xpending(mbox, "playbill"))["pending"] == 0  # all acked
            [(_, dead)] = await client.xrange(f"{namespace}:dead:b")
            assert (dead[b"entry"], dead[b"id"]) == (entries[1].encode(), b"m1")
            replies = [fields[b"r"] for _, fields in await client.xrange(reply)]
            assert replies == [b"r0", b"r2"]  # the failed entry's reply is the node's to send
            [seen] = [key async for key in client.scan_iter(match=f"{namespace}:seen:b:*")]
            assert await client.hkeys(seen) == [b"m0", b"m1", b"m2"]  # one hash, a field each
            assert 60_000 < await client.pttl(seen) <= 120_000  # to the next generation's end
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())
