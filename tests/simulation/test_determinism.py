"""The determinism self-check, and the failure message a test prints."""

import time
from typing import Any, ClassVar

import pytest

from playbill import Actor, NondeterminismError, explore, free_spawn, program
from playbill.testing import check_determinism
from tests.simulation.test_faults import five_asks


def test_a_deterministic_program_passes_the_check():
    check_determinism(five_asks(), seed=4)


class Shared(Actor):
    """Keeps a count in a class attribute: it survives from one run to the next."""

    total: ClassVar[int] = 0

    def receive(self, message: Any) -> Any:
        Shared.total += 1
        return Shared.total


@program
def uses_shared_state() -> Any:
    shared = yield free_spawn(Shared, name="shared")
    return (yield shared.free_ask("count"))


def test_state_shared_between_runs_is_reported_at_the_first_differing_step():
    with pytest.raises(NondeterminismError) as caught:
        check_determinism(uses_shared_state())
    message = str(caught.value)
    assert "the same seed gave two different runs" in message
    assert "first run,  step" in message
    assert "state shared between runs" in message


class Clocked(Actor):
    def receive(self, message: Any) -> Any:
        return time.time()  # the mistake: time read directly, not with now()


@program
def reads_the_wall_clock() -> Any:
    clocked = yield free_spawn(Clocked, name="clocked")
    return (yield clocked.free_ask("what time is it?"))


def test_a_direct_clock_call_is_named_with_its_place():
    with pytest.raises(NondeterminismError, match=r"time\.time\(\) at .*test_determinism\.py:\d+"):
        check_determinism(reads_the_wall_clock())


def test_a_failing_exploration_prints_the_replay_call():
    from tests.simulation.examples_path import two_deposits

    found = explore(two_deposits(), check=lambda result: result.value == 100, runs=500)
    with pytest.raises(AssertionError, match=r"replay it with\n    replay\(two_deposits\(\), 'v6:"):
        found.assert_passed("two_deposits()")
