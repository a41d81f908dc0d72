"""Teams as flows over agents: `pipeline`, `broadcast`, `router`, `hierarchy`, `debate` and
`evaluator_optimizer`. Each is a function returning a `Flow` built from the flow combinators
and the named functions below (`moa_registry` registers them), so a team runs on every
interpreter, nests in another team or a MoA layer, saves to YAML and draws as Mermaid."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, final

from attrs import frozen

from playbill.effects import InvalidArgument, PlaybillError
from playbill.effects._checks import check_callable
from playbill.flow import (
    Continue,
    Done,
    Flow,
    QuorumResult,
    at_least,
    branch,
    branch_on,
    identity,
    loop_with_state,
    pure,
    step,
    zip_all,
)
from playbill.moa._layers import as_flow, proposals_of

__all__ = [
    "Attempt",
    "Debate",
    "DebateTurn",
    "Delegate",
    "Draft",
    "Evaluation",
    "Final",
    "SupervisorTurn",
    "UnknownRoute",
    "broadcast",
    "debate",
    "evaluator_optimizer",
    "hierarchy",
    "pipeline",
    "router",
    "stateful_router",
    "unanimous",
]

V = TypeVar("V")


class UnknownRoute(PlaybillError, LookupError):
    """A router's choice named no route."""


def _agents(where: str, agents: tuple[object, ...]) -> list[Flow[Any, Any]]:
    if not agents:
        raise InvalidArgument(f"{where} needs at least one agent, got none")
    return [as_flow(f"{where} agent {index}", each) for index, each in enumerate(agents)]


def _rounds(where: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"{where} max_rounds must be an integer >= 1, got {value!r}")
    return value


# -- pipeline and broadcast -------------------------------------------------------------------


def pipeline(*agents: Flow[Any, Any] | type) -> Flow[Any, Any]:
    """Each agent on the output of the one before.

    >>> from playbill import simulate
    >>> simulate(pipeline(step(str.strip), step(str.upper)).to_program(" hi ")).value
    'HI'
    """
    flows = _agents("pipeline()", agents)
    chain = flows[0]
    for each in flows[1:]:
        chain = chain >> each
    return chain


def in_agent_order(quorum: QuorumResult) -> tuple[Any, ...]:
    """The outputs of a quorum, ordered by the agent they came from."""
    return tuple(output for _, output in sorted(zip(quorum.indices, quorum.succeeded, strict=True)))


def broadcast(*agents: Flow[Any, Any] | type, min_success: int | None = None) -> Flow[Any, Any]:
    """Every agent on the same input, concurrently. Without ``min_success``: the tuple of all
    outputs in agent order, and any failure fails the broadcast (the others cancelled). With
    ``min_success=k``: `Proposals` of the first ``k`` successes (in agent order) and the
    failures before, the rest cancelled; `QuorumNotReached` once ``k`` are impossible.

    >>> from playbill import simulate
    >>> simulate(broadcast(step(len), step(str.upper)).to_program("hi")).value
    (2, 'HI')
    """
    flows = _agents("broadcast()", agents)
    if min_success is None:
        return at_least(len(flows), *flows) >> step(in_agent_order)
    if (
        not isinstance(min_success, int)
        or isinstance(min_success, bool)
        or not 1 <= min_success <= len(flows)
    ):
        raise InvalidArgument(
            f"broadcast() min_success must be None or an integer from 1 to the {len(flows)} "
            f"agent(s), got {min_success!r}"
        )
    unchanged: Flow[Any, Any] = identity()
    return unchanged.zip(at_least(min_success, *flows)) >> step(proposals_of)


# -- router -----------------------------------------------------------------------------------


@final
@frozen
class Routed:
    """A value on its way to the route at ``index`` (counted down as the choice is made)."""

    index: int
    value: Any


def route_of(chosen: tuple[tuple[Any, Any], list[str]]) -> Routed:
    """The route ``choose`` named, among the router's names."""
    (value, name), names = chosen
    if name not in names:
        raise UnknownRoute(
            f"the router's choice {name!r} names no route; the routes are {names!r}: return "
            "one of them from the choosing function"
        )
    return Routed(names.index(name), value)


def is_first_route(routed: Routed) -> bool:
    return routed.index == 0


def next_route(routed: Routed) -> Routed:
    return Routed(routed.index - 1, routed.value)


def routed_value(routed: Routed) -> Any:
    return routed.value


def router(
    choose: Callable[[Any], str], routes: Mapping[str, Flow[Any, Any] | type]
) -> Flow[Any, Any]:
    """``choose(input)`` names a route; that route's agent runs on the input (and only it).
    A name that is no route fails with `UnknownRoute`. ``choose`` may be a model call (a
    function returning a Program) as well as a plain function; register it to save the flow.

    >>> from playbill import simulate
    >>> pick = router(lambda n: "big" if n > 9 else "small",
    ...               {"small": step(lambda n: n + 1), "big": step(lambda n: n // 10)})
    >>> simulate(pick.to_program(5)).value, simulate(pick.to_program(50)).value
    (6, 5)
    """
    check_callable("router() choose", choose)
    names = _routes("router()", routes)
    unchanged: Flow[Any, Any] = identity()
    return (
        unchanged.zip(step(choose)).zip(pure(names))
        >> step(route_of)
        >> _dispatch("router()", routes)
    )


def _routes(where: str, routes: object) -> list[str]:
    if not isinstance(routes, Mapping) or not routes:
        raise InvalidArgument(
            f"{where} routes must be a non-empty mapping of names to agents, got {routes!r:.80}"
        )
    names = list(routes)
    for name in names:
        if not isinstance(name, str):
            raise InvalidArgument(f"{where} route names must be strings, got {name!r}")
    return names


def _dispatch(where: str, routes: Mapping[str, Flow[Any, Any] | type]) -> Flow[Any, Any]:
    """From a `Routed`, the route it names run on its value (a chain of ``branch_on``)."""
    flows = [as_flow(f"{where} route {name!r}", routes[name]) for name in routes]
    dispatch: Flow[Any, Any] = step(routed_value) >> flows[-1]
    for each in reversed(flows[:-1]):
        dispatch = branch_on(
            is_first_route, step(routed_value) >> each, step(next_route) >> dispatch
        )
    return dispatch


# -- stateful router --------------------------------------------------------------------------


@final
@frozen
class RouterTurn:
    """A `stateful_router` between two inputs: the ``inputs``, the ``index`` of the next one,
    the choosing function's ``state`` and the ``outputs`` so far."""

    inputs: tuple[Any, ...]
    index: int
    state: Any
    outputs: tuple[Any, ...]


def router_turn(pair: tuple[Any, Any]) -> RouterTurn:
    inputs, (index, state, outputs) = pair
    return RouterTurn(tuple(inputs), index, state, tuple(outputs))


def turn_finished(turn: RouterTurn) -> bool:
    return turn.index >= len(turn.inputs)


def turn_outputs(turn: RouterTurn) -> Done[tuple[Any, ...]]:
    return Done(turn.outputs)


def turn_choice(turn: RouterTurn) -> tuple[Any, Any]:
    return (turn.inputs[turn.index], turn.state)


def stateful_route_of(chosen: tuple[tuple[RouterTurn, Any], list[str]]) -> tuple[Any, Routed]:
    """The route and the new state the choosing function answered for the next input."""
    (turn, answer), names = chosen
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise InvalidArgument(
            f"a stateful_router() choose must return (route name, new state), got "
            f"{answer!r:.80} ({type(answer).__name__})"
        )
    name, state = answer
    routed = route_of(((turn.inputs[turn.index], name), names))
    return (RouterTurn(turn.inputs, turn.index, state, turn.outputs), routed)


def next_turn(pair: tuple[RouterTurn, Any]) -> Continue[list[Any]]:
    turn, output = pair
    return Continue([turn.index + 1, turn.state, [*turn.outputs, output]])


def stateful_router(
    choose: Callable[[tuple[Any, Any]], tuple[str, Any]],
    routes: Mapping[str, Flow[Any, Any] | type],
    initial: Any = None,
    *,
    max_inputs: int = 10_000,
) -> Flow[Any, Any]:
    """A router that remembers: on a sequence of inputs, for each in order,
    ``choose((input, state))`` answers ``(route name, new state)`` and that route's agent runs
    on the input; the state goes on to the next choice, from ``initial``. The output is the
    tuple of the routes' outputs, in input order. The routes run one input at a time (each
    choice may depend on what came before, as a round-robin or a budget does).

    It is a `loop_with_state` whose state ``[index, state, outputs]`` starts as data, so the
    flow saves to YAML with ``initial`` in it (plain data, or a registered value). More than
    ``max_inputs`` inputs fail with `LoopLimitExceeded`; a name that is no route with
    `UnknownRoute`.

    >>> from playbill import simulate
    >>> def round_robin(pair):
    ...     text, turn = pair
    ...     return ("upper" if turn % 2 == 0 else "title"), turn + 1
    >>> spread = stateful_router(round_robin, {"upper": step(str.upper),
    ...                                         "title": step(str.title)}, 0)
    >>> simulate(spread.to_program(["ab", "cd", "ef"])).value
    ('AB', 'Cd', 'EF')
    """
    check_callable("stateful_router() choose", choose)
    names = _routes("stateful_router()", routes)
    if not isinstance(max_inputs, int) or isinstance(max_inputs, bool) or max_inputs < 0:
        raise InvalidArgument(
            f"stateful_router() max_inputs must be an integer >= 0, got {max_inputs!r}"
        )
    turns: Flow[Any, Any] = identity()
    carried: Flow[Any, Any] = identity()
    body = step(router_turn) >> branch_on(
        turn_finished,
        step(turn_outputs),
        turns.zip(step(turn_choice) >> step(choose)).zip(pure(names))
        >> step(stateful_route_of)
        >> zip_all(carried, _dispatch("stateful_router()", routes))
        >> step(next_turn),
    )
    return loop_with_state(body, [0, initial, []], max_iter=max_inputs + 1)


# -- hierarchy --------------------------------------------------------------------------------


@final
@frozen
class SupervisorTurn(Generic[V]):
    """What a `hierarchy`'s supervisor receives each round: the ``task``, and the workers'
    ``results`` of the last round (``None`` on the first)."""

    task: V
    results: tuple[Any, ...] | None = None


@final
@frozen
class Delegate:
    """A supervisor's answer to go on: one sub-task per worker, in worker order."""

    subtasks: tuple[Any, ...]


@final
@frozen
class Final:
    """A supervisor's answer to finish with ``result``."""

    result: Any


def supervisor_turn(pair: tuple[Any, tuple[Any, ...] | None]) -> SupervisorTurn[Any]:
    task, results = pair
    return SupervisorTurn(task, results)


def subtasks_of(delegation: Delegate) -> tuple[Any, ...]:
    return tuple(delegation.subtasks)


def final_result(answer: Final) -> Done[Any]:
    return Done(answer.result)


def go_on(results: tuple[Any, ...]) -> Continue[tuple[Any, ...]]:
    return Continue(tuple(results))


def hierarchy(
    supervisor: Flow[Any, Any] | type,
    workers: list[Flow[Any, Any] | type] | tuple[Flow[Any, Any] | type, ...],
    *,
    max_rounds: int,
) -> Flow[Any, Any]:
    """A supervisor delegates and integrates, at most ``max_rounds`` times: each round it
    receives a `SupervisorTurn` and answers `Delegate` (one sub-task per worker, run
    concurrently; their results come back in the next turn) or `Final` (the team's output).
    Past the rounds, `LoopLimitExceeded`; a `Delegate` with another number of sub-tasks than
    workers fails with `WrongInput`.

    >>> from playbill import simulate
    >>> boss = step(lambda turn: Final(sum(turn.results)) if turn.results
    ...             else Delegate((turn.task, turn.task * 2)))
    >>> simulate(hierarchy(boss, [step(abs), step(abs)], max_rounds=3).to_program(4)).value
    12
    """
    boss = as_flow("hierarchy() supervisor", supervisor)
    if not isinstance(workers, (list, tuple)):
        raise InvalidArgument(f"hierarchy() workers must be a list of agents, got {workers!r:.80}")
    team = _agents("hierarchy() workers:", tuple(workers))
    rounds = _rounds("hierarchy()", max_rounds)
    body = (
        step(supervisor_turn)
        >> boss
        >> branch(
            {
                Final: step(final_result),
                Delegate: step(subtasks_of) >> zip_all(*team) >> step(go_on),
            }
        )
    )
    return loop_with_state(body, None, max_iter=rounds)


# -- debate -----------------------------------------------------------------------------------


@final
@frozen
class DebateTurn(Generic[V]):
    """What each debater receives: the ``question`` and every debater's ``answers`` of the
    round before, in debater order (empty in the first round)."""

    question: V
    answers: tuple[Any, ...] = ()


@final
@frozen
class Debate(Generic[V]):
    """What the arbiter receives: the ``question``, the last round's ``answers`` in debater
    order, and whether the debaters ``agreed`` (else the rounds ran out)."""

    question: V
    answers: tuple[Any, ...]
    agreed: bool


def debate_turn(pair: tuple[Any, Debate[Any] | None]) -> DebateTurn[Any]:
    question, last = pair
    return DebateTurn(question, () if last is None else last.answers)


def debate_round(pair: tuple[DebateTurn[Any], tuple[Any, ...]]) -> Debate[Any]:
    turn, answers = pair
    return Debate(turn.question, answers, agreed=False)


def unanimous(round_: Debate[Any]) -> bool:
    """Every debater gave the same answer."""
    return all(answer == round_.answers[0] for answer in round_.answers)


def agreed(round_: Debate[Any]) -> Done[Debate[Any]]:
    return Done(Debate(round_.question, round_.answers, agreed=True))


def disagreed(round_: Debate[Any]) -> Continue[Debate[Any]]:
    return Continue(round_)


def debate(
    debaters: list[Flow[Any, Any] | type] | tuple[Flow[Any, Any] | type, ...],
    arbiter: Flow[Any, Any] | type,
    *,
    max_rounds: int,
    agreement: Callable[[Debate[Any]], bool] = unanimous,
) -> Flow[Any, Any]:
    """Debaters answer a `DebateTurn` concurrently, round after round, each seeing the others'
    last answers; the rounds stop early once ``agreement`` holds (by default `unanimous`), or
    after ``max_rounds``; then the arbiter decides on the `Debate`.

    >>> from playbill import simulate
    >>> settle = step(lambda turn: max(turn.answers, default=0) + 1)
    >>> judge = step(lambda held: (held.answers, held.agreed))
    >>> simulate(debate([settle, settle], judge, max_rounds=3).to_program("q")).value
    ((1, 1), True)
    """
    team = _agents("debate() debaters:", tuple(debaters))
    judge = as_flow("debate() arbiter", arbiter)
    rounds = _rounds("debate()", max_rounds)
    check_callable("debate() agreement", agreement, "a predicate")
    unchanged: Flow[Any, Any] = identity()
    body = (
        step(debate_turn)
        >> unchanged.zip(at_least(len(team), *team) >> step(in_agent_order))
        >> step(debate_round)
        >> branch_on(agreement, step(agreed), step(disagreed))
    )
    return loop_with_state(body, None, max_iter=rounds, on_limit="last") >> judge


# -- evaluator-optimizer ----------------------------------------------------------------------


@final
@frozen
class Attempt(Generic[V]):
    """What the optimizer receives: the ``task``, its last ``draft`` and the evaluator's
    ``feedback`` on it (both ``None`` on the first attempt), and the ``round`` (from 1)."""

    task: V
    draft: Any = None
    feedback: Any = None
    round: int = 1


@final
@frozen
class Draft(Generic[V]):
    """What the evaluator receives: the ``task``, the optimizer's ``text``, the ``round``."""

    task: V
    text: Any
    round: int


@final
@frozen
class Evaluation:
    """The evaluator's answer: ``accepted``, else what to improve (``feedback``)."""

    accepted: bool
    feedback: Any = None


def attempt_of(pair: tuple[Any, tuple[Draft[Any], Evaluation] | None]) -> Attempt[Any]:
    task, last = pair
    if last is None:
        return Attempt(task)
    draft, evaluation = last
    return Attempt(task, draft.text, evaluation.feedback, draft.round + 1)


def draft_of(pair: tuple[Attempt[Any], Any]) -> Draft[Any]:
    attempt, text = pair
    return Draft(attempt.task, text, attempt.round)


def judged(pair: tuple[Draft[Any], Evaluation]) -> Any:
    draft, evaluation = pair
    if not isinstance(evaluation, Evaluation):
        raise InvalidArgument(
            f"an evaluator_optimizer() evaluator must answer an Evaluation, got "
            f"{evaluation!r:.80} ({type(evaluation).__name__})"
        )
    return Done(draft.text) if evaluation.accepted else Continue(pair)


def evaluator_optimizer(
    optimizer: Flow[Any, Any] | type,
    evaluator: Flow[Any, Any] | type,
    *,
    max_rounds: int,
) -> Flow[Any, Any]:
    """The optimizer drafts (from an `Attempt`), the evaluator judges the `Draft` (an
    `Evaluation`), round after round until one is accepted: the output is that draft's text.
    Past ``max_rounds``, `LoopLimitExceeded` (its ``last`` holds the last draft and
    evaluation).

    >>> from playbill import simulate
    >>> write = step(lambda attempt: attempt.task + "!" * attempt.round)
    >>> judge = step(lambda draft: Evaluation(draft.text.endswith("!!"), "louder"))
    >>> simulate(evaluator_optimizer(write, judge, max_rounds=3).to_program("hey")).value
    'hey!!'
    """
    writing = as_flow("evaluator_optimizer() optimizer", optimizer)
    judging = as_flow("evaluator_optimizer() evaluator", evaluator)
    rounds = _rounds("evaluator_optimizer()", max_rounds)
    attempts: Flow[Any, Any] = identity()
    drafts: Flow[Any, Any] = identity()
    body = (
        step(attempt_of)
        >> attempts.zip(writing)
        >> step(draft_of)
        >> drafts.zip(judging)
        >> step(judged)
    )
    return loop_with_state(body, None, max_iter=rounds)


# the named functions and types the team flows are made of, for `moa_registry`
TEAM_NAMES: dict[str, object] = {
    "moa.in_agent_order": in_agent_order,
    "moa.route_of": route_of,
    "moa.is_first_route": is_first_route,
    "moa.next_route": next_route,
    "moa.routed_value": routed_value,
    "moa.router_turn": router_turn,
    "moa.turn_finished": turn_finished,
    "moa.turn_outputs": turn_outputs,
    "moa.turn_choice": turn_choice,
    "moa.stateful_route_of": stateful_route_of,
    "moa.next_turn": next_turn,
    "moa.supervisor_turn": supervisor_turn,
    "moa.subtasks_of": subtasks_of,
    "moa.final_result": final_result,
    "moa.go_on": go_on,
    "moa.Final": Final,
    "moa.Delegate": Delegate,
    "moa.debate_turn": debate_turn,
    "moa.debate_round": debate_round,
    "moa.unanimous": unanimous,
    "moa.agreed": agreed,
    "moa.disagreed": disagreed,
    "moa.attempt_of": attempt_of,
    "moa.draft_of": draft_of,
    "moa.judged": judged,
}
