"""Which message orders the simulator explores: ``delivery="causal"`` (the asyncio runtime's)
and ``delivery="per_pair"`` (every order the per-pair FIFO guarantee allows)."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbill import Actor, InvalidArgument, explore, free_spawn, gather, program, simulate, sleep
from playbill.interpreters.simulation import Schedule
from playbill.testing import schedules
from tests.simulation.test_properties import Recorder, three_senders


class Forwarder(Actor):
    """Tells its target what it receives."""

    def receive(self, message: Any) -> Any:
        target, item = message
        return target.free_tell(item)


@program
def relayed_and_direct() -> Any:
    """main tells ``x`` to a forwarder (which passes it on to the recorder), then tells ``y``
    to the recorder itself, then asks what the recorder saw."""
    recorder = yield free_spawn(Recorder, name="recorder")
    forwarder = yield free_spawn(Forwarder, name="forwarder")
    yield forwarder.free_tell((recorder, "x"))
    yield recorder.free_tell("y")
    return (yield recorder.free_ask("seen"))


def outcomes(build: Any, delivery: str, runs: int = 300) -> set[Any]:
    seen: set[Any] = set()

    def record(result: Any) -> bool:
        seen.add(repr(result.value))
        return True

    explore(build(), check=record, runs=runs, delivery=delivery)
    return seen


def test_causal_delivery_is_the_asyncio_runtimes() -> None:
    # main's two tells land together, so y is queued before the forwarder even sees x; the
    # ask, told after y, may still overtake x, which takes a hop
    assert outcomes(relayed_and_direct, "causal") == {"['y']", "['y', 'x']"}
    # across processes x may arrive first: only each sender's own order is guaranteed
    assert outcomes(relayed_and_direct, "per_pair") == {"['y']", "['y', 'x']", "['x', 'y']"}


def test_per_pair_delivery_lets_other_senders_messages_overtake() -> None:
    # with three senders, the main program's ask may overtake messages still "in flight"
    causal = outcomes(lambda: three_senders(2), "causal", runs=200)
    per_pair = outcomes(lambda: three_senders(2), "per_pair", runs=200)
    assert all(outcome.count("(") == 6 for outcome in causal)  # everything arrived first
    assert any(outcome.count("(") < 6 for outcome in per_pair)


@program
def two_bursts() -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")

    @program
    def burst(tag: str) -> Any:
        yield recorder.free_tell(f"{tag}1")
        yield recorder.free_tell(f"{tag}2")

    yield gather(burst("a"), burst("b"))
    return (yield recorder.free_ask("seen"))


def test_a_fibers_consecutive_tells_land_together_under_causal_delivery() -> None:
    causal = outcomes(two_bursts, "causal")
    assert causal == {"['a1', 'a2', 'b1', 'b2']", "['b1', 'b2', 'a1', 'a2']"}
    per_pair = outcomes(two_bursts, "per_pair")
    assert "['a1', 'b1', 'a2', 'b2']" in per_pair  # one sender, two fibers: they interleave


@given(schedules(), st.integers(1, 5))
def test_each_senders_order_holds_under_per_pair_delivery(schedule: Schedule, count: int) -> None:
    result = simulate(three_senders(count), schedule=schedule, delivery="per_pair")
    assert result.ok, result.format_trace()
    for sender in range(3):
        got = [i for s, i in result.value if s == sender]
        assert got == list(range(len(got)))  # a prefix, in order: later ones still in flight


def test_delivery_must_be_one_of_the_two() -> None:
    with pytest.raises(InvalidArgument, match="delivery must be 'causal' or 'per_pair'"):
        simulate(two_bursts(), delivery="fifo")  # type: ignore[arg-type]


@pytest.mark.parametrize("recorded", ["v1:0101", "v2:0101"])
def test_a_schedule_of_an_earlier_simulator_is_refused_with_a_reason(recorded: str) -> None:
    with pytest.raises(InvalidArgument, match=r"earlier simulator \(v[12]\)"):
        simulate(two_bursts(), schedule=recorded)


@program
def tell_and_end() -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")
    yield recorder.free_tell("x")
    return "end"


def test_a_program_ending_right_after_a_tell_may_still_see_it_handled() -> None:
    # as under asyncio, where the actor the tell woke runs before the system shuts down
    handled = set()
    for seed in range(30):
        result = simulate(tell_and_end(), seed=seed)
        handled.add(result.dead_letters == 0)
    assert handled == {True, False}


@program
def two_senders_while_busy() -> Any:
    recorder = yield free_spawn(Recorder, name="recorder")
    senders = []
    for name in ("a", "b"):
        senders.append((yield free_spawn(Forwarder, name=name)))
    for sender, tag in zip(senders, "ab", strict=True):
        yield sender.free_tell((recorder, f"{tag}1"))
        yield sender.free_tell((recorder, f"{tag}2"))
    yield sleep(1)
    return (yield recorder.free_ask("seen"))


def test_pct_interleaves_senders_at_a_receiver_under_per_pair_delivery() -> None:
    orders = set()
    for seed in range(300):
        result = simulate(two_senders_while_busy(), seed=seed, strategy="pct", delivery="per_pair")
        orders.add(tuple(result.value))
    assert len(orders) > 2


def test_the_printed_replay_call_carries_the_options_of_the_exploration() -> None:
    import sys

    sys.path.insert(0, "examples")
    from open_then_deposit import open_then_deposit

    found = explore(
        open_then_deposit(), check=lambda r: r.value == 50, runs=300, delivery="per_pair"
    )
    with pytest.raises(
        AssertionError, match=r"replay\(open_then_deposit\(\), 'v6\[delivery=per_pair\]:\w*'\)"
    ):
        found.assert_passed("open_then_deposit()")
