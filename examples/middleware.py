"""Middleware: layers around an actor's receive, as values — run live and simulated alike.

A pricing actor gets three layers: ``Audit`` (outermost) logs every request and its reply or
error, ``Cache`` answers repeated requests itself (a short circuit: the second "Tea" never
reaches the actor), and ``Normalise`` rewrites each message before the actor sees it.
``[Audit, Cache, Normalise]`` wraps ``receive`` as ``Audit(Cache(Normalise(receive)))``.

    python examples/middleware.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from attrs import field, frozen

from playbill import Actor, free_spawn, program, run, simulate
from playbill.actors import Middleware, WithMiddleware, observe


@frozen
class Audit(Middleware):
    log: list[str]

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        return observe(
            proceed,
            message,
            lambda reply: self.log.append(f"{message!r} -> {reply!r}"),
            lambda error: self.log.append(f"{message!r} failed: {error}"),
        )

    def on_start(self, actor: Any) -> None:
        self.log.append(f"{type(actor).__name__} started")


@frozen
class Cache(Middleware):
    seen: dict[str, Any] = field(factory=dict)

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        if message in self.seen:
            return self.seen[message]
        return observe(proceed, message, lambda reply: self.seen.__setitem__(message, reply))


@frozen
class Normalise(Middleware):
    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        return proceed(message.strip().lower())


class Pricing(Actor):
    PRICES: ClassVar[dict[str, int]] = {"tea": 3, "coffee": 4}

    def receive(self, item: str) -> int:
        return self.PRICES[item]


@program
def shop(log: list[str]) -> Any:
    pricing = yield free_spawn(
        WithMiddleware(Pricing, [Audit(log), Cache(), Normalise()]), name="pricing"
    )
    prices = []
    for item in ["Tea", "tea", " COFFEE ", "Tea"]:
        prices.append((yield pricing.free_ask(item)))
    return prices


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    live_log: list[str] = []
    live = run(shop(live_log))
    simulated_log: list[str] = []
    simulated = simulate(shop(simulated_log), seed=0).value
    for line in live_log:
        printer(line)
    printer(f"the same under the simulator: {simulated == live and simulated_log == live_log}")
    return {"live": live, "log": live_log, "simulated equals live": simulated == live}


if __name__ == "__main__":
    main()
