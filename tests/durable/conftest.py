"""Every `SQLiteJournal` a durable test opens is closed when the test ends, as a program
that owns one must: Python 3.13 warns of a connection left to the garbage collector, and the
suite turns warnings into errors."""

from collections.abc import Iterator
from typing import Any

import pytest

from playbill.durable import SQLiteJournal


@pytest.fixture(autouse=True)
def journals_are_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SQLiteJournal]]:
    opened: list[SQLiteJournal] = []
    original = SQLiteJournal.__init__

    def opening(self: SQLiteJournal, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(SQLiteJournal, "__init__", opening)
    yield opened
    for journal in opened:
        journal.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One redis-server for the durable tests that use a `RedisJournal` (skipped, only
    those, when redis-server or redis-py is missing)."""
    from playbill.testing.redis import REDIS_MISSING, RedisServer, redis_server_path

    pytest.importorskip("redis", reason="needs redis-py: pip install 'playbill[redis]'")
    if redis_server_path() is None:
        pytest.skip(REDIS_MISSING)
    server = RedisServer(directory=tmp_path_factory.mktemp("redis"), appendfsync="always")
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    if not redis_server.ping():
        redis_server.start()
    return str(redis_server.url)


@pytest.fixture
def namespace() -> str:
    """Fresh keys for each test."""
    import uuid

    return f"t{uuid.uuid4().hex[:12]}"
