"""Flows as documents: dict, JSON and YAML, every node included.

A document is a tree of plain dicts, each with a ``kind``; the root also carries ``format``.
Functions, predicates, actor factories, types, and values that are not plain data are written
as names and read back through a `Registry` — and only through it: loading never imports,
evaluates or unpickles anything, and YAML is read with ``yaml.safe_load`` only. Every problem
is a `FlowSpecError` naming the document path of the bad node.
"""

from __future__ import annotations

import copy
import json
import math
import reprlib
from collections.abc import Callable
from typing import Any

import yaml

from playbill.actors import Backoff
from playbill.effects import ActorRef, InvalidArgument
from playbill.effects._checks import a_type
from playbill.flow._errors import FlowSpecError
from playbill.flow._nodes import (
    KINDS,
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

__all__ = ["FORMAT", "from_dict", "from_json", "from_yaml", "to_dict", "to_json", "to_yaml"]

FORMAT = "playbill.flow/1"
MAX_NODES = 100_000  # a YAML anchor used twice counts twice: no document may expand forever

_WRAPPERS: dict[type, str] = {  # a flow and one function
    Mapped: "function",
    FlatMapped: "function",
    Recover: "function",
    RecoverWith: "function",
    Tap: "function",
    AndThen: "function",
    Filter: "predicate",
}


def _child(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


# -- saving -----------------------------------------------------------------------------------


def to_dict(flow: Flow[Any, Any], registry: Registry) -> dict[str, Any]:
    """``flow`` as a plain document (dicts, lists, strings, numbers).

    >>> from playbill.flow import Registry, step
    >>> registry = Registry()
    >>> _ = registry.register(len, name="length")
    >>> to_dict(step(len), registry)
    {'format': 'playbill.flow/1', 'kind': 'step', 'function': 'length'}
    """
    if not isinstance(registry, Registry):
        raise TypeError(f"to_dict(flow, registry) takes a Registry, got {registry!r:.60}")
    try:
        return {"format": FORMAT, **_save(flow, registry, "")}
    except RecursionError:
        raise FlowSpecError("", _TOO_DEEP) from None


_TOO_DEEP = (
    "the flow is nested too deeply to save (hundreds of levels of map, zip, recover, ...); "
    "chains made with >> stay flat at any length"
)


def to_json(flow: Flow[Any, Any], registry: Registry, *, indent: int | None = 2) -> str:
    """``flow`` as a JSON document."""
    return json.dumps(to_dict(flow, registry), indent=indent)


def to_yaml(flow: Flow[Any, Any], registry: Registry) -> str:
    """``flow`` as a YAML document."""
    return str(yaml.safe_dump(to_dict(flow, registry), sort_keys=False))


def _name(registry: Registry, thing: object, path: str, what: str) -> str:
    name = registry.name_of(thing)
    if name is None:
        label = getattr(thing, "__qualname__", None) or repr(thing)[:60]
        raise FlowSpecError(
            path,
            f"the {what} {label} is not registered, so it cannot be saved; "
            f"registry.register({label}, name='...')",
        )
    return name


_MAX_DATA_DEPTH = 50


class _TooManyNodes(Exception):
    """A value holds more nodes than the loader may still read."""


def _data_nodes(value: object, limit: int | None = None) -> int | None:
    """How many values ``value`` holds, itself included, if it survives JSON and YAML unchanged
    (so it can be written as itself); ``None`` if it does not.

    Each list item and mapping value counts, and a list or mapping reached twice (a YAML alias)
    counts twice: past ``limit`` nodes, `_TooManyNodes`, so that a document of a few hundred
    bytes cannot make the walk expand a billion of them.
    """
    count = 1
    if limit is not None and count > limit:
        raise _TooManyNodes
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DATA_DEPTH:
            return None
        if item is None or isinstance(item, (bool, str, int)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return None
            continue
        if isinstance(item, (list, dict)):
            count += len(item)
            if limit is not None and count > limit:
                raise _TooManyNodes
            if isinstance(item, list):
                stack.extend((member, depth + 1) for member in item)
                continue
            for key, member in item.items():
                if not isinstance(key, str):
                    return None
                stack.append((member, depth + 1))
            continue
        return None
    return count


def _is_data(value: object) -> bool:
    """Whether ``value`` survives JSON and YAML unchanged (so it can be written as itself)."""
    return _data_nodes(value) is not None


def _save_value(
    document: dict[str, Any], key: str, value: object, registry: Registry, path: str
) -> None:
    if _is_data(value):
        document[key] = copy.deepcopy(value)  # the document never shares the flow's lists
    else:
        document[f"{key}_ref"] = _name(registry, value, _child(path, key), "value")


def _save(flow: Flow[Any, Any], registry: Registry, path: str) -> dict[str, Any]:
    document: dict[str, Any] = {"kind": flow.kind}
    kind = type(flow)
    if kind in _WRAPPERS:
        key = _WRAPPERS[kind]
        document["flow"] = _save(flow.flow, registry, _child(path, "flow"))  # type: ignore[attr-defined]
        document[key] = _name(registry, getattr(flow, key), _child(path, key), key)
    elif isinstance(flow, Step):
        document["function"] = _name(registry, flow.function, _child(path, "function"), "function")
    elif isinstance(flow, Pure):
        _save_value(document, "value", flow.value, registry, path)
    elif isinstance(flow, Identity):
        pass
    elif isinstance(flow, Spawned):
        document["factory"] = _name(registry, flow.factory, _child(path, "factory"), "factory")
        if flow.ask_timeout is not None:
            document["ask_timeout"] = flow.ask_timeout
    elif isinstance(flow, Call):
        document["target"] = flow.target.path if isinstance(flow.target, ActorRef) else flow.target
        if flow.ask_timeout is not None:
            document["ask_timeout"] = flow.ask_timeout
    elif isinstance(flow, Then):
        document["steps"] = [
            _save(each, registry, _child(path, f"steps[{i}]")) for i, each in enumerate(flow.steps)
        ]
    elif isinstance(flow, Zip):
        document["left"] = _save(flow.left, registry, _child(path, "left"))
        document["right"] = _save(flow.right, registry, _child(path, "right"))
    elif isinstance(flow, (ZipAll, Race, AtLeast)):
        if isinstance(flow, AtLeast):
            document["k"] = flow.k
        document["flows"] = [
            _save(each, registry, _child(path, f"flows[{i}]")) for i, each in enumerate(flow.flows)
        ]
    elif isinstance(flow, Branch):
        document["cases"] = [
            {
                "type": _name(registry, case_type, _child(path, f"cases[{i}].type"), "type"),
                "flow": _save(case_flow, registry, _child(path, f"cases[{i}].flow")),
            }
            for i, (case_type, case_flow) in enumerate(flow.cases)
        ]
        if flow.otherwise is not None:
            document["otherwise"] = _save(flow.otherwise, registry, _child(path, "otherwise"))
    elif isinstance(flow, BranchOn):
        document["predicate"] = _name(
            registry, flow.predicate, _child(path, "predicate"), "predicate"
        )
        document["on_true"] = _save(flow.on_true, registry, _child(path, "on_true"))
        document["on_false"] = _save(flow.on_false, registry, _child(path, "on_false"))
    elif isinstance(flow, FallbackTo):
        document["flow"] = _save(flow.flow, registry, _child(path, "flow"))
        document["fallback"] = _save(flow.fallback, registry, _child(path, "fallback"))
    elif isinstance(flow, Diverted):
        document["flow"] = _save(flow.flow, registry, _child(path, "flow"))
        document["side"] = _save(flow.side, registry, _child(path, "side"))
    elif isinstance(flow, (Loop, LoopWithState)):
        document["body"] = _save(flow.body, registry, _child(path, "body"))
        if isinstance(flow, LoopWithState):
            _save_value(document, "initial", flow.initial, registry, path)
        document["max_iter"] = flow.max_iter
        document["on_limit"] = flow.on_limit
    elif isinstance(flow, Timeout):
        document["flow"] = _save(flow.flow, registry, _child(path, "flow"))
        document["seconds"] = flow.seconds
    elif isinstance(flow, Retry):
        document["flow"] = _save(flow.flow, registry, _child(path, "flow"))
        document["attempts"] = flow.attempts
        backoff = flow.backoff
        document["backoff"] = {
            "initial": backoff.initial,
            "maximum": backoff.maximum,
            "multiplier": backoff.multiplier,
            "jitter": backoff.jitter,
        }
    else:  # pragma: no cover - every kind is handled above
        raise FlowSpecError(path, f"cannot save {a_type(flow)}")
    return document


# -- loading ----------------------------------------------------------------------------------


def from_dict(
    document: object, registry: Registry, *, max_nodes: int = MAX_NODES
) -> Flow[Any, Any]:
    """The flow a document describes, its names resolved through ``registry``.

    ``max_nodes`` bounds the work a document can ask for: each flow node counts, and so does
    each item of a value (a ``pure`` value, a ``loop_with_state`` initial state), a YAML alias
    as many times as it is used. A document past it is a `FlowSpecError`.

    >>> from playbill.flow import Registry, step
    >>> registry = Registry()
    >>> _ = registry.register(len, name="length")
    >>> from_dict({"format": "playbill.flow/1", "kind": "step", "function": "length"}, registry)
    Step(function=<built-in function len>)
    """
    if not isinstance(registry, Registry):
        raise TypeError(f"from_dict(document, registry) takes a Registry, got {registry!r:.60}")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1:
        raise InvalidArgument(
            f"max_nodes must be a positive integer (the most nodes a document may expand to), "
            f"got {max_nodes!r}"
        )
    if not isinstance(document, dict):
        raise FlowSpecError("", f"a flow document is a mapping, got {_kind_of(document)}")
    version = document.get("format")
    if version != FORMAT:
        raise FlowSpecError(
            "",
            f"format must be {FORMAT!r} (this document says {version!r}); "
            "write it with to_dict/to_json/to_yaml",
        )
    body = {key: value for key, value in document.items() if key != "format"}
    try:
        return _Loader(registry, max_nodes).load(body, "")
    except RecursionError:
        raise FlowSpecError("", "the document is nested too deeply to be a flow") from None


def from_json(
    text: str | bytes, registry: Registry, *, max_nodes: int = MAX_NODES
) -> Flow[Any, Any]:
    """The flow a JSON document describes (``max_nodes`` as in `from_dict`)."""
    return from_dict(_parse(json.loads, text, "JSON"), registry, max_nodes=max_nodes)


def from_yaml(
    text: str | bytes, registry: Registry, *, max_nodes: int = MAX_NODES
) -> Flow[Any, Any]:
    """The flow a YAML document describes (read with ``yaml.safe_load`` only; ``max_nodes`` as
    in `from_dict`: each use of an alias counts its nodes again).

    >>> from playbill.flow import FlowSpecError, Registry
    >>> text = "{format: playbill.flow/1, kind: pure, value: {a: &a [1, 2], b: *a}}"
    >>> from_yaml(text, Registry())
    Pure(value={'a': [1, 2], 'b': [1, 2]})
    >>> try:
    ...     from_yaml(text, Registry(), max_nodes=5)
    ... except FlowSpecError as error:
    ...     print(str(error)[:52])
    value: the document holds more than 5 nodes (each fl
    """
    return from_dict(_parse(yaml.safe_load, text, "YAML"), registry, max_nodes=max_nodes)


def _parse(parser: Callable[[Any], Any], text: object, what: str) -> Any:
    """``text`` read by ``parser``; whatever goes wrong is a `FlowSpecError`."""
    if not isinstance(text, (str, bytes)):
        raise FlowSpecError("", f"a {what} document is text, got {_kind_of(text)}")
    try:
        return parser(text)
    except RecursionError:
        raise FlowSpecError("", "the document is nested too deeply to be a flow") from None
    except Exception as error:  # a bad date or a huge integer raises ValueError, and so on
        raise FlowSpecError("", f"not a {what} document: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    """A parser's error in one line: a YAML error's problem and where (its message quotes the
    document over several lines)."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if isinstance(problem, str) and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 40, 40


def _kind_of(value: object) -> str:
    # A list or mapping is shown through reprlib, which looks at a few items of a few levels:
    # a plain repr would expand every use of a YAML alias before being cut to 40 characters.
    shown = _SHORT.repr(value) if isinstance(value, (list, dict, set, tuple)) else repr(value)
    return f"{type(value).__name__} {shown:.40}"


_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind: (required, optional)
    "step": (("function",), ()),
    "pure": ((), ("value", "value_ref")),
    "identity": ((), ()),
    "actor": (("factory",), ("ask_timeout",)),
    "call": (("target",), ("ask_timeout",)),
    "then": (("steps",), ()),
    "map": (("flow", "function"), ()),
    "flat_map": (("flow", "function"), ()),
    "recover": (("flow", "function"), ()),
    "recover_with": (("flow", "function"), ()),
    "tap": (("flow", "function"), ()),
    "and_then": (("flow", "function"), ()),
    "filter": (("flow", "predicate"), ()),
    "zip": (("left", "right"), ()),
    "zip_all": (("flows",), ()),
    "race": (("flows",), ()),
    "at_least": (("k", "flows"), ()),
    "branch": (("cases",), ("otherwise",)),
    "branch_on": (("predicate", "on_true", "on_false"), ()),
    "fallback_to": (("flow", "fallback"), ()),
    "divert_to": (("flow", "side"), ()),
    "loop": (("body", "max_iter"), ("on_limit",)),
    "loop_with_state": (("body", "max_iter"), ("initial", "initial_ref", "on_limit")),
    "timeout": (("flow", "seconds"), ()),
    "retry": (("flow", "attempts"), ("backoff",)),
}
assert set(_FIELDS) == set(KINDS)


class _Loader:
    def __init__(self, registry: Registry, max_nodes: int) -> None:
        self.registry = registry
        self.max_nodes = max_nodes
        self.nodes = 0

    def too_many(self, path: str) -> FlowSpecError:
        return FlowSpecError(
            path,
            f"the document holds more than {self.max_nodes:,} nodes (each flow node and each "
            "item of a value counts, each use of a YAML alias again); split the flow, write "
            "the repeated part once, or pass a larger max_nodes= to from_dict, from_json or "
            "from_yaml",
        )

    def load(self, document: object, path: str) -> Flow[Any, Any]:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise self.too_many(path)
        if not isinstance(document, dict):
            raise FlowSpecError(
                path, f"a flow node is a mapping with a kind, got {_kind_of(document)}"
            )
        kind = document.get("kind")
        if not isinstance(kind, str) or kind not in _FIELDS:
            raise FlowSpecError(
                path, f"unknown kind {kind!r}; known kinds: {', '.join(sorted(_FIELDS))}"
            )
        required, optional = _FIELDS[kind]
        for key in document:
            if key != "kind" and key not in required and key not in optional:
                allowed = ", ".join((*required, *optional)) or "none"
                raise FlowSpecError(
                    _child(path, str(key)), f"unknown field for a {kind} node (fields: {allowed})"
                )
        for key in required:
            if key not in document:
                raise FlowSpecError(path, f"a {kind} node needs the field {key!r}")
        try:
            return self.build(kind, document, path)
        except FlowSpecError:
            raise
        except (ValueError, TypeError, ArithmeticError) as error:  # a constructor refused it
            raise FlowSpecError(path, str(error)) from None

    def function(self, document: dict[str, Any], key: str, path: str, what: str) -> Any:
        return self.named(document[key], _child(path, key), what, callable)

    def named(self, name: object, path: str, what: str, check: Callable[[object], bool]) -> Any:
        if not isinstance(name, str):
            raise FlowSpecError(
                path, f"a {what} is given by its registered name, got {_kind_of(name)}"
            )
        if name not in self.registry:
            known = self.registry.names()
            shown = known if len(known) <= 20 else [*known[:20], "..."]
            raise FlowSpecError(path, f"unknown {what} {name!r}; registered: {shown}")
        thing = self.registry.resolve(name)
        if not check(thing):
            raise FlowSpecError(path, f"{name!r} is registered, but is not a {what}")
        return thing

    def flows(self, document: dict[str, Any], key: str, path: str) -> list[Flow[Any, Any]]:
        items = document[key]
        if not isinstance(items, list) or not items:
            raise FlowSpecError(
                _child(path, key), f"a non-empty list of flows, got {_kind_of(items)}"
            )
        return [self.load(item, _child(path, f"{key}[{i}]")) for i, item in enumerate(items)]

    def number(self, document: dict[str, Any], key: str, path: str, *, integer: bool) -> Any:
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            expected = "an integer" if integer else "a number"
            raise FlowSpecError(_child(path, key), f"{expected}, got {_kind_of(value)}")
        if integer:
            if not isinstance(value, int):
                raise FlowSpecError(_child(path, key), f"an integer, got {_kind_of(value)}")
            return value
        try:
            converted = float(value)
        except OverflowError:
            raise FlowSpecError(_child(path, key), "a number too large to be one") from None
        if math.isnan(converted):
            raise FlowSpecError(_child(path, key), "a number, got NaN")
        return converted

    def value(self, document: dict[str, Any], key: str, path: str) -> Any:
        if f"{key}_ref" in document:
            if key in document:
                raise FlowSpecError(path, f"give {key!r} or {key + '_ref'!r}, not both")
            return self.named(document[f"{key}_ref"], _child(path, f"{key}_ref"), "value", _any)
        value = document.get(key)
        try:
            nodes = _data_nodes(value, self.max_nodes - self.nodes)
        except _TooManyNodes:
            raise self.too_many(_child(path, key)) from None
        if nodes is None:
            raise FlowSpecError(_child(path, key), f"plain data, got {_kind_of(value)}")
        self.nodes += nodes
        return copy.deepcopy(value)  # the flow never shares the document's lists

    def build(self, kind: str, document: dict[str, Any], path: str) -> Flow[Any, Any]:
        load, sub = self.load, _child
        if kind == "step":
            return Step(self.function(document, "function", path, "function"))
        if kind == "pure":
            return Pure(self.value(document, "value", path))
        if kind == "identity":
            return Identity()
        if kind in ("actor", "call"):
            timeout = None
            if document.get("ask_timeout") is not None:
                timeout = self.number(document, "ask_timeout", path, integer=False)
            if kind == "actor":
                return Spawned(self.function(document, "factory", path, "actor factory"), timeout)
            target = document["target"]
            if not isinstance(target, str):
                raise FlowSpecError(sub(path, "target"), f"an actor path, got {_kind_of(target)}")
            return Call(target, timeout)
        if kind == "then":
            return Then(self.flows(document, "steps", path))
        if kind in ("map", "flat_map", "recover", "recover_with", "tap", "and_then", "filter"):
            key = "predicate" if kind == "filter" else "function"
            inner = load(document["flow"], sub(path, "flow"))
            function = self.function(document, key, path, key)
            cls = KINDS[kind]
            return cls(inner, function)  # type: ignore[call-arg]
        if kind == "zip":
            return Zip(
                load(document["left"], sub(path, "left")),
                load(document["right"], sub(path, "right")),
            )
        if kind == "zip_all":
            return ZipAll(self.flows(document, "flows", path))
        if kind == "race":
            return Race(self.flows(document, "flows", path))
        if kind == "at_least":
            k = self.number(document, "k", path, integer=True)
            return AtLeast(k, self.flows(document, "flows", path))
        if kind == "branch":
            cases = document["cases"]
            if not isinstance(cases, list) or not cases:
                raise FlowSpecError(
                    sub(path, "cases"), f"a non-empty list of cases, got {_kind_of(cases)}"
                )
            built = []
            for i, case in enumerate(cases):
                where = sub(path, f"cases[{i}]")
                if not isinstance(case, dict) or set(case) != {"type", "flow"}:
                    raise FlowSpecError(
                        where, f"a case is a mapping of type and flow, got {_kind_of(case)}"
                    )
                case_type = self.named(case["type"], sub(where, "type"), "type", _is_type)
                built.append((case_type, load(case["flow"], sub(where, "flow"))))
            otherwise = document.get("otherwise")
            return Branch(
                tuple(built), None if otherwise is None else load(otherwise, sub(path, "otherwise"))
            )
        if kind == "branch_on":
            predicate = self.function(document, "predicate", path, "predicate")
            return BranchOn(
                predicate,
                load(document["on_true"], sub(path, "on_true")),
                load(document["on_false"], sub(path, "on_false")),
            )
        if kind == "fallback_to":
            return FallbackTo(
                load(document["flow"], sub(path, "flow")),
                load(document["fallback"], sub(path, "fallback")),
            )
        if kind == "divert_to":
            return Diverted(
                load(document["flow"], sub(path, "flow")), load(document["side"], sub(path, "side"))
            )
        if kind in ("loop", "loop_with_state"):
            body = load(document["body"], sub(path, "body"))
            max_iter = self.number(document, "max_iter", path, integer=True)
            on_limit = document.get("on_limit", "fail")
            if kind == "loop":
                return Loop(body, max_iter, on_limit)
            return LoopWithState(body, self.value(document, "initial", path), max_iter, on_limit)
        if kind == "timeout":
            seconds = self.number(document, "seconds", path, integer=False)
            return Timeout(load(document["flow"], sub(path, "flow")), seconds)
        assert kind == "retry"
        attempts = self.number(document, "attempts", path, integer=True)
        inner = load(document["flow"], sub(path, "flow"))
        backoff = document.get("backoff")
        if backoff is None:
            return Retry(inner, attempts)
        if not isinstance(backoff, dict) or not set(backoff) <= {
            "initial",
            "maximum",
            "multiplier",
            "jitter",
        }:
            raise FlowSpecError(
                sub(path, "backoff"),
                f"a mapping of initial, maximum, multiplier and jitter, got {_kind_of(backoff)}",
            )
        for key in backoff:
            self.number(backoff, key, sub(path, "backoff"), integer=False)
        return Retry(inner, attempts, Backoff(**backoff))


def _any(thing: object) -> bool:
    return True


def _is_type(thing: object) -> bool:
    return isinstance(thing, type)
