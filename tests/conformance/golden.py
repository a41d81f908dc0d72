"""Golden traces: every conformance program under the simulator, recorded run by run.

Each run is one case of `CASES`, one seed (0, 1, 2), one delivery (``causal``, ``per_pair``),
and faults (none, or ``Faults(crash=0.1, delay=0.1)``). Its canonical text holds the status, the
error (type name and message), the value (its repr when it is a plain value, else its type
name), the schedule, the choice widths, the final clock, the dead-letter count, the unobserved
failures, every trace row and every event (class name and fields). Two normalisations keep
the text independent of the process: a memory address (``0x7f...``, printed inside a few
flow programs' reprs in the trace) becomes ``0xADDR``, and a lambda's line number
(``<lambda:495>``) becomes ``<lambda>``, so that moving code does not change a trace. (Where
a repr is cut at 60 characters inside an address, the cut depends on the address's width: the
texts assume 12-hex-digit addresses, as on 64-bit Linux.)

``golden_traces.json`` keeps, per run, the sha256 of its canonical text with a few readable
fields; ``golden_traces.txt.gz`` keeps the canonical texts themselves, so a check shows the
first lines that differ.

    PYTHONPATH=. python -m tests.conformance.golden --check     # compare, print what differs
    PYTHONPATH=. python -m tests.conformance.golden --record    # rewrite both files

A re-record is a change of the simulator's observable behaviour: it needs a CHANGELOG line,
and a bump of `Schedule.version` when the choice points changed (old schedules then no
longer replay).
"""

from __future__ import annotations

import argparse
import difflib
import enum
import functools
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from playbill import Faults, simulate
from playbill.actors import ActorEvent, DeadLetter
from playbill.interpreters.simulation import Schedule, SimulationOptions, SimulationResult
from tests.conformance.programs import CASES, Case

HERE = Path(__file__).resolve().parent
GOLDEN_JSON = HERE / "golden_traces.json"
GOLDEN_TEXT = HERE / "golden_traces.txt.gz"

FORMAT = 1  # of the canonical text; bump it (and re-record) when `canonical` changes
SEEDS = (0, 1, 2)
DELIVERIES = ("causal", "per_pair")
FAULTS: dict[str, Faults | None] = {"nofaults": None, "faults": Faults(crash=0.1, delay=0.1)}

RE_RECORD = (
    "If the change is intended, re-record with\n"
    "    PYTHONPATH=. python -m tests.conformance.golden --record\n"
    "and commit golden_traces.json and golden_traces.txt.gz with a CHANGELOG line saying which "
    "runs changed and why; when the choice points changed (the schedules differ), bump "
    "Schedule.version in playbill/interpreters/simulation/_schedule.py too, since the old schedule "
    "strings no longer replay."
)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_LAMBDA_LINE = re.compile(r"<lambda:\d+>")


@frozen
class Run:
    case: Case
    seed: int
    delivery: str
    faults: str

    @property
    def key(self) -> str:
        return f"{self.case.name}|seed={self.seed}|{self.delivery}|{self.faults}"

    def simulate(self) -> SimulationResult[Any]:
        options: dict[str, Any] = {}
        faults = FAULTS[self.faults]
        if faults is not None:
            options["faults"] = faults
        return simulate(
            self.case.build(),
            seed=self.seed,
            delivery=self.delivery,  # type: ignore[arg-type]
            handlers=self.case.handlers,
            **options,
        )


def runs(cases: Iterable[Case] = CASES) -> Iterator[Run]:
    for case in cases:
        for seed in SEEDS:
            for delivery in DELIVERIES:
                for faults in FAULTS:
                    yield Run(case, seed, delivery, faults)


# -- the canonical text ---------------------------------------------------------------------


def normalise(text: str) -> str:
    return _LAMBDA_LINE.sub("<lambda>", _ADDRESS.sub("0xADDR", text))


def _plain(value: object) -> str | None:
    """The repr of a plain value (None, bool, number, text, and containers of them)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return repr(value)
    if isinstance(value, list | tuple):
        items = [_plain(item) for item in value]
        if any(item is None for item in items):
            return None
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"  # type: ignore[arg-type]
    if isinstance(value, set | frozenset):
        items = [_plain(item) for item in value]
        if any(item is None for item in items):
            return None
        return type(value).__name__ + "({" + ", ".join(sorted(items)) + "})"  # type: ignore[arg-type]
    if isinstance(value, dict):
        pairs = [(_plain(key), _plain(item)) for key, item in value.items()]
        if any(key is None or item is None for key, item in pairs):
            return None
        return "{" + ", ".join(f"{key}: {item}" for key, item in pairs) + "}"
    return None


def describe_error(error: BaseException | None) -> str:
    if error is None:
        return "None"
    return normalise(f"{type(error).__name__}({str(error)!r})")


def describe(value: object) -> str:
    """An event or a field of one: class name and fields, exceptions by type and message."""
    if isinstance(value, BaseException):
        return describe_error(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, ActorEvent | DeadLetter):
        fields = ", ".join(
            f"{attribute.name}={describe(getattr(value, attribute.name))}"
            for attribute in attrs.fields(type(value))
        )
        return f"{type(value).__name__}({fields})"
    plain = _plain(value)
    return normalise(plain if plain is not None else repr(value))


def canonical(result: SimulationResult[Any]) -> str:
    """The run as text, one fact a line: what the golden file pins down."""
    plain = _plain(result.value)
    value = normalise(plain) if plain is not None else f"<{type(result.value).__name__}>"
    lines = [
        f"status {result.status}",
        f"error {describe_error(result.error)}",
        f"value {value}",
        f"schedule {result.schedule}",
        f"widths {','.join(map(str, result.widths))}",
        f"clock {result.clock!r}",
        f"dead_letters {result.dead_letters}",
    ]
    lines += [f"unobserved {describe_error(error)}" for error in result.unobserved_failures]
    lines += [
        f"row {step} {time!r} {actor!r} {normalise(event)!r}"
        for step, time, actor, event in result.rows
    ]
    lines += [f"event {describe(event)}" for event in result.events]
    return "\n".join(lines) + "\n"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def summary(result: SimulationResult[Any], text: str) -> dict[str, Any]:
    return {
        "dead_letters": result.dead_letters,
        "rows": len(result.rows),
        "schedule": str(result.schedule),
        "sha256": digest(text),
        "status": result.status,
    }


# -- the stored files -----------------------------------------------------------------------


def compute(cases: Iterable[Case] = CASES) -> dict[str, tuple[dict[str, Any], str]]:
    """Every run of ``cases``: its summary and canonical text, by key."""
    computed = {}
    for run in runs(cases):
        result = run.simulate()
        text = canonical(result)
        computed[run.key] = (summary(result, text), text)
    return computed


def meta() -> dict[str, Any]:
    return {
        "canonical_format": FORMAT,
        # as a schedule's header writes them (the faults that differ from none): a new kind
        # of fault, off in these runs, changes no recording
        "faults": {
            name: SimulationOptions(faults=faults).header() if faults is not None else "None"
            for name, faults in FAULTS.items()
        },
        "schedule_version": Schedule(()).version,
        "seeds": list(SEEDS),
    }


def write(computed: dict[str, tuple[dict[str, Any], str]]) -> None:
    entries = [("_meta", meta())] + [(key, computed[key][0]) for key in sorted(computed)]
    body = ",\n".join(
        f"  {json.dumps(key)}: {json.dumps(entry, sort_keys=True)}" for key, entry in entries
    )
    GOLDEN_JSON.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    texts = "".join(f"### run {key}\n{computed[key][1]}" for key in sorted(computed))
    # mtime=0 and no file name in the header: the same texts give the same bytes
    GOLDEN_TEXT.write_bytes(gzip.compress(texts.encode(), compresslevel=9, mtime=0))


@functools.cache
def stored() -> tuple[dict[str, Any], dict[str, str]]:
    """The recorded summaries and canonical texts, by key."""
    summaries = json.loads(GOLDEN_JSON.read_text(encoding="utf-8"))
    texts: dict[str, str] = {}
    if GOLDEN_TEXT.exists():
        key = None
        lines: list[str] = []
        for line in gzip.decompress(GOLDEN_TEXT.read_bytes()).decode().splitlines(True):
            if line.startswith("### run "):
                if key is not None:
                    texts[key] = "".join(lines)
                key, lines = line[len("### run ") :].rstrip("\n"), []
            else:
                lines.append(line)
        if key is not None:
            texts[key] = "".join(lines)
    return summaries, texts


# -- comparing --------------------------------------------------------------------------------


def difference(key: str, expected: str | None, actual: str, context: int = 3) -> str:
    """Where a run's canonical text first differs from the recorded one, as a diff snippet."""
    if expected is None:
        return f"  (no recorded text for {key} in {GOLDEN_TEXT.name} to diff against)"
    old, new = expected.splitlines(), actual.splitlines()
    first = next(
        (index for index, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
        min(len(old), len(new)),
    )
    ended = "(the run had ended)"
    lines = [
        f"  first difference, line {first + 1} of the canonical text:",
        f"    recorded: {old[first] if first < len(old) else ended}",
        f"    now:      {new[first] if first < len(new) else ended}",
    ]
    # the first hunks only: the first difference is what matters, the rest usually follows
    diff = difflib.unified_diff(old, new, "recorded", "now", n=context, lineterm="")
    for number, line in enumerate(diff):
        if number >= 40:
            lines.append("    …")
            break
        lines.append("    " + (line if len(line) <= 300 else line[:299] + "…"))
    return "\n".join(lines)


def compare(cases: Iterable[Case] = CASES, *, complete: bool = False) -> list[str]:
    """What differs between the recorded runs of ``cases`` and the runs now (empty: all equal).

    ``complete`` also reports recorded runs whose case is gone."""
    summaries, texts = stored()
    recorded_meta = summaries.get("_meta")
    problems = []
    if recorded_meta != meta():
        problems.append(f"the recording options differ: recorded {recorded_meta}, now {meta()}")
    computed = compute(cases)
    for key, (entry, text) in computed.items():
        if key not in summaries:
            problems.append(f"{key}: not recorded")
            continue
        recorded = summaries[key]
        if recorded["sha256"] == entry["sha256"]:
            continue
        changed = ", ".join(
            f"{name} {recorded.get(name)!r} -> {entry[name]!r}"
            for name in ("status", "schedule", "rows", "dead_letters")
            if recorded.get(name) != entry[name]
        )
        problems.append(
            f"{key}: differs ({changed or 'same summary, other trace'})\n"
            + difference(key, texts.get(key), text)
        )
    if complete:
        problems += [
            f"{key}: recorded, but no such run now"
            for key in sorted(summaries)
            if key != "_meta" and key not in computed
        ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.golden")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--record", action="store_true", help="rewrite the golden files")
    action.add_argument("--check", action="store_true", help="compare with the golden files")
    arguments = parser.parse_args(argv)
    if arguments.record:
        computed = compute()
        write(computed)
        print(
            f"recorded {len(computed)} runs: {GOLDEN_JSON.name} "
            f"{GOLDEN_JSON.stat().st_size:,} bytes, {GOLDEN_TEXT.name} "
            f"{GOLDEN_TEXT.stat().st_size:,} bytes"
        )
        return 0
    problems = compare(complete=True)
    for problem in problems:
        print(problem)
    if problems:
        print(f"\n{len(problems)} run(s) differ from the golden traces.\n{RE_RECORD}")
        return 1
    print(f"all {sum(1 for _ in runs())} runs match the golden traces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
