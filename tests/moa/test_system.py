"""MoASystem: a MoA tree run as a live stream of task events nested per layer and proposer,
on its own system or one given, leaving no actor whatever the end; bad input refused."""

import asyncio

import pytest

from playbill import ActorSystem, InvalidArgument, TimedOut
from playbill.agents import AgentSystem, TaskEventKind, TaskStatus
from playbill.flow import QuorumNotReached, step
from playbill.moa import MoASystem, moa_layer, moa_tree
from tests.moa.support import (
    AlsoBroken,
    Broken,
    Directing,
    Fast,
    Joiner,
    SlowAggregator,
    Steady,
    Straggler,
)


def two_layers():
    return moa_tree(
        [
            moa_layer([Fast, Steady, Straggler], Directing, min_success=2),
            moa_layer([Fast, Steady], Joiner, min_success=2),
        ]
    )


def name(path):
    return path.rsplit("/", 1)[-1].split("$")[0]


def test_events_nest_per_layer_then_per_proposer(arun):
    async def main():
        async with MoASystem() as moa:
            run = moa.run(two_layers(), "q", run_id="r1")
            events = [event async for event in run]
            left = moa.actors.children
        return run, events, left

    run, events, left = arun(main())
    assert run.result.output == (
        "Fast:Fast:q | Steady:q[brief] | Steady:Fast:q | Steady:q[brief] (0 failed)"
    )
    assert not left
    root = events[0].agent_path
    assert root.endswith("/run-r1")
    assert events[-1].agent_path == root
    assert events[-1].kind is TaskEventKind.COMPLETED
    layers = {name(e.agent_path): e.agent_path for e in events if e.parent_agent_path == root}
    assert sorted(layers) == ["Layer0", "Layer1"]
    under = {
        layer: sorted({name(e.agent_path) for e in events if e.parent_agent_path == path})
        for layer, path in layers.items()
    }
    assert under == {
        "Layer0": ["Directing", "Fast", "Steady", "Straggler"],
        "Layer1": ["Fast", "Joiner", "Steady"],
    }
    straggler = [e.kind for e in events if name(e.agent_path) == "Straggler"]
    assert straggler == [TaskEventKind.STARTED, TaskEventKind.CANCELLED]
    # every task's start comes before its end, and a layer ends after all it ran
    order = [(e.agent_path, e.kind) for e in events]
    for path in layers.values():
        end = order.index((path, TaskEventKind.COMPLETED))
        assert all(i < end for i, (p, _) in enumerate(order) if p.startswith(path + "/"))


def test_a_list_of_layers_and_a_plain_flow_run_too(arun):
    layers = [moa_layer([Fast], Directing), moa_layer([Steady], Joiner)]

    async def main():
        async with MoASystem() as moa:
            listed = await moa.ask(layers, "q")
            events = [e async for e in moa.run(moa_layer([Fast], Joiner), "q")]
            return listed, events

    listed, events = arun(main())
    assert listed == "Steady:Fast:q[brief] (0 failed)"
    root = events[0].agent_path  # a flow moa_tree did not make: its agents under the root
    assert {name(e.agent_path) for e in events if e.parent_agent_path == root} == {
        "Fast",
        "Joiner",
    }


@pytest.mark.parametrize("kind", ["agents", "actors"])
def test_runs_on_a_system_given_and_leaves_it_running(arun, kind):
    async def main():
        async with ActorSystem("mine") as actors:
            given = AgentSystem("mine") if kind == "agents" else actors
            if kind == "agents":
                await given.__aenter__()
            async with MoASystem(given) as moa:
                assert moa.actors is (given.actors if kind == "agents" else actors)
                answer = await moa.ask(two_layers(), "q")
            still = moa.actors.children
            # the system given still works after the MoASystem is gone
            again = await MoASystem(given).__aenter__()
            second = await again.ask(moa_layer([Fast], Joiner), "x")
            if kind == "agents":
                await given.__aexit__(None, None, None)
            return answer, still, second

    answer, still, second = arun(main())
    assert answer.startswith("Fast:Fast:q | Steady:q[brief]")
    assert not still
    assert second == "Fast:x (0 failed)"


def test_failure_raises_after_its_events_and_leaves_no_actor(arun):
    hopeless = moa_tree([moa_layer([Broken, AlsoBroken, Straggler], Joiner, min_success=2)])

    async def main():
        async with MoASystem() as moa:
            run = moa.run(hopeless, "q")
            seen = []

            async def read():
                async for event in run:
                    seen.append(event)

            with pytest.raises(QuorumNotReached):
                await read()
            with pytest.raises(QuorumNotReached):
                await moa.ask(hopeless, "q")
            return run, seen, moa.actors.children

    run, seen, left = arun(main())
    assert run.status is TaskStatus.FAILED
    assert seen[-1].kind is TaskEventKind.FAILED
    assert not left
    assert {name(e.agent_path) for e in seen} >= {"Broken", "AlsoBroken", "Straggler"}


def test_timeouts_abort_and_break_leave_no_actor(arun):
    slow = moa_tree([moa_layer([Fast], SlowAggregator)])

    async def main():
        async with MoASystem() as moa:
            with pytest.raises(Exception) as timed:
                await moa.ask(slow, "q", timeout=0.2)
            layered = moa_tree([moa_layer([Fast], SlowAggregator, timeout=0.1)])
            with pytest.raises(TimedOut):
                await moa.ask(layered, "q")
            after_timeouts = moa.actors.children
            run = moa.run(slow, "q", run_id="stop-me")
            async for event in run:
                if name(event.agent_path) == "SlowAggregator" and event.kind.value == "started":
                    assert await moa.abort("stop-me")
            aborted = run.status, moa.actors.children
            broken = moa.run(slow, "q")
            async for event in broken:
                if name(event.agent_path) == "Fast":
                    break
            await broken.aclose()
            return timed.value, after_timeouts, aborted, broken.status, moa.actors.children

    timed, after_timeouts, aborted, broke, left = arun(main())
    assert "timed out" in str(timed).lower() or isinstance(timed, asyncio.TimeoutError)
    assert not after_timeouts
    assert aborted == (TaskStatus.CANCELLED, ())
    assert broke is TaskStatus.CANCELLED
    assert not left


def test_bad_input_is_refused_naming_it(arun):
    with pytest.raises(InvalidArgument, match="MoASystem\\(\\) system must be"):
        MoASystem("app")

    async def main():
        async with MoASystem() as moa:
            for bad in ([], "tree", 3, [step(len), "layer"]):
                with pytest.raises(InvalidArgument, match=r"MoASystem\.run\(\)"):
                    moa.run(bad, "q")
            with pytest.raises(InvalidArgument, match="timeout"):
                moa.run(two_layers(), "q", timeout=-1)
        async with AgentSystem("taken") as agents:
            with pytest.raises(InvalidArgument, match="already carries another AgentSystem"):
                await MoASystem(agents.actors).__aenter__()

    arun(main())


def test_flow_events_are_emitted_only_while_someone_reads_them(arun):
    # the run's own stream carries TaskEvents only: FlowEvents nobody reads are never made
    from playbill.actors import Emitted
    from playbill.effects import Emit
    from playbill.flow import FlowEvent

    tree = moa_tree(
        [moa_layer([step(lambda given: given.value.upper()), Fast], Joiner, min_success=2)]
    )
    published: list[object] = []

    async def main():
        async with MoASystem() as moa:
            gate = moa.actors._event_gate

            def watching(event):  # every event the runs publish reaches the gate
                published.append(event)
                return gate(event)

            moa.actors._event_gate = watching
            unread = await moa.ask(tree, "q")
            unseen = [event for event in published if type(event) is FlowEvent]
            subscription = moa.actors.events()
            read = await moa.ask(tree, "q")
            seen = [e.event for e in subscription.drain() if type(e) is Emitted]
            subscription.close()
        handled: list[object] = []
        async with MoASystem(ActorSystem(handlers={Emit: handled.append})) as moa:
            await moa.ask(tree, "q")
        return unread, unseen, read, seen, handled

    unread, unseen, read, seen, handled = arun(main())
    assert unread == read == "Q | Fast:q (0 failed)"
    assert unseen == []
    assert {e.kind for e in seen if type(e) is FlowEvent} == {"started", "completed"}
    assert any(type(effect.event) is FlowEvent for effect in handled)


def test_a_tree_run_again_reuses_its_agent_classes():
    moa = MoASystem()
    tree = two_layers()
    root = moa._root(tree)
    assert moa._root(tree) is root
    other = two_layers()
    assert moa._root(other) is not root  # another tree (equal, not the same)
    layers = [moa_layer([Fast], Joiner)]
    assert moa._root(layers) is not moa._root(layers)  # a list is not remembered
    del tree
    import gc

    gc.collect()
    assert len(moa._roots) == 1  # the entry of a tree gone goes with it
    assert moa._root(other) is moa._root(other)
