"""pytest-benchmark cases for the asyncio actor runtime (``make bench``; run once as tests
otherwise), and a check that the side-by-side script still runs."""

import asyncio

import actors_side_by_side as scenarios


def test_tell_throughput(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_tell(10_000)))


def test_sequential_asks(benchmark):
    latencies = benchmark(lambda: asyncio.run(scenarios.playbill_ask(2_000)))
    assert len(latencies) == 2_000


def test_fan_out_loses_nothing(benchmark):
    _, lost = benchmark(lambda: asyncio.run(scenarios.playbill_fanout(100, 100)))
    assert lost == 0


def test_spawn(benchmark):
    benchmark(lambda: asyncio.run(scenarios.playbill_spawn(1_000)))


def test_the_side_by_side_script_runs():
    output = scenarios.quick_table()  # (its --quick run, shared with the router's and toolkit's)
    assert "tell 10,000, one actor" in output
    assert "messages lost: floor 0, playbill 0" in output


def test_the_simulation_side_by_side_script_runs(capsys):
    import simulation_side_by_side

    simulation_side_by_side.main(["--quick"])
    output = capsys.readouterr().out
    assert "deliveries/s" in output
    assert "bank race: found and shrunk" in output
