"""`one_write` and `WriteGroup`: what a node sends together goes out in one write."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from playbill.distributed import _round_trips
from playbill.distributed._round_trips import WriteGroup, one_write, stream_entries


def test_the_commands_sent_in_one_loop_turn_go_out_in_one_write_each_sender_its_answers(
    arun, redis_url, namespace, monkeypatch
):
    writes = []
    real = _round_trips.one_write

    async def counted(client, commands, **kwargs):
        writes.append(len(commands))
        return await real(client, commands, **kwargs)

    monkeypatch.setattr(_round_trips, "one_write", counted)

    async def main():
        client = aioredis.Redis.from_url(redis_url)
        group = WriteGroup()
        key = f"{namespace}:n"
        together = await asyncio.gather(
            group.send(client, [("INCRBY", key, 1), ("GET", key)]),
            group.send(client, [("INCRBY", key, 10)]),
            group.send(client, [("INCRBY", key, 100), ("NOSUCHCOMMAND",)]),
        )
        alone = await group.send(client, [("INCRBY", key, 1000)])
        await client.delete(key)
        await client.aclose()
        return together, alone

    together, alone = arun(main())
    assert writes == [5, 1]  # three senders in one turn: one write; then one alone
    assert together[0] == [1, b"1"]
    assert together[1] == [11]
    assert together[2][0] == 111
    assert isinstance(together[2][1], Exception)  # an error answer is its sender's alone
    assert alone == [1111]


def test_one_write_hands_over_the_first_answers_before_a_blocking_read_ends(
    arun, redis_url, namespace
):
    async def main():
        client = aioredis.Redis.from_url(redis_url)
        stream = f"{namespace}:s"
        early = asyncio.get_running_loop().create_future()

        async def first(answers):
            early.set_result(list(answers))

        reading = asyncio.ensure_future(
            one_write(
                client,
                [("SET", f"{namespace}:k", "v"), ("XREAD", "BLOCK", 5000, "STREAMS", stream, "$")],
                early=1,
                on_early=first,
            )
        )
        assert await asyncio.wait_for(early, 2) == [b"OK"]  # while the read still waits
        assert not reading.done()
        await client.xadd(stream, {"r": b"x"})
        answers = await asyncio.wait_for(reading, 2)
        [(_, fields)] = stream_entries(answers[1])
        await client.delete(stream, f"{namespace}:k")
        await client.aclose()
        return fields

    assert arun(main()) == [b"r", b"x"]


def test_commits_that_begin_to_wait_together_are_released_in_one_loop_turn(arun):
    """A first delivery's commit waits at most _COMMIT_DELAY for the rest of its batch; the
    deadlines are on a grid of a quarter of it, so two actors of a node whose commits began
    to wait within a quarter are released by timers due at the same time (one loop turn:
    their commits then share a write), and none waits longer than the bound."""
    from playbill.distributed import RedisTransport, _host

    transport = RedisTransport("redis://127.0.0.1:1")  # never connected

    def host(name):
        made = _host._Host(transport, None, name, object, None, None, 1)  # type: ignore[arg-type]
        made.commits_queued = []
        return made

    async def main():
        loop = asyncio.get_running_loop()
        first, second = host("a"), host("b")
        began = loop.time()
        await first._commit("1-1", None, b"", [], wait=False)
        await asyncio.sleep(0.001)
        await second._commit("1-1", None, b"", [], wait=False)
        due = first.commit_timer.when(), second.commit_timer.when()
        for made in (first, second):
            made.commit_timer.cancel()
        return began, due

    began, (first_due, second_due) = arun(main())
    apart = abs(first_due - second_due)  # (the same slot, or, across its edge, the next)
    assert apart < 1e-9 or abs(apart - _host._COMMIT_DELAY / 4) < 1e-9, apart
    assert began < first_due <= began + _host._COMMIT_DELAY + 0.001


def test_pack_writes_what_redis_py_writes_and_leaves_other_arguments_to_it():
    from redis.asyncio.connection import Connection

    commands = [
        ("EVALSHA", "ab" * 20, 2, "k:1", b"k:2", "naïve", b"\x00\xff" * 40, 86_400_000),
        ("XREAD", "COUNT", 1, "BLOCK", 1000, "STREAMS", "s", b"1-0"),
        ("INCRBYFLOAT", "f", 0.1),
        ("SET", "empty", b""),
    ]
    assert _round_trips.pack(commands) == b"".join(Connection().pack_commands(commands))
    for odd in (True, memoryview(b"x"), bytearray(b"x")):  # (redis-py's own rules)
        assert _round_trips.pack([("SET", "k", odd)]) is None


def test_one_write_sends_packable_commands_itself_and_the_rest_through_redis_py(
    arun, redis_url, namespace, monkeypatch
):
    """redis-py's ``send_packed_command`` wraps the write in ``asyncio.wait_for`` (on Python
    3.11 a task of its own: one more loop turn before the bytes leave); a write of str,
    bytes and int arguments goes out without it."""
    from redis.asyncio.connection import Connection

    through_redis_py = []
    real = Connection.send_packed_command

    async def spied(self, command, check_health=True):
        through_redis_py.append(command)
        return await real(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", spied)

    async def main():
        client = aioredis.Redis.from_url(redis_url)
        await client.ping()  # (a connection made: its handshake is redis-py's)
        through_redis_py.clear()
        key = f"{namespace}:k"
        plain = await one_write(client, [("SET", key, "v"), ("GET", key)])
        sent_plain = len(through_redis_py)
        odd = await one_write(client, [("SET", key, memoryview(b"w")), ("GET", key)])
        sent_odd = len(through_redis_py)
        await client.delete(key)
        await client.aclose()
        return plain, sent_plain, odd, sent_odd

    plain, sent_plain, odd, sent_odd = arun(main())
    assert plain == [b"OK", b"v"]
    assert sent_plain == 0
    assert odd == [b"OK", b"w"]
    assert sent_odd == 1


def test_a_lane_keeps_one_connection_for_its_writes_and_reconnects_after_a_fault(
    arun, redis_url, namespace, monkeypatch
):
    taken = []

    async def main():
        client = aioredis.Redis.from_url(redis_url)
        pool = client.connection_pool
        real_get = pool.get_connection

        async def get_connection(*args, **kwargs):
            taken.append(1)
            return await real_get(*args, **kwargs)

        monkeypatch.setattr(pool, "get_connection", get_connection)
        lane = _round_trips.Lane(client)
        key = f"{namespace}:n"
        counts = [(await one_write(client, [("INCR", key)], lane=lane))[0] for _ in range(5)]
        first = lane._connection
        [lane_id] = await one_write(client, [("CLIENT", "ID")], lane=lane)
        # a fault (the server closes the connection): raised, and the next write reconnects
        await one_write(client, [("CLIENT", "KILL", "ID", lane_id)])
        with pytest.raises(redis.exceptions.ConnectionError):
            await one_write(client, [("INCR", key)], lane=lane)
        after = await one_write(client, [("INCR", key)], lane=lane)
        same = lane._connection is first
        await lane.close()
        released = first in pool._available_connections
        taken_by_writes = len(taken)
        await client.delete(key)
        await client.aclose()
        return counts, after, same, released, taken_by_writes

    counts, after, same, released, taken_by_writes = arun(main())
    assert counts == [1, 2, 3, 4, 5]
    assert after == [7] or after == [6]  # (the INCR cut short may or may not have run)
    assert same
    assert released
    assert taken_by_writes == 2  # the lane's one connection, and the CLIENT KILL's
