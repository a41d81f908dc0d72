"""Bounded mailboxes under asyncio: each overflow does exactly what its name says, and every
dropped message is a dead letter."""

import asyncio
from typing import Any

import pytest

from playbill import Actor, ActorSystem, Bounded, MailboxFull, Overflow, program
from playbill.actors import DeadLetterReason


class Gate(Actor):
    """Holds its first message until released, so the mailbox fills up behind it."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.release = asyncio.Event()

    async def receive(self, message: Any) -> Any:
        if message == "seen":
            return self.seen
        self.seen.append(message)
        if message == "hold":
            await self.release.wait()
        return None


async def filled(system: ActorSystem, overflow: Overflow) -> Any:
    ref = system.spawn(Gate, "gate", mailbox=Bounded(2, overflow))
    ref.tell("hold")
    await asyncio.sleep(0.01)  # "hold" is being handled; the mailbox is empty
    ref.tell(1)
    ref.tell(2)
    return ref


def release(ref: Any) -> None:
    ref.binding.instance.release.set()


async def released(ref: Any) -> None:
    release(ref)
    await asyncio.sleep(0.01)


def test_drop_newest_drops_the_offered_message(arun):
    async def main() -> Any:
        async with ActorSystem() as system:
            ref = await filled(system, Overflow.DROP_NEWEST)
            ref.tell(3)
            await released(ref)
            assert system.dead_letters.by_reason[DeadLetterReason.DROPPED_NEWEST] == 1
            assert system.dead_letters.recent[-1].message == 3
            return await ref.ask("seen")

    assert arun(main()) == ["hold", 1, 2]


def test_drop_oldest_drops_the_oldest_queued_message(arun):
    async def main() -> Any:
        async with ActorSystem() as system:
            ref = await filled(system, Overflow.DROP_OLDEST)
            ref.tell(3)
            await released(ref)
            assert system.dead_letters.recent[-1].message == 1
            return await ref.ask("seen")

    assert arun(main()) == ["hold", 2, 3]


def test_fail_refuses_the_message_with_mailbox_full_and_a_dead_letter(arun):
    async def main() -> Any:
        async with ActorSystem("app") as system:
            ref = await filled(system, Overflow.FAIL)
            with pytest.raises(MailboxFull, match=r"/app/gate is full .*overflow=FAIL"):
                ref.tell(3)

            @program
            def sender() -> Any:
                yield ref.free_tell(4)

            with pytest.raises(MailboxFull):
                await system.run(sender())
            assert system.dead_letters.by_reason[DeadLetterReason.MAILBOX_FULL] == 2
            await released(ref)
            return await ref.ask("seen")

    assert arun(main()) == ["hold", 1, 2]


def test_an_ask_dropped_by_a_full_mailbox_fails_with_mailbox_full(arun):
    async def main() -> None:
        async with ActorSystem() as system:
            ref = await filled(system, Overflow.DROP_NEWEST)
            with pytest.raises(MailboxFull, match="dropped by a full mailbox"):
                await ref.ask("seen")
            release(ref)

    arun(main())


def test_block_makes_tell_raise_and_send_and_free_tell_wait_for_room(arun):
    async def main() -> Any:
        async with ActorSystem("app") as system:
            ref = await filled(system, Overflow.BLOCK)
            with pytest.raises(MailboxFull, match=r"Use `await ref.send\(message\)`"):
                ref.tell("refused")
            sent = asyncio.ensure_future(ref.send(3))

            @program
            def sender() -> Any:
                yield ref.free_tell(4)
                return "sent"

            told = asyncio.ensure_future(system.run(sender()))
            await asyncio.sleep(0.01)
            assert not sent.done()
            assert not told.done()
            release(ref)
            await sent
            assert await told == "sent"
            return await ref.ask("seen")

    assert arun(main()) == ["hold", 1, 2, 3, 4]


def test_a_sender_blocked_on_a_full_mailbox_is_released_and_its_message_dead_lettered(arun):
    async def main() -> None:
        async with ActorSystem() as system:
            ref = await filled(system, Overflow.BLOCK)
            sent = asyncio.ensure_future(ref.send("waiting"))
            await asyncio.sleep(0.01)
            ref.stop()
            release(ref)
            await sent
            letters = [letter.message for letter in system.dead_letters.recent]
            assert sorted(letters, key=str) == [1, 2, "waiting"]

    arun(main())


def test_an_ask_to_a_full_block_mailbox_waits_for_room(arun):
    async def main() -> Any:
        async with ActorSystem() as system:
            ref = await filled(system, Overflow.BLOCK)
            answer = asyncio.ensure_future(ref.ask("seen"))
            await asyncio.sleep(0.01)
            assert not answer.done()
            release(ref)
            return await answer

    assert arun(main()) == ["hold", 1, 2]


def test_system_messages_overtake_user_messages(arun):
    async def main() -> Any:
        async with ActorSystem() as system:
            ref = await filled(system, Overflow.BLOCK)
            ref.stop()  # queued behind nothing: 1 and 2 are never processed
            release(ref)
            await asyncio.sleep(0.01)
            return ref.binding.instance.seen, system.dead_letters.count

    assert arun(main()) == (["hold"], 2)


def test_a_bad_mailbox_policy_is_refused():
    from playbill import InvalidArgument

    with pytest.raises(InvalidArgument, match="capacity must be at least 1"):
        Bounded(0)
    with pytest.raises(InvalidArgument, match="overflow must be an Overflow"):
        Bounded(1, "drop")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="mailbox must be Unbounded"):
        asyncio.run(_spawn_with_bad_mailbox())


async def _spawn_with_bad_mailbox() -> None:
    async with ActorSystem() as system:
        system.spawn(Gate, mailbox="big")  # type: ignore[arg-type]


def test_a_full_mailbox_of_one_says_one_message_in_the_singular(arun):
    async def main() -> Any:
        async with ActorSystem("app") as system:
            ref = system.spawn(Gate, "gate", mailbox=Bounded(1, Overflow.FAIL))
            ref.tell("hold")
            await asyncio.sleep(0.01)  # "hold" is being handled; the mailbox is empty
            ref.tell(1)
            with pytest.raises(MailboxFull, match=r"is full \(1 message, overflow=FAIL\)"):
                ref.tell(2)
            release(ref)

    arun(main())
