"""A LangChain chat model or `Runnable` as a playbill model (``pip install
'playbill[langchain]'``, which brings ``langchain-core``).

`LangChainModel(runnable)` is a model like the test models and the providers: a function of
the request giving a Program of the `Completion`, so every combinator wraps it and a
`ChatAgent` asks it. The runnable is called through the `blocking` effect — under asyncio on
the system's thread pool, never on the event loop; under the stub and the simulator inline.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from typing import Any, final

from playbill.effects import InvalidArgument, Program, Pure, blocking
from playbill.models._calling import publish
from playbill.models._effects import ModelRequest, StreamComplete
from playbill.models._errors import ModelError
from playbill.models._values import (
    AssistantMessage,
    Completion,
    FinishReason,
    Message,
    SystemMessage,
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
    and publishes each piece as a `TokenChunk` — after the stream has ended, since the
    runnable is read in one `blocking` call.

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
        if isinstance(request, StreamComplete):
            return blocking(_streamed, runnable, messages).flat_map(
                lambda pieces: self._published(pieces, request)
            )
        return blocking(runnable.invoke, messages).map(
            lambda output: _completion(output, request.model, self.runnable)
        )

    def _published(self, pieces: list[Any], request: ModelRequest) -> Program[Completion]:
        texts = [_text(getattr(piece, "content", piece)) for piece in pieces]
        whole: Any = "".join(texts)
        if pieces and not isinstance(pieces[0], str):
            whole = pieces[0]
            for piece in pieces[1:]:
                whole = whole + piece  # message chunks add up, tool calls and usage too
        completion = _completion(whole, request.model, self.runnable)
        return publish([text for text in texts if text], request.model, Pure(completion))

    def __repr__(self) -> str:
        return f"LangChainModel({self.runnable!r:.80})"


def _streamed(runnable: Any, messages: list[Any]) -> list[Any]:
    return list(runnable.stream(messages))
