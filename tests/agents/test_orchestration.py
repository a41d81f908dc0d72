"""Orchestration as Programs: nested tasks link to their parent, the lifecycle holds for every
task, fail-fast cancels siblings and leaves no child, race/zip/traverse/stream."""

import re

import pytest

from playbill import Faults, InvalidArgument, explore, program, replay, simulate, sleep
from playbill.agents import (
    AgentActor,
    TaskStatus,
    ask_agent,
    race_agents,
    sequence_agents,
    stream_agent,
    task_tree,
    traverse_agents,
    zip_agents,
)
from tests.agents.support import INTERPRETERS, check_lifecycle, lifetimes, perform


class Summarizer(AgentActor[str, str]):
    @program
    def execute(self, topic):
        yield self.progress("reading")
        yield sleep(0.01)
        return f"notes on {topic}"


class Researcher(AgentActor[str, str]):
    @program
    def execute(self, topic):
        yield self.progress("searching")
        notes = yield ask_agent(Summarizer, topic)
        more = yield traverse_agents(Summarizer, ["x", "y"])
        return f"{notes}; {', '.join(more)}"


class Slow(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield sleep(100)
        return text


class Broken(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield sleep(0.01)
        raise ValueError(text)


class Writer(AgentActor[str, list]):
    @program
    def execute(self, prompt):
        for word in prompt.split():
            yield self.chunk(word)
        return prompt.split()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_nested_agents_link_to_their_parent_task_and_keep_the_lifecycle(interpreter):
    outcome = perform(ask_agent(Researcher, "actors"), interpreter)
    assert outcome.value == "notes on actors; notes on x, notes on y"
    check_lifecycle(outcome.events)
    [root] = task_tree(outcome.events)
    assert root.agent_path.count("/") == 2
    assert [child.status for child in root.children] == [TaskStatus.COMPLETED] * 3
    for child in root.children:
        started = child.events[0]
        assert started.parent_task_id == root.task_id
        assert started.parent_agent_path == root.agent_path
        assert started.agent_path.startswith(root.agent_path + "/")
    assert {event.run_id for event in outcome.events} == {root.task_id}
    assert outcome.left == ()


@pytest.mark.parametrize("seed", range(5))
def test_the_lifecycle_holds_under_injected_faults(seed):
    result = simulate(
        ask_agent(Researcher, "actors"),
        seed=seed,
        delivery="per_pair",
        faults=Faults(crash=0.2, ask_timeout=0.1),
    )
    from playbill.agents import task_events

    events = task_events(result.events)
    check_lifecycle(tuple(event for event in events if _ended(events, event.task_id)))
    task_tree(result.events)  # refuses an event after a task ended, or a double start


def _ended(events, task_id):
    return any(e.task_id == task_id and e.kind.terminal for e in events)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_fail_fast_cancels_the_siblings_and_leaves_no_child(interpreter):
    class Lead(AgentActor[str, tuple]):
        @program
        def execute(self, text):
            return (yield sequence_agents([ask_agent(Slow, text), ask_agent(Broken, text)]))

    outcome = perform(ask_agent(Lead, "boom"), interpreter)
    assert isinstance(outcome.error, ValueError)
    check_lifecycle(outcome.events)
    [root] = task_tree(outcome.events)
    assert sorted(child.status.value for child in root.children) == ["cancelled", "failed"]
    assert outcome.left == ()


def test_a_cancelled_sibling_is_stopped_at_once_not_after_its_work():
    class Lead(AgentActor[str, tuple]):
        @program
        def execute(self, text):
            return (yield sequence_agents([ask_agent(Slow, text), ask_agent(Broken, text)]))

    result = simulate(ask_agent(Lead, "boom"), seed=3)
    assert isinstance(result.error, ValueError)
    assert result.clock < 1  # the Slow child's 100 s were never waited for
    assert all(stop is not None and stop < 1 for _, stop in lifetimes(result.events).values())


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_race_first_success_wins_and_the_loser_is_cancelled(interpreter):
    outcome = perform(
        race_agents([ask_agent(Slow, "slow"), ask_agent(Summarizer, "x")]), interpreter
    )
    assert outcome.value == "notes on x"
    statuses = {span.agent_path: span.status for span in task_tree(outcome.events)}
    assert sorted(status.value for status in statuses.values()) == ["cancelled", "completed"]
    assert outcome.left == ()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_race_all_failing_raises_and_empty_is_refused(interpreter):
    outcome = perform(race_agents([ask_agent(Broken, "a"), ask_agent(Broken, "b")]), interpreter)
    assert isinstance(outcome.error, ValueError)
    with pytest.raises(InvalidArgument, match="at least one"):
        race_agents([])


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_zip_pairs_and_traverse_keeps_input_order(interpreter):
    # the first input takes longest: the results still come in input order
    @program
    def slow_first(n):
        yield sleep(0.01 * (5 - n))
        return n * 10

    outcome = perform(
        zip_agents(ask_agent(len, "abc"), traverse_agents(slow_first, range(5))), interpreter
    )
    assert outcome.value == (3, (0, 10, 20, 30, 40))
    assert perform(sequence_agents([]), interpreter).value == ()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_stream_agent_forwards_the_childs_chunks_on_the_callers_behalf(interpreter):
    class Lead(AgentActor[str, list]):
        @program
        def execute(self, text):
            return (yield stream_agent(Writer, text))

    outcome = perform(ask_agent(Lead, "a b"), interpreter)
    assert outcome.value == ["a", "b"]
    [root] = task_tree(outcome.events)
    assert [event.data for event in root.events if event.kind.value == "chunk"] == ["a", "b"]
    [child] = root.children
    assert [event.data for event in child.events if event.kind.value == "chunk"] == ["a", "b"]


def test_orchestration_takes_programs():
    with pytest.raises(InvalidArgument, match="single program"):
        sequence_agents(ask_agent(len, "x"))
    with pytest.raises(InvalidArgument, match="takes programs"):
        sequence_agents(["x"])


def test_explore_finds_a_lost_update_between_two_agents_sharing_notes():
    from playbill import Actor, free_ask, free_spawn

    class Notes(Actor):
        def __init__(self):
            self.count = 0

        def receive(self, message):
            if message == "read":
                return self.count
            self.count = message
            return None

    class Editor(AgentActor[object, None]):
        @program
        def execute(self, notes):
            seen = yield free_ask(notes, "read")  # read-modify-write: a race
            yield free_ask(notes, seen + 1)

    @program
    def main():
        notes = yield free_spawn(Notes, name="notes")
        yield sequence_agents([ask_agent(Editor, notes), ask_agent(Editor, notes)])
        return (yield free_ask(notes, "read"))

    found = explore(main(), lambda result: result.value == 2, runs=300, seed=1)
    assert found.found
    assert found.minimal is not None
    assert found.minimal.value == 1
    assert replay(main(), found.minimal.schedule).value == 1


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: traverse_agents(len, None), "traverse_agents() inputs"),
        (lambda: traverse_agents(len, 5), "traverse_agents() inputs"),
        (lambda: sequence_agents(None), "sequence_agents() programs"),
        (lambda: race_agents(7), "race_agents() programs"),
    ],
)
def test_orchestration_refuses_what_is_not_an_iterable_naming_the_option(call, names):
    with pytest.raises(InvalidArgument, match=re.escape(names)):
        call()
