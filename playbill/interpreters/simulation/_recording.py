"""Replaying in the simulator a run recorded under asyncio (``ActorSystem(record=...)``):
`replay_recording`, and what `explore(around=...)` starts from (`around_recording`)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, final

import attrs

from playbill.actors._reports import short
from playbill.effects import InvalidArgument, NondeterminismError, Now, Program, Random
from playbill.interpreters._codec import Codec, TypeNames
from playbill.interpreters._recording_file import RecordedMessage, Recording, read_recording
from playbill.interpreters.simulation._explore import simulate
from playbill.interpreters.simulation._schedule import SimulationResult
from playbill.interpreters.simulation._world import CURRENT_WORLD

A = TypeVar("A")


class RecordingDivergence(NondeterminismError):
    """The simulator, replaying a recording, would do something other than what the
    recording says happened next."""


# -- replaying --------------------------------------------------------------------------------


@final
@attrs.frozen
class RecordingReplay:
    """The simulator's replay of a recording: its ``result`` (a `SimulationResult`, whose
    schedule replays the same run with `replay`), how many recorded messages it followed,
    and ``note``: whether the recording was complete or where it ended."""

    result: SimulationResult[Any]
    recording: Recording
    followed: int
    note: str


def _describe(message: RecordedMessage) -> str:
    return f"{message.path} handled a {message.kind} from {message.sender}"


class _Follow:
    """A chooser that picks, at each step, what the recording says came next: the actor that
    handled the next recorded message, from that sender (its other steps — fibers running,
    system messages — in between, in the simulator's stable order)."""

    every_step = True

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.messages = recording.messages
        self.taken = [False] * len(self.messages)
        self.position = 0  # the first message not yet followed
        self.pending: dict[str, deque[int]] = {}
        for index, message in enumerate(self.messages):
            self.pending.setdefault(message.path, deque()).append(index)
        self.step = 0
        self.followed = 0
        self.free_from: int | None = None  # the step from which the prefix was used up
        self.jitter = 0

    # what an option is: ("user", cell path, sender, message type), or ("other",) / ("timer",)
    @staticmethod
    def _kind(option: Any) -> tuple[str, str, str, str]:
        name = option[0]
        if name.startswith("handle "):
            cell, sender = option[2]
            box = cell.mailbox
            if box.system:
                return ("other", "", "", "")
            queue = box.user
            envelope = queue[0]
            if sender is not None and envelope.sender != sender:
                envelope = next(each for each in queue if each.sender == sender)
            return ("user", cell.path, envelope.sender, type(envelope.message).__qualname__)
        if name.startswith("timer "):
            return ("timer", "", "", "")
        return ("other", "", "", "")

    def _take(self, index: int) -> None:
        self.taken[index] = True
        self.pending[self.messages[index].path].popleft()
        self.followed += 1
        while self.position < len(self.messages) and self.taken[self.position]:
            self.position += 1
        if (
            self.position == len(self.messages)
            and not self.recording.complete
            and self.free_from is None
        ):
            self.free_from = self.step + 1

    def choose(self, options: Sequence[str]) -> int:
        self.step += 1
        raw = options.options  # type: ignore[attr-defined]
        kinds = [self._kind(option) for option in raw]
        messages = self.messages
        if self.position < len(messages):
            expected = messages[self.position]
            for index, (kind, path, sender, _) in enumerate(kinds):
                if kind == "user" and path == expected.path and sender == expected.sender:
                    return self._handle(index, self.position, kinds[index])
        for index, (kind, *_) in enumerate(kinds):
            if kind == "other":
                return index
        for index, (kind, path, sender, _) in enumerate(kinds):
            queue = self.pending.get(path)
            if kind == "user" and queue and messages[queue[0]].sender == sender:
                return self._handle(index, queue[0], kinds[index])
        for index, (kind, *_) in enumerate(kinds):
            if kind == "timer":
                return index
        for index, (kind, path, _, _) in enumerate(kinds):
            if kind == "user" and not self.pending.get(path) and not self.recording.complete:
                if self.free_from is None:
                    self.free_from = self.step
                return index  # past the recording's end: the simulator goes on
        raise self._diverged(kinds)

    def _handle(self, index: int, recorded: int, kind: tuple[str, str, str, str]) -> int:
        message = self.messages[recorded]
        if kind[3] != message.kind:
            raise RecordingDivergence(
                f"replaying {self.recording.path} diverged at step {self.step}: the recording "
                f"says {_describe(message)} (recorded message {recorded + 1} of "
                f"{len(self.messages)}), but the simulator's next message from {kind[2]} to "
                f"{kind[1]} is a {kind[3]}; the program is not the one recorded"
            )
        self._take(recorded)
        return index

    def _diverged(self, kinds: list[tuple[str, str, str, str]]) -> RecordingDivergence:
        would = "; ".join(
            f"{path} handle a {kind} from {sender}" for _, path, sender, kind in kinds
        )
        if self.position < len(self.messages):
            says = (
                f"says {_describe(self.messages[self.position])} next (recorded message "
                f"{self.position + 1} of {len(self.messages)})"
            )
        else:
            says = f"has no more messages (all {len(self.messages)} followed)"
        return RecordingDivergence(
            f"replaying {self.recording.path} diverged at step {self.step}: the recording "
            f"{says}, but the simulator could only have {would}; the program is not the one "
            "recorded, or depends on something outside its effects"
        )

    def decide(self, label: str, probability: float) -> bool:
        return False

    def draw(self, buckets: int) -> int:
        jitters = self.recording.jitters
        if self.jitter >= len(jitters):
            return 0
        value = jitters[self.jitter]
        self.jitter += 1
        return min(buckets - 1, int(value * buckets))

    def finished(self) -> None:
        if self.recording.complete and self.position < len(self.messages):
            raise RecordingDivergence(
                f"replaying {self.recording.path} diverged: the simulated run ended after "
                f"{self.followed} of the {len(self.messages)} recorded messages; the recording "
                f"says {_describe(self.messages[self.position])} next; the program is not the "
                "one recorded"
            )


class _Served:
    """Handlers that answer each effect with its recorded result, found by who performs it
    and its number among theirs. ``strict``: a missing or different one is a divergence;
    otherwise (exploring around a recording) the user's handler answers instead."""

    def __init__(
        self,
        recording: Recording,
        codec: Codec,
        fallback: Mapping[type[Any], Callable[[Any], Any]],
        strict: bool,
    ) -> None:
        self.recording = recording
        self.codec = codec
        self.fallback = fallback
        self.strict = strict
        self.results = {(each.context, each.index): each for each in recording.results}
        self.counters: dict[str, int] = {}
        self.divergence: RecordingDivergence | None = None

    def table(self) -> dict[type[Any], Callable[[Any], Any]]:
        kinds: set[type[Any]] = {Now, Random, *self.fallback}
        return dict.fromkeys(kinds, self.serve)

    def serve(self, effect: Any) -> Any:
        world = CURRENT_WORLD.get()
        context = world.sender_now if world is not None else "main"
        index = self.counters.get(context, 0)
        self.counters[context] = index + 1
        found = self.results.get((context, index))
        kind = type(effect).__qualname__
        if found is not None and found.kind == kind:
            if found.refused is not None:
                raise RecordingDivergence(
                    f"the recording could not keep what {kind} gave {context} (its effect "
                    f"{index + 1}): {found.refused}"
                )
            if found.error is not None:
                raise self.codec.decode(found.error)
            return self.codec.decode(found.value)
        handler = self.fallback.get(type(effect))
        if self.strict and (found is not None or self.recording.complete or handler is None):
            what = f"a {found.kind}" if found is not None else "nothing (no more effects of theirs)"
            error = RecordingDivergence(
                f"replaying {self.recording.path} diverged: {context} performed {short(effect)} "
                f"as its effect {index + 1}, where the recording has {what}; the program is "
                "not the one recorded"
            )
            if self.divergence is None:
                self.divergence = error
            raise error
        if handler is not None:
            return handler(effect)
        if type(effect) is Now:
            return world.clock if world is not None else 0.0
        return 0.5


def _as_recording(recording: object) -> Recording:
    if isinstance(recording, Recording):
        return recording
    return read_recording(recording)  # type: ignore[arg-type]


def replay_recording(
    program: Program[A],
    recording: str | os.PathLike[str] | Recording,
    *,
    handlers: Mapping[type[Any], Callable[[Any], Any]] | None = None,
    registry: TypeNames | None = None,
    ask_timeout: float | None = None,
    trace: bool = True,
) -> RecordingReplay:
    """Replay in the simulator the run ``ActorSystem(record=...)`` recorded: each actor handles
    its messages in the recorded order, from the recorded senders, and every handler-answered
    effect (time, randomness, ``handlers``' effects) gets its recorded result. At the first
    step where the simulator would do otherwise, `RecordingDivergence` says which step, what
    the recording says and what the simulator could do. A recording cut short replays its
    prefix, then goes on as the simulator chooses; ``note`` says where it ended.

    ``handlers`` names the user's effect types (their results come from the recording; the
    functions answer only past the end of a cut recording); ``registry`` names the classes of
    recorded values.

    >>> import os, tempfile
    >>> from playbill import Actor, free_spawn, program, run
    >>> class Echo(Actor):
    ...     def receive(self, message):
    ...         return message
    >>> @program
    ... def main():
    ...     echo = yield free_spawn(Echo, name="echo")
    ...     return (yield echo.free_ask("hi"))
    >>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
    >>> run(main(), record=path)
    'hi'
    >>> replayed = replay_recording(main(), path)
    >>> replayed.result.value, replayed.followed
    ('hi', 1)
    """
    if not isinstance(program, Program):
        raise InvalidArgument(
            f"replay_recording() takes the Program that was recorded, got {short(program)}"
        )
    if handlers is not None and not isinstance(handlers, Mapping):
        raise InvalidArgument(
            f"replay_recording() handlers must be a mapping from effect type to function, got "
            f"{short(handlers)}"
        )
    if registry is not None and not isinstance(registry, TypeNames):
        raise InvalidArgument(
            "replay_recording() registry must name the classes of recorded values (a "
            f"playbill.flow.Registry, or a TypeNames) or be None, got {short(registry)}"
        )
    read = _as_recording(recording)
    follow = _Follow(read)
    served = _Served(read, Codec(registry), handlers or {}, strict=True)
    options: dict[str, Any] = {}
    if ask_timeout is not None:
        options["ask_timeout"] = ask_timeout
    result = simulate(
        program,
        strategy=follow,
        handlers=served.table(),
        name=read.system,
        delivery="per_pair",
        trace=trace,
        **options,
    )
    if served.divergence is not None:
        raise served.divergence
    follow.finished()
    if read.complete:
        note = (
            f"the recording is complete: all {len(read.messages)} recorded messages and "
            f"{len(read.results)} effect results followed"
        )
    else:
        where = (
            f"the simulator chose on its own from step {follow.free_from}"
            if follow.free_from is not None
            else "the run ended within it"
        )
        note = (
            f"the recording was cut short after line {read.lines} (no end line): "
            f"{follow.followed} of its {len(read.messages)} messages followed; {where}"
        )
    return RecordingReplay(result, read, follow.followed, note)


def around_recording(
    recording: str | os.PathLike[str] | Recording | RecordingReplay,
    program: Program[Any],
    handlers: Mapping[type[Any], Callable[[Any], Any]] | None,
    registry: TypeNames | None = None,
) -> tuple[tuple[int, ...], tuple[int, ...], str, Callable[[], dict[type[Any], Any]]]:
    """What `explore(around=...)` starts from: the recorded run's choices and their widths,
    the system's name, and a factory of handlers serving the recorded results leniently."""
    replayed = (
        recording
        if isinstance(recording, RecordingReplay)
        else replay_recording(program, recording, handlers=handlers, registry=registry, trace=False)
    )
    read = replayed.recording
    codec = Codec(registry)

    def fresh() -> dict[type[Any], Any]:
        return _Served(read, codec, handlers or {}, strict=False).table()

    result = replayed.result
    return tuple(result.schedule.choices), tuple(result.widths), read.system, fresh
