"""Replies and conversations kept in a SQLite file, so they survive a restart.

Every read and write is a `blocking` effect: under asyncio it runs on the system's bounded
thread pool, so a slow disk never holds the event loop; under the stub and the simulator it
runs inline. Each call opens its own connection (a pool thread may differ from call to call)
in WAL mode, so readers and a writer in several processes do not block one another.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from playbill.effects import InvalidArgument, Program, blocking
from playbill.effects._checks import check_count
from playbill.models._values import (
    MESSAGE_TYPES,
    AssistantMessage,
    Completion,
    FinishReason,
    Message,
    SystemMessage,
    ToolCall,
    ToolResult,
    Usage,
    UserMessage,
)

__all__ = ["SQLiteCache", "SQLiteMemory"]


def _check_path(where: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)) or str(path) in ("", ":memory:"):
        raise InvalidArgument(
            f"{where} path must be the path of a database file (a str or a Path), got "
            f"{path!r}; each call opens its own connection, so ':memory:' would forget at once"
        )
    return Path(path)


@contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=30)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        with connection:  # one transaction: committed, or rolled back on an error
            yield connection


def _calls_form(calls: Iterable[ToolCall]) -> list[list[str]]:
    return [[call.id, call.name, call.arguments] for call in calls]


def _calls(form: list[list[str]]) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(id, name, arguments) for id, name, arguments in form)


def _encode_completion(completion: Completion) -> str:
    return json.dumps(
        {
            "text": completion.text,
            "tool_calls": _calls_form(completion.tool_calls),
            "usage": [completion.usage.input_tokens, completion.usage.output_tokens],
            "finish_reason": completion.finish_reason.value,
            "model": completion.model,
        }
    )


def _decode_completion(text: str) -> Completion:
    form = json.loads(text)
    return Completion(
        form["text"],
        _calls(form["tool_calls"]),
        Usage(*form["usage"]),
        FinishReason(form["finish_reason"]),
        form["model"],
    )


def _encode_message(message: Message) -> str:
    form: list[Any]
    if isinstance(message, AssistantMessage):
        form = ["assistant", message.content, _calls_form(message.tool_calls)]
    elif isinstance(message, ToolResult):
        form = ["tool", message.call_id, message.content, message.is_error]
    else:
        form = [message.role.value, message.content]
    return json.dumps(form)


def _decode_message(text: str) -> Message:
    role, *rest = json.loads(text)
    if role == "assistant":
        return AssistantMessage(rest[0], _calls(rest[1]))
    if role == "tool":
        return ToolResult(rest[0], rest[1], rest[2])
    return SystemMessage(rest[0]) if role == "system" else UserMessage(rest[0])


class SQLiteCache:
    """A response cache for `with_cache` in a SQLite file, keyed by `request_key`: replies
    survive a restart and are shared by every process that opens the file. ``get`` and
    ``put`` are Programs of a `blocking` call, so the event loop never waits on the disk.

    >>> import tempfile, pathlib
    >>> from playbill.interpreters import stub
    >>> from playbill.models import Completion
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "replies.db"
    >>> stub.run(SQLiteCache(path).put("k", Completion("kept")))
    >>> stub.run(SQLiteCache(path).get("k")).text  # another cache on the same file
    'kept'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = _check_path("SQLiteCache", path)
        with _connection(self.path) as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS playbill_replies (key TEXT PRIMARY KEY, reply TEXT)"
            )

    def get(self, key: str) -> Program[Completion | None]:
        """A program of the reply kept under ``key``, or ``None``."""
        return blocking(self._get, key)

    def put(self, key: str, completion: Completion) -> Program[None]:
        """A program that keeps ``completion`` under ``key`` (replacing what was there)."""
        return blocking(self._put, key, _encode_completion(completion))

    def _get(self, key: str) -> Completion | None:
        with _connection(self.path) as connection:
            row = connection.execute(
                "SELECT reply FROM playbill_replies WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else _decode_completion(row[0])

    def _put(self, key: str, reply: str) -> None:
        with _connection(self.path) as connection:
            connection.execute(
                "INSERT OR REPLACE INTO playbill_replies (key, reply) VALUES (?, ?)", (key, reply)
            )

    def __len__(self) -> int:
        with _connection(self.path) as connection:
            (count,) = connection.execute("SELECT COUNT(*) FROM playbill_replies").fetchone()
        return int(count)

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r})"


class SQLiteMemory:
    """The last ``max_messages`` messages of a conversation, after a pinned ``system``
    message, kept in a SQLite file so the conversation survives a restart — the window of a
    `RingBufferMemory` (a tool result whose call was dropped goes with it), one per
    ``conversation`` name in a file.

    In a program, use ``recall()`` and ``remember(*messages)``: Programs of a `blocking`
    call, so under asyncio the disk is read on the thread pool (`ChatAgent` does). ``add``,
    ``messages``, ``clear`` and ``len`` touch the file directly, for scripts and tests.

    >>> import tempfile, pathlib
    >>> from playbill.interpreters import stub
    >>> from playbill.models import AssistantMessage, UserMessage
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "chat.db"
    >>> stub.run(SQLiteMemory(path, 10).remember(UserMessage("hi"), AssistantMessage("hello")))
    >>> [message.content for message in stub.run(SQLiteMemory(path, 10).recall())]
    ['hi', 'hello']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_messages: int,
        *,
        system: SystemMessage | None = None,
        conversation: str = "default",
    ) -> None:
        self.path = _check_path("SQLiteMemory", path)
        self.max_messages = check_count("SQLiteMemory max_messages", max_messages, minimum=1)
        if system is not None and not isinstance(system, SystemMessage):
            raise InvalidArgument(
                f"SQLiteMemory system must be a SystemMessage or None, got {system!r}"
            )
        if not isinstance(conversation, str) or not conversation:
            raise InvalidArgument(
                f"SQLiteMemory conversation must be a non-empty str naming the conversation "
                f"in the file, got {conversation!r}"
            )
        self.system = system
        self.conversation = conversation
        with _connection(self.path) as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS playbill_messages (id INTEGER PRIMARY KEY "
                "AUTOINCREMENT, conversation TEXT NOT NULL, role TEXT NOT NULL, message TEXT)"
            )
            connection.execute(
                "CREATE INDEX IF NOT EXISTS playbill_messages_by_conversation "
                "ON playbill_messages (conversation, id)"
            )

    def recall(self) -> Program[tuple[Message, ...]]:
        """A program of the system message (if any), then the window, oldest first."""
        return blocking(self._messages)

    def remember(self, *messages: Message) -> Program[None]:
        """A program that appends ``messages``, dropping the oldest past ``max_messages``."""
        for message in messages:
            if not isinstance(message, MESSAGE_TYPES):
                raise InvalidArgument(
                    f"SQLiteMemory.add takes messages, got {message!r} ({type(message).__name__})"
                )
        rows = [(message.role.value, _encode_message(message)) for message in messages]
        return blocking(self._add, rows)

    def add(self, *messages: Message) -> None:
        """`remember` ``messages`` now, blocking the calling thread."""
        self.remember(*messages)  # checks them
        self._add([(message.role.value, _encode_message(message)) for message in messages])

    def extend(self, messages: Iterable[Message]) -> None:
        """`add` each of ``messages``."""
        self.add(*messages)

    @property
    def messages(self) -> tuple[Message, ...]:
        """What `recall` gives, read now, blocking the calling thread."""
        return self._messages()

    def clear(self) -> None:
        """Forget this conversation's window (the system message stays)."""
        with _connection(self.path) as connection:
            connection.execute(
                "DELETE FROM playbill_messages WHERE conversation = ?", (self.conversation,)
            )

    def __len__(self) -> int:
        with _connection(self.path) as connection:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM playbill_messages WHERE conversation = ?",
                (self.conversation,),
            ).fetchone()
        return int(count)

    def __repr__(self) -> str:
        return (
            f"SQLiteMemory({str(self.path)!r}, {self.max_messages}, "
            f"conversation={self.conversation!r})"
        )

    def _messages(self) -> tuple[Message, ...]:
        with _connection(self.path) as connection:
            rows = connection.execute(
                "SELECT message FROM playbill_messages WHERE conversation = ? ORDER BY id",
                (self.conversation,),
            ).fetchall()
        window = tuple(_decode_message(row[0]) for row in rows)
        return window if self.system is None else (self.system, *window)

    def _add(self, rows: list[tuple[str, str]]) -> None:
        with _connection(self.path) as connection:
            connection.executemany(
                "INSERT INTO playbill_messages (conversation, role, message) VALUES (?, ?, ?)",
                [(self.conversation, role, message) for role, message in rows],
            )
            newest = connection.execute(
                "SELECT id, role FROM playbill_messages WHERE conversation = ? "
                "ORDER BY id DESC LIMIT ?",
                (self.conversation, self.max_messages),
            ).fetchall()
            kept = list(reversed(newest))
            while kept and kept[0][1] == "tool":
                kept.pop(0)
            first_kept = kept[0][0] if kept else None
            if first_kept is None:
                connection.execute(
                    "DELETE FROM playbill_messages WHERE conversation = ?", (self.conversation,)
                )
            else:
                connection.execute(
                    "DELETE FROM playbill_messages WHERE conversation = ? AND id < ?",
                    (self.conversation, first_kept),
                )
