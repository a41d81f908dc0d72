"""Tools, the tool-call loop, structured output and memory."""

import pytest

pytest.importorskip("pydantic")

from pydantic import BaseModel

from playbill import Actor, Faults, InjectedFault, InvalidArgument, free_spawn, maybe_fault, program
from playbill.interpreters import explore, stub
from playbill.interpreters import run as run_asyncio
from playbill.models import (
    AssistantMessage,
    Completion,
    FunctionModel,
    JsonSchema,
    OutputValidationFailed,
    RingBufferMemory,
    ScriptedModel,
    SystemMessage,
    ToolCall,
    ToolError,
    ToolRegistry,
    ToolResult,
    ToolRoundsExceeded,
    Usage,
    UserMessage,
    complete_structured,
    is_retryable,
    model_handlers,
    run_tools,
    tool,
    with_rate_limit,
    with_retry,
)
from tests.models.support import chunks_of


class Point(BaseModel):
    x: int
    y: int = 0


def add(a: int, b: int = 0) -> int:
    "Add two numbers."
    return a + b


def norm(point: Point) -> dict[str, int]:
    "The Manhattan norm of a point."
    return {"norm": abs(point.x) + abs(point.y)}


def divide(a: float, b: float) -> float:
    "Divide a by b."
    if b == 0:
        raise ToolError("cannot divide by zero; pick another b")
    return a / b


def test_a_tools_schema_comes_from_its_annotations():
    spec = tool(norm).spec
    assert spec.name == "norm"
    assert spec.description == "The Manhattan norm of a point."
    assert spec.parameters["required"] == ["point"]
    assert spec.parameters["$defs"]["Point"]["properties"]["x"] == {"title": "X", "type": "integer"}
    named = tool(name="plus", description="adds")(add)
    assert (named.spec.name, named.spec.description) == ("plus", "adds")
    assert tool(add).spec.parameters["properties"]["b"]["default"] == 0


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: tool(42), "tool\\(\\) takes a function"),
        (lambda: tool(lambda x: x), "tool\\(\\) name"),
        (lambda: tool(name="x")(lambda x: x), "has no annotation"),
        (lambda: ToolRegistry([add, tool(name="add")(divide)]), "two tools named 'add'"),
        (lambda: ToolRegistry("add"), "ToolRegistry takes a list"),
        (lambda: run_tools(["q"], "m", [add], max_rounds=0), "run_tools\\(\\) max_rounds"),
        (lambda: run_tools(["q"], "m", [add], stream=1), "run_tools\\(\\) stream"),
        (lambda: complete_structured(["q"], "m", Point, retries=-1), "retries"),
        (lambda: complete_structured(["q"], "m", object()), "output_type"),
        (lambda: RingBufferMemory(0), "RingBufferMemory max_messages"),
    ],
)
def test_bad_tool_options_are_refused_naming_the_option(build, option):
    with pytest.raises(InvalidArgument, match=option):
        build()


def test_the_loop_runs_tool_calls_in_order_and_returns_the_final_answer():
    model = ScriptedModel(
        [
            [ToolCall("c1", "add", {"a": 2, "b": 3}), ToolCall("c2", "norm", {"point": {"x": -4}})],
            "5 and 4",
        ]
    )
    result = stub.run(run_tools(["q"], "m", [add, norm]), model_handlers(model))
    assert result.text == "5 and 4"
    assert result.rounds == 2
    assert result.messages[2:4] == (
        ToolResult("c1", "5"),
        ToolResult("c2", '{"norm":4}'),
    )
    second = model.requests[1]
    assert [spec.name for spec in second.tools] == ["add", "norm"]
    assert second.messages[1] == AssistantMessage("", result.messages[1].tool_calls)
    # words: the question, then the calls' arguments; then all of that and the results
    assert result.usage == Usage(1, 4 + 3) + Usage(1 + 7 + 1 + 1, 3)


def test_unknown_tools_bad_arguments_and_tool_errors_go_back_to_the_model():
    model = ScriptedModel(
        [
            ToolCall("c1", "multiply", {"a": 2}),
            ToolCall("c2", "add", "{not json"),
            ToolCall("c3", "add", {"a": "two"}),
            ToolCall("c4", "add", {"a": 1, "c": 2}),
            ToolCall("c5", "divide", {"a": 1, "b": 0}),
            "gave up",
        ]
    )
    result = stub.run(run_tools(["q"], "m", [add, divide]), model_handlers(model))
    errors = [m for m in result.messages if isinstance(m, ToolResult)]
    assert all(error.is_error for error in errors)
    assert "no tool named 'multiply'; the tools are: add, divide" in errors[0].content
    assert "the arguments of add were refused" in errors[1].content
    assert "a: Input should be a valid integer" in errors[2].content
    assert "c: Extra inputs are not permitted" in errors[3].content
    assert errors[4].content == "cannot divide by zero; pick another b"
    assert result.text == "gave up"


def test_a_tool_that_raises_another_error_fails_the_loop():
    def broken(a: int) -> int:
        "Broken."
        raise KeyError("bug")

    model = ScriptedModel([ToolCall("c1", "broken", {"a": 1})])
    with pytest.raises(KeyError):
        stub.run(run_tools(["q"], "m", [broken]), model_handlers(model))


def test_the_loop_stops_after_max_rounds():
    model = ScriptedModel([ToolCall(f"c{n}", "add", {"a": n}) for n in range(3)])
    with pytest.raises(ToolRoundsExceeded, match="max_rounds=2"):
        stub.run(run_tools(["q"], "m", [add], max_rounds=2), model_handlers(model))


def test_a_streamed_tool_loop_publishes_the_answers_chunks():
    model = ScriptedModel([ToolCall("c1", "add", {"a": 1}), "one it is"])
    result = stub.execute(run_tools(["q"], "m", [add], stream=True), model_handlers(model))
    assert chunks_of(result.effects) == ["one", " it", " is"]


class Ledger(Actor):
    def __init__(self):
        self.total = 0

    def receive(self, amount):
        self.total += amount
        return self.total


@program
def tool_asks_an_actor():
    ledger = yield free_spawn(Ledger, name="ledger")

    def deposit(amount: int) -> object:
        "Deposit into the ledger; gives the new balance."
        return ledger.free_ask(amount)

    return (yield run_tools(["deposit 5 then 7"], "m", [deposit]))


def ledger_model():
    return model_handlers(
        ScriptedModel(
            [
                [
                    ToolCall("c1", "deposit", {"amount": 5}),
                    ToolCall("c2", "deposit", {"amount": 7}),
                ],
                "balance 12",
            ]
        )
    )


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_a_tool_may_be_a_program_that_asks_an_actor_in_every_schedule(delivery):
    def check(run):
        assert run.value.text == "balance 12"
        assert [m.content for m in run.value.messages if isinstance(m, ToolResult)] == ["5", "12"]

    explore(
        tool_asks_an_actor, check, runs=30, handlers=ledger_model, delivery=delivery
    ).assert_passed()


def test_a_tool_that_asks_an_actor_runs_under_asyncio():
    result = run_asyncio(tool_asks_an_actor(), handlers=ledger_model())
    assert result.text == "balance 12"


# -- structured output ------------------------------------------------------------------------


def test_structured_output_sends_the_schema_and_validates_the_reply():
    model = ScriptedModel(['{"x": 3}'])
    value = stub.run(complete_structured(["where?"], "m", Point), model_handlers(model))
    assert value == Point(x=3)
    form = model.requests[0].response_format
    assert isinstance(form, JsonSchema)
    assert form.name == "Point"
    assert form.schema["required"] == ["x"]


def test_structured_output_sends_the_errors_back_and_gives_up_after_the_retries():
    model = ScriptedModel(['{"x": "three"}', "not json", '{"x": 3, "y": 4}'])
    value = stub.run(complete_structured(["where?"], "m", Point, retries=2), model_handlers(model))
    assert value == Point(x=3, y=4)
    feedback = model.requests[1].messages[-1]
    assert isinstance(feedback, UserMessage)
    assert "x: Input should be a valid integer" in feedback.content
    assert model.requests[1].messages[-2] == AssistantMessage('{"x": "three"}')
    failing = ScriptedModel(['{"x": "a"}', '{"x": "b"}'])
    with pytest.raises(OutputValidationFailed, match="after 2 tries") as caught:
        stub.run(complete_structured(["q"], "m", Point, retries=1), model_handlers(failing))
    assert caught.value.text == '{"x": "b"}'
    assert caught.value.errors[0]["loc"] == ("x",)


def test_structured_output_takes_any_type_pydantic_validates():
    model = ScriptedModel(["[1, 2, 3]"])
    assert stub.run(complete_structured(["q"], "m", list[int]), model_handlers(model)) == [1, 2, 3]


# -- memory -----------------------------------------------------------------------------------


def test_ring_buffer_memory_keeps_the_system_message_and_drops_orphan_tool_results():
    memory = RingBufferMemory(3, system=SystemMessage("sys"))
    calls = (ToolCall("c1", "add", {"a": 1}),)
    memory.add(UserMessage("q"), AssistantMessage("", calls), ToolResult("c1", "1"))
    assert memory.messages[0] == SystemMessage("sys")
    assert len(memory) == 3
    memory.add(AssistantMessage("one"), UserMessage("next"))  # drops the question and call...
    # ...and the result of the dropped call
    assert memory.messages == (SystemMessage("sys"), AssistantMessage("one"), UserMessage("next"))
    memory.clear()
    assert memory.messages == (SystemMessage("sys"),)
    with pytest.raises(InvalidArgument, match=r"RingBufferMemory\.add takes messages"):
        memory.add("hi")


# -- a conversation with tools, a rate limit and a flaky provider, explored -----------------


def flaky_ledger_model(log):
    """A provider that fails where the simulator injects a fault (``maybe_fault``), behind a
    retry and a rate limit of 3 requests a minute; ``log`` records each request it answered."""

    @program
    def answer(request):
        log.append("try")
        yield maybe_fault("provider")
        log.append(len(request.messages))
        if any(isinstance(message, ToolResult) for message in request.messages):
            return Completion("balance 12")
        return Completion(
            "", (ToolCall("c1", "deposit", {"amount": 5}), ToolCall("c2", "deposit", {"amount": 7}))
        )

    retried = with_retry(
        FunctionModel(answer),
        attempts=10,
        retry_on=lambda error: isinstance(error, InjectedFault) or is_retryable(error),
    )
    return model_handlers(with_rate_limit(retried, requests_per_minute=3))


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_a_conversation_with_tools_a_rate_limit_and_a_flaky_provider_in_every_schedule(delivery):
    logs: list[list[int]] = []

    def handlers():
        logs.append([])
        return flaky_ledger_model(logs[-1])

    def check(run):
        # the provider's faults are retried; the tools ran once each, in order
        assert run.value.text == "balance 12"
        assert [m.content for m in run.value.messages if isinstance(m, ToolResult)] == ["5", "12"]
        answered = [entry for entry in logs[-1] if entry != "try"]
        assert answered == [1, 4]  # one answered request a round, whatever failed before

    report = explore(
        tool_asks_an_actor,
        check,
        runs=30,
        handlers=handlers,
        delivery=delivery,
        faults=Faults(points=0.4),
    )
    report.assert_passed()
    tries = sum(log.count("try") for log in logs)
    assert tries > 2 * len(logs)  # the provider did fail, and was retried
