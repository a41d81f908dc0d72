"""A redis-server of the tests' own: 127.0.0.1, a free random port, a temporary directory,
AOF on; stopped, and restarted on the same port and directory, at will (the Redis-restart
tests need that)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

MISSING = (
    "redis-server not found: run `make test` as root (it installs Debian's redis-server) or "
    "apt-get install redis-server"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """``start()``, ``stop()`` (SIGTERM, or ``kill=True`` for SIGKILL) and ``restart()`` one
    redis-server, always on the same port and directory; ``url`` reaches it."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError(MISSING)
        self.executable = executable
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--protected-mode", "yes",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}; see "
                    f"{self.directory / 'redis.log'}"
                )
            if self.ping():
                return
            time.sleep(0.02)
        self.stop(kill=True)
        raise RuntimeError(f"redis-server did not answer PING on port {self.port} in {timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()


# -- nodes --------------------------------------------------------------------------------------

import asyncio  # noqa: E402
import contextlib  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from typing import Any  # noqa: E402

import redis.asyncio as aioredis  # noqa: E402

from playbill.distributed import RedisTransport  # noqa: E402
from playbill.interpreters import ActorSystem  # noqa: E402

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
