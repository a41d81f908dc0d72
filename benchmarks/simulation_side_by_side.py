"""The simulator's speed beside the asyncio interpreter on the same programs, in one run.

    python benchmarks/simulation_side_by_side.py [--quick]

Deliveries per second (messages handled by actors) on a ping-pong and a 100-actor fan-out;
schedules explored per second on a 10-actor x 10-message program; the time to find and shrink
the bank race of examples/bank_race.py.
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import sys
import time
from typing import Any

from playbill import Actor, explore, free_spawn, gather, program, run, simulate

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "examples"))


class Pong(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Sink(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message == "count":
            return self.count
        self.count += 1
        return None


@program
def ping_pong(count: int) -> Any:
    pong = yield free_spawn(Pong, name="pong")
    for n in range(count):
        yield pong.free_ask(n)
    return count


@program
def fan_out(actors: int, rounds: int) -> Any:
    sinks = []
    for n in range(actors):
        sinks.append((yield free_spawn(Sink, name=f"sink{n}")))
    for message in range(rounds):
        for sink in sinks:
            yield sink.free_tell(message)
    # every tell is handled before the count is answered (one sender keeps its order)
    counts = yield gather(*(sink.free_ask("count") for sink in sinks))
    assert sum(counts) == actors * rounds
    return actors * rounds


class Relay(Actor):
    def receive(self, message: Any) -> Any:
        target, count = message

        @program
        def relay() -> Any:
            for n in range(count):
                yield target.free_tell(n)
            return count

        return relay()


@program
def ten_by_ten() -> Any:
    sink = yield free_spawn(Sink, name="sink")
    relays = []
    for n in range(10):
        relays.append((yield free_spawn(Relay, name=f"relay{n}")))
    yield gather(*(relay.free_ask((sink, 10)) for relay in relays))
    return 100


def timed(function: Any) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(argv)
    scale = 10 if options.quick else 1
    asks = 10_000 // scale
    rounds = 100 // scale
    print(f"Python {platform.python_version()} on {platform.machine()}")
    for name, build, deliveries in (
        ("ping-pong", lambda: ping_pong(asks), asks),
        ("100-actor fan-out", lambda: fan_out(100, rounds), 100 * rounds),
    ):
        traced = min(timed(lambda b=build: simulate(b(), seed=1)) for _ in range(3))
        simulated = min(timed(lambda b=build: simulate(b(), seed=1, trace=False)) for _ in range(3))
        real = min(timed(lambda b=build: run(b())) for _ in range(3))
        print(
            f"{name:<18} simulator {deliveries / simulated:>10,.0f} deliveries/s "
            f"({deliveries / traced:,.0f}/s tracing)   asyncio {deliveries / real:>10,.0f}/s   "
            f"ratio {real / simulated:.2f}x (target >= 1.0x, >= 100,000/s)"
        )
    runs = 1000 // scale
    explored = timed(
        lambda: explore(ten_by_ten(), check=lambda result: result.value == 100, runs=runs)
    )
    print(f"10 actors x 10 messages: {runs / explored:,.0f} schedules explored/s (target >= 1,000)")
    from bank_race import two_deposits

    found: list[Any] = []
    shrinking = timed(
        lambda: found.append(
            explore(two_deposits(), check=lambda result: result.value == 100, runs=1000)
        )
    )
    minimal = found[0].minimal
    print(
        f"bank race: found and shrunk to {len(minimal.schedule)} choices in {shrinking:.3f}s "
        "(target < 5 s)"
    )


if __name__ == "__main__":
    main()
