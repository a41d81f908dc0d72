"""What the provider modules share: finding the key, choosing a client per event loop, the
error mapping from an HTTP status and a provider's error body, and the program that
publishes a provider's stream as token chunks while it is read.

A provider is a model like the test models: it answers a `Complete` with an ``Await`` of
the SDK's call (so it runs under asyncio only), and a `StreamComplete` with a program that
awaits the stream's next text piece and ``Emit``\\ s it as a `TokenChunk`, until the stream
ends and the `Completion` is the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from playbill.effects import Await, Emit, InvalidArgument, Program, Suspend, program
from playbill.effects._checks import is_number
from playbill.models._effects import ModelRequest, StreamComplete
from playbill.models._errors import (
    ApiKey,
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    ModelError,
    ModelTimedOut,
    Overloaded,
    RateLimited,
    StreamInterrupted,
)
from playbill.models._values import Completion, TokenChunk


def resolve_key(where: str, api_key: object, variable: str) -> ApiKey:
    """The key given (an `ApiKey`), else the one in the environment variable ``variable``
    (`AuthenticationFailed` naming it when it is unset)."""
    if api_key is None:
        return ApiKey.from_env(variable)
    if not isinstance(api_key, ApiKey):
        raise InvalidArgument(
            f"{where} api_key must be an ApiKey or None (read from the environment variable "
            f"{variable}), got a {type(api_key).__name__}; wrap the key: "
            "api_key=ApiKey(...), so that it never shows in a repr or a log"
        )
    return api_key


def check_timeout(where: str, timeout: object) -> float:
    if not is_number(timeout) or not 0 < timeout < math.inf:  # type: ignore[operator]
        raise InvalidArgument(
            f"{where} timeout must be a positive, finite number of seconds, got {timeout!r}"
        )
    return float(timeout)  # type: ignore[arg-type]


def need_sdk(module: str, extra: str) -> Any:
    """The SDK module ``module``, or an ImportError that says which extra brings it."""
    try:
        return __import__(module)
    except ImportError as error:
        raise ImportError(
            f"this provider needs the {module!r} package: pip install 'playbill[{extra}]'"
        ) from error


class PerLoop:
    """One SDK client per event loop: an async HTTP client's connections belong to the loop
    that opened them, so a provider used from two ``asyncio.run`` calls makes two."""

    __slots__ = ("_client", "_loop", "_make")

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._make()
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the client of the running loop, if it made one."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.close()


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the provider asked to wait: ``retry-after-ms``, ``retry-after`` in seconds or
    as an HTTP date; ``None`` when it did not say (or said nonsense).

    >>> retry_after({"retry-after": "20"}), retry_after({"retry-after-ms": "1500"})
    (20.0, 1.5)
    >>> retry_after({}) is None
    True
    """
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000
        except ValueError:
            value = math.nan
        if 0 <= value < math.inf:
            return value
    given = headers.get("retry-after")
    if given is None:
        return None
    try:
        value = float(given)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(given)
        except (TypeError, ValueError):
            return None
        value = max(0.0, when.timestamp() - time.time())
    return value if 0 <= value < math.inf else None


def body_message(body: object, fallback: str) -> str:
    """The provider's own message in an error body (``{"error": {"message": ...}}`` or
    ``{"message": ...}``), else ``fallback``."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body
    return fallback


def body_type(body: object) -> str | None:
    """The error type in an error body (``{"error": {"type": "overloaded_error"}}``)."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping) and isinstance(inner.get("type"), str):
            return str(inner["type"])
        if isinstance(body.get("type"), str) and body.get("type") != "error":
            return str(body["type"])
    return None


def status_error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None,
    *,
    provider: str,
    key: ApiKey | None,
    kind: str | None = None,
    secrets: tuple[ApiKey, ...] = (),
) -> ModelError:
    """The `ModelError` for an HTTP ``status`` (or an error ``kind`` a stream sent): 401 and
    403 `AuthenticationFailed`, 429 `RateLimited` (with the Retry-After), 408, 409 and
    every 5xx (529 included) `Overloaded`, any other 4xx `BadRequest` with the provider's
    message. ``key`` (or none) and ``secrets`` are scrubbed from the message."""
    secrets = (key, *secrets) if key is not None else secrets
    said = f"HTTP {status}: {message}" if status else message
    if kind in ("overloaded_error", "api_error") or status >= 500 or status in (408, 409):
        return Overloaded(said, provider=provider, secrets=secrets)
    if kind == "rate_limit_error" or status == 429:
        return RateLimited(
            said, retry_after=retry_after(headers), provider=provider, secrets=secrets
        )
    if kind in ("authentication_error", "permission_error") or status in (401, 403):
        return AuthenticationFailed(said, provider=provider, secrets=secrets)
    return BadRequest(said, provider_message=message, provider=provider, secrets=secrets)


def timed_out(received: int | None, provider: str, secrets: tuple[ApiKey, ...]) -> ModelError:
    """An SDK's timeout: `StreamInterrupted` once a stream had published (its first token
    came in time), else `ModelTimedOut`."""
    if received:
        return StreamInterrupted(
            f"the stream timed out after {received} pieces",
            chunks_received=received,
            provider=provider,
            secrets=secrets,
        )
    return ModelTimedOut("no answer in time", provider=provider, secrets=secrets)


def connection_lost(
    message: str, received: int | None, provider: str, secrets: tuple[ApiKey, ...]
) -> ModelError:
    """An SDK's connection error: `StreamInterrupted` once a stream had started, else
    `ConnectionFailed`."""
    if received is not None:
        return StreamInterrupted(
            f"the stream stopped after {received} pieces: {message}",
            chunks_received=received,
            provider=provider,
            secrets=secrets,
        )
    return ConnectionFailed(message, provider=provider, secrets=secrets)


def malformed_reply(
    what: str, error: BaseException, provider: str, secrets: tuple[ApiKey, ...]
) -> ModelError:
    """A reply the SDK could not read as ``what``: not retried (asking again gets the same)."""
    return ModelError(
        f"the reply is not a {what} (malformed JSON or a missing field): {error}",
        provider=provider,
        secrets=secrets,
    )


class StreamReader:
    """Reads one streamed reply for a program: `next` gives the next text piece, or the
    `Completion` once the stream ends. A provider subclasses it: `open` starts the stream,
    `pieces` yields its text pieces, `finish` builds the completion, `close` releases the
    connection, and `error` maps what the SDK raised (``received`` pieces in)."""

    origin = "a provider's stream"

    def __init__(self) -> None:
        self.received = 0
        self._iterator: Any = None
        self._closed = False

    async def open(self) -> Any:  # pragma: no cover - each provider's
        raise NotImplementedError

    async def finish(self) -> Completion:  # pragma: no cover - each provider's
        raise NotImplementedError

    async def close(self) -> None:  # pragma: no cover - each provider's
        raise NotImplementedError

    def error(self, error: BaseException) -> BaseException:  # pragma: no cover
        raise NotImplementedError

    async def next(self) -> str | Completion:
        try:
            if self._iterator is None:
                self._iterator = await self.open()
            try:
                piece = await self._iterator.__anext__()
            except StopAsyncIteration:
                completion = await self.finish()
            else:
                self.received += 1
                return str(piece)
        except BaseException as error:
            await self._release()
            if isinstance(error, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise
            raise self.error(error) from None
        await self._release()
        return completion

    async def _release(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # the reply is complete or failed already
                await self.close()


class SdkProvider:
    """What the SDK providers share: their checked options, the key, one SDK client per event
    loop, and a request answered by the SDK's call (`_complete`) or stream (`_stream`). A
    subclass names its SDK module (``_sdk``, also the extra that brings it), the SDK's async
    client class, whose server ``base_url=None`` means, and what its reply is called in the
    error for one the SDK could not read (``_reply_name``)."""

    _sdk: str
    _reply_name: str
    _client_class: str
    _owner: str
    _base_url_example = ""

    def _check_options(self, base_url: object, timeout: object, name: object) -> None:
        where = type(self).__name__
        if base_url is not None and (not isinstance(base_url, str) or not base_url):
            raise InvalidArgument(
                f"{where} base_url must be a URL str{self._base_url_example} or None for "
                f"{self._owner}'s, got {base_url!r}"
            )
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"{where} name must be a non-empty str, got {name!r}")
        self.base_url: str | None = base_url
        self.name: str = name
        self.timeout = check_timeout(where, timeout)

    def _connect(
        self, api_key: object, api_key_env: str, default_headers: Mapping[str, str] | None
    ) -> None:
        self._key = resolve_key(type(self).__name__, api_key, api_key_env)
        self._headers = dict(default_headers or {})
        self._clients = PerLoop(self._client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, name={self.name!r})"

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop (its pooled connections)."""
        await self._clients.aclose()

    def _client(self) -> Any:
        client = getattr(need_sdk(self._sdk, self._sdk), self._client_class)
        return client(
            api_key=self._key.reveal(),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # retrying is with_retry's, on the interpreter's clock
            default_headers=self._headers or None,
        )

    def __call__(self, request: ModelRequest) -> Program[Completion]:
        return provider_answer(
            request,
            lambda: self._complete(request),
            lambda: self._stream(request),
            f"the {self.name} provider",
        )

    async def _complete(self, request: ModelRequest) -> Completion:  # pragma: no cover
        raise NotImplementedError

    def _stream(self, request: ModelRequest) -> StreamReader:  # pragma: no cover
        raise NotImplementedError

    def _mapped(self, sdk: Any, error: BaseException, received: int | None = None) -> BaseException:
        """The `ModelError` for what the SDK raised; ``received`` is how many pieces a stream
        had published (``None``: not streaming, or the stream had not started). Both SDKs
        (they share one generator) raise the same classes: a status error (200: an error
        event inside a stream), a timeout, a connection error, a reply it could not read,
        an error event; and the HTTP library's own errors come through from a stream's
        body."""
        key = self._key
        provider = self.name
        secrets = (key,)
        if isinstance(error, ModelError):
            return error
        timeouts, transports = _http_errors()
        if isinstance(error, sdk.APIStatusError):
            response = error.response
            status = error.status_code
            return status_error(
                0 if status == 200 else status,
                body_message(error.body, error.message),
                response.headers if response is not None else None,
                provider=provider,
                key=key,
                kind=body_type(error.body),
            )
        if isinstance(error, (sdk.APITimeoutError, *timeouts)):
            return timed_out(received, provider, secrets)
        if isinstance(error, (sdk.APIConnectionError, *transports)):
            said = getattr(error, "message", None)
            return connection_lost(
                said if isinstance(said, str) else str(error), received, provider, secrets
            )
        if isinstance(
            error, (sdk.APIResponseValidationError, ValueError, KeyError, AttributeError)
        ):
            return malformed_reply(self._reply_name, error, provider, secrets)
        if isinstance(error, sdk.APIError):  # an error event inside a stream
            return status_error(
                0,
                body_message(error.body, error.message),
                None,
                provider=provider,
                key=key,
                kind=body_type(error.body),
            )
        return error


def _http_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """The HTTP library's timeout and transport errors, which an SDK lets through from a
    stream's body (its HTTP library is ``httpx``, or ``httpx2`` in later releases)."""
    timeouts: list[type[BaseException]] = []
    transports: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transports.append(module.TransportError)
    return tuple(timeouts), tuple(transports)


class SdkStream(StreamReader):
    """A stream read through an SDK provider's client: closed through the SDK's stream, its
    errors mapped by the provider (``received`` pieces in once it started)."""

    provider: SdkProvider

    def __init__(self, provider: SdkProvider, request: ModelRequest) -> None:
        super().__init__()
        self.provider = provider
        self.request = request
        self.sdk = need_sdk(provider._sdk, provider._sdk)
        self.stream: Any = None

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.close()

    def error(self, error: BaseException) -> BaseException:
        received = None if self.stream is None else self.received
        return self.provider._mapped(self.sdk, error, received)


def provider_answer(
    request: ModelRequest,
    complete: Callable[[], Awaitable[Completion]],
    stream: Callable[[], StreamReader],
    origin: str,
) -> Program[Completion]:
    """The program a provider answers ``request`` with."""
    if isinstance(request, StreamComplete):
        return _streamed(stream(), request.model, origin)
    return Suspend(Await(complete(), origin))


@program
def _streamed(reader: StreamReader, model: str, origin: str) -> Any:
    index = 0
    while True:
        item = yield Await(reader.next(), origin)
        if type(item) is str:
            yield Emit(TokenChunk(item, index, model))
            index += 1
        else:
            return item
