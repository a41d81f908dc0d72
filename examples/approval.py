"""An approval workflow that waits for a person: the process running it is killed while it
waits, and a new process resumes it with the answer and finishes it.

    python examples/approval.py            # the journal in a SQLite file
    python examples/approval.py --redis    # the journal in Redis (a RedisJournal)

The workflow charges a deposit, asks a manager to approve the refund, and pays out (or not).
Every effect is journaled in a SQLite file (or, with ``--redis``, in a ``redis-server`` it
starts on 127.0.0.1), so the deposit is charged once, whichever process does the rest. From
the command line, the same resume is (``--journal redis://host:port/0`` for Redis)::

    playbill paused examples/approval.py:durable --journal approvals.db
    playbill resume examples/approval.py:durable refund-7 --journal approvals.db \\
        --value '{"approved": true, "by": "ana"}'
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from attrs import frozen

from playbill import Effect, perform, program
from playbill.durable import Durable, JournalStore, SQLiteJournal, await_input
from playbill.flow import Registry


@frozen
class Pay(Effect[str]):
    """Move money: the side effect that must happen once."""

    to: str
    amount: int


@frozen
class Approval:
    """A manager's answer."""

    approved: bool
    by: str


@program
def refund(request: dict[str, Any]) -> Generator[Any, Any, str]:
    deposit = yield perform(Pay("escrow", request["amount"]))
    answer = yield await_input(f"refund {request['amount']} to {request['customer']}?", Approval)
    if not answer.approved:
        return f"declined by {answer.by}; {deposit} kept"
    payout = yield perform(Pay(request["customer"], request["amount"]))
    return f"approved by {answer.by}: {payout}"


registry = Registry()
registry.register(refund, name="refund")
registry.register(Approval)


def durable(journal: str = "approvals.db", ledger: str | None = None) -> Durable:
    """The durable workflows on the SQLite file ``journal`` (or on Redis, for a
    ``redis://`` url); payments are written to ``ledger`` (a text file) when given, so that
    a test can count them."""

    def pay(effect: Pay) -> str:
        if ledger is not None:
            with open(ledger, "a") as file:
                file.write(f"{effect.to} {effect.amount}\n")
        return f"paid {effect.amount} to {effect.to}"

    store: JournalStore
    if journal.startswith(("redis://", "rediss://")):
        from playbill.durable import RedisJournal

        store = RedisJournal(journal, namespace="approvals")
    else:
        store = SQLiteJournal(journal)
    return Durable(store, registry, handlers={Pay: pay})


def _start_then_wait(journal: str, ledger: str) -> None:
    """What the first process does: start the workflow, report the pause, then linger (it
    is about to be killed)."""
    outcome = durable(journal, ledger).start("refund", "refund-7", {"customer": "bo", "amount": 40})
    print(f"paused: {outcome!r}", flush=True)
    signal.pause()


def main(printer: Callable[[str], None] = print, *, redis: bool = False) -> dict[str, Any]:
    if not redis:
        return _main(printer, None)
    from playbill.testing.redis import REDIS_MISSING, RedisServer, redis_server_path

    if redis_server_path() is None:
        printer(REDIS_MISSING)
        return {"skipped": "redis-server"}
    with RedisServer() as server:
        return _main(printer, server.url)


def _main(printer: Callable[[str], None], url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        journal, ledger = (
            url or str(Path(directory) / "approvals.db"),
            str(Path(directory) / "ledger"),
        )
        root = str(Path(__file__).resolve().parent.parent)
        environment = {**os.environ, "PYTHONPATH": root}
        first = subprocess.Popen(
            [sys.executable, __file__, "--start", journal, ledger],
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        assert first.stdout is not None
        printer(f"process {first.pid}: {first.stdout.readline().strip()}")
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close()
        printer(f"process {first.pid} killed (-9) while the workflow waits for a person")
        later = durable(journal, ledger)  # a new process, in effect: nothing kept in memory
        waiting = [f"{record.workflow_id}: {record.prompt}" for record in later.paused()]
        printer(f"paused workflows in the journal: {waiting}")
        done = later.resume("refund-7", {"approved": True, "by": "ana"})
        printer(f"resumed here: {done!r}")
        later.journal.close()
        payments = Path(ledger).read_text().splitlines()
        printer(f"payments made, each once: {payments}")
        return {"value": getattr(done, "value", None), "payments": payments}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--start"]:
        _start_then_wait(*sys.argv[2:4])
    else:
        main(redis="--redis" in sys.argv[1:])
