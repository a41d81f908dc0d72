"""A million binds, nested either way, and million-step recursions run in bounded stack."""

import sys
from typing import Any

import pytest

from playbill import Program, program, pure
from playbill.effects import Machine
from playbill.effects._pretty import one_line, tree
from playbill.interpreters import stub

MILLION = 1_000_000


@pytest.fixture(autouse=True)
def default_recursion_limit() -> None:
    # The point of these tests is the default limit: nothing may have raised it.
    assert sys.getrecursionlimit() <= 1000


def increment(x: int) -> Program[int]:
    return pure(x + 1)


def test_a_million_left_nested_binds():
    built: Program[int] = pure(0)
    for _ in range(MILLION):
        built = built.flat_map(increment)
    assert stub.run(built) == MILLION


def test_a_million_left_nested_maps():
    built: Program[int] = pure(0)
    for _ in range(MILLION):
        built = built.map(lambda x: x + 1)
    assert stub.run(built) == MILLION


def test_a_million_right_nested_binds():
    def step(x: int) -> Program[int]:
        return pure(x) if x >= MILLION else pure(x + 1).flat_map(step)

    assert stub.run(pure(0).flat_map(step)) == MILLION


def test_a_recursive_program_looping_a_million_times_through_flat_map():
    def count(n: int, total: int) -> Program[int]:
        if n == 0:
            return pure(total)
        return pure(total + 1).flat_map(lambda t: count(n - 1, t))

    assert stub.run(count(MILLION, 0)) == MILLION


def test_a_recursive_program_looping_a_million_times_through_do_notation():
    @program
    def count(n: int) -> Any:
        if n == 0:
            return 0
        return (yield count(n - 1)) + 1

    assert stub.run(count(MILLION)) == MILLION


def test_a_loop_of_a_million_yields_in_one_generator():
    @program
    def loop() -> Any:
        total = 0
        for _ in range(MILLION):
            total = yield pure(total + 1)
        return total

    assert stub.run(loop()) == MILLION


def test_a_million_nested_recovers_and_finalisers():
    built: Program[int] = pure(0)
    for _ in range(MILLION // 4):
        built = built.recover(lambda e: -1).ensuring(pure(None)).map(lambda x: x + 1)
    assert stub.run(built) == MILLION // 4


def test_the_stack_is_empty_after_the_run():
    built: Program[int] = pure(0)
    for _ in range(1000):
        built = built.flat_map(increment)
    machine = Machine(built)
    machine.start()
    assert machine.depth == 0


def test_printing_a_million_bind_program_does_not_recurse():
    built: Program[int] = pure(0)
    for _ in range(MILLION):
        built = built.map(str)
    text = one_line(built)
    assert text.startswith("pure(0)…(999960 more)")
    assert len(tree(built, max_nodes=50).splitlines()) == 51
