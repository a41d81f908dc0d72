"""Tools from an MCP server: a small stdio server written here, run as a subprocess."""

import asyncio
import sys
import textwrap

import pytest

pytest.importorskip("mcp")
pytest.importorskip("pydantic")

from playbill import InvalidArgument, ProgramError
from playbill.interpreters import ActorSystem, stub
from playbill.models import ScriptedModel, ToolCall, ToolResult, model_handlers, run_tools
from playbill.models.mcp import mcp_tools

SERVER = textwrap.dedent(
    """
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("calculator")


    @server.tool()
    def add(a: int, b: int) -> int:
        "Add two numbers."
        return a + b


    @server.tool()
    def divide(a: float, b: float) -> float:
        "Divide a by b."
        if b == 0:
            raise ToolError("cannot divide by zero")
        return a / b


    server.run("stdio")
    """
)


@pytest.fixture
def server(tmp_path):
    path = tmp_path / "calculator.py"
    path.write_text(SERVER)
    return [str(path)]


def with_tools(server, use):
    async def main():
        async with mcp_tools(sys.executable, server) as tools:
            return await use(tools)

    return asyncio.run(main())


def test_the_tools_are_the_servers_with_their_names_descriptions_and_schemas(server):
    async def use(tools):
        return [tool.spec for tool in tools]

    add, divide = with_tools(server, use)
    assert (add.name, add.description) == ("add", "Add two numbers.")
    assert divide.name == "divide"
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"


def test_run_tools_calls_the_server_and_reports_its_errors_back_to_the_model(server):
    model = ScriptedModel(
        [
            ToolCall("c1", "add", {"a": 2, "b": 3}),
            ToolCall("c2", "add", {"a": "two"}),
            ToolCall("c3", "divide", {"a": 1, "b": 0}),
            ToolCall("c4", "subtract", {"a": 1}),
            "2 + 3 = 5",
        ]
    )

    async def use(tools):
        async with ActorSystem("mcp", handlers=model_handlers(model)) as system:
            return await system.run(run_tools(["2 + 3?"], "m", tools))

    result = with_tools(server, use)
    assert result.text == "2 + 3 = 5"
    answers = [m for m in result.messages if isinstance(m, ToolResult)]
    assert [(m.call_id, m.is_error) for m in answers] == [
        ("c1", False),
        ("c2", True),
        ("c3", True),
        ("c4", True),
    ]
    assert answers[0].content == "5"
    assert "Field required" in answers[1].content  # the server's validation: b is missing
    assert "cannot divide by zero" in answers[2].content
    assert "no tool named 'subtract'" in answers[3].content
    assert [spec.name for spec in model.requests[0].tools] == ["add", "divide"]


def test_arguments_that_are_not_a_json_object_are_an_error_result(server):
    model = ScriptedModel([ToolCall("c1", "add", "[1, 2]"), "sorry"])

    async def use(tools):
        async with ActorSystem("mcp", handlers=model_handlers(model)) as system:
            return await system.run(run_tools(["2 + 3?"], "m", tools))

    result = with_tools(server, use)
    assert result.messages[2] == ToolResult(
        "c1",
        "the arguments of add were refused: they must be a JSON object, got '[1, 2]'",
        is_error=True,
    )


def test_the_stub_refuses_an_mcp_tool_call_it_cannot_await(server):
    model = ScriptedModel([ToolCall("c1", "add", {"a": 2, "b": 3}), "5"])

    async def use(tools):
        with pytest.raises(ProgramError, match="the MCP tool add"):
            stub.run(run_tools(["2 + 3?"], "m", tools), model_handlers(model))

    with_tools(server, use)


@pytest.mark.parametrize(
    ("command", "args", "option"),
    [("", [], "command"), ("python", "server.py", "args"), ("python", [1], "args")],
)
def test_bad_options_are_refused_before_starting_anything(command, args, option):
    async def main():
        async with mcp_tools(command, args):
            pass

    with pytest.raises(InvalidArgument, match=f"mcp_tools\\(\\) {option} must be"):
        asyncio.run(main())
