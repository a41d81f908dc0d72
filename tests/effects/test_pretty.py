from attrs import frozen

from playbill import (
    ActorRef,
    Effect,
    fail,
    fork,
    free_spawn,
    gather,
    now,
    perform,
    program,
    pure,
    race,
    sleep,
    timeout,
)


@frozen
class Fetch(Effect[str]):
    key: str


def double(x: int) -> int:
    return x * 2


def test_repr_mirrors_how_the_program_was_built():
    built = perform(Fetch("a")).map(len).flat_map(lambda n: pure(n)).recover(str)
    assert repr(built).startswith("perform(Fetch(key='a')).map(len).flat_map(<lambda:")
    assert repr(built).endswith(").recover(str)")


def test_repr_names_attempt_ensuring_then_and_recover_with():
    built = pure(1).attempt().ensuring(now()).then(sleep(2)).recover_with(fail, catching=KeyError)
    assert repr(built) == (
        "pure(1).attempt().ensuring(now()).then(sleep(2)).recover_with(fail, catching=KeyError)"
    )


def test_repr_of_do_notation_shows_the_function_and_arguments_without_running_it():
    ran = []

    @program
    def transfer(amount: int, *, to: str):  # type: ignore[no-untyped-def]
        ran.append(True)
        yield pure(amount)

    assert "transfer(10, to='b')" in repr(transfer(10, to="b"))
    assert ran == []


def test_the_tree_draws_nested_concurrency():
    ref = ActorRef("/app/worker")
    built = gather(
        perform(Fetch("a")),
        race(ref.free_ask("ping", timeout=1), timeout(sleep(5), 2)),
        fork(free_spawn(dict, name="d")),
    ).map(double)
    assert built.pretty() == "\n".join(
        [
            "map(double)",
            "└── gather",
            "    ├── perform(Fetch(key='a'))",
            "    ├── race",
            "    │   ├── free_ask(/app/worker, 'ping', timeout=1.0)",
            "    │   └── timeout 2s",
            "    │       └── sleep(5)",
            "    └── fork",
            "        └── free_spawn(dict, name='d')",
        ]
    )


def test_the_tree_stops_at_its_budget():
    built = pure(0)
    for _ in range(500):
        built = built.map(double)
    lines = built.pretty(max_nodes=10).splitlines()
    assert len(lines) == 11
    assert lines[-1] == "… (stopped after 10 nodes)"


def test_long_values_are_elided():
    assert len(repr(pure("x" * 1000))) < 80
