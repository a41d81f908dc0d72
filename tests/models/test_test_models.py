"""ScriptedModel and FunctionModel: deterministic handlers under the stub, the simulator and
asyncio."""

import pytest

from playbill import Actor, InvalidArgument, ProgramError, free_spawn, now, program
from playbill.interpreters import ActorSystem, explore, simulate, stub
from playbill.models import (
    Chunks,
    Completion,
    FinishReason,
    FunctionModel,
    ScriptedModel,
    ScriptExhausted,
    StreamInterrupted,
    TokenChunk,
    ToolCall,
    Usage,
    complete,
    model_handlers,
    stream_complete,
)
from tests.models.support import chunks_of


def test_a_scripted_model_answers_in_order_text_tool_calls_and_completions():
    given = Completion("as is", usage=Usage(7, 9), model="other")
    model = ScriptedModel(["two words", ToolCall("c1", "add", {"a": 1}), given])
    handlers = model_handlers(model)
    first = stub.run(complete(["one two three"], "m"), handlers)
    assert (first.text, first.usage, first.model) == ("two words", Usage(3, 2), "m")
    second = stub.run(complete(["add"], "m"), handlers)
    assert second.tool_calls == (ToolCall("c1", "add", {"a": 1}),)
    assert second.finish_reason is FinishReason.TOOL_CALLS
    assert stub.run(complete(["x"], "m"), handlers) is given
    assert [request.messages[-1].content for request in model.requests] == [
        "one two three",
        "add",
        "x",
    ]


def test_a_streamed_reply_is_published_in_pieces_then_given():
    model = ScriptedModel(["Hello big world", Chunks(["He", "llo"])])
    handlers = model_handlers(model)
    result = stub.execute(stream_complete(["hi"], "m"), handlers)
    assert chunks_of(result.effects) == ["Hello", " big", " world"]
    assert result.unwrap().text == "Hello big world"
    indices = [effect.event.index for effect in result.effects if hasattr(effect, "event")]
    assert indices == [0, 1, 2]
    second = stub.execute(stream_complete(["hi"], "m"), handlers)
    assert chunks_of(second.effects) == ["He", "llo"]
    assert second.unwrap().text == "Hello"


def test_a_scripted_stream_can_drop_half_way_and_a_scripted_error_is_raised():
    dropped = StreamInterrupted("connection reset", chunks_received=2)
    model = ScriptedModel([Chunks(["a", "b"], error=dropped), RuntimeError("boom")])
    result = stub.execute(stream_complete(["hi"], "m"), model_handlers(model))
    assert chunks_of(result.effects) == ["a", "b"]
    assert result.outcome.failure() is dropped
    with pytest.raises(RuntimeError, match="boom"):
        stub.run(complete(["hi"], "m"), model_handlers(model))


def test_a_scripted_model_past_its_script_says_what_it_answered():
    model = ScriptedModel(["only"])
    stub.run(complete(["first"], "m"), model_handlers(model))
    with pytest.raises(ScriptExhausted, match=r"no reply left for request 1(.|\n)*'first'"):
        stub.run(complete(["second"], "m"), model_handlers(model))


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: ScriptedModel("hello"), "ScriptedModel replies"),
        (lambda: ScriptedModel(["ok", 42]), r"ScriptedModel replies\[1\]"),
        (lambda: ScriptedModel([], latency=-1), "ScriptedModel latency"),
        (lambda: FunctionModel("not a function"), "FunctionModel takes a function"),
        (lambda: FunctionModel(str, latency=float("nan")), "FunctionModel latency"),
        (lambda: Chunks("abc"), "Chunks pieces"),
        (lambda: Chunks(["a"], error="bad"), "Chunks error"),
        (lambda: model_handlers("gpt"), "model_handlers"),
    ],
)
def test_bad_test_model_options_are_refused_naming_the_option(build, option):
    with pytest.raises(InvalidArgument, match=option):
        build()


def test_a_function_model_computes_replies_from_the_request_even_as_a_program():
    @program
    def timed(request):
        at = yield now()
        return f"{request.model} at {at}"

    model = FunctionModel(timed, latency=2.5)
    assert stub.run(complete(["x"], "m"), model_handlers(model)).text == "m at 2.5"
    streamed = stub.execute(stream_complete(["x"], "m"), model_handlers(model))
    assert chunks_of(streamed.effects) == ["m", " at", " 2.5"]
    bad = FunctionModel(lambda request: 42)
    with pytest.raises(InvalidArgument, match="must return a Completion, a str"):
        stub.run(complete(["x"], "m"), model_handlers(bad))
    assert model.calls == 2


def test_an_async_model_is_refused_by_the_stub_saying_how_to_write_it():
    async def provider(request):
        return Completion("hi")

    with pytest.raises(ProgramError, match="no event loop"):
        stub.run(complete(["x"], "m"), model_handlers(provider))


class Chatter(Actor):
    def receive(self, message):
        return stream_complete([message], "m").map(lambda reply: reply.text)


@program
def ask_chatter():
    chatter = yield free_spawn(Chatter, name="chatter")
    first = yield chatter.free_ask("one")
    second = yield chatter.free_ask("two")
    return first, second


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_models_answer_actors_under_the_simulator_in_every_schedule(delivery):
    def handlers():
        return model_handlers(ScriptedModel(["first reply", "second reply"]))

    result = simulate(ask_chatter(), seed=3, handlers=handlers, delivery=delivery)
    assert result.value == ("first reply", "second reply")
    emitted = [event.event for event in result.events if hasattr(event, "event")]
    assert [chunk.text for chunk in emitted] == ["first", " reply", "second", " reply"]
    assert all(isinstance(chunk, TokenChunk) for chunk in emitted)
    explore(
        ask_chatter,
        lambda run: run.value == ("first reply", "second reply"),
        runs=30,
        handlers=handlers,
        delivery=delivery,
    ).assert_passed()


def test_models_answer_actors_under_asyncio_and_chunks_reach_the_event_stream(arun):
    async def main():
        handlers = model_handlers(ScriptedModel(["first reply", "second reply"]))
        async with ActorSystem("chat", handlers=handlers) as system:
            events = system.events()
            value = await system.run(ask_chatter())
            chunks = [event.event.text for event in events.drain() if hasattr(event, "event")]
            return value, chunks

    value, chunks = arun(main())
    assert value == ("first reply", "second reply")
    assert chunks == ["first", " reply", "second", " reply"]
