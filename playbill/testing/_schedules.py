"""Hypothesis strategies for schedules: Hypothesis draws the choices, and shrinks them."""

from __future__ import annotations

from hypothesis import strategies as st

from playbill.interpreters.simulation import Schedule

__all__ = ["schedules"]


def schedules(max_choices: int = 200, max_option: int = 7) -> st.SearchStrategy[Schedule]:
    """Schedules for `playbill.simulate` (``simulate(program, schedule=schedule)``).

    A schedule is a list of small numbers; at each choice point the simulator takes the next
    one modulo the number of options, and past the end always the first option. So every list
    is a valid schedule, and Hypothesis shrinks a failing one towards the shortest, smallest
    list that still fails.

    >>> from hypothesis import given, settings
    >>> from playbill import pure, simulate
    >>> @settings(max_examples=5)
    ... @given(schedules())
    ... def test_pure_programs_ignore_the_schedule(schedule):
    ...     assert simulate(pure(1), schedule=schedule).value == 1
    >>> test_pure_programs_ignore_the_schedule()
    """
    return st.lists(st.integers(0, max_option), max_size=max_choices).map(
        lambda choices: Schedule(tuple(choices))
    )
