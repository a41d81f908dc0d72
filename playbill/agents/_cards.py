"""`AgentCard`: what an agent says about itself — name, description, skills, and the JSON
Schemas of its input and output, derived from its declared types — and discovery over the
live tree: `find_agents` (a Program, so under asyncio and the simulator alike) and
`AgentSystem.find_agents`."""

from __future__ import annotations

import collections.abc
import inspect
import typing
import weakref
from typing import Any, final

from attrs import field, frozen

from playbill.actors._reports import short
from playbill.agents._agent import (
    AgentActor,
    _ClassAgent,
    _FunctionAgent,
    agent_class,
    check_skills,
)
from playbill.effects import ActorRef, InvalidArgument, LiveActor, Program, live_actors

__all__ = ["AgentCard", "AgentListing", "agent_card", "find_agents", "listings"]


def _check_text(_: object, attribute: Any, text: Any) -> None:
    required = attribute.name == "name"
    if not isinstance(text, str) or (required and not text):
        wanted = "a non-empty str" if required else "a str"
        raise InvalidArgument(
            f"AgentCard {attribute.name} must be {wanted}, got {short(text)} "
            f"({type(text).__name__})"
        )


def _card_skills(skills: object) -> tuple[str, ...]:
    return check_skills(skills, "AgentCard skills")


def _check_schema(_: object, attribute: Any, schema: Any) -> None:
    if schema is not None and not isinstance(schema, dict):
        raise InvalidArgument(
            f"AgentCard {attribute.name} must be a JSON Schema (a dict) or None, got "
            f"{short(schema)} ({type(schema).__name__})"
        )


@final
@frozen
class AgentCard:
    """What an agent says about itself: its ``name``, a ``description``, the ``skills`` it
    offers (what `find_agents` matches), and the JSON Schemas of its ``input_schema`` and
    ``output_schema`` (``None`` where the type is not declared, or when pydantic — the
    ``schemas`` extra — is not installed).

    >>> card = AgentCard("Summarizer", "Summarises a text.", ("summarise",))
    >>> card.skills, card.input_schema
    (('summarise',), None)
    """

    name: str = field(validator=_check_text)
    description: str = field(default="", validator=_check_text)
    skills: tuple[str, ...] = field(default=(), converter=_card_skills)
    input_schema: dict[str, Any] | None = field(default=None, hash=False, validator=_check_schema)
    output_schema: dict[str, Any] | None = field(default=None, hash=False, validator=_check_schema)


@final
@frozen
class AgentListing:
    """A live agent found by discovery: its ``ref`` (ask it `Task`\\ s) and its ``card``."""

    ref: ActorRef
    card: AgentCard


_CARDS: weakref.WeakKeyDictionary[type, AgentCard] = weakref.WeakKeyDictionary()


def agent_card(agent: object) -> AgentCard:
    """The card of ``agent`` (an `AgentActor` subclass, a plain class with ``execute``, or a
    function of the input).

    - ``name``: the class's or function's name;
    - ``description``: its ``description`` attribute, else the first paragraph of its own
      docstring;
    - ``skills``: its ``skills`` attribute (a tuple of strings; ``()`` when absent);
    - ``input_schema`` and ``output_schema``: JSON Schemas of ``I`` and ``O`` in
      ``AgentActor[I, O]``, else of ``execute``'s (or the function's) annotations — made by
      pydantic's ``TypeAdapter`` when pydantic is installed (``pip install
      playbill[schemas]``), ``None`` otherwise or for a type it cannot describe.

    >>> def shout(text: str) -> str:
    ...     '''Shouts the text.'''
    ...     return text.upper()
    >>> shout.skills = ("shouting",)
    >>> card = agent_card(shout)
    >>> card.name, card.description, card.skills
    ('shout', 'Shouts the text.', ('shouting',))
    """
    return card_of_class(agent_class(agent, "agent_card()"))


def card_of_class(cls: type[AgentActor[Any, Any]]) -> AgentCard:
    """The card of the agent class ``cls`` (the wrapper of a function or plain class reads
    what it wraps); made once per class."""
    try:
        return _CARDS[cls]
    except KeyError:
        pass
    source: Any = cls
    if issubclass(cls, _FunctionAgent) and cls is not _FunctionAgent:
        source = cls._function
    elif issubclass(cls, _ClassAgent) and cls is not _ClassAgent:
        source = cls._plain
    name = str(getattr(source, "__name__", None) or cls._agent_name or cls.__qualname__)
    skills = check_skills(getattr(source, "skills", ()), name)
    input_type, output_type = _declared_types(cls, source)
    card = AgentCard(
        name,
        _description(source, name),
        skills,
        _schema(input_type),
        _schema(output_type),
    )
    _CARDS[cls] = card
    return card


def _description(source: Any, name: str) -> str:
    described = getattr(source, "description", None)
    if described is not None:
        if not isinstance(described, str):
            raise InvalidArgument(
                f"the agent {name}'s description must be a string, got {short(described)} "
                f"({type(described).__name__})"
            )
        return described
    # its own docstring, not one inherited from AgentActor
    own = source.__dict__.get("__doc__") if isinstance(source, type) else source.__doc__
    if not isinstance(own, str):
        return ""
    return inspect.cleandoc(own).split("\n\n", 1)[0].replace("\n", " ")


# -- the declared types ----------------------------------------------------------------------


def _declared_types(cls: type, source: Any) -> tuple[Any, Any]:
    """``I`` and ``O``: from ``AgentActor[I, O]``, else from the annotations of ``execute``
    (or of the function); ``None`` for what is not declared."""
    input_type: Any = None
    output_type: Any = None
    if source is cls:
        for klass in cls.__mro__:
            for base in getattr(klass, "__orig_bases__", ()):
                if typing.get_origin(base) is AgentActor:
                    arguments = typing.get_args(base)
                    if len(arguments) == 2:
                        input_type, output_type = (_concrete(each) for each in arguments)
                    break
            else:
                continue
            break
    function = source if not isinstance(source, type) else getattr(source, "execute", None)
    if function is not None and (input_type is None or output_type is None):
        annotated_input, annotated_output = _annotations(function)
        input_type = input_type if input_type is not None else annotated_input
        output_type = output_type if output_type is not None else annotated_output
    return input_type, output_type


def _annotations(function: Any) -> tuple[Any, Any]:
    try:
        hints = typing.get_type_hints(function)
        parameters = [
            parameter
            for parameter in inspect.signature(function).parameters.values()
            if parameter.name != "self"
        ]
    except Exception:  # unresolvable annotations, a builtin without a signature: undeclared
        return None, None
    first = hints.get(parameters[0].name) if parameters else None
    returned = hints.get("return")
    # an @program execute annotated as a generator produces its return type
    if typing.get_origin(returned) is collections.abc.Generator:
        arguments = typing.get_args(returned)
        returned = arguments[2] if len(arguments) == 3 else None
    return _concrete(first), _concrete(returned)


def _concrete(declared: Any) -> Any:
    if declared is None or declared is Any or isinstance(declared, typing.TypeVar):
        return None
    return declared


def _schema(declared: Any) -> dict[str, Any] | None:
    """The JSON Schema of ``declared`` by pydantic's ``TypeAdapter``; ``None`` without
    pydantic, or for a type it cannot describe (an arbitrary class, a callable)."""
    if declared is None:
        return None
    try:
        from pydantic import TypeAdapter
    except ImportError:
        return None
    try:
        schema: dict[str, Any] = TypeAdapter(declared).json_schema()
    except Exception:
        return None
    return schema


# -- discovery -------------------------------------------------------------------------------


def _check_skill(where: str, skill: object) -> str | None:
    if skill is None:
        return None
    if not isinstance(skill, str) or not skill:
        raise InvalidArgument(
            f"{where} skill must be a non-empty string or None (every agent), got "
            f"{short(skill)} ({type(skill).__name__})"
        )
    return skill


def listings(live: tuple[LiveActor, ...], skill: str | None) -> tuple[AgentListing, ...]:
    """The agents among ``live`` actors (with ``skill``, when given), with their cards."""
    found = []
    for each in live:
        actor_class = each.actor_class
        if issubclass(actor_class, AgentActor):
            card = card_of_class(actor_class)
            if skill is None or skill in card.skills:
                found.append(AgentListing(each.ref, card))
    return tuple(found)


def find_agents(skill: str | None = None) -> Program[tuple[AgentListing, ...]]:
    """A program that finds the live agents of the system running it offering ``skill``
    (every live agent when ``None``), in tree order, each as an `AgentListing` — its ref and
    card. Built on the `live_actors` effect, so it works under asyncio and the simulator
    (where which agents are alive is part of the explored schedule).

    >>> from playbill import free_spawn, program, simulate
    >>> class Translator(AgentActor[str, str]):
    ...     skills = ("translate",)
    ...     def execute(self, text):
    ...         return text
    >>> @program
    ... def main():
    ...     yield free_spawn(Translator, name="translator")
    ...     return [found.ref.path for found in (yield find_agents("translate"))]
    >>> simulate(main()).value
    ['/app/translator']
    """
    wanted = _check_skill("find_agents()", skill)
    return live_actors().map(lambda live: listings(live, wanted))
