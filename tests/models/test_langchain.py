"""LangChainModel: a LangChain chat model or Runnable as a model, through `blocking`."""

import threading

import pytest

from playbill import InvalidArgument, program, simulate
from playbill.agents import ChatAgent, ask_agent
from playbill.effects import Blocking
from playbill.interpreters import run as run_asyncio
from playbill.interpreters import stub
from playbill.models import (
    AssistantMessage,
    Completion,
    FinishReason,
    ModelError,
    SystemMessage,
    ToolCall,
    ToolResult,
    Usage,
    UserMessage,
    complete,
    model_handlers,
    stream_complete,
    with_cache,
    with_retry,
)
from tests.models.support import chunks_of

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda

from playbill.models.langchain import LangChainModel


def test_a_langchain_chat_model_answers_a_request_through_blocking():
    fake = FakeListChatModel(responses=["Paris.", "Rome."])
    handlers = model_handlers(with_cache(LangChainModel(fake)))
    run = stub.execute(complete(["France?"], "fake").then(complete(["France?"], "fake")), handlers)
    assert run.unwrap() == Completion("Paris.", model="fake")
    assert any(isinstance(effect, Blocking) for effect in run.effects)
    assert stub.run(complete(["Italy?"], "fake"), handlers).text == "Rome."  # a cache miss


def test_the_messages_reach_langchain_in_its_own_types():
    seen = []

    def record(messages):
        seen.extend(messages)
        return AIMessage(
            content="ok",
            tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c9"}],
            usage_metadata={"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        )

    conversation = [
        SystemMessage("Be brief."),
        UserMessage("hi"),
        AssistantMessage("", (ToolCall("c1", "search", {"q": "a"}),)),
        ToolResult("c1", "nothing", is_error=True),
    ]
    reply = stub.run(
        complete(conversation, "m"), model_handlers(LangChainModel(RunnableLambda(record)))
    )
    assert [type(message).__name__ for message in seen] == [
        "SystemMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
    ]
    assert seen[2].tool_calls[0]["args"] == {"q": "a"}
    assert (seen[3].tool_call_id, seen[3].status) == ("c1", "error")
    assert reply.tool_calls == (ToolCall("c9", "search", {"q": "x"}),)
    assert (reply.usage, reply.finish_reason) == (Usage(5, 2), FinishReason.TOOL_CALLS)


def test_a_chain_ending_in_a_str_parser_is_a_model_and_a_stream_publishes_its_pieces():
    chain = GenericFakeChatModel(messages=iter([AIMessage(content="hello there friend")]))
    run = stub.execute(stream_complete(["hi"], "m"), model_handlers(LangChainModel(chain)))
    assert run.unwrap().text == "hello there friend"
    assert "".join(chunks_of(run.effects)) == "hello there friend"
    assert len(chunks_of(run.effects)) > 1
    parsed = FakeListChatModel(responses=["plain"]) | StrOutputParser()
    assert stub.run(complete(["hi"], "m"), model_handlers(LangChainModel(parsed))).text == "plain"


def test_a_chat_agent_talks_to_a_langchain_model_under_the_simulator():
    class Assistant(ChatAgent):
        model = with_retry(LangChainModel(FakeListChatModel(responses=["Hello from LangChain"])))
        stream = False

    assert simulate(ask_agent(Assistant, "hi")).value == "Hello from LangChain"


def test_a_langchain_model_runs_off_the_event_loop_under_asyncio():
    threads = []

    def answer(messages):
        threads.append(threading.get_ident())
        return "async ok"

    @program
    def body():
        reply = yield complete(["hi"], "m")
        return reply.text, threading.get_ident()

    handlers = model_handlers(LangChainModel(RunnableLambda(answer)))
    text, loop_thread = run_asyncio(body(), handlers=handlers)
    assert text == "async ok"
    assert threads
    assert loop_thread not in threads


def test_bad_input_is_refused_naming_what_was_given():
    with pytest.raises(InvalidArgument, match="LangChainModel takes a LangChain chat model"):
        LangChainModel("not a runnable")
    with pytest.raises(ModelError, match=r"must give a message .* or a str"):
        stub.run(complete(["hi"], "m"), model_handlers(LangChainModel(RunnableLambda(lambda m: 3))))
