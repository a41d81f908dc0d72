"""The envelope around every message in a mailbox stream, and its strict decoding: whatever
is not exactly our msgpack envelope is a `Refusal`, never an exception, never executed."""

from __future__ import annotations

from typing import Any, final

import msgpack
from attrs import frozen

from playbill.distributed._registry import MessageRegistry, UnknownMessageType

__all__ = ["Envelope", "Refusal", "decode_envelope", "decode_reply", "encode_reply"]

_MARK = "pb1"  # the first key of every envelope: what is not marked so is not ours


@final
@frozen
class Envelope:
    """One message on the wire. ``id`` is created once by the sender (the dedup key);
    ``type``/``v`` name the registered class (``""``/``0`` for a plain value); ``payload`` is
    the message encoded by the registry; ``reply_to`` and ``corr`` are set for an ask;
    ``incarnation`` is the one the sender's ref names (``None``: whichever is current);
    ``trace`` is the W3C ``traceparent`` of the sender's current span when the transport
    carries trace context (`Telemetry.trace_transport`), else ``None`` and not on the wire
    (an envelope written before the field existed decodes as ``None``)."""

    id: str
    type: str
    v: int
    payload: bytes
    sender: str
    reply_to: str | None = None
    corr: str | None = None
    incarnation: int | None = None
    trace: str | None = None

    def encode(self) -> bytes:
        fields: dict[str, Any] = {
            _MARK: 1,
            "id": self.id,
            "t": self.type,
            "v": self.v,
            "p": self.payload,
            "s": self.sender,
            "r": self.reply_to,
            "c": self.corr,
            "i": self.incarnation,
        }
        if self.trace is not None:
            fields["tp"] = self.trace
        data: bytes = msgpack.packb(fields, use_bin_type=True)
        return data


@final
@frozen
class Refusal:
    """Why a stream entry is dead-lettered unexecuted; ``envelope`` when its header was read
    (so an asker can be told)."""

    reason: str
    envelope: Envelope | None = None


def _header(raw: bytes) -> Envelope | str:
    try:
        data = msgpack.unpackb(raw, raw=False, strict_map_key=True, use_list=True)
    except Exception as error:  # (any malformed input: never a crash)
        return f"not a playbill envelope (msgpack could not read it: {type(error).__name__})"
    if not isinstance(data, dict) or data.get(_MARK) != 1:
        return "not a playbill envelope (no pb1 mark)"
    fields = (
        ("id", str, False),
        ("t", str, False),
        ("v", int, False),
        ("p", bytes, False),
        ("s", str, False),
        ("r", str, True),
        ("c", str, True),
        ("i", int, True),
        ("tp", str, True),
    )
    for key, kind, optional in fields:
        value = data.get(key)
        if value is None and optional:
            continue
        if type(value) is not kind:
            return f"not a playbill envelope (field {key!r} is {type(value).__name__})"
    return Envelope(
        data["id"],
        data["t"],
        data["v"],
        data["p"],
        data["s"],
        data.get("r"),  # (optional keys may be absent: a Refusal, never a KeyError)
        data.get("c"),
        data.get("i"),
        data.get("tp"),
    )


def decode_envelope(
    raw: object, registry: MessageRegistry, max_payload: int
) -> tuple[Envelope, Any] | Refusal:
    """The envelope and its message, or why the entry is refused."""
    if not isinstance(raw, bytes):
        return Refusal("not a playbill envelope (the entry has no 'e' field)")
    if len(raw) > max_payload:
        return Refusal(f"oversize: {len(raw)} bytes, over max_payload={max_payload}")
    header = _header(raw)
    if isinstance(header, str):
        return Refusal(header)
    if header.type and not registry.knows(header.type, header.v):
        return Refusal(
            f"unknown message type {header.type!r} v={header.v} (register it with @message "
            "on the receiving node)",
            header,
        )
    try:
        message = registry.unpack(header.payload)
    except UnknownMessageType as error:
        return Refusal(f"{error} (register it with @message on the receiving node)", header)
    except Exception as error:
        return Refusal(f"the payload could not be read ({type(error).__name__})", header)
    if registry.type_of(message) != (header.type, header.v):
        return Refusal(f"the payload is not the declared type {header.type!r} v={header.v}", header)
    return header, message


def encode_reply(corr: str, value: bytes | None, error: tuple[str, str] | None) -> bytes:
    """A reply entry: the correlation id and the encoded value, or the error's type name and
    text."""
    if error is not None:
        body: dict[str, Any] = {"c": corr, "ok": False, "t": error[0], "e": error[1]}
    else:
        body = {"c": corr, "ok": True, "v": value}
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


def decode_reply(raw: object) -> dict[str, Any] | None:
    """A reply entry's fields, or ``None`` when it is not one."""
    if not isinstance(raw, bytes):
        return None
    try:
        data = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    return data
