"""A small durable workflow run in a subprocess, to be killed with SIGKILL while it sleeps.

python _killed_workflow.py JOURNAL SIDE_EFFECTS.txt start|recover INTERPRETER

JOURNAL is a SQLite file, or ``redis://host:port/db#namespace`` for a `RedisJournal`.
"""

import sys
from typing import Any

from attrs import frozen

from playbill import Effect, perform, program, sleep
from playbill.durable import Durable, JournalStore, SQLiteJournal
from playbill.flow import Registry


@frozen
class Ship(Effect[str]):
    parcel: str


@program
def delivery(pause: float) -> Any:
    receipts = []
    for parcel in ("a", "b", "c"):
        receipts.append((yield perform(Ship(parcel))))
        yield sleep(pause)
    return receipts


def main() -> None:
    journal, effects, mode, interpreter = sys.argv[1:]

    def ship(effect: Ship) -> str:
        with open(effects, "a") as file:  # the side effect, made visible to the test
            file.write(effect.parcel + "\n")
        return "shipped-" + effect.parcel

    registry = Registry()
    registry.register(delivery, name="delivery")
    store: JournalStore
    if journal.startswith("redis://"):
        from playbill.durable import RedisJournal

        url, _, namespace = journal.partition("#")
        store = RedisJournal(url, namespace=namespace)
    else:
        store = SQLiteJournal(journal)
    durable = Durable(store, registry, handlers={Ship: ship})
    if mode == "start":
        outcome = durable.start("delivery", "parcels", 60.0, interpreter=interpreter)
    else:
        outcome = durable.recover("parcels", interpreter=interpreter)
    print(outcome.value)  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
