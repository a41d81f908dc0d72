"""Building flows: values, validation with clear errors, flat chains."""

from typing import Any

import pytest

from playbill import InvalidArgument
from playbill.flow import (
    Flow,
    actor,
    at_least,
    branch,
    branch_on,
    call,
    identity,
    loop,
    loop_with_state,
    pure,
    race,
    step,
    zip_all,
)


def inc(n: int) -> int:
    return n + 1


def test_flows_are_values_compared_by_structure() -> None:
    assert step(inc) >> step(str) == step(inc) >> step(str)
    assert step(inc) != step(str)
    assert hash(step(inc).map(str)) == hash(step(inc).map(str))


def test_chains_stay_flat_whichever_way_they_nest() -> None:
    left = (step(inc) >> step(inc)) >> step(inc)
    right = step(inc) >> (step(inc) >> step(inc))
    assert left == right
    assert len(left.steps) == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: at_least(0, step(inc)), "k must be an integer >= 1"),
        (lambda: at_least(3, step(inc), step(inc)), "k=3 is more than the 2 flow"),
        (lambda: at_least(1), "at least one flow"),
        (lambda: at_least(True, step(inc)), "k must be an integer"),
        (lambda: loop(step(inc), max_iter=0), "loop max_iter must be an integer >= 1"),
        (lambda: loop_with_state(step(inc), 0, max_iter=-1), "max_iter must be an integer"),
        (lambda: loop(step(inc), max_iter=3, on_limit="maybe"), "on_limit must be"),  # type: ignore[arg-type]
        (lambda: step(inc).timeout(0), "seconds must be positive"),
        (lambda: step(inc).timeout(float("nan")), "seconds must be positive"),
        (lambda: step(inc).retry(0), "retry attempts must be an integer >= 1"),
        (lambda: step(42), "must be a function"),  # type: ignore[arg-type]
        (lambda: step(inc) >> 3, "then(...) takes a Flow"),  # type: ignore[operator]
        (lambda: step(inc).zip(inc), "zip(...) takes a Flow"),  # type: ignore[arg-type]
        (lambda: race(), "needs at least 1 flow"),
        (lambda: zip_all(step(inc), "x"), "zip_all argument 1 takes a Flow"),  # type: ignore[arg-type]
        (lambda: branch({}), "at least one (type, flow) case"),
        (lambda: branch({"int": identity()}), "must be a (type, Flow) pair"),  # type: ignore[dict-item]
        (lambda: branch_on(inc, identity(), 3), "on_false takes a Flow"),  # type: ignore[arg-type]
        (lambda: call(""), "call() target must be an actor path"),
        (lambda: actor("Echo"), "must be a function"),  # type: ignore[arg-type]
        (lambda: actor(dict, ask_timeout=-1), "ask_timeout must be positive"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(build: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_at_least_errors_are_value_errors_as_in_the_peer() -> None:
    for bad in (
        lambda: at_least(0, step(inc)),
        lambda: at_least(2, step(inc)),
        lambda: at_least(1),
    ):
        with pytest.raises(ValueError):
            bad()


def test_every_node_is_a_flow_with_a_kind() -> None:
    from playbill.flow._nodes import KINDS

    assert len(KINDS) == 25
    assert all(issubclass(cls, Flow) for cls in KINDS.values())
    assert pure(1).kind == "pure"


def _of_the_input(text: str) -> str:
    return text


@pytest.mark.parametrize("factory", [_of_the_input, lambda a, b: a])
def test_an_actor_leaf_refuses_a_factory_that_needs_arguments_pointing_at_step(factory):
    with pytest.raises(
        InvalidArgument, match=r"needs arguments; for a function of the input use step"
    ):
        actor(factory)


def test_a_leaf_names_its_public_constructor_when_its_function_is_not_callable():
    with pytest.raises(InvalidArgument, match=r"actor\(\) factory"):
        actor(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"step\(\) function"):
        step(42)  # type: ignore[arg-type]
