"""What a transport needs from a tracer to carry trace context in its envelopes: nothing of
OpenTelemetry is imported here (`playbill.opentelemetry` provides the one implementation)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["TraceCarrier"]


class TraceCarrier(Protocol):
    """Carries the sender's trace context to the node that handles a message."""

    def inject(self) -> str | None:
        """The W3C ``traceparent`` of the current span, or ``None`` when there is none."""
        ...  # pragma: no cover - a protocol

    def handling(self, traceparent: str, id: str, type: str) -> AbstractContextManager[object]:
        """A context to handle one message in: the handler's span, a child of the sender's
        ``traceparent``, current while the durable actor ``id`` handles a message of the
        registered ``type`` (``""`` for a plain value)."""
        ...  # pragma: no cover - a protocol
