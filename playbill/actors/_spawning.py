"""Spawning: what can be spawned, a child's name, building an instance, the root guardian, and
the realm a new system's refs carry."""

from __future__ import annotations

import contextlib
import functools
import itertools
import secrets
import weakref
from collections.abc import Callable
from typing import Any

from playbill.actors._actor import Actor
from playbill.actors._mailbox import Bounded, Unbounded
from playbill.actors._middleware import install_middleware
from playbill.actors._paths import check_name
from playbill.actors._reports import short
from playbill.actors._supervising import check_supervision
from playbill.effects import (
    ActorStopped,
    InvalidArgument,
)

__all__ = ["Guardian", "actor_label", "check_spawn", "child_name", "instantiate", "new_realm"]


class Guardian(Actor):
    """The root of every system: it supervises the top-level actors and takes no messages."""

    def receive(self, message: Any) -> Any:
        raise InvalidArgument(f"the root guardian takes no messages, got {short(message)}")


def check_spawn(actor: object, supervision: object, mailbox: object) -> None:
    """Refuse what cannot be spawned, saying what to pass instead."""
    if not (isinstance(actor, type) and issubclass(actor, Actor)):
        if not callable(actor):
            raise InvalidArgument(
                f"spawn takes an actor class or a zero-argument factory, got {short(actor)}"
            )
        if isinstance(actor, type) and not callable(getattr(actor, "receive", None)):
            raise InvalidArgument(
                f"{actor.__name__} has no receive(message) method, so it is not an actor; "
                "derive it from playbill.Actor and override receive"
            )
    if mailbox is not None and not isinstance(mailbox, (Unbounded, Bounded)):
        raise InvalidArgument(
            f"mailbox must be Unbounded() or Bounded(capacity, overflow), got {mailbox!r}"
        )
    if supervision is not None:
        check_supervision(supervision)


def child_name(
    parent_path: str,
    stopping: bool,
    siblings: Any,
    name: str | None,
    fresh: Callable[[], int],
    actor: object = None,
) -> str:
    """The name of a new child: checked and unique among its ``siblings``, or, when none is
    given, a fresh one that says what it is: the actor's name, ``$`` and a number
    (``Worker$3``; ``$3`` for a factory with no name, such as a lambda). ``$`` is never in a
    name a user gives, so the two never collide.

    >>> child_name("/app", False, {}, None, lambda: 3, actor=Guardian)
    'Guardian$3'
    """
    if stopping:
        raise ActorStopped(f"{parent_path} is stopping, so it cannot spawn children")
    if name is None:
        try:
            label = _LABELS[actor]
        except (KeyError, TypeError):
            label = actor_label(actor)
            with contextlib.suppress(TypeError):
                _LABELS[actor] = label
        return f"{label}${fresh()}"
    check_name(name)
    if name in siblings:
        raise InvalidArgument(
            f"{parent_path} already has a child named {name!r}; choose another name, or stop "
            "that child and wait for it to terminate first"
        )
    return name


_LABELS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # actor_label's


def actor_label(actor: object) -> str:
    """What an unnamed child of ``actor`` (a class or a factory) is called before its number:
    the class's name, a named factory's name (through `functools.partial`), without leading
    underscores, else nothing.

    >>> actor_label(Guardian), actor_label(lambda: Guardian())
    ('Guardian', '')
    """
    while isinstance(actor, functools.partial):
        actor = actor.func
    name = getattr(actor, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        return ""  # a lambda (``<lambda>``), or a callable object with no name
    return name.lstrip("_")


def instantiate(factory: Callable[[], Any], context: object) -> Any:
    """Build an actor instance from its factory and give it its context."""
    instance = factory()
    if not isinstance(instance, Actor) and not callable(getattr(instance, "receive", None)):
        raise InvalidArgument(
            f"{short(factory)} built {short(instance)}, which has no receive(message) method; "
            "spawn a subclass of playbill.Actor"
        )
    instance.context = context
    if getattr(instance, "middleware", None):  # (none: the instance is not touched)
        install_middleware(instance)
    return instance


_SIMULATED_REALMS = itertools.count(1)


def new_realm(simulated: bool = False) -> int:
    """The ``realm`` of a new system, which every ref of its actors carries: 63 random bits
    from the operating system's entropy (unique across systems and processes), or — for a
    simulated run — the next number of this process's count (never shown in a trace, so runs
    replay exactly; still distinct from run to run)."""
    if simulated:
        return next(_SIMULATED_REALMS)
    return secrets.randbits(63) | 1 << 62  # never 0, the realm of a ref built by hand
