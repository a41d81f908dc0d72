"""Running flows: events, ephemeral actors, cancellation, side flows, depth — under the
simulator (virtual time makes timing claims exact) and asyncio."""

import asyncio
from typing import Any

from playbill import Actor, ActorSystem, free_spawn, program, pure, simulate, sleep
from playbill.actors import Emitted, Spawned, Stopped
from playbill.flow import (
    Continue,
    Done,
    FlowEvent,
    actor,
    loop,
    race,
    run_flow,
    step,
    zip_all,
)
from playbill.interpreters import stub


class Shout(Actor):
    def receive(self, message: Any) -> Any:
        return str(message).upper()


def boom(_: Any) -> Any:
    raise ValueError("boom")


def slow(seconds: float, value: Any) -> Any:
    def run(_: Any) -> Any:
        return sleep(seconds).then(pure(value))

    run.__qualname__ = f"slow_{value}"
    return run


def flow_events(result: Any) -> list[FlowEvent]:
    return [
        event.event
        for event in result.events
        if isinstance(event, Emitted) and isinstance(event.event, FlowEvent)
    ]


def test_each_node_reports_started_and_completed_with_its_path_and_parent_span() -> None:
    flow = step(str.strip) >> step(str.upper).map(len)
    result = simulate(flow.to_program("  hi  "))
    assert result.value == 2
    events = [(e.kind, e.node, e.path, e.span, e.parent) for e in flow_events(result)]
    assert events == [
        ("started", "then", "", "flow", None),
        ("started", "step", "steps[0]", "flow/steps[0]", "flow"),
        ("completed", "step", "steps[0]", "flow/steps[0]", "flow"),
        ("started", "map", "steps[1]", "flow/steps[1]", "flow"),
        ("started", "step", "steps[1].flow", "flow/steps[1]/flow", "flow/steps[1]"),
        ("completed", "step", "steps[1].flow", "flow/steps[1]/flow", "flow/steps[1]"),
        ("completed", "map", "steps[1]", "flow/steps[1]", "flow"),
        ("completed", "then", "", "flow", None),
    ]
    started = flow_events(result)[1]
    assert started.label == "str.strip"
    assert started.value == "  hi  "


def test_a_failure_is_reported_at_the_node_and_every_enclosing_one() -> None:
    result = simulate((step(str) >> step(boom)).to_program(1))
    assert result.status == "failed"
    assert isinstance(result.error, ValueError)
    failed = [(e.path, type(e.error).__name__) for e in flow_events(result) if e.kind == "failed"]
    assert failed == [("steps[1]", "ValueError"), ("", "ValueError")]


def test_loop_rounds_get_spans_of_their_own() -> None:
    halve = step(lambda n: Done(n) if n < 10 else Continue(n // 2))
    result = simulate(loop(halve, max_iter=10).to_program(40))
    spans = [e.span for e in flow_events(result) if e.kind == "started" and e.path == "body"]
    assert spans == ["flow/body#0", "flow/body#1", "flow/body#2", "flow/body#3"]


def test_events_can_be_switched_off() -> None:
    result = simulate(step(str).to_program(1, events=False))
    assert result.value == "1"
    assert flow_events(result) == []


def test_asyncio_subscribers_watch_a_flow_live() -> None:
    async def main() -> list[str]:
        async with ActorSystem("app") as system:
            subscription = system.events()
            await system.run((step(str) >> actor(Shout)).to_program("go"))
            return [
                f"{e.event.kind} {e.event.path}"
                for e in subscription.drain()
                if isinstance(e, Emitted) and isinstance(e.event, FlowEvent)
            ]

    seen = asyncio.run(main())
    assert seen[0] == "started "
    assert seen[-1] == "completed "
    assert "completed steps[1]" in seen


def test_ephemeral_actors_are_children_of_the_running_flow_and_stopped_when_done() -> None:
    class Runner(Actor):
        def receive(self, message: Any) -> Any:
            return (actor(Shout) >> actor(Shout)).to_program(message)

    @program
    def main() -> Any:
        runner = yield free_spawn(Runner, name="runner")
        return (yield runner.free_ask("deep"))

    result = simulate(main())
    assert result.value == "DEEP"
    spawned = [e.path for e in result.events if isinstance(e, Spawned)]
    ephemeral = [path for path in spawned if path.startswith("/app/runner/")]
    assert len(ephemeral) == 2
    assert len(set(ephemeral)) == 2
    stopped = {e.path for e in result.events if isinstance(e, Stopped)}
    assert set(ephemeral) <= stopped
    # stopped before the runner replied: the flow leaked nothing into the rest of the run
    last_ephemeral_stop = max(
        i for i, e in enumerate(result.events) if isinstance(e, Stopped) and e.path in ephemeral
    )
    runner_stop = next(
        i for i, e in enumerate(result.events) if isinstance(e, Stopped) and e.path == "/app/runner"
    )
    assert last_ephemeral_stop < runner_stop


def test_ephemeral_actors_in_parallel_never_collide() -> None:
    flow = actor(Shout).zip(actor(Shout)).zip(actor(Shout))
    for seed in range(20):
        result = simulate(flow.to_program("a"), seed=seed)
        assert result.value == (("A", "A"), "A")


def test_race_does_not_wait_for_losers() -> None:
    flow = race(step(slow(1000, "slow")), step(slow(1, "fast")))
    result = simulate(flow.to_program(None))
    assert result.value == "fast"
    assert result.clock == 1  # the loser was cancelled, not awaited


def test_a_failure_in_zip_cancels_the_other_branch_at_once() -> None:
    flow = step(slow(1000, "slow")).zip(step(slow(2, "x")).map(boom))
    result = simulate(flow.to_program(None))
    assert isinstance(result.error, ValueError)
    assert result.clock == 2


def test_the_side_flow_is_awaited_and_its_failure_is_an_event_not_a_failure() -> None:
    flow = step(str).divert_to(step(slow(5, "side")).map(boom))
    for events in (True, False):
        result = simulate(flow.to_program(1, events=events))
        assert result.value == "1"
        assert result.clock == 5  # the run waited for the side flow
        failures = [e for e in flow_events(result) if e.kind == "failed"]
        assert [(e.path, e.span, e.parent) for e in failures] == [("side", "flow/side", "flow")]
        assert isinstance(failures[0].error, ValueError)
        assert result.dead_letters == 0


def test_a_side_flow_outlives_a_timeout_and_is_not_cut_short() -> None:
    seen: list[str] = []
    side = step(slow(50, "side")).tap(seen.append)
    flow = (
        step(str)
        .divert_to(side)
        .then(step(slow(10, "late")))
        .timeout(5)
        .recover(lambda error: "timed out")
    )
    result = simulate(flow.to_program(1))
    assert result.value == "timed out"
    assert seen == ["side"]  # the side flow ran to its end
    assert result.clock == 50


def test_without_waiting_side_flows_finish_in_the_background_and_stop_themselves() -> None:
    seen: list[str] = []

    class Host(Actor):
        def receive(self, message: Any) -> Any:
            side = step(slow(5, "side")).tap(seen.append)
            return step(str).divert_to(side).to_program(message, wait_for_side_flows=False)

    @program
    def main() -> Any:
        host = yield free_spawn(Host, name="host")
        answer = yield host.free_ask(7)
        yield sleep(10)
        return answer

    result = simulate(main())
    assert result.value == "7"
    assert seen == ["side"]
    side_stopped = [e for e in result.events if isinstance(e, Stopped) and "$" in e.path]
    assert side_stopped[0].time == 5  # it stopped itself when done, not at shutdown


def test_every_span_that_starts_ends_even_when_cancelled() -> None:
    flows = [
        race(step(slow(100, "slow")), step(slow(1, "fast"))),
        step(slow(100, "late")).timeout(1),
        step(slow(100, "slow")).zip(step(slow(1, "x")).map(boom)),
    ]
    for flow in flows:
        result = simulate(flow.to_program(None))
        started = {e.span for e in flow_events(result) if e.kind == "started"}
        ended = [e.span for e in flow_events(result) if e.kind != "started"]
        assert sorted(started) == sorted(ended)  # each exactly once
        assert any(e.kind == "cancelled" for e in flow_events(result))


def test_an_and_then_callback_failure_is_its_own_span() -> None:
    def broken_callback(outcome: Any) -> None:
        raise RuntimeError("callback broke")

    result = simulate(step(str).and_then(broken_callback).to_program(1))
    assert result.value == "1"
    failed = [e for e in flow_events(result) if e.kind == "failed"]
    assert [(e.node, e.span, e.parent) for e in failed] == [
        ("and_then callback", "flow/callback", "flow")
    ]


def test_parallel_steps_run_in_their_own_fibers_with_events_off_too() -> None:
    order: list[str] = []

    def record(tag: str) -> Any:
        def run(value: Any) -> Any:
            order.append(tag)
            return value

        return run

    seen = set()
    for seed in range(40):
        order.clear()
        simulate(
            zip_all(step(record("a")), step(record("b"))).to_program((1, 2), events=False),
            seed=seed,
        )
        seen.add(tuple(order))
    assert seen == {("a", "b"), ("b", "a")}


def test_a_timeout_cancels_the_flow_on_the_virtual_clock() -> None:
    result = simulate(step(slow(3600, "late")).timeout(2).to_program(None))
    assert type(result.error).__name__ == "TimedOut"
    assert result.clock == 2


def test_retry_backs_off_on_the_interpreters_clock() -> None:
    from playbill.actors import Backoff

    result = simulate(
        step(boom).retry(3, Backoff(initial=1, multiplier=10, jitter=0)).to_program(0)
    )
    assert isinstance(result.error, ValueError)
    assert result.clock == 1 + 10


def test_deep_nesting_of_every_kind_runs_without_recursion_errors() -> None:
    flow = step(lambda n: n)
    for _ in range(10_000):
        flow = flow.map(lambda n: n + 1)
    assert stub.run(flow.to_program(0, events=False)) == 10_000
    chain = step(lambda n: n)
    for _ in range(10_000):
        chain = step(lambda n: n + 1) >> chain
    assert simulate(chain.to_program(0, events=False), max_steps=10**6).value == 10_000


def test_run_flow_runs_on_asyncio() -> None:
    assert run_flow(step(str) >> actor(Shout), 7) == "7"


def test_side_flows_of_side_flows_are_awaited_under_per_pair_delivery_too() -> None:
    seen: list[Any] = []
    flow = step(str).divert_to(step(str).divert_to(step(seen.append)))
    for seed in range(100):
        seen.clear()
        result = simulate(flow.to_program(1), seed=seed, delivery="per_pair")
        assert result.value == "1"
        assert seen == ["1"]
        assert result.dead_letters == 0


def test_a_zip_beside_an_identity_or_pure_side_runs_in_place_without_events():
    from playbill.effects import Intercept, Parallel
    from playbill.flow import identity
    from playbill.flow import pure as pure_flow

    seen: list[type] = []

    def record(effect: Any) -> Any:
        seen.append(type(effect))
        return effect

    def run(flow: Any, value: Any) -> Any:
        return simulate(Intercept(flow.to_program(value, events=False), record))

    waits = step(lambda n: sleep(1).map(lambda _: n * 2))
    cases = [
        (identity().zip(waits), (3, 6)),
        (waits.zip(identity()), (6, 3)),
        (pure_flow("p").zip(waits), ("p", 6)),
        (waits.zip(pure_flow("p")), (6, "p")),
    ]
    for flow, expected in cases:
        result = run(flow, 3)
        assert result.value == expected
        assert result.clock == 1.0
    assert Parallel not in seen  # no fiber for the side that performs nothing
    failed = run(identity().zip(step(boom)), 3)
    assert type(failed.error) is ValueError
    assert str(failed.error) == "boom"
    seen.clear()  # with events on, both sides run (and report) in fibers, as before
    simulate(Intercept(identity().zip(waits).to_program(3), record))
    assert Parallel in seen
