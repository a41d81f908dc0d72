"""How a journal writes values and compares effects: JSON, with types named through a
`Registry` (never pickle, never an import of a name read from the file).

A value is plain JSON when it can be (None, bool, int, str, a finite float, a list, a dict
with str keys); anything else is an object with one ``$``-key: ``$tuple``, ``$float`` (nan,
±inf), ``$bytes``, ``$dict`` (other keys, or a key starting with ``$``), ``$attrs`` (an
attrs instance of a registered class), ``$enum``, ``$model`` (a pydantic model of a
registered class) and ``$error`` (an exception of a builtin, playbill or registered class).
"""

from __future__ import annotations

import base64
import builtins
import enum
import json
import math
from typing import Any, final

import attrs

import playbill.effects as _playbill_effects
from playbill.durable._errors import NotEncodable
from playbill.effects import ActorRef, Effect, Program
from playbill.effects._concurrency import CancelFiber, Fork, Join, Parallel, Race, Timeout
from playbill.effects._vocabulary import Await, Blocking
from playbill.flow import Registry

__all__ = ["Codec", "canonical"]

# The exceptions a journal names without registration: the builtin ones and playbill's own.
_KNOWN_ERRORS: dict[str, type[BaseException]] = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
_KNOWN_ERRORS.update(
    {
        f"playbill.{name}": value
        for name, value in vars(_playbill_effects).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
)
_ERROR_NAMES = {value: name for name, value in _KNOWN_ERRORS.items()}


@final
class Codec:
    """Values to JSON text and back, with the types of ``registry``.

    >>> from attrs import frozen
    >>> @frozen
    ... class Refund:
    ...     order: str
    ...     amount: float
    >>> registry = Registry()
    >>> _ = registry.register(Refund)
    >>> codec = Codec(registry)
    >>> text = codec.dumps((Refund("o-7", 12.5), None))
    >>> codec.loads(text)
    (Refund(order='o-7', amount=12.5), None)
    """

    __slots__ = ("registry",)

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def dumps(self, value: object) -> str:
        """``value`` as JSON text; `NotEncodable` naming what could not be written."""
        return json.dumps(self.encode(value, "the value"), separators=(",", ":"))

    def loads(self, text: str) -> Any:
        return self.decode(json.loads(text))

    def encode(self, value: object, where: str) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, list):
            return [self.encode(item, where) for item in value]
        if isinstance(value, tuple) and type(value) is tuple:
            return {"$tuple": [self.encode(item, where) for item in value]}
        if isinstance(value, bytes):
            return {"$bytes": base64.b64encode(value).decode("ascii")}
        if isinstance(value, dict):
            if all(isinstance(key, str) and not key.startswith("$") for key in value):
                return {key: self.encode(item, where) for key, item in value.items()}
            return {
                "$dict": [[self.encode(k, where), self.encode(v, where)] for k, v in value.items()]
            }
        if isinstance(value, BaseException):
            return self._encode_error(value, where)
        kind = type(value)
        name = self.registry.name_of(kind)
        if name is not None:
            if isinstance(value, enum.Enum):
                return {"$enum": name, "value": self.encode(value.value, where)}
            if attrs.has(kind):
                fields = {
                    field.name: self.encode(getattr(value, field.name), where)
                    for field in attrs.fields(kind)
                    if field.init
                }
                return {"$attrs": name, "fields": fields}
            dump = getattr(value, "model_dump", None)
            if dump is not None:  # a pydantic model
                return {"$model": name, "data": dump(mode="json")}
        raise NotEncodable(
            f"{where} holds {value!r:.80} ({kind.__qualname__}), which a journal cannot "
            f"write: register its class ({'registry.register(' + kind.__qualname__ + ')'}) if "
            "it is an attrs class, an Enum or a pydantic model, or return plain data (None, "
            "bool, int, float, str, bytes, and lists, tuples and dicts of them)"
        )

    def _encode_error(self, error: BaseException, where: str) -> Any:
        kind = type(error)
        name = self.registry.name_of(kind) or _ERROR_NAMES.get(kind)
        if name is None:
            raise NotEncodable(
                f"{where} is the failure {error!r:.80}, whose class {kind.__qualname__} a "
                "journal cannot name: register it (registry.register("
                f"{kind.__qualname__})), or raise a builtin or playbill error"
            )
        return {"$error": name, "args": [self._error_argument(arg) for arg in error.args]}

    def _error_argument(self, argument: object) -> Any:
        try:
            return self.encode(argument, "an error argument")
        except NotEncodable:
            return repr(argument)  # an error's arguments describe it; their text is enough

    def decode(self, form: Any) -> Any:
        if isinstance(form, list):
            return [self.decode(item) for item in form]
        if not isinstance(form, dict):
            return form
        if "$tuple" in form:
            return tuple(self.decode(item) for item in form["$tuple"])
        if "$float" in form:
            return float(form["$float"])
        if "$bytes" in form:
            return base64.b64decode(form["$bytes"])
        if "$dict" in form:
            return {self.decode(key): self.decode(value) for key, value in form["$dict"]}
        if "$error" in form:
            kind = self._named(form["$error"], _KNOWN_ERRORS)
            arguments = tuple(self.decode(arg) for arg in form["args"])
            try:
                return kind(*arguments)
            except Exception:  # an __init__ of another shape: the arguments, as raised
                error = kind.__new__(kind)
                error.args = arguments
                return error
        if "$attrs" in form:
            kind = self._named(form["$attrs"])
            return kind(**{key: self.decode(value) for key, value in form["fields"].items()})
        if "$enum" in form:
            return self._named(form["$enum"])(self.decode(form["value"]))
        if "$model" in form:
            return self._named(form["$model"]).model_validate(form["data"])
        return {key: self.decode(value) for key, value in form.items()}

    def _named(self, name: str, known: dict[str, Any] | None = None) -> Any:
        if name in self.registry:
            return self.registry.resolve(name)
        if known is not None and name in known:
            return known[name]
        raise NotEncodable(
            f"the journal names the type {name!r}, which the registry does not hold; register "
            f"it again under that name (registry.register(TheClass, name={name!r}))"
        )


# -- the canonical form of an effect: what replay compares ----------------------------------

# Structural effects are compared by their shape; the programs they carry are journaled
# under their own positions, and fiber handles differ from run to run.
_SHAPES: dict[type[Any], Any] = {
    Parallel: lambda effect: {"programs": len(effect.programs)},
    Race: lambda effect: {"programs": len(effect.programs)},
    Timeout: lambda effect: {"seconds": effect.seconds},
    Fork: lambda effect: {},
    Join: lambda effect: {},
    CancelFiber: lambda effect: {},
    Await: lambda effect: {"origin": effect.origin},
}


def canonical(effect: Effect[Any]) -> str:
    """A stable text for ``effect``: its class name and fields, the same on every run and
    machine (no memory addresses), compared at replay.

    >>> from playbill.effects import Sleep
    >>> canonical(Sleep(2.5))
    'Sleep{"seconds":2.5}'
    """
    kind = type(effect)
    shape = _SHAPES.get(kind)
    if shape is not None:
        fields = shape(effect)
    elif kind is Blocking:
        fields = {
            "function": _canonical_value(effect.function),  # type: ignore[attr-defined]
            "args": _canonical_value(effect.args),  # type: ignore[attr-defined]
            "kwargs": _canonical_value(effect.kwargs),  # type: ignore[attr-defined]
        }
    else:
        fields = _fields(effect)
    return kind.__qualname__ + json.dumps(fields, separators=(",", ":"), sort_keys=True)


def _fields(value: object) -> dict[str, Any]:
    kind = type(value)
    if attrs.has(kind):
        return {
            field.name: _canonical_value(getattr(value, field.name)) for field in attrs.fields(kind)
        }
    return {}


def _canonical_value(value: object) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, list | tuple):
        return [_canonical_value(item) for item in value]
    if isinstance(value, dict):
        return sorted(([repr(k), _canonical_value(v)] for k, v in value.items()), key=repr)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, ActorRef):
        return {"ref": str(value.path)}
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, type):
        return value.__qualname__
    if isinstance(value, Program):
        return "<Program>"  # a program carried by a user effect: compared by its presence
    if attrs.has(type(value)):
        return {type(value).__qualname__: _fields(value)}
    if callable(value):
        module = getattr(value, "__module__", "") or ""
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{name}"
    return f"<{type(value).__qualname__}>"  # no repr: it may hold a memory address
