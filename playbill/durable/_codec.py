"""How a journal compares effects (`canonical`); its values are written by the interpreters'
`Codec` (JSON, with the types of a `Registry`), re-exported here."""

from __future__ import annotations

import base64
import enum
import json
import math
from typing import Any

import attrs

from playbill.effects import ActorRef, Effect, Program
from playbill.effects._concurrency import CancelFiber, Fork, Join, Parallel, Race, Timeout
from playbill.effects._promises import AwaitPromise, CompletePromise, FailPromise, NewPromise
from playbill.effects._vocabulary import Await, Blocking
from playbill.interpreters._codec import Codec

__all__ = ["Codec", "canonical"]


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
    NewPromise: lambda effect: {},
    CompletePromise: lambda effect: {},
    FailPromise: lambda effect: {},
    AwaitPromise: lambda effect: {},
    Await: lambda effect: {"origin": effect.origin},
}


# one encoder for every effect (json.dumps with options builds one per call)
_CANONICAL = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


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
    return kind.__qualname__ + _CANONICAL(fields)


def _fields(value: object) -> dict[str, Any]:
    kind = type(value)
    if attrs.has(kind):
        return {
            field.name: _canonical_value(getattr(value, field.name)) for field in attrs.fields(kind)
        }
    return {}


def _canonical_value(value: object) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
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
