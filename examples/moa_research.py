"""Mixture-of-Agents on scripted models: two layers of model-backed proposers and aggregators,
saved to YAML and drawn, run under asyncio as a live tree of task events, then explored by the
simulator with proposers crashing — the quorum holds and no agent is left behind.

Each proposer asks a `ChatAgent` answering from a `FunctionModel` (deterministic, offline); the
slow one is cancelled as soon as two others made the quorum; the first layer's aggregator
steers the second layer with a directive.

The same YAML runs on a real provider when its key is set: the registry it is loaded with
binds the proposers' names to agents on the configured model (`configured_model`):

    python examples/moa_research.py                                   # scripted, offline
    OPENAI_API_KEY=... python examples/moa_research.py                # OpenAI (needs .[openai])
    OPENAI_API_KEY=ollama OPENAI_BASE_URL=http://localhost:11434/v1 \
        PLAYBILL_MODEL=llama3.2 python examples/moa_research.py       # any compatible server
    ANTHROPIC_API_KEY=... python examples/moa_research.py             # Anthropic (.[anthropic])
"""

from __future__ import annotations

import asyncio
import os
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
from playbill.models import Completion, FunctionModel, Model, ModelRequest

QUESTION = "Why test actor systems in a simulator?"


def _answer(angle: str) -> Callable[[ModelRequest], Completion]:
    """A model that answers from one angle, following a directive when the prompt has one."""

    def reply(request: ModelRequest) -> Completion:
        prompt = request.messages[-1].content
        brief = "briefly, " if "brief" in prompt else ""
        return Completion(f"{brief}{angle}", model="scripted")

    return reply


def scripted(angle: str) -> tuple[Model, str]:
    """A scripted model answering from ``angle`` (deterministic, offline), and its name."""
    return FunctionModel(_answer(angle)), "scripted"


def configured_model(angle: str) -> tuple[Model, str]:
    """The model the environment configures, and the name to ask it for: OpenAI (or any
    OpenAI-compatible server at ``OPENAI_BASE_URL``) when ``OPENAI_API_KEY`` is set, Anthropic
    when ``ANTHROPIC_API_KEY`` is, else `scripted`. ``PLAYBILL_MODEL`` names the model."""
    chosen = os.environ.get("PLAYBILL_MODEL")
    if os.environ.get("OPENAI_API_KEY"):
        from playbill.models.openai import OpenAIChat

        return OpenAIChat(base_url=os.environ.get("OPENAI_BASE_URL")), chosen or "gpt-4o-mini"
    if os.environ.get("ANTHROPIC_API_KEY"):
        from playbill.models.anthropic import AnthropicMessages

        model = AnthropicMessages(base_url=os.environ.get("ANTHROPIC_BASE_URL"))
        return model, chosen or "claude-3-5-haiku-latest"
    return scripted(angle)


def _proposer(
    name: str, angle: str, model_for: Callable[[str], tuple[Model, str]], delay: float = 0.0
) -> type[AgentActor[Any, Any]]:
    model, model_name = model_for(angle)
    chat = type(f"{name}Chat", (ChatAgent,), {"model": model, "model_name": model_name})

    class Proposer(AgentActor[LayerInput, str]):
        """Asks its own model (after ``delay`` seconds: a slow one), passing the directive the
        previous layer gave."""

        @program
        def execute(self, given: LayerInput) -> Any:
            from playbill.agents import ask_agent

            if delay:
                yield sleep(delay)
            prompt = f"{given.value} ({given.directive})" if given.directive else str(given.value)
            return (yield ask_agent(chat, prompt))

    Proposer.__name__ = Proposer.__qualname__ = name
    return Proposer


ANGLES = {
    "Races": "races hide in interleavings that asyncio's order never takes",
    "Replay": "a seed or a schedule string replays a failure exactly",
    "Injector": "crashes and delays are injected, then shrunk",
}


def proposers(
    model_for: Callable[[str], tuple[Model, str]] = scripted,
) -> tuple[type[AgentActor[Any, Any]], ...]:
    """The three proposers, each asking a model ``model_for`` gives for its angle (the
    Injector slow: it waits 5 seconds first)."""
    return (
        _proposer("Races", ANGLES["Races"], model_for),
        _proposer("Replay", ANGLES["Replay"], model_for),
        _proposer("Injector", ANGLES["Injector"], model_for, delay=5.0),
    )


Races, Replay, Injector = proposers()


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


def registry(model_for: Callable[[str], tuple[Model, str]] | None = None) -> Registry:
    """The names the saved YAML refers to; ``model_for`` (None: the scripted proposers above)
    binds the proposers' names to agents on other models — a real provider's, say."""
    names = moa_registry()
    chosen = (Races, Replay, Injector) if model_for is None else proposers(model_for)
    for agent in (*chosen, Steer, Synthesis):
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


def main(
    printer: Callable[[str], None] = print,
    model_for: Callable[[str], tuple[Model, str]] = configured_model,
) -> dict[str, Any]:
    names = registry()
    document = research().to_yaml(names)
    assert from_yaml(document, names) == research()
    printer(f"saved as {len(document.splitlines())} lines of YAML, loaded back equal; drawn:")
    # the same YAML, its proposers' names bound to the model the environment configures
    bound = names if model_for is scripted else registry(model_for)
    flow = from_yaml(document, bound)
    printer(f"   its proposers ask the model {model_for(ANGLES['Races'])[1]!r}")
    chart = flow.to_mermaid(bound)
    printer(f"   {len(chart.splitlines())} Mermaid lines, {chart.count('actor: ')} agent nodes")
    printer("under asyncio, live:")
    watched = asyncio.run(watch(flow, printer))
    for line in watched["answer"].splitlines():
        printer(f"   > {line}")
    found = explore(  # on the scripted models: offline, and the same on every replay
        researcher_program(research()),
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
