"""Documents: every node saves and loads, names resolve through the registry only, and bad
documents fail with a FlowSpecError naming the path of the bad node."""

import json
import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from playbill import ActorRef, simulate
from playbill.actors import Backoff
from playbill.flow import (
    FORMAT,
    Flow,
    FlowSpecError,
    Registry,
    actor,
    at_least,
    branch,
    branch_on,
    call,
    from_dict,
    from_json,
    from_yaml,
    identity,
    loop,
    loop_with_state,
    pure,
    race,
    step,
    to_dict,
    zip_all,
)
from playbill.flow._nodes import KINDS
from playbill.testing import flow_documents, flow_registry, flows
from playbill.testing._flows import (
    Incrementer,
    add_pair,
    by_parity,
    decide,
    decide_with_state,
    double,
    fail_if_odd,
    ignore,
    inc,
    inc_on_error,
    is_even,
    zero_on_error,
)

REGISTRY = flow_registry()
MARKER = object()
REGISTRY.register(MARKER, name="marker")


def saveable() -> Flow[Any, Any]:
    """One flow holding every kind of node, each function registered."""
    return (
        step(inc)
        >> pure(4)
        >> pure({"a": [1, 2.5, None, True]})
        >> identity()
        >> actor(Incrementer, ask_timeout=5)
        >> step(inc).map(double).flat_map(by_parity)
        >> step(inc).zip(step(double)).map(add_pair)
        >> step(inc).recover(zero_on_error).fallback_to(pure(3)).tap(ignore)
        >> zip_all(identity(), step(inc)).map(add_pair)
        >> race(step(inc), step(double))
        >> at_least(1, step(inc), step(fail_if_odd))
        >> branch({str: identity(), int: step(inc)}, otherwise=pure(0))
        >> branch_on(is_even, step(inc), step(double))
        >> step(fail_if_odd).recover_with(inc_on_error)
        >> identity().divert_to(step(ignore))
        >> loop(step(decide), max_iter=10, on_limit="last")
        >> loop_with_state(step(decide_with_state), 0, max_iter=5)
        >> identity().filter(is_even).and_then(ignore)
        >> identity().timeout(30).retry(2, Backoff(initial=0.5, jitter=0.25))
        >> call("worker", ask_timeout=2)
        >> call(ActorRef("/app/worker", 3))
        >> pure(MARKER)
        >> loop_with_state(step(decide_with_state), MARKER, max_iter=5)
    )


def test_the_saveable_flow_holds_every_kind() -> None:
    kinds = json.dumps(to_dict(saveable(), REGISTRY))
    for kind in KINDS:
        assert f'"kind": "{kind}"' in kinds


@pytest.mark.parametrize(
    ("save", "load"),
    [
        (lambda f: to_dict(f, REGISTRY), lambda d: from_dict(d, REGISTRY)),
        (lambda f: f.to_json(REGISTRY), lambda d: from_json(d, REGISTRY)),
        (lambda f: f.to_yaml(REGISTRY), lambda d: from_yaml(d, REGISTRY)),
    ],
    ids=["dict", "json", "yaml"],
)
def test_every_node_round_trips(save: Any, load: Any) -> None:
    original = saveable()
    loaded = load(save(original))
    # a ref becomes its path: the one difference a document cannot avoid
    assert to_dict(loaded, REGISTRY) == to_dict(original, REGISTRY)
    flow_without_refs = step(inc) >> call("worker") >> pure(MARKER)
    assert load(save(flow_without_refs)) == flow_without_refs


@given(flows(parallel=True))
def test_random_flows_round_trip_as_equal_values(flow: Flow[Any, Any]) -> None:
    assert from_dict(to_dict(flow, REGISTRY), REGISTRY) == flow
    assert from_yaml(flow.to_yaml(REGISTRY), REGISTRY) == flow


def test_a_loaded_flow_runs_as_the_original() -> None:
    flow = (
        step(inc) >> branch_on(is_even, step(double), step(inc)) >> loop(step(decide), max_iter=5)
    )
    loaded = from_json(flow.to_json(REGISTRY), REGISTRY)
    assert simulate(loaded.to_program(3)).value == simulate(flow.to_program(3)).value == 6


def test_the_document_carries_its_format() -> None:
    document = to_dict(step(inc), REGISTRY)
    assert document == {"format": FORMAT, "kind": "step", "function": "inc"}
    with pytest.raises(FlowSpecError, match=r"\(root\): format must be 'playbill.flow/1'"):
        from_dict({"kind": "step", "function": "inc"}, REGISTRY)


def test_an_unknown_name_is_reported_at_its_path_with_what_is_registered() -> None:
    document = to_dict(step(inc) >> step(inc) >> branch_on(is_even, step(inc), step(inc)), REGISTRY)
    document["steps"][2]["on_true"]["function"] = "score_ok"
    with pytest.raises(FlowSpecError) as caught:
        from_dict(document, REGISTRY)
    message = str(caught.value)
    assert message.startswith(
        "steps[2].on_true.function: unknown function 'score_ok'; registered: ["
    )
    assert "'inc'" in message
    assert caught.value.path == "steps[2].on_true.function"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "step"}, r"^\(root\): a step node needs the field 'function'"),
        ({"kind": "step", "function": "inc", "extra": 1}, r"^extra: unknown field for a step node"),
        ({"kind": "then", "steps": []}, r"^steps: a non-empty list of flows"),
        ({"kind": "then", "steps": [{"kind": "nope"}]}, r"^steps\[0\]: unknown kind 'nope'"),
        ({"kind": "at_least", "k": 3, "flows": [{"kind": "identity"}]}, r"k=3 is more than"),
        ({"kind": "at_least", "k": 0, "flows": [{"kind": "identity"}]}, r"k must be an integer"),
        (
            {"kind": "loop", "body": {"kind": "identity"}, "max_iter": "10"},
            r"^max_iter: an integer",
        ),
        (
            {"kind": "loop", "body": {"kind": "identity"}, "max_iter": True},
            r"^max_iter: an integer",
        ),
        (
            {"kind": "timeout", "flow": {"kind": "identity"}, "seconds": -1},
            r"seconds must be positive",
        ),
        (
            {"kind": "branch", "cases": [{"type": "float", "flow": {"kind": "identity"}}]},
            r"^cases\[0\]\.type: unknown type 'float'",
        ),
        (
            {"kind": "branch", "cases": [{"type": "inc", "flow": {"kind": "identity"}}]},
            r"'inc' is registered, but is not a type",
        ),
        ({"kind": "step", "function": "os.system"}, r"unknown function 'os.system'"),
        (
            {"kind": "step", "function": ["inc"]},
            r"^function: a function is given by its registered name",
        ),
        ({"kind": "pure", "value_ref": "nothing"}, r"^value_ref: unknown value 'nothing'"),
        (
            {
                "kind": "retry",
                "flow": {"kind": "identity"},
                "attempts": 2,
                "backoff": {"initial": "x"},
            },
            r"^backoff\.initial: a number",
        ),
        (
            {"kind": "loop", "body": {"kind": "identity"}, "max_iter": 2, "on_limit": "never"},
            r"on_limit must be",
        ),
    ],
)
def test_bad_documents_name_the_bad_node(document: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowSpecError, match=message):
        from_dict({"format": FORMAT, **document}, REGISTRY)


def test_saving_an_unregistered_function_says_how_to_register_it() -> None:
    with pytest.raises(
        FlowSpecError, match=r"^steps\[1\]\.function: the function .*<lambda>.* is not registered"
    ):
        to_dict(step(inc) >> step(lambda n: n), REGISTRY)


def test_yaml_is_read_safely_and_never_runs_code(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    attack = f"!!python/object/apply:os.system ['echo pwned > {marker}']\n"
    with pytest.raises(FlowSpecError, match="not a YAML document"):
        from_yaml(attack, REGISTRY)
    assert not marker.exists()
    with pytest.raises(FlowSpecError, match=r"unknown function 'builtins\.eval'"):
        from_yaml(f"format: {FORMAT}\nkind: step\nfunction: builtins.eval\n", REGISTRY)


def test_deep_documents_are_refused_not_crashing() -> None:
    deep: Any = {"kind": "identity"}
    for _ in range(5000):
        deep = {"kind": "map", "flow": deep, "function": "inc"}
    with pytest.raises(FlowSpecError, match="nested too deeply"):
        from_dict({"format": FORMAT, **deep}, REGISTRY)
    text = (
        '{"format": "playbill.flow/1", "kind": "then", "steps": '
        + "[" * 100_000
        + "]" * 100_000
        + "}"
    )
    with pytest.raises(FlowSpecError):
        from_json(text, REGISTRY)


def test_a_long_chain_round_trips() -> None:
    chain = identity()
    for _ in range(10_000):
        chain = chain >> step(inc)
    loaded = from_json(chain.to_json(REGISTRY, indent=None), REGISTRY)
    assert loaded == chain
    assert simulate(loaded.to_program(0, events=False), max_steps=10**6).value == 10_000


@given(flow_documents(REGISTRY))
def test_any_document_gives_a_flow_or_a_flow_spec_error(document: Any) -> None:
    try:
        loaded = from_dict(document, REGISTRY)
    except FlowSpecError:
        return
    assert isinstance(loaded, Flow)


@given(st.text(max_size=200) | st.binary(max_size=100))
def test_any_text_gives_a_flow_or_a_flow_spec_error(text: Any) -> None:
    for load in (from_json, from_yaml):
        try:
            loaded = load(text, REGISTRY)
        except FlowSpecError:
            continue
        assert isinstance(loaded, Flow)


def test_yaml_documents_are_readable() -> None:
    text = (step(inc) >> branch_on(is_even, step(double), pure("odd"))).to_yaml(REGISTRY)
    assert yaml.safe_load(text)["steps"][1]["on_false"] == {"kind": "pure", "value": "odd"}


def test_registry_names_and_errors() -> None:
    registry = Registry()

    @registry.register(name="shout")
    def loud(text: str) -> str:
        return text.upper()

    assert registry.name_of(loud) == "shout"
    assert "shout" in registry
    assert len(registry) == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.register(str.lower, name="shout")
    with pytest.raises(ValueError, match="no usable name"):
        registry.register(lambda: None)
    registry.register([1, 2], name="unhashable")
    assert registry.name_of(registry.resolve("unhashable")) == "unhashable"


@pytest.mark.parametrize(
    "text",
    [
        f"format: {FORMAT}\nkind: pure\nvalue: 2001-02-30\n",
        f"format: {FORMAT}\nkind: 2001-02-30\n",
        f"format: {FORMAT}\nkind: pure\nvalue: 2001-01-01 25:61:00\n",
        f"format: {FORMAT}\nkind: pure\nvalue: " + "9" * 5000 + "\n",
        f"format: {FORMAT}\nkind: pure\nvalue: 2001-01-01\n",  # a date is not plain data
        f"format: {FORMAT}\nkind: timeout\nseconds: .nan\nflow: {{kind: identity}}\n",
        f"format: {FORMAT}\nkind: retry\nattempts: 2\nflow: {{kind: identity}}\n"
        "backoff: {initial: .inf, maximum: .inf}\n",
    ],
)
def test_typed_yaml_scalars_and_odd_numbers_are_spec_errors(text: str) -> None:
    with pytest.raises(FlowSpecError):
        from_yaml(text, REGISTRY)


@pytest.mark.parametrize("field", ["seconds", "ask_timeout", "initial"])
def test_numbers_too_large_for_a_float_are_spec_errors(field: str) -> None:
    huge = "1" + "0" * 400
    documents = {
        "seconds": f'{{"kind": "timeout", "seconds": {huge}, "flow": {{"kind": "identity"}}}}',
        "ask_timeout": f'{{"kind": "call", "target": "x", "ask_timeout": {huge}}}',
        "initial": (
            f'{{"kind": "retry", "attempts": 2, "flow": {{"kind": "identity"}}, '
            f'"backoff": {{"initial": {huge}}}}}'
        ),
    }
    text = '{"format": "playbill.flow/1", ' + documents[field][1:]
    with pytest.raises(FlowSpecError):
        from_json(text, REGISTRY)


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    import time

    parts = [f"format: {FORMAT}", "kind: then", "steps:", "  - &a0 {kind: identity}"]
    for i in range(1, 40):
        parts.append(f"  - &a{i} {{kind: then, steps: [*a{i - 1}, *a{i - 1}]}}")
    began = time.perf_counter()
    with pytest.raises(FlowSpecError, match="more than 100,000 nodes"):
        from_yaml("\n".join(parts), REGISTRY)
    assert time.perf_counter() - began < 5


def _laughs(leaf: str, *, in_a_list: bool = False) -> list[str]:
    """A billion laughs: nine levels, each a list of nine uses of the level below (the levels
    are the values of a mapping, or the items of a list)."""
    levels = [f"&a [{', '.join([leaf] * 9)}]"]
    for below, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"&{name} [{', '.join([f'*{below}'] * 9)}]")
    if in_a_list:
        return [f"  - {level}" for level in levels]
    return [f"  {key}: {level}" for key, level in zip("abcdefghi", levels, strict=True)]


BOMBS = {
    "pure value": [f"format: {FORMAT}", "kind: pure", "value:", *_laughs("x")],
    "loop_with_state initial": [
        f"format: {FORMAT}",
        "kind: loop_with_state",
        "body: {kind: identity}",
        "max_iter: 3",
        "initial:",
        *_laughs("x"),
    ],
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", list(BOMBS))
def test_an_alias_bomb_in_a_value_is_refused_within_a_second(where: str) -> None:
    import time

    text = "\n".join(BOMBS[where])
    assert len(text) < 600  # a few hundred bytes that expand to 9**9 values
    began = time.perf_counter()
    with pytest.raises(FlowSpecError, match=r"more than 100,000 nodes .* max_nodes=") as caught:
        from_yaml(text, REGISTRY)
    assert time.perf_counter() - began < 1
    assert caught.value.path in ("value", "initial")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("leaf", "field", "message"),
    [
        ("2001-01-01", "value", "plain data, got dict"),  # the date is found, not shown whole
        ("x", "flow", "a flow node is a mapping with a kind, got list"),
        ("x", "backoff", "a mapping of initial, maximum, multiplier and jitter, got list"),
    ],
)
def test_an_alias_bomb_in_an_error_message_is_shown_in_part(
    leaf: str, field: str, message: str
) -> None:
    import time

    node = {
        "value": ["kind: pure", "value:"],
        "flow": ["kind: timeout", "seconds: 1", "flow:"],
        "backoff": ["kind: retry", "attempts: 2", "flow: {kind: identity}", "backoff:"],
    }[field]
    text = "\n".join([f"format: {FORMAT}", *node, *_laughs(leaf, in_a_list=field != "value")])
    began = time.perf_counter()
    with pytest.raises(FlowSpecError, match=message):
        from_yaml(text, REGISTRY)
    assert time.perf_counter() - began < 1


def test_documents_with_a_few_aliases_still_load() -> None:
    text = "\n".join(
        [
            f"format: {FORMAT}",
            "kind: then",
            "steps:",
            "  - &shared {kind: pure, value: &data {limits: &pair [1, 2], again: *pair}}",
            "  - *shared",
            "  - kind: loop_with_state",
            "    body: {kind: identity}",
            "    max_iter: 3",
            "    initial: [*data, *data, *pair]",
        ]
    )
    data = {"limits": [1, 2], "again": [1, 2]}
    loaded = from_yaml(text, REGISTRY)
    assert loaded == pure(data) >> pure(data) >> loop_with_state(
        identity(), [data, data, [1, 2]], max_iter=3
    )


def test_values_count_against_the_node_limit_which_max_nodes_raises() -> None:
    document = {"format": FORMAT, "kind": "pure", "value": list(range(150_000))}
    with pytest.raises(FlowSpecError, match="more than 100,000 nodes"):
        from_dict(document, REGISTRY)
    assert from_dict(document, REGISTRY, max_nodes=150_002) == pure(list(range(150_000)))
    with pytest.raises(FlowSpecError, match="more than 150,001 nodes"):
        from_dict(document, REGISTRY, max_nodes=150_001)  # the flow node and the list count
    text = json.dumps(document)
    assert from_json(text, REGISTRY, max_nodes=200_000) == pure(list(range(150_000)))
    with pytest.raises(FlowSpecError, match="more than 10 nodes"):
        from_yaml(
            "{format: playbill.flow/1, kind: pure, value: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}",
            REGISTRY,
            max_nodes=10,
        )


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10", None])
def test_max_nodes_must_be_a_positive_integer(bad: Any) -> None:
    from playbill import InvalidArgument

    with pytest.raises(
        InvalidArgument, match=rf"max_nodes must be a positive integer .*got {re.escape(repr(bad))}"
    ):
        from_dict({"format": FORMAT, "kind": "identity"}, REGISTRY, max_nodes=bad)


def test_values_are_copied_in_and_out_of_documents() -> None:
    flow = pure([1])
    document = to_dict(flow, REGISTRY)
    document["value"].append(2)
    assert flow == pure([1])
    loaded = from_dict(document, REGISTRY)
    document["value"].append(3)
    assert loaded == pure([1, 2])


def test_registered_values_are_found_by_identity_not_equality() -> None:
    registry = flow_registry()
    pair = (1, 2)
    registry.register(pair, name="pair")
    assert to_dict(pure(pair), registry)["value_ref"] == "pair"
    with pytest.raises(FlowSpecError, match="is not registered"):
        to_dict(pure((1.0, 2.0)), registry)


def test_registering_none_is_registering_none() -> None:
    registry = Registry()
    assert registry.register(None, name="nothing") is None
    assert registry.resolve("nothing") is None


def test_flows_nested_too_deeply_to_save_or_draw_say_so() -> None:
    from playbill import InvalidArgument
    from playbill.flow import to_mermaid

    deep = step(inc)
    for _ in range(5_000):
        deep = deep.map(inc)
    with pytest.raises(FlowSpecError, match="nested too deeply to save"):
        to_dict(deep, REGISTRY)
    with pytest.raises(InvalidArgument, match="nested too deeply to draw"):
        to_mermaid(deep)
