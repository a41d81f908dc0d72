"""playbill.opentelemetry: the event stream as spans (parent-linked by the events' own ids)
and metrics, checked with the OpenTelemetry SDK's in-memory exporter and reader."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip(
    "opentelemetry.sdk", reason="needs the OpenTelemetry SDK: pip install -e '.[dev]'"
)

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from playbill import Actor, ActorSystem, Directive, OneForOne, program, simulate, sleep
from playbill.agents import AgentActor, ask_agent, traverse_agents
from playbill.effects import InvalidArgument
from playbill.flow import step
from playbill.interpreters import stub
from playbill.models import FunctionModel, Price, complete, model_handlers
from playbill.opentelemetry import Telemetry, with_telemetry


class Recorded:
    def __init__(self, **options: Any) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.telemetry = Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
            **options,
        )

    def finished(self, name: str | None = None) -> list[ReadableSpan]:
        return [
            span for span in self.spans.get_finished_spans() if name is None or span.name == name
        ]

    def metric(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """Each data point of the metric ``name``: its attributes → its value (a sum, or a
        histogram's count)."""
        data = self.reader.get_metrics_data()
        points: dict[frozenset[tuple[str, Any]], Any] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", None)
                            points[frozenset(point.attributes.items())] = (
                                point.count if value is None else value
                            )
        return points


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


# -- flows ------------------------------------------------------------------------------------


def test_flow_node_spans_nest_as_the_flow_ran_with_virtual_times():
    recorded = Recorded()
    flow = step(str.split) >> step(len)
    result = simulate(flow.to_program("to be or not"))
    recorded.telemetry.observe_all(result.events)
    [then] = recorded.finished("playbill.flow.then")
    steps = recorded.finished("playbill.flow.step")
    assert [span.attributes["playbill.flow.label"] for span in steps] == ["str.split", "len"]
    assert all(parent_of(span) == then.context.span_id for span in steps)
    assert all(span.context.trace_id == then.context.trace_id for span in steps)
    assert then.attributes["playbill.outcome"] == "completed"
    assert (
        recorded.metric("playbill.flow.node.duration")[
            frozenset({("playbill.flow.node", "step"), ("playbill.outcome", "completed")})
        ]
        == 2
    )


def test_a_failed_flow_node_span_has_an_error_status_and_the_exception():
    recorded = Recorded()

    def broken(text: str) -> str:
        raise ValueError("no words")

    result = simulate(step(broken).to_program("x"))
    recorded.telemetry.observe_all(result.events)
    [span] = recorded.finished("playbill.flow.step")
    assert span.status.status_code is StatusCode.ERROR
    assert "ValueError: no words" in (span.status.description or "")
    assert [event.name for event in span.events] == ["exception"]
    assert span.attributes["playbill.outcome"] == "failed"


# -- agents -----------------------------------------------------------------------------------


class Summarizer(AgentActor[str, str]):
    @program
    def execute(self, topic: str) -> Any:
        yield sleep(1)
        return f"notes on {topic}"


class Researcher(AgentActor[str, str]):
    @program
    def execute(self, topic: str) -> Any:
        yield self.progress("searching")
        notes = yield ask_agent(Summarizer, topic)
        others = yield traverse_agents(Summarizer, ["x", "y"])
        return f"{notes}; {', '.join(others)}"


def test_agent_task_spans_nest_under_the_task_that_sent_them():
    recorded = Recorded()
    result = simulate(ask_agent(Researcher, "actors"), seed=1)
    recorded.telemetry.observe_all(result.events)
    tasks = recorded.finished("playbill.task")
    [root] = [
        span
        for span in tasks
        if str(span.attributes["playbill.agent.path"]).rsplit("/", 1)[1].startswith("Researcher")
    ]
    children = [span for span in tasks if span is not root]
    assert len(children) == 3
    assert all(parent_of(child) == root.context.span_id for child in children)
    # the root task nests under its agent's actor span
    actors = {span.context.span_id: span for span in recorded.finished("playbill.actor")}
    assert (
        actors[parent_of(root)].attributes["playbill.actor.path"]
        == root.attributes["playbill.agent.path"]
    )
    assert [event.name for event in root.events] == ["progress"]
    # virtual time: one summary (1 s), then two at once (1 s)
    assert (root.end_time - root.start_time) == 2_000_000_000
    assert recorded.metric("playbill.tasks") == {frozenset({("playbill.outcome", "completed")}): 4}
    assert recorded.metric("playbill.task.duration") == {
        frozenset({("playbill.outcome", "completed")}): 4
    }


class Broken(AgentActor[str, str]):
    @program
    def execute(self, topic: str) -> Any:
        yield sleep(1)
        raise RuntimeError("the model is down")


def test_a_failed_task_span_has_an_error_status_and_counts_as_failed():
    recorded = Recorded(actor_spans=False)
    result = simulate(ask_agent(Broken, "actors"))
    recorded.telemetry.observe_all(result.events)
    assert recorded.finished("playbill.actor") == []
    [task] = recorded.finished("playbill.task")
    assert task.status.status_code is StatusCode.ERROR
    assert task.attributes["playbill.outcome"] == "failed"
    assert task.parent is None
    assert recorded.metric("playbill.tasks") == {frozenset({("playbill.outcome", "failed")}): 1}


# -- actors under asyncio -----------------------------------------------------------------------


class Flaky(Actor):
    def receive(self, message: Any) -> Any:
        if message == "crash":
            raise ConnectionError("the upstream dropped the connection")
        return message


class Supervisor(Actor):
    supervision = OneForOne(lambda error: Directive.RESTART, max_restarts=3, within=10.0)

    def on_start(self) -> None:
        self.context.spawn(Flaky, "flaky")

    def receive(self, message: Any) -> Any:
        return None


def test_attached_to_a_live_system_failures_restarts_and_dead_letters_are_observed(arun):
    recorded = Recorded()

    async def scenario() -> None:
        async with ActorSystem("app") as system:
            attached = recorded.telemetry.attach(system)
            system.spawn(Supervisor, "supervisor")
            await asyncio.sleep(0.01)
            flaky = system.get_actor("/app/supervisor/flaky")
            flaky.tell("crash")
            assert await flaky.ask("ping") == "ping"
            flaky.stop()
            await asyncio.sleep(0.01)
            flaky.tell("too late")
        await attached.detach()  # the shutdown's events observed: every actor stopped

    arun(scenario())
    actors = {
        span.attributes["playbill.actor.path"]: span for span in recorded.finished("playbill.actor")
    }
    flaky, supervisor = actors["/app/supervisor/flaky"], actors["/app/supervisor"]
    assert parent_of(flaky) == supervisor.context.span_id
    failed, restarted = flaky.events  # the dead letter came after its span ended
    assert (failed.name, failed.attributes["playbill.directive"]) == ("failed", "RESTART")
    assert failed.attributes["error.type"] == "ConnectionError"
    assert restarted.name == "restarted"
    assert recorded.metric("playbill.actor.restarts") == {
        frozenset({("error.type", "ConnectionError")}): 1
    }
    assert recorded.metric("playbill.dead_letters") == {
        frozenset({("playbill.dead_letter.reason", "stopped"), ("playbill.message.type", "str")}): 1
    }
    assert recorded.metric("playbill.actors.spawned") == {frozenset(): 2}
    assert "playbill.outcome" not in supervisor.attributes  # ended by its Stopped, not cut off


def test_with_tracing_off_nothing_is_subscribed_and_detach_unsubscribes(arun):
    recorded = Recorded()

    async def scenario() -> list[bool]:
        async with ActorSystem("app") as system:
            seen = [system.publishing()]
            attached = recorded.telemetry.attach(system)
            seen.append(system.publishing())
            system.spawn(Supervisor, "supervisor")
            await asyncio.sleep(0.01)
            await attached.detach()
            seen.append(system.publishing())
            return seen

    assert arun(scenario()) == [False, True, False]
    # detached while they lived: their spans end, marked unfinished
    spans = recorded.finished("playbill.actor")
    assert [span.attributes["playbill.outcome"] for span in spans] == ["unfinished"] * 2


# -- probes: mailbox depth, messages handled, asks -----------------------------------------------


class Gate(Actor):
    """Waits on its first message's event, so what is told next stays queued; fails on
    "boom"."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, asyncio.Event):
            await message.wait()
        elif message == "boom":
            raise ValueError("boom")
        return message


def test_mailbox_depth_and_messages_handled_are_read_from_the_live_actors(arun):
    recorded = Recorded()
    path = frozenset({("playbill.actor.path", "/app/gate")})

    async def scenario() -> list[Any]:
        seen: list[Any] = []
        async with ActorSystem("app") as system:
            attached = recorded.telemetry.attach(system)
            gate = system.spawn(Gate, "gate")
            opened = asyncio.Event()
            gate.tell(opened)
            await asyncio.sleep(0.01)
            for number in range(150):  # more than one batch (THROUGHPUT is 64)
                gate.tell(number)
            gate.tell("boom")  # a failed message is handled too
            seen.append(recorded.metric("playbill.mailbox.depth")[path])
            opened.set()
            assert await gate.ask("last") == "last"
            seen.append(recorded.metric("playbill.mailbox.depth")[path])
            seen.append(recorded.metric("playbill.messages.handled")[path])
            await attached.detach()
            seen.append(recorded.metric("playbill.mailbox.depth"))  # no longer read
        return seen

    assert arun(scenario()) == [151, 0, 153, {}]


def test_asks_are_timed_as_spans_under_the_current_span_only_when_enabled(arun):
    recorded = Recorded()
    tracer = recorded.telemetry._tracer

    async def scenario() -> None:
        async with ActorSystem("app") as system:
            echo = system.spawn(Gate, "echo")
            untimed = recorded.telemetry.attach(system)
            assert await echo.ask("not timed") == "not timed"
            await untimed.detach()
            assert system._ask_probe is None
            timed = recorded.telemetry.attach(system, asks=True)
            with tracer.start_as_current_span("caller"):
                assert await echo.ask("timed") == "timed"
                with pytest.raises(Exception, match="boom"):
                    await echo.ask("boom")
            await timed.detach()
            assert system._ask_probe is None
            assert await echo.ask("not timed again") == "not timed again"

    arun(scenario())
    (caller,) = recorded.finished("caller")
    asks = recorded.finished("playbill.ask")
    assert [span.attributes["playbill.outcome"] for span in asks] == ["ok", "failed"]
    assert {parent_of(span) for span in asks} == {caller.context.span_id}
    assert {span.attributes["playbill.actor.path"] for span in asks} == {"/app/echo"}
    assert asks[1].status.status_code is StatusCode.ERROR
    assert recorded.metric("playbill.ask.duration") == {
        frozenset({("playbill.outcome", "ok"), ("playbill.message.type", "str")}): 1,
        frozenset({("playbill.outcome", "failed"), ("playbill.message.type", "str")}): 1,
    }


def test_only_one_telemetry_times_a_systems_asks(arun):
    async def scenario() -> str:
        async with ActorSystem("app") as system:
            first = Telemetry().attach(system, asks=True)
            with pytest.raises(InvalidArgument) as raised:
                Telemetry().attach(system, asks=True)
            await first.detach()
            return str(raised.value)

    message = arun(scenario())
    assert "asks=True" in message
    assert "'app'" in message
    assert "detach it first" in message


# -- models -------------------------------------------------------------------------------------


def test_model_tokens_and_cost_are_counted_by_model():
    recorded = Recorded()
    model = with_telemetry(
        FunctionModel(lambda request: "two words"),
        recorded.telemetry,
        {"m": Price(1_000_000, 2_000_000)},
    )
    stub.run(complete(["one"], "m"), model_handlers(model))
    stub.run(complete(["one"], "unpriced"), model_handlers(model))
    tokens = recorded.metric("playbill.model.tokens")
    assert tokens[frozenset({("playbill.model", "m"), ("token.type", "input")})] == 1
    assert tokens[frozenset({("playbill.model", "m"), ("token.type", "output")})] == 2
    assert tokens[frozenset({("playbill.model", "unpriced"), ("token.type", "output")})] == 2
    assert recorded.metric("playbill.model.cost") == {frozenset({("playbill.model", "m")}): 5.0}


# -- off means off; bad input -------------------------------------------------------------------


def test_importing_playbill_does_not_import_opentelemetry():
    code = (
        "import sys, playbill, playbill.agents, playbill.flow, playbill.models;"
        "print(sorted(name for name in sys.modules if name.startswith('opentelemetry')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Telemetry(actor_spans="yes"), ["actor_spans", "'yes'", "True or False"]),
        (
            lambda: Telemetry().attach(object()),
            ["attach() system", "ActorSystem or an AgentSystem"],
        ),
        (
            lambda: asyncio.run(_attach_in_a_system(asks="yes")),
            ["attach() asks", "'yes'", "True or False"],
        ),
        (
            lambda: Telemetry().trace_transport(object()),
            ["trace_transport() transport", "RedisTransport", "object"],
        ),
        (
            lambda: with_telemetry(FunctionModel(lambda request: ""), object()),
            ["with_telemetry() telemetry", "Telemetry"],
        ),
        (
            lambda: with_telemetry(FunctionModel(lambda request: ""), Telemetry(), {"m": 1.5}),
            ["with_telemetry() prices", "Price", "1.5"],
        ),
    ],
)
def test_bad_input_is_refused_naming_the_option(make, words):
    with pytest.raises(InvalidArgument) as raised:
        make()
    for word in words:
        assert word in str(raised.value)


async def _attach_in_a_system(**options: Any) -> None:
    async with ActorSystem("app") as system:
        Telemetry().attach(system, **options)
