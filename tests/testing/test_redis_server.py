"""`playbill.testing.redis.RedisServer`: a throwaway redis-server for tests."""

from __future__ import annotations

import socket

import pytest

from playbill.effects import InvalidArgument
from playbill.testing.redis import REDIS_MISSING, RedisServer, RedisServerError, redis_server_path

needs_redis = pytest.mark.skipif(redis_server_path() is None, reason=REDIS_MISSING)


def command(port: int, line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(line + b"\r\n")
        return connection.recv(100)


@needs_redis
def test_a_killed_server_restarts_on_its_port_with_its_data() -> None:
    with RedisServer() as server:
        assert server.running
        assert command(server.port, b"SET key 1") == b"+OK\r\n"
        port = server.port
        server.kill()
        assert not server.running
        server.start()
        assert server.port == port
        assert command(server.port, b"GET key") == b"$1\r\n1\r\n"  # the AOF was replayed
        directory = server.directory
    assert not server.running
    assert not directory.exists()


@needs_redis
def test_a_given_directory_is_kept(tmp_path: pytest.TempPathFactory) -> None:
    with RedisServer(directory=tmp_path) as server:  # type: ignore[arg-type]
        command(server.port, b"SET key 1")
    assert (tmp_path / "redis.log").exists()  # type: ignore[operator]


def test_a_missing_program_says_how_to_install_it() -> None:
    server = RedisServer(executable="/nonexistent/redis-server")
    with pytest.raises(RedisServerError, match="could not run /nonexistent/redis-server"):
        server.start()
    server.close()
    assert "apt-get install redis-server" in REDIS_MISSING


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"port": 0}, "port"),
        ({"port": "6379"}, "port"),
        ({"port": True}, "port"),
        ({"appendonly": "yes"}, "appendonly"),
        ({"appendfsync": "sometimes"}, "appendfsync"),
        ({"start_timeout": -1}, "start_timeout"),
    ],
)
def test_bad_options_are_refused_naming_them(options: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named):
        RedisServer(**options)  # type: ignore[arg-type]
