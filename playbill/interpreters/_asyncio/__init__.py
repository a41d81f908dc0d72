"""The asyncio interpreter: actors on real mailboxes, programs performed on the event loop.

Each actor is a cell: a `Mailbox` (system messages overtake user messages), an asyncio task
draining it one message at a time, its children (in start order), its watchers, and the
`ActorRef` whose binding is the cell itself — so ``ref.tell(msg)`` is one method call away
from the deque. Supervision decisions are taken by the parent, in its own task, between its
own messages; the policies themselves (mailbox overflow, strategies, budgets, backoff) are the
pure code of `playbill.actors`, shared with the simulator.
"""

from playbill.interpreters._asyncio._events import EventSubscription
from playbill.interpreters._asyncio._system import ActorSystem, run
from playbill.interpreters._asyncio._transport import Transport

__all__ = ["ActorSystem", "EventSubscription", "Transport", "run"]
