"""Anthropic Messages through the official ``anthropic`` SDK
(``pip install 'playbill[anthropic]'``).

The SDK's own retries are off (``max_retries=0``): retrying is `with_retry`'s. A stream is
read through the SDK's message stream helper, which assembles the tool-use input from its
JSON deltas; its text pieces are published as `TokenChunk` events as they arrive. An
``overloaded_error`` (HTTP 529, or an error event inside a stream) is `Overloaded`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, final

from playbill.effects._checks import check_count
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
    SystemMessage,
    ToolCall,
    ToolResult,
    Usage,
)

__all__ = ["AnthropicMessages"]

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
}


def _input(arguments: str) -> Any:
    try:
        decoded = json.loads(arguments)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def request_body(request: ModelRequest, default_max_tokens: int = 4096) -> dict[str, Any]:
    """The Messages parameters for ``request``: system messages joined into ``system``, tool
    results sent back as ``tool_result`` blocks of a user turn, consecutive turns of one role
    merged, and a response format asked for in the system prompt (Messages has no
    ``response_format``).

    >>> from playbill.models import Complete, SystemMessage
    >>> body = request_body(Complete([SystemMessage("Be brief."), "hi"], "claude-x"), 100)
    >>> body["system"], body["max_tokens"], body["messages"]
    ('Be brief.', 100, [{'role': 'user', 'content': [{'type': 'text', 'text': 'hi'}]}])
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []

    def say(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for message in request.messages:
        if isinstance(message, SystemMessage):
            system.append(message.content)
        elif isinstance(message, AssistantMessage):
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            blocks.extend(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": _input(call.arguments),
                }
                for call in message.tool_calls
            )
            say("assistant", blocks or [{"type": "text", "text": ""}])
        elif isinstance(message, ToolResult):
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.call_id,
                "content": message.content,
            }
            if message.is_error:
                result["is_error"] = True
            say("user", [result])
        else:
            say("user", [{"type": "text", "text": message.content}])
    form = request.response_format
    if isinstance(form, JsonObject):
        system.append("Reply with one JSON object and nothing else.")
    elif isinstance(form, JsonSchema):
        system.append(
            "Reply with one JSON value and nothing else, matching this JSON schema "
            f"({form.name}): {json.dumps(dict(form.schema))}"
        )
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or default_max_tokens,
        "messages": turns,
    }
    if system:
        body["system"] = "\n\n".join(system)
    if request.tools:
        body["tools"] = [
            {
                "name": spec.name,
                "description": spec.description,
                "input_schema": dict(spec.parameters),
            }
            for spec in request.tools
        ]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def _completion(message: Any, model: str) -> Completion:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content or ():
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.id, block.name, json.dumps(block.input or {})))
    usage = getattr(message, "usage", None)
    return Completion(
        "".join(texts),
        tuple(calls),
        Usage(usage.input_tokens or 0, usage.output_tokens or 0) if usage else Usage(),
        _FINISH.get(message.stop_reason or "", FinishReason.STOP),
        getattr(message, "model", None) or model,
    )


@final
class AnthropicMessages(SdkProvider):
    """A model that asks the Anthropic Messages API (asyncio only).

    ``api_key`` is an `ApiKey`, or ``None`` to read ``api_key_env`` (``ANTHROPIC_API_KEY``)
    now; ``base_url`` another endpoint (``None``: Anthropic's); ``timeout`` bounds each call
    in seconds; ``max_tokens`` is sent when a request leaves it unset (Messages requires
    one); ``name`` is the provider's name in its errors. The SDK's own retries are off: wrap
    it in `with_retry`.

    >>> AnthropicMessages(api_key=ApiKey("sk-ant-not-real"))
    AnthropicMessages(base_url=None, name='anthropic')
    """

    _sdk = "anthropic"
    _reply_name = "Messages reply"
    _client_class = "AsyncAnthropic"
    _owner = "Anthropic"

    def __init__(
        self,
        *,
        api_key: ApiKey | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        base_url: str | None = None,
        timeout: float = 60.0,
        max_tokens: int = 4096,
        name: str = "anthropic",
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._check_options(base_url, timeout, name)
        self.max_tokens = check_count("AnthropicMessages max_tokens", max_tokens, minimum=1)
        self._connect(api_key, api_key_env, default_headers)

    async def _complete(self, request: ModelRequest) -> Completion:
        sdk = need_sdk("anthropic", "anthropic")
        try:
            message = await self._clients.get().messages.create(
                **request_body(request, self.max_tokens)
            )
            return _completion(message, request.model)
        except Exception as error:
            raise self._mapped(sdk, error) from None

    def _stream(self, request: ModelRequest) -> _AnthropicStream:
        return _AnthropicStream(self, request)


class _AnthropicStream(SdkStream):
    provider: AnthropicMessages

    def __init__(self, provider: AnthropicMessages, request: ModelRequest) -> None:
        super().__init__(provider, request)
        self.stopped = False

    async def open(self) -> AsyncIterator[str]:
        manager = self.provider._clients.get().messages.stream(
            **request_body(self.request, self.provider.max_tokens)
        )
        self.stream = await manager.__aenter__()
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[str]:
        async for event in self.stream:
            if event.type == "text" and event.text:
                yield event.text
            elif event.type == "message_stop":
                self.stopped = True

    async def finish(self) -> Completion:
        if not self.stopped:
            raise StreamInterrupted(
                f"the stream ended after {self.received} pieces without message_stop",
                chunks_received=self.received,
                provider=self.provider.name,
            )
        return _completion(self.stream.current_message_snapshot, self.request.model)
