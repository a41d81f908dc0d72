"""The event stream as OpenTelemetry spans and metrics.

Nothing here runs unless it is asked to: a system without an attached `Telemetry` has no
subscriber, so its actors build no events at all (tracing off costs nothing), and importing
playbill never imports OpenTelemetry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, final

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from playbill.actors import (
    DeadLettered,
    Emitted,
    Escalated,
    Failed,
    Restarted,
    Spawned,
    Stopped,
)
from playbill.agents import AgentSystem, TaskEvent, TaskEventKind
from playbill.effects import InvalidArgument, Program
from playbill.effects._checks import check_count, check_flag
from playbill.flow import FlowEvent
from playbill.interpreters import ActorSystem, EventSubscription
from playbill.models import Completion, Model, ModelRequest, Price, Usage, call_model

if TYPE_CHECKING:
    from playbill.distributed import RedisTransport

__all__ = ["Attached", "Telemetry", "with_telemetry"]

SCOPE = "playbill"
_PROPAGATOR = TraceContextTextMapPropagator()


def _nanoseconds(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _parent_path(path: str) -> str | None:
    parent, _, _ = path.rpartition("/")
    return parent if parent.count("/") >= 1 else None


@final
class Telemetry:
    """Turns playbill's events into OpenTelemetry spans and metrics.

    Spans: one per actor incarnation (``playbill.actor``, from `Spawned` to `Stopped`, its
    failures and restarts as span events with the supervisor's directive), one per agent
    task (``playbill.task``, nested under the task that sent it, or the flow node that ran
    it) and one per run of a Flow node (``playbill.flow.<node>``, nested as the flow ran).
    Parent links come from the events' own span and task ids, and span times from the
    events' times (the interpreter's clock: virtual under the simulator).

    Metrics (meter ``playbill``): ``playbill.actors.spawned``, ``playbill.actors.stopped``,
    ``playbill.actor.failures`` (by directive and error type), ``playbill.actor.restarts``,
    ``playbill.actor.escalations``, ``playbill.dead_letters`` (by reason and message type),
    ``playbill.tasks`` and ``playbill.task.duration`` (by outcome: an agent ask's latency),
    ``playbill.flow.node.duration`` (by node and outcome), and with `with_telemetry`,
    ``playbill.model.tokens`` and ``playbill.model.cost``.

    Feed it a stream: `attach` it to a live system, or `observe_all` the events of a
    simulation.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    ...     InMemorySpanExporter,
    ... )
    >>> from playbill import simulate
    >>> from playbill.flow import step
    >>> exporter = InMemorySpanExporter()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
    >>> telemetry = Telemetry(tracer_provider=provider)
    >>> result = simulate((step(str.split) >> step(len)).to_program("to be or not"))
    >>> telemetry.observe_all(result.events)
    >>> sorted(span.name for span in exporter.get_finished_spans())
    ['playbill.flow.step', 'playbill.flow.step', 'playbill.flow.then']
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        actor_spans: bool = True,
    ) -> None:
        if not isinstance(actor_spans, bool):
            raise InvalidArgument(
                f"Telemetry actor_spans must be True or False, got {actor_spans!r}"
            )
        from playbill import __version__

        self.actor_spans = actor_spans
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self._spawned = meter.create_counter("playbill.actors.spawned", "{actor}")
        self._stopped = meter.create_counter("playbill.actors.stopped", "{actor}")
        self._failures = meter.create_counter("playbill.actor.failures", "{failure}")
        self._restarts = meter.create_counter("playbill.actor.restarts", "{restart}")
        self._escalations = meter.create_counter("playbill.actor.escalations", "{failure}")
        self._dead_letters = meter.create_counter("playbill.dead_letters", "{message}")
        self._tasks = meter.create_counter("playbill.tasks", "{task}")
        self._task_duration = meter.create_histogram("playbill.task.duration", "s")
        self._node_duration = meter.create_histogram("playbill.flow.node.duration", "s")
        self._tokens = meter.create_counter("playbill.model.tokens", "{token}")
        self._cost = meter.create_counter("playbill.model.cost", "1")
        self._ask_duration = meter.create_histogram("playbill.ask.duration", "s")
        # read from the attached systems' live actors when a metric reader collects: the
        # actors never do anything for them
        self._systems: list[ActorSystem] = []
        meter.create_observable_gauge("playbill.mailbox.depth", [self._mailbox_depths], "{message}")
        meter.create_observable_counter(
            "playbill.messages.handled", [self._messages_handled], "{message}"
        )
        self._actors: dict[str, Span] = {}
        self._tasks_open: dict[tuple[str | None, str], tuple[Span, float, int]] = {}
        self._flows_open: dict[str, tuple[Span, float, str]] = {}
        self._last_time = 0.0

    # -- feeding it -----------------------------------------------------------------------

    def attach(
        self, system: ActorSystem | AgentSystem, *, buffer: int = 10_000, asks: bool = False
    ) -> Attached:
        """Subscribe to a running ``system``'s event stream (an `ActorSystem`, or an
        `AgentSystem`'s) and observe each event as it comes, until `Attached.detach` or the
        system's shutdown. Call it from the system's event loop.

        While attached, the metric readers of the meter provider also read
        ``playbill.mailbox.depth`` and ``playbill.messages.handled`` from the live actors
        (nothing is done per message for them). With ``asks=True``, every ask to an actor
        of the system is also timed: a ``playbill.ask`` span (a child of the span current
        where the ask was made) and the histogram ``playbill.ask.duration``; that costs each
        ask a span, so it is off by default."""
        actors = system.actors if isinstance(system, AgentSystem) else system
        if not isinstance(actors, ActorSystem):
            raise InvalidArgument(
                f"Telemetry.attach() system must be an ActorSystem or an AgentSystem, got "
                f"{system!r} ({type(system).__name__})"
            )
        check_count("Telemetry.attach() buffer", buffer, minimum=1)
        check_flag("Telemetry.attach() asks", asks)
        if asks and actors._ask_probe is not None:
            raise InvalidArgument(
                f"Telemetry.attach() asks=True: the asks of {actors.name!r} are already timed "
                "by another attached Telemetry; detach it first, or attach this one with "
                "asks=False"
            )
        subscription = actors.events(buffer)

        async def consume() -> None:
            async for event in subscription:
                self.observe(event)

        task = asyncio.get_running_loop().create_task(consume())
        self._systems.append(actors)
        if asks:
            actors._ask_probe = self._time_ask
        return Attached(self, subscription, task, actors, times_asks=asks)

    def trace_transport(self, transport: RedisTransport) -> None:
        """Carry trace context across processes: each envelope ``transport`` sends holds the
        W3C ``traceparent`` of the span current at the send, and each message a durable
        actor of this node handles runs in a ``playbill.durable.handle`` span, the child of
        the sender's. Call it on every node (with the same or another `Telemetry`); a node
        that does not is told nothing and still reads the others' envelopes.

        >>> from playbill.distributed import RedisTransport
        >>> transport = RedisTransport("redis://127.0.0.1:6379/0")
        >>> Telemetry().trace_transport(transport)
        >>> transport.tracing is not None
        True
        """
        from playbill.distributed import RedisTransport

        if not isinstance(transport, RedisTransport):
            raise InvalidArgument(
                f"Telemetry.trace_transport() transport must be a RedisTransport, got "
                f"{transport!r} ({type(transport).__name__})"
            )
        transport.tracing = _W3CCarrier(self._tracer)

    def observe_all(self, events: Iterable[object]) -> None:
        """Observe each of ``events`` in order (``result.events`` of a simulation, say),
        then end the spans left open as ``unfinished``."""
        for event in events:
            self.observe(event)
        self.close()

    def observe(self, event: object) -> None:
        """Observe one event of the stream; events it does not know are skipped."""
        if isinstance(event, Emitted):
            inner = event.event
            self._last_time = event.time
            if isinstance(inner, TaskEvent):
                self._task(inner)
            elif isinstance(inner, FlowEvent):
                self._flow(inner, event.time, event.path)
            return
        time = getattr(event, "time", None)
        if isinstance(time, float):
            self._last_time = time
        if isinstance(event, Spawned):
            self._spawned.add(1)
            if self.actor_spans:
                self._actors[event.path] = self._tracer.start_span(
                    "playbill.actor",
                    context=self._actor_context(_parent_path(event.path)),
                    attributes={"playbill.actor.path": event.path},
                    start_time=_nanoseconds(event.time),
                )
        elif isinstance(event, Stopped):
            self._stopped.add(1)
            span = self._actors.pop(event.path, None)
            if span is not None:
                span.end(end_time=_nanoseconds(event.time))
        elif isinstance(event, Failed):
            error_type = type(event.error).__name__
            self._failures.add(1, {"playbill.directive": event.directive, "error.type": error_type})
            self._actor_event(
                event.path,
                "failed",
                {"playbill.directive": event.directive, "error.type": error_type},
                event.time,
            )
        elif isinstance(event, Restarted):
            error_type = type(event.error).__name__
            self._restarts.add(1, {"error.type": error_type})
            self._actor_event(event.path, "restarted", {"error.type": error_type}, event.time)
        elif isinstance(event, Escalated):
            self._escalations.add(1, {"error.type": type(event.error).__name__})
        elif isinstance(event, DeadLettered):
            letter = event.letter
            attributes = {
                "playbill.dead_letter.reason": letter.reason.name.lower(),
                "playbill.message.type": type(letter.message).__name__,
            }
            self._dead_letters.add(1, attributes)
            self._actor_event(letter.recipient, "dead letter", attributes, event.time)

    def close(self) -> None:
        """End every span still open, marked ``playbill.outcome = unfinished`` (a run cut
        short, or a stream read only in part)."""
        end = _nanoseconds(self._last_time)
        for span, _, _ in self._flows_open.values():
            span.set_attribute("playbill.outcome", "unfinished")
            span.end(end_time=end)
        for span, _, _ in self._tasks_open.values():
            span.set_attribute("playbill.outcome", "unfinished")
            span.end(end_time=end)
        for span in self._actors.values():
            span.set_attribute("playbill.outcome", "unfinished")
            span.end(end_time=end)
        self._flows_open.clear()
        self._tasks_open.clear()
        self._actors.clear()

    def record_usage(self, model: str, usage: Usage, price: Price | None = None) -> None:
        """Count a model call's tokens (and its cost, given its `Price`)."""
        self._tokens.add(usage.input_tokens, {"playbill.model": model, "token.type": "input"})
        self._tokens.add(usage.output_tokens, {"playbill.model": model, "token.type": "output"})
        if price is not None:
            self._cost.add(price.of(usage), {"playbill.model": model})

    # -- probes: read from live systems, never on the actors' path -------------------------

    def _time_ask(self, path: str, message: object, future: asyncio.Future[Any]) -> None:
        started = time.perf_counter()
        message_type = type(message).__name__
        span = self._tracer.start_span(
            "playbill.ask",
            kind=SpanKind.CLIENT,
            attributes={"playbill.actor.path": path, "playbill.message.type": message_type},
        )

        def replied(future: asyncio.Future[Any]) -> None:
            error = None if future.cancelled() else future.exception()
            outcome = "cancelled" if future.cancelled() else "failed" if error is not None else "ok"
            span.set_attribute("playbill.outcome", outcome)
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()
            self._ask_duration.record(
                time.perf_counter() - started,
                {"playbill.outcome": outcome, "playbill.message.type": message_type},
            )

        future.add_done_callback(replied)

    def _mailbox_depths(self, options: CallbackOptions) -> Iterator[Observation]:
        for system in list(self._systems):
            for cell in system._live_cells():
                yield Observation(len(cell.mailbox.user), {"playbill.actor.path": cell.path})

    def _messages_handled(self, options: CallbackOptions) -> Iterator[Observation]:
        for system in list(self._systems):
            for cell in system._live_cells():
                yield Observation(cell.handled_count, {"playbill.actor.path": cell.path})

    # -- spans ----------------------------------------------------------------------------

    def _actor_context(self, path: str | None) -> Context | None:
        span = self._actors.get(path) if path is not None else None
        return trace.set_span_in_context(span) if span is not None else None

    def _actor_event(
        self, path: str, name: str, attributes: Mapping[str, str], time: float
    ) -> None:
        span = self._actors.get(path)
        if span is not None:
            span.add_event(name, dict(attributes), timestamp=_nanoseconds(time))

    def _parent_of_task(self, event: TaskEvent) -> Context | None:
        if event.parent_task_id is not None:
            opened = self._tasks_open.get((event.run_id, event.parent_task_id))
            if opened is not None:
                return trace.set_span_in_context(opened[0])
            flow = self._flows_open.get(event.parent_task_id)
            if flow is not None:
                return trace.set_span_in_context(flow[0])
        return self._actor_context(event.agent_path)

    def _task(self, event: TaskEvent) -> None:
        key = (event.run_id, event.task_id)
        kind = event.kind
        if kind is TaskEventKind.STARTED:
            attributes = {
                "playbill.agent.path": event.agent_path,
                "playbill.task.id": event.task_id,
            }
            if event.run_id is not None:
                attributes["playbill.run.id"] = event.run_id
            span = self._tracer.start_span(
                "playbill.task",
                context=self._parent_of_task(event),
                attributes=attributes,
                start_time=_nanoseconds(event.time),
            )
            self._tasks_open[key] = (span, event.time, 0)
            return
        opened = self._tasks_open.get(key)
        if opened is None:
            return
        span, started, chunks = opened
        if kind is TaskEventKind.CHUNK:
            self._tasks_open[key] = (span, started, chunks + 1)
        elif kind is TaskEventKind.PROGRESS:
            span.add_event("progress", timestamp=_nanoseconds(event.time))
        else:
            del self._tasks_open[key]
            outcome = kind.value
            span.set_attribute("playbill.outcome", outcome)
            if chunks:
                span.set_attribute("playbill.task.chunks", chunks)
            self._end(span, event.data if kind is TaskEventKind.FAILED else None, event.time)
            self._tasks.add(1, {"playbill.outcome": outcome})
            self._task_duration.record(event.time - started, {"playbill.outcome": outcome})

    def _flow(self, event: FlowEvent, time: float, actor_path: str) -> None:
        if event.kind == "started":
            parent = self._flows_open.get(event.parent) if event.parent is not None else None
            span = self._tracer.start_span(
                f"playbill.flow.{event.node}",
                context=(
                    trace.set_span_in_context(parent[0])
                    if parent is not None
                    else self._actor_context(actor_path)
                ),
                attributes={
                    "playbill.flow.node": event.node,
                    "playbill.flow.label": event.label,
                    "playbill.flow.path": event.path,
                    "playbill.flow.span": event.span,
                    "playbill.actor.path": actor_path,
                },
                start_time=_nanoseconds(time),
            )
            self._flows_open[event.span] = (span, time, event.node)
            return
        opened = self._flows_open.pop(event.span, None)
        if opened is None:
            return
        span, started, node = opened
        span.set_attribute("playbill.outcome", event.kind)
        self._end(span, event.error, time)
        self._node_duration.record(
            time - started, {"playbill.flow.node": node, "playbill.outcome": event.kind}
        )

    @staticmethod
    def _end(span: Span, error: object, time: float) -> None:
        if isinstance(error, BaseException):
            span.record_exception(error, timestamp=_nanoseconds(time))
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end(end_time=_nanoseconds(time))


@final
class Attached:
    """A `Telemetry` subscribed to a live system: `detach` to stop, after the events
    already published are observed."""

    def __init__(
        self,
        telemetry: Telemetry,
        subscription: EventSubscription,
        task: asyncio.Task[None],
        system: ActorSystem,
        *,
        times_asks: bool,
    ) -> None:
        self._telemetry = telemetry
        self._subscription = subscription
        self._task = task
        self._system = system
        self._times_asks = times_asks

    async def detach(self) -> None:
        """Unsubscribe, observe what is buffered, then end the spans still open (their
        actors and tasks live on, unobserved) as `Telemetry.close` does; asks are no longer
        timed and mailboxes no longer read."""
        self._subscription.close()
        systems = self._telemetry._systems
        if self._system in systems:
            systems.remove(self._system)
        if self._times_asks:
            self._system._ask_probe = None
        await self._task
        self._telemetry.close()


@final
class _W3CCarrier:
    """Trace context in envelopes, as the W3C ``traceparent`` (`TraceCarrier`)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def inject(self) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    @contextmanager
    def handling(self, traceparent: str, id: str, type: str) -> Iterator[object]:
        parent = _PROPAGATOR.extract({"traceparent": traceparent})
        attributes = {"playbill.durable.id": id, "playbill.message.type": type or "plain"}
        with self._tracer.start_as_current_span(
            "playbill.durable.handle",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            yield span


def with_telemetry(
    model: Model, telemetry: Telemetry, prices: Mapping[str, Price] | None = None
) -> Model:
    """``model``, each reply's tokens counted in ``telemetry``'s metrics under the request's
    model name, and its cost when ``prices`` has a `Price` for that model.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import FunctionModel, complete, model_handlers
    >>> counted = with_telemetry(FunctionModel(lambda request: "two words"), Telemetry())
    >>> stub.run(complete(["one"], "m"), model_handlers(counted)).text
    'two words'
    """
    if not isinstance(telemetry, Telemetry):
        raise InvalidArgument(
            f"with_telemetry() telemetry must be a Telemetry, got {telemetry!r} "
            f"({type(telemetry).__name__})"
        )
    chosen = {} if prices is None else prices
    if not isinstance(chosen, Mapping) or not all(
        isinstance(name, str) and isinstance(price, Price) for name, price in chosen.items()
    ):
        raise InvalidArgument(
            f"with_telemetry() prices must map model names to Price values, got {prices!r}"
        )

    def metered(request: ModelRequest) -> Program[Completion]:
        def count(completion: Completion) -> Completion:
            telemetry.record_usage(request.model, completion.usage, chosen.get(request.model))
            return completion

        return call_model(model, request).map(count)

    return metered
