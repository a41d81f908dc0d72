"""`Flow[I, O]`: a workflow as an immutable tree of frozen nodes.

Leaves do one thing with the input (`step`, `actor`, `call`, `pure`, `identity`); combinators
put flows together. Building a flow performs nothing: `Flow.to_program` compiles it to a
`Program`, which any interpreter runs.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, final, overload

from attrs import field, frozen

from playbill.actors import Backoff
from playbill.effects import ActorRef, InvalidArgument, Program
from playbill.effects._checks import check_callable, check_path
from playbill.effects._structure import Structural, repr_by_fields, walk_family

if TYPE_CHECKING:
    from playbill.flow._registry import Registry

__all__ = [
    "AndThen",
    "AtLeast",
    "Branch",
    "BranchOn",
    "Call",
    "Continue",
    "Diverted",
    "Done",
    "FallbackTo",
    "Filter",
    "FlatMapped",
    "Flow",
    "Identity",
    "Loop",
    "LoopWithState",
    "Mapped",
    "Pure",
    "QuorumResult",
    "Race",
    "Recover",
    "RecoverWith",
    "Retry",
    "Spawned",
    "Step",
    "Tap",
    "Then",
    "Timeout",
    "Zip",
    "ZipAll",
    "actor",
    "and_then",
    "at_least",
    "branch",
    "branch_on",
    "call",
    "identity",
    "loop",
    "loop_with_state",
    "pure",
    "race",
    "step",
    "zip_all",
]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
P = TypeVar("P")
I_contra = TypeVar("I_contra", contravariant=True)
O_co = TypeVar("O_co", covariant=True)

OnLimit = Literal["fail", "last"]


class Flow(Structural, Generic[I_contra, O_co]):
    """A workflow from an ``I`` to an ``O``, as a value.

    >>> from playbill.flow import step
    >>> from playbill.interpreters import stub
    >>> double_then_show = step(lambda x: x * 2) >> step(str)
    >>> stub.run(double_then_show.to_program(21, events=False))
    '42'
    """

    __slots__ = ()
    kind: ClassVar[str]

    # attrs' repr text, walked on an explicit stack (a flow nested a hundred thousand deep
    # prints); equality and hashing come from Structural
    __repr__ = repr_by_fields

    # -- composition --------------------------------------------------------------------------

    def then(self, next_flow: Flow[O_co, P]) -> Flow[I_contra, P]:
        """Run this flow, then ``next_flow`` on its output (also ``>>``). Chains stay flat, so
        ten thousand ``>>`` compile and run without deep recursion.

        >>> from playbill.flow import step
        >>> (step(len) >> step(lambda n: n + 1)).kind
        'then'
        """
        _check_flow("then(...)", next_flow)
        first: tuple[Flow[Any, Any], ...] = self.steps if isinstance(self, Then) else (self,)
        second: tuple[Flow[Any, Any], ...] = (
            next_flow.steps if isinstance(next_flow, Then) else (next_flow,)
        )
        return _trusted_then(first + second)

    def __rshift__(self, next_flow: Flow[O_co, P]) -> Flow[I_contra, P]:
        return self.then(next_flow)

    def map(self, function: Callable[[O_co], P]) -> Flow[I_contra, P]:
        """Apply a plain function to the output."""
        return Mapped(self, check_callable("map(...)", function))

    def flat_map(self, function: Callable[[O_co], Flow[O_co, P]]) -> Flow[I_contra, P]:
        """Choose the next flow from the output: ``function(output)`` returns a flow, which
        runs with that output as its input."""
        return FlatMapped(self, check_callable("flat_map(...)", function))

    def zip(self, other: Flow[I_contra, P]) -> Flow[I_contra, tuple[O_co, P]]:
        """Run both flows on the same input, concurrently; the output is the pair. A failure of
        either cancels the other and fails the whole."""
        return Zip(self, _check_flow("zip(...)", other))

    def recover(self, function: Callable[[Exception], P]) -> Flow[I_contra, O_co | P]:
        """On failure, the output is ``function(error)`` (a value, or a Program to run)."""
        return Recover(self, check_callable("recover(...)", function))

    def recover_with(self, function: Callable[[Exception], Flow[Any, Any]]) -> Flow[I_contra, Any]:
        """On failure, ``function(error)`` gives a flow to run on the original input."""
        return RecoverWith(self, check_callable("recover_with(...)", function))

    def fallback_to(self, fallback: Flow[I_contra, P]) -> Flow[I_contra, O_co | P]:
        """On failure, run ``fallback`` on the original input instead."""
        return FallbackTo(self, _check_flow("fallback_to(...)", fallback))

    def divert_to(self, side: Flow[O_co, Any]) -> Flow[I_contra, O_co]:
        """Also send the output to ``side``, fire and forget: the output passes on at once,
        the side flow runs in an actor of its own (a child of the running actor), and its
        failure is reported as a `FlowEvent`, never failing this flow. A timeout or a lost race
        around it does not cut it short; by default the program ends once its side flows have
        (see `Flow.to_program`)."""
        return Diverted(self, _check_flow("divert_to(...)", side))

    def filter(self, predicate: Callable[[O_co], bool]) -> Flow[I_contra, O_co]:
        """Pass the output on if ``predicate(output)``; otherwise fail with `FilteredOut`."""
        return Filter(self, check_callable("filter(...)", predicate))

    def tap(self, function: Callable[[O_co], Any]) -> Flow[I_contra, O_co]:
        """Call ``function(output)`` (a Program it returns is run) and pass the output on."""
        return Tap(self, check_callable("tap(...)", function))

    def and_then(self, function: Callable[[Any], Any]) -> Flow[I_contra, O_co]:
        """Call ``function(outcome)`` with the flow's `returns` ``Result``, success or failure,
        then give that outcome unchanged (a failing callback is reported as a `FlowEvent`)."""
        return AndThen(self, check_callable("and_then(...)", function))

    def timeout(self, seconds: float) -> Flow[I_contra, O_co]:
        """Fail with `TimedOut` (and cancel the flow) if it runs longer than ``seconds`` on
        the interpreter's clock."""
        return Timeout(self, seconds)

    def retry(self, attempts: int, backoff: Backoff | None = None) -> Flow[I_contra, O_co]:
        """Run again on failure, up to ``attempts`` runs in all, sleeping ``backoff``'s delay
        (on the interpreter's clock) between runs; the last failure is the flow's."""
        return Retry(self, attempts, backoff if backoff is not None else Backoff(jitter=0.0))

    # -- running and saving ---------------------------------------------------------------------

    def to_program(
        self,
        value: I_contra,
        *,
        events: bool = True,
        span: str = "flow",
        wait_for_side_flows: bool = True,
    ) -> Program[O_co]:
        """The program that runs this flow on ``value``.

        ``events`` emits a `FlowEvent` as each node starts and ends; ``span`` roots the
        events' spans (give each run of a flow in one system its own, to tell their events
        apart). ``wait_for_side_flows``: the program ends once the flows diverted by
        `divert_to` have ended too, so none is cut short when the system shuts down; pass
        ``False`` in a long-lived system to let them finish in the background."""
        from playbill.flow._compile import compile_flow

        return compile_flow(
            self, value, events=events, span=span, wait_for_side_flows=wait_for_side_flows
        )

    def to_dict(self, registry: Registry) -> dict[str, Any]:
        """This flow as a plain document, functions named through ``registry``."""
        from playbill.flow._serialise import to_dict

        return to_dict(self, registry)

    def to_json(self, registry: Registry, *, indent: int | None = 2) -> str:
        """This flow as JSON, functions named through ``registry``."""
        from playbill.flow._serialise import to_json

        return to_json(self, registry, indent=indent)

    def to_yaml(self, registry: Registry) -> str:
        """This flow as YAML, functions named through ``registry``."""
        from playbill.flow._serialise import to_yaml

        return to_yaml(self, registry)

    def to_mermaid(self, registry: Registry | None = None) -> str:
        """This flow drawn as a Mermaid flowchart."""
        from playbill.flow._mermaid import to_mermaid

        return to_mermaid(self, registry)


# -- checks -----------------------------------------------------------------------------------


def _check_flow(where: str, value: object) -> Any:
    if not isinstance(value, Flow):
        raise InvalidArgument(f"{where} takes a Flow, got {type(value).__name__}: {value!r:.80}")
    return value


def _check_flows(where: str, values: tuple[object, ...], *, at_least: int = 1) -> Any:
    if len(values) < at_least:
        raise InvalidArgument(f"{where} needs at least {at_least} flow(s), got {len(values)}")
    for index, value in enumerate(values):
        _check_flow(f"{where} argument {index}", value)
    return tuple(values)


def _check_count(where: str, value: object, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def _is_flow(instance: object, attribute: Any, value: Any) -> None:
    _check_flow(attribute.name, value)


def _is_callable(instance: object, attribute: Any, value: Any) -> None:
    kind = getattr(type(instance), "kind", None)
    check_callable(f"{kind}() {attribute.name}" if kind else attribute.name, value)


def _is_factory(instance: object, attribute: Any, factory: Any) -> None:
    """An `actor` leaf's factory: callable with no arguments (an actor class, or a function
    making one); a function of the input is refused, pointing at `step`."""
    _is_callable(instance, attribute, factory)
    if isinstance(factory, type):
        return  # (a class's __init__ is checked where it is built: agents refuse it up front)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        signature.bind()
    except TypeError:
        name = getattr(factory, "__qualname__", type(factory).__name__)
        raise InvalidArgument(
            f"actor() takes a factory of the actor to spawn, called with no arguments (an "
            f"Actor or agent class, or a function making one), got {name}{signature}, which "
            "needs arguments; for a function of the input use step(function)"
        ) from None


def _flows(value: Iterable[Flow[Any, Any]]) -> tuple[Flow[Any, Any], ...]:
    return tuple(value)


# -- values flows pass around -----------------------------------------------------------------


@final
@frozen
class Continue(Generic[O]):
    """What a `loop` body returns to go round again with ``value``."""

    value: O


@final
@frozen
class Done(Generic[O]):
    """What a `loop` body returns to finish with ``value``."""

    value: O


@final
@frozen
class QuorumResult:
    """What `at_least` gives: the first ``k`` successes (values, and the index of the flow
    each came from) in the order they arrived, and the failures seen before the quorum."""

    succeeded: tuple[Any, ...]
    indices: tuple[int, ...]
    failed: tuple[BaseException, ...]


# -- leaves -----------------------------------------------------------------------------------


@final
@frozen(eq=False, repr=False)
class Step(Flow[Any, Any]):
    """``function(input)``: a plain value, or a Program (or effect) that is then run."""

    kind: ClassVar[str] = "step"
    function: Callable[[Any], Any] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class Pure(Flow[Any, Any]):
    """Always ``value``, whatever the input."""

    kind: ClassVar[str] = "pure"
    value: Any


@final
@frozen(eq=False, repr=False)
class Identity(Flow[Any, Any]):
    """The input, unchanged."""

    kind: ClassVar[str] = "identity"


def _check_seconds(instance: object, attribute: Any, value: Any) -> None:
    if value is None:
        raise InvalidArgument("timeout() needs a number of seconds, got None")
    _check_timeout(instance, attribute, value)


def _check_timeout(instance: object, attribute: Any, value: Any) -> None:
    if value is not None and not (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value > 0
        and value == value  # not NaN (math.isnan would overflow on a huge int)
    ):
        raise InvalidArgument(f"{attribute.name} must be positive seconds or None, got {value!r}")


@final
@frozen(eq=False, repr=False)
class Spawned(Flow[Any, Any]):
    """Spawn an ephemeral child actor from ``factory``, ask it with the input, stop it."""

    kind: ClassVar[str] = "actor"
    factory: Callable[[], Any] = field(validator=_is_factory)
    ask_timeout: float | None = field(default=None, validator=_check_timeout)


@final
@frozen(eq=False, repr=False)
class Call(Flow[Any, Any]):
    """Ask an existing actor (by ref, or by path: ``"worker"`` is a top-level actor of
    whichever system runs the flow) with the input."""

    kind: ClassVar[str] = "call"
    target: ActorRef | str
    ask_timeout: float | None = field(default=None, validator=_check_timeout)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.target, (ActorRef, str)):
            raise InvalidArgument(
                f"call() target must be an ActorRef or an actor path, got {self.target!r} "
                f"({type(self.target).__name__})"
            )
        if isinstance(self.target, str):
            check_path("call() target", self.target, relative=True)


# -- combinators ------------------------------------------------------------------------------


@final
@frozen(eq=False, repr=False)
class Then(Flow[Any, Any]):
    """Each flow of ``steps`` on the output of the one before."""

    kind: ClassVar[str] = "then"
    steps: tuple[Flow[Any, Any], ...] = field(
        converter=_flows,
        validator=lambda instance, attribute, value: _check_flows("then", value),
    )


@final
@frozen(eq=False, repr=False)
class Mapped(Flow[Any, Any]):
    kind: ClassVar[str] = "map"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    function: Callable[[Any], Any] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class FlatMapped(Flow[Any, Any]):
    kind: ClassVar[str] = "flat_map"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    function: Callable[[Any], Flow[Any, Any]] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class Zip(Flow[Any, Any]):
    kind: ClassVar[str] = "zip"
    left: Flow[Any, Any] = field(validator=_is_flow)
    right: Flow[Any, Any] = field(validator=_is_flow)


@final
@frozen(eq=False, repr=False)
class ZipAll(Flow[Any, Any]):
    """Flow ``i`` runs on input ``i``; the input must have exactly one item per flow."""

    kind: ClassVar[str] = "zip_all"
    flows: tuple[Flow[Any, Any], ...] = field(
        converter=_flows,
        validator=lambda instance, attribute, value: _check_flows("zip_all", value),
    )


@final
@frozen(eq=False, repr=False)
class Race(Flow[Any, Any]):
    """All flows on the same input; the first to succeed wins and the others are cancelled;
    if every one fails, the race fails with the error of the last to fail (the rule of the
    core `race`, the same under every interpreter)."""

    kind: ClassVar[str] = "race"
    flows: tuple[Flow[Any, Any], ...] = field(
        converter=_flows,
        validator=lambda instance, attribute, value: _check_flows("race", value),
    )


def _cases(cases: Any) -> tuple[tuple[type, Flow[Any, Any]], ...]:
    return tuple(cases.items()) if isinstance(cases, dict) else tuple(cases)


def _check_cases(instance: object, attribute: Any, value: tuple[Any, ...]) -> None:
    if not value:
        raise InvalidArgument("branch() needs at least one (type, flow) case")
    for index, case in enumerate(value):
        if not (isinstance(case, tuple) and len(case) == 2 and isinstance(case[0], type)):
            raise InvalidArgument(
                f"branch() case {index} must be a (type, Flow) pair, got {case!r}"
            )
        _check_flow(f"branch() case {index}", case[1])


@final
@frozen(eq=False, repr=False)
class Branch(Flow[Any, Any]):
    """The flow of the first case whose type the input is an instance of (else ``otherwise``,
    else `NoBranchMatched`)."""

    kind: ClassVar[str] = "branch"
    cases: tuple[tuple[type, Flow[Any, Any]], ...] = field(
        converter=_cases,
        validator=_check_cases,
    )
    otherwise: Flow[Any, Any] | None = field(
        default=None,
        validator=lambda instance, attribute, value: (
            None if value is None else _check_flow("otherwise", value)
        ),
    )


@final
@frozen(eq=False, repr=False)
class BranchOn(Flow[Any, Any]):
    kind: ClassVar[str] = "branch_on"
    predicate: Callable[[Any], bool] = field(validator=_is_callable)
    on_true: Flow[Any, Any] = field(validator=_is_flow)
    on_false: Flow[Any, Any] = field(validator=_is_flow)


@final
@frozen(eq=False, repr=False)
class Recover(Flow[Any, Any]):
    kind: ClassVar[str] = "recover"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    function: Callable[[Exception], Any] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class RecoverWith(Flow[Any, Any]):
    kind: ClassVar[str] = "recover_with"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    function: Callable[[Exception], Flow[Any, Any]] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class FallbackTo(Flow[Any, Any]):
    kind: ClassVar[str] = "fallback_to"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    fallback: Flow[Any, Any] = field(validator=_is_flow)


@final
@frozen(eq=False, repr=False)
class Diverted(Flow[Any, Any]):
    kind: ClassVar[str] = "divert_to"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    side: Flow[Any, Any] = field(validator=_is_flow)


def _check_on_limit(instance: object, attribute: Any, value: object) -> None:
    if value not in ("fail", "last"):
        raise InvalidArgument(f"on_limit must be 'fail' or 'last', got {value!r}")


@final
@frozen(eq=False, repr=False)
class Loop(Flow[Any, Any]):
    """Run ``body`` on the input, then on each `Continue` value, until it returns `Done`."""

    kind: ClassVar[str] = "loop"
    body: Flow[Any, Any] = field(validator=_is_flow)
    max_iter: int = field(
        validator=lambda instance, attribute, value: _check_count("loop max_iter", value)
    )
    on_limit: OnLimit = field(default="fail", validator=_check_on_limit)


@final
@frozen(eq=False, repr=False)
class LoopWithState(Flow[Any, Any]):
    """Run ``body`` on ``(input, state)`` from ``initial`` until it returns `Done`; each
    `Continue` carries the next state."""

    kind: ClassVar[str] = "loop_with_state"
    body: Flow[Any, Any] = field(validator=_is_flow)
    initial: Any
    max_iter: int = field(
        validator=lambda instance, attribute, value: _check_count("loop_with_state max_iter", value)
    )
    on_limit: OnLimit = field(default="fail", validator=_check_on_limit)


@final
@frozen(eq=False, repr=False)
class Filter(Flow[Any, Any]):
    kind: ClassVar[str] = "filter"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    predicate: Callable[[Any], bool] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class Tap(Flow[Any, Any]):
    kind: ClassVar[str] = "tap"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    function: Callable[[Any], Any] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class AndThen(Flow[Any, Any]):
    kind: ClassVar[str] = "and_then"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    function: Callable[[Any], Any] = field(validator=_is_callable)


@final
@frozen(eq=False, repr=False)
class Timeout(Flow[Any, Any]):
    kind: ClassVar[str] = "timeout"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    seconds: float = field(validator=_check_seconds)


@final
@frozen(eq=False, repr=False)
class Retry(Flow[Any, Any]):
    kind: ClassVar[str] = "retry"
    flow: Flow[Any, Any] = field(validator=_is_flow)
    attempts: int = field(
        validator=lambda instance, attribute, value: _check_count("retry attempts", value)
    )
    backoff: Backoff = field(factory=lambda: Backoff(jitter=0.0))

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.backoff, Backoff):
            raise InvalidArgument(f"retry backoff must be a Backoff, got {self.backoff!r}")
        if not (math.isfinite(self.backoff.initial) and math.isfinite(self.backoff.maximum)):
            raise InvalidArgument(
                f"retry backoff delays must be finite, got {self.backoff!r}: a retry that "
                "waits forever never retries"
            )


@final
@frozen(eq=False, repr=False)
class AtLeast(Flow[Any, Any]):
    """All flows on the same input; succeeds with a `QuorumResult` as soon as ``k`` have
    succeeded (the rest are cancelled), fails with `QuorumNotReached` as soon as ``k``
    successes have become impossible."""

    kind: ClassVar[str] = "at_least"
    k: int
    flows: tuple[Flow[Any, Any], ...] = field(converter=_flows)

    def __attrs_post_init__(self) -> None:
        if not self.flows:
            raise InvalidArgument("at_least() needs at least one flow")
        _check_flows("at_least", self.flows)
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise InvalidArgument(f"at_least() k must be an integer >= 1, got {self.k!r}")
        if self.k > len(self.flows):
            raise InvalidArgument(
                f"at_least() k={self.k} is more than the {len(self.flows)} flow(s) given; "
                "a quorum can never be reached"
            )


walk_family(Flow)


def _trusted_then(steps: tuple[Flow[Any, Any], ...]) -> Flow[Any, Any]:
    """A `Then` of steps already checked (each came from a built flow): a chain of ``>>``
    stays linear in time, not quadratic in validation."""
    chain = object.__new__(Then)
    object.__setattr__(chain, "steps", steps)
    return chain


# -- constructors -----------------------------------------------------------------------------


@overload
def step(function: Callable[[I], Program[O]]) -> Flow[I, O]: ...


@overload
def step(function: Callable[[I], Coroutine[Any, Any, O]]) -> Flow[I, O]: ...


@overload
def step(function: Callable[[I], O]) -> Flow[I, O]: ...


def step(function: Callable[[I], Any]) -> Flow[I, Any]:
    """A leaf: ``function(input)``, a plain value or a Program to run.

    An ``async def`` step's coroutine is awaited under asyncio; the stub and the simulator,
    which have no event loop, fail the flow with a `ProgramError` saying to return the value
    or a Program instead.

    >>> from playbill.interpreters import stub
    >>> stub.run(step(str.upper).to_program("hi", events=False))
    'HI'
    """
    return Step(function)


def pure(value: O) -> Flow[Any, O]:
    """A leaf that always gives ``value``."""
    return Pure(value)


def identity() -> Flow[I, I]:
    """A leaf that gives its input."""
    return Identity()


def actor(factory: Callable[[], Any], *, ask_timeout: float | None = None) -> Flow[Any, Any]:
    """A leaf: spawn an ephemeral child actor from ``factory`` (an `Actor` class or a
    function making one), ask it with the input, and stop it, whatever happens. Its name is
    fresh, so two runs never collide, and it is a child of the actor running the flow.

    A factory with a ``flow_ask(ref, input, span, timeout)`` method says how a flow asks it,
    as a Program producing the output: an agent class (``playbill.agents.AgentActor``) is
    asked a ``Task`` whose parent is this node's span, and gives the task's output."""
    return Spawned(factory, ask_timeout)


def call(target: ActorRef | str, *, ask_timeout: float | None = None) -> Flow[Any, Any]:
    """A leaf: ask the existing actor ``target`` (a ref or a path) with the input."""
    return Call(target, ask_timeout)


def zip_all(*flows: Flow[Any, Any]) -> Flow[Any, tuple[Any, ...]]:
    """Flow ``i`` runs on item ``i`` of the input, all concurrently; the output is the tuple
    of their outputs. An input with a different number of items fails with `WrongInput`.

    >>> from playbill.interpreters import stub
    >>> stub.run(zip_all(step(str), step(abs)).to_program((1, -2), events=False))
    ('1', 2)
    """
    return ZipAll(flows)


def race(*flows: Flow[I, O]) -> Flow[I, O]:
    """All flows on the same input, concurrently; the first to succeed wins."""
    return Race(flows)


def branch(
    cases: dict[type, Flow[Any, Any]] | tuple[tuple[type, Flow[Any, Any]], ...],
    otherwise: Flow[Any, Any] | None = None,
) -> Flow[Any, Any]:
    """Choose a flow by the input's type: the first case it is an instance of.

    >>> from playbill.interpreters import stub
    >>> shape = branch({int: step(lambda n: n + 1), str: step(str.upper)})
    >>> stub.run(shape.to_program("a", events=False)), stub.run(shape.to_program(1, events=False))
    ('A', 2)
    """
    return Branch(cases, otherwise)


def branch_on(
    predicate: Callable[[I], bool], on_true: Flow[I, O], on_false: Flow[I, O]
) -> Flow[I, O]:
    """``on_true`` if ``predicate(input)``, else ``on_false``."""
    return BranchOn(predicate, on_true, on_false)


def loop(body: Flow[Any, Any], *, max_iter: int, on_limit: OnLimit = "fail") -> Flow[Any, Any]:
    """Run ``body`` until it returns `Done`: each `Continue(x)` runs it again on ``x``. After
    ``max_iter`` rounds: `LoopLimitExceeded` (``on_limit="fail"``) or the last value
    (``"last"``).

    >>> from playbill.interpreters import stub
    >>> halve = step(lambda n: Done(n) if n < 10 else Continue(n // 2))
    >>> stub.run(loop(halve, max_iter=10).to_program(100, events=False))
    6
    """
    return Loop(body, max_iter, on_limit)


def loop_with_state(
    body: Flow[Any, Any], initial: Any, *, max_iter: int, on_limit: OnLimit = "fail"
) -> Flow[Any, Any]:
    """Run ``body`` on ``(input, state)``, from ``initial``, until it returns `Done`; each
    `Continue(s)` runs it again with state ``s``. After ``max_iter`` rounds:
    `LoopLimitExceeded` or (``on_limit="last"``) the last state.

    >>> from playbill.interpreters import stub
    >>> count_up = step(lambda pair: Done(pair[1]) if pair[1] >= pair[0] else Continue(pair[1] + 1))
    >>> stub.run(loop_with_state(count_up, 0, max_iter=10).to_program(3, events=False))
    3
    """
    return LoopWithState(body, initial, max_iter, on_limit)


def at_least(k: int, *flows: Flow[I, Any]) -> Flow[I, QuorumResult]:
    """All flows on the same input, concurrently; a `QuorumResult` once ``k`` succeed.

    >>> from playbill.interpreters import stub
    >>> def broken(x):
    ...     raise ValueError("down")
    >>> quorum = at_least(2, step(lambda x: x), step(broken), step(lambda x: -x))
    >>> stub.run(quorum.to_program(5, events=False)).succeeded
    (5, -5)
    """
    return AtLeast(k, flows)


def and_then(flow: Flow[I, O], function: Callable[[Any], Any]) -> Flow[I, O]:
    """``flow.and_then(function)``, as a function."""
    return flow.and_then(function)


# the node kinds, for documents and drawings
KINDS: dict[str, type[Flow[Any, Any]]] = {
    cls.kind: cls
    for cls in (
        Step,
        Pure,
        Identity,
        Spawned,
        Call,
        Then,
        Mapped,
        FlatMapped,
        Zip,
        ZipAll,
        Race,
        Branch,
        BranchOn,
        Recover,
        RecoverWith,
        FallbackTo,
        Diverted,
        Loop,
        LoopWithState,
        Filter,
        Tap,
        AndThen,
        Timeout,
        Retry,
        AtLeast,
    )
}
