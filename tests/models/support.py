"""Shared pieces of the model tests."""

from playbill.models import TokenChunk


def chunks_of(effects_or_events):
    """The token chunks among a stub run's effects or a simulation's events, as text."""
    found = []
    for item in effects_or_events:
        event = getattr(item, "event", None)
        if isinstance(event, TokenChunk):
            found.append(event.text)
    return found
