"""What every model handler shares: the `Model` type, calling one as a program, handler
maps, and publishing a reply as token chunks."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from playbill.effects import (
    Await,
    Effect,
    Emit,
    InvalidArgument,
    Program,
    Pure,
    Suspend,
    fail,
    program,
)
from playbill.models._effects import ModelRequest
from playbill.models._values import AssistantMessage, Completion, TokenChunk, Usage

__all__ = ["Model", "call_model", "model_handlers"]

Model: TypeAlias = Callable[[ModelRequest], Any]
"""A model is a handler of `ModelRequest`: a function of the request that returns the
`Completion`, a `Program` giving it (the combinators and test models do), or, under asyncio
only, an awaitable of it (a provider's ``async def``)."""


def check_model(where: str, model: object) -> Model:
    if not callable(model):
        raise InvalidArgument(
            f"{where} takes a model: a function of the request that returns a Completion or a "
            f"Program of one (ScriptedModel, FunctionModel, a provider), got {model!r} "
            f"({type(model).__name__})"
        )
    return model


def model_handlers(model: Model) -> dict[type[Any], Model]:
    """The handler map that answers both model effects with ``model``: give it to
    ``stub.run``, ``simulate``, ``ActorSystem`` or ``playbill.run`` (merged with your other
    handlers).

    >>> from playbill.models import ModelRequest, ScriptedModel
    >>> list(model_handlers(ScriptedModel(["hi"]))) == [ModelRequest]
    True
    """
    return {ModelRequest: check_model("model_handlers()", model)}


def call_model(model: Model, request: ModelRequest) -> Program[Completion]:
    """A program that asks ``model`` for ``request``'s completion: what a combinator uses to
    call the handler it wraps. A raised error becomes the program's failure; an awaitable is
    awaited (asyncio only).

    >>> from playbill.interpreters import stub
    >>> from playbill.models import Complete, FunctionModel
    >>> stub.run(call_model(FunctionModel(lambda request: "hi"), Complete(["x"], "m"))).text
    'hi'
    """
    try:
        result = model(request)
    except Exception as error:
        return fail(error)
    if isinstance(result, Program):
        return result
    if isinstance(result, Effect):
        return Suspend(result)
    if inspect.isawaitable(result):
        return Suspend(Await(result, f"the model {getattr(model, '__qualname__', model)!r}"))
    return Pure(result)


_PIECE = re.compile(r"\s*\S+|\s+$")


def split_tokens(text: str) -> list[str]:
    """``text`` cut into word-sized pieces that join back to it, each carrying the space
    before it, as tokenisers cut (the test models stream these).

    >>> split_tokens("Hello big  world ")
    ['Hello', ' big', '  world', ' ']
    """
    return _PIECE.findall(text)


def estimate_tokens(texts: Iterable[str]) -> int:
    """A deterministic token count: whitespace-separated words (what the test models report
    as usage, and what the token rate limiter reserves before a call)."""
    return sum(len(text.split()) for text in texts)


def request_texts(request: ModelRequest) -> list[str]:
    texts = []
    for message in request.messages:
        texts.append(message.content)
        if isinstance(message, AssistantMessage):
            texts.extend(call.arguments for call in message.tool_calls)
    return texts


def usage_of(request: ModelRequest, text: str, arguments: Iterable[str] = ()) -> Usage:
    return Usage(estimate_tokens(request_texts(request)), estimate_tokens([text, *arguments]))


def publish(chunks: Iterable[str], model: str, then: Program[Completion]) -> Program[Completion]:
    """A program that emits one `TokenChunk` per piece of ``chunks``, then runs ``then``."""
    return _publish(chunks, model, then)


@program
def _publish(chunks: Iterable[str], model: str, then: Program[Completion]) -> Any:
    # yields the Emit effects themselves: no Program node is built per token
    for index, piece in enumerate(chunks):
        yield Emit(TokenChunk(piece, index, model))
    return (yield then)
