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
