"""A research agent: a ChatAgent with tools (a search, a page reader, and a notebook actor it
writes to) that answers a question, streaming its reply token by token.

Offline (the default, and always in the tests) it talks with a ScriptedModel, so the run is
deterministic; the same conversation is then explored under the simulator with a flaky
model behind with_retry. With OPENAI_API_KEY or ANTHROPIC_API_KEY set it asks the real
provider instead (RESEARCH_MODEL names the model).

    python examples/research_agent.py
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from playbill import Actor, explore, free_spawn, program
from playbill.agents import AgentSystem, ChatAgent, TaskEventKind, ask_agent
from playbill.models import (
    Model,
    Overloaded,
    ScriptedModel,
    ToolCall,
    ToolError,
    with_retry,
)

QUESTION = "Who proposed the actor model, and what does an actor do?"

PAGES = {
    "Actor model": (
        "The actor model was proposed by Carl Hewitt, Peter Bishop and Richard Steiger in "
        "1973. An actor receives messages; in answer it can send messages, create actors, "
        "and decide how to handle the next message."
    ),
    "Erlang": "Erlang runs millions of lightweight processes that share nothing.",
}


def search(query: str) -> list[str]:
    "Search the encyclopedia; gives the titles of the matching pages."
    words = query.lower().split()
    return [title for title, text in PAGES.items() if any(w in text.lower() for w in words)]


def read_page(title: str) -> str:
    "Read an encyclopedia page by its title."
    if title not in PAGES:
        raise ToolError(f"no page titled {title!r}; search first")
    return PAGES[title]


class Notebook(Actor):
    """Keeps the notes the researcher takes (the tool below asks it)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def receive(self, note: str) -> int:
        self.notes.append(note)
        return len(self.notes)


@program
def take_note(note: str) -> Any:
    "Write a note in the notebook; gives how many notes it holds."
    notebook = yield free_spawn(Notebook, name="notebook")  # a tool may be a Program
    return (yield notebook.free_ask(note))


ANSWER = (
    "Carl Hewitt proposed the actor model in 1973, with Peter Bishop and Richard Steiger. "
    "An actor receives messages and, in answer, sends messages, creates actors and decides "
    "how to handle the next message."
)


def scripted(flaky: bool = False) -> ScriptedModel:
    """The conversation a model would have: search, read, note, answer."""
    replies: list[Any] = [
        ToolCall("c1", "search", {"query": "actor model"}),
        ToolCall("c2", "read_page", {"title": "Actor model"}),
        ToolCall("c3", "take_note", {"note": "Hewitt, Bishop, Steiger, 1973"}),
        ANSWER,
    ]
    if flaky:
        replies.insert(1, Overloaded("the model is busy"))
    return ScriptedModel(replies)


def real_provider() -> tuple[Model, str] | None:
    """A provider when a key is in the environment (never in the tests)."""
    if os.environ.get("OPENAI_API_KEY"):
        from playbill.models.openai import OpenAIChat

        return OpenAIChat(), os.environ.get("RESEARCH_MODEL", "gpt-4o-mini")
    if os.environ.get("ANTHROPIC_API_KEY"):
        from playbill.models.anthropic import AnthropicMessages

        return AnthropicMessages(), os.environ.get("RESEARCH_MODEL", "claude-haiku-4-5")
    return None


def researcher(model: Callable[[], Model], model_name: str = "scripted") -> type[ChatAgent]:
    class Researcher(ChatAgent):
        system_prompt = (
            "You are a careful researcher. Search, read the pages you need, note the key "
            "facts with take_note, then answer in two sentences."
        )
        tools = (search, read_page, take_note)

        def make_model(self) -> Model:
            return with_retry(model(), base_delay=1.0)

    Researcher.model_name = model_name
    return Researcher


async def converse(agent: type[ChatAgent], printer: Callable[[str], None]) -> dict[str, Any]:
    async with AgentSystem("research") as system:
        run = system.run(agent, QUESTION)
        pieces: list[str] = []
        async for event in run:
            if event.kind is TaskEventKind.CHUNK:
                pieces.append(event.data)
        answer = run.result.output
    printer("   " + "".join(pieces))
    return {"answer": answer, "chunks": len(pieces)}


def main(printer: Callable[[str], None] = print, offline: bool | None = None) -> dict[str, Any]:
    provider = None if offline else real_provider()
    printer(f"Q: {QUESTION}")
    if provider is not None:
        model, name = provider
        printer(f"A ({name}, streamed):")
        return asyncio.run(converse(researcher(lambda: model, name), printer))

    printer("A (a ScriptedModel, streamed under asyncio):")
    summary = asyncio.run(converse(researcher(scripted), printer))

    def holds(result: Any) -> bool:
        # one retry after the overload: 1 s of backoff, less up to half of it as jitter
        return bool(result.value == ANSWER and 0.5 <= result.clock <= 1.0)

    found = explore(
        lambda: ask_agent(researcher(lambda: scripted(flaky=True)), QUESTION),
        check=holds,
        runs=50,
    )
    printer(
        f"   simulator: {found.runs} schedules with an overloaded model behind with_retry: "
        + ("the answer held in every one" if not found.found else "FAILED")
    )
    return {**summary, "explored": found.runs, "failed": bool(found.found)}


if __name__ == "__main__":
    main()
