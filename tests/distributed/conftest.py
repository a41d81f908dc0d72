"""The Redis tests' fixtures: one redis-server for the session (skipped, only these tests,
when redis-server is missing), a fresh namespace per test, and a check that each test leaves
no task behind."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.distributed.support import MISSING, RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip(MISSING)
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.ping():  # (a test that stopped it leaves it running for the next)
        redis_server.start()
    return redis_server.url


@pytest.fixture
def namespace() -> str:
    """Fresh keys for each test."""
    return f"t{uuid.uuid4().hex[:12]}"
