"""`Program[A]`: a description of work that yields an ``A``, built from frozen nodes.

The three shapes that matter are `Pure` (a value), `Suspend` (an effect to perform) and
`FlatMap` (a program followed by a continuation). The other nodes are specialisations of
`FlatMap` that the stepper runs without allocating: `Map` (a plain function), `Fail`, `Catch`
(a continuation for the failure path), `Ensuring` (a finaliser on both paths), `Generate`
(the body of an ``@program`` generator) and `Intercept` (a program whose effects pass
through a function first). Building a program performs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, Generic, Never, TypeVar, final, overload

from attrs import field, frozen
from returns.result import Failure, Result, Success

from playbill.effects._errors import InvalidArgument, ProgramError
from playbill.effects._structure import Structural, walk_class, walk_family

if TYPE_CHECKING:
    from playbill.effects._concurrency import Fiber

__all__ = [
    "Catch",
    "Effect",
    "Ensuring",
    "Fail",
    "FlatMap",
    "Generate",
    "Intercept",
    "Map",
    "Program",
    "Pure",
    "Suspend",
    "fail",
    "perform",
    "pure",
]

A = TypeVar("A")
B = TypeVar("B")
A_co = TypeVar("A_co", covariant=True)

ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


class Effect(Generic[A_co]):
    """Base class of every effect: a frozen value describing one thing to be performed.

    The type parameter is the type of the effect's result. Define your own effects as frozen
    attrs classes and give each interpreter a handler for them:

    >>> from attrs import frozen
    >>> from playbill import Effect, perform
    >>> from playbill.interpreters import stub
    >>> @frozen
    ... class Fetch(Effect[str]):
    ...     key: str
    >>> stub.run(perform(Fetch("a")), {Fetch: lambda effect: effect.key.upper()})
    'A'
    """

    __slots__ = ()


class Program(Structural, Generic[A_co]):
    """A value describing a computation that produces an ``A`` by performing effects.

    Programs are immutable; running one never changes it, and running the same program twice
    gives two independent runs.

    >>> from playbill import pure
    >>> from playbill.interpreters import stub
    >>> stub.run(pure(20).map(lambda x: x + 1).flat_map(lambda x: pure(x * 2)))
    42
    """

    __slots__ = ()

    def map(self, function: Callable[[A_co], B]) -> Program[B]:
        """Apply a plain function to the result.

        >>> from playbill.interpreters import stub
        >>> stub.run(pure(2).map(str))
        '2'
        """
        return Map(self, function)

    def flat_map(self, continuation: Callable[[A_co], Program[B]]) -> Program[B]:
        """Continue with the program that ``continuation`` builds from the result.

        >>> from playbill.interpreters import stub
        >>> stub.run(pure(2).flat_map(lambda x: pure(x * 10)))
        20
        """
        return FlatMap(self, continuation)

    def then(self, next_program: Program[B]) -> Program[B]:
        """Run this program, discard its result, then run ``next_program`` (also ``>>``).

        >>> from playbill.interpreters import stub
        >>> stub.run(pure(1) >> pure(2))
        2
        """
        return FlatMap(self, _Constant(as_program(next_program, "then(...)")))

    def __rshift__(self, next_program: Program[B]) -> Program[B]:
        return self.then(next_program)

    def zip(self, other: Program[B]) -> Program[tuple[A_co, B]]:
        """Run both programs concurrently; the result is the pair of their results.

        >>> from playbill.interpreters import stub
        >>> stub.run(pure(1).zip(pure("a")))
        (1, 'a')
        """
        from playbill.effects._concurrency import gather

        return gather(self, other)

    def recover(
        self, handler: Callable[[Exception], B], *, catching: ErrorTypes = Exception
    ) -> Program[A_co | B]:
        """On failure with one of ``catching``, continue with the plain value ``handler(error)``.

        `Cancelled` is not an ``Exception`` and is never recovered by default.

        >>> from playbill.interpreters import stub
        >>> stub.run(fail(KeyError("k")).recover(lambda error: "default"))
        'default'
        """
        return Catch(self, _Recovered(handler), _check_error_types(catching))

    def recover_with(
        self, handler: Callable[[Exception], Program[B]], *, catching: ErrorTypes = Exception
    ) -> Program[A_co | B]:
        """On failure with one of ``catching``, continue with the program ``handler(error)``.

        >>> from playbill.interpreters import stub
        >>> stub.run(fail(KeyError("k")).recover_with(lambda error: pure(len(str(error)))))
        3
        """
        return Catch(self, handler, _check_error_types(catching))

    def attempt(self) -> Program[Result[A_co, Exception]]:
        """Turn the outcome into a ``returns`` `Result`: this program never fails (short of
        `Cancelled`).

        >>> from playbill.interpreters import stub
        >>> stub.run(fail(ValueError("no")).attempt())
        <Failure: no>
        >>> stub.run(pure(1).attempt())
        <Success: 1>
        """
        return Catch(Map(self, Success), _attempt_failure, (Exception,))

    def ensuring(self, finalizer: Program[object]) -> Program[A_co]:
        """Run ``finalizer`` after this program, whether it succeeds, fails or is cancelled.

        A failure of the finaliser replaces the program's own outcome, as in ``finally``.

        >>> from playbill.interpreters import stub
        >>> seen = []
        >>> cleanup = pure(None).map(lambda _: seen.append("cleaned"))
        >>> stub.run(fail(ValueError("boom")).ensuring(cleanup).attempt())
        <Failure: boom>
        >>> seen
        ['cleaned']
        """
        return Ensuring(self, as_program(finalizer, "ensuring(...)"))

    def timeout(self, seconds: float) -> Program[A_co]:
        """Fail with `TimedOut` (and cancel this program) if it runs longer than ``seconds``.

        >>> from playbill import sleep
        >>> from playbill.interpreters import stub
        >>> stub.run(sleep(10).then(pure("late")).timeout(1).recover(lambda e: type(e).__name__))
        'TimedOut'
        """
        from playbill.effects._concurrency import timeout

        return timeout(self, seconds)

    def fork(self) -> Program[Fiber[A_co]]:
        """Start this program as a concurrent fiber; the result is its handle (see `join`)."""
        from playbill.effects._concurrency import fork

        return fork(self)

    def pretty(self, *, max_nodes: int = 200) -> str:
        """A tree of the program's structure, drawn without running it.

        >>> from playbill import gather, pure
        >>> print(gather(pure(1), pure(2)).map(sum).pretty())
        map(sum)
        └── gather
            ├── pure(1)
            └── pure(2)
        """
        from playbill.effects._pretty import tree

        return tree(self, max_nodes=max_nodes)

    def __repr__(self) -> str:
        from playbill.effects._pretty import one_line

        return one_line(self)


# The three nodes built on every bind get a hand-written ``__init__`` that stores through the
# slot descriptors: a third faster than attrs' frozen ``__init__``, and the bind loop is mostly
# node construction. attrs still provides the frozen ``__setattr__``; eq and hash are
# `Program`'s (``eq=False`` keeps attrs from generating recursive ones).
@final
@frozen(repr=False, init=False, eq=False)
class Pure(Program[A_co]):
    """A program that produces ``value`` at once."""

    # the attrs plugin checks its generated ``__attrs_init__`` as if it were a method
    value: A_co  # type: ignore[misc]

    def __init__(self, value: A_co) -> None:
        _set_pure_value(self, value)


@final
@frozen(repr=False, eq=False)
class Fail(Program[Never]):
    """A program that fails with ``error``. A ``reusable`` failure (one built by `fail`) has
    its traceback reset on every run, so that running it again does not grow it."""

    error: BaseException
    reusable: bool = False


class _SuspendSlots:
    """The slot of a `Suspend`, in a plain class: a hot path (an agent's chunk) builds one of
    these with a plain store, then makes it the `Suspend` it is by assigning its class (the
    two share one layout): a third of the cost of a slot descriptor's setter."""

    effect: Effect[Any]

    __slots__ = ("__weakref__", "effect")


@final
@frozen(repr=False, init=False, eq=False)
class Suspend(_SuspendSlots, Program[A_co]):
    """A program that performs one effect; its result is the effect's result."""

    effect: Effect[A_co]

    def __init__(self, effect: Effect[A_co]) -> None:
        _set_suspend_effect(self, effect)


@final
@frozen(repr=False, init=False, eq=False)
class FlatMap(Program[B], Generic[A, B]):
    """Run ``source``, then the program ``continuation`` builds from its result."""

    source: Program[A]
    continuation: Callable[[A], Program[B]]

    def __init__(self, source: Program[A], continuation: Callable[[A], Program[B]]) -> None:
        _set_flat_map_source(self, source)
        _set_flat_map_continuation(self, continuation)


@final
@frozen(repr=False, init=False, eq=False)
class Map(Program[B], Generic[A, B]):
    """Run ``source``, then apply the plain ``function`` to its result."""

    source: Program[A]
    function: Callable[[A], B]

    def __init__(self, source: Program[A], function: Callable[[A], B]) -> None:
        _set_map_source(self, source)
        _set_map_function(self, function)


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    """The setter of a slot of a frozen class, for hand-written fast ``__init__``s."""
    setter: Callable[[object, object], None] = cls.__dict__[name].__set__
    return setter


_set_pure_value = _slot_setter(Pure, "value")
_set_suspend_effect = _slot_setter(Suspend, "effect")
_set_flat_map_source = _slot_setter(FlatMap, "source")
_set_flat_map_continuation = _slot_setter(FlatMap, "continuation")
_set_map_source = _slot_setter(Map, "source")
_set_map_function = _slot_setter(Map, "function")


@final
@frozen(repr=False, init=False, eq=False)
class Catch(Program[A_co]):
    """Run ``source``; if it fails with one of ``catching``, continue with ``handler(error)``."""

    source: Program[A_co]
    handler: Callable[[Exception], Program[Any]]
    catching: tuple[type[BaseException], ...] = (Exception,)

    def __init__(  # by hand: one per recover
        self,
        source: Program[A_co],
        handler: Callable[[Exception], Program[Any]],
        catching: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        _set_catch_source(self, source)
        _set_catch_handler(self, handler)
        _set_catch_catching(self, catching)


@final
@frozen(repr=False, eq=False)
class Ensuring(Program[A_co]):
    """Run ``source``, then ``finalizer`` on every outcome; the outcome of ``source`` stands
    unless the finaliser fails."""

    source: Program[A_co]
    finalizer: Program[object]


@final
@frozen(repr=False, init=False, eq=False)
class Generate(Program[A_co]):
    """The body of an ``@program`` generator function, called anew on every run."""

    function: Callable[..., Generator[Any, Any, A_co]]
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = field(default=())

    def __init__(  # by hand: one per call of an @program function
        self,
        function: Callable[..., Generator[Any, Any, A_co]],
        args: tuple[Any, ...] = (),
        kwargs: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        _set_generate_function(self, function)
        _set_generate_args(self, args)
        _set_generate_kwargs(self, kwargs)


class _InterceptSlots:
    """The slots of an `Intercept`, in a plain class, as `_SuspendSlots` (one per agent task:
    `intercept_ending` builds it with plain stores)."""

    source: Program[Any]
    transform: Callable[[Effect[Any]], Effect[Any]]
    on_value: Callable[[Any], Any] | None
    on_error: Callable[[BaseException], Program[Any]] | None

    __slots__ = ("__weakref__", "on_error", "on_value", "source", "transform")


@final
@frozen(repr=False, init=False, eq=False)
class Intercept(_InterceptSlots, Program[A_co]):
    """Run ``source`` with each effect it performs first passed through ``transform``,
    which returns the effect to perform instead (or the same one).

    It reaches every effect ``source`` performs in its own run — nested programs, ``@program``
    generators it yields, a handler's program run in place — but not the members of a
    concurrent effect (``gather``, ``race``, ``timeout``, ``fork``), which run on their own:
    a transform that should reach them wraps them in an `Intercept` of their own. It is how
    the agent layer links the tasks an agent sends to the one it runs, at the cost of one call
    per effect.

    The scope can also see how ``source`` ends, as a fold: with ``on_value``, the program's
    value is ``on_value(value)`` (a plain function, as a `Map`'s); with ``on_error``, a
    failure of ``source`` — any exception, cancellation included — goes on as the program
    ``on_error(error)`` returns (which may fail again). Both run outside the scope (their
    effects are not transformed), and what ``on_value`` raises fails the program without
    reaching ``on_error``. One frame does what a `Catch` around a `Map` around an `Intercept`
    would do: the agent layer ends each task's program that way.

    >>> from playbill import now
    >>> from playbill.effects import Now, Random
    >>> from playbill.interpreters import stub
    >>> as_random = lambda effect: Random() if type(effect) is Now else effect
    >>> 0.0 <= stub.run(Intercept(now(), as_random)) < 1.0
    True
    >>> stub.run(Intercept(now(), as_random, on_value=lambda draw: draw < 1.0))
    True
    >>> from playbill import fail, pure
    >>> stub.run(Intercept(fail(KeyError("k")), as_random, on_error=lambda e: pure(repr(e))))
    "KeyError('k')"
    """

    source: Program[A_co]
    transform: Callable[[Effect[Any]], Effect[Any]]
    on_value: Callable[[Any], Any] | None = None
    on_error: Callable[[BaseException], Program[Any]] | None = None

    @overload
    def __init__(
        self,
        source: Program[A_co],
        transform: Callable[[Effect[Any]], Effect[Any]],
        on_value: None = None,
        on_error: Callable[[BaseException], Program[A_co]] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Intercept[B],
        source: Program[A],
        transform: Callable[[Effect[Any]], Effect[Any]],
        on_value: Callable[[A], B],
        on_error: Callable[[BaseException], Program[B]] | None = None,
    ) -> None: ...

    def __init__(  # by hand: one per agent task
        self,
        source: Program[Any],
        transform: Callable[[Effect[Any]], Effect[Any]],
        on_value: Callable[[Any], Any] | None = None,
        on_error: Callable[[BaseException], Program[Any]] | None = None,
    ) -> None:
        _set_intercept_source(self, source)
        _set_intercept_transform(self, transform)
        _set_intercept_on_value(self, on_value)
        _set_intercept_on_error(self, on_error)


def intercept_ending(
    source: Program[A],
    transform: Callable[[Effect[Any]], Effect[Any]],
    on_value: Callable[[A], B],
    on_error: Callable[[BaseException], Program[B]],
) -> Program[B]:
    """``Intercept(source, transform, on_value, on_error)``, built with plain stores (less
    than half the cost of the class call): for a hot path, the agent layer's one per task."""
    node = _InterceptSlots()
    node.source = source
    node.transform = transform
    node.on_value = on_value
    node.on_error = on_error
    node.__class__ = Intercept
    return node  # type: ignore[return-value]  # (an Intercept now)


_set_catch_source = _slot_setter(Catch, "source")
_set_catch_handler = _slot_setter(Catch, "handler")
_set_catch_catching = _slot_setter(Catch, "catching")
_set_generate_function = _slot_setter(Generate, "function")
_set_generate_args = _slot_setter(Generate, "args")
_set_generate_kwargs = _slot_setter(Generate, "kwargs")
_set_intercept_source = _slot_setter(Intercept, "source")
_set_intercept_transform = _slot_setter(Intercept, "transform")
_set_intercept_on_value = _slot_setter(Intercept, "on_value")
_set_intercept_on_error = _slot_setter(Intercept, "on_error")


def pure(value: A) -> Program[A]:
    """A program that produces ``value`` and performs nothing.

    >>> from playbill.interpreters import stub
    >>> stub.run(pure(3))
    3
    """
    return Pure(value)


def fail(error: BaseException) -> Program[Never]:
    """A program that fails with ``error`` (an exception instance).

    >>> from playbill.interpreters import stub
    >>> stub.run(fail(ValueError("bad")).recover(str))
    'bad'
    """
    if not isinstance(error, BaseException):
        raise ProgramError(
            f"fail() takes an exception instance, got {error!r} ({type(error).__name__}); "
            "write fail(ValueError('...')) rather than fail('...')"
        )
    return Fail(error, reusable=True)


def perform(effect: Effect[A]) -> Program[A]:
    """Lift an effect value into a program that performs it.

    >>> from playbill import now
    >>> from playbill.effects import Now
    >>> perform(Now()) == now()
    True
    """
    if not isinstance(effect, Effect):
        raise ProgramError(
            f"perform() takes an Effect, got {effect!r} ({type(effect).__name__}); "
            "define effects as frozen classes deriving from playbill.Effect"
        )
    return Suspend(effect)


@overload
def as_program(value: Program[A], where: str) -> Program[A]: ...
@overload
def as_program(value: Effect[A], where: str) -> Program[A]: ...
def as_program(value: object, where: str) -> Program[Any]:
    """``value`` if it is a program, ``perform(value)`` if it is an effect; otherwise a
    `ProgramError` that names ``where`` the value came from."""
    if isinstance(value, Program):
        return value
    if isinstance(value, Effect):
        return Suspend(value)
    raise _not_a_program(where, value)


def _not_a_program(where: str, value: object) -> ProgramError:
    return ProgramError(
        f"{where} expected a Program or an Effect, got {value!r} ({type(value).__name__}); "
        "wrap a plain value with pure(...), or use .map(...) for a function that returns one"
    )


def _check_error_types(catching: ErrorTypes) -> tuple[type[BaseException], ...]:
    types = catching if isinstance(catching, tuple) else (catching,)
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise InvalidArgument(
                f"catching= takes exception classes, got {kind!r}; "
                "pass a class such as KeyError or a tuple of them"
            )
    return types


@final
@frozen
class _Constant(Generic[A]):
    """A continuation that ignores its argument and returns a fixed program (for `then`)."""

    program: Program[A]

    def __call__(self, _ignored: object) -> Program[A]:
        return self.program


@final
@frozen
class _Recovered(Generic[B]):
    """A failure handler that lifts a plain function's value (for `recover`)."""

    function: Callable[[Exception], B]

    def __call__(self, error: Exception) -> Program[B]:
        return Pure(self.function(error))


walk_family(Program)
walk_class(_Constant, _Recovered)


def _attempt_failure(error: Exception) -> Program[Result[Any, Exception]]:
    return Pure(Failure(error))


def sequence(programs: Iterable[Program[A]]) -> Program[tuple[A, ...]]:
    """Run programs one after another; the result is the tuple of their results.

    >>> from playbill.interpreters import stub
    >>> stub.run(sequence([pure(1), pure(2), pure(3)]))
    (1, 2, 3)
    """
    members = tuple(
        as_program(member, f"sequence(...) item {index}") for index, member in enumerate(programs)
    )
    return Generate(_sequence_body, (members,))


def traverse(items: Iterable[B], function: Callable[[B], Program[A]]) -> Program[tuple[A, ...]]:
    """Build a program from each item with ``function`` and run them one after another.

    >>> from playbill.interpreters import stub
    >>> stub.run(traverse([1, 2, 3], lambda x: pure(x * x)))
    (1, 4, 9)
    """
    return Generate(_traverse_body, (tuple(items), function))


def _sequence_body(programs: tuple[Program[A], ...]) -> Generator[Program[A], A, tuple[A, ...]]:
    results = []
    for member in programs:
        results.append((yield member))
    return tuple(results)


def _traverse_body(
    items: tuple[B, ...], function: Callable[[B], Program[A]]
) -> Generator[Program[A], A, tuple[A, ...]]:
    results = []
    for item in items:
        results.append((yield as_program(function(item), "traverse(...) function")))
    return tuple(results)
