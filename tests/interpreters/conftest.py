import asyncio

from playbill import ActorSystem


async def settle(system: ActorSystem, rounds: int = 20) -> None:
    """Let queued messages be processed (a few loop iterations)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
