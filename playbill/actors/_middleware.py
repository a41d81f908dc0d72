"""Middleware: layers around an actor's ``receive`` (and its lifecycle hooks), as values.

An actor names its layers with the attribute ``middleware`` (a class attribute, or one its
``__init__`` sets), or a spawner wraps it: ``free_spawn(WithMiddleware(Worker, [A, B]))``.
``[A, B, C]`` wraps the handler as ``A(B(C(receive)))``, for tells and asks alike. The chain
is composed once, when the instance is built (at spawn and at each restart), in shared code
every interpreter uses; an actor with no middleware is not touched, so it costs nothing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, final

from attrs import field, frozen

from playbill.actors._reports import short
from playbill.effects import InvalidArgument, Program, fail, pure

__all__ = ["Middleware", "WithMiddleware", "install_middleware", "observe"]


class Middleware:
    """A layer around an actor's ``receive``. Subclass it as a frozen value (``@frozen`` from
    attrs), so that a program can carry it, and override what you need:

    - ``receive(actor, message, proceed)``: call ``proceed(message)`` (or with a rewritten
      message) to go on inwards, and return what it returned (a plain value, or a `Program`
      for a receive that returns one); or return your own reply without calling it (a short
      circuit). ``observe(proceed, message, on_reply, on_error)`` sees the reply or the
      error, whichever kind of result the layers inside return.
    - ``on_start(actor)``, ``on_restart(actor, error)`` run before the actor's own hook
      (outer layers first), ``on_stop(actor)`` after it (inner layers first).

    >>> from attrs import frozen
    >>> @frozen
    ... class Shout(Middleware):
    ...     def receive(self, actor, message, proceed):
    ...         return proceed(message.upper())
    >>> Shout().receive(None, "hi", lambda message: f"got {message}")
    'got HI'
    """

    __slots__ = ()

    def receive(self, actor: Any, message: Any, proceed: Callable[[Any], Any]) -> Any:
        """Handle ``message`` for ``actor``; ``proceed`` is the next layer inwards."""
        return proceed(message)

    def on_start(self, actor: Any) -> None:
        """``actor`` is starting (before its ``on_start``)."""

    def on_stop(self, actor: Any) -> None:
        """``actor`` has stopped (after its ``on_stop``)."""

    def on_restart(self, actor: Any, error: BaseException) -> None:
        """``actor`` is a fresh instance after a restart caused by ``error`` (before its
        ``on_restart``)."""


def observe(
    proceed: Callable[[Any], Any],
    message: Any,
    on_reply: Callable[[Any], object] | None = None,
    on_error: Callable[[Exception], object] | None = None,
) -> Any:
    """``proceed(message)``, with ``on_reply`` called on the reply once there is one and
    ``on_error`` on the error, whichever kind of result the layers inside return: a plain
    value (or an error raised) at once, a `Program` when it finishes (its failure stays a
    failure), an awaitable (asyncio's ``async def receive``) when it is awaited.

    >>> seen = []
    >>> observe(lambda message: message + 1, 2, seen.append)
    3
    >>> from playbill.interpreters import stub
    >>> from playbill import pure
    >>> stub.run(observe(pure, 4, seen.append)), seen
    (4, [3, 4])
    """
    try:
        result = proceed(message)
    except Exception as error:
        if on_error is not None:
            on_error(error)
        raise
    if isinstance(result, Program):
        program: Program[Any] = result
        if on_reply is not None:
            program = program.map(functools.partial(_replied, on_reply))
        if on_error is not None:
            program = program.recover_with(functools.partial(_errored, on_error))
        return program
    if inspect.isawaitable(result):
        return _observe_awaitable(result, on_reply, on_error)
    if on_reply is not None:
        on_reply(result)
    return result


def _replied(on_reply: Callable[[Any], object], value: Any) -> Any:
    on_reply(value)
    return value


def _errored(on_error: Callable[[Exception], object], error: Exception) -> Program[Any]:
    on_error(error)
    return fail(error)


async def _observe_awaitable(
    awaitable: Any,
    on_reply: Callable[[Any], object] | None,
    on_error: Callable[[Exception], object] | None,
) -> Any:
    try:
        value = await awaitable
    except Exception as error:
        if on_error is not None:
            on_error(error)
        raise
    if on_reply is not None:
        on_reply(value)
    return value


def check_middleware(value: object, where: str) -> tuple[Middleware, ...]:
    """``value`` as a tuple of `Middleware`, else `InvalidArgument` naming ``where``."""
    if isinstance(value, Middleware):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise InvalidArgument(
            f"{where} must be a sequence of Middleware values ([A, B, C] wraps the handler as "
            f"A(B(C(receive)))), got {short(value)} ({type(value).__name__})"
        )
    for layer in value:
        if not isinstance(layer, Middleware):
            raise InvalidArgument(
                f"{where} must hold Middleware values (subclasses of "
                f"playbill.actors.Middleware), got {short(layer)} ({type(layer).__name__})"
            )
    return tuple(value)


def _wrapped_middleware(value: object) -> tuple[Middleware, ...]:
    return check_middleware(value, "WithMiddleware middleware")


@final
@frozen
class WithMiddleware:
    """An actor class or factory with ``middleware`` around it: spawn it as you would the
    actor (``free_spawn(WithMiddleware(Worker, [Log()]), name="worker")``). Its layers go
    outside those the actor names itself (``Worker.middleware``).

    >>> from playbill import Actor
    >>> WithMiddleware(Actor, [Middleware()]).middleware
    (<playbill.actors._middleware.Middleware object at ...>,)
    """

    actor: Callable[[], Any]
    middleware: tuple[Middleware, ...] = field(converter=_wrapped_middleware)

    def __attrs_post_init__(self) -> None:
        from playbill.actors._spawning import check_spawn  # (it imports this module)

        check_spawn(self.actor, None, None)

    def __call__(self) -> Any:
        instance = self.actor()
        own = getattr(instance, "middleware", ())
        instance.middleware = self.middleware + tuple(own)
        return instance

    @property
    def __name__(self) -> str:  # an unnamed child is named after the actor (``Worker$3``)
        from playbill.actors._spawning import actor_label

        return actor_label(self.actor) or "_"


def install_middleware(instance: Any) -> None:
    """Compose ``instance``'s middleware around its ``receive`` and hooks, once (called as the
    instance is built: at spawn and at each restart). No middleware: nothing is touched."""
    layers = getattr(instance, "middleware", None)
    if not layers:
        return
    layers = check_middleware(layers, f"{type(instance).__name__}.middleware")
    handler = instance.receive
    for layer in reversed(layers):
        handler = _layer(layer.receive, instance, handler)
    instance.receive = handler
    on_start, on_stop, on_restart = instance.on_start, instance.on_stop, instance.on_restart

    def started() -> Any:
        for layer in layers:
            layer.on_start(instance)
        return on_start()

    def stopped() -> Any:
        result = on_stop()
        if isinstance(result, Program):
            return result.ensuring(pure(None).map(lambda _: _stop_layers(layers, instance)))
        _stop_layers(layers, instance)
        return result

    def restarted(error: BaseException) -> Any:
        for layer in layers:
            layer.on_restart(instance, error)
        # the actor's own on_restart calls its on_start by default, which must not run the
        # layers' on_start too: the plain one, for this call
        instance.on_start = on_start
        try:
            return on_restart(error)
        finally:
            instance.on_start = started

    instance.on_start = started
    instance.on_stop = stopped
    instance.on_restart = restarted


def _layer(
    receive: Callable[[Any, Any, Callable[[Any], Any]], Any],
    instance: Any,
    proceed: Callable[[Any], Any],
) -> Callable[[Any], Any]:
    # a closure, not functools.partial(receive, instance, proceed=proceed): a partial with a
    # keyword builds a dict of keywords at every call, three times the cost of a layer
    def layer(message: Any) -> Any:
        return receive(instance, message, proceed)

    return layer


def _stop_layers(layers: tuple[Middleware, ...], instance: Any) -> None:
    for layer in reversed(layers):
        layer.on_stop(instance)
