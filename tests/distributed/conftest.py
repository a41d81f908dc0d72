"""The Redis tests' fixtures: one redis-server for the session (skipped, only these tests,
when redis-server is missing), a fresh namespace per test, and a check that each test leaves
no task behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from playbill.testing.redis import REDIS_MISSING, RedisServer, redis_server_path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if redis_server_path() is None:
        pytest.skip(REDIS_MISSING)
    # appendfsync always: the strictest setting, under which an acknowledged write is on disk
    server = RedisServer(directory=tmp_path_factory.mktemp("redis"), appendfsync="always")
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.ping():  # (a test that stopped it leaves it running for the next)
        redis_server.start()
    return redis_server.url


@pytest.fixture
def namespace() -> str:
    """Fresh keys for each test."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def arun():
    """Run a coroutine on a fresh event loop, failing the test after 20 s with the stacks of
    the tasks still running."""
    import asyncio
    import io

    def runner(awaitable):
        async def bounded():
            task = asyncio.ensure_future(awaitable)
            done, _ = await asyncio.wait({task}, timeout=20)
            if not done:
                stacks = io.StringIO()
                for other in asyncio.all_tasks():
                    if other is not asyncio.current_task():
                        other.print_stack(file=stacks)
                        coroutine = other.get_coro()
                        while coroutine is not None:  # the awaited chain, innermost last
                            frame = getattr(coroutine, "cr_frame", None) or getattr(
                                coroutine, "gi_frame", None
                            )
                            if frame is not None:
                                print(
                                    f"  awaits {frame.f_code.co_qualname} at line "
                                    f"{frame.f_lineno} of {frame.f_code.co_filename}",
                                    file=stacks,
                                )
                            coroutine = getattr(coroutine, "cr_await", None) or getattr(
                                coroutine, "gi_yieldfrom", None
                            )
                task.cancel()
                raise AssertionError(f"timed out after 20s; tasks:\n{stacks.getvalue()}")
            return task.result()

        return asyncio.run(bounded())

    return runner
