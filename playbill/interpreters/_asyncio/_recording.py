"""Recording a production run (``ActorSystem(record=...)``): which message each actor handled
next (by its sender), and what every handler-answered effect gave (time, randomness, the
user's effects). Only a recording system pays for it: its cells are `_RecordingCell`s, whose
`_Notes` the hot loop of `_Cell._main` notes what it handles with, and its handler table is
wrapped; an unrecorded system's cells have no notes (one ``is None`` test per message).

A recorded tell costs its sender one lookup (who is sending) and one comparison (with the
sender of the tell queued before it), and its receiver one comparison (of its type with the
type of the message before it): a receiver notes a run of plain tells from one sender, of one
type, handled in a row, once, when the run ends.

The sink that writes the recording is given (`RecordingSink`); the file format is
`playbill.interpreters._recording_file`'s (`Recorder`), its replay the simulator's
(`replay_recording`)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from collections.abc import Awaitable
from typing import Any, Protocol, final, runtime_checkable

from playbill.actors import DeadLetterReason, Terminated
from playbill.actors._kernel import Phase
from playbill.actors._routing import ROUTER_MESSAGES
from playbill.actors._tree import THROUGHPUT
from playbill.actors._virtual import GrainBinding
from playbill.effects import Now, Program, Random
from playbill.effects._handlers import Handler, program_in_place
from playbill.effects._program import fail, pure
from playbill.interpreters._asyncio._cell import _Ask, _Cell
from playbill.interpreters._recording_file import Recorder

# who is running: an actor's path in its task (and the tasks it forks), else "main" — the
# names the simulator gives the same senders
_CONTEXT: contextvars.ContextVar[str] = contextvars.ContextVar("playbill_recording", default="main")
_sender = _CONTEXT.get  # (a recorded tell's hot path: one lookup fewer)
RUNTIME = "runtime"  # the sender of a message the runtime queues (`Terminated`)
UNKNOWN = "?"  # the sender of a plain item queued with none before it: never (the replay
# diverges there)


@runtime_checkable
class RecordingSink(Protocol):
    """Where a recording system reports what happened (`Recorder` writes it to a file)."""

    def start(self, system: str) -> None: ...

    def handled(self, path: str, sender: str, message: object) -> None: ...

    def reserve(self, context: str) -> int: ...

    def result(
        self, context: str, index: int, effect: object, value: object, error: BaseException | None
    ) -> None: ...

    def jitter(self, value: float) -> None: ...

    def close(self) -> None: ...


def _is_notice(item: object) -> bool:
    return type(item) is _Ask and item.sender is RUNTIME and type(item.message) is Terminated


_STOPPING = Phase.STOPPING


class _RecordingCell(_Cell):
    """A cell of a recording system: the hot loop of `_Cell._main` notes what it handles,
    with the sender, in the cell's `_Notes`. The message itself is never wrapped: routing,
    stop policies, dead letters, middleware and asker errors see exactly what an unrecorded
    system's would.

    Where the sender is kept: a plain tell to an unbounded mailbox (the hot path) from the
    sender of the item queued before it (``tail``) queues the message as it is; any other is
    queued as an `_Ask` with its sender on it — the first tell of a run from one sender, an
    ask, a send, a tell to a bounded mailbox (whose overflow policy may drop one from the
    middle of the queue), a router's own messages and the runtime's notices (``Terminated``).
    The user queue is first in, first out but for the notices, which go to its head and are
    the runtime's: so a plain item's sender is that of the last item before it that carries
    one other than the runtime — the receiver's ``run`` (`_Notes`) when it takes the item,
    the sender's ``tail`` when it queued it. A drain empties the queue: the next tell carries
    its sender."""

    __slots__ = ("notes", "tail")

    # a grain ref tells the grain's cell, which notes the sender (no inline tell)
    grain_binding = GrainBinding

    def __init__(self, *arguments: Any) -> None:
        super().__init__(*arguments)
        self.tail: str | None = None  # the sender of the last item queued with one
        self.notes = _Notes(self, self.system._recorder)  # type: ignore[arg-type]

    async def _main(self) -> None:
        _CONTEXT.set(self.path)
        await super()._main()

    def _entry(self, message: object, future: asyncio.Future[Any] | None) -> _Ask:  # type: ignore[override]
        """A mailbox entry with its sender beside the message (what is queued other than a
        plain tell: an ask, a `send`, a tell to a bounded mailbox, a run's first tell)."""
        entry = _Ask(message, future)
        if type(message) in ROUTER_MESSAGES:
            entry.sender = RUNTIME
        else:
            entry.sender = self.tail = _sender()
        return entry

    def tell(self, message: object) -> None:
        # `_Cell.tell`, inline, with the sender checked (a recorded tell's hot path)
        box = self.mailbox
        if self.routing is None and box.capacity is None and self.phase < _STOPPING:
            if _sender() is self.tail:  # the sender of the item before it: as it is
                box.user.append(message)
            else:
                box.user.append(self._entry(message, None))
            waiter = self.waiter
            if waiter is not None:
                self.waiter = None
                if not waiter.done():
                    waiter.set_result(None)
        elif self.routing is not None and type(message) not in ROUTER_MESSAGES:
            routed = self._route(message)  # routed here, at the send; the routee notes it
            if routed is not None:
                routed.tell(message)
        elif self.phase >= _STOPPING:
            super().tell(message)  # a dead letter
        else:  # a bounded mailbox, or a router's own message to a router
            entry = self._entry(message, None)
            if box.capacity is None or len(box.user) < box.capacity:
                box.user.append(entry)
                self._wake()
            else:
                self._overflow(entry, waiting_allowed=False)

    def _post(self, message: object) -> Any:
        if self.routing is not None and type(message) not in ROUTER_MESSAGES:
            return super()._post(message)  # (a router posts to the routee, which notes it)
        if self.phase >= _STOPPING:
            return super()._post(message)  # a dead letter
        entry = self._entry(message, None)
        box = self.mailbox
        if box.capacity is None or len(box.user) < box.capacity:
            box.user.append(entry)
            self._wake()
            return None
        return self._post_full(entry)

    def _deliver_first(self, message: object) -> None:
        notice = _Ask(message, None)
        notice.sender = RUNTIME
        self.mailbox.notify(notice, _is_notice)
        self._wake()

    def _drain(self, reason: DeadLetterReason) -> None:
        self.tail = None  # (the next tell carries its sender)
        super()._drain(reason)


@final
class _Notes:
    """What the hot loop of a recording cell (`_Cell._main`) notes what it handles with.

    A plain tell's sender is the ``run``'s: that of the last item taken that carried one
    (other than the runtime's), kept across batches. While plain tells of one type follow
    each other, the hot loop does nothing per message but compare their type with ``kind``
    (returned to it); the run of them, from ``began`` (the hot loop's count of handled
    messages at its first) on, is noted when it ends — at another type, an item that carries
    its sender, before the hot loop awaits or ends, and when the recorder's bound is reached —
    as one string: the run's line, repeated. So the global order of handled messages is
    kept (nothing else runs while a run is open) and so is the recorder's bound
    (``flush_size``, lines noted and not written): the hot loop's ``limit`` stops a run where
    the recorder is full. With a sink of one's own, each message is a `RecordingSink.handled`
    call instead."""

    __slots__ = ("began", "kind", "line", "lines", "path", "recorder", "run", "run_lines", "sink")

    def __init__(self, cell: _RecordingCell, sink: RecordingSink) -> None:
        self.path = cell.path
        self.run: str = UNKNOWN
        self.kind: type | None = None  # the type of the plain tells of the open run
        self.line = ""  # their line
        self.began = 0  # the hot loop's ``handled`` at the first of them
        # the line of each message type from each sender (the run's sender's: ``run_lines``)
        self.lines: dict[str, dict[type, str]] = {}
        self.run_lines: dict[type, str] = self.lines.setdefault(UNKNOWN, {})
        self.recorder: Recorder | None = None
        self.sink: RecordingSink | None = None
        if isinstance(sink, Recorder):
            self.recorder = sink
        else:  # each message told to the sink as it is handled
            self.sink = sink

    def resume(self, handled: int) -> tuple[type | None, int]:
        """The hot loop goes on from ``handled`` with the run it was in (after an await,
        others may have noted): the type of that run, and how many it may handle before it
        asks again (at most THROUGHPUT, and no more than the recorder takes)."""
        self.began = handled
        recorder = self.recorder
        if recorder is None:
            return self.kind, THROUGHPUT
        room = recorder.flush_size - recorder._waiting
        if room <= 0:
            recorder.flush()
            room = recorder.flush_size
        limit = handled + room
        return self.kind, limit if limit < THROUGHPUT else THROUGHPUT

    def close(self, upto: int) -> None:
        """Note the open run's messages up to ``upto`` (the hot loop's ``handled``)."""
        count = upto - self.began
        self.began = upto
        recorder = self.recorder
        if count > 0 and recorder is not None:  # (a sink of one's own has no runs)
            recorder._pending.append(self.line * count)
            recorder._waiting += count
            if recorder._waiting >= recorder.flush_size:
                recorder.flush()

    # `plain` and `stamped` are `close`, the line, then `resume`, inline (one call per item)

    def plain(self, message: object, handled: int) -> tuple[type | None, int]:
        """A plain tell of another type than the run's: the run is noted, this one opens
        the next."""
        recorder = self.recorder
        if recorder is None:  # a sink of one's own (no runs: the type stays None, so each
            assert self.sink is not None  # plain tell comes here)
            self.sink.handled(self.path, self.run, message)
            return None, THROUGHPUT
        count = handled - self.began
        if count:
            recorder._pending.append(self.line * count)
            recorder._waiting += count
        self.began = handled
        kind = self.kind = type(message)
        line = self.run_lines.get(kind)
        if line is None:
            line = self._define(self.run, kind)
        self.line = line
        room = recorder.flush_size - recorder._waiting
        if room <= 0:
            recorder.flush()
            room = recorder.flush_size
        limit = handled + room
        return kind, limit if limit < THROUGHPUT else THROUGHPUT

    def stamped(self, sender: str, message: object, handled: int) -> tuple[type | None, int]:
        """An item that carries its sender: the run is noted, then this message; a sender
        other than the runtime is the sender of the plain tells queued after it."""
        recorder = self.recorder
        if recorder is None:
            assert self.sink is not None
            if sender is not RUNTIME:
                self.run = sender
            self.sink.handled(self.path, sender, message)
            return None, THROUGHPUT
        count = handled - self.began
        if count:
            recorder._pending.append(self.line * count)
            recorder._waiting += count
        self.began = handled + 1
        if sender is not self.run and sender is not RUNTIME:
            self.run = sender
            self.kind = None  # (the run's line was another sender's)
            run_lines = self.lines.get(sender)
            if run_lines is None:
                run_lines = self.lines[sender] = {}
            self.run_lines = run_lines
        kind = type(message)
        if sender is self.run:
            line = self.run_lines.get(kind)
            if line is None:
                line = self._define(sender, kind)
        else:  # the runtime's
            lines = self.lines.get(sender)
            line = None if lines is None else lines.get(kind)
            if line is None:
                line = self._define(sender, kind)
        recorder._pending.append(line)
        recorder._waiting += 1
        room = recorder.flush_size - recorder._waiting
        if room <= 0:
            recorder.flush()
            room = recorder.flush_size
        limit = handled + 1 + room
        return self.kind, limit if limit < THROUGHPUT else THROUGHPUT

    def _define(self, sender: str, kind: type) -> str:
        """The line of a ``kind`` from ``sender``, the first time (the recorder notes the
        line defining its number)."""
        assert self.recorder is not None
        line = self.recorder.line_of(self.path, sender, kind)
        self.lines.setdefault(sender, {})[kind] = line
        return line


def recording_handlers(
    handlers: dict[type[Any], Handler], sink: RecordingSink
) -> dict[type[Any], Handler]:
    """The handler map of a recording system: each handler's answer reported, and handlers
    for `Now` and `Random` (unless given) that report the time and the number drawn."""
    import random as _random

    table: dict[type[Any], Handler] = {Now: lambda effect: time.time()}
    table[Random] = lambda effect: _random.random()
    table.update(handlers)
    return {kind: _recorded_handler(handler, sink) for kind, handler in table.items()}


def _recorded_handler(handler: Handler, sink: RecordingSink) -> Handler:
    def recorded(effect: Any) -> Any:
        context = _CONTEXT.get()
        index = sink.reserve(context)
        try:
            result = handler(effect)
        except Exception as error:
            sink.result(context, index, effect, None, error)
            raise
        in_place = program_in_place(result)
        if in_place is not None:

            def succeeded(value: Any) -> Program[Any]:
                sink.result(context, index, effect, value, None)
                return pure(value)

            def failed(error: Exception) -> Program[Any]:
                sink.result(context, index, effect, None, error)
                return fail(error)

            return in_place.flat_map(succeeded).recover_with(failed)
        if inspect.isawaitable(result):
            return _awaited(result, context, index, effect, sink)
        sink.result(context, index, effect, result, None)
        return result

    return recorded


async def _awaited(
    awaitable: Awaitable[Any], context: str, index: int, effect: object, sink: RecordingSink
) -> Any:
    try:
        value = await awaitable
    except Exception as error:
        sink.result(context, index, effect, None, error)
        raise
    sink.result(context, index, effect, value, None)
    return value
