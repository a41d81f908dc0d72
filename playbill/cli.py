"""The ``playbill`` command line: replay a schedule, explore a program, draw or run a saved flow.

    playbill replay MODULE:PROGRAM SCHEDULE [--actor PATH] [--kind KIND]...
    playbill replay-recording PATH MODULE:PROGRAM [--handlers MODULE:NAME]
    playbill explore MODULE:PROGRAM --check MODULE:FUNCTION [--runs N] [--strategy S]
                     [--delivery D] [--seed N]
    playbill draw FLOW.yaml --registry MODULE:NAME
    playbill run FLOW.yaml --registry MODULE:NAME --input JSON
    playbill paused MODULE:DURABLE [--journal PATH]
    playbill resume MODULE:DURABLE WORKFLOW_ID --value JSON [--journal PATH]
    playbill cancel MODULE:DURABLE WORKFLOW_ID [--journal PATH]
    playbill demo

``MODULE`` is an importable module (``examples.bank_race``) or a Python file
(``examples/bank_race.py``); the current directory is searched first, as ``python -m`` does.
``PROGRAM`` names a `Program`, or a function of no arguments that builds one (an ``@program``
function). ``DURABLE`` names a `playbill.durable.Durable`, or a function that builds one —
given the ``--journal`` path when there is one. The exit code is 0 when all went well, 1 when
a check failed (``explore`` found a failing schedule), a recording's replay diverged
(``replay-recording``) or a flow or workflow failed (``run``,
``resume``), and 2 for a usage error (a bad option, a module or name that is not there, a
module that does not import), said in one line.

Install it with ``pip install 'playbill[cli]'`` (click and rich); ``python -m playbill`` is the
same command.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

try:
    import click
except ImportError as missing:  # pragma: no cover - depends on the extras installed
    raise ImportError(
        "the playbill command line needs click and rich: pip install 'playbill[cli]'"
    ) from missing

from playbill.effects import Program
from playbill.effects._checks import a_type, callable_with, describe_callable, plural
from playbill.interpreters.simulation import StepKind

__all__ = ["main"]

# -- loading what the user names ------------------------------------------------------------


def _usage(message: str) -> NoReturn:
    raise click.UsageError(message)


_FILES: dict[Path, Any] = {}  # the Python files loaded, by their resolved path


def _module(name: str) -> Any:
    """The module ``name`` names: a dotted module, or a ``.py`` file."""
    if name.endswith(".py") or "/" in name or "\\" in name:
        path = Path(name)
        if not path.is_file():
            _usage(f"no Python file {name!r} (give MODULE:NAME, e.g. examples/bank_race.py:main)")
        loaded = _FILES.get(path.resolve())
        if loaded is not None:  # once per file: its program and its handlers share its classes
            return loaded
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always loads
            _usage(f"cannot load {name!r} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        sys.path.insert(0, str(path.resolve().parent))  # its own imports of its neighbours
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[path.stem]
            _usage(f"cannot import {name}: {_one_line(error)}")
        _FILES[path.resolve()] = module
        return module
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # the current directory first, as `python -m` has it
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            _usage(f"no module named {name!r} (run from the directory it is importable from)")
        _usage(f"cannot import {name}: {_one_line(error)}")
    except Exception as error:
        _usage(f"cannot import {name}: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    """``error`` as one line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _attribute(target: str, what: str) -> Any:
    """``MODULE:NAME`` loaded."""
    module_name, colon, attribute = target.rpartition(":")
    if not colon or not module_name or not attribute:
        _usage(f"{what} is MODULE:NAME (e.g. examples/bank_race.py:two_deposits), got {target!r}")
    module = _module(module_name)
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            public = sorted(n for n in vars(module) if not n.startswith("_"))
            _usage(f"{module_name} has no {attribute!r} (it has: {', '.join(public) or 'nothing'})")
        found = getattr(found, part)
    return found


def _program_factory(target: str) -> tuple[Callable[[], Program[Any]], str]:
    """A function building the program ``target`` names, and how a replay call writes it."""
    found = _attribute(target, "PROGRAM")
    name = target.rpartition(":")[2]
    if isinstance(found, Program):
        return (lambda: found), name
    if callable(found):
        if not callable_with(found, 0):
            _usage(
                f"{name} must take no arguments to be run from the command line, but it is "
                f"{describe_callable(found)}"
            )
        try:
            built = found()
        except Exception as error:
            _usage(f"{name}() raised {_one_line(error)}")
        if isinstance(built, Program):
            return found, f"{name}()"
        _usage(f"{name}() gave {a_type(built)}, not a Program")
    _usage(f"{name} is {a_type(found)}, not a Program or a function building one")


def _given(target: str, what: str, accepts: Callable[[Any], bool], kind: str) -> Any:
    """``MODULE:NAME`` loaded and, when it is a function building one, called: a value
    ``accepts`` takes, else a usage error saying it is not ``kind``."""
    found = _attribute(target, what)
    if callable(found) and not accepts(found):
        try:
            found = found()
        except Exception as error:
            _usage(f"{what} {target}: calling it raised {_one_line(error)}")
    if not accepts(found):
        _usage(f"{what} {target} is {a_type(found)}, not {kind}")
    return found


def _registry(target: str) -> Any:
    from playbill.flow import Registry

    return _given(
        target, "--registry", lambda found: isinstance(found, Registry), "a playbill.flow.Registry"
    )


def _flow(path: str, registry: str) -> tuple[Any, Any]:
    from playbill.flow import FlowSpecError, from_yaml

    names = _registry(registry)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        _usage(f"cannot read the flow {path!r}: {error.strerror}")
    try:
        return from_yaml(text, names), names
    except FlowSpecError as error:
        _usage(f"{path} is not a flow: {' '.join(str(error).split())}")


# -- output ---------------------------------------------------------------------------------


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


# -- commands -------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="playbill")
def main() -> None:
    """playbill: actor programs as values — replay, explore, draw and run them."""


@main.command()
@click.argument("program")
@click.argument("schedule")
@click.option("--actor", help="Only the steps of this actor path (and its children).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice([kind.value for kind in StepKind]),
    help="Only steps of this kind (repeat for several).",
)
def replay(program: str, schedule: str, actor: str | None, kinds: tuple[str, ...]) -> None:
    """Replay PROGRAM along SCHEDULE (the string a run or an exploration printed) and print
    its trace, the step where a failure started marked. The schedule carries the options it
    ran with."""
    from playbill.effects import InvalidArgument
    from playbill.interpreters.simulation import replay as replay_run

    build, _ = _program_factory(program)
    try:
        result = replay_run(build(), schedule)
    except InvalidArgument as error:
        _usage(f"SCHEDULE {schedule!r}: {error}")
    try:
        shown = len(result.trace_lines(actor=actor, kinds=kinds or None))
    except InvalidArgument as error:
        _usage(f"--actor {actor!r}: {error}")
    console = _console()
    if shown:
        every = max(len(result.rows), 1)
        text = result.format_trace(every, actor=actor, kinds=kinds or None)
        console.print(text, markup=False)
    if shown != len(result.rows):
        console.print(f"({shown} of {len(result.rows)} trace lines shown)", style="dim")
    outcome = result.value if result.status == "completed" else result.error
    console.print(f"{result.status}: {outcome!r}", markup=False)


@main.command(name="replay-recording")
@click.argument("path")
@click.argument("program")
@click.option(
    "--handlers",
    "handlers_target",
    help="MODULE:NAME of the handler map (or a function building one) the run was recorded with.",
)
def replay_recording(path: str, program: str, handlers_target: str | None) -> None:
    """Replay in the simulator the run ``ActorSystem(record=PATH)`` recorded of PROGRAM, step
    for step, and print its trace and outcome; exit 1 with the divergence at its first
    step."""
    from playbill.effects import InvalidArgument
    from playbill.interpreters.simulation._recording import RecordingDivergence
    from playbill.interpreters.simulation._recording import replay_recording as replay_it

    build, _ = _program_factory(program)
    handlers = None if handlers_target is None else _handlers(handlers_target)
    console = _console()
    try:
        replayed = replay_it(build(), path, handlers=handlers)
    except RecordingDivergence as error:
        console.print(f"diverged: {' '.join(str(error).split())}", markup=False)
        sys.exit(1)
    except InvalidArgument as error:
        _usage(f"PATH {path!r}: {' '.join(str(error).split())}")
    result = replayed.result
    if result.rows:
        console.print(result.format_trace(max(len(result.rows), 1)), markup=False)
    console.print(replayed.note, style="dim", markup=False)
    outcome = result.value if result.status == "completed" else result.error
    console.print(f"{result.status}: {outcome!r}", markup=False)


def _handlers(target: str) -> Any:
    from collections.abc import Mapping

    return _given(
        target,
        "--handlers",
        lambda found: isinstance(found, Mapping),
        "a mapping from effect type to handler",
    )


@main.command()
@click.argument("program")
@click.option("--check", "check_target", required=True, help="MODULE:FUNCTION judging a run.")
@click.option("--runs", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--strategy", default="random", show_default=True, type=click.Choice(["random", "pct", "dfs"])
)
@click.option(
    "--delivery", default="causal", show_default=True, type=click.Choice(["causal", "per_pair"])
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--progress/--no-progress", default=None, help="The progress line (default: tty).")
def explore(
    program: str,
    check_target: str,
    runs: int,
    strategy: str,
    delivery: str,
    seed: int,
    progress: bool | None,
) -> None:
    """Explore PROGRAM's schedules until a run breaks the check; print the minimal schedule,
    its trace and the replay call. Exit code 1 when a run broke the check."""
    from playbill.effects import InvalidArgument
    from playbill.interpreters.simulation import explore as explore_runs

    build, expression = _program_factory(program)
    check = _attribute(check_target, "--check")
    if not callable(check):
        _usage(f"--check {check_target} is {a_type(check)}, not a function")
    try:
        found = explore_runs(
            build,
            check,
            runs=runs,
            strategy=strategy,
            seed=seed,
            delivery=delivery,
            progress=progress,
        )
    except InvalidArgument as error:
        _usage(str(error))
    console = _console()
    if found.minimal is None:
        every = " (every schedule)" if found.exhausted else ""
        console.print(f"passed: {plural(found.runs, 'run')}{every}, no schedule broke the check")
        return
    console.print(found.report(expression), markup=False)
    sys.exit(1)


@main.command()
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("--registry", required=True, help="MODULE:NAME of the flow's Registry.")
def draw(flow: str, registry: str) -> None:
    """Print FLOW (a YAML document) as a Mermaid flowchart."""
    loaded, names = _flow(flow, registry)
    click.echo(loaded.to_mermaid(names))


@main.command()
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("--registry", required=True, help="MODULE:NAME of the flow's Registry.")
@click.option("--input", "given", required=True, help="The flow's input, as JSON.")
@click.option("--name", default="app", show_default=True, help="The actor system's name.")
def run(flow: str, registry: str, given: str, name: str) -> None:
    """Run FLOW on the JSON input under asyncio, printing its events as they happen, then its
    output (as JSON when it can be). Exit code 1 when the flow failed (its error in one
    line)."""
    from playbill.actors import check_name
    from playbill.effects import InvalidArgument

    try:
        value = json.loads(given)
    except json.JSONDecodeError as error:
        _usage(f"--input is not JSON: {error}")
    try:
        check_name(name, "an actor system name")
    except InvalidArgument as error:
        _usage(f"--name: {error}")
    loaded, _ = _flow(flow, registry)
    try:
        output = asyncio.run(_run_live(loaded, value, name, _console()))
    except Exception as error:  # the flow failed: its events are shown, its error in one line
        click.echo(f"failed: {_one_line(error)}", err=True)
        sys.exit(1)
    try:
        click.echo(json.dumps(output))
    except TypeError:
        click.echo(repr(output))


async def _run_live(flow: Any, value: Any, name: str, console: Any) -> Any:
    from playbill import ActorSystem
    from playbill.actors import Emitted
    from playbill.flow import FlowEvent

    depths: dict[str, int] = {}

    def show(event: object) -> None:
        if isinstance(event, Emitted) and isinstance(event.event, FlowEvent):
            flow_event = event.event
            depth = depths.setdefault(
                flow_event.span,
                depths.get(flow_event.parent, -1) + 1 if flow_event.parent else 0,
            )
            where = flow_event.path or "flow"
            detail = f"  {flow_event.error!r}" if flow_event.error is not None else ""
            console.print(
                f"{'  ' * depth}{flow_event.kind:<9} {flow_event.label} [{where}]{detail}",
                markup=False,
            )

    async with ActorSystem(name) as system:
        events = system.events()

        async def watch() -> None:
            async for event in events:
                show(event)

        watcher = asyncio.create_task(watch())
        try:
            return await system.run(flow.to_program(value))
        finally:
            watcher.cancel()
            for event in events.drain():  # those the watcher had no turn to show
                show(event)


# -- durable workflows ----------------------------------------------------------------------


def _durable(target: str, journal: str | None) -> Any:
    from playbill.durable import Durable

    found = _attribute(target, "DURABLE")
    if not isinstance(found, Durable) and callable(found):
        arguments = () if journal is None else (journal,)
        if not callable_with(found, len(arguments)):
            _usage(
                f"{target} must take {'the journal path' if arguments else 'no arguments'} "
                f"to build the Durable, but it is {describe_callable(found)}"
            )
        try:
            found = found(*arguments)
        except Exception as error:
            _usage(f"{target}: calling it raised {_one_line(error)}")
        # built here, so closed here (a SQLiteJournal's connection) when the command ends
        close = getattr(getattr(found, "journal", None), "close", None)
        if callable(close):
            click.get_current_context().call_on_close(close)
    elif journal is not None:
        _usage(f"--journal needs {target} to be a function building a Durable from the path")
    if not isinstance(found, Durable):
        _usage(f"{target} is {a_type(found)}, not a playbill.durable.Durable")
    return found


_JOURNAL = click.option(
    "--journal", help="The journal file, given to DURABLE when it is a function building one."
)


@main.command()
@click.argument("durable")
@_JOURNAL
def paused(durable: str, journal: str | None) -> None:
    """List the workflows of DURABLE that wait for a person: id, workflow, schema, prompt."""
    for record in _durable(durable, journal).paused():
        click.echo(f"{record.workflow_id}\t{record.workflow}\t{record.schema}\t{record.prompt}")


@main.command()
@click.argument("durable")
@click.argument("workflow_id")
@click.option("--value", "given", required=True, help="The answer, as JSON.")
@_JOURNAL
def resume(durable: str, workflow_id: str, given: str, journal: str | None) -> None:
    """Answer the paused WORKFLOW_ID with --value and run it on (on the stub: its effects'
    handlers come from DURABLE) until it completes or pauses again. Exit code 1 when the
    workflow failed, 2 when the answer does not fit what it waits for."""
    from playbill.durable import Completed, InputRejected
    from playbill.effects import InvalidArgument

    try:
        value = json.loads(given)
    except json.JSONDecodeError as error:
        _usage(f"--value is not JSON: {error}")
    found = _durable(durable, journal)
    try:
        outcome = found.resume(workflow_id, value)
    except (InputRejected, InvalidArgument) as error:
        _usage(" ".join(str(error).split()))
    except Exception as error:
        click.echo(f"failed: {_one_line(error)}", err=True)
        sys.exit(1)
    if isinstance(outcome, Completed):
        try:
            click.echo(f"completed: {json.dumps(outcome.value)}")
        except TypeError:
            click.echo(f"completed: {outcome.value!r}")
    else:
        click.echo(f"paused at {outcome.position}: {outcome.prompt} ({outcome.schema})")


@main.command()
@click.argument("durable")
@click.argument("workflow_id")
@_JOURNAL
def cancel(durable: str, workflow_id: str, journal: str | None) -> None:
    """Cancel WORKFLOW_ID (paused or interrupted): it never runs again."""
    from playbill.effects import InvalidArgument

    try:
        _durable(durable, journal).cancel(workflow_id)
    except InvalidArgument as error:
        _usage(" ".join(str(error).split()))
    click.echo(f"cancelled: {workflow_id}")


@main.command()
def demo() -> None:
    """Run playbill's demo (what ``make demo`` shows)."""
    root = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
    if not root.is_file():
        _usage("the demo ships with playbill's source (examples/demo.py), not with the wheel")
    import runpy

    sys.path.insert(0, str(root.parent))
    runpy.run_path(str(root), run_name="__main__")
