"""`ActorSystem(transport=...)`: the system starts the transport on entry, closes it first at
shutdown (while its actors still live), performs its effects, and delegates durable spawns
and remote refs to it. A fake transport: no Redis needed."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from playbill import Actor, Effect, InvalidArgument, PlaybillError, perform
from playbill.interpreters import ActorSystem, Transport


@attrs.frozen
class Ping(Effect[str]):
    text: str


class FakeTransport:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.system: ActorSystem | None = None

    def handlers(self) -> dict[type, Any]:
        return {Ping: lambda effect: f"pong {effect.text}"}

    async def start(self, system: ActorSystem) -> None:
        self.system = system
        self.log.append("start")

    async def close(self) -> None:  # (also after a failed start)
        alive = len(self.system.children) if self.system is not None else 0
        self.log.append(f"close with {alive} actor(s) alive")

    async def spawn_durable(self, actor: Any, id: str, **options: Any) -> str:
        self.log.append(f"spawn_durable {id} {options}")
        return f"ref to {id}"

    def remote(self, id: str, **options: Any) -> str:
        return f"remote {id}"


class Echo(Actor):
    def receive(self, message: object) -> object:
        return perform(Ping(str(message)))


def test_the_system_starts_delegates_to_and_closes_its_transport_first(arun):
    transport = FakeTransport()
    assert isinstance(transport, Transport)

    async def main():
        async with ActorSystem("app", transport=transport) as system:
            assert transport.log == ["start"]
            echo = system.spawn(Echo, "echo")
            assert await echo.ask("x") == "pong x"  # its effects are performed
            assert await system.spawn_durable(Echo, id="d", mailbox=None) == "ref to d"
            assert system.remote("d") == "remote d"
        assert transport.log[-1] == "close with 1 actor(s) alive"

    arun(main())


def test_the_users_handlers_win_over_the_transports(arun):
    async def main():
        handlers = {Ping: lambda effect: "mine"}
        async with ActorSystem("app", transport=FakeTransport(), handlers=handlers) as system:
            assert await system.spawn(Echo, "echo").ask("x") == "mine"

    arun(main())


def test_durable_verbs_need_a_started_transport(arun):
    async def main():
        system = ActorSystem("app", transport=FakeTransport())
        system.start()  # (not `async with`: the transport is not started)
        with pytest.raises(PlaybillError, match="needs the transport started"):
            system.remote("d")
        await system.shutdown()
        async with ActorSystem("app") as plain:
            with pytest.raises(InvalidArgument, match=r"ActorSystem\(\.\.\., transport="):
                await plain.spawn_durable(Echo, id="d")

    arun(main())


def test_a_transport_that_fails_to_start_leaves_no_system_running(arun):
    class Broken(FakeTransport):
        async def start(self, system: ActorSystem) -> None:
            raise OSError("no server")

    transport = Broken()

    async def main():
        system = ActorSystem("app", transport=transport)
        with pytest.raises(OSError, match="no server"):
            async with system:
                pass  # pragma: no cover
        with pytest.raises(PlaybillError, match="shut down"):
            system.spawn(Echo, "echo")
        assert transport.log == ["close with 0 actor(s) alive"]  # a partial start is undone

    arun(main())
