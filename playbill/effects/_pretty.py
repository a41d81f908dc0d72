"""Readable forms of a program, drawn from its structure without running it.

`one_line` mirrors how the program was built (``pure(1).map(inc).then(now())``); `tree` draws
it as an indented tree of effects. Both walk iteratively and stop at a budget, so a program of
a million binds prints in a moment.
"""

from __future__ import annotations

from typing import Any

from returns.result import Success

from playbill.effects._concurrency import CancelFiber, Fork, Join, Parallel, Race, Timeout
from playbill.effects._program import (
    Catch,
    Ensuring,
    Fail,
    FlatMap,
    Generate,
    Map,
    Program,
    Pure,
    Suspend,
    _attempt_failure,
    _Constant,
    _Recovered,
)
from playbill.effects._vocabulary import (
    Ask,
    Emit,
    Now,
    Random,
    SelfRef,
    Sleep,
    Spawn,
    Stop,
    Tell,
    Watch,
)

__all__ = ["function_name", "one_line", "tree"]

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


def _value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


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
    raise AssertionError(node)  # pragma: no cover - callers check the node kinds


_CHAIN = (Map, FlatMap, Catch, Ensuring)


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
        case Timeout(program, seconds):
            return "timeout", [program], f"{seconds:g}s"
        case Fork(program):
            return "fork", [program], ""
        case Join(fiber):
            return f"join(fiber {fiber.id})", [], ""
        case CancelFiber(fiber):
            return f"cancel(fiber {fiber.id})", [], ""
        case Tell(ref, message):
            return f"free_tell({ref.path}, {_value(message)})", [], ""
        case Ask(ref, message, timeout):
            limit = "" if timeout is None else f", timeout={timeout!r}"
            return f"free_ask({ref.path}, {_value(message)}{limit})", [], ""
        case Spawn(actor, name, _, _):
            named = "" if name is None else f", name={name!r}"
            return f"free_spawn({function_name(actor)}{named})", [], ""
        case Stop(ref, interrupt):
            forced = ", interrupt=True" if interrupt else ""
            return f"free_stop({ref.path}{forced})", [], ""
        case Watch(ref):
            return f"watch({ref.path})", [], ""
        case Emit(event):
            return f"emit({_value(event)})", [], ""
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
