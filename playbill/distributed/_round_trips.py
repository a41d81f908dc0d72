"""`one_write`: several commands in one write to Redis, their answers read one by one.

A write that wakes redis-server costs the client hundreds of microseconds on a loaded
machine, so what a node sends together matters more than what it sends. redis-py's pipeline
sends its commands in one write, but answers only when the last one came back; behind a
blocking ``XREAD`` that is up to the read's ``BLOCK``. Here the first answers are handed
over as soon as they arrive (``early``), while the read still waits: a host's commit rides
on its next read, a node's appends on its reply read, and neither waits for the read.

On an ask's path every step of the client counts, so a write here costs as little as it can:
the commands are packed by `pack` (a third of the time redis-py's packer takes for the
str/bytes/int arguments a node sends), written straight to the connection's stream (redis-py's
``send_packed_command`` wraps the write in ``asyncio.wait_for``, which on Python 3.11 runs it
in a task of its own: one more loop turn before the bytes leave), and a reader loop keeps one
connection for all its writes (a `Lane`) instead of taking one from the pool and giving it
back each time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

__all__ = ["Lane", "WriteGroup", "one_write", "pack", "stream_entries"]


async def _connection(pool: Any) -> Any:
    try:
        return await pool.get_connection()
    except TypeError:  # (redis-py < 5.3 wants a command name, which later ones deprecate)
        return await pool.get_connection("_")


def pack(commands: Sequence[Sequence[Any]], encoding: str = "utf-8") -> bytes | None:
    r"""``commands`` in the Redis protocol, as one bytes, when every argument is bytes, str,
    int or float (as redis-py encodes them); ``None`` otherwise (redis-py packs them then).

    >>> pack([("GET", "k"), ("INCRBY", b"n", 2)])
    b'*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$1\r\n2\r\n'
    >>> pack([("SET", "k", True)]) is None
    True
    """
    out: list[bytes] = []
    add = out.append
    for command in commands:
        add(b"*%d\r\n" % len(command))
        for argument in command:
            kind = type(argument)
            if kind is bytes:
                data = argument
            elif kind is str:
                data = argument.encode(encoding)
            elif kind is int:
                data = b"%d" % argument
            elif kind is float:
                data = repr(argument).encode()
            else:  # (a bool, a memoryview, a subclass: redis-py's rules)
                return None
            add(b"$%d\r\n" % len(data))
            add(data)
            add(b"\r\n")
    return b"".join(out)


async def _send(connection: Any, commands: Sequence[Sequence[Any]]) -> None:
    """Write ``commands`` on ``connection`` (connected again first if it was dropped)."""
    writer = getattr(connection, "_writer", None)
    data = pack(commands, connection.encoder.encoding)
    if writer is None or data is None or not connection.is_connected:
        # (not connected, or arguments only redis-py packs: its own path)
        await connection.send_packed_command(connection.pack_commands(commands))
        return
    try:
        writer.write(data)
        if writer.transport.get_write_buffer_size():  # (the socket took less than all of it)
            await asyncio.wait_for(writer.drain(), connection.socket_timeout)
    except TimeoutError as error:  # (as send_packed_command: redis-py's errors)
        raise redis.exceptions.TimeoutError("Timeout writing to socket") from error
    except OSError as error:
        raise redis.exceptions.ConnectionError(f"Error while writing to socket: {error}") from error


class Lane:
    """One connection of ``client``'s pool, kept by one task for its writes (`one_write`'s
    ``lane``): a reader loop that writes on every turn takes a connection once, not once a
    turn. A fault drops the connection, and the next write connects it again; `close` gives
    it back. A write while another is under way (never, for one task) takes a connection
    from the pool as without a lane."""

    __slots__ = ("_busy", "_connection", "client")

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._connection: Any = None
        self._busy = False

    async def close(self) -> None:
        """Give the connection back to the pool (dropped, if a write was cut short)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await self.client.connection_pool.release(connection)


async def one_write(
    client: aioredis.Redis,
    commands: Sequence[Sequence[Any]],
    *,
    early: int = 0,
    on_early: Callable[[list[Any]], Awaitable[None]] | None = None,
    lane: Lane | None = None,
) -> list[Any]:
    """Send ``commands`` in one write on one of ``client``'s connections (``lane``'s, if
    given) and return their raw answers in order, an error answer as its exception (as
    redis-py's pipeline with ``raise_on_error=False``). Once the first ``early`` answers are
    in, ``on_early`` gets them, before the rest are read. A fault or a cancellation closes the
    connection (its answers are unknown: the caller decides what to run again) and is
    raised."""
    pool = client.connection_pool
    own = lane is None or lane._busy
    if own:
        connection = await _connection(pool)
    else:
        assert lane is not None
        if lane._connection is None:
            lane._connection = await _connection(pool)
        connection = lane._connection
        lane._busy = True
    try:
        await _send(connection, commands)
        answers: list[Any] = []
        for index in range(len(commands)):
            if index == early and on_early is not None:
                await on_early(answers)
            try:
                answers.append(await connection.read_response())
            except redis.exceptions.ResponseError as error:
                answers.append(error)
        if early >= len(commands) and on_early is not None:
            await on_early(answers)
    except BaseException:
        await connection.disconnect(nowait=True)
        raise
    finally:
        if own:
            await pool.release(connection)
        else:
            assert lane is not None
            lane._busy = False
    return answers


def stream_entries(answer: Any) -> list[tuple[bytes, list[Any]]]:
    """The entries of a raw ``XREAD`` answer for one stream, ``(id, [field, value, ...])``
    each (RESP2 answers a list of ``[stream, entries]``, RESP3 a map; none: ``[]``)."""
    if not answer:
        return []
    streams = answer.values() if isinstance(answer, dict) else (pair[1] for pair in answer)
    return [(entry, fields) for entries in streams for entry, fields in entries]


class WriteGroup:
    """Commands that several tasks send in the same loop turn go out in one write
    (`one_write`), each task getting its own answers: the commits of a node's actors,
    released together, cost one write instead of one each."""

    __slots__ = ("_waiting", "_writes")

    def __init__(self) -> None:
        self._waiting: list[tuple[Sequence[Sequence[Any]], asyncio.Future[list[Any]]]] = []
        self._writes: set[asyncio.Future[None]] = set()

    async def send(self, client: aioredis.Redis, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """``commands``' answers (as `one_write`'s), written with those of the other tasks
        that send in this loop turn; a fault of the write is raised to each."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append((commands, future))
        if len(self._waiting) == 1:  # (after the tasks already woken in this turn)
            loop.call_soon(self._start, client)
        return await future

    def _start(self, client: aioredis.Redis) -> None:
        waiting, self._waiting = self._waiting, []
        write = asyncio.ensure_future(self._write(client, waiting))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    @staticmethod
    async def _write(
        client: aioredis.Redis,
        waiting: list[tuple[Sequence[Sequence[Any]], asyncio.Future[list[Any]]]],
    ) -> None:
        try:
            answers = await one_write(client, [c for commands, _ in waiting for c in commands])
        except BaseException as error:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        start = 0
        for commands, future in waiting:
            if not future.done():  # (a cancelled sender's answers are dropped)
                future.set_result(answers[start : start + len(commands)])
            start += len(commands)
