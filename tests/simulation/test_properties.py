"""Properties that hold under every schedule (Hypothesis draws the schedules and shrinks
failures). In the ci profile these runs add up to well over 10,000 schedules."""

from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbill import Actor, free_spawn, free_stop, gather, program, simulate, sleep
from playbill.testing import schedules
from tests.conformance.programs import CASES, Case

# every conformance program, under many schedules: one fifth of the profile's examples each
SCHEDULES_PER_PROGRAM = max(10, settings().max_examples // 5)


class Recorder(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        return None


class Sender(Actor):
    def receive(self, message: Any) -> Any:
        target, items = message

        @program
        def send_all() -> Any:
            for item in items:
                yield target.free_tell(item)

        return send_all()


@program
def three_senders(count: int, settle: float = 0.0) -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")
    senders = []
    for n in range(3):
        senders.append((yield free_spawn(Sender, name=f"sender{n}")))
    yield gather(
        *(
            sender.free_ask((recorder, [(n, i) for i in range(count)]))
            for n, sender in enumerate(senders)
        )
    )
    if settle:
        yield sleep(settle)  # let delayed messages arrive
    return (yield recorder.free_ask("seen"))


@given(schedules(), st.integers(1, 6))
def test_messages_from_each_sender_arrive_in_order_under_every_schedule(schedule, count):
    result = simulate(three_senders(count), schedule=schedule)
    assert result.ok, result.format_trace()
    seen = result.value
    assert len(seen) == 3 * count
    for sender in range(3):
        assert [i for s, i in seen if s == sender] == list(range(count))


class Counting(Actor):
    handled = 0

    def receive(self, message: Any) -> Any:
        Counting.handled += 1
        if message == "stop yourself":
            self.context.stop(self.context.self_ref)
        return None


@program
def sends_while_stopping() -> Any:
    targets = []
    for n in range(3):
        targets.append((yield free_spawn(Counting, name=f"t{n}")))
    sent = 0
    for round_number in range(4):
        for index, target in enumerate(targets):
            message = "stop yourself" if (round_number, index) == (1, 1) else round_number
            yield target.free_tell(message)
            sent += 1
        if round_number == 2:
            yield free_stop(targets[2])
    yield sleep(1)
    return sent


DELIVERIES = pytest.mark.parametrize("delivery", ["causal", "per_pair"])


@DELIVERIES
@given(schedules())
def test_nothing_is_lost_delivered_plus_dead_letters_equals_sent(delivery, schedule):
    Counting.handled = 0
    result = simulate(sends_while_stopping(), schedule=schedule, delivery=delivery)
    assert result.ok, result.format_trace()
    assert Counting.handled + result.dead_letters == result.value


class Log(Actor):
    processed: ClassVar[list[str]] = []

    def receive(self, message: Any) -> Any:
        Log.processed.append(message)
        return None


@program
def stop_in_the_middle() -> Any:
    log = yield free_spawn(Log, name="log")
    yield log.free_tell("before")
    yield free_stop(log)
    yield log.free_tell("after")
    outcome = yield log.free_ask("asked after").attempt()
    return type(outcome.failure()).__name__


@DELIVERIES
@given(schedules())
def test_a_stopped_actor_processes_nothing_more_and_asks_to_it_fail(delivery, schedule):
    Log.processed = []
    result = simulate(stop_in_the_middle(), schedule=schedule, delivery=delivery)
    assert result.value == "ActorStopped"
    assert "after" not in Log.processed
    assert "asked after" not in Log.processed


@pytest.mark.parametrize("case", [c for c in CASES if c.actors], ids=lambda case: case.name)
def test_conformance_programs_give_their_outcome_under_every_schedule(case: Case) -> None:
    @settings(max_examples=SCHEDULES_PER_PROGRAM, deadline=None)
    @given(schedules())
    def check(schedule: Any) -> None:
        result = simulate(case.build(), schedule=schedule, handlers=case.handlers)
        if result.status == "completed":
            outcome: tuple[str, Any] = ("value", result.value)
        else:
            assert result.error is not None, result.status
            outcome = ("error", type(result.error).__name__)
        assert outcome == case.expected, result.format_trace()

    check()


@DELIVERIES
@given(schedules())
def test_nothing_is_lost_under_crashes_and_delays_either(delivery, schedule):
    from playbill import Faults

    Counting.handled = 0
    faults = Faults(crash=0.1, delay=0.2)
    result = simulate(sends_while_stopping(), schedule=schedule, faults=faults, delivery=delivery)
    assert result.status in ("completed", "failed"), result.format_trace()
    sent = 3 * 4  # three actors, four rounds (the program returns it, unless the run failed)
    assert Counting.handled + result.dead_letters == sent, result.format_trace()
