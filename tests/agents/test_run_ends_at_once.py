"""Under asyncio, a run's ephemeral root stops in one transition once its task is done, and the
run ends in that same turn: the consumer woken by the first event reads every event and the
end of the stream without waiting again. The lifecycle is kept: a root with an ``on_stop`` of
its own still runs it, and a failed or timed-out root still ends its run."""

import asyncio
from typing import Any

import pytest

from playbill import program, sleep
from playbill.actors import Stopped
from playbill.actors._signals import STOP
from playbill.agents import AgentActor, AgentSystem, TaskStatus
from playbill.interpreters._asyncio._cell import _Cell


class Echo(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        return input


class Failing(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        raise ValueError(f"no {input}")


class Slow(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield sleep(60)
        return input


stops: list[str] = []


class Tidy(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        return input

    def on_stop(self) -> None:
        stops.append(self.context.self_ref.path)


async def read(run: Any, kinds: list[str]) -> None:
    async for event in run:
        kinds.append(event.kind.value)


def test_the_run_is_over_by_the_time_its_consumer_reads_the_roots_last_event(arun: Any) -> None:
    async def main() -> Any:
        async with AgentSystem("app") as system:
            seen = []
            run = system.run(Echo, "x", run_id="r1")
            async for event in run:
                # the root answered and terminated in the turn it published this event in
                seen.append((event.kind.value, system.running, system.actors.children))
            return seen, run.status

    seen, status = arun(main())
    assert seen == [("started", (), ()), ("completed", (), ())]
    assert status is TaskStatus.COMPLETED


def test_a_runs_root_stops_without_posting_itself_a_stop(
    arun: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted: list[tuple[str, object]] = []
    post_system = _Cell.post_system

    def recording(cell: _Cell, message: object) -> None:
        posted.append((cell.path, message))
        post_system(cell, message)

    monkeypatch.setattr(_Cell, "post_system", recording)

    async def main() -> Any:
        async with AgentSystem("app") as system:
            subscription = system.actors.events(buffer=100)
            kinds = [event.kind.value async for event in system.run(Echo, 1, run_id="r1")]
            stopped = [event for event in subscription.drain() if type(event) is Stopped]
            return kinds, stopped

    kinds, stopped = arun(main())
    assert kinds == ["started", "completed"]
    assert [event.path for event in stopped] == ["/app/run-r1"]  # its Stopped published
    assert ("/app/run-r1", STOP) not in posted


def test_a_root_with_its_own_on_stop_still_runs_it(arun: Any) -> None:
    stops.clear()

    async def main() -> Any:
        async with AgentSystem("app") as system:
            run = system.run(Tidy, 1, run_id="r1")
            kinds = [event.kind.value async for event in run]
            return kinds, system.actors.children

    kinds, left = arun(main())
    assert kinds == ["started", "completed"]
    assert stops == ["/app/run-r1"]
    assert left == ()


def test_a_failed_root_ends_its_run_with_its_error_and_leaves_no_actor(arun: Any) -> None:
    async def main() -> Any:
        async with AgentSystem("app") as system:
            kinds: list[str] = []
            with pytest.raises(ValueError, match="no 1"):
                await read(system.run(Failing, 1, run_id="r1"), kinds)
            await asyncio.sleep(0)
            return kinds, system.running, system.actors.children

    kinds, running, left = arun(main())
    assert kinds == ["started", "failed"]
    assert running == ()
    assert left == ()


def test_a_root_that_times_out_ends_its_run_failed(arun: Any) -> None:
    async def main() -> Any:
        async with AgentSystem("app") as system:
            run = system.run(Slow, 1, run_id="r1", timeout=0.05)
            kinds: list[str] = []
            with pytest.raises(Exception, match="timed out"):
                await read(run, kinds)
            return kinds, run.status, system.running, system.actors.children

    kinds, status, running, left = arun(main())
    assert kinds == ["started", "failed"]
    assert status is TaskStatus.FAILED
    assert running == ()
    assert left == ()
