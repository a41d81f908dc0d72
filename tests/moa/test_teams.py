"""Teams as flows over agents — pipeline, broadcast, router, hierarchy, debate,
evaluator-optimizer — nested in one another and in MoA, under asyncio and the simulator (both
delivery modes), leaving no actor behind."""

from __future__ import annotations

import pytest

from playbill import InvalidArgument, simulate
from playbill.flow import LoopLimitExceeded, QuorumNotReached, WrongInput, step
from playbill.moa import (
    Delegate,
    LayerInput,
    Proposal,
    Proposals,
    UnknownRoute,
    broadcast,
    debate,
    evaluator_optimizer,
    hierarchy,
    moa_layer,
    pipeline,
    router,
)
from tests.moa.support import (
    INTERPRETERS,
    Broken,
    Critic,
    Exclaim,
    Fast,
    Judge,
    Straggler,
    Stubborn,
    Supervisor,
    Upper,
    Writer,
    perform,
    short_or_long,
)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_pipeline_runs_each_agent_on_the_output_before(interpreter):
    outcome = perform(pipeline(Upper, Exclaim, step(len)).to_program("hey"), interpreter)
    assert (outcome.value, outcome.left) == (4, ())


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_broadcast_collects_every_output_in_agent_order(interpreter):
    outcome = perform(broadcast(Upper, Exclaim).to_program("hey"), interpreter)
    assert (outcome.value, outcome.left) == (("HEY", "hey!"), ())


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_broadcast_quorum_cancels_the_straggler_and_keeps_the_failures(interpreter):
    team = broadcast(Straggler, Broken, Fast, min_success=1)
    outcome = perform(team.to_program(LayerInput("hey")), interpreter)
    assert isinstance(outcome.value, Proposals)
    assert outcome.value.successes == (Proposal(2, "Fast:hey"),)
    assert [str(error) for error in outcome.value.failures] == ["Broken is down"]
    assert outcome.left == ()
    if outcome.clock is not None:
        assert outcome.clock < 1


def test_a_broadcast_without_a_quorum_fails_with_any_agent():
    result = simulate(broadcast(Upper, Broken).to_program("hey"))
    assert isinstance(result.error, QuorumNotReached)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_router_runs_the_chosen_agent_only(interpreter):
    team = router(short_or_long, {"short": Exclaim, "long": Upper})
    assert perform(team.to_program("hey"), interpreter).value == "hey!"
    outcome = perform(team.to_program("hello there"), interpreter)
    assert (outcome.value, outcome.left) == ("HELLO THERE", ())
    assert [span.agent_path.split("/")[-1][:5] for span in _roots(outcome)] == ["Upper"]


def _roots(outcome):
    from playbill.agents import task_tree

    return task_tree(outcome.events)


def test_a_router_refuses_a_choice_that_names_no_route():
    team = router(lambda text: "nowhere", {"short": Exclaim})
    error = simulate(team.to_program("hey")).error
    assert isinstance(error, UnknownRoute)
    assert "'nowhere'" in str(error)
    assert "['short']" in str(error)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_hierarchy_delegates_to_workers_and_integrates(interpreter):
    team = hierarchy(Supervisor, [Upper, Exclaim], max_rounds=3)
    outcome = perform(team.to_program("hello big world"), interpreter)
    assert (outcome.value, outcome.left) == ("HELLO big world!", ())


def test_a_hierarchy_is_bounded_in_rounds_and_checks_the_delegation():
    forever = step(lambda turn: Delegate((1, 2)))
    assert isinstance(
        simulate(hierarchy(forever, [step(abs), step(abs)], max_rounds=2).to_program(0)).error,
        LoopLimitExceeded,
    )
    lopsided = step(lambda turn: Delegate((1,)))
    assert isinstance(
        simulate(hierarchy(lopsided, [step(abs), step(abs)], max_rounds=2).to_program(0)).error,
        WrongInput,
    )


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_debate_stops_early_on_agreement(interpreter):
    outcome = perform(
        debate([Stubborn, Stubborn], Judge, max_rounds=5).to_program("q"), interpreter
    )
    assert (outcome.value, outcome.left) == (((1, 1), True), ())


def test_a_debate_without_agreement_gives_the_arbiter_the_last_round():
    rounds = []

    def contrary(turn):
        rounds.append(turn.answers)
        return -len(rounds)  # never what Stubborn says

    result = simulate(debate([step(contrary), Stubborn], Judge, max_rounds=3).to_program("q"))
    assert result.value == ((-3, 3), False)  # the third round's answers
    assert rounds == [(), (-1, 1), (-2, 2)]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_evaluator_optimizer_revises_until_accepted(interpreter):
    team = evaluator_optimizer(Writer, Critic, max_rounds=4)
    outcome = perform(team.to_program("essay"), interpreter)
    assert (outcome.value, outcome.left) == ("essay v2 +examples", ())


def test_an_evaluator_optimizer_is_bounded_in_rounds():
    never = step(lambda draft: __import__("playbill.moa").moa.Evaluation(False, "no"))
    result = simulate(evaluator_optimizer(Writer, never, max_rounds=2).to_program("x"))
    assert isinstance(result.error, LoopLimitExceeded)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_teams_nest_in_one_another_and_in_a_moa_layer(interpreter):
    proposer = pipeline(step(lambda given: given.value), broadcast(Upper, Exclaim))
    layer = moa_layer([proposer, Fast], step(lambda proposals: proposals.outputs), min_success=2)
    team = pipeline(layer, router(lambda outputs: "short", {"short": step(len)}))
    outcome = perform(team.to_program("hey"), interpreter)
    assert (outcome.value, outcome.left) == (2, ())


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: pipeline(), "at least one agent"),
        (lambda: broadcast(), "at least one agent"),
        (lambda: broadcast(Upper, min_success=3), "from 1 to the 1 agent"),
        (lambda: router("short", {"a": Upper}), "choose must be a function"),
        (lambda: router(short_or_long, {}), "non-empty mapping"),
        (lambda: router(short_or_long, {1: Upper}), "names must be strings"),
        (lambda: hierarchy(Supervisor, Upper, max_rounds=1), "workers must be a list"),
        (lambda: hierarchy(Supervisor, [Upper], max_rounds=0), "max_rounds must be"),
        (lambda: debate([Stubborn], Judge, max_rounds=True), "got True"),
        (lambda: debate([Stubborn], Judge, max_rounds=1, agreement=3), "agreement must be"),
        (lambda: evaluator_optimizer(Writer, "Critic", max_rounds=1), "evaluator must be a Flow"),
    ],
)
def test_bad_arguments_are_refused_naming_what_was_given(call, words):
    with pytest.raises(InvalidArgument, match=words):
        call()
