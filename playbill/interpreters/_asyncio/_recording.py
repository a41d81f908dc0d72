"""Recording a production run (``ActorSystem(record=...)``): which message each actor handled
next (by its sender), and what every handler-answered effect gave (time, randomness, the
user's effects). Only a recording system pays for it: its cells are `_RecordingCell`s and its
handler table is wrapped; an unrecorded system runs the plain `_Cell` untouched.

The sink that writes the recording is given (`RecordingSink`); the file format and its
replay in the simulator are `playbill.durable`'s (`Recorder`, `replay_recording`)."""

from __future__ import annotations

import contextvars
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, final, runtime_checkable

from playbill.actors._kernel import KernelCell
from playbill.actors._routing import ROUTER_MESSAGES
from playbill.effects import Now, Program, Random
from playbill.effects._handlers import Handler, program_in_place
from playbill.effects._program import fail, pure
from playbill.interpreters._asyncio._cell import _Cell

# who is running: an actor's path in its task (and the tasks it forks), else "main" — the
# names the simulator gives the same senders
_CONTEXT: contextvars.ContextVar[str] = contextvars.ContextVar("playbill_recording", default="main")
RUNTIME = "runtime"  # the sender of a message the runtime queues (`Terminated`)


@runtime_checkable
class RecordingSink(Protocol):
    """Where a recording system reports what happened (`playbill.durable.Recorder` writes it
    to a file)."""

    def start(self, system: str) -> None: ...

    def handled(self, path: str, sender: str, message: object) -> None: ...

    def reserve(self, context: str) -> int: ...

    def result(
        self, context: str, index: int, effect: object, value: object, error: BaseException | None
    ) -> None: ...

    def jitter(self, value: float) -> None: ...

    def close(self) -> None: ...


@final
class _Tagged:
    """A message on its way, with who sent it (only in a recording system's mailboxes)."""

    __slots__ = ("message", "sender")

    def __init__(self, message: object, sender: str) -> None:
        self.message = message
        self.sender = sender

    def __repr__(self) -> str:
        return repr(self.message)


def _tag(message: object) -> object:
    if type(message) in ROUTER_MESSAGES or type(message) is _Tagged:
        return message
    return _Tagged(message, _CONTEXT.get())


_INSTANCE: Any = vars(KernelCell)["instance"]  # the slot's descriptor


class _RecordingCell(_Cell):
    """A cell of a recording system: what it is sent carries its sender, and its instance's
    ``receive`` reports each message before handling it."""

    __slots__ = ()

    @property
    def instance(self) -> Any:
        return _INSTANCE.__get__(self)

    @instance.setter
    def instance(self, value: Any) -> None:
        if value is not None and not hasattr(value, "_playbill_recorded"):
            sink: RecordingSink = self.system._recorder  # type: ignore[assignment]
            value.receive = _recorded_receive(value.receive, self.path, sink)
            value._playbill_recorded = True
        _INSTANCE.__set__(self, value)

    async def _main(self) -> None:
        _CONTEXT.set(self.path)
        await super()._main()

    def tell(self, message: object) -> None:
        super().tell(_tag(message))

    def ask(self, message: object, timeout: float | None) -> Awaitable[Any]:
        return super().ask(_tag(message), timeout)

    def _post(self, message: object) -> Any:
        return super()._post(_tag(message))


def _recorded_receive(
    receive: Callable[[object], Any], path: str, sink: RecordingSink
) -> Callable[[object], Any]:
    def receive_recorded(message: object) -> Any:
        if type(message) is _Tagged:
            sink.handled(path, message.sender, message.message)
            return receive(message.message)
        sink.handled(path, RUNTIME, message)
        return receive(message)

    return receive_recorded


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
