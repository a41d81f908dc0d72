"""The performers: each turns a `Program` into a result.

``stub`` runs programs synchronously with plain-function handlers and a virtual clock, for
unit-testing a program's logic. `ActorSystem` (and the synchronous `run`) perform programs on
real mailboxes under asyncio, for production. `simulate` runs them in a deterministic world
whose every scheduling choice is recorded, replayable (`replay`) and explorable (`explore`).
"""

from playbill.interpreters import simulation, stub
from playbill.interpreters._asyncio import ActorSystem, EventSubscription, Transport, run
from playbill.interpreters.simulation import (
    Exploration,
    Faults,
    Schedule,
    SimulationOptions,
    SimulationResult,
    TraceLine,
    check_determinism,
    explore,
    replay,
    simulate,
)

__all__ = [
    "ActorSystem",
    "EventSubscription",
    "Exploration",
    "Faults",
    "Schedule",
    "SimulationOptions",
    "SimulationResult",
    "TraceLine",
    "Transport",
    "check_determinism",
    "explore",
    "replay",
    "run",
    "simulate",
    "simulation",
    "stub",
]
