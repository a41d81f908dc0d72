"""A stream at run time: one puller per stage, built fresh for each run.

A puller's `pull()` gives a program producing the next element, or `END` once the stream is
over; `close()` releases what it holds (its fibers, an iterator) and closes its upstream. The
stages that need no concurrency (map, filter, take, throttle, fold, recover) are fused: their
pull is their upstream's pull plus a step, in the fiber that pulls them. The asynchronous
boundaries (buffer, map_async, merge, grouped_within) fork a pump fiber that pulls upstream on
its own, so that upstream and downstream run concurrently; they talk through a bounded deque
and `Signal`s. One fiber pulls and closes each puller, always the same one, so a boundary's
pump is a fork of the fiber that closes it (asyncio lets a fiber cancel only its own forks),
and the pump's own upstream boundaries are forks of the pump: cancelling a pump cancels
everything upstream of it.
"""

from __future__ import annotations

import collections
import enum
import itertools
from collections.abc import Callable, Iterator
from typing import Any, final

from playbill.effects import Fiber, Program, cancel, fail, fork, join, now, program, pure, sleep
from playbill.effects._program import Pure, as_program
from playbill.streams._signal import NOTHING as _NOTHING
from playbill.streams._signal import Signal
from playbill.streams._values import (
    END_OF_STREAM,
    BufferOverflow,
    BufferStage,
    FilterStage,
    FoldStage,
    FromActor,
    FromIterable,
    FromPrograms,
    GroupedWithinStage,
    MapAsyncStage,
    MapStage,
    MergeStage,
    OverflowStrategy,
    RecoverStage,
    Repeatedly,
    TakeStage,
    ThrottleStage,
    Unfold,
)

__all__ = ["END", "Puller", "materialise"]


class _End(enum.Enum):
    END = "end"


END = _End.END
_PURE_END: Program[Any] = pure(END)


class Puller:
    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False

    def pull(self) -> Program[Any]:
        raise NotImplementedError

    def synchronous(self) -> Iterator[Any] | None:
        """This stage's next elements as a plain iterator, when producing them needs no
        effect at all (an iterable source, then map, filter, take), else None. Taking an
        element from it is pulling that element: a boundary's pump or a sink takes the
        elements it has room for in one step, with no program per element. When it stops,
        `pull` says what comes next (`END`, after ``take`` closed its upstream)."""
        return None

    def ready(self, limit: int) -> tuple[list[Any], Program[object]] | None:
        """Up to ``limit`` elements a boundary holds now, taken (pulled) at once, with the
        wake-up that taking them calls for (`NOTHING` when nobody waits for room: perform it
        once the elements are used); None when there are none (or a failure is next), when
        `pull` decides. A sink takes a boundary's elements so, a batch a step."""
        return None

    def close(self) -> Program[None]:
        """Release this stage and everything upstream of it, once (decided when it runs)."""
        return _NOTHING.flat_map(self._close_now)

    def _close_now(self, _: object) -> Program[None]:
        if self.closed:
            return _NOTHING
        self.closed = True
        return self.release()

    def release(self) -> Program[None]:
        return _NOTHING


def materialise(source: Any) -> Puller:
    """Fresh pullers for one run of ``source`` (a `Source`)."""
    puller = _origin(source.origin)
    for stage in source.stages:
        puller = _stage(stage, puller)
    return puller


# -- origins ------------------------------------------------------------------------------


def _origin(origin: object) -> Puller:
    if isinstance(origin, FromIterable):
        return _IteratorPuller(lambda: iter(origin.items), lifted=False)
    if isinstance(origin, FromPrograms):
        return _IteratorPuller(lambda: iter(origin.programs), lifted=True)
    if isinstance(origin, Repeatedly):
        return _RepeatPuller(origin.program)
    if isinstance(origin, Unfold):
        return _UnfoldPuller(origin.state, origin.step)
    assert isinstance(origin, FromActor)
    return _ActorPuller(origin)


@final
class _IteratorPuller(Puller):
    __slots__ = ("iterator", "lifted", "open")

    def __init__(self, open: Callable[[], Iterator[Any]], *, lifted: bool) -> None:
        super().__init__()
        self.open = open
        self.iterator: Iterator[Any] | None = None
        self.lifted = lifted

    def pull(self) -> Program[Any]:
        iterator = self.iterator
        try:
            if iterator is None:
                iterator = self.iterator = self.open()
            item = next(iterator)
        except StopIteration:
            return _PURE_END
        except Exception as error:
            return fail(error)
        if self.lifted:
            return as_program(item, "Source.from_programs(...) element")
        return pure(item)

    def synchronous(self) -> Iterator[Any] | None:
        if self.lifted:
            return None
        if self.iterator is None:
            self.iterator = self.open()
        return self.iterator

    def release(self) -> Program[None]:
        return _NOTHING.map(self._close_iterator)

    def _close_iterator(self, _: object) -> None:
        closing = getattr(self.iterator, "close", None)  # a generator: run its finally blocks
        if closing is not None:
            closing()


@final
class _RepeatPuller(Puller):
    __slots__ = ("program",)

    def __init__(self, program: Program[Any]) -> None:
        super().__init__()
        self.program = program

    def pull(self) -> Program[Any]:
        return self.program


@final
class _UnfoldPuller(Puller):
    __slots__ = ("over", "state", "step")

    def __init__(self, state: Any, step: Callable[[Any], Program[Any]]) -> None:
        super().__init__()
        self.state = state
        self.step = step
        self.over = False

    def pull(self) -> Program[Any]:
        if self.over:
            return _PURE_END
        return _unfold_next(self)


@program
def _unfold_next(puller: _UnfoldPuller) -> Any:
    produced = yield as_program(puller.step(puller.state), "Source.unfold(...) step's result")
    if produced is None:
        puller.over = True
        return END
    element, puller.state = produced
    return element


@final
class _ActorPuller(Puller):
    __slots__ = ("origin", "over")

    def __init__(self, origin: FromActor) -> None:
        super().__init__()
        self.origin = origin
        self.over = False

    def pull(self) -> Program[Any]:
        if self.over:
            return _PURE_END
        return self.origin.ref.free_ask(self.origin.request, self.origin.timeout).map(self._end)

    def _end(self, reply: Any) -> Any:
        if reply is END_OF_STREAM:
            self.over = True
            return END
        return reply


# -- fused stages -------------------------------------------------------------------------


def _stage(stage: object, upstream: Puller) -> Puller:
    if isinstance(stage, MapStage):
        return _MapPuller(upstream, stage.function)
    if isinstance(stage, FilterStage):
        return _FilterPuller(upstream, stage.predicate)
    if isinstance(stage, TakeStage):
        return _TakePuller(upstream, stage.count)
    if isinstance(stage, ThrottleStage):
        return _ThrottlePuller(upstream, stage)
    if isinstance(stage, FoldStage):
        return _FoldPuller(upstream, stage)
    if isinstance(stage, RecoverStage):
        return _RecoverPuller(upstream, stage.function)
    if isinstance(stage, BufferStage):
        return _BufferPuller(upstream, stage.size, stage.overflow)
    if isinstance(stage, MapAsyncStage):
        return _MapAsyncPuller(upstream, stage)
    if isinstance(stage, MergeStage):
        return _MergePuller(upstream, stage)
    assert isinstance(stage, GroupedWithinStage)
    return _GroupedWithinPuller(upstream, stage)


class _Fused(Puller):
    __slots__ = ("upstream",)

    def __init__(self, upstream: Puller) -> None:
        super().__init__()
        self.upstream = upstream

    def release(self) -> Program[None]:
        return self.upstream.close()


@final
class _MapPuller(_Fused):
    __slots__ = ("function",)

    def __init__(self, upstream: Puller, function: Callable[[Any], Any]) -> None:
        super().__init__(upstream)
        self.function = function

    def pull(self) -> Program[Any]:
        return self.upstream.pull().map(self.apply)

    def apply(self, element: Any) -> Any:
        if element is END:
            return END
        return self.function(element)

    def synchronous(self) -> Iterator[Any] | None:
        upstream = self.upstream.synchronous()
        return None if upstream is None else map(self.function, upstream)

    def ready(self, limit: int) -> tuple[list[Any], Program[object]] | None:
        taken = self.upstream.ready(limit)
        if taken is None:
            return None
        elements, woken = taken
        return list(map(self.function, elements)), woken


@final
class _FilterPuller(_Fused):
    __slots__ = ("predicate",)

    def __init__(self, upstream: Puller, predicate: Callable[[Any], bool]) -> None:
        super().__init__(upstream)
        self.predicate = predicate

    @program
    def pull(self) -> Any:
        while True:
            element = yield self.upstream.pull()
            if element is END or self.predicate(element):
                return element

    def synchronous(self) -> Iterator[Any] | None:
        upstream = self.upstream.synchronous()
        return None if upstream is None else filter(self.predicate, upstream)

    def ready(self, limit: int) -> tuple[list[Any], Program[object]] | None:
        taken = self.upstream.ready(limit)
        if taken is None:
            return None
        elements, woken = taken
        return list(filter(self.predicate, elements)), woken


@final
class _TakePuller(_Fused):
    __slots__ = ("remaining",)

    def __init__(self, upstream: Puller, count: int) -> None:
        super().__init__(upstream)
        self.remaining = count

    def pull(self) -> Program[Any]:
        if self.remaining <= 0:  # enough: upstream is cancelled now, not when the run ends
            return self.upstream.close().then(_PURE_END)
        self.remaining -= 1
        return self.upstream.pull()

    def synchronous(self) -> Iterator[Any] | None:
        upstream = self.upstream.synchronous()
        return None if upstream is None else self._taking(upstream)

    def _taking(self, upstream: Iterator[Any]) -> Iterator[Any]:
        while self.remaining > 0:  # (checked before each pull, as `pull` does)
            try:
                element = next(upstream)
            except StopIteration:
                return
            self.remaining -= 1
            yield element


@final
class _ThrottlePuller(_Fused):
    """The generic cell rate algorithm: element ``k`` of a busy stream may go at
    ``start + (k - burst + 1) * per / elements``; a pause refills the bucket. Times are
    computed by multiplication, not summed, so virtual time gives exact figures."""

    __slots__ = ("count", "elements", "per_seconds", "start", "tolerance")

    def __init__(self, upstream: Puller, stage: ThrottleStage) -> None:
        super().__init__(upstream)
        self.elements = stage.elements
        self.per_seconds = stage.per_seconds
        self.tolerance = (stage.burst - 1) * stage.per_seconds / stage.elements
        self.start: float | None = None
        self.count = 0

    @program
    def pull(self) -> Any:
        element = yield self.upstream.pull()
        if element is END:
            return END
        time = yield now()
        start = self.start
        due = time if start is None else start + self.count * self.per_seconds / self.elements
        if due < time:  # idle for a while: the bucket is full again
            due = time
        if due == time:
            self.start, self.count = time, 0
        allowed = due - self.tolerance
        if time < allowed:
            yield sleep(allowed - time)
        self.count += 1
        return element


@final
class _FoldPuller(_Fused):
    __slots__ = ("done", "stage")

    def __init__(self, upstream: Puller, stage: FoldStage) -> None:
        super().__init__(upstream)
        self.stage = stage
        self.done = False

    @program
    def pull(self) -> Any:
        if self.done:
            return END
        total = self.stage.zero
        function = self.stage.function
        while True:
            element = yield self.upstream.pull()
            if element is END:
                self.done = True
                return total
            total = function(total, element)


@final
class _RecoverPuller(_Fused):
    __slots__ = ("done", "function")

    def __init__(self, upstream: Puller, function: Callable[[Exception], Any]) -> None:
        super().__init__(upstream)
        self.function = function
        self.done = False

    def pull(self) -> Program[Any]:
        if self.done:
            return _PURE_END
        return self.upstream.pull().recover(self.recovered)

    def recovered(self, error: Exception) -> Any:
        self.done = True  # the failed upstream is over: the recovered element is the last
        return self.function(error)


# -- asynchronous boundaries --------------------------------------------------------------


class _Boundary(Puller):
    """A stage whose pump fiber pulls upstream while downstream works."""

    __slots__ = ("error", "pump", "upstream")

    def __init__(self, upstream: Puller) -> None:
        super().__init__()
        self.upstream = upstream
        self.pump: Fiber[Any] | None = None
        self.error: Exception | None = None

    def start(self) -> Program[None]:
        """Fork the pump (in the fiber that pulls this stage), the first time."""
        return fork(self.pumping().ensuring(self.upstream.close())).map(self._started)

    def _started(self, fiber: Fiber[Any]) -> None:
        self.pump = fiber

    def pumping(self) -> Program[None]:
        raise NotImplementedError

    def release(self) -> Program[None]:
        if self.pump is None:
            return self.upstream.close()
        return cancel(self.pump)


@final
class _BufferPuller(_Boundary):
    __slots__ = ("done", "not_empty", "not_full", "overflow", "queue", "size")

    def __init__(self, upstream: Puller, size: int, overflow: OverflowStrategy) -> None:
        super().__init__(upstream)
        self.size = size
        self.overflow = overflow
        self.queue: collections.deque[Any] = collections.deque()
        self.done = False
        self.not_empty = Signal()
        self.not_full = Signal()

    def pull(self) -> Program[Any]:
        queue = self.queue
        if queue and self.error is None:  # the common case, with no generator to step
            element = queue.popleft()
            woken = self.not_full.fire()
            if woken is _NOTHING:
                return pure(element)
            return woken.then(pure(element))
        return self._pull()

    def ready(self, limit: int) -> tuple[list[Any], Program[object]] | None:
        queue = self.queue
        if not queue or self.error is not None:
            return None
        if len(queue) <= limit:
            elements = list(queue)
            queue.clear()
        else:
            elements = [queue.popleft() for _ in range(limit)]
        return elements, self.not_full.fire()

    @program
    def _pull(self) -> Any:
        if self.pump is None and not self.closed:
            yield self.start()
        while True:
            if self.error is not None:
                raise self.error
            if self.queue:
                element = self.queue.popleft()
                yield self.not_full.fire()
                return element
            if self.done:
                return END
            yield self.not_empty.wait(self.not_empty.version)

    @program
    def pumping(self) -> Any:
        queue, size, overflow = self.queue, self.size, self.overflow
        synchronous = self.upstream.synchronous()
        try:
            while True:
                room = size - len(queue)
                if synchronous is not None and room > 0:
                    # every element there is room for, in one step (no program each)
                    queue.extend(itertools.islice(synchronous, room))
                    added = room - (size - len(queue))
                    if added:
                        woken = self.not_empty.fire()
                        if woken is not _NOTHING:
                            yield woken
                    if added == room:
                        continue
                    synchronous = None  # it stopped: `pull` says what comes next (END)
                element = yield self.upstream.pull()
                if element is END:
                    break
                if len(queue) >= size:
                    if overflow is OverflowStrategy.BACKPRESSURE:
                        while len(queue) >= size:
                            yield self.not_full.wait(self.not_full.version)
                    elif overflow is OverflowStrategy.DROP_HEAD:
                        queue.popleft()
                    elif overflow is OverflowStrategy.DROP_TAIL:
                        queue.pop()
                    elif overflow is OverflowStrategy.DROP_NEW:
                        continue
                    elif overflow is OverflowStrategy.DROP_BUFFER:
                        queue.clear()
                    else:
                        raise BufferOverflow(
                            f"buffer(size={size}, overflow='fail') was full when {element!r} "
                            "arrived; use a larger size or another overflow strategy"
                        )
                queue.append(element)
                woken = self.not_empty.fire()
                if woken is not _NOTHING:
                    yield woken
        except Exception as error:
            self.error = error
        self.done = True
        yield self.not_empty.fire()


@final
class _Slot:
    """One element's call: its value or its error, once ``done``."""

    __slots__ = ("done", "error", "value")

    def __init__(self, done: bool = False, value: Any = None) -> None:
        self.done = done
        self.value = value
        self.error: Exception | None = None


@final
class _Worker:
    __slots__ = ("wake",)

    def __init__(self) -> None:
        self.wake = Signal()


@final
class _MapAsyncPuller(_Boundary):
    """``parallelism`` worker fibers, forked once by the pump, take the elements the pump
    queues as jobs. At most ``parallelism`` elements are between upstream and downstream.

    Workers are woken one at a time: a worker that takes a job while more wait wakes one
    spare worker (if none is awake yet) before it runs its own. A worker whose calls finish
    without waiting therefore runs the jobs one after another with no wake-up at all, and a
    call that waits (a sleep, an ask) lets the spare take the next job: all ``parallelism``
    run at once as soon as each waits."""

    __slots__ = (
        "completed",
        "done",
        "idle",
        "in_flight",
        "jobs",
        "progress",
        "room",
        "slots",
        "spare",
        "stage",
        "stopping",
    )

    def __init__(self, upstream: Puller, stage: MapAsyncStage) -> None:
        super().__init__(upstream)
        self.stage = stage
        self.slots: collections.deque[_Slot] = collections.deque()  # ordered: by element
        self.completed: collections.deque[_Slot] = collections.deque()  # unordered
        self.jobs: collections.deque[tuple[Any, _Slot]] = collections.deque()
        self.idle: list[_Worker] = []  # parked, each waiting on its own signal
        self.spare = False  # a worker was woken to take a job and has not looked yet
        self.in_flight = 0
        self.done = False
        self.stopping = False
        self.progress = Signal()
        self.room = Signal()

    def pull(self) -> Program[Any]:
        ready = self.slots if self.stage.ordered else self.completed
        if ready and self.error is None and ready[0].done:  # no generator to step
            slot = ready.popleft()
            self.in_flight -= 1
            woken = self.room.fire()
            if slot.error is not None:
                return woken.then(fail(slot.error))
            value = pure(slot.value)
            return value if woken is _NOTHING else woken.then(value)
        return self._pull()

    def ready(self, limit: int) -> tuple[list[Any], Program[object]] | None:
        ready = self.slots if self.stage.ordered else self.completed
        if not ready or self.error is not None:
            return None
        elements: list[Any] = []
        while ready and len(elements) < limit:
            slot = ready[0]
            if not slot.done or slot.error is not None:  # (a failure: `pull` raises it)
                break
            ready.popleft()
            elements.append(slot.value)
        if not elements:
            return None
        self.in_flight -= len(elements)
        return elements, self.room.fire()

    @program
    def _pull(self) -> Any:
        if self.pump is None and not self.closed:
            yield self.start()
        ready = self.slots if self.stage.ordered else self.completed
        while True:
            if self.error is not None:
                raise self.error
            if ready and ready[0].done:
                slot = ready.popleft()
                self.in_flight -= 1
                yield self.room.fire()
                if slot.error is not None:
                    raise slot.error
                return slot.value
            if self.done and not ready:
                return END
            yield self.progress.wait(self.progress.version)

    def wake_spare(self) -> Program[object]:
        """Wake one parked worker for the jobs waiting, unless one is awake for them."""
        if self.spare or not self.idle or not self.jobs:
            return _NOTHING
        self.spare = True
        return self.idle.pop().wake.fire()

    def submit(self, elements: Iterator[Any]) -> tuple[int, int]:
        """A slot for each element's call, made now: done at once when the call is a pure
        value (or fails to build), else a job for the workers. How many slots, and jobs."""
        function, ordered = self.stage.function, self.stage.ordered
        ready = self.slots if ordered else self.completed  # (a done slot goes there at once)
        added = jobs = 0
        for element in elements:
            added += 1
            self.in_flight += 1
            try:
                call = function(element)
                if type(call) is not Pure:
                    call = as_program(call, _RESULT)
            except Exception as error:
                slot = _Slot()
                if ordered:
                    self.slots.append(slot)
                self.settle(slot, None, error)
                continue
            if type(call) is Pure:  # done already: no worker, no wake-up
                ready.append(_Slot(True, call.value))
                continue
            slot = _Slot()
            if ordered:
                self.slots.append(slot)
            self.jobs.append((call, slot))
            jobs += 1
        return added, jobs

    def settle(self, slot: _Slot, value: Any, error: Exception | None) -> None:
        slot.value, slot.error, slot.done = value, error, True
        if error is not None and self.error is None:
            self.error = error
        if not self.stage.ordered:
            self.completed.append(slot)

    @program
    def pumping(self) -> Any:
        workers = [_Worker() for _ in range(self.stage.parallelism)]
        fibers = []
        for worker in workers:
            fibers.append((yield fork(self.working(worker))))
        parallelism, submit = self.stage.parallelism, self.submit
        synchronous = self.upstream.synchronous()
        try:
            while True:
                while self.in_flight >= parallelism:
                    yield self.room.wait(self.room.version)
                if synchronous is not None:
                    # every element there is room for, in one step (no program each)
                    room = parallelism - self.in_flight
                    added, jobs = submit(itertools.islice(synchronous, room))
                    if added > jobs:  # calls done at once: downstream may take them
                        woken = self.progress.fire()
                        if woken is not _NOTHING:
                            yield woken
                    if jobs:
                        woken = self.wake_spare()
                        if woken is not _NOTHING:
                            yield woken
                    if added == room:
                        continue
                    synchronous = None  # it stopped: `pull` says what comes next (END)
                element = yield self.upstream.pull()
                if element is END:
                    break
                woken = self.wake_spare() if submit(iter((element,)))[1] else self.progress.fire()
                if woken is not _NOTHING:
                    yield woken
        except Exception as error:
            self.error = error
            yield self.progress.fire()
            return
        self.stopping = True
        while self.idle:
            yield self.idle.pop().wake.fire()
        for fiber in fibers:
            yield join(fiber)
        self.done = True
        yield self.progress.fire()

    @program
    def working(self, worker: _Worker) -> Any:
        jobs = self.jobs
        while True:
            if jobs:
                call, slot = jobs.popleft()
                woken = self.wake_spare()  # more jobs wait while this one runs: a spare
                if woken is not _NOTHING:
                    yield woken
                try:  # (not `.attempt()`: no Catch frame to build on the common path)
                    value = yield call
                except Exception as error:
                    self.settle(slot, None, error)
                else:
                    self.settle(slot, value, None)
                woken = self.progress.fire()
                if woken is not _NOTHING:
                    yield woken
            elif self.stopping:
                return
            else:
                self.idle.append(worker)
                yield worker.wake.wait(worker.wake.version)
                self.spare = False  # (woken as the spare, or to stop): it looks now


_RESULT = "map_async(...) result"


@final
class _MergePuller(Puller):
    """One pump per input; each may be up to ``ahead`` elements ahead, so nothing waits for
    a slow input, a fast one waits once per ``ahead`` elements, and memory stays ``ahead``
    elements per input. Elements go downstream in the order they arrived."""

    __slots__ = (
        "ahead",
        "arrived",
        "done",
        "error",
        "others",
        "outstanding",
        "pumps",
        "ready_signal",
        "taken",
        "upstream",
    )

    def __init__(self, upstream: Puller, stage: MergeStage) -> None:
        super().__init__()
        self.upstream = upstream
        self.others = stage.others  # Sources: each materialised by its own pump, when it starts
        self.ahead = stage.ahead
        inputs = 1 + len(stage.others)
        self.pumps: list[Fiber[Any]] | None = None
        self.arrived: collections.deque[tuple[int, Any]] = collections.deque()
        self.taken = [Signal() for _ in range(inputs)]
        self.outstanding = [0] * inputs  # each input's elements in `arrived`
        self.done = 0
        self.error: Exception | None = None
        self.ready_signal = Signal()

    def pull(self) -> Program[Any]:
        ready = self.arrived
        if ready and self.error is None:  # the common case, with no generator to step
            index, element = ready.popleft()
            self.outstanding[index] -= 1
            woken = self.taken[index].fire()
            return pure(element) if woken is _NOTHING else woken.then(pure(element))
        return self._pull()

    def ready(self, limit: int) -> tuple[list[Any], Program[object]] | None:
        ready = self.arrived
        if not ready or self.error is not None:
            return None
        outstanding = self.outstanding
        elements: list[Any] = []
        for _ in range(min(limit, len(ready))):
            index, element = ready.popleft()
            outstanding[index] -= 1
            elements.append(element)
        woken: Program[object] = _NOTHING
        ahead = self.ahead
        for index, signal in enumerate(self.taken):
            if outstanding[index] < ahead:  # room: its pump goes on, if it waits for that
                fired = signal.fire()
                if fired is not _NOTHING:
                    woken = fired if woken is _NOTHING else woken.then(fired)
        return elements, woken

    @program
    def _pull(self) -> Any:
        if self.pumps is None and not self.closed:
            pumps = []
            for index in range(len(self.taken)):
                pumps.append((yield fork(self.pumping(index))))
            self.pumps = pumps
        while True:
            if self.error is not None:
                raise self.error
            if self.arrived:
                index, element = self.arrived.popleft()
                self.outstanding[index] -= 1
                yield self.taken[index].fire()
                return element
            if self.done == len(self.taken):
                return END
            yield self.ready_signal.wait(self.ready_signal.version)

    @program
    def pumping(self, index: int) -> Any:
        upstream = self.upstream if index == 0 else materialise(self.others[index - 1])
        ready, outstanding, ahead, taken = (
            self.arrived,
            self.outstanding,
            self.ahead,
            self.taken[index],
        )
        synchronous = upstream.synchronous()
        try:
            while True:
                room = ahead - outstanding[index]
                if synchronous is not None and room > 0:
                    # every element there is room for, in one step (no program each)
                    before = len(ready)
                    ready.extend(zip(itertools.repeat(index), itertools.islice(synchronous, room)))
                    added = len(ready) - before
                    if added:
                        outstanding[index] += added
                        woken = self.ready_signal.fire()
                        if woken is not _NOTHING:
                            yield woken
                    if added == room:
                        while outstanding[index] >= ahead:
                            yield taken.wait(taken.version)
                        continue
                    synchronous = None  # it stopped: `pull` says what comes next (END)
                element = yield upstream.pull()
                if element is END:
                    break
                ready.append((index, element))
                outstanding[index] += 1
                woken = self.ready_signal.fire()
                if woken is not _NOTHING:
                    yield woken
                while outstanding[index] >= ahead:
                    yield taken.wait(taken.version)
        except Exception as error:
            if self.error is None:
                self.error = error
        finally:
            self.done += 1
        yield upstream.close()
        yield self.ready_signal.fire()

    def release(self) -> Program[None]:
        if self.pumps is None:
            return _NOTHING
        pumps = self.pumps
        return _cancel_all(pumps)


@program
def _cancel_all(fibers: list[Fiber[Any]]) -> Any:
    for fiber in fibers:
        yield cancel(fiber)


@final
class _GroupedWithinPuller(_Boundary):
    """A buffer of ``size`` (backpressure) in front of a timer: a group goes out when it is
    full or when ``seconds`` passed since the window opened; an empty window emits nothing."""

    __slots__ = ("buffer", "stage")

    def __init__(self, upstream: Puller, stage: GroupedWithinStage) -> None:
        super().__init__(upstream)
        self.stage = stage
        self.buffer = _BufferPuller(upstream, stage.size, OverflowStrategy.BACKPRESSURE)

    @program
    def pull(self) -> Any:
        buffer = self.buffer
        if buffer.pump is None and not buffer.closed:
            yield buffer.start()
        size, seconds = self.stage.size, self.stage.seconds
        group: list[Any] = []
        deadline = (yield now()) + seconds
        while True:
            if buffer.error is not None:
                raise buffer.error
            while buffer.queue and len(group) < size:
                group.append(buffer.queue.popleft())
                yield buffer.not_full.fire()
            if len(group) >= size:
                return group
            if buffer.done and not buffer.queue:
                return group if group else END
            remaining = deadline - (yield now())
            if remaining <= 0:
                if group:
                    return group
                deadline = (yield now()) + seconds  # an empty window: open the next one
                continue
            yield buffer.not_empty.wait(buffer.not_empty.version, remaining)

    def release(self) -> Program[None]:
        return self.buffer.close()
