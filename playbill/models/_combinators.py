"""Handler combinators: functions from a model (a handler of `ModelRequest`) to a model.

Each returns a handler whose answer is a `Program`, so waiting is the interpreter's ``sleep``,
time its ``now`` and jitter its ``random``: under the simulator a retry storm or a rate
limit plays out in virtual time, recorded and replayable. There is no global state: what a
combinator remembers (a token bucket, a cache, a meter) belongs to the handler it returns,
so each agent can have its own stack, and two stacks share a limit by sharing a handler.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol, final

from attrs import field, frozen

from playbill.effects import InvalidArgument, Program, Pure, now, program, random, sleep
from playbill.effects._checks import check_count, check_probability, is_number
from playbill.models._calling import (
    Model,
    call_model,
    check_model,
    estimate_tokens,
    publish,
    request_texts,
    split_tokens,
)
from playbill.models._effects import ModelRequest, StreamComplete
from playbill.models._errors import ModelError
from playbill.models._values import (
    AssistantMessage,
    Completion,
    JsonObject,
    JsonSchema,
    SystemMessage,
    ToolResult,
    Usage,
    UserMessage,
)

__all__ = [
    "MemoryCache",
    "Price",
    "ResponseCache",
    "UsageMeter",
    "is_retryable",
    "request_key",
    "with_cache",
    "with_fallback",
    "with_logging",
    "with_rate_limit",
    "with_retry",
    "with_usage",
]


def _seconds(where: str, value: object) -> float:
    if not is_number(value) or not 0 <= value < math.inf:  # type: ignore[operator]
        raise InvalidArgument(
            f"{where} must be a finite number of seconds >= 0, got {value!r} "
            f"({type(value).__name__})"
        )
    return float(value)  # type: ignore[arg-type]


def is_retryable(error: BaseException) -> bool:
    """A `ModelError` whose kind says trying again may help (rate limited, overloaded, timed
    out, connection failed, stream interrupted)."""
    return isinstance(error, ModelError) and error.retryable


# -- retry ------------------------------------------------------------------------------------


@final
@frozen
class _RetryPolicy:
    attempts: int
    base_delay: float
    multiplier: float
    max_delay: float
    jitter: float
    retry_on: Callable[[BaseException], bool]

    def backoff(self, failures: int) -> float:
        return min(self.max_delay, self.base_delay * self.multiplier ** (failures - 1))


def with_retry(
    model: Model,
    *,
    attempts: int = 4,
    base_delay: float = 1.0,
    multiplier: float = 2.0,
    max_delay: float = 60.0,
    jitter: float = 0.5,
    retry_on: Callable[[BaseException], bool] = is_retryable,
) -> Model:
    """``model``, tried up to ``attempts`` times while it fails with an error ``retry_on``
    accepts (by default a retryable `ModelError`). Before try *n + 1* it sleeps
    ``min(max_delay, base_delay * multiplier ** (n - 1))``, less a random fraction of up to
    ``jitter`` of it (drawn from the interpreter's ``random``), and never less than a
    `RateLimited` error's ``retry_after``. The last error is raised as it was.

    A streamed reply that fails half-way is streamed again from its start: its chunks were
    already published, and a consumer should start over when a ``StreamInterrupted`` is
    retried.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import ScriptedModel, Overloaded, complete, model_handlers
    >>> flaky = ScriptedModel([Overloaded("busy"), "fine"])
    >>> result = stub.execute(
    ...     complete(["hi"], "m"), model_handlers(with_retry(flaky, jitter=0))
    ... )
    >>> result.unwrap().text, result.clock
    ('fine', 1.0)
    """
    check_model("with_retry()", model)
    if not callable(retry_on):
        raise InvalidArgument(
            f"with_retry() retry_on must be a function of the error, got {retry_on!r}"
        )
    if not is_number(multiplier) or not 1 <= multiplier < math.inf:
        raise InvalidArgument(
            f"with_retry() multiplier must be a finite number >= 1, got {multiplier!r}"
        )
    policy = _RetryPolicy(
        check_count("with_retry() attempts", attempts, minimum=1),
        _seconds("with_retry() base_delay", base_delay),
        float(multiplier),
        _seconds("with_retry() max_delay", max_delay),
        check_probability("with_retry() jitter", jitter),
        retry_on,
    )

    def retrying(request: ModelRequest) -> Program[Completion]:
        return _retrying(model, request, policy)

    return retrying


@program
def _retrying(model: Model, request: ModelRequest, policy: _RetryPolicy) -> Any:
    failures = 0
    while True:
        try:
            return (yield call_model(model, request))
        except Exception as error:
            failures += 1
            if failures >= policy.attempts or not policy.retry_on(error):
                raise
            delay = policy.backoff(failures)
            if policy.jitter and delay:
                delay *= 1 - policy.jitter * (yield random())
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None and retry_after > delay:
                delay = retry_after
            if delay:
                yield sleep(delay)


# -- rate limit -------------------------------------------------------------------------------


class _Bucket:
    """A token bucket on the interpreter's clock: it starts full, refills at ``rate`` a
    second up to ``capacity``, and may go below zero — a reservation — so that concurrent
    callers queue up behind each other rather than all waking at once."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: float) -> None:
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        self.level = per_minute
        self.updated: float | None = None

    def take(self, amount: float, at: float) -> float:
        """Reserve ``amount`` at time ``at``; the seconds to wait before using it."""
        if self.updated is None:
            self.updated = at
        elif at > self.updated:
            self.level = min(self.capacity, self.level + (at - self.updated) * self.rate)
            self.updated = at
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate


def _per_minute(where: str, value: object) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not 0 < value < math.inf:  # type: ignore[operator]
        raise InvalidArgument(
            f"{where} must be a positive number or None (no limit), got {value!r} "
            f"({type(value).__name__})"
        )
    return float(value)  # type: ignore[arg-type]


def with_rate_limit(
    model: Model,
    *,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
) -> Model:
    """``model``, called at most ``requests_per_minute`` times and with at most
    ``tokens_per_minute`` tokens a minute, in the long run: two token buckets on the
    interpreter's clock, each starting full (a burst of a minute's worth) and refilling
    evenly. A call reserves one request and its estimated input tokens (words) and sleeps
    until both are available; its real usage is settled when it returns. Wrap once and share
    the result to share a limit between stacks.

    >>> from playbill import gather
    >>> from playbill.interpreters import stub
    >>> from playbill.models import FunctionModel, complete, model_handlers
    >>> limited = with_rate_limit(FunctionModel(lambda r: "ok"), requests_per_minute=2)
    >>> calls = gather(*(complete(["hi"], "m") for _ in range(4)))
    >>> stub.execute(calls, model_handlers(limited)).clock  # 2 at once, then one every 30 s
    60.0
    """
    check_model("with_rate_limit()", model)
    requests = _per_minute("with_rate_limit() requests_per_minute", requests_per_minute)
    tokens = _per_minute("with_rate_limit() tokens_per_minute", tokens_per_minute)
    if requests is None and tokens is None:
        raise InvalidArgument(
            "with_rate_limit() needs requests_per_minute, tokens_per_minute or both, got neither"
        )
    request_bucket = None if requests is None else _Bucket(requests)
    token_bucket = None if tokens is None else _Bucket(tokens)

    def limited(request: ModelRequest) -> Program[Completion]:
        return _limited(model, request, request_bucket, token_bucket)

    return limited


@program
def _limited(
    model: Model, request: ModelRequest, requests: _Bucket | None, tokens: _Bucket | None
) -> Any:
    at = yield now()
    wait = 0.0 if requests is None else requests.take(1, at)
    estimate = 0
    if tokens is not None:
        estimate = estimate_tokens(request_texts(request))
        wait = max(wait, tokens.take(estimate, at))
    if wait > 0:
        yield sleep(wait)
    completion = yield call_model(model, request)
    if tokens is not None:
        tokens.level -= completion.usage.total_tokens - estimate
    return completion


# -- fallback ---------------------------------------------------------------------------------


def _is_model_error(error: BaseException) -> bool:
    return isinstance(error, ModelError)


def with_fallback(
    *models: Model, fall_back_on: Callable[[BaseException], bool] = _is_model_error
) -> Model:
    """The first of ``models`` that answers: each is asked in turn while the one before
    failed with an error ``fall_back_on`` accepts (by default any `ModelError`); the last
    one's error is raised. A model that answers is the last one asked.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import Overloaded, ScriptedModel, complete, model_handlers
    >>> primary, backup = ScriptedModel([Overloaded("down")]), ScriptedModel(["from backup"])
    >>> handlers = model_handlers(with_fallback(primary, backup))
    >>> stub.run(complete(["hi"], "m"), handlers).text
    'from backup'
    """
    if len(models) < 2:
        raise InvalidArgument(
            f"with_fallback() takes two models or more, got {len(models)}; with one, use it "
            "as it is"
        )
    for model in models:
        check_model("with_fallback()", model)
    if not callable(fall_back_on):
        raise InvalidArgument(
            f"with_fallback() fall_back_on must be a function of the error, got {fall_back_on!r}"
        )

    def falling_back(request: ModelRequest) -> Program[Completion]:
        return _falling_back(models, request, fall_back_on)

    return falling_back


@program
def _falling_back(
    models: tuple[Model, ...], request: ModelRequest, fall_back_on: Callable[[BaseException], bool]
) -> Any:
    last = len(models) - 1
    for index, model in enumerate(models):
        try:
            return (yield call_model(model, request))
        except Exception as error:
            if index == last or not fall_back_on(error):
                raise
    raise AssertionError("unreachable: the last model's error is raised")  # pragma: no cover


# -- cache ------------------------------------------------------------------------------------


class ResponseCache(Protocol):
    """Where `with_cache` keeps replies: ``get`` a reply by key (``None`` if absent) and
    ``put`` one — at once (`MemoryCache`), or as a Program, such as a `blocking` call to a
    database (`SQLiteCache`)."""

    def get(self, key: str) -> Completion | Program[Completion | None] | None: ...

    def put(self, key: str, completion: Completion) -> Program[None] | None: ...


def _message_form(message: object) -> list[Any]:
    if isinstance(message, AssistantMessage):
        calls = [[call.id, call.name, call.arguments] for call in message.tool_calls]
        return ["assistant", message.content, calls]
    if isinstance(message, ToolResult):
        return ["tool", message.call_id, message.content, message.is_error]
    assert isinstance(message, (SystemMessage, UserMessage))
    return [message.role.value, message.content]


def request_key(request: ModelRequest) -> str:
    """A stable key of what a request asks (its messages, model, tools and options, not
    whether it streams): the SHA-256 of its canonical JSON, the same in every process.

    >>> from playbill.models import Complete, StreamComplete
    >>> request_key(Complete(["hi"], "m")) == request_key(StreamComplete(["hi"], "m"))
    True
    >>> request_key(Complete(["hi"], "m")) == request_key(Complete(["hi"], "m", temperature=0))
    False
    """
    form = request.response_format
    payload = [
        request.model,
        [_message_form(message) for message in request.messages],
        [[spec.name, spec.description, spec.parameters] for spec in request.tools],
        request.temperature,
        request.max_tokens,
        None
        if form is None
        else ["json_object"]
        if isinstance(form, JsonObject)
        else ["json_schema", form.name, form.schema, form.strict]
        if isinstance(form, JsonSchema)
        else repr(form),
    ]
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


class MemoryCache:
    """A response cache in memory, keeping the ``max_entries`` most recently used replies.

    >>> cache = MemoryCache(max_entries=1)
    >>> cache.put("a", Completion("A")); cache.put("b", Completion("B"))
    >>> cache.get("a"), cache.get("b").text
    (None, 'B')
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = check_count("MemoryCache max_entries", max_entries, minimum=1)
        self._entries: OrderedDict[str, Completion] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        return found

    def put(self, key: str, completion: Completion) -> None:
        self._entries[key] = completion
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def with_cache(model: Model, cache: ResponseCache | None = None) -> Model:
    """``model``, asked only for requests whose reply is not in ``cache`` yet (a fresh
    `MemoryCache` if ``None``; a `SQLiteCache` survives a restart), keyed by `request_key`.
    A cached reply to a streamed request is published again in word-sized chunks. Failures
    are not cached.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import FunctionModel, complete, model_handlers
    >>> model = FunctionModel(lambda request: "once")
    >>> handlers = model_handlers(with_cache(model))
    >>> [stub.run(complete(["hi"], "m"), handlers).text for _ in range(3)], model.calls
    (['once', 'once', 'once'], 1)
    """
    check_model("with_cache()", model)
    store: ResponseCache = MemoryCache() if cache is None else cache
    if not (callable(getattr(store, "get", None)) and callable(getattr(store, "put", None))):
        raise InvalidArgument(
            f"with_cache() cache must have get(key) and put(key, completion), such as "
            f"MemoryCache(), got {cache!r}"
        )

    def caching(request: ModelRequest) -> Program[Completion] | Completion:
        key = request_key(request)
        found = store.get(key)
        if isinstance(found, Program):
            return found.flat_map(lambda hit: _program_of(_answer(model, request, store, key, hit)))
        return _answer(model, request, store, key, found)

    return caching


def _program_of(answer: Program[Completion] | Completion) -> Program[Completion]:
    return answer if isinstance(answer, Program) else Pure(answer)


def _answer(
    model: Model, request: ModelRequest, store: ResponseCache, key: str, hit: Completion | None
) -> Program[Completion] | Completion:
    if hit is not None:
        if isinstance(request, StreamComplete):
            return publish(split_tokens(hit.text), hit.model or request.model, Pure(hit))
        return hit

    def keep(completion: Completion) -> Program[Completion]:
        kept = store.put(key, completion)
        return kept.map(lambda _: completion) if isinstance(kept, Program) else Pure(completion)

    return call_model(model, request).flat_map(keep)


# -- usage and cost ---------------------------------------------------------------------------


def _price(_: object, attribute: Any, value: Any) -> None:
    if not is_number(value) or not 0 <= value < math.inf:
        raise InvalidArgument(
            f"Price {attribute.name} must be a finite number >= 0 (money per million tokens), "
            f"got {value!r}"
        )


@final
@frozen
class Price:
    """What a model costs per million input and output tokens (in any currency)."""

    input_per_million: float = field(validator=_price)
    output_per_million: float = field(validator=_price)

    def of(self, usage: Usage) -> float:
        """The cost of ``usage``.

        >>> Price(2.5, 10).of(Usage(1_000_000, 100_000))
        3.5
        """
        return (
            usage.input_tokens * self.input_per_million
            + usage.output_tokens * self.output_per_million
        ) / 1_000_000


class UsageMeter:
    """Counts calls, tokens and cost, in total and by model. ``prices`` maps a model name to
    its `Price`; a model without one is counted in ``unpriced`` and costs nothing here."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        prices = {} if prices is None else prices
        if not isinstance(prices, Mapping) or not all(
            isinstance(name, str) and isinstance(price, Price) for name, price in prices.items()
        ):
            raise InvalidArgument(
                f"UsageMeter prices must map model names to Price values, got {prices!r}"
            )
        self.prices = dict(prices)
        self.calls = 0
        self.usage = Usage()
        self.cost = 0.0
        self.by_model: dict[str, Usage] = {}
        self.unpriced: set[str] = set()

    def record(self, model: str, usage: Usage) -> None:
        """Count one call of ``model`` that used ``usage``."""
        self.calls += 1
        self.usage += usage
        self.by_model[model] = self.by_model.get(model, Usage()) + usage
        price = self.prices.get(model)
        if price is None:
            self.unpriced.add(model)
        else:
            self.cost += price.of(usage)

    def __repr__(self) -> str:
        return (
            f"UsageMeter(calls={self.calls}, usage={self.usage!r}, cost={self.cost:.6f}, "
            f"unpriced={sorted(self.unpriced)!r})"
        )


def with_usage(model: Model, meter: UsageMeter) -> Model:
    """``model``, each reply's usage recorded in ``meter`` under the request's model name.

    >>> from playbill.interpreters import stub
    >>> from playbill.models import FunctionModel, complete, model_handlers
    >>> meter = UsageMeter({"m": Price(1_000_000, 2_000_000)})
    >>> counted = with_usage(FunctionModel(lambda request: "two words"), meter)
    >>> _ = stub.run(complete(["one"], "m"), model_handlers(counted))
    >>> meter.calls, meter.usage, meter.cost
    (1, Usage(input_tokens=1, output_tokens=2), 5.0)
    """
    check_model("with_usage()", model)
    if not isinstance(meter, UsageMeter):
        raise InvalidArgument(f"with_usage() meter must be a UsageMeter, got {meter!r}")

    def metered(request: ModelRequest) -> Program[Completion]:
        def count(completion: Completion) -> Completion:
            meter.record(request.model, completion.usage)
            return completion

        return call_model(model, request).map(count)

    return metered


# -- logging ----------------------------------------------------------------------------------


def with_logging(
    model: Model, *, logger: logging.Logger | None = None, level: int = logging.INFO
) -> Model:
    """``model``, each call logged on ``logger`` (``playbill.models`` by default) at
    ``level``: the model, how many messages and tools, then the finish reason, the usage and
    the time it took on the interpreter's clock, or the error (at ``WARNING``). Message
    contents are not logged, and keys never are.
    """
    check_model("with_logging()", model)
    chosen = logging.getLogger("playbill.models") if logger is None else logger
    if not isinstance(chosen, logging.Logger):
        raise InvalidArgument(f"with_logging() logger must be a logging.Logger, got {logger!r}")
    if not isinstance(level, int) or isinstance(level, bool):
        raise InvalidArgument(f"with_logging() level must be a logging level, got {level!r}")

    def logged(request: ModelRequest) -> Program[Completion]:
        return _logged(model, request, chosen, level)

    return logged


@program
def _logged(model: Model, request: ModelRequest, logger: logging.Logger, level: int) -> Any:
    started = yield now()
    kind = type(request).__name__
    logger.log(
        level,
        "%s to %s: %d messages, %d tools",
        kind,
        request.model,
        len(request.messages),
        len(request.tools),
    )
    try:
        completion = yield call_model(model, request)
    except Exception as error:
        took = (yield now()) - started
        logger.warning(
            "%s to %s failed after %.3fs: %s: %s",
            kind,
            request.model,
            took,
            type(error).__name__,
            error,
        )
        raise
    took = (yield now()) - started
    logger.log(
        level,
        "%s to %s answered in %.3fs: finish %s, %d input and %d output tokens",
        kind,
        request.model,
        took,
        completion.finish_reason.value,
        completion.usage.input_tokens,
        completion.usage.output_tokens,
    )
    return completion
