"""The framework's overhead per model call and per streamed token (issue 13): a
`FunctionModel` that answers at once, bare and under retry + rate limit + cache, run under
the stub interpreter inside one program (so the interpreter's start-up is not counted).
Targets: <= 50 us a call with the stack on, <= 5 us a streamed token. Prints a table."""

from __future__ import annotations

import time

from playbill import program
from playbill.interpreters import stub
from playbill.models import (
    Completion,
    FunctionModel,
    complete,
    model_handlers,
    stream_complete,
    with_cache,
    with_rate_limit,
    with_retry,
)

CALLS = 20_000
TOKENS = 200


def loop(calls: int, ask):  # type: ignore[no-untyped-def]
    @program
    def body():  # type: ignore[no-untyped-def]
        for index in range(calls):
            yield ask(index)

    return body()


def measure(label: str, model, ask, calls: int, per: int = 1) -> float:  # type: ignore[no-untyped-def]
    stub.run(loop(100, ask), model_handlers(model))  # warm up
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        stub.run(loop(calls, ask), model_handlers(model))
        best = min(best, (time.perf_counter() - started) / (calls * per))
    print(f"{label:<58} {best * 1e6:8.2f} us")
    return best


def main() -> None:
    reply = Completion("ok")
    bare = FunctionModel(lambda request: reply)
    stack = with_cache(
        with_rate_limit(with_retry(bare), requests_per_minute=1e12, tokens_per_minute=1e15)
    )
    uncached = with_rate_limit(with_retry(bare), requests_per_minute=1e12)
    print(f"{'per model call (FunctionModel answering at once)':<58} {'time':>11}")
    measure("bare FunctionModel", bare, lambda i: complete(["hi"], "m"), CALLS)
    measure(
        "retry + rate limit, each request distinct",
        uncached,
        lambda i: complete([f"hi {i}"], "m"),
        CALLS,
    )
    measure(
        "retry + rate limit + cache, each request distinct (misses)",
        with_cache(uncached),
        lambda i: complete([f"hi {i}"], "m"),
        CALLS,
    )
    measure(
        "retry + rate limit + cache, same request (hits)",
        stack,
        lambda i: complete(["hi"], "m"),
        CALLS,
    )
    words = " ".join(["word"] * TOKENS)
    streamer = FunctionModel(lambda request: Completion(words))
    measure(
        f"streamed, per token ({TOKENS} tokens a reply)",
        streamer,
        lambda i: stream_complete(["hi"], "m"),
        200,
        TOKENS,
    )


if __name__ == "__main__":
    main()
