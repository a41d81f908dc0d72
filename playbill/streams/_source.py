"""`Source`: a stream as a value, and the sinks that end it. A run compiles to a `Program`,
so the same stream runs under asyncio and, in virtual time, under the simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, final

from attrs import frozen

from playbill.effects import ActorRef, InvalidArgument, Program, program, pure
from playbill.effects._checks import (
    _received,
    check_callable,
    check_count,
    check_iterable,
    check_seconds,
)
from playbill.effects._program import as_program
from playbill.streams._pullers import END, Puller, materialise
from playbill.streams._signal import NOTHING
from playbill.streams._values import (
    BufferStage,
    FilterStage,
    FoldSink,
    FoldStage,
    ForeachSink,
    FromActor,
    FromIterable,
    FromPrograms,
    GroupedWithinStage,
    IgnoreSink,
    MapAsyncStage,
    MapStage,
    MergeStage,
    OverflowStrategy,
    RecoverStage,
    Repeatedly,
    Sink,
    TakeStage,
    ThrottleStage,
    ToActor,
    ToList,
    Unfold,
    check_overflow,
)

__all__ = ["Source", "fold", "foreach", "ignore", "source", "to_actor", "to_list"]

A = TypeVar("A")
B = TypeVar("B")


def _check_positive(where: str, value: object) -> int:
    return check_count(where, value, minimum=1)


@final
@frozen
class Source(Generic[A]):
    """A stream of ``A``s as a value: an origin and the stages its elements go through.

    Nothing runs until a sink's program does: ``run_with(sink)`` (or ``to_list()``,
    ``run_fold``, ``run_foreach``) gives a `Program` that each interpreter can run, and each
    run starts from the origin afresh. Every stage pulls from the one before it, so a fast
    producer never runs ahead of a slow consumer by more than the buffers in between.
    ``buffer``, ``map_async``, ``merge`` and ``grouped_within`` run fibers that wait for each
    other through short-lived actors, so they need an interpreter with actors (asyncio or the
    simulator); the stub runs the other stages.

    >>> from playbill.interpreters import stub
    >>> from playbill.streams import source
    >>> numbers = source(range(10)).filter(lambda n: n % 2 == 0).map(lambda n: n * n)
    >>> stub.run(numbers.take(3).to_list())
    [0, 4, 16]
    """

    origin: Any
    stages: tuple[Any, ...] = ()

    # -- origins ---------------------------------------------------------------------------

    @staticmethod
    def from_iterable(items: Iterable[B]) -> Source[B]:
        """The elements of ``items``, pulled one by one (a list replays on each run; a
        generator is used up by the first)."""
        return Source(FromIterable(check_iterable("Source.from_iterable() items", items)))

    @staticmethod
    def from_programs(programs: Iterable[Program[B]]) -> Source[B]:
        """One element per program: each runs when its element is pulled.

        >>> from playbill import sleep, pure
        >>> from playbill.interpreters import stub
        >>> stub.run(Source.from_programs([sleep(1).then(pure("a")), pure("b")]).to_list())
        ['a', 'b']
        """
        return Source(FromPrograms(check_iterable("Source.from_programs() programs", programs)))

    @staticmethod
    def repeatedly(element: Program[B]) -> Source[B]:
        """An endless stream: ``element`` runs again for each element pulled (end it with
        `take`).

        >>> from playbill import random
        >>> from playbill.interpreters import stub
        >>> len(stub.run(Source.repeatedly(random()).take(3).to_list()))
        3
        """
        return Source(Repeatedly(as_program(element, "Source.repeatedly() element")))

    @staticmethod
    def unfold(state: Any, step: Callable[[Any], Program[tuple[B, Any] | None]]) -> Source[B]:
        """From ``state``: ``step(state)`` is a program giving ``(element, next_state)``, or
        ``None`` to end.

        >>> from playbill import pure
        >>> from playbill.interpreters import stub
        >>> countdown = Source.unfold(3, lambda n: pure((n, n - 1) if n else None))
        >>> stub.run(countdown.to_list())
        [3, 2, 1]
        """
        return Source(Unfold(state, check_callable("Source.unfold() step", step)))

    @staticmethod
    def from_actor(
        ref: ActorRef, request: object = "next", timeout: float | None = None
    ) -> Source[Any]:
        """Each element is the reply to asking ``ref`` ``request``; a reply of
        `END_OF_STREAM` ends the stream. One ask at a time: the actor is never asked ahead
        of demand."""
        if not isinstance(ref, ActorRef):
            raise InvalidArgument(f"Source.from_actor() ref must be an ActorRef, {_received(ref)}")
        if timeout is not None:
            timeout = check_seconds("Source.from_actor() timeout", timeout)
        return Source(FromActor(ref, request, timeout))

    # -- stages ----------------------------------------------------------------------------

    def _then(self, stage: object) -> Any:
        return Source(self.origin, (*self.stages, stage))

    def map(self, function: Callable[[A], B]) -> Source[B]:
        """Each element through a plain ``function``.

        >>> from playbill.interpreters import stub
        >>> stub.run(source(["a", "b"]).map(str.upper).to_list())
        ['A', 'B']
        """
        return self._then(MapStage(check_callable("Source.map() function", function)))  # type: ignore[no-any-return]

    def filter(self, predicate: Callable[[A], bool]) -> Source[A]:
        """Only the elements ``predicate`` accepts.

        >>> from playbill.interpreters import stub
        >>> stub.run(source(range(6)).filter(lambda n: n % 3 == 0).to_list())
        [0, 3]
        """
        return self._then(FilterStage(check_callable("Source.filter() predicate", predicate)))  # type: ignore[no-any-return]

    def take(self, count: int) -> Source[A]:
        """The first ``count`` elements; then upstream is cancelled (its fibers stop, a
        generator source is closed) and the stream completes.

        >>> import itertools
        >>> from playbill.interpreters import stub
        >>> stub.run(source(itertools.count()).take(3).to_list())
        [0, 1, 2]
        """
        return self._then(TakeStage(check_count("Source.take() count", count)))  # type: ignore[no-any-return]

    def map_async(
        self, function: Callable[[A], Program[B]], parallelism: int = 1, *, ordered: bool = True
    ) -> Source[B]:
        """Each element through ``function``, which returns a `Program`; at most
        ``parallelism`` run at once. Output keeps the input's order, unless ``ordered=False``:
        then each result goes as soon as it is ready. The first failure fails the stream.

        >>> from playbill import now, pure, simulate, sleep
        >>> slow_first = lambda n: sleep(3 - n).then(pure(n))
        >>> stream = source([0, 1, 2]).map_async(slow_first, parallelism=3).to_list()
        >>> simulate(stream.flat_map(lambda got: now().map(lambda t: (got, t)))).value
        ([0, 1, 2], 3.0)
        """
        check_callable("Source.map_async() function", function)
        parallelism = _check_positive("Source.map_async() parallelism", parallelism)
        if not isinstance(ordered, bool):
            raise InvalidArgument(
                f"Source.map_async() ordered must be True or False, {_received(ordered)}"
            )
        return self._then(MapAsyncStage(function, parallelism, ordered))  # type: ignore[no-any-return]

    def map_async_unordered(
        self, function: Callable[[A], Program[B]], parallelism: int = 1
    ) -> Source[B]:
        """`map_async` with ``ordered=False``: results in the order they finish.

        >>> from playbill import pure, simulate, sleep
        >>> later = lambda n: sleep(n).then(pure(n))
        >>> simulate(source([3, 1, 2]).map_async_unordered(later, 3).to_list()).value
        [1, 2, 3]
        """
        return self.map_async(function, parallelism, ordered=False)

    def buffer(
        self, size: int, overflow: OverflowStrategy | str = OverflowStrategy.BACKPRESSURE
    ) -> Source[A]:
        """Up to ``size`` elements pulled ahead of downstream, so that upstream goes on while
        downstream is busy. When full, ``overflow`` decides (an `OverflowStrategy` or its
        name): ``"backpressure"`` (wait), ``"drop_head"`` (drop the oldest),
        ``"drop_tail"`` (drop the youngest buffered), ``"drop_new"`` (drop the new one),
        ``"drop_buffer"`` (drop all buffered) or ``"fail"`` (fail with `BufferOverflow`).

        >>> from playbill import simulate, sleep
        >>> seen = []
        >>> slow = lambda n: sleep(1).then(pure(seen.append(n)))
        >>> _ = simulate(source(range(10)).buffer(2, "drop_head").run_foreach(slow))
        >>> seen[-2:]  # the newest two are kept
        [8, 9]
        """
        size = _check_positive("Source.buffer() size", size)
        strategy = check_overflow("Source.buffer() overflow", overflow)
        return self._then(BufferStage(size, strategy))  # type: ignore[no-any-return]

    def throttle(self, elements: int, per_seconds: float, *, burst: int = 1) -> Source[A]:
        """At most ``elements`` every ``per_seconds`` on the interpreter's clock (virtual
        under the simulator), by a token bucket that holds ``burst`` tokens and starts full:
        ``n`` elements take ``(n - burst) / rate`` seconds.

        >>> from playbill import now
        >>> from playbill.interpreters import stub
        >>> stub.run(source(range(5)).throttle(2, 1.0).to_list().then(now()))
        2.0
        """
        elements = _check_positive("Source.throttle() elements", elements)
        per_seconds = check_seconds("Source.throttle() per_seconds", per_seconds, infinite=False)
        burst = _check_positive("Source.throttle() burst", burst)
        return self._then(ThrottleStage(elements, per_seconds, burst))  # type: ignore[no-any-return]

    def merge(self, *others: Source[A], ahead: int = 16) -> Source[A]:
        """The elements of this source and of ``others`` as they come, each input pulled
        concurrently and up to ``ahead`` elements ahead of downstream (so a fast input
        waits once per ``ahead`` elements, not once per element; ``ahead=1`` holds one
        element per input); it completes when all have, and fails when one fails.

        >>> from playbill import simulate
        >>> sorted(simulate(source([1, 2]).merge(source([10])).to_list()).value)
        [1, 2, 10]
        >>> sorted(simulate(source([1, 2]).merge(source([10]), ahead=1).to_list()).value)
        [1, 2, 10]
        """
        for index, other in enumerate(others):
            if not isinstance(other, Source):
                raise InvalidArgument(
                    f"Source.merge() argument {index + 1} must be a Source, {_received(other)}"
                )
        ahead = _check_positive("Source.merge() ahead", ahead)
        return self._then(MergeStage(others, ahead))  # type: ignore[no-any-return]

    def grouped_within(self, size: int, seconds: float) -> Source[list[A]]:
        """Lists of up to ``size`` elements: a group goes as soon as it is full, or when
        ``seconds`` have passed since it was started (on the interpreter's clock), whichever
        comes first; no empty groups.

        >>> from playbill import simulate
        >>> simulate(source(range(5)).grouped_within(2, 1.0).to_list()).value
        [[0, 1], [2, 3], [4]]
        """
        size = _check_positive("Source.grouped_within() size", size)
        seconds = check_seconds("Source.grouped_within() seconds", seconds, infinite=False)
        return self._then(GroupedWithinStage(size, seconds))  # type: ignore[no-any-return]

    def fold(self, zero: B, function: Callable[[B, A], B]) -> Source[B]:
        """One element when upstream completes: ``function`` folded over all of them.

        >>> from playbill.interpreters import stub
        >>> stub.run(source([1, 2, 3]).fold(0, lambda total, n: total + n).to_list())
        [6]
        """
        return self._then(FoldStage(zero, check_callable("Source.fold() function", function)))  # type: ignore[no-any-return]

    def recover(self, function: Callable[[Exception], A]) -> Source[A]:
        """If upstream fails, one last element ``function(error)``, then completion.

        >>> from playbill.interpreters import stub
        >>> stub.run(source([2, 0]).map(lambda n: 4 // n).recover(lambda e: -1).to_list())
        [2, -1]
        """
        return self._then(RecoverStage(check_callable("Source.recover() function", function)))  # type: ignore[no-any-return]

    # -- running ---------------------------------------------------------------------------

    def run_with(self, sink: Sink) -> Program[Any]:
        """The program that runs this stream into ``sink`` and produces the sink's result.
        When it ends — completed, failed or cancelled — every stage is closed."""
        if not isinstance(sink, Sink):
            raise InvalidArgument(
                "Source.run_with() sink must be a Sink (to_list(), fold(...), foreach(...), "
                f"ignore(), to_actor(...)), {_received(sink)}"
            )
        return _NOTHING.flat_map(lambda _: _run(self, sink))

    def to_list(self) -> Program[list[A]]:
        """Run into a list."""
        return self.run_with(ToList())

    def run_fold(self, zero: B, function: Callable[[B, A], B]) -> Program[B]:
        """Run, folding the elements with ``function`` from ``zero``."""
        return self.run_with(fold(zero, function))

    def run_foreach(self, function: Callable[[A], object]) -> Program[None]:
        """Run, calling ``function`` on each element (a returned `Program` is run, one at a
        time: a slow one slows the stream)."""
        return self.run_with(foreach(function))


_NOTHING: Program[None] = pure(None)


def source(items: Iterable[A] | ActorRef) -> Source[A]:
    """A `Source` of ``items``, or of the replies of an actor (`Source.from_actor`).

    >>> from playbill.interpreters import stub
    >>> stub.run(source("abc".split("b")).to_list())
    ['a', 'c']
    """
    if isinstance(items, ActorRef):
        return Source.from_actor(items)
    return Source.from_iterable(items)


def to_list() -> Sink:
    """A sink whose result is the list of the elements.

    >>> from playbill.interpreters import stub
    >>> stub.run(source("ab".split()).run_with(to_list()))
    ['ab']
    """
    return ToList()


def fold(zero: Any, function: Callable[[Any, Any], Any]) -> Sink:
    """A sink whose result is ``function`` folded over the elements from ``zero``.

    >>> from playbill.interpreters import stub
    >>> stub.run(source([1, 2, 3]).run_with(fold(10, lambda total, n: total + n)))
    16
    """
    return FoldSink(zero, check_callable("fold() function", function))


def foreach(function: Callable[[Any], object]) -> Sink:
    """A sink that calls ``function`` on each element, running a `Program` it returns before
    pulling the next; its result is ``None``.

    >>> from playbill import now, sleep
    >>> from playbill.interpreters import stub
    >>> stub.run(source([1, 2]).run_with(foreach(lambda n: sleep(n))).then(now()))
    3.0
    """
    return ForeachSink(check_callable("foreach() function", function))


def ignore() -> Sink:
    """A sink that pulls every element and keeps none; its result is ``None``.

    >>> from playbill.interpreters import stub
    >>> stub.run(source(range(3)).run_with(ignore())) is None
    True
    """
    return IgnoreSink()


def to_actor(
    ref: ActorRef,
    *,
    acknowledge: bool = True,
    on_complete: object = None,
    timeout: float | None = None,
) -> Sink:
    """A sink that sends each element to ``ref``; its result is how many were sent.

    With ``acknowledge=True`` (the default) each element is an ask and the next is pulled
    only once the actor replied: backpressure from the actor's own pace. With
    ``acknowledge=False`` each is a tell, and backpressure comes from the actor's mailbox:
    give it ``Bounded(n, Overflow.BLOCK)`` (an unbounded mailbox lets a fast stream run
    ahead). ``on_complete``, when not ``None``, is told once the stream completed.

    >>> from playbill import Actor, free_spawn, simulate
    >>> class Printer(Actor):
    ...     def receive(self, line):
    ...         print(line)
    >>> sent = free_spawn(Printer).flat_map(
    ...     lambda printer: source(["a", "b"]).run_with(to_actor(printer))
    ... )
    >>> simulate(sent).value  # each handled before the next is pulled
    a
    b
    2
    """
    if not isinstance(ref, ActorRef):
        raise InvalidArgument(f"to_actor() ref must be an ActorRef, {_received(ref)}")
    if not isinstance(acknowledge, bool):
        raise InvalidArgument(
            f"to_actor() acknowledge must be True or False, {_received(acknowledge)}"
        )
    if timeout is not None:
        timeout = check_seconds("to_actor() timeout", timeout)
    return ToActor(ref, acknowledge, on_complete, timeout)


def _run(stream: Source[Any], sink: Sink) -> Program[Any]:
    puller = materialise(stream)
    return _consume(puller, sink).ensuring(_NOTHING.flat_map(lambda _: puller.close()))


_BATCH = 256  # the most elements a sink takes from a boundary in one step


@program
def _consume(puller: Puller, sink: Sink) -> Any:
    # A sink that only collects takes what needs no waiting in one step rather than a
    # program per element: a synchronous stream's elements (`Puller.synchronous`) and what
    # the last boundary holds (`Puller.ready`), using them before it wakes the boundary's
    # pump; then `pull` for what is next (an element it waits for, or END).
    if isinstance(sink, ToList):
        elements: list[Any] = []
        synchronous = puller.synchronous()
        if synchronous is not None:
            elements.extend(synchronous)
        while True:
            taken = puller.ready(_BATCH)
            if taken is not None:
                elements.extend(taken[0])
                if taken[1] is not NOTHING:
                    yield taken[1]
                continue
            element = yield puller.pull()
            if element is END:
                return elements
            elements.append(element)
    if isinstance(sink, FoldSink):
        total, combine = sink.zero, sink.function
        synchronous = puller.synchronous()
        if synchronous is not None:
            for element in synchronous:
                total = combine(total, element)
        while True:
            taken = puller.ready(_BATCH)
            if taken is not None:
                for element in taken[0]:
                    total = combine(total, element)
                if taken[1] is not NOTHING:
                    yield taken[1]
                continue
            element = yield puller.pull()
            if element is END:
                return total
            total = combine(total, element)
    if isinstance(sink, ForeachSink):
        each = sink.function
        while True:
            element = yield puller.pull()
            if element is END:
                return None
            done = each(element)
            if isinstance(done, Program):
                yield done
    if isinstance(sink, IgnoreSink):
        synchronous = puller.synchronous()
        if synchronous is not None:
            for _ in synchronous:
                pass
        while True:
            taken = puller.ready(_BATCH)
            if taken is not None:
                if taken[1] is not NOTHING:
                    yield taken[1]
                continue
            if (yield puller.pull()) is END:
                return None
    assert isinstance(sink, ToActor)
    sent = 0
    ref = sink.ref
    while True:
        element = yield puller.pull()
        if element is END:
            break
        if sink.acknowledge:
            yield ref.free_ask(element, sink.timeout)
        else:
            yield ref.free_tell(element)
        sent += 1
    if sink.on_complete is not None:
        yield ref.free_tell(sink.on_complete)
    return sent
