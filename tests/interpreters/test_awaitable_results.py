"""Awaitable results — an ``async def`` handler, Flow step or callback, an ``async def``
receive or hook — behave the same way everywhere: asyncio awaits them; the stub and the
simulator, which have no event loop, refuse them with one `ProgramError` that says how to write
the code, and close the coroutine so that Python never warns it was never awaited."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from attrs import frozen

import playbill
from playbill import Actor, Effect, ProgramError, free_spawn, perform, pure
from playbill.actors import Failed
from playbill.effects import Await
from playbill.flow import Flow, run_flow, step
from playbill.interpreters import stub
from playbill.interpreters.simulation import simulate

HOW_TO = "write it as a plain `def` that returns the value, or a Program"


@frozen
class Fetch(Effect[int]):
    key: str


async def fetch(effect: Fetch) -> int:
    return len(effect.key)


async def double(value: int) -> int:
    return value * 2


@contextmanager
def no_runtime_warning() -> Iterator[None]:
    """Fails if a RuntimeWarning (a coroutine never awaited) is emitted in the block, the
    garbage collection that finalises its coroutines included."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    runtime = [str(warning.message) for warning in caught if warning.category is RuntimeWarning]
    assert runtime == []


def under_stub(program: playbill.Program[Any], handlers: Any = None) -> Any:
    return stub.run(program, handlers)


def under_simulator(program: playbill.Program[Any], handlers: Any = None) -> Any:
    result = simulate(program, handlers=handlers, seed=1)
    if result.error is not None:
        raise result.error
    assert result.status == "completed"
    return result.value


REFUSING: dict[str, tuple[Callable[..., Any], str]] = {
    "stub": (under_stub, "the stub has no event loop"),
    "simulator": (under_simulator, "the simulator has no event loop"),
}

FLOWS: dict[str, Callable[[], Flow[int, Any]]] = {
    "a step": lambda: step(double),
    "a step after a step": lambda: step(lambda x: x + 0).then(step(double)),
    "a step in a zip": lambda: step(double).zip(step(lambda x: x)).map(lambda pair: pair[0]),
    "a tap callback": lambda: step(lambda x: x * 2).tap(double),
}


# -- handlers ---------------------------------------------------------------------------------


def test_asyncio_awaits_an_async_handler() -> None:
    with no_runtime_warning():
        assert playbill.run(perform(Fetch("abc")), handlers={Fetch: fetch}) == 3


@pytest.mark.parametrize("interpreter", sorted(REFUSING))
def test_an_async_handler_is_refused_with_how_to_write_it_and_no_warning(
    interpreter: str,
) -> None:
    run, where = REFUSING[interpreter]
    with no_runtime_warning(), pytest.raises(ProgramError) as caught:
        run(perform(Fetch("abc")), {Fetch: fetch})
    message = str(caught.value)
    assert "the handler for Fetch returned an awaitable (a coroutine)" in message
    assert where in message
    assert HOW_TO in message


@pytest.mark.parametrize("interpreter", sorted(REFUSING))
def test_the_refusal_is_raised_into_the_program_where_it_can_recover(interpreter: str) -> None:
    run, _ = REFUSING[interpreter]
    program = perform(Fetch("abc")).recover(lambda error: type(error).__name__)
    with no_runtime_warning():
        assert run(program, {Fetch: fetch}) == "ProgramError"


# -- Flow steps -------------------------------------------------------------------------------


@pytest.mark.parametrize("events", [True, False])
@pytest.mark.parametrize("shape", sorted(FLOWS))
def test_asyncio_awaits_an_async_flow_step(shape: str, events: bool) -> None:
    with no_runtime_warning():
        assert run_flow(FLOWS[shape](), 21, events=events) == 42


@pytest.mark.parametrize("events", [True, False])
@pytest.mark.parametrize("shape", sorted(FLOWS))
@pytest.mark.parametrize("interpreter", sorted(REFUSING))
def test_an_async_flow_step_is_refused_with_how_to_write_it_and_no_warning(
    interpreter: str, shape: str, events: bool
) -> None:
    run, where = REFUSING[interpreter]
    with no_runtime_warning(), pytest.raises(ProgramError) as caught:
        run(FLOWS[shape]().to_program(21, events=events))
    message = str(caught.value)
    assert "double returned an awaitable (a coroutine)" in message
    assert where in message
    assert HOW_TO in message


# -- the Await effect itself ------------------------------------------------------------------


def test_await_is_performed_by_asyncio_and_refused_elsewhere() -> None:
    with no_runtime_warning():
        assert playbill.run(perform(Await(double(2), "a test"))) == 4
        for run, where in REFUSING.values():
            with pytest.raises(ProgramError, match=f"a test returned an awaitable.*{where}"):
                run(perform(Await(double(2), "a test")))


def test_await_has_no_memory_address_in_its_repr() -> None:
    coroutine = double(2)
    try:
        assert repr(Await(coroutine, "x")) == "Await(awaitable=<coroutine>, origin='x')"
    finally:
        coroutine.close()


# -- async receive and hooks (the simulator refuses them in the same words) ------------------


class AsyncReceive(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class AsyncStart(Actor):
    async def on_start(self) -> None:
        return None

    def receive(self, message: Any) -> Any:
        return message


@pytest.mark.parametrize("actor", [AsyncReceive, AsyncStart])
def test_the_simulator_refuses_async_receive_and_hooks_in_the_same_words(actor: type) -> None:
    program = free_spawn(actor, name="a").flat_map(lambda ref: ref.free_ask("x"))
    with no_runtime_warning():
        result = simulate(program, seed=1)
        events = result.events
    assert result.status == "failed"
    failures = [event.error for event in events if isinstance(event, Failed)] or [result.error]
    message = str(failures[0])
    assert f"{actor.__name__}." in message
    assert "returned an awaitable" in message
    assert "the simulator has no event loop" in message
    assert HOW_TO in message


@pytest.mark.parametrize("actor", [AsyncReceive, AsyncStart])
def test_asyncio_awaits_async_receive_and_hooks(actor: type) -> None:
    program = free_spawn(actor, name="a").flat_map(lambda ref: ref.free_ask("x"))
    with no_runtime_warning():
        assert playbill.run(program) == "x"


def test_a_plain_value_step_is_still_passed_on_as_it_is() -> None:
    assert stub.run(step(lambda x: x + 1).to_program(1, events=False)) == 2
    assert stub.run(pure(3)) == 3
