"""Recordings, as `playbill.durable` re-exports them: written by ``ActorSystem(record=...)``
(`Recorder`, `read_recording`: `playbill.interpreters`) and replayed in the simulator
(`replay_recording`: `playbill.interpreters.simulation`). They live with the interpreters,
which write and replay them; nothing here reaches below."""

from __future__ import annotations

from playbill.interpreters._recording_file import (
    RecordedMessage,
    RecordedResult,
    Recorder,
    Recording,
    RecordingCorrupted,
    read_recording,
)
from playbill.interpreters.simulation._recording import (
    RecordingDivergence,
    RecordingReplay,
    replay_recording,
)

__all__ = [
    "RecordedMessage",
    "RecordedResult",
    "Recorder",
    "Recording",
    "RecordingCorrupted",
    "RecordingDivergence",
    "RecordingReplay",
    "read_recording",
    "replay_recording",
]
