"""The values of a model call: messages, tool calls and tool specs, response formats, usage,
the completion, and the token chunk a streaming call emits. All frozen, compared by value.

Tool-call arguments are kept as the JSON text the model sent (a mapping given here is
encoded), because a model can send text that is not JSON, and the tool loop must be able to
tell it so.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias, final

from attrs import field, frozen

from playbill.effects import InvalidArgument
from playbill.effects._checks import is_number
from playbill.effects._program import _slot_setter

__all__ = [
    "AssistantMessage",
    "Completion",
    "FinishReason",
    "JsonObject",
    "JsonSchema",
    "Message",
    "ResponseFormat",
    "Role",
    "SystemMessage",
    "TokenChunk",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "UserMessage",
]


def _received(value: object) -> str:
    return f"got {value!r} ({type(value).__name__})"


def _text(where: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, str):
            raise InvalidArgument(f"{where} must be a str, {_received(value)}")

    return check


def _name(where: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidArgument(f"{where} must be a non-empty str, {_received(value)}")

    return check


def _count(where: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidArgument(f"{where} must be an int >= 0, {_received(value)}")

    return check


def _mapping(where: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, Mapping):
            raise InvalidArgument(f"{where} must be a mapping (a JSON object), {_received(value)}")

    return check


class Role(enum.Enum):
    """Who says a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


def _arguments(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise InvalidArgument(
                f"ToolCall arguments must be JSON text or a JSON-encodable mapping, "
                f"{_received(value)}: {error}"
            ) from None
    raise InvalidArgument(
        f"ToolCall arguments must be JSON text or a mapping, {_received(value)}; "
        'write ToolCall("call_1", "add", {"a": 1, "b": 2})'
    )


@final
@frozen
class ToolCall:
    """The model asks for tool ``name`` with ``arguments`` (JSON text; a mapping is encoded).

    >>> ToolCall("call_1", "add", {"a": 1, "b": 2})
    ToolCall(id='call_1', name='add', arguments='{"a": 1, "b": 2}')
    """

    id: str = field(validator=_name("ToolCall id"))
    name: str = field(validator=_name("ToolCall name"))
    arguments: str = field(default="{}", converter=_arguments)


@final
@frozen
class SystemMessage:
    """Instructions for the model.

    >>> SystemMessage("Be brief.").role
    <Role.SYSTEM: 'system'>
    """

    content: str = field(validator=_text("SystemMessage content"))

    @property
    def role(self) -> Role:
        return Role.SYSTEM


@final
@frozen
class UserMessage:
    """What the user says."""

    content: str = field(validator=_text("UserMessage content"))

    @property
    def role(self) -> Role:
        return Role.USER


def _tool_calls(value: object) -> tuple[ToolCall, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(f"tool_calls must be a sequence of ToolCall, {_received(value)}")
    calls = tuple(value)
    for call in calls:
        if not isinstance(call, ToolCall):
            raise InvalidArgument(
                f"tool_calls must hold ToolCall values, got {call!r} ({type(call).__name__})"
            )
    return calls


@final
@frozen
class AssistantMessage:
    """What the model said: text, tool calls, or both."""

    content: str = field(default="", validator=_text("AssistantMessage content"))
    tool_calls: tuple[ToolCall, ...] = field(default=(), converter=_tool_calls)

    @property
    def role(self) -> Role:
        return Role.ASSISTANT


@final
@frozen
class ToolResult:
    """The answer to the tool call ``call_id``; ``is_error`` when the tool could not run (an
    unknown tool, bad arguments, a `ToolError`) and ``content`` says why."""

    call_id: str = field(validator=_name("ToolResult call_id"))
    content: str = field(validator=_text("ToolResult content"))
    is_error: bool = False

    @property
    def role(self) -> Role:
        return Role.TOOL


Message: TypeAlias = SystemMessage | UserMessage | AssistantMessage | ToolResult
MESSAGE_TYPES = (SystemMessage, UserMessage, AssistantMessage, ToolResult)


@final
@frozen
class ToolSpec:
    """A tool as the model sees it: its name, what it does, and the JSON schema of its
    arguments (an object schema). `playbill.models.tool` builds one from a typed function."""

    name: str = field(validator=_name("ToolSpec name"))
    description: str = field(default="", validator=_text("ToolSpec description"))
    parameters: Mapping[str, Any] = field(
        factory=lambda: {"type": "object", "properties": {}},
        validator=_mapping("ToolSpec parameters"),
        hash=False,
    )


@final
@frozen
class JsonObject:
    """Ask for a reply that is a JSON object (any shape)."""


@final
@frozen
class JsonSchema:
    """Ask for a reply that is JSON matching ``schema``, named ``name`` (providers need a
    name); ``strict`` asks the provider to enforce it where it can."""

    name: str = field(validator=_name("JsonSchema name"))
    schema: Mapping[str, Any] = field(validator=_mapping("JsonSchema schema"), hash=False)
    strict: bool = True


ResponseFormat: TypeAlias = JsonObject | JsonSchema


@final
@frozen
class Usage:
    """Tokens a call read and wrote; usages add up.

    >>> Usage(10, 2) + Usage(5, 1)
    Usage(input_tokens=15, output_tokens=3)
    >>> (Usage(10, 2) + Usage(5, 1)).total_tokens
    18
    """

    input_tokens: int = field(default=0, validator=_count("Usage input_tokens"))
    output_tokens: int = field(default=0, validator=_count("Usage output_tokens"))

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


class FinishReason(enum.Enum):
    """Why the model stopped: a natural end, the ``max_tokens`` limit, to call tools, or a
    content filter."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"


@final
@frozen
class Completion:
    """What a model call gives: the reply's text, its tool calls, the usage, why it finished,
    and the model that answered.

    >>> reply = Completion("Paris", model="small")
    >>> reply.message
    AssistantMessage(content='Paris', tool_calls=())
    """

    text: str = field(default="", validator=_text("Completion text"))
    tool_calls: tuple[ToolCall, ...] = field(default=(), converter=_tool_calls)
    usage: Usage = Usage()
    finish_reason: FinishReason = FinishReason.STOP
    model: str = field(default="", validator=_text("Completion model"))

    @property
    def message(self) -> AssistantMessage:
        """The reply as the assistant message that continues the conversation."""
        return AssistantMessage(self.text, self.tool_calls)


@final
@frozen(init=False)
class TokenChunk:
    """One piece of a streamed reply, published (``Emit``) as it arrives, before the
    `Completion`: ``index`` counts the chunks of one call from 0.

    >>> TokenChunk("Hel", 0, "small")
    TokenChunk(text='Hel', index=0, model='small')
    """

    text: str
    index: int
    model: str

    # one per token of every stream: a fast ``__init__``, as for the hot Program nodes
    def __init__(self, text: str, index: int, model: str = "") -> None:
        _set_chunk_text(self, text)
        _set_chunk_index(self, index)
        _set_chunk_model(self, model)


_set_chunk_text = _slot_setter(TokenChunk, "text")
_set_chunk_index = _slot_setter(TokenChunk, "index")
_set_chunk_model = _slot_setter(TokenChunk, "model")


def check_temperature(where: str, value: object) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not 0 <= value <= 2 or math.isnan(value):  # type: ignore[operator,arg-type]
        raise InvalidArgument(
            f"{where} must be a number in [0, 2] or None (the provider's default), "
            f"{_received(value)}"
        )
    return float(value)  # type: ignore[arg-type]
