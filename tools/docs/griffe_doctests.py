"""A griffe extension for the API reference: the docstrings' doctest examples (``>>>`` lines
and the output under them, up to a blank line) become fenced ``pycon`` code, so the site
shows them as code rather than as Markdown (where ``>>>`` is a nested quote and an output
such as ``[('a', 1)]`` reads as a reference link). The docstrings themselves stay plain
doctests, run by the suite."""

from __future__ import annotations

import re
from typing import Any

import griffe

PROMPT = re.compile(r"^(\s*)>>> ")


def fence_doctests(text: str) -> str:
    """Wrap every doctest run of ``text`` in a fenced ``pycon`` block."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        prompt = PROMPT.match(lines[index])
        if not prompt:
            out.append(lines[index])
            index += 1
            continue
        indent = prompt.group(1)
        out.append(f"{indent}```pycon")
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    """Fence the doctests of every docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>> " in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
