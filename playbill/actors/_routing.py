"""Routers: an actor in front of routees, choosing for each message which routee(s) get it.

A router is an actor (`Router`): it has a path, a mailbox for its own messages (`Resize`,
`GetRoutees`, `AddRoutee`, `RemoveRoutee`, `Terminated`), and — for a `Pool` — its routees as
children it supervises. Every other message sent to it is routed **at the send**: the
interpreter asks the router's `Routing` which routee gets it and queues it there directly, from
the same sender (so per sender→routee order holds, an ask is answered by the routee itself, and
routing costs no extra mailbox hop). The routing state is pure code shared by every
interpreter; chance comes from the interpreter's random source.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Callable, Sequence
from typing import Any, Final, final

from attrs import field, frozen

from playbill.actors._actor import Actor, Terminated
from playbill.actors._reports import short
from playbill.actors._spawning import check_spawn
from playbill.actors._supervising import check_supervision
from playbill.actors._supervision import SupervisionStrategy
from playbill.effects import ActorRef, InvalidArgument
from playbill.effects._checks import check_callable

__all__ = [
    "ROUTER_MESSAGES",
    "AddRoutee",
    "Broadcast",
    "ConsistentHash",
    "Deactivate",
    "GetRoutees",
    "Group",
    "Pool",
    "RandomChoice",
    "RemoveRoutee",
    "Resize",
    "RoundRobin",
    "Router",
    "Routing",
    "RoutingStrategy",
    "SmallestMailbox",
]


# -- strategies -------------------------------------------------------------------------------


@final
@frozen
class RoundRobin:
    """Each routee in turn."""


@final
@frozen
class RandomChoice:
    """A routee drawn from the interpreter's random source (recorded, and so replayed, by the
    simulator)."""


@final
@frozen
class Broadcast:
    """Every routee gets every message. An ask is answered by the first routee (in routee
    order); the others get it as a tell."""


@final
@frozen
class SmallestMailbox:
    """The routee with the fewest messages queued, counting the one it is handling; the first
    in routee order on a tie. Both interpreters observe a mailbox's length, so this is the
    least-loaded routee at the send (a message delayed in flight by the simulator's faults is
    not counted until it arrives)."""


def _check_key(key: object) -> Callable[[Any], Any]:
    return check_callable("ConsistentHash key", key, "a function of the message (its routing key)")  # type: ignore[no-any-return]


def _check_virtual_nodes(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(
            f"ConsistentHash virtual_nodes must be an int of at least 1, got {value!r} "
            f"({type(value).__name__})"
        )
    return value


@final
@frozen
class ConsistentHash:
    """The routee owning ``key(message)`` on a hash ring where each routee has
    ``virtual_nodes`` points: the same key reaches the same routee, and when a routee joins
    or leaves only about 1/n of the keys move. Keys are hashed by their ``repr`` with
    BLAKE2b, stable across processes for ``str``, ``int``, ``bytes`` and tuples of them.

    >>> ConsistentHash(lambda message: message[0]).virtual_nodes
    100
    """

    key: Callable[[Any], Any] = field(converter=_check_key)
    virtual_nodes: int = field(default=100, converter=_check_virtual_nodes)


RoutingStrategy = RoundRobin | RandomChoice | Broadcast | SmallestMailbox | ConsistentHash
_STRATEGIES = (RoundRobin, RandomChoice, Broadcast, SmallestMailbox, ConsistentHash)
_ACCEPTED_STRATEGIES = (
    "RoundRobin(), RandomChoice(), Broadcast(), SmallestMailbox() or ConsistentHash(key)"
)


def _check_strategy(value: object) -> RoutingStrategy:
    if not isinstance(value, _STRATEGIES):
        raise InvalidArgument(
            f"routing must be {_ACCEPTED_STRATEGIES}, got {short(value)} ({type(value).__name__})"
        )
    return value


def _check_size(where: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(
            f"{where} must be an int of at least 1 (the number of routees), got {value!r} "
            f"({type(value).__name__})"
        )
    return value


def _resize_size(value: object) -> int:
    return _check_size("Resize size", value)


def _pool_size(value: object) -> int:
    return _check_size("Pool size", value)


# -- the router's own messages ------------------------------------------------------------------


@final
@frozen
class Resize:
    """To a pool router: grow or shrink to ``size`` routees. New ones are spawned; removed
    ones (the newest first) leave the routing at once and stop once they have handled what
    is queued for them."""

    size: int = field(converter=_resize_size)


@final
@frozen
class GetRoutees:
    """Ask a router for its routees: a tuple of refs, in routee order."""


@final
@frozen
class AddRoutee:
    """To a router: route to ``ref`` too (an existing actor; a pool does not supervise it)."""

    ref: ActorRef


@final
@frozen
class RemoveRoutee:
    """To a router: stop routing to ``ref``; a pool's own routee also stops, once it has
    handled what is queued for it."""

    ref: ActorRef


@final
@frozen
class Deactivate:
    """To a virtual-actor directory (`VirtualActors`): deactivate the grain of ``key`` once
    it has handled what is queued for it (its state saved); the next message for it
    activates a fresh one. Answered with whether a grain was active."""

    key: Any


ROUTER_MESSAGES: Final = frozenset({Resize, GetRoutees, AddRoutee, RemoveRoutee, Deactivate})
"""The messages a router handles itself; every other is routed."""


# -- routing at the send --------------------------------------------------------------------------


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _key_point(key: object) -> int:
    if isinstance(key, bytes):
        data = key
    elif isinstance(key, str):
        data = key.encode()
    else:
        data = repr(key).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


@final
class Routing:
    """A router's routees (interpreter cells) and the choice of the next one. ``route``
    returns a cell, a tuple of cells (`Broadcast`), or ``None`` when there is no routee.
    Interpreters call it at the send; ``random`` is the interpreter's random source."""

    __slots__ = ("cells", "grains", "points", "random", "ring", "route", "strategy", "turn")

    def __init__(self, strategy: RoutingStrategy) -> None:
        self.strategy = strategy
        self.cells: list[Any] = []
        # RoundRobin: the next routee in turn, a C-level call (an itertools.cycle's
        # __next__), so that the interpreters' hot path calls no Python function; None when
        # there is no routee or another strategy
        self.turn: Callable[[], Any] | None = None
        self.grains: dict[Any, Any] | None = None  # (a grain directory's shortcut; not ours)
        self.random: Callable[[], float] = _no_random
        self.ring: list[int] = []  # ConsistentHash: the sorted points, and each one's routee
        self.points: list[Any] = []
        kind = type(strategy)
        self.route: Callable[[object], Any] = (
            self._round_robin
            if kind is RoundRobin
            else self._random
            if kind is RandomChoice
            else self._broadcast
            if kind is Broadcast
            else self._smallest
            if kind is SmallestMailbox
            else self._hashed
        )

    def add(self, cell: Any) -> None:
        if cell not in self.cells:
            self.cells.append(cell)
            self._rebuild_ring()

    def remove(self, cell: Any) -> bool:
        if cell in self.cells:
            self.cells.remove(cell)
            self._rebuild_ring()
            return True
        return False

    def _rebuild_ring(self) -> None:
        strategy = self.strategy
        if type(strategy) is RoundRobin:  # (a change of routees starts a new round)
            self.turn = itertools.cycle(tuple(self.cells)).__next__ if self.cells else None
        if type(strategy) is not ConsistentHash:
            return
        pairs = sorted(
            (_point(f"{cell.path}#{index}"), cell.path, cell)
            for cell in self.cells
            for index in range(strategy.virtual_nodes)
        )
        self.ring = [point for point, _, _ in pairs]
        self.points = [cell for _, _, cell in pairs]

    def _round_robin(self, message: object) -> Any:
        turn = self.turn
        return None if turn is None else turn()

    def _random(self, message: object) -> Any:
        cells = self.cells
        if not cells:
            return None
        return cells[min(int(self.random() * len(cells)), len(cells) - 1)]

    def _broadcast(self, message: object) -> Any:
        return tuple(self.cells) if self.cells else None

    def _smallest(self, message: object) -> Any:
        best = None
        least = 0
        for cell in self.cells:
            load = len(cell.mailbox.user) + (cell.current is not None)
            if best is None or load < least:
                best, least = cell, load
                if not load:
                    break
        return best

    def _hashed(self, message: object) -> Any:
        if not self.ring:
            return None
        point = _key_point(self.strategy.key(message))  # type: ignore[union-attr]
        index = bisect.bisect_left(self.ring, point)
        return self.points[index if index < len(self.ring) else 0]


def _no_random() -> float:  # pragma: no cover - every interpreter binds its own source
    raise AssertionError("a router's random source is bound by the interpreter at spawn")


# -- router specs and the router actor ------------------------------------------------------------


@final
@frozen
class Pool:
    """A router over ``size`` routees it spawns from ``routee`` (an actor class or factory)
    as its children, and supervises with ``supervision`` (default: restart a failed routee,
    which keeps its mailbox). Spawn it like an actor: ``free_spawn(Pool(Worker, 4))``.

    >>> Pool(Actor, 2, routing=Broadcast()).size
    2
    """

    routee: Callable[[], Any]
    size: int = field(converter=_pool_size)
    routing: RoutingStrategy = field(factory=RoundRobin, converter=_check_strategy)
    supervision: SupervisionStrategy | None = None

    def __attrs_post_init__(self) -> None:
        check_spawn(self.routee, None, None)
        check_supervision(self.supervision, "Pool supervision")

    def __call__(self) -> Router:
        return Router(self)


def _check_routees(value: object) -> tuple[ActorRef | str, ...]:
    if isinstance(value, (str, ActorRef)) or not isinstance(value, Sequence):
        raise InvalidArgument(
            f"Group routees must be a sequence of ActorRefs or absolute paths, got {short(value)}"
        )
    for each in value:
        if not isinstance(each, (ActorRef, str)):
            raise InvalidArgument(
                f"Group routees must be ActorRefs or paths, got {short(each)} "
                f"({type(each).__name__})"
            )
    return tuple(value)


@final
@frozen
class Group:
    """A router over existing actors, given by ref or path (``"/app/worker"``, or relative to
    the root, ``"worker"``); they are not its children. It watches them: one that stops leaves
    the routing. An unknown path is refused at spawn.

    >>> Group(["/app/a", "/app/b"]).routing
    RoundRobin()
    """

    routees: tuple[ActorRef | str, ...] = field(converter=_check_routees)
    routing: RoutingStrategy = field(factory=RoundRobin, converter=_check_strategy)

    def __call__(self) -> Router:
        return Router(self)


class Router(Actor):
    """The router actor a `Pool` or `Group` builds. Its ``routing`` is what the interpreter
    routes with at the send; its ``receive`` handles the router's own messages."""

    def __init__(self, spec: Pool | Group) -> None:
        self.spec = spec
        self.routing = Routing(spec.routing)
        if isinstance(spec, Pool) and spec.supervision is not None:
            self.supervision = spec.supervision  # type: ignore[misc]
        self.created = 0  # routees spawned, naming the next (routee1, routee2, ...)

    def populate(self) -> None:
        """Spawn a pool's routees, or find a group's (the kernel calls it at spawn, so that a
        message sent right after the spawn is routed)."""
        if self.routing.cells:
            return
        spec = self.spec
        if isinstance(spec, Pool):
            for _ in range(spec.size):
                self._grow()
        else:
            for each in spec.routees:
                self._add(self._find(each))

    def on_start(self) -> Any:
        self.populate()  # (after a restart: a new pool)

    def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Terminated:
            cell = self._cell_of(message.ref)
            if cell is not None:
                self.routing.remove(cell)
            return None
        if kind is Resize:
            self._resize(message.size)
        elif kind is AddRoutee:
            self._add(self._find(message.ref))
        elif kind is RemoveRoutee:
            cell = self._cell_of(message.ref)
            if cell is not None and self.routing.remove(cell):
                self._retire(cell)
        # (everything else is routed at the send); the routees now, so that an ask of a
        # change is a barrier: what is sent after its reply is routed to the new routees
        return tuple(cell.ref for cell in self.routing.cells)

    # -- helpers ----------------------------------------------------------------------------

    def _resize(self, size: int) -> None:
        spec = self.spec
        if not isinstance(spec, Pool):
            raise InvalidArgument(
                f"Resize({size}) needs a pool router, and {self.context.self_ref.path} is a "
                "group; send AddRoutee(ref) or RemoveRoutee(ref) instead"
            )
        own = [cell for cell in self.routing.cells if cell.parent_cell is self.context]
        while len(own) < size:
            own.append(self._grow())
        while len(own) > size:
            cell = own.pop()
            self.routing.remove(cell)
            self._retire(cell)

    def _grow(self) -> Any:
        spec = self.spec
        assert isinstance(spec, Pool)
        context: Any = self.context
        self.created += 1
        name = f"routee{self.created}"
        while name in context.children_cells:
            self.created += 1
            name = f"routee{self.created}"
        ref = context.spawn(spec.routee, name)
        cell = context._resolve_ref(ref)
        self._add(cell)
        return cell

    def _add(self, cell: Any) -> None:
        self.routing.add(cell)
        self.context.watch(cell.ref)

    def _retire(self, cell: Any) -> None:
        context: Any = self.context
        if cell.parent_cell is context:
            context._retire(cell)

    def _find(self, routee: ActorRef | str) -> Any:
        context: Any = self.context
        if isinstance(routee, str):
            root = context
            while root.parent_cell is not None:
                root = root.parent_cell
            path = routee if routee.startswith("/") else f"{root.path}/{routee}"
            routee = ActorRef(path)
        cell = context._resolve_ref(routee)
        if cell is None or cell.phase >= 3:  # (Phase.STOPPING)
            raise InvalidArgument(
                f"a router's routee must be a live actor, and there is none at {routee.path}"
            )
        return cell

    def _cell_of(self, ref: ActorRef) -> Any:
        for cell in self.routing.cells:
            if cell.ref == ref:
                return cell
        return None
