"""Named actors, get-or-create: free_get_or_spawn / system.get_or_spawn is atomic in one
process — concurrent callers get the same actor, spawned once — under asyncio and the
simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorNotFound,
    ActorSystem,
    InvalidArgument,
    free_get_or_spawn,
    free_spawn,
    free_stop,
    gather,
    program,
    run,
    simulate,
)
from playbill.interpreters.simulation import explore

INTERPRETERS = ["asyncio", "simulation"]


def perform(main: Any, interpreter: str) -> Any:
    if interpreter == "asyncio":
        return run(main)
    result = simulate(main, seed=0)
    assert result.status == "completed", result.format_trace()
    return result.value


def counted(starts: list[str]) -> type[Actor]:
    class Registry(Actor):
        def on_start(self) -> None:
            starts.append(self.context.self_ref.path)

        def receive(self, message: Any) -> Any:
            return self.context.self_ref.uid

    return Registry


class Caller(Actor):
    """Gets (or creates) the registry itself, from its own turn."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def receive(self, path: str) -> Any:
        return free_get_or_spawn(path, self.factory)


def concurrent_callers(starts: list[str]) -> Any:
    registry = counted(starts)

    @program
    def main():
        callers = []
        for index in range(3):
            callers.append((yield free_spawn(lambda: Caller(registry), name=f"caller{index}")))
        refs = yield gather(
            free_get_or_spawn("registry", registry),
            *(caller.free_ask("/app/registry") for caller in callers),
            free_get_or_spawn("/app/registry", registry),
        )
        return len(set(refs)), refs[0].path, (yield refs[-1].free_ask("uid")) == refs[0].uid

    return main()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_concurrent_callers_get_the_same_actor_spawned_once(interpreter):
    starts: list[str] = []
    assert perform(concurrent_callers(starts), interpreter) == (1, "/app/registry", True)
    assert starts == ["/app/registry"]


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_get_or_spawn_spawns_once_under_every_explored_schedule(delivery):
    starts: list[str] = []

    def main() -> Any:
        starts.clear()
        return concurrent_callers(starts)

    def check(result: Any) -> None:
        assert result.value == (1, "/app/registry", True)
        assert starts == ["/app/registry"]

    explore(main, check, runs=30, delivery=delivery).assert_passed()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_actor_spawned_by_name_is_found_and_children_are_made_under_their_parent(interpreter):
    starts: list[str] = []
    registry = counted(starts)

    @program
    def main():
        spawned = yield free_spawn(registry, name="registry")
        found = yield free_get_or_spawn("/app/registry", registry)
        child = yield free_get_or_spawn("registry/shard1", registry)
        again = yield free_get_or_spawn("/app/registry/shard1", registry)
        return spawned == found, child.path, child == again

    assert perform(main(), interpreter) == (True, "/app/registry/shard1", True)
    assert starts == ["/app/registry", "/app/registry/shard1"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_stopping_actor_no_longer_counts_a_new_one_takes_its_path(interpreter):
    starts: list[str] = []
    registry = counted(starts)

    @program
    def main():
        old = yield free_spawn(registry, name="registry")
        yield free_stop(old)
        new = yield free_get_or_spawn("registry", registry)
        answer = yield new.free_ask("uid")
        late = yield old.free_ask("uid").attempt()  # the old incarnation is gone
        return new != old, new.path, answer == new.uid, type(late.failure()).__name__

    assert perform(main(), interpreter) == (True, "/app/registry", True, "ActorStopped")
    assert starts == ["/app/registry", "/app/registry"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_path_with_no_parent_is_refused_with_actor_not_found(interpreter):
    @program
    def main():
        missing = yield free_get_or_spawn("nowhere/child", Actor).attempt()
        return missing.failure()

    error = perform(main(), interpreter)
    assert isinstance(error, ActorNotFound)
    assert "no actor at /app/nowhere to be its parent" in str(error)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: free_get_or_spawn("", Actor), "free_get_or_spawn() path must be"),
        (lambda: free_get_or_spawn("a//b", Actor), "free_get_or_spawn() path must be"),
        (lambda: free_get_or_spawn(3, Actor), "free_get_or_spawn() path must be"),
        (lambda: free_get_or_spawn("cache", 42), "free_get_or_spawn() factory must be"),
    ],
)
def test_bad_arguments_are_refused_naming_the_option(build, says):
    with pytest.raises(InvalidArgument) as raised:
        build()
    assert says in str(raised.value)


def test_the_direct_twin_on_the_system_is_atomic_too():
    starts: list[str] = []
    registry = counted(starts)

    async def go() -> Any:
        async with ActorSystem("app") as system:
            refs = {system.get_or_spawn("registry", registry) for _ in range(5)}
            with pytest.raises(InvalidArgument, match="get_or_spawn path must"):
                system.get_or_spawn("/app", registry)
            return len(refs), await next(iter(refs)).ask("uid") > 0

    assert asyncio.run(go()) == (1, True)
    assert starts == ["/app/registry"]
