"""The tree of cells every interpreter keeps: the context a cell gives its actor, finding a
cell by path, walking the tree; and how many messages an actor handles in a row."""

from __future__ import annotations

from typing import Any

from playbill.actors._actor import ActorContext
from playbill.effects import (
    ActorRef,
    LiveActor,
)

__all__ = ["THROUGHPUT", "CellContext", "find_cell", "list_live", "walk_cells"]


class CellContext(ActorContext):
    """The part of an actor's context every interpreter's cell answers alike, from its
    ``ref``, ``parent_cell`` and ``children_cells``."""

    __slots__ = ()
    ref: ActorRef
    parent_cell: Any
    children_cells: dict[str, Any]

    @property
    def self_ref(self) -> ActorRef:
        return self.ref

    @property
    def parent(self) -> ActorRef | None:
        return None if self.parent_cell is None else self.parent_cell.ref

    @property
    def children(self) -> tuple[ActorRef, ...]:
        return tuple(child.ref for child in self.children_cells.values())

    def fresh_id(self) -> str:
        """An id no other call gives (a task's, say): its system's prefix and a count. Under
        asyncio the prefix is drawn when the system starts, so ids are unique across systems
        and processes; the simulator's is fixed, so a run replays with the same ids."""
        raise NotImplementedError


# an actor handles at most this many messages in a row before others get a turn (asyncio's
# actor loop; the simulator's causal delivery does the same)
THROUGHPUT = 64


def find_cell(root: Any, system_name: str, path: str, uid: int = 0, realm: int = 0) -> Any:
    """The cell at ``path`` under the root guardian ``root`` (cells keep their children in
    ``children_cells``), or ``None``; a relative path (``"worker/cache"``) starts under the
    root guardian, whatever the system's name; a non-zero ``uid`` must match too (a ref to an
    actor that was replaced by a new one at the same path finds nothing)."""
    segments = [segment for segment in path.split("/") if segment]
    if not path.startswith("/"):  # relative: a path under the root guardian of this system
        segments.insert(0, system_name)
    if not segments or segments[0] != system_name:
        return None
    cell = root
    for segment in segments[1:]:
        cell = cell.children_cells.get(segment)
        if cell is None:
            return None
    if (uid and cell.ref.uid != uid) or (realm and cell.ref.realm != realm):
        return None
    return cell


def walk_cells(root: Any) -> list[Any]:
    """``root`` and every cell below it (each cell keeps its children in ``children_cells``)."""
    found = []
    pending = [root] if root is not None else []
    while pending:
        cell = pending.pop()
        found.append(cell)
        pending.extend(cell.children_cells.values())
    return found


def list_live(root: Any) -> tuple[LiveActor, ...]:
    """The live actors under the root guardian ``root`` (started, neither stopping nor
    stopped, with an instance), parents before children and siblings in start order: what
    the `LiveActors` effect gives on every interpreter. A stopping actor's subtree is being
    stopped, so none of it is listed."""
    from playbill.actors._kernel import Phase  # (the kernel imports this module)

    stopping = Phase.STOPPING
    found: list[LiveActor] = []
    pending = list(reversed(root.children_cells.values())) if root is not None else []
    while pending:
        cell = pending.pop()
        if cell.phase >= stopping:
            continue
        instance = cell.instance
        if instance is not None:
            found.append(LiveActor(cell.ref, type(instance)))
        pending.extend(reversed(cell.children_cells.values()))
    return tuple(found)
