"""`emit_stamped(make)`: one effect publishing ``make(time)``, stamped with the interpreter's
clock (virtual under the stub and the simulator, the wall clock under asyncio)."""

import asyncio
import time
from typing import Any

import pytest

from playbill import (
    Actor,
    ActorSystem,
    InvalidArgument,
    emit_stamped,
    free_ask,
    free_spawn,
    program,
    simulate,
    sleep,
)
from playbill.actors import Emitted
from playbill.effects import EmitStamped
from playbill.interpreters import stub


def test_emit_stamped_is_one_effect_and_refuses_a_make_that_is_not_callable() -> None:
    make = lambda time: time  # noqa: E731
    assert emit_stamped(make).effect == EmitStamped(make)  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"emit_stamped\(\) takes make.*got 3 \(int\)"):
        emit_stamped(3)  # type: ignore[arg-type]


def test_it_prints_as_emit_stamped_naming_the_function() -> None:
    def started(time: float) -> object:
        return ("started", time)

    assert (
        str(emit_stamped(started))
        == "emit_stamped(test_it_prints_as_emit_stamped_naming_the_function.<locals>.started)"
    )


def test_the_simulator_stamps_with_its_virtual_clock_in_one_traced_step() -> None:
    @program
    def main() -> Any:
        yield sleep(1.5)
        yield emit_stamped(lambda time: ("started", time))

    result = simulate(main(), seed=0)
    emitted = [event for event in result.events if isinstance(event, Emitted)]
    assert [(event.time, event.event) for event in emitted] == [(1.5, ("started", 1.5))]
    assert "now" not in [line.kind.value for line in result.trace]
    assert [line.event for line in result.trace if line.kind.value == "emit"] == [
        "emit ('started', 1.5)"
    ]


def test_a_failing_make_fails_the_program_under_the_simulator_and_the_stub() -> None:
    def broken(time: float) -> object:
        raise ValueError(f"no event at {time}")

    assert isinstance(simulate(emit_stamped(broken)).error, ValueError)
    with pytest.raises(ValueError, match=r"no event at 4\.0"):
        stub.run(emit_stamped(broken), start_time=4.0)


def test_the_stub_makes_the_event_at_its_clock() -> None:
    made: list[float] = []
    stub.run(sleep(3).then(emit_stamped(made.append)), start_time=1.0)
    assert made == [4.0]


def test_asyncio_stamps_with_the_wall_clock_and_publishes_the_same_time() -> None:
    class Stamper(Actor):
        def receive(self, message: Any) -> Any:
            return emit_stamped(lambda time: ("stamped", time))

    async def main() -> list[Any]:
        async with ActorSystem("app") as system:
            events = system.events()
            ref = system.spawn(Stamper, "stamper")
            await ref.ask("go")
            return [event for event in events.drain() if isinstance(event, Emitted)]

    before = time.time()
    (emitted,) = asyncio.run(main())
    after = time.time()
    assert emitted.path == "/app/stamper"
    assert emitted.event == ("stamped", emitted.time)
    assert before <= emitted.time <= after


class _Stamps(Actor):
    def receive(self, message: Any) -> Any:
        return emit_stamped(lambda time: (message, time))


@program
def _stamping() -> Any:
    yield sleep(2)
    yield emit_stamped(lambda time: ("main", time))
    ref = yield free_spawn(_Stamps, name="stamps")
    yield free_ask(ref, "actor")
    return "done"


def test_an_untraced_simulation_publishes_the_same_events_as_a_traced_one() -> None:
    # untraced, the simulator publishes a stamped event within the turn (its fast path)
    def emitted(trace: bool) -> list[tuple[str, float, object]]:
        result = simulate(_stamping(), seed=3, trace=trace)
        assert result.value == "done"
        return [(e.path, e.time, e.event) for e in result.events if isinstance(e, Emitted)]

    assert emitted(trace=False) == emitted(trace=True)
    assert emitted(trace=False) == [
        ("/app", 2.0, ("main", 2.0)),
        ("/app/stamps", 2.0, ("actor", 2.0)),
    ]


def test_an_untraced_simulation_raises_a_failing_make_into_the_program() -> None:
    def broken(time: float) -> object:
        raise ValueError(f"no event at {time}")

    @program
    def main() -> Any:
        try:
            yield emit_stamped(broken)
        except ValueError as error:
            return str(error)
        return "not raised"

    assert simulate(main(), trace=False).value == "no event at 0.0"


def test_an_untraced_simulation_gives_emit_stamped_to_the_users_handler() -> None:
    seen: list[object] = []

    def handle(effect: EmitStamped) -> None:
        seen.append(effect.make(-1.0))

    result = simulate(_stamping(), trace=False, handlers={EmitStamped: handle})
    assert result.value == "done"
    assert seen == [("main", -1.0), ("actor", -1.0)]
    assert not [event for event in result.events if isinstance(event, Emitted)]
