"""The errors a Flow raises: while running (`FlowError` and its kinds) and while loading a
document (`FlowSpecError`)."""

from __future__ import annotations

from typing import Any, final

from playbill.effects import PlaybillError

__all__ = [
    "FilteredOut",
    "FlowError",
    "FlowSpecError",
    "LoopLimitExceeded",
    "NoBranchMatched",
    "QuorumNotReached",
    "WrongInput",
]


class FlowError(PlaybillError):
    """A flow failed for a reason of its own (not an error raised by one of its steps).

    ``path`` is where in the flow it happened, in the same notation as a document path
    (``steps[2].on_true``; empty for the root)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


@final
class LoopLimitExceeded(FlowError):
    """A `loop` or `loop_with_state` body kept returning `Continue` for ``max_iter`` rounds;
    ``last`` is the value (or state) it last continued with."""

    def __init__(self, message: str, path: str, last: Any) -> None:
        super().__init__(message, path)
        self.last = last


@final
class FilteredOut(FlowError, LookupError):
    """A `filter` predicate rejected the value."""


@final
class NoBranchMatched(FlowError, LookupError):
    """A `branch` had no case for the input's type and no ``otherwise`` flow."""


@final
class WrongInput(FlowError, TypeError):
    """A flow got an input of the wrong shape (``zip_all`` given a different number of inputs
    than it has flows, a loop body returning neither `Continue` nor `Done`, ...)."""


@final
class QuorumNotReached(FlowError):
    """`at_least(k, ...)` saw so many failures that ``k`` successes became impossible;
    ``failures`` holds them, in the order they happened."""

    def __init__(self, message: str, path: str, failures: tuple[BaseException, ...]) -> None:
        super().__init__(message, path)
        self.failures = failures


@final
class FlowSpecError(PlaybillError, ValueError):
    """A flow document (dict, JSON or YAML) is not a valid flow; the message starts with the
    document path of the bad node, e.g. ``steps[2].on_true: unknown function 'score_ok'``.

    >>> from playbill.flow import Registry, from_dict
    >>> from_dict({"format": "playbill.flow/1", "kind": "nothing"}, Registry())
    Traceback (most recent call last):
    ...
    playbill.flow._errors.FlowSpecError: (root): unknown kind 'nothing'; known kinds: ...
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or '(root)'}: {problem}")
        self.path = path
        self.problem = problem
