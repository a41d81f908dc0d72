"""The Flow laws, each checked under the simulator across many schedules (the ``ci`` profile
draws 1,000 examples a law: 14,000 schedules in all)."""

import pytest
from hypothesis import settings

from playbill.flow import identity, step
from playbill.testing import flow_outcome
from playbill.testing.laws import FLOW_LAWS, FlowLaw, check_flow_law


@pytest.mark.parametrize("law", FLOW_LAWS, ids=lambda law: law.name)
def test_flow_law(law: FlowLaw) -> None:
    check_flow_law(law)


def test_the_checker_fails_a_broken_law() -> None:
    def broken(value, schedule, flow):  # type: ignore[no-untyped-def]
        # claims f >> negate == f: false for almost any f
        left, right = flow >> step(lambda n: -n), flow
        from playbill.testing.laws import assert_flows_equivalent

        assert_flows_equivalent(left, right, value, schedule)

    law = FlowLaw("broken", "f >> negate == f", ("flow",), broken)
    with pytest.raises(AssertionError, match="not equivalent"):
        check_flow_law(law, hypothesis_settings=settings(max_examples=50, database=None))


def test_flow_outcome_sees_value_and_time() -> None:
    assert flow_outcome(identity(), 3) == ("value", 3, 0.0)
