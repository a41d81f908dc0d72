"""A LangChain chat model or `Runnable` as a playbill model (``pip install
'playbill[langchain]'``, which brings ``langchain-core``).

`LangChainModel(runnable)` is a model like the test models and the providers: a function of
the request giving a Program of the `Completion`, so every combinator wraps it and a
`ChatAgent` asks it. The runnable is called through the `blocking` effect — under asyncio on
the system's thread pool, never on the event loop; under the stub and the simulator inline.
A stream is read one piece per `blocking` call, so each token is published as it arrives.
What the runnable raises is mapped to the same `ModelError` tree as the providers': an error
with an HTTP ``status_code`` (what the OpenAI and Anthropic SDKs behind ``ChatOpenAI`` and
``ChatAnthropic`` raise) by its status, a timeout and a lost connection by their kind — and the
runnable's own keys (its pydantic ``SecretStr`` fields) are scrubbed from every message.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, Final, final

from playbill.effects import Emit, InvalidArgument, Program, blocking, program
from playbill.models._effects import ModelRequest, StreamComplete
from playbill.models._errors import ApiKey, ModelError
from playbill.models._providers import (
    body_message,
    connection_lost,
    status_error,
    timed_out,
)
from playbill.models._values import (
    AssistantMessage,
    Completion,
    FinishReason,
    Message,
    SystemMessage,
    TokenChunk,
    ToolCall,
    ToolResult,
    Usage,
)

__all__ = ["LangChainModel"]


def _langchain_messages() -> Any:
    try:
        return importlib.import_module("langchain_core.messages")
    except ImportError as error:
        raise ImportError(
            "LangChainModel needs the 'langchain-core' package: pip install 'playbill[langchain]'"
        ) from error


def _messages(messages: Sequence[Message]) -> list[Any]:
    lc = _langchain_messages()
    converted: list[Any] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            converted.append(lc.SystemMessage(content=message.content))
        elif isinstance(message, AssistantMessage):
            calls = [
                {"name": call.name, "args": json.loads(call.arguments), "id": call.id}
                for call in message.tool_calls
            ]
            converted.append(lc.AIMessage(content=message.content, tool_calls=calls))
        elif isinstance(message, ToolResult):
            status = "error" if message.is_error else "success"
            converted.append(
                lc.ToolMessage(content=message.content, tool_call_id=message.call_id, status=status)
            )
        else:
            converted.append(lc.HumanMessage(content=message.content))
    return converted


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep the text ones
        return "".join(
            block if isinstance(block, str) else str(block.get("text", ""))
            for block in content
            if isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text")
        )
    return str(content)


def _completion(output: object, model: str, runnable: object) -> Completion:
    if isinstance(output, str):
        return Completion(output, model=model)
    content = getattr(output, "content", None)
    if content is None:
        raise ModelError(
            f"LangChainModel: the runnable {runnable!r:.80} gave {output!r:.80} "
            f"({type(output).__name__}); it must give a message (a chat model does) or a str "
            "(end a chain with StrOutputParser())"
        )
    calls = tuple(
        ToolCall(call.get("id") or f"call_{index}", call["name"], call.get("args") or {})
        for index, call in enumerate(getattr(output, "tool_calls", None) or ())
    )
    metadata = getattr(output, "usage_metadata", None) or {}
    usage = Usage(metadata.get("input_tokens", 0), metadata.get("output_tokens", 0))
    finish = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
    return Completion(_text(content), calls, usage, finish, model)


@final
class LangChainModel:
    """A LangChain chat model (``BaseChatModel``) or any ``Runnable`` taking a list of
    messages, as a model. The request's messages become LangChain messages; a chat model's
    reply (its text, tool calls and usage metadata) or a chain's str becomes the
    `Completion`. With tools in the request, the runnable's ``bind_tools`` is given their
    schemas. ``temperature`` and ``max_tokens`` are the LangChain model's own settings
    (configure it), not the request's. A streamed request reads ``runnable.stream(...)``
    one piece per `blocking` call and publishes each as a `TokenChunk` as it arrives.
    Errors are mapped as the module's docstring says.

    >>> import pytest; _ = pytest.importorskip("langchain_core")
    >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
    >>> from playbill.interpreters import stub
    >>> from playbill.models import complete, model_handlers
    >>> model = LangChainModel(FakeListChatModel(responses=["Paris."]))
    >>> stub.run(complete(["Capital of France?"], "fake"), model_handlers(model)).text
    'Paris.'
    """

    def __init__(self, runnable: Any) -> None:
        if not (callable(getattr(runnable, "invoke", None))):
            raise InvalidArgument(
                f"LangChainModel takes a LangChain chat model or Runnable (with invoke()), got "
                f"{runnable!r:.80} ({type(runnable).__name__})"
            )
        self.runnable = runnable
        self._secrets = _secrets_of(runnable)

    def __call__(self, request: ModelRequest) -> Program[Completion]:
        messages = _messages(request.messages)
        runnable = self.runnable
        if request.tools:
            bind_tools = getattr(runnable, "bind_tools", None)
            if not callable(bind_tools):
                raise InvalidArgument(
                    f"LangChainModel: the request has tools, but {runnable!r:.80} cannot bind "
                    "them (no bind_tools()); use a chat model that calls tools"
                )
            runnable = bind_tools(
                [
                    {
                        "type": "function",
                        "function": {
                            "name": spec.name,
                            "description": spec.description,
                            "parameters": spec.parameters,
                        },
                    }
                    for spec in request.tools
                ]
            )
        secrets = self._secrets
        if isinstance(request, StreamComplete):
            return _streamed(runnable, messages, request.model, self.runnable, secrets)
        return blocking(_invoke, runnable, messages, secrets).map(
            lambda output: _completion(output, request.model, self.runnable)
        )

    def __repr__(self) -> str:
        return f"LangChainModel({self.runnable!r:.80})"


PROVIDER: Final = "langchain"
_END: Final = object()  # the stream has ended


def _secrets_of(runnable: object, depth: int = 0) -> tuple[ApiKey, ...]:
    """The keys a LangChain model holds (its pydantic ``SecretStr`` fields), also through a
    binding's ``bound`` model, to scrub from error messages."""
    found: list[ApiKey] = []
    for value in getattr(runnable, "__dict__", {}).values():
        reveal = getattr(value, "get_secret_value", None)
        if callable(reveal):
            secret = reveal()
            if isinstance(secret, str) and secret.strip():
                found.append(ApiKey(secret))
        elif depth < 2 and hasattr(value, "invoke") and hasattr(value, "__dict__"):
            found.extend(_secrets_of(value, depth + 1))
    return tuple(found)


def mapped(
    error: BaseException, received: int | None, secrets: tuple[ApiKey, ...]
) -> BaseException:
    """The `ModelError` for what a runnable raised (``received``: how many pieces a stream had
    published, ``None`` when not streaming); anything else (the chain's own bug) as it is."""
    if isinstance(error, ModelError):
        return error
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        response = getattr(error, "response", None)
        return status_error(
            status,
            body_message(getattr(error, "body", None), str(error)),
            getattr(response, "headers", None),
            provider=PROVIDER,
            key=None,
            secrets=secrets,
        )
    name = type(error).__name__
    if isinstance(error, TimeoutError) or "Timeout" in name:
        return timed_out(received, PROVIDER, secrets)
    if isinstance(error, ConnectionError) or "Connection" in name:
        return connection_lost(str(error), received, PROVIDER, secrets)
    return error


def _invoke(runnable: Any, messages: list[Any], secrets: tuple[ApiKey, ...]) -> Any:
    try:
        return runnable.invoke(messages)
    except Exception as error:
        raise mapped(error, None, secrets) from None


def _open(runnable: Any, messages: list[Any], secrets: tuple[ApiKey, ...]) -> Iterator[Any]:
    try:
        return iter(runnable.stream(messages))
    except Exception as error:
        raise mapped(error, None, secrets) from None


def _next(pieces: Iterator[Any], received: int, secrets: tuple[ApiKey, ...]) -> Any:
    try:
        return next(pieces, _END)
    except Exception as error:
        raise mapped(error, received, secrets) from None


def _close(pieces: Iterator[Any]) -> None:
    close = getattr(pieces, "close", None)
    if callable(close):
        # ValueError: still running in its thread, where it ends with that call
        with contextlib.suppress(ValueError):
            close()


@program
def _streamed(
    runnable: Any, messages: list[Any], model: str, original: object, secrets: tuple[ApiKey, ...]
) -> Any:
    pieces = yield blocking(_open, runnable, messages, secrets)
    received: list[Any] = []
    published = 0
    try:
        while (piece := (yield blocking(_next, pieces, len(received), secrets))) is not _END:
            received.append(piece)
            text = _text(getattr(piece, "content", piece))
            if text:
                yield Emit(TokenChunk(text, published, model))
                published += 1
    except BaseException:
        _close(pieces)  # a cancelled or failed read releases the stream
        raise
    whole: Any = "".join(_text(getattr(piece, "content", piece)) for piece in received)
    if received and not isinstance(received[0], str):
        whole = received[0]
        for piece in received[1:]:
            whole = whole + piece  # message chunks add up, tool calls and usage too
    return _completion(whole, model, original)
