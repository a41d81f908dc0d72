"""Properties of streams under `explore`: every overflow strategy and every failure pattern,
over many schedules of the simulator (shrunk to a minimal schedule when one breaks)."""

from __future__ import annotations

from typing import Any

import pytest

from playbill import fail, pure, sleep
from playbill.interpreters.simulation import explore
from playbill.streams import BufferOverflow, Source, source

RUNS = 25
SIZE = 3
COUNT = 12


def _buffered(overflow: str) -> Any:
    """A fast source into ``buffer(SIZE, overflow)`` and a slow consumer; the value is what
    the consumer received."""
    received: list[int] = []

    def consume(element: int) -> Any:
        received.append(element)
        return sleep(1.0)

    return source(range(COUNT)).buffer(SIZE, overflow).run_foreach(consume).map(lambda _: received)


def _in_order_without_duplicates(received: list[int]) -> bool:
    return received == sorted(set(received))


def _clean(result: Any) -> None:
    assert result.status == "completed", result.error
    assert result.dead_letters == 0


def test_backpressure_loses_nothing_in_any_schedule():
    def check(result):
        _clean(result)
        assert result.value == list(range(COUNT))

    explore(lambda: _buffered("backpressure"), check, runs=RUNS).assert_passed()


@pytest.mark.parametrize(
    ("overflow", "kept"),
    [
        ("drop_head", lambda got: got[-SIZE:] == list(range(COUNT - SIZE, COUNT))),
        ("drop_tail", lambda got: got[-1] == COUNT - 1),
        ("drop_new", lambda got: got[:SIZE] == list(range(SIZE))),
        ("drop_buffer", lambda got: got[-1] == COUNT - 1),
    ],
)
def test_each_drop_strategy_keeps_what_it_promises_in_any_schedule(overflow, kept):
    def check(result):
        _clean(result)
        got = result.value
        assert _in_order_without_duplicates(got), got
        assert kept(got), got
        assert len(got) < COUNT, got  # the consumer is slow: something was dropped

    explore(lambda: _buffered(overflow), check, runs=RUNS).assert_passed()


def test_fail_strategy_fails_with_buffer_overflow_in_any_schedule():
    def check(result):
        assert result.status == "failed"
        assert isinstance(result.error, BufferOverflow)
        assert result.dead_letters == 0

    explore(lambda: _buffered("fail"), check, runs=RUNS).assert_passed()


def _closing(log: list[str], count: int = 1000, *, started: bool = False):
    """Numbers from a generator that logs when it is closed (and, with ``started``, when it
    starts: a generator never started has no ``finally`` to run, and nothing to close)."""

    def numbers():
        if started:
            log.append("started")
        try:
            yield from range(count)
        finally:
            log.append("closed")

    return numbers()


@pytest.mark.parametrize("where", ["map", "map_async", "source", "merge"])
def test_a_failing_stage_fails_the_stream_with_its_error_and_cancels_upstream(where):
    def build():
        log: list[str] = []
        upstream = source(_closing(log, started=True)).buffer(2)
        if where == "map":
            stream = upstream.map(lambda n: 1 // (n - 4))
        elif where == "map_async":
            stream = upstream.map_async(
                lambda n: sleep(0.1).then(fail(ZeroDivisionError(n)) if n == 4 else pure(n)),
                parallelism=3,
            )
        elif where == "source":
            broken = Source.from_programs([pure(1), sleep(0.3).then(fail(ZeroDivisionError()))])
            stream = broken.merge(upstream.map_async(lambda n: sleep(0.1).then(pure(n)), 2))
        else:
            stream = upstream.merge(source([1, 0]).map(lambda n: 1 // n))
        return stream.to_list().attempt().map(lambda outcome: (outcome, log))

    def check(result):
        assert result.status == "completed", result.error
        outcome, log = result.value
        assert isinstance(outcome.failure(), ZeroDivisionError)
        # upstream was cancelled and its generator closed; only a merge can fail before its
        # other input's pump ever ran (nothing was pulled from it then, so nothing to close)
        assert log == ["started", "closed"] or (where == "merge" and log == [])
        assert result.dead_letters == 0

    explore(build, check, runs=RUNS).assert_passed()


def test_map_async_keeps_order_and_bounds_parallelism_in_any_schedule():
    def build():
        running, peak = [0], [0]

        def work(n: int) -> Any:
            def started(_: object) -> Any:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                return sleep(0.1 * (n % 4)).map(lambda _: running.__setitem__(0, running[0] - 1))

            return pure(None).flat_map(started).then(pure(n * n))

        stream = source(range(10)).map_async(work, parallelism=3)
        return stream.to_list().map(lambda got: (got, peak[0]))

    def check(result):
        _clean(result)
        got, peak = result.value
        assert got == [n * n for n in range(10)]
        assert 1 <= peak <= 3

    explore(build, check, runs=RUNS).assert_passed()


def test_merge_keeps_every_element_and_each_input_order_in_any_schedule():
    def build():
        left = source(range(5)).map_async(lambda n: sleep(0.1).then(pure(("l", n))), 2)
        right = source(range(4)).map(lambda n: ("r", n))
        return left.merge(right).to_list()

    def check(result):
        _clean(result)
        got = result.value
        assert [n for side, n in got if side == "l"] == list(range(5))
        assert [n for side, n in got if side == "r"] == list(range(4))

    explore(build, check, runs=RUNS).assert_passed()


def test_take_cancels_a_buffered_upstream_in_any_schedule():
    def build():
        log: list[str] = []
        stream = source(_closing(log)).buffer(4).map_async(lambda n: pure(n), 2).take(5)
        return stream.to_list().map(lambda got: (got, list(log)))

    def check(result):
        _clean(result)
        assert result.value == ([0, 1, 2, 3, 4], ["closed"])

    explore(build, check, runs=RUNS).assert_passed()
