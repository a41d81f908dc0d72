"""The values a Mixture-of-Agents passes between its parts: what proposers receive
(`LayerInput`), what an aggregator receives (`Proposals`) and may return (`LayerOutput`)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from attrs import frozen

__all__ = ["LayerInput", "LayerOutput", "Proposal", "Proposals", "format_proposals"]

V = TypeVar("V")


@final
@frozen
class LayerInput(Generic[V]):
    """What each proposer of a layer receives: the ``value`` to work on and the ``directive``
    the previous layer's aggregator gave for this layer (``None`` when it gave none)."""

    value: V
    directive: Any = None


@final
@frozen
class LayerOutput(Generic[V]):
    """What an aggregator returns to pass a ``directive`` to the next layer's proposers (and
    to them only) beside its ``result``. A plain return passes no directive."""

    result: V
    directive: Any = None


@final
@frozen
class Proposal:
    """One proposer's answer: the ``index`` of the proposer in the layer, and its ``output``."""

    index: int
    output: Any


@final
@frozen
class Proposals(Generic[V]):
    """What a layer's aggregator receives: the layer's input ``value`` (without the directive,
    which is for the proposers), the ``successes`` that made the quorum, ordered by proposer
    index, and the ``failures`` seen before the quorum was reached, in the order they came."""

    value: V
    successes: tuple[Proposal, ...]
    failures: tuple[BaseException, ...] = ()

    @property
    def outputs(self) -> tuple[Any, ...]:
        """The successful outputs, ordered by proposer index."""
        return tuple(proposal.output for proposal in self.successes)


def format_proposals(proposals: object) -> str:
    """The text an aggregator's model reads: the question, each proposal numbered by its
    proposer, and each failure (so the model knows who did not answer).

    >>> print(format_proposals(Proposals("2+2?", (Proposal(0, "4"), Proposal(2, "four")),
    ...                                  (TimeoutError("slow"),))))
    Question: 2+2?
    Proposal 1 (proposer 0): 4
    Proposal 2 (proposer 2): four
    Failed: TimeoutError: slow
    """
    if not isinstance(proposals, Proposals):
        from playbill.effects import InvalidArgument

        raise InvalidArgument(
            f"format_proposals() takes the Proposals an aggregator receives, got "
            f"{proposals!r:.80} ({type(proposals).__name__})"
        )
    lines = [f"Question: {proposals.value}"]
    for number, proposal in enumerate(proposals.successes, start=1):
        lines.append(f"Proposal {number} (proposer {proposal.index}): {proposal.output}")
    for failure in proposals.failures:
        lines.append(f"Failed: {type(failure).__name__}: {failure}")
    return "\n".join(lines)
