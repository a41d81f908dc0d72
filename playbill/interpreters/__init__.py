"""The performers: each turns a `Program` into a result.

``stub`` runs programs synchronously with plain-function handlers and a virtual clock, for
unit-testing a program's logic. The asyncio runtime and the deterministic simulator join it.
"""

from playbill.interpreters import stub

__all__ = ["stub"]
