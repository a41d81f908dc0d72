"""What the simulated world keeps while it runs: not the fibers of messages already handled."""

from typing import Any

from attrs import frozen

from playbill import (
    Actor,
    AskTimeout,
    Effect,
    fork,
    free_ask,
    free_spawn,
    join,
    perform,
    program,
    pure,
    simulate,
    sleep,
)
from playbill.interpreters.simulation._world import CURRENT_WORLD


@frozen
class CountFibers(Effect[int]):
    """How many fibers the running world keeps (its handler reads the world)."""


def count_fibers(effect: CountFibers) -> int:
    world = CURRENT_WORLD.get()
    assert world is not None
    return len(world.fibers)


class Programmed(Actor):
    def receive(self, message: Any) -> Any:
        return pure(message)  # a program: each message runs as a fiber of its own


def test_the_fibers_of_handled_messages_are_not_kept() -> None:
    @program
    def main() -> Any:
        ref = yield free_spawn(Programmed, name="echo")
        for index in range(50):
            assert (yield free_ask(ref, index)) == index
        return (yield perform(CountFibers()))

    result = simulate(main(), seed=0, handlers={CountFibers: count_fibers})
    assert result.value == 1  # main's; not one of the 50 messages'


def test_a_finished_fork_is_kept_so_that_it_can_still_be_joined() -> None:
    @program
    def main() -> Any:
        child = yield fork(pure(7))
        ref = yield free_spawn(Programmed, name="echo")
        yield free_ask(ref, "first")  # the fork has finished by now
        kept = yield perform(CountFibers())
        return kept, (yield join(child))

    assert simulate(main(), seed=0, handlers={CountFibers: count_fibers}).value == (2, 7)


@frozen
class CountDeadlines(Effect[int]):
    """How many ask deadlines the running world keeps queued (its handler reads the world)."""


def count_deadlines(effect: CountDeadlines) -> int:
    world = CURRENT_WORLD.get()
    assert world is not None
    return sum(len(queue) for queue in world.deadlines.values())


class PlainEcho(Actor):
    def receive(self, message: Any) -> Any:
        return message


def test_the_deadlines_of_answered_asks_are_not_kept_while_the_clock_stands_still() -> None:
    @program
    def main() -> Any:
        ref = yield free_spawn(PlainEcho, name="echo")
        for index in range(50):
            assert (yield free_ask(ref, index)) == index
        return (yield perform(CountDeadlines()))

    # each ask's deadline (its message, envelope and expiry with it) leaves the queue once it
    # is answered, at the next ask: at most the last one is left, not the 50
    result = simulate(main(), seed=0, handlers={CountDeadlines: count_deadlines})
    assert result.value <= 1
    assert result.clock == 0.0


def test_an_unanswered_ask_still_times_out_behind_answered_ones() -> None:
    class Silent(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(100.0)  # replies too late for the second ask

    @program
    def main() -> Any:
        fast = yield free_spawn(PlainEcho, name="fast")
        slow = yield free_spawn(Silent, name="slow")
        yield free_ask(fast, "a")
        outcome = yield free_ask(slow, "b", timeout=5.0).attempt()
        yield free_ask(fast, "c")
        return outcome

    result = simulate(main(), seed=0)
    assert isinstance(result.value.failure(), AskTimeout)
    assert result.clock == 5.0
