"""SQLite-backed cache and memory: every access a `blocking` effect, kept across restarts."""

import sqlite3
import threading
from contextlib import closing

import pytest

from playbill import InvalidArgument, program, simulate
from playbill.agents import AgentSystem, ChatAgent, ask_agent
from playbill.effects import Blocking
from playbill.interpreters import run as run_asyncio
from playbill.interpreters import stub
from playbill.models import (
    AssistantMessage,
    Completion,
    FinishReason,
    FunctionModel,
    RingBufferMemory,
    ScriptedModel,
    SQLiteCache,
    SQLiteMemory,
    SystemMessage,
    ToolCall,
    ToolResult,
    Usage,
    UserMessage,
    complete,
    model_handlers,
    stream_complete,
    with_cache,
)
from tests.models.support import chunks_of


def echo(request):
    return f"{request.model}: {request.messages[-1].content}"


def twice():
    return complete(["hi"], "m").then(complete(["hi"], "m"))


# -- cache ------------------------------------------------------------------------------------


def test_the_sqlite_cache_answers_a_repeat_through_blocking_effects_under_the_stub(tmp_path):
    model = FunctionModel(echo)
    run = stub.execute(twice(), model_handlers(with_cache(model, SQLiteCache(tmp_path / "c.db"))))
    assert run.unwrap().text == "m: hi"
    assert model.calls == 1
    # a get (miss), a put, a get (hit): all on the blocking effect, none inline
    assert sum(isinstance(effect, Blocking) for effect in run.effects) == 3


def test_the_sqlite_cache_survives_a_restart_on_the_same_file(tmp_path):
    path = tmp_path / "replies.db"
    first = FunctionModel(echo)
    stub.run(complete(["hi"], "m"), model_handlers(with_cache(first, SQLiteCache(path))))
    second = FunctionModel(lambda request: "never asked")
    cache = SQLiteCache(path)
    handlers = model_handlers(with_cache(second, cache))
    assert stub.run(complete(["hi"], "m"), handlers).text == "m: hi"
    assert (second.calls, len(cache)) == (0, 1)
    streamed = stub.execute(stream_complete(["hi"], "m"), handlers)
    assert chunks_of(streamed.effects) == ["m:", " hi"]
    assert second.calls == 0
    with closing(sqlite3.connect(path)) as connection, connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_sqlite_cache_keeps_every_field_of_a_reply(tmp_path):
    reply = Completion(
        "calling",
        (ToolCall("c1", "search", {"q": "x"}),),
        Usage(7, 3),
        FinishReason.TOOL_CALLS,
        "big",
    )
    stub.run(SQLiteCache(tmp_path / "c.db").put("k", reply))
    assert stub.run(SQLiteCache(tmp_path / "c.db").get("k")) == reply


def test_the_sqlite_cache_works_under_the_simulator(tmp_path):
    path = tmp_path / "sim.db"

    def handlers():
        return model_handlers(with_cache(FunctionModel(echo, latency=1), SQLiteCache(path)))

    first = simulate(twice(), handlers=handlers)
    assert (first.value.text, first.clock) == ("m: hi", 1.0)
    again = simulate(twice(), handlers=handlers)  # a new run, the file already holds the reply
    assert (again.value.text, again.clock) == ("m: hi", 0.0)


def test_the_sqlite_cache_runs_off_the_event_loop_under_asyncio(tmp_path):
    threads = []

    class Recording(SQLiteCache):
        def _get(self, key):
            threads.append(threading.get_ident())
            return super()._get(key)

    model = FunctionModel(echo)

    @program
    def body():
        loop_thread = threading.get_ident()
        first = yield complete(["hi"], "m")
        second = yield complete(["hi"], "m")
        return loop_thread, first.text, second.text

    handlers = model_handlers(with_cache(model, Recording(tmp_path / "a.db")))
    loop_thread, first, second = run_asyncio(body(), handlers=handlers)
    assert (first, second, model.calls) == ("m: hi", "m: hi", 1)
    assert len(threads) == 2
    assert loop_thread not in threads


@pytest.mark.parametrize("path", ["", ":memory:", 3, None])
def test_a_sqlite_cache_refuses_a_path_that_is_not_a_file(path):
    with pytest.raises(InvalidArgument, match=r"SQLiteCache path must be .* got"):
        SQLiteCache(path)


# -- memory -----------------------------------------------------------------------------------


def test_sqlite_memory_keeps_the_ring_buffer_window_in_the_file_across_restarts(tmp_path):
    path = tmp_path / "chat.db"
    system = SystemMessage("Be brief.")
    ring = RingBufferMemory(3, system=system)
    stored = SQLiteMemory(path, 3, system=system)
    turns = [
        UserMessage("one"),
        AssistantMessage("", (ToolCall("c1", "search", {"q": "x"}),)),
        ToolResult("c1", "found", is_error=False),
        AssistantMessage("two"),
        UserMessage("three"),
    ]
    for message in turns:
        ring.add(message)
        run = stub.execute(stored.remember(message))
        assert any(isinstance(effect, Blocking) for effect in run.effects)
        # the same window as the ring buffer, read back by a fresh memory on the same file
        reopened = SQLiteMemory(path, 3, system=system)
        assert stub.run(reopened.recall()) == ring.messages
    assert len(stored) == len(ring) == 2  # the tool result went with its call
    assert SQLiteMemory(path, 3, conversation="other").messages == ()


def test_sqlite_memory_clear_and_refusals(tmp_path):
    memory = SQLiteMemory(tmp_path / "m.db", 5)
    memory.add(UserMessage("hi"))
    memory.extend([AssistantMessage("hello")])
    assert [message.content for message in memory.messages] == ["hi", "hello"]
    memory.clear()
    assert memory.messages == ()
    with pytest.raises(InvalidArgument, match="SQLiteMemory max_messages"):
        SQLiteMemory(tmp_path / "m.db", 0)
    with pytest.raises(InvalidArgument, match="SQLiteMemory conversation"):
        SQLiteMemory(tmp_path / "m.db", 5, conversation="")
    with pytest.raises(InvalidArgument, match=r"SQLiteMemory\.add takes messages"):
        memory.remember("not a message")


def chat_agent_on(path, replies, seen):
    class Remembering(ChatAgent):
        model_name = "small"
        system_prompt = "Remember."

        def make_model(self):
            seen["script"] = ScriptedModel(replies)
            return seen["script"]

        def make_memory(self):
            return SQLiteMemory(path, 20, system=SystemMessage(self.system_prompt))

    return Remembering


def test_a_chat_agent_remembers_across_two_systems_on_the_same_file(tmp_path):
    path = tmp_path / "agent.db"
    first, second = {}, {}
    result = simulate(ask_agent(chat_agent_on(path, ["Hello Ada."], first), "I am Ada."))
    assert result.value == "Hello Ada."
    # a new system, a new actor: its memory is the file's
    again = simulate(ask_agent(chat_agent_on(path, ["You are Ada."], second), "Who am I?"))
    assert again.value == "You are Ada."
    assert second["script"].requests[0].messages == (
        SystemMessage("Remember."),
        UserMessage("I am Ada."),
        AssistantMessage("Hello Ada."),
        UserMessage("Who am I?"),
    )


def test_a_chat_agent_reads_its_sqlite_memory_off_the_event_loop_under_asyncio(tmp_path, arun):
    path = tmp_path / "live.db"
    threads = []

    class Recording(SQLiteMemory):
        def _messages(self):
            threads.append(threading.get_ident())
            return super()._messages()

    class Live(chat_agent_on(path, ["first", "second"], {})):
        def make_memory(self):
            return Recording(path, 20)

    async def main():
        async with AgentSystem("live") as system:
            run = system.run(Live, "a")
            _ = [event async for event in run]
            return run.result.output, threading.get_ident()

    output, loop_thread = arun(main())
    assert output == "first"
    assert threads
    assert loop_thread not in threads
    assert [message.content for message in SQLiteMemory(path, 20).messages] == ["a", "first"]
