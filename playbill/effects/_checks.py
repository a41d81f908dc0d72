"""Argument checks shared by every public entry point: each refuses a bad value up front with
`InvalidArgument` naming the option, the value received and what is accepted — never a
``TypeError`` from deep inside a run.

``where`` names the option as a user wrote it (``"simulate() ask_timeout"``). ``bool`` is an
``int`` to Python but never a number here: ``ask_timeout=True`` is a mistake, not one second.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from playbill.effects._errors import InvalidArgument

S = TypeVar("S", bound=str)


def is_number(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``.

    >>> is_number(1.5), is_number(True), is_number("1")
    (True, False, False)
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _received(value: object) -> str:
    return f"got {value!r} ({type(value).__name__})"


def check_seconds(where: str, value: object, *, infinite: bool = True) -> float:
    """``value`` as positive seconds (``math.inf``, waiting forever, only if ``infinite``).

    >>> check_seconds("ask_timeout", 2)
    2.0
    >>> try:
    ...     check_seconds("ask_timeout", float("nan"))
    ... except InvalidArgument as error:
    ...     print(error)
    ask_timeout must be a positive number of seconds (math.inf to wait forever), got nan (float)
    """
    # value == value: not NaN (math.isnan would overflow on a huge int)
    if (
        not is_number(value)
        or not value > 0  # type: ignore[operator]
        or value != value
        or (not infinite and value == math.inf)
    ):
        accepted = (
            "a positive number of seconds (math.inf to wait forever)"
            if infinite
            else "a positive, finite number of seconds"
        )
        raise InvalidArgument(f"{where} must be {accepted}, {_received(value)}")
    return float(value)  # type: ignore[arg-type]


def check_count(where: str, value: object, *, minimum: int = 0) -> int:
    """``value`` as an ``int`` of at least ``minimum``.

    >>> check_count("max_steps", 10, minimum=1)
    10
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{where} must be an int >= {minimum}, {_received(value)}")
    return value


def check_probability(where: str, value: object) -> float:
    """``value`` as a probability: a number in [0, 1].

    >>> check_probability("Faults crash", 0.25)
    0.25
    """
    if not is_number(value) or not 0 <= value <= 1:  # type: ignore[operator]
        raise InvalidArgument(f"{where} must be a probability in [0, 1], {_received(value)}")
    return float(value)  # type: ignore[arg-type]


def check_flag(where: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False`` (not ``1``, not ``"yes"``).

    >>> check_flag("interrupt", True)
    True
    """
    if not isinstance(value, bool):
        raise InvalidArgument(f"{where} must be True or False, {_received(value)}")
    return value


def check_one_of(where: str, value: S, accepted: Collection[str]) -> S:
    """``value`` if it is one of the ``accepted`` strings.

    >>> check_one_of("delivery", "causal", ("causal", "per_pair"))
    'causal'
    """
    if not isinstance(value, str) or value not in accepted:
        names = " or ".join(repr(name) for name in accepted)
        raise InvalidArgument(f"{where} must be {names}, {_received(value)}")
    return value


def check_path(where: str, path: object, *, relative: bool = False) -> str:
    """``path`` if it names an actor: ``/system/parent/child``, segments non-empty; with
    ``relative``, also ``parent/child`` (a path under the root guardian).

    >>> check_path("ActorRef path", "/app/worker")
    '/app/worker'
    >>> try:
    ...     check_path("ActorRef path", "app/worker")
    ... except InvalidArgument as error:
    ...     print(error)
    ActorRef path must be an absolute actor path like '/app/parent/child', got 'app/worker' (str)
    """
    absolute = isinstance(path, str) and path.startswith("/")
    body = path[1:] if absolute else path  # type: ignore[index]
    if (
        not isinstance(path, str) or not (absolute or relative) or not body or "" in body.split("/")  # type: ignore[union-attr]
    ):
        accepted = (
            "an actor path like '/app/parent/child' or, relative to the root, 'parent/child'"
            if relative
            else "an absolute actor path like '/app/parent/child'"
        )
        raise InvalidArgument(f"{where} must be {accepted}, {_received(path)}")
    return path


def check_iterable(where: str, value: object) -> Iterable[Any]:
    """``value`` as an iterable of items (a list, a tuple, a generator); a ``str`` or ``bytes``,
    iterable as characters, is refused too, as it is never meant as a list of items.

    >>> check_iterable("task_events() events", [1, 2])
    [1, 2]
    >>> check_iterable("task_events() events", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    playbill.effects._errors.InvalidArgument: task_events() events takes an iterable ...
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        hint = "; wrap a single item in a list" if isinstance(value, (str, bytes)) else ""
        raise InvalidArgument(
            f"{where} takes an iterable (a list, a tuple, a generator), {_received(value)}{hint}"
        )
    return value


def check_callable(where: str, value: object, what: str = "a function") -> Any:
    """``value`` when it is callable, else an `InvalidArgument` naming ``where`` and ``what``
    it must be.

    >>> check_callable("map()", str.upper) is str.upper
    True
    >>> check_callable("map()", 42)
    Traceback (most recent call last):
    ...
    playbill.effects._errors.InvalidArgument: map() must be a function, got an int: 42
    """
    if not callable(value):
        raise InvalidArgument(f"{where} must be {what}, got {a_type(value)}: {value!r:.80}")
    return value


def callable_with(function: object, arguments: int) -> bool:
    """Whether ``function`` is callable with ``arguments`` positional arguments (``True`` when
    its signature cannot be read, as for some builtins: the call will tell).

    >>> callable_with(lambda: 1, 0), callable_with(lambda result: 1, 0), callable_with(5, 0)
    (True, False, False)
    """
    if not callable(function):
        return False
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*([None] * arguments))
    except TypeError:
        return False
    return True


def describe_callable(function: object) -> str:
    """How a message names ``function``: ``charge(effect)``, ``<lambda>(x)``, else its repr.

    >>> def charge(effect): ...
    >>> describe_callable(charge)
    'charge(effect)'
    """
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if name is None:
        return repr(function)
    name = str(name).rsplit("<locals>.", 1)[-1]
    try:
        return f"{name}{inspect.signature(function)}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return name


def a_type(value: object) -> str:
    """``value``'s type name with its article: ``an int``, ``a str``.

    >>> a_type(5), a_type("x"), a_type(None)
    ('an int', 'a str', 'a NoneType')
    """
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def plural(count: object, noun: str) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one.

    >>> plural(1, "run"), plural(3, "run")
    ('1 run', '3 runs')
    """
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
