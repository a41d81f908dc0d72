"""The effects only a durable run answers: `await_input` and `patched`."""

from __future__ import annotations

from typing import Any, final

from attrs import field, frozen

from playbill.effects import Effect, InvalidArgument, Program, perform

__all__ = ["AwaitInput", "Patched", "await_input", "patched", "schema_name"]


def schema_name(schema: object) -> str:
    """How a schema is named in the journal and in listings: ``int``, ``Approval``,
    ``list[int]``."""
    if isinstance(schema, type):
        return schema.__qualname__
    return str(schema).replace("typing.", "")


def _check_prompt(_: object, __: object, prompt: Any) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidArgument(
            f"await_input prompt must be a non-empty str (what the person is asked), got {prompt!r}"
        )


def _check_change(_: object, __: object, change: Any) -> None:
    if not isinstance(change, str) or not change.strip():
        raise InvalidArgument(
            f"patched change must be a non-empty str naming the change "
            f"(patched('send-receipt')), got {change!r}"
        )


@final
@frozen
class AwaitInput(Effect[Any]):
    """Wait for a person's answer to ``prompt``, a value of ``schema``: a durable run pauses
    here (the process may exit) until ``Durable.resume(workflow_id, value)``."""

    prompt: str = field(validator=_check_prompt)
    schema: Any = field(repr=schema_name)


@final
@frozen
class Patched(Effect[bool]):
    """Whether the code guarded by the change named ``change`` runs: True for new runs, False
    while a journal recorded before the change replays."""

    change: str = field(validator=_check_change)


def await_input(prompt: str, schema: Any = object) -> Program[Any]:
    """Pause the durable workflow until a person answers ``prompt`` with a value of
    ``schema`` (checked by pydantic when it is installed, else by ``isinstance``).

    >>> await_input("approve the refund?", bool)
    perform(AwaitInput(prompt='approve the refund?', schema=bool))
    """
    return perform(AwaitInput(prompt, schema))


def patched(change: str) -> Program[bool]:
    """True where new code should take the branch of ``change``; False while a workflow whose
    journal was written before the change replays (Temporal's ``patched``).

    >>> patched("send-receipt")
    perform(Patched(change='send-receipt'))
    """
    return perform(Patched(change))
