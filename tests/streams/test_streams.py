"""Streams: each behaviour under the simulator (virtual time) and under asyncio, plus the stub
where a stream has no asynchronous boundary."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from returns.result import Failure

from playbill import (
    Actor,
    Bounded,
    InvalidArgument,
    Overflow,
    fail,
    free_spawn,
    now,
    program,
    pure,
    run,
    simulate,
    sleep,
)
from playbill.interpreters import stub
from playbill.streams import (
    END_OF_STREAM,
    BufferOverflow,
    OverflowStrategy,
    Source,
    fold,
    foreach,
    ignore,
    source,
    to_actor,
    to_list,
)


def simulated(built: Any, seed: int = 0) -> Any:
    result = simulate(built, seed=seed)
    if result.status == "failed":
        raise result.error
    assert result.status == "completed", result.format_trace()
    return result.value


def everywhere(build: Any) -> list[Any]:
    """The value of ``build()`` under the simulator (three seeds) and under asyncio."""
    return [simulated(build(), seed) for seed in range(3)] + [run(build())]


# -- fused stages ----------------------------------------------------------------------------


def test_fused_stages_give_the_same_elements_under_every_interpreter():
    def build():
        return source(range(10)).filter(lambda n: n % 2 == 0).map(lambda n: n * n).take(3).to_list()

    assert stub.run(build()) == [0, 4, 16]
    assert everywhere(build) == [[0, 4, 16]] * 4


def test_origins_iterable_programs_repeatedly_unfold_and_actor():
    class Counter(Actor):
        def __init__(self) -> None:
            self.n = 0

        def receive(self, message):
            self.n += 1
            return self.n if self.n <= 3 else END_OF_STREAM

    @program
    def main():
        counter = yield free_spawn(Counter, name="counter")
        from_actor = yield source(counter).to_list()
        programs = yield Source.from_programs([sleep(1).then(pure("a")), pure("b")]).to_list()
        repeated = yield Source.repeatedly(now()).take(2).to_list()
        unfolded = yield Source.unfold(3, lambda n: pure((n, n - 1) if n else None)).to_list()
        return from_actor, programs, repeated, unfolded

    assert simulated(main()) == ([1, 2, 3], ["a", "b"], [1.0, 1.0], [3, 2, 1])
    assert run(main())[:2] == ([1, 2, 3], ["a", "b"])


def test_a_list_source_replays_on_each_run_of_the_same_program():
    stream = source([1, 2, 3]).to_list()
    assert stub.run(stream) == stub.run(stream) == [1, 2, 3]


def test_sinks_fold_foreach_ignore_and_the_fold_stage():
    seen: list[int] = []
    assert stub.run(source(range(5)).run_with(fold(0, lambda a, b: a + b))) == 10
    assert stub.run(source(range(3)).run_with(foreach(seen.append))) is None
    assert stub.run(source(range(3)).run_with(ignore())) is None
    assert stub.run(source(range(5)).fold(0, lambda a, b: a + b).to_list()) == [10]
    assert seen == [0, 1, 2]


def test_take_closes_a_generator_source_at_once():
    closed: list[str] = []

    def numbers():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.append("closed")

    @program
    def main():
        taken = yield source(numbers()).take(3).to_list()
        return taken, list(closed)  # closed before the run ended

    assert stub.run(main()) == ([0, 1, 2], ["closed"])


# -- throttle: the interpreter's clock -------------------------------------------------------


def test_throttle_ten_a_second_over_100_elements_takes_ten_virtual_seconds_and_no_real_time():
    started = time.perf_counter()
    stream = source(range(100)).throttle(10, 1.0).to_list()
    result = simulate(stream.flat_map(lambda got: now().map(lambda t: (got, t))), seed=0)
    assert result.value == (list(range(100)), 9.9)  # the first goes at once: 99 gaps of 0.1s
    assert time.perf_counter() - started < 5.0  # (a real 9.9 s would fail this)


def test_throttle_with_a_burst_lets_the_first_burst_through_at_once():
    @program
    def main():
        times = (
            yield source(range(6)).throttle(2, 1.0, burst=3).map_async(lambda _: now()).to_list()
        )
        return times

    assert simulated(main()) == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]


def test_throttle_under_asyncio_spaces_elements_on_the_loop_clock():
    @program
    def main():
        start = yield now()
        yield source(range(4)).throttle(20, 1.0).to_list()
        return (yield now()) - start

    assert 0.14 <= run(main()) < 1.0


# -- map_async -------------------------------------------------------------------------------


def _tracked(running: list[int], peak: list[int], seconds: float):
    def call(n: int):
        @program
        def body():
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            try:
                yield sleep(seconds * (n % 3 + 1))
            finally:
                running[0] -= 1
            return n * 10

        return body()

    return call


@pytest.mark.parametrize("interpreter", ["simulation", "asyncio"])
def test_map_async_keeps_order_with_at_most_parallelism_in_flight(interpreter):
    running, peak = [0], [0]
    stream = source(range(12)).map_async(_tracked(running, peak, 0.01), parallelism=3).to_list()
    value = simulated(stream) if interpreter == "simulation" else run(stream)
    assert value == [n * 10 for n in range(12)]
    assert peak[0] == 3


def test_map_async_unordered_emits_in_completion_order():
    stream = source([3, 1, 2]).map_async_unordered(lambda n: sleep(n).then(pure(n)), 3).to_list()
    assert simulated(stream) == [1, 2, 3]
    assert run(
        source([0.24, 0.08, 0.16])  # 80 ms apart: a loaded machine's stalls stay below
        .map_async(lambda s: sleep(s).then(pure(s)), 3, ordered=False)
        .to_list()
    ) == [0.08, 0.16, 0.24]


def test_map_async_runs_in_parallel_in_virtual_time():
    stream = source(range(8)).map_async(lambda n: sleep(1).then(pure(n)), parallelism=4)
    assert simulated(stream.to_list().then(now())) == 2.0


# -- failures --------------------------------------------------------------------------------


def _closing_source(log: list[str]):
    def numbers():
        try:
            yield from range(1000)
        finally:
            log.append("upstream closed")

    return numbers()


@pytest.mark.parametrize("interpreter", ["simulation", "asyncio"])
def test_a_failing_map_async_element_fails_the_stream_with_its_error_and_cancels_upstream(
    interpreter,
):
    log: list[str] = []

    def check(n: int):
        if n == 5:
            return sleep(0.01).then(fail(ValueError(f"bad element {n}")))
        return sleep(0.01).then(pure(n))

    stream = source(_closing_source(log)).buffer(4).map_async(check, parallelism=2).to_list()
    with pytest.raises(ValueError, match="bad element 5"):
        simulated(stream) if interpreter == "simulation" else run(stream)
    assert log == ["upstream closed"]


def test_a_failing_map_fails_the_stream_and_recover_ends_it_with_one_last_element():
    def invert(n: int) -> float:
        return 1 / n

    with pytest.raises(ZeroDivisionError):
        stub.run(source([2, 1, 0, 4]).map(invert).to_list())
    recovered = source([2, 1, 0, 4]).map(invert).recover(lambda error: type(error).__name__)
    assert stub.run(recovered.to_list()) == [0.5, 1.0, "ZeroDivisionError"]
    assert (
        everywhere(lambda: recovered.buffer(2).to_list()) == [[0.5, 1.0, "ZeroDivisionError"]] * 4
    )


def test_a_failing_merge_input_fails_the_stream():
    broken = Source.from_programs([pure(1), fail(KeyError("input 2 broke"))])
    with pytest.raises(KeyError, match="input 2 broke"):
        simulated(source(range(3)).merge(broken).to_list())


# -- buffer and backpressure -----------------------------------------------------------------


def _slow_consumer(log: list[Any], seconds: float = 1.0):
    def consume(element):
        log.append(element)
        return sleep(seconds)

    return consume


@pytest.mark.parametrize("seed", range(3))
def test_buffer_with_backpressure_loses_nothing(seed):
    received: list[int] = []
    simulated(source(range(30)).buffer(4).run_foreach(_slow_consumer(received)), seed)
    assert received == list(range(30))


@pytest.mark.parametrize(
    ("overflow", "check"),
    [
        (OverflowStrategy.DROP_HEAD, lambda got: got[-3:] == [17, 18, 19]),
        ("drop_new", lambda got: got[:3] == [0, 1, 2] and len(got) < 20),
        ("drop_tail", lambda got: got[-1] == 19 and len(got) < 20),
        ("drop_buffer", lambda got: got[-1] == 19 and len(got) < 20),
    ],
)
def test_buffer_drop_policies_drop_under_a_slow_consumer(overflow, check):
    received: list[int] = []
    simulated(source(range(20)).buffer(3, overflow).run_foreach(_slow_consumer(received)))
    assert received == sorted(set(received))  # in order, no duplicates
    assert check(received), received


def test_buffer_fail_fails_the_stream_with_buffer_overflow():
    with pytest.raises(BufferOverflow, match="size=2"):
        simulated(source(range(20)).buffer(2, "fail").run_foreach(_slow_consumer([])))


def test_a_million_element_source_through_a_slow_stage_keeps_only_the_buffers_in_flight():
    produced = [0]
    worst = [0]
    consumed = [0]

    def numbers():
        for n in range(1_000_000):
            produced[0] += 1
            yield n

    def consume(element):
        consumed[0] += 1
        worst[0] = max(worst[0], produced[0] - consumed[0])
        return sleep(1.0)

    stream = (
        source(numbers())
        .buffer(16)
        .map_async(lambda n: sleep(0.5).then(pure(n)), parallelism=4)
        .take(300)
        .run_foreach(consume)
    )
    simulated(stream)
    assert consumed[0] == 300
    # the buffer (16), the elements in map_async (4) and one held by each pump
    assert worst[0] <= 16 + 4 + 2
    assert produced[0] <= 300 + 16 + 4 + 2


def test_asyncio_backpressure_keeps_a_fast_producer_within_the_buffer():
    produced = [0]
    worst = [0]
    consumed = [0]

    def numbers():
        for n in range(1_000_000):
            produced[0] += 1
            yield n

    def consume(element):
        consumed[0] += 1
        worst[0] = max(worst[0], produced[0] - consumed[0])
        return sleep(0.001)

    run(source(numbers()).buffer(8).take(50).run_foreach(consume))
    assert consumed[0] == 50
    assert worst[0] <= 8 + 2


# -- merge, grouped_within -------------------------------------------------------------------


def test_merge_gives_every_element_of_every_input():
    def build():
        return source(range(5)).merge(source(range(100, 103)), source(["x"])).to_list()

    for value in everywhere(build):
        assert sorted(map(str, value)) == sorted(map(str, [*range(5), 100, 101, 102, "x"]))
        assert [n for n in value if isinstance(n, int) and n < 100] == list(range(5))


def test_merge_interleaves_by_arrival_time():
    ticks = Source.from_programs([sleep(1).then(pure(f"a{n}")) for n in range(3)])
    tocks = Source.from_programs([sleep(1.4).then(pure(f"b{n}")) for n in range(2)])
    assert simulated(ticks.merge(tocks).to_list()) == ["a0", "b0", "a1", "b1", "a2"]


def test_grouped_within_emits_full_groups_and_groups_cut_by_the_timer():
    arrivals = Source.from_programs(
        [sleep(delay).then(pure(n)) for n, delay in enumerate([0, 0, 0, 0, 0.5, 3, 0.2])]
    )
    # 0-3 at t=0 (a full group of 3, then 3 waits); 4 at 0.5; window [0, 1) closes at 1.0;
    # 5 at 3.5 and 6 at 3.7: the window opened at 3.0 closes at 4.0
    assert simulated(arrivals.grouped_within(3, 1.0).to_list()) == [[0, 1, 2], [3, 4], [5, 6]]
    assert run(source(range(7)).grouped_within(3, 1.0).to_list()) == [[0, 1, 2], [3, 4, 5], [6]]


# -- to_actor --------------------------------------------------------------------------------


class _Collector(Actor):
    def __init__(self) -> None:
        self.got: list[Any] = []

    def receive(self, message):
        if message == "get":
            return self.got
        self.got.append(message)
        return sleep(0.01)


@pytest.mark.parametrize("interpreter", ["simulation", "asyncio"])
def test_to_actor_acknowledged_delivers_every_element_in_order_then_on_complete(interpreter):
    @program
    def main():
        collector = yield free_spawn(_Collector, name="collector")
        sent = yield source(range(5)).run_with(to_actor(collector, on_complete="done"))
        return sent, (yield collector.free_ask("get"))

    expected = (5, [0, 1, 2, 3, 4, "done"])
    assert (simulated(main()) if interpreter == "simulation" else run(main())) == expected


def test_to_actor_by_tell_is_held_back_by_a_blocking_mailbox():
    @program
    def main():
        collector = yield free_spawn(
            _Collector, name="collector", mailbox=Bounded(2, Overflow.BLOCK)
        )
        start = yield now()
        sent = yield source(range(10)).run_with(to_actor(collector, acknowledge=False))
        # ten tells into two slots at 0.01 s each: the sink finished only once most were handled
        elapsed = (yield now()) - start
        yield sleep(1)
        return sent, (yield collector.free_ask("get")), elapsed >= 0.07 - 1e-9

    assert simulated(main()) == (10, list(range(10)), True)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "option", "value"),
    [
        (lambda: source([1]).map_async(pure, parallelism=0), "parallelism", "0"),
        (lambda: source([1]).map_async(pure, parallelism=True), "parallelism", "True"),
        (lambda: source([1]).map_async(pure, ordered=1), "ordered", "1"),
        (lambda: source([1]).buffer(0), "size", "0"),
        (lambda: source([1]).buffer(4, "drop_oldest"), "overflow", "'drop_oldest'"),
        (lambda: source([1]).buffer(4, overflow=Overflow.DROP_OLDEST), "overflow", "DROP_OLDEST"),
        (lambda: source([1]).throttle(0, 1.0), "elements", "0"),
        (lambda: source([1]).throttle(10, -1.0), "per_seconds", "-1.0"),
        (lambda: source([1]).throttle(10, math.inf), "per_seconds", "inf"),
        (lambda: source([1]).throttle(10, 1.0, burst=0), "burst", "0"),
        (lambda: source([1]).grouped_within(0, 1.0), "size", "0"),
        (lambda: source([1]).grouped_within(3, -2), "seconds", "-2"),
        (lambda: source([1]).take(-1), "count", "-1"),
        (lambda: source([1]).map("upper"), "function", "'upper'"),
        (lambda: source([1]).merge([2]), "argument 1", "[2]"),
        (lambda: source("abc"), "items", "'abc'"),
        (lambda: source(42), "items", "42"),
        (lambda: source([1]).run_with(list), "sink", "list"),
        (lambda: to_actor("/app/x"), "ref", "'/app/x'"),
        (lambda: Source.from_actor("/app/x"), "ref", "'/app/x'"),
    ],
)
def test_bad_input_is_refused_naming_the_option_and_the_value(build, option, value):
    with pytest.raises(InvalidArgument) as raised:
        build()
    assert option in str(raised.value)
    assert value in str(raised.value)


def test_an_unknown_overflow_lists_the_accepted_strategies():
    with pytest.raises(InvalidArgument) as raised:
        source([1]).buffer(4, "drop_everything")
    for strategy in OverflowStrategy:
        assert repr(strategy.value) in str(raised.value)


def test_to_list_sink_value_is_the_same_as_the_shortcut():
    assert stub.run(source([1, 2]).run_with(to_list())) == stub.run(source([1, 2]).to_list())


def test_map_async_failure_result_is_not_a_result_object():
    # the element's own error reaches the caller, not a returns Failure
    stream = source([1]).map_async(lambda n: fail(OSError("disk")), parallelism=1).to_list()
    outcome = simulate(stream)
    assert isinstance(outcome.error, OSError)
    assert not isinstance(outcome.value, Failure)
