"""Mixture-of-Agents and team patterns, as flows.

`moa_layer` runs proposers concurrently to a quorum and an aggregator on their `Proposals`;
`moa_tree` chains layers, each aggregator's `LayerOutput` directive reaching the next layer's
proposers only. Every one is a `Flow`: it runs on every interpreter, saves to YAML through a
`Registry` (`moa_registry` names the library's own functions) and draws as Mermaid.

>>> from playbill import simulate
>>> from playbill.flow import step
>>> layer = moa_layer([step(lambda given: given.value.upper())], step(lambda p: p.outputs))
>>> simulate(layer.to_program("hi")).value
('HI',)
"""

from playbill.moa._layers import moa_layer, moa_tree
from playbill.moa._registry import moa_registry
from playbill.moa._system import MoASystem
from playbill.moa._teams import (
    Attempt,
    Debate,
    DebateTurn,
    Delegate,
    Draft,
    Evaluation,
    Final,
    SupervisorTurn,
    UnknownRoute,
    broadcast,
    debate,
    evaluator_optimizer,
    hierarchy,
    pipeline,
    router,
    stateful_router,
    unanimous,
)
from playbill.moa._values import LayerInput, LayerOutput, Proposal, Proposals, format_proposals

__all__ = [
    "Attempt",
    "Debate",
    "DebateTurn",
    "Delegate",
    "Draft",
    "Evaluation",
    "Final",
    "LayerInput",
    "LayerOutput",
    "MoASystem",
    "Proposal",
    "Proposals",
    "SupervisorTurn",
    "UnknownRoute",
    "broadcast",
    "debate",
    "evaluator_optimizer",
    "format_proposals",
    "hierarchy",
    "moa_layer",
    "moa_registry",
    "moa_tree",
    "pipeline",
    "router",
    "stateful_router",
    "unanimous",
]
