"""Agent grains (issue 16): a class both a `Grain` and an `AgentActor` streams its tasks
through `AgentSystem.ask_stream(grain_ref(directory, key), task)`, keeps its state across
deactivations, and runs as a program under every interpreter; a plain grain streamed is
refused before it is activated."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from playbill import ActorStopped, InvalidArgument, free_spawn, program, sleep
from playbill.actors import (
    AfterIdle,
    Deactivate,
    GetRoutees,
    Grain,
    InMemoryStore,
    VirtualActors,
    grain_ref,
)
from playbill.agents import AgentActor, AgentSystem, StreamEvent, StreamResult, Task, TaskStatus
from tests.agents.support import INTERPRETERS, perform


class Notes(Grain, AgentActor[str, list]):
    """Streams each word of a note, then keeps the note."""

    def initial_state(self) -> list[str]:
        return []

    @program
    def execute(self, note: str) -> Any:
        for word in note.split():
            yield self.chunk(word)
        self.state.append(note)
        return list(self.state)


class AgentFirstNotes(AgentActor[str, list], Grain):  # the other order of the bases
    def initial_state(self) -> list[str]:
        return []

    @program
    def execute(self, note: str) -> Any:
        yield self.chunk(note)
        self.state.append(note)
        return list(self.state)


class Plain(Grain):
    def receive(self, message: Any) -> Any:
        return message


def by_note(task: Task[Any]) -> str:
    return str(task.input)


def kinds_and_data(items: list[Any]) -> list[tuple[str, Any]]:
    return [(item.event.kind.value, item.event.data) for item in items]


@pytest.mark.parametrize("grain", [Notes, AgentFirstNotes])
def test_a_streamed_ask_to_an_agent_grain_gives_its_chunks_then_the_result(arun, grain):
    async def main() -> Any:
        async with AgentSystem("app") as system:
            notes = system.actors.spawn(VirtualActors(grain, key=by_note), "notes")
            alice = grain_ref(notes, "alice")
            items = [item async for item in system.ask_stream(alice, Task("a b"))]
            return items, await notes.ask(GetRoutees())

    items, active = arun(main())
    assert [type(item) for item in items[:-1]] == [StreamEvent] * (len(items) - 1)
    words = [("chunk", "a"), ("chunk", "b")] if grain is Notes else [("chunk", "a b")]
    assert kinds_and_data(items[:-1]) == [("started", None), *words, ("completed", ["a b"])]
    assert {item.event.agent_path for item in items[:-1]} == {"/app/notes/alice"}
    assert isinstance(items[-1], StreamResult)
    assert items[-1].result.status is TaskStatus.COMPLETED
    assert items[-1].result.output == ["a b"]
    assert [ref.path for ref in active] == ["/app/notes/alice"]  # activated by the stream


def test_an_agent_grain_keeps_its_state_across_deactivation_and_reactivation(arun):
    store = InMemoryStore()

    async def main() -> Any:
        async with AgentSystem("app") as system:
            notes = system.actors.spawn(VirtualActors(Notes, key=by_note, store=store), "notes")
            alice = grain_ref(notes, "alice")
            first = [item async for item in system.ask_stream(alice, Task("one"))]
            assert await notes.ask(Deactivate("alice")) is True
            while await notes.ask(GetRoutees()):  # until the incarnation has saved and gone
                await asyncio.sleep(0.001)
            saved = dict(store.states)
            second = [item async for item in system.ask_stream(alice, Task("two"))]
            bob = [item async for item in system.ask_stream(grain_ref(notes, "bob"), "three")]
            return first[-1].result.output, saved, second, bob[-1].result.output

    first, saved, second, bob = arun(main())
    assert first == ["one"]
    assert saved == {("Notes", "alice"): ["one"]}
    assert kinds_and_data(second[:-1]) == [
        ("started", None),
        ("chunk", "two"),
        ("completed", ["one", "two"]),
    ]
    assert second[-1].result.output == ["one", "two"]  # reloaded by the fresh incarnation
    assert bob == ["three"]  # another key, its own state


def test_streaming_to_a_plain_grain_is_refused_before_it_is_activated(arun):
    async def main() -> Any:
        async with AgentSystem("app") as system:
            plains = system.actors.spawn(VirtualActors(Plain, key=str), "plains")
            with pytest.raises(InvalidArgument) as refused:
                system.ask_stream(grain_ref(plains, "x"), Task("hi"))
            return str(refused.value), await plains.ask(GetRoutees()), system.running

    message, active, running = arun(main())
    assert "/app/plains/x is a grain of Plain, a Grain but not an AgentActor" in message
    assert "class Plain(Grain, AgentActor[I, O])" in message
    assert active == ()  # nothing was activated to be refused
    assert running == ()


def test_streaming_to_a_plain_grain_built_by_a_factory_is_refused_naming_it(arun):
    async def main() -> Any:
        async with AgentSystem("app") as system:
            plains = system.actors.spawn(VirtualActors(lambda key: Plain(key), key=str), "p")
            with pytest.raises(InvalidArgument, match="/app/p/y is a grain of Plain, a Grain"):
                system.ask_stream(grain_ref(plains, "y"), Task("hi"))
            return system.running

    assert arun(main()) == ()


@program
def notes_twice(store: InMemoryStore, idle: float) -> Any:
    notes = yield free_spawn(
        VirtualActors(Notes, key=by_note, store=store, stop_policy=AfterIdle(idle)),
        name="notes",
    )
    alice = grain_ref(notes, "alice")
    first = yield alice.free_ask(Task("a b"))
    yield sleep(idle * 20)  # idle: it deactivates, saving its state
    second = yield alice.free_ask(Task("c"))
    return first.output, second.output


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_agent_grain_streams_and_reloads_its_state_as_a_program_everywhere(interpreter):
    store = InMemoryStore()
    outcome = perform(notes_twice(store, 0.05), interpreter)

    assert outcome.error is None
    assert outcome.value == (["a b"], ["a b", "c"])  # the second incarnation reloaded it
    assert [(event.kind.value, event.data) for event in outcome.events] == [
        ("started", None),
        ("chunk", "a"),
        ("chunk", "b"),
        ("completed", ["a b"]),
        ("started", None),
        ("chunk", "c"),
        ("completed", ["a b", "c"]),
    ]
    assert {event.agent_path for event in outcome.events} == {"/app/notes/alice"}
    assert store.states == {("Notes", "alice"): ["a b", "c"]}  # saved when it stopped


def test_streaming_to_a_grain_of_a_stopped_directory_fails_as_to_a_stopped_actor(arun):
    async def main() -> Any:
        async with AgentSystem("app") as system:
            notes = system.actors.spawn(VirtualActors(Notes, key=by_note), "notes")
            alice = grain_ref(notes, "alice")
            notes.stop()
            while notes.path in [ref.path for ref in system.actors.children]:
                await asyncio.sleep(0.001)
            return [item async for item in system.ask_stream(alice, Task("late"))]

    [only] = arun(main())  # no InvalidArgument calling the stopped directory "not an agent"
    assert isinstance(only, StreamResult)
    assert only.result.status is TaskStatus.FAILED
    assert isinstance(only.result.error, ActorStopped)
    assert "/app/notes is stopped" in str(only.result.error)
