"""The failure modes of a durable mailbox as fault choices: a redelivery after a lost ack, a
duplicated send, a lost lease — each under both delivery modes, replayed, shrunk, checked."""

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given

from playbill import (
    Actor,
    Directive,
    Faults,
    InvalidArgument,
    OneForOne,
    explore,
    free_spawn,
    program,
    replay,
    simulate,
    sleep,
)
from playbill.actors import DeadLetterReason, Failed, Restarted
from playbill.interpreters.simulation import Schedule
from playbill.testing import schedules
from tests.simulation import examples_path  # noqa: F401  (examples/ importable)

DELIVERIES = ("causal", "per_pair")


class FaultAt:
    """A chooser that takes the first option everywhere and injects a fault of ``kind`` only
    at its ``at``-th opportunity (counted from 1): one fault, exactly where a test wants it."""

    def __init__(self, kind: str, at: int = 1) -> None:
        self.kind = kind
        self.at = at
        self.seen = 0

    def choose(self, options: Sequence[str]) -> int:
        return 0

    def decide(self, label: str, probability: float) -> bool:
        if not label.startswith(f"fault {self.kind} "):
            return False
        self.seen += 1
        return self.seen == self.at

    def draw(self, buckets: int) -> int:
        return 0


class Recorder(Actor):
    """Keeps what it received; counts instances and starts in ``hooks``."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    def on_start(self) -> None:
        hooks.append("start")

    def on_stop(self) -> None:
        hooks.append("stop")

    def receive(self, message: Any) -> Any:
        if message == "log":
            return list(self.received)
        self.received.append(message)
        return len(self.received)


hooks: list[str] = []


@pytest.fixture(autouse=True)
def fresh_hooks() -> None:
    hooks.clear()


@program
def tell_two_then_read() -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")
    yield recorder.free_tell("a")
    yield recorder.free_tell("b")
    yield sleep(1)
    return (yield recorder.free_ask("log"))


@program
def ask_once_then_read() -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")
    reply = yield recorder.free_ask("a")
    yield sleep(1)
    return reply, (yield recorder.free_ask("log"))


def fault_lines(result: Any) -> list[str]:
    return [line.event for line in result.trace_lines(kinds={"fault"})]


def late_replies(result: Any) -> list[Any]:
    return [
        event.letter.message
        for event in result.events
        if type(event).__name__ == "DeadLettered"
        and event.letter.reason is DeadLetterReason.LATE_REPLY
    ]


def run(program: Any, kind: str, delivery: str, at: int = 1) -> Any:
    faults = Faults(**{kind: 0.5})
    return simulate(program, strategy=FaultAt(kind, at), faults=faults, delivery=delivery)


# -- redeliver --------------------------------------------------------------------------------


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_lost_ack_redelivers_the_message_before_the_ones_queued_behind_it(delivery):
    result = run(tell_two_then_read(), "redeliver", delivery)
    assert result.value == ["a", "a", "b"], result.format_trace()
    assert fault_lines(result) == ["fault: the ack of 'a' is lost: delivered again"]


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_redelivered_ask_is_handled_twice_and_its_second_reply_is_a_late_dead_letter(delivery):
    result = run(ask_once_then_read(), "redeliver", delivery)
    assert result.value == (1, ["a", "a"]), result.format_trace()
    assert late_replies(result) == [2]


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_without_the_fault_each_message_is_handled_once(delivery):
    result = simulate(tell_two_then_read(), seed=0, delivery=delivery)
    assert result.value == ["a", "b"]
    assert simulate(ask_once_then_read(), seed=0, delivery=delivery).value == (1, ["a"])


# -- duplicate --------------------------------------------------------------------------------


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_duplicated_tell_is_queued_twice_right_behind_itself(delivery):
    result = run(tell_two_then_read(), "duplicate", delivery, at=2)
    assert result.value == ["a", "b", "b"], result.format_trace()
    assert fault_lines(result) == ["fault: 'b' is queued twice"]


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_duplicated_ask_counts_its_first_reply_only(delivery):
    result = run(ask_once_then_read(), "duplicate", delivery)
    assert result.value == (1, ["a", "a"]), result.format_trace()
    assert late_replies(result) == [2]


# -- lease_loss -------------------------------------------------------------------------------


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_lost_lease_gives_the_message_to_a_fresh_instance_without_a_failure(delivery):
    # the lease is lost before "b": a new owner builds the actor anew ("a" is forgotten)
    result = run(tell_two_then_read(), "lease_loss", delivery, at=2)
    assert result.value == ["b"], result.format_trace()
    assert hooks == ["start", "stop", "start", "stop"]
    events = [type(event) for event in result.events]
    assert Restarted in events
    assert Failed not in events  # no failure, no supervisor's decision
    assert fault_lines(result) == ["fault: loses its lease before its next message"]


def test_a_lost_lease_takes_the_restart_path_even_under_a_supervisor_that_stops():
    stopping = OneForOne(decider=lambda error: Directive.STOP)
    result = simulate(
        tell_two_then_read(),
        strategy=FaultAt("lease_loss", 2),
        faults=Faults(lease_loss=0.5),
        supervision=stopping,
    )
    assert result.value == ["b"], result.format_trace()


# -- at least once, in order -----------------------------------------------------------------


@program
def tell_five_then_read() -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")
    for n in range(5):
        yield recorder.free_tell(n)
    yield sleep(1)
    return (yield recorder.free_ask("log"))


@pytest.mark.parametrize("delivery", DELIVERIES)
@given(schedule=schedules())
def test_redelivered_and_duplicated_messages_arrive_at_least_once_and_in_order(delivery, schedule):
    faults = Faults(redeliver=0.5, duplicate=0.5)
    result = simulate(tell_five_then_read(), schedule=schedule, faults=faults, delivery=delivery)
    assert result.ok, result.format_trace()
    received = result.value
    # every message, in the order sent; a repeat only right after itself
    assert [n for index, n in enumerate(received) if received[index - 1 : index] != [n]] == [
        0,
        1,
        2,
        3,
        4,
    ]


# -- replay, shrink, options ------------------------------------------------------------------


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_a_run_with_durable_faults_replays_from_its_string_alone(delivery):
    faults = Faults(redeliver=0.3, duplicate=0.3, lease_loss=0.3)
    for seed in range(10):
        result = simulate(tell_two_then_read(), seed=seed, faults=faults, delivery=delivery)
        text = str(result.schedule)
        assert "faults.redeliver=0.3,faults.duplicate=0.3,faults.lease_loss=0.3" in text
        again = replay(tell_two_then_read(), text)
        assert (again.rows, again.value) == (result.rows, result.value)


def test_the_new_faults_read_back_from_a_schedule_string_and_old_strings_still_replay():
    parsed = Schedule.parse("v6[faults.duplicate=0.25,faults.lease_loss=1]:01")
    assert parsed.options is not None
    assert parsed.options.faults == Faults(duplicate=0.25, lease_loss=1.0)
    # a string recorded before these faults existed means what it meant
    assert replay(tell_two_then_read(), "v6:").value == ["a", "b"]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"redeliver": 2}, "Faults redeliver must be a probability in \\[0, 1\\], got 2"),
        ({"duplicate": -0.1}, "Faults duplicate must be a probability"),
        ({"lease_loss": True}, "Faults lease_loss must be a probability"),
        ({"redeliver": "0.5"}, "Faults redeliver must be a probability"),
    ],
)
def test_bad_durable_fault_probabilities_are_refused(settings, named):
    with pytest.raises(InvalidArgument, match=named):
        Faults(**settings)


def test_a_bad_durable_fault_in_a_schedule_string_is_refused():
    with pytest.raises(InvalidArgument, match="Faults redeliver must be a probability"):
        Schedule.parse("v6[faults.redeliver=1.5]:0")


# -- the documented example: a double charge -------------------------------------------------


def test_explore_finds_the_double_charge_only_when_messages_are_redelivered():
    from double_charge import charged_once, checkout, gateway

    clean = explore(checkout(), charged_once, runs=100, handlers=gateway)
    assert not clean.found  # at-most-once: every schedule charges once
    found = explore(
        checkout(), charged_once, runs=100, handlers=gateway, faults=Faults(redeliver=0.3)
    )
    assert found.failure is not None
    assert found.failure.reason == "AssertionError: card 4242 charged 60 for one payment of 30"


def test_the_double_charge_shrinks_to_a_minimal_schedule():
    from double_charge import FAULTS, charged_once, checkout, gateway

    found = explore(checkout(), charged_once, runs=200, handlers=gateway, faults=FAULTS)
    minimal = found.minimal
    assert minimal is not None
    assert len(fault_lines(minimal)) == 1
    choices = list(minimal.schedule.choices)
    assert choices[-1] != 0  # canonical: no trailing zeros

    def breaks(candidate: list[int]) -> bool:
        result = replay(checkout(), Schedule(candidate, minimal.schedule.options), handlers=gateway)
        return result.value != 30

    assert breaks(choices)
    # no choice can be removed, nor made smaller, with the charge still doubled
    for position, choice in enumerate(choices):
        assert not breaks(choices[:position] + choices[position + 1 :])
        for smaller in range(choice):
            assert not breaks([*choices[:position], smaller, *choices[position + 1 :]])


def test_the_double_charge_example_finds_replays_and_fixes_it():
    import double_charge

    lines: list[str] = []
    summary = double_charge.main(printer=lines.append)
    assert summary == {
        "schedule": summary["schedule"],
        "charged": 60,
        "replayed": True,
        "fixed_passed": True,
    }
    assert summary["schedule"].startswith("v6[faults.redeliver=0.3]:")
    text = "\n".join(lines)
    assert "fault: the ack of Pay(payment_id='payment-1'" in text
    assert text.count("perform Charge(card='4242', amount=30, idempotency_key=None)") == 2
