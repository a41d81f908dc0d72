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


def script_calls(transport: RedisTransport, name: str, after: Any = None) -> list[tuple[Any, ...]]:
    """The arguments (after the key count) of each call of the transport's script ``name``
    from now on that Redis ran (not a NOSCRIPT answer), whether sent alone (``evalsha``)
    or in a pipeline (a host's commit riding on its next read, say). ``after(args)``, if
    given, is called once Redis answered such a call (it may raise: the answer is lost)."""
    client: Any = transport._redis
    real_evalsha, real_pipeline, calls = client.evalsha, client.pipeline, []

    def ran(sha: Any, args: tuple[Any, ...]) -> None:
        if sha == transport._scripts[name].sha:
            calls.append(args)
            if after is not None:
                after(args)

    async def evalsha(sha: Any, keys: Any, *args: Any) -> Any:
        answer = await real_evalsha(sha, keys, *args)
        ran(sha, args)
        return answer

    def pipeline(*p_args: Any, **p_kwargs: Any) -> Any:
        made = real_pipeline(*p_args, **p_kwargs)
        real_execute = made.execute

        async def execute(*e_args: Any, **e_kwargs: Any) -> Any:
            sent = [(args[1], args[3:]) for args, _ in made.command_stack if args[0] == "EVALSHA"]
            answers = await real_execute(*e_args, **e_kwargs)
            for (sha, args), answer in zip(sent, answers, strict=False):
                if not isinstance(answer, Exception):
                    ran(sha, args)
            return answers

        made.execute = execute
        return made

    client.evalsha, client.pipeline = evalsha, pipeline
    return calls
