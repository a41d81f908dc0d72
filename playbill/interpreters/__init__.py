"""The performers: each turns a `Program` into a result.

``stub`` runs programs synchronously with plain-function handlers and a virtual clock, for
unit-testing a program's logic. `ActorSystem` (and the synchronous `run`) perform programs on
real mailboxes under asyncio, for production. The deterministic simulator joins them.
"""

from playbill.interpreters import stub
from playbill.interpreters._asyncio import ActorSystem, EventSubscription, run

__all__ = ["ActorSystem", "EventSubscription", "run", "stub"]
