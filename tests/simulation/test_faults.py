"""Faults as recorded choices: crashes, delays, timed-out asks, code-level fault points."""

from typing import Any

from hypothesis import given

from playbill import (
    Actor,
    Faults,
    InjectedFault,
    explore,
    free_spawn,
    maybe_fault,
    program,
    replay,
    run,
    simulate,
)
from playbill.actors import DeadLetterReason
from playbill.interpreters import stub
from playbill.testing import schedules
from tests.simulation.test_properties import three_senders


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


@program
def five_asks() -> Any:
    counter = yield free_spawn(Counter, name="counter")
    replies = []
    for n in range(5):
        replies.append((yield counter.free_ask(n).attempt()))
    return replies


def fault_lines(result: Any) -> list[str]:
    return [line.event for line in result.trace if line.event.startswith("fault:")]


def test_faults_are_off_by_default():
    result = simulate(five_asks(), seed=3)
    assert fault_lines(result) == []
    assert [reply.unwrap() for reply in result.value] == [1, 2, 3, 4, 5]


def test_a_crash_keeps_the_message_for_the_restarted_instance():
    result = simulate(five_asks(), seed=1, faults=Faults(crash=0.3))
    assert result.ok
    assert fault_lines(result)  # some crashes happened
    assert any("decides RESTART" in line.event for line in result.trace)
    # every ask was answered (by a fresh instance after a crash: its count started over)
    assert all(reply.value_or(None) is not None for reply in result.value)


def test_an_actor_that_always_crashes_exhausts_its_restart_budget():
    result = simulate(five_asks(), seed=1, faults=Faults(crash=1.0))
    assert result.status == "failed"
    assert type(result.error).__name__ == "ActorSystemFailed"
    assert isinstance(result.error.__cause__, InjectedFault)


def test_explore_finds_a_crash_and_shrinks_to_exactly_the_fault_it_needs():
    found = explore(
        five_asks(),
        check=lambda result: [reply.value_or(None) for reply in result.value] == [1, 2, 3, 4, 5],
        runs=200,
        faults=Faults(crash=0.2),
    )
    assert found.minimal is not None
    assert len(fault_lines(found.minimal)) == 1
    again = replay(five_asks(), found.minimal.schedule, faults=Faults(crash=0.2))
    assert again.trace == found.minimal.trace


def test_a_fault_timed_out_ask_fails_and_its_reply_is_a_late_dead_letter():
    result = simulate(five_asks(), seed=2, faults=Faults(ask_timeout=1.0))
    assert all(type(reply.failure()).__name__ == "AskTimeout" for reply in result.value)
    assert result.dead_letters >= 5
    reasons = [
        event.letter.reason for event in result.events if type(event).__name__ == "DeadLettered"
    ]
    # each ask's message was handled late (its reply a dead letter), or never (at shutdown)
    assert reasons.count(DeadLetterReason.LATE_REPLY) >= 1
    assert (
        reasons.count(DeadLetterReason.LATE_REPLY) + reasons.count(DeadLetterReason.UNPROCESSED)
        == 5
    )


@given(schedules())
def test_delays_reorder_across_senders_but_keep_each_senders_order(schedule):
    result = simulate(three_senders(4, settle=1.0), schedule=schedule, faults=Faults(delay=0.5))
    assert result.ok, result.format_trace()
    for sender in range(3):
        assert [i for s, i in result.value if s == sender] == [0, 1, 2, 3]


def test_delays_can_change_the_arrival_order_across_senders():
    orders = {
        tuple(
            s
            for s, _ in simulate(
                three_senders(2, settle=1.0), seed=seed, faults=Faults(delay=0.5)
            ).value
        )
        for seed in range(40)
    }
    assert len(orders) > 1


@program
def guarded_write() -> Any:
    yield maybe_fault("before the write")
    return "written"


def test_a_fault_point_is_inert_under_asyncio_and_the_stub():
    assert run(guarded_write()) == "written"
    assert stub.run(guarded_write()) == "written"
    assert simulate(guarded_write()).value == "written"


def test_a_fault_point_fails_under_the_simulator_when_points_are_on():
    result = simulate(guarded_write(), faults=Faults(points=1.0))
    assert isinstance(result.error, InjectedFault)
    assert "before the write" in str(result.error)
    clean = replay(guarded_write(), "v6[faults.points=1]:0")
    assert clean.value == "written"


def test_bad_fault_settings_are_refused():
    import pytest

    with pytest.raises(ValueError, match="crash must be a probability"):
        Faults(crash=2)
    with pytest.raises(ValueError, match="delay_for must be a positive"):
        Faults(delay_for=0)
