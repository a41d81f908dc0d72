"""Recording a production run (``ActorSystem(record=...)``): which message each actor handled
next (by its sender), and what every handler-answered effect gave (time, randomness, the
user's effects). Only a recording system pays for it: its cells are `_RecordingCell`s, whose
`_Notes` the hot loop of `_Cell._main` notes each handled message with, and its handler table
is wrapped; an unrecorded system's cells have no notes (one ``is None`` test per message).

The sink that writes the recording is given (`RecordingSink`); the file format is
`playbill.interpreters._recording_file`'s (`Recorder`), its replay the simulator's
(`replay_recording`)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, final, runtime_checkable

from playbill.actors import DeadLetterReason, Terminated
from playbill.actors._kernel import Phase
from playbill.actors._routing import ROUTER_MESSAGES
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


def _sent(message: object, future: asyncio.Future[Any] | None) -> _Ask:
    """A mailbox entry of a recording system with its sender beside the message (what is
    queued other than a plain tell: an ask, a `send`, a tell to a bounded mailbox)."""
    entry = _Ask(message, future)
    entry.sender = RUNTIME if type(message) in ROUTER_MESSAGES else _CONTEXT.get()
    return entry


def _is_notice(item: object) -> bool:
    return type(item) is _Ask and item.sender is RUNTIME and type(item.message) is Terminated


_STOPPING = Phase.STOPPING


class _RecordingCell(_Cell):
    """A cell of a recording system: the hot loop of `_Cell._main` notes each message it
    handles, with its sender, in the cell's `_Notes`. The message itself is never wrapped:
    routing, stop policies, dead letters, middleware and asker errors see exactly what an
    unrecorded system's would.

    Where the sender is kept: a plain tell to an unbounded mailbox (the hot path) queues the
    message as it is and its sender in ``senders``, in the same order — no object is made per
    tell. Everything else is queued as an `_Ask` with its sender on it: asks, sends, tells to
    a bounded mailbox (whose overflow policy may drop one from the middle of the queue), a
    router's own messages and the runtime's notices (``Terminated``). So the plain items of
    the queue and ``senders`` go together: the handling of one pops the other, and a drain
    clears both."""

    __slots__ = ("notes", "senders")

    _entry = staticmethod(_sent)  # type: ignore[assignment]
    # a grain ref tells the grain's cell, which notes the sender (no inline tell)
    grain_binding = GrainBinding

    def __init__(self, *arguments: Any) -> None:
        super().__init__(*arguments)
        self.senders: deque[str] = deque()
        self.notes = _Notes(self, self.system._recorder)  # type: ignore[arg-type]

    async def _main(self) -> None:
        _CONTEXT.set(self.path)
        await super()._main()

    def tell(self, message: object) -> None:
        # `_Cell.tell`, inline, with the sender noted in ``senders`` (a recorded tell's hot path)
        box = self.mailbox
        if self.routing is None and box.capacity is None and self.phase < _STOPPING:
            box.user.append(message)
            self.senders.append(_sender())
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
            entry = _sent(message, None)
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
        entry = _sent(message, None)
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
        self.senders.clear()
        super()._drain(reason)


@final
class _Notes:
    """What the hot loop of a recording cell (`_Cell._main`) notes each handled message with,
    taken into its locals once per batch (`tools`): the sender of a plain tell is taken from
    the cell's ``senders``, and the message's line is appended to the recorder's list of
    lines, written in bulk. A message from the same sender and of the same type as the one
    before it in the batch appends the same line: nothing is made or looked up per message.
    Any other asks `line_of` (one line per sender and type, encoded once). With a sink of
    one's own, each message is a `RecordingSink.handled` call instead."""

    __slots__ = ("bound", "flush", "lines", "path", "pending", "recorder", "senders", "sink")

    def __init__(self, cell: _RecordingCell, sink: RecordingSink) -> None:
        self.senders = cell.senders
        self.path = cell.path
        self.lines: dict[tuple[str, type], str] = {}
        self.pending: list[Any]
        self.bound: int
        self.flush: Callable[[], None]
        self.recorder: Recorder | None = None
        self.sink: RecordingSink | None = None
        if isinstance(sink, Recorder):
            self.recorder = sink
            self.pending, self.bound, self.flush = sink.note_handled()
        else:  # each message told to the sink as it is handled
            self.sink = sink
            self.pending, self.bound, self.flush = [], 1, self._tell_sink

    def tools(self) -> tuple[Callable[[], str], Callable[[Any], None]]:
        """What the hot loop notes with: take a plain tell's sender, note a line."""
        return self.senders.popleft, self.pending.append

    def room(self) -> int:
        """Write what is noted if it reached the recorder's bound (``flush_size``); how many
        more lines the hot loop may note before it asks again. The hot loop counts them down
        in a local — at most 256, so each count is a cached int — and asks again after
        anything that may have noted lines in between: an await (another actor ran) or a
        program run inline (its effects' results were noted). So the bound holds exactly, and
        no message pays for a ``len``."""
        pending = self.pending
        if len(pending) >= self.bound:
            self.flush()
        return min(self.bound - len(pending), 256)

    def line_of(self, sender: str, message: object) -> tuple[str | None, type | None, Any]:
        """The line that notes ``message`` from ``sender``, with the sender and type it
        stands for while they repeat (with a sink of one's own: none)."""
        kind = type(message)
        if self.sink is not None:
            return None, None, (self.path, sender, message)
        line = self.lines.get((sender, kind))
        if line is None:
            assert self.recorder is not None
            line = self.lines[sender, kind] = self.recorder.line_of(self.path, sender, kind)
        return sender, kind, line

    def _tell_sink(self) -> None:
        assert self.sink is not None
        handled = self.sink.handled
        for path, sender, message in self.pending:
            handled(path, sender, message)
        self.pending.clear()


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
