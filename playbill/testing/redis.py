"""A throwaway ``redis-server`` for tests, benchmarks and examples: on 127.0.0.1, a free
random port, its own temporary directory, AOF on; stopped (or killed, then restarted on the
same port and data) by the test. Needs only the ``redis-server`` program (Debian's
package ``redis-server``; ``make test`` installs it when missing) — not redis-py.

>>> server = RedisServer()
>>> server.url.startswith("redis://127.0.0.1:")
True
>>> server.running
False
>>> server.close()

With the program installed::

    with RedisServer() as server:        # started, PING answered
        use(server.url)
        server.kill()                    # SIGKILL, as a crash would
        server.start()                   # the same port and data directory: AOF replayed
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from playbill.effects import InvalidArgument
from playbill.effects._checks import check_one_of, check_seconds

__all__ = ["REDIS_MISSING", "RedisServer", "RedisServerError", "free_port", "redis_server_path"]

REDIS_MISSING: Final = (
    "redis-server not found: run `make test` as root (it installs Debian's redis-server) "
    "or install it yourself: apt-get install redis-server"
)
"""What to say when the program is missing (the Redis tests skip with this line)."""

_FSYNC = ("always", "everysec", "no")


class RedisServerError(RuntimeError):
    """The server did not start or answer; the message carries the end of its log."""


def redis_server_path() -> str | None:
    """Where ``redis-server`` is, or None when it is not installed.

    >>> redis_server_path() is None or redis_server_path().endswith("redis-server")
    True
    """
    return shutil.which("redis-server")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` child process on 127.0.0.1 for tests (see the module's docstring).

    ``port`` is free and random unless given; ``directory`` is a new temporary directory
    (removed by `close`) unless given; ``appendonly`` and ``appendfsync`` are Redis's
    options of the same names. `start` waits at most ``start_timeout`` seconds for PING.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        appendonly: bool = True,
        appendfsync: Literal["always", "everysec", "no"] = "everysec",
        start_timeout: float = 10.0,
        executable: str | None = None,
    ) -> None:
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            raise InvalidArgument(
                f"RedisServer port must be an int in 1..65535, or None for a free random "
                f"one; got {port!r}"
            )
        if not isinstance(appendonly, bool):
            raise InvalidArgument(
                f"RedisServer appendonly must be True or False, got {appendonly!r}"
            )
        check_one_of("RedisServer appendfsync", appendfsync, _FSYNC)
        self.start_timeout = check_seconds(
            "RedisServer start_timeout", start_timeout, infinite=False
        )
        self._chosen_port = port
        self.port = port if port is not None else free_port()
        self._own_directory = directory is None
        self.directory = Path(
            tempfile.mkdtemp(prefix="playbill-redis-") if directory is None else directory
        )
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.executable = executable
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def ping(self) -> bool:
        """Whether the server answers PING now."""
        return _ping(self.port, 0.5)

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def start(self) -> RedisServer:
        """Start the server (again, after `stop` or `kill`: on the same port and directory)
        and wait until it answers PING."""
        if self.running:
            return self
        executable = self.executable or redis_server_path()
        if executable is None:
            raise RedisServerError(REDIS_MISSING)
        for attempt in range(5):
            try:
                self._process = self._spawn(executable)
            except OSError as error:
                raise RedisServerError(f"could not run {executable}: {error}") from error
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if _ping(self.port, 0.5):
                    return self
                if self._process.poll() is not None:
                    break
                time.sleep(0.02)
            self._reap(kill=True)
            if self._chosen_port is not None or attempt == 4:
                break
            self.port = free_port()  # another process took the port: try another
        raise RedisServerError(
            f"redis-server did not answer on 127.0.0.1:{self.port} within "
            f"{self.start_timeout}s; its log ends:\n{self._log_tail()}"
        )

    def _spawn(self, executable: str) -> subprocess.Popen[bytes]:
        arguments = [
            executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--protected-mode", "yes",
            "--logfile", str(self.log),
            "--daemonize", "no",
        ]  # fmt: skip
        return subprocess.Popen(
            arguments,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the test run is not the server's
        )

    def stop(self) -> None:
        """Stop the server cleanly (SIGTERM: Redis flushes its AOF and exits)."""
        self._reap(kill=False)

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would; `start` brings it back."""
        self._reap(kill=True)

    def restart(self, *, kill: bool = False) -> None:
        """Stop (or kill) and start again on the same port and directory."""
        self._reap(kill=kill)
        self.start()

    def close(self) -> None:
        """Stop the server and remove the directory it was given by default."""
        self._reap(kill=False)
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _reap(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            process.kill()
            process.wait()

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-10:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer({self.url}, {state}, dir={str(self.directory)!r})"
