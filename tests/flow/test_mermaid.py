"""Mermaid drawings: every node drawn, labelled, and the chart well formed."""

import json
import pathlib
import re
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from playbill.flow import Flow, to_mermaid
from playbill.testing import flow_registry, flows
from tests.flow.test_serialise import saveable

NODE = re.compile(r'^\s*(n\d+)(\(\[|\[\[|\{\{|\[|\{)"([^"]*)"(\]\)|\]\]|\}\}|\]|\})$')
EDGE = re.compile(r'^\s*(n\d+) (-->|-\.->)(\|"([^"]*)"\|)? (n\d+)$')
SUBGRAPH = re.compile(r'^\s*subgraph (n\d+) \["([^"]*)"\]$')
PAIRS = {"([": "])", "[[": "]]", "{{": "}}", "[": "]", "{": "}"}


def check_chart(text: str) -> dict[str, str]:
    """Parse the chart strictly; every edge joins declared nodes and every node is reached
    from the input. Returns the labels by node id."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    labels: dict[str, str] = {}
    boxes: set[str] = set()
    edges: list[tuple[str, str]] = []
    depth = 0
    for line in lines[1:]:
        if node := NODE.match(line):
            name, opening, label, closing = node.groups()
            assert PAIRS[opening] == closing, line
            assert name not in labels, f"{name} declared twice"
            assert label.strip(), f"{name} has no label"
            labels[name] = label
        elif box := SUBGRAPH.match(line):
            boxes.add(box.group(1))
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
        elif edge := EDGE.match(line):
            source, _, _, _, target = edge.groups()
            edges.append((source, target))
        else:
            raise AssertionError(f"not Mermaid: {line!r}")
    assert depth == 0, "a subgraph is not closed"
    for source, target in edges:
        assert source in labels or source in boxes, f"edge from unknown {source}"
        assert target in labels, f"edge to unknown {target}"
    start = next(iter(labels))
    assert labels[start] == "input"
    reached, frontier = {start}, [start]
    box_members = _members(lines)
    while frontier:
        here = frontier.pop()
        for source, target in edges:
            from_here = source == here or here in box_members.get(source, ())
            if from_here and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert set(labels) <= reached, f"unreachable: {set(labels) - reached}"
    return labels


def _members(lines: list[str]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    open_boxes: list[str] = []
    for line in lines:
        if box := SUBGRAPH.match(line):
            open_boxes.append(box.group(1))
            members[box.group(1)] = set()
        elif line.strip() == "end":
            open_boxes.pop()
        elif (node := NODE.match(line)) and open_boxes:
            for name in open_boxes:
                members[name].add(node.group(1))
    return members


def test_every_kind_is_drawn_with_readable_labels() -> None:
    registry = flow_registry()
    text = to_mermaid(saveable(), registry)
    labels = set(check_chart(text).values())
    for expected in (
        "step: inc",
        "pure: 4",
        "identity",
        "actor: Incrementer",
        "map: double",
        "flat_map: by_parity",
        "zip",
        "zip_all",
        "race",
        "at least 1 of 2",
        "branch by type",
        "is_even?",
        "recover: zero_on_error",
        "recover_with: inc_on_error",
        "Continue or Done?",
        "filter: is_even",
        "tap: ignore",
        "and_then: ignore",
        "call: worker",
        "call: /app/worker",
    ):
        assert expected in labels, expected
    for title in ("timeout 30s", "retry up to 2 times", "loop (at most 10)", "fallback_to"):
        assert f'["{title}"]' in text
    assert '-.->|"divert (fire and forget)"|' in text
    assert '-.->|"on failure"|' in text


def test_quotes_in_labels_are_escaped() -> None:
    from playbill.flow import pure

    text = to_mermaid(pure('say "hi"'))
    check_chart(text)
    assert "#quot;" in text


@given(flows(parallel=True, max_leaves=10))
def test_random_flows_draw_well_formed_charts(flow: Flow[Any, Any]) -> None:
    check_chart(to_mermaid(flow, flow_registry()))


MERMAID = pathlib.Path(__file__).parents[2] / "tools" / "mermaid"


@pytest.mark.skipif(
    not (MERMAID / "node_modules" / ".installed").exists() or shutil.which("node") is None,
    reason="Mermaid's parser is not installed: `make test` installs it with npm when npm is here",
)
def test_mermaid_itself_parses_every_drawing(tmp_path: pathlib.Path) -> None:
    registry = flow_registry()
    charts = {"every kind": to_mermaid(saveable(), registry)}
    examples = find(flows(parallel=True, max_leaves=12), lambda flow: True, count=60)
    charts.update({f"random {i}": to_mermaid(flow, registry) for i, flow in enumerate(examples)})
    charts["not mermaid (must be refused)"] = "flowchart TD\n  n0 -->"
    corpus = tmp_path / "charts.json"
    corpus.write_text(json.dumps(charts))
    finished = subprocess.run(
        ["node", str(MERMAID / "check.mjs"), str(corpus)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    refused = [line for line in finished.stdout.splitlines() if ": " in line]
    assert len(refused) == 1, finished.stdout + finished.stderr
    assert refused[0].startswith("not mermaid (must be refused):")


def find(strategy: Any, condition: Any, count: int) -> list[Any]:
    """``count`` distinct examples of ``strategy``, drawn reproducibly."""
    found: list[Any] = []

    @settings(
        max_examples=count, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(strategy)
    def collect(example: Any) -> None:
        if condition(example):
            found.append(example)

    collect()
    return found


def test_a_retry_of_one_attempt_is_titled_in_the_singular() -> None:
    from playbill.flow import identity

    assert '["retry up to 1 time"]' in to_mermaid(identity().retry(1))
