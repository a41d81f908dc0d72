"""A run's coroutine closed while it waits (a task the collector destroys after its loop
closed, say) ends there: the `GeneratorExit` that closing raises at the wait is not a
failure of the program, thrown into it, whose finalisers and handlers might wait again,
which a closing coroutine may not."""

from __future__ import annotations

import asyncio
from typing import Any

from playbill import ActorSystem, sleep
from playbill.effects import Await, Suspend


async def _forever() -> None:
    await asyncio.sleep(100)


def test_closing_a_waiting_runs_coroutine_closes_it_cleanly(arun: Any) -> None:
    finalised = []

    async def main() -> str:
        async with ActorSystem("app") as system:
            waits = Suspend(Await(_forever(), "forever"))
            program = waits.ensuring(sleep(0.01).map(finalised.append))
            outer = asyncio.ensure_future(system.run(program))
            await asyncio.sleep(0.05)
            (task,) = system._runs
            try:
                task.get_coro().close()  # type: ignore[union-attr]
                closed = "closed cleanly"
            except BaseException as error:  # pragma: no cover - the test fails below
                closed = f"close raised {error!r}"
            outer.cancel()
            return closed

    assert arun(asyncio.wait_for(main(), 20)) == "closed cleanly"
    assert finalised == []  # closed, not failed: no finaliser waited in a closing coroutine
