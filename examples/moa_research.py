"""Mixture-of-Agents on scripted models: two layers of model-backed proposers and aggregators,
saved to YAML and drawn, run under asyncio as a live tree of task events, then explored by the
simulator with proposers crashing — the quorum holds and no agent is left behind.

Each proposer asks a `ChatAgent` answering from a `FunctionModel` (deterministic, offline); the
slow one is cancelled as soon as two others made the quorum; the first layer's aggregator
steers the second layer with a directive. With a real provider, give
the agents an `OpenAIChat`/`AnthropicMessages` model instead (docs/llm.md).

    python examples/moa_research.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playbill import explore, program, sleep
from playbill.actors import Spawned, Stopped
from playbill.agents import AgentActor, AgentSystem, ChatAgent, TaskEvent, TaskEventKind
from playbill.flow import Flow, Registry, from_yaml
from playbill.interpreters.simulation import Faults
from playbill.moa import (
    LayerInput,
    LayerOutput,
    Proposals,
    format_proposals,
    moa_layer,
    moa_registry,
    moa_tree,
)
from playbill.models import Completion, FunctionModel, ModelRequest

QUESTION = "Why test actor systems in a simulator?"


def _answer(angle: str) -> Callable[[ModelRequest], Completion]:
    """A model that answers from one angle, following a directive when the prompt has one."""

    def reply(request: ModelRequest) -> Completion:
        prompt = request.messages[-1].content
        brief = "briefly, " if "brief" in prompt else ""
        return Completion(f"{brief}{angle}", model="scripted")

    return reply


def _proposer(name: str, angle: str, delay: float = 0.0) -> type[AgentActor[Any, Any]]:
    class Proposer(AgentActor[LayerInput, str]):
        """Asks its own model (after ``delay`` seconds: a slow one), passing the directive the
        previous layer gave."""

        model = FunctionModel(_answer(angle))

        @program
        def execute(self, given: LayerInput) -> Any:
            if delay:
                yield sleep(delay)
            prompt = f"{given.value} ({given.directive})" if given.directive else str(given.value)
            return (yield ask_chat(type(self).__name__, prompt, self.model))

    Proposer.__name__ = Proposer.__qualname__ = name
    return Proposer


def ask_chat(name: str, prompt: str, model: FunctionModel) -> Any:
    """The proposer's conversation: a `ChatAgent` on the proposer's model, asked once."""
    from playbill.agents import ask_agent

    chat = type(f"{name}Chat", (ChatAgent,), {"model": model, "model_name": "scripted"})
    return ask_agent(chat, prompt)


Races = _proposer("Races", "races hide in interleavings that asyncio's order never takes")
Replay = _proposer("Replay", "a seed or a schedule string replays a failure exactly")
Injector = _proposer("Injector", "crashes and delays are injected, then shrunk", delay=5.0)


class Steer(AgentActor[Proposals, LayerOutput]):
    """The first layer's aggregator: keeps the proposals, asks the next layer to be brief."""

    def execute(self, proposals: Proposals) -> LayerOutput:
        return LayerOutput(" / ".join(proposals.outputs), directive="be brief")


class Synthesis(AgentActor[Proposals, str]):
    """The last aggregator: one answer from what the quorum proposed."""

    def execute(self, proposals: Proposals) -> str:
        return format_proposals(proposals)


def research() -> Flow[str, str]:
    """Two layers: three proposers (any two make the quorum), then two (both needed)."""
    return moa_tree(
        [
            moa_layer([Races, Replay, Injector], Steer, min_success=2, timeout=60),
            moa_layer([Races, Replay], Synthesis, min_success=2, timeout=60),
        ]
    )


def registry() -> Registry:
    names = moa_registry()
    for agent in (Races, Replay, Injector, Steer, Synthesis):
        names.register(agent)
    return names


class Researcher(AgentActor[str, str]):
    """Runs the saved MoA flow on its question: the flow's agents report under its task."""

    flow: Flow[str, str] | None = None

    def execute(self, question: str) -> Any:
        assert self.flow is not None
        return self.flow.to_program(question)


async def watch(flow: Flow[str, str], printer: Callable[[str], None]) -> dict[str, Any]:
    """The flow under asyncio, each task event printed as it arrives, indented by nesting."""
    depths: dict[str, int] = {}
    kinds: dict[str, int] = {}
    runner = type("Researcher", (Researcher,), {"flow": flow})
    async with AgentSystem("app") as system:
        run = system.run(runner, QUESTION, run_id="moa")
        async for event in run:
            kinds[event.kind.value] = kinds.get(event.kind.value, 0) + 1
            depth = depths.setdefault(event.task_id, depths.get(event.parent_task_id or "", -1) + 1)
            if event.kind is not TaskEventKind.CHUNK:
                printer(f"   {'  ' * depth}{_name(event)} {event.kind.value}")
        assert run.result is not None
        answer: str = run.result.output
    return {"answer": answer, "events": kinds}


def _name(event: TaskEvent) -> str:
    return event.agent_path.rsplit("/", 1)[-1]


def quorum_holds(result: Any) -> bool:
    """Every agent spawned has stopped, and the run either answered from a quorum of two
    proposals or failed because a layer could not reach it."""
    spawned = {e.path for e in result.events if type(e) is Spawned}
    stopped = {e.path for e in result.events if type(e) is Stopped}
    if spawned - stopped:
        return False
    if result.status == "completed":
        return str(result.value).count("Proposal ") == 2
    return result.status == "failed"


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    names = registry()
    document = research().to_yaml(names)
    flow = from_yaml(document, names)
    assert flow == research()
    printer(f"saved as {len(document.splitlines())} lines of YAML, loaded back equal; drawn:")
    chart = flow.to_mermaid(names)
    printer(f"   {len(chart.splitlines())} Mermaid lines, {chart.count('actor: ')} agent nodes")
    printer("under asyncio, live:")
    watched = asyncio.run(watch(flow, printer))
    for line in watched["answer"].splitlines():
        printer(f"   > {line}")
    found = explore(
        researcher_program(flow),
        quorum_holds,
        runs=40,
        faults=Faults(crash=0.1),
        progress=False,
    )
    printer(
        f"simulator: {found.runs} schedules with proposers crashing: "
        f"{'the quorum held in every one' if not found.found else 'BROKEN: ' + found.report()}"
    )
    return {"answer": watched["answer"], "events": watched["events"], "held": not found.found}


def researcher_program(flow: Flow[str, str]) -> Any:
    """A program factory for `explore`: the researcher asked the question, afresh per run."""
    from playbill.agents import ask_agent

    runner = type("Researcher", (Researcher,), {"flow": flow})
    return lambda: ask_agent(runner, QUESTION)


if __name__ == "__main__":
    main()
