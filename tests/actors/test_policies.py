"""The pure actor policies shared by every interpreter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbill import InvalidArgument
from playbill.actors import (
    AllForOne,
    Backoff,
    Bounded,
    Directive,
    Mailbox,
    Offer,
    OneForOne,
    Overflow,
    RestartBudget,
    RestForOne,
    Unbounded,
    check_name,
    child_path,
    split_path,
)


@given(st.integers(1, 5), st.lists(st.integers(), max_size=20), st.sampled_from(list(Overflow)))
def test_a_bounded_mailbox_never_holds_more_than_its_capacity(capacity, messages, overflow):
    box = Mailbox(Bounded(capacity, overflow))
    outcomes = [box.offer(message) for message in messages]
    assert len(box.user) == min(capacity, len(messages)) or overflow is Overflow.DROP_OLDEST
    assert len(box.user) <= capacity
    queued = outcomes.count(Offer.QUEUED)
    assert queued == min(capacity, len(messages))


@pytest.mark.parametrize(
    ("overflow", "outcome", "kept", "dropped"),
    [
        (Overflow.DROP_NEWEST, Offer.DROPPED_NEWEST, ["a"], "b"),
        (Overflow.DROP_OLDEST, Offer.DROPPED_OLDEST, ["b"], "a"),
        (Overflow.FAIL, Offer.REFUSED, ["a"], "b"),
        (Overflow.BLOCK, Offer.FULL, ["a"], None),
    ],
)
def test_each_overflow_does_what_its_name_says(overflow, outcome, kept, dropped):
    box = Mailbox(Bounded(1, overflow))
    assert box.offer("a") is Offer.QUEUED
    assert box.offer("b") is outcome
    assert list(box.user) == kept
    assert box.last_dropped == dropped


def test_an_unbounded_mailbox_takes_everything_and_drains():
    box = Mailbox(Unbounded())
    for n in range(1000):
        assert box.offer(n) is Offer.QUEUED
    assert box.drain() == list(range(1000))
    assert not box.user


@given(st.integers(1, 4), st.floats(1, 100), st.lists(st.floats(0, 10), max_size=30))
def test_a_restart_budget_never_allows_more_than_its_maximum_within_the_window(
    max_restarts, within, gaps
):
    budget = RestartBudget(max_restarts, within)
    history: tuple[float, ...] = ()
    now = 0.0
    allowed_at: list[float] = []
    for gap in gaps:
        now += gap
        allowed, history = budget.record(history, now)
        if allowed:
            allowed_at.append(now)
    for moment in allowed_at:
        inside = [other for other in allowed_at if moment <= other < moment + within]
        assert len(inside) <= max_restarts


@given(st.integers(0, 40), st.floats(0, 0.999))
def test_backoff_stays_within_its_bounds(attempt, draw):
    backoff = Backoff(initial=0.5, maximum=8.0, multiplier=2.0, jitter=0.25)
    delay = backoff.delay(attempt, draw)
    assert 0 <= delay <= 8.0 * 1.25
    assert delay >= min(8.0, 0.5 * 2**attempt) * 0.75


def test_strategies_name_the_children_a_directive_applies_to():
    children = ["a", "b", "c", "d"]
    assert OneForOne().affected("c", children) == ["c"]
    assert AllForOne().affected("c", children) == children
    assert RestForOne().affected("c", children) == ["c", "d"]


def test_a_decider_answering_nonsense_escalates():
    assert OneForOne(lambda error: "restart").decide(ValueError()) is Directive.ESCALATE


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OneForOne(max_restarts=-1), "max_restarts must be an int >= 0"),
        (lambda: AllForOne(within=0), "within must be a positive number"),
        (lambda: RestForOne(decider="restart"), "decider must be a function"),
        (lambda: OneForOne(backoff=1.0), "backoff must be a Backoff"),
        (lambda: Backoff(initial=-1), "Backoff initial must be a positive number"),
        (lambda: Backoff(jitter=2), "jitter is a fraction"),
    ],
)
def test_bad_strategy_arguments_are_refused_with_what_was_wrong(build, message):
    with pytest.raises(InvalidArgument, match=message):
        build()


def test_paths():
    assert child_path("/app/", "w") == "/app/w"
    assert split_path("/app/w") == ("app", "w")
    with pytest.raises(InvalidArgument, match="absolute"):
        split_path("app/w")
    with pytest.raises(InvalidArgument, match="must be a non-empty string"):
        check_name("$system")
