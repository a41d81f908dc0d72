from typing import Any

import pytest
from attrs import frozen

from playbill import Cancelled, Effect, ProgramError, fail, perform, program, pure, sleep
from playbill.interpreters import stub


@frozen
class Lookup(Effect[str]):
    key: str


HANDLERS = {Lookup: lambda effect: effect.key.upper()}


def test_yield_gives_the_result_of_a_program_or_an_effect():
    @program
    def body():
        a = yield pure("x")
        b = yield Lookup("y")  # an effect is lifted as perform(effect)
        c = yield perform(Lookup("z"))
        return a + b + c

    assert stub.run(body(), HANDLERS) == "xYZ"


def test_a_failure_is_raised_at_the_yield_so_try_except_works():
    @program
    def body():
        try:
            yield fail(KeyError("missing"))
        except KeyError as error:
            return f"handled {error}"
        return "not reached"

    assert stub.run(body()) == "handled 'missing'"


def test_an_uncaught_failure_fails_the_program():
    @program
    def body():
        yield fail(KeyError("missing"))

    with pytest.raises(KeyError, match="missing"):
        stub.run(body())


def test_finally_blocks_run_when_the_program_fails():
    log = []

    @program
    def body():
        try:
            yield fail(RuntimeError("boom"))
        finally:
            log.append("finally")

    with pytest.raises(RuntimeError):
        stub.run(body())
    assert log == ["finally"]


def test_an_exception_can_be_replaced_in_except():
    @program
    def body():
        try:
            yield fail(KeyError("k"))
        except KeyError as error:
            raise ValueError("translated") from error

    with pytest.raises(ValueError, match="translated"):
        stub.run(body())


def test_yielding_a_plain_value_raises_a_program_error_at_the_yield():
    @program
    def body():
        try:
            yield 42
        except ProgramError as error:
            return str(error)
        return "not reached"

    message = stub.run(body())
    assert "yielded 42 (int)" in message
    assert "test_yielding_a_plain_value" in message


def test_decorating_a_plain_function_is_refused():
    with pytest.raises(ProgramError, match="has no `yield`"):

        @program  # type: ignore[arg-type]
        def not_a_generator() -> int:
            return 1


def test_do_notation_works_on_methods():
    class Service:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        @program
        def greet(self, name: str) -> Any:
            upper = yield Lookup(name)
            return f"{self.prefix} {upper}"

    assert stub.run(Service("hello").greet("ada"), HANDLERS) == "hello ADA"


def test_keyword_arguments_are_passed():
    @program
    def body(a: int, *, b: int) -> Any:
        return (yield pure(a)) - b

    assert stub.run(body(5, b=2)) == 3


def test_programs_nest():
    @program
    def inner(x: int) -> Any:
        return (yield pure(x)) * 2

    @program
    def outer() -> Any:
        return (yield inner(3)) + (yield inner(4))

    assert stub.run(outer()) == 14


def test_cancellation_runs_finally_blocks_but_except_exception_does_not_swallow_it():
    log = []

    @program
    def worker() -> Any:
        try:
            yield sleep(10)
        except Exception:
            log.append("swallowed")
        finally:
            log.append("cleaned up")

    result = stub.run(worker().timeout(1).recover(lambda e: type(e).__name__))
    assert result == "TimedOut"
    assert log == ["cleaned up"]


def test_a_generator_may_catch_cancelled_explicitly():
    @program
    def stubborn() -> Any:
        try:
            yield sleep(10)
        except Cancelled:
            return "caught"
        return "slept"

    from playbill import fork, join

    @program
    def main() -> Any:
        fiber = yield fork(stubborn())
        yield sleep(1)
        yield fiber.cancel()
        return (yield join(fiber))

    assert stub.run(main()) == "caught"


def test_arguments_are_checked_when_the_program_is_built():
    from playbill import InvalidArgument

    @program
    def two(a: int, b: int) -> Any:
        yield pure(a + b)

    with pytest.raises(InvalidArgument, match=r"two\(\.\.\.\): missing a required argument"):
        two(1)  # type: ignore[call-arg]


def test_arguments_with_defaults_are_counted_and_checked_alike():
    from playbill import InvalidArgument

    @program
    def scaled(a: int, b: int = 2, c: int = 3) -> Any:
        return (yield pure(a * b * c))

    assert [stub.run(scaled(1)), stub.run(scaled(1, 5)), stub.run(scaled(1, 5, 7))] == [6, 15, 35]
    assert stub.run(scaled(1, c=10)) == 20
    with pytest.raises(InvalidArgument, match=r"scaled\(\.\.\.\): missing a required argument"):
        scaled()  # type: ignore[call-arg]
    with pytest.raises(InvalidArgument, match=r"scaled\(\.\.\.\): too many positional"):
        scaled(1, 2, 3, 4)  # type: ignore[call-arg]


def test_async_functions_are_refused_with_the_fix():
    with pytest.raises(ProgramError, match="is async; write `def` and `yield` effects"):

        @program  # type: ignore[arg-type]
        async def fetch() -> int:
            return 1


def test_yielding_a_bare_generator_suggests_the_decorator():
    def helper() -> Any:
        yield pure(1)

    @program
    def body() -> Any:
        yield helper()

    with pytest.raises(ProgramError, match="decorate the generator function"):
        stub.run(body())
