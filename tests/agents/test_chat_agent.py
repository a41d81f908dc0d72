"""ChatAgent: a conversation with its own model, tools, memory and system prompt, streaming
the reply's tokens as the agent's chunk events — under the simulator and asyncio."""

import pytest

from playbill import InvalidArgument, free_spawn, program
from playbill.agents import AgentSystem, ChatAgent, Task, TaskEventKind, ask_agent, task_events
from playbill.interpreters import explore, simulate
from playbill.models import (
    AssistantMessage,
    Overloaded,
    ScriptedModel,
    SystemMessage,
    ToolCall,
    ToolResult,
    UserMessage,
    with_retry,
)

pytest.importorskip("pydantic")  # tools take their schema from pydantic


def search(query: str) -> str:
    "Search the notes."
    return f"notes about {query}"


def chunks_of(events):
    return [event.data for event in task_events(events) if event.kind is TaskEventKind.CHUNK]


def researcher(replies, **settings):
    """A ChatAgent class answering from a fresh script per actor."""

    class Researcher(ChatAgent):
        model_name = "small"
        system_prompt = "You research."
        tools = (search,)
        memory_size = settings.get("memory_size", 50)

        def make_model(self):
            self.script = ScriptedModel(replies)
            return with_retry(self.script, base_delay=1, jitter=0)

    return Researcher


@program
def two_turns(agent):
    ref = yield free_spawn(agent, name="chat")
    first = yield ref.free_ask(Task("What are actors?"))
    second = yield ref.free_ask(Task("And effects?"))
    return first.output, second.output


def test_a_chat_agent_calls_tools_remembers_turns_and_streams_chunks_under_the_simulator():
    agent = researcher(
        [
            ToolCall("c1", "search", {"query": "actors"}),
            "Actors pass messages.",
            "Effects are values.",
        ]
    )
    result = simulate(two_turns(agent))
    assert result.value == ("Actors pass messages.", "Effects are values.")
    assert chunks_of(result.events) == [
        "Actors",
        " pass",
        " messages.",
        "Effects",
        " are",
        " values.",
    ]


def test_the_second_turn_sends_the_system_prompt_and_the_remembered_first_turn():
    seen = {}

    class Recording(researcher([ToolCall("c1", "search", {"query": "actors"}), "one", "two"])):
        def make_model(self):
            model = super().make_model()
            seen["script"] = self.script
            return model

    simulate(two_turns(Recording))
    last = seen["script"].requests[-1]
    assert last.tools[0].name == "search"
    assert last.messages == (
        SystemMessage("You research."),
        UserMessage("What are actors?"),
        AssistantMessage("", (ToolCall("c1", "search", {"query": "actors"}),)),
        ToolResult("c1", "notes about actors"),
        AssistantMessage("one"),
        UserMessage("And effects?"),
    )


def test_memory_size_bounds_what_the_next_turn_sends():
    seen = {}

    class Forgetful(researcher(["one", "two"], memory_size=1)):
        def make_model(self):
            model = super().make_model()
            seen["script"] = self.script
            return model

    simulate(two_turns(Forgetful))
    assert seen["script"].requests[-1].messages == (
        SystemMessage("You research."),
        AssistantMessage("one"),
        UserMessage("And effects?"),
    )


def test_a_flaky_model_under_retry_is_explored_across_schedules():
    agent = researcher([Overloaded("busy"), ToolCall("c1", "search", {"query": "x"}), "done"])
    explore(
        lambda: ask_agent(agent, "go"),
        lambda run: run.value == "done" and run.clock == 1.0,
        runs=30,
    ).assert_passed()


def test_a_chat_agent_without_a_model_or_with_bad_input_is_refused():
    with pytest.raises(InvalidArgument, match="model"):
        ChatAgent()
    agent = researcher(["x"])
    with pytest.raises(InvalidArgument, match="as a str"):
        simulate(ask_agent(agent, 42)).unwrap()


def test_a_chat_agent_streams_chunks_as_run_events_under_asyncio(arun):
    agent = researcher([ToolCall("c1", "search", {"query": "actors"}), "Actors pass messages."])

    async def main():
        async with AgentSystem("chat") as system:
            run = system.run(agent, "What are actors?")
            events = [event async for event in run]
            return events, run.result.output

    events, output = arun(main())
    assert output == "Actors pass messages."
    assert [event.data for event in events if event.kind is TaskEventKind.CHUNK] == [
        "Actors",
        " pass",
        " messages.",
    ]
