"""Do-notation: write a program as a generator that yields programs (or effects).

>>> from playbill import program, pure
>>> from playbill.interpreters import stub
>>> @program
... def total(a, b):
...     x = yield pure(a)
...     y = yield pure(b)
...     return x + y
>>> stub.run(total(1, 2))
3
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, ParamSpec, TypeVar

from playbill.effects._errors import InvalidArgument, ProgramError
from playbill.effects._program import Generate, Program

__all__ = ["program"]

P = ParamSpec("P")
A = TypeVar("A")


def program(function: Callable[P, Generator[Any, Any, A]]) -> Callable[P, Program[A]]:
    """Turn a generator function into a function that builds a `Program`.

    Inside, ``x = yield some_program`` (or ``yield some_effect``) runs it and gives its
    result; ``return v`` gives the program's value; a failure of what was yielded is raised at
    the ``yield``, so ``try/except`` works. Calling the decorated function performs nothing:
    the generator function is called anew on every run of the program. Works on methods too.
    Arguments are checked against the signature when the program is built.

    >>> from playbill import fail, pure
    >>> from playbill.interpreters import stub
    >>> @program
    ... def safe_divide(a, b):
    ...     try:
    ...         yield fail(ZeroDivisionError("b is 0")) if b == 0 else pure(None)
    ...     except ZeroDivisionError:
    ...         return 0
    ...     return a / b
    >>> stub.run(safe_divide(1, 0)), stub.run(safe_divide(1, 4))
    (0, 0.25)
    """
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise ProgramError(
            f"@program decorates plain generator functions, but {function!r} is async; write "
            "`def` and `yield` effects instead of `await`ing (a foreign awaitable becomes an "
            "effect with a handler)"
        )
    if not inspect.isgeneratorfunction(function):
        raise ProgramError(
            f"@program decorates generator functions, but {function!r} has no `yield`; "
            "yield the programs it runs, or return pure(...) from a plain function instead"
        )
    # positional parameters only (the common case): counting the arguments checks them, and
    # costs nothing at decoration, which matters for a program decorated inside a receive
    fewest = most = -1
    if inspect.isfunction(function):
        code = function.__code__
        if not (
            code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or code.co_kwonlyargcount
        ):
            most = code.co_argcount
            fewest = most - len(function.__defaults__ or ())
    signatures: list[inspect.Signature] = []

    @functools.wraps(function)
    def build(*args: P.args, **kwargs: P.kwargs) -> Program[A]:
        if kwargs or not fewest <= len(args) <= most:
            try:
                if not signatures:
                    signatures.append(inspect.signature(function))
                signatures[0].bind(*args, **kwargs)
            except TypeError as error:
                raise InvalidArgument(f"{function.__qualname__}(...): {error}") from None
        return Generate(function, args, tuple(kwargs.items()))

    return build
