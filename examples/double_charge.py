"""At-least-once delivery: a handler that is not idempotent charges a card twice, and the
simulator finds it.

A durable mailbox (the Redis transport) acknowledges a message after its handler ran; if the
ack is lost (a crash, a lost lease), the message is delivered again. ``Faults(redeliver=...)``
models that in the simulator: `explore` finds the double charge, shrinks it to the one fault
it needs and replays it. The fix: the message carries a payment id created once by the sender,
and the gateway charges once per id (an idempotency key).

    python examples/double_charge.py
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from playbill import Actor, Effect, Faults, explore, free_spawn, perform, program, replay, sleep


@frozen
class Pay:
    payment_id: str  # created once by the sender, the same in every delivery
    card: str
    amount: int


@frozen
class Charge(Effect[str]):
    """Charge a card through the payment gateway; a receipt comes back."""

    card: str
    amount: int
    idempotency_key: str | None = None


@frozen
class Charged(Effect[int]):
    """How much the gateway charged ``card`` in all."""

    card: str


def gateway() -> dict[type, Any]:
    """A fake payment gateway, fresh for every run: it charges once per idempotency key."""
    ledger: list[Charge] = []
    receipts: dict[str, str] = {}

    def charge(effect: Charge) -> str:
        key = effect.idempotency_key
        if key is not None and key in receipts:
            return receipts[key]  # charged already: the same receipt, no second charge
        ledger.append(effect)
        receipt = f"receipt-{len(ledger)}"
        if key is not None:
            receipts[key] = receipt
        return receipt

    def charged(effect: Charged) -> int:
        return sum(each.amount for each in ledger if each.card == effect.card)

    return {Charge: charge, Charged: charged}


class Payments(Actor):
    """Not idempotent: every delivery of a payment charges the card."""

    def receive(self, message: Pay) -> Any:
        return perform(Charge(message.card, message.amount))


class IdempotentPayments(Actor):
    """Passes the sender's payment id to the gateway: a redelivery charges nothing more."""

    def receive(self, message: Pay) -> Any:
        return perform(Charge(message.card, message.amount, idempotency_key=message.payment_id))


@program
def checkout(payments_actor: type[Actor] = Payments) -> Any:
    payments = yield free_spawn(payments_actor, name="payments")
    yield payments.free_ask(Pay("payment-1", card="4242", amount=30))
    yield sleep(1)  # whatever is still queued is handled meanwhile
    return (yield perform(Charged("4242")))


def charged_once(result: Any) -> None:
    assert result.value == 30, f"card 4242 charged {result.value} for one payment of 30"


FAULTS = Faults(redeliver=0.3)


def main(printer: Any = print) -> dict[str, Any]:
    found = explore(checkout(), charged_once, runs=200, handlers=gateway, faults=FAULTS)
    minimal = found.minimal
    assert minimal is not None, "a redelivery should double-charge"
    assert found.failure is not None
    schedule = str(minimal.schedule)
    printer(f"   found in run {found.runs}: {found.failure.reason}")
    printer(f"   minimal schedule {schedule!r}:")
    for line in minimal.trace_lines(actor="/app/payments", kinds={"receive", "fault", "perform"}):
        printer(f"   {line}")
    again = replay(checkout(), schedule, handlers=gateway)
    printer(f"   replayed: charged {again.value}, same trace: {again.trace == minimal.trace}")
    fixed = explore(
        checkout(IdempotentPayments), charged_once, runs=200, handlers=gateway, faults=FAULTS
    )
    printer(
        f"   with the payment id as idempotency key: {fixed.runs} runs, passed: {not fixed.found}"
    )
    return {
        "schedule": schedule,
        "charged": minimal.value,
        "replayed": again.value == minimal.value and again.trace == minimal.trace,
        "fixed_passed": not fixed.found,
    }


if __name__ == "__main__":
    main()
