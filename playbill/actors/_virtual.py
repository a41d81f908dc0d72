"""Virtual actors (Orleans grains): actors addressed by ``(type, key)`` that exist whenever
they are spoken to.

A `VirtualActors` directory is spawned once per grain type. Every message sent to it names its
grain by ``key(message)`` and is routed **at the send**, as a router's is (the interpreters
already do that for any `Router`): the grain of that key if it is active, else one activated
now — in the sender's own step, so concurrent first messages activate exactly one. A grain
loads its state from a pluggable `GrainStore` when it activates and saves it when it
deactivates (after idle, by its stop policy, or by `Deactivate`). A message that meets a grain
deactivating goes to a fresh incarnation, which starts once the old one has saved: nothing is
lost, and no two incarnations of a key run a message at once.
"""

from __future__ import annotations

import abc
import copy
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, final

from attrs import field, frozen

from playbill.actors._actor import Actor, Terminated
from playbill.actors._named import displace
from playbill.actors._reports import short
from playbill.actors._routing import Deactivate, GetRoutees, Router
from playbill.actors._spawning import actor_label
from playbill.actors._stop_policies import (
    NEVER,
    AfterIdle,
    Never,
    StopPolicy,
)
from playbill.effects import (
    ActorRef,
    InvalidArgument,
    Program,
    blocking,
    program,
    pure,
    sleep,
)

__all__ = [
    "Grain",
    "GrainDirectory",
    "GrainStore",
    "InMemoryStore",
    "SQLiteStore",
    "VirtualActors",
    "grain_ref",
]

_STOPPING = 3  # Phase.STOPPING and Phase.STOPPED (the kernel imports this package's modules)
_STOPPED = 4
_POLL = 0.001  # how often a new incarnation looks whether the old one has saved
_NOTHING: Program[None] = pure(None)


# -- stores -------------------------------------------------------------------------------------


class GrainStore(abc.ABC):
    """Where grains keep their state between activations. Each method returns a `Program`,
    so a store may do I/O through effects (`blocking`, or an effect of your own) and runs
    under every interpreter. ``None`` is "nothing stored": the grain keeps its
    ``initial_state()``. A store for several processes (Redis) implements the same two
    methods, fenced by its lease."""

    @abc.abstractmethod
    def load(self, kind: str, key: str) -> Program[Any]:
        """The state saved for the grain ``key`` of type ``kind``, or ``None``."""

    @abc.abstractmethod
    def save(self, kind: str, key: str, state: Any) -> Program[None]:
        """Keep ``state`` for the grain ``key`` of type ``kind``."""


@final
class InMemoryStore(GrainStore):
    """States in a dict of this process (each load and save copies, so incarnations never
    share a mutable state).

    >>> from playbill.interpreters import stub
    >>> store = InMemoryStore()
    >>> saved = store.save("Account", "alice", {"balance": 5})
    >>> stub.run(saved.then(store.load("Account", "alice")))
    {'balance': 5}
    """

    __slots__ = ("states",)

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], Any] = {}

    def load(self, kind: str, key: str) -> Program[Any]:
        return pure(None).map(lambda _: copy.deepcopy(self.states.get((kind, key))))

    def save(self, kind: str, key: str, state: Any) -> Program[None]:
        return pure(None).map(lambda _: self.states.__setitem__((kind, key), copy.deepcopy(state)))

    def __repr__(self) -> str:
        return f"InMemoryStore({len(self.states)} states)"


def _check_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)) or str(path) in ("", ":memory:"):
        raise InvalidArgument(
            f"SQLiteStore path must be the path of a database file (a str or a Path), got "
            f"{path!r}; each call opens its own connection, so ':memory:' would forget at once"
        )
    return Path(path)


@final
class SQLiteStore(GrainStore):
    """States as JSON in a SQLite file, so they outlive the process. Every read and write
    is a `blocking` effect (asyncio: the system's thread pool; the simulator: inline).

    >>> import tempfile, os
    >>> from playbill.interpreters import stub
    >>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "grains.db"))
    >>> stub.run(store.save("Account", "bob", [1, 2]).then(store.load("Account", "bob")))
    [1, 2]
    """

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = _check_path(path)

    def load(self, kind: str, key: str) -> Program[Any]:
        return blocking(self._load, kind, key)

    def save(self, kind: str, key: str, state: Any) -> Program[None]:
        try:
            text = json.dumps(state)
        except (TypeError, ValueError) as error:
            raise InvalidArgument(
                f"SQLiteStore keeps states as JSON, and the state of {kind} {key!r} is not: "
                f"{short(state)} ({error}); keep dicts, lists, strings, numbers, booleans and "
                "None, or give a store of your own"
            ) from None
        return blocking(self._save, kind, key, text)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS grains (kind TEXT NOT NULL, key TEXT NOT NULL,"
                    " state TEXT NOT NULL, PRIMARY KEY (kind, key))"
                )
                yield connection

    def _load(self, kind: str, key: str) -> Any:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT state FROM grains WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def _save(self, kind: str, key: str, text: str) -> None:
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO grains (kind, key, state) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state",
                (kind, key, text),
            )

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


# -- the grain ----------------------------------------------------------------------------------


class Grain(Actor):
    """A virtual actor: built as ``YourGrain(key)``; its ``state`` (``initial_state()`` at
    first) is loaded from the directory's store when it activates and saved when it
    deactivates; ``write_state()`` saves it now. Override ``receive`` as for any actor, and
    ``on_activate`` / ``on_deactivate`` rather than ``on_start`` / ``on_stop``.

    >>> class Account(Grain):
    ...     def initial_state(self):
    ...         return 0
    ...     def receive(self, amount):
    ...         self.state += amount
    ...         return self.state
    >>> Account("alice").receive(5)
    5
    """

    def __init__(self, key: Any) -> None:
        self.key = key
        self.state: Any = self.initial_state()
        self.grain_store: GrainStore = InMemoryStore()
        self.grain_kind = type(self).__name__
        self.predecessor: Any = None  # the incarnation of this key still deactivating
        self.routing: Any = None  # (the directory's; set by it)

    def initial_state(self) -> Any:
        """The state of a grain with nothing stored."""
        return None

    def on_activate(self) -> Any:
        """Called once the state is loaded, before the first message (may return a
        `Program`)."""
        return None

    def on_deactivate(self) -> Any:
        """Called before the state is saved at deactivation (may return a `Program`)."""
        return None

    def write_state(self) -> Program[None]:
        """A program that saves ``state`` now (a grain that must not lose an update to a
        crash of the process yields it after each change)."""
        return self.grain_store.save(self.grain_kind, _name_of(self.key), self.state)

    def on_start(self) -> Program[None]:
        if self.predecessor is not None:
            return self._start_after_predecessor()
        # the common activation: a chain of two steps, with no generator to run
        return self.grain_store.load(self.grain_kind, _name_of(self.key)).flat_map(self._loaded)

    @program
    def _start_after_predecessor(self) -> Any:
        predecessor = self.predecessor
        while predecessor is not None and predecessor.phase < _STOPPED:
            yield sleep(_POLL)  # it saves in its on_stop; its state is the one to load
        self.predecessor = None
        stored = yield self.grain_store.load(self.grain_kind, _name_of(self.key))
        yield self._loaded(stored)

    def _loaded(self, stored: Any) -> Program[None]:
        if stored is not None:
            self.state = stored
        activated = self.on_activate()
        if isinstance(activated, Program):
            return activated.then(_NOTHING)
        return _NOTHING

    @program
    def on_stop(self) -> Any:
        if getattr(self.context, "restart_error", None) is not None:
            # a restart after a failure, as in Orleans: the failed instance's state is not
            # saved (it may be what broke it), and the new instance reloads the last one
            # persisted (by a deactivation, or `write_state`)
            return None
        deactivated = self.on_deactivate()
        if isinstance(deactivated, Program):
            yield deactivated
        yield self.write_state()
        if self.routing is not None:
            self.routing.forget(self.key, self.context)


def _name_of(key: Any, option: str = "VirtualActors key must give") -> str:
    name = key if isinstance(key, str) else repr(key)
    if not name or "/" in name or "$" in name:
        raise InvalidArgument(
            f"{option} a grain key that can name an actor (a non-empty str or int, without "
            f"'/' or '$'), got {short(key)} ({type(key).__name__})"
        )
    return name


# -- the directory --------------------------------------------------------------------------------


def _check_grain(value: object) -> Callable[[Any], Any]:
    if not callable(value):
        raise InvalidArgument(
            f"VirtualActors grain must be a Grain subclass or a factory of the key, got "
            f"{short(value)} ({type(value).__name__})"
        )
    return value


def _check_key(value: object) -> Callable[[Any], Any]:
    if not callable(value):
        raise InvalidArgument(
            f"VirtualActors key must be a function of the message (its grain's key), got "
            f"{short(value)} ({type(value).__name__})"
        )
    return value


def _check_store(value: object) -> GrainStore:
    if not isinstance(value, GrainStore):
        raise InvalidArgument(
            f"VirtualActors store must be a GrainStore (InMemoryStore(), SQLiteStore(path), "
            f"or your own), got {short(value)} ({type(value).__name__})"
        )
    return value


def _check_policy(value: object) -> StopPolicy:
    if not isinstance(value, (Never, AfterIdle)):
        raise InvalidArgument(
            f"VirtualActors stop_policy must be NEVER or AfterIdle(seconds) (when an idle "
            f"grain deactivates), got {short(value)} ({type(value).__name__})"
        )
    return value


@final
@frozen
class VirtualActors:
    """A directory of grains of one type: spawn it once, like an actor
    (``free_spawn(VirtualActors(Account, key=...), name="accounts")``), then send it the
    grains' messages. ``key(message)`` names the grain (a str or int); ``grain(key)`` builds
    one (a `Grain` subclass); ``store`` keeps their states (an `InMemoryStore` of its own by
    default); ``stop_policy`` deactivates idle grains (``AfterIdle(seconds)``; default
    `NEVER`); ``kind`` names the type in the store (the grain class's name by default).

    >>> VirtualActors(Grain, key=lambda message: message[0]).stop_policy
    NEVER
    """

    grain: Callable[[Any], Any] = field(converter=_check_grain)
    key: Callable[[Any], Any] = field(converter=_check_key)
    store: GrainStore = field(factory=InMemoryStore, converter=_check_store)
    stop_policy: StopPolicy = field(default=NEVER, converter=_check_policy)
    kind: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is not None and (not isinstance(self.kind, str) or not self.kind):
            raise InvalidArgument(
                f"VirtualActors kind must be a non-empty str (the grain type's name in the "
                f"store), got {short(self.kind)}"
            )

    def __call__(self) -> GrainDirectory:
        return GrainDirectory(self)

    @property
    def __name__(self) -> str:  # (an unnamed directory is named after its grains)
        return actor_label(self.grain) or "_"


@final
class GrainRouting:
    """A directory's grains by key, and the activation at the send (the interpreters call
    ``route`` as they do a router's)."""

    __slots__ = ("active", "directory", "grains", "key", "kind", "random", "spec", "turn")

    def __init__(self, spec: VirtualActors) -> None:
        self.spec = spec
        self.key = spec.key
        self.kind = spec.kind or actor_label(spec.grain) or "grain"
        self.active: dict[Any, Any] = {}
        # the same dict, read at the send by the asyncio interpreter's tell, which looks the
        # key up itself (no `route` call) and calls `activate` only when it finds no live grain
        self.grains = self.active
        self.directory: Any = None
        self.random: Any = None  # (bound by the kernel, as for every router; unused)
        self.turn: Any = None  # (a round-robin router's shortcut, read at the send; not ours)

    def route(self, message: object) -> Any:
        return self.cell_of(self.key(message))

    def cell_of(self, key: Any) -> Any:
        """The live grain of ``key`` (its cell), activated now when none is."""
        cell = self.active.get(key)
        if cell is not None and cell.phase < _STOPPING:
            return cell
        return self.activate(key)

    def activate(self, key: Any) -> Any:
        """The grain of ``key``, activated now (its cell), when none is live."""
        directory = self.directory
        if directory is None or directory.phase >= _STOPPING:
            return None  # (a dead letter)
        name = _name_of(key)
        predecessor = directory.children_cells.get(name)
        if predecessor is not None:
            if predecessor.phase < _STOPPING:  # (a restarted directory's grain, still live)
                self.active[key] = predecessor
                return predecessor
            displace(directory, predecessor)
        factory = functools.partial(_build, self, key, predecessor)
        cell = directory._spawn_child(factory, name, None, None)
        self.active[key] = cell
        return cell

    def forget(self, key: Any, cell: Any) -> None:
        if self.active.get(key) is cell:
            del self.active[key]


def _build(routing: GrainRouting, key: Any, predecessor: Any) -> Grain:
    spec = routing.spec
    instance = spec.grain(key)
    if not isinstance(instance, Grain):
        raise InvalidArgument(
            f"VirtualActors grain must build a Grain (a subclass of playbill.actors.Grain), "
            f"got {short(instance)} ({type(instance).__name__})"
        )
    instance.grain_store = spec.store
    instance.grain_kind = routing.kind
    instance.predecessor = predecessor
    instance.routing = routing
    if spec.stop_policy is not NEVER:
        instance.stop_policy = spec.stop_policy
    return instance


class GrainDirectory(Router):
    """The actor a `VirtualActors` builds: its ``routing`` activates and finds grains at the
    send; its own messages are `Deactivate(key)` and `GetRoutees()` (the active grains)."""

    def __init__(self, spec: VirtualActors) -> None:  # (not Router's: no pool, no group)
        self.spec = spec  # type: ignore[assignment]
        self.routing = GrainRouting(spec)  # type: ignore[assignment]
        self.created = 0

    def populate(self) -> None:
        routing: Any = self.routing
        routing.directory = self.context

    def receive(self, message: Any) -> Any:
        routing: Any = self.routing
        kind = type(message)
        if kind is Deactivate:
            cell = routing.active.get(message.key)
            if cell is None or cell.phase >= _STOPPING:
                return False
            self.context._retire(cell)  # type: ignore[attr-defined]
            return True
        if kind is GetRoutees:
            return tuple(cell.ref for cell in routing.active.values() if cell.phase < _STOPPING)
        if kind is Terminated:
            return None
        raise InvalidArgument(
            f"a VirtualActors directory takes Deactivate(key) and GetRoutees() for itself "
            f"(every other message goes to its grain), got {short(message)}"
        )


# -- a grain's own ref ----------------------------------------------------------------------------


class GrainBinding:
    """What makes a grain's ref (`grain_ref`) work: whatever is sent through it goes to the
    grain's live incarnation, found as a message to the directory would find it (activated
    at the send when none is live). It keeps the incarnation it found, and finds one again
    only once that one is deactivating or gone — so a message racing a deactivation goes to
    a fresh incarnation, as the directory's would, and is never lost. While the directory is
    stopping it resolves to the directory, where what is sent is a dead letter.

    The interpreters resolve a ref with this binding (an effect's target) by `resolve`; an
    interpreter may bind a subclass whose ``tell`` is its hot path."""

    __slots__ = ("cell", "directory", "key")

    def __init__(self, directory: Any, key: Any) -> None:
        self.directory = directory  # the directory's cell
        self.key = key
        self.cell: Any = None  # the incarnation found last

    def resolve(self) -> Any:
        """The grain's live incarnation (its cell), activated now when none is; the
        directory's cell while the directory is stopping."""
        directory = self.directory
        if directory.phase >= _STOPPING:
            return directory
        cell = self.cell
        if cell is None or cell.phase >= _STOPPING:
            cell = self.cell = directory.routing.cell_of(self.key)
        return cell

    # the binding behind ActorRef's direct methods: the incarnation's own
    def tell(self, message: object) -> None:
        self.resolve().tell(message)

    def ask(self, message: object, timeout: float | None) -> Any:
        return self.resolve().ask(message, timeout)

    def send(self, message: object) -> Any:
        return self.resolve().send(message)

    def stop(self, ref: Any = None, *, interrupt: bool = False) -> None:
        cell = self.resolve()
        if cell is not self.directory:  # (a stopping directory stops its grains itself)
            cell.stop(interrupt=interrupt)

    def __repr__(self) -> str:
        return f"GrainBinding({self.directory.path}, {self.key!r})"


def grain_ref(directory: ActorRef, key: Any) -> ActorRef:
    """The ref of the grain ``key`` of the `VirtualActors` directory ``directory`` (the ref its
    spawn gave): keep it, and send to it rather than to the directory — its messages go
    straight to the grain, with no ``key(message)`` call (the key is the ref's), and a tell
    to an active grain costs about what a direct tell does. It names the grain, not one
    incarnation: the first message activates it, and after a deactivation the next message
    activates a fresh one, exactly as the directory's would. It works wherever a ref does:
    ``tell``, ``ask`` and ``send`` under asyncio, ``free_tell`` and ``free_ask`` in programs
    under every interpreter, ``watch`` (the incarnation live at the time) and ``free_stop``
    (a hard stop of that incarnation). To deactivate a grain, tell its directory
    ``Deactivate(key)``; a message sent through a grain's ref goes to the grain itself.

    >>> from playbill import free_spawn, program, simulate
    >>> class Counter(Grain):
    ...     def initial_state(self):
    ...         return 0
    ...     def receive(self, amount):
    ...         self.state += amount
    ...         return self.state
    >>> @program
    ... def main():
    ...     counters = yield free_spawn(VirtualActors(Counter, key=lambda m: m), name="counters")
    ...     alice = grain_ref(counters, "alice")
    ...     yield alice.free_tell(5)
    ...     return alice.path, (yield alice.free_ask(2))
    >>> simulate(main(), seed=0).value
    ('/app/counters/alice', 7)
    """
    cell = directory.binding if isinstance(directory, ActorRef) else None
    if type(getattr(cell, "routing", None)) is not GrainRouting:
        raise InvalidArgument(
            f"grain_ref directory must be the ref of a spawned VirtualActors directory (what "
            f"spawn or free_spawn gave), got {short(directory)} ({type(directory).__name__})"
        )
    name = _name_of(key, "grain_ref key must be")
    binding = getattr(cell, "grain_binding", GrainBinding)(cell, key)
    return ActorRef(f"{directory.path}/{name}", 0, binding, directory.realm)
