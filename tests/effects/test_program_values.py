"""Programs are values: equal structure compares equal and hashes equal, at any depth.

Equality and hashing walk the program on an explicit stack, so the chains of a million binds
the interpreters run can be compared and hashed too, nested either way.
"""

import sys
from collections import namedtuple
from typing import Any

import pytest

from playbill import Program, fail, gather, program, pure, race, sleep, timeout
from playbill.effects import FlatMap, Pure

MILLION = 1_000_000


@pytest.fixture(autouse=True)
def default_recursion_limit() -> None:
    # The point of these tests is the default limit: nothing may have raised it.
    assert sys.getrecursionlimit() <= 1000


def increment(x: int) -> Program[int]:
    return pure(x + 1)


def left_nested(binds: int, start: int = 0) -> Program[int]:
    built: Program[int] = pure(start)
    for _ in range(binds):
        built = built.flat_map(increment)
    return built


def right_nested(binds: int, last: int = 0) -> Program[int]:
    built: Program[int] = pure(last)
    for index in range(binds):
        built = pure(index).then(built)
    return built


@pytest.mark.parametrize("binds", [100_000, MILLION])
def test_left_nested_chains_of_binds_compare_and_hash(binds: int) -> None:
    first, second = left_nested(binds), left_nested(binds)
    assert first == second
    assert hash(first) == hash(second)
    del second  # at most two chains alive at once
    assert first != left_nested(binds, start=1)  # differs only at the very bottom
    assert first != first.source  # type: ignore[attr-defined]


@pytest.mark.parametrize("binds", [100_000, MILLION])
def test_right_nested_chains_of_binds_compare_and_hash(binds: int) -> None:
    first, second = right_nested(binds), right_nested(binds)
    assert first == second
    assert hash(first) == hash(second)
    del second  # at most two chains alive at once
    assert first != right_nested(binds, last=1)  # differs only at the very bottom


def test_programs_nested_through_concurrency_effects_compare_and_hash() -> None:
    def nest(depth: int, innermost: int) -> Program[Any]:
        built: Program[Any] = pure(innermost)
        for index in range(depth):
            if index % 3 == 0:
                built = gather(built, pure(index))
            elif index % 3 == 1:
                built = timeout(built, 5)
            else:
                built = race(built).recover(str).ensuring(pure(None)).map(str)
        return built

    assert nest(30_000, 0) == nest(30_000, 0)
    assert hash(nest(30_000, 0)) == hash(nest(30_000, 0))
    assert nest(30_000, 0) != nest(30_000, 1)


def test_equal_structure_is_equal_and_hashes_equal() -> None:
    def build() -> Program[Any]:
        return (
            pure(1)
            .map(str)
            .flat_map(increment)
            .recover(len, catching=KeyError)
            .then(gather(pure((1, "a")), sleep(2)))
            .ensuring(pure(None))
            .attempt()
        )

    assert build() == build()
    assert hash(build()) == hash(build())
    assert len({build(), build(), pure(1)}) == 2


def test_functions_and_errors_compare_by_identity() -> None:
    assert pure(1).map(lambda x: x) != pure(1).map(lambda x: x)
    assert pure(1).map(str) == pure(1).map(str)
    error = ValueError("same")
    assert fail(error) == fail(error)
    assert fail(ValueError("same")) != fail(ValueError("same"))

    @program
    def body(n: int) -> Any:
        return (yield pure(n))

    assert body(1) == body(1)
    assert body(1) != body(2)


def test_values_compare_as_python_compares_them() -> None:
    assert pure(1) == pure(1.0)
    assert hash(pure(1)) == hash(pure(1.0))
    Pair = namedtuple("Pair", "first second")
    assert pure((1, 2)) == pure(Pair(1, 2))
    assert hash(pure((1, 2))) == hash(pure(Pair(1, 2)))
    assert pure((1, 2)) != pure((1, 2, 3))
    assert pure([1]) == pure([1])
    with pytest.raises(TypeError, match="unhashable"):
        hash(pure([1]))


def test_different_nodes_are_not_equal() -> None:
    assert pure(1) != pure(1).map(str)
    assert pure(1) != 1
    assert FlatMap(pure(1), increment) != pure(1).map(increment)
    assert Pure(1).__eq__(1) is NotImplemented
