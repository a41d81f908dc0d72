"""A small supervised actor system under asyncio, with its event stream printed live.

A supervisor starts three workers. A flaky job crashes one worker with a ConnectionError:
the supervisor restarts it (after a short backoff) and its queued work goes on. A poison job
makes another raise ValueError: that worker is stopped, and what is sent to it afterwards
becomes a dead letter — counted, never silently lost.

    python examples/supervised_workers.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from playbill import (
    Actor,
    ActorSystem,
    Backoff,
    Directive,
    OneForOne,
    emit,
    gather,
    program,
)
from playbill.actors import ActorEvent, DeadLettered, Emitted, Failed


class Worker(Actor):
    def __init__(self) -> None:
        self.done = 0

    def receive(self, job: str) -> Any:
        if job == "flaky":
            raise ConnectionError("the upstream dropped the connection")
        if job == "poison":
            raise ValueError("this job can never succeed")
        self.done += 1
        return emit(f"{self.context.self_ref.name} finished {job}").map(lambda _: job.upper())


def decide(error: BaseException) -> Directive:
    return Directive.RESTART if isinstance(error, ConnectionError) else Directive.STOP


class Supervisor(Actor):
    supervision = OneForOne(decide, max_restarts=3, within=10.0, backoff=Backoff(0.01))

    def on_start(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            self.context.spawn(Worker, name)

    def receive(self, message: Any) -> Any:
        return None


@program
def dispatch(system_name: str) -> Generator[Any, Any, list[Any]]:
    from playbill import ActorRef

    def worker(name: str) -> ActorRef:
        return ActorRef(f"/{system_name}/supervisor/{name}")

    jobs = [("alpha", "invoice"), ("beta", "flaky"), ("gamma", "report"), ("gamma", "poison")]
    asks = [worker(name).free_ask(job).attempt() for name, job in jobs]
    results = yield gather(*asks)
    retried = yield worker("beta").free_ask("retry")  # beta was restarted: it answers
    yield worker("gamma").free_tell("too late")  # gamma was stopped: a dead letter
    return [*results, retried]


def describe(event: ActorEvent) -> str:
    if isinstance(event, Failed):
        return f"{event.path:<24} failed: {event.error!r} -> {event.directive}"
    if isinstance(event, Emitted):
        return f"{event.path:<24} says: {event.event}"
    if isinstance(event, DeadLettered):
        return (
            f"{event.path:<24} dead letter: {event.letter.message!r} ({event.letter.reason.value})"
        )
    return f"{event.path:<24} {type(event).__name__.lower()}"


async def main(printer: Any = print) -> dict[str, Any]:
    async with ActorSystem("shop") as system:
        events = system.events()

        async def show() -> None:
            async for event in events:
                printer("   " + describe(event))

        watcher = asyncio.ensure_future(show())
        system.spawn(Supervisor, "supervisor")
        await asyncio.sleep(0.01)
        results = await system.run(dispatch("shop"))
        await asyncio.sleep(0.05)
        events.close()
        await watcher
        return {
            "results": [str(result) for result in results],
            "dead letters": system.dead_letters.count,
        }


if __name__ == "__main__":
    summary = asyncio.run(main())
    print("results:", summary["results"])
    print("dead letters:", summary["dead letters"])
