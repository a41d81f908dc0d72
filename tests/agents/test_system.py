"""AgentSystem: runs as bounded event streams with backpressure, early break and abort that
leave no actor, run ids that keep runs apart, ask_stream, and bad input."""

import asyncio

import pytest

from playbill import InvalidArgument, program, sleep
from playbill.agents import (
    AgentActor,
    AgentSystem,
    StreamEvent,
    StreamResult,
    Task,
    TaskResult,
    TaskStatus,
    ask_agent,
    task_tree,
)
from tests.agents.support import check_lifecycle


class Writer(AgentActor[str, list]):
    @program
    def execute(self, prompt):
        for word in prompt.split():
            yield self.chunk(word)
        return prompt.split()


class Slow(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield self.progress("working")
        yield sleep(60)
        return text


class Lead(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield self.progress("delegating")
        return (yield ask_agent(Slow, text))


class Broken(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield self.chunk("partial")
        raise ValueError(text)


class Chunks(AgentActor[int, int]):
    @program
    def execute(self, count):
        for n in range(count):
            yield self.chunk(n)
        return count


async def gone(system, limit=2.0):
    """Wait until no top-level actor is left (failing after ``limit`` seconds)."""

    async def empty():
        while system.actors.children:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(empty(), limit)


def kinds(events):
    return [event.kind.value for event in events]


def test_run_streams_every_event_and_ends_with_the_result(arun):
    async def main():
        async with AgentSystem() as system:
            run = system.run(Writer, "a b", run_id="r1")
            assert run.status is TaskStatus.PENDING
            events = [event async for event in run]
            assert system.actors.children == ()  # the run's actors are gone when it ends
            return run, events

    run, events = arun(main())
    assert kinds(events) == ["started", "chunk", "chunk", "completed"]
    assert events[-1].data == ["a", "b"]
    assert run.status is TaskStatus.COMPLETED
    assert run.result == TaskResult("r1", TaskStatus.COMPLETED, ["a", "b"])
    assert {event.run_id for event in events} == {"r1"}


def test_a_failed_run_raises_the_roots_error_after_its_events(arun):
    async def read(run, seen):
        async for event in run:
            seen.append(event)

    async def main():
        seen = []
        async with AgentSystem() as system:
            run = system.run(Broken, "bad input")
            with pytest.raises(ValueError, match="bad input"):
                await read(run, seen)
            return run, seen

    run, seen = arun(main())
    assert kinds(seen) == ["started", "chunk", "failed"]
    assert run.status is TaskStatus.FAILED


def test_abort_cancels_mid_execute_now_and_leaves_no_actor(arun):
    async def main():
        took = None
        async with AgentSystem() as system:
            run = system.run(Lead, "x", run_id="r1")
            seen = []
            async for event in run:
                seen.append(event)
                if event.kind.value == "progress" and event.agent_path.count("/") == 3:
                    started = asyncio.get_running_loop().time()
                    assert await system.abort("r1")  # the Slow grandchild is mid-sleep(60)
                    took = asyncio.get_running_loop().time() - started
                    assert system.actors.children == ()
            assert not await system.abort("r1")  # over
            return run, seen, took

    run, seen, took = arun(main())
    assert took is not None
    assert took < 1
    assert run.status is TaskStatus.CANCELLED
    check_lifecycle(tuple(seen))
    [root] = task_tree(seen)
    assert [span.status for span in root.walk()] == [TaskStatus.CANCELLED] * 2


def test_an_early_break_cancels_the_run_and_leaves_no_actor(arun):
    async def main():
        async with AgentSystem() as system:
            async for event in system.run(Lead, "x"):
                if event.kind.value == "progress":
                    break
            await gone(system)
            assert system.running == ()

    arun(main())


def test_aclose_and_async_with_cancel_the_run(arun):
    async def main():
        async with AgentSystem() as system:
            async with system.run(Lead, "x") as run:
                await anext(run)
            assert run.status is TaskStatus.CANCELLED
            assert system.actors.children == ()

    arun(main())


def test_no_event_is_lost_with_10000_chunks_and_a_slow_consumer(arun):
    async def main():
        async with AgentSystem(buffer=64) as system:
            run = system.run(Chunks, 10_000)
            chunks = []
            most = 0
            async for event in run:
                if event.kind.value == "chunk":
                    chunks.append(event.data)
                    if event.data % 100 == 0:
                        await asyncio.sleep(0.001)  # a slow consumer
                most = max(most, len(run._run.channel.events))
            return chunks, most, run

    chunks, most, run = arun(main())
    assert chunks == list(range(10_000))
    assert run.result.output == 10_000
    assert most <= 65  # the buffer, and the one producer that waits for room


def test_a_consumer_that_never_reads_holds_the_agents_back_at_the_buffer(arun):
    async def main():
        async with AgentSystem(buffer=10) as system:
            run = system.run(Chunks, 1000)
            await asyncio.sleep(0.05)
            buffered = len(run._run.channel.events)
            assert run.status is TaskStatus.RUNNING  # waiting for room, not finished
            await run.aclose()
            assert system.actors.children == ()
            return buffered

    assert arun(main()) == 11  # the buffer plus the one event its producer waits behind


def test_concurrent_runs_never_see_each_others_events(arun):
    async def consume(system, agent, prompt, run_id):
        return [event async for event in system.run(agent, prompt, run_id=run_id)]

    async def main():
        async with AgentSystem() as system:
            writers = [consume(system, Writer, "a b c d", f"w{n}") for n in range(5)]
            leads = [consume(system, Broken, "x", f"b{n}") for n in range(2)]
            outcomes = await asyncio.gather(*writers, *leads, return_exceptions=True)
            return outcomes[:5]

    for n, events in enumerate(arun(main())):
        assert {event.run_id for event in events} == {f"w{n}"}
        assert kinds(events) == ["started", "chunk", "chunk", "chunk", "chunk", "completed"]


def test_ask_stream_gives_events_then_the_result_of_a_live_agent(arun):
    async def main():
        async with AgentSystem() as system:
            writer = system.spawn(Writer, "writer")
            items = [item async for item in system.ask_stream(writer, Task("a b"))]
            failed = [item async for item in system.ask_stream(Broken, "oops")]
            return items, failed, system.actors.children

    items, failed, children = arun(main())
    assert [type(item) for item in items] == [StreamEvent] * 4 + [StreamResult]
    assert items[-1].result.output == ["a", "b"]
    assert kinds(item.event for item in failed[:-1]) == ["started", "chunk", "failed"]
    assert failed[-1].result.status is TaskStatus.FAILED
    assert isinstance(failed[-1].result.error, ValueError)
    assert [ref.path for ref in children] == ["/app/writer"]  # the ephemeral one is gone


def test_a_break_out_of_ask_stream_stops_the_ephemeral_agent(arun):
    async def main():
        async with AgentSystem() as system:
            async for item in system.ask_stream(Slow, "x"):
                assert isinstance(item, StreamEvent)
                break
            await gone(system)

    arun(main())


def test_run_of_something_that_is_not_an_agent_is_refused(arun):
    async def main():
        async with AgentSystem() as system:
            with pytest.raises(InvalidArgument, match="takes an agent"):
                system.run(42, "x")
            with pytest.raises(InvalidArgument, match="run_id"):
                system.run(Writer, "x", run_id="a/b")
            system.run(Slow, "x", run_id="same")
            with pytest.raises(InvalidArgument, match="still going"):
                system.run(Slow, "x", run_id="same")

    arun(main())


def test_shutdown_cancels_the_runs_still_going(arun):
    async def main():
        system = AgentSystem()
        async with system:
            run = system.run(Lead, "x")
            await anext(run)
        return run

    assert arun(main()).status is TaskStatus.CANCELLED


def test_the_reply_to_a_task_is_a_task_result(arun):
    async def main():
        async with AgentSystem() as system:
            ref = system.spawn(Writer, "writer")
            return await ref.ask(Task("x y", id="t1"))

    assert arun(main()) == TaskResult("t1", TaskStatus.COMPLETED, ["x", "y"])


def test_async_execute_and_async_generator_run_under_asyncio(arun):
    class Fetch(AgentActor[str, str]):
        async def execute(self, url):
            await asyncio.sleep(0)
            return f"<{url}>"

    class Tokens(AgentActor[str, list]):
        async def execute(self, text):
            for token in text.split():
                await asyncio.sleep(0)
                yield token

    async def main():
        async with AgentSystem() as system:
            fetched = [event async for event in system.run(Fetch, "u")]
            streamed = [event async for event in system.run(Tokens, "a b c")]
            return fetched, streamed

    fetched, streamed = arun(main())
    assert [(e.kind.value, e.data) for e in fetched] == [("started", None), ("completed", "<u>")]
    assert [(e.kind.value, e.data) for e in streamed] == [
        ("started", None),
        ("chunk", "a"),
        ("chunk", "b"),
        ("chunk", "c"),
        ("completed", ["a", "b", "c"]),
    ]


def test_an_async_execute_is_cancelled_by_abort(arun):
    class Waits(AgentActor[str, str]):
        async def execute(self, text):
            await asyncio.sleep(60)
            return text

    async def main():
        async with AgentSystem() as system:
            run = system.run(Waits, "x", run_id="w")
            await anext(run)  # started
            await system.abort("w")
            rest = [event async for event in run]
            return run, rest

    run, rest = arun(main())
    assert kinds(rest) == ["cancelled"]
    assert run.status is TaskStatus.CANCELLED
