"""Streams move every element that needs no waiting in one step: a sink collects a synchronous
stream (an iterable source, then map, filter, take) and what a boundary holds without a pull
per element; a boundary's pump takes what it has room for from a synchronous upstream at
once; a `map_async` call that is a pure value is done in the pump, with no worker; a `merge`
input runs up to ``ahead`` elements ahead. The elements, their order, failures, closing and
the backpressure bound are the same under every interpreter."""

from __future__ import annotations

import itertools
import operator
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbill import InvalidArgument, fail, pure, run, simulate, sleep
from playbill.interpreters import stub
from playbill.streams import Source, source
from playbill.streams import _pullers as pullers


def simulated(built: Any, seed: int = 0) -> Any:
    result = simulate(built, seed=seed)
    if result.status == "failed":
        raise result.error
    assert result.status == "completed", result.format_trace()
    return result.value


def everywhere(build: Any) -> list[Any]:
    return [simulated(build(), seed) for seed in range(3)] + [run(build())]


@pytest.fixture
def pulls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times each puller class's ``pull`` ran."""
    counted: dict[str, int] = {}
    for name in ("_IteratorPuller", "_MapPuller", "_BufferPuller", "_MergePuller"):
        cls = getattr(pullers, name)
        original = cls.pull

        def counting(self: Any, _original: Any = original, _name: str = name) -> Any:
            counted[_name] = counted.get(_name, 0) + 1
            return _original(self)

        monkeypatch.setattr(cls, "pull", counting)
    return counted


def test_a_sink_collects_a_synchronous_stream_with_one_pull_for_its_end(pulls):
    stream = source(range(1000)).map(lambda n: n + 1).filter(lambda n: n % 3).take(500)
    assert stub.run(stream.to_list()) == [n for n in range(1, 1000) if n % 3][:500]
    assert pulls == {}  # (`take`'s own pull closes its upstream and ends; it pulls nothing)
    assert stub.run(source(range(1000)).map(lambda n: n * 2).run_fold(0, operator.add)) == 999000
    assert pulls == {"_MapPuller": 1, "_IteratorPuller": 1}


def test_a_buffer_fills_from_a_synchronous_upstream_and_its_sink_empties_it_in_batches(pulls):
    got = run(source(range(2000)).map(lambda n: n + 1).buffer(16).to_list())
    assert got == list(range(1, 2001))
    # the pump pulls only to hold one element while the buffer is full, and for the end; the
    # sink pulls only when the buffer is empty (it waits) — not once per element
    assert pulls["_MapPuller"] < 2000 / 8
    assert pulls["_BufferPuller"] < 2000 / 8


def test_a_merge_of_synchronous_inputs_is_taken_in_batches(pulls):
    got = run(source(range(1000)).merge(source(range(1000, 2000))).to_list())
    assert sorted(got) == list(range(2000))
    assert pulls.get("_MergePuller", 0) < 2000 / 8
    assert pulls.get("_IteratorPuller", 0) < 2000 / 8


def test_map_async_runs_a_call_that_is_a_pure_value_in_the_pump_with_no_worker():
    result = simulate(source(range(100)).map_async(lambda n: pure(n * n), 4).to_list())
    assert result.value == [n * n for n in range(100)]
    # the four workers (forks of the pump, main/fork1) each parked once, at the start, and
    # were woken once, to stop: none was woken for a job, and none woke another
    workers = Counter(
        (line.actor, line.event.split("(")[0])
        for line in result.trace
        if line.actor.startswith("main/fork1/")
    )
    assert set(workers.values()) == {1}
    assert sorted({event for _, event in workers}) == ["await_promise", "new_promise"]
    # a call that waits still goes to the workers, all four at once
    waiting = simulate(source(range(8)).map_async(lambda n: sleep(1).then(pure(n)), 4).to_list())
    assert waiting.value == list(range(8))
    assert waiting.clock == 2.0


@pytest.mark.parametrize("ahead", [1, 4, 16])
def test_a_merge_input_runs_at_most_ahead_elements_ahead_of_a_slow_consumer(ahead):
    pulled = [0]
    worst = [0]

    def numbers() -> Any:
        for n in itertools.count():
            pulled[0] += 1
            yield n

    consumed = [0]

    def consume(n: int) -> Any:
        consumed[0] += 1
        worst[0] = max(worst[0], pulled[0] - consumed[0])
        return sleep(1)

    stream = source(numbers()).merge(Source.from_iterable([]), ahead=ahead).take(60)
    simulated(stream.run_foreach(consume))
    assert consumed[0] == 60
    # as an element is consumed, the rest of its input's `ahead` wait in the merge (and at
    # most one more in a pump's hand): it ran ahead, and no further
    assert ahead - 1 <= worst[0] <= ahead


def test_merge_ahead_must_be_a_positive_int():
    with pytest.raises(InvalidArgument, match=r"Source.merge\(\) ahead must be an int >= 1, got 0"):
        source([1]).merge(source([2]), ahead=0)
    with pytest.raises(InvalidArgument, match=r"Source.merge\(\) ahead must be an int"):
        source([1]).merge(source([2]), ahead="16")  # type: ignore[arg-type]


def test_a_failure_inside_a_batch_fails_the_stream_with_that_error_and_closes_the_source():
    def build(where: str) -> Any:
        log: list[str] = []

        def numbers() -> Any:
            try:
                yield from range(100)
            finally:
                log.append("closed")

        broken = source(numbers()).map(lambda n: 10 // (n - 37))
        if where == "buffer":
            stream = broken.buffer(16)
        elif where == "merge":
            stream = broken.merge(source(range(5)))
        elif where == "map_async":
            stream = broken.map_async(lambda n: pure(n), 8)
        else:
            stream = broken
        return stream.to_list().attempt().map(lambda outcome: (outcome, log))

    for where in ("sink", "buffer", "merge", "map_async"):
        for outcome, log in everywhere(lambda: build(where)):  # noqa: B023
            assert isinstance(outcome.failure(), ZeroDivisionError), where
            assert log == ["closed"], where


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(-50, 50), max_size=60),
    boundary=st.sampled_from(["none", "buffer", "merge", "map_async", "map_async_unordered"]),
    size=st.integers(1, 8),
    take=st.none() | st.integers(0, 70),
    sink=st.sampled_from(["list", "fold", "ignore"]),
)
def test_batched_stages_give_what_one_element_at_a_time_gives(items, boundary, size, take, sink):
    stream = source(items).filter(lambda n: n % 3 != 0).map(lambda n: n * 2)
    expected = [n * 2 for n in items if n % 3 != 0]
    if boundary == "buffer":
        stream = stream.buffer(size)
    elif boundary == "merge":
        stream = stream.merge(source([1000, 1001]), ahead=size)
        expected = [*expected, 1000, 1001]
    elif boundary == "map_async":
        stream = stream.map_async(lambda n: pure(n + 1), size)
        expected = [n + 1 for n in expected]
    elif boundary == "map_async_unordered":
        stream = stream.map_async_unordered(lambda n: pure(n + 1), size)
        expected = [n + 1 for n in expected]
    if take is not None:
        stream = stream.take(take)
    if sink == "list":
        built, check = stream.to_list, None
    elif sink == "fold":
        built, check = (lambda: stream.run_fold(0, operator.add)), None
    else:
        built, check = (lambda: stream.to_list().then(pure("done"))), "done"
    for got in everywhere(built):
        if check is not None:
            assert got == check
        elif sink == "fold":
            if take is None:
                assert got == sum(expected)
        elif boundary in ("merge", "map_async_unordered"):
            assert len(got) == len(expected[:take] if take is not None else expected)
            assert set(got) <= set(expected)
        else:
            assert got == (expected[:take] if take is not None else expected)


def test_a_failing_element_program_in_map_async_fails_in_order():
    stream = source(range(10)).map_async(lambda n: fail(ValueError(n)) if n == 6 else pure(n), 4)
    for outcome in everywhere(lambda: stream.to_list().attempt()):
        assert str(outcome.failure()) == "6"
