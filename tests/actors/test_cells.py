"""The decisions and checks every interpreter's cells share (playbill/actors/: _signals,
_supervising, _spawning, _tree, _reports), and the mailbox's runtime notices: unit tests, and
properties where one exists."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbill import Actor
from playbill.actors import (
    AllForOne,
    Backoff,
    Bounded,
    Directive,
    Mailbox,
    Offer,
    OneForOne,
    Overflow,
    RestForOne,
)
from playbill.actors._reports import asker_error, guardian_refuses, is_failure
from playbill.actors._spawning import child_name
from playbill.actors._supervising import check_supervision, decide_supervision
from playbill.actors._tree import find_cell, walk_cells
from playbill.effects import ActorRef, ActorStopped, Cancelled, InvalidArgument, MessageFailed

# -- helpers ---------------------------------------------------------------------------------


class Child:
    """What decide_supervision reads of a child: its consecutive restarts."""

    def __init__(self, name: str, consecutive_restarts: int = 0) -> None:
        self.name = name
        self.consecutive_restarts = consecutive_restarts

    def __repr__(self) -> str:
        return f"Child({self.name})"


class Node:
    """What find_cell and walk_cells read of a cell: its ref and its children."""

    def __init__(self, path: str, uid: int) -> None:
        self.ref = ActorRef(path, uid)
        self.children_cells: dict[str, Node] = {}

    def add(self, name: str, uid: int) -> Node:
        child = self.children_cells[name] = Node(f"{self.ref.path}/{name}", uid)
        return child

    def __repr__(self) -> str:
        return f"Node({self.ref.path})"


class Draws:
    """A random source that hands out given values and counts the calls."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.values.pop(0)


def never_drawn() -> float:
    raise AssertionError("drew a random value it did not need")


def always(directive: Any):
    return lambda error: directive


KINDS = [OneForOne, AllForOne, RestForOne]
ERROR = RuntimeError("boom")


def children_and_failed(draw: Any) -> tuple[list[Child], Child]:
    count = draw(st.integers(1, 6))
    children = [Child(f"c{n}", draw(st.integers(0, 4))) for n in range(count)]
    return children, children[draw(st.integers(0, count - 1))]


children_with_a_failed_one = st.composite(children_and_failed)


# -- decide_supervision ----------------------------------------------------------------------


@given(st.sampled_from(KINDS), st.sampled_from([Directive.RESUME, Directive.STOP]))
def test_a_resume_or_stop_from_the_decider_is_the_decision_and_charges_no_budget(kind, directive):
    child = Child("a")
    history = (1.0, 2.0)
    decision = decide_supervision(
        kind(always(directive), max_restarts=2), ERROR, child, [child], history, 3.0, never_drawn
    )
    assert decision.directive is directive
    assert decision.escalate is False
    assert decision.history == history
    assert decision.delays == ()
    assert decision.affected == (child,)


@given(st.sampled_from(KINDS))
def test_an_escalate_from_the_decider_escalates_without_charging_the_budget(kind):
    child = Child("a")
    decision = decide_supervision(
        kind(always(Directive.ESCALATE)), ERROR, child, [child], (), 0.0, never_drawn
    )
    assert decision.directive is Directive.ESCALATE
    assert decision.escalate is True
    assert decision.history == ()
    assert decision.delays == ()


def test_the_decider_is_given_the_childs_error():
    seen = []
    child = Child("a")

    def decider(error: BaseException) -> Directive:
        seen.append(error)
        return Directive.RESUME

    decide_supervision(OneForOne(decider), ERROR, child, [child], (), 0.0, never_drawn)
    assert seen == [ERROR]


def raises(error: BaseException) -> Directive:
    raise LookupError("the decider broke")


@pytest.mark.parametrize(
    "decider",
    [raises, always("restart"), always(None), always(1)],
    ids=["raises", "a-string", "none", "a-number"],
)
@pytest.mark.parametrize("kind", KINDS)
def test_a_decider_that_fails_or_answers_nonsense_escalates(kind, decider):
    child = Child("a")
    decision = decide_supervision(kind(decider), ERROR, child, [child], (), 0.0, never_drawn)
    assert decision.directive is Directive.ESCALATE
    assert decision.escalate is True


@given(
    st.sampled_from(KINDS),
    st.integers(0, 4),
    st.sampled_from([0.5, 1.0, 10.0]),
    st.lists(st.floats(0.0, 20.0), max_size=6).map(lambda moments: tuple(sorted(moments))),
    st.floats(0.0, 20.0),
)
def test_a_restart_is_charged_to_the_budget_and_past_it_the_child_stops_and_escalates(
    kind, max_restarts, within, history, now
):
    now = max([now, *history])  # the clock never goes back
    child = Child("a")
    strategy = kind(max_restarts=max_restarts, within=within)
    decision = decide_supervision(strategy, ERROR, child, [child], history, now, lambda: 0.5)
    recent = tuple(moment for moment in history if now - moment < within)
    if len(recent) < max_restarts:
        assert decision.directive is Directive.RESTART
        assert decision.escalate is False
        assert decision.history == (*recent, now)
        assert decision.delays == (0.0,)
    else:
        assert decision.directive is Directive.STOP
        assert decision.escalate is True
        assert decision.history == recent
        assert decision.delays == ()


def test_no_restart_is_allowed_when_max_restarts_is_zero():
    child = Child("a")
    decision = decide_supervision(
        OneForOne(max_restarts=0), ERROR, child, [child], (), 0.0, never_drawn
    )
    assert (decision.directive, decision.escalate, decision.history) == (Directive.STOP, True, ())
    assert decision.affected == (child,)


@given(children_with_a_failed_one())
def test_past_the_budget_a_group_strategy_stops_the_whole_group(family):
    children, failed = family
    decision = decide_supervision(
        AllForOne(max_restarts=1), ERROR, failed, children, (0.0,), 1.0, never_drawn
    )
    assert (decision.directive, decision.escalate) == (Directive.STOP, True)
    assert decision.affected == tuple(children)


def test_restarts_older_than_the_window_no_longer_count():
    child = Child("a")
    strategy = OneForOne(max_restarts=1, within=5.0)
    refused = decide_supervision(strategy, ERROR, child, [child], (1.0,), 5.9, never_drawn)
    assert refused.directive is Directive.STOP
    allowed = decide_supervision(strategy, ERROR, child, [child], (1.0,), 6.0, lambda: 0.5)
    assert allowed.directive is Directive.RESTART
    assert allowed.history == (6.0,)


@given(
    children_with_a_failed_one(),
    st.sampled_from([Directive.RESTART, Directive.STOP, Directive.RESUME, Directive.ESCALATE]),
)
def test_one_for_one_affects_only_the_failed_child(family, directive):
    children, failed = family
    decision = decide_supervision(
        OneForOne(always(directive)), ERROR, failed, children, (), 0.0, lambda: 0.5
    )
    assert decision.affected == (failed,)


@given(children_with_a_failed_one(), st.sampled_from([Directive.RESTART, Directive.STOP]))
def test_all_for_one_affects_every_child_in_start_order(family, directive):
    children, failed = family
    decision = decide_supervision(
        AllForOne(always(directive)), ERROR, failed, children, (), 0.0, lambda: 0.5
    )
    assert decision.affected == tuple(children)


@given(children_with_a_failed_one(), st.sampled_from([Directive.RESTART, Directive.STOP]))
def test_rest_for_one_affects_the_failed_child_and_those_started_after_it(family, directive):
    children, failed = family
    decision = decide_supervision(
        RestForOne(always(directive)), ERROR, failed, children, (), 0.0, lambda: 0.5
    )
    assert decision.affected == tuple(children[children.index(failed) :])
    assert decision.affected[0] is failed


@given(children_with_a_failed_one(), st.sampled_from(KINDS))
def test_without_backoff_every_affected_child_restarts_at_once_and_nothing_is_drawn(family, kind):
    children, failed = family
    decision = decide_supervision(kind(), ERROR, failed, children, (), 0.0, never_drawn)
    assert decision.directive is Directive.RESTART
    assert decision.delays == (0.0,) * len(decision.affected)


@given(
    children_with_a_failed_one(),
    st.sampled_from(KINDS),
    st.floats(0.01, 1.0),
    st.floats(0.0, 0.999),
)
def test_backoff_delays_are_drawn_with_jitter_once_per_affected_child_in_order(
    family, kind, jitter, first
):
    children, failed = family
    backoff = Backoff(initial=0.1, maximum=5.0, multiplier=2.0, jitter=jitter)
    values = [(first + n * 0.37) % 1.0 for n in range(len(children))]
    draws = Draws(*values)
    decision = decide_supervision(kind(backoff=backoff), ERROR, failed, children, (), 0.0, draws)
    assert draws.calls == len(decision.affected)
    assert decision.delays == tuple(
        backoff.delay(child.consecutive_restarts, value)
        for child, value in zip(decision.affected, values, strict=False)
    )
    for child, delay in zip(decision.affected, decision.delays, strict=True):
        base = min(5.0, 0.1 * 2.0**child.consecutive_restarts)
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9


@given(children_with_a_failed_one(), st.sampled_from(KINDS))
def test_backoff_without_jitter_draws_nothing_and_waits_the_exponential_delay(family, kind):
    children, failed = family
    backoff = Backoff(initial=0.1, maximum=1.0, multiplier=2.0, jitter=0.0)
    decision = decide_supervision(
        kind(backoff=backoff), ERROR, failed, children, (), 0.0, never_drawn
    )
    assert decision.delays == tuple(
        pytest.approx(min(1.0, 0.1 * 2.0**child.consecutive_restarts))
        for child in decision.affected
    )


@pytest.mark.parametrize("directive", [Directive.STOP, Directive.RESUME, Directive.ESCALATE])
def test_a_decision_that_restarts_nothing_draws_no_backoff(directive):
    child = Child("a")
    strategy = AllForOne(always(directive), backoff=Backoff(jitter=0.5))
    decision = decide_supervision(strategy, ERROR, child, [child], (), 0.0, never_drawn)
    assert decision.delays == ()


def test_a_budget_exhausted_under_backoff_draws_no_delay():
    child = Child("a")
    strategy = OneForOne(max_restarts=1, within=10.0, backoff=Backoff(jitter=0.5))
    decision = decide_supervision(strategy, ERROR, child, [child], (0.0,), 1.0, never_drawn)
    assert (decision.directive, decision.delays) == (Directive.STOP, ())


# -- child_name ------------------------------------------------------------------------------


@given(st.integers(1, 10**9), st.sets(st.text(min_size=1).filter(lambda s: "/" not in s)))
def test_an_unnamed_child_gets_a_fresh_dollar_name(number, siblings):
    calls = []

    def fresh() -> int:
        calls.append(number)
        return number

    assert child_name("/app/parent", False, siblings, None, fresh) == f"${number}"
    assert calls == [number]


def test_an_unnamed_child_is_named_after_its_actor_class_or_named_factory():
    class Worker(Actor):
        def receive(self, message: object) -> None:
            return None

    def make_worker() -> Worker:
        return Worker()

    def fresh() -> int:
        return 3

    assert child_name("/app", False, {}, None, fresh, Worker) == "Worker$3"
    assert child_name("/app", False, {}, None, fresh, make_worker) == "make_worker$3"
    assert child_name("/app", False, {}, None, fresh, functools.partial(make_worker)) == (
        "make_worker$3"
    )
    assert child_name("/app", False, {}, None, fresh, lambda: Worker()) == "$3"


@given(st.text(min_size=1).filter(lambda s: "/" not in s and "$" not in s))
def test_a_valid_new_name_is_kept_as_given(name):
    assert child_name("/app/parent", False, {"other"}, name, never_fresh) == name


def never_fresh() -> int:
    raise AssertionError("a fresh number was taken for a named child")


def test_a_duplicate_name_is_refused_naming_the_parent_and_the_name():
    with pytest.raises(InvalidArgument, match=r"/app/parent already has a child named 'worker'"):
        child_name("/app/parent", False, {"worker": object()}, "worker", never_fresh)


@pytest.mark.parametrize("name", [None, "worker"])
def test_a_stopping_parent_refuses_any_child_with_actor_stopped(name):
    with pytest.raises(ActorStopped, match=r"/app/parent is stopping"):
        child_name("/app/parent", True, {}, name, never_fresh)


@pytest.mark.parametrize("name", ["", "a/b", "/a", "$1", "$worker", "Worker$1", 7, b"worker"])
def test_an_invalid_name_is_refused(name):
    with pytest.raises(InvalidArgument, match="actor name"):
        child_name("/app/parent", False, {}, name, never_fresh)


# -- find_cell and walk_cells ----------------------------------------------------------------


def small_tree() -> tuple[Node, dict[str, Node]]:
    root = Node("/app", 1)
    a = root.add("a", 2)
    b = a.add("b", 3)
    c = root.add("c", 4)
    return root, {"/app": root, "/app/a": a, "/app/a/b": b, "/app/c": c}


@pytest.mark.parametrize("path", ["/app", "/app/a", "/app/a/b", "/app/c"])
def test_an_absolute_path_finds_its_cell(path):
    root, nodes = small_tree()
    assert find_cell(root, "app", path) is nodes[path]


@pytest.mark.parametrize(
    ("path", "expected"), [("a", "/app/a"), ("a/b", "/app/a/b"), ("c", "/app/c"), ("", "/app")]
)
def test_a_relative_path_starts_under_the_root_guardian(path, expected):
    root, nodes = small_tree()
    assert find_cell(root, "app", path) is nodes[expected]


def test_a_relative_path_does_not_repeat_the_system_name():
    root, _ = small_tree()
    assert find_cell(root, "app", "app/a") is None


def test_extra_slashes_are_ignored():
    root, nodes = small_tree()
    assert find_cell(root, "app", "//app/a//b/") is nodes["/app/a/b"]


@pytest.mark.parametrize("path", ["/other", "/other/a", "/ap/a", "/apps/a"])
def test_an_absolute_path_under_another_system_finds_nothing(path):
    root, _ = small_tree()
    assert find_cell(root, "app", path) is None


@pytest.mark.parametrize("path", ["/app/zzz", "/app/a/zzz", "/app/zzz/b", "/app/b", "a/b/c", "/"])
def test_a_path_with_a_missing_segment_finds_nothing(path):
    root, _ = small_tree()
    assert find_cell(root, "app", path) is None


def test_a_matching_uid_finds_the_cell_and_zero_matches_any():
    root, nodes = small_tree()
    assert find_cell(root, "app", "/app/a/b", 3) is nodes["/app/a/b"]
    assert find_cell(root, "app", "/app/a/b", 0) is nodes["/app/a/b"]


@pytest.mark.parametrize(("path", "uid"), [("/app/a/b", 2), ("/app", 9), ("c", 3)])
def test_a_uid_that_does_not_match_finds_nothing(path, uid):
    root, _ = small_tree()
    assert find_cell(root, "app", path, uid) is None


@st.composite
def trees(draw: Any) -> tuple[Node, list[Node], dict[Node, Node]]:
    """A random tree: its root, every node in creation order, and each node's parent."""
    root = Node("/sys", 1)
    nodes, parents = [root], {}
    for uid in range(2, draw(st.integers(1, 25)) + 1):
        parent = nodes[draw(st.integers(0, len(nodes) - 1))]
        node = parent.add(f"n{uid}", uid)
        nodes.append(node)
        parents[node] = parent
    return root, nodes, parents


@given(trees())
def test_every_cell_of_a_tree_is_found_by_its_absolute_and_relative_path_and_uid(tree):
    root, nodes, _ = tree
    for node in nodes:
        path = node.ref.path
        assert find_cell(root, "sys", path) is node
        assert find_cell(root, "sys", path, node.ref.uid) is node
        assert find_cell(root, "sys", path.removeprefix("/sys").lstrip("/")) is node
        assert find_cell(root, "sys", path, node.ref.uid + 1000) is None
        assert find_cell(root, "sys", path + "/missing") is None


@given(trees())
def test_walk_cells_lists_every_cell_once_each_after_its_parent(tree):
    root, nodes, parents = tree
    walked = walk_cells(root)
    assert len(walked) == len(nodes)
    assert set(walked) == set(nodes)
    assert walked[0] is root
    position = {node: index for index, node in enumerate(walked)}
    for node, parent in parents.items():
        assert position[parent] < position[node]


def test_walk_cells_of_nothing_is_empty():
    assert walk_cells(None) == []


def test_walk_cells_of_a_leaf_is_the_leaf():
    leaf = Node("/app", 1)
    assert walk_cells(leaf) == [leaf]


# -- check_supervision -----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [None, OneForOne(), AllForOne(), RestForOne()])
def test_a_strategy_or_none_passes_the_supervision_check(strategy):
    check_supervision(strategy)


@pytest.mark.parametrize("strategy", [OneForOne, "OneForOne()", 3, Directive.RESTART, object()])
def test_anything_else_is_refused_saying_what_to_pass(strategy):
    with pytest.raises(InvalidArgument, match=r"supervision must be OneForOne\(\.\.\.\)") as raised:
        check_supervision(strategy)
    assert repr(strategy) in str(raised.value)


def test_the_supervision_check_names_where_the_value_came_from():
    with pytest.raises(InvalidArgument, match=r"^ActorSystem\(supervision=\) must be"):
        check_supervision("x", "ActorSystem(supervision=)")


# -- errors for askers, the guardian, failures -----------------------------------------------


@pytest.mark.parametrize(
    "error", [RuntimeError("x"), ActorStopped("gone"), ValueError(), Cancelled()]
)
def test_an_exception_or_a_programs_own_cancellation_reaches_the_asker_as_it_is(error):
    assert asker_error("/app/a", "hello", error) is error


class Unusual(BaseException):
    pass


@pytest.mark.parametrize(
    "error", [GeneratorExit(), asyncio.CancelledError(), Unusual("odd"), KeyboardInterrupt()]
)
def test_a_base_exception_reaches_the_asker_as_message_failed_caused_by_it(error):
    wrapped = asker_error("/app/a", "hello", error)
    assert isinstance(wrapped, MessageFailed)
    assert wrapped.__cause__ is error
    assert "/app/a failed on 'hello'" in str(wrapped)
    assert repr(error) in str(wrapped)


def test_message_failed_shortens_a_long_message():
    wrapped = asker_error("/app/a", "x" * 500, GeneratorExit())
    assert "x" * 100 not in str(wrapped)
    assert "…" in str(wrapped)


def test_an_ask_to_the_root_guardian_is_refused_naming_it_and_the_message():
    error = guardian_refuses("/app", {"op": "get"})
    assert isinstance(error, InvalidArgument)
    assert "/app is the root guardian" in str(error)
    assert "{'op': 'get'}" in str(error)
    assert "dead letter" in str(error)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(0)])
def test_the_process_being_asked_to_end_is_not_a_failure(error):
    assert not is_failure(error)


@pytest.mark.parametrize(
    "error",
    [RuntimeError(), GeneratorExit(), asyncio.CancelledError(), Cancelled(), Unusual()],
)
def test_everything_else_raised_by_user_code_is_a_failure(error):
    assert is_failure(error)


# -- Mailbox.notify under DROP_OLDEST --------------------------------------------------------


class Notice:
    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Notice({self.n})"


def notice(item: object) -> bool:
    return isinstance(item, Notice)


@given(
    st.integers(1, 4),
    st.lists(st.tuples(st.sampled_from(["offer", "notify", "take"]), st.integers()), max_size=30),
)
def test_under_drop_oldest_notices_are_never_dropped_and_keep_their_order(capacity, steps):
    box = Mailbox(Bounded(capacity, Overflow.DROP_OLDEST))
    notices: list[Notice] = []
    messages: list[int] = []
    for step, (operation, value) in enumerate(steps):
        if operation == "notify":
            item = Notice(step)
            box.notify(item, notice)
            notices.append(item)
        elif operation == "take":
            if notices or messages:
                expected = notices.pop(0) if notices else messages.pop(0)
                assert box.take_user() is expected
        else:
            outcome = box.offer(value)
            if len(notices) + len(messages) < capacity:
                assert outcome is Offer.QUEUED
                messages.append(value)
            elif messages:
                assert outcome is Offer.DROPPED_OLDEST
                assert box.last_dropped == messages.pop(0)
                messages.append(value)
            else:
                assert outcome is Offer.DROPPED_NEWEST
                assert box.last_dropped == value
        assert list(box.user) == [*notices, *messages]


def test_a_notice_goes_after_the_queued_notices_and_before_every_message():
    box = Mailbox(Bounded(5, Overflow.DROP_OLDEST))
    first, second = Notice(1), Notice(2)
    box.offer("m1")
    box.notify(first, notice)
    box.offer("m2")
    box.notify(second, notice)
    assert list(box.user) == [first, second, "m1", "m2"]


def test_a_full_box_drops_its_oldest_message_not_a_notice():
    box = Mailbox(Bounded(2, Overflow.DROP_OLDEST))
    first = Notice(1)
    box.offer("m1")
    box.notify(first, notice)
    assert box.offer("m2") is Offer.DROPPED_OLDEST
    assert box.last_dropped == "m1"
    assert list(box.user) == [first, "m2"]


def test_a_box_of_only_notices_drops_the_offered_message():
    box = Mailbox(Bounded(1, Overflow.DROP_OLDEST))
    first, second = Notice(1), Notice(2)
    box.notify(first, notice)
    box.notify(second, notice)  # past the capacity: a notice is never refused
    assert box.offer("m") is Offer.DROPPED_NEWEST
    assert box.last_dropped == "m"
    assert list(box.user) == [first, second]
