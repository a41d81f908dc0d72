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
    TaskLink,
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


class _Id(str):
    pass


@pytest.mark.parametrize("field", ["id", "run_id"])
def test_a_task_id_of_a_str_subclass_is_refused_saying_to_write_str(field):
    """Exactly a str, as its events' and result's ids must be: a subclass would pass the
    task and fail its result (completed) or its events."""
    with pytest.raises(InvalidArgument, match=r"a _Id, a subclass of str: write str\(value\)"):
        Task("x", **{field: _Id("t1")})
    assert Task("x", **{field: str(_Id("t1"))}).input == "x"


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"id": 3}, "Task id must be a non-empty string or None, got 3"),
        ({"run_id": ""}, "Task run_id must be a non-empty string or None, got ''"),
        ({"parent": "t1"}, r"Task parent must be a TaskLink .* got 't1' \(str\)"),
        ({"forward_chunks": 1}, "Task forward_chunks"),
        ({"forward_chunks": None}, "Task forward_chunks"),
    ],
)
def test_every_field_of_a_task_is_checked_when_built_and_when_evolved(fields, refusal):
    with pytest.raises(InvalidArgument, match=refusal):
        Task("x", **fields)
    with pytest.raises(InvalidArgument, match=refusal):
        attrs.evolve(Task("x"), **fields)


def test_a_task_keeps_every_field_by_position_and_by_name():
    link = TaskLink("t0", "/app/lead")
    task = Task("x", "t1", "r", link, True)
    assert attrs.astuple(task, recurse=False) == ("x", "t1", "r", link, True)
    assert task == Task(input="x", id="t1", run_id="r", parent=link, forward_chunks=True)
    assert attrs.astuple(Task("x"), recurse=False) == ("x", None, None, None, False)


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


def test_the_per_task_values_built_by_hand_keep_every_field_by_position_and_by_name():
    # TaskEvent, TaskResult and Emitted have hand-written __init__s (built per task)
    error = ValueError("no")
    by_position = TaskEvent(TaskEventKind.FAILED, "t1", "/a/b", "t0", "/a", "r", 2.5, error)
    by_name = TaskEvent(
        kind=TaskEventKind.FAILED,
        task_id="t1",
        agent_path="/a/b",
        parent_task_id="t0",
        parent_agent_path="/a",
        run_id="r",
        time=2.5,
        data=error,
    )
    assert by_position == by_name
    assert attrs.astuple(by_position, recurse=False) == (
        TaskEventKind.FAILED, "t1", "/a/b", "t0", "/a", "r", 2.5, error,
    )  # fmt: skip
    assert TaskEvent(TaskEventKind.STARTED, "t", "/a", None, None, "t", 0.0).data is None
    assert attrs.evolve(by_name, time=3.0).time == 3.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        by_name.time = 1.0  # type: ignore[misc]
    result = TaskResult("t", TaskStatus.FAILED, error=error)
    assert attrs.astuple(result, recurse=False) == ("t", TaskStatus.FAILED, None, error)
    assert result == TaskResult(task_id="t", status=TaskStatus.FAILED, output=None, error=error)
    assert hash(TaskResult("t", TaskStatus.COMPLETED, 1)) == hash(
        TaskResult("t", TaskStatus.COMPLETED, 1)
    )
    emitted = Emitted("/a", 1.5, by_name)
    assert attrs.astuple(emitted, recurse=False) == ("/a", 1.5, by_name)
    assert emitted == Emitted(path="/a", time=1.5, event=by_name)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        emitted.path = "/b"  # type: ignore[misc]


def test_a_task_event_the_agent_layer_builds_fast_is_a_true_frozen_task_event():
    # new_task_event builds it as its plain slots class, then gives it its class
    import weakref

    from playbill.agents._values import new_task_event

    parts = (TaskEventKind.CHUNK, "t1", "/a/b", "t0", "/a", "r", 2.5, ("x",))
    fast, built = new_task_event(*parts), TaskEvent(*parts)
    assert type(fast) is TaskEvent
    assert fast == built
    assert hash(fast) == hash(built)
    assert repr(fast) == repr(built)
    assert attrs.astuple(fast, recurse=False) == parts
    assert attrs.evolve(fast, data="y") == TaskEvent(*parts[:-1], "y")
    assert weakref.ref(fast)() is fast
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.data = "y"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del fast.kind  # type: ignore[misc]
    match fast:
        case TaskEvent(TaskEventKind.CHUNK, "t1", data=data):
            assert data == ("x",)
        case _:
            pytest.fail("a fast-built event matches as any other")


def test_a_stream_event_the_agent_layer_builds_fast_is_a_true_frozen_stream_event():
    from playbill.agents import StreamEvent
    from playbill.agents._values import new_stream_event

    inner = event("chunk", "a")
    fast = new_stream_event(inner)
    assert type(fast) is StreamEvent
    assert fast == StreamEvent(inner)
    assert hash(fast) == hash(StreamEvent(inner))
    assert repr(fast) == repr(StreamEvent(inner))
    assert attrs.astuple(fast, recurse=False) == (inner,)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.event = inner  # type: ignore[misc]


def test_an_agents_chunk_is_a_true_suspend_of_a_true_emit_stamped():
    # both built as their plain slots classes, then given their own (one per chunk)
    from playbill.agents._agent import _Running, _stamped
    from playbill.effects import EmitStamped, Program, Suspend

    running = _Running(Task("x", "t1", "r"), "t1", "/app/a")
    chunk = _stamped(running, TaskEventKind.CHUNK, "word")
    assert type(chunk) is Suspend
    assert isinstance(chunk, Program)
    assert type(chunk.effect) is EmitStamped
    assert chunk == Suspend(chunk.effect)
    assert chunk.effect == EmitStamped(chunk.effect.make)
    assert chunk.effect.make(2.0) == TaskEvent(
        TaskEventKind.CHUNK, "t1", "/app/a", None, None, "r", 2.0, "word"
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        chunk.effect = None  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        chunk.effect.make = None  # type: ignore[misc]
