"""`one_write`: several commands in one write to Redis, their answers read one by one.

A write that wakes redis-server costs the client hundreds of microseconds on a loaded
machine, so what a node sends together matters more than what it sends. redis-py's pipeline
sends its commands in one write, but answers only when the last one came back; behind a
blocking ``XREAD`` that is up to the read's ``BLOCK``. Here the first answers are handed
over as soon as they arrive (``early``), while the read still waits: a host's commit rides
on its next read, a node's appends on its reply read, and neither waits for the read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

__all__ = ["WriteGroup", "one_write", "stream_entries"]


async def _connection(pool: Any) -> Any:
    try:
        return await pool.get_connection()
    except TypeError:  # (redis-py < 5.3 wants a command name, which later ones deprecate)
        return await pool.get_connection("_")


async def one_write(
    client: aioredis.Redis,
    commands: Sequence[Sequence[Any]],
    *,
    early: int = 0,
    on_early: Callable[[list[Any]], Awaitable[None]] | None = None,
) -> list[Any]:
    """Send ``commands`` in one write on one of ``client``'s connections and return their
    raw answers in order, an error answer as its exception (as redis-py's pipeline with
    ``raise_on_error=False``). Once the first ``early`` answers are in, ``on_early`` gets
    them, before the rest are read. A fault or a cancellation closes the connection (its
    answers are unknown: the caller decides what to run again) and is raised."""
    pool = client.connection_pool
    connection = await _connection(pool)
    try:
        await connection.send_packed_command(connection.pack_commands(commands))
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
        await pool.release(connection)
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
