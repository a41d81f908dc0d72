"""Regression tests for the adversarial review of the agent layer (issue 12): one consumer per
run, ask_stream to what is not an agent, abort of a live agent's stream, backpressure through
a shared agent, a root that times out, async generators under the simulator, an AgentActor
whose __init__ raises, and bad input."""

import asyncio

import pytest

from playbill import (
    Actor,
    AskTimeout,
    InvalidArgument,
    ProgramError,
    free_ask,
    program,
    simulate,
    sleep,
)
from playbill.agents import (
    AgentActor,
    AgentSystem,
    StreamResult,
    Task,
    TaskLink,
    TaskStatus,
    ask_agent,
    stream_agent,
    task_events,
    task_tree,
)
from tests.agents.support import INTERPRETERS, check_lifecycle, perform


class Slow(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield self.progress("working")
        yield sleep(0.3)
        return text


def kinds(events):
    return [event.kind.value for event in events]


# -- 1: one consumer per run ------------------------------------------------------------------


def test_a_second_concurrent_consumer_of_a_run_is_refused_not_left_hanging(arun):
    async def consume(run):
        return [event async for event in run]

    async def main():
        async with AgentSystem() as system:
            run = system.run(Slow, "x")
            first = asyncio.ensure_future(consume(run))
            await asyncio.sleep(0.05)  # the first consumer waits for the next event
            with pytest.raises(InvalidArgument, match="one consumer"):
                await asyncio.wait_for(consume(run), 2)
            events = await asyncio.wait_for(first, 2)  # the first goes on to the end
            return run, events

    run, events = arun(main())
    assert kinds(events) == ["started", "progress", "completed"]
    assert run.status is TaskStatus.COMPLETED


# -- 5: ask_stream to a plain actor ------------------------------------------------------------


class Echo(Actor):
    def receive(self, message):
        return message


def test_ask_stream_to_a_plain_actor_is_refused_as_not_an_agent(arun):
    async def main():
        async with AgentSystem() as system:
            echo = system.actors.spawn(Echo, "echo")
            with pytest.raises(InvalidArgument, match="/app/echo is not an agent"):
                system.ask_stream(echo, "hi")
            assert system.running == ()

    arun(main())


def test_a_reply_that_is_not_a_task_result_fails_the_stream(arun, monkeypatch):
    # the up-front check cannot see every actor (one restarting, say): the reply is checked too
    monkeypatch.setattr(AgentSystem, "_check_agent_ref", lambda self, target: None)

    async def main():
        async with AgentSystem() as system:
            echo = system.actors.spawn(Echo, "echo")
            return [item async for item in system.ask_stream(echo, "hi")]

    [last] = arun(main())
    assert isinstance(last, StreamResult)
    assert last.result.status is TaskStatus.FAILED
    assert isinstance(last.result.error, ProgramError)
    assert "is not an agent" in str(last.result.error)


# -- 6: abort of a live agent's stream ---------------------------------------------------------


def test_abort_of_a_live_agents_stream_is_refused_and_never_claims_cancelled(arun):
    async def main():
        async with AgentSystem() as system:
            slow = system.spawn(Slow, "slow")
            stream = system.ask_stream(slow, Task("x"))
            await anext(stream)  # started
            with pytest.raises(InvalidArgument, match="live agent /app/slow"):
                await system.abort(stream.run_id)
            await stream.aclose()  # stops watching; the agent works on
            assert stream.status is TaskStatus.RUNNING
            assert [item async for item in stream] == []  # at once, not when the agent ends
            assert stream.status is TaskStatus.RUNNING
            for _ in range(300):  # the agent's sleep(0.3), however loaded the machine
                if stream.status is not TaskStatus.RUNNING:
                    break
                await asyncio.sleep(0.01)
            return stream, system.actors.children

    stream, children = arun(main())
    assert stream.status is TaskStatus.COMPLETED  # how the task really ended
    assert stream.result.output == "x"
    assert [ref.path for ref in children] == ["/app/slow"]


def test_abort_of_an_ephemeral_agents_stream_still_cancels_it(arun):
    async def main():
        async with AgentSystem() as system:
            stream = system.ask_stream(Slow, "x")
            await anext(stream)
            assert await system.abort(stream.run_id)
            items = [item async for item in stream]
            return stream, items

    stream, items = arun(main())
    assert stream.status is TaskStatus.CANCELLED
    assert items[-1].result.status is TaskStatus.CANCELLED


# -- 2: backpressure through a shared long-lived agent ------------------------------------------


class Shared(AgentActor[int, int]):
    @program
    def execute(self, count):
        for n in range(count):
            yield self.chunk(n)
        return count


class Asker(AgentActor[tuple, int]):
    @program
    def execute(self, job):
        shared, count = job
        return (yield free_ask(shared, Task(count))).output


def test_a_stalled_run_holds_a_shared_agent_until_its_consumer_reads_or_leaves(arun):
    # documented in docs/agents.md ("A shared agent is shared backpressure"): the shared agent
    # performs one task at a time, and it is stuck publishing run A's events, so run B's task
    # waits in its mailbox; it goes on once A's consumer reads again, or leaves
    async def finish(run):
        return [event async for event in run]

    async def main(release):
        async with AgentSystem(buffer=2) as system:
            shared = system.spawn(Shared, "shared")
            a = system.run(Asker, (shared, 10), run_id="a")  # its consumer never reads
            await asyncio.sleep(0.05)
            b = asyncio.ensure_future(finish(system.run(Asker, (shared, 1), run_id="b")))
            await asyncio.sleep(0.2)
            assert not b.done()  # held behind A's task in the shared agent
            if release == "read":
                assert len([event async for event in a]) == 14  # 2 started, 10 chunks, 2 completed
            else:
                await a.aclose()
            events = await asyncio.wait_for(b, 2)
            return a.status, events

    for release in ("read", "leave"):
        status, events = arun(main(release))
        assert status is (TaskStatus.COMPLETED if release == "read" else TaskStatus.CANCELLED)
        assert events[-1].kind.value == "completed"
        assert events[-1].data == 1
        assert {event.run_id for event in events} == {"b"}


# -- 8: a root that times out ------------------------------------------------------------------


class Parent(AgentActor[str, str]):
    @program
    def execute(self, text):
        return (yield ask_agent(Slow, text))


async def read(run, seen):
    async for event in run:
        seen.append(event)


def test_a_root_that_times_out_fails_with_the_timeout_after_its_cancelled_children(arun):
    async def main():
        async with AgentSystem() as system:
            run = system.run(Parent, "x", run_id="r", timeout=0.1)
            seen = []
            with pytest.raises(AskTimeout):
                await read(run, seen)
            return run, seen, system.actors.children

    run, seen, children = arun(main())
    assert [(event.kind.value, event.task_id) for event in seen] == [
        ("started", "r"),
        ("started", "r.1"),
        ("progress", "r.1"),
        ("cancelled", "r.1"),
        ("failed", "r"),
    ]
    assert isinstance(seen[-1].data, AskTimeout)
    assert seen[-1].data is run.result.error
    assert run.status is TaskStatus.FAILED
    check_lifecycle(tuple(seen))
    [root] = task_tree(seen)
    assert [span.status for span in root.walk()] == [TaskStatus.FAILED, TaskStatus.CANCELLED]
    assert children == ()


# -- 14: an async generator execute under the simulator ----------------------------------------


class Tokens(AgentActor[str, list]):
    async def execute(self, text):
        for token in text.split():
            yield token


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_an_async_generator_under_the_simulator_says_to_yield_chunks(delivery):
    result = simulate(ask_agent(Tokens, "a b"), delivery=delivery, seed=1)
    error = result.error
    assert isinstance(error, ProgramError)
    message = str(error)
    assert "Tokens.execute is an async generator" in message
    assert "yield self.chunk(item)" in message
    assert "athrow" not in message  # the close of a generator never started is not refused
    assert isinstance(error.__cause__, ProgramError)  # the interpreter's refusal, kept
    [failed] = [event for event in task_events(result.events) if event.kind.value == "failed"]
    assert failed.data is error


def test_an_async_generator_that_fails_under_asyncio_is_still_closed(arun):
    closed = []

    class Fails(AgentActor[str, list]):
        async def execute(self, text):
            try:
                yield text
                raise ValueError(text)
            finally:
                closed.append(text)

    async def main():
        async with AgentSystem() as system:
            return [item async for item in system.ask_stream(Fails, "x")]

    items = arun(main())
    assert isinstance(items[-1].result.error, ValueError)
    assert closed == ["x"]


# -- 15: an AgentActor whose __init__ raises ---------------------------------------------------


class InitRaises(AgentActor[int, int]):
    def __init__(self):
        raise RuntimeError("no model")

    def execute(self, number):
        return number


class PlainInitRaises:
    def __init__(self):
        raise RuntimeError("no model")

    def execute(self, number):
        return number


class InitRaisesToo(InitRaises):
    def __init__(self):
        super().__init__()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
@pytest.mark.parametrize("agent", [InitRaises, PlainInitRaises, InitRaisesToo])
def test_an_agent_whose_init_raises_fails_with_a_program_error_naming_it(agent, interpreter):
    outcome = perform(ask_agent(agent, 1), interpreter)
    error = outcome.error
    assert isinstance(error, ProgramError)
    assert f"the agent class {agent.__qualname__} could not be constructed" in str(error)
    assert isinstance(error.__cause__, RuntimeError)  # once, not wrapped again
    assert outcome.left == ()


def test_agent_system_run_of_an_agent_whose_init_raises_gives_the_program_error(arun):
    async def main():
        async with AgentSystem() as system:
            for agent in (InitRaises, PlainInitRaises):
                with pytest.raises(ProgramError, match=f"{agent.__qualname__} could not be"):
                    system.run(agent, 1)
            assert system.running == ()

    arun(main())


# -- 22: bad input, refused up front naming the option ----------------------------------------


@pytest.mark.parametrize("ask", [ask_agent, stream_agent])
def test_an_ephemeral_agents_name_is_checked_up_front_dollar_included(ask):
    with pytest.raises(InvalidArgument, match=r"\(\) name must be .*'\$'.*got '\$x'"):
        ask(len, "x", name="$x")


def test_a_task_refuses_a_parent_that_is_not_a_task_link_and_a_flag_that_is_not_a_bool():
    with pytest.raises(InvalidArgument, match=r"Task parent must be a TaskLink.*got 5"):
        Task(1, parent=5)
    with pytest.raises(InvalidArgument, match="Task forward_chunks must be True or False"):
        Task(1, forward_chunks="y")
    assert Task(1, parent=TaskLink("t", "/app/a"), forward_chunks=True).forward_chunks


def test_abort_refuses_a_run_id_that_is_not_one_and_run_names_itself_for_a_bad_timeout(arun):
    async def main():
        async with AgentSystem() as system:
            with pytest.raises(InvalidArgument, match=r"AgentSystem.abort\(\) run_id"):
                await system.abort(None)
            assert not await system.abort("no-such-run")
            with pytest.raises(InvalidArgument, match=r"AgentSystem.run\(\) takes a positive"):
                system.run(len, "x", timeout=-1)
            with pytest.raises(InvalidArgument, match=r"ask_stream\(\) takes a positive"):
                system.ask_stream(len, "x", timeout=0)
            assert system.running == ()

    arun(main())


# -- 23: a run_id whose root name a user's actor has --------------------------------------------


def test_a_run_id_whose_root_name_is_taken_is_refused_naming_run_id(arun):
    async def main():
        async with AgentSystem() as system:
            system.actors.spawn(Echo, "run-x")
            with pytest.raises(InvalidArgument, match=r"run\(\) run_id 'x' would name .*run-x"):
                system.run(len, "abc", run_id="x")
            with pytest.raises(InvalidArgument, match=r"ask_stream\(\) run_id 'x'"):
                system.ask_stream(len, Task("abc", run_id="x"))
            assert system.running == ()
            return [event.kind.value async for event in system.run(len, "abc", run_id="y")]

    assert arun(main()) == ["started", "completed"]
