"""Supervision under asyncio: every strategy and directive, budgets, backoff, escalation."""

import asyncio
import time
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorSystem,
    ActorSystemFailed,
    AllForOne,
    Backoff,
    Directive,
    OneForOne,
    RestForOne,
    program,
)
from playbill.actors import DeadLetterReason, Failed, Restarted


class Boom(Exception):
    pass


class Worker(Actor):
    """Counts messages; fails on "boom"; "slow" takes a while; "get" replies the count."""

    starts: list[str]

    def __init__(self) -> None:
        self.count = 0

    def on_start(self) -> None:
        Worker.starts.append(self.context.self_ref.name)

    def on_restart(self, error: BaseException) -> None:
        Worker.starts.append(f"{self.context.self_ref.name} after {error!r}")

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise Boom("boom")
        if message == "slow":
            await asyncio.sleep(0.05)
        if message == "get":
            return self.count
        self.count += 1
        return None


@pytest.fixture(autouse=True)
def fresh_starts() -> None:
    Worker.starts = []


def decide(directive: Directive) -> Any:
    return lambda error: directive


async def pause() -> None:
    await asyncio.sleep(0.02)


def test_restart_resets_state_keeps_the_mailbox_and_calls_on_restart(arun):
    async def main() -> Any:
        async with ActorSystem("app") as system:
            events = system.events()
            worker = system.spawn(Worker, "w")
            worker.tell("a")
            worker.tell("boom")
            worker.tell("b")  # queued behind the failure: handled by the new instance
            await pause()
            kinds = [type(event).__name__ for event in events.drain()]
            assert kinds == ["Spawned", "Failed", "Restarted"]
            return await worker.ask("get")

    assert arun(main()) == 1
    assert Worker.starts == ["w", "w after Boom('boom')"]


def test_resume_keeps_the_state(arun):
    async def main() -> Any:
        async with ActorSystem(supervision=OneForOne(decide(Directive.RESUME))) as system:
            worker = system.spawn(Worker, "w")
            for message in ("a", "boom", "b"):
                worker.tell(message)
            await pause()
            return await worker.ask("get")

    assert arun(main()) == 2
    assert Worker.starts == ["w"]


def test_stop_means_the_failed_instance_processes_nothing_more(arun):
    async def main() -> Any:
        async with ActorSystem(supervision=OneForOne(decide(Directive.STOP))) as system:
            worker = system.spawn(Worker, "w")
            for message in ("a", "boom", "b", "c"):
                worker.tell(message)
            await pause()
            instance = worker.binding.instance  # type: ignore[union-attr]
            return instance.count, system.dead_letters.by_reason[DeadLetterReason.UNPROCESSED]

    assert arun(main()) == (1, 2)


class Team(Actor):
    """Starts workers a, b, c; its strategy comes from the spawn."""

    def on_start(self) -> None:
        for name in ("a", "b", "c"):
            self.context.spawn(Worker, name)

    def receive(self, message: Any) -> Any:
        return None


async def team_counts(system: ActorSystem) -> dict[str, int]:
    counts = {}
    for name in ("a", "b", "c"):
        counts[name] = await system.get_actor(f"/app/team/{name}").ask("get")
    return counts


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        (OneForOne(), {"b"}),
        (AllForOne(), {"a", "b", "c"}),
        (RestForOne(), {"b", "c"}),
    ],
)
def test_each_strategy_restarts_the_children_it_names(arun, strategy, restarted):
    async def main() -> dict[str, int]:
        async with ActorSystem("app") as system:
            system.spawn(Team, "team", supervision=strategy)
            await pause()
            for name in ("a", "b", "c"):
                system.get_actor(f"/app/team/{name}").tell("x")
            await pause()
            system.get_actor("/app/team/b").tell("boom")
            await pause()
            return await team_counts(system)

    counts = arun(main())
    assert {name for name, count in counts.items() if count == 0} == restarted


def test_all_for_one_never_swaps_a_sibling_mid_message(arun):
    async def main() -> Any:
        async with ActorSystem("app") as system:
            system.spawn(Team, "team", supervision=AllForOne())
            await pause()
            a = system.get_actor("/app/team/a")
            a.tell("slow")  # a is busy for 50 ms
            await asyncio.sleep(0.005)
            system.get_actor("/app/team/b").tell("boom")
            await asyncio.sleep(0.1)
            return [start for start in Worker.starts if start.startswith("a")]

    # a finished its slow message (count 1) before it was restarted: one restart, after it
    assert arun(main()) == ["a", "a after Boom('boom')"]


def test_a_restart_stops_the_old_children_first_so_they_can_be_recreated_by_name(arun):
    class Parent(Actor):
        def on_start(self) -> None:
            self.context.spawn(Worker, "child")

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise Boom("parent")
            return None

    async def main() -> Any:
        async with ActorSystem("app") as system:
            parent = system.spawn(Parent, "parent")
            await pause()
            old_child = system.get_actor("/app/parent/child")
            parent.tell("boom")
            await pause()
            new_child = system.get_actor("/app/parent/child")
            return old_child.uid != new_child.uid, await new_child.ask("get")

    assert arun(main()) == (True, 0)
    assert Worker.starts == ["child", "child"]


def test_escalate_fails_the_parent_for_its_own_supervisor_to_decide(arun):
    class Escalating(Actor):
        supervision = OneForOne(decide(Directive.ESCALATE))

        def on_start(self) -> None:
            Worker.starts.append("middle")
            self.context.spawn(Worker, "leaf")

        def receive(self, message: Any) -> Any:
            return None

    async def main() -> Any:
        async with ActorSystem("app") as system:
            events = system.events()
            system.spawn(Escalating, "middle")
            await pause()
            system.get_actor("/app/middle/leaf").tell("boom")
            await pause()
            failed = [event.path for event in events.drain() if isinstance(event, Failed)]
            return failed

    # the leaf's failure escalated: the middle failed, and the root restarted it
    assert arun(main()) == ["/app/middle/leaf", "/app/middle"]
    assert Worker.starts == ["middle", "leaf", "middle", "leaf"]


def test_escalation_to_the_root_stops_the_system_and_reports_the_error(arun):
    @program
    def waits_forever() -> Any:
        from playbill import sleep

        yield sleep(30)

    async def fail_it(system: ActorSystem) -> None:
        async with system:
            worker = system.spawn(Worker, "w")
            worker.tell("boom")
            await system.run(waits_forever())

    async def main() -> None:
        system = ActorSystem("app", supervision=OneForOne(decide(Directive.ESCALATE)))
        with pytest.raises(ActorSystemFailed, match="escalated to the root") as caught:
            await fail_it(system)
        assert isinstance(caught.value.__cause__, Boom)
        assert isinstance(system.failure, Boom)

    arun(main())


def test_past_the_restart_budget_the_child_is_stopped_and_the_failure_escalates(arun):
    class Supervisor(Actor):
        supervision = OneForOne(max_restarts=2, within=60)

        def on_start(self) -> None:
            self.context.spawn(Worker, "w")

        def receive(self, message: Any) -> Any:
            return None

    async def main() -> Any:
        system = ActorSystem("app", supervision=OneForOne(decide(Directive.STOP)))
        async with system:
            events = system.events()
            system.spawn(Supervisor, "supervisor")
            await pause()
            worker = system.get_actor("/app/supervisor/w")
            for _ in range(3):
                worker.tell("boom")
                await pause()
            return [
                (event.path, event.directive)
                for event in events.drain()
                if isinstance(event, Failed)
            ]

    assert arun(main()) == [
        ("/app/supervisor/w", "RESTART"),
        ("/app/supervisor/w", "RESTART"),
        ("/app/supervisor/w", "STOP"),
        ("/app/supervisor", "STOP"),
    ]


def test_restarts_wait_for_the_backoff(arun):
    async def main() -> float:
        backoff = Backoff(initial=0.1, jitter=0.0)
        async with ActorSystem(supervision=OneForOne(backoff=backoff)) as system:
            events = system.events()
            worker = system.spawn(Worker, "w")
            failed_at = time.monotonic()
            worker.tell("boom")
            await asyncio.sleep(0.3)
            restarted = [event for event in events.drain() if isinstance(event, Restarted)]
            assert len(restarted) == 1
            return time.monotonic() - failed_at

    assert arun(main()) >= 0.1


def test_a_decider_that_raises_escalates(arun):
    def broken(error: BaseException) -> Directive:
        raise RuntimeError("decider bug")

    class Supervisor(Actor):
        supervision = OneForOne(broken)

        def on_start(self) -> None:
            self.context.spawn(Worker, "w")

        def receive(self, message: Any) -> Any:
            return None

    async def main() -> list[str]:
        async with ActorSystem("app") as system:
            events = system.events()
            system.spawn(Supervisor, "s")
            await pause()
            system.get_actor("/app/s/w").tell("boom")
            await pause()
            return [event.directive for event in events.drain() if isinstance(event, Failed)]

    assert arun(main()) == ["ESCALATE", "RESTART"]


def test_a_failing_on_start_is_supervised_like_any_failure(arun):
    attempts: list[int] = []

    class Fragile(Actor):
        def on_start(self) -> None:
            attempts.append(1)
            if len(attempts) < 3:
                raise Boom("not yet")

        def receive(self, message: Any) -> Any:
            return "ready"

    async def main() -> Any:
        async with ActorSystem() as system:
            ref = system.spawn(Fragile)
            await pause()
            return await ref.ask("ping")

    assert arun(main()) == "ready"
    assert len(attempts) == 3


def test_the_root_guardian_reports_a_top_level_actor_it_stops(arun, caplog):
    async def main() -> None:
        async with ActorSystem("app", supervision=OneForOne(decide(Directive.STOP))) as system:
            system.spawn(Worker, "w").tell("boom")
            await pause()

    arun(main())
    assert "the root guardian stopped the top-level actor /app/w after it failed" in caplog.text


def test_supervision_waits_for_the_parent_to_finish_its_current_message(arun):
    order: list[str] = []

    class BusyParent(Actor):
        def on_start(self) -> None:
            self.context.spawn(Worker, "child")

        async def receive(self, message: Any) -> Any:
            order.append("parent busy")
            await asyncio.sleep(0.05)
            order.append("parent done")

    async def main() -> None:
        async with ActorSystem("app") as system:
            events = system.events()
            parent = system.spawn(BusyParent, "parent")
            await pause()
            parent.tell("work")
            await asyncio.sleep(0.01)
            system.get_actor("/app/parent/child").tell("boom")
            await asyncio.sleep(0.1)
            for event in events.drain():
                if isinstance(event, Failed):
                    order.append("decided")

    arun(main())
    assert order == ["parent busy", "parent done", "decided"]


def test_escalation_means_the_failed_child_processes_nothing_more(arun):
    handled: list[str] = []

    class Leaf(Actor):
        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise Boom("leaf")
            handled.append(message)

    class Middle(Actor):
        supervision = OneForOne(decide(Directive.ESCALATE))

        def on_start(self) -> None:
            self.context.spawn(Leaf, "leaf")

        def receive(self, message: Any) -> Any:
            return None

    async def main() -> int:
        async with ActorSystem("app", supervision=OneForOne(decide(Directive.STOP))) as system:
            system.spawn(Middle, "middle")
            await pause()
            leaf = system.get_actor("/app/middle/leaf")
            for message in ("before", "boom", "after 1", "after 2"):
                leaf.tell(message)
            await pause()
            return system.dead_letters.by_reason[DeadLetterReason.UNPROCESSED]

    assert arun(main()) == 2
    assert handled == ["before"]


def test_a_direct_ask_with_a_negative_timeout_is_refused(arun):
    from playbill import InvalidArgument

    async def main() -> None:
        async with ActorSystem() as system:
            with pytest.raises(InvalidArgument, match="positive timeout"):
                await system.spawn(Worker).ask("get", timeout=-1)

    arun(main())
