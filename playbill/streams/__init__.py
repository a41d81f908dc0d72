"""Composable streams in the style of Akka Streams, as values that compile to Programs.

A `Source` is an origin (an iterable, a program per element, an actor) and stages (`map`,
`filter`, `take`, `map_async`, `buffer`, `throttle`, `merge`, `grouped_within`, `fold`,
`recover`); a sink (`to_list`, `fold`, `foreach`, `ignore`, `to_actor`) ends it. Running one
gives a `Program`, so the same stream runs under asyncio and, in virtual time, under the
simulator, where its schedules are recorded, replayed and explored. Demand flows upstream, one
pull at a time: a fast producer never runs ahead of a slow consumer by more than the buffers
in between.

This package imports only `playbill.effects` and `playbill.actors`: a stream is a program
like any other, so it sits beside the interpreters, not above them.

>>> from playbill import simulate, sleep, now
>>> from playbill.streams import source
>>> paced = source(range(100)).throttle(10, 1.0).to_list().then(now())
>>> simulate(paced).value  # 100 elements at 10/s: about ten seconds of virtual time
9.9
"""

from playbill.streams._source import Source, fold, foreach, ignore, source, to_actor, to_list
from playbill.streams._values import (
    END_OF_STREAM,
    BufferOverflow,
    EndOfStream,
    OverflowStrategy,
    Sink,
)

__all__ = [
    "END_OF_STREAM",
    "BufferOverflow",
    "EndOfStream",
    "OverflowStrategy",
    "Sink",
    "Source",
    "fold",
    "foreach",
    "ignore",
    "source",
    "to_actor",
    "to_list",
]
