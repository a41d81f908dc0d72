"""What the side-by-side scripts share: their command line (``--quick``, ``--uvloop``,
``--repeats``) with the event loop it chooses, running a scenario that may be a coroutine, and
the peer's version."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


def command_line(
    doc: str, argv: list[str] | None, *, repeats: int, quick: str
) -> tuple[argparse.Namespace, str]:
    """The options parsed, and the loop they chose: ``uvloop`` installed as the event loop
    policy when asked and installed, else ``asyncio`` (saying why)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (if installed)")
    parser.add_argument("--repeats", type=int, default=repeats)
    options = parser.parse_args(argv)
    if options.uvloop:
        try:
            import uvloop
        except ImportError:
            print("uvloop is not installed (pip install 'playbill[uvloop]'); using asyncio")
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return options, "uvloop"
    return options, "asyncio"


def perform(function: Callable[[], Any]) -> Any:
    """``function()``, run on a fresh event loop when it gives a coroutine."""
    made = function()
    if isinstance(made, Awaitable):
        return asyncio.run(made)  # type: ignore[arg-type]
    return made


def peer_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("everything-is-an-actor")
    except metadata.PackageNotFoundError:  # pragma: no cover - installed from a checkout
        return "(version unknown)"
