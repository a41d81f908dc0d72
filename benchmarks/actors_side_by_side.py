"""The actor runtime side by side: raw-asyncio floors, playbill, and the peer library
everything-is-an-actor, measured in one process and printed as ratios.

    python benchmarks/actors_side_by_side.py [--quick] [--uvloop]

The peer (import name ``actor_for_agents``) needs Python >= 3.12; `make bench` builds a
separate venv for it. Without it installed, its columns say "n/a". Figures are µs per
operation (best of ``--repeats`` runs); ratios are throughput relative to the floor (higher
is better) unless marked as time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _shared import command_line

from playbill import Actor, ActorSystem, program
from playbill.actors import Pool

try:  # the peer, for side-by-side runs only
    import actor_for_agents as peer
except ImportError:  # pragma: no cover - depends on the venv
    peer = None


# -- floors: raw asyncio ------------------------------------------------------------------


async def floor_tell(n: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    done = asyncio.get_running_loop().create_future()

    async def consumer() -> None:
        for _ in range(n):
            await queue.get()
        done.set_result(None)

    task = asyncio.create_task(consumer())
    start = time.perf_counter()
    for i in range(n):
        queue.put_nowait(i)
    await done
    elapsed = time.perf_counter() - start
    await task
    return elapsed


async def floor_ask(n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, asyncio.Future[int]]] = asyncio.Queue()

    async def server() -> None:
        while True:
            message, future = await queue.get()
            future.set_result(message)

    task = asyncio.create_task(server())
    latencies = []
    for i in range(n):
        start = time.perf_counter()
        future = loop.create_future()
        queue.put_nowait((i, future))
        await future
        latencies.append(time.perf_counter() - start)
    task.cancel()
    return latencies


async def floor_fanout(actors: int, messages: int) -> tuple[float, int]:
    expected = actors * messages
    counted = [0]
    done = asyncio.get_running_loop().create_future()
    queues: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(actors)]

    async def consumer(queue: asyncio.Queue[int]) -> None:
        while True:
            await queue.get()
            counted[0] += 1
            if counted[0] == expected:
                done.set_result(None)

    tasks = [asyncio.create_task(consumer(queue)) for queue in queues]
    await asyncio.sleep(0)
    start = time.perf_counter()
    for message in range(messages):
        for queue in queues:
            queue.put_nowait(message)
    await done
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    return elapsed, expected - counted[0]


async def floor_spawn(n: int) -> float:
    async def consumer(queue: asyncio.Queue[int]) -> None:
        while True:
            await queue.get()

    start = time.perf_counter()
    tasks = []
    for _ in range(n):
        queue: asyncio.Queue[int] = asyncio.Queue()
        tasks.append(asyncio.create_task(consumer(queue)))
    await asyncio.sleep(0)  # every task started
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    return elapsed


# -- playbill -----------------------------------------------------------------------------


class _Counter(Actor):
    def __init__(self, target: int, done: asyncio.Future[None]) -> None:
        self.count = 0
        self.target = target
        self.done = done

    def receive(self, message: Any) -> Any:
        self.count += 1
        if self.count == self.target:
            self.done.set_result(None)


class _SharedCounter(Actor):
    count = 0
    target = 0
    done: asyncio.Future[None]

    def receive(self, message: Any) -> Any:
        _SharedCounter.count += 1
        if _SharedCounter.count == _SharedCounter.target:
            _SharedCounter.done.set_result(None)


class _Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


async def playbill_tell(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    async with ActorSystem("bench") as system:
        ref = system.spawn(lambda: _Counter(n, done), "counter")
        await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            ref.tell(i)
        await done
        return time.perf_counter() - start


async def playbill_routed_tell(n: int, routees: int = 1) -> float:
    """``n`` tells through a round-robin `Pool` router: what routing adds to a direct tell
    (with one routee, the same work at the receiver as `playbill_tell`)."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n, done
    async with ActorSystem("bench") as system:
        ref = system.spawn(Pool(_SharedCounter, routees), "router")
        await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            ref.tell(i)
        await done
        return time.perf_counter() - start


async def playbill_shared_tell(n: int) -> float:
    """``n`` direct tells to one `_SharedCounter`: the direct twin of `playbill_routed_tell`."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n, done
    async with ActorSystem("bench") as system:
        ref = system.spawn(_SharedCounter, "counter")
        await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            ref.tell(i)
        await done
        return time.perf_counter() - start


async def playbill_ask(n: int) -> list[float]:
    async with ActorSystem("bench") as system:
        ref = system.spawn(_Echo, "echo")
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            await ref.ask(i)
            latencies.append(time.perf_counter() - start)
        return latencies


async def playbill_free_ask(n: int) -> float:
    async with ActorSystem("bench") as system:
        ref = system.spawn(_Echo, "echo")

        @program
        def asks() -> Any:
            for i in range(n):
                yield ref.free_ask(i)

        start = time.perf_counter()
        await system.run(asks())
        return time.perf_counter() - start


async def playbill_fanout(actors: int, messages: int) -> tuple[float, int]:
    _SharedCounter.count = 0
    _SharedCounter.target = actors * messages
    _SharedCounter.done = asyncio.get_running_loop().create_future()
    async with ActorSystem("bench") as system:
        refs = [system.spawn(_SharedCounter, f"a{n}") for n in range(actors)]
        await asyncio.sleep(0)
        start = time.perf_counter()
        for message in range(messages):
            for ref in refs:
                ref.tell(message)
        await _SharedCounter.done
        elapsed = time.perf_counter() - start
        lost = _SharedCounter.target - _SharedCounter.count - system.dead_letters.count
        return elapsed, lost


async def playbill_spawn(n: int) -> float:
    async with ActorSystem("bench") as system:
        start = time.perf_counter()
        for i in range(n):
            system.spawn(_Echo, f"e{i}")
        await asyncio.sleep(0)
        return time.perf_counter() - start


# -- the peer -----------------------------------------------------------------------------


async def peer_tell(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    count = [0]

    class Counter(peer.Actor):  # type: ignore[name-defined, misc, union-attr]
        async def on_receive(self, message: Any) -> Any:
            count[0] += 1
            if count[0] == n:
                done.set_result(None)

    system = peer.ActorSystem("bench")  # type: ignore[union-attr]
    ref = await system.spawn(Counter, "counter", mailbox_size=0)
    start = time.perf_counter()
    for i in range(n):
        await ref.tell(i)
    await done
    elapsed = time.perf_counter() - start
    await system.shutdown()
    return elapsed


async def peer_ask(n: int) -> list[float]:
    class Echo(peer.Actor):  # type: ignore[name-defined, misc, union-attr]
        async def on_receive(self, message: Any) -> Any:
            return message

    system = peer.ActorSystem("bench")  # type: ignore[union-attr]
    ref = await system.spawn(Echo, "echo")
    latencies = []
    for i in range(n):
        start = time.perf_counter()
        await ref.ask(i)
        latencies.append(time.perf_counter() - start)
    await system.shutdown()
    return latencies


async def peer_fanout(actors: int, messages: int) -> tuple[float, int]:
    expected = actors * messages
    count = [0]
    done = asyncio.get_running_loop().create_future()

    class Counter(peer.Actor):  # type: ignore[name-defined, misc, union-attr]
        async def on_receive(self, message: Any) -> Any:
            count[0] += 1
            if count[0] == expected:
                done.set_result(None)

    system = peer.ActorSystem("bench")  # type: ignore[union-attr]
    refs = [await system.spawn(Counter, f"a{n}") for n in range(actors)]
    start = time.perf_counter()
    for message in range(messages):
        for ref in refs:
            await ref.tell(message)
    with contextlib.suppress(TimeoutError):  # a loss shows in the count below
        await asyncio.wait_for(done, 60)
    elapsed = time.perf_counter() - start
    await system.shutdown()
    return elapsed, expected - count[0]


async def peer_spawn(n: int) -> float:
    class Echo(peer.Actor):  # type: ignore[name-defined, misc, union-attr]
        async def on_receive(self, message: Any) -> Any:
            return message

    system = peer.ActorSystem("bench")  # type: ignore[union-attr]
    start = time.perf_counter()
    for i in range(n):
        await system.spawn(Echo, f"e{i}")
    elapsed = time.perf_counter() - start
    await system.shutdown()
    return elapsed


# -- the table ----------------------------------------------------------------------------


def best(run: Callable[[], Awaitable[Any]], repeats: int) -> Any:
    results = []
    for _ in range(repeats):
        gc.collect()
        results.append(asyncio.run(run()))  # type: ignore[arg-type]
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main(argv: list[str] | None = None) -> None:
    options, loop_name = command_line(__doc__, argv, repeats=3, quick="smaller counts, one repeat")
    scale = 10 if options.quick else 1
    repeats = 1 if options.quick else options.repeats
    tells, asks, actors, fan, spawns = (
        100_000 // scale,
        20_000 // scale,
        1000 // scale,
        100,
        5000 // scale,
    )
    have_peer = peer is not None
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {loop_name}; peer "
        f"everything-is-an-actor: {'yes' if have_peer else 'not installed'}"
    )
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        name: str, unit: str, floor: float, ours: float, theirs: float | None, better: str
    ) -> None:
        if better.startswith("target time"):  # a time ratio: ours / floor (<1: faster)
            ratio = ours / floor
            peer_ratio = f"{theirs / floor:.2f}x time" if theirs else "n/a"
        else:  # a throughput ratio: floor time / our time (>1: faster than the floor)
            ratio = floor / ours
            peer_ratio = f"{floor / theirs:.2f}x" if theirs else "n/a"
        rows.append(
            (
                name,
                f"{floor * 1e6 / unit_count[unit]:.2f}",
                f"{ours * 1e6 / unit_count[unit]:.2f}",
                f"{theirs * 1e6 / unit_count[unit]:.2f}" if theirs else "n/a",
                f"{ratio:.2f}x / {peer_ratio}",
                better,
            )
        )

    unit_count = {"tell": tells, "ask": asks, "fan": actors * fan, "spawn": spawns}

    floor_t = min(best(lambda: floor_tell(tells), repeats))
    ours_t = min(best(lambda: playbill_tell(tells), repeats))
    peer_t = min(best(lambda: peer_tell(tells), repeats)) if have_peer else None
    row(f"tell {tells:,}, one actor", "tell", floor_t, ours_t, peer_t, "target >= 1.0x")

    floor_a = min(best(lambda: floor_ask(asks), repeats), key=sum)
    ours_a = min(best(lambda: playbill_ask(asks), repeats), key=sum)
    peer_a = min(best(lambda: peer_ask(asks), repeats), key=sum) if have_peer else None
    row(
        f"ask {asks:,}, sequential",
        "ask",
        sum(floor_a),
        sum(ours_a),
        sum(peer_a) if peer_a else None,
        "target >= 0.7x",
    )

    floor_f = min(best(lambda: floor_fanout(actors, fan), repeats))
    ours_f = min(best(lambda: playbill_fanout(actors, fan), repeats))
    peer_f = min(best(lambda: peer_fanout(actors, fan), repeats)) if have_peer else None
    row(
        f"{actors} actors x {fan} tells",
        "fan",
        floor_f[0],
        ours_f[0],
        peer_f[0] if peer_f else None,
        "target >= 0.8x",
    )

    floor_s = min(best(lambda: floor_spawn(spawns), repeats))
    ours_s = min(best(lambda: playbill_spawn(spawns), repeats))
    peer_s = min(best(lambda: peer_spawn(spawns), repeats)) if have_peer else None
    row(f"spawn {spawns}", "spawn", floor_s, ours_s, peer_s, "target time <= 1.2x")

    header = ("scenario", "floor µs", "playbill µs", "peer µs", "vs floor: ours / peer", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(6)]
    for line in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))

    print()
    print(
        f"ask latency µs       p50 floor {percentile(floor_a, 0.5) * 1e6:.2f}  playbill "
        f"{percentile(ours_a, 0.5) * 1e6:.2f}"
        + (f"  peer {percentile(peer_a, 0.5) * 1e6:.2f}" if peer_a else "")
    )
    p99_floor, p99_ours = percentile(floor_a, 0.99), percentile(ours_a, 0.99)
    print(
        f"                     p99 floor {p99_floor * 1e6:.2f}  playbill {p99_ours * 1e6:.2f}"
        + (f"  peer {percentile(peer_a, 0.99) * 1e6:.2f}" if peer_a else "")
        + f"   (playbill p99 / floor p99 = {p99_ours / p99_floor:.2f}, target <= 1.5)"
    )
    free = min(best(lambda: playbill_free_ask(asks), repeats))
    print(
        f"free_ask in @program {free * 1e6 / asks:.2f} µs vs direct ask "
        f"{sum(ours_a) * 1e6 / asks:.2f} µs: {free / sum(ours_a):.2f}x (target <= 1.25)"
    )
    direct = min(best(lambda: playbill_shared_tell(tells), repeats))
    routed = min(best(lambda: playbill_routed_tell(tells), repeats))
    routed_four = min(best(lambda: playbill_routed_tell(tells, 4), repeats))
    print(
        f"tell through a round-robin router {routed * 1e6 / tells:.2f} µs vs direct tell "
        f"{direct * 1e6 / tells:.2f} µs: {routed / direct:.2f}x (target <= 1.2); "
        f"over 4 routees {routed_four * 1e6 / tells:.2f} µs"
    )
    print(
        f"messages lost: floor {floor_f[1]}, playbill {ours_f[1]}"
        + (f", peer {peer_f[1]}" if peer_f else "")
    )
    if have_peer and peer_t:
        print(
            f"playbill vs peer throughput: tell {peer_t / ours_t:.2f}x, ask "
            f"{sum(peer_a) / sum(ours_a):.2f}x, fan-out {peer_f[0] / ours_f[0]:.2f}x, spawn "  # type: ignore[arg-type, index]
            f"{peer_s / ours_s:.2f}x"
        )  # type: ignore[operator]
    sys.stdout.flush()


if __name__ == "__main__":
    main()
