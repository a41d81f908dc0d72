"""OpenTelemetry traces and metrics from playbill's event stream (the ``otel`` extra:
``pip install 'playbill[otel]'``).

`Telemetry` turns actor lifecycle events, agent task events and Flow span events into
spans, parent-linked by their own ids, and metrics; `with_telemetry` counts a model's tokens
and cost. Nothing is subscribed until `Telemetry.attach` is called: with tracing off, a system
builds no events at all.
"""

try:
    from opentelemetry import metrics, trace
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "playbill.opentelemetry needs the OpenTelemetry API. Install it with: "
        "pip install 'playbill[otel]'"
    ) from error

from playbill.opentelemetry._telemetry import Attached, Telemetry, with_telemetry

del metrics, trace

__all__ = ["Attached", "Telemetry", "with_telemetry"]
