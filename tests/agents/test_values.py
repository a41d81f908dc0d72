"""Task values, and the span tree a flat event stream rebuilds (lifecycle checked)."""

import re

import attrs
import pytest

from playbill import InvalidArgument
from playbill.actors import Emitted, Spawned
from playbill.agents import (
    Task,
    TaskEvent,
    TaskEventKind,
    TaskResult,
    TaskStatus,
    task_events,
    task_tree,
)


def event(kind, task, parent=None, run="r", data=None):
    return TaskEvent(TaskEventKind(kind), task, f"/app/{task}", parent, None, run, 0.0, data)


def test_values_are_frozen_and_compare_by_value():
    assert Task("x") == Task("x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Task("x").input = "y"  # type: ignore[misc]
    assert TaskResult("t", TaskStatus.COMPLETED, 1).ok
    assert not TaskResult("t", TaskStatus.FAILED, error=ValueError()).ok


def test_a_task_id_must_be_a_non_empty_string():
    with pytest.raises(InvalidArgument, match="Task id must be a non-empty string"):
        Task("x", id="")


def test_terminal_kinds_and_finished_statuses():
    assert {kind for kind in TaskEventKind if kind.terminal} == {
        TaskEventKind.COMPLETED,
        TaskEventKind.FAILED,
        TaskEventKind.CANCELLED,
    }
    assert not TaskStatus.RUNNING.finished
    assert TaskStatus.CANCELLED.finished


def test_task_tree_rebuilds_nesting_from_a_flat_interleaved_stream():
    events = [
        event("started", "a"),
        event("started", "b", "a"),
        event("started", "c", "a"),
        event("chunk", "c", "a", data="x"),
        event("started", "d", "b"),
        event("completed", "d", "b"),
        event("failed", "c", "a"),
        event("completed", "b", "a"),
        event("cancelled", "a"),
    ]
    [root] = task_tree(events)
    assert [span.task_id for span in root.walk()] == ["a", "b", "d", "c"]
    assert [child.status for child in root.children] == [TaskStatus.COMPLETED, TaskStatus.FAILED]
    assert root.status is TaskStatus.CANCELLED
    assert [e.kind.value for e in root.children[1].events] == ["started", "chunk", "failed"]


def test_task_tree_reads_emitted_wrappers_and_keeps_one_run():
    events = [
        Spawned("/app/a", 0.0),
        Emitted("/app/a", 0.0, event("started", "a", run="r1")),
        Emitted("/app/x", 0.0, event("started", "x", run="r2")),
    ]
    assert [span.task_id for span in task_tree(events, run_id="r1")] == ["a"]
    assert len(task_events(events)) == 2


def test_a_running_task_is_a_running_span():
    [root] = task_tree([event("started", "a"), event("progress", "a")])
    assert root.status is TaskStatus.RUNNING


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([event("progress", "a")], "'progress' before 'started'"),
        ([event("started", "a"), event("completed", "a"), event("chunk", "a")], "after it ended"),
        ([event("started", "a"), event("started", "a")], "started twice"),
    ],
)
def test_task_tree_refuses_a_broken_lifecycle(events, message):
    with pytest.raises(InvalidArgument, match=message):
        task_tree(events)


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: task_tree(None), "task_tree() events"),
        (lambda: task_events(5), "task_events() events"),
        (lambda: task_events("abc"), "task_events() events"),
    ],
)
def test_event_streams_that_are_not_iterables_are_refused(call, names):
    with pytest.raises(InvalidArgument, match=re.escape(names)):
        call()


def _started(task, parent=None, run="r"):
    return TaskEvent(TaskEventKind.STARTED, task, f"/app/{task}", parent, None, run, 0.0)


@pytest.mark.parametrize(
    "events",
    [[_started("a", "a")], [_started("a", "b"), _started("b", "a")]],
    ids=["its own parent", "each other's parents"],
)
def test_task_tree_refuses_a_cycle_of_parents_rather_than_dropping_it(events):
    with pytest.raises(InvalidArgument, match="a cycle no run makes"):
        task_tree(events)


def test_task_tree_of_two_runs_sharing_a_task_id_says_to_pick_a_run():
    events = [_started("a", run="r1"), _started("a", run="r2")]
    with pytest.raises(InvalidArgument, match=r"in two runs, 'r1' and 'r2': pass run_id="):
        task_tree(events)
    assert [root.task_id for root in task_tree(events, run_id="r2")] == ["a"]


def test_task_tree_builds_a_chain_deeper_than_the_recursion_limit():
    events = [_started("t0")] + [_started(f"t{n}", f"t{n - 1}") for n in range(1, 5000)]
    [root] = task_tree(events)
    depth = 0
    while root.children:
        [root] = root.children
        depth += 1
    assert depth == 4999
