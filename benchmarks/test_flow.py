"""pytest-benchmark cases for compiled Flows (``make bench``; run once as tests otherwise)."""

from flow_side_by_side import flow_pipeline, generator_pipeline, mapped_pipeline

from playbill import simulate
from playbill.interpreters import stub

STEPS = 2_000


def test_flow_pipeline_events_off(benchmark):
    flow = flow_pipeline(STEPS)
    assert benchmark(lambda: stub.run(flow.to_program(0, events=False))) == STEPS


def test_flow_pipeline_events_on(benchmark):
    flow = flow_pipeline(STEPS)
    assert benchmark(lambda: stub.run(flow.to_program(0))) == STEPS


def test_hand_written_map_chain(benchmark):
    chain = mapped_pipeline(STEPS)
    assert benchmark(lambda: stub.run(chain)) == STEPS


def test_hand_written_generator(benchmark):
    chain = generator_pipeline(STEPS)
    assert benchmark(lambda: stub.run(chain)) == STEPS


def test_thousand_step_flow_in_the_simulator(benchmark):
    flow = flow_pipeline(1_000)
    result = benchmark(lambda: simulate(flow.to_program(0), max_steps=10**6))
    assert result.value == 1_000
