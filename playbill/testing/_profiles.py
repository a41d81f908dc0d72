"""Hypothesis profiles: ``dev`` (quick) and ``ci`` (thorough), chosen by environment."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument

from playbill.effects import InvalidArgument

__all__ = ["load_profile", "register_profiles"]


def _hypothesis_ci() -> object:
    """The ``ci`` profile Hypothesis registers itself (and loads when it detects CI)."""
    from hypothesis import _settings

    return getattr(_settings, "CI", None)


def _registered(name: str) -> bool:
    try:
        settings.get_profile(name)
    except HypothesisInvalidArgument:
        return False
    return True


def _registered_names() -> list[str]:
    return sorted(getattr(settings, "_profiles", {}))


def register_profiles(*, keep_registered: bool = False) -> None:
    """Register the ``dev`` and ``ci`` Hypothesis profiles.

    ``ci`` runs at least 1,000 examples per property, derandomized (the same ones every run, so
    a CI failure reproduces on a clean clone); ``dev`` 50, drawn afresh. Neither has a deadline: a
    slow example on a loaded machine is not a failure. With ``keep_registered``, a profile of
    the same name that a project registered already is kept (Hypothesis's own ``ci`` is
    replaced): the pytest plugin registers them so.

    >>> register_profiles()
    >>> settings.get_profile("dev").max_examples
    50
    """
    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
    profiles = {
        # derandomized, as Hypothesis's own ci profile is: a CI run explores the same 1,000
        # examples every time, so a clean clone reproduces it exactly (dev explores afresh)
        "ci": {"max_examples": 1000, "print_blob": True, "derandomize": True, **common},
        "dev": {"max_examples": 50, **common},
    }
    for name, values in profiles.items():
        theirs = _registered(name) and settings.get_profile(name) is not _hypothesis_ci()
        if keep_registered and theirs:
            continue
        settings.register_profile(name, **values)  # type: ignore[arg-type]


def current_profile_is_hypothesis_own() -> bool:
    """Whether the loaded profile is one Hypothesis loaded by itself — ``default``, or its
    ``ci`` when it detected a CI environment — rather than one a project loaded."""
    name = getattr(settings, "_current_profile", None)
    if name in (None, "default"):
        return True
    return name == "ci" and settings.get_profile("ci") is _hypothesis_ci()


def load_profile(*, keep_registered: bool = False) -> str:
    """Register the profiles and load the one named by ``HYPOTHESIS_PROFILE`` (default: ``ci``
    when the ``CI`` variable is set, else ``dev``). Returns its name. A name that is not
    registered is an `InvalidArgument` listing those that are."""
    register_profiles(keep_registered=keep_registered)
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if not _registered(name):  # checked first: Hypothesis would keep the bad name as current
        raise InvalidArgument(
            f"HYPOTHESIS_PROFILE={name!r} names no registered Hypothesis profile; the "
            f"registered ones are {', '.join(_registered_names())} (register your own with "
            "settings.register_profile in the conftest.py at the root of the tests)"
        )
    settings.load_profile(name)
    return name
