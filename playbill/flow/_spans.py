"""The span tree: a flat stream of `FlowEvent`s (from any interpreter) drawn as the nested
steps of the flow runs that emitted them, each with how it ended."""

from __future__ import annotations

from collections.abc import Iterable

from playbill.actors import Emitted
from playbill.effects import InvalidArgument
from playbill.effects._pretty import bounded_repr
from playbill.flow._compile import FlowEvent

__all__ = ["span_tree"]


class _Span:
    __slots__ = ("children", "end", "start")

    def __init__(self, start: FlowEvent) -> None:
        self.start = start
        self.end: FlowEvent | None = None
        self.children: list[_Span] = []

    def line(self) -> str:
        start, end = self.start, self.end
        name = start.node if start.label in ("", start.node) else f"{start.node} {start.label}"
        if end is None:
            outcome = "(never ended)"
        elif end.kind == "completed":
            outcome = f"→ {bounded_repr(end.value, 60)}"
        elif end.kind == "failed":
            outcome = f"failed: {bounded_repr(end.error, 100)}"
        else:
            outcome = "cancelled"
        return f"{name}  {outcome}"


def span_tree(events: Iterable[object]) -> str:
    """The flow runs of ``events`` as a tree, one span (a run of a node) a line, nested as
    they ran, each with its output, its failure, or ``cancelled``. ``events`` is any stream
    holding `FlowEvent`s — ``result.events`` of a simulation, ``system.events()`` drained
    under asyncio, or the events themselves; other events are skipped.

    >>> from playbill import simulate
    >>> from playbill.flow import step
    >>> flow = step(str.split) >> step(len)
    >>> print(span_tree(simulate(flow.to_program("to be or not")).events))
    then  → 4
    ├── step str.split  → ['to', 'be', 'or', 'not']
    └── step len  → 4
    """
    roots: list[_Span] = []
    open_spans: dict[str, _Span] = {}  # the latest run of each span id
    for item in events:
        event = item.event if isinstance(item, Emitted) else item
        if not isinstance(event, FlowEvent):
            continue
        if event.kind == "started":
            span = _Span(event)
            parent = open_spans.get(event.parent) if event.parent is not None else None
            (parent.children if parent is not None else roots).append(span)
            open_spans[event.span] = span
        else:
            started = open_spans.get(event.span)
            if started is None:
                raise InvalidArgument(
                    f"span_tree() got the end of span {event.span!r} ({event.kind}) before "
                    "its start; pass the whole event stream, in order"
                )
            started.end = event
    lines: list[str] = []
    pending: list[tuple[_Span, str, str]] = [(root, "", "") for root in reversed(roots)]
    while pending:
        span, line_prefix, child_prefix = pending.pop()
        lines.append(line_prefix + span.line())
        last = len(span.children) - 1
        for index in range(last, -1, -1):
            pending.append(
                (
                    span.children[index],
                    child_prefix + ("└── " if index == last else "├── "),
                    child_prefix + ("    " if index == last else "│   "),
                )
            )
    return "\n".join(lines)
