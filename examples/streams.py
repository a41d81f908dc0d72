"""Streams: two sensors merged, batched, enriched in parallel and delivered to an actor.

Two sensors report readings at their own pace; the stream merges them, keeps only the
newest readings when the dashboard falls behind (``buffer(..., "drop_head")``), batches them
by count or time (``grouped_within``), computes each batch's average with at most two
lookups at once (``map_async``), paces the updates (``throttle``) and delivers them to a
dashboard actor that acknowledges each one (``to_actor``). One program: run live under
asyncio, and in the simulator, where the same run takes virtual seconds and no real time.

    python examples/streams.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playbill import Actor, free_spawn, now, program, pure, run, simulate, sleep
from playbill.streams import Source, to_actor


class Dashboard(Actor):
    """Shows each batch's average; an ask of "shown" gives what it showed."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def receive(self, update: Any) -> Any:
        if update == "shown":
            return self.shown
        self.shown.append(update)
        return sleep(0.01)  # drawing takes a while: the stream waits for the acknowledgement


def sensor(name: str, readings: list[float], every: float) -> Source[tuple[str, float]]:
    return Source.from_programs([sleep(every).then(pure((name, value))) for value in readings])


def average(batch: list[tuple[str, float]]) -> Any:
    values = [value for _, value in batch]
    names = "+".join(sorted({name for name, _ in batch}))
    return sleep(0.02).then(pure(f"{names}: {sum(values) / len(values):.1f} over {len(values)}"))


@program
def main_program(tick: float) -> Any:
    dashboard = yield free_spawn(Dashboard, name="dashboard")
    start = yield now()
    indoor = sensor("indoor", [20.0, 20.5, 21.0, 21.5, 22.0, 22.5], tick)
    outdoor = sensor("outdoor", [5.0, 6.0, 7.0], tick * 2)
    updates = yield (
        indoor.merge(outdoor)
        .buffer(8, "drop_head")
        .grouped_within(3, tick * 3)
        .map_async(average, parallelism=2)
        .throttle(10, 1.0)
        .run_with(to_actor(dashboard, on_complete="done"))
    )
    shown = yield dashboard.free_ask("shown")
    return {"updates": updates, "shown": shown, "seconds": (yield now()) - start}


def main(printer: Callable[[str], object] = print) -> dict[str, Any]:
    live = run(main_program(0.01))
    simulated = simulate(main_program(1.0), seed=0).value
    printer(f"live: {live['updates']} updates in {live['seconds']:.2f}s")
    printer(f"simulated: {simulated['updates']} updates in {simulated['seconds']:g} virtual s")
    for line in simulated["shown"]:
        printer(f"  {line}")
    every_reading = sum(int(line.rsplit(" ", 1)[1]) for line in simulated["shown"][:-1])
    return {"live": live, "simulated": simulated, "readings shown": every_reading}


if __name__ == "__main__":
    main()
