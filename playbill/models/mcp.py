"""Tools from an MCP server, through the official ``mcp`` SDK's stdio client
(``pip install 'playbill[mcp]'``).

``async with mcp_tools(command, args) as tools:`` starts the server as a subprocess, lists
its tools and gives one `Tool` for each: its name, description and JSON schema are the
server's, and a call goes to the server. A call is I/O, an `Await` of the session's
coroutine, so MCP tools run under asyncio only (in the event loop that opened
``mcp_tools``); the stub and the simulator refuse them with a `ProgramError` (test a tool
loop there with plain `tool` functions). The server checks the arguments: an error result
from it (bad arguments, a tool that failed) or an MCP protocol error goes back to the model
as an error `ToolResult`, like a `ToolError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from playbill.effects import Await, InvalidArgument, PlaybillError, perform
from playbill.models._tools import Tool, ToolError
from playbill.models._values import ToolSpec

__all__ = ["mcp_tools", "session_tools"]


def _sdk() -> Any:
    try:
        import mcp
    except ImportError:  # pragma: no cover - the suite installs it
        raise PlaybillError(
            "tools from an MCP server need the mcp SDK; install it with: "
            "pip install 'playbill[mcp]'"
        ) from None
    return mcp


@asynccontextmanager
async def mcp_tools(
    command: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> AsyncIterator[list[Tool]]:
    """Start the MCP server ``command args`` (stdio), and give its tools as `Tool` values
    for `run_tools`, a `ToolRegistry` or an agent; the server stops when the block ends.

    ```py
    async with mcp_tools(sys.executable, ["weather_server.py"]) as tools:
        async with ActorSystem("app", handlers=model_handlers(model)) as system:
            result = await system.run(run_tools(["Weather in Paris?"], "m", tools))
    ```
    """
    if not isinstance(command, str) or not command:
        raise InvalidArgument(
            f"mcp_tools() command must be a non-empty str (the server's program), got {command!r}"
        )
    if isinstance(args, str) or not all(isinstance(arg, str) for arg in args):
        raise InvalidArgument(
            f"mcp_tools() args must be a list of str (the server's arguments), got {args!r}"
        )
    sdk = _sdk()
    parameters = sdk.StdioServerParameters(
        command=command, args=list(args), env=dict(env) if env is not None else None, cwd=cwd
    )
    async with (
        sdk.stdio_client(parameters) as (read, write),
        sdk.ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield await session_tools(session)


async def session_tools(session: Any) -> list[Tool]:
    """The tools of an initialized MCP ``ClientSession`` (any transport), as `Tool` values
    whose calls go to it; every page of the server's list is read."""
    tools: list[Tool] = []
    sdk = _sdk()
    cursor: str | None = None
    while True:
        params = sdk.types.PaginatedRequestParams(cursor=cursor) if cursor else None
        listed = await session.list_tools(params=params)
        for found in listed.tools:
            spec = ToolSpec(found.name, found.description or "", dict(found.input_schema))
            tools.append(Tool(_caller(session, found.name), spec, None))
        cursor = listed.next_cursor
        if not cursor:
            return tools


def _caller(session: Any, name: str) -> Any:
    def call(**arguments: Any) -> Any:
        return perform(Await(_call(session, name, arguments), f"the MCP tool {name}"))

    return call


async def _call(session: Any, name: str, arguments: dict[str, Any]) -> str:
    sdk = _sdk()
    try:
        result = await session.call_tool(name, arguments)
    except sdk.MCPError as error:
        raise ToolError(f"the MCP server refused the call of {name}: {error}") from None
    text = _text(result.content)
    if result.is_error:
        raise ToolError(text or f"the MCP tool {name} failed")
    if not text and result.structured_content is not None:
        return json.dumps(result.structured_content)
    return text


def _text(content: Sequence[Any]) -> str:
    parts = []
    for block in content:
        if getattr(block, "type", None) == "text":
            parts.append(block.text)
        else:  # an image, audio or resource block: its JSON
            parts.append(block.model_dump_json(exclude_none=True))
    return "\n".join(parts)
