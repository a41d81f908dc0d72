"""Hypothesis profiles: ``dev`` (quick) and ``ci`` (thorough), chosen by environment."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["load_profile", "register_profiles"]


def register_profiles() -> None:
    """Register the ``dev`` and ``ci`` Hypothesis profiles.

    ``ci`` runs at least 1,000 examples per property; ``dev`` 50. Neither has a deadline: a
    slow example on a loaded machine is not a failure.
    """
    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile("ci", max_examples=1000, print_blob=True, **common)  # type: ignore[arg-type]
    settings.register_profile("dev", max_examples=50, **common)  # type: ignore[arg-type]


def load_profile() -> str:
    """Register the profiles and load the one named by ``HYPOTHESIS_PROFILE`` (default: ``ci``
    when the ``CI`` variable is set, else ``dev``). Returns its name."""
    register_profiles()
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(name)
    return name
