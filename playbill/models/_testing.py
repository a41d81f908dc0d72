"""Test models: `ScriptedModel` answers from a script, `FunctionModel` computes each reply.
Both are deterministic handlers (no clock, no chance, no I/O), so they run under the stub,
the simulator and asyncio alike, and under every combinator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias, final

from attrs import field, frozen

from playbill.effects import InvalidArgument, PlaybillError, Program, Pure, fail, sleep
from playbill.effects._checks import is_number
from playbill.models._calling import publish, split_tokens, usage_of
from playbill.models._effects import ModelRequest, StreamComplete
from playbill.models._values import Completion, FinishReason, ToolCall

__all__ = ["Chunks", "FunctionModel", "ScriptExhausted", "ScriptedModel"]


def _pieces(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidArgument(
            f"Chunks pieces must be a sequence of str, got {value!r} ({type(value).__name__}); "
            'write Chunks(["Hel", "lo"])'
        )
    pieces = tuple(value)
    if not all(isinstance(piece, str) for piece in pieces):
        raise InvalidArgument(f"Chunks pieces must all be str, got {pieces!r}")
    return pieces


def _error(_: object, __: object, value: Any) -> None:
    if value is not None and not isinstance(value, Exception):
        raise InvalidArgument(f"Chunks error must be an exception instance or None, got {value!r}")


@final
@frozen
class Chunks:
    """A scripted reply streamed in exactly these ``pieces`` (joined, they are its text);
    ``error``, if given, fails the stream after the pieces, as a dropped connection does.

    >>> Chunks(["Hel", "lo"]).text
    'Hello'
    """

    pieces: tuple[str, ...] = field(converter=_pieces)
    tool_calls: tuple[ToolCall, ...] = ()
    error: Exception | None = field(default=None, validator=_error)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


Reply: TypeAlias = str | Completion | ToolCall | Iterable[ToolCall] | Chunks | Exception


@final
@frozen
class _Scripted:
    pieces: tuple[str, ...] | None  # None: cut the text like a tokeniser
    text: str
    tool_calls: tuple[ToolCall, ...]
    error: Exception | None
    completion: Completion | None  # given as is


def _scripted(reply: object, position: int) -> _Scripted:
    if isinstance(reply, str):
        return _Scripted(None, reply, (), None, None)
    if isinstance(reply, Completion):
        return _Scripted(None, reply.text, reply.tool_calls, None, reply)
    if isinstance(reply, ToolCall):
        return _Scripted(None, "", (reply,), None, None)
    if isinstance(reply, Chunks):
        return _Scripted(reply.pieces, reply.text, reply.tool_calls, reply.error, None)
    if isinstance(reply, Exception):
        return _Scripted((), "", (), reply, None)
    if isinstance(reply, Iterable) and not isinstance(reply, (bytes, Mapping)):
        calls = tuple(reply)
        if calls and all(isinstance(call, ToolCall) for call in calls):
            return _Scripted(None, "", calls, None, None)
    raise InvalidArgument(
        f"ScriptedModel replies[{position}] must be a str (a text reply), a Completion, a "
        f"ToolCall or a list of them, Chunks([...]) or an exception to raise, got {reply!r} "
        f"({type(reply).__name__})"
    )


def _check_latency(where: str, latency: object) -> float:
    if not is_number(latency) or not latency >= 0 or latency == float("inf"):  # type: ignore[operator]
        raise InvalidArgument(
            f"{where} latency must be a finite number of seconds >= 0, got {latency!r}"
        )
    return float(latency)  # type: ignore[arg-type]


@final
class ScriptExhausted(PlaybillError, LookupError):
    """A `ScriptedModel` was asked for more replies than its script holds."""


def _answer(request: ModelRequest, reply: _Scripted) -> Program[Completion]:
    streaming = isinstance(request, StreamComplete)
    if reply.completion is not None:
        completion = reply.completion
    else:
        completion = Completion(
            reply.text,
            reply.tool_calls,
            usage_of(request, reply.text, (call.arguments for call in reply.tool_calls)),
            FinishReason.TOOL_CALLS if reply.tool_calls else FinishReason.STOP,
            request.model,
        )
    end: Program[Completion] = Pure(completion) if reply.error is None else fail(reply.error)
    if not streaming:
        return end
    pieces = reply.pieces if reply.pieces is not None else split_tokens(reply.text)
    return publish(pieces, completion.model or request.model, end)


class ScriptedModel:
    """A model that answers each request with the next reply of its script: a str (a text
    reply), a `Completion` (as is), a `ToolCall` or a list of them (a reply that calls
    tools), `Chunks` (a reply streamed in those pieces, maybe failing after them), or an
    exception (raised, as a provider's error would be). A streamed str reply is cut into
    word-sized pieces. ``latency`` waits that long (on the interpreter's clock) before
    answering. The requests it saw are in ``requests``; past the end of the script it fails
    with `ScriptExhausted`. Usage counts words. Give each run its own (a handler factory).

    >>> from playbill.interpreters import stub
    >>> from playbill.models import complete, model_handlers
    >>> model = ScriptedModel(["Hi!", ToolCall("c1", "add", {"a": 1})])
    >>> stub.run(complete(["hello"], "m"), model_handlers(model)).text
    'Hi!'
    >>> stub.run(complete(["add"], "m"), model_handlers(model)).tool_calls
    (ToolCall(id='c1', name='add', arguments='{"a": 1}'),)
    >>> len(model.requests), model.remaining
    (2, 0)
    """

    def __init__(self, replies: Iterable[Reply], *, latency: float = 0.0) -> None:
        if isinstance(replies, (str, bytes, Mapping)) or not isinstance(replies, Iterable):
            raise InvalidArgument(
                f"ScriptedModel replies must be a list of replies, got {replies!r} "
                f"({type(replies).__name__}); write ScriptedModel(['first reply', ...])"
            )
        self._replies = tuple(_scripted(reply, at) for at, reply in enumerate(replies))
        self._latency = _check_latency("ScriptedModel", latency)
        self.requests: list[ModelRequest] = []

    @property
    def calls(self) -> int:
        """How many requests it answered (or failed)."""
        return len(self.requests)

    @property
    def remaining(self) -> int:
        """How many replies are left in the script."""
        return len(self._replies) - len(self.requests)

    def __call__(self, request: ModelRequest) -> Program[Completion]:
        position = len(self.requests)
        if position >= len(self._replies):
            seen = "".join(
                f"\n  {at}: {type(seen).__name__}, last message {seen.messages[-1]!r}"
                for at, seen in enumerate(self.requests)
            )
            raise ScriptExhausted(
                f"the ScriptedModel has no reply left for request {position} "
                f"({type(request).__name__}, last message {request.messages[-1]!r}); its "
                f"script holds {len(self._replies)} replies, answered:{seen or ' none'}\n"
                "add a reply to the script, or look why the program asks once more"
            )
        self.requests.append(request)
        answer = _answer(request, self._replies[position])
        return sleep(self._latency).then(answer) if self._latency else answer


def _as_completion(request: ModelRequest, value: object) -> Completion:
    if isinstance(value, Completion):
        return value
    if isinstance(value, str):
        return Completion(value, (), usage_of(request, value), FinishReason.STOP, request.model)
    raise InvalidArgument(
        f"the FunctionModel's function must return a Completion, a str, or a Program of one, "
        f"got {value!r} ({type(value).__name__})"
    )


class FunctionModel:
    """A model whose reply is ``function(request)``: a `Completion`, a str (a text reply,
    usage counted in words), or a `Program` giving one (so it may read the clock or ask an
    actor). A streamed reply is published in word-sized pieces once computed. ``latency``
    waits that long on the interpreter's clock first.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import complete, model_handlers
    >>> echo = FunctionModel(lambda request: request.messages[-1].content.upper())
    >>> stub.run(complete(["hello"], "echo"), model_handlers(echo)).text
    'HELLO'
    """

    def __init__(self, function: Callable[[ModelRequest], Any], *, latency: float = 0.0) -> None:
        if not callable(function):
            raise InvalidArgument(
                f"FunctionModel takes a function of the request, got {function!r} "
                f"({type(function).__name__})"
            )
        self._function = function
        self._latency = _check_latency("FunctionModel", latency)
        self.calls = 0

    def __call__(self, request: ModelRequest) -> Program[Completion] | Completion:
        self.calls += 1
        if self._latency:
            return sleep(self._latency).flat_map(lambda _: self._reply(request))
        return self._reply(request)

    def _reply(self, request: ModelRequest) -> Program[Completion]:
        value = self._function(request)
        if isinstance(value, Program):
            completion = value.map(lambda made: _as_completion(request, made))
            if isinstance(request, StreamComplete):
                return completion.flat_map(
                    lambda done: publish(split_tokens(done.text), done.model, Pure(done))
                )
            return completion
        done = _as_completion(request, value)
        if isinstance(request, StreamComplete):
            return publish(split_tokens(done.text), done.model or request.model, Pure(done))
        return Pure(done)
