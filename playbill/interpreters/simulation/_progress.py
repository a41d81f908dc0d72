"""The progress line of a long `explore`: runs done, runs a second, failures found — drawn
with rich when it is installed (``pip install 'playbill[progress]'``), else as one plain line
rewritten in place."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["Progress"]

QUIET_FOR = 1.0
"""Seconds an exploration runs before its line appears when nobody asked for it: short
explorations stay silent."""
EVERY = 0.1
"""Seconds between two redraws."""


def _wanted() -> bool:
    """Shown on a terminal; quiet in CI (``CI`` set) and under pytest, unless asked."""
    if os.environ.get("CI") or "PYTEST_CURRENT_TEST" in os.environ:
        return False
    stream = sys.stderr
    return stream is not None and stream.isatty()


class Progress:
    """A progress line that draws nothing (the default, and the base of the drawing ones)."""

    def __init__(self, total: int, delay: float) -> None:
        self.total = total
        self.runs = 0
        self.failures = 0
        self.shrinks = 0
        self.began = time.monotonic()
        self.next_draw = self.began + delay
        self.drawn = False

    @staticmethod
    def start(total: int, wanted: bool | None) -> Progress:
        """The line for an exploration of ``total`` runs: drawn when ``wanted`` (``None``:
        on a terminal, outside CI and pytest)."""
        if wanted is False or (wanted is None and not _wanted()):
            return Progress(total, 0.0)
        delay = 0.0 if wanted else QUIET_FOR
        try:
            import rich.progress  # noqa: F401
        except ImportError:
            return _PlainLine(total, delay)
        return _RichLine(total, delay)

    def ran(self, runs: int) -> None:
        self.runs = runs
        self._tick()

    def found(self) -> None:
        self.failures += 1
        self._tick(force=True)

    def shrinking(self, attempts: int) -> None:
        self.shrinks = attempts
        self._tick()

    def close(self) -> None:
        """The last state, drawn if the line was shown at all."""

    def _tick(self, force: bool = False) -> None:
        if type(self) is Progress:
            return
        moment = time.monotonic()
        if moment >= self.next_draw or (force and self.drawn):
            self.next_draw = moment + EVERY
            self.drawn = True
            self._draw(moment)

    def _draw(self, moment: float) -> None:
        raise NotImplementedError

    def text(self, moment: float) -> str:
        elapsed = max(moment - self.began, 1e-9)
        rate = self.runs / elapsed
        failures = "1 failure found" if self.failures == 1 else f"{self.failures} failures found"
        shrinking = f", shrinking ({self.shrinks} tries)" if self.shrinks else ""
        return f"explore: {self.runs}/{self.total} runs, {rate:,.0f} runs/s, {failures}{shrinking}"


class _PlainLine(Progress):
    """One line on stderr, rewritten with a carriage return."""

    width = 0

    def _draw(self, moment: float) -> None:
        line = self.text(moment)
        stream = sys.stderr
        stream.write("\r" + line.ljust(self.width))
        stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.drawn:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()


class _RichLine(Progress):
    """A rich progress bar on stderr with the same text beside it."""

    def __init__(self, total: int, delay: float) -> None:
        super().__init__(total, delay)
        self.bar: Any = None
        self.task: Any = None

    def _draw(self, moment: float) -> None:
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self.task = self.bar.add_task("", total=self.total)
            self.bar.start()
        self.bar.update(self.task, completed=self.runs, description=self.text(moment))

    def close(self) -> None:
        if self.drawn:
            self._draw(time.monotonic())
            self.bar.stop()
