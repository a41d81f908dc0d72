"""pytest-benchmark cases for the actor toolkit (``make bench``; run once as tests otherwise):
middleware on a tell (0, 1 and 4 layers), a tell to an active grain (through its `grain_ref`,
and through its directory) beside a direct tell, and a grain's activation beside a spawn
(issue 16's targets: at most 0.3 µs per layer, 1.2x a direct tell, 2x a spawn; the
side-by-side script prints the ratios, measured in turn)."""

import asyncio

import actors_side_by_side as scenarios
import pytest


@pytest.mark.parametrize("layers", [0, 1, 4])
def test_tell_through_middleware(benchmark, layers):
    benchmark(lambda: asyncio.run(scenarios.playbill_middleware_tell(10_000, layers)))


def test_tell_to_an_active_grain(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_grain_tell(10_000)))


def test_tell_to_an_active_grain_through_its_directory(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_grain_directory_tell(10_000)))


def test_spawn_and_first_message(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_spawn_and_tell(1_000)))


def test_grain_activation_and_first_message(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_grain_activation(1_000)))


def test_the_side_by_side_script_prints_the_toolkit_ratios():
    printed = scenarios.quick_table()  # (its --quick run, shared with the router's test)
    for line in ("middleware on a tell", "tell to an active grain", "grain activation"):
        assert line in printed
