"""Actor paths: ``/system/parent/child``. Pure helpers shared by every interpreter."""

from __future__ import annotations

from playbill.effects import InvalidArgument
from playbill.effects._checks import check_path

__all__ = ["check_name", "child_path", "split_path"]


def check_name(name: object, where: str = "an actor name") -> str:
    """``name`` if it can be one segment of a path, else `InvalidArgument` saying why.

    >>> check_name("worker-1")
    'worker-1'
    """
    if not isinstance(name, str) or not name or "/" in name or "$" in name:
        raise InvalidArgument(
            f"{where} must be a non-empty string without '/' or '$' ('$' marks the names "
            f"given to unnamed actors, such as 'Worker$1'), got {name!r}"
        )
    return name


def child_path(parent: str, name: str) -> str:
    """The path of child ``name`` under ``parent``.

    >>> child_path("/app", "worker")
    '/app/worker'
    """
    return f"{parent.rstrip('/')}/{name}"


def split_path(path: str) -> tuple[str, ...]:
    """The segments of an absolute path.

    >>> split_path("/app/parent/child")
    ('app', 'parent', 'child')
    """
    return tuple(check_path("an actor path", path)[1:].split("/"))
