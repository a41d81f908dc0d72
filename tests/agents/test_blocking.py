"""Agents doing blocking work: `blocking` inside an agent's execute runs on the AgentSystem's
thread pool under asyncio, inline under the simulator, with the same events either way."""

import threading

import pytest

from playbill import InvalidArgument, blocking, program, simulate
from playbill.agents import AgentActor, AgentSystem, ask_agent, task_tree


def checksum(text):
    return threading.current_thread().name, sum(map(ord, text))


class Hasher(AgentActor[str, int]):
    @program
    def execute(self, text):
        yield self.progress("hashing")
        _, total = yield blocking(checksum, text)
        return total


def test_an_agent_calls_blocking_under_the_simulator():
    result = simulate(ask_agent(Hasher, "ab"), seed=2)
    assert result.value == 195
    [root] = task_tree(result.events)
    assert [event.kind.value for event in root.events] == ["started", "progress", "completed"]


def test_an_agent_calls_blocking_on_the_agent_systems_pool(arun):
    class Threaded(AgentActor[str, str]):
        @program
        def execute(self, text):
            name, _ = yield blocking(checksum, text)
            return name

    async def main():
        async with AgentSystem("agents", blocking_threads=1) as system:
            run = system.run(Threaded, "ab")
            kinds = [event.kind.value async for event in run]
            return kinds, run.result.output, system.actors.blocking_threads

    kinds, thread, threads = arun(main())
    assert kinds == ["started", "completed"]
    assert thread.startswith("playbill-agents-blocking")
    assert threads == 1


def test_agent_system_blocking_threads_is_checked():
    with pytest.raises(InvalidArgument, match=r"AgentSystem blocking_threads.*0"):
        AgentSystem(blocking_threads=0)
