"""The blocking effect: a call on the system's bounded thread pool under asyncio (the loop and
the other actors keep running), inline under the stub and the simulator; its failure reaches
the program; a cancelled wait drops the call's result; the pool ends with the system."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from playbill import (
    Actor,
    ActorSystem,
    InvalidArgument,
    TimedOut,
    blocking,
    free_ask,
    free_spawn,
    gather,
    program,
    simulate,
)
from playbill import run as run_on_asyncio
from playbill.effects import Blocking
from playbill.interpreters import stub


def add(a, b, *, scale=1):
    return (a + b) * scale


def broken(text):
    raise ValueError(text)


@program
def add_then_recover():
    total = yield blocking(add, 2, 3, scale=10)
    try:
        yield blocking(broken, "no")
    except ValueError as error:
        return total, str(error)


def asyncio_run(awaitable):
    return asyncio.run(asyncio.wait_for(awaitable, 20))


# -- every interpreter: the value, and the failure into the program ------------------------


def test_the_stub_calls_inline_and_raises_into_the_program():
    assert stub.run(add_then_recover()) == (50, "no")


def test_the_simulator_calls_inline_and_raises_into_the_program():
    result = simulate(add_then_recover(), seed=3)
    assert result.value == (50, "no")
    assert any(line.event == "blocking add" for line in result.trace)
    assert result.clock == 0.0  # inline: no virtual time passes


def test_asyncio_runs_the_call_and_raises_into_the_program():
    assert run_on_asyncio(add_then_recover()) == (50, "no")


def test_the_simulator_runs_blocking_calls_deterministically():
    seen = []

    @program
    def two():
        return (yield gather(blocking(seen.append, "a"), blocking(seen.append, "b")))

    first = simulate(two(), seed=11)
    order = list(seen)
    seen.clear()
    again = simulate(two(), seed=11)
    assert seen == order
    assert first.trace == again.trace


def test_a_handler_overrides_the_built_in_blocking():
    answered = stub.run(blocking(add, 1, 1), {Blocking: lambda effect: "handled"})
    assert answered == "handled"


# -- asyncio: a thread of the bounded pool, and the loop keeps running -----------------------


def test_asyncio_runs_the_call_on_a_pool_thread_not_the_loops():
    async def main():
        async with ActorSystem("app") as system:
            loop_thread = threading.current_thread().name
            name = await system.run(blocking(lambda: threading.current_thread().name))
            return loop_thread, name

    loop_thread, name = asyncio_run(main())
    assert name != loop_thread
    assert name.startswith("playbill-app-blocking")


class Pinger(Actor):
    """Answers pings; at the third, releases the blocking call waiting on ``released``."""

    def __init__(self, released: threading.Event) -> None:
        self.released = released
        self.pings = 0

    def receive(self, message):
        self.pings += 1
        if self.pings == 3:
            self.released.set()
        return self.pings


def test_a_blocking_call_does_not_stall_the_other_actors():
    released = threading.Event()

    @program
    def pinging(pinger):
        answers = []
        for _ in range(3):
            yield asyncio_sleep_program()
            answers.append((yield free_ask(pinger, "ping")))
        return answers

    @program
    def main():
        pinger = yield free_spawn(lambda: Pinger(released), name="pinger")
        # the call waits until the pinger (another actor, on the loop) has answered 3 pings:
        # run on the loop's thread, it would block them and time out as False
        return (yield gather(blocking(released.wait, 5), pinging(pinger)))

    assert run_on_asyncio(main()) == (True, [1, 2, 3])


def asyncio_sleep_program():
    from playbill import sleep

    return sleep(0.01)


def test_the_pool_is_bounded_by_blocking_threads():
    lock = threading.Lock()
    active = [0, 0]  # now, most at once

    def work():
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    async def main():
        async with ActorSystem("app", blocking_threads=2) as system:
            await system.run(gather(*(blocking(work) for _ in range(6))))

    asyncio_run(main())
    assert active[1] == 2


def test_a_cancelled_wait_drops_the_result_and_a_queued_call_never_starts():
    started = []
    release = threading.Event()

    def slow(name):
        started.append(name)
        release.wait(5)
        return name

    async def main():
        async with ActorSystem("app", blocking_threads=1) as system:
            with pytest.raises(TimedOut):
                # "first" runs on the only thread; "second" waits for it in the queue
                await system.run(
                    gather(blocking(slow, "first"), blocking(slow, "second")).timeout(0.05)
                )
            release.set()
            after = await system.run(blocking(slow, "third"))  # the pool still works
            return after

    assert asyncio_run(main()) == "third"
    assert started == ["first", "third"]  # the queued call was dropped when its wait ended


def pool_threads(prefix="playbill-app-blocking"):
    return [thread for thread in threading.enumerate() if thread.name.startswith(prefix)]


def test_the_pool_is_shut_down_with_the_system():
    async def main():
        async with ActorSystem("app") as system:
            await system.run(blocking(add, 1, 2))
            assert pool_threads()

    asyncio_run(main())
    for _ in range(200):
        if not pool_threads():
            break
        time.sleep(0.01)
    assert pool_threads() == []


def test_shutdown_does_not_wait_forever_for_a_stuck_call(caplog):
    release = threading.Event()

    async def main():
        system = ActorSystem("stuck")
        system.start()
        task = asyncio.ensure_future(system.run(blocking(release.wait, 10)))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await system.shutdown(timeout=0.2)
        task.cancel()
        return time.monotonic() - started

    try:
        assert asyncio_run(main()) < 3
    finally:
        release.set()
    assert "still ran at shutdown" in caplog.text


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [0, -1, 1.5, "4", True, None])
def test_blocking_threads_must_be_a_positive_int(threads):
    with pytest.raises(InvalidArgument, match="blocking_threads") as raised:
        ActorSystem("app", blocking_threads=threads)
    assert repr(threads) in str(raised.value) or str(threads) in str(raised.value)


def test_blocking_takes_a_function():
    with pytest.raises(InvalidArgument, match=r"blocking\(\) takes a function.*42"):
        blocking(42)


def test_blocking_refuses_an_async_function():
    async def fetch():
        return 1

    with pytest.raises(InvalidArgument, match="async function"):
        blocking(fetch)
