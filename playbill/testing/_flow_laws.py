"""The laws of Flow, checked under the simulator across many schedules.

Each law draws flows (`playbill.testing.flows`), an input and a schedule; both sides run in the
simulator under that schedule and must agree on their outcome and finishing time
(`flow_outcome`). The flows drawn for equations have no `race` or `at_least`, so their outcome
is the same under every schedule; the race and quorum laws predict the set of outcomes from
each part run alone, and check that every schedule lands in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from playbill.effects import InvalidArgument, Program, now
from playbill.effects._handlers import HandlerFactory, Handlers
from playbill.flow import (
    Continue,
    Done,
    Flow,
    Registry,
    at_least,
    from_dict,
    identity,
    loop,
    step,
    to_dict,
)
from playbill.flow import pure as pure_leaf
from playbill.flow import race as race_flow
from playbill.flow._nodes import FallbackTo, Then
from playbill.interpreters.simulation import Schedule, simulate
from playbill.testing._flows import (
    INT_FUNCTIONS,
    LAW_HANDLERS,
    TOTAL_FUNCTIONS,
    decide,
    flow_outcome,
    flow_registry,
    flows,
    zero_on_error,
)
from playbill.testing._schedules import schedules

__all__ = [
    "FLOW_LAWS",
    "assert_flows_equivalent",
    "check_flow_law",
    "flow_strategies",
]


def flow_strategies() -> dict[str, st.SearchStrategy[Any]]:
    """The strategy for each argument role of the Flow laws."""
    deterministic = flows()
    return {
        "flow": deterministic,
        "other": deterministic,
        "third": deterministic,
        "function": st.sampled_from(INT_FUNCTIONS),
        "second_function": st.sampled_from(INT_FUNCTIONS),
        "total_function": st.sampled_from(TOTAL_FUNCTIONS),
        "second_total_function": st.sampled_from(TOTAL_FUNCTIONS),
        "input": st.integers(-6, 6),
        "schedule": schedules(max_choices=60),
        "some_flows": st.lists(deterministic, min_size=1, max_size=4),
        "k": st.integers(1, 4),
        "rounds": st.integers(2, 5),
        "any_flow": flows(parallel=True),
    }


def assert_flows_equivalent(
    left: Flow[Any, Any],
    right: Flow[Any, Any],
    value: Any,
    schedule: Schedule | None = None,
    handlers: Handlers | HandlerFactory | None = None,
) -> None:
    """Raise ``AssertionError`` unless both flows, run on ``value`` in the simulator under
    ``schedule``, give the same outcome at the same virtual time. ``handlers`` may be a
    factory: each side gets a fresh map.

    >>> from playbill.flow import identity, step
    >>> assert_flows_equivalent(identity() >> step(abs), step(abs), -3)
    """
    seen_left = flow_outcome(left, value, schedule, handlers)
    seen_right = flow_outcome(right, value, schedule, handlers)
    if seen_left != seen_right:
        raise AssertionError(
            f"the flows are not equivalent on {value!r} under schedule {schedule}\n"
            f"  left:  {left!r}\n    gives {seen_left!r}\n"
            f"  right: {right!r}\n    gives {seen_right!r}"
        )


class FlowLaw:
    """A law of Flow: its name, its statement, its argument roles, and ``verify``."""

    def __init__(self, name: str, statement: str, arguments: tuple[str, ...], verify: Any) -> None:
        self.name = name
        self.statement = statement
        self.arguments = arguments
        self.verify = verify

    def __repr__(self) -> str:
        return f"FlowLaw({self.name}: {self.statement})"


def _equation(name: str, statement: str, arguments: tuple[str, ...], sides: Any) -> FlowLaw:
    def verify(value: Any, schedule: Schedule, *drawn: Any) -> None:
        left, right = sides(*drawn)
        assert_flows_equivalent(left, right, value, schedule)

    return FlowLaw(name, statement, arguments, verify)


def check_flow_law(
    law: FlowLaw,
    *,
    handlers: Handlers | HandlerFactory | None = None,
    strategies: Mapping[str, st.SearchStrategy[Any]] | None = None,
    hypothesis_settings: settings | None = None,
) -> None:
    """Check ``law`` on many drawn flows, inputs and schedules (as many examples as the
    loaded Hypothesis profile says).

    ``strategies`` overrides the strategy of a role (`flow_strategies` lists them, with
    ``"input"`` and ``"schedule"``); ``handlers`` answer the flows' own effects in every run
    of the law — a function of no arguments that returns a map is called once per side, so
    stateful fakes start anew.

    >>> check_flow_law(FLOW_LAWS[0], hypothesis_settings=settings(max_examples=5))
    """
    roles = ("input", "schedule", *law.arguments)
    chosen = chosen_strategies("check_flow_law", law, flow_strategies(), strategies, roles)

    @given(st.tuples(*(chosen[role] for role in roles)))
    def check(drawn: tuple[Any, ...]) -> None:
        token = LAW_HANDLERS.set(handlers)
        try:
            law.verify(*drawn)
        finally:
            LAW_HANDLERS.reset(token)

    if hypothesis_settings is not None:
        check = hypothesis_settings(check)
    check()


def chosen_strategies(
    checker: str,
    law: object,
    defaults: dict[str, st.SearchStrategy[Any]],
    strategies: Mapping[str, st.SearchStrategy[Any]] | None,
    roles: tuple[str, ...],
) -> dict[str, st.SearchStrategy[Any]]:
    """The defaults overridden by ``strategies``, refusing a role that no law knows (a typo
    would otherwise be ignored) and a role of ``law`` that has no strategy."""
    given_roles = dict(strategies or {})
    valid = sorted({*defaults, *roles})
    unknown = sorted(role for role in given_roles if role not in valid)
    if unknown:
        raise InvalidArgument(
            f"{checker}'s strategies= names the unknown role(s) {unknown} for {law!r}; the "
            f"valid roles are {valid}"
        )
    chosen = {**defaults, **given_roles}
    missing = [role for role in roles if role not in chosen]
    if missing:
        raise InvalidArgument(
            f"{checker} has no strategy for the argument role(s) {missing} of {law!r}; give "
            f"one in strategies={{{missing[0]!r}: ...}}"
        )
    return chosen


# -- helpers ------------------------------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _flatten_left(nested: tuple[tuple[Any, Any], Any]) -> tuple[Any, Any, Any]:
    return (nested[0][0], nested[0][1], nested[1])


def _flatten_right(nested: tuple[Any, tuple[Any, Any]]) -> tuple[Any, Any, Any]:
    return (nested[0], nested[1][0], nested[1][1])


def _compose(first: Any, second: Any) -> Any:
    return lambda value: second(first(value))


def _both(first: Any, second: Any) -> Any:
    return lambda pair: (first(pair[0]), second(pair[1]))


def _unfold(body: Flow[Any, Any], rounds: int) -> Any:
    """The rest of a loop after its first round: done, or the loop again with one round less."""

    def rest(outcome: Any) -> Any:
        if isinstance(outcome, Done):
            return outcome.value
        assert isinstance(outcome, Continue)
        if rounds == 0:
            return outcome.value
        rest_of_loop = loop(body, max_iter=rounds, on_limit="last")
        return rest_of_loop.to_program(outcome.value, events=False, wait_for_side_flows=False)

    return rest


# -- the laws that need more than an equation -----------------------------------------------------


def _recover_on_success(value: Any, schedule: Schedule, flow: Flow[Any, Any]) -> None:
    alone = flow_outcome(flow, value, schedule)
    recovered = flow_outcome(flow.recover(zero_on_error), value, schedule)
    if alone[0] == "value":
        assert recovered == alone, f"recover changed a success: {alone} became {recovered}"
    else:
        assert recovered[0] == "value", f"recover let a failure through: {recovered}"


_REGISTRY: Registry | None = None


def _round_trip(value: Any, schedule: Schedule, flow: Flow[Any, Any]) -> None:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = flow_registry()
    loaded = from_dict(to_dict(flow, _REGISTRY), _REGISTRY)
    assert loaded == flow, f"from_dict(to_dict(flow)) is another flow:\n  {flow!r}\n  {loaded!r}"
    assert_flows_equivalent(loaded, flow, value, schedule)


def _stamp(value: Any) -> Program[tuple[Any, float]]:
    return now().map(lambda when: (value, when))


def _alone(flow: Flow[Any, Any], value: Any) -> tuple[bool, Any, float]:
    """Whether ``flow`` succeeds on ``value`` run alone, its value, and when it finished (not
    when the run ended: a diverted side flow may run on)."""
    stamped = (flow >> step(_stamp)).recover(lambda error: now().map(lambda when: (_FAILED, when)))
    result = simulate(
        stamped.to_program(value, events=False), max_steps=20_000, handlers=LAW_HANDLERS.get()
    )
    assert result.status == "completed", result.status
    outcome, when = result.value  # type: ignore[misc]
    return (outcome is not _FAILED, outcome, when)


_FAILED = object()


def _race_outcomes(
    value: Any, schedule: Schedule, flow: Flow[Any, Any], other: Flow[Any, Any]
) -> None:
    parts = [_alone(flow, value), _alone(other, value)]
    successes = [(when, result) for ok, result, when in parts if ok]
    allowed: set[tuple[str, str | None]]
    if successes:
        first = min(when for when, _ in successes)
        allowed = {("value", repr(result)) for when, result in successes if when == first}
    else:
        allowed = {("error", None)}
    for racers in ((flow, other), (other, flow)):
        result = simulate(
            race_flow(*racers).to_program(value, events=False),
            schedule=schedule,
            handlers=LAW_HANDLERS.get(),
        )
        seen = ("value", repr(result.value)) if result.status == "completed" else ("error", None)
        assert seen in allowed, (
            f"race{racers!r} on {value!r} gave {seen}; the earliest success wins, so only "
            f"{sorted(allowed)} may happen"
        )


def _quorum(value: Any, schedule: Schedule, some_flows: list[Flow[Any, Any]], k: int) -> None:
    k = min(k, len(some_flows))
    parts = [_alone(flow, value) for flow in some_flows]
    result = simulate(
        at_least(k, *some_flows).to_program(value, events=False),
        schedule=schedule,
        handlers=LAW_HANDLERS.get(),
    )
    wins = [i for i, (ok, _, _) in enumerate(parts) if ok]
    if len(wins) < k:
        assert result.status == "failed", f"at_least({k}) of {parts} should fail: {result.status}"
        assert type(result.error).__name__ == "QuorumNotReached"
        return
    assert result.status == "completed", (
        f"at_least({k}) of {parts} should succeed: {result.error!r}"
    )
    quorum: Any = result.value
    assert len(quorum.succeeded) == k == len(set(quorum.indices))
    for index, got in zip(quorum.indices, quorum.succeeded, strict=True):
        ok, expected, _ = parts[index]
        assert ok, f"flow {index} failed alone but counted in the quorum"
        assert got == expected
    chosen = max(parts[i][2] for i in quorum.indices)
    later = [parts[i][2] for i in wins if i not in quorum.indices]
    assert all(chosen <= when for when in later), "a later success beat an earlier one"


FLOW_LAWS: tuple[FlowLaw, ...] = (
    _equation(
        "then left identity",
        "identity() >> f == f",
        ("flow",),
        lambda f: (identity() >> f, f),
    ),
    _equation(
        "then right identity",
        "f >> identity() == f",
        ("flow",),
        lambda f: (f >> identity(), f),
    ),
    _equation(
        "then associativity",
        "(f >> g) >> h == f >> (g >> h), nested as written",
        ("flow", "other", "third"),
        lambda f, g, h: (Then((Then((f, g)), h)), Then((f, Then((g, h))))),
    ),
    _equation(
        "map identity",
        "f.map(id) == f",
        ("flow",),
        lambda f: (f.map(_identity), f),
    ),
    _equation(
        "map composition",
        "f.map(a).map(b) == f.map(b . a)",
        ("flow", "function", "second_function"),
        lambda f, a, b: (f.map(a).map(b), f.map(_compose(a, b))),
    ),
    _equation(
        "zip associativity",
        "f.zip(g).zip(h) == f.zip(g.zip(h)), up to re-tupling",
        ("flow", "other", "third"),
        lambda f, g, h: (f.zip(g).zip(h).map(_flatten_left), f.zip(g.zip(h)).map(_flatten_right)),
    ),
    _equation(
        "zip unit",
        "f.zip(pure(None)).map(first) == f",
        ("flow",),
        lambda f: (f.zip(pure_leaf(None)).map(_first), f),
    ),
    _equation(
        "zip naturality",
        "f.map(a).zip(g.map(b)) == f.zip(g).map(a x b), for a and b that never fail",
        ("flow", "other", "total_function", "second_total_function"),
        lambda f, g, a, b: (f.map(a).zip(g.map(b)), f.zip(g).map(_both(a, b))),
    ),
    FlowLaw(
        "recover on success",
        "f.recover(h) == f when f succeeds, and never fails when h does not",
        ("flow",),
        _recover_on_success,
    ),
    _equation(
        "fallback associativity",
        "(f | g) | h == f | (g | h), with | as fallback_to",
        ("flow", "other", "third"),
        lambda f, g, h: (FallbackTo(FallbackTo(f, g), h), FallbackTo(f, FallbackTo(g, h))),
    ),
    _equation(
        "loop unfolding",
        "loop(b, n) == b then (Done y: y | Continue x: loop(b, n - 1) on x)",
        ("flow", "rounds"),
        lambda f, n: (
            loop(f >> step(decide), max_iter=n, on_limit="last"),
            f >> step(decide) >> step(_unfold(f >> step(decide), n - 1)),
        ),
    ),
    FlowLaw(
        "serialisation round trip",
        "from_dict(to_dict(f)) == f, and behaves as f",
        ("any_flow",),
        _round_trip,
    ),
    FlowLaw(
        "race outcome",
        "race(f, g) and race(g, f) give the earliest success (either, on a tie), else fail",
        ("flow", "other"),
        _race_outcomes,
    ),
    FlowLaw(
        "at_least quorum",
        "at_least(k, fs) succeeds iff k of fs succeed, with the k earliest successes",
        ("some_flows", "k"),
        _quorum,
    ),
)
