"""Tools: typed functions a model may call, their JSON schema drawn from their annotations
by pydantic, and the tool-call loop (model, tool calls, results, model ...) as a Program.

pydantic is an optional dependency: ``pip install 'playbill[models]'``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any, final

from attrs import frozen

from playbill.effects import (
    Effect,
    InvalidArgument,
    PlaybillError,
    Program,
    perform,
    program,
    pure,
)
from playbill.effects._checks import check_count, check_flag
from playbill.models._effects import Complete, StreamComplete
from playbill.models._values import (
    Completion,
    Message,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

__all__ = [
    "ChatResult",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "ToolRoundsExceeded",
    "run_tools",
    "tool",
]


def pydantic_module() -> Any:
    try:
        import pydantic
    except ImportError:  # pragma: no cover - the suite installs it
        raise PlaybillError(
            "tools and structured output need pydantic; install it with: "
            "pip install 'playbill[models]'"
        ) from None
    return pydantic


class ToolError(PlaybillError):
    """Raised by a tool to tell the model what went wrong: the loop sends the message back
    as an error result, and the model may try again. Any other exception fails the loop."""


@final
class ToolRoundsExceeded(PlaybillError):
    """The model still asked for tools after the loop's ``max_rounds`` model calls."""


@final
class Tool:
    """A typed function the model may call: its `ToolSpec` (name, description from the
    docstring, JSON schema of the parameters from their annotations) and the function.
    Build one with `tool`."""

    __slots__ = ("_arguments", "function", "spec")

    def __init__(self, function: Callable[..., Any], spec: ToolSpec, arguments: Any) -> None:
        self.function = function
        self.spec = spec
        self._arguments = arguments  # the pydantic model of the parameters

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"Tool({self.spec.name!r})"

    def call(self, call: ToolCall) -> Program[ToolResult]:
        """A program that runs the tool for ``call``: its result as a `ToolResult` (JSON for
        anything but a str); bad arguments or a `ToolError` as an error result. A tool built
        without an argument model (an MCP server's) takes the JSON object as it came: the
        function checks it."""
        if self._arguments is None:
            try:
                given = json.loads(call.arguments or "{}")
            except ValueError as error:
                given = error
            if not isinstance(given, dict):
                return pure(
                    ToolResult(
                        call.id,
                        f"the arguments of {call.name} were refused: they must be a JSON "
                        f"object, got {call.arguments!r}",
                        is_error=True,
                    )
                )
            return _run_tool(self.function, given, call.id)
        pydantic = pydantic_module()
        try:
            parsed = self._arguments.model_validate_json(call.arguments or "{}")
        except pydantic.ValidationError as error:
            return pure(_bad_arguments(call, error))
        arguments = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        return _run_tool(self.function, arguments, call.id)


def _bad_arguments(call: ToolCall, error: Any) -> ToolResult:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'arguments'}: {problem['msg']}"
        for problem in error.errors(include_url=False)
    )
    return ToolResult(
        call.id,
        f"the arguments of {call.name} were refused: {problems}; call it again with "
        "arguments that match its schema",
        is_error=True,
    )


def _content(value: object) -> str:
    if isinstance(value, str):
        return value
    return str(pydantic_module().TypeAdapter(type(value)).dump_json(value).decode())


@program
def _run_tool(function: Callable[..., Any], arguments: dict[str, Any], call_id: str) -> Any:
    try:
        value = function(**arguments)
        if isinstance(value, (Program, Effect)):
            value = yield value
    except ToolError as error:
        return ToolResult(call_id, str(error), is_error=True)
    return ToolResult(call_id, _content(value))


def tool(
    function: Callable[..., Any] | Tool | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Make ``function`` a `Tool` (also a decorator, bare or with options). The schema of
    its parameters comes from their annotations through pydantic; the description from its
    docstring. The function returns the result (a str as it is, anything else as JSON), or
    a `Program` giving it, so a tool may ask an actor.

    >>> @tool
    ... def add(a: int, b: int = 0) -> int:
    ...     "Add two numbers."
    ...     return a + b
    >>> add.spec.description, add.spec.parameters["required"]
    ('Add two numbers.', ['a'])
    """
    if function is None:
        return lambda given: tool(given, name=name, description=description)
    if isinstance(function, Tool):
        return function
    given: object = function
    if not callable(given):
        raise InvalidArgument(f"tool() takes a function, got {function!r}")
    pydantic = pydantic_module()
    chosen = name if name is not None else getattr(function, "__name__", "")
    if not isinstance(chosen, str) or not chosen.isidentifier():
        raise InvalidArgument(
            f"tool() name must be an identifier (letters, digits, _), got {chosen!r}"
        )
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise InvalidArgument(
                f"tool() {chosen}: *args and **kwargs have no schema; name each parameter"
            )
        if parameter.annotation is inspect.Parameter.empty:
            raise InvalidArgument(
                f"tool() {chosen}: parameter {parameter.name!r} has no annotation; annotate "
                "every parameter, the model is told its type"
            )
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (parameter.annotation, default)
    arguments = pydantic.create_model(
        f"{chosen}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    schema = arguments.model_json_schema()
    schema.pop("title", None)
    text = description if description is not None else inspect.getdoc(function) or ""
    return Tool(function, ToolSpec(chosen, text, schema), arguments)


class ToolRegistry:
    """The tools a conversation may use, by name.

    >>> def shout(text: str) -> str:
    ...     "Upper-case a text."
    ...     return text.upper()
    >>> registry = ToolRegistry([shout])
    >>> [spec.name for spec in registry.specs]
    ['shout']
    """

    def __init__(self, tools: Iterable[Callable[..., Any] | Tool] = ()) -> None:
        given_tools: object = tools
        if isinstance(given_tools, str) or not isinstance(given_tools, Iterable):
            raise InvalidArgument(f"ToolRegistry takes a list of functions, got {tools!r}")
        self._tools: dict[str, Tool] = {}
        for given in given_tools:
            made: Tool = tool(given)
            if made.name in self._tools:
                raise InvalidArgument(f"ToolRegistry has two tools named {made.name!r}")
            self._tools[made.name] = made

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(made.spec for made in self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def call(self, call: ToolCall) -> Program[ToolResult]:
        """A program that answers ``call``: an unknown tool is an error result naming the
        tools there are."""
        found = self._tools.get(call.name)
        if found is None:
            known = ", ".join(self._tools) or "none"
            return pure(
                ToolResult(
                    call.id,
                    f"there is no tool named {call.name!r}; the tools are: {known}",
                    is_error=True,
                )
            )
        return found.call(call)


@final
@frozen
class ChatResult:
    """How a tool loop ended: the last `Completion`, the whole conversation (the messages
    given, then every reply and tool result), the usage of all its model calls, and how many
    model calls it made."""

    completion: Completion
    messages: tuple[Message, ...]
    usage: Usage
    rounds: int

    @property
    def text(self) -> str:
        return self.completion.text


def run_tools(
    messages: Iterable[Message | str],
    model: str,
    tools: ToolRegistry | Iterable[Callable[..., Any] | Tool],
    *,
    max_rounds: int = 8,
    stream: bool = False,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> Program[ChatResult]:
    """A program that talks with ``model`` until it stops calling tools: each reply's tool
    calls run in order and their results go back to it, at most ``max_rounds`` model calls
    (then `ToolRoundsExceeded`). An unknown tool, bad arguments or a `ToolError` goes back
    as an error result and the loop continues. With ``stream``, each call is a
    `StreamComplete`. Gives a `ChatResult`.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import ScriptedModel, model_handlers
    >>> def add(a: int, b: int) -> int:
    ...     "Add two numbers."
    ...     return a + b
    >>> model = ScriptedModel([ToolCall("c1", "add", {"a": 2, "b": 3}), "2 + 3 = 5"])
    >>> result = stub.run(run_tools(["2 + 3?"], "m", [add]), model_handlers(model))
    >>> result.text, result.rounds, result.messages[2]
    ('2 + 3 = 5', 2, ToolResult(call_id='c1', content='5', is_error=False))
    """
    registry = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
    rounds_allowed = check_count("run_tools() max_rounds", max_rounds, minimum=1)
    kind = StreamComplete if check_flag("run_tools() stream", stream) else Complete
    first = kind(messages, model, registry.specs, temperature, max_tokens)
    return _tool_loop(first, registry, rounds_allowed)


@program
def _tool_loop(
    first: Complete | StreamComplete, registry: ToolRegistry, rounds_allowed: int
) -> Any:
    kind = type(first)
    model, temperature, max_tokens = first.model, first.temperature, first.max_tokens
    transcript: list[Message] = list(first.messages)
    usage = Usage()
    for round_ in range(1, rounds_allowed + 1):
        request = (
            first
            if round_ == 1
            else kind(transcript, model, registry.specs, temperature, max_tokens)
        )
        completion: Completion = yield perform(request)
        usage += completion.usage
        transcript.append(completion.message)
        if not completion.tool_calls:
            return ChatResult(completion, tuple(transcript), usage, round_)
        for call in completion.tool_calls:
            transcript.append((yield registry.call(call)))
    raise ToolRoundsExceeded(
        f"the model still called tools after max_rounds={rounds_allowed} model calls "
        f"(last: {', '.join(call.name for call in completion.tool_calls)}); raise max_rounds "
        "or tell the model in the system message when to answer"
    )
