"""Agent cards (name, description, skills, input and output JSON Schemas from the declared
types — by pydantic when installed, None without it) and discovery over the live tree:
find_agents as a program (asyncio and the simulator) and AgentSystem.find_agents."""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest

from playbill import Actor, InvalidArgument, free_spawn, free_stop, program, simulate, sleep
from playbill import run as run_on_asyncio
from playbill.agents import (
    AgentActor,
    AgentCard,
    AgentListing,
    AgentSystem,
    Task,
    agent_card,
    find_agents,
)


class Researcher(AgentActor[str, list[str]]):
    """Researches a topic.

    Finds notes, one per source."""

    skills = ("research", "search")

    @program
    def execute(self, topic):
        yield sleep(1)
        return [topic]


class Translator(AgentActor[str, str]):
    description = "Translates into French."
    skills = ("translate",)

    def execute(self, text):
        return f"le {text}"


class Counter:
    """Counts words."""

    skills = ["count"]  # noqa: RUF012 (a list is accepted too)

    def execute(self, text: str) -> dict[str, int]:
        return {"words": len(text.split())}


def shout(text: str) -> str:
    """Shouts."""
    return text.upper()


shout.skills = ("shout",)  # type: ignore[attr-defined]


class Plain(Actor):
    def receive(self, message):
        return message


# -- the card --------------------------------------------------------------------------------


def test_a_card_names_describes_and_lists_skills():
    card = agent_card(Researcher)
    assert (card.name, card.description, card.skills) == (
        "Researcher",
        "Researches a topic.",
        ("research", "search"),
    )
    assert agent_card(Translator).description == "Translates into French."


def test_functions_and_plain_classes_have_cards_too():
    card = agent_card(Counter)
    assert (card.name, card.description, card.skills) == ("Counter", "Counts words.", ("count",))
    assert (agent_card(shout).name, agent_card(shout).skills) == ("shout", ("shout",))


def test_an_agent_without_a_docstring_or_skills_has_an_empty_card():
    class Bare(AgentActor[str, str]):
        def execute(self, text):
            return text

    card = agent_card(Bare)
    assert (card.description, card.skills) == ("", ())  # not AgentActor's docstring


def test_schemas_come_from_the_declared_types_with_pydantic():
    pytest.importorskip("pydantic")

    class Generic(AgentActor):  # no type arguments: execute's annotations
        @program
        def execute(self, count: int) -> Generator[Any, Any, float]:
            return float(count)
            yield

    assert agent_card(Researcher).input_schema == {"type": "string"}
    assert agent_card(Researcher).output_schema == {"type": "array", "items": {"type": "string"}}
    assert agent_card(Counter).input_schema == {"type": "string"}
    assert agent_card(Counter).output_schema == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert agent_card(shout).output_schema == {"type": "string"}
    assert agent_card(Generic).input_schema == {"type": "integer"}
    assert agent_card(Generic).output_schema == {"type": "number"}


def test_a_type_pydantic_cannot_describe_has_no_schema():
    pytest.importorskip("pydantic")

    class Opaque:
        pass

    class Holder(AgentActor[Opaque, str]):
        def execute(self, thing):
            return "held"

    card = agent_card(Holder)
    assert card.input_schema is None
    assert card.output_schema is not None  # str still is


def test_without_pydantic_the_schemas_are_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydantic", None)  # import pydantic raises ImportError

    class Typed(AgentActor[str, int]):
        def execute(self, text):
            return len(text)

    card = agent_card(Typed)
    assert (card.input_schema, card.output_schema) == (None, None)
    assert card.name == "Typed"


def test_cards_are_values():
    assert agent_card(Translator) == AgentCard(
        "Translator",
        "Translates into French.",
        ("translate",),
        agent_card(Translator).input_schema,
        agent_card(Translator).output_schema,
    )
    assert hash(agent_card(Translator)) == hash(agent_card(Translator))


# -- bad input -------------------------------------------------------------------------------


def test_skills_must_be_a_tuple_of_strings_checked_at_the_class():
    with pytest.raises(InvalidArgument, match=r"Lone's skills.*'research'.*\('research',\)"):

        class Lone(AgentActor[str, str]):
            skills = "research"

    with pytest.raises(InvalidArgument, match="Empty's skills must be a tuple of non-empty"):

        class Empty(AgentActor[str, str]):
            skills = ("",)


def test_a_functions_bad_skills_or_description_fail_its_card():
    def odd(text):
        return text

    odd.skills = 3  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"odd's skills.*3 \(int\)"):
        agent_card(odd)

    class Described:
        description = 5

        def execute(self, text):
            return text

    with pytest.raises(InvalidArgument, match="description must be a string, got 5"):
        agent_card(Described)


def test_a_card_of_something_not_an_agent_is_refused():
    with pytest.raises(InvalidArgument, match=r"agent_card\(\) takes an agent"):
        agent_card(42)


@pytest.mark.parametrize("skill", ["", 3, ("research",)])
def test_find_agents_takes_a_skill_string(skill):
    with pytest.raises(InvalidArgument, match=r"find_agents\(\) skill must be a non-empty"):
        find_agents(skill)


# -- discovery under the simulator and asyncio ------------------------------------------------


class Lead(AgentActor[str, list]):
    """Spawns a helper of its own, then looks up who can translate."""

    @program
    def execute(self, text):
        yield free_spawn(Translator, name="helper")
        found = yield find_agents("translate")
        return [each.ref.path for each in found]


@program
def team():
    yield free_spawn(Researcher, name="researcher")
    yield free_spawn(Plain, name="plain")
    yield free_spawn(Translator, name="translator")
    gone = yield free_spawn(Translator, name="gone")
    yield free_stop(gone)
    lead = yield free_spawn(Lead, name="lead")
    nested = (yield lead.free_ask(Task("x"))).output
    every = yield find_agents()
    searchers = yield find_agents("search")
    return nested, [each.card.name for each in every], [each.ref.path for each in searchers]


EXPECTED = (
    ["/app/translator", "/app/lead/helper"],
    ["Researcher", "Translator", "Lead", "Translator"],  # no plain actor, nothing stopped
    ["/app/researcher"],
)


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_find_agents_under_the_simulator(delivery):
    assert simulate(team(), delivery=delivery, seed=4).value == EXPECTED


def test_find_agents_as_a_program_under_asyncio():
    assert run_on_asyncio(team()) == EXPECTED


def test_a_found_agent_is_asked_by_its_ref():
    @program
    def ask_whoever_translates():
        yield free_spawn(Translator, name="translator")
        [found] = yield find_agents("translate")
        return (yield found.ref.free_ask(Task("chat"))).output

    assert simulate(ask_whoever_translates()).value == "le chat"


def test_the_agent_system_finds_live_agents_and_running_ones(arun):
    async def main():
        async with AgentSystem("app") as system:
            system.spawn(Translator, "translator")
            system.spawn(Counter, "counter")
            system.actors.spawn(Plain, "plain")
            run = system.run(Researcher, "actors", run_id="r1")
            await anext(run)  # started: the run's agent is live
            during = system.find_agents("research")
            translators = system.find_agents("translate")
            everyone = [each.ref.path for each in system.find_agents()]
            await system.abort("r1")
            after = system.find_agents("research")
            return during, translators, everyone, after

    during, translators, everyone, after = arun(main())
    assert [each.ref.path for each in during] == ["/app/run-r1"]
    assert during[0].card == agent_card(Researcher)
    assert translators == (AgentListing(translators[0].ref, agent_card(Translator)),)
    assert everyone == ["/app/translator", "/app/counter", "/app/run-r1"]
    assert after == ()


def test_the_agent_system_checks_the_skill(arun):
    async def main():
        async with AgentSystem("app") as system:
            system.find_agents("")

    with pytest.raises(InvalidArgument, match=r"AgentSystem.find_agents\(\) skill"):
        arun(main())
