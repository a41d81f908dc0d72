"""What a conformance program's run shows beyond its outcome, in a form both interpreters give
alike: each actor's lifecycle log and the dead letters by reason.

A lifecycle log is, per actor path, the actor's own lifecycle events in order: ``Spawned``,
``Failed(<directive>)``, ``Restarted`` and ``Stopped``. Times are left out, and so is the
interleaving of different actors' events (which is the schedule's). ``Emitted``,
``DeadLettered`` and ``Escalated`` are not lifecycle events. Neither interpreter publishes a
``Spawned`` for the root guardian; both publish its ``Stopped`` at shutdown. The errors the
``Failed`` and ``Restarted`` events carry are kept apart (`failure_errors`), by type name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

from playbill import ActorSystem, simulate
from playbill.actors import (
    ActorEvent,
    DeadLettered,
    DeadLetterReason,
    Failed,
    Restarted,
    Spawned,
    Stopped,
)
from tests.conformance.programs import Case

Lifecycle = dict[str, tuple[str, ...]]

# per_pair delivery: seeds 0-1, as test_simulation_with_per_pair_delivery runs them
RUNS: tuple[tuple[str, int], ...] = (
    ("causal", 0),
    ("causal", 1),
    ("causal", 2),
    ("per_pair", 0),
    ("per_pair", 1),
)

EVENT_BUFFER = 100_000  # far more than any program here publishes: nothing is dropped


Entry = tuple[str, str | None, str | None]


def entry(event: ActorEvent) -> Entry | None:
    """What a lifecycle event says about its actor (None: not a lifecycle event)."""
    kind = type(event)
    if kind is Spawned or kind is Stopped:
        return (kind.__name__, None, None)
    if kind is Failed:
        return ("Failed", type(event.error).__name__, event.directive)  # type: ignore[attr-defined]
    if kind is Restarted:
        return ("Restarted", type(event.error).__name__, None)  # type: ignore[attr-defined]
    return None


def entries(events: Iterable[ActorEvent]) -> dict[str, tuple[Entry, ...]]:
    """Each actor's lifecycle events in order, by path."""
    found: dict[str, list[Entry]] = {}
    for event in events:
        described = entry(event)
        if described is not None:
            found.setdefault(event.path, []).append(described)
    return {path: tuple(log) for path, log in sorted(found.items())}


def lifecycle(found: dict[str, tuple[Entry, ...]]) -> Lifecycle:
    """The lifecycle logs: ``Failed`` with its directive, no errors."""
    return {
        path: tuple(f"{kind}({directive})" if directive else kind for kind, _, directive in log)
        for path, log in found.items()
    }


def failure_errors(found: dict[str, tuple[Entry, ...]]) -> Lifecycle:
    """Per path, the type of the error each ``Failed`` and ``Restarted`` event carries."""
    errors = {
        path: tuple(f"{kind} {error}" for kind, error, _ in log if error is not None)
        for path, log in found.items()
    }
    return {path: log for path, log in errors.items() if log}


def failures_reported(found: dict[str, tuple[Entry, ...]]) -> Lifecycle:
    """The lifecycle logs without the supervisors' decisions: whether each actor failed
    (``Failed`` with its error type, no directive), not whether it was restarted."""
    return {
        path: tuple(
            f"{kind}({error})" if kind == "Failed" else kind
            for kind, error, _ in log
            if kind != "Restarted"
        )
        for path, log in found.items()
    }


def by_reason(counts: Mapping[DeadLetterReason, int]) -> dict[str, int]:
    return {
        reason.name: n for reason, n in sorted(counts.items(), key=lambda item: item[0].name) if n
    }


@frozen
class Observation:
    outcome: tuple[str, Any]
    entries: dict[str, tuple[Entry, ...]]  # read with lifecycle, failure_errors, ...
    dead_letters: dict[str, int]  # by DeadLetterReason name
    dead_letter_total: int  # system.dead_letters.count, result.dead_letters


def _outcome_of_error(error: BaseException) -> tuple[str, Any]:
    return ("error", type(error).__name__)


_asyncio_runs: dict[str, Observation] = {}


def under_asyncio(case: Case) -> Observation:
    """``case`` run once under asyncio with an event subscription (memoised: the comparisons
    with the simulator's runs share it)."""
    if case.name not in _asyncio_runs:
        _asyncio_runs[case.name] = asyncio.run(_under_asyncio(case))
    return _asyncio_runs[case.name]


async def _under_asyncio(case: Case) -> Observation:
    system = ActorSystem("app", handlers=case.handlers)
    outcome: tuple[str, Any]
    subscription = None
    try:
        async with system:
            subscription = system.events(buffer=EVENT_BUFFER)
            try:
                outcome = ("value", await system.run(case.build()))
            except Exception as error:
                outcome = _outcome_of_error(error)
    except Exception as error:
        outcome = _outcome_of_error(error)
    assert subscription is not None
    # drained after the shutdown, which publishes the Stopped events
    events = subscription.drain()
    assert subscription.dropped == 0, f"{subscription.dropped} events dropped: raise EVENT_BUFFER"
    letters = system.dead_letters
    return Observation(outcome, entries(events), by_reason(letters.by_reason), letters.count)


_simulated_runs: dict[tuple[str, int, str], Observation] = {}


def under_simulation(case: Case, seed: int, delivery: str) -> Observation:
    """``case`` simulated with ``seed`` and ``delivery`` (memoised, as `under_asyncio`)."""
    key = (case.name, seed, delivery)
    if key not in _simulated_runs:
        _simulated_runs[key] = _under_simulation(case, seed, delivery)
    return _simulated_runs[key]


def _under_simulation(case: Case, seed: int, delivery: str) -> Observation:
    result = simulate(case.build(), seed=seed, handlers=case.handlers, delivery=delivery)  # type: ignore[arg-type]
    assert result.status in ("completed", "failed"), result.format_trace()
    if result.status == "completed":
        outcome: tuple[str, Any] = ("value", result.value)
    else:
        assert result.error is not None
        outcome = _outcome_of_error(result.error)
    counts: dict[DeadLetterReason, int] = {}
    for event in result.events:
        if type(event) is DeadLettered:
            reason = event.letter.reason
            counts[reason] = counts.get(reason, 0) + 1
    return Observation(outcome, entries(result.events), by_reason(counts), result.dead_letters)
