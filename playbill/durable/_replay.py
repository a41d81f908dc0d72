"""The journaling layer: a Program that drives another program's stepper, serving each
effect's result from the journal while there is one and performing it (then journaling it)
after.

Because the layer is itself a Program, whatever interpreter runs it — the stub, asyncio, the
simulator — performs the live effects and the journal writes (`blocking` calls), and the
program being journaled never knows.

Positions: the n-th effect of the top program is ``n``; the programs a gather, race or
timeout at position ``p`` carries are journaled under ``p.0``, ``p.1``…, and the structure's
own entry at ``p`` records the order in which they finished (and a race's winner, where each
loser waited when cancelled, and when it got there; or the program whose failure it settled
on), written when it completes. Replaying a completed structure runs its finished children
one after another in that order, each from its own journal (a race's losers among them, each
stopped where it waited, performing nothing); an unfinished one is performed again, each
child continuing from where its
journal ends.
"""

from __future__ import annotations

import json
import threading
import typing
from collections.abc import Generator
from typing import Any, final

import attrs

from playbill.durable._codec import Codec, canonical
from playbill.durable._effects import AwaitInput, Patched, schema_name
from playbill.durable._errors import DurableError, JournalMismatch, NotEncodable
from playbill.durable._store import Entry, EntryKind, JournalStore
from playbill.effects import (
    Cancelled,
    Done,
    Effect,
    Failed,
    InvalidArgument,
    Machine,
    Program,
    TimedOut,
    program,
)
from playbill.effects._concurrency import (
    CancelFiber,
    Fork,
    Join,
    Parallel,
    Race,
    Settle,
    Timeout,
)
from playbill.effects._program import Suspend
from playbill.effects._promises import AwaitPromise, CompletePromise, FailPromise, NewPromise
from playbill.effects._vocabulary import Blocking

_PROMISE_EFFECTS = frozenset({NewPromise, CompletePromise, FailPromise, AwaitPromise})

__all__ = ["NO_ANSWER", "InputRejected", "Paused_", "Run", "journaled", "position_text", "validate"]

Path = tuple[int, ...]

# Raised by the layer itself: they leave the run, never enter the program being journaled.
_PASS_THROUGH = (GeneratorExit, KeyboardInterrupt, SystemExit, Cancelled, DurableError)


@final
class InputRejected(DurableError, InvalidArgument):
    """The value given to ``resume`` does not fit the schema the workflow waits for; the
    workflow stays paused."""

    reason: str = ""


@final
class Paused_(DurableError):  # noqa: N801 - private signal, named for what it carries
    """The program waits for a person: the run stops here (raised out of the layer)."""

    def __init__(self, position: str, prompt: str, schema: str) -> None:
        super().__init__(f"paused at {position}: {prompt}")
        self.position = position
        self.prompt = prompt
        self.schema = schema


def position_text(path: Path) -> str:
    return ".".join(map(str, path))


def _path(text: str) -> Path:
    return tuple(int(part) for part in text.split("."))


NO_ANSWER: Any = object()


class _Answer:
    __slots__ = ("position", "value")

    def __init__(self, position: str, value: object) -> None:
        self.position = position
        self.value = value


class Run:
    """One durable run of one workflow: its journal as loaded, and how it appends."""

    __slots__ = (
        "answer",
        "clock",
        "codec",
        "deferred",
        "entries",
        "paused",
        "reached",
        "stops",
        "store",
        "workflow_id",
        "writing",
    )

    def __init__(
        self,
        store: JournalStore,
        workflow_id: str,
        codec: Codec,
        entries: tuple[Entry, ...],
        *,
        paused: tuple[str, str] | None = None,
        answer: object = NO_ANSWER,
    ) -> None:
        self.store = store
        self.workflow_id = workflow_id
        self.codec = codec
        self.entries = {entry.position: entry for entry in entries}
        # where the recorded run paused, and its prompt: the journal reaches that far
        self.paused = paused
        self.answer = _Answer(paused[0], answer) if paused is not None else None
        # markers that need no durability point of their own (a patch, a fork, a join, a
        # promise: lost in a crash, they are made again the same way): written with the next
        # entry that does, or before the workflow's status changes; what is written is
        # always a prefix of the journal
        self.deferred: list[Entry] = []
        self.writing = threading.Lock()  # held while entries are written
        # where each program cancelled from outside waited (a race's losers), by its path,
        # and when it got there: the race's entry records its losers', so a replay stops
        # them where they stood, in the order they got there and its members finished
        self.stops: dict[Path, tuple[str, int]] = {}
        self.reached: dict[Path, int] = {}  # when each program inside a structure got
        self.clock = 0  # to the effect it is at: a count of such arrivals and finishes

    def recorded_up_to(self, position: Path) -> bool:
        """Whether the recorded run reached past ``position`` (it paused there or later)."""
        return self.paused is not None and position <= _path(self.paused[0])

    def append(self, position: str, effect: str, kind: EntryKind, payload: str) -> Program[Any]:
        """A durability point: ``entry`` and those deferred before it, written (in one commit
        where the store can) before the program goes on."""
        self.defer(position, effect, kind, payload)
        return self.flush()

    def defer(self, position: str, effect: str, kind: EntryKind, payload: str) -> None:
        """A marker that needs no durability point: written with the next entry that does."""
        entry = Entry(position, effect, kind, payload)
        self.entries[position] = entry
        self.deferred.append(entry)

    def unwritten(self) -> bool:
        """Whether an entry is deferred, or being written (by another fiber's call)."""
        return bool(self.deferred) or self.writing.locked()

    def flush(self) -> Program[Any]:
        """What writes the deferred entries (and waits for those being written)."""
        # what blocking(...) gives, without its checks of a known function
        return Suspend(Blocking(self.write_deferred))

    def write_deferred(self) -> None:
        """Write every entry deferred so far, in order; return once they are committed,
        those another thread is writing included. If the store fails, none of them is
        taken as written: the next flush writes them again."""
        with self.writing:
            batch, self.deferred = self.deferred, []
            written = 0
            try:
                if len(batch) == 1:
                    self.store.append(self.workflow_id, batch[0])
                elif hasattr(self.store, "append_all"):  # all of them, or none
                    self.store.append_all(self.workflow_id, batch)
                else:  # a store of one's own without it
                    for entry in batch:
                        self.store.append(self.workflow_id, entry)
                        written += 1
            except BaseException:
                self.deferred[:0] = batch[written:]
                raise

    def encode(self, value: object, effect: Effect[Any], position: str) -> str:
        try:
            return self.codec.dumps(value)
        except NotEncodable as error:
            raise NotEncodable(
                f"the result of {effect!r:.80} at journal position {position} of workflow "
                f"{self.workflow_id!r} cannot be journaled: {error}"
            ) from None

    def served(self, entry: Entry) -> Any:
        if entry.kind is EntryKind.ERROR:
            raise self.codec.loads(entry.payload)
        return self.codec.loads(entry.payload)

    def check(self, position: str, entry: Entry, found: str) -> None:
        if entry.effect != found:
            raise JournalMismatch(self.workflow_id, position, entry.effect, found)


def journaled(run: Run, journaled_program: Program[Any], path: Path = ()) -> Program[Any]:
    """``journaled_program`` with every effect journaled in ``run`` under ``path``."""
    return _journaled(run, journaled_program, path, None)


# what a race's loser replayed only as far as its journal goes gives, once it gets there
_STOPPED: Any = object()


@program
def _journaled(
    run: Run, body: Program[Any], path: Path, stop: str | None
) -> Generator[Any, Any, Any]:
    """``body`` journaled under ``path``. With a ``stop`` (a race's loser, the position it
    waited at when the race cancelled it, or ``""`` if not known), it is replayed only: at
    that position, or the first its journal does not hold, it stops (it gives ``_STOPPED``),
    nothing performed and nothing journaled, and its program is dropped where it stands."""
    machine = Machine(body)
    step = machine.start()
    count = 0
    recording = True
    while True:
        if type(step) is Done:
            return step.value
        if type(step) is Failed:
            raise step.error
        effect = step.effect
        kind = type(effect)
        if kind is Settle:  # journaled as its expansion (the race it stands for), in place
            step = machine.resume_with(effect.expansion)  # type: ignore[attr-defined]
            continue
        if not recording:  # cancelled: the finalisers run live, and are not journaled
            try:
                value = yield Suspend(effect)
            except (GeneratorExit, KeyboardInterrupt, SystemExit, DurableError):
                raise
            except BaseException as error:
                step = step.throw(error)
                continue
            step = step.resume(value)
            continue
        position = (*path, count)
        if path and stop is None:
            run.clock += 1
            run.reached[path] = run.clock
        text = canonical(effect)
        key = position_text(position)
        entry = run.entries.get(key)
        if stop is not None and (entry is None or key == stop):
            return _STOPPED  # a race's loser: the recorded run cancelled it here
        if kind is Patched:
            # an entry that is not this patch: the journal predates the change, which takes
            # no position then, so what follows replays as it was recorded
            if entry is None and not run.recorded_up_to(position):
                run.defer(key, text, EntryKind.MARKER, "null")
            elif entry is None or entry.effect != text:
                step = step.resume(False)
                continue
            count += 1
            step = step.resume(True)
            continue
        count += 1
        if entry is not None:
            run.check(key, entry, text)
        elif run.paused is not None and run.paused[0] == key and kind is not AwaitInput:
            expected = f"AwaitInput (it paused there, asking {run.paused[1]!r})"
            raise JournalMismatch(run.workflow_id, key, expected, text)
        try:
            value = yield from _perform(run, effect, position, key, text, entry)
        except (GeneratorExit, KeyboardInterrupt, SystemExit, DurableError):
            raise
        except Cancelled as error:  # cancelled from outside while live: not journaled
            recording = False
            if path:
                run.stops[path] = (key, run.reached.pop(path, 0))
            step = step.throw(error)
            continue
        except BaseException as error:
            step = step.throw(error)
            continue
        step = step.resume(value)


def _perform(
    run: Run, effect: Effect[Any], position: Path, key: str, text: str, entry: Entry | None
) -> Generator[Any, Any, Any]:
    kind = type(effect)
    if kind is Parallel or kind is Race or kind is Timeout:
        return (yield from _structure(run, effect, position, key, text, entry))
    if kind is Fork or kind is Join or kind is CancelFiber or kind in _PROMISE_EFFECTS:
        # performed on every run: a fiber handle lives in one run only; the forked program
        # journals under this position, so a join's result replays from there. A promise is
        # one run's too: what completes it replays, so what awaits it gets the same value
        if kind is Fork:
            effect = Fork(journaled(run, effect.program, position))  # type: ignore[attr-defined]
        if entry is None:
            run.defer(key, text, EntryKind.MARKER, "null")
        return (yield Suspend(effect))
    if entry is not None:
        return run.served(entry)
    if kind is AwaitInput:
        return (yield from _await_input(run, effect, key, text))  # type: ignore[arg-type]
    try:
        value = yield Suspend(effect)
    except _PASS_THROUGH:
        raise
    except BaseException as error:
        yield run.append(key, text, EntryKind.ERROR, run.encode(error, effect, key))
        raise
    yield run.append(key, text, EntryKind.VALUE, run.encode(value, effect, key))
    return value


def _await_input(run: Run, effect: AwaitInput, key: str, text: str) -> Generator[Any, Any, Any]:
    answer = run.answer
    if answer is None or answer.position != key or answer.value is NO_ANSWER:
        raise Paused_(key, effect.prompt, schema_name(effect.schema))
    value = validate(answer.value, effect.schema, effect.prompt)
    yield run.append(key, text, EntryKind.VALUE, run.encode(value, effect, key))
    run.answer = None
    return value


def validate(value: object, schema: Any, prompt: str) -> Any:
    """``value`` checked against ``schema``, and converted: an attrs class is built from a
    dict of its fields; other schemas go through pydantic's ``TypeAdapter`` when the
    ``schemas`` extra is installed (so a dict becomes a model), else an ``isinstance`` check."""
    if schema is object or schema is Any:
        return value
    if isinstance(schema, type) and attrs.has(schema):
        if isinstance(value, schema):
            return value
        if isinstance(value, dict):
            try:
                hints = typing.get_type_hints(schema)
            except Exception:  # annotations that do not resolve: fields go unchecked
                hints = {}
            fields = {}
            for name, item in value.items():
                try:
                    fields[name] = validate(item, hints.get(name, object), prompt)
                except InputRejected as error:
                    reason = f"its {name}: {error.reason}"
                    raise _rejected(value, schema, prompt, reason) from None
            try:
                return schema(**fields)
            except (TypeError, ValueError) as error:
                raise _rejected(value, schema, prompt, str(error)) from None
        raise _rejected(value, schema, prompt, f"a {type(value).__qualname__}")
    try:
        from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError
    except ImportError:  # pragma: no cover - depends on the extras installed
        return _instance_of(value, schema, prompt)
    try:
        adapter: Any = TypeAdapter(schema)
    except PydanticSchemaGenerationError:
        return _instance_of(value, schema, prompt)
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        reason = "; ".join(problem["msg"] for problem in error.errors())
        raise _rejected(value, schema, prompt, reason) from None


def _instance_of(value: object, schema: Any, prompt: str) -> Any:
    if isinstance(schema, type) and not isinstance(value, schema):
        raise _rejected(value, schema, prompt, f"a {type(value).__qualname__}")
    return value


def _rejected(value: object, schema: Any, prompt: str, reason: str) -> InputRejected:
    error = InputRejected(
        f"the answer to {prompt!r} must be {schema_name(schema)}, got {value!r} ({reason}); "
        "the workflow stays paused"
    )
    error.reason = f"{value!r} is not {schema_name(schema)} ({reason})"
    return error


@program
def _tracked(
    run: Run,
    body: Program[Any],
    path: Path,
    order: list[list[Any]],
    finished: dict[int, int],
    tag: bool,
) -> Generator[Any, Any, Any]:
    try:
        value = yield journaled(run, body, path)
    except _PASS_THROUGH:
        raise
    except BaseException as error:
        order.append([path[-1], False, error])  # the error: which one settled the structure
        run.clock += 1
        finished[path[-1]] = run.clock
        run.reached.pop(path, None)
        raise
    order.append([path[-1], True])
    run.clock += 1
    finished[path[-1]] = run.clock
    run.reached.pop(path, None)
    return (path[-1], value) if tag else value


def _structure(
    run: Run, effect: Any, position: Path, key: str, text: str, entry: Entry | None
) -> Generator[Any, Any, Any]:
    kind = type(effect)
    programs = (effect.program,) if kind is Timeout else effect.programs
    if entry is not None:
        return (yield from _replay_structure(run, kind, programs, position, entry))
    order: list[list[Any]] = []
    finished: dict[int, int] = {}  # when each member finished (the run's clock)
    children = tuple(
        _tracked(run, child, (*position, index), order, finished, kind is Race)
        for index, child in enumerate(programs)
    )
    performed = Timeout(children[0], effect.seconds) if kind is Timeout else kind(children)
    try:
        value = yield Suspend(performed)
    except _PASS_THROUGH:
        raise
    except BaseException as error:
        _stood(run, position, len(programs))  # a failing gather's: it replays none of them
        record: dict[str, Any] = {"order": _finished(order), "outcome": "error"}
        if kind is Timeout and not order:  # the time ran out before the program finished
            record = {"order": order, "outcome": "cut", "error": run.codec.encode(error, key)}
        # the program whose failure the structure settled on (a gather's first to fail, as
        # the interpreter saw them): the replay gives that one's, whatever the others did
        settled = [item[0] for item in order if not item[1] and item[2] is error]
        if settled:
            record["failed"] = settled[0]
        yield run.append(key, text, EntryKind.MARKER, json.dumps(record))
        raise
    record = {"order": _finished(order), "outcome": "value"}
    stood = _stood(run, position, len(programs))
    if kind is Race:
        record["winner"], value = value
        # where each loser stood when the race cancelled it (its replay stops there), and
        # the order in which the losers got there and the others finished (the replay's)
        arrived = dict(finished)
        stopped: dict[str, str] = {}
        for index, (at, when) in stood.items():
            if index not in finished:
                stopped[str(index)], arrived[index] = at, when
        record["stopped"] = stopped
        record["sequence"] = sorted(arrived, key=arrived.__getitem__)
    # a durability point: the order (a race's winner) decides what the program does next
    yield run.append(key, text, EntryKind.MARKER, json.dumps(record))
    return value


def _stood(run: Run, position: Path, count: int) -> dict[int, tuple[str, int]]:
    """Where each of the ``count`` programs under ``position`` cancelled from outside waited,
    and when it got there (taken out of ``run``)."""
    stood = {}
    for index in range(count):
        at = run.stops.pop((*position, index), None)
        if at is not None:
            stood[index] = at
    return stood


def _finished(order: list[list[Any]]) -> list[list[Any]]:
    """The completion order as journaled: each program's index and whether it succeeded."""
    return [item[:2] for item in order]


def _replay_structure(
    run: Run, kind: type[Any], programs: tuple[Program[Any], ...], position: Path, entry: Entry
) -> Generator[Any, Any, Any]:
    record = json.loads(entry.payload)
    if record["outcome"] == "cut":
        raise run.codec.decode(record["error"])
    results: dict[int, Any] = {}
    failure: BaseException | None = None
    finished = [index for index, _ in record["order"]]
    stopped: dict[str, str] = {}
    sequence: list[int] = finished
    if kind is Race and record["outcome"] == "value":
        # the losers the race cancelled replay too, each as far as its journal goes (to where
        # it waited when cancelled), then stops, never waiting or performing anything live:
        # what they did first (a tally they reported to, say: an at_least's members) is done
        # again, in the order they got there and the others finished. A journal from before
        # that order was recorded replays the losers first
        stopped = record.get("stopped", {})
        losers = [index for index in range(len(programs)) if index not in set(finished)]
        sequence = record.get("sequence", losers + finished)
    for index in sequence:
        if index not in finished:
            yield _journaled(run, programs[index], (*position, index), stopped.get(str(index), ""))
            continue
        try:
            results[index] = yield journaled(run, programs[index], (*position, index))
        except _PASS_THROUGH:
            raise
        except BaseException as error:
            failure = error
            if index == record.get("failed"):  # what the live run settled on: those after
                break  # it finished once it had (a journal without it: the last failure)
    if record["outcome"] == "error":
        if failure is None:  # pragma: no cover - a journal written by this module has one
            raise TimedOut(f"{entry.effect} failed")
        raise failure
    if kind is Race:
        return results[record["winner"]]
    if kind is Timeout:
        return results[0]
    return tuple(results[index] for index in range(len(programs)))
