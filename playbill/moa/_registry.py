"""`moa_registry`: the names of the functions the MoA and team flows are built from."""

from __future__ import annotations

from playbill.flow import Registry
from playbill.moa import _layers
from playbill.moa._teams import TEAM_NAMES

__all__ = ["moa_registry"]

_NAMES: dict[str, object] = {
    "moa.layer_input": _layers.layer_input,
    "moa.proposals_of": _layers.proposals_of,
    "moa.layer_result": _layers.layer_result,
    **TEAM_NAMES,
}


def moa_registry(registry: Registry | None = None) -> Registry:
    """``registry`` (a new one if ``None``) with the functions of the MoA and team flows
    registered, so that those flows save and load; register your agents beside them.

    >>> "moa.layer_input" in moa_registry()
    True
    """
    registry = Registry() if registry is None else registry
    for name, thing in _NAMES.items():
        registry.register(thing, name=name)
    return registry
