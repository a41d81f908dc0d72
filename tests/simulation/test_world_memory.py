"""What the simulated world keeps while it runs: not the fibers of messages already handled."""

from typing import Any

from attrs import frozen

from playbill import (
    Actor,
    Effect,
    fork,
    free_ask,
    free_spawn,
    join,
    perform,
    program,
    pure,
    simulate,
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
