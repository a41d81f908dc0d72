"""Law checkers for `Program`: monad, functor, applicative (``gather``/``zip``) and recovery
(``recover``/``recover_with``/``attempt``/``ensuring``) laws, as data.

>>> from hypothesis import settings
>>> from playbill.testing.laws import FUNCTOR_LAWS, check_law
>>> for law in FUNCTOR_LAWS:
...     check_law(law, hypothesis_settings=settings(max_examples=10))
"""

from playbill.testing._laws import (
    ALL_LAWS,
    APPLICATIVE_LAWS,
    FUNCTOR_LAWS,
    MONAD_LAWS,
    RECOVERY_LAWS,
    Law,
    assert_equivalent,
    check_law,
    default_strategies,
    equation,
)

__all__ = [
    "ALL_LAWS",
    "APPLICATIVE_LAWS",
    "FUNCTOR_LAWS",
    "MONAD_LAWS",
    "RECOVERY_LAWS",
    "Law",
    "assert_equivalent",
    "check_law",
    "default_strategies",
    "equation",
]
