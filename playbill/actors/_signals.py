"""System messages: what a cell tells itself or its parent, overtaking user messages
(start, stop, resume, a child failed, restart)."""

from __future__ import annotations

from typing import Generic, TypeVar, final

__all__ = ["IDLE", "RESUME", "START", "STOP", "ChildFailed", "Restart"]

C = TypeVar("C")


@final
class _Signal:
    """A system message without data; its name is what it means."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


START = _Signal("START")
"""Run ``on_start`` (the first thing a new cell does)."""


STOP = _Signal("STOP")
"""Stop: children first, then ``on_stop``; then the cell is gone."""


IDLE = _Signal("IDLE")
"""An `AfterIdle` stop policy's timer went off: stop if idle long enough."""


RESUME = _Signal("RESUME")
"""The supervisor decided to resume: handle messages again."""


@final
class ChildFailed(Generic[C]):
    """To a parent: its child ``child`` failed with ``error``; decide."""

    __slots__ = ("child", "error")

    def __init__(self, child: C, error: BaseException) -> None:
        self.child = child
        self.error = error


@final
class Restart:
    """The supervisor decided to restart after ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error
