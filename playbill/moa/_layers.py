"""`moa_layer` and `moa_tree`: Mixture-of-Agents as flows built from the flow combinators, so
they run on every interpreter, save to YAML through a `Registry` and draw as Mermaid."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from playbill.effects import InvalidArgument
from playbill.flow import Flow, QuorumResult, actor, at_least, identity, step
from playbill.moa._values import LayerInput, LayerOutput, Proposal, Proposals

__all__ = [
    "as_flow",
    "layer_input",
    "layer_result",
    "layers_of",
    "moa_layer",
    "moa_tree",
    "proposals_of",
]

# the layers each tree `moa_tree` made was built from, so that `MoASystem` runs each layer as
# a task of its own (a flow's `>>` flattens the layers into one chain); keyed by identity, as
# a flow's structural hash walks the whole tree
_TREE_LAYERS: dict[int, tuple[weakref.ref[Flow[Any, Any]], tuple[Flow[Any, Any], ...]]] = {}


def _remember(tree: Flow[Any, Any], layers: tuple[Flow[Any, Any], ...]) -> None:
    key = id(tree)
    _TREE_LAYERS[key] = (weakref.ref(tree, lambda _: _TREE_LAYERS.pop(key, None)), layers)


def layers_of(tree: Flow[Any, Any]) -> tuple[Flow[Any, Any], ...] | None:
    """The layers of a tree `moa_tree` made in this process (``None`` for any other flow)."""
    known = _TREE_LAYERS.get(id(tree))
    if known is None or known[0]() is not tree:
        return None
    return known[1]


def as_flow(where: str, agent: object) -> Flow[Any, Any]:
    """``agent`` as a flow: a `Flow` as it is, an agent or actor class as an ``actor`` leaf."""
    if isinstance(agent, Flow):
        return agent
    if isinstance(agent, type):
        return actor(agent)
    raise InvalidArgument(
        f"{where} must be a Flow or an agent class (an AgentActor or Actor subclass), got "
        f"{agent!r:.80} ({type(agent).__name__}); wrap a function in playbill.flow.step(...)"
    )


def layer_input(value: Any) -> LayerInput[Any]:
    """What a layer's proposers receive from whatever came in: a `LayerOutput` of the layer
    before passes its directive on; any other value comes with no directive."""
    if isinstance(value, LayerInput):
        return value
    if isinstance(value, LayerOutput):
        return LayerInput(value.result, value.directive)
    return LayerInput(value)


def proposals_of(pair: tuple[LayerInput[Any], QuorumResult]) -> Proposals[Any]:
    """What the aggregator receives: the input value (not the directive), the quorum's
    successes ordered by proposer index, and the failures seen before the quorum."""
    incoming, quorum = pair
    successes = sorted(
        (
            Proposal(index, output)
            for index, output in zip(quorum.indices, quorum.succeeded, strict=True)
        ),
        key=lambda proposal: proposal.index,
    )
    return Proposals(incoming.value, tuple(successes), tuple(quorum.failed))


def layer_result(value: Any) -> Any:
    """A layer's plain result: the ``result`` of a `LayerOutput`, any other value as it is."""
    return value.result if isinstance(value, LayerOutput) else value


def moa_layer(
    proposers: Sequence[Flow[Any, Any] | type],
    aggregator: Flow[Any, Any] | type,
    *,
    min_success: int = 1,
    timeout: float | None = None,
) -> Flow[Any, Any]:
    """One Mixture-of-Agents layer: every proposer on the same `LayerInput`, concurrently; as
    soon as ``min_success`` of them have succeeded the others are cancelled and the aggregator
    runs on the `Proposals` (the successes and the failures seen before); as soon as
    ``min_success`` successes are impossible the layer fails with `QuorumNotReached`.
    ``timeout`` bounds the whole layer, the proposers and the aggregator (`TimedOut`).

    The input may be a plain value, a `LayerInput`, or the `LayerOutput` of the layer
    before, whose directive reaches these proposers. The output is the aggregator's, a plain
    value or a `LayerOutput` carrying a directive for the next layer.

    >>> from playbill import simulate
    >>> from playbill.flow import step
    >>> layer = moa_layer(
    ...     [step(lambda given: given.value + 1), step(lambda given: given.value * 10)],
    ...     step(lambda proposals: sum(proposals.outputs)),
    ...     min_success=2,
    ... )
    >>> simulate(layer.to_program(3)).value
    34
    """
    if isinstance(proposers, (Flow, type, str)) or not isinstance(proposers, Sequence):
        raise InvalidArgument(
            f"moa_layer() proposers must be a list of flows or agent classes, got "
            f"{proposers!r:.80} ({type(proposers).__name__})"
        )
    if not proposers:
        raise InvalidArgument("moa_layer() proposers must not be empty, got []")
    flows = [as_flow(f"moa_layer() proposer {index}", each) for index, each in enumerate(proposers)]
    aggregating = as_flow("moa_layer() aggregator", aggregator)
    if (
        not isinstance(min_success, int)
        or isinstance(min_success, bool)
        or not 1 <= min_success <= len(flows)
    ):
        raise InvalidArgument(
            f"moa_layer() min_success must be an integer from 1 to the {len(flows)} "
            f"proposer(s), got {min_success!r}"
        )
    unchanged: Flow[LayerInput[Any], LayerInput[Any]] = identity()
    layer: Flow[Any, Any] = (
        step(layer_input)
        >> unchanged.zip(at_least(min_success, *flows))
        >> step(proposals_of)
        >> aggregating
    )
    if timeout is not None:
        layer = layer.timeout(timeout)
    return layer


def moa_tree(layers: Sequence[Flow[Any, Any]]) -> Flow[Any, Any]:
    """Layers (each a `moa_layer`) one after another: each aggregator's output goes to the next
    layer, its directive to that layer's proposers only; the tree gives the last aggregator's
    plain result (a `LayerOutput`'s ``result``).

    >>> from playbill import simulate
    >>> from playbill.flow import step
    >>> double = moa_layer([step(lambda given: given.value * 2)], step(lambda p: p.outputs[0]))
    >>> simulate(moa_tree([double, double]).to_program(5)).value
    20
    """
    if isinstance(layers, Flow) or not isinstance(layers, Sequence):
        raise InvalidArgument(
            f"moa_tree() layers must be a list of layers (flows from moa_layer), got "
            f"{layers!r:.80} ({type(layers).__name__})"
        )
    if not layers:
        raise InvalidArgument(
            "moa_tree() layers must not be empty, got []; give at least one moa_layer(...)"
        )
    flows = tuple(as_flow(f"moa_tree() layer {index}", each) for index, each in enumerate(layers))
    tree: Flow[Any, Any] = flows[0]
    for each in flows[1:]:
        tree = tree >> each
    tree = tree >> step(layer_result)
    _remember(tree, flows)
    return tree
