"""The values of a model call: checked on construction, compared by value, keys never shown."""

import logging
import pickle

import pytest

from playbill import InvalidArgument, PlaybillError
from playbill.models import (
    ApiKey,
    AssistantMessage,
    AuthenticationFailed,
    BadRequest,
    Complete,
    Completion,
    ConnectionFailed,
    JsonSchema,
    ModelError,
    ModelTimedOut,
    Overloaded,
    RateLimited,
    StreamComplete,
    StreamInterrupted,
    SystemMessage,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    UserMessage,
    complete,
)

KEY = "sk-live-THIS-MUST-NEVER-SHOW-0123456789"


def test_a_request_is_a_value_and_a_str_message_is_a_user_message():
    one = Complete(["hi"], "m", temperature=0)
    two = Complete([UserMessage("hi")], "m", temperature=0.0)
    assert one == two
    assert hash(one) == hash(two)
    assert one != StreamComplete(["hi"], "m", temperature=0)
    assert one.messages == (UserMessage("hi"),)


def test_requests_with_tools_and_schemas_hash_and_compare():
    spec = ToolSpec("add", "adds", {"type": "object", "properties": {"a": {"type": "integer"}}})
    schema = JsonSchema("answer", {"type": "object"})
    request = Complete(["hi"], "m", tools=[spec], response_format=schema)
    assert request == Complete(["hi"], "m", tools=(spec,), response_format=schema)
    assert isinstance(hash(request), int)


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: Complete([], "m"), "messages"),
        (lambda: Complete("hi", "m"), "messages"),
        (lambda: Complete([42], "m"), "messages"),
        (lambda: Complete(["hi"], ""), "model"),
        (lambda: Complete(["hi"], "m", temperature=3), "temperature"),
        (lambda: Complete(["hi"], "m", temperature=True), "temperature"),
        (lambda: Complete(["hi"], "m", max_tokens=0), "max_tokens"),
        (lambda: Complete(["hi"], "m", tools=["add"]), "tools"),
        (lambda: Complete(["hi"], "m", tools=[ToolSpec("a"), ToolSpec("a")]), "tools"),
        (lambda: Complete(["hi"], "m", response_format="json"), "response_format"),
        (lambda: complete(["hi"], "m", max_tokens=-1), "max_tokens"),
        (lambda: ToolCall("", "add"), "ToolCall id"),
        (lambda: ToolCall("c1", "add", 3), "ToolCall arguments"),
        (lambda: ToolCall("c1", "add", {"x": object()}), "ToolCall arguments"),
        (lambda: ToolResult("c1", None), "ToolResult content"),
        (lambda: Usage(-1, 0), "Usage input_tokens"),
        (lambda: Completion(42), "Completion text"),
        (lambda: AssistantMessage("x", tool_calls="add"), "tool_calls"),
        (lambda: ToolSpec("add", parameters=[1]), "ToolSpec parameters"),
    ],
)
def test_bad_input_is_refused_naming_the_option(build, option):
    with pytest.raises(InvalidArgument, match=option):
        build()


def test_tool_call_arguments_keep_the_models_text_and_encode_a_mapping():
    assert ToolCall("c1", "add", {"a": 1}).arguments == '{"a": 1}'
    assert ToolCall("c1", "add", "{not json").arguments == "{not json"


def test_a_completion_continues_the_conversation_as_an_assistant_message():
    calls = (ToolCall("c1", "add", {"a": 1}),)
    reply = Completion("thinking", calls, Usage(3, 4))
    assert reply.message == AssistantMessage("thinking", calls)
    assert reply.usage.total_tokens == 7
    assert SystemMessage("x").role.value == "system"


def test_an_api_key_never_shows_in_reprs_errors_logs_or_pickles(caplog):
    key = ApiKey(KEY)
    errors = [
        ModelError(f"refused {KEY}", provider="openai", secrets=[key]),
        AuthenticationFailed(f"Incorrect API key provided: {KEY}", secrets=[key]),
        RateLimited(f"slow down {KEY}", retry_after=2, secrets=[KEY]),
        BadRequest("bad", provider_message=f"echo {KEY}", secrets=[key]),
        StreamInterrupted(f"dropped {KEY}", chunks_received=3, secrets=[key]),
    ]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("playbill.test").error("key %r %s", key, key)
        for error in errors:
            logging.getLogger("playbill.test").exception("failed", exc_info=error)
    shown = [repr(key), str(key), f"{key!r}", caplog.text]
    for error in errors:
        shown += [str(error), repr(error), repr(error.args), repr(vars(error))]
    shown.append(errors[3].provider_message)
    for text in shown:
        assert KEY not in text
    assert "<redacted>" in str(errors[0])
    assert key.reveal() == KEY
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(key)


def test_an_api_key_comes_from_the_environment_and_a_missing_one_names_the_variable(
    monkeypatch,
):
    monkeypatch.setenv("PLAYBILL_TEST_KEY", KEY)
    assert ApiKey.from_env("PLAYBILL_TEST_KEY") == ApiKey(KEY)
    monkeypatch.delenv("PLAYBILL_TEST_KEY")
    with pytest.raises(AuthenticationFailed, match="PLAYBILL_TEST_KEY is not set"):
        ApiKey.from_env("PLAYBILL_TEST_KEY")
    with pytest.raises(InvalidArgument, match="ApiKey takes the key"):
        ApiKey("  ")


def test_the_error_tree_says_what_to_retry():
    assert all(
        issubclass(kind, ModelError) and issubclass(kind, PlaybillError)
        for kind in (AuthenticationFailed, RateLimited, Overloaded, BadRequest, ModelTimedOut)
    )
    retryable = {RateLimited, Overloaded, ModelTimedOut, ConnectionFailed, StreamInterrupted}
    for kind in (*retryable, AuthenticationFailed, BadRequest):
        assert kind.retryable == (kind in retryable)
    assert issubclass(ModelTimedOut, TimeoutError)
    assert issubclass(ConnectionFailed, ConnectionError)
    assert RateLimited("x", retry_after=1).retry_after == 1.0
    with pytest.raises(InvalidArgument, match="retry_after"):
        RateLimited("x", retry_after=-1)
