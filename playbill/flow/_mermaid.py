"""Flows drawn as Mermaid flowcharts."""

from __future__ import annotations

from typing import Any

from playbill.effects import InvalidArgument
from playbill.effects._checks import plural
from playbill.flow._compile import label_of
from playbill.flow._nodes import (
    AndThen,
    AtLeast,
    Branch,
    BranchOn,
    Call,
    Diverted,
    FallbackTo,
    Filter,
    FlatMapped,
    Flow,
    Identity,
    Loop,
    LoopWithState,
    Mapped,
    Pure,
    Race,
    Recover,
    RecoverWith,
    Retry,
    Spawned,
    Step,
    Tap,
    Then,
    Timeout,
    Zip,
    ZipAll,
)
from playbill.flow._registry import Registry

__all__ = ["to_mermaid"]


def to_mermaid(flow: Flow[Any, Any], registry: Registry | None = None) -> str:
    """``flow`` as a Mermaid flowchart (top to bottom), every node labelled; with a
    ``registry``, functions are labelled by their registered names.

    >>> from playbill.flow import step
    >>> def parse(text): return text.split()
    >>> print(to_mermaid(step(parse) >> step(len)))
    flowchart TD
      n0(["input"])
      n1["step: parse"]
      n2["step: len"]
      n3(["output"])
      n0 --> n1
      n1 --> n2
      n2 --> n3
    """
    drawing = _Drawing(registry)
    start = drawing.node("input", "([", "])")
    try:
        entry, exit_ = drawing.draw(flow)
    except RecursionError:
        raise InvalidArgument(
            "the flow is nested too deeply to draw (hundreds of levels of map, zip, recover, "
            "...); chains made with >> stay flat at any length"
        ) from None
    end = drawing.node("output", "([", "])")
    edges = [f"  {start} --> {entry}", *drawing.edges, f"  {exit_} --> {end}"]
    return "\n".join(["flowchart TD", *drawing.nodes, *edges])


def _text(label: str) -> str:
    """A label safe inside Mermaid's double quotes."""
    cleaned = label.replace('"', "#quot;").replace("\n", " ")
    return cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"


class _Drawing:
    def __init__(self, registry: Registry | None) -> None:
        self.registry = registry
        self.nodes: list[str] = []
        self.edges: list[str] = []
        self.count = 0
        self.indent = "  "

    def fresh(self) -> str:
        name = f"n{self.count}"
        self.count += 1
        return name

    def node(self, label: str, opening: str = "[", closing: str = "]") -> str:
        name = self.fresh()
        self.nodes.append(f'{self.indent}{name}{opening}"{_text(label)}"{closing}')
        return name

    def edge(self, source: str, target: str, label: str = "", dotted: bool = False) -> None:
        arrow = "-.->" if dotted else "-->"
        text = f'|"{_text(label)}"|' if label else ""
        self.edges.append(f"  {source} {arrow}{text} {target}")

    def name(self, thing: object) -> str:
        if self.registry is not None:
            found = self.registry.name_of(thing)
            if found is not None:
                return found
        return str(getattr(thing, "__qualname__", None) or repr(thing))

    def group(self, title: str, inner: Flow[Any, Any]) -> tuple[str, str, str]:
        """Draw ``inner`` inside a titled box; the box's id, the entry and the exit."""
        box = self.fresh()
        self.nodes.append(f'{self.indent}subgraph {box} ["{_text(title)}"]')
        self.indent += "  "
        entry, exit_ = self.draw(inner)
        self.indent = self.indent[:-2]
        self.nodes.append(f"{self.indent}end")
        return box, entry, exit_

    def fan(
        self, title: str, flows: tuple[Flow[Any, Any], ...], labels: list[str]
    ) -> tuple[str, str]:
        split = self.node(title, "{{", "}}")
        join = self.node(f"end {title}", "{{", "}}")
        for flow, label in zip(flows, labels, strict=True):
            entry, exit_ = self.draw(flow)
            self.edge(split, entry, label)
            self.edge(exit_, join)
        return split, join

    def draw(self, flow: Flow[Any, Any]) -> tuple[str, str]:
        """Draw ``flow``; its entry node and its exit node."""
        if isinstance(flow, Step):
            only = self.node(f"step: {self.name(flow.function)}")
            return only, only
        if isinstance(flow, Spawned):
            only = self.node(f"actor: {self.name(flow.factory)}", "[[", "]]")
            return only, only
        if isinstance(flow, Call):
            only = self.node(f"call: {label_of(flow)}", "[[", "]]")
            return only, only
        if isinstance(flow, Pure):
            only = self.node(f"pure: {label_of(flow)}")
            return only, only
        if isinstance(flow, Identity):
            only = self.node("identity")
            return only, only
        if isinstance(flow, Then):
            first_entry, exit_ = self.draw(flow.steps[0])
            for each in flow.steps[1:]:
                entry, next_exit = self.draw(each)
                self.edge(exit_, entry)
                exit_ = next_exit
            return first_entry, exit_
        if isinstance(flow, (Mapped, FlatMapped, Tap, AndThen, Filter)):
            entry, exit_ = self.draw(flow.flow)
            function = flow.predicate if isinstance(flow, Filter) else flow.function
            after = self.node(f"{flow.kind}: {self.name(function)}")
            self.edge(exit_, after)
            return entry, after
        if isinstance(flow, Zip):
            return self.fan("zip", (flow.left, flow.right), ["left", "right"])
        if isinstance(flow, ZipAll):
            return self.fan("zip_all", flow.flows, [f"input {i}" for i in range(len(flow.flows))])
        if isinstance(flow, Race):
            return self.fan("race", flow.flows, ["" for _ in flow.flows])
        if isinstance(flow, AtLeast):
            return self.fan(
                f"at least {flow.k} of {len(flow.flows)}", flow.flows, ["" for _ in flow.flows]
            )
        if isinstance(flow, Branch):
            decision = self.node("branch by type", "{", "}")
            join = self.node("end branch", "{{", "}}")
            cases = [(case_type.__name__, case_flow) for case_type, case_flow in flow.cases]
            if flow.otherwise is not None:
                cases.append(("otherwise", flow.otherwise))
            for label, case_flow in cases:
                entry, exit_ = self.draw(case_flow)
                self.edge(decision, entry, label)
                self.edge(exit_, join)
            return decision, join
        if isinstance(flow, BranchOn):
            decision = self.node(f"{self.name(flow.predicate)}?", "{", "}")
            join = self.node("end branch", "{{", "}}")
            for label, case_flow in (("true", flow.on_true), ("false", flow.on_false)):
                entry, exit_ = self.draw(case_flow)
                self.edge(decision, entry, label)
                self.edge(exit_, join)
            return decision, join
        if isinstance(flow, (Recover, RecoverWith, FallbackTo)):
            box, entry, exit_ = self.group(flow.kind, flow.flow)
            if isinstance(flow, FallbackTo):
                handler_entry, handler_exit = self.draw(flow.fallback)
            else:
                handler_entry = handler_exit = self.node(f"{flow.kind}: {self.name(flow.function)}")
            join = self.node(f"end {flow.kind}", "{{", "}}")
            self.edge(box, handler_entry, "on failure", dotted=True)
            self.edge(exit_, join)
            self.edge(handler_exit, join)
            return entry, join
        if isinstance(flow, Diverted):
            entry, exit_ = self.draw(flow.flow)
            side_entry, _ = self.draw(flow.side)
            self.edge(exit_, side_entry, "divert (fire and forget)", dotted=True)
            return entry, exit_
        if isinstance(flow, (Loop, LoopWithState)):
            title = f"loop (at most {flow.max_iter})"
            if isinstance(flow, LoopWithState):
                title = f"loop with state (at most {flow.max_iter})"
            box, entry, exit_ = self.group(title, flow.body)
            decision = self.node("Continue or Done?", "{", "}")
            self.edge(exit_, decision)
            self.edge(decision, entry, "Continue")
            done = self.node("done", "{{", "}}")
            self.edge(decision, done, "Done")
            return entry, done
        if isinstance(flow, Timeout):
            box, entry, exit_ = self.group(f"timeout {flow.seconds:g}s", flow.flow)
            return entry, exit_
        assert isinstance(flow, Retry)
        box, entry, exit_ = self.group(f"retry up to {plural(flow.attempts, 'time')}", flow.flow)
        return entry, exit_
