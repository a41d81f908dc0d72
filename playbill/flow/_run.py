"""`run_flow`: run a flow on asyncio in one call."""

from __future__ import annotations

from typing import Any, TypeVar

from playbill.actors import DEFAULT_ASK_TIMEOUT, SupervisionStrategy
from playbill.effects._handlers import Handlers
from playbill.flow._nodes import Flow
from playbill.interpreters._asyncio import run

__all__ = ["run_flow"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


def run_flow(
    flow: Flow[I, O],
    value: I,
    *,
    events: bool = True,
    span: str = "flow",
    handlers: Handlers | None = None,
    name: str = "app",
    supervision: SupervisionStrategy | None = None,
    ask_timeout: float = DEFAULT_ASK_TIMEOUT,
) -> O:
    """Run ``flow`` on ``value`` in a fresh asyncio `ActorSystem` and return its output. For
    the simulator, ``simulate(flow.to_program(value))``; inside a running system,
    ``await system.run(flow.to_program(value))``.

    >>> from playbill.flow import step
    >>> run_flow(step(lambda x: x + 1), 41)
    42
    """
    program: Any = flow.to_program(value, events=events, span=span)
    result: O = run(
        program, handlers=handlers, name=name, supervision=supervision, ask_timeout=ask_timeout
    )
    return result
