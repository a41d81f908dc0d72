"""The model effects: `Complete` (one reply) and `StreamComplete` (the same reply, published
token by token as `TokenChunk` events before it is given). Both are `ModelRequest`s, so one
handler registered for `ModelRequest` serves both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, final

from attrs import field, frozen

from playbill.effects import Effect, InvalidArgument, Program, Suspend
from playbill.models._values import (
    MESSAGE_TYPES,
    Completion,
    JsonObject,
    JsonSchema,
    Message,
    ResponseFormat,
    ToolSpec,
    UserMessage,
    check_temperature,
)

__all__ = ["Complete", "ModelRequest", "StreamComplete", "complete", "stream_complete"]


def _messages(value: object) -> tuple[Message, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(
            f"messages must be a sequence of messages (SystemMessage, UserMessage, "
            f"AssistantMessage, ToolResult, or a str for a user message), got {value!r} "
            f"({type(value).__name__})"
        )
    messages: list[Message] = []
    for message in value:
        if isinstance(message, str):
            messages.append(UserMessage(message))
        elif isinstance(message, MESSAGE_TYPES):
            messages.append(message)
        else:
            raise InvalidArgument(
                f"messages must hold SystemMessage, UserMessage, AssistantMessage, ToolResult "
                f"or str values, got {message!r} ({type(message).__name__})"
            )
    if not messages:
        raise InvalidArgument("messages must hold at least one message, got an empty sequence")
    return tuple(messages)


def _tools(value: object) -> tuple[ToolSpec, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(
            f"tools must be a sequence of ToolSpec, got {value!r} ({type(value).__name__})"
        )
    specs = tuple(value)
    for spec in specs:
        if not isinstance(spec, ToolSpec):
            raise InvalidArgument(
                f"tools must hold ToolSpec values (a ToolRegistry's .specs), got {spec!r} "
                f"({type(spec).__name__})"
            )
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise InvalidArgument(f"tools must have distinct names, got {names!r}")
    return specs


def _model(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(
            f"model must be a non-empty str naming the model (such as 'gpt-4o-mini'), got "
            f"{value!r} ({type(value).__name__})"
        )


def _max_tokens(_: object, __: object, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise InvalidArgument(
            f"max_tokens must be a positive int or None (the provider's default), got "
            f"{value!r} ({type(value).__name__})"
        )


def _response_format(_: object, __: object, value: Any) -> None:
    if value is not None and not isinstance(value, (JsonObject, JsonSchema)):
        raise InvalidArgument(
            f"response_format must be None, JsonObject() or JsonSchema(name, schema), got "
            f"{value!r} ({type(value).__name__})"
        )


def _temperature(value: object) -> float | None:
    return check_temperature("temperature", value)


@frozen
class ModelRequest(Effect[Completion]):
    """What both model effects carry: the conversation so far, the model's name, the tools
    it may call, and the sampling options (``None``: the provider's default)."""

    messages: tuple[Message, ...] = field(converter=_messages)
    model: str = field(validator=_model)
    tools: tuple[ToolSpec, ...] = field(default=(), converter=_tools)
    temperature: float | None = field(default=None, converter=_temperature)
    max_tokens: int | None = field(default=None, validator=_max_tokens)
    response_format: ResponseFormat | None = field(default=None, validator=_response_format)


@final
@frozen
class Complete(ModelRequest):
    """Ask ``model`` for a reply to ``messages``; the result is a `Completion`.

    >>> Complete(["What is 2 + 2?"], "small").messages
    (UserMessage(content='What is 2 + 2?'),)
    """


@final
@frozen
class StreamComplete(ModelRequest):
    """Like `Complete`, but the reply is published as it is written: one ``Emit`` of a
    `TokenChunk` per piece, then the `Completion` is the result."""


def complete(
    messages: Iterable[Message | str],
    model: str,
    *,
    tools: Iterable[ToolSpec] = (),
    temperature: float | None = None,
    max_tokens: int | None = None,
    response_format: ResponseFormat | None = None,
) -> Program[Completion]:
    """A program that performs `Complete` and gives the `Completion`.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import Completion
    >>> def shout(request):
    ...     return Completion(request.messages[-1].content.upper())
    >>> stub.run(complete(["hello"], "echo"), {Complete: shout}).text
    'HELLO'
    """
    return Suspend(
        Complete(
            messages,
            model,
            tools,
            temperature,
            max_tokens,
            response_format,
        )
    )


def stream_complete(
    messages: Iterable[Message | str],
    model: str,
    *,
    tools: Iterable[ToolSpec] = (),
    temperature: float | None = None,
    max_tokens: int | None = None,
    response_format: ResponseFormat | None = None,
) -> Program[Completion]:
    """A program that performs `StreamComplete`: `TokenChunk` events, then the `Completion`.

    >>> from playbill import emit, pure
    >>> from playbill.interpreters import stub
    >>> from playbill.models import Completion, TokenChunk
    >>> def two_chunks(request):
    ...     chunks = emit(TokenChunk("Hel", 0)).then(emit(TokenChunk("lo", 1)))
    ...     return chunks.then(pure(Completion("Hello")))
    >>> result = stub.execute(stream_complete(["hi"], "m"), {StreamComplete: two_chunks})
    >>> [effect.event.text for effect in result.effects[1:]], result.unwrap().text
    (['Hel', 'lo'], 'Hello')
    """
    return Suspend(
        StreamComplete(
            messages,
            model,
            tools,
            temperature,
            max_tokens,
            response_format,
        )
    )
