"""A bug that waits for the system to be distributed: asyncio cannot produce it, the
simulator's ``delivery="per_pair"`` finds it.

The main program opens an account, then asks a teller to deposit into it. On one machine the
"open" is queued before the teller even hears of the deposit, so the account is always open
in time. Across processes only each sender's own order is guaranteed: the teller's deposit may
overtake main's "open", and the deposit is refused.

    python examples/open_then_deposit.py
"""

from __future__ import annotations

from typing import Any

from playbill import Actor, explore, free_spawn, program, replay, sleep


class Account(Actor):
    def __init__(self) -> None:
        self.opened = False
        self.balance = 0

    def receive(self, message: Any) -> Any:
        match message:
            case "open":
                self.opened = True
            case "balance":
                return self.balance
            case ("deposit", amount) if self.opened:
                self.balance += amount
        return None  # a deposit into an account not yet open is refused


class Teller(Actor):
    def receive(self, message: Any) -> Any:
        account, amount = message
        return account.free_tell(("deposit", amount))


@program
def open_then_deposit() -> Any:
    account = yield free_spawn(Account, name="account")
    teller = yield free_spawn(Teller, name="teller")
    yield account.free_tell("open")
    yield teller.free_tell((account, 50))
    yield sleep(1)
    return (yield account.free_ask("balance"))


def main(printer: Any = print) -> dict[str, Any]:
    def deposited(result: Any) -> bool:
        return result.value == 50

    causal = explore(open_then_deposit(), check=deposited, runs=5000, strategy="dfs")
    printer(
        f"   asyncio's orders (causal): all {causal.runs} schedules tried (exhausted: "
        f"{causal.exhausted}), every deposit made: {not causal.found}"
    )
    per_pair = explore(open_then_deposit(), check=deposited, runs=300, delivery="per_pair")
    minimal = per_pair.minimal
    assert minimal is not None, "per_pair delivery should find the overtaking deposit"
    printer(
        f"   across processes (per_pair): broken in run {per_pair.runs}, balance "
        f"{minimal.value}; minimal schedule {minimal.schedule}:"
    )
    for line in minimal.trace:
        if line.actor == "/app/account" and line.event.startswith("receive"):
            printer(f"   {line}")
    again = replay(open_then_deposit(), str(minimal.schedule), delivery="per_pair")
    printer(f"   replayed: balance {again.value}, same trace: {again.trace == minimal.trace}")
    return {
        "causal_exhausted": causal.exhausted,
        "causal_failed": causal.found,
        "per_pair_balance": minimal.value,
        "replayed": again.value == minimal.value and again.trace == minimal.trace,
    }


if __name__ == "__main__":
    main()
