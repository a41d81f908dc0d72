"""Every MoA and team flow saves to YAML through the registry, loads back equal, and draws as
Mermaid with a node per agent and a fork/join around the parallel parts."""

from __future__ import annotations

import pytest

from playbill.flow import Registry, from_yaml, to_mermaid
from playbill.moa import moa_layer, moa_registry, moa_tree
from tests.moa.support import Directing, Fast, Joiner, Steady, Straggler


def registry() -> Registry:
    names = moa_registry()
    for agent in (Fast, Steady, Straggler, Joiner, Directing):
        names.register(agent)
    return names


FLOWS = {
    "layer": moa_layer([Fast, Steady, Straggler], Joiner, min_success=2, timeout=5),
    "tree": moa_tree([moa_layer([Fast, Steady], Directing), moa_layer([Fast, Straggler], Joiner)]),
}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_it_saves_to_yaml_and_loads_back_equal(name):
    flow = FLOWS[name]
    names = registry()
    assert from_yaml(flow.to_yaml(names), names) == flow


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_it_will_not_save_without_the_moa_names(name):
    names = Registry()
    for agent in (Fast, Steady, Straggler, Joiner, Directing):
        names.register(agent)
    with pytest.raises(ValueError, match="not registered"):
        FLOWS[name].to_yaml(names)


def test_a_layer_draws_a_node_per_agent_inside_a_fork_and_join():
    chart = to_mermaid(FLOWS["layer"], registry())
    for agent in ("Fast", "Steady", "Straggler", "Joiner"):
        assert chart.count(f"actor: {agent}") == 1, chart
    assert '{{"at least 2 of 3"}}' in chart, chart
    assert '{{"end at least 2 of 3"}}' in chart, chart
    assert "moa.proposals_of" in chart
