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


def script_calls(
    transport: RedisTransport, name: str, monkeypatch: Any, after: Any = None
) -> list[tuple[Any, ...]]:
    """The arguments (after the key count) of each call of the transport's script ``name``
    from now on that Redis ran (not a NOSCRIPT answer), whether sent alone (``evalsha``),
    in a pipeline, or in a host's or node's one write (a commit riding on a read, say).
    ``after(args)``, if given, is called once Redis answered such a call; if it raises, the
    answer is lost (for a call in one write: before the caller saw it). ``APPEND`` counts
    the plain ``XADD`` a node sends for one entry instead, as the call it stands for (its
    arguments: the stream, the envelope and the message id)."""
    from playbill.distributed import _host, _round_trips, _transport

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

    real_one_write = _round_trips.one_write

    async def one_write(
        to: Any, commands: Any, *, early: int = 0, on_early: Any = None, lane: Any = None
    ) -> list[Any]:
        if to is not client:
            return await real_one_write(to, commands, early=early, on_early=on_early, lane=lane)

        def check(answers: list[Any], start: int) -> None:
            for command, answer in zip(commands[start:], answers[start:], strict=False):
                if isinstance(answer, Exception):
                    continue
                if command[0] == "EVALSHA":
                    ran(command[1], tuple(command[3:]))
                elif command[0] == "XADD" and name == "APPEND" and len(command) == 7:
                    ran(transport._scripts[name].sha, (command[1], command[4], command[6]))

        async def first(answers: list[Any]) -> None:
            check(answers, 0)
            if on_early is not None:
                await on_early(answers)

        answers = await real_one_write(
            to, commands, early=early, on_early=first if early else None, lane=lane
        )
        check(answers, early)
        return answers

    client.evalsha, client.pipeline = evalsha, pipeline
    for module in (_host, _transport, _round_trips):
        if hasattr(module, "one_write"):
            monkeypatch.setattr(module, "one_write", one_write)
    return calls
