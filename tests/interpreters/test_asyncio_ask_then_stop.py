"""Under asyncio, ``ask_agent``'s "spawn, ask once, stop" (`AskThenStop`, the continuation of
its spawn) is performed natively: no expansion is built when the child answers inline. What a
program sees stays that of the expansion, which the simulator still runs: its intercepts see
the spawn, the ask and the stop, each once and in that order; a child that waits, fails or
whose ask an intercept rewrites goes on as the expansion would; no child outlives the call."""

import asyncio
from typing import Any

import pytest

from playbill import ActorSystem, Program, program, simulate, sleep
from playbill.agents import AgentActor, ask_agent, traverse_agents
from playbill.effects import Ask, Intercept, Spawn, Stop
from playbill.effects._ask_once import AskThenStop


class Echo(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        return input


class Sleepy(AgentActor[Any, Any]):
    @program
    def execute(self, input: Any) -> Any:
        yield sleep(0.01)
        return f"slept {input}"


class Boom(Exception):
    pass


class Failing(AgentActor[Any, Any]):
    def execute(self, input: Any) -> Any:
        raise Boom(f"no {input}")


def on_asyncio(body: Program[Any]) -> Any:
    async def main() -> Any:
        async with ActorSystem("app") as system:
            value = await system.run(body)
            await asyncio.sleep(0.05)  # (any stop under way finishes)
            return value, [cell.path for cell in system._live_cells()]

    return asyncio.run(asyncio.wait_for(main(), 20))


def expansions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The messages of the `AskThenStop`s expanded into a program from now on."""
    expanded: list[object] = []
    expand = AskThenStop.__call__

    def counting(self: AskThenStop, child: Any) -> Any:
        expanded.append(self.message)
        return expand(self, child)

    monkeypatch.setattr(AskThenStop, "__call__", counting)
    return expanded


def test_children_that_answer_inline_are_asked_and_stopped_with_no_expansion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expanded = expansions(monkeypatch)
    value, left = on_asyncio(traverse_agents(Echo, range(20)))
    assert value == tuple(range(20))
    assert expanded == []  # performed natively, every one
    assert left == []  # and every child terminated
    assert simulate(traverse_agents(Echo, range(3))).value == (0, 1, 2)
    assert len(expanded) == 3  # the simulator runs the expansion


def seen_by_an_intercept(body: Program[Any], performed: list[str]) -> Program[Any]:
    def note(effect: Any) -> Any:
        if type(effect) in (Spawn, Ask, Stop):
            performed.append(type(effect).__name__)
        return effect

    return Intercept(body, note)


@pytest.mark.parametrize("agent", [Echo, Sleepy, Failing])
def test_an_intercept_sees_the_spawn_the_ask_and_the_stop_once_each_as_under_the_simulator(
    agent: type,
) -> None:
    under_asyncio: list[str] = []
    body = seen_by_an_intercept(ask_agent(agent, 1).recover(repr), under_asyncio)
    value, left = on_asyncio(body)
    simulated: list[str] = []
    result = simulate(seen_by_an_intercept(ask_agent(agent, 1).recover(repr), simulated))
    assert under_asyncio == simulated == ["Spawn", "Ask", "Stop"]
    assert value == result.value
    assert left == []


def test_a_child_that_waits_is_awaited_then_stopped() -> None:
    value, left = on_asyncio(traverse_agents(Sleepy, ["a", "b"]))
    assert value == ("slept a", "slept b")
    assert left == []


def test_a_child_that_fails_raises_into_the_caller_and_is_stopped() -> None:
    @program
    def body() -> Any:
        try:
            yield ask_agent(Failing, "x")
        except Boom as error:
            return str(error)
        return "no failure"

    value, left = on_asyncio(body())
    assert value == "no x"
    assert left == []


def test_an_ask_an_intercept_redirects_is_performed_as_rewritten() -> None:
    class Other(AgentActor[Any, Any]):
        def execute(self, input: Any) -> Any:
            return f"other {input}"

    @program
    def body() -> Any:
        other = yield Spawn(Other, "other")
        target = [other]

        def redirect(effect: Any) -> Any:
            if type(effect) is Ask and effect.ref != target[0]:
                return Ask(target[0], effect.message, effect.timeout)
            return effect

        return (yield Intercept(ask_agent(Echo, "x"), redirect))

    value, _ = on_asyncio(body())
    assert value == "other x"
    assert simulate(body()).value == "other x"


class Chain(AgentActor[int, int]):
    @program
    def execute(self, depth: int) -> Any:
        if depth == 0:
            return 0
        return 1 + (yield ask_agent(Chain, depth - 1))


def test_a_chain_of_children_each_asking_the_next_inline_stays_within_the_stack() -> None:
    # past INLINE_DEPTH children asked inline one inside another, the next gets a task
    value, left = on_asyncio(ask_agent(Chain, 1_200))
    assert value == 1_200
    assert left == []
