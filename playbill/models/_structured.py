"""Structured output: a reply validated against a type (a pydantic model, a dataclass, a
``TypedDict``, ``list[int]`` ...) through pydantic's ``TypeAdapter``; a reply that does not
validate goes back to the model with the errors, a bounded number of times."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, final

from playbill.effects import InvalidArgument, PlaybillError, Program, perform, program
from playbill.effects._checks import check_count
from playbill.models._effects import Complete
from playbill.models._tools import pydantic_module
from playbill.models._values import JsonSchema, Message, UserMessage

__all__ = ["OutputValidationFailed", "complete_structured"]

T = TypeVar("T")


@final
class OutputValidationFailed(PlaybillError, ValueError):
    """The model's replies did not validate as the output type, retries included;
    ``errors`` are pydantic's errors for the last reply, ``text`` that reply."""

    def __init__(self, message: str, *, errors: list[Any], text: str) -> None:
        super().__init__(message)
        self.errors = errors
        self.text = text


def complete_structured(
    messages: Iterable[Message | str],
    model: str,
    output_type: type[T],
    *,
    retries: int = 2,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> Program[T]:
    """A program that asks ``model`` for a reply of ``output_type`` (a JSON schema is sent
    as the response format) and gives it validated. A reply that does not validate is sent
    back with pydantic's errors, at most ``retries`` times; then `OutputValidationFailed`.

    >>> from pydantic import BaseModel
    >>> from playbill.interpreters import stub
    >>> from playbill.models import ScriptedModel, model_handlers
    >>> class City(BaseModel):
    ...     name: str
    ...     population: int
    >>> model = ScriptedModel(['{"name": "Paris"}', '{"name": "Paris", "population": 2100000}'])
    >>> stub.run(complete_structured(["Biggest city of France?"], "m", City), model_handlers(model))
    City(name='Paris', population=2100000)
    """
    pydantic = pydantic_module()
    try:
        adapter = pydantic.TypeAdapter(output_type)
        schema = adapter.json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as error:
        raise InvalidArgument(
            f"complete_structured() output_type must be a type pydantic can validate (a "
            f"BaseModel, a dataclass, a TypedDict, list[int] ...), got {output_type!r}: {error}"
        ) from None
    allowed = check_count("complete_structured() retries", retries, minimum=0)
    name = getattr(output_type, "__name__", "output")
    first = Complete(
        messages,
        model,
        (),
        temperature,
        max_tokens,
        JsonSchema(name if name.isidentifier() else "output", schema),
    )
    return _structured(first, adapter, allowed)


@program
def _structured(first: Complete, adapter: Any, retries: int) -> Any:
    pydantic = pydantic_module()
    request = first
    for attempt in range(retries + 1):
        completion = yield perform(request)
        try:
            return adapter.validate_json(completion.text)
        except pydantic.ValidationError as error:
            problems = error.errors(include_url=False)
            if attempt == retries:
                raise OutputValidationFailed(
                    f"the reply did not validate as {first.response_format.name} after "  # type: ignore[union-attr]
                    f"{retries + 1} tries: {error}; the last reply was {completion.text[:200]!r}",
                    errors=problems,
                    text=completion.text,
                ) from None
            feedback = UserMessage(
                "Your reply did not match the required JSON schema:\n"
                + "\n".join(
                    f"- {'.'.join(str(part) for part in problem['loc']) or 'reply'}: "
                    f"{problem['msg']}"
                    for problem in problems
                )
                + "\nReply again with JSON only, matching the schema."
            )
            request = Complete(
                (*request.messages, completion.message, feedback),
                request.model,
                request.tools,
                request.temperature,
                request.max_tokens,
                request.response_format,
            )
    raise AssertionError("unreachable")  # pragma: no cover
