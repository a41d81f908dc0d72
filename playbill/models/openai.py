"""OpenAI-compatible Chat Completions through the official ``openai`` SDK
(``pip install 'playbill[openai]'``): OpenAI itself, and every server that speaks the same API,
chosen by ``base_url`` — Ollama, vLLM, OpenRouter, Mistral, LM Studio.

The SDK's own retries are off (``max_retries=0``): retrying is `with_retry`'s, so it waits on
the interpreter's clock and a test sees every attempt. A stream is read through the SDK's
stream helper, which assembles tool-call deltas; its text pieces are published as
`TokenChunk` events as they arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, final

from playbill.models._effects import ModelRequest
from playbill.models._errors import ApiKey, StreamInterrupted
from playbill.models._providers import (
    SdkProvider,
    SdkStream,
    need_sdk,
)
from playbill.models._values import (
    AssistantMessage,
    Completion,
    FinishReason,
    JsonObject,
    JsonSchema,
    Message,
    SystemMessage,
    ToolCall,
    ToolResult,
    Usage,
)

__all__ = ["OpenAIChat"]

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def _message(message: Message) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, AssistantMessage):
        said: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if message.tool_calls:
            said["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
        return said
    if isinstance(message, ToolResult):
        return {"role": "tool", "tool_call_id": message.call_id, "content": message.content}
    return {"role": "user", "content": message.content}


def request_body(request: ModelRequest) -> dict[str, Any]:
    """The Chat Completions parameters for ``request`` (what the SDK sends as JSON).

    >>> from playbill.models import Complete, JsonObject
    >>> body = request_body(Complete(["hi"], "gpt-4o-mini", response_format=JsonObject()))
    >>> body["messages"], body["response_format"]
    ([{'role': 'user', 'content': 'hi'}], {'type': 'json_object'})
    """
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(message) for message in request.messages],
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": dict(spec.parameters),
                },
            }
            for spec in request.tools
        ]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    form = request.response_format
    if isinstance(form, JsonObject):
        body["response_format"] = {"type": "json_object"}
    elif isinstance(form, JsonSchema):
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": form.name, "schema": dict(form.schema), "strict": form.strict},
        }
    return body


def _completion(response: Any, model: str) -> Completion:
    """A `Completion` from a ``ChatCompletion`` (or the stream helper's snapshot)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise ValueError("the reply holds no choices")
    choice = choices[0]
    message = choice.message
    calls = tuple(
        ToolCall(call.id, call.function.name, call.function.arguments or "{}")
        for call in (message.tool_calls or ())
        if getattr(call, "function", None) is not None
    )
    usage = getattr(response, "usage", None)
    return Completion(
        message.content or "",
        calls,
        Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else Usage(),
        _FINISH.get(choice.finish_reason or "", FinishReason.STOP),
        getattr(response, "model", None) or model,
    )


@final
class OpenAIChat(SdkProvider):
    """A model that asks an OpenAI-compatible Chat Completions API (asyncio only).

    ``base_url`` chooses the server (``None``: OpenAI's); ``api_key`` is an `ApiKey`, or
    ``None`` to read ``api_key_env`` (``OPENAI_API_KEY``) now — a local server that wants
    no key takes any, ``ApiKey("ollama")``. ``timeout`` bounds each call in seconds;
    ``name`` is the provider's name in its errors; ``stream_usage`` asks a stream for its
    usage (``stream_options.include_usage``; turn it off for a server that refuses it). The
    SDK's own retries are off: wrap it in `with_retry`.

    >>> model = OpenAIChat(base_url="http://localhost:11434/v1", api_key=ApiKey("ollama"))
    >>> model
    OpenAIChat(base_url='http://localhost:11434/v1', name='openai')
    """

    _sdk = "openai"
    _reply_name = "Chat Completion"
    _client_class = "AsyncOpenAI"
    _owner = "OpenAI"
    _base_url_example = " (such as 'http://localhost:11434/v1' for Ollama)"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: ApiKey | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        name: str = "openai",
        stream_usage: bool = True,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._check_options(base_url, timeout, name)
        self.stream_usage = bool(stream_usage)
        self._connect(api_key, api_key_env, default_headers)

    async def _complete(self, request: ModelRequest) -> Completion:
        sdk = need_sdk("openai", "openai")
        try:
            response = await self._clients.get().chat.completions.create(**request_body(request))
            return _completion(response, request.model)
        except Exception as error:
            raise self._mapped(sdk, error) from None

    def _stream(self, request: ModelRequest) -> _OpenAIStream:
        return _OpenAIStream(self, request)


class _OpenAIStream(SdkStream):
    provider: OpenAIChat

    async def open(self) -> AsyncIterator[str]:
        body = request_body(self.request)
        if self.provider.stream_usage:
            body["stream_options"] = {"include_usage": True}
        manager = self.provider._clients.get().chat.completions.stream(**body)
        self.stream = await manager.__aenter__()
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[str]:
        async for event in self.stream:
            if event.type == "content.delta" and event.delta:
                yield event.delta

    async def finish(self) -> Completion:
        snapshot = self.stream.current_completion_snapshot
        choices = snapshot.choices or []
        if not choices or choices[0].finish_reason is None:
            raise StreamInterrupted(
                f"the stream ended after {self.received} pieces without a finish reason",
                chunks_received=self.received,
                provider=self.provider.name,
            )
        return _completion(snapshot, self.request.model)
