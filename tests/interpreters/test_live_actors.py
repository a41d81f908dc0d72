"""live_actors(): every live actor of the system, with its class, in tree order (parents
first, siblings in start order), stopped ones left out — the same under asyncio and the
simulator; the stub, which has no actors, needs a handler."""

from __future__ import annotations

import pytest

from playbill import (
    Actor,
    UnhandledEffect,
    free_ask,
    free_spawn,
    free_stop,
    program,
    simulate,
)
from playbill import run as run_on_asyncio
from playbill.effects import LiveActor, LiveActors, live_actors
from playbill.interpreters import stub


class Leaf(Actor):
    def receive(self, message):
        return message


class Parent(Actor):
    def receive(self, message):
        if message == "ping":
            return "pong"
        return free_spawn(Leaf, name=message)


@program
def tree():
    first = yield free_spawn(Parent, name="first")
    yield free_spawn(Leaf, name="second")
    yield free_ask(first, "a")
    yield free_ask(first, "b")
    gone = yield free_spawn(Leaf, name="gone")
    yield free_stop(gone)
    yield free_ask(first, "ping")  # (a stopping actor is not listed, stopped or not)
    listed = yield live_actors()
    return [(each.ref.path, each.actor_class.__name__) for each in listed]


EXPECTED = [
    ("/app/first", "Parent"),
    ("/app/first/a", "Leaf"),
    ("/app/first/b", "Leaf"),
    ("/app/second", "Leaf"),
]


def test_asyncio_lists_the_live_tree_in_order():
    assert run_on_asyncio(tree()) == EXPECTED


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_the_simulator_lists_the_live_tree_in_order(delivery):
    assert simulate(tree(), delivery=delivery, seed=5).value == EXPECTED


def test_the_listing_gives_live_refs():
    @program
    def ask_the_listed():
        yield free_spawn(Leaf, name="echo")
        [only] = yield live_actors()
        return (yield only.ref.free_ask("hi"))

    assert simulate(ask_the_listed()).value == "hi"
    assert run_on_asyncio(ask_the_listed()) == "hi"


def test_the_stub_needs_a_handler_for_live_actors():
    with pytest.raises(UnhandledEffect, match="LiveActors"):
        stub.run(live_actors())
    assert stub.run(live_actors(), {LiveActors: lambda effect: ()}) == ()


def test_a_listed_actor_is_a_value():
    from playbill import ActorRef

    assert LiveActor(ActorRef("/app/a"), Leaf) == LiveActor(ActorRef("/app/a"), Leaf)
