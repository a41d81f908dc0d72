"""Hypothesis strategies for Flows over a registry of small integer steps, and the observation
the Flow laws compare: a flow's outcome and finishing time under the simulator."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from hypothesis import strategies as st

from playbill.actors import Actor, Backoff
from playbill.effects import Program, pure, sleep
from playbill.effects._handlers import HandlerFactory, Handlers
from playbill.flow import (
    Continue,
    Done,
    Flow,
    Registry,
    at_least,
    branch,
    branch_on,
    identity,
    loop,
    loop_with_state,
    race,
    step,
    zip_all,
)
from playbill.flow import actor as actor_leaf
from playbill.flow import pure as pure_leaf
from playbill.interpreters.simulation import Schedule, simulate

__all__ = ["flow_documents", "flow_outcome", "flow_registry", "flows"]


# -- the registered building blocks: integers in, integers out ---------------------------------


def inc(n: int) -> int:
    return n + 1


def double(n: int) -> int:
    return n * 2


def negate(n: int) -> int:
    return -n


def fail_if_odd(n: int) -> int:
    if n % 2:
        raise ValueError(f"odd: {n}")
    return n


def slow_inc(n: int) -> Program[int]:
    """``n + 1`` after one virtual second: gives parallel parts something to interleave."""
    return sleep(1).then(pure(n + 1))


def slower_double(n: int) -> Program[int]:
    return sleep(2).then(pure(n * 2))


def is_even(n: int) -> bool:
    return n % 2 == 0


def is_positive(n: int) -> bool:
    return n > 0


def zero_on_error(error: Exception) -> int:
    return 0


def inc_on_error(error: Exception) -> Flow[Any, Any]:
    return step(inc)


def by_parity(n: int) -> Flow[Any, Any]:
    return step(inc) if n % 2 else step(double)


def pair_up(n: int) -> tuple[int, int]:
    return (n, n)


def add_pair(pair: tuple[int, int]) -> int:
    return pair[0] + pair[1]


def add_quorum(result: Any) -> int:
    return int(sum(result.succeeded))


def decide(n: int) -> Any:
    """A loop step: done on multiples of 3, otherwise round again with ``n - 1``."""
    return Done(n) if n % 3 == 0 else Continue(n - 1)


def decide_with_state(pair: tuple[int, int]) -> Any:
    value, state = pair
    return Done(value + state) if state >= 2 else Continue(state + 1)


def ignore(value: object) -> None:
    return None


class Incrementer(Actor):
    """Replies ``n + 1``: an actor leaf."""

    def receive(self, message: Any) -> Any:
        return message + 1


_FUNCTIONS = (inc, double, negate, fail_if_odd, slow_inc, slower_double)
INT_FUNCTIONS = (inc, double, negate, fail_if_odd)
TOTAL_FUNCTIONS = (inc, double, negate)


def flow_registry() -> Registry:
    """A registry holding every building block the strategies use (functions, predicates, the
    `Incrementer` actor, ``int`` and ``str`` for branches)."""
    registry = Registry()
    for thing in (
        *_FUNCTIONS,
        is_even,
        is_positive,
        zero_on_error,
        inc_on_error,
        by_parity,
        pair_up,
        add_pair,
        add_quorum,
        decide,
        decide_with_state,
        ignore,
        Incrementer,
    ):
        registry.register(thing)
    registry.register(int, name="int")
    registry.register(str, name="str")
    return registry


# -- strategies -----------------------------------------------------------------------------


def _leaves(actors: bool) -> st.SearchStrategy[Flow[Any, Any]]:
    options = [
        st.sampled_from(_FUNCTIONS).map(step),
        st.integers(-5, 5).map(pure_leaf),
        st.just(identity()),
    ]
    if actors:
        options.append(st.just(actor_leaf(Incrementer)))
    return st.one_of(*options)


def _extend(
    children: st.SearchStrategy[Flow[Any, Any]], parallel: bool
) -> st.SearchStrategy[Flow[Any, Any]]:
    two = st.tuples(children, children)
    options: list[st.SearchStrategy[Flow[Any, Any]]] = [
        two.map(lambda pair: pair[0] >> pair[1]),
        st.tuples(children, st.sampled_from(INT_FUNCTIONS)).map(lambda p: p[0].map(p[1])),
        children.map(lambda flow: flow.flat_map(by_parity)),
        two.map(lambda pair: pair[0].zip(pair[1]).map(add_pair)),
        two.map(lambda pair: step(pair_up) >> zip_all(*pair) >> step(add_pair)),
        two.map(lambda pair: branch({str: pair[1], int: pair[0]})),
        st.tuples(st.sampled_from((is_even, is_positive)), children, children).map(
            lambda triple: branch_on(*triple)
        ),
        children.map(lambda flow: flow.recover(zero_on_error)),
        children.map(lambda flow: flow.recover_with(inc_on_error)),
        two.map(lambda pair: pair[0].fallback_to(pair[1])),
        two.map(lambda pair: pair[0].divert_to(pair[1])),
        st.tuples(children, st.integers(1, 4)).map(
            lambda p: loop(p[0] >> step(decide), max_iter=p[1], on_limit="last")
        ),
        st.tuples(children, st.integers(1, 4)).map(
            lambda p: p[0] >> loop_with_state(step(decide_with_state), 0, max_iter=p[1])
        ),
        children.map(lambda flow: flow.filter(is_even)),
        children.map(lambda flow: flow.tap(ignore)),
        children.map(lambda flow: flow.and_then(ignore)),
        st.tuples(children, st.sampled_from((0.5, 1.5, 100.0))).map(lambda p: p[0].timeout(p[1])),
        st.tuples(children, st.integers(1, 3)).map(
            lambda p: p[0].retry(p[1], Backoff(initial=0.5, multiplier=2.0, jitter=0.0))
        ),
    ]
    if parallel:
        options.append(two.map(lambda pair: race(*pair)))
        options.append(
            st.tuples(st.lists(children, min_size=1, max_size=3), st.integers(1, 3)).map(
                lambda p: at_least(min(p[1], len(p[0])), *p[0]).map(add_quorum)
            )
        )
    return st.one_of(*options)


def flows(
    *, max_leaves: int = 6, parallel: bool = False, actors: bool = True
) -> st.SearchStrategy[Flow[Any, Any]]:
    """Random ``int -> int`` flows of every combinator over the `flow_registry` blocks (so
    they can be saved), with sleeps so that parallel parts interleave.

    ``parallel=True`` adds `race` and `at_least`, whose outcome may depend on the schedule
    when two parts finish at the same virtual time; without them a flow's outcome and finishing
    time are the same under every schedule, which the equational laws rely on.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(flows())
    ... def test_flows_run(flow):
    ...     assert flow_outcome(flow, 1)[0] in ("value", "error")
    >>> test_flows_run()
    """
    return st.recursive(
        _leaves(actors), lambda children: _extend(children, parallel), max_leaves=max_leaves
    )


LAW_HANDLERS: ContextVar[Handlers | HandlerFactory | None] = ContextVar(
    "playbill_law_handlers", default=None
)
"""The handlers ``check_flow_law(..., handlers=...)`` gives the runs of the law it checks."""


def flow_outcome(
    flow: Flow[Any, Any],
    value: Any,
    schedule: Schedule | None = None,
    handlers: Handlers | HandlerFactory | None = None,
) -> tuple[Any, ...]:
    """What a law compares: ``("value", v, clock)`` or ``("error", clock)`` — the time the
    flow itself ended (its side flows are not waited for) — every failure
    is the same (when two parallel parts fail at one virtual instant, which error wins is the
    schedule's choice) — of running ``flow`` on ``value`` in the simulator under
    ``schedule``; a deadlock or step limit is an outcome of its own. ``handlers`` (a map, or
    a factory called for this run) default to those `check_flow_law` was given."""
    program = flow.to_program(value, events=False, wait_for_side_flows=False)
    if handlers is None:
        handlers = LAW_HANDLERS.get()
    result = simulate(program, schedule=schedule, max_steps=20_000, handlers=handlers)
    if result.status == "completed":
        return ("value", result.value, result.clock)
    if result.status == "failed":
        return ("error", result.clock)
    return (result.status,)


# -- documents, good and bad ------------------------------------------------------------------

_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["step", "then", "kind", "format", "inc", "flows", "steps", "__import__"]),
)


def _junk() -> st.SearchStrategy[Any]:
    return st.recursive(
        _JSON_LEAVES,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.sampled_from(
                    [
                        "kind",
                        "flow",
                        "steps",
                        "flows",
                        "function",
                        "k",
                        "max_iter",
                        "body",
                        "on_true",
                        "cases",
                        "type",
                        "value_ref",
                        "backoff",
                        "x",
                    ]
                )
                | st.text(max_size=5),
                inner,
                max_size=4,
            ),
        ),
        max_leaves=12,
    )


def flow_documents(registry: Registry | None = None) -> st.SearchStrategy[Any]:
    """Documents to feed ``from_dict``: valid ones saved from random flows, the same with a
    random part replaced by junk, and pure junk. Loading any of them must give a Flow or a
    `FlowSpecError`, nothing else."""
    from playbill.flow import FORMAT, to_dict

    names = registry if registry is not None else flow_registry()
    valid = flows(parallel=True).map(lambda flow: to_dict(flow, names))

    @st.composite
    def corrupted(draw: st.DrawFn) -> Any:
        return _replace_somewhere(draw(valid), draw(_junk()), draw(st.randoms()))

    junk = _junk().map(lambda body: {"format": FORMAT, **body} if isinstance(body, dict) else body)
    return st.one_of(valid, corrupted(), junk)


def _replace_somewhere(document: Any, junk: Any, chooser: Any) -> Any:
    """A copy of ``document`` with one randomly chosen node or field replaced by ``junk``."""
    if isinstance(document, dict) and document and chooser.random() < 0.7:
        key = chooser.choice(sorted(document, key=str))
        if key == "format" and chooser.random() < 0.8:
            return document
        return {**document, key: _replace_somewhere(document[key], junk, chooser)}
    if isinstance(document, list) and document and chooser.random() < 0.7:
        index = chooser.randrange(len(document))
        copy = list(document)
        copy[index] = _replace_somewhere(copy[index], junk, chooser)
        return copy
    return junk
