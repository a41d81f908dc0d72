"""Handler combinators: retry, rate limit, fallback, cache, usage, logging — in virtual time
under the stub and the simulator, and for real under asyncio."""

import asyncio
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbill import Actor, InvalidArgument, free_spawn, gather, now, program, sleep
from playbill.effects import Random
from playbill.interpreters import explore, stub
from playbill.interpreters import run as run_asyncio
from playbill.models import (
    BadRequest,
    Chunks,
    Complete,
    Completion,
    FunctionModel,
    MemoryCache,
    Overloaded,
    Price,
    RateLimited,
    ScriptedModel,
    StreamInterrupted,
    Usage,
    UsageMeter,
    call_model,
    complete,
    model_handlers,
    request_key,
    stream_complete,
    with_cache,
    with_fallback,
    with_logging,
    with_rate_limit,
    with_retry,
    with_usage,
)
from tests.models.support import chunks_of


def echo(request):
    return f"{request.model}: {request.messages[-1].content}"


# -- retry ------------------------------------------------------------------------------------


def test_retry_backs_off_exponentially_in_virtual_time_and_gives_the_reply():
    model = ScriptedModel([Overloaded("busy"), Overloaded("busy"), "done"])
    handlers = model_handlers(with_retry(model, base_delay=1, multiplier=3, jitter=0))
    result = stub.execute(complete(["hi"], "m"), handlers)
    assert result.unwrap().text == "done"
    assert result.clock == 1 + 3
    assert model.calls == 3


def test_retry_draws_jitter_from_the_interpreters_random_and_sleeps_no_more_than_backoff():
    model = ScriptedModel([Overloaded("busy"), "done"])
    handlers = model_handlers(with_retry(model, base_delay=10, jitter=0.5))
    result = stub.execute(complete(["hi"], "m"), handlers, seed=4)
    assert Random() in result.effects
    assert 5 <= result.clock <= 10
    again = stub.execute(
        complete(["hi"], "m"),
        model_handlers(
            with_retry(ScriptedModel([Overloaded("busy"), "done"]), base_delay=10, jitter=0.5)
        ),
        seed=4,
    )
    assert again.clock == result.clock


def test_retry_honours_retry_after_and_caps_the_backoff_at_max_delay():
    model = ScriptedModel([RateLimited("slow", retry_after=42), Overloaded("x"), "ok"])
    handlers = model_handlers(with_retry(model, base_delay=100, max_delay=5, jitter=0))
    result = stub.execute(complete(["hi"], "m"), handlers)
    assert result.clock == 42 + 5


def test_retry_raises_a_non_retryable_error_at_once_and_the_last_error_after_the_attempts():
    refused = BadRequest("nope", provider_message="unknown model")
    model = ScriptedModel([refused])
    with pytest.raises(BadRequest) as caught:
        stub.run(complete(["hi"], "m"), model_handlers(with_retry(model)))
    assert caught.value is refused
    assert model.calls == 1
    last = Overloaded("third")
    model = ScriptedModel([Overloaded("1"), Overloaded("2"), last])
    handlers = model_handlers(with_retry(model, attempts=3, jitter=0))
    with pytest.raises(Overloaded) as caught:
        stub.run(complete(["hi"], "m"), handlers)
    assert caught.value is last


def test_retry_restarts_an_interrupted_stream():
    dropped = StreamInterrupted("reset", chunks_received=1)
    model = ScriptedModel([Chunks(["Hel"], error=dropped), Chunks(["Hel", "lo"])])
    result = stub.execute(stream_complete(["hi"], "m"), model_handlers(with_retry(model, jitter=0)))
    assert chunks_of(result.effects) == ["Hel", "Hel", "lo"]
    assert result.unwrap().text == "Hello"


@given(
    texts=st.lists(st.text(max_size=12), min_size=1, max_size=4),
    attempts=st.integers(1, 5),
    stream=st.booleans(),
)
def test_law_a_retry_of_a_model_that_succeeds_gives_the_same_result(texts, attempts, stream):
    ask = stream_complete if stream else complete

    def calls():
        return gather(*(ask([text], "m") for text in texts))

    bare = stub.execute(calls(), model_handlers(FunctionModel(echo)))
    retried = stub.execute(
        calls(), model_handlers(with_retry(FunctionModel(echo), attempts=attempts))
    )
    assert retried.outcome == bare.outcome
    assert chunks_of(retried.effects) == chunks_of(bare.effects)
    assert retried.clock == bare.clock


class Asker(Actor):
    def __init__(self, text):
        self.text = text

    def receive(self, message):
        return complete([self.text], "m").map(lambda reply: reply.text)


@program
def three_actors_ask():
    refs = []
    for index in range(3):
        refs.append((yield free_spawn(lambda index=index: Asker(f"q{index}"), name=f"a{index}")))
    return (yield gather(*(ref.free_ask("go") for ref in refs)))


EXPECTED = ("m: q0", "m: q1", "m: q2")


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_law_retry_and_fallback_keep_a_succeeding_models_result_in_every_schedule(delivery):
    def retried():
        return model_handlers(with_retry(FunctionModel(echo)))

    def never(request):
        raise AssertionError("the second provider was called though the first succeeded")

    def falling_back():
        return model_handlers(with_fallback(FunctionModel(echo), never))

    for handlers in (retried, falling_back):
        explore(
            three_actors_ask,
            lambda run: run.value == EXPECTED,
            runs=40,
            handlers=handlers,
            delivery=delivery,
        ).assert_passed()


def test_the_law_check_catches_a_fallback_that_asks_the_second_provider_anyway():
    def never(request):
        raise AssertionError("the second provider was called")

    def broken():  # asks both, keeps the first: the law must catch it
        first = FunctionModel(echo)

        def both(request):
            calls = gather(call_model(first, request), call_model(never, request))
            return calls.map(lambda pair: pair[0])

        return model_handlers(both)

    found = explore(three_actors_ask, lambda run: run.value == EXPECTED, runs=5, handlers=broken)
    assert found.found


# -- fallback ---------------------------------------------------------------------------------


def test_fallback_asks_the_next_model_only_after_a_model_error():
    primary = ScriptedModel([Overloaded("down"), ValueError("a bug, not an outage")])
    backup = ScriptedModel(["backup"])
    handlers = model_handlers(with_fallback(primary, backup))
    assert stub.run(complete(["hi"], "m"), handlers).text == "backup"
    with pytest.raises(ValueError, match="a bug"):
        stub.run(complete(["hi"], "m"), handlers)
    assert backup.calls == 1


def test_fallback_raises_the_last_models_error_when_all_fail():
    last = Overloaded("also down")
    handlers = model_handlers(
        with_fallback(ScriptedModel([Overloaded("down")]), ScriptedModel([last]))
    )
    with pytest.raises(Overloaded) as caught:
        stub.run(complete(["hi"], "m"), handlers)
    assert caught.value is last


# -- rate limit -------------------------------------------------------------------------------


def test_requests_per_minute_space_calls_out_after_a_burst():
    @program
    def started(request):
        return f"{(yield now())}"

    limited = with_rate_limit(FunctionModel(started), requests_per_minute=6)
    calls = gather(*(complete([f"{n}"], "m") for n in range(9)))
    starts = [float(reply.text) for reply in stub.run(calls, model_handlers(limited))]
    assert starts == [0, 0, 0, 0, 0, 0, 10, 20, 30]


def test_tokens_per_minute_wait_for_the_usage_of_earlier_calls():
    @program
    def started(request):
        return Completion(f"{(yield now())}", usage=Usage(120, 0))

    limited = with_rate_limit(FunctionModel(started), tokens_per_minute=60)
    handlers = model_handlers(limited)
    first = stub.run(complete(["a"], "m").then(complete(["b"], "m")), handlers)
    # the first used two minutes' worth (120 of 60 a minute): the second waits a minute for
    # the debt, and a second for its own estimated token ("b")
    assert first.text == "61.0"


@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_a_rate_limit_shared_by_actors_holds_in_every_schedule(delivery):
    starts = []

    def handlers():
        starts.clear()

        @program
        def started(request):
            at = yield now()
            starts.append(at)
            yield sleep(1)
            return "ok"

        return model_handlers(with_rate_limit(FunctionModel(started), requests_per_minute=2))

    def check(run):
        assert run.value == ("ok", "ok", "ok")
        assert sorted(starts)[2] >= 30  # two in the first burst, the third 30 s later

    # the third ask waits 31 s for the limit: past the default 30 s ask timeout, which the
    # simulator found; the asks are given two minutes
    explore(
        three_actors_ask, check, runs=40, handlers=handlers, delivery=delivery, ask_timeout=120
    ).assert_passed()


# -- cache ------------------------------------------------------------------------------------


def test_the_cache_answers_a_repeated_request_without_the_model():
    model = FunctionModel(echo)
    cache = MemoryCache()
    handlers = model_handlers(with_cache(model, cache))
    again = complete(["hi"], "m").then(complete(["hi"], "m"))
    assert stub.run(again, handlers).text == "m: hi"
    assert (model.calls, cache.hits, cache.misses) == (1, 1, 1)
    stub.run(complete(["hi"], "m", temperature=0.5), handlers)
    assert model.calls == 2
    streamed = stub.execute(stream_complete(["hi"], "m"), handlers)
    assert chunks_of(streamed.effects) == ["m:", " hi"]
    assert model.calls == 2


def test_the_cache_keeps_no_failure_and_evicts_the_least_recently_used():
    model = ScriptedModel([Overloaded("x"), "ok"])
    handlers = model_handlers(with_cache(model))
    with pytest.raises(Overloaded):
        stub.run(complete(["hi"], "m"), handlers)
    assert stub.run(complete(["hi"], "m"), handlers).text == "ok"
    cache = MemoryCache(max_entries=2)
    for key in "abc":
        cache.put(key, Completion(key))
    assert (cache.get("a"), len(cache)) == (None, 2)


def test_the_request_key_is_stable_across_processes():
    # a constant: the key must not depend on hash seeds, dict order or the process
    assert request_key(Complete(["hi"], "m")) == (
        "2ff52996c46998412a7988fd12702d8fa53fd45229d908eda097de389e3aab28"
    )


# -- usage, logging ---------------------------------------------------------------------------


def test_the_usage_meter_counts_tokens_and_cost_by_model():
    meter = UsageMeter({"big": Price(10, 30)})
    handlers = model_handlers(with_usage(FunctionModel(lambda request: "a b c"), meter))
    stub.run(complete(["one two"], "big").then(complete(["x"], "small")), handlers)
    assert meter.calls == 2
    assert meter.by_model == {"big": Usage(2, 3), "small": Usage(1, 3)}
    assert meter.cost == pytest.approx((2 * 10 + 3 * 30) / 1_000_000)
    assert meter.unpriced == {"small"}


def test_logging_says_what_was_called_and_how_it_ended_without_the_contents(caplog):
    model = ScriptedModel(["secret answer", Overloaded("busy")])
    handlers = model_handlers(with_logging(FunctionModel(lambda r: "x", latency=2)))
    with caplog.at_level(logging.INFO, logger="playbill.models"):
        stub.run(complete(["private question"], "m"), handlers)
        stub.run(complete(["q"], "m"), model_handlers(with_logging(model)))
        with pytest.raises(Overloaded):
            stub.run(complete(["q"], "m"), model_handlers(with_logging(model)))
    assert "Complete to m: 1 messages, 0 tools" in caplog.text
    assert "answered in 2.000s: finish stop" in caplog.text
    assert "failed after 0.000s: Overloaded: busy" in caplog.text
    assert "private" not in caplog.text
    assert "secret" not in caplog.text
    assert caplog.records[-1].levelno == logging.WARNING


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: with_retry(echo, attempts=0), r"with_retry\(\) attempts"),
        (lambda: with_retry(echo, base_delay=-1), r"with_retry\(\) base_delay"),
        (lambda: with_retry(echo, jitter=2), r"with_retry\(\) jitter"),
        (lambda: with_retry(echo, multiplier=0.5), r"with_retry\(\) multiplier"),
        (lambda: with_retry("gpt"), r"with_retry\(\) takes a model"),
        (lambda: with_rate_limit(echo), "needs requests_per_minute"),
        (lambda: with_rate_limit(echo, tokens_per_minute=0), "tokens_per_minute"),
        (lambda: with_fallback(echo), "two models or more"),
        (lambda: with_cache(echo, cache={}), r"with_cache\(\) cache"),
        (lambda: MemoryCache(max_entries=0), "MemoryCache max_entries"),
        (lambda: with_usage(echo, meter=None), r"with_usage\(\) meter"),
        (lambda: UsageMeter({"m": 3}), "UsageMeter prices"),
        (lambda: Price(-1, 0), "Price input_per_million"),
        (lambda: with_logging(echo, level="loud"), r"with_logging\(\) level"),
    ],
)
def test_bad_combinator_options_are_refused_naming_the_option(build, option):
    with pytest.raises(InvalidArgument, match=option):
        build()


# -- asyncio ----------------------------------------------------------------------------------


def test_the_whole_stack_runs_under_asyncio_with_an_async_provider():
    calls = []

    async def provider(request):  # what a real provider is: an async def
        calls.append(request)
        await asyncio.sleep(0)
        if len(calls) == 1:
            raise Overloaded("busy")
        return Completion(f"async {request.messages[-1].content}", usage=Usage(1, 2))

    meter = UsageMeter()
    model = with_usage(
        with_cache(with_rate_limit(with_retry(provider, base_delay=0.01), requests_per_minute=600)),
        meter,
    )
    handlers = model_handlers(model)
    program_ = gather(complete(["a"], "m"), complete(["a"], "m").then(complete(["b"], "m")))
    first, second = run_asyncio(program_, handlers=handlers)
    assert (first.text, second.text) == ("async a", "async b")
    assert meter.calls == 3
    assert meter.usage == Usage(3, 6)
