"""`AskThenStop`: what follows the spawn of an ephemeral child that is asked once and stopped
(``ask_agent``'s shape), as a value an interpreter can recognise.

Every interpreter may simply call it: it builds the program it stands for — ask the child,
stop it whatever happens (interrupting the work of a failed or cancelled ask), then map the
reply — so the simulator's steps, schedules and traces are those of that expansion. The
asyncio interpreter performs it natively instead when the child answers inline
(`playbill.effects.Machine.pop_continuation`): no expansion is built or stepped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, final

from playbill.effects._program import Ensuring, Map, Program, Suspend, _slot_setter
from playbill.effects._vocabulary import ActorRef, Ask, Stop

__all__ = ["AskThenStop"]


@final
class AskThenStop:
    """The continuation of ``Suspend(Spawn(...))``: given the child's ref, ask it ``message``
    (at most ``timeout``), stop it whatever happens (``interrupt``), and produce
    ``then(reply)``.

    >>> from playbill.effects import Machine, Spawn, FlatMap, Suspend
    >>> from playbill.effects._ask_once import AskThenStop
    >>> program = FlatMap(Suspend(Spawn(object)), AskThenStop("hi", None, str.upper))
    >>> machine = Machine(program)
    >>> type(machine.start().effect).__name__
    'Spawn'
    >>> type(machine.pop_continuation(AskThenStop)).__name__
    'AskThenStop'
    """

    __slots__ = ("message", "then", "timeout")

    def __init__(self, message: object, timeout: float | None, then: Callable[[Any], Any]) -> None:
        self.message = message
        self.timeout = timeout
        self.then = then

    def __call__(self, child: ActorRef) -> Program[Any]:
        return Map(
            Ensuring(Suspend(Ask(child, self.message, self.timeout)), Suspend(stop_of(child))),
            self.then,
        )

    def __getattr__(self, name: str) -> Any:
        # its name in a program's text (`function_name`), where it was the closure
        # ``_ask_once.<locals>.ask`` before: kept, so that recorded traces stay the same
        if name == "__qualname__":
            return "_ask_once.<locals>.ask"
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"AskThenStop({self.message!r}, {self.timeout!r}, {self.then!r})"


def stop_of(child: ActorRef) -> Stop:
    """``Stop(child, interrupt=True)``, built directly (Stop's check of its flag: True is)."""
    stop = object.__new__(Stop)
    _set_stop_ref(stop, child)
    _set_stop_interrupt(stop, True)
    return stop


_set_stop_ref = _slot_setter(Stop, "ref")
_set_stop_interrupt = _slot_setter(Stop, "interrupt")
