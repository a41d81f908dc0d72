"""The deterministic simulator: actors and fibers on a virtual clock, every interleaving a
recorded choice.

A world of actor cells (each with its `Mailbox`), fibers (the main program, the programs
actors' ``receive`` returns, and what they fork or gather), timers and a virtual clock. At every
point where more than one thing could happen next — which ready fiber takes its next step,
which actor handles its next message, which due timer fires — a chooser picks an index into
the enabled set sorted by stable names (fiber labels and actor paths, never ``id()``). The
sequence of picks is the `Schedule`: a short string that replays the run exactly.

Time is virtual and jumps when nothing else can happen: ``sleep(3600)`` costs nothing. Every
effect that touches the world (tell, ask, spawn, stop, watch, user effects) is a scheduling
point; ``now``, ``random``, ``self_ref`` and ``emit`` are not.

>>> from playbill import Actor, free_spawn, program
>>> class Echo(Actor):
...     def receive(self, message):
...         return message
>>> @program
... def main():
...     echo = yield free_spawn(Echo, name="echo")
...     return (yield echo.free_ask("hi"))
>>> result = simulate(main(), seed=7)
>>> result.status, result.value
('completed', 'hi')
>>> replay(main(), result.schedule).trace == result.trace
True
"""

from playbill.interpreters.simulation._explore import (
    CheckFailure,
    CheckFailureKind,
    Exploration,
    check_determinism,
    explore,
    replay,
    simulate,
)
from playbill.interpreters.simulation._schedule import (
    Faults,
    Schedule,
    SimulationOptions,
    SimulationResult,
    StepKind,
    TraceLine,
)

__all__ = [
    "CheckFailure",
    "CheckFailureKind",
    "Exploration",
    "Faults",
    "Schedule",
    "SimulationOptions",
    "SimulationResult",
    "StepKind",
    "TraceLine",
    "check_determinism",
    "explore",
    "replay",
    "simulate",
]
