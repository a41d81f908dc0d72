"""Routers: pools and groups in front of routees, routed at the send, the same under asyncio
and the simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from returns.result import Failure

from playbill import (
    Actor,
    ActorSystem,
    Directive,
    InvalidArgument,
    OneForOne,
    free_spawn,
    free_stop,
    gather,
    program,
    self_ref,
    simulate,
    sleep,
)
from playbill.actors import (
    AddRoutee,
    Broadcast,
    ConsistentHash,
    DeadLettered,
    DeadLetterReason,
    GetRoutees,
    Group,
    Pool,
    RandomChoice,
    RemoveRoutee,
    Resize,
    RoundRobin,
    SmallestMailbox,
)
from playbill.actors._routing import Routing
from playbill.interpreters.simulation import explore

INTERPRETERS = ["asyncio", "simulation"]


def perform(main: Any, interpreter: str, seed: int = 0) -> tuple[Any, dict[str, int]]:
    """The program's value and its dead letters by reason, under ``interpreter``."""
    if interpreter == "asyncio":

        async def go() -> tuple[Any, dict[str, int]]:
            async with ActorSystem("app") as system:
                value = await system.run(main)
            counts = system.dead_letters.by_reason
            return value, {reason.name: count for reason, count in counts.items() if count}

        return asyncio.run(go())
    result = simulate(main, seed=seed)
    assert result.status == "completed", result.format_trace()
    reasons = Counter(
        event.letter.reason.name for event in result.events if isinstance(event, DeadLettered)
    )
    return result.value, dict(reasons)


def perform_or_raise(main: Any, interpreter: str) -> Any:
    """The program's value; its error raised, under either interpreter."""
    if interpreter == "asyncio":
        return perform(main, interpreter)[0]
    return simulate(main, seed=0).unwrap()


class Named(Actor):
    """Answers with its own name (``routee1``...), after counting what it handled."""

    def __init__(self) -> None:
        self.handled = 0

    def receive(self, message: Any) -> Any:
        if message == "handled":
            return self.handled
        self.handled += 1
        return self_ref().map(lambda ref: ref.path.rsplit("/", 1)[1])


def names(refs: tuple[Any, ...]) -> list[str]:
    return [ref.path.rsplit("/", 1)[1] for ref in refs]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_round_robin_gives_each_routee_its_turn_and_the_routee_answers_the_ask(interpreter):
    @program
    def main():
        router = yield free_spawn(Pool(Named, 3), name="pool")
        answers = []
        for each in range(7):
            answers.append((yield router.free_ask(each)))
        return answers

    value, dead = perform(main(), interpreter)
    assert value == ["routee1", "routee2", "routee3"] * 2 + ["routee1"]
    assert dead == {}


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_tells_routed_round_robin_are_shared_fairly(interpreter):
    @program
    def main():
        router = yield free_spawn(Pool(Named, 4, routing=RoundRobin()), name="pool")
        for each in range(40):
            yield router.free_tell(each)
        routees = yield router.free_ask(GetRoutees())
        counts = []
        for routee in routees:
            counts.append((yield routee.free_ask("handled")))
        return counts

    assert perform(main(), interpreter)[0] == [10, 10, 10, 10]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_broadcast_reaches_every_routee_and_an_ask_is_answered_once(interpreter):
    @program
    def main():
        router = yield free_spawn(Pool(Named, 3, routing=Broadcast()), name="all")
        yield router.free_tell("news")
        first = yield router.free_ask("question")
        routees = yield router.free_ask(GetRoutees())
        counts = []
        for routee in routees:
            counts.append((yield routee.free_ask("handled")))
        return first, counts

    value, dead = perform(main(), interpreter)
    assert value == ("routee1", [2, 2, 2])
    assert dead == {}


def test_random_routing_draws_from_the_simulators_recorded_source():
    @program
    def main():
        router = yield free_spawn(Pool(Named, 3, routing=RandomChoice()), name="dice")
        answers = []
        for each in range(30):
            answers.append((yield router.free_ask(each)))
        return answers

    first = simulate(main(), seed=7)
    again = simulate(main(), seed=7)
    replayed = simulate(main(), schedule=first.schedule)
    assert first.value == again.value == replayed.value
    assert set(first.value) == {"routee1", "routee2", "routee3"}
    assert simulate(main(), seed=8).value != first.value


def test_random_routing_under_asyncio_uses_every_routee():
    @program
    def main():
        router = yield free_spawn(Pool(Named, 3, routing=RandomChoice()), name="dice")
        answers = []
        for each in range(60):
            answers.append((yield router.free_ask(each)))
        return answers

    value, _ = perform(main(), "asyncio")
    assert set(value) == {"routee1", "routee2", "routee3"}


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_consistent_hash_sends_one_key_to_one_routee(interpreter):
    @program
    def main():
        router = yield free_spawn(
            Pool(Named, 4, routing=ConsistentHash(lambda message: message[0])), name="hash"
        )
        answers = []
        for key in ["a", "b", "c", "a", "b", "c", "a"]:
            answers.append((yield router.free_ask((key, "payload"))))
        return answers

    value, _ = perform(main(), interpreter)
    by_key: dict[str, set[str]] = {}
    for key, routee in zip(["a", "b", "c", "a", "b", "c", "a"], value, strict=True):
        by_key.setdefault(key, set()).add(routee)
    assert all(len(routees) == 1 for routees in by_key.values())


class _FakeCell:
    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return self.path


def test_consistent_hash_moves_about_one_in_n_keys_when_a_routee_joins():
    routing = Routing(ConsistentHash(lambda key: key, virtual_nodes=100))
    for index in range(10):
        routing.add(_FakeCell(f"/app/pool/routee{index + 1}"))
    keys = [f"user-{index}" for index in range(20_000)]
    before = {key: routing.route(key) for key in keys}
    newcomer = _FakeCell("/app/pool/routee11")
    routing.add(newcomer)
    after = {key: routing.route(key) for key in keys}
    moved = [key for key in keys if before[key] is not after[key]]
    assert all(after[key] is newcomer for key in moved)  # only to the newcomer
    assert 0.5 / 11 < len(moved) / len(keys) < 1.5 / 11  # about 1/n of them
    routing.remove(newcomer)  # and back when it leaves
    assert {key: routing.route(key) for key in keys} == before


class Sleeper(Actor):
    def receive(self, message: Any) -> Any:
        if isinstance(message, float):  # busy for that long
            return sleep(message).map(lambda _: "woke")
        return self_ref().map(lambda ref: ref.path.rsplit("/", 1)[1])


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_smallest_mailbox_avoids_the_busy_routee(interpreter):
    @program
    def main():
        router = yield free_spawn(Pool(Sleeper, 2, routing=SmallestMailbox()), name="least")
        # routee1 (both empty: the first) is busy from now on
        yield router.free_tell(0.5 if interpreter == "asyncio" else 100.0)
        yield sleep(0.01)
        answers = []
        for each in range(5):
            answers.append((yield router.free_ask(each)))
        return answers

    assert perform(main(), interpreter, seed=1)[0] == ["routee2"] * 5


def test_smallest_mailbox_counts_queued_messages_and_the_one_in_hand():
    from playbill.actors import Mailbox

    routing = Routing(SmallestMailbox())
    cells = []
    for queued, current in [(2, None), (1, "x"), (1, None), (3, None)]:
        cell = _FakeCell(f"/app/r{len(cells)}")
        cell.mailbox = Mailbox()  # type: ignore[attr-defined]
        cell.mailbox.user.extend(range(queued))  # type: ignore[attr-defined]
        cell.current = current  # type: ignore[attr-defined]
        cells.append(cell)
        routing.add(cell)
    assert routing.route("m") is cells[2]  # load 1; cells[1] is 1 queued + 1 in hand


LOG: list[str] = []


class Logging(Actor):
    def receive(self, message: Any) -> Any:
        LOG.append(message)
        return message


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_pool_resizes_and_retired_routees_finish_their_queue_first(interpreter):
    LOG.clear()

    @program
    def main():
        router = yield free_spawn(Pool(Logging, 3), name="pool")
        for each in range(9):  # three queued for each routee
            yield router.free_tell(f"m{each}")
        yield router.free_tell(Resize(1))
        shrunk = yield router.free_ask(GetRoutees())
        yield router.free_tell(Resize(4))
        grown = yield router.free_ask(GetRoutees())
        yield sleep(0.05)
        return names(shrunk), names(grown)

    value, dead = perform(main(), interpreter)
    assert value == (["routee1"], ["routee1", "routee4", "routee5", "routee6"])
    assert sorted(LOG) == [f"m{each}" for each in range(9)]  # none lost
    assert dead == {}


class Flaky(Actor):
    def __init__(self) -> None:
        self.handled = 0

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        if message == "handled":
            return self.handled
        self.handled += 1
        return None


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_failed_routee_is_restarted_by_its_router_and_keeps_its_mailbox(interpreter):
    @program
    def main():
        router = yield free_spawn(Pool(Flaky, 1), name="pool")
        [before] = yield router.free_ask(GetRoutees())
        yield router.free_tell("work")
        yield router.free_tell("boom")
        yield router.free_tell("work")  # queued behind the failure: the new instance's
        handled = yield router.free_ask("handled")
        [after] = yield router.free_ask(GetRoutees())
        return handled, before == after

    value, _ = perform(main(), interpreter)
    assert value == (1, True)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_group_routes_over_existing_actors_by_path_and_drops_one_that_stops(interpreter):
    @program
    def main():
        first = yield free_spawn(Named, name="a")
        yield free_spawn(Named, name="b")
        router = yield free_spawn(Group(["/app/a", "b"]), name="group")
        answers = []
        for each in range(4):
            answers.append((yield router.free_ask(each)))
        yield free_stop(first)
        yield sleep(0.05)  # the router learns it through its watch
        for each in range(2):
            answers.append((yield router.free_ask(each)))
        left = yield router.free_ask(GetRoutees())
        return answers, names(left)

    value, _ = perform(main(), interpreter)
    assert value == (["a", "b", "a", "b", "b", "b"], ["b"])


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_router_without_routees_dead_letters_tells_and_fails_asks(interpreter):
    @program
    def main():
        only = yield free_spawn(Named, name="only")
        router = yield free_spawn(Group([only]), name="group")
        left = yield router.free_ask(RemoveRoutee(only))  # answered once it took effect
        assert left == ()
        yield router.free_tell("lost")
        failed = yield router.free_ask("question").attempt()
        yield router.free_ask(AddRoutee(only))
        back = yield router.free_ask("question")
        return type(failed.failure()).__name__ if isinstance(failed, Failure) else failed, back

    value, dead = perform(main(), interpreter)
    assert value == ("ActorNotFound", "only")
    assert dead == {DeadLetterReason.NO_ROUTEE.name: 2}


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: Pool(Named, 0), r"Pool size must be an int of at least 1.*got 0"),
        (lambda: Pool(Named, "2"), r"Pool size must be an int.*got '2'"),
        (lambda: Pool(42, 2), r"spawn takes an actor class or a zero-argument factory"),
        (lambda: Pool(Named, 2, routing="round_robin"), r"routing must be RoundRobin\(\), "),
        (lambda: Resize(0), r"Resize size must be an int of at least 1.*got 0"),
        (lambda: ConsistentHash("id"), r"ConsistentHash key must be a function.*'id'"),
        (lambda: ConsistentHash(len, virtual_nodes=0), r"virtual_nodes must be an int"),
        (lambda: Group("/app/a"), r"Group routees must be a sequence"),
        (lambda: Group([1]), r"Group routees must be ActorRefs or paths, got 1"),
    ],
)
def test_bad_router_input_is_refused_naming_the_option(build, words):
    with pytest.raises(InvalidArgument, match=words):
        build()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_group_over_an_unknown_path_is_refused_at_spawn(interpreter):
    @program
    def main():
        yield free_spawn(Group(["/app/nobody"]), name="group")

    with pytest.raises(InvalidArgument, match=r"there is none at /app/nobody"):
        perform_or_raise(main(), interpreter)


def test_routing_counts_each_routee_once():
    routing = Routing(RoundRobin())
    cell = _FakeCell("/app/x")
    routing.add(cell)
    routing.add(cell)
    assert Counter(routing.route(each) for each in range(4)) == Counter({cell: 4})


# -- properties over schedules (explore) ------------------------------------------------------


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_round_robin_is_fair_under_every_explored_schedule(delivery):
    @program
    def main():
        router = yield free_spawn(Pool(Named, 3), name="pool")
        yield gather(*(router.free_tell(each) for each in range(9)))  # from forks, concurrently
        for each in range(3):
            yield router.free_tell(each)
        routees = yield router.free_ask(GetRoutees())
        counts = []
        for routee in routees:
            counts.append((yield routee.free_ask("handled")))
        return counts

    def check(result: Any) -> None:
        assert result.value == [4, 4, 4]

    explore(main, check, runs=30, delivery=delivery).assert_passed()


def test_broadcast_reaches_every_routee_under_every_explored_schedule():
    @program
    def main():
        router = yield free_spawn(Pool(Named, 3, routing=Broadcast()), name="all")
        yield gather(router.free_tell("x"), router.free_ask("y"), router.free_tell("z"))
        routees = yield router.free_ask(GetRoutees())
        counts = []
        for routee in routees:
            counts.append((yield routee.free_ask("handled")))
        return counts

    explore(main, lambda result: result.value == [3, 3, 3], runs=30).assert_passed()


def test_consistent_hash_moves_keys_only_to_a_joining_routee_under_every_explored_schedule():
    keys = [f"k{index}" for index in range(40)]

    @program
    def main():
        workers = []
        for index in range(4):
            workers.append((yield free_spawn(Named, name=f"w{index}")))
        router = yield free_spawn(
            Group(workers[:3], routing=ConsistentHash(lambda message: message)), name="hash"
        )
        before = yield gather(*(router.free_ask(key) for key in keys))
        yield router.free_ask(AddRoutee(workers[3]))
        after = yield gather(*(router.free_ask(key) for key in keys))
        return before, after

    def check(result: Any) -> None:
        before, after = result.value
        moved = [key for key, old, new in zip(keys, before, after, strict=True) if old != new]
        assert all(after[keys.index(key)] == "w3" for key in moved)
        assert 0 < len(moved) < len(keys) / 2

    explore(main, check, runs=20).assert_passed()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_routee_its_router_stops_leaves_the_routing_and_its_queue_is_dead_lettered(interpreter):
    stop_it = OneForOne(lambda error: Directive.STOP)

    @program
    def main():
        router = yield free_spawn(Pool(Flaky, 2, supervision=stop_it), name="pool")
        first, _ = yield router.free_ask(GetRoutees())
        yield first.free_tell("boom")
        yield first.free_tell("work")  # queued behind the failure: a dead letter once stopped
        left = yield router.free_ask(GetRoutees())
        while len(left) > 1:  # the router learns it through its watch
            yield sleep(0.01)
            left = yield router.free_ask(GetRoutees())
        for _ in range(3):
            yield router.free_tell("work")
        return names(left), (yield left[0].free_ask("handled"))

    value, dead = perform(main(), interpreter)
    assert value == (["routee2"], 3)
    assert sum(dead.values()) == 1


def test_the_direct_api_of_a_live_router_routes_too(arun):
    async def demo():
        async with ActorSystem("app") as system:
            router = system.spawn(Pool(Named, 2), "pool")
            router.tell("x")  # routee1
            await router.send("y")  # routee2
            first = await router.ask("q")
            second = await router.ask("q")
            routees = await router.ask(GetRoutees())
            counts = [await routee.ask("handled") for routee in routees]
            return first, second, counts

    assert arun(demo()) == ("routee1", "routee2", [2, 2])
