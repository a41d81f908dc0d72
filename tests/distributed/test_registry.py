"""The message registry and the envelope decoder (no server needed)."""

from __future__ import annotations

import dataclasses
import pickle

import attrs
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbill import InvalidArgument
from playbill.distributed import Envelope, MessageRegistry
from playbill.distributed._envelope import Refusal, decode_envelope

registry = MessageRegistry()


@registry.message("tests.registry.line", v=1)
@attrs.frozen
class Line:
    item: str
    quantity: int
    _note: str = ""


@registry.message("tests.registry.order", v=2)
@dataclasses.dataclass(frozen=True)
class Order:
    lines: tuple[Line, ...]
    tags: dict[str, list[int]]


def test_registered_values_nest_and_keep_tuples():
    order = Order((Line("tea", 2, "x"), Line("milk", 1)), {"a": [1, 2]})
    assert registry.unpack(registry.pack(order)) == order


natives = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text() | st.binary(),
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)  # fmt: skip


@given(natives)
def test_plain_values_round_trip(value):
    assert registry.unpack(registry.pack(value)) == value


def test_what_cannot_travel_is_refused_by_the_sender():
    with pytest.raises(InvalidArgument, match="not a registered message type"):
        registry.pack({"x": {1, 2}})
    with pytest.raises(InvalidArgument, match="cannot encode"):
        registry.pack(2**70)


def _entry(message_type: str, v: int, payload: bytes) -> bytes:
    return Envelope("id-1", message_type, v, payload, "node").encode()


def test_the_decoder_refuses_every_hostile_entry_without_raising():
    ok = _entry("tests.registry.line", 1, registry.pack(Line("tea", 1)))
    envelope, message = decode_envelope(ok, registry, 10_000)  # type: ignore[misc]
    assert message == Line("tea", 1)
    assert envelope.id == "id-1"
    hostile = [
        None,
        pickle.dumps(Line("tea", 1)),
        msgpack.packb([1, 2, 3]),
        msgpack.packb({"pb1": 1, "id": 5}),
        _entry("unknown", 1, registry.pack(1)),
        _entry("tests.registry.line", 2, registry.pack(1)),
        _entry("tests.registry.line", 1, registry.pack("a str, not a Line")),
        _entry("", 0, b"\xc1"),  # not msgpack
        _entry("", 0, msgpack.packb(msgpack.ExtType(1, msgpack.packb(["os.system", 1, {}])))),
        _entry("", 0, msgpack.packb(msgpack.ExtType(42, b""))),
        b"x" * 10_001,
    ]
    for raw in hostile:
        assert isinstance(decode_envelope(raw, registry, 10_000), Refusal), raw


def test_a_durable_ref_travels_as_its_id_and_incarnation_and_is_bound_on_arrival():
    from playbill.distributed import DurableRef

    sent = registry.pack({"to": DurableRef("orders", 2, binding=object())})  # type: ignore[arg-type]
    assert registry.unpack(sent) == {"to": DurableRef("orders", 2)}
    assert registry.unpack(sent)["to"].binding is None
    marker = object()
    with registry.binding(marker):
        assert registry.unpack(sent)["to"].binding is marker
    forged = msgpack.packb(msgpack.ExtType(3, msgpack.packb(["x", "not an int"])))
    assert isinstance(decode_envelope(_entry("", 0, forged), registry, 10_000), Refusal)
