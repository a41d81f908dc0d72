"""The agent tests' fixtures (their helpers are in support.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest


@pytest.fixture
def arun() -> Callable[[Awaitable[Any]], Any]:
    """Run a coroutine on a fresh event loop, failing the test after 20 s."""

    def runner(awaitable: Awaitable[Any]) -> Any:
        async def bounded() -> Any:
            return await asyncio.wait_for(awaitable, 20)

        return asyncio.run(bounded())

    return runner
