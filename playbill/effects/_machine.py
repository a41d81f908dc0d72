"""The stepper every interpreter drives: pure steps on an explicit continuation stack.

`Machine(program).start()` runs every pure step (pure, map, flat_map, recover, ensuring, the
generator steps of ``@program``) until the program finishes (`Done`), fails (`Failed`), or
needs an effect performed (`Next`). The interpreter performs the effect however it likes and
continues the machine with `Machine.resume` (the result), `Machine.throw` (a failure, raised
into the program at the effect) or `Machine.resume_with` (a program to run in place, which is
how a handler that returns a `Program` composes).

The loop never recurses: continuations live on a list, so a chain of a million binds, left- or
right-nested, runs in constant Python stack. It does no I/O and knows no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from types import GeneratorType
from typing import Any, Generic, TypeVar, final

from attrs import frozen

from playbill.effects._errors import ProgramError
from playbill.effects._program import (
    Catch,
    Effect,
    Ensuring,
    Fail,
    FlatMap,
    Generate,
    Intercept,
    Map,
    Program,
    Pure,
    Suspend,
    _slot_setter,
)

__all__ = ["Done", "Failed", "Machine", "Next", "Step"]

A = TypeVar("A")

_START = Pure(None)
_PURE_NONE: Pure[None] = Pure(None)


@final
@frozen(init=False)
class Done(Generic[A]):
    """The program finished with ``value``."""

    value: A

    def __init__(self, value: A) -> None:
        _set_done_value(self, value)


@final
@frozen
class Failed:
    """The program failed with ``error``."""

    error: BaseException


@final
@frozen(init=False)
class Next:
    """The program waits for ``effect`` to be performed; continue it through ``machine``."""

    effect: Effect[Any]
    machine: Machine

    def __init__(self, effect: Effect[Any], machine: Machine) -> None:
        _set_next_effect(self, effect)
        _set_next_machine(self, machine)

    def resume(self, value: object) -> Step:
        """Continue with the effect's result."""
        return self.machine._resume_from(self, Pure(value))

    def throw(self, error: BaseException) -> Step:
        """Continue with the effect's failure, raised into the program at the effect."""
        return self.machine._resume_from(self, Fail(error))


Step = Done[Any] | Failed | Next

# Steps are built once per effect: fast ``__init__``s, as for the hot Program nodes.
_set_done_value = _slot_setter(Done, "value")
_set_next_effect = _slot_setter(Next, "effect")
_set_next_machine = _slot_setter(Next, "machine")
_new = object.__new__


@final
class Machine:
    """One run of one program: its continuation stack and where it stands.

    >>> from playbill import now, pure
    >>> machine = Machine(now().map(lambda t: t + 1))
    >>> step = machine.start()
    >>> step.effect
    Now()
    >>> machine.resume(41.0)
    Done(value=42.0)
    """

    __slots__ = (
        "_in_step",
        "_in_step_kind",
        "_program",
        "_read",
        "_read_kind",
        "_stack",
        "_transforms",
        "_waiting",
    )

    def __init__(self, program: Program[Any]) -> None:
        if not isinstance(program, Program):
            raise ProgramError(
                f"an interpreter was given {program!r} ({type(program).__name__}), not a "
                "Program; build one with pure(...), perform(...) or an @program function"
            )
        self._program: Program[Any] | None = program
        self._stack: list[Any] = []
        self._waiting: Next | None = None
        # the transforms of the `Intercept` frames on the stack, innermost last (None: none
        # yet, so a machine that never meets one pays nothing for it)
        self._transforms: list[Callable[[Effect[Any]], Effect[Any]]] | None = None
        # the one kind of effect the interpreter performs inside the step (`perform_in_step`)
        self._in_step_kind: type | None = None
        self._in_step: Callable[[Any], Effect[Any] | None] | None = None
        # the one kind of effect whose result the interpreter gives inside the step
        # (`read_in_step`)
        self._read_kind: type | None = None
        self._read: Callable[[Any], object] | None = None

    def perform_in_step(
        self, kind: type[Effect[Any]], perform: Callable[[Any], Effect[Any] | None]
    ) -> None:
        """Have the interpreter perform each effect of ``kind`` whose result is None (an
        event published, say) inside the step, where a generator of ``@program`` yields it:
        ``perform(effect)`` performs it and returns None, and the generator goes on at once
        with None, with no `Next` made, returned and resumed (one round trip per event
        saved). When the program must wait before it goes on (a buffer that pushes back),
        ``perform`` returns the effect to wait on instead, which the step returns as its
        `Next`; its result is the program's. What ``perform`` raises is raised into the
        program at the effect. Effects of ``kind`` reached otherwise (a bare `Suspend`, a
        ``flat_map``'s result, a yield while an error is raised into the generator) come out
        as `Next` as any other.

        >>> from playbill import emit_stamped, program
        >>> from playbill.effects import EmitStamped
        >>> @program
        ... def publish():
        ...     yield emit_stamped(lambda time: ("one", time))
        ...     yield emit_stamped(lambda time: ("two", time))
        ...     return "done"
        >>> published = []
        >>> machine = Machine(publish())
        >>> machine.perform_in_step(EmitStamped, lambda effect: published.append(effect.make(0.0)))
        >>> machine.start(), published
        (Done(value='done'), [('one', 0.0), ('two', 0.0)])
        """
        self._in_step_kind = kind
        self._in_step = perform

    def read_in_step(self, kind: type[Effect[Any]], read: Callable[[Any], object]) -> None:
        """Have the interpreter answer each effect of ``kind`` inside the step, where a
        generator of ``@program`` yields it: the generator goes on at once with
        ``read(effect)`` (the virtual clock's time for a `Now`, say), with no `Next` made,
        returned and resumed. What ``read`` raises is raised into the program at the effect.
        Effects of ``kind`` reached otherwise (a bare `Suspend`, a ``flat_map``'s result, a
        yield while an error is raised into the generator) come out as `Next` as any other.

        >>> from playbill import now, program
        >>> from playbill.effects import Now
        >>> @program
        ... def twice():
        ...     first = yield now()
        ...     second = yield now()
        ...     return first + second
        >>> machine = Machine(twice())
        >>> machine.read_in_step(Now, lambda effect: 20.0)
        >>> machine.start()
        Done(value=40.0)
        """
        self._read_kind = kind
        self._read = read

    def start(self) -> Step:
        """Run until the first effect, or to the end."""
        program = self._program
        if program is None:
            raise ProgramError("this Machine was already started; make a new one per run")
        self._program = None
        return self._run(program)

    def resume(self, value: object) -> Step:
        """Continue with the result of the effect the program waits for."""
        if self._waiting is None:
            raise _not_waiting()
        self._waiting = None
        # (None, an event's or a tell's result, is the most common: its Pure is made once)
        return self._run(_PURE_NONE if value is None else Pure(value))

    def throw(self, error: BaseException) -> Step:
        """Continue by raising ``error`` into the program where it waits."""
        return self.resume_with(Fail(error))

    def resume_with(self, program: Program[Any]) -> Step:
        """Continue by running ``program`` in place of the awaited effect."""
        if self._waiting is None:
            raise _not_waiting()
        self._waiting = None
        return self._run(program)

    def _resume_from(self, waiting: Next, program: Program[Any]) -> Step:
        if self._waiting is not waiting:
            raise ProgramError(
                f"this Next ({waiting.effect!r}) was already resumed; resume it exactly once, "
                "and continue from the Next the machine returned last"
            )
        self._waiting = None
        return self._run(program)

    # -- for an interpreter that performs a known continuation natively -------------------

    def pop_continuation(self, kind: type) -> Any:
        """While the program waits on an effect: the continuation of the `FlatMap` that
        waits for that effect's result, removed from the stack, when it is a ``kind``
        (the interpreter performs what it stands for itself, then resumes with the outcome);
        else None, with nothing changed."""
        stack = self._stack
        if self._waiting is None or not stack:
            return None
        frame = stack[-1]
        if type(frame) is not FlatMap or type(frame.continuation) is not kind:
            return None
        stack.pop()
        return frame.continuation

    def intercept(self, effect: Effect[Any]) -> Effect[Any]:
        r"""``effect`` as the program's `Intercept`\ s would hand it to the interpreter had
        the program yielded it where it waits now (each transform called once)."""
        if self._transforms:
            return self._intercepted(effect)
        return effect

    def wait_within(self, frames: tuple[Program[Any], ...], effect: Effect[Any]) -> Next:
        """Wait on ``effect`` (intercepted already) inside ``frames`` — `Map`, `FlatMap` or
        `Ensuring` nodes, outermost first, whose sources are ignored — in place of the effect
        the program waits on now: as if the program had been ``frames`` around
        ``Suspend(effect)``."""
        if self._waiting is None:
            raise _not_waiting()
        self._stack.extend(frames)
        waiting = self._waiting = _new(Next)
        _set_next_effect(waiting, effect)
        _set_next_machine(waiting, self)
        return waiting

    @property
    def depth(self) -> int:
        """How many continuations wait on the stack (for tests and diagnostics)."""
        return len(self._stack)

    def _run(self, current: Any) -> Step:
        stack = self._stack
        origin: Any = None
        while True:
            try:
                while True:
                    kind = type(current)
                    if kind is FlatMap or kind is Map:
                        stack.append(current)
                        current = current.source
                    elif kind is Pure:
                        value = current.value
                        while stack:
                            frame = stack.pop()
                            frame_kind = type(frame)
                            if frame_kind is FlatMap:
                                origin = frame
                                current = frame.continuation(value)
                                break
                            if frame_kind is Map:
                                value = frame.function(value)
                            elif frame_kind is GeneratorType:
                                try:
                                    yielded = frame.send(value)
                                    # a yielded pure value goes straight back in
                                    while type(yielded) is Pure:
                                        yielded = frame.send(yielded.value)
                                except StopIteration as stop:
                                    value = stop.value
                                    if isinstance(value, Program):
                                        raise _returned_a_program(frame, value) from None
                                    continue
                                stack.append(frame)
                                if type(yielded) is Suspend:  # the common yield: an effect
                                    effect = yielded.effect
                                elif isinstance(yielded, Effect):  # an effect value itself
                                    effect = yielded
                                else:
                                    current = _lift(yielded, frame)
                                    break
                                transforms = self._transforms
                                if transforms:  # (one intercept, the usual: no loop)
                                    if len(transforms) == 1:
                                        effect = transforms[0](effect)
                                    else:
                                        effect = self._intercepted(effect)
                                if type(effect) is self._in_step_kind:
                                    instead = self._in_step(effect)  # type: ignore[misc]
                                    if instead is None:  # performed: the generator goes on
                                        value = None
                                        continue
                                    effect = instead
                                elif type(effect) is self._read_kind:
                                    value = self._read(effect)  # type: ignore[misc]
                                    continue  # answered: the generator goes on
                                # (built slot by slot: a class call costs as much again)
                                waiting = self._waiting = _new(Next)
                                _set_next_effect(waiting, effect)
                                _set_next_machine(waiting, self)
                                return waiting
                            elif frame_kind is Ensuring:
                                current = FlatMap(frame.finalizer, _Restore(Pure(value)))
                                break
                            elif frame_kind is Intercept:
                                self._transforms.pop()  # type: ignore[union-attr]
                                if frame.on_value is not None:  # (what it raises fails here)
                                    value = frame.on_value(value)
                            # a Catch frame on the success path is passed over
                        else:
                            return Done(value)
                    elif kind is Suspend:
                        effect = current.effect
                        transforms = self._transforms
                        if transforms:  # (one, an agent's link, is called directly)
                            if len(transforms) == 1:
                                effect = transforms[0](effect)
                            else:
                                effect = self._intercepted(effect)
                        waiting = self._waiting = _new(Next)
                        _set_next_effect(waiting, effect)
                        _set_next_machine(waiting, self)
                        return waiting
                    elif kind is Generate:
                        generator = current.function(*current.args, **dict(current.kwargs))
                        if type(generator) is not GeneratorType:
                            raise _not_a_generator(current.function, generator)
                        stack.append(generator)
                        current = _START
                    elif kind is Fail:
                        error = current.error
                        if current.reusable:
                            # a fail(e) value may run many times: start each run afresh
                            error.__traceback__ = None
                        while stack:
                            frame = stack.pop()
                            frame_kind = type(frame)
                            if frame_kind is Catch:
                                if isinstance(error, frame.catching):
                                    origin = frame
                                    current = frame.handler(error)
                                    break
                            elif frame_kind is GeneratorType:
                                try:
                                    yielded = frame.throw(error)
                                except StopIteration as stop:
                                    if isinstance(stop.value, Program):
                                        error = _returned_a_program(frame, stop.value)
                                        continue
                                    current = Pure(stop.value)
                                    break
                                except BaseException as raised:
                                    error = raised
                                    continue
                                stack.append(frame)
                                current = _lift(yielded, frame)
                                break
                            elif frame_kind is Ensuring:
                                finalizer = Catch(frame.finalizer, _Chain(error), _EVERYTHING)
                                current = FlatMap(finalizer, _Restore(Fail(error)))
                                break
                            elif frame_kind is Intercept:
                                self._transforms.pop()  # type: ignore[union-attr]
                                if frame.on_error is not None:  # (any failure, as a fold)
                                    origin = frame
                                    current = frame.on_error(error)
                                    break
                            # FlatMap and Map frames on the failure path are passed over
                        else:
                            return Failed(error)
                    elif kind is Catch or kind is Ensuring:
                        stack.append(current)
                        current = current.source
                    elif kind is Intercept:
                        stack.append(current)
                        transforms = self._transforms
                        if transforms is None:
                            transforms = self._transforms = []
                        transforms.append(current.transform)
                        current = current.source
                    elif isinstance(current, Effect):
                        current = Suspend(current)  # an effect stands for perform(effect)
                    else:
                        raise _bad_program(current, origin)
            except (KeyboardInterrupt, SystemExit):
                raise  # the process is asked to end: not a failure of this program
            except BaseException as error:  # user code raised: fail at that point
                current = Fail(error)

    def _intercepted(self, effect: Effect[Any]) -> Effect[Any]:
        # the innermost intercept sees the effect first, as a handler nearest the effect would
        transforms: list[Callable[[Effect[Any]], Effect[Any]]] = self._transforms  # type: ignore[assignment]
        if len(transforms) == 1:  # (the common case: one, an agent's link)
            return transforms[0](effect)
        for transform in reversed(transforms):
            effect = transform(effect)
        return effect


_EVERYTHING = (BaseException,)


@final
@frozen
class _Chain:
    """A finaliser that fails while another failure unwinds: chain the two, as ``finally``."""

    unwinding: BaseException

    def __call__(self, error: BaseException) -> Program[Any]:
        if error is not self.unwinding and error.__context__ is None:
            error.__context__ = self.unwinding
        return Fail(error)


@final
@frozen(init=False)
class _Restore:
    """After a finaliser: restore the outcome it was run for."""

    outcome: Program[Any]

    def __init__(self, outcome: Program[Any]) -> None:  # by hand: one per finaliser run
        _set_restore_outcome(self, outcome)

    def __call__(self, _finalizer_result: object) -> Program[Any]:
        return self.outcome


_set_restore_outcome = _slot_setter(_Restore, "outcome")


def _lift(yielded: object, generator: Any) -> Program[Any]:
    if isinstance(yielded, Program):
        return yielded
    if isinstance(yielded, Effect):
        return Suspend(yielded)
    hint = "yield a Program or an Effect, and use `return` to produce the result"
    if type(yielded) is GeneratorType:
        hint = "decorate the generator function it came from with @program, then yield its call"
    # Raised into the generator at its ``yield``, so the traceback points at the culprit.
    return Fail(
        ProgramError(
            f"@program {generator.__qualname__} yielded {yielded!r} "
            f"({type(yielded).__name__}); {hint}"
        )
    )


def _returned_a_program(generator: Any, value: Program[Any]) -> ProgramError:
    return ProgramError(
        f"@program {generator.__qualname__} returned the program {value!r} instead of a value; "
        "write `return (yield program)` to run it and return its result"
    )


def _not_waiting() -> ProgramError:
    return ProgramError(
        "this Machine is not waiting for an effect: resume it exactly once per Next"
    )


def _not_a_generator(function: object, value: object) -> ProgramError:
    return ProgramError(
        f"{_describe(function)} was run as an @program body but returned {value!r} "
        f"({type(value).__name__}), not a generator; an @program function must use yield"
    )


def _describe(function: object) -> str:
    code = getattr(function, "__code__", None)
    name = getattr(function, "__qualname__", None) or repr(function)
    if code is not None:
        return f"{name} ({code.co_filename}:{code.co_firstlineno})"
    return name


def _bad_program(value: object, origin: object) -> ProgramError:
    if isinstance(origin, FlatMap):
        where = f"the flat_map continuation {_describe(origin.continuation)}"
    elif isinstance(origin, Catch):
        where = f"the recover_with handler {_describe(origin.handler)}"
    elif isinstance(origin, Intercept):
        where = f"the intercept's on_error {_describe(origin.on_error)}"
    else:
        where = "the program"
    return ProgramError(
        f"{where} returned {value!r} ({type(value).__name__}), not a Program; "
        "wrap a plain value with pure(...), or use .map(...) / .recover(...) for a function "
        "that returns a plain value"
    )
