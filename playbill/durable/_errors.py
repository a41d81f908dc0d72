"""The errors of durable execution."""

from __future__ import annotations

from typing import final

from playbill.effects import NondeterminismError, PlaybillError
from playbill.interpreters._codec import NotEncodable

__all__ = [
    "DurableError",
    "JournalConflict",
    "JournalCorrupted",
    "JournalMismatch",
    "NotEncodable",
    "WorkflowCancelled",
]


class DurableError(PlaybillError):
    """Root of the errors of durable execution."""


@final
class JournalMismatch(NondeterminismError, DurableError):
    """A replayed program asked for a different effect than its journal recorded at
    ``position`` (Temporal's non-determinism rule): the code changed under a running workflow
    without `patched`, or something outside the effects decided which effect came next.

    It is raised out of the durable run, never into the program, so no ``try`` in the
    program can swallow it.
    """

    def __init__(self, workflow_id: str, position: str, expected: str, found: str) -> None:
        self.workflow_id = workflow_id
        self.position = position
        self.expected = expected
        self.found = found
        super().__init__(
            f"workflow {workflow_id!r} is not deterministic at journal position {position}: "
            f"the journal recorded {expected}, the program now asks for {found}. Guard the "
            "changed code with patched('change-name'), or make what decided it an effect "
            "(now, random, blocking, your own effect)"
        )


@final
class JournalCorrupted(DurableError):
    """A journal failed its checksums or lost entries: nothing from entry ``trusted`` on is
    trusted. ``Durable.repair(workflow_id)`` drops the untrusted entries, so the effects they
    held are performed again."""

    def __init__(self, workflow_id: str, trusted: int, reason: str) -> None:
        self.workflow_id = workflow_id
        self.trusted = trusted
        super().__init__(
            f"the journal of workflow {workflow_id!r} is corrupted: {reason}; the first "
            f"{trusted} entries are intact and nothing after them is trusted. Restore the file "
            "from a backup, or call Durable.repair(workflow_id) to drop the untrusted entries "
            "(their effects will be performed again)"
        )


@final
class JournalConflict(DurableError):
    """A journal write was refused: its position is taken (another run of the workflow
    wrote it), or it was made for a durable actor whose node no longer holds the actor's
    lease (a stale owner). Nothing of the write is kept."""


@final
class WorkflowCancelled(DurableError):
    """The workflow was cancelled (``Durable.cancel``); it does not run again."""
