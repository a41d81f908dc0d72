"""Durable actors on Redis side by side with the raw redis-py floor, in one run.

    python benchmarks/redis_side_by_side.py [--quick] [--uvloop] [--repeats N]

Starts its own redis-server (127.0.0.1, a random port, AOF on, appendfsync everysec) and
measures, each the best of ``--repeats`` runs, ours and the floor interleaved (the floor is
measured again beside each case, its runs alternating with ours: floor, ours, floor, ours,
..., so a change of the machine's load in between falls on both):

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
import contextlib
import functools
import platform
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

import msgpack
import redis.asyncio as aioredis
from _shared import command_line

from playbill import Actor
from playbill.distributed import RedisTransport
from playbill.interpreters import ActorSystem
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
    last = "0-0"  # the reply stream is new: "$" would miss a reply added before the read
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


# -- ours -----------------------------------------------------------------------------------


class Sink(Actor):
    """Counts its messages; the run ends when every actor has had its share."""

    left: ClassVar[dict[str, int]] = {}
    done: ClassVar[asyncio.Event | None] = None

    def __init__(self, actor_id: str) -> None:
        self.actor_id = actor_id

    def receive(self, message: object) -> object:
        Sink.left[self.actor_id] -= 1
        if Sink.left[self.actor_id] == 0:
            del Sink.left[self.actor_id]
            if not Sink.left and Sink.done is not None:
                Sink.done.set()
        return message


async def ours_tells(url: str, messages: int, actors: int, nodes: int = 1) -> float:
    """Messages a second: durable tells from one node's `DurableRef`s, round robin over
    ``actors`` durable actors hosted on ``nodes`` nodes (one event loop, as the floor)."""
    namespace = f"bench{time.monotonic_ns()}"
    ids = [f"sink{n}" for n in range(actors)]
    Sink.left = dict.fromkeys(ids, messages // actors)
    Sink.done = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        systems = []
        for index in range(nodes):
            transport = RedisTransport(url, namespace=namespace, node_id=f"n{index}")
            system = await stack.enter_async_context(ActorSystem(f"n{index}", transport=transport))
            systems.append(system)
        for index, actor_id in enumerate(ids):
            await systems[index % nodes].spawn_durable(
                functools.partial(Sink, actor_id), id=actor_id
            )
        refs = [systems[0].remote(actor_id) for actor_id in ids]
        started = time.perf_counter()
        for n in range(messages // actors * actors):
            refs[n % actors].tell(n)
        await Sink.done.wait()
        elapsed = time.perf_counter() - started
    await _drop(url, namespace)
    return messages // actors * actors / elapsed


async def ours_round_trips(url: str, rounds: int) -> float:
    """Seconds a round trip: a durable ask to a durable actor on another node."""
    namespace = f"bench{time.monotonic_ns()}"
    Sink.left = {"echo": rounds + 1}
    Sink.done = None
    async with contextlib.AsyncExitStack() as stack:
        host = await stack.enter_async_context(
            ActorSystem("host", transport=RedisTransport(url, namespace=namespace))
        )
        asker = await stack.enter_async_context(
            ActorSystem("asker", transport=RedisTransport(url, namespace=namespace))
        )
        await host.spawn_durable(functools.partial(Sink, "echo"), id="echo")
        ref = asker.remote("echo")
        await ref.ask(0, timeout=10)  # warm: scripts loaded, the reply stream read
        started = time.perf_counter()
        for n in range(rounds):
            await ref.ask(n, timeout=10)
        elapsed = time.perf_counter() - started
    await _drop(url, namespace)
    return elapsed / rounds


async def _drop(url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(url)
    keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# -- running ------------------------------------------------------------------------------


def best_pair(
    repeats: int,
    floor: Callable[[], Awaitable[float]],
    ours: Callable[[], Awaitable[float]],
    *,
    higher: bool,
) -> tuple[float, float]:
    """The best of ``repeats`` runs of each, the floor's and ours alternating."""
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for measure, results in zip((floor, ours), runs, strict=True):
            results.append(asyncio.run(measure()))  # type: ignore[arg-type]
    pick = max if higher else min
    return pick(runs[0]), pick(runs[1])


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
    rows: list[tuple[str, str, str, str]] = []
    with RedisServer(appendfsync="everysec") as server:
        url, repeats = server.url, options.repeats
        for label, actors, nodes in TELL_CASES:
            # the floor next to each case: on a shared machine the load drifts between cases
            floor, ours = best_pair(
                repeats,
                lambda: floor_tells(url, messages),
                lambda a=actors, n=nodes: ours_tells(url, messages, a, n),
                higher=True,
            )
            rows.append((label, f"{floor:,.0f}", f"{ours:,.0f}", f"{ours / floor:.2f}x"))
        floor_trip, trip = best_pair(
            repeats,
            lambda: floor_round_trips(url, rounds),
            lambda: ours_round_trips(url, rounds),
            higher=False,
        )
        # a round trip's ratio is the floor's time over ours (higher is better, as above)
        rows.append(
            (
                "ask round trip, us",
                f"{floor_trip * 1e6:,.0f}",
                f"{trip * 1e6:,.0f}",
                f"{floor_trip / trip:.2f}x",
            )
        )
    print(f"{'':<40} {'floor':>10} {'playbill':>10} {'ratio':>7}")
    for label, floor_text, ours_text, ratio in rows:
        print(f"{label:<40} {floor_text:>10} {ours_text:>10} {ratio:>7}")
    print("target: ratio >= 0.70x (the floor: XADD + XREADGROUP + XACK, batches of 100)")


TELL_CASES = [
    ("durable tells/s, 1 actor, 1 node", 1, 1),
    ("durable tells/s, 4 actors, 1 node", 4, 1),
    ("durable tells/s, 16 actors, 1 node", 16, 1),
    ("durable tells/s, 16 actors, 2 nodes", 16, 2),
]

if __name__ == "__main__":
    main()
