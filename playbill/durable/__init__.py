"""Durable execution: programs whose every effect is journaled, so that they survive a crash,
wait days for a person, change their code safely, and can be forked from any step.

A durable run is a journaling layer around the stepper, itself a Program: it runs on the stub,
under asyncio or in the simulator alike. Each effect's result is appended to a journal by
position (time, chance, ids and the order in which a gather or race resolved included); a
later run replays the journal — results served, nothing performed again — and goes on live
where it ends. A program that asks for a different effect than the journal recorded fails
with `JournalMismatch` (a `NondeterminismError`).

It sits above `playbill.flow` (whose `Registry` names the workflow functions and the types a
journal writes) and beside `playbill.agents`: ``effects ← … ← interpreters ← flow ← durable``.

>>> from playbill import program, now
>>> from playbill.flow import Registry
>>> registry = Registry()
>>> @registry.register
... @program
... def stamp(label):
...     return label, (yield now())
>>> journal = MemoryJournal()
>>> Durable(journal, registry).start("stamp", "w-1", "hello")
Completed(workflow_id='w-1', value=('hello', 0.0))
>>> [entry.effect for entry in Durable(journal, registry).entries("w-1")]
['Now{}']
"""

from typing import TYPE_CHECKING, Any

from playbill.durable._codec import Codec, canonical
from playbill.durable._durable import Completed, Durable, Interpreter, Outcome, Paused
from playbill.durable._effects import AwaitInput, Patched, await_input, patched
from playbill.durable._errors import (
    DurableError,
    JournalConflict,
    JournalCorrupted,
    JournalMismatch,
    NotEncodable,
    WorkflowCancelled,
)
from playbill.durable._recording import (
    RecordedMessage,
    RecordedResult,
    Recorder,
    Recording,
    RecordingCorrupted,
    RecordingDivergence,
    RecordingReplay,
    read_recording,
    replay_recording,
)
from playbill.durable._replay import InputRejected
from playbill.durable._store import (
    Entry,
    EntryKind,
    JournalStore,
    MemoryJournal,
    SQLiteJournal,
    Status,
    WorkflowRecord,
)

__all__ = [
    "AwaitInput",
    "Codec",
    "Completed",
    "Durable",
    "DurableError",
    "Entry",
    "EntryKind",
    "InputRejected",
    "Interpreter",
    "JournalConflict",
    "JournalCorrupted",
    "JournalMismatch",
    "JournalStore",
    "MemoryJournal",
    "NotEncodable",
    "Outcome",
    "Patched",
    "Paused",
    "RecordedMessage",
    "RecordedResult",
    "Recorder",
    "Recording",
    "RecordingCorrupted",
    "RecordingDivergence",
    "RecordingReplay",
    "RedisJournal",
    "SQLiteJournal",
    "Status",
    "WorkflowCancelled",
    "WorkflowRecord",
    "await_input",
    "canonical",
    "patched",
    "read_recording",
    "replay_recording",
]

if TYPE_CHECKING:
    from playbill.durable._redis import RedisJournal


def __getattr__(name: str) -> Any:
    # RedisJournal needs the `redis` extra: imported when asked for, so that the rest of
    # playbill.durable works without it
    if name == "RedisJournal":
        from playbill.durable._redis import RedisJournal

        return RedisJournal
    raise AttributeError(f"module 'playbill.durable' has no attribute {name!r}")
