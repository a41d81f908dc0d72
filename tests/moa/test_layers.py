"""`moa_layer` and `moa_tree`: a quorum of proposers through `at_least`, the aggregator on
typed `Proposals`, a timeout over both, stragglers cancelled, no actor left behind; directives
reach the next layer's proposers only — under asyncio and the simulator (both deliveries)."""

from __future__ import annotations

import pytest

from playbill import InvalidArgument, TimedOut, simulate
from playbill.agents import task_tree
from playbill.flow import QuorumNotReached, step
from playbill.moa import (
    LayerInput,
    LayerOutput,
    Proposal,
    Proposals,
    format_proposals,
    moa_layer,
    moa_tree,
)
from tests.moa.support import (
    INTERPRETERS,
    AlsoBroken,
    Broken,
    Directing,
    Fast,
    Joiner,
    Late,
    SlowAggregator,
    Steady,
    Straggler,
    perform,
)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_every_proposer_answers_and_the_aggregator_sees_them_in_proposer_order(interpreter):
    layer = moa_layer([Late, Fast, Steady], Joiner, min_success=3)
    outcome = perform(layer.to_program("q"), interpreter)
    assert outcome.error is None
    assert outcome.value == "Late:q | Fast:q | Steady:q (0 failed)"
    assert outcome.left == ()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_the_quorum_cancels_the_straggler_at_once(interpreter):
    layer = moa_layer([Straggler, Fast, Steady], Joiner, min_success=2)
    outcome = perform(layer.to_program("q"), interpreter)
    assert outcome.value == "Fast:q | Steady:q (0 failed)"
    assert outcome.left == ()
    if outcome.clock is not None:
        assert outcome.clock < 1  # not SLOW: the straggler was not waited for
    statuses = sorted(span.status.value for span in task_tree(outcome.events))
    assert statuses == ["cancelled", "completed", "completed", "completed"]  # + the aggregator


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_the_aggregator_receives_the_failures_seen_before_the_quorum(interpreter):
    seen = []

    def aggregate(proposals):
        seen.append(proposals)
        return format_proposals(proposals)

    layer = moa_layer([Broken, Fast, Steady], step(aggregate), min_success=2)
    outcome = perform(layer.to_program("q"), interpreter)
    [proposals] = seen
    assert isinstance(proposals, Proposals)
    assert proposals.value == "q"
    assert proposals.successes == (Proposal(1, "Fast:q"), Proposal(2, "Steady:q"))
    assert [str(error) for error in proposals.failures] == ["Broken is down"]
    assert outcome.value.splitlines() == [
        "Question: q",
        "Proposal 1 (proposer 1): Fast:q",
        "Proposal 2 (proposer 2): Steady:q",
        "Failed: ValueError: Broken is down",
    ]
    assert outcome.left == ()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_impossible_quorum_fails_the_layer_without_waiting_for_the_straggler(interpreter):
    layer = moa_layer([Broken, Straggler, AlsoBroken], Joiner, min_success=2)
    outcome = perform(layer.to_program("q"), interpreter)
    assert isinstance(outcome.error, QuorumNotReached)
    assert outcome.left == ()
    if outcome.clock is not None:
        assert outcome.clock < 1


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_the_layer_timeout_bounds_the_aggregator_too(interpreter):
    layer = moa_layer([Fast], SlowAggregator, timeout=0.2)
    outcome = perform(layer.to_program("q"), interpreter)
    assert isinstance(outcome.error, TimedOut)
    assert outcome.left == ()
    if outcome.clock is not None:
        assert outcome.clock == pytest.approx(0.2)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_the_layer_timeout_bounds_the_proposers(interpreter):
    layer = moa_layer([Fast, Straggler], Joiner, min_success=2, timeout=0.2)
    outcome = perform(layer.to_program("q"), interpreter)
    assert isinstance(outcome.error, TimedOut)
    assert outcome.left == ()


def recorded(log):
    def aggregate(proposals):
        log.append(("aggregator", proposals))
        return " | ".join(proposals.outputs)

    return aggregate


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_directive_reaches_the_next_layers_proposers_only(interpreter):
    log = []
    tree = moa_tree(
        [
            moa_layer([Fast], Directing),  # says "brief" to layer 2
            moa_layer([Fast, Steady], step(recorded(log)), min_success=2),  # plain: clears it
            moa_layer([Fast], step(recorded(log))),
        ]
    )
    outcome = perform(tree.to_program("q"), interpreter)
    assert outcome.error is None
    assert outcome.value == "Fast:Fast:Fast:q[brief] | Steady:Fast:q[brief]"
    # the aggregators' input has no directive at all: it is for proposers only
    assert [type(entry[1]) for entry in log] == [Proposals, Proposals]
    assert log[0][1].value == "Fast:q"  # layer 1's result, its directive gone to the proposers
    assert outcome.left == ()


def test_a_layer_takes_a_layer_input_or_output_as_it_comes():
    layer = moa_layer([step(lambda given: given)], step(lambda p: p.outputs[0]))
    assert simulate(layer.to_program("x")).value == LayerInput("x", None)
    assert simulate(layer.to_program(LayerOutput("x", "d"))).value == LayerInput("x", "d")
    assert simulate(layer.to_program(LayerInput("x", "e"))).value == LayerInput("x", "e")


def test_the_tree_gives_the_last_aggregators_plain_result():
    tree = moa_tree([moa_layer([Fast], Directing)])
    assert simulate(tree.to_program("q")).value == "Fast:q"


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: moa_tree([]), "layers must not be empty"),
        (lambda: moa_tree(moa_layer([Fast], Joiner)), "must be a list"),
        (lambda: moa_layer([], Joiner), "proposers must not be empty"),
        (lambda: moa_layer(Fast, Joiner), "must be a list"),
        (lambda: moa_layer([Fast], Joiner, min_success=2), "from 1 to the 1 proposer"),
        (lambda: moa_layer([Fast], Joiner, min_success=0), "got 0"),
        (lambda: moa_layer([Fast], Joiner, min_success=True), "got True"),
        (lambda: moa_layer([len], Joiner), "proposer 0 must be a Flow or an agent class"),
        (lambda: moa_layer([Fast], "Joiner"), "aggregator must be a Flow"),
        (lambda: moa_layer([Fast], Joiner, timeout=-1), "positive seconds"),
        (lambda: format_proposals(["a"]), "takes the Proposals"),
    ],
)
def test_bad_arguments_are_refused_naming_what_was_given(call, words):
    with pytest.raises(InvalidArgument, match=words):
        call()
