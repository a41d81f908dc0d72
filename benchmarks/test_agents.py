"""pytest-benchmark cases for the agent layer (``make bench``; run once as tests otherwise),
and a check that the side-by-side script still runs."""

import asyncio

import agents_side_by_side as scenarios


def test_agent_asks(benchmark):
    latencies = benchmark(lambda: asyncio.run(scenarios.playbill_ask(2_000)))
    assert len(latencies) == 2_000


def test_fan_out_of_fifty_children(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_fanout(50, 20)))


def test_ask_stream_chunks(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_stream(1_000, 2)))


def test_runs(benchmark):
    latencies = benchmark(lambda: asyncio.run(scenarios.playbill_run(200)))
    assert len(latencies) == 200


def test_program_agent_tasks_in_the_simulator(benchmark):
    benchmark(lambda: scenarios.simulated_tasks(2_000))


def test_the_agents_side_by_side_script_runs(capsys):
    figures = scenarios.main(["--quick"])
    output = capsys.readouterr().out
    assert "AgentActor ask p50" in output
    assert "simulator: Program agent tasks" in output
    assert figures["simulator tasks"] > 0
