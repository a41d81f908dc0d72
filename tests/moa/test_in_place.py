"""MoASystem runs the instant agents of its layers in place (no actor each) while nobody
watches the actor tree: the run's task events are those the actors would have published;
a task that waits, fails or reaches for its actor still gets one."""

import asyncio
import re

import pytest

from playbill import program, sleep
from playbill.agents import AgentActor, TaskEventKind
from playbill.flow import QuorumNotReached
from playbill.moa import MoASystem, Proposals, moa_layer, moa_tree


class Echo(AgentActor):
    def execute(self, given):
        return f"echo:{given.value}"


class Join(AgentActor):
    def execute(self, proposals: Proposals):
        return " | ".join(proposals.outputs)


class Waits(AgentActor):
    @program
    def execute(self, given):
        yield sleep(0.001)
        return f"waited:{given.value}"


class Fails(AgentActor):
    def execute(self, given):
        raise ValueError("down")


class Where(AgentActor):
    def execute(self, given):
        return self.context.self_ref.path  # reads its actor: never in place


def _path_of(agent):
    return agent.context.self_ref.path


class WhereIndirectly(AgentActor):
    def execute(self, given):
        return _path_of(self)  # reads its actor where no check sees it: an actor after all


def tree(*proposers, aggregator=Join, min_success=None):
    layer = moa_layer(list(proposers), aggregator, min_success=min_success or len(proposers))
    return moa_tree([layer, layer])


def shape(events, *, names=False):
    """The events with the numbers of paths and ids replaced by their order of appearance
    (with ``names``, an agent's path is its last segment: the actor of a task that waits is a
    child of the run's root while its layer is a task run in place, not an actor)."""
    numbers: dict[str, str] = {}

    def renumber(text):
        if text is None:
            return None
        return re.sub(
            r"[-$][0-9a-z-]+", lambda m: numbers.setdefault(m[0], f"#{len(numbers)}"), text
        )

    return [
        (
            e.kind,
            renumber(e.agent_path.rsplit("/", 1)[-1] if names else e.agent_path),
            renumber(e.parent_agent_path),
            e.parent_task_id is None,
            repr(e.data),
        )
        for e in events
    ]


async def events_of(moa, flow, question, *, watched):
    subscription = moa.actors.events() if watched else None  # a watcher sees every actor
    uids = next(moa.actors._uids)
    events = [event async for event in moa.run(flow, question)]
    spawned = next(moa.actors._uids) - uids - 1
    if subscription is not None:
        subscription.close()
    return events, spawned


def test_instant_agents_run_in_place_with_the_events_their_actors_would_publish(arun):
    async def main():
        async with MoASystem() as moa:
            flow = tree(Echo, Echo, Echo)
            alone = await events_of(moa, flow, "q", watched=False)
            watched = await events_of(moa, flow, "q", watched=True)
            return alone, watched, moa.actors.children

    (alone, in_place), (watched, in_actors), left = arun(main())
    assert alone[-1].data == watched[-1].data == " | ".join(["echo:echo:q | echo:q | echo:q"] * 3)
    assert shape(alone) == shape(watched)
    assert len(alone) == 2 + 2 * 2 + 2 * 4 * 2  # the root, 2 layers, 4 agents a layer
    assert in_place == 1  # the run's root: its 2 layers are tasks of its own
    assert in_actors == 3 + 2 * 4  # and an actor per proposer and aggregator
    assert not left


@pytest.mark.parametrize("agent", [Waits, Where, WhereIndirectly])
def test_an_agent_that_waits_or_reads_its_actor_gets_one(arun, agent):
    async def main():
        async with MoASystem() as moa:
            flow = tree(Echo, agent)
            first = await events_of(moa, flow, "q", watched=False)
            again = await events_of(moa, flow, "q", watched=False)
            watched = await events_of(moa, flow, "q", watched=True)
            return first, again, watched, moa.actors.children

    (first, spawned), (again, _), (watched, in_actors), left = arun(main())
    assert not left
    # the root, an actor for each of its tasks (Echo and Join none), and the layers' when
    # they can tell it waits (its execute is a @program) or reads its actor
    assert spawned == 1 + 2 * 1 + (2 if agent in (Waits, Where) else 0)
    assert in_actors == 3 + 2 * 3
    if agent is Waits:
        assert first[-1].data == "echo:echo:q | waited:q | waited:echo:q | waited:q"
        assert shape(first) == shape(again)
        assert shape(first, names=True) == shape(watched, names=True)
    else:  # its output is the path of the actor that ran its task, the one its events name
        ran = {
            e.agent_path
            for e in first
            if e.agent_path.rsplit("/", 1)[-1].startswith(agent.__name__)
        }
        done = [e for e in first if e.kind is TaskEventKind.COMPLETED and e.agent_path in ran]
        assert done
        assert all(e.data == e.agent_path for e in done)


def test_a_failing_instant_agent_fails_in_an_actor_as_before(arun, caplog):
    async def main():
        async with MoASystem() as moa:
            flow = moa_tree([moa_layer([Echo, Fails], Join, min_success=2)])
            outcomes = []
            for watched in (False, True):
                subscription = moa.actors.events() if watched else None
                run = moa.run(flow, "q")
                seen = []

                async def read(run=run, seen=seen):
                    async for event in run:
                        seen.append(event)

                with pytest.raises(QuorumNotReached) as failed:
                    await read()
                if subscription is not None:
                    subscription.close()
                outcomes.append((seen, failed.value))
            return outcomes, moa.actors.children

    ((alone, error), (watched, _)), left = arun(main())
    assert not left
    assert shape(alone, names=True)[:-1] == shape(watched, names=True)[:-1]  # (last: the root)
    assert isinstance(error.failures[0], ValueError)
    failed = [e for e in alone if e.kind is TaskEventKind.FAILED and "Fails" in e.agent_path]
    assert len(failed) == 1
    assert isinstance(failed[0].data, ValueError)
    # as an actor's failure, it is logged once per run (its supervisor decided)
    assert sum("Fails" in record.getMessage() for record in caplog.records) == 2


def test_in_place_events_wait_for_room_in_the_runs_buffer(arun):
    async def main():
        async with MoASystem(buffer=1) as moa:
            flow = tree(Echo, Echo, Echo)
            seen = []
            async for event in moa.run(flow, "q"):
                seen.append(event)
                await asyncio.sleep(0)  # a slow reader: the agents wait for room
            roomy = await events_of(moa, flow, "q", watched=False)
            return seen, roomy, moa.actors.children

    seen, (roomy, spawned), left = arun(main())

    def tasks(events):  # (the agents' tasks interleave otherwise while they wait for room)
        return sorted(
            (e.kind.value, e.agent_path.rsplit("/")[-1][:4], repr(e.data)) for e in events
        )

    assert tasks(seen) == tasks(roomy)
    order = [(e.task_id, e.kind) for e in seen]
    assert all(
        order.index((task, TaskEventKind.STARTED)) < order.index((task, TaskEventKind.COMPLETED))
        for task, _ in order
    )
    assert spawned == 1
    assert not left
