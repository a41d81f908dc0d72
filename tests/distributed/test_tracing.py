"""Trace context across processes: an envelope carries the sender's W3C traceparent, and the
durable actor's handling on the other node is a child span of the sender's (two nodes in one
process, the SDK's in-memory exporter)."""

from __future__ import annotations

import msgpack
import pytest

pytest.importorskip(
    "opentelemetry.sdk", reason="needs the OpenTelemetry SDK: pip install -e '.[dev]'"
)

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from playbill import Actor
from playbill.distributed import Envelope, MessageRegistry
from playbill.distributed._envelope import decode_envelope
from playbill.opentelemetry import Telemetry
from tests.distributed.support import clean, node


class Echo(Actor):
    def receive(self, message: object) -> object:
        return message


def test_the_handlers_span_on_the_other_node_is_a_child_of_the_senders_span(
    arun, redis_url, namespace
):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(tracer_provider=provider)
    tracer = provider.get_tracer("test")

    async def main() -> None:
        async with node(redis_url, namespace, "a") as (system_a, transport_a):
            telemetry.trace_transport(transport_a)
            attached = telemetry.attach(system_a, asks=True)
            await system_a.spawn_durable(Echo, id="echo")
            async with node(redis_url, namespace, "b") as (system_b, transport_b):
                telemetry.trace_transport(transport_b)
                remote = system_b.remote("echo")
                with tracer.start_as_current_span("sender"):
                    assert await remote.ask("traced", timeout=5) == "traced"
                # without a current span there is no context to carry
                assert await remote.ask("untraced", timeout=5) == "untraced"
            await attached.detach()
        await clean(redis_url, namespace)

    arun(main())
    spans = exporter.get_finished_spans()
    (sender,) = [span for span in spans if span.name == "sender"]
    (handled,) = [span for span in spans if span.name == "playbill.durable.handle"]
    assert handled.context.trace_id == sender.context.trace_id
    assert handled.parent is not None
    assert handled.parent.span_id == sender.context.span_id
    assert handled.attributes["playbill.durable.id"] == "echo"
    # the local ask that runs the handler nests under it, in the same trace
    asks = [span for span in spans if span.name == "playbill.ask"]
    traced = [span for span in asks if span.context.trace_id == sender.context.trace_id]
    assert [span.parent.span_id for span in traced if span.parent] == [handled.context.span_id]


def test_an_envelope_without_a_traceparent_still_decodes_and_one_with_it_round_trips():
    registry = MessageRegistry()
    payload = registry.pack("hello")
    old = msgpack.packb(
        {
            "pb1": 1,
            "id": "x",
            "t": "",
            "v": 0,
            "p": payload,
            "s": "n",
            "r": None,
            "c": None,
            "i": None,
        },
        use_bin_type=True,
    )
    decoded = decode_envelope(old, registry, 10_000)
    assert isinstance(decoded, tuple)
    assert decoded[0].trace is None
    assert decoded[1] == "hello"
    older = msgpack.packb(  # without the optional keys at all: read, not a KeyError
        {"pb1": 1, "id": "x", "t": "", "v": 0, "p": payload, "s": "n"}, use_bin_type=True
    )
    decoded = decode_envelope(older, registry, 10_000)
    assert isinstance(decoded, tuple)
    assert decoded[0] == Envelope("x", "", 0, payload, "n")
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    sent = Envelope("x", "", 0, payload, "n", trace=traceparent)
    assert b"tp" in sent.encode()
    assert b"tp" not in Envelope("x", "", 0, payload, "n").encode()
    decoded = decode_envelope(sent.encode(), registry, 10_000)
    assert isinstance(decoded, tuple)
    assert decoded[0] == sent
    wrong = msgpack.packb({**msgpack.unpackb(sent.encode()), "tp": 7}, use_bin_type=True)
    refused = decode_envelope(wrong, registry, 10_000)
    assert not isinstance(refused, tuple)
    assert "'tp'" in refused.reason
