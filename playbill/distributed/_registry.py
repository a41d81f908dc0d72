"""Message types on the wire: an explicit registry, never a name imported from the wire.

A registered class (attrs or dataclass) travels as its registered name, its schema version and
its fields; ``str``, ``int``, ``float``, ``bool``, ``None``, ``bytes``, ``list``, ``tuple`` and
``dict`` travel as themselves (msgpack), a `DurableRef` as its id and incarnation (bound, on
arrival, to the receiving node). Anything else is refused by the sender.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar, final

import attrs
import msgpack

from playbill.distributed._ref import DurableRef
from playbill.effects import InvalidArgument

__all__ = ["MessageRegistry", "UnknownMessageType", "default_registry", "message"]

T = TypeVar("T", bound=type)

_RECORD = 1  # msgpack extension codes: a registered value, a tuple, a durable ref
_TUPLE = 2
_REF = 3
# what a DurableRef read from the wire is bound to: the receiving node's transport
_BINDING: ContextVar[Any] = ContextVar("playbill_durable_binding", default=None)
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class UnknownMessageType(Exception):
    """A value on the wire names a type (or version) this registry does not know."""


@final
class MessageRegistry:
    """The message classes one process accepts from the wire, by name and version.

    >>> import attrs
    >>> registry = MessageRegistry()
    >>> @registry.message("order.place", v=1)
    ... @attrs.frozen
    ... class PlaceOrder:
    ...     item: str
    ...     quantity: int
    >>> data = registry.pack(PlaceOrder("tea", 2))
    >>> registry.unpack(data)
    PlaceOrder(item='tea', quantity=2)
    >>> registry.type_of(PlaceOrder("tea", 2))
    ('order.place', 1)
    """

    __slots__ = ("_by_class", "_by_name")

    def __init__(self) -> None:
        self._by_name: dict[tuple[str, int], type] = {}
        self._by_class: dict[type, tuple[str, int]] = {}

    def message(self, name: str, v: int = 1) -> Callable[[T], T]:
        """A class decorator registering an attrs class or dataclass as ``name``, version
        ``v``."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidArgument(
                f"message name must be 1-200 characters of letters, digits and '_.:-', got {name!r}"
            )
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise InvalidArgument(f"message v (the schema version) must be an int >= 1, got {v!r}")

        def register(cls: T) -> T:
            if not isinstance(cls, type) or not (attrs.has(cls) or dataclasses.is_dataclass(cls)):
                raise InvalidArgument(
                    f"@message({name!r}, v={v}) takes an attrs class or a dataclass, got "
                    f"{cls!r}; its fields are what travels"
                )
            known = self._by_name.get((name, v))
            if known is not None and known is not cls:
                raise InvalidArgument(
                    f"message type {name!r} v={v} is already registered for "
                    f"{known.__qualname__}; give {cls.__qualname__} another name or version"
                )
            self._by_name[(name, v)] = cls
            self._by_class[cls] = (name, v)
            return cls

        return register

    def knows(self, name: str, v: int) -> bool:
        """Whether ``name`` version ``v`` is registered here."""
        return (name, v) in self._by_name

    def type_of(self, value: object) -> tuple[str, int]:
        """The (name, version) a value travels as: ``("", 0)`` for a plain value."""
        return self._by_class.get(type(value), ("", 0))

    def pack(self, value: object) -> bytes:
        """``value`` as msgpack bytes; `InvalidArgument` when part of it cannot travel."""
        try:
            packed: bytes = msgpack.packb(
                value, default=self._default, use_bin_type=True, strict_types=True
            )
        except InvalidArgument:
            raise
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidArgument(
                f"cannot encode {value!r} for the wire: {error}; send str, int, float, bool, "
                "None, bytes, list, tuple, dict, or a class registered with @message(name, v=1)"
            ) from None
        return packed

    def unpack(self, data: bytes) -> Any:
        """The value ``data`` encodes; `UnknownMessageType` for a name or version not
        registered here, ``ValueError`` for bytes that are not such a value."""
        return msgpack.unpackb(
            data, ext_hook=self._ext_hook, raw=False, strict_map_key=False, use_list=True
        )

    @contextlib.contextmanager
    def binding(self, transport: object) -> Iterator[None]:
        """`DurableRef`s read while this is entered are bound to ``transport`` (so a ref
        received in a message can be told and asked at once)."""
        token = _BINDING.set(transport)
        try:
            yield
        finally:
            _BINDING.reset(token)

    def _default(self, value: object) -> msgpack.ExtType:
        if type(value) is tuple:  # (msgpack packs tuples as lists unless told otherwise)
            return msgpack.ExtType(_TUPLE, self.pack(list(value)))
        if type(value) is DurableRef:  # (travels as its id and incarnation)
            return msgpack.ExtType(_REF, self.pack([value.id, value.incarnation]))
        kind = self._by_class.get(type(value))
        if type(value) is int:
            raise InvalidArgument(
                f"cannot encode {value!r}: msgpack carries integers from -2**63 to 2**64 - 1; "
                "send a larger one as a str"
            )
        if kind is None:
            raise InvalidArgument(
                f"{type(value).__qualname__} is not a registered message type, so "
                f"{value!r} cannot travel; decorate the class with "
                "@message('some.name', v=1) from playbill.distributed (nothing is pickled)"
            )
        if attrs.has(type(value)):
            fields = {field.name: getattr(value, field.name) for field in attrs.fields(type(value))}  # type: ignore[arg-type]
        else:
            fields = {
                field.name: getattr(value, field.name)
                for field in dataclasses.fields(value)  # type: ignore[arg-type]
            }
        return msgpack.ExtType(_RECORD, self.pack([kind[0], kind[1], fields]))

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == _TUPLE:
            return tuple(self.unpack(data))
        if code == _REF:
            fields = self.unpack(data)
            if not (
                isinstance(fields, list)
                and len(fields) == 2
                and isinstance(fields[0], str)
                and (fields[1] is None or type(fields[1]) is int)
            ):
                raise UnknownMessageType("a malformed durable ref")
            return DurableRef(fields[0], fields[1], _BINDING.get())
        if code != _RECORD:
            raise UnknownMessageType(f"msgpack extension {code} is not a playbill value")
        record = self.unpack(data)
        if not (isinstance(record, list) and len(record) == 3 and isinstance(record[2], dict)):
            raise UnknownMessageType("a malformed registered value")
        name, v, fields = record
        cls = self._by_name.get((name, v)) if isinstance(name, str) and type(v) is int else None
        if cls is None:
            raise UnknownMessageType(f"unknown message type {name!r} v={v!r}")
        if attrs.has(cls):
            aliases = {field.name: field.alias for field in attrs.fields(cls)}
            return cls(**{aliases.get(key, key): value for key, value in fields.items()})
        return cls(**fields)


default_registry = MessageRegistry()
"""The registry `message` registers into, and that `RedisTransport` uses unless given one."""


def message(name: str, v: int = 1) -> Callable[[T], T]:
    """Register an attrs class or dataclass as a message type that may cross the wire, under
    ``name`` and schema version ``v`` (in `default_registry`). A receiver only ever builds
    classes registered this way; a name it does not know goes to dead letters.

    >>> import attrs
    >>> @message("docs.ping", v=1)
    ... @attrs.frozen
    ... class Ping:
    ...     n: int
    >>> default_registry.unpack(default_registry.pack(Ping(3)))
    Ping(n=3)
    """
    return default_registry.message(name, v)
