"""Routers and stop policies: one program, run live under asyncio and in the simulator.

A pool of three translators behind a round-robin router takes a batch of jobs; the pool then
shrinks to one (the retired translators finish their queue first, so nothing is lost) and
grows again. A consistent-hash router keeps each customer on one session actor. A one-shot
auditor stops by itself after its first report (``ONE_TIME``), and a cache stops itself
once idle for a while (``AfterIdle``): 50 ms live, ten virtual seconds in the simulator,
where waiting an hour costs nothing.

    python examples/routers.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playbill import Actor, free_spawn, program, run, self_ref, simulate, sleep
from playbill.actors import (
    ONE_TIME,
    AfterIdle,
    ConsistentHash,
    GetRoutees,
    Pool,
    Resize,
)


class Translator(Actor):
    """Translates a word and says who did it."""

    def receive(self, word: str) -> Any:
        return self_ref().map(lambda ref: f"{word.upper()} by {ref.path.rsplit('/', 1)[1]}")


class Session(Actor):
    """One customer's session: remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def receive(self, message: tuple[str, str]) -> Any:
        _customer, item = message
        self.seen.append(item)
        return self_ref().map(lambda ref: ref.path.rsplit("/", 1)[1])


class Auditor(Actor):
    stop_policy = ONE_TIME

    def receive(self, report: str) -> str:
        return f"audited {report}"


class Cache(Actor):
    def __init__(self, idle: float) -> None:
        self.stop_policy = AfterIdle(idle)  # set per spawn: read once, when it is spawned

    def receive(self, key: str) -> str:
        return f"cached {key}"


def by_customer(message: tuple[str, str]) -> str:
    return message[0]


@program
def toolkit(idle: float, wait: float) -> Any:
    translators = yield free_spawn(Pool(Translator, 3), name="translators")
    translated = []
    for word in ["ask", "tell", "spawn", "stop"]:
        translated.append((yield translators.free_ask(word)))
    shrunk = yield translators.free_ask(Resize(1))
    grown = yield translators.free_ask(Resize(2))

    sessions = yield free_spawn(
        Pool(Session, 4, routing=ConsistentHash(by_customer)), name="sessions"
    )
    homes = {}
    for customer, item in [("ada", "tea"), ("bob", "jam"), ("ada", "bun"), ("bob", "egg")]:
        homes.setdefault(customer, set()).add((yield sessions.free_ask((customer, item))))

    auditor = yield free_spawn(Auditor, name="auditor")
    audit = yield auditor.free_ask("Q3")
    second = yield auditor.free_ask("Q4").attempt()

    cache = yield free_spawn(lambda: Cache(idle), name="cache")
    cached = yield cache.free_ask("home")
    yield sleep(wait)  # longer than its idle time: it stops by itself
    after_idle = yield cache.free_ask("home").attempt()
    routees = yield translators.free_ask(GetRoutees())
    return {
        "translated": translated,
        "after shrinking": len(shrunk),
        "after growing": len(grown),
        "routees": [ref.path for ref in routees],
        "one session per customer": all(len(homes[customer]) == 1 for customer in homes),
        "audit": audit,
        "second audit": type(second.failure()).__name__,
        "cached": cached,
        "cache after idling": type(after_idle.failure()).__name__,
    }


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    live = run(toolkit(idle=0.05, wait=0.2))  # asyncio: real mailboxes, the loop's clock
    printer("live, under asyncio:")
    for key, value in live.items():
        printer(f"  {key}: {value}")
    simulated = simulate(toolkit(idle=10.0, wait=3600.0), seed=0)  # an idle hour, in no time
    printer(
        f"simulated: the same outcome: {simulated.value == live}, "
        f"the virtual clock at {simulated.clock:g}s"
    )
    return {"live": live, "simulated equals live": simulated.value == live}


if __name__ == "__main__":
    main()
