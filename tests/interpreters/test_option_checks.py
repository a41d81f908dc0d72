"""Every public entry point refuses a bad option up front with `InvalidArgument` naming the
option, the value and what is accepted — under asyncio and the simulator alike."""

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from returns.result import Failure

from playbill import (
    Actor,
    ActorRef,
    ActorSystem,
    InvalidArgument,
    free_spawn,
    free_stop,
    program,
    pure,
    run,
    simulate,
)
from playbill.flow import call, step

BAD_SECONDS = [None, "3", -1, 0, math.nan, True]


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_an_ask_timeout_that_cannot_work_is_refused_by_every_interpreter(value: Any) -> None:
    # before: True meant 1 s under asyncio, nan silently disabled timeouts in the simulator
    message = "ask_timeout must be a positive number of seconds"
    with pytest.raises(InvalidArgument, match=message):
        ActorSystem(ask_timeout=value)
    with pytest.raises(InvalidArgument, match=message):
        run(pure(1), ask_timeout=value)
    with pytest.raises(InvalidArgument, match=message):
        simulate(pure(1), ask_timeout=value)


@pytest.mark.parametrize("value", [-1, None, "10", 1.5, True])
def test_actor_system_refuses_a_dead_letter_limit_that_is_not_a_count(value: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"ActorSystem dead_letter_limit must be an int >= 0"):
        ActorSystem(dead_letter_limit=value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ActorSystem(name="a/b"), "system name must be a non-empty string"),
        (lambda: ActorSystem(handlers=[]), "handlers must be a mapping"),
        (lambda: ActorSystem(supervision="restart"), "supervision"),
    ],
)
def test_actor_system_refuses_its_other_bad_options(build: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build()


@pytest.mark.parametrize(
    ("use", "message"),
    [
        (lambda system: system.events(buffer=True), r"events\(\) buffer must be an int >= 1"),
        (lambda system: system.events(buffer=0), r"events\(\) buffer must be an int >= 1"),
        (lambda system: system.get_actor("///"), r"get_actor\(\) path must be an actor path"),
        (lambda system: system.get_actor(""), r"get_actor\(\) path must be an actor path"),
        (lambda system: system.get_actor(None), r"get_actor\(\) path must be an actor path"),
    ],
)
def test_a_running_system_refuses_bad_arguments(
    arun: Callable[[Awaitable[Any]], Any], use: Any, message: str
) -> None:
    async def main() -> None:
        async with ActorSystem() as system:
            with pytest.raises(InvalidArgument, match=message):
                use(system)

    arun(main())


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1, "10", True])
def test_shutdown_refuses_a_timeout_that_cannot_work(
    arun: Callable[[Awaitable[Any]], Any], timeout: Any
) -> None:
    async def main() -> None:
        system = ActorSystem()
        system.start()
        with pytest.raises(InvalidArgument, match=r"shutdown\(\) timeout must be a positive"):
            await system.shutdown(timeout)
        await system.shutdown()

    arun(main())


# -- interrupt: the same rule for free_stop, ref.free_stop, ref.stop and context.stop ----------


@pytest.mark.parametrize("interrupt", [1, 0, "yes", None])
def test_free_stop_and_ref_free_stop_refuse_a_non_bool_interrupt_alike(interrupt: Any) -> None:
    # before: free_stop(ref, interrupt=1) was refused and ref.free_stop(interrupt=1) accepted
    ref = ActorRef("/app/worker")
    with pytest.raises(InvalidArgument, match=r"free_stop\(\) interrupt must be True or False"):
        free_stop(ref, interrupt=interrupt)
    with pytest.raises(InvalidArgument, match=r"free_stop\(\) interrupt must be True or False"):
        ref.free_stop(interrupt=interrupt)


class StopsWithAnInt(Actor):
    """Stops its worker (a live ref) directly and through its context, with interrupt=1."""

    def receive(self, message: Any) -> Any:
        worker = self.context.spawn(Actor, name="worker") if message == "spawn" else None
        if message == "direct":
            worker = self.context.children[0]
            worker.stop(interrupt=1)
        if message == "context":
            self.context.stop(self.context.children[0], interrupt=1)
        return worker


@program
def stop_with_an_int(how: str) -> Any:
    boss = yield free_spawn(StopsWithAnInt, name="boss")
    yield boss.free_ask("spawn")
    outcome = yield boss.free_ask(how).attempt()
    return outcome.failure() if isinstance(outcome, Failure) else outcome.unwrap()


def _refused_interrupt(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, InvalidArgument) and "interrupt must be True or False" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


@pytest.mark.parametrize("how", ["direct", "context"])
def test_a_live_stop_refuses_a_non_bool_interrupt_under_both_interpreters(how: str) -> None:
    simulated = simulate(stop_with_an_int(how), seed=0)
    assert simulated.ok, simulated.format_trace()
    assert _refused_interrupt(simulated.value), simulated.value
    assert _refused_interrupt(run(stop_with_an_int(how)))


# -- actor paths: one validator for refs, calls and lookups -----------------------------------


@pytest.mark.parametrize("path", ["app/x", "", "/", "///", "/app//x", "/app/x/", None, 3])
def test_an_actor_ref_needs_an_absolute_path_of_non_empty_segments(path: Any) -> None:
    with pytest.raises(InvalidArgument, match="ActorRef path must be an absolute actor path"):
        ActorRef(path)


@pytest.mark.parametrize("target", ["///", "", "/", "worker//cache", "/app/", 3])
def test_call_refuses_a_target_that_names_no_actor(target: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"call\(\) target must be"):
        call(target)


def test_call_still_takes_a_path_relative_to_the_root_under_both_interpreters() -> None:
    class Shout(Actor):
        def receive(self, message: Any) -> Any:
            return message.upper()

    @program
    def main() -> Any:
        yield free_spawn(Shout, name="shout")
        flow = step(str) >> call("shout")
        return (yield flow.to_program("hey", events=False))

    assert run(main()) == "HEY"
    assert simulate(main(), seed=0).value == "HEY"
