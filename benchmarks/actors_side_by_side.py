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
import functools
import gc
import io
import math
import platform
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _shared import command_line
from attrs import frozen

from playbill import Actor, ActorSystem, program
from playbill.actors import Grain, Middleware, Pool, VirtualActors, WithMiddleware, grain_ref
from playbill.actors._middleware import install_middleware

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


async def playbill_middleware_tell(n: int, layers: int) -> float:
    """``n`` direct tells to one `_SharedCounter` wrapped in ``layers`` pass-through
    middleware (0: the plain actor, untouched): what each layer adds to a tell."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n, done
    actor: Any = _SharedCounter
    if layers:
        actor = WithMiddleware(_SharedCounter, [_PassThrough()] * layers)
    async with ActorSystem("bench") as system:
        ref = system.spawn(actor, "counter")
        await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            ref.tell(i)
        await done
        return time.perf_counter() - start


@frozen
class _PassThrough(Middleware):
    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        return proceed(message)


class _CountingGrain(Grain):
    def receive(self, message: Any) -> Any:
        _SharedCounter.count += 1
        if _SharedCounter.count == _SharedCounter.target:
            _SharedCounter.done.set_result(None)


def _grain_key(message: Any) -> Any:
    return message[0]


async def playbill_grain_tell(n: int) -> float:
    """``n`` tells to one active grain through its ref (`grain_ref`, kept by the sender, the
    grain activated by a first message before the clock starts): the twin of
    `playbill_shared_tell`, the same messages to the same kind of receive."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n + 1, done
    async with ActorSystem("bench") as system:
        directory = system.spawn(VirtualActors(_CountingGrain, _grain_key), "grains")
        grain = grain_ref(directory, "k")
        grain.tell(-1)
        while _SharedCounter.count < 1:
            await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            grain.tell(i)
        await done
        return time.perf_counter() - start


async def playbill_grain_directory_tell(n: int) -> float:
    """``n`` tells to one active grain sent to its `VirtualActors` directory, which names the
    grain by ``key(message)`` at each send (each message a ``(key, i)`` tuple)."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n + 1, done
    async with ActorSystem("bench") as system:
        ref = system.spawn(VirtualActors(_CountingGrain, _grain_key), "grains")
        ref.tell(("k", -1))
        while _SharedCounter.count < 1:
            await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            ref.tell(("k", i))
        await done
        return time.perf_counter() - start


async def playbill_spawn_and_tell(n: int) -> float:
    """``n`` actors spawned, each told one message, until every one has handled it."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n, done
    async with ActorSystem("bench") as system:
        start = time.perf_counter()
        for i in range(n):
            system.spawn(_SharedCounter, f"e{i}").tell(i)
        await done
        return time.perf_counter() - start


async def playbill_grain_activation(n: int) -> float:
    """``n`` grains activated by one message each (with the default `InMemoryStore`), until
    every one has handled it: the twin of `playbill_spawn_and_tell`."""
    done = asyncio.get_running_loop().create_future()
    _SharedCounter.count, _SharedCounter.target, _SharedCounter.done = 0, n, done
    async with ActorSystem("bench") as system:
        ref = system.spawn(VirtualActors(_CountingGrain, _grain_key), "grains")
        await asyncio.sleep(0)
        start = time.perf_counter()
        for i in range(n):
            ref.tell((i, i))
        await done
        return time.perf_counter() - start


def interleaved(runs: dict[str, Callable[[], Awaitable[Any]]], repeats: int) -> dict[str, float]:
    """The best time of each of ``runs``, run in turn ``repeats`` times (so that a noisy
    moment of a shared machine hits every one of them, not one)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    shuffle = random.Random(0).shuffle  # (a new order each round: no run is always first)
    for _ in range(repeats):
        shuffle(order)
        for name in order:
            gc.collect()
            times[name].append(asyncio.run(runs[name]()))  # type: ignore[arg-type]
    return {name: min(values) for name, values in times.items()}


def layer_call_cost(layers: int, calls: int = 200_000, repeats: int = 5) -> float:
    """µs per call of an instance's ``receive`` chain with ``layers`` pass-through layers,
    timed alone (no mailbox: the figure the noise of a shared machine leaves readable)."""
    actor: Any = _SharedCounter
    if layers:
        actor = WithMiddleware(_SharedCounter, [_PassThrough()] * layers)
    instance = actor()
    install_middleware(instance)
    _SharedCounter.target = -1
    receive = instance.receive
    best_time = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(calls):
            receive(i)
        best_time = min(best_time, time.perf_counter() - start)
    return best_time * 1e6 / calls


def toolkit_lines(tells: int, spawns: int, repeats: int, chain_calls: int = 200_000) -> list[str]:
    """The actor toolkit's overheads (issue 16), each a ratio of two runs measured in turn;
    the receive chain timed alone over ``chain_calls`` calls (best of 5, or of ``repeats``
    when fewer)."""
    t = interleaved(
        {
            "direct": lambda: playbill_shared_tell(tells),
            "routed": lambda: playbill_routed_tell(tells),
            "routed4": lambda: playbill_routed_tell(tells, 4),
            "layers0": lambda: playbill_middleware_tell(tells, 0),
            "layers1": lambda: playbill_middleware_tell(tells, 1),
            "layers4": lambda: playbill_middleware_tell(tells, 4),
            "grain": lambda: playbill_grain_tell(tells),
            "grain_directory": lambda: playbill_grain_directory_tell(tells),
            "spawn": lambda: playbill_spawn_and_tell(spawns),
            "activate": lambda: playbill_grain_activation(spawns),
        },
        repeats,
    )

    def us(name: str, count: int) -> float:
        return t[name] * 1e6 / count

    per_layer_one = us("layers1", tells) - us("layers0", tells)
    per_layer_four = (us("layers4", tells) - us("layers0", tells)) / 4
    chain = {layers: layer_call_cost(layers, chain_calls, min(repeats, 5)) for layers in (0, 1, 4)}
    return [
        f"tell through a round-robin router {us('routed', tells):.2f} µs vs direct tell "
        f"{us('direct', tells):.2f} µs: {t['routed'] / t['direct']:.2f}x (target <= 1.2); "
        f"over 4 routees {us('routed4', tells):.2f} µs",
        f"middleware on a tell: 0 layers {us('layers0', tells):.2f} µs, 1 layer "
        f"{us('layers1', tells):.2f} µs, 4 layers {us('layers4', tells):.2f} µs: "
        f"{per_layer_four:.2f} µs per layer over 4, {per_layer_one:.2f} µs for 1 "
        f"(target <= 0.3); the receive chain alone: {chain[0]:.3f} / {chain[1]:.3f} / "
        f"{chain[4]:.3f} µs, {(chain[4] - chain[0]) / 4:.3f} µs per layer over 4",
        f"tell to an active grain {us('grain', tells):.2f} µs vs direct tell "
        f"{us('direct', tells):.2f} µs: {t['grain'] / t['direct']:.2f}x (target <= 1.2; "
        f"through its grain_ref); through its directory, key(message) per tell: "
        f"{us('grain_directory', tells):.2f} µs, {t['grain_directory'] / t['direct']:.2f}x",
        f"grain activation + first message {us('activate', spawns):.2f} µs vs spawn + first "
        f"message {us('spawn', spawns):.2f} µs: {t['activate'] / t['spawn']:.2f}x "
        f"(target <= 2)",
    ]


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
    # --quick (the suite's run, benchmarks/test_*_overhead.py): one repeat and a short chain,
    # the same lines; a full run takes the best of at least 3 for the ratios to be readable
    toolkit = (
        toolkit_lines(tells, spawns, 1, chain_calls=20_000)
        if options.quick
        else toolkit_lines(tells, spawns, max(repeats, 3))
    )
    for line in toolkit:
        print(line)
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


@functools.cache
def quick_table() -> str:
    """What ``main(["--quick"])`` prints, run once per process for every test that reads it
    (the script check's, the router's and the toolkit's: their lines are of the same table)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main(["--quick"])
    return printed.getvalue()


if __name__ == "__main__":
    main()
