"""`Registry`: the only place a flow document's names are looked up."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar, final, overload

from playbill.effects import InvalidArgument

__all__ = ["Registry"]

T = TypeVar("T")

_MISSING: Any = object()  # register() called with no thing: the decorator form


@final
class Registry:
    """Names for the functions, predicates, actor factories, types and values a flow holds.

    Saving a flow writes each one's name; loading reads names back through this registry only
    (never ``import``, ``eval`` or ``pickle``), so a document can run nothing that was not
    registered here.

    >>> registry = Registry()
    >>> @registry.register
    ... def shout(text):
    ...     return text.upper()
    >>> registry.register(len, name="length")
    <built-in function len>
    >>> registry.name_of(shout), registry.resolve("length")
    ('shout', <built-in function len>)
    """

    def __init__(self) -> None:
        self._by_name: dict[str, object] = {}
        self._by_identity: dict[int, str] = {}  # the very object registered (kept alive above)
        self._callables: dict[Any, str] = {}  # equal callables too: a bound method is made anew

    @overload
    def register(self, thing: T, *, name: str | None = None) -> T: ...

    @overload
    def register(self, *, name: str) -> Callable[[T], T]: ...

    def register(self, thing: Any = _MISSING, *, name: str | None = None) -> Any:
        """Register ``thing`` under ``name`` (by default its ``__qualname__``); also a
        decorator, bare or as ``@registry.register(name="...")``."""
        if thing is _MISSING:
            if name is None:
                raise InvalidArgument("register() needs a thing to register, or name=...")
            return lambda later: self.register(later, name=name)
        if name is None:
            name = getattr(thing, "__qualname__", None)
            if not isinstance(name, str) or "<" in name:
                raise InvalidArgument(
                    f"{thing!r:.60} has no usable name of its own; register it with "
                    "registry.register(thing, name='...')"
                )
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgument(f"a registry name is a non-empty string, got {name!r}")
        present = self._by_name.get(name, _MISSING)
        if present is not _MISSING and present is not thing:
            raise InvalidArgument(
                f"the name {name!r} is already registered for {present!r:.60}; choose another"
            )
        self._by_name[name] = thing
        self._by_identity.setdefault(id(thing), name)
        if callable(thing):
            with contextlib.suppress(TypeError):  # an unhashable callable: by identity only
                self._callables.setdefault(thing, name)
        return thing

    def name_of(self, thing: object) -> str | None:
        """The name ``thing`` was registered under, or ``None``: the very object for values
        (``(1.0, 2.0)`` is not the registered ``(1, 2)``), or an equal callable."""
        found = self._by_identity.get(id(thing))
        if found is not None and self._by_name.get(found) is thing:
            return found
        if callable(thing):
            try:
                return self._callables.get(thing)
            except TypeError:
                return None
        return None

    def resolve(self, name: str) -> object:
        """What ``name`` stands for; `KeyError` if nothing was registered under it."""
        return self._by_name[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Registry({self.names()!r})"
