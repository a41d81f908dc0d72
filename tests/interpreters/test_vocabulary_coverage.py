"""Every interpreter performs the whole built-in effect vocabulary (the stub: all but the
actor effects, which need actors). A new effect added to playbill.effects without a performer
in each interpreter fails here, naming it."""

import playbill.effects as effects
from playbill.effects import Ask, Effect, GetOrSpawn, LiveActors, SelfRef, Spawn, Stop, Tell, Watch
from playbill.interpreters import stub
from playbill.interpreters._asyncio._run import VOCABULARY as ASYNCIO
from playbill.interpreters.simulation._world import VOCABULARY as SIMULATION

ACTOR_EFFECTS = {Spawn, GetOrSpawn, Tell, Ask, Stop, SelfRef, Watch, LiveActors}


def built_in_effects() -> set[type]:
    return {
        value
        for value in vars(effects).values()
        if isinstance(value, type) and issubclass(value, Effect) and value is not Effect
    }


def names(kinds: set[type] | frozenset[type]) -> list[str]:
    return sorted(kind.__name__ for kind in kinds)


def test_the_vocabulary_is_what_the_design_lists() -> None:
    assert names(built_in_effects()) == sorted(
        [
            "Ask", "Await", "AwaitPromise", "Blocking", "CancelFiber", "CompletePromise", "Emit",
            "EmitStamped", "FailPromise", "Fork", "Join", "NewPromise",
            "GetOrSpawn", "LiveActors",
            "MaybeFault", "Now", "Parallel", "Race", "Random", "SelfRef", "Settle", "Sleep",
            "Spawn", "Stop", "Tell", "Timeout", "Watch",
        ]
    )  # fmt: skip


def test_asyncio_performs_every_built_in_effect() -> None:
    assert names(built_in_effects() - ASYNCIO) == []
    assert names(ASYNCIO - built_in_effects()) == []


def test_the_simulator_performs_every_built_in_effect() -> None:
    assert names(built_in_effects() - SIMULATION) == []
    assert names(SIMULATION - built_in_effects()) == []


def test_the_stub_performs_every_built_in_effect_but_the_actor_effects() -> None:
    assert names(built_in_effects() - ACTOR_EFFECTS - stub.VOCABULARY) == []
    assert names(stub.VOCABULARY & ACTOR_EFFECTS) == []
