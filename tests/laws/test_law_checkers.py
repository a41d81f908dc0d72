"""The law checkers themselves: handler factories (a fresh map per side), strategies for
unknown roles refused, and a tidy public surface of ``playbill.testing.laws``."""

import re
from typing import Any

import pytest
from attrs import frozen
from hypothesis import settings
from hypothesis import strategies as st

from playbill import Effect, InvalidArgument, perform
from playbill.flow import step
from playbill.testing import laws
from playbill.testing.laws import (
    FLOW_LAWS,
    MONAD_LAWS,
    FlowLaw,
    assert_equivalent,
    assert_flows_equivalent,
    check_flow_law,
    check_law,
    equation,
)

FEW = settings(max_examples=10, database=None)


@frozen
class Count(Effect[int]):
    """A stateful fake answers it: 1, then 2, then 3 ..."""


def counting_fakes() -> dict[type, Any]:
    calls = [0]

    def count(effect: Count) -> int:
        calls[0] += 1
        return calls[0]

    return {Count: count}


SAME_PROGRAM = equation("reflexivity", "p == p", ("program",), lambda p: (p, p))
COUNTS = {"program": st.just(perform(Count()))}


def test_check_law_calls_a_handler_factory_once_per_side():
    check_law(SAME_PROGRAM, strategies=COUNTS, handlers=counting_fakes, hypothesis_settings=FEW)


def test_a_shared_stateful_map_carries_the_left_side_into_the_right():
    # what the factory is for: one map for both sides makes p == p false
    with pytest.raises(AssertionError, match="not observationally equivalent"):
        check_law(
            SAME_PROGRAM, strategies=COUNTS, handlers=counting_fakes(), hypothesis_settings=FEW
        )


def test_assert_equivalent_takes_a_handler_factory():
    assert_equivalent(perform(Count()), perform(Count()), counting_fakes)


def same_flow(value: Any, schedule: Any, flow: Any) -> None:
    assert_flows_equivalent(flow, flow, value, schedule)


SAME_FLOW = FlowLaw("reflexivity", "f == f", ("flow",), same_flow)
COUNTING_FLOWS = {"flow": st.just(step(lambda n: perform(Count())))}


def test_check_flow_law_calls_a_handler_factory_once_per_side():
    check_flow_law(
        SAME_FLOW, strategies=COUNTING_FLOWS, handlers=counting_fakes, hypothesis_settings=FEW
    )
    with pytest.raises(AssertionError, match="not equivalent"):
        check_flow_law(
            SAME_FLOW,
            strategies=COUNTING_FLOWS,
            handlers=counting_fakes(),
            hypothesis_settings=FEW,
        )


def test_an_unknown_role_in_check_law_lists_the_valid_roles():
    with pytest.raises(InvalidArgument) as raised:
        check_law(MONAD_LAWS[1], strategies={"progam": st.just(None)})
    message = str(raised.value)
    assert "unknown role(s) ['progam']" in message
    assert re.search(r"valid roles are \[.*'kleisli'.*'program'.*'value'\]", message)


def test_an_unknown_role_in_check_flow_law_lists_the_valid_roles():
    with pytest.raises(InvalidArgument) as raised:
        check_flow_law(FLOW_LAWS[0], strategies={"flows": st.just(None)})
    message = str(raised.value)
    assert "unknown role(s) ['flows']" in message
    assert re.search(r"valid roles are \[.*'flow'.*'input'.*'schedule'.*\]", message)


def test_a_role_without_strategy_is_an_invalid_argument():
    custom = equation("custom", "x == x", ("widget",), lambda w: (w, w))
    with pytest.raises(
        InvalidArgument, match=r"no strategy for the argument role\(s\) \['widget'\]"
    ):
        check_law(custom)
    # a custom law's own role given a strategy is valid
    check_law(
        custom,
        strategies={"widget": st.just(perform(Count()))},
        handlers=counting_fakes,
        hypothesis_settings=FEW,
    )


def test_the_laws_module_lists_only_its_public_names():
    public = {name for name in dir(laws) if not name.startswith("_")}
    assert public == set(laws.__all__)
    assert not {"st", "given", "Any"} & set(dir(laws))
