"""Under asyncio, a child a program spawns and asks at once (``ask_agent``'s shape: spawn, ask,
stop) is started and handles that first message inline, in the spawning program's turn, with no
task, when its ``receive`` finishes without waiting; stopped next, it terminates inline too.
Anything else gets the child a task, which carries on where the inline part stopped: a message
that waits, a failure for the supervisor, an interrupt, further messages."""

import asyncio
from typing import Any

from playbill import (
    Actor,
    ActorSystem,
    Program,
    free_spawn,
    free_stop,
    gather,
    program,
    pure,
    sleep,
)


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Boom(Exception):
    pass


class Failing(Actor):
    def receive(self, message: Any) -> Any:
        raise Boom(f"cannot {message}")


def ask_once(actor: Any, message: object) -> Program[Any]:
    """Spawn ``actor``, ask it ``message``, stop it whatever happens (``ask_agent``'s shape)."""
    return free_spawn(actor).flat_map(
        lambda ref: ref.free_ask(message).ensuring(free_stop(ref, interrupt=True))
    )


class Lead(Actor):
    """Fans its message out: ``(actor, [messages])`` asks a fresh ``actor`` for each."""

    def receive(self, message: Any) -> Any:
        actor, messages = message
        return gather(*[ask_once(actor, each) for each in messages])


def counting_tasks(loop: asyncio.AbstractEventLoop) -> list[str]:
    """The names of the coroutines of the tasks made on ``loop`` from now on."""
    made: list[str] = []

    def factory(loop: asyncio.AbstractEventLoop, coroutine: Any, **kwargs: Any) -> Any:
        made.append(coroutine.__qualname__)
        return asyncio.Task(coroutine, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    return made


def test_a_child_asked_at_once_answers_and_stops_inline_with_no_task(arun: Any) -> None:
    async def main() -> Any:
        async with ActorSystem("app") as system:
            lead = system.spawn(Lead, "lead")
            await lead.ask((Echo, [0]))  # the lead's own task runs
            made = counting_tasks(asyncio.get_running_loop())
            result = await lead.ask((Echo, list(range(20))))
            children = [live for live in system._live_cells() if live.path != "/app/lead"]
            return result, made, children

    result, made, children = arun(main())
    assert result == tuple(range(20))
    assert "_Cell._main" not in made  # no child ever had a task
    assert children == []  # and every one terminated


def test_a_child_whose_first_message_waits_gets_a_task_that_finishes_it(arun: Any) -> None:
    class Slow(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(0.01).then(pure(message * 2))

    async def main() -> Any:
        async with ActorSystem("app") as system:
            lead = system.spawn(Lead, "lead")
            await lead.ask((Echo, [0]))
            made = counting_tasks(asyncio.get_running_loop())
            result = await lead.ask((Slow, [1, 2, 3]))
            await asyncio.sleep(0.01)
            children = [live for live in system._live_cells() if live.path != "/app/lead"]
            return result, made, children

    result, made, children = arun(main())
    assert result == (2, 4, 6)
    assert made.count("_Cell._main") == 3
    assert children == []


def test_an_inline_child_that_fails_is_supervised_and_its_asker_gets_the_error(
    arun: Any,
) -> None:
    class Guarded(Actor):
        @program
        def receive(self, message: Any) -> Any:
            try:
                yield ask_once(Failing, message)
            except Boom as error:
                return f"caught {error}"
            return "no error"

    async def main() -> Any:
        async with ActorSystem("app") as system:
            lead = system.spawn(Guarded, "lead")
            answer = await lead.ask("fly")
            await asyncio.sleep(0.01)  # the failed child's supervisor decides; it stops
            children = [live for live in system._live_cells() if live.path != "/app/lead"]
            return answer, children

    answer, children = arun(main())
    assert answer == "caught cannot fly"
    assert children == []


def test_a_child_with_its_own_on_start_is_started_by_its_task_first(arun: Any) -> None:
    class Started(Actor):
        def __init__(self) -> None:
            self.started_in: object = None

        def on_start(self) -> None:
            self.started_in = asyncio.current_task()

        def receive(self, message: Any) -> Any:
            return self.started_in is asyncio.current_task()

    async def main() -> Any:
        async with ActorSystem("app") as system:
            return await system.spawn(Lead, "lead").ask((Started, [1, 2]))

    # each on_start ran in the child's own task, which handled its message after it
    assert arun(main()) == (True, True)


def test_a_child_asked_again_takes_its_next_messages_in_its_task(arun: Any) -> None:
    class Counter(Actor):
        def __init__(self) -> None:
            self.count = 0

        def receive(self, message: Any) -> Any:
            self.count += 1
            return self.count

    @program
    def asks_twice() -> Any:
        ref = yield free_spawn(Counter)
        first = yield ref.free_ask("a")  # inline
        second = yield ref.free_ask("b")  # in its task, started meanwhile
        yield free_stop(ref)
        return first, second

    async def main() -> Any:
        async with ActorSystem("app") as system:
            return await system.run(asks_twice())

    assert arun(main()) == (1, 2)


def test_a_child_interrupted_before_its_task_took_its_waiting_first_message_up(
    arun: Any,
) -> None:
    """Fail-fast: the second child fails inline while the first child's message waits, begun
    inline; the first is interrupted before its task ran, so it is cancelled at its first wait
    (its finaliser runs at once), not after its 30 s sleep."""
    cleaned: list[str] = []

    class Sleepy(Actor):
        @program
        def receive(self, message: Any) -> Any:
            try:
                yield sleep(30)
            finally:
                cleaned.append(message)
            return message

    class Mixed(Actor):
        def receive(self, message: Any) -> Any:
            return gather(ask_once(Sleepy, "slow"), ask_once(Failing, "fast"))

    async def main() -> Any:
        async with ActorSystem("app") as system:
            lead = system.spawn(Mixed, "lead")
            try:
                await asyncio.wait_for(lead.ask("go"), 5)
            except Boom as error:
                outcome: object = error
            else:  # pragma: no cover - the failure is the point
                outcome = None
            await asyncio.sleep(0.01)
            children = [live for live in system._live_cells() if live.path != "/app/lead"]
            return outcome, children

    outcome, children = arun(main())
    assert isinstance(outcome, Boom)
    assert cleaned == ["slow"]
    assert children == []
