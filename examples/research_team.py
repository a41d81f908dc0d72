"""A research team of agents: watched live under asyncio, then explored by the simulator.

A lead agent delegates a topic to three workers at once and collects what they find. Two are
ephemeral (`ask_agent`); the third, the statistician, is a long-lived agent under supervision,
and flaky: the search API it calls drops its first connection, so its first task fails, its
supervisor restarts it, and the lead asks again. (Its supervisor is the system's guardian, not
the lead: an actor decides on its children's failures between its own messages, and the lead
is in the middle of one, waiting on the statistician.) Every worker files its finding in
a shared notes actor by reading the notes and writing them back with one more line: a
read-modify-write, the seeded bug.

Under asyncio the workers finish milliseconds apart, so their writes never overlap and every
note is kept; the run prints as a live tree of events. The simulator then explores the same
program with message delays (each a recorded choice): it finds a schedule where a write
arrives after another worker read the notes, so a finding is lost, shrinks it, and replays it
from its schedule string.

    python examples/research_team.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playbill import (
    Actor,
    Faults,
    explore,
    free_ask,
    free_spawn,
    free_tell,
    program,
    pure,
    replay,
    sleep,
)
from playbill.agents import (
    AgentActor,
    AgentSystem,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskResult,
    ask_agent,
    sequence_agents,
    task_tree,
)


class Notes(Actor):
    """The team's shared notes: read them all, or write them all."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def receive(self, message: Any) -> Any:
        match message:
            case "read":
                return list(self.lines)
            case ("write", lines):
                self.lines = lines
        return None


class SearchApi(Actor):
    """A search service that drops the first connection it gets."""

    def __init__(self) -> None:
        self.calls = 0

    def receive(self, query: Any) -> Any:
        self.calls += 1
        return None if self.calls == 1 else f"{self.calls - 1} result(s) for {query}"


class Worker(AgentActor[tuple, str]):  # type: ignore[type-arg]
    """Researches a topic for ``delay`` seconds, streams its finding word by word, and files
    it in the notes: read them, then write them back with the finding added."""

    @program
    def execute(self, job: tuple[Any, ...]) -> Any:
        notes, topic, delay = job[:3]
        yield self.progress(f"researching {topic}")
        yield sleep(delay)
        finding = yield self.find(topic, job)
        for word in finding.split():
            yield self.chunk(word)
        seen = yield free_ask(notes, "read")
        yield free_tell(notes, ("write", [*seen, finding]))  # the bug: not one atomic step
        return finding

    def find(self, topic: str, job: tuple[Any, ...]) -> Any:
        return pure(f"{topic} matters")


class Statistician(Worker):
    """A worker that needs the search API, which may drop the connection."""

    @program
    def find(self, topic: str, job: tuple[Any, ...]) -> Any:
        answer = yield free_ask(job[3], topic)
        if answer is None:
            raise ConnectionError("the search API dropped the connection")
        return f"{topic} has numbers"


def _output(result: TaskResult[Any]) -> Any:
    return result.output


class Lead(AgentActor[tuple, dict]):  # type: ignore[type-arg]
    """Delegates a topic to three workers at once: two it spawns for the task, and the
    long-lived statistician it is given, which it asks again once if it fails."""

    @program
    def execute(self, brief: tuple[str, Any]) -> Any:
        topic, statistician = brief
        notes = yield free_spawn(Notes, name="notes")
        api = yield free_spawn(SearchApi, name="search-api")
        yield self.progress("delegating to three workers")
        numbers = Task((notes, "statistics", 0.03, api))
        asked = free_ask(statistician, numbers).map(_output)
        retried = asked.recover_with(
            lambda error: self.progress(f"statistician failed ({error}); asking again").then(
                free_ask(statistician, numbers).map(_output)
            )
        )
        findings = yield sequence_agents(
            [
                ask_agent(Worker, (notes, f"{topic} history", 0.01), name="historian"),
                ask_agent(Worker, (notes, f"{topic} economics", 0.02), name="economist"),
                retried,
            ]
        )
        kept = yield free_ask(notes, "read")
        return {"findings": list(findings), "notes kept": len(kept)}


# -- under asyncio: a live event tree ------------------------------------------------------------


def _line(event: TaskEvent, depth: int) -> str:
    name = event.agent_path.rsplit("/", 1)[-1]
    data = "" if event.data is None or event.kind is TaskEventKind.COMPLETED else f" {event.data}"
    if event.kind is TaskEventKind.FAILED:
        data = f" {type(event.data).__name__}: {event.data}"
    return f"{'   ' * depth}{name} {event.kind.value}{data}"


async def watch(topic: str, printer: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the team under asyncio, printing each event as it arrives, indented by nesting."""
    depths: dict[str, int] = {}
    events: list[TaskEvent] = []
    async with AgentSystem("app") as system:
        # a long-lived agent, supervised by the system's guardian: restarted when it fails
        statistician = system.spawn(Statistician, "statistician")
        run = system.run(Lead, (topic, statistician), run_id="r1")
        async for event in run:
            events.append(event)
            depth = depths.setdefault(event.task_id, depths.get(event.parent_task_id or "", -1) + 1)
            printer(f"   {_line(event, depth)}")
        assert run.result is not None
        output: dict[str, Any] = run.result.output
    [root] = task_tree(events)
    statuses = [span.status.value for span in root.children]
    printer(f"   -> {output['notes kept']} of 3 notes kept; tasks sent by the lead: {statuses}")
    return {"output": output, "statuses": statuses}


# -- under the simulator: the seeded bug, found and replayed -------------------------------------


@program
def team() -> Any:
    """The whole team as a program, for the simulator."""
    statistician = yield free_spawn(Statistician, name="statistician")
    return (yield ask_agent(Lead, ("actors", statistician), name="lead"))


def every_note_kept(result: Any) -> bool:
    """The check: each of the three findings is in the notes."""
    return result.value is not None and result.value["notes kept"] == 3


def hunt(printer: Callable[[str], None] = print) -> dict[str, Any]:
    """Explore the team with message delays; shrink and replay the lost note it finds."""
    found = explore(team, every_note_kept, runs=300, seed=1, faults=Faults(delay=0.5))
    if found.minimal is None:
        printer("   no schedule lost a note")
        return {"found": False}
    minimal = found.minimal
    schedule = str(minimal.schedule)
    printer(f"   run {found.runs} lost a note: {minimal.value['notes kept']} of 3 kept")
    printer(f"   minimal schedule {schedule}")
    to_notes = ("ask /app/lead/notes", "tell /app/lead/notes", "fault: delay")
    for line in minimal.trace:  # the reads and writes of the notes, and the delayed write
        by_notes = line.actor.endswith("/notes") and line.event.startswith(("reply", "delayed"))
        if by_notes or line.event.startswith(to_notes):
            printer(f"     {line}")
    again = replay(team(), schedule)
    printer(
        f"   replayed from the string: {again.value['notes kept']} of 3 kept, same trace: "
        f"{again.trace == minimal.trace}"
    )
    return {
        "found": True,
        "kept": minimal.value["notes kept"],
        "replayed": again.value["notes kept"],
        "same trace": again.trace == minimal.trace,
    }


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    """Watch the team live under asyncio, then hunt its bug in the simulator."""
    printer("   under asyncio, as the events arrive:")
    live = asyncio.run(watch("actors", printer))
    printer("   in the simulator, exploring message delays:")
    hunted = hunt(printer)
    return {"asyncio": live, "simulator": hunted}


if __name__ == "__main__":
    main()
