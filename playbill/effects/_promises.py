"""Promises: a cheap wake-up from one fiber to others, as effects.

A `Promise` is a handle made by the `new_promise` effect: a value that any fiber of the run
(and any actor of the system it reaches in a message) may complete once, with a value or an
error, and that any number of fibers may await. Completing is never blocking and never fails
because of the waiters; awaiting waits until the promise is complete, or returns at once if it
is already. Each interpreter keeps the promise's state behind the handle: under asyncio a
waiter is a future of its own, under the simulator a waiter is a fiber whose wake-up is a
scheduling point (named by the fiber's stable id), under the stub a fiber in its ready queue.

Laws (checked in ``tests/laws/test_promise_laws.py`` under every interpreter):

* complete-once: the first `complete` or `fail_promise` decides the outcome and answers
  True; every later one answers False and changes nothing;
* an await after completion returns (or fails) at once, with the outcome that was decided;
* a waiter cancelled before the completion never receives it: nothing is delivered late, no
  error is raised to the completer, no dead letter is counted.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from attrs import field, frozen

from playbill.effects._errors import InvalidArgument
from playbill.effects._program import Effect, Program, Suspend, _slot_setter

__all__ = [
    "AwaitPromise",
    "CompletePromise",
    "FailPromise",
    "NewPromise",
    "Promise",
    "await_promise",
    "complete",
    "fail_promise",
    "new_promise",
]

A = TypeVar("A")


@final
@frozen
class Promise(Generic[A]):
    """The handle of a promise that `new_promise` made: complete it once, await it any number
    of times. Compared by ``id``; meaningful only in the run (or actor system) that made it,
    whose interpreter attaches its state as ``binding``.

    >>> from playbill import program
    >>> from playbill.interpreters import stub
    >>> @program
    ... def main():
    ...     promise = yield new_promise()
    ...     first = yield promise.complete("hello")
    ...     second = yield promise.complete("ignored")
    ...     return (yield promise.wait()), first, second
    >>> stub.run(main())
    ('hello', True, False)
    """

    id: int
    binding: Any = field(default=None, eq=False, repr=False)

    def complete(self, value: A) -> Program[bool]:
        """Complete this promise with ``value`` (see `complete`)."""
        return complete(self, value)

    def fail(self, error: Exception) -> Program[bool]:
        """Complete this promise with ``error`` (see `fail_promise`)."""
        return fail_promise(self, error)

    def wait(self) -> Program[A]:
        """Wait until this promise is complete; its value, or its error raised (see
        `await_promise`)."""
        return await_promise(self)


_set_promise_id = _slot_setter(Promise, "id")
_set_promise_binding = _slot_setter(Promise, "binding")


def bound_promise(promise_id: int, binding: object) -> Promise[Any]:
    """A new handle for an interpreter's promise state ``binding`` (what the interpreters'
    `NewPromise` gives; a fast constructor, as for the hot Program nodes)."""
    promise: Promise[Any] = object.__new__(Promise)
    _set_promise_id(promise, promise_id)
    _set_promise_binding(promise, binding)
    return promise


@final
@frozen
class NewPromise(Effect[Promise[Any]]):
    """Make a new, incomplete promise; the result is its handle."""


@final
@frozen
class CompletePromise(Effect[bool]):
    """Complete ``promise`` with ``value`` and wake its waiters; True if this completed it,
    False if it was complete already (then nothing changes)."""

    promise: Promise[Any]
    value: Any


@final
@frozen
class FailPromise(Effect[bool]):
    """Complete ``promise`` with ``error`` (raised into each waiter); True if this completed
    it, False if it was complete already (then nothing changes)."""

    promise: Promise[Any]
    error: Exception


@final
@frozen
class AwaitPromise(Effect[Any]):
    """Wait until ``promise`` is complete: its value, or its error raised here."""

    promise: Promise[Any]


_NEW_PROMISE: Program[Promise[Any]] = Suspend(NewPromise())


def new_promise() -> Program[Promise[Any]]:
    """Make a promise: the result is its handle, to complete once and await from any fiber.

    >>> from playbill import fork, join, program
    >>> from playbill.interpreters import stub
    >>> @program
    ... def main():
    ...     promise = yield new_promise()
    ...     waiter = yield fork(await_promise(promise).map(lambda v: v * 2))
    ...     yield complete(promise, 21)
    ...     return (yield join(waiter))
    >>> stub.run(main())
    42
    """
    return _NEW_PROMISE


def complete(promise: Promise[A], value: A) -> Program[bool]:
    """Complete ``promise`` with ``value``, waking every fiber that awaits it. The result is
    True if this call completed it, False if it was complete already (the first completion
    wins; later ones change nothing). Never waits.

    >>> from playbill.interpreters import stub
    >>> stub.run(new_promise().flat_map(lambda p: complete(p, 1).then(complete(p, 2))))
    False
    """
    return Suspend(CompletePromise(_check_promise("complete()", promise), value))


def fail_promise(promise: Promise[Any], error: Exception) -> Program[bool]:
    """Complete ``promise`` with ``error``: each fiber that awaits it (now or later) fails
    with it. True if this call completed it, False if it was complete already.

    >>> from playbill import program
    >>> from playbill.interpreters import stub
    >>> @program
    ... def main():
    ...     promise = yield new_promise()
    ...     yield fail_promise(promise, KeyError("gone"))
    ...     return (yield await_promise(promise).attempt())
    >>> stub.run(main())
    <Failure: 'gone'>
    """
    if not isinstance(error, Exception):
        raise InvalidArgument(
            f"fail_promise() error must be an Exception instance, got {error!r} "
            f"({type(error).__name__}); pass an exception such as ValueError('why')"
        )
    return Suspend(FailPromise(_check_promise("fail_promise()", promise), error))


def await_promise(promise: Promise[A]) -> Program[A]:
    """Wait until ``promise`` is complete: its value, or its error raised here. Returns at once
    if it is complete already. A waiter cancelled while it waits never receives the value.

    >>> from playbill.interpreters import stub
    >>> stub.run(new_promise().flat_map(lambda p: complete(p, "ok").then(await_promise(p))))
    'ok'
    """
    return Suspend(AwaitPromise(_check_promise("await_promise()", promise)))


def _check_promise(where: str, promise: object) -> Promise[Any]:
    if not isinstance(promise, Promise):
        raise InvalidArgument(
            f"{where} takes the Promise handle that new_promise() produced, got {promise!r} "
            f"({type(promise).__name__})"
        )
    return promise
