"""`MoASystem`: run a Mixture-of-Agents (or any team flow) under asyncio with no boilerplate,
as a live stream of the agent layer's task events, nested per layer and per proposer."""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from playbill.agents import AgentActor, AgentRun, AgentSystem, TaskStatus
from playbill.agents._in_place import (
    InPlaceAgents,
    in_place_label,
    never_in_place,
    runs_in_place,
)
from playbill.effects import Emit, InvalidArgument, Program
from playbill.flow import Flow, actor, step
from playbill.flow._compile import compile_flow
from playbill.flow._nodes import Diverted, FlatMapped, RecoverWith, Spawned
from playbill.interpreters import ActorSystem
from playbill.interpreters._asyncio._cell import _Cell
from playbill.moa._layers import as_flow, layer_result, layers_of

__all__ = ["MoASystem"]


def _compiled(
    flow: Flow[Any, Any], value: Any, agent: AgentActor[Any, Any], listening: Callable[[], bool]
) -> Program[Any]:
    """``flow`` on ``value`` as the task of ``agent``: with the flows' own events while
    somebody reads them; else, on a plain asyncio cell, with the instant agents of its
    ``actor`` leaves run in place (`InPlaceAgents`: nobody could tell an actor from none)."""
    if listening():
        return flow.to_program(value, events=True)
    site = getattr(agent, "in_place", None)
    if site is not None:  # a layer run in place, in the fiber of the run's root
        return compile_flow(
            flow, value, events=False, span="flow", wait_for_side_flows=True, agents=site
        )
    context = agent.context
    running = agent._running
    if type(context) is not _Cell or context.system._ask_probe is not None or running is None:
        # a recording system's cell, or telemetry timing asks: each agent in its actor
        return flow.to_program(value, events=False)
    agents = InPlaceAgents(context, running.run_id)
    return compile_flow(
        flow, value, events=False, span="flow", wait_for_side_flows=True, agents=agents
    )


def _layer_agent(
    index: int, layer: Flow[Any, Any], listening: Callable[[], bool]
) -> type[AgentActor[Any, Any]]:
    """An agent running ``layer`` as its task, so the layer's agents' tasks nest under it."""

    class Layer(AgentActor[Any, Any]):
        def execute(self, given: Any) -> Program[Any]:
            return _compiled(layer, given, self, listening)

    Layer.__name__ = Layer.__qualname__ = f"Layer{index}"
    if _instant_only(layer):  # a task of the root's, not an actor of its own, when unwatched
        runs_in_place(Layer)
    else:  # its agents' actors are its children, their paths under its own
        never_in_place(Layer)
    return Layer


def _instant_only(layer: Flow[Any, Any]) -> bool:
    """Whether every agent of ``layer`` is one `InPlaceAgents` runs in place, its ``execute``
    a plain function (not a generator, coroutine or ``@program`` one, which wait), and the
    layer spawns nothing else (no side flow, no leaf chosen while it runs): then no actor of
    the layer would be the child of a layer actor, and the layer needs none."""
    pending: list[object] = [layer]
    while pending:
        node = pending.pop()
        if isinstance(node, Spawned):
            if in_place_label(node.factory) is None:
                return False
            # (through @program's wrapper)
            execute = inspect.unwrap(getattr(node.factory, "execute", _no_execute))
            if (
                inspect.isgeneratorfunction(execute)
                or inspect.iscoroutinefunction(execute)
                or inspect.isasyncgenfunction(execute)
            ):
                return False
        elif isinstance(node, (FlatMapped, RecoverWith, Diverted)):
            return False
        elif isinstance(node, Flow):
            fields = type(node).__attrs_attrs__  # type: ignore[attr-defined]  # (attrs nodes)
            pending.extend(getattr(node, field.name) for field in fields)
        elif isinstance(node, tuple):
            pending.extend(node)
    return True


def _root_agent(flow: Flow[Any, Any], listening: Callable[[], bool]) -> type[AgentActor[Any, Any]]:
    class MoA(AgentActor[Any, Any]):
        def execute(self, question: Any) -> Program[Any]:
            return _compiled(flow, question, self, listening)

    never_in_place(MoA)
    return MoA


_EMIT = Emit(None)  # what asks the handler map whether a handler takes emitted events


class MoASystem:
    """Runs Mixture-of-Agents trees (and any team flow) under asyncio as live streams of
    `TaskEvent` s: the run's root task ``MoA``, under it one task per layer (``Layer0``,
    ``Layer1``, ...), and under each layer the tasks of its proposers and aggregator that are
    agent classes. A tree `moa_tree` made, or a list of layers, reports per layer; any other
    flow runs as the root task alone, its agents' tasks under it.

    ``system`` is the `AgentSystem` or `ActorSystem` to run on (started on entry if it is
    not yet, and left running on exit: only this MoASystem's runs are cancelled); without
    one, the MoASystem makes its own ``AgentSystem(name)`` and shuts it down on exit.

    >>> import asyncio
    >>> from playbill.agents import AgentActor
    >>> from playbill.moa import MoASystem, moa_layer, moa_tree
    >>> class Echo(AgentActor):
    ...     def execute(self, given):
    ...         return given.value
    >>> class Join(AgentActor):
    ...     def execute(self, proposals):
    ...         return "+".join(proposals.outputs)
    >>> tree = moa_tree([moa_layer([Echo, Echo], Join, min_success=2)])
    >>> async def main():
    ...     async with MoASystem() as moa:
    ...         done = [e.agent_path.split("/")[3:] async for e in moa.run(tree, "hi")
    ...                 if e.kind.value == "completed"]
    ...         return done[-1], len(done), await moa.ask(tree, "hi")
    >>> asyncio.run(main())
    ([], 5, 'hi+hi')
    """

    def __init__(
        self,
        system: AgentSystem | ActorSystem | None = None,
        *,
        name: str = "moa",
        buffer: int = 1000,
    ) -> None:
        self._owned = system is None
        self._gate_restore: tuple[ActorSystem, Any] | None = None
        if system is None:
            self.agents = AgentSystem(name, buffer=buffer)
        elif isinstance(system, AgentSystem):
            self.agents = system
        elif isinstance(system, ActorSystem):
            agents = AgentSystem(system.name, buffer=buffer)
            agents.actors = system  # the agent layer on the given actors
            self.agents = agents
        else:
            raise InvalidArgument(
                f"MoASystem() system must be an AgentSystem, an ActorSystem or None, got "
                f"{system!r:.80} ({type(system).__name__})"
            )
        self._run_ids: set[str] = set()
        # the root agent class of each tree run, built once per tree (keyed by identity: a
        # flow's structural hash walks the whole tree), so a run builds no class
        self._roots: dict[int, tuple[weakref.ref[Flow[Any, Any]], type[AgentActor[Any, Any]]]]
        self._roots = {}

    @property
    def actors(self) -> ActorSystem:
        """The actor system the runs are on."""
        return self.agents.actors

    async def __aenter__(self) -> MoASystem:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._owned:
            await self.agents.__aexit__(*exc_info)
            return
        for run_id in list(self._run_ids):
            await self.agents.abort(run_id)
        self._run_ids.clear()
        restore = self._gate_restore
        if restore is not None:
            restore[0]._event_gate = restore[1]
            self._gate_restore = None

    def start(self) -> None:
        """Start the system on the running loop (``async with`` does it for you)."""
        actors = self.agents.actors
        gate = actors._event_gate
        if gate is not None and gate != self.agents._route:
            raise InvalidArgument(
                f"MoASystem() system: the ActorSystem {actors.name!r} already carries another "
                "AgentSystem's events; give MoASystem that AgentSystem instead"
            )
        if not self._owned and gate is None:
            self._gate_restore = (actors, gate)
        self.agents.start()

    def run(
        self,
        tree: Flow[Any, Any] | Sequence[Flow[Any, Any]],
        question: object,
        *,
        run_id: str | None = None,
        timeout: float = math.inf,
    ) -> AgentRun:
        """Start ``tree`` (a `Flow`, or a list of layers) on ``question`` now, and stream
        every task event of the run (see `AgentSystem.run`): a completed run ends the
        iteration with ``run.result.output`` the answer; a failed one raises its error after
        its events; leaving early (``break``, ``aclose()``), `abort` or ``timeout`` cancels
        it. When the stream ends, every actor of the run is gone."""
        run = self.agents.run(self._root(tree), question, run_id=run_id, timeout=timeout)
        self._run_ids.add(run.run_id)
        return run

    async def ask(
        self,
        tree: Flow[Any, Any] | Sequence[Flow[Any, Any]],
        question: object,
        *,
        timeout: float = math.inf,
    ) -> Any:
        """The answer of ``tree`` on ``question`` (its failure raised), once the run is over
        and its actors gone."""
        run = self.run(tree, question, timeout=timeout)
        try:
            async for _ in run:
                pass
        finally:
            await run.aclose()
            self._run_ids.discard(run.run_id)
        result = run.result
        assert result is not None
        if result.status is not TaskStatus.COMPLETED:
            from playbill.effects import ActorStopped

            raise result.error if result.error is not None else ActorStopped("cancelled")
        return result.output

    async def abort(self, run_id: str) -> bool:
        """Cancel the run ``run_id`` and wait until its actors are gone (`AgentSystem.abort`)."""
        self._run_ids.discard(run_id)
        return await self.agents.abort(run_id)

    def _listening(self) -> bool:
        """Whether anybody reads the flows' own `FlowEvent` s (a subscriber of the actor
        system's events, or an ``Emit`` handler): the agent layer's run streams carry only
        `TaskEvent` s, so a run nobody else watches emits none, and builds none."""
        actors = self.agents.actors
        return actors.publishing() or actors.handlers.find(_EMIT) is not None

    def _root(self, tree: object) -> type[AgentActor[Any, Any]]:
        if not isinstance(tree, Flow):
            return _root_agent(self._flow(tree, "MoASystem.run()"), self._listening)
        key = id(tree)
        known = self._roots.get(key)
        if known is not None and known[0]() is tree:
            return known[1]
        roots = self._roots
        root = _root_agent(self._flow(tree, "MoASystem.run()"), self._listening)
        roots[key] = (weakref.ref(tree, lambda _: roots.pop(key, None)), root)
        return root

    def _flow(self, tree: object, where: str) -> Flow[Any, Any]:
        if isinstance(tree, Flow):
            layers = layers_of(tree)
            if layers is None:
                return tree
        elif isinstance(tree, Sequence) and not isinstance(tree, str) and tree:
            layers = tuple(as_flow(f"{where} layer {i}", each) for i, each in enumerate(tree))
        else:
            raise InvalidArgument(
                f"{where} tree must be a Flow (moa_tree(...), moa_layer(...) or a team) or a "
                f"non-empty list of layers, got {tree!r:.80} ({type(tree).__name__})"
            )
        listening = self._listening
        chain: Flow[Any, Any] = actor(_layer_agent(0, layers[0], listening))
        for index, layer in enumerate(layers[1:], start=1):
            chain = chain >> actor(_layer_agent(index, layer, listening))
        return chain >> step(layer_result)


def _no_execute(input: Any) -> Any:  # (what `_instant_only` reads of a class with none)
    return None
