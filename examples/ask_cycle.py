"""A deadlock that asyncio reports as a timeout: the simulator names the cycle the moment it
forms.

An inventory asks pricing for a price; pricing, to apply a discount, asks the inventory for
the stock level. Each waits for the other's reply before it can handle another message, so
neither ever will. Under asyncio the asks time out (here after 0.2 s), and the timeout says
what the target was itself waiting on. The simulator keeps a wait-for graph and ends the run
as a deadlock at once — no 30 s timeout to wait out — with the cycle in order.

    python examples/ask_cycle.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playbill import Actor, ActorRef, ActorSystem, AskTimeout, free_spawn, program, simulate


class Inventory(Actor):
    def __init__(self) -> None:
        self.pricing: ActorRef | None = None

    def receive(self, message: Any) -> Any:
        match message:
            case ("meet", pricing):
                self.pricing = pricing
            case ("quote", item):
                assert self.pricing is not None
                return self.pricing.free_ask(("price", item), timeout=0.2)
            case ("stock", _item):
                return 3
        return None


class Pricing(Actor):
    def __init__(self) -> None:
        self.inventory: ActorRef | None = None

    def receive(self, message: Any) -> Any:
        match message:
            case ("meet", inventory):
                self.inventory = inventory
            case ("price", item):
                assert self.inventory is not None
                # the bug: a discount that depends on stock asks back the actor asking us
                return self.inventory.free_ask(("stock", item), timeout=0.2).map(
                    lambda stock: 10.0 if stock > 2 else 12.0
                )
        return None


@program
def quote_a_widget() -> Any:
    inventory = yield free_spawn(Inventory, name="inventory")
    pricing = yield free_spawn(Pricing, name="pricing")
    yield inventory.free_ask(("meet", pricing))
    yield pricing.free_ask(("meet", inventory))
    return (yield inventory.free_ask(("quote", "widget"), timeout=5))


async def under_asyncio() -> str:
    async with ActorSystem("app") as system:
        try:
            return str(await system.run(quote_a_widget()))
        except AskTimeout as error:
            return str(error)


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    timed_out = asyncio.run(under_asyncio())
    printer(f"   asyncio: {timed_out}")
    result = simulate(quote_a_widget(), seed=0)
    printer(f"   simulator: {result.status} at t={result.clock:g}s of virtual time:")
    printer(f"     {result.error}")
    return {"asyncio": timed_out, "status": result.status, "error": str(result.error)}


if __name__ == "__main__":
    main()
