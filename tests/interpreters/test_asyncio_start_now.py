"""Under asyncio, the Program an ``on_start`` returns runs at once, as far as it goes without
waiting (as a receive's does): one that ends there needs no coroutine; one that waits is
finished before the first message; one that fails is an ``on_start`` failure as before."""

import logging
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorStopped,
    ActorSystem,
    Directive,
    OneForOne,
    Program,
    fail,
    pure,
    sleep,
)
from playbill.interpreters._asyncio._system import ActorSystem as SystemClass


class Boom(Exception):
    pass


class Loading(Actor):
    """Its state comes from a program its on_start returns (as a grain's does)."""

    def __init__(self, wait: float = 0.0) -> None:
        self.state: Any = None
        self.wait = wait

    def on_start(self) -> Program[None]:
        loaded = pure("loaded") if not self.wait else sleep(self.wait).then(pure("slept"))
        return loaded.map(self._set)

    def _set(self, state: Any) -> None:
        self.state = state

    def receive(self, message: Any) -> Any:
        return self.state


def test_an_on_start_program_that_does_not_wait_runs_with_no_coroutine(
    arun: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    performed: list[object] = []
    perform = SystemClass._perform

    def counting(self: Any, program: Any, cell: Any) -> Any:
        performed.append(program)
        return perform(self, program, cell)

    monkeypatch.setattr(SystemClass, "_perform", counting)

    async def main() -> Any:
        async with ActorSystem("app") as system:
            return await system.spawn(Loading, "loader").ask("state?")

    assert arun(main()) == "loaded"
    assert performed == []  # (before: one coroutine per actor started, to run on_start)


def test_an_on_start_program_that_waits_ends_before_the_first_message(arun: Any) -> None:
    async def main() -> Any:
        async with ActorSystem("app") as system:
            ref = system.spawn(lambda: Loading(wait=0.01), "loader")
            return await ref.ask("state?")

    assert arun(main()) == "slept"


def test_an_on_start_program_that_fails_at_once_is_an_on_start_failure(
    arun: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="playbill")

    class Failing(Actor):
        def on_start(self) -> Program[None]:
            return fail(Boom("no store"))

        def receive(self, message: Any) -> Any:
            return message

    class Parent(Actor):
        supervision = OneForOne(decider=lambda _: Directive.STOP)

        def receive(self, message: Any) -> Any:
            return self.context.spawn(Failing, "child")

    async def main() -> Any:
        async with ActorSystem("app") as system:
            child = await system.spawn(Parent, "parent").ask("spawn")
            with pytest.raises(ActorStopped):
                await child.ask("hello?")  # its supervisor stopped it: nothing handled

    arun(main())
    [record] = [record for record in caplog.records if hasattr(record, "hook")]
    assert record.hook == "on_start"  # type: ignore[attr-defined]
    assert record.getMessage() == (
        "actor /app/parent/child failed in on_start: Boom('no store'); its supervisor decided STOP"
    )
