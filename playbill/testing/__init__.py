"""The public test kit: Hypothesis strategies for programs and schedules, law checkers, a
sequence checker in the style of ``effect.testing``, schedule exploration (`explore`,
`check_determinism`), and Hypothesis profiles. Needs the ``testing`` extra
(``pip install playbill[testing]``)."""

import importlib.util

if importlib.util.find_spec("hypothesis") is None:  # pragma: no cover - the environment's
    # the pytest plugin (playbill.testing.pytest_plugin) is registered by installing playbill
    # and must import without Hypothesis; the test kit itself needs it
    def __getattr__(name: str) -> object:
        raise ImportError(
            f"playbill.testing.{name} needs Hypothesis; install it with: "
            "pip install 'playbill[testing]'"
        )

    __all__: list[str] = []
else:
    from playbill.interpreters.simulation import check_determinism, explore
    from playbill.testing import laws
    from playbill.testing._flows import flow_documents, flow_outcome, flow_registry, flows
    from playbill.testing._profiles import load_profile, register_profiles
    from playbill.testing._schedules import schedules
    from playbill.testing._sequence import Raise, SequenceMismatch, perform_sequence
    from playbill.testing._strategies import (
        Described,
        LawError,
        Tick,
        error_handlers,
        error_kleislis,
        int_functions,
        kleislis,
        law_errors,
        programs,
        tick_handlers,
    )

    __all__ = [
        "Described",
        "LawError",
        "Raise",
        "SequenceMismatch",
        "Tick",
        "check_determinism",
        "error_handlers",
        "error_kleislis",
        "explore",
        "flow_documents",
        "flow_outcome",
        "flow_registry",
        "flows",
        "int_functions",
        "kleislis",
        "law_errors",
        "laws",
        "load_profile",
        "perform_sequence",
        "programs",
        "register_profiles",
        "schedules",
        "tick_handlers",
    ]
