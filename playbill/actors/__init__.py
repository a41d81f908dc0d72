"""Actor semantics as pure code shared by every interpreter: the `Actor` base class and its
context, mailbox policies, supervision strategies and directives, restart budgets and backoff,
paths, events and dead letters. Nothing here imports asyncio."""

from playbill.actors._actor import DEFAULT_ASK_TIMEOUT, Actor, ActorContext, Terminated
from playbill.actors._events import (
    ActorEvent,
    DeadLetter,
    DeadLettered,
    DeadLetterReason,
    DeadLetters,
    Emitted,
    Escalated,
    Failed,
    Restarted,
    Spawned,
    Stopped,
)
from playbill.actors._mailbox import (
    Bounded,
    Mailbox,
    MailboxFull,
    MailboxPolicy,
    Offer,
    Overflow,
    Unbounded,
)
from playbill.actors._paths import check_name, child_path, split_path
from playbill.actors._supervision import (
    AllForOne,
    Backoff,
    Directive,
    OneForOne,
    RestartBudget,
    RestForOne,
    SupervisionStrategy,
    restart_on_exception,
)

__all__ = [
    "DEFAULT_ASK_TIMEOUT",
    "Actor",
    "ActorContext",
    "ActorEvent",
    "AllForOne",
    "Backoff",
    "Bounded",
    "DeadLetter",
    "DeadLetterReason",
    "DeadLettered",
    "DeadLetters",
    "Directive",
    "Emitted",
    "Escalated",
    "Failed",
    "Mailbox",
    "MailboxFull",
    "MailboxPolicy",
    "Offer",
    "OneForOne",
    "Overflow",
    "RestForOne",
    "RestartBudget",
    "Restarted",
    "Spawned",
    "Stopped",
    "SupervisionStrategy",
    "Terminated",
    "Unbounded",
    "check_name",
    "child_path",
    "restart_on_exception",
    "split_path",
]
