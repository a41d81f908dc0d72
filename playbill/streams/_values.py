"""The values a stream is made of: where its elements come from (an origin), what happens to
them on the way (stages) and where they end (a sink). All frozen; building one runs nothing."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, final

from attrs import frozen

from playbill.effects import ActorRef, PlaybillError, Program
from playbill.effects._checks import _received

__all__ = ["END_OF_STREAM", "BufferOverflow", "EndOfStream", "OverflowStrategy"]


class EndOfStream(enum.Enum):
    """What an actor behind `Source.from_actor` replies when it has no more elements."""

    END = "end of stream"


END_OF_STREAM = EndOfStream.END


class OverflowStrategy(enum.Enum):
    """What `Source.buffer` does with one more element when it is full (Akka's names)."""

    BACKPRESSURE = "backpressure"
    """Stop pulling upstream until there is room: nothing is lost."""
    DROP_HEAD = "drop_head"
    """Drop the oldest buffered element to make room: the newest ``size`` are kept."""
    DROP_TAIL = "drop_tail"
    """Drop the youngest buffered element to make room for the new one."""
    DROP_NEW = "drop_new"
    """Drop the new element; the buffer keeps what it has."""
    DROP_BUFFER = "drop_buffer"
    """Drop everything buffered, then keep the new element."""
    FAIL = "fail"
    """Fail the stream with `BufferOverflow`."""


@final
class BufferOverflow(PlaybillError, RuntimeError):
    """A `buffer(..., overflow="fail")` was full when one more element arrived."""


def check_overflow(where: str, value: object) -> OverflowStrategy:
    if isinstance(value, OverflowStrategy):
        return value
    if isinstance(value, str):
        for strategy in OverflowStrategy:
            if strategy.value == value:
                return strategy
    names = ", ".join(repr(strategy.value) for strategy in OverflowStrategy)
    from playbill.effects import InvalidArgument

    raise InvalidArgument(
        f"{where} must be an OverflowStrategy or one of {names}, {_received(value)}"
    )


# -- origins ------------------------------------------------------------------------------


@final
@frozen
class FromIterable:
    items: Iterable[Any]


@final
@frozen
class FromPrograms:
    programs: Iterable[Program[Any]]


@final
@frozen
class Repeatedly:
    program: Program[Any]


@final
@frozen
class Unfold:
    state: Any
    step: Callable[[Any], Program[Any]]


@final
@frozen
class FromActor:
    ref: ActorRef
    request: Any
    timeout: float | None


# -- stages -------------------------------------------------------------------------------


@final
@frozen
class MapStage:
    function: Callable[[Any], Any]


@final
@frozen
class FilterStage:
    predicate: Callable[[Any], bool]


@final
@frozen
class TakeStage:
    count: int


@final
@frozen
class MapAsyncStage:
    function: Callable[[Any], Program[Any]]
    parallelism: int
    ordered: bool


@final
@frozen
class BufferStage:
    size: int
    overflow: OverflowStrategy


@final
@frozen
class ThrottleStage:
    elements: int
    per_seconds: float
    burst: int


@final
@frozen
class MergeStage:
    others: tuple[Any, ...]  # Sources
    ahead: int = 16  # elements each input may be pulled ahead of downstream


@final
@frozen
class GroupedWithinStage:
    size: int
    seconds: float


@final
@frozen
class FoldStage:
    zero: Any
    function: Callable[[Any, Any], Any]


@final
@frozen
class RecoverStage:
    function: Callable[[Exception], Any]


# -- sinks --------------------------------------------------------------------------------


class Sink:
    """Where a stream ends and what its run produces; made by `to_list`, `fold`, `foreach`,
    `ignore` and `to_actor`, given to `Source.run_with`."""

    __slots__ = ()


@final
@frozen
class ToList(Sink):
    pass


@final
@frozen
class FoldSink(Sink):
    zero: Any
    function: Callable[[Any, Any], Any]


@final
@frozen
class ForeachSink(Sink):
    function: Callable[[Any], Any]


@final
@frozen
class IgnoreSink(Sink):
    pass


@final
@frozen
class ToActor(Sink):
    ref: ActorRef
    acknowledge: bool
    on_complete: Any
    timeout: float | None
