"""A schedule carries the options that give it its meaning, so its string alone replays the run;
malformed schedules and bad options are refused up front, naming what is wrong."""

import math
from typing import Any

import pytest

from playbill import (
    Faults,
    InvalidArgument,
    Schedule,
    explore,
    pure,
    replay,
    simulate,
)
from playbill.interpreters.simulation import SimulationOptions
from tests.simulation.test_faults import five_asks
from tests.simulation.test_properties import three_senders

RECORDED_WITH = [
    {"delivery": "per_pair"},
    {"faults": Faults(crash=0.3, delay=0.3, delay_for=0.25)},
    {"faults": Faults(ask_timeout=0.5)},
    {"ask_timeout": 2.5},
    {"ask_cycles": "wait"},
    {"max_steps": 40},
    {"name": "shop, floor=2"},
    {"delivery": "per_pair", "faults": Faults(crash=0.2), "ask_timeout": math.inf},
]


@pytest.mark.parametrize("options", RECORDED_WITH, ids=lambda options: ",".join(options))
def test_the_schedule_string_alone_replays_the_run(options: dict[str, Any]) -> None:
    for seed in range(4):
        recorded = simulate(three_senders(3), seed=seed, **options)
        text = str(recorded.schedule)
        again = replay(three_senders(3), text)  # no options: the string carries them
        assert again.rows == recorded.rows, text
        assert (again.status, again.value, again.clock) == (
            recorded.status,
            recorded.value,
            recorded.clock,
        )
        assert Schedule.parse(text) == recorded.schedule
        assert recorded.schedule.options == SimulationOptions(**options)


def test_a_run_with_faults_replays_from_its_string_without_faults_given() -> None:
    # before: replay(program, text) without faults= silently replayed another run
    faults = Faults(crash=0.5, ask_timeout=0.5)
    recorded = next(
        result
        for seed in range(50)
        if (result := simulate(five_asks(), seed=seed, faults=faults)).value
        != simulate(five_asks(), schedule=result.schedule.choices).value
    )
    assert replay(five_asks(), str(recorded.schedule)).rows == recorded.rows


def test_a_default_run_prints_no_options_and_others_print_only_what_differs() -> None:
    assert str(simulate(pure(1)).schedule) == "v6:"
    result = simulate(pure(1), delivery="per_pair", faults=Faults(crash=0.1), ask_timeout=5)
    assert str(result.schedule) == "v6[delivery=per_pair,faults.crash=0.1,ask_timeout=5]:"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"delivery": "causal"}, "delivery='causal' contradicts the schedule, which was "
         "recorded with delivery='per_pair'"),
        ({"faults": Faults()}, r"faults=Faults\(crash=0.0, .* with faults=Faults\(crash=0.3"),
        ({"ask_timeout": 30}, "ask_timeout=30 contradicts .* ask_timeout=2.0"),
        ({"max_steps": 10}, "max_steps=10 contradicts .* max_steps=100000"),
    ],
)  # fmt: skip
def test_options_given_against_the_schedule_are_refused_naming_both_values(
    given: dict[str, Any], message: str
) -> None:
    recorded = simulate(
        three_senders(2), seed=1, delivery="per_pair", faults=Faults(crash=0.3), ask_timeout=2.0
    ).schedule
    for schedule in (recorded, str(recorded)):
        with pytest.raises(InvalidArgument, match=message):
            replay(three_senders(2), schedule, **given)


def test_options_that_agree_with_the_schedule_and_bare_choices_are_accepted() -> None:
    recorded = simulate(three_senders(2), seed=1, delivery="per_pair").schedule
    again = replay(three_senders(2), str(recorded), delivery="per_pair", ask_timeout=30)
    assert again.schedule == recorded
    # bare choices carry no options: the ones given apply
    bare = simulate(three_senders(2), schedule=list(recorded.choices), delivery="per_pair")
    assert bare.schedule == recorded


@pytest.mark.parametrize(
    "old",
    [
        "v1:0101",
        "v2:0101",
        "v3:0101(70)",
        "v4:0101",
        "v4[delivery=per_pair]:01",
        "v5:0101",
        "v5[delivery=per_pair,faults.crash=0.1]:01",
    ],
)
def test_older_schedule_versions_are_refused_saying_why(old: str) -> None:
    with pytest.raises(InvalidArgument, match=r"v[12345]") as refused:
        replay(three_senders(2), old)
    if old.startswith("v3"):
        assert "did not say which options" in str(refused.value)
        assert "[0, 1, 0, 1, 70]" in str(refused.value)  # its choices, to pass as a list
    if old.startswith("v4"):  # its choice points differ where an agent's task finishes at once
        assert "choice points were different" in str(refused.value)
        assert "agent's task that finishes at once" in str(refused.value)
    if old.startswith("v5"):  # its choice points differ where a receive returns a program
        message = str(refused.value)
        assert f"{old!r} was recorded by an earlier simulator (v5)" in message
        assert "choice points were different" in message
        assert "took a step of its own there" in message
        assert "first turn in the step that handles its message here (v6 on)" in message
        assert "run explore() again for a v6 schedule" in message
        assert "replays with its 'v5' changed to 'v6'" in message
    with pytest.raises(InvalidArgument, match=r"v[12345]"):
        Schedule.parse(old)  # the same refusal, parsing alone


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v6:(", r"at index 3: '\(' is not closed"),
        ("v6:(abc)", r"at index 4: 'abc' is not a choice"),
        ("v6:()", r"at index 4: '' is not a choice"),
        ("v6:1(-3)", r"at index 5: '-3' is not a choice"),
        ("v6:01!", r"at index 5: '!' cannot appear"),
        ("v6[delivery=per_pair:01", r"at index 2: the '\[' of the options is not closed"),
        ("v6[speed=9]:01", r"at index 3: 'speed=9' is not an option"),
        ("v6[ask_timeout=soon]:0", r"at index 15: ask_timeout='soon' is not a number"),
        ("v6[ask_timeout=nan]:0", r"ask_timeout must be a positive number"),
        ("v6[delivery=fifo]:0", r"delivery must be 'causal' or 'per_pair'"),
        ("v6[faults.crash=2]:0", r"Faults crash must be a probability"),
        ("v6[max_steps=1,max_steps=2]:0", r"at index 15: max_steps is given twice"),
        ("v60:1", r"starts with 'v6:'"),
        ("0121", r"starts with 'v6:'"),
    ],
)
def test_malformed_schedule_strings_are_refused_naming_the_position(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Schedule.parse(text)
    with pytest.raises(InvalidArgument, match=message):
        replay(pure(1), text)


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ([1.5], r"got 1.5 \(float\) at index 0"),
        (["a"], r"got 'a' \(str\) at index 0"),
        ([0, None], r"got None \(NoneType\) at index 1"),
        ([0, True], r"got True \(bool\) at index 1"),
        ((0, -3), r"ints >= 0, got -3 \(int\) at index 1"),
        (5, r"a sequence of ints >= 0, got 5 \(int\)"),
        ("012", r"Schedule.parse"),
    ],
)
def test_bad_choices_are_refused_naming_the_position(choices: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Schedule(choices)
    if not isinstance(choices, str):
        with pytest.raises(InvalidArgument, match=message):
            simulate(pure(1), schedule=choices)


def test_a_negative_choice_cannot_print_as_another_schedule() -> None:
    # before: Schedule((0, -3)) printed 'v3:0' + a character that read back as another choice
    with pytest.raises(InvalidArgument):
        Schedule((0, -3))


BAD_OPTIONS = [
    ("ask_timeout", None, "ask_timeout must be a positive number of seconds"),
    ("ask_timeout", "3", "ask_timeout must be a positive number of seconds"),
    ("ask_timeout", -1, "ask_timeout must be a positive number of seconds"),
    ("ask_timeout", 0, "ask_timeout must be a positive number of seconds"),
    ("ask_timeout", math.nan, "ask_timeout must be a positive number of seconds"),
    ("ask_timeout", True, "ask_timeout must be a positive number of seconds"),
    ("max_steps", None, "max_steps must be an int >= 1"),
    ("max_steps", "10", "max_steps must be an int >= 1"),
    ("max_steps", -1, "max_steps must be an int >= 1"),
    ("max_steps", math.nan, "max_steps must be an int >= 1"),
    ("max_steps", 10.0, "max_steps must be an int >= 1"),
    ("strategy", None, "strategy must be 'random' or 'pct'"),
    ("strategy", "bfs", "strategy must be 'random' or 'pct'"),
    ("faults", None, "faults must be a Faults value"),
    ("faults", {"crash": 0.1}, "faults must be a Faults value"),
    ("delivery", None, "delivery must be 'causal' or 'per_pair'"),
    ("ask_cycles", "ignore", "ask_cycles must be 'deadlock' or 'wait'"),
    ("name", "a/b", "system name must be a non-empty string"),
    ("trace", "yes", "trace must be True or False"),
    ("seed", 1.5, "seed must be an int or None"),
    ("handlers", [], "handlers must be a mapping"),
]


@pytest.mark.parametrize(("option", "value", "message"), BAD_OPTIONS)
def test_simulate_refuses_bad_options_up_front(option: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as refused:
        simulate(pure(1), **{option: value})
    assert repr(value) in str(refused.value) or option == "handlers"


@pytest.mark.parametrize(("option", "value", "message"), BAD_OPTIONS)
def test_replay_refuses_bad_options_up_front(option: str, value: Any, message: str) -> None:
    if option in ("strategy", "seed"):
        message = f"replay\\(\\) takes no {option}="
    with pytest.raises(InvalidArgument, match=message):
        replay(pure(1), [0, 1], **{option: value})


def test_replay_refuses_no_schedule_and_options_a_replay_cannot_use() -> None:
    with pytest.raises(InvalidArgument, match="needs the schedule"):
        replay(pure(1), None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="takes no seed="):
        replay(pure(1), "v6:", seed=3)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"delay_for": math.inf}, "delay_for must be a positive, finite number of seconds"),
        ({"delay_for": math.nan}, "delay_for must be a positive, finite number of seconds"),
        ({"delay_for": -1}, "delay_for must be a positive, finite number of seconds"),
        ({"delay_for": True}, "delay_for must be a positive, finite number of seconds"),
        ({"crash": math.nan}, "crash must be a probability in"),
        ({"delay": math.inf}, "delay must be a probability in"),
        ({"ask_timeout": -0.1}, "ask_timeout must be a probability in"),
        ({"points": True}, "points must be a probability in"),
        ({"crash": "0.1"}, "crash must be a probability in"),
    ],
)
def test_faults_refuse_settings_that_cannot_work(settings: dict[str, Any], message: str) -> None:
    # before: Faults(delay_for=math.inf) sent 5 messages, delivered none, dead-lettered none
    with pytest.raises(InvalidArgument, match=f"Faults {message}"):
        Faults(**settings)


def test_an_exploration_reports_a_minimal_schedule_that_replays_alone() -> None:
    found = explore(
        five_asks(),
        # a crash restarts the counter: the failure needs one, so the schedule records it
        check=lambda result: [reply.value_or(None) for reply in result.value] == [1, 2, 3, 4, 5],
        runs=50,
        delivery="per_pair",
        faults=Faults(crash=0.5),
    )
    assert found.minimal is not None
    text = str(found.minimal.schedule)
    assert text.startswith("v6[delivery=per_pair,faults.crash=0.5]:")
    again = replay(five_asks(), text)
    assert again.rows == found.minimal.rows
    assert again.value == found.minimal.value


def test_a_choice_with_more_digits_than_python_converts_is_refused_naming_its_position() -> None:
    text = "v6:0(" + "9" * 5000 + ")"
    with pytest.raises(
        InvalidArgument, match=r"at index 5: a choice of 5000 digits is too large to be a choice"
    ):
        replay(pure(1), text)


@pytest.mark.parametrize("data", [b"v6:", bytearray(b"v6:0")])
def test_a_schedule_given_as_bytes_is_refused_with_a_hint_to_decode_it(data: Any) -> None:
    with pytest.raises(
        InvalidArgument, match=r"decode it first: replay\(program, data.decode\(\)\)"
    ):
        replay(pure(1), data)
    with pytest.raises(InvalidArgument, match=r"whose bytes would be read as choices"):
        Schedule(data)
