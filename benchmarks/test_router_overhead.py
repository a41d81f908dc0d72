"""pytest-benchmark cases for routers (``make bench``; run once as tests otherwise): a tell
through a round-robin router beside the same tells sent directly (issue 16's target: routing
costs at most 1.2x a direct tell; the side-by-side script prints the ratio)."""

import asyncio

import actors_side_by_side as scenarios


def test_direct_tell_to_one_actor(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_shared_tell(10_000)))


def test_tell_through_a_round_robin_router(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_routed_tell(10_000)))


def test_tell_through_a_round_robin_router_over_four_routees(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_routed_tell(10_000, 4)))


def test_the_side_by_side_script_prints_the_routing_ratio():
    # (its --quick run, shared with the toolkit's test)
    assert "tell through a round-robin router" in scenarios.quick_table()
