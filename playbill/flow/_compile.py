"""A Flow compiled to a Program.

Every node becomes a small program built only when the run reaches it (inside the running
program, never ahead of it), so a flow of any depth compiles in constant Python stack and the
stepper's trampoline runs it. Parallel parts use the core's gather and race, so the simulator
explores their interleavings like any other program's.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Generator
from typing import Any, Literal, final

from attrs import frozen
from returns.result import Failure, Result, Success

from playbill.actors import Actor
from playbill.actors._reports import short
from playbill.effects import (
    ActorRef,
    Await,
    Cancelled,
    Effect,
    Generate,
    Program,
    Settle,
    Suspend,
    emit,
    free_spawn,
    free_stop,
    gather,
    pure,
    random,
    self_ref,
    sleep,
)
from playbill.effects import race as core_race
from playbill.effects import timeout as core_timeout
from playbill.effects._checks import plural
from playbill.effects._vocabulary import relative_ref
from playbill.flow._errors import (
    FilteredOut,
    LoopLimitExceeded,
    NoBranchMatched,
    QuorumNotReached,
    WrongInput,
)
from playbill.flow._nodes import (
    AndThen,
    AtLeast,
    Branch,
    BranchOn,
    Call,
    Continue,
    Diverted,
    Done,
    FallbackTo,
    Filter,
    FlatMapped,
    Flow,
    Identity,
    Loop,
    LoopWithState,
    Mapped,
    Pure,
    QuorumResult,
    Race,
    Recover,
    RecoverWith,
    Retry,
    Spawned,
    Step,
    Tap,
    Then,
    Timeout,
    Zip,
    ZipAll,
)

__all__ = ["FlowEvent", "compile_flow", "label_of"]

EventKind = Literal["started", "completed", "failed", "cancelled"]
_Body = Generator[Any, Any, Any]


@final
@frozen
class FlowEvent:
    """What a flow node did, emitted onto the system's event stream (as the ``event`` of an
    `Emitted`): ``kind`` is ``started`` (``value`` is the input), ``completed`` (``value`` is
    the output), ``failed`` (``error``) or ``cancelled`` (a race it lost, a timeout, a failed
    sibling in a ``zip``: every span that starts also ends). ``path`` is the node's place in
    the flow, in document notation (``steps[2].on_true``; empty for the root); ``span`` names
    this run of the node (loops and retries run a node many times) and ``parent`` the span it
    ran in, so a flat stream rebuilds the call tree."""

    kind: EventKind
    node: str
    label: str
    path: str
    span: str
    parent: str | None
    value: Any = None
    error: BaseException | None = None


@final
class _Run:
    """What one run of a flow shares between its nodes: made afresh when the run starts."""

    __slots__ = ("agents", "events", "sides", "wait")

    def __init__(self, events: bool, wait: bool, agents: AgentLeaves | None = None) -> None:
        self.events = events
        self.wait = wait  # whether the run waits for its side flows before it ends
        self.sides: list[ActorRef] = []  # the actors running side flows, when it waits
        # how the run's actor leaves may run other than as a spawned child (see compile_flow)
        self.agents = agents

    def __repr__(self) -> str:
        # stable from run to run (no address), so a traced run replays line for line
        return f"<flow run: events={self.events}, side flows={len(self.sides)}>"


# what a caller may give `compile_flow` to run the flow's ``actor(...)`` leaves otherwise than
# as a spawned child: called with the leaf, its input and its span, it gives the program that
# runs the leaf, or None to let it be spawned and asked as usual
AgentLeaves = Callable[[Spawned, Any, str], "Program[Any] | None"]


def compile_flow(
    flow: Flow[Any, Any],
    value: Any,
    *,
    events: bool,
    span: str,
    wait_for_side_flows: bool,
    agents: AgentLeaves | None = None,
) -> Program[Any]:
    """``flow`` on ``value`` as a program. ``agents`` (for the agent layer, which knows when an
    agent needs no actor of its own) may run the ``actor(...)`` leaves of this run (not those
    of its side flows, which run in actors of their own)."""
    if not isinstance(flow, Flow):
        raise TypeError(f"compile_flow takes a Flow, got {flow!r}")
    return Generate(_root, (flow, value, events, span, wait_for_side_flows, agents), ())


def _root(
    flow: Flow[Any, Any],
    value: Any,
    events: bool,
    span: str,
    wait: bool,
    agents: AgentLeaves | None = None,
) -> _Body:
    run = _Run(events, wait, agents)
    return (yield _awaiting_sides(run, node(flow, value, run, "", span, None)))


def _awaiting_sides(run: _Run, program: Program[Any]) -> Program[Any]:
    """``program``, then (when the run waits for them) the side flows it diverted: asked
    whether they are done by the same sender that diverted them, so that even with per-pair
    delivery the question never overtakes the value."""
    if not run.wait:
        return program
    body = Generate(_then_sides, (run, program), ())
    return body.ensuring(Generate(_stop_sides, (run,), ()))


def _then_sides(run: _Run, program: Program[Any]) -> _Body:
    outcome = yield program.attempt()
    waited = 0
    while waited < len(run.sides):  # a side flow may divert further side flows
        yield run.sides[waited].free_ask(_DRAIN, math.inf).attempt()
        waited += 1
    if isinstance(outcome, Failure):
        raise outcome.failure()
    return outcome.unwrap()


def _stop_sides(run: _Run) -> _Body:
    for ref in run.sides:
        yield free_stop(ref)


def node(
    flow: Flow[Any, Any], value: Any, run: _Run, path: str, span: str, parent: str | None
) -> Program[Any]:
    """The program that runs ``flow`` (at ``path``, as ``span``) on ``value``."""
    if run.events:
        return Generate(_observed, (flow, value, run, path, span, parent), ())
    return _body(flow, value, run, path, span)


def _observed(
    flow: Flow[Any, Any], value: Any, run: _Run, path: str, span: str, parent: str | None
) -> _Body:
    label = label_of(flow)
    yield emit(FlowEvent("started", flow.kind, label, path, span, parent, value))
    try:
        if flow.__class__ is Step:  # the common leaf, run in place
            result = flow.function(value)
            if isinstance(result, _DEFERRED):
                result = yield result
            elif _awaitable(result):
                result = yield _await(result, flow.function)
        else:
            result = yield _body(flow, value, run, path, span)
    except Exception as error:
        yield emit(FlowEvent("failed", flow.kind, label, path, span, parent, error=error))
        raise
    except Cancelled:
        yield emit(FlowEvent("cancelled", flow.kind, label, path, span, parent))
        raise
    yield emit(FlowEvent("completed", flow.kind, label, path, span, parent, result))
    return result


def label_of(flow: Flow[Any, Any]) -> str:
    """A short human label for a node: its function's or factory's name, its target."""
    if isinstance(flow, (Step, Mapped, FlatMapped, Recover, RecoverWith, Tap, AndThen)):
        return _name(flow.function)
    if isinstance(flow, (Filter, BranchOn)):
        return _name(flow.predicate)
    if isinstance(flow, Spawned):
        return _name(flow.factory)
    if isinstance(flow, Call):
        return flow.target if isinstance(flow.target, str) else flow.target.path
    if isinstance(flow, Pure):
        return short(flow.value)
    return flow.kind


def _name(function: Callable[..., Any]) -> str:
    return str(getattr(function, "__qualname__", None) or short(function))


def _child(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


def _under(
    flow: Flow[Any, Any], value: Any, run: _Run, path: str, span: str, segment: str
) -> Program[Any]:
    """The program of the child ``flow`` at ``segment`` of a node at ``path`` and ``span``:
    the segment extends both, and the node's span is the child's parent."""
    return node(flow, value, run, _child(path, segment), f"{span}/{segment}", span)


def _body(flow: Flow[Any, Any], value: Any, run: _Run, path: str, span: str) -> Program[Any]:
    kind = type(flow)
    if kind is Identity:
        return pure(value)
    if kind is Pure:
        assert isinstance(flow, Pure)
        return pure(flow.value)
    return Generate(_RUNNERS[kind], (flow, value, run, path, span), ())


_DEFERRED = (Program, Effect)  # what a step may return to be run rather than passed on
_awaitable = inspect.isawaitable  # (an ``async def`` step's coroutine: awaited, not passed on)


def _await(result: Any, function: Callable[..., Any], role: str = "step") -> Await:
    """A coroutine a step (or callback) gave: asyncio awaits it; the stub and the simulator
    refuse it."""
    return Await(result, f"the flow {role} {_name(function)}")


def _as_program(result: object, function: Callable[..., Any]) -> Program[Any]:
    if isinstance(result, Program):
        return result
    if isinstance(result, Effect):
        return Suspend(result)
    if _awaitable(result):
        return Suspend(_await(result, function, "callback"))
    return pure(result)


# -- the runners, one per combinator -----------------------------------------------------------


def _then(flow: Then, value: Any, run: _Run, path: str, span: str) -> _Body:
    if run.events:
        for index, each in enumerate(flow.steps):
            segment = f"steps[{index}]"
            value = yield _under(each, value, run, path, span, segment)
        return value
    for index, each in enumerate(flow.steps):
        if each.__class__ is Step:
            # the common case, run in place: a plain value goes straight to the next step
            value = each.function(value)
            if isinstance(value, _DEFERRED):
                value = yield value
            elif _awaitable(value):
                value = yield _await(value, each.function)
        else:
            segment = f"steps[{index}]"
            value = yield _body(each, value, run, _child(path, segment), f"{span}/{segment}")
    return value


def _step(flow: Step, value: Any, run: _Run, path: str, span: str) -> _Body:
    # called when the step runs (in its own fiber, inside a gather or a race), never when the
    # program around it is built
    result = flow.function(value)
    if isinstance(result, _DEFERRED):
        result = yield result
    elif _awaitable(result):
        result = yield _await(result, flow.function)
    return result


def _spawned(flow: Spawned, value: Any, run: _Run, path: str, span: str) -> _Body:
    agents = run.agents
    if agents is not None:
        in_place = agents(flow, value, span)
        if in_place is not None:
            return (yield in_place)
    ref = yield free_spawn(flow.factory)
    # an actor class may say how a flow asks it (the agent layer's agents take a Task linked
    # to this node's span, and answer a TaskResult): ``flow_ask(ref, value, span, timeout)``
    flow_ask = getattr(flow.factory, "flow_ask", None)
    asking = (
        flow_ask(ref, value, span, flow.ask_timeout)
        if flow_ask is not None
        else ref.free_ask(value, flow.ask_timeout)
    )
    # whatever happens — an answer, a failure, the flow cancelled around it — the child is
    # stopped, and work the flow no longer needs is interrupted rather than finished
    return (yield asking.ensuring(free_stop(ref, interrupt=True)))


def _call(flow: Call, value: Any, run: _Run, path: str, span: str) -> _Body:
    target = flow.target if isinstance(flow.target, ActorRef) else relative_ref(flow.target)
    return (yield target.free_ask(value, flow.ask_timeout))


def _mapped(flow: Mapped, value: Any, run: _Run, path: str, span: str) -> _Body:
    result = yield _under(flow.flow, value, run, path, span, "flow")
    return flow.function(result)


def _flat_mapped(flow: FlatMapped, value: Any, run: _Run, path: str, span: str) -> _Body:
    result = yield _under(flow.flow, value, run, path, span, "flow")
    chosen = flow.function(result)
    if not isinstance(chosen, Flow):
        raise WrongInput(
            f"flat_map at {path or '(root)'}: {_name(flow.function)} must return a Flow, "
            f"got {short(chosen)}",
            path,
        )
    return (yield _under(chosen, result, run, path, span, "then"))


def _zip(flow: Zip, value: Any, run: _Run, path: str, span: str) -> _Body:
    if not run.events:
        # a side that performs nothing (identity, pure: a MoA layer's input beside its
        # proposers) needs no fiber of its own: the other side runs in place
        left, right = flow.left, flow.right
        if type(left) is Identity or type(left) is Pure:
            output = yield _body(right, value, run, _child(path, "right"), f"{span}/right")
            return (_inert(left, value), output)
        if type(right) is Identity or type(right) is Pure:
            output = yield _body(left, value, run, _child(path, "left"), f"{span}/left")
            return (output, _inert(right, value))
    return (
        yield gather(
            _under(flow.left, value, run, path, span, "left"),
            _under(flow.right, value, run, path, span, "right"),
        )
    )


def _inert(flow: Flow[Any, Any], value: Any) -> Any:
    """The output of an identity or pure node on ``value``."""
    return flow.value if isinstance(flow, Pure) else value


def _zip_all(flow: ZipAll, value: Any, run: _Run, path: str, span: str) -> _Body:
    count = len(flow.flows)
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        raise WrongInput(
            f"zip_all at {path or '(root)'} takes a sequence of {count} inputs, one per flow; "
            f"got {short(value)}",
            path,
        )
    items = tuple(value)
    if len(items) != count:
        raise WrongInput(
            f"zip_all at {path or '(root)'} has {count} flows but got {len(items)} inputs; give "
            "exactly one input per flow (nothing is dropped or padded)",
            path,
        )
    return (
        yield gather(
            *(
                _under(each, item, run, path, span, f"flows[{i}]")
                for i, (each, item) in enumerate(zip(flow.flows, items, strict=True))
            )
        )
    )


def _race(flow: Race, value: Any, run: _Run, path: str, span: str) -> _Body:
    return (
        yield core_race(
            *(
                _under(each, value, run, path, span, f"flows[{i}]")
                for i, each in enumerate(flow.flows)
            )
        )
    )


def _branch(flow: Branch, value: Any, run: _Run, path: str, span: str) -> _Body:
    for index, (case_type, case_flow) in enumerate(flow.cases):
        if isinstance(value, case_type):
            segment = f"cases[{index}].flow"
            return (yield _under(case_flow, value, run, path, span, segment))
    if flow.otherwise is not None:
        return (yield _under(flow.otherwise, value, run, path, span, "otherwise"))
    names = ", ".join(case_type.__name__ for case_type, _ in flow.cases)
    raise NoBranchMatched(
        f"branch at {path or '(root)'} has no case for {type(value).__name__} "
        f"(cases: {names}); add a case or otherwise=...",
        path,
    )


def _branch_on(flow: BranchOn, value: Any, run: _Run, path: str, span: str) -> _Body:
    segment = "on_true" if flow.predicate(value) else "on_false"
    chosen = flow.on_true if segment == "on_true" else flow.on_false
    return (yield _under(chosen, value, run, path, span, segment))


def _recover(flow: Recover, value: Any, run: _Run, path: str, span: str) -> _Body:
    try:
        return (yield _under(flow.flow, value, run, path, span, "flow"))
    except Exception as error:
        return (yield _as_program(flow.function(error), flow.function))


def _recover_with(flow: RecoverWith, value: Any, run: _Run, path: str, span: str) -> _Body:
    try:
        return (yield _under(flow.flow, value, run, path, span, "flow"))
    except Exception as error:
        chosen = flow.function(error)
        if not isinstance(chosen, Flow):
            raise WrongInput(
                f"recover_with at {path or '(root)'}: {_name(flow.function)} must return a "
                f"Flow, got {short(chosen)}",
                path,
            ) from error
    return (yield _under(chosen, value, run, path, span, "then"))


def _fallback_to(flow: FallbackTo, value: Any, run: _Run, path: str, span: str) -> _Body:
    try:
        return (yield _under(flow.flow, value, run, path, span, "flow"))
    except Exception:
        pass
    return (yield _under(flow.fallback, value, run, path, span, "fallback"))


_DRAIN = object()  # asked of a side-flow actor by a run that waits: answered once it is done


class _SideFlow(Actor):
    """Runs one diverted side flow; a failure becomes a `FlowEvent` (the side node's own
    events report it when events are on), never a crash. It then stops itself, unless the run
    waits for it (and stops it once it answered)."""

    def __init__(self, run: _Run, side: Flow[Any, Any], path: str, span: str) -> None:
        self.run = run
        self.side = side
        self.path = path
        self.span = span

    def receive(self, message: Any) -> Any:
        if message is _DRAIN:
            return None
        return Generate(_side, (self.run, self.side, message, self.path, self.span), ())


def _side(run: _Run, side: Flow[Any, Any], value: Any, path: str, span: str) -> _Body:
    where, side_span = _child(path, "side"), f"{span}/side"
    # the side flows this one diverts are this actor's to wait for (see _awaiting_sides)
    own = _Run(run.events, run.wait)
    outcome = yield _awaiting_sides(own, node(side, value, own, where, side_span, span)).attempt()
    if isinstance(outcome, Failure) and not run.events:
        failure = outcome.failure()
        yield emit(
            FlowEvent("failed", side.kind, label_of(side), where, side_span, span, error=failure)
        )
    if not run.wait:
        yield free_stop((yield self_ref()))


def _diverted(flow: Diverted, value: Any, run: _Run, path: str, span: str) -> _Body:
    result = yield _under(flow.flow, value, run, path, span, "flow")
    # a named factory, so the actor is named after it (``SideFlow$3``)
    ref = yield free_spawn(functools.partial(_SideFlow, run, flow.side, path, span))
    if run.wait:
        run.sides.append(ref)
    yield ref.free_tell(result)
    return result


def _loop(flow: Loop | LoopWithState, value: Any, run: _Run, path: str, span: str) -> _Body:
    # a loop carries its value round; a loop with state keeps its input and carries the state
    stateful = isinstance(flow, LoopWithState)
    carried = flow.initial if isinstance(flow, LoopWithState) else value
    for round_ in range(flow.max_iter):
        given = (value, carried) if stateful else carried
        where = f"{span}/body#{round_}"
        outcome = yield node(flow.body, given, run, _child(path, "body"), where, span)
        if isinstance(outcome, Done):
            return outcome.value
        if not isinstance(outcome, Continue):
            raise _not_a_step(flow.kind, path, outcome)
        carried = outcome.value
    if flow.on_limit == "last":
        return carried
    what = "state" if stateful else "value"
    raise LoopLimitExceeded(
        f"{flow.kind} at {path or '(root)'} went round {plural(flow.max_iter, 'time')} "
        f"without Done (last {what} {short(carried)}); raise max_iter, or on_limit='last' to "
        f"keep the last {what}",
        path,
        carried,
    )


def _not_a_step(where: str, path: str, outcome: object) -> WrongInput:
    return WrongInput(
        f"the body of {where} at {path or '(root)'} must return Continue(x) or Done(y), got "
        f"{short(outcome)}",
        path,
    )


def _filter(flow: Filter, value: Any, run: _Run, path: str, span: str) -> _Body:
    result = yield _under(flow.flow, value, run, path, span, "flow")
    if not flow.predicate(result):
        raise FilteredOut(
            f"filter at {path or '(root)'}: {_name(flow.predicate)} rejected {short(result)}",
            path,
        )
    return result


def _tap(flow: Tap, value: Any, run: _Run, path: str, span: str) -> _Body:
    result = yield _under(flow.flow, value, run, path, span, "flow")
    yield _as_program(flow.function(result), flow.function)
    return result


def _and_then(flow: AndThen, value: Any, run: _Run, path: str, span: str) -> _Body:
    outcome: Result[Any, Exception] = yield _under(
        flow.flow, value, run, path, span, "flow"
    ).attempt()
    try:
        callback = yield _as_program(flow.function(outcome), flow.function).attempt()
    except Exception as error:  # the callback itself raised before giving a program
        callback = Failure(error)
    if isinstance(callback, Failure):
        yield emit(
            FlowEvent(
                "failed",
                "and_then callback",
                _name(flow.function),
                path,
                f"{span}/callback",
                span,
                error=callback.failure(),
            )
        )
    if isinstance(outcome, Failure):
        raise outcome.failure()
    return outcome.unwrap()


def _timeout(flow: Timeout, value: Any, run: _Run, path: str, span: str) -> _Body:
    inner = _under(flow.flow, value, run, path, span, "flow")
    return (yield core_timeout(inner, flow.seconds))


def _retry(flow: Retry, value: Any, run: _Run, path: str, span: str) -> _Body:
    for attempt in range(flow.attempts):
        try:
            return (
                yield node(
                    flow.flow, value, run, _child(path, "flow"), f"{span}/flow#{attempt}", span
                )
            )
        except Exception:
            if attempt + 1 == flow.attempts:
                raise
        # no random draw without jitter: a schedule holds no choice that changes nothing
        spread = (yield random()) if flow.backoff.jitter else 0.5
        yield sleep(flow.backoff.delay(attempt, spread))
    raise AssertionError("unreachable: attempts >= 1")


@final
class _Tally:
    __slots__ = ("failed", "indices", "k", "n", "path", "succeeded")

    def __init__(self, k: int, n: int, path: str) -> None:
        self.k = k
        self.n = n
        self.path = path
        self.succeeded: list[Any] = []
        self.indices: list[int] = []
        self.failed: list[BaseException] = []

    def decide(self, index: int, outcome: Result[Any, BaseException]) -> Result[Any, Any] | None:
        """Count member ``index``'s ``outcome``: the quorum's outcome once it is decided
        (either way: `QuorumNotReached` is a value here, raised by `_at_least`), else None."""
        if isinstance(outcome, Success):
            self.succeeded.append(outcome.unwrap())
            self.indices.append(index)
            if len(self.succeeded) == self.k:
                return Success(self.reached())
        else:
            self.failed.append(outcome.failure())
            if len(self.failed) == self.n - self.k + 1:
                return Success(self.impossible())
        return None

    def reached(self) -> QuorumResult:
        return QuorumResult(tuple(self.succeeded), tuple(self.indices), tuple(self.failed))

    def impossible(self) -> QuorumNotReached:
        return QuorumNotReached(
            f"at_least at {self.path or '(root)'} needed {self.k} of {self.n} flows to "
            f"succeed, but {len(self.failed)} failed: "
            + "; ".join(repr(error) for error in self.failed),
            self.path,
            tuple(self.failed),
        )

    def __repr__(self) -> str:
        # stable from run to run (no address), so a traced run replays line for line
        where = self.path or "(root)"
        return (
            f"<at_least {self.k} of {self.n} at {where}: {len(self.succeeded)} succeeded, "
            f"{len(self.failed)} failed>"
        )


def _at_least(flow: AtLeast, value: Any, run: _Run, path: str, span: str) -> _Body:
    # a counting join (`Settle`): each member's outcome goes to the tally as it ends, and
    # the one that decides the quorum (either way) cancels those still running. Where there
    # is no counting join (the simulator, the stub, a journal) it is the race of `_expanded`
    tally = _Tally(flow.k, len(flow.flows), path)
    members = tuple(
        _under(each, value, run, path, span, f"flows[{i}]") for i, each in enumerate(flow.flows)
    )
    decided = yield Suspend(
        Settle(members, tally.decide, Generate(_expanded, (tally, members), ()))
    )
    if isinstance(decided, QuorumNotReached):
        raise decided
    return decided


def _expanded(tally: _Tally, members: tuple[Program[Any], ...]) -> _Body:
    """The quorum as a race of the core effects: the member that decides it (either way) is
    the only one ever to finish, so the race ends there and cancels the rest."""
    return (
        yield core_race(
            *(Generate(_member, (tally, i, member), ()) for i, member in enumerate(members))
        )
    )


def _member(tally: _Tally, index: int, program: Program[Any]) -> _Body:
    outcome = yield program.attempt()
    decided = tally.decide(index, outcome)
    if decided is not None:
        return decided.unwrap()
    yield sleep(math.inf)  # undecided: wait to be cancelled by the race's winner


_RUNNERS: dict[type, Callable[..., _Body]] = {
    Step: _step,
    Then: _then,
    Spawned: _spawned,
    Call: _call,
    Mapped: _mapped,
    FlatMapped: _flat_mapped,
    Zip: _zip,
    ZipAll: _zip_all,
    Race: _race,
    Branch: _branch,
    BranchOn: _branch_on,
    Recover: _recover,
    RecoverWith: _recover_with,
    FallbackTo: _fallback_to,
    Diverted: _diverted,
    Loop: _loop,
    LoopWithState: _loop,
    Filter: _filter,
    Tap: _tap,
    AndThen: _and_then,
    Timeout: _timeout,
    Retry: _retry,
    AtLeast: _at_least,
}
