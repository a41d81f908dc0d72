"""The `playbill` command line, end to end: each command run in a subprocess as a user runs it
(``python -m playbill``, the same entry point as the ``playbill`` console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from playbill import explore

ROOT = Path(__file__).resolve().parent.parent
BANK = "examples/bank_race.py"
FLOW = "examples/word_stats.yaml"
REGISTRY = "examples/word_stats.py:registry"

sys.path.insert(0, str(ROOT / "examples"))
import bank_race  # noqa: E402


def playbill(
    *arguments: str, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    environment.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [sys.executable, "-m", "playbill", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


@pytest.fixture(scope="module")
def minimal_schedule() -> str:
    found = explore(bank_race.two_deposits(), check=bank_race.both_deposits_count, runs=1000)
    assert found.minimal is not None
    return str(found.minimal.schedule)


def test_replay_prints_the_trace_of_the_schedule_and_the_outcome(minimal_schedule: str) -> None:
    done = playbill("replay", f"{BANK}:two_deposits", minimal_schedule)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("/app/balance" in line and "receive ('write', 50)" in line for line in lines)
    assert lines[-1] == "completed: 50"  # the lost deposit, replayed from the string alone


def test_replay_filters_by_actor_and_kind(minimal_schedule: str) -> None:
    done = playbill(
        "replay", f"{BANK}:two_deposits", minimal_schedule, "--actor", "/app/balance", "--kind",
        "receive",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert steps
    assert all("/app/balance " in line and "receive " in line for line in steps)
    assert f" of {len(bank_race_rows(minimal_schedule))} trace lines shown)" in done.stdout


def bank_race_rows(schedule: str) -> tuple[object, ...]:
    from playbill import replay

    return replay(bank_race.two_deposits(), schedule).rows


def test_replay_takes_a_module_name_as_well_as_a_file(minimal_schedule: str) -> None:
    done = playbill("replay", "examples.bank_race:two_deposits", minimal_schedule)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "completed: 50"


def test_explore_finds_the_race_and_exits_1_with_the_replay_call() -> None:
    done = playbill("explore", f"{BANK}:two_deposits", "--check", f"{BANK}:both_deposits_count")
    assert done.returncode == 1, done.stderr
    assert "explore(two_deposits()) found a schedule that breaks the check" in done.stdout
    assert "replay(two_deposits(), 'v6:" in done.stdout
    assert "the minimal run, step by step:" in done.stdout


def test_explore_that_passes_exits_0(tmp_path: Path) -> None:
    (tmp_path / "checks.py").write_text(
        "def anything(result):\n    return result.status == 'completed'\n", encoding="utf-8"
    )
    done = playbill(
        "explore", f"{ROOT / BANK}:two_deposits", "--check", "checks:anything", "--runs", "20",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "passed: 20 runs" in done.stdout


def test_draw_prints_the_saved_flow_as_mermaid() -> None:
    done = playbill("draw", FLOW, "--registry", REGISTRY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flowchart TD")
    assert '["step: longest_word"]' in done.stdout


def test_run_shows_the_events_live_then_the_output_as_json() -> None:
    done = playbill("run", FLOW, "--registry", REGISTRY, "--input", '"Actors are values here"')
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[-1]) == {"words": 4, "longest": "actors"}
    assert "    started   count_words [steps[2].flows[0]]" in lines  # nested under the zip
    assert lines[0].startswith("started ")
    assert lines[-2].startswith("completed ")


def test_demo_runs() -> None:
    done = playbill("demo", timeout=280)  # ~25 s alone; a loaded 2-core CI runner is slower
    assert done.returncode == 0, done.stderr
    assert "$ playbill replay examples/bank_race.py:two_deposits 'v6:" in done.stdout
    assert "completed: 50" in done.stdout  # the command line replayed the lost deposit
    assert "replayed: charged 60, same trace: True" in done.stdout  # the double charge
    assert "payments made, each once: ['escrow 40', 'bo 40']" in done.stdout  # durable
    assert "\ndone in " in done.stdout
    # the runtime's failure logs: one line each, in order with the rest, no traceback
    assert "log: actor /app/statistician failed handling a Task" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_replay_recording_prints_the_trace_and_outcome_of_a_recorded_run(tmp_path: Path) -> None:
    from playbill import run

    path = tmp_path / "bank.jsonl"
    assert run(bank_race.two_deposits(), record=path) == 100
    done = playbill("replay-recording", str(path), f"{BANK}:two_deposits")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "completed: 100"
    assert "the recording is complete" in lines[-2]
    assert any("/app/balance" in line for line in lines[:-2])  # the trace


def test_replay_recording_exits_1_with_the_divergence(tmp_path: Path) -> None:
    from playbill import now, run

    path = tmp_path / "time.jsonl"
    run(now(), record=path)  # a program that only read the time
    done = playbill("replay-recording", str(path), f"{BANK}:two_deposits")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("diverged: replaying ")
    assert "the program is not the one recorded" in done.stdout


def test_replay_recording_serves_the_named_handlers_effects_from_the_recording(
    tmp_path: Path,
) -> None:
    (tmp_path / "priced.py").write_text(
        "from attrs import frozen\n"
        "from playbill import Effect, program\n"
        "@frozen\n"
        "class Price(Effect[float]):\n"
        "    item: str\n"
        "handlers = {Price: lambda effect: 9.5}\n"
        "@program\n"
        "def main():\n"
        "    return (yield Price('tea'))\n"
    )
    recorded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, '.'); import priced; from playbill import run; "
            "print(run(priced.main(), handlers=priced.handlers, record='run.jsonl'))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recorded.stdout.strip() == "9.5", recorded.stderr
    done = playbill(
        "replay-recording", "run.jsonl", "priced.py:main", "--handlers", "priced.py:handlers",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "completed: 9.5"
    refused = playbill(
        "replay-recording", "run.jsonl", "priced.py:main", "--handlers", "priced.py:main",
        cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "not a mapping from effect type to handler" in refused.stderr


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("replay", f"{BANK}:nope", "v6:"), "has no 'nope'"),
        (("replay", "two_deposits", "v6:"), "PROGRAM is MODULE:NAME"),
        (("replay", "no_such_module:main", "v6:"), "no module named 'no_such_module'"),
        (("replay", "missing.py:main", "v6:"), "no Python file"),
        (("replay", f"{BANK}:Balance", "v6:"), "Balance() gave a Balance, not a Program"),
        (("replay", f"{BANK}:two_deposits", "v6:("), "SCHEDULE 'v6:('"),
        (("replay", f"{BANK}:two_deposits", "v6:", "--kind", "sneeze"), "'sneeze'"),
        (("replay-recording", "nowhere.jsonl", f"{BANK}:two_deposits"), "cannot be read"),
        (("replay-recording", BANK, f"{BANK}:two_deposits"), "is not a playbill recording"),
        (("explore", f"{BANK}:two_deposits"), "Missing option '--check'"),
        (
            (
                "explore",
                f"{BANK}:two_deposits",
                "--check",
                f"{BANK}:both_deposits_count",
                "--runs",
                "0",
            ),
            "--runs",
        ),
        (("explore", f"{BANK}:two_deposits", "--check", f"{BANK}:BAR"), "has no 'BAR'"),
        (("draw", FLOW, "--registry", f"{BANK}:two_deposits"), "not a playbill.flow.Registry"),
        (("draw", "nowhere.yaml", "--registry", REGISTRY), "cannot read the flow"),
        (("draw", f"{BANK}", "--registry", REGISTRY), "is not a flow"),
        (("run", FLOW, "--registry", REGISTRY, "--input", "nope"), "--input is not JSON"),
        (("sneeze",), "No such command 'sneeze'"),
    ],
)
def test_usage_errors_exit_2_saying_what_was_wrong(arguments: tuple[str, ...], says: str) -> None:
    done = playbill(*arguments)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr
    assert "Traceback" not in done.stderr


BROKEN_MODULES = {
    "syntax_slip.py": "x = (\n",
    "missing_import.py": "import no_such_module_anywhere\n",
    "factories.py": (
        "from playbill import pure\n"
        "def boom():\n    raise RuntimeError('the factory broke')\n"
        "def needs(x):\n    return pure(x)\n"
        "def registry():\n    raise LookupError('no registry today')\n"
        "NUMBER = 5\n"
    ),
}


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (
            ("replay", "syntax_slip.py:main", "v6:"),
            "Error: cannot import syntax_slip.py: SyntaxError: '(' was never closed",
        ),
        (
            ("replay", "syntax_slip:main", "v6:"),
            "Error: cannot import syntax_slip: SyntaxError: '(' was never closed",
        ),
        (
            ("replay", "missing_import.py:main", "v6:"),
            "Error: cannot import missing_import.py: ModuleNotFoundError: No module named "
            "'no_such_module_anywhere'",
        ),
        (
            ("replay", "missing_import:main", "v6:"),
            "Error: cannot import missing_import: ModuleNotFoundError",
        ),
        (
            ("replay", "factories.py:boom", "v6:"),
            "Error: boom() raised RuntimeError: the factory broke",
        ),
        (
            ("replay", "factories.py:NUMBER", "v6:"),
            "Error: NUMBER is an int, not a Program or a function building one",
        ),
        (
            ("replay", "factories.py:needs", "v6:"),
            "Error: needs must take no arguments to be run from the command line, but it is "
            "needs(x)",
        ),
        (
            ("draw", str(ROOT / FLOW), "--registry", "factories.py:registry"),
            "Error: --registry factories.py:registry: calling it raised LookupError: no "
            "registry today",
        ),
        (
            ("run", str(ROOT / FLOW), "--registry", str(ROOT / REGISTRY), "--input", '"a"',
             "--name", "a/b"),
            "Error: --name: an actor system name must be a non-empty string without '/'",
        ),
        (
            ("draw", str(ROOT / "README.md"), "--registry", str(ROOT / REGISTRY)),
            "is not a flow: (root): not a YAML document: ",
        ),
        (
            ("replay", str(ROOT / f"{BANK}:two_deposits"), "v6:", "--actor", "app/balance"),
            "Error: --actor 'app/balance': actor must be an absolute actor path",
        ),
    ],
)  # fmt: skip
def test_a_module_or_factory_that_breaks_is_a_usage_error_in_one_line(
    tmp_path: Path, arguments: tuple[str, ...], says: str
) -> None:
    for name, text in BROKEN_MODULES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = playbill(*arguments, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, done.stderr
    assert done.stderr.rstrip().endswith(error[0]), done.stderr  # one line, and the last
    assert says in error[0]


def test_a_flow_that_fails_at_run_time_prints_its_events_then_the_failure_in_one_line() -> None:
    done = playbill("run", FLOW, "--registry", REGISTRY, "--input", "5")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr == "failed: AttributeError: 'int' object has no attribute 'lower'\n"
    assert done.stdout.splitlines()[-1].startswith("failed ")


def test_the_console_script_and_the_cli_extra_are_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"] == {"playbill": "playbill.cli:main"}
    assert {"click>=8.1", "rich>=13"} <= set(project["optional-dependencies"]["cli"])


def test_paused_resume_and_cancel_look_after_durable_workflows(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    import approval

    journal = str(tmp_path / "approvals.db")
    approval.durable(journal).start("refund", "r-1", {"customer": "bo", "amount": 5})
    approval.durable(journal).start("refund", "r-2", {"customer": "cy", "amount": 6})
    target = "examples/approval.py:durable"
    listed = playbill("paused", target, "--journal", journal)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "r-1\trefund\tApproval\trefund 5 to bo?",
        "r-2\trefund\tApproval\trefund 6 to cy?",
    ]
    refused = playbill("resume", target, "r-1", "--journal", journal, "--value", '{"approved": 1}')
    assert refused.returncode == 2
    assert "must be Approval" in refused.stderr
    done = playbill(
        "resume", target, "r-1", "--journal", journal, "--value",
        '{"approved": true, "by": "ana"}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'completed: "approved by ana: paid 5 to bo"'
    cancelled = playbill("cancel", target, "r-2", "--journal", journal)
    assert cancelled.returncode == 0, cancelled.stderr
    assert playbill("paused", target, "--journal", journal).stdout == ""
    again = playbill("cancel", target, "r-2", "--journal", journal)
    assert again.returncode == 2
    assert "'r-2' already cancelled" in again.stderr
