"""The OpenAI-compatible and Anthropic providers, through their real SDK client code, against
a local server that speaks each wire format (JSON and server-sent events): replies, streams,
tool-call deltas split across chunks, 429 with Retry-After, 500 and 529, a stream dropped
half-way, malformed JSON, a slow first token; and composed with with_retry / with_fallback.
No test touches the internet or needs a key."""

import logging

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")

from playbill import InvalidArgument
from playbill.interpreters import ActorSystem
from playbill.models import (
    ApiKey,
    AssistantMessage,
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    FinishReason,
    JsonSchema,
    ModelError,
    ModelTimedOut,
    Overloaded,
    RateLimited,
    StreamInterrupted,
    SystemMessage,
    TokenChunk,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    complete,
    model_handlers,
    stream_complete,
    with_fallback,
    with_logging,
    with_retry,
)
from playbill.models.anthropic import AnthropicMessages
from playbill.models.openai import OpenAIChat
from tests.models.wire import (
    Reply,
    WireServer,
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    openai_chunk,
    openai_completion,
    openai_error,
    openai_stream,
)

OPENAI_KEY = "sk-test-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"


@pytest.fixture
def wire():
    server = WireServer()
    server.start()
    yield server
    server.stop()
    OPENED.clear()


OPENED = []  # the providers a test made, closed at the end of each run


def openai_model(wire, **options):
    made = OpenAIChat(base_url=f"{wire.url}/v1", api_key=ApiKey(OPENAI_KEY), **options)
    OPENED.append(made)
    return made


def anthropic_model(wire, **options):
    made = AnthropicMessages(base_url=wire.url, api_key=ApiKey(ANTHROPIC_KEY), **options)
    OPENED.append(made)
    return made


def perform(arun, program_, model):
    """Run ``program_`` under asyncio with ``model``: its value (or the error it raised) and
    the text of the token chunks published."""

    async def main():
        async with ActorSystem("wire", handlers=model_handlers(model)) as system:
            events = system.events()
            try:
                value = await system.run(program_)
            except Exception as error:
                value = error
            chunks = [
                event.event.text
                for event in events.drain()
                if isinstance(getattr(event, "event", None), TokenChunk)
            ]
        for provider in OPENED:
            await provider.aclose()
        return value, chunks

    return arun(main())


SEARCH = ToolSpec(
    "search",
    "Search the web.",
    {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)


# -- OpenAI-compatible -------------------------------------------------------------------------


def test_openai_completes_and_sends_the_conversation_in_chat_completions_form(arun, wire):
    wire.script(Reply(body=openai_completion("Paris.")))
    conversation = [SystemMessage("Be brief."), "Capital of France?"]
    reply, _ = perform(arun, complete(conversation, "gpt-test", tools=[SEARCH]), openai_model(wire))
    assert (reply.text, reply.usage, reply.model) == ("Paris.", Usage(7, 3), "gpt-test")
    assert reply.finish_reason is FinishReason.STOP
    [seen] = wire.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert seen.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert seen.body["tools"][0]["function"]["name"] == "search"
    assert "stream" not in seen.body


def test_openai_sends_tool_results_and_reads_tool_calls(arun, wire):
    calls = [
        {
            "id": "c2",
            "type": "function",
            "function": {"name": "search", "arguments": '{"query": "b"}'},
        }
    ]
    wire.script(Reply(body=openai_completion(None, tool_calls=calls, finish="tool_calls")))
    history = [
        "find a",
        AssistantMessage("", (ToolCall("c1", "search", {"query": "a"}),)),
        ToolResult("c1", "nothing"),
    ]
    reply, _ = perform(arun, complete(history, "gpt-test", tools=[SEARCH]), openai_model(wire))
    assert reply.tool_calls == (ToolCall("c2", "search", '{"query": "b"}'),)
    assert reply.finish_reason is FinishReason.TOOL_CALLS
    sent = wire.requests[0].body["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "search", "arguments": '{"query": "a"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": "c1", "content": "nothing"}


def test_openai_sends_a_json_schema_response_format(arun, wire):
    wire.script(Reply(body=openai_completion('{"n": 1}')))
    schema = JsonSchema("count", {"type": "object", "properties": {"n": {"type": "integer"}}})
    perform(
        arun,
        complete(["count"], "gpt-test", response_format=schema, max_tokens=5),
        openai_model(wire),
    )
    body = wire.requests[0].body
    assert body["response_format"]["json_schema"]["name"] == "count"
    assert body["max_tokens"] == 5


def test_openai_streams_each_piece_as_a_token_chunk(arun, wire):
    wire.script(Reply(events=openai_stream("Hel", "lo", " there")))
    reply, chunks = perform(arun, stream_complete(["hi"], "gpt-test"), openai_model(wire))
    assert chunks == ["Hel", "lo", " there"]
    assert (reply.text, reply.usage) == ("Hello there", Usage(7, 3))
    assert wire.requests[0].body["stream"] is True
    assert wire.requests[0].body["stream_options"] == {"include_usage": True}


def test_openai_assembles_a_tool_call_delta_split_across_chunks(arun, wire):
    first = {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_9",
                "type": "function",
                "function": {"name": "search", "arguments": '{"qu'},
            }
        ]
    }
    rest = [
        {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
        for part in ('ery": "ac', 'tors"}')
    ]
    events = [
        (None, openai_chunk({"role": "assistant", "content": None})),
        (None, openai_chunk(first)),
    ]
    events += [(None, openai_chunk(delta)) for delta in rest]
    events += [(None, openai_chunk({}, "tool_calls")), (None, "[DONE]")]
    wire.script(Reply(events=events))
    reply, chunks = perform(
        arun, stream_complete(["find"], "gpt-test", tools=[SEARCH]), openai_model(wire)
    )
    assert chunks == []
    assert reply.tool_calls == (ToolCall("call_9", "search", '{"query": "actors"}'),)
    assert reply.finish_reason is FinishReason.TOOL_CALLS


def test_openai_429_is_rate_limited_with_the_retry_after(arun, wire):
    wire.script(
        Reply(
            429,
            openai_error("Rate limit reached", "rate_limit_exceeded"),
            headers={"retry-after": "20"},
        )
    )
    error, _ = perform(arun, complete(["hi"], "gpt-test"), openai_model(wire))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 20.0
    assert error.retryable
    assert "Rate limit reached" in str(error)
    assert len(wire.requests) == 1  # the SDK's own retries are off


def test_openai_429_then_success_under_with_retry(arun, wire):
    wire.script(
        Reply(429, openai_error("slow down"), headers={"retry-after-ms": "50"}),
        Reply(body=openai_completion("second time")),
    )
    model = with_retry(openai_model(wire), attempts=3, base_delay=0.01, jitter=0)
    reply, _ = perform(arun, complete(["hi"], "gpt-test"), model)
    assert reply.text == "second time"
    assert len(wire.requests) == 2


def test_openai_500_is_overloaded_and_400_a_bad_request_with_the_providers_message(arun, wire):
    wire.script(
        Reply(500, openai_error("The server had an error", "server_error")),
        Reply(400, openai_error("'messages' must contain the word 'json'")),
    )
    model = openai_model(wire)
    overloaded, _ = perform(arun, complete(["hi"], "gpt-test"), model)
    bad, _ = perform(arun, complete(["hi"], "gpt-test"), model)
    assert isinstance(overloaded, Overloaded)
    assert overloaded.retryable
    assert isinstance(bad, BadRequest)
    assert not bad.retryable
    assert bad.provider_message == "'messages' must contain the word 'json'"
    assert str(bad).startswith("openai: HTTP 400")


def test_openai_stream_dropped_half_way_is_stream_interrupted(arun, wire):
    wire.script(Reply(events=openai_stream("one", " two", " three"), drop_after=3))
    error, chunks = perform(arun, stream_complete(["hi"], "gpt-test"), openai_model(wire))
    assert isinstance(error, StreamInterrupted), error
    assert chunks == ["one", " two"]
    assert error.chunks_received == 2
    assert error.retryable


def test_openai_stream_ending_without_a_finish_reason_is_stream_interrupted(arun, wire):
    events = [(None, openai_chunk({"role": "assistant", "content": "half"}))]
    wire.script(Reply(events=events))
    error, chunks = perform(arun, stream_complete(["hi"], "gpt-test"), openai_model(wire))
    assert isinstance(error, StreamInterrupted)
    assert chunks == ["half"]


def test_openai_malformed_json_is_a_model_error_that_is_not_retried(arun, wire):
    wire.script(
        Reply(body='{"id": "chatcmpl-1", "choices": [{'), Reply(events=[(None, '{"choices": [')])
    )
    model = openai_model(wire)
    plain, _ = perform(arun, complete(["hi"], "gpt-test"), model)
    streamed, _ = perform(arun, stream_complete(["hi"], "gpt-test"), model)
    for error in (plain, streamed):
        assert isinstance(error, ModelError), error
        assert not error.retryable
        assert "malformed" in str(error)


def test_openai_slow_first_token_arrives_and_a_too_slow_one_times_out(arun, wire):
    wire.script(
        Reply(events=openai_stream("late", " but fine"), first_delay=0.3),
        Reply(events=openai_stream("too late"), first_delay=1.5),
    )
    reply, chunks = perform(
        arun, stream_complete(["hi"], "gpt-test"), openai_model(wire, timeout=1.0)
    )
    assert (reply.text, chunks) == ("late but fine", ["late", " but fine"])
    error, chunks = perform(
        arun, stream_complete(["hi"], "gpt-test"), openai_model(wire, timeout=0.3)
    )
    assert isinstance(error, ModelTimedOut), error
    assert error.retryable
    assert chunks == []


def test_openai_connection_refused_is_connection_failed(arun, wire):
    url = wire.url
    wire.stop()
    model = OpenAIChat(base_url=f"{url}/v1", api_key=ApiKey(OPENAI_KEY), timeout=2)
    OPENED.append(model)
    error, _ = perform(arun, complete(["hi"], "gpt-test"), model)
    assert isinstance(error, ConnectionFailed)
    assert error.retryable
    wire.start = wire.stop = lambda: None  # already stopped


# -- Anthropic ---------------------------------------------------------------------------------


def test_anthropic_completes_with_the_system_prompt_and_tool_results_in_messages_form(arun, wire):
    wire.script(Reply(body=anthropic_message("Paris.")))
    history = [
        SystemMessage("Be brief."),
        "Capital of France?",
        AssistantMessage("Let me look.", (ToolCall("t1", "search", {"query": "france"}),)),
        ToolResult("t1", "Paris is the capital", is_error=False),
    ]
    reply, _ = perform(
        arun, complete(history, "claude-test", tools=[SEARCH]), anthropic_model(wire)
    )
    assert (reply.text, reply.usage, reply.model) == ("Paris.", Usage(9, 4), "claude-test")
    [seen] = wire.requests
    assert seen.path == "/v1/messages"
    assert any(ANTHROPIC_KEY in value for value in seen.headers.values())  # its auth header
    assert seen.body["system"] == "Be brief."
    assert seen.body["max_tokens"] == 4096
    assert seen.body["tools"][0]["input_schema"]["required"] == ["query"]
    assert [turn["role"] for turn in seen.body["messages"]] == ["user", "assistant", "user"]
    assert seen.body["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "t1",
        "name": "search",
        "input": {"query": "france"},
    }
    assert seen.body["messages"][2]["content"][0]["tool_use_id"] == "t1"


def test_anthropic_reads_tool_use(arun, wire):
    uses = [{"id": "toolu_1", "name": "search", "input": {"query": "actors"}}]
    wire.script(Reply(body=anthropic_message("", tool_uses=uses, stop="tool_use")))
    reply, _ = perform(
        arun, complete(["find"], "claude-test", tools=[SEARCH]), anthropic_model(wire)
    )
    assert reply.tool_calls == (ToolCall("toolu_1", "search", {"query": "actors"}),)
    assert reply.finish_reason is FinishReason.TOOL_CALLS


def test_anthropic_streams_text_and_a_tool_input_split_across_deltas(arun, wire):
    wire.script(
        Reply(
            events=anthropic_stream(
                "Let", " me", " search", tool_json=['{"que', 'ry": "ac', 'tors"}']
            )
        )
    )
    reply, chunks = perform(
        arun, stream_complete(["find"], "claude-test", tools=[SEARCH]), anthropic_model(wire)
    )
    assert chunks == ["Let", " me", " search"]
    assert reply.text == "Let me search"
    assert reply.tool_calls == (ToolCall("toolu_1", "search", {"query": "actors"}),)
    assert reply.usage == Usage(9, 5)
    assert wire.requests[0].body["stream"] is True


def test_anthropic_429_500_and_529(arun, wire):
    wire.script(
        Reply(
            429,
            anthropic_error("Number of requests exceeded", "rate_limit_error"),
            headers={"retry-after": "7"},
        ),
        Reply(500, anthropic_error("Internal server error", "api_error")),
        Reply(529, anthropic_error("Overloaded", "overloaded_error")),
    )
    model = anthropic_model(wire)
    limited, _ = perform(arun, complete(["hi"], "claude-test"), model)
    failed, _ = perform(arun, complete(["hi"], "claude-test"), model)
    overloaded, _ = perform(arun, complete(["hi"], "claude-test"), model)
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 7.0
    assert isinstance(failed, Overloaded)
    assert isinstance(overloaded, Overloaded)
    assert "HTTP 529" in str(overloaded)
    assert len(wire.requests) == 3  # the SDK's own retries are off


def test_anthropic_529_falls_back_to_the_second_provider(arun, wire):
    wire.script(
        Reply(529, anthropic_error("Overloaded", "overloaded_error")),
        Reply(events=openai_stream("from", " openai")),
    )
    model = with_fallback(anthropic_model(wire), openai_model(wire))
    reply, chunks = perform(arun, stream_complete(["hi"], "any-model"), model)
    assert (reply.text, chunks) == ("from openai", ["from", " openai"])
    assert [seen.path for seen in wire.requests] == ["/v1/messages", "/v1/chat/completions"]


def test_anthropic_overloaded_error_event_inside_a_stream(arun, wire):
    events = [
        *anthropic_stream("Hel", "lo")[:4],
        ("error", anthropic_error("Overloaded", "overloaded_error")),
    ]
    wire.script(Reply(events=events))
    error, chunks = perform(arun, stream_complete(["hi"], "claude-test"), anthropic_model(wire))
    assert isinstance(error, Overloaded), error
    assert chunks == ["Hel"]


def test_anthropic_stream_dropped_half_way_is_stream_interrupted_and_retried(arun, wire):
    wire.script(Reply(events=anthropic_stream("one", " two", " three"), drop_after=5))
    error, chunks = perform(arun, stream_complete(["hi"], "claude-test"), anthropic_model(wire))
    assert isinstance(error, StreamInterrupted), error
    assert (error.chunks_received, chunks) == (2, ["one", " two"])
    retried = with_retry(anthropic_model(wire), base_delay=0.01, jitter=0)
    wire.script(
        Reply(events=anthropic_stream("one", " two"), drop_after=4),
        Reply(events=anthropic_stream("whole")),
    )
    reply, chunks = perform(arun, stream_complete(["hi"], "claude-test"), retried)
    assert reply.text == "whole"
    assert chunks == ["one", "whole"]  # a retry publishes the reply again from its start


def test_anthropic_malformed_json_is_a_model_error(arun, wire):
    wire.script(Reply(body="{not json"))
    error, _ = perform(arun, complete(["hi"], "claude-test"), anthropic_model(wire))
    assert isinstance(error, ModelError), error
    assert not error.retryable


# -- keys ----------------------------------------------------------------------------------------


def test_keys_come_from_the_environment_or_an_api_key_and_never_show(
    arun, wire, monkeypatch, caplog
):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(AuthenticationFailed, match="ANTHROPIC_API_KEY"):
        AnthropicMessages()
    with pytest.raises(InvalidArgument, match="ApiKey"):
        OpenAIChat(api_key=OPENAI_KEY)
    model = OpenAIChat(base_url=f"{wire.url}/v1")  # the key from the environment
    OPENED.append(model)
    wire.script(
        Reply(401, openai_error(f"Incorrect API key provided: {OPENAI_KEY}", "invalid_api_key")),
        Reply(401, anthropic_error(f"invalid x-api-key {ANTHROPIC_KEY}", "authentication_error")),
    )
    caplog.set_level(logging.DEBUG)
    logged = with_logging(model, level=logging.INFO)
    error, _ = perform(arun, complete(["hi"], "gpt-test"), logged)
    assert wire.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    other, _ = perform(arun, complete(["hi"], "claude"), anthropic_model(wire))
    assert isinstance(error, AuthenticationFailed)
    assert isinstance(other, AuthenticationFailed)
    for shown in (str(error), repr(error), str(other), repr(other), repr(model), caplog.text):
        assert OPENAI_KEY not in shown
        assert ANTHROPIC_KEY not in shown
    assert "<redacted>" in str(error)
    assert "<redacted>" in str(other)
    assert "gpt-test" in caplog.text  # the call was logged, without the key


# -- a ChatAgent on a provider -------------------------------------------------------------------


def test_a_chat_agent_on_a_provider_streams_its_tokens_as_chunk_events(arun, wire):
    from playbill.agents import AgentSystem, ChatAgent, TaskEventKind

    provider = openai_model(wire)
    wire.script(Reply(events=openai_stream("Actors", " pass", " messages.")))

    class Assistant(ChatAgent):
        model = with_retry(provider)
        model_name = "gpt-test"
        system_prompt = "Be brief."

    async def main():
        async with AgentSystem("chat") as system:
            run = system.run(Assistant, "What are actors?")
            events = [event async for event in run]
        await provider.aclose()
        return events, run.result.output

    events, output = arun(main())
    assert output == "Actors pass messages."
    chunks = [event.data for event in events if event.kind is TaskEventKind.CHUNK]
    assert chunks == ["Actors", " pass", " messages."]
    assert wire.requests[0].body["messages"][0] == {"role": "system", "content": "Be brief."}
