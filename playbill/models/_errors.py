"""The errors of a model call, a small tree under `ModelError` (a `PlaybillError`), and
`ApiKey`, the one way a key is held: it never shows in a repr, a log line or an error.

``retryable`` says whether trying again may help: `with_retry` retries those by default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import ClassVar, final

from playbill.effects import InvalidArgument, PlaybillError, TimedOut

__all__ = [
    "ApiKey",
    "AuthenticationFailed",
    "BadRequest",
    "ConnectionFailed",
    "ModelError",
    "ModelTimedOut",
    "Overloaded",
    "RateLimited",
    "StreamInterrupted",
]

REDACTED = "<redacted>"


@final
class ApiKey:
    """A provider's API key. Its repr and str never show it; `reveal` gives it to the client
    that sends it, and `redact` removes it from any text.

    >>> key = ApiKey("sk-secret-123")
    >>> key, str(key), f"{key}"
    (ApiKey(<redacted>), 'ApiKey(<redacted>)', 'ApiKey(<redacted>)')
    >>> key.redact("401: bad key sk-secret-123")
    '401: bad key <redacted>'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgument(
                "ApiKey takes the key as a non-empty str, got "
                + ("a blank str" if isinstance(value, str) else f"a {type(value).__name__}")
                + "; read it from the environment with ApiKey.from_env('OPENAI_API_KEY')"
            )
        self._value = value

    @classmethod
    def from_env(cls, variable: str) -> ApiKey:
        """The key in the environment variable ``variable``; `AuthenticationFailed` (naming
        the variable, never a value) when it is unset or empty."""
        if not isinstance(variable, str) or not variable:
            raise InvalidArgument(
                f"ApiKey.from_env variable must be a non-empty str, got {variable!r}"
            )
        value = os.environ.get(variable, "")
        if not value.strip():
            raise AuthenticationFailed(
                f"the environment variable {variable} is not set; export it, or pass the key "
                "explicitly as ApiKey('...')"
            )
        return cls(value)

    def reveal(self) -> str:
        """The key itself, for the client that sends it; never log what this returns."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by ``<redacted>``."""
        return text.replace(self._value, REDACTED)

    def __repr__(self) -> str:
        return f"ApiKey({REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash((ApiKey, self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an ApiKey is not pickled, so that it never lands in a file by accident")


def _scrub(text: str, secrets: Iterable[ApiKey]) -> str:
    for secret in secrets:
        text = secret.redact(text)
    return text


class ModelError(PlaybillError):
    """A model call failed. ``provider`` names who answered (``"openai"``); every key in
    ``secrets`` is removed from the message before it is stored.

    >>> error = ModelError("boom with sk-1", provider="openai", secrets=[ApiKey("sk-1")])
    >>> str(error), error.retryable
    ('openai: boom with <redacted>', False)
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, provider: str = "", secrets: Iterable[ApiKey | str] = ()
    ) -> None:
        # held as ApiKey values, whose repr hides them (tracebacks may show locals)
        keys = tuple(
            secret if isinstance(secret, ApiKey) else ApiKey(secret)
            for secret in secrets
            if isinstance(secret, ApiKey) or (isinstance(secret, str) and secret.strip())
        )
        self.provider = provider
        self._secrets = keys  # kept only to scrub what subclasses add
        text = _scrub(message, keys)
        super().__init__(f"{provider}: {text}" if provider else text)

    def _scrubbed(self, text: str) -> str:
        return _scrub(text, self._secrets)


@final
class AuthenticationFailed(ModelError):
    """The provider refused the key (or there is none): check the key, not the request."""


@final
class RateLimited(ModelError):
    """Too many requests or tokens; ``retry_after`` is how many seconds the provider asked
    to wait (``None`` if it did not say)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider: str = "",
        secrets: Iterable[ApiKey | str] = (),
    ) -> None:
        if retry_after is not None and (
            isinstance(retry_after, bool)
            or not isinstance(retry_after, (int, float))
            or not retry_after >= 0
        ):
            raise InvalidArgument(
                f"RateLimited retry_after must be seconds >= 0 or None, got {retry_after!r}"
            )
        super().__init__(message, provider=provider, secrets=secrets)
        self.retry_after = None if retry_after is None else float(retry_after)


@final
class Overloaded(ModelError):
    """The provider is overloaded or failed on its side (HTTP 5xx, 529): try again later."""

    retryable = True


@final
class BadRequest(ModelError):
    """The provider refused the request itself (HTTP 400/404/422); ``provider_message`` is
    what it said. Retrying the same request does not help."""

    def __init__(
        self,
        message: str,
        *,
        provider_message: str = "",
        provider: str = "",
        secrets: Iterable[ApiKey | str] = (),
    ) -> None:
        super().__init__(message, provider=provider, secrets=secrets)
        self.provider_message = self._scrubbed(provider_message)


@final
class ModelTimedOut(ModelError, TimedOut):
    """The provider did not answer in time (also a `TimedOut`, a ``TimeoutError``)."""

    retryable = True


@final
class ConnectionFailed(ModelError, ConnectionError):
    """The provider could not be reached (also a ``ConnectionError``)."""

    retryable = True


@final
class StreamInterrupted(ModelError):
    """A streamed reply stopped before its end; ``chunks_received`` chunks had been
    published (a retry publishes the reply again from its start)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        chunks_received: int = 0,
        provider: str = "",
        secrets: Iterable[ApiKey | str] = (),
    ) -> None:
        super().__init__(message, provider=provider, secrets=secrets)
        self.chunks_received = chunks_received
