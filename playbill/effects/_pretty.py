"""Readable forms of a program, drawn from its structure without running it.

`one_line` mirrors how the program was built (``pure(1).map(inc).then(now())``); `tree` draws
it as an indented tree of effects. Both walk iteratively and stop at a budget, so a program of
a million binds prints in a moment.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
from typing import Any, cast

from returns.result import Success

from playbill.effects._concurrency import (
    CancelFiber,
    Fork,
    Join,
    Parallel,
    Race,
    Settle,
    Timeout,
)
from playbill.effects._program import (
    Catch,
    Ensuring,
    Fail,
    FlatMap,
    Generate,
    Intercept,
    Map,
    Program,
    Pure,
    Suspend,
    _attempt_failure,
    _Constant,
    _Recovered,
)
from playbill.effects._promises import AwaitPromise, CompletePromise, FailPromise, NewPromise
from playbill.effects._structure import repr_by_fields
from playbill.effects._vocabulary import (
    Ask,
    Emit,
    EmitStamped,
    GetOrSpawn,
    Now,
    Random,
    SelfRef,
    Sleep,
    Spawn,
    Stop,
    Tell,
    Watch,
)

__all__ = ["bounded_repr", "function_name", "one_line", "tree"]

_MAX_NESTING = 12
_MAX_CHAIN = 40
_MAX_VALUE = 60


def function_name(function: object) -> str:
    """A short name for a function or callable, with the line of a lambda."""
    name = getattr(function, "__qualname__", None)
    if name is None:
        return type(function).__name__
    if name.endswith("<lambda>"):
        code = getattr(function, "__code__", None)
        line = f":{code.co_firstlineno}" if code is not None else ""
        return f"<lambda{line}>"
    return str(name)


_FUNCTIONS = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
)
_PLAIN = frozenset({int, float, bool, type(None), complex})
_ITEMS = 8  # items shown of a container, fields of an instance
_LEVELS = 4  # containers shown inside containers


def _failed_repr(value: object, error: BaseException) -> str:
    return f"<{type(value).__qualname__} object (repr failed: {type(error).__name__})>"


# per class: the (name, how) of the fields its library-written repr shows, with the class's
# printed name, or None when the class writes its own repr
_Fields = tuple[str, tuple[tuple[str, Any], ...]]
_FIELDS: dict[type, _Fields | None] = {}


def _fields_of(kind: type) -> _Fields | None:
    """The fields an attrs or dataclass repr shows, when ``kind``'s repr is the one that
    library wrote (so each field can be shown bounded); else None."""
    if kind in _FIELDS:
        return _FIELDS[kind]
    found: _Fields | None = None
    code = getattr(kind.__repr__, "__code__", None)
    if code is not None:
        walked: object = kind.__repr__  # Program's and Flow's field walk reads as attrs' repr
        by_attrs = code.co_filename.startswith("<attrs generated") or walked is repr_by_fields
        if by_attrs and hasattr(kind, "__attrs_attrs__"):
            found = (
                kind.__qualname__.rsplit(">.", 1)[-1],
                tuple(
                    (attribute.name, attribute.repr)
                    for attribute in kind.__attrs_attrs__
                    if attribute.repr is not False
                ),
            )
        elif dataclasses.is_dataclass(kind) and code.co_filename == dataclasses.__file__:
            found = (
                kind.__qualname__,
                tuple((item.name, True) for item in dataclasses.fields(kind) if item.repr),
            )
    _FIELDS[kind] = found
    return found


_BRACKETS: dict[type, tuple[str, str]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
}


def _render(value: object, width: int, level: int) -> str:
    kind = type(value)
    try:
        if kind in _PLAIN:
            return repr(value)
        if kind is str:
            text = cast(str, value)
            return repr(text) if len(text) <= width else repr(text[:width]) + "…"
        brackets = _BRACKETS.get(kind)
        if brackets is not None:
            items: Any = value
            if not items:
                return (
                    "set()" if kind is set else "frozenset()" if kind is frozenset else repr(value)
                )
            if level <= 0:
                return f"{brackets[0]}...{brackets[1]}"
            shown = [_render(item, width, level - 1) for item in itertools.islice(items, _ITEMS)]
            if len(items) > _ITEMS:
                shown.append("...")
            elif kind is tuple and len(items) == 1:
                return f"({shown[0]},)"
            return brackets[0] + ", ".join(shown) + brackets[1]
        if kind is dict:
            mapping: Any = value
            if level <= 0:
                return "{...}" if mapping else "{}"
            pairs = [
                f"{_render(key, width, level - 1)}: {_render(item, width, level - 1)}"
                for key, item in itertools.islice(mapping.items(), _ITEMS)
            ]
            if len(mapping) > _ITEMS:
                pairs.append("...")
            return "{" + ", ".join(pairs) + "}"
        fields = _fields_of(kind)
        if fields is not None:
            return _render_fields(value, fields, width, level)
        if isinstance(value, type):
            return f"<class '{value.__qualname__}'>"
        if isinstance(value, _FUNCTIONS):
            return f"<function {function_name(value)}>"
        if kind.__repr__ is object.__repr__:
            return f"<{kind.__qualname__} object>"
        if isinstance(value, BaseException) and kind.__repr__ is BaseException.__repr__:
            arguments = value.args
            if level <= 0 and arguments:
                return f"{kind.__name__}(...)"
            inner = [_render(argument, width, level - 1) for argument in arguments[:_ITEMS]]
            return f"{kind.__name__}({', '.join(inner)})"
        return repr(value)  # a repr of the class's own: its size is its author's
    except Exception as error:
        return _failed_repr(value, error)


def _render_fields(value: object, fields: _Fields, width: int, level: int) -> str:
    name, shown = fields
    if level <= 0:
        return f"{name}(...)"
    parts = []
    for index, (field_name, how) in enumerate(shown):
        if index == _ITEMS:
            parts.append("...")
            break
        item = getattr(value, field_name, None)
        if how is True:
            text = _render(item, width, level - 1)
        else:
            try:
                text = str(how(item))
            except Exception as error:
                text = _failed_repr(item, error)
        parts.append(f"{field_name}={text}")
    return f"{name}({', '.join(parts)})"


def bounded_repr(value: object, width: int = 80) -> str:
    """A repr of ``value`` at most ``width`` characters long, bounded while it is built (a
    list of a million items costs what a list of eight does; attrs and dataclass instances
    and exceptions are shown field by field), with no memory address (an object with the
    default repr is ``<Foo object>``, a function ``<function name>``), and never raising: a
    repr that fails is shown as ``<Foo object (repr failed: ValueError)>``.

    >>> bounded_repr(list(range(1_000_000)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    >>> class Broken:
    ...     def __repr__(self):
    ...         raise ValueError("no")
    >>> bounded_repr(Broken())
    '<Broken object (repr failed: ValueError)>'
    """
    text = _render(value, width, _LEVELS)
    return text if len(text) <= width else text[: width - 1] + "…"


def _value(value: object) -> str:
    return bounded_repr(value, _MAX_VALUE)


def _step(node: Program[Any]) -> tuple[str, list[Program[Any]], Program[Any] | None]:
    """Describe one chain node: its label, the programs nested in it, and its source."""
    if isinstance(node, Map):
        return f"map({function_name(node.function)})", [], node.source
    if isinstance(node, FlatMap):
        if isinstance(node.continuation, _Constant):
            return "then", [node.continuation.program], node.source
        return f"flat_map({function_name(node.continuation)})", [], node.source
    if isinstance(node, Catch):
        catching = (
            ""
            if node.catching == (Exception,)
            else ", catching=" + ", ".join(kind.__name__ for kind in node.catching)
        )
        if node.handler is _attempt_failure:
            source = node.source
            if isinstance(source, Map) and source.function is Success:
                source = source.source
            return "attempt", [], source
        if isinstance(node.handler, _Recovered):
            return f"recover({function_name(node.handler.function)}{catching})", [], node.source
        return f"recover_with({function_name(node.handler)}{catching})", [], node.source
    if isinstance(node, Ensuring):
        return "ensuring", [node.finalizer], node.source
    if isinstance(node, Intercept):
        ending = "".join(
            f", {name}={function_name(function)}"
            for name, function in (("on_value", node.on_value), ("on_error", node.on_error))
            if function is not None
        )
        return f"intercept({function_name(node.transform)}{ending})", [], node.source
    raise AssertionError(node)  # pragma: no cover - callers check the node kinds


_CHAIN = (Map, FlatMap, Catch, Ensuring, Intercept)


def _leaf(node: Program[Any]) -> tuple[str, list[Program[Any]], str]:
    """Describe a leaf: its label, nested programs, and the text after them (one-line form)."""
    if isinstance(node, Pure):
        return f"pure({_value(node.value)})", [], ""
    if isinstance(node, Fail):
        return f"fail({_value(node.error)})", [], ""
    if isinstance(node, Generate):
        arguments = [_value(argument) for argument in node.args]
        arguments += [f"{key}={_value(value)}" for key, value in node.kwargs]
        return f"@program {function_name(node.function)}({', '.join(arguments)})", [], ""
    if isinstance(node, Suspend):
        return _effect(node.effect)
    return f"<{type(node).__name__}>", [], ""


def _effect(effect: object) -> tuple[str, list[Program[Any]], str]:
    match effect:
        case Parallel(programs):
            return "gather", list(programs), ""
        case Race(programs):
            return "race", list(programs), ""
        case Settle(programs, _, _):
            return "settle", list(programs), ""
        case Timeout(program, seconds):
            return "timeout", [program], f"{seconds:g}s"
        case Fork(program):
            return "fork", [program], ""
        case Join(fiber):
            return f"join(fiber {fiber.id})", [], ""
        case CancelFiber(fiber):
            return f"cancel(fiber {fiber.id})", [], ""
        case NewPromise():
            return "new_promise()", [], ""
        case CompletePromise(promise, value):
            return f"complete(promise {promise.id}, {_value(value)})", [], ""
        case FailPromise(promise, error):
            return f"fail_promise(promise {promise.id}, {_value(error)})", [], ""
        case AwaitPromise(promise):
            return f"await_promise(promise {promise.id})", [], ""
        case Tell(ref, message):
            return f"free_tell({ref.path}, {_value(message)})", [], ""
        case Ask(ref, message, timeout):
            limit = "" if timeout is None else f", timeout={timeout!r}"
            return f"free_ask({ref.path}, {_value(message)}{limit})", [], ""
        case Spawn(actor, name, _, _):
            named = "" if name is None else f", name={name!r}"
            return f"free_spawn({function_name(actor)}{named})", [], ""
        case GetOrSpawn(path, actor):
            return f"free_get_or_spawn({path!r}, {function_name(actor)})", [], ""
        case Stop(ref, interrupt):
            forced = ", interrupt=True" if interrupt else ""
            return f"free_stop({ref.path}{forced})", [], ""
        case Watch(ref):
            return f"watch({ref.path})", [], ""
        case Emit(event):
            return f"emit({_value(event)})", [], ""
        case EmitStamped(make):
            return f"emit_stamped({function_name(make)})", [], ""
        case SelfRef():
            return "self_ref()", [], ""
        case Now():
            return "now()", [], ""
        case Random():
            return "random()", [], ""
        case Sleep(seconds):
            return f"sleep({seconds:g})", [], ""
    return f"perform({_value(effect)})", [], ""


def one_line(program: Program[Any], nesting: int = 0) -> str:
    """The program as the chain of calls that built it, elided past a budget.

    >>> from playbill import pure, now
    >>> one_line(pure(1).map(str).then(now()))
    'pure(1).map(str).then(now())'
    """
    if nesting > _MAX_NESTING:
        return "…"
    suffixes: list[str] = []
    node = program
    elided = 0
    while isinstance(node, _CHAIN):
        label, nested, source = _step(node)
        if len(suffixes) < _MAX_CHAIN:
            inner = ", ".join(one_line(child, nesting + 1) for child in nested)
            if label in ("then", "ensuring"):
                suffixes.append(f".{label}({inner})")
            elif label == "attempt":
                suffixes.append(".attempt()")
            else:
                suffixes.append(f".{label}")
        else:
            elided += 1
        assert source is not None
        node = source
    label, nested, extra = _leaf(node)
    if nested:
        inner = ", ".join(one_line(child, nesting + 1) for child in nested)
        head = f"{label}({inner}{', ' + extra if extra else ''})"
    else:
        head = label
    middle = f"…({elided} more)" if elided else ""
    return head + middle + "".join(reversed(suffixes))


def tree(program: Program[Any], *, max_nodes: int = 200) -> str:
    """The program as an indented tree, one node a line, at most ``max_nodes`` lines.

    >>> from playbill import pure
    >>> print(tree(pure(1).map(str)))
    map(str)
    └── pure(1)
    """
    lines: list[str] = []
    # (node, prefix for this line, prefix for its children, connector)
    pending: list[tuple[Program[Any], str, str]] = [(program, "", "")]
    while pending:
        if len(lines) >= max_nodes:
            lines.append(f"… (stopped after {max_nodes} nodes)")
            break
        node, line_prefix, child_prefix = pending.pop()
        if isinstance(node, _CHAIN):
            label, nested, source = _step(node)
            assert source is not None
            children = [source, *nested]
        else:
            label, children, extra = _leaf(node)
            if extra:
                label = f"{label} {extra}"
        lines.append(line_prefix + label)
        for index in range(len(children) - 1, -1, -1):
            last = index == len(children) - 1
            pending.append(
                (
                    children[index],
                    child_prefix + ("└── " if last else "├── "),
                    child_prefix + ("    " if last else "│   "),
                )
            )
    return "\n".join(lines)
