"""Agents in flows: ``actor(AgentClass)`` is a Flow leaf whose task (and the tasks it sends)
nest under the flow node's span; failures and cancellations reach the flow; the tasks join the
agent run a flow runs in; agent flows save to YAML through the registry and draw as Mermaid —
under asyncio and the simulator."""

from __future__ import annotations

import asyncio

import pytest

from playbill import ActorSystem, program, simulate, sleep
from playbill.agents import AgentActor, AgentSystem, ask_agent, task_tree
from playbill.flow import FlowEvent, Registry, actor, from_yaml, race, step, to_mermaid
from tests.agents.support import INTERPRETERS, check_lifecycle, perform


class Summarizer(AgentActor[str, str]):
    @program
    def execute(self, topic):
        yield self.progress("reading")
        yield sleep(0.01)
        return f"notes on {topic}"


class Researcher(AgentActor[str, str]):
    @program
    def execute(self, topic):
        notes = yield ask_agent(Summarizer, topic)
        return notes.upper()


class Broken(AgentActor[str, str]):
    @program
    def execute(self, topic):
        yield sleep(0.01)
        raise ValueError(f"no {topic}")


class Slow(AgentActor[str, str]):
    @program
    def execute(self, topic):
        yield self.progress("working")
        yield sleep(60)
        return topic


PIPELINE = step(str.strip) >> actor(Researcher) >> step(len)


def flow_spans(events, node="actor"):
    return [
        event.span
        for event in (getattr(each, "event", each) for each in events)
        if isinstance(event, FlowEvent) and event.kind == "started" and event.node == node
    ]


def simulated_events(program_, **options):
    return simulate(program_, seed=3, **options).events


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_agent_leaf_runs_and_its_tasks_nest_under_the_flow_nodes_span(interpreter):
    outcome = perform(PIPELINE.to_program("  actors "), interpreter)
    assert outcome.value == len("NOTES ON ACTORS")
    assert outcome.left == ()  # the leaf's agent and its child are gone
    check_lifecycle(outcome.events)
    [root] = task_tree(outcome.events)
    assert root.agent_path.startswith("/app/")  # a child of the flow's runner (the root)
    started = root.events[0]
    assert (started.parent_task_id, started.parent_agent_path) == ("flow/steps[1]", "/app")
    assert [child.status.value for child in root.children] == ["completed"]
    assert root.children[0].events[0].parent_task_id == root.task_id


def test_the_span_the_task_names_is_the_flow_nodes_own():
    events = simulated_events(PIPELINE.to_program("x", span="job"))
    [span] = flow_spans(events)
    [root] = task_tree(events)
    assert root.events[0].parent_task_id == span == "job/steps[1]"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_failing_agent_fails_its_flow_node_and_publishes_failed(interpreter):
    flow = actor(Broken).recover(lambda error: f"recovered: {error}")
    outcome = perform(flow.to_program("x"), interpreter)
    assert outcome.value == "recovered: no x"
    [root] = task_tree(outcome.events)
    assert root.status.value == "failed"
    assert root.events[0].parent_task_id == "flow/flow"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_agent_that_loses_a_flow_race_is_cancelled_and_stopped(interpreter):
    flow = race(actor(Slow), step(lambda text: sleep(0.02).map(lambda _: f"fast {text}")))
    outcome = perform(flow.to_program("x"), interpreter)
    assert outcome.value == "fast x"
    assert outcome.left == ()
    [root] = task_tree(outcome.events)
    assert root.status.value == "cancelled"
    assert root.events[0].parent_task_id == "flow/flows[0]"


class Pipeline(AgentActor[str, int]):
    """An agent whose work is a flow of agents."""

    def execute(self, text):
        return PIPELINE.to_program(text, span="pipe")


def test_a_flow_inside_an_agent_run_streams_its_agents_events():
    async def main():
        async with AgentSystem("app") as system:
            run = system.run(Pipeline, " x ", run_id="r1")
            events = [event async for event in run]
            return events, run.result.output

    events, output = asyncio.run(asyncio.wait_for(main(), 20))
    assert output == len("NOTES ON X")
    assert {event.run_id for event in events} == {"r1"}
    assert len({event.task_id for event in events}) == 3  # the pipeline, researcher, summarizer
    researcher = next(event for event in events if event.parent_task_id == "pipe/steps[1]")
    assert researcher.kind.value == "started"
    check_lifecycle(tuple(events))


def test_a_flow_inside_an_agent_under_the_simulator_keeps_the_run():
    result = simulate(ask_agent(Pipeline, " x "), seed=2)
    assert result.value == len("NOTES ON X")
    roots = task_tree(result.events)
    assert len({event.run_id for root in roots for event in root.events}) == 1


# -- saving and drawing ----------------------------------------------------------------------


def registry_of_the_pipeline():
    registry = Registry()
    registry.register(Researcher)
    registry.register(str.strip, name="strip")
    registry.register(len, name="length")
    return registry


def test_an_agent_flow_saves_to_yaml_and_loads_back_and_runs():
    registry = registry_of_the_pipeline()
    text = PIPELINE.to_yaml(registry)
    assert "kind: actor" in text
    assert "factory: Researcher" in text
    loaded = from_yaml(text, registry)
    assert loaded == PIPELINE
    assert simulate(loaded.to_program(" x ")).value == len("NOTES ON X")


def test_an_agent_flow_draws_as_mermaid():
    drawing = to_mermaid(PIPELINE, registry_of_the_pipeline())
    assert "actor: Researcher" in drawing
    assert drawing.index("strip") < drawing.index("Researcher") < drawing.index("length")


def test_the_events_of_an_agent_flow_under_asyncio_carry_the_flow_span():
    async def main():
        async with ActorSystem("app") as system:
            subscription = system.events(buffer=10_000)
            value = await system.run(PIPELINE.to_program("y", span="live"))
            return value, subscription.drain()

    value, events = asyncio.run(asyncio.wait_for(main(), 20))
    assert value == len("NOTES ON Y")
    [span] = flow_spans(events)
    [root] = task_tree(events)
    assert root.events[0].parent_task_id == span == "live/steps[1]"
