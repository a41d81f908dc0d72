"""Regression tests for the simulator-only defects of issue 10 (9 and 13).

Each test states the correct behaviour; while a defect is open its test is marked
``xfail(strict=True)`` with the defect's number. Every run has a step limit.
"""

import math
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorRef,
    Terminated,
    free_spawn,
    free_stop,
    program,
    simulate,
    sleep,
    watch,
)
from playbill.actors import Failed, Restarted, Stopped

DELIVERIES = ["causal", "per_pair"]


def issue(number: int, what: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 10 defect {number}: {what}")


class Boom(Exception):
    pass


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


# -- defect 9: restarts, Stopped events and Terminated notices around a stop -----------------------


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_the_child_of_a_parent_that_is_already_stopping_is_never_restarted(delivery):
    restarts: list[int] = []

    class Child(Actor):
        def on_restart(self, error: BaseException) -> None:
            restarts.append(seed)

        def receive(self, message: Any) -> Any:
            raise Boom("child")

    class Parent(Actor):
        def on_start(self) -> None:
            self.context.spawn(Child, "child")

        def receive(self, message: Any) -> Any:
            if message == "busy":
                return sleep(0.1)  # it decides about its child only once this is done
            return self.context.children[0]

    @program
    def main() -> Any:
        parent = yield free_spawn(Parent, name="parent")
        child = yield parent.free_ask("child")
        yield parent.free_tell("busy")
        yield sleep(0.01)
        yield child.free_tell("boom")
        yield sleep(0.01)
        yield free_stop(parent)  # stopping before it decides about the failure
        yield sleep(0.5)
        return "done"

    restarted_in: list[int] = []
    for seed in range(12):
        result = simulate(main(), seed=seed, max_steps=5000, delivery=delivery)
        assert result.status == "completed", result.error
        if any(isinstance(event, Restarted) for event in result.events):
            restarted_in.append(seed)
    assert restarted_in == []
    assert restarts == []


class StuckChild(Actor):
    def receive(self, message: Any) -> Any:
        return sleep(math.inf)  # never finishes: the shutdown aborts it


def parent_of_a_stuck_child(on_stop: Any) -> type[Actor]:
    class Parent(Actor):
        def on_start(self) -> None:
            self.context.spawn(StuckChild, "child")

        def on_stop(self) -> None:
            on_stop()

        def receive(self, message: Any) -> Any:
            return self.context.children[0]

    return Parent


def stuck_at_shutdown(parent: type[Actor]) -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(parent, name="parent")
        child = yield ref.free_ask("child")
        yield child.free_tell("stuck")
        yield sleep(0.01)
        return "done"

    return main()


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_at_shutdown_each_actor_stops_once_and_a_child_before_its_parent(delivery):
    parent = parent_of_a_stuck_child(lambda: None)
    result = simulate(stuck_at_shutdown(parent), seed=0, max_steps=5000, delivery=delivery)  # type: ignore[arg-type]
    assert result.status == "completed", result.error
    stopped = [event.path for event in result.events if isinstance(event, Stopped)]
    assert sorted(stopped) == sorted(set(stopped))  # each exactly once
    assert stopped.index("/app/parent/child") < stopped.index("/app/parent")


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_at_shutdown_on_stop_runs_before_the_actor_is_reported_stopped(delivery):
    def on_stop() -> None:
        raise Boom("on_stop ran")  # reported as a Failed event, which places it among events

    parent = parent_of_a_stuck_child(on_stop)
    result = simulate(stuck_at_shutdown(parent), seed=0, max_steps=5000, delivery=delivery)  # type: ignore[arg-type]
    assert result.status == "completed", result.error
    mine = [
        type(event).__name__
        for event in result.events
        if isinstance(event, Failed | Stopped) and event.path == "/app/parent"
    ]
    assert mine == ["Failed", "Stopped"]


class Mourner(Actor):
    """Watches what it is given; "hold" keeps it busy; records every Terminated."""

    def __init__(self) -> None:
        self.buried: list[str] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, Terminated):
            self.buried.append(message.ref.path)
            return None
        if isinstance(message, ActorRef):
            return watch(message)
        if message == "hold":
            return sleep(0.2)
        return list(self.buried)


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_terminated_notices_arrive_in_the_order_the_actors_terminated(delivery):
    @program
    def main() -> Any:
        mourner = yield free_spawn(Mourner, name="mourner")
        mortals = []
        for n in range(3):
            mortal = yield free_spawn(Echo, name=f"mortal{n}")
            yield mourner.free_ask(mortal)
            mortals.append(mortal)
        yield mourner.free_tell("hold")
        yield sleep(0.01)
        for mortal in mortals:
            yield free_stop(mortal)
            yield sleep(0.01)  # each has terminated before the next stops
        yield sleep(0.5)
        return (yield mourner.free_ask("buried"))

    result = simulate(main(), seed=0, max_steps=5000, delivery=delivery)  # type: ignore[arg-type]
    assert result.status == "completed", result.error
    assert result.value == ["/app/mortal0", "/app/mortal1", "/app/mortal2"]


# -- defect 13: ask cycles are deadlocks, found at once ------------------------------------------


class Relay(Actor):
    """Told a peer, remembers it; asked anything else, asks its peer (the default timeout)."""

    def __init__(self) -> None:
        self.peer: ActorRef | None = None

    def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.peer = message
            return None
        assert self.peer is not None
        return self.peer.free_ask(f"{message} on")


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_two_actors_asking_each_other_are_a_deadlock_at_once_naming_the_cycle(delivery):
    @program
    def main() -> Any:
        a = yield free_spawn(Relay, name="a")
        b = yield free_spawn(Relay, name="b")
        yield a.free_tell(b)
        yield b.free_tell(a)
        return (yield a.free_ask("start"))

    result = simulate(main(), seed=0, max_steps=5000, delivery=delivery)  # type: ignore[arg-type]
    assert result.status == "deadlock", (result.status, result.error)
    assert result.clock < 1  # found at once, not after the 30 s ask timeout
    text = str(result.error)
    assert "/app/a" in text
    assert "/app/b" in text
    assert text.index("/app/a") < text.index("/app/b")
    assert "cycle" in text


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_an_actor_asking_itself_is_a_deadlock_at_once_naming_the_actor(delivery):
    class Narcissus(Actor):
        def receive(self, message: Any) -> Any:
            if message == "mirror":
                return "me"
            return self.context.self_ref.free_ask("mirror")

    @program
    def main() -> Any:
        narcissus = yield free_spawn(Narcissus, name="narcissus")
        return (yield narcissus.free_ask("look"))

    result = simulate(main(), seed=0, max_steps=5000, delivery=delivery)  # type: ignore[arg-type]
    assert result.status == "deadlock", (result.status, result.error)
    assert result.clock < 1
    assert "/app/narcissus" in str(result.error)
