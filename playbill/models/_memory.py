"""Conversation memory: what a chat keeps of its past between turns."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from playbill.effects import InvalidArgument, Program, Pure
from playbill.effects._checks import check_count
from playbill.models._values import MESSAGE_TYPES, Message, SystemMessage, ToolResult

__all__ = ["RingBufferMemory"]


class RingBufferMemory:
    """The last ``max_messages`` messages of a conversation, after a pinned ``system``
    message that is never dropped (`SQLiteMemory` keeps the same window in a file). A tool
    result whose call was dropped is dropped with it, so the window never starts with an
    answer to a question it no longer holds.

    >>> from playbill.models import AssistantMessage, UserMessage
    >>> memory = RingBufferMemory(2, system=SystemMessage("Be brief."))
    >>> memory.add(UserMessage("hi"), AssistantMessage("hello"), UserMessage("bye"))
    >>> [message.content for message in memory.messages]
    ['Be brief.', 'hello', 'bye']
    """

    def __init__(self, max_messages: int, *, system: SystemMessage | None = None) -> None:
        self.max_messages = check_count("RingBufferMemory max_messages", max_messages, minimum=1)
        if system is not None and not isinstance(system, SystemMessage):
            raise InvalidArgument(
                f"RingBufferMemory system must be a SystemMessage or None, got {system!r}"
            )
        self.system = system
        self._window: deque[Message] = deque()

    def add(self, *messages: Message) -> None:
        """Append ``messages``, dropping the oldest past ``max_messages``."""
        for message in messages:
            if not isinstance(message, MESSAGE_TYPES):
                raise InvalidArgument(
                    f"RingBufferMemory.add takes messages, got {message!r} "
                    f"({type(message).__name__})"
                )
            self._window.append(message)
        while len(self._window) > self.max_messages:
            self._window.popleft()
        while self._window and isinstance(self._window[0], ToolResult):
            self._window.popleft()

    def recall(self) -> Program[tuple[Message, ...]]:
        """`messages` as a program, the form a chat reads a memory in (`SQLiteMemory`
        reads its file)."""
        return Pure(self.messages)

    def remember(self, *messages: Message) -> Program[None]:
        """`add` ``messages`` (now), as a program, the form a chat writes a memory in."""
        self.add(*messages)
        return Pure(None)

    def extend(self, messages: Iterable[Message]) -> None:
        """`add` each of ``messages``."""
        self.add(*messages)

    @property
    def messages(self) -> tuple[Message, ...]:
        """The system message (if any), then the window, oldest first."""
        window = tuple(self._window)
        return window if self.system is None else (self.system, *window)

    def clear(self) -> None:
        """Forget the window (the system message stays)."""
        self._window.clear()

    def __len__(self) -> int:
        return len(self._window)
