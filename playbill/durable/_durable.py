"""`Durable`: start, recover, resume, list, cancel and fork durable workflows."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Generic, Literal, TypeVar, final

from attrs import frozen

from playbill.durable._codec import Codec
from playbill.durable._errors import DurableError, JournalCorrupted, NotEncodable, WorkflowCancelled
from playbill.durable._replay import NO_ANSWER, Paused_, Run, journaled, position_text
from playbill.durable._store import Entry, EntryKind, JournalStore, Loaded, Status, WorkflowRecord
from playbill.effects import InvalidArgument, Program, ProgramError, blocking
from playbill.effects import program as do_notation
from playbill.effects._handlers import HandlerFactory, Handlers, fresh_handlers
from playbill.flow import Registry

__all__ = ["Completed", "Durable", "Interpreter", "Outcome", "Paused"]

A = TypeVar("A")

Interpreter = Literal["stub", "simulation", "asyncio"]
_INTERPRETERS = ("stub", "simulation", "asyncio")
_MISSING: Any = object()


@final
@frozen
class Completed(Generic[A]):
    """The workflow finished with ``value``."""

    workflow_id: str
    value: A


@final
@frozen
class Paused:
    """The workflow waits for a person's answer to ``prompt`` (a ``schema``) at journal
    ``position``; ``Durable.resume(workflow_id, value)`` continues it, in this process or
    another."""

    workflow_id: str
    prompt: str
    schema: str
    position: str


Outcome = Completed[Any] | Paused


def _check_interpreter(interpreter: object) -> None:
    if interpreter not in _INTERPRETERS:
        raise InvalidArgument(
            f"interpreter must be one of {', '.join(map(repr, _INTERPRETERS))}, got "
            f"{interpreter!r}; under a running event loop use "
            "await system.run(durable.program(...)) instead"
        )


def _parse_position(at: object) -> tuple[int, ...]:
    if isinstance(at, int) and not isinstance(at, bool) and at >= 0:
        return (at,)
    if isinstance(at, str):
        try:
            path = tuple(int(part) for part in at.split("."))
        except ValueError:
            path = ()
        if path and all(part >= 0 for part in path):
            return path
    raise InvalidArgument(
        f"at must be a journal position: an int >= 0 (the n-th effect) or a dotted str such "
        f"as '2.1.0' (inside a gather), got {at!r}"
    )


def _path(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@final
class Durable:
    """Durable workflows: each effect's result is journaled in ``journal``; after a crash, a
    run replays the journal and continues live where it ends.

    ``registry`` names the workflow functions (each takes the workflow's input and returns a
    Program) and the types their results hold; ``handlers`` answers the workflows' own
    effects, as for any interpreter.

    >>> from playbill import program, random
    >>> from playbill.durable import MemoryJournal, await_input
    >>> registry = Registry()
    >>> @registry.register
    ... @program
    ... def refund(amount):
    ...     approved = yield await_input(f"refund {amount}?", bool)
    ...     return "refunded" if approved else "declined"
    >>> durable = Durable(MemoryJournal(), registry)
    >>> durable.start("refund", "order-7", 30)
    Paused(workflow_id='order-7', prompt='refund 30?', schema='bool', position='0')
    >>> durable.resume("order-7", True)
    Completed(workflow_id='order-7', value='refunded')
    """

    def __init__(
        self,
        journal: JournalStore,
        registry: Registry,
        *,
        handlers: Handlers | HandlerFactory | None = None,
    ) -> None:
        if not all(hasattr(journal, name) for name in ("open", "load", "append", "update")):
            raise InvalidArgument(
                "journal must be a journal store (SQLiteJournal(path), RedisJournal(url) or "
                f"MemoryJournal()), got {journal!r}"
            )
        if not isinstance(registry, Registry):
            raise InvalidArgument(
                f"registry must be a playbill.flow.Registry naming the workflow functions, "
                f"got {registry!r}"
            )
        self.journal = journal
        self.registry = registry
        self.codec = Codec(registry)
        self.handlers = handlers

    # -- as Programs, for any interpreter ------------------------------------------------

    def program(self, workflow: str, workflow_id: str, input: object = None) -> Program[Outcome]:
        """Start ``workflow`` on ``input`` as ``workflow_id``, or continue it if that id
        exists: a Program to run on any interpreter (``await system.run(...)``)."""
        if not isinstance(workflow, str) or workflow not in self.registry:
            raise InvalidArgument(
                f"workflow must name a workflow function of the registry (one of "
                f"{self.registry.names()}), got {workflow!r}"
            )
        try:
            text = self.codec.dumps(input)
        except NotEncodable as error:
            raise InvalidArgument(f"the input of workflow {workflow!r}: {error}") from None
        return self._run(workflow_id, (workflow, text), None)

    def continuation(self, workflow_id: str, answer: object = _MISSING) -> Program[Outcome]:
        """Continue ``workflow_id`` from its journal (with ``answer`` for the input it waits
        for, if given): a Program to run on any interpreter."""
        return self._run(workflow_id, None, None if answer is _MISSING else (answer,))

    @do_notation
    def _run(
        self,
        workflow_id: str,
        new: tuple[str, str] | None,
        answer: tuple[object] | None,
    ) -> Generator[Any, Any, Outcome]:
        store = self.journal
        loaded: Loaded | None
        if new is not None:
            loaded = yield blocking(store.open, workflow_id, *new)
            assert loaded is not None
            if loaded.record.workflow != new[0]:
                raise InvalidArgument(
                    f"workflow_id {workflow_id!r} already runs workflow "
                    f"{loaded.record.workflow!r}, not {new[0]!r}; choose another id"
                )
        else:
            loaded = yield blocking(store.load, workflow_id)
            if loaded is None:
                raise InvalidArgument(f"there is no workflow {workflow_id!r} in {store!r}")
        record = loaded.record
        if record.status is Status.CANCELLED:
            raise WorkflowCancelled(f"workflow {workflow_id!r} was cancelled; it runs no more")
        if answer is not None and record.status is not Status.PAUSED:
            raise InvalidArgument(
                f"workflow {workflow_id!r} is {record.status.value}, not paused: it waits for "
                "no input; list the paused ones with Durable.paused()"
            )
        body = self._body(record)
        paused = record.status is Status.PAUSED
        run = Run(
            store,
            workflow_id,
            self.codec,
            loaded.entries,
            paused=(record.position, record.prompt) if paused else None,
            answer=answer[0] if answer is not None else NO_ANSWER,
        )
        try:
            value = yield journaled(run, body)
        except Paused_ as pause:
            if run.unwritten():  # the journal is whole before the status says where it is
                yield run.flush()
            yield blocking(
                store.update,
                workflow_id,
                Status.PAUSED,
                prompt=pause.prompt,
                schema=pause.schema,
                position=pause.position,
            )
            return Paused(workflow_id, pause.prompt, pause.schema, pause.position)
        except DurableError:
            raise  # the journal could not be followed: the workflow stays as it was
        except Exception:
            if run.unwritten():
                yield run.flush()
            yield blocking(store.update, workflow_id, Status.FAILED)
            raise
        if run.unwritten():
            yield run.flush()
        if record.status is not Status.COMPLETED:
            yield blocking(store.update, workflow_id, Status.COMPLETED)
        return Completed(workflow_id, value)

    def _body(self, record: WorkflowRecord) -> Program[Any]:
        if record.workflow not in self.registry:
            raise InvalidArgument(
                f"workflow {record.workflow_id!r} runs {record.workflow!r}, which the registry "
                f"does not name (it has {self.registry.names()}); register the workflow "
                "function under that name"
            )
        function: Callable[[Any], Any] = self.registry.resolve(record.workflow)  # type: ignore[assignment]
        body = function(self.codec.loads(record.input))
        if not isinstance(body, Program):
            raise ProgramError(
                f"the workflow function {record.workflow!r} returned {body!r:.60}, not a "
                "Program; decorate it with @program"
            )
        return body

    # -- running here --------------------------------------------------------------------

    def start(
        self,
        workflow: str,
        workflow_id: str,
        input: object = None,
        *,
        interpreter: Interpreter = "stub",
        seed: int = 0,
    ) -> Outcome:
        """Run ``workflow`` on ``input`` as ``workflow_id`` (or continue it, if that id was
        started before) on ``interpreter``, until it completes or pauses."""
        return self._perform(self.program(workflow, workflow_id, input), interpreter, seed)

    def recover(
        self, workflow_id: str, *, interpreter: Interpreter = "stub", seed: int = 0
    ) -> Outcome:
        """Continue ``workflow_id`` after a crash: replay its journal, then go on live."""
        return self._perform(self.continuation(workflow_id), interpreter, seed)

    def resume(
        self,
        workflow_id: str,
        value: object,
        *,
        interpreter: Interpreter = "stub",
        seed: int = 0,
    ) -> Outcome:
        """Answer the input paused ``workflow_id`` waits for with ``value`` (checked against
        its schema: `InputRejected` leaves it paused) and continue it."""
        return self._perform(self.continuation(workflow_id, value), interpreter, seed)

    def _perform(self, run: Program[Outcome], interpreter: Interpreter, seed: int) -> Outcome:
        _check_interpreter(interpreter)
        handlers = fresh_handlers(self.handlers)
        if interpreter == "stub":
            from playbill.interpreters import stub

            return stub.run(run, handlers, seed=seed)
        if interpreter == "simulation":
            from playbill.interpreters.simulation import simulate

            result = simulate(run, seed=seed, handlers=handlers)
            if result.error is not None:
                raise result.error
            assert result.value is not None  # a run that did not fail gave its outcome
            return result.value
        from playbill.interpreters import run as run_on_asyncio

        return run_on_asyncio(run, handlers=handlers)

    # -- looking after workflows ---------------------------------------------------------

    def status(self, workflow_id: str) -> WorkflowRecord:
        """Where ``workflow_id`` stands (its journal checked)."""
        return self._loaded(workflow_id).record

    def entries(self, workflow_id: str) -> tuple[Entry, ...]:
        """The journal of ``workflow_id``, in the order it was written."""
        return self._loaded(workflow_id).entries

    def paused(self) -> tuple[WorkflowRecord, ...]:
        """The workflows waiting for a person, with their prompts."""
        return self.journal.workflows(Status.PAUSED)

    def cancel(self, workflow_id: str) -> None:
        """Cancel ``workflow_id`` (paused or interrupted): it never runs again."""
        record = self.journal.workflows()
        found = next((each for each in record if each.workflow_id == workflow_id), None)
        if found is None:
            raise InvalidArgument(f"there is no workflow {workflow_id!r} in {self.journal!r}")
        if found.status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
            raise InvalidArgument(
                f"workflow {workflow_id!r} already {found.status.value}; only a running or "
                "paused workflow can be cancelled"
            )
        self.journal.update(workflow_id, Status.CANCELLED)

    def repair(self, workflow_id: str) -> int:
        """Drop the untrusted entries of a corrupted journal (`JournalCorrupted`); the
        effects they held are performed again. The number of entries kept."""
        try:
            return len(self._loaded(workflow_id).entries)
        except JournalCorrupted as corrupted:
            self.journal.truncate(workflow_id, corrupted.trusted)
            return corrupted.trusted

    def _loaded(self, workflow_id: str) -> Loaded:
        loaded = self.journal.load(workflow_id)
        if loaded is None:
            raise InvalidArgument(f"there is no workflow {workflow_id!r} in {self.journal!r}")
        return loaded

    # -- time travel ---------------------------------------------------------------------

    def fork(
        self,
        workflow_id: str,
        *,
        at: int | str,
        new_id: str,
        result: object = _MISSING,
        input: object = _MISSING,
        interpreter: Interpreter = "stub",
        seed: int = 0,
    ) -> Outcome:
        """Run a copy of ``workflow_id`` as ``new_id``: its journal before position ``at``
        is kept, the effect at ``at`` gets ``result`` (if given; else it is performed
        again), the workflow's ``input`` is replaced (if given), and the copy continues live
        on ``interpreter`` (``"simulation"`` to explore it under a seed). The original is
        untouched."""
        _check_interpreter(interpreter)
        target = _parse_position(at)
        loaded = self._loaded(workflow_id)
        record = loaded.record
        kept = [
            entry
            for entry in loaded.entries
            if _path(entry.position) < target
            and target[: len(_path(entry.position))]
            != _path(entry.position)  # a structure around ``at`` is redone, not replayed
        ]
        if result is not _MISSING:
            key = position_text(target)
            original = next((entry for entry in loaded.entries if entry.position == key), None)
            if original is None or original.kind is EntryKind.MARKER:
                results = [e.position for e in loaded.entries if e.kind is not EntryKind.MARKER]
                raise InvalidArgument(
                    f"at={at!r}: workflow {workflow_id!r} journaled no effect result there; "
                    f"positions with results: {', '.join(results) or 'none'}"
                )
            try:
                payload = self.codec.dumps(result)
            except NotEncodable as error:
                raise InvalidArgument(f"result for position {key}: {error}") from None
            kept.append(Entry(key, original.effect, EntryKind.VALUE, payload))
        text = record.input
        if input is not _MISSING:
            try:
                text = self.codec.dumps(input)
            except NotEncodable as error:
                raise InvalidArgument(f"input of the fork {new_id!r}: {error}") from None
        self.journal.copy(new_id, record.workflow, text, kept)
        return self.recover(new_id, interpreter=interpreter, seed=seed)
