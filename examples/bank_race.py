"""A real race that asyncio hides and the simulator finds, shrinks and replays.

Two tellers deposit 50 each by reading a balance and writing it back (ask, then tell): a
read-modify-write. Bob's request travels through two couriers, so under asyncio's
first-in-first-out scheduling Alice always finishes first and the total is always 100. Other
interleavings — as real as this one, once the couriers are slower or busier — lose a deposit.

    python examples/bank_race.py
"""

from __future__ import annotations

from typing import Any

from playbill import Actor, free_spawn, gather, program


class Balance(Actor):
    def __init__(self) -> None:
        self.amount = 0

    def receive(self, message: Any) -> Any:
        match message:
            case "read":
                return self.amount
            case ("write", amount):
                self.amount = amount
        return None


class Teller(Actor):
    """Deposits by reading the balance, then writing it back: a read-modify-write."""

    def receive(self, message: Any) -> Any:
        balance, amount = message

        @program
        def deposit() -> Any:
            current = yield balance.free_ask("read")
            yield balance.free_tell(("write", current + amount))
            return "deposited"

        return deposit()


class Courier(Actor):
    """Passes a request on to the next hop and relays the answer back."""

    def receive(self, message: Any) -> Any:
        next_hop, request = message
        return next_hop.free_ask(request)


@program
def two_deposits() -> Any:
    balance = yield free_spawn(Balance, name="balance")
    alice = yield free_spawn(Teller, name="alice")
    bob = yield free_spawn(Teller, name="bob")
    first = yield free_spawn(Courier, name="courier1")
    second = yield free_spawn(Courier, name="courier2")
    via_couriers = (second, (first, (bob, (balance, 50))))
    yield gather(alice.free_ask((balance, 50)), via_couriers[0].free_ask(via_couriers[1]))
    return (yield balance.free_ask("read"))


def both_deposits_count(result: Any) -> bool:
    """The check: after two deposits of 50, the balance is 100."""
    return bool(result.value == 100)


def main() -> str | None:
    """Find, shrink and replay the race; returns the minimal schedule's string."""
    from playbill import explore, replay, run

    print("under asyncio, five runs:", [run(two_deposits()) for _ in range(5)])
    found = explore(two_deposits(), check=both_deposits_count, runs=1000)
    if found.minimal is None:
        print("no failing schedule found")
        return None
    minimal = found.minimal
    assert found.failing is not None
    print(f"the simulator broke it in run {found.runs}: balance {found.failing.value}")
    print(f"minimal schedule {minimal.schedule} ({len(minimal.schedule)} choices):")
    for line in minimal.trace:  # the interesting part: who asked, read and wrote what
        if line.event.startswith(("ask /app/balance", "reply", "tell")) or "'read'" in line.event:
            print(line)
    again = replay(two_deposits(), str(minimal.schedule))
    same = again.trace == minimal.trace
    print(f"replayed from the string: balance {again.value}, same trace: {same}")
    return str(minimal.schedule)


if __name__ == "__main__":
    main()
