"""Recordings: a production run under asyncio written as JSON lines (`Recorder`, what
``ActorSystem(record=path)`` uses), read back (`read_recording`); the simulator replays it
(`playbill.interpreters.simulation.replay_recording`).

A recording holds, in the order they happened: each message an actor handled (its path, the
sender — an actor's path, ``main`` or ``runtime`` — and the message's type), each
handler-answered effect's result (`Now`, `Random` and the user's effects, keyed by who
performed it and its number among theirs), and each random draw of the runtime (restart
backoff jitter). The first line names the format and its version; the last, ``end``, says the
run shut down: without it the recording was cut short (a crash) and replays as a prefix.

Version 2 writes a handled message as a number: the first message an actor handles from a
sender and of a type is preceded by a line defining that number (``{"d": 3, "h": path, "s":
sender, "t": type}``), and each such message is then the line ``3``. A run has few of these
triples, so a handled message costs two or three bytes of file rather than forty-odd.
Version 1 (``{"h": path, "s": sender, "t": type}`` per message) still reads.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, final

import attrs

from playbill.actors._reports import short
from playbill.effects import InvalidArgument, PlaybillError
from playbill.interpreters._codec import Codec, NotEncodable, TypeNames

FORMAT = "playbill-recording"
VERSION = 2
READS = (1, 2)  # the versions read_recording reads


class RecordingCorrupted(PlaybillError, ValueError):
    """A line of a recording, before its last, is not a recording entry: nothing after it is
    trusted."""


# -- writing ----------------------------------------------------------------------------------


@final
class Recorder:
    """Writes a recording of an asyncio run, one JSON line per event (a handled message as
    the number of its actor, sender and type, defined once). What happens is noted in memory
    and written in one batch, then flushed to the operating system, every ``flush_every``
    seconds and whenever ``flush_size`` lines are waiting, whichever comes first: a crash of
    the process loses at most what was noted since the last write, and what was written stays
    a readable prefix that replays. ``ActorSystem(record=path)`` makes one; make it yourself to name
    ``registry`` (the classes of recorded values that are not plain data: a
    `playbill.flow.Registry`) or to change the bounds.

    >>> import asyncio, os, tempfile
    >>> from playbill import ActorSystem, now
    >>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
    >>> async def main():
    ...     async with ActorSystem(record=Recorder(path, flush_size=1000)) as system:
    ...         return await system.run(now())
    >>> _ = asyncio.run(main())
    >>> read_recording(path).complete
    True
    """

    __slots__ = (
        "_counters",
        "_file",
        "_lines",
        "_loop",
        "_pending",
        "_tick",
        "_waiting",
        "codec",
        "flush_every",
        "flush_size",
        "path",
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        registry: TypeNames | None = None,
        flush_every: float = 0.05,
        flush_size: int = 10_000,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgument(
                f"Recorder path must be a file path (str or os.PathLike), got {short(path)}"
            )
        if registry is not None and not isinstance(registry, TypeNames):
            raise InvalidArgument(
                "Recorder registry must name the classes of recorded values (a "
                f"playbill.flow.Registry, or a TypeNames) or be None, got {short(registry)}"
            )
        if (
            not isinstance(flush_every, (int, float))
            or isinstance(flush_every, bool)
            or not (flush_every > 0)
        ):
            raise InvalidArgument(
                f"Recorder flush_every must be a number of seconds > 0, got {flush_every!r}"
            )
        if not isinstance(flush_size, int) or isinstance(flush_size, bool) or flush_size < 1:
            raise InvalidArgument(
                f"Recorder flush_size must be an int >= 1 (the entries noted before they are "
                f"written at the latest), got {flush_size!r}"
            )
        self.path = os.fspath(path)
        self.codec = Codec(registry)
        self.flush_every = float(flush_every)
        self.flush_size = flush_size
        self._file: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick: asyncio.TimerHandle | None = None
        # the lines noted and not yet written, and how many: an item may be several lines (a
        # run of handled messages, appended by a recording cell's `_Notes`)
        self._pending: list[str] = []
        self._waiting = 0
        self._counters: dict[str, int] = {}
        # the line of each (actor, sender, message type) handled — its number, defined by a
        # line of its own before its first use: a run has few of them, so noting a handled
        # message takes no new object (none for the garbage collector)
        self._lines: dict[tuple[str, str, type], str] = {}

    def start(self, system: str) -> None:
        if self._file is not None:
            raise InvalidArgument(
                f"the Recorder of {self.path} is already recording a system; make one per run"
            )
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close)
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._line({FORMAT: VERSION, "system": system})
        self.flush()
        if self._loop is not None:  # a step of the loop writes what is noted, now and then
            self._tick = self._loop.call_later(self.flush_every, self._periodic)

    def _periodic(self) -> None:
        self.flush()
        if self._file is not None and not self._file.closed:
            assert self._loop is not None
            self._tick = self._loop.call_later(self.flush_every, self._periodic)

    def _line(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._pending.append(json.dumps(entry, separators=(",", ":")) + "\n")
        self._waiting += 1
        if self._loop is None or self._waiting >= self.flush_size:
            self.flush()

    def flush(self) -> None:
        """Write what is noted and flush it to the operating system (a crash of the process
        then loses none of it)."""
        file = self._file
        pending = self._pending
        if file is None or file.closed or not pending:
            return
        text = "".join(pending)
        pending.clear()
        self._waiting = 0
        file.write(text)
        file.flush()

    def handled(self, path: str, sender: str, message: object) -> None:
        if self._file is None:
            return
        self._pending.append(self.line_of(path, sender, type(message)))
        self._waiting += 1
        if self._loop is None or self._waiting >= self.flush_size:
            self.flush()

    def line_of(self, path: str, sender: str, kind: type) -> str:
        """The line that notes that ``path`` handled a ``kind`` from ``sender``: its number.
        The first time, the line defining the number is noted now, so it precedes every use
        in the file."""
        key = (path, sender, kind)
        line = self._lines.get(key)
        if line is None:
            number = len(self._lines)
            entry = {"d": number, "h": path, "s": sender, "t": kind.__qualname__}
            self._pending.append(json.dumps(entry, separators=(",", ":")) + "\n")
            self._waiting += 1
            line = self._lines[key] = f"{number}\n"
        return line

    def reserve(self, context: str) -> int:
        index = self._counters.get(context, 0)
        self._counters[context] = index + 1
        return index

    def result(
        self, context: str, index: int, effect: object, value: object, error: BaseException | None
    ) -> None:
        entry: dict[str, Any] = {"r": context, "n": index, "k": type(effect).__qualname__}
        try:  # now, not when written: the program may change the value afterwards
            if error is not None:
                entry["x"] = self.codec.encode(error, "the failure")
            else:
                entry["v"] = self.codec.encode(value, "the result")
        except NotEncodable as refused:
            entry["u"] = str(refused)  # replayed as a clear error at that effect
        self._line(entry)

    def jitter(self, value: float) -> None:
        self._line({"j": value})

    def close(self) -> None:
        file = self._file
        if file is None or file.closed:
            return
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self.flush()
        file.write('{"end":true}\n')
        file.close()


# -- reading ----------------------------------------------------------------------------------


@final
@attrs.frozen
class RecordedMessage:
    """A message an actor handled, as recorded: the actor, the sender, the message's type."""

    path: str
    sender: str
    kind: str


@final
@attrs.frozen
class RecordedResult:
    """What a handler-answered effect gave: by whom (an actor's path or ``main``) and its
    number among theirs; the JSON form of the value or failure, or why it was not kept."""

    context: str
    index: int
    kind: str
    value: Any = None
    error: Any = None
    refused: str | None = None


@final
@attrs.frozen
class Recording:
    """A recording read back (`read_recording`). ``complete`` is False when it was cut short
    (no ``end`` line): it replays as a prefix."""

    path: str
    system: str
    messages: tuple[RecordedMessage, ...]
    results: tuple[RecordedResult, ...]
    jitters: tuple[float, ...]
    complete: bool
    lines: int


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read the recording at ``path``. A last line cut in the middle (a crash while writing)
    is dropped; a bad line before the last is `RecordingCorrupted`, naming it.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "cut.jsonl")
    >>> lines = ['{"playbill-recording":1,"system":"app"}', '{"h":"/app/a","s":"main","t":"str"}']
    >>> with open(path, "w") as file:
    ...     _ = file.write("\\n".join(lines) + '\\n{"h":')  # cut mid-line
    >>> recording = read_recording(path)
    >>> len(recording.messages), recording.complete
    (1, False)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgument(
            f"recording must be a file path (str or os.PathLike) or a Recording, got {short(path)}"
        )
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().split("\n")
    except OSError as error:
        raise InvalidArgument(
            f"recording {os.fspath(path)!r} cannot be read ({error.strerror}); pass the path "
            "ActorSystem(record=...) wrote"
        ) from None
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or FORMAT not in header:
        raise InvalidArgument(
            f"recording {os.fspath(path)!r} is not a playbill recording (its first line is "
            f"{lines[0][:80]!r}); pass a file ActorSystem(record=...) wrote"
        )
    if header[FORMAT] not in READS:
        raise InvalidArgument(
            f"recording {os.fspath(path)!r} has format version {header[FORMAT]!r}; this playbill "
            f"reads versions {', '.join(map(str, READS))}"
        )
    handled: dict[int, RecordedMessage] = {}  # version 2's numbered lines
    messages: list[RecordedMessage] = []
    results: list[RecordedResult] = []
    jitters: list[float] = []
    complete = False
    read = 1
    # the writer ends every line with a newline: a last line without one was cut mid-write
    # (a crash), and is dropped even where its start parses (a number cut short is a number)
    cut_short = lines[-1] != ""
    last = len(lines) - (2 if cut_short else 1)
    while last > 0 and lines[last] == "":
        last -= 1
    for number in range(1, last + 1):
        text = lines[number]
        try:
            entry = json.loads(text)
            if type(entry) is int:
                messages.append(handled[entry])
            elif "d" in entry:
                handled[int(entry["d"])] = RecordedMessage(entry["h"], entry["s"], entry["t"])
            elif "h" in entry:
                messages.append(RecordedMessage(entry["h"], entry["s"], entry["t"]))
            elif "r" in entry:
                results.append(
                    RecordedResult(
                        entry["r"],
                        entry["n"],
                        entry["k"],
                        entry.get("v"),
                        entry.get("x"),
                        entry.get("u"),
                    )
                )
            elif "j" in entry:
                jitters.append(float(entry["j"]))
            elif entry.get("end") is True:
                complete = True
            else:
                raise ValueError("unknown entry")
        except (ValueError, KeyError, TypeError, AttributeError):
            if number == last and not complete:  # cut in the middle of its last line
                break
            raise RecordingCorrupted(
                f"recording {os.fspath(path)!r} line {number + 1} is not a recording entry: "
                f"{text[:80]!r}; nothing after it can be trusted (a complete recording's lines "
                "are each one JSON value)"
            ) from None
        read = number + 1
    return Recording(
        os.fspath(path),
        str(header.get("system", "app")),
        tuple(messages),
        tuple(results),
        tuple(jitters),
        complete,
        read,
    )
