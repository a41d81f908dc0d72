"""What `explore` says about a failing schedule, how it reads a check, and the options it
refuses: a report that names the program and keeps the check's message, ``None`` as a pass,
a buggy check's exception kept with its (shrunk) schedule, handler factories, validation and
the progress line."""

import re
import sys
from typing import Any

import pytest
from attrs import frozen

from playbill import (
    Effect,
    InvalidArgument,
    explore,
    perform,
    program,
    replay,
    simulate,
)
from playbill.interpreters.simulation import _progress
from tests.simulation.examples_path import two_deposits


@program
def world() -> Any:
    """Two deposits of 50 racing on one balance (the bank race)."""
    return (yield two_deposits())


def lost_a_deposit(result: Any) -> None:
    assert result.value == 100, f"a deposit was lost: the balance is {result.value}"


def test_the_report_names_the_program_keeps_the_message_and_prints_schedule_trace_and_replay():
    found = explore(world(), lost_a_deposit, runs=500)
    with pytest.raises(AssertionError) as raised:
        found.assert_passed()  # no need to retype the program as a string
    report = str(raised.value)
    assert report.startswith("explore(world()) found a schedule that breaks the check")
    assert "AssertionError: a deposit was lost: the balance is 50" in report
    assert f"minimal schedule: {str(found.minimal.schedule)!r}" in report
    assert f"replay it with\n    replay(world(), {str(found.minimal.schedule)!r})" in report
    assert found.minimal.format_trace() in report
    assert found.failure.reason == "AssertionError: a deposit was lost: the balance is 50"


def test_the_replay_line_of_the_report_replays_the_failure():
    found = explore(world(), lost_a_deposit, runs=500)
    line = found.replay_call()
    again = eval(line, {"replay": replay, "world": world})
    assert again.value == found.minimal.value == 50
    assert again.trace == found.minimal.trace


def test_a_program_factory_is_named_by_its_qualname_and_called_once_per_run():
    built = []

    def make_world() -> Any:
        built.append(1)
        return two_deposits()

    found = explore(make_world, lost_a_deposit, runs=500, shrink=False)
    assert len(built) >= found.runs
    with pytest.raises(AssertionError, match=r"replay\(make_world\(\), 'v\d:"):
        found.assert_passed()


def test_an_explicit_program_expression_still_wins():
    found = explore(world(), lost_a_deposit, runs=500)
    with pytest.raises(AssertionError, match=r"replay\(bank\.world\(\), "):
        found.assert_passed("bank.world()")


def test_a_check_that_returns_none_passes_the_pytest_way():
    def check(result: Any) -> None:
        assert result.status == "completed"

    found = explore(world(), check, runs=50)
    assert not found.found
    found.assert_passed()


def test_a_check_that_returns_false_says_so():
    found = explore(world(), lambda result: result.value == 100, runs=500)
    assert found.failure.reason == "the check returned False"


def test_an_exception_from_a_buggy_check_fails_that_schedule_and_keeps_it_shrunk():
    def buggy(result: Any) -> bool:
        if result.value == 50:
            return result.value["balance"] == 100  # the bug: value is an int
        return True

    found = explore(world(), buggy, runs=500)
    assert found.found
    assert found.failure.reason == "the check raised TypeError: 'int' object is not subscriptable"
    assert isinstance(found.failure.error, TypeError)
    assert len(found.minimal.schedule) <= len(found.failing.schedule)
    assert replay(world(), found.minimal.schedule).value == 50
    with pytest.raises(
        AssertionError, match="TypeError: 'int' object is not subscriptable"
    ) as raised:
        found.assert_passed()
    assert isinstance(raised.value.__cause__, TypeError)


def test_shrinking_keeps_the_kind_of_failure():
    def check(result: Any) -> None:
        if result.value == 50:
            raise KeyError("lost")
        assert len(result.schedule) < 3, "schedule too long"  # fails on most schedules

    found = explore(world(), check, runs=500, seed=0)
    first = found.failing.value == 50
    assert isinstance(found.failure.error, KeyError if first else AssertionError)


@frozen
class Charge(Effect[int]):
    order: str


@program
def charge_once() -> Any:
    return (yield perform(Charge("o0")))


def fresh_fakes() -> dict[type, Any]:
    charged: dict[str, int] = {}

    def charge(effect: Charge) -> int:
        charged[effect.order] = charged.get(effect.order, 0) + 1
        return charged[effect.order]

    return {Charge: charge}


def test_a_handler_factory_gives_every_simulated_run_fresh_fakes():
    assert simulate(charge_once(), handlers=fresh_fakes).value == 1

    def charged_once(result: Any) -> None:
        assert result.value == 1, f"o0 charged {result.value} times"

    explore(charge_once(), charged_once, runs=20, handlers=fresh_fakes).assert_passed()
    shared = fresh_fakes()  # one map for every run: the fake's state leaks between runs
    found = explore(charge_once(), charged_once, runs=20, handlers=shared)
    assert found.failure.reason == "AssertionError: o0 charged 2 times"


def test_the_replay_line_names_a_handler_factory():
    found = explore(charge_once(), lambda result: result.value == 2, runs=5, handlers=fresh_fakes)
    assert found.replay_call().endswith(", handlers=fresh_fakes)")


def test_a_handler_factory_that_returns_no_map_is_refused():
    with pytest.raises(InvalidArgument, match=r"handler factory .* returned 3"):
        simulate(charge_once(), handlers=lambda: 3)


def test_a_handler_given_where_its_map_belongs_is_refused_saying_what_handlers_takes():
    def charge(effect: Charge) -> int:
        return 1

    with pytest.raises(
        InvalidArgument,
        match=r"handlers= takes a map \{EffectType: handler\} or a function of no arguments "
        r"that returns one .*got charge\(effect: .*Charge\) -> int, which takes arguments",
    ):
        simulate(charge_once(), handlers=charge)


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("runs", -1, "a positive int"),
        ("runs", 0, "a positive int"),
        ("runs", None, "a positive int"),
        ("runs", 1.5, "a positive int"),
        ("runs", True, "a positive int"),
        ("seed", None, "an int"),
        ("seed", 1.0, "an int"),
        ("max_shrinks", None, "an int >= 0"),
        ("max_shrinks", -1, "an int >= 0"),
        ("strategy", "bfs", "'random', 'pct' or 'dfs'"),
        ("progress", "yes", "True, False or None"),
    ],
)
def test_bad_explore_options_are_invalid_arguments(option, value, accepted):
    with pytest.raises(
        InvalidArgument, match=re.escape(f"{option} must be {accepted}, got {value!r}")
    ):
        explore(world(), lost_a_deposit, **{option: value})


def test_a_program_that_is_neither_a_program_nor_a_factory_is_refused():
    with pytest.raises(InvalidArgument, match="explore takes a Program"):
        explore(42, lost_a_deposit)


# -- the progress line ---------------------------------------------------------------------


def long_world() -> Any:
    return two_deposits()


def test_progress_true_draws_a_plain_line_when_rich_is_absent(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    explore(world(), lambda result: True, runs=30, progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\rexplore: ")
    assert err.endswith("explore: 30/30 runs, " + err.rsplit("runs, ", 1)[1])
    assert "0 failures found" in err
    assert err.endswith("\n")


def test_progress_counts_the_failure_found(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    found = explore(world(), lost_a_deposit, runs=500, progress=True)
    err = capsys.readouterr().err
    assert f"{found.runs}/500 runs" in err
    assert "1 failure found" in err


def test_progress_with_rich_draws_the_same_text(capsys):
    pytest.importorskip("rich")
    explore(world(), lambda result: True, runs=30, progress=True)
    assert "explore: 30/30 runs" in capsys.readouterr().err


def test_the_progress_line_is_quiet_under_pytest_and_in_ci_unless_asked(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "QUIET_FOR", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.delenv("CI", raising=False)
    explore(world(), lambda result: True, runs=5)  # under pytest
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setenv("CI", "true")
    explore(world(), lambda result: True, runs=5)
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("CI")
    explore(world(), lambda result: True, runs=5)  # a terminal, outside CI and pytest
    assert "explore: 5/5 runs" in capsys.readouterr().err
    explore(world(), lambda result: True, runs=5, progress=False)
    assert capsys.readouterr().err == ""


# -- review fixes (issue 11): what explore refuses up front, and what its report says ----------


def test_a_schedule_is_refused_since_one_fixed_schedule_would_hide_the_bug():
    with pytest.raises(InvalidArgument, match=r"takes no schedule= \(got 'v6:'\).*use replay"):
        explore(world(), lost_a_deposit, runs=200, schedule="v6:")


@pytest.mark.parametrize("check", [None, 5, "lost_a_deposit", lambda first, second: True])
def test_a_check_that_is_not_a_function_of_one_argument_is_refused(check):
    with pytest.raises(InvalidArgument, match=r"explore's check must be a function of one"):
        explore(world(), check, runs=2)


def test_a_program_factory_that_takes_arguments_is_refused():
    with pytest.raises(InvalidArgument, match=r"got <lambda>\(x\), which takes arguments"):
        explore(lambda x: two_deposits(), lost_a_deposit, runs=2)


def test_an_unknown_option_is_refused_with_the_options_explore_takes():
    with pytest.raises(InvalidArgument, match=r"unknown option bogus=1; .* delivery, ask_timeout"):
        explore(world(), lost_a_deposit, runs=2, bogus=1)


def test_a_verdict_whose_truth_raises_fails_that_schedule_like_any_exception_of_the_check():
    class Undecided:
        def __bool__(self) -> bool:
            raise ValueError("no truth value")

    found = explore(world(), lambda result: Undecided(), runs=3)
    assert found.failure.reason == "the check raised ValueError: no truth value"


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("progress", 0, "True, False or None"),
        ("progress", 1, "True, False or None"),
        ("progress", 1.0, "True, False or None"),
        ("shrink", "no", "True or False"),
        ("shrink", 0, "True or False"),
    ],
)
def test_flags_take_bools_not_numbers_or_strings(option, value, accepted):
    with pytest.raises(
        InvalidArgument, match=re.escape(f"{option} must be {accepted}, got {value!r}")
    ):
        explore(world(), lost_a_deposit, runs=2, **{option: value})


def test_the_report_of_an_untraced_exploration_says_the_trace_was_off_and_how_to_see_it():
    report = explore(world(), lost_a_deposit, runs=500, trace=False).report()
    assert "step by step" not in report
    assert "not recorded (explore ran with trace=False): leave trace out" in report


def test_a_lambda_factory_replays_as_main_with_a_note_to_name_it():
    found = explore(lambda: two_deposits(), lost_a_deposit, runs=500)
    assert found.replay_call().startswith("replay(main(), 'v6:")
    report = found.report()
    assert "explore(main())" in report
    assert "main() stands for the program: the lambda given to explore has no name" in report
    assert "stands for" not in found.report("two_deposits()")


def test_the_report_counts_one_run_in_the_singular():
    report = explore(world(), lambda result: False, runs=5).report()
    assert "breaks the check after 1 run\n" in report


def test_a_step_limit_of_one_says_one_step_in_the_singular():
    result = simulate(world(), max_steps=1)
    assert result.status == "step_limit"
    assert str(result.error).startswith("the simulation stopped after 1 step without")
    assert any(line.event == "step limit: more than 1 step" for line in result.trace)
