"""playbill: actor systems as values.

Every actor operation — spawn, tell, ask, stop, emit — is a pure value, composed into a
`Program`. Nothing happens until an interpreter performs it: the stub interpreter (plain
handlers, virtual clock) in unit tests, the asyncio runtime in production, the deterministic
simulator when hunting races.

>>> from playbill import program, pure, sleep, now
>>> from playbill.interpreters import stub
>>> @program
... def wait_and_read():
...     yield sleep(3600)          # virtual time: costs nothing
...     return (yield now())
>>> stub.run(wait_and_read())
3600.0
"""

from playbill.actors import (
    Actor,
    AllForOne,
    Backoff,
    Bounded,
    Directive,
    MailboxFull,
    OneForOne,
    Overflow,
    RestForOne,
    Terminated,
    Unbounded,
)
from playbill.effects import (
    ActorNotFound,
    ActorRef,
    ActorStopped,
    ActorSystemFailed,
    AskTimeout,
    Cancelled,
    Deadlock,
    Effect,
    Fiber,
    FiberCancelled,
    InvalidArgument,
    PlaybillError,
    Program,
    ProgramError,
    TimedOut,
    UnhandledEffect,
    cancel,
    emit,
    fail,
    fork,
    free_ask,
    free_spawn,
    free_stop,
    free_tell,
    gather,
    join,
    now,
    perform,
    program,
    pure,
    race,
    random,
    self_ref,
    sequence,
    sleep,
    timeout,
    traverse,
    watch,
)
from playbill.interpreters import (
    ActorSystem,
    Schedule,
    SimulationResult,
    explore,
    replay,
    run,
    simulate,
)

__all__ = [
    "Actor",
    "ActorNotFound",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "ActorSystemFailed",
    "AllForOne",
    "AskTimeout",
    "Backoff",
    "Bounded",
    "Cancelled",
    "Deadlock",
    "Directive",
    "Effect",
    "Fiber",
    "FiberCancelled",
    "InvalidArgument",
    "MailboxFull",
    "OneForOne",
    "Overflow",
    "PlaybillError",
    "Program",
    "ProgramError",
    "RestForOne",
    "Schedule",
    "SimulationResult",
    "Terminated",
    "TimedOut",
    "Unbounded",
    "UnhandledEffect",
    "cancel",
    "emit",
    "explore",
    "fail",
    "fork",
    "free_ask",
    "free_spawn",
    "free_stop",
    "free_tell",
    "gather",
    "join",
    "now",
    "perform",
    "program",
    "pure",
    "race",
    "random",
    "replay",
    "run",
    "self_ref",
    "sequence",
    "simulate",
    "sleep",
    "timeout",
    "traverse",
    "watch",
]

__version__ = "0.1.0.dev0"
