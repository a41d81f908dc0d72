"""What the Redis tests share: nodes (an `ActorSystem` with a `RedisTransport`), an admin
client, waiting for a condition, and cleaning a namespace. Their redis-server is
`playbill.testing.redis.RedisServer` (conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from playbill.distributed import RedisTransport
from playbill.interpreters import ActorSystem

FAST = {"lease_ttl": 0.6, "heartbeat": 0.15}  # small settings: each test takes seconds


@contextlib.asynccontextmanager
async def node(
    url: str, namespace: str, node_id: str, **options: Any
) -> AsyncIterator[tuple[ActorSystem, RedisTransport]]:
    """An `ActorSystem` with a `RedisTransport` named ``node_id``."""
    transport = RedisTransport(url, namespace=namespace, node_id=node_id, **{**FAST, **options})
    async with ActorSystem(node_id, transport=transport) as system:
        yield system, transport


async def admin(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url)


async def eventually(check: Any, timeout: float = 5.0, what: str = "the condition") -> None:
    """Wait until ``check()`` (maybe async) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.02)


async def clean(url: str, namespace: str) -> None:
    """Delete the namespace's keys, and check no task is left behind."""
    client = await admin(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
    runners = {"wait_for", "bounded", "main"}  # the test's own coroutine and its runner
    left = [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and task.get_coro().__name__ not in runners
    ]
    assert not left, f"tasks left behind: {left}"
