"""Equality, hashing and ``repr`` of deep values, walked with an explicit stack.

Programs and flows are trees of frozen attrs nodes, and a chain of a million binds is a tree a
million deep. attrs' generated ``__eq__``, ``__hash__`` and ``__repr__`` recurse once per level
and hit `RecursionError` after a few hundred; the functions here give the same answers (each
node's fields in order, the same ``repr`` text) on an explicit stack, so they work at any depth.

The walk goes into the nodes of the families registered with `walk_family` and `walk_class`
(the program nodes, the effects and continuations that carry programs, the flow nodes) and into
plain tuples; every other value is compared with ``==``, hashed with `hash` and shown with
`repr`, as attrs would. Functions therefore compare by identity, as before.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = [
    "Structural",
    "repr_by_fields",
    "structural_hash",
    "structural_repr",
    "structurally_equal",
    "walk_class",
    "walk_family",
]

_roots: list[type] = []
_classes: set[type] = set()


class _Opaque(enum.Enum):
    """How a value the walk does not go into compares."""

    LEAF = enum.auto()  # with ``==`` and `hash`, as attrs would
    IDENTITY = enum.auto()  # a family member that is not an attrs class: itself only


# For each type met: the names of the fields the walk goes into, last first (the order they go
# on the stack), or how a value of that type compares.
_fields: dict[type, tuple[str, ...] | _Opaque] = {}


def walk_family(root: type) -> None:
    """Walk into every attrs subclass of ``root`` (``root`` itself is abstract)."""
    _roots.append(root)
    _fields.clear()


def walk_class(*classes: type) -> None:
    """Walk into each of ``classes`` (attrs classes that may hold deep values)."""
    _classes.update(classes)
    _fields.clear()


def _fields_of(kind: type) -> tuple[str, ...] | _Opaque:
    found = _fields.get(kind)
    if found is None:
        if kind in _classes or any(issubclass(kind, root) for root in _roots):
            found = (
                tuple(reversed([field.name for field in attrs.fields(kind) if field.eq]))
                if attrs.has(kind)
                else _Opaque.IDENTITY
            )
        else:
            found = _Opaque.LEAF
        _fields[kind] = found
    return found


def structurally_equal(left: object, right: object) -> bool:
    """Whether two values are equal, field by field through the walked nodes, in order.

    >>> from playbill import pure
    >>> structurally_equal(pure(1).map(str), pure(1).map(str))
    True
    """
    stack: list[tuple[Any, Any]] = [(left, right)]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        a, b = pop()
        if a is b:
            continue
        kind = type(a)
        if kind is not type(b):
            if a == b:  # what attrs does with fields of different types (1 == 1.0)
                continue
            return False
        if kind is tuple:
            if len(a) != len(b):
                return False
            extend(zip(reversed(a), reversed(b), strict=True))
            continue
        names = _fields.get(kind) or _fields_of(kind)
        if names is _Opaque.LEAF:
            if a == b:
                continue
            return False
        if names is _Opaque.IDENTITY:
            return False
        for name in names:
            x, y = getattr(a, name), getattr(b, name)
            if x is not y:  # the continuation of a chain, mostly
                push((x, y))
    return True


class _Combine:
    """A marker on the hash stack: combine the last ``count`` hashes, salted with ``salt``."""

    __slots__ = ("count", "salt")

    def __init__(self, salt: int | None, count: int) -> None:
        self.salt = salt  # None for a tuple
        self.count = count


class _Hashed:
    """A stand-in whose hash is a hash already computed (to hash a tuple as Python does)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __hash__(self) -> int:
        return self.value


_markers: dict[type, _Combine] = {}


def structural_hash(value: object) -> int:
    """A hash that agrees with `structurally_equal`: equal values hash equal.

    A tuple hashes exactly as Python hashes it, so a tuple and an equal named tuple in a node's
    field still give the same hash.

    >>> from playbill import pure
    >>> structural_hash(pure((1, 2))) == structural_hash(pure((1, 2)))
    True
    """
    hashes: list[int] = []
    stack: list[Any] = [value]
    pop, push, extend = stack.pop, stack.append, stack.extend
    record, take = hashes.append, hashes.pop
    while stack:
        item = pop()
        kind = type(item)
        if kind is _Combine:
            count = item.count
            if item.salt is not None and 0 < count <= 2:  # most nodes: spare the slicing
                last = take()
                record(hash((item.salt, take(), last) if count == 2 else (item.salt, last)))
                continue
            parts = hashes[len(hashes) - count :]
            del hashes[len(hashes) - count :]
            if item.salt is None:
                record(hash(tuple(map(_Hashed, parts))))
            else:
                record(hash((item.salt, *parts)))
            continue
        if kind is tuple:
            push(_Combine(None, len(item)))
            extend(reversed(item))
            continue
        names = _fields.get(kind) or _fields_of(kind)
        if names is _Opaque.LEAF:
            record(hash(item))
        elif names is _Opaque.IDENTITY:
            record(object.__hash__(item))
        else:
            marker = _markers.get(kind)
            if marker is None:
                marker = _markers[kind] = _Combine(hash(kind.__qualname__), len(names))
            push(marker)
            for name in names:
                push(getattr(item, name))
    return hashes[0]


class _Text:
    """A piece of ``repr`` text on the stack (a plain `str` there is a value to show)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_OPEN, _CLOSE, _COMMA, _ONE = _Text("("), _Text(")"), _Text(", "), _Text(",)")


def structural_repr(value: object) -> str:
    """The text attrs' ``repr`` would give (``Name(field=value, ...)``), at any depth.

    The walk goes into the nodes whose ``__repr__`` is `repr_by_fields` (and into tuples); every
    other value is shown with its own `repr`.

    >>> import attrs
    >>> @attrs.frozen(repr=False)
    ... class Pair:
    ...     left: object
    ...     right: object
    ...     __repr__ = repr_by_fields
    >>> structural_repr(Pair(Pair(len, "a"), (2,)))
    "Pair(left=Pair(left=<built-in function len>, right='a'), right=(2,))"
    """
    out: list[str] = []
    stack: list[Any] = [value]
    pop, push, write = stack.pop, stack.append, out.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is _Text:
            write(item.text)
            continue
        if kind is tuple:
            write("(")
            if len(item) == 1:
                push(_ONE)
                push(item[0])
                continue
            push(_CLOSE)
            for index in range(len(item) - 1, -1, -1):
                push(item[index])
                if index:
                    push(_COMMA)
            continue
        if getattr(kind, "__repr__", None) is not repr_by_fields or not attrs.has(kind):
            write(repr(item))
            continue
        write(kind.__qualname__.rsplit(">.", 1)[-1])
        write("(")
        push(_CLOSE)
        shown = [field.name for field in attrs.fields(kind) if field.repr]
        for index in range(len(shown) - 1, -1, -1):
            push(getattr(item, shown[index]))
            push(_Text(f"{shown[index]}="))
            if index:
                push(_COMMA)
    return "".join(out)


def repr_by_fields(self: object) -> str:
    """A ``__repr__`` for attrs classes (made with ``repr=False``) that never recurses."""
    if not attrs.has(type(self)):
        return object.__repr__(self)
    return structural_repr(self)


class Structural:
    """The base of the deep values (`Program`, `Flow`): equal structure, equal values
    (functions by identity), compared and hashed on an explicit stack, so a chain of a million
    binds or a flow nested a hundred thousand deep compares and hashes (attrs' generated
    methods would recurse once per node)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return structurally_equal(self, other)

    def __hash__(self) -> int:
        return structural_hash(self)
