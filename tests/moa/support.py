"""Agents for the MoA and team tests, and a runner under asyncio and the simulator (both
delivery modes) that says what a flow produced and which actors it left behind."""

from __future__ import annotations

import asyncio
from typing import Any

from playbill import Program, program, simulate, sleep
from playbill.actors import Spawned, Stopped
from playbill.agents import AgentActor, task_events
from playbill.moa import LayerInput, LayerOutput, Proposals
from tests.agents.support import INTERPRETERS as INTERPRETERS  # the tests import it here
from tests.agents.support import Outcome, perform_asyncio

SLOW = 60.0  # a straggler: never waited for when the tests pass


def orphans(events: tuple[object, ...]) -> tuple[str, ...]:
    """The actors a simulation spawned and never stopped."""
    alive: dict[str, bool] = {}
    for event in events:
        if type(event) is Spawned:
            alive[event.path] = True
        elif type(event) is Stopped:
            alive[event.path] = False
    return tuple(path for path, living in alive.items() if living)


def perform(program_: Program[Any], interpreter: str, **options: Any) -> Outcome:
    if interpreter == "asyncio":
        return asyncio.run(asyncio.wait_for(perform_asyncio(program_), 20))
    result = simulate(program_, delivery=interpreter, seed=options.pop("seed", 7), **options)
    assert result.status in ("completed", "failed"), result
    return Outcome(
        result.value,
        result.error,
        task_events(result.events),
        orphans(result.events),
        result.clock,
    )


def proposer(name: str, delay: float, *, fails: bool = False) -> type[AgentActor[Any, Any]]:
    """An agent class answering ``name:value`` (and the directive it saw) after ``delay``."""

    class Proposer(AgentActor[LayerInput, str]):
        @program
        def execute(self, given: LayerInput[Any]) -> Any:
            yield sleep(delay)
            if fails:
                raise ValueError(f"{name} is down")
            seen = "" if given.directive is None else f"[{given.directive}]"
            return f"{name}:{given.value}{seen}"

    Proposer.__name__ = Proposer.__qualname__ = name
    return Proposer


Fast = proposer("Fast", 0.01)
Steady = proposer("Steady", 0.02)
Late = proposer("Late", 0.03)
Straggler = proposer("Straggler", SLOW)
Broken = proposer("Broken", 0.005, fails=True)
AlsoBroken = proposer("AlsoBroken", 0.006, fails=True)


class Joiner(AgentActor[Proposals, str]):
    """Joins the proposals, counting the failures."""

    def execute(self, proposals: Proposals[Any]) -> str:
        assert isinstance(proposals, Proposals)
        return " | ".join(proposals.outputs) + f" ({len(proposals.failures)} failed)"


class Directing(AgentActor[Proposals, LayerOutput]):
    """Joins the proposals and tells the next layer to be brief."""

    def execute(self, proposals: Proposals[Any]) -> LayerOutput[str]:
        return LayerOutput(" | ".join(proposals.outputs), directive="brief")


class SlowAggregator(AgentActor[Proposals, str]):
    @program
    def execute(self, proposals: Proposals[Any]) -> Any:
        yield sleep(SLOW)
        return "too late"


class Upper(AgentActor[str, str]):
    @program
    def execute(self, text: str) -> Any:
        yield sleep(0.01)
        return text.upper()


class Exclaim(AgentActor[str, str]):
    def execute(self, text: str) -> str:
        return text + "!"


class Supervisor(AgentActor[Any, Any]):
    """Splits a sentence between two workers, then joins their answers."""

    def execute(self, turn: Any) -> Any:
        from playbill.moa import Delegate, Final

        if turn.results is None:
            first, _, rest = turn.task.partition(" ")
            return Delegate((first, rest))
        return Final(" ".join(turn.results))


class Stubborn(AgentActor[Any, int]):
    """Answers one more than the highest answer it saw."""

    def execute(self, turn: Any) -> int:
        return max(turn.answers, default=0) + 1


class Judge(AgentActor[Any, Any]):
    def execute(self, held: Any) -> Any:
        return (held.answers, held.agreed)


class Writer(AgentActor[Any, str]):
    def execute(self, attempt: Any) -> str:
        return f"{attempt.task} v{attempt.round}" + (
            f" +{attempt.feedback}" if attempt.feedback else ""
        )


class Critic(AgentActor[Any, Any]):
    def execute(self, draft: Any) -> Any:
        from playbill.moa import Evaluation

        return Evaluation(draft.round >= 2, "examples")


def short_or_long(text: str) -> str:
    return "short" if len(text) < 5 else "long"
