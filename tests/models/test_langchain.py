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


class Gated:
    """A runnable whose stream gives its second piece only once the first was seen."""

    def __init__(self) -> None:
        self.first_seen = threading.Event()
        self.closed = False

    def invoke(self, messages):
        return "first second"

    def stream(self, messages):
        try:
            yield "first "
            assert self.first_seen.wait(10), "the first piece was not published live"
            yield "second"
        finally:
            self.closed = True


def test_a_stream_publishes_each_piece_as_it_arrives_under_asyncio():
    import asyncio

    from playbill.agents import AgentSystem, StreamEvent, StreamResult, TaskEventKind

    gated = Gated()

    class Assistant(ChatAgent):
        model = LangChainModel(gated)

    async def main():
        chunks, results = [], []
        async with AgentSystem("live") as system:
            async for item in system.ask_stream(Assistant, "hi"):
                if isinstance(item, StreamEvent) and item.event.kind is TaskEventKind.CHUNK:
                    chunks.append(item.event.data)
                    gated.first_seen.set()  # the stream waits for this
                elif isinstance(item, StreamResult):
                    results.append(item.result)
        return chunks, results

    chunks, results = asyncio.run(main())
    assert chunks == ["first ", "second"]
    assert results[0].output == "first second"
    assert gated.closed


class Raising:
    """A runnable raising ``error`` (after ``pieces`` pieces of its stream)."""

    def __init__(self, error: BaseException, pieces: int = 0, key: str | None = None) -> None:
        self.error = error
        self.pieces = pieces
        if key is not None:
            from pydantic import SecretStr

            self.api_key = SecretStr(key)

    def invoke(self, messages):
        raise self.error

    def stream(self, messages):
        for index in range(self.pieces):
            yield f"piece{index} "
        raise self.error


class StatusError(Exception):
    """What an httpx-based SDK raises: a status code, the response (its headers), a body."""

    def __init__(self, status: int, body: object, headers: dict[str, str]) -> None:
        super().__init__(f"Error code: {status}")
        self.status_code = status
        self.body = body
        self.response = type("Response", (), {"headers": headers})()


def failure_of(runnable, request) -> BaseException:
    run = stub.execute(request, model_handlers(LangChainModel(runnable)))
    return run.outcome.failure()


def test_errors_map_to_the_model_error_tree():
    from playbill.models import (
        AuthenticationFailed,
        BadRequest,
        ConnectionFailed,
        ModelTimedOut,
        Overloaded,
        RateLimited,
        StreamInterrupted,
    )

    limited = failure_of(
        Raising(StatusError(429, {"error": {"message": "slow down"}}, {"retry-after": "2"})),
        complete(["hi"], "m"),
    )
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 2.0
    assert "slow down" in str(limited)
    assert isinstance(
        failure_of(Raising(StatusError(529, None, {})), complete(["hi"], "m")), Overloaded
    )
    assert isinstance(
        failure_of(Raising(StatusError(401, None, {})), complete(["hi"], "m")), AuthenticationFailed
    )
    bad = failure_of(
        Raising(StatusError(400, {"message": "no such model"}, {})), complete(["hi"], "m")
    )
    assert isinstance(bad, BadRequest)
    assert "no such model" in str(bad)
    assert isinstance(
        failure_of(Raising(TimeoutError("slow")), complete(["hi"], "m")), ModelTimedOut
    )
    assert isinstance(
        failure_of(Raising(ConnectionError("refused")), complete(["hi"], "m")), ConnectionFailed
    )
    dropped = failure_of(Raising(ConnectionError("reset"), pieces=2), stream_complete(["hi"], "m"))
    assert isinstance(dropped, StreamInterrupted)
    assert dropped.chunks_received == 2
    own_bug = failure_of(Raising(ValueError("the chain's own bug")), complete(["hi"], "m"))
    assert type(own_bug) is ValueError  # not a model error: left as it is


def test_the_sdk_errors_behind_chat_models_map_too_and_keys_never_show():
    openai = pytest.importorskip("openai")
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(429, headers={"retry-after": "3"}, request=request)
    sdk_error = openai.RateLimitError(
        "Rate limit for key sk-live-secret", response=response, body=None
    )
    error = failure_of(Raising(sdk_error, key="sk-live-secret"), complete(["hi"], "m"))
    from playbill.models import RateLimited

    assert isinstance(error, RateLimited)
    assert error.retry_after == 3.0
    assert "sk-live-secret" not in str(error)
    assert "<redacted>" in str(error)
