"""Named actors, get-or-create: the actor at a path, or a new one spawned there — decided in
one step, in shared code every interpreter calls, so concurrent callers in one process get the
same actor and it is spawned once.

Across processes, ``system.get_or_spawn(path, actor, durable=True)`` maps the path to one
durable actor of the system's transport (`playbill.distributed.RedisTransport.get_or_spawn`),
which its fenced lease keeps single on the cluster.
"""

from __future__ import annotations

from typing import Any

from playbill.actors._reports import short
from playbill.actors._tree import find_cell
from playbill.effects import ActorNotFound, InvalidArgument
from playbill.effects._checks import check_path

__all__ = ["get_or_spawn_cell", "split_target"]

_STOPPING = 3  # (Phase.STOPPING: the kernel imports this module's users)


def split_target(system_name: str, path: object) -> tuple[str, str]:
    """The absolute path of the parent and the name of the child ``path`` names (absolute,
    ``/app/parent/child``, or relative to the root guardian, ``parent/child``).

    >>> split_target("app", "cache/users")
    ('/app/cache', 'users')
    """
    checked = check_path("get_or_spawn path", path, relative=True)
    if not checked.startswith("/"):
        checked = f"/{system_name}/{checked}"
    parent, _, name = checked.rpartition("/")
    if parent.count("/") < 1 or not parent:
        raise InvalidArgument(
            f"get_or_spawn path must name an actor under the root guardian, like "
            f"'/{system_name}/name', got {path!r}"
        )
    return parent, name


def get_or_spawn_cell(root: Any, system_name: str, path: object, actor: object) -> Any:
    """The cell of the live actor at ``path``, or of one spawned there from ``actor`` (a class
    or a factory) as a child of the actor at the parent path. One step, no await: concurrent
    callers of one interpreter get the same actor.

    An actor at ``path`` that is stopping no longer counts: it finishes under its own ref
    (stamped with its incarnation's uid, so no message meant for the new one reaches it), and
    a new one is spawned at the path. A path whose parent does not exist is refused with
    `ActorNotFound`; a parent that is stopping refuses the spawn with `ActorStopped`."""
    if not callable(actor):
        raise InvalidArgument(
            f"get_or_spawn factory must be an actor class or a zero-argument factory, got "
            f"{short(actor)} ({type(actor).__name__})"
        )
    parent_path, name = split_target(system_name, path)
    parent = find_cell(root, system_name, parent_path)
    if parent is None:
        raise ActorNotFound(
            f"get_or_spawn({path!r}): there is no actor at {parent_path} to be its parent; "
            "spawn the parent first, or give a path under one that exists"
        )
    existing = parent.children_cells.get(name)
    if existing is not None:
        if existing.phase < _STOPPING:
            return existing
        displace(parent, existing)
    return parent._spawn_child(actor, name, None, None)


def displace(parent: Any, cell: Any) -> None:
    """Free ``cell``'s name among ``parent``'s children while it finishes stopping, so that a
    new actor can take its path: it stays a child (its parent still waits for it) under a
    name no user can give (``$`` is refused in names)."""
    del parent.children_cells[cell.name]
    cell.name = f"{cell.name}$stopping{cell.ref.uid}"
    parent.children_cells[cell.name] = cell
