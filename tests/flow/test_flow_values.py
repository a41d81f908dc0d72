"""Flows are values at any depth: equality, hashing and ``repr`` walk the flow on an explicit
stack, with the answers attrs' generated methods give on shallow flows."""

import re
import sys
from typing import Any

import attrs
import pytest

from playbill import InvalidArgument
from playbill.actors import Backoff
from playbill.flow import Flow, branch, identity, loop_with_state, pure, race, step
from tests.flow.test_serialise import saveable


@pytest.fixture(autouse=True)
def default_recursion_limit() -> None:
    # The point of these tests is the default limit: nothing may have raised it.
    assert sys.getrecursionlimit() <= 1000


def inc(n: int) -> int:
    return n + 1


def nested(depth: int, innermost: Any = 0) -> Flow[Any, Any]:
    """A flow ``depth`` nodes deep, through every kind of wrapper in turn."""
    wrappers = [
        lambda f: f.map(inc),
        lambda f: f.zip(identity()),
        lambda f: identity() >> f.timeout(5),
        lambda f: f.retry(2, Backoff(jitter=0.0)),
        lambda f: race(f, identity()),
        lambda f: branch({int: f}, otherwise=identity()),
        lambda f: f.fallback_to(identity()).recover(inc),
        lambda f: loop_with_state(f, (1, "state"), max_iter=3),
    ]
    built: Flow[Any, Any] = pure(innermost)
    for index in range(depth):
        built = wrappers[index % len(wrappers)](built)
    return built


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deep_flows_compare_and_hash(depth: int) -> None:
    first, second = nested(depth), nested(depth)
    assert first == second
    assert hash(first) == hash(second)
    assert first != nested(depth, innermost=1)  # differs only at the very bottom
    assert len({first, second}) == 1


def test_a_deep_flow_has_the_repr_of_a_shallow_one_continued() -> None:
    text = repr(nested(5_000))
    assert text.startswith("LoopWithState(body=Recover(flow=FallbackTo(flow=Branch(cases=((<cl")
    assert text.count("Pure(value=0)") == 1
    assert text.endswith("initial=(1, 'state'), max_iter=3, on_limit='fail')")


def test_a_deep_flow_given_where_a_function_belongs_is_a_clear_error() -> None:
    deep = nested(5_000)
    with pytest.raises(InvalidArgument, match=r"must be a function, got a LoopWithState: LoopWith"):
        step(deep)


def _mirror(value: Any, classes: dict[type, type]) -> Any:
    """``value`` rebuilt from plain attrs classes of the same names and fields, so that its
    ``repr`` is the one attrs generates."""
    if isinstance(value, tuple):
        return tuple(_mirror(item, classes) for item in value)
    if not isinstance(value, Flow):
        return value
    kind = type(value)
    names = [field.name for field in attrs.fields(kind)]
    if kind not in classes:
        classes[kind] = attrs.make_class(kind.__name__, names, repr=True)
    return classes[kind](*(_mirror(getattr(value, name), classes) for name in names))


def test_the_repr_is_the_one_attrs_generates() -> None:
    for flow in [saveable(), nested(40), identity(), race(step(inc), identity())]:
        assert repr(flow) == repr(_mirror(flow, {}))
    assert re.fullmatch(r"Step\(function=<function inc at 0x[0-9a-f]+>\)", repr(step(inc)))


def test_flows_compare_by_fields_and_functions_by_identity() -> None:
    assert step(inc).map(str) == step(inc).map(str)
    assert step(inc) != step(lambda n: n + 1)
    assert pure(1) == pure(1.0)
    assert hash(pure(1)) == hash(pure(1.0))
    assert pure(1) != identity()
    assert pure(1).__eq__(1) is NotImplemented
    assert identity().zip(identity()) == identity().zip(identity())
    assert hash(identity().zip(step(inc))) == hash(identity().zip(step(inc)))


def test_a_flow_class_that_is_not_attrs_is_a_value_by_identity() -> None:
    class Opaque(Flow[Any, Any]):
        kind = "opaque"

    first, second = Opaque(), Opaque()
    assert first == first
    assert first != second
    assert hash(first) == object.__hash__(first)
    assert re.fullmatch(r"<[\w.<>]+\.Opaque object at 0x[0-9a-f]+>", repr(first))
    assert identity().zip(first) != identity().zip(second)
    assert hash(identity().zip(first)) == hash(identity().zip(first))
