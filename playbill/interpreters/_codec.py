"""Values as JSON, with the types of a registry hook (`TypeNames`): how a recording writes
the results it keeps, and how a durable journal writes its values (never pickle, never an
import of a name read from the file).

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
from typing import Any, Protocol, final, runtime_checkable

import attrs

import playbill.effects as _playbill_effects
from playbill.effects import PlaybillError

__all__ = ["Codec", "NotEncodable", "TypeNames"]

# one encoder for every call (json.dumps with options builds one per call)
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


@runtime_checkable
class TypeNames(Protocol):
    """The registry hook of a `Codec`: names for the classes it may write, and the classes
    back from their names. `playbill.flow.Registry` is one."""

    def name_of(self, thing: object) -> str | None: ...

    def resolve(self, name: str) -> object: ...

    def __contains__(self, name: object) -> bool: ...


@final
class _NoNames:
    """No registered classes: plain data, builtin and playbill errors only."""

    def name_of(self, thing: object) -> str | None:
        return None

    def resolve(self, name: str) -> object:
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return False


class NotEncodable(PlaybillError, TypeError):
    """A value (an effect's result or failure, a workflow's input) that a `Codec` cannot
    write: register its type in the registry, or return plain data."""


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
    """Values to JSON text and back, with the classes ``registry`` names (a `TypeNames`, such
    as `playbill.flow.Registry`; None: plain data and builtin or playbill errors only).

    >>> codec = Codec()
    >>> text = codec.dumps((1, b"x", {"k": [2.5, None]}))
    >>> text
    '{"$tuple":[1,{"$bytes":"eA=="},{"k":[2.5,null]}]}'
    >>> codec.loads(text)
    (1, b'x', {'k': [2.5, None]})
    >>> codec.loads(codec.dumps(KeyError("gone")))
    KeyError('gone')
    """

    __slots__ = ("registry",)

    def __init__(self, registry: TypeNames | None = None) -> None:
        self.registry: TypeNames = _NoNames() if registry is None else registry

    def dumps(self, value: object) -> str:
        """``value`` as JSON text; `NotEncodable` naming what could not be written."""
        return _COMPACT(self.encode(value, "the value"))

    def loads(self, text: str) -> Any:
        return self.decode(json.loads(text))

    def encode(self, value: object, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
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
