"""Every MoA and team flow saves to YAML through the registry, loads back equal, and draws as
Mermaid with a node per agent and a fork/join around the parallel parts."""

from __future__ import annotations

import pytest

from playbill.flow import Registry, from_yaml, to_mermaid
from playbill.moa import (
    broadcast,
    debate,
    evaluator_optimizer,
    hierarchy,
    moa_layer,
    moa_registry,
    moa_tree,
    pipeline,
    router,
)
from tests.moa.support import (
    Critic,
    Directing,
    Exclaim,
    Fast,
    Joiner,
    Judge,
    Steady,
    Straggler,
    Stubborn,
    Supervisor,
    Upper,
    Writer,
    short_or_long,
)

AGENTS = (
    Fast,
    Steady,
    Straggler,
    Joiner,
    Directing,
    Upper,
    Exclaim,
    Supervisor,
    Stubborn,
    Judge,
    Writer,
    Critic,
)


def registry() -> Registry:
    names = moa_registry()
    for agent in AGENTS:
        names.register(agent)
    names.register(short_or_long)
    return names


FLOWS = {
    "layer": moa_layer([Fast, Steady, Straggler], Joiner, min_success=2, timeout=5),
    "tree": moa_tree([moa_layer([Fast, Steady], Directing), moa_layer([Fast, Straggler], Joiner)]),
    "pipeline": pipeline(Upper, Exclaim),
    "broadcast": broadcast(Upper, Exclaim),
    "broadcast quorum": broadcast(Upper, Exclaim, min_success=1),
    "router": router(short_or_long, {"short": Exclaim, "long": Upper}),
    "hierarchy": hierarchy(Supervisor, [Upper, Exclaim], max_rounds=3),
    "debate": debate([Stubborn, Stubborn], Judge, max_rounds=4),
    "evaluator_optimizer": evaluator_optimizer(Writer, Critic, max_rounds=4),
    "nested": pipeline(
        moa_layer([Fast, Steady], Joiner),
        router(short_or_long, {"short": broadcast(Upper, Exclaim)}),
    ),
}
DRAWN = {
    "layer": ["Fast", "Steady", "Straggler", "Joiner"],
    "tree": ["Fast", "Steady", "Directing", "Straggler", "Joiner"],
    "pipeline": ["Upper", "Exclaim"],
    "broadcast": ["Upper", "Exclaim"],
    "broadcast quorum": ["Upper", "Exclaim"],
    "router": ["Upper", "Exclaim"],
    "hierarchy": ["Supervisor", "Upper", "Exclaim"],
    "debate": ["Stubborn", "Judge"],
    "evaluator_optimizer": ["Writer", "Critic"],
    "nested": ["Fast", "Steady", "Joiner", "Upper", "Exclaim"],
}
PARALLEL = {"layer", "tree", "broadcast", "broadcast quorum", "hierarchy", "debate", "nested"}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_it_saves_to_yaml_and_loads_back_equal(name):
    flow = FLOWS[name]
    names = registry()
    assert from_yaml(flow.to_yaml(names), names) == flow


@pytest.mark.parametrize("name", sorted(set(FLOWS) - {"pipeline"}))  # a pipeline is only `>>`
def test_it_will_not_save_without_the_moa_names(name):
    names = Registry()
    for agent in AGENTS:
        names.register(agent)
    names.register(short_or_long)
    with pytest.raises(ValueError, match="not registered"):
        FLOWS[name].to_yaml(names)


def test_a_layer_draws_a_node_per_agent_inside_a_fork_and_join():
    chart = to_mermaid(FLOWS["layer"], registry())
    for agent in ("Fast", "Steady", "Straggler", "Joiner"):
        assert chart.count(f"actor: {agent}") == 1, chart
    assert '{{"at least 2 of 3"}}' in chart, chart
    assert '{{"end at least 2 of 3"}}' in chart, chart
    assert "moa.proposals_of" in chart


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_it_draws_its_agents_and_a_fork_and_join_for_the_parallel_parts(name):
    chart = to_mermaid(FLOWS[name], registry())
    lines = chart.splitlines()
    assert lines[0] == "flowchart TD"
    for agent in DRAWN[name]:
        assert any(f"actor: {agent}" in line for line in lines), chart
    forks = [line for line in lines if '{{"at least' in line or '{{"zip_all' in line]
    assert bool(forks) == (name in PARALLEL), chart
