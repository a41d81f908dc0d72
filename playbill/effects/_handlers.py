"""Handler maps: the one shape every interpreter accepts for user effects.

A handler map is a mapping from an effect type to a function of the effect. The function
returns the effect's result, or a `Program` that the interpreter runs in place (so handlers
compose: a retrying handler returns a program that wraps another). A handler registered for a
base class also serves its subclasses; the most specific registration wins.

An awaitable result (an ``async def`` handler's coroutine) is awaited under asyncio only; the
stub and the simulator have no event loop and refuse it with `refuse_awaitable`'s error, the
one message every interpreter gives for an ``async def`` where they need a value or a Program.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from playbill.effects._checks import callable_with, describe_callable
from playbill.effects._errors import Cancelled, InvalidArgument, ProgramError
from playbill.effects._machine import Machine, Step
from playbill.effects._program import Effect, Program, Suspend

__all__ = [
    "Handler",
    "HandlerFactory",
    "HandlerTable",
    "Handlers",
    "fresh_handlers",
    "perform_with",
    "refuse_awaitable",
]

Handler: TypeAlias = Callable[[Any], Any]
Handlers: TypeAlias = Mapping[type[Any], Handler]
HandlerFactory: TypeAlias = Callable[[], Handlers]


def fresh_handlers(handlers: Handlers | HandlerFactory | None) -> Handlers | None:
    """The handler map to use for one run: ``handlers`` itself, or what calling it gives when
    it is a factory (a function of no arguments), so stateful fakes start anew on each run.

    >>> from playbill.effects import Now
    >>> def fakes():
    ...     return {Now: lambda effect: 5.0}
    >>> list(fresh_handlers(fakes)) == [Now]
    True
    """
    if handlers is None or isinstance(handlers, Mapping) or not callable(handlers):
        return handlers  # a map, or a mistake that HandlerTable names
    if not callable_with(handlers, 0):  # a handler itself, given where its map belongs
        raise InvalidArgument(
            f"handlers= takes a map {{EffectType: handler}} or a function of no arguments "
            f"that returns one (called once per run), got {describe_callable(handlers)}, "
            "which takes arguments: a handler given without its map? Write "
            "handlers={YourEffect: handler}"
        )
    made = handlers()
    if not isinstance(made, Mapping):
        raise InvalidArgument(
            f"the handler factory {getattr(handlers, '__qualname__', handlers)!r} returned "
            f"{made!r}; a factory given as handlers= must return a mapping from effect type to "
            "function, such as {Fetch: lambda effect: ...}"
        )
    return made


class HandlerTable:
    """A checked handler map with lookup by effect type (through its base classes).

    >>> from playbill.effects import Now
    >>> table = HandlerTable({Now: lambda effect: 12.0}, interpreter="stub")
    >>> table.find(Now())(Now())
    12.0
    """

    __slots__ = ("_cache", "_handlers", "interpreter")

    def __init__(self, handlers: Handlers | None, *, interpreter: str) -> None:
        self.interpreter = interpreter
        self._handlers: dict[type[Any], Handler] = {}
        if handlers is None:
            handlers = {}
        if not isinstance(handlers, Mapping):
            raise InvalidArgument(
                f"handlers must be a mapping from effect type to function, got {handlers!r}; "
                "write handlers={Fetch: lambda effect: ...}"
            )
        for kind, handler in handlers.items():
            if not (isinstance(kind, type) and issubclass(kind, Effect)):
                raise InvalidArgument(
                    f"handler key {kind!r} is not an Effect class; keys are effect types, "
                    "such as {Fetch: lambda effect: ...} where Fetch derives from Effect"
                )
            if not callable(handler):
                raise InvalidArgument(
                    f"the handler for {kind.__name__} is {handler!r}, which is not callable; "
                    "give a function of the effect, such as lambda effect: ..."
                )
            self._handlers[kind] = handler
        self._cache: dict[type[Any], Handler | None] = {}

    def find(self, effect: object) -> Handler | None:
        """The handler for ``effect``'s type or its nearest registered base class."""
        kind = type(effect)
        try:
            return self._cache[kind]
        except KeyError:
            pass
        found = None
        for base in kind.__mro__:
            found = self._handlers.get(base)
            if found is not None:
                break
        self._cache[kind] = found
        return found

    def __contains__(self, kind: type[Any]) -> bool:
        return kind in self._handlers


def perform_with(handler: Handler, effect: object, machine: Machine, *, interpreter: str) -> Step:
    """Call ``handler`` on ``effect`` and continue ``machine`` with what it gave: a value, a
    `Program` or an `Effect` (run in place), or its exception (raised into the program at the
    effect). An awaitable is refused (`refuse_awaitable`): ``interpreter`` (``"the stub"``)
    has no event loop."""
    try:
        result = handler(effect)
    except (Exception, Cancelled) as error:
        return machine.throw(error)
    in_place = program_in_place(result)
    if in_place is not None:
        return machine.resume_with(in_place)
    if inspect.isawaitable(result):
        return machine.throw(
            refuse_awaitable(result, f"the handler for {type(effect).__name__}", interpreter)
        )
    return machine.resume(result)


def refuse_awaitable(awaitable: object, what: str, interpreter: str) -> ProgramError:
    """The error for an awaitable that ``what`` gave an ``interpreter`` with no event loop
    (``"the stub"``, ``"the simulator"``): it says how to write the code instead. A coroutine
    is closed first, so that Python does not also warn that it was never awaited.

    >>> async def fetch(effect):
    ...     return 1
    >>> error = refuse_awaitable(fetch(None), "the handler for Fetch", "the stub")
    >>> print(error)  # doctest: +NORMALIZE_WHITESPACE
    the handler for Fetch returned an awaitable (a coroutine), and the stub has no event loop
    to await it (only asyncio awaits); write it as a plain `def` that returns the value, or a
    Program (a generator decorated with @program) that turns each awaited call into an effect
    with a handler
    """
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    return ProgramError(
        f"{what} returned an awaitable (a {type(awaitable).__name__}), and {interpreter} "
        "has no event loop to await it (only asyncio awaits); write it as a plain "
        "`def` that returns the value, or a Program (a generator decorated with @program) "
        "that turns each awaited call into an effect with a handler"
    )


def program_in_place(result: object) -> Program[Any] | None:
    """What a handler's result runs in place of its effect: a `Program` as it is, an `Effect`
    as ``perform(effect)``; ``None`` for a plain value (the effect's result)."""
    if isinstance(result, Program):
        return result
    if isinstance(result, Effect):
        return Suspend(result)
    return None
