"""Virtual actors: bank accounts as grains, run live under asyncio and in the simulator.

Accounts are addressed by key (``Deposit("alice", 5)`` goes to the grain of "alice"); the
first message activates one, concurrent first messages activate exactly one, and an idle
account deactivates, saving its balance. The next deposit activates a fresh incarnation with
the balance reloaded — from a SQLite file here, so a second run starts where the first ended.
A sender that talks to one account often keeps its ref, ``grain_ref(accounts, "alice")``:
its messages go straight to the grain, and it follows the grain across deactivations.

    python examples/virtual_actors.py
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import frozen

from playbill import free_spawn, gather, program, run, simulate, sleep
from playbill.actors import AfterIdle, GetRoutees, Grain, SQLiteStore, VirtualActors, grain_ref


@frozen
class Deposit:
    account: str
    amount: int


class Account(Grain):
    activations = 0

    def initial_state(self) -> int:
        return 0

    def on_activate(self) -> None:
        Account.activations += 1

    def receive(self, message: Deposit) -> int:
        self.state += message.amount
        return self.state  # type: ignore[no-any-return]


@program
def bank(store: SQLiteStore, idle: float, wait: float) -> Any:
    accounts = yield free_spawn(
        VirtualActors(Account, lambda message: message.account, store, AfterIdle(idle)),
        name="accounts",
    )
    # five concurrent first deposits to alice: one activation
    yield gather(*(accounts.free_ask(Deposit("alice", 10)) for _ in range(5)))
    alice_ref = grain_ref(accounts, "alice")  # alice's own ref, kept: no key call per message
    bob = yield accounts.free_ask(Deposit("bob", 3))
    active = yield accounts.free_ask(GetRoutees())
    yield sleep(wait)  # both go idle: deactivated, balances saved
    idle_now = yield accounts.free_ask(GetRoutees())
    # through the kept ref: a fresh incarnation, its balance reloaded
    alice = yield alice_ref.free_ask(Deposit("alice", 1))
    return {"alice": alice, "bob": bob, "active": len(active), "after idling": len(idle_now)}


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteStore(Path(directory) / "accounts.db")
        Account.activations = 0
        live = run(bank(store, idle=0.05, wait=0.2))
        printer(f"live, under asyncio: {live}, {Account.activations} activations")
        Account.activations = 0
        simulated = simulate(bank(store, idle=60.0, wait=3600.0), seed=0)
        printer(
            f"simulated, the same file: {simulated.value}, {Account.activations} activations, "
            f"the virtual clock at {simulated.clock:g}s"
        )
    return {"live": live, "simulated": simulated.value}


if __name__ == "__main__":
    main()
