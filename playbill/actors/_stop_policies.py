"""Stop policies: when an actor stops by itself, as frozen values and one pure decision that
every interpreter's kernel uses.

An actor names its policy with the attribute ``stop_policy`` (a class attribute, or one its
``__init__`` sets, so a factory can choose it per spawn); the kernel reads it once, at spawn.
"""

from __future__ import annotations

from typing import Any, Final, final

from attrs import field, frozen

from playbill.effects import InvalidArgument
from playbill.effects._checks import check_seconds

__all__ = [
    "NEVER",
    "ONE_TIME",
    "WHEN_DRAINED",
    "AfterIdle",
    "AfterMessage",
    "Never",
    "OneTime",
    "StopPolicy",
    "WhenDrained",
    "check_stop_policy",
    "stop_policy_of",
    "stops_after",
]


@final
@frozen
class Never:
    """Never stop by itself (the default): only a stop, a supervisor or a shutdown ends it."""

    def __repr__(self) -> str:
        return "NEVER"


@final
@frozen
class OneTime:
    """Stop after handling one message."""

    def __repr__(self) -> str:
        return "ONE_TIME"


@final
@frozen
class AfterMessage:
    """Stop after handling a message equal to ``message`` (handled like any other first).

    >>> AfterMessage("bye")
    AfterMessage(message='bye')
    """

    message: Any


def _idle_seconds(value: object) -> float:
    return check_seconds("AfterIdle seconds", value, infinite=False)


@final
@frozen
class AfterIdle:
    """Stop once no message has been handled for ``seconds`` (counted from the start, then
    from the end of each message) on the interpreter's clock: the loop's under asyncio,
    virtual time under the simulator.

    >>> AfterIdle(2)
    AfterIdle(seconds=2.0)
    """

    seconds: float = field(converter=_idle_seconds)


@final
@frozen
class WhenDrained:
    """Stop once no user message is queued (nor waits for room): a graceful stop. Routers
    retire routees with it; it is the policy a retired actor takes whatever it had."""

    def __repr__(self) -> str:
        return "WHEN_DRAINED"


NEVER: Final = Never()
ONE_TIME: Final = OneTime()
WHEN_DRAINED: Final = WhenDrained()

StopPolicy = Never | OneTime | AfterMessage | AfterIdle | WhenDrained

_ACCEPTED = "NEVER, ONE_TIME, AfterMessage(message) or AfterIdle(seconds)"


def check_stop_policy(value: object, where: str = "stop_policy") -> StopPolicy:
    """``value`` if it is a stop policy, else `InvalidArgument` naming what is accepted.

    >>> check_stop_policy(ONE_TIME)
    ONE_TIME
    >>> try:
    ...     check_stop_policy("once")
    ... except InvalidArgument as error:
    ...     print(error)  # doctest: +ELLIPSIS
    stop_policy must be NEVER, ONE_TIME, ... got 'once' (str)
    """
    if not isinstance(value, (Never, OneTime, AfterMessage, AfterIdle, WhenDrained)):
        raise InvalidArgument(
            f"{where} must be {_ACCEPTED}, got {value!r} ({type(value).__name__})"
        )
    return value


def stop_policy_of(instance: object) -> StopPolicy | None:
    """The policy an actor instance names (``None`` for `NEVER`, so the interpreters' hot
    loops skip the decision with one test)."""
    policy = getattr(instance, "stop_policy", NEVER)
    if policy is NEVER:  # (most actors: no check to make)
        return None
    policy = check_stop_policy(policy, f"{type(instance).__name__}.stop_policy")
    return None if policy is NEVER else policy


def stops_after(policy: StopPolicy | None, message: object, drained: bool) -> bool:
    """Whether an actor with ``policy`` stops now, having just handled ``message``
    (``drained``: nothing more is queued for it). `AfterIdle` decides on its timer instead.

    >>> stops_after(ONE_TIME, "x", drained=False), stops_after(AfterMessage(3), 2, drained=True)
    (True, False)
    """
    kind = type(policy)
    if kind is OneTime:
        return True
    if kind is AfterMessage:
        try:
            return bool(message == policy.message)  # type: ignore[union-attr]
        except Exception:  # a message whose == raises is not the one it waits for
            return False
    if kind is WhenDrained:
        return drained
    return False
