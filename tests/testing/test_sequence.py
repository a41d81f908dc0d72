from typing import Any

import pytest
from attrs import frozen

from playbill import Effect, gather, now, perform, program, pure, sleep
from playbill.effects import Now, Sleep
from playbill.testing import Raise, SequenceMismatch, perform_sequence


@frozen
class Fetch(Effect[int]):
    key: str


@program
def fetch_with_retry(key: str) -> Any:
    for attempt in range(3):
        try:
            return (yield perform(Fetch(key)))
        except ConnectionError:
            yield sleep(2**attempt)
    raise ConnectionError(f"gave up on {key}")


def test_a_matching_sequence_returns_the_program_value():
    expected = [
        (Fetch("a"), Raise(ConnectionError("down"))),
        (Sleep(1.0), None),
        (Fetch("a"), 42),
    ]
    assert perform_sequence(fetch_with_retry("a"), expected) == 42


def test_the_program_failure_is_raised_when_the_sequence_matches():
    down = Raise(ConnectionError("down"))
    expected = [
        (Fetch("a"), down),
        (Sleep(1.0), None),
        (Fetch("a"), down),
        (Sleep(2.0), None),
        (Fetch("a"), down),
        (Sleep(4.0), None),
    ]
    with pytest.raises(ConnectionError, match="gave up on a"):
        perform_sequence(fetch_with_retry("a"), expected)


def test_an_unexpected_effect_reports_what_was_seen_not_found_and_next_expected():
    expected = [(Fetch("a"), Raise(ConnectionError("down"))), (Sleep(5.0), None), (Fetch("a"), 1)]
    with pytest.raises(SequenceMismatch) as caught:
        perform_sequence(fetch_with_retry("a"), expected)
    assert str(caught.value) == (
        "the program performed an unexpected effect\n"
        "  performed, as expected:\n"
        "    1. Fetch(key='a') -> Raise(error=ConnectionError('down'))\n"
        "  NOT FOUND: Sleep(seconds=1.0)\n"
        "  NEXT EXPECTED: Sleep(seconds=5.0)\n"
        "  then 1 more expected"
    )


def test_effects_past_the_end_of_the_sequence_are_reported():
    with pytest.raises(SequenceMismatch, match=r"NEXT EXPECTED: \(the end of the sequence\)"):
        perform_sequence(perform(Fetch("a")).then(perform(Fetch("b"))), [(Fetch("a"), 1)])


def test_expected_effects_never_performed_are_reported():
    with pytest.raises(SequenceMismatch, match=r"returned 1 before performing every"):
        perform_sequence(perform(Fetch("a")), [(Fetch("a"), 1), (Fetch("b"), 2)])


def test_a_program_cannot_hide_a_mismatch_by_recovering():
    sneaky = perform(Fetch("z")).recover(lambda e: 0)
    with pytest.raises(SequenceMismatch, match="NOT FOUND: Fetch"):
        perform_sequence(sneaky, [(Fetch("a"), 1)])


def test_an_answer_may_be_a_program_run_in_place():
    expected = [(Fetch("a"), pure(5).map(lambda x: x * 2))]
    assert perform_sequence(perform(Fetch("a")), expected) == 10


def test_handlers_answer_effects_outside_the_sequence():
    built = gather(perform(Fetch("a")), now())
    assert perform_sequence(built, [(Fetch("a"), 1)], handlers={Now: lambda e: 9.0}) == (1, 9.0)


def test_a_malformed_entry_is_refused():
    with pytest.raises(SequenceMismatch, match="write each as"):
        perform_sequence(pure(1), [Fetch("a")])  # type: ignore[list-item]


def test_a_program_given_where_an_effect_is_expected_is_refused_with_the_fix():
    with pytest.raises(SequenceMismatch, match=r"write Now\(\) rather than now\(\)"):
        perform_sequence(now(), [(now(), 3.0)])  # type: ignore[list-item]
