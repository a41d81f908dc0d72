import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from playbill import ActorSystem


@pytest.fixture
def arun() -> Callable[[Awaitable[Any]], Any]:
    """Run a coroutine on a fresh event loop, failing the test after 20 s."""

    def runner(awaitable: Awaitable[Any]) -> Any:
        async def bounded() -> Any:
            return await asyncio.wait_for(awaitable, 20)

        return asyncio.run(bounded())

    return runner


async def settle(system: ActorSystem, rounds: int = 20) -> None:
    """Let queued messages be processed (a few loop iterations)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
