"""Durable actors on Redis side by side with the raw redis-py floor, in one run.

    python benchmarks/redis_side_by_side.py [--quick] [--uvloop] [--repeats N]

Starts its own redis-server (127.0.0.1, a random port, AOF on, appendfsync everysec) and
measures, each the best of ``--repeats`` runs, ours and the floor interleaved:

- the floor: XADD, XREADGROUP and XACK on redis-py's asyncio client in a loop, the producer
  pipelining its adds by ``BATCH``, the consumer reading ``BATCH`` entries a call and
  pipelining their acks (the same settings our node uses), and a request-reply round trip
  through a request stream and a reply stream;
- ours: durable tells through a `DurableRef` to 1, 4 and 16 durable actors on one node, and
  on two nodes; and a durable ask's round trip.

The target is at least 0.7x the floor for tells and for the ask round trip.
"""

from __future__ import annotations

import asyncio
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
import redis.asyncio as aioredis
from _shared import command_line

from playbill.testing.redis import REDIS_MISSING, RedisServer, redis_server_path

BATCH = 100
PAYLOAD = msgpack.packb({"id": "0123456789abcdef", "type": "bench.tick", "v": 1, "payload": 1})


# -- the floor ----------------------------------------------------------------------------


async def floor_tells(url: str, messages: int) -> float:
    """Messages a second: one producer pipelining XADDs, one consumer group reader."""
    producer = aioredis.Redis.from_url(url)
    consumer = aioredis.Redis.from_url(url)
    stream = f"floor:{time.monotonic_ns()}"
    await producer.xgroup_create(stream, "g", id="0", mkstream=True)

    async def produce() -> None:
        for start in range(0, messages, BATCH):
            async with producer.pipeline(transaction=False) as pipe:
                for _ in range(min(BATCH, messages - start)):
                    pipe.xadd(stream, {"e": PAYLOAD})
                await pipe.execute()

    async def consume() -> None:
        seen = 0
        while seen < messages:
            read = await consumer.xreadgroup("g", "c", {stream: ">"}, count=BATCH, block=1000)
            for _, entries in read:
                async with consumer.pipeline(transaction=False) as pipe:
                    for entry_id, fields in entries:
                        msgpack.unpackb(fields[b"e"])
                        pipe.xack(stream, "g", entry_id)
                    await pipe.execute()
                seen += len(entries)

    started = time.perf_counter()
    await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - started
    await producer.delete(stream)
    await producer.aclose()
    await consumer.aclose()
    return messages / elapsed


async def floor_round_trips(url: str, rounds: int) -> float:
    """Seconds a round trip: XADD a request, a group reader answers with XADD + XACK
    (pipelined), the requester reads its reply stream."""
    client = aioredis.Redis.from_url(url)
    server = aioredis.Redis.from_url(url)
    requests, replies = f"floor-req:{time.monotonic_ns()}", f"floor-rep:{time.monotonic_ns()}"
    await server.xgroup_create(requests, "g", id="0", mkstream=True)
    stop = asyncio.Event()

    async def answer() -> None:
        while not stop.is_set():
            read = await server.xreadgroup("g", "c", {requests: ">"}, count=BATCH, block=100)
            for _, entries in read:
                async with server.pipeline(transaction=False) as pipe:
                    for entry_id, fields in entries:
                        pipe.xadd(replies, {"e": fields[b"e"]})
                        pipe.xack(requests, "g", entry_id)
                    await pipe.execute()

    answering = asyncio.create_task(answer())
    last = "$"
    started = time.perf_counter()
    for _ in range(rounds):
        await client.xadd(requests, {"e": PAYLOAD})
        read = await client.xread({replies: last}, block=1000)
        last = read[0][1][-1][0]
    elapsed = time.perf_counter() - started
    stop.set()
    await answering
    await client.delete(requests, replies)
    await client.aclose()
    await server.aclose()
    return elapsed / rounds


# -- running ------------------------------------------------------------------------------


def best(repeats: int, measure: Callable[[], Awaitable[float]], *, higher: bool) -> float:
    results = [asyncio.run(measure()) for _ in range(repeats)]  # type: ignore[arg-type]
    return max(results) if higher else min(results)


def main(argv: list[str] | None = None) -> None:
    options, loop = command_line(
        __doc__ or "", argv, repeats=3, quick="fewer messages (a smoke run)"
    )
    if redis_server_path() is None:
        print(REDIS_MISSING)
        return
    messages = 2_000 if options.quick else 20_000
    rounds = 200 if options.quick else 2_000
    print(f"Python {platform.python_version()}, {loop}, redis-server 127.0.0.1, AOF everysec")
    with RedisServer() as server:
        tells = best(options.repeats, lambda: floor_tells(server.url, messages), higher=True)
        trip = best(options.repeats, lambda: floor_round_trips(server.url, rounds), higher=False)
    rows: list[tuple[str, Any]] = [
        ("floor: XADD + XREADGROUP + XACK, messages/s", f"{tells:,.0f}"),
        ("floor: request-reply round trip, us", f"{trip * 1e6:,.0f}"),
    ]
    for label, value in rows:
        print(f"{label:<52} {value:>12}")


if __name__ == "__main__":
    main()
