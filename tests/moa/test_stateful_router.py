"""stateful_router: the choice function's state carried from input to input, under asyncio
and the simulator (both deliveries), saved to YAML with its initial state; bad input."""

from __future__ import annotations

import pytest

from playbill import InvalidArgument, simulate
from playbill.flow import LoopLimitExceeded, from_yaml, step
from playbill.moa import UnknownRoute, moa_registry, stateful_router
from tests.moa.support import INTERPRETERS, Exclaim, Upper, perform


def budgeted(pair):
    """The expensive route while the budget lasts (one unit per character), then the cheap."""
    text, budget = pair
    if len(text) <= budget:
        return "upper", budget - len(text)
    return "exclaim", budget


def round_robin(pair):
    _, turn = pair
    return ("upper", "exclaim")[turn % 2], turn + 1


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_the_state_goes_from_each_choice_to_the_next(interpreter):
    team = stateful_router(budgeted, {"upper": Upper, "exclaim": Exclaim}, 6)
    outcome = perform(team.to_program(["abc", "defg", "hi", "j"]), interpreter)
    # 6 → "abc" upper (3 left) → "defg" too long, exclaim → "hi" upper (1 left) → "j" upper
    assert outcome.value == ("ABC", "defg!", "HI", "J")
    assert outcome.left == ()
    assert outcome.error is None


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_each_run_starts_from_the_initial_state_and_nothing_is_empty(interpreter):
    team = stateful_router(round_robin, {"upper": Upper, "exclaim": Exclaim}, 0)
    assert perform(team.to_program(["a", "b", "c"]), interpreter).value == ("A", "b!", "C")
    assert perform(team.to_program(["a", "b", "c"]), interpreter).value == ("A", "b!", "C")
    assert perform(team.to_program([]), interpreter).value == ()


def test_it_saves_to_yaml_with_its_state_and_loads_back_equal():
    team = stateful_router(round_robin, {"upper": Upper, "exclaim": Exclaim}, {"turn": [0]})
    names = moa_registry()
    names.register(round_robin, name="round_robin")
    names.register(Upper)
    names.register(Exclaim)
    document = team.to_yaml(names)
    assert "turn:" in document
    loaded = from_yaml(document, names)
    assert loaded == team
    assert loaded != stateful_router(round_robin, {"upper": Upper, "exclaim": Exclaim}, 1)
    counting = stateful_router(
        lambda pair: ("same", pair[1] + 1), {"same": step(lambda text: text)}, 0
    )
    assert simulate(counting.to_program(["x"] * 3)).value == ("x", "x", "x")


def test_a_bad_choice_fails_naming_it():
    unknown = stateful_router(lambda pair: ("nowhere", 0), {"upper": Upper}, 0)
    assert isinstance(simulate(unknown.to_program(["a"])).error, UnknownRoute)
    stateless = stateful_router(lambda pair: "upper", {"upper": Upper}, 0)
    error = simulate(stateless.to_program(["a"])).error
    assert isinstance(error, InvalidArgument)
    assert "(route name, new state)" in str(error)
    bounded = stateful_router(round_robin, {"upper": Upper, "exclaim": Exclaim}, 0, max_inputs=2)
    assert isinstance(simulate(bounded.to_program(["a", "b", "c"])).error, LoopLimitExceeded)
    assert simulate(bounded.to_program(["a", "b"])).value == ("A", "b!")


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ((3, {"a": Upper}), "choose"),
        ((round_robin, {}), "routes"),
        ((round_robin, {1: Upper}), "route names"),
        ((round_robin, {"a": "Upper"}), "route 'a'"),
    ],
)
def test_bad_arguments_are_refused_naming_the_option(arguments, named):
    with pytest.raises(InvalidArgument, match=named):
        stateful_router(*arguments)
    with pytest.raises(InvalidArgument, match="max_inputs"):
        stateful_router(round_robin, {"a": Upper}, max_inputs=-1)
