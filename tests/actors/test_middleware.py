"""Middleware: [A, B, C] wraps receive as A(B(C(receive))) for tells and asks, rewrites,
short-circuits and observes, with lifecycle hooks — the same under asyncio and the simulator."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen

from playbill import Actor, InvalidArgument, free_spawn, program, pure, run, simulate
from playbill.actors import Middleware, WithMiddleware, observe

INTERPRETERS = ["asyncio", "simulation"]


def perform(main: Any, interpreter: str) -> Any:
    if interpreter == "asyncio":
        return run(main)
    result = simulate(main, seed=0)
    assert result.status == "completed", result.format_trace()
    return result.value


@frozen
class Tag(Middleware):
    """Records its name on the way in and out, and every hook."""

    name: str
    log: list[str]

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        self.log.append(f"{self.name} in {message}")
        return observe(
            proceed,
            message,
            lambda reply: self.log.append(f"{self.name} out {reply}"),
            lambda error: self.log.append(f"{self.name} saw {error}"),
        )

    def on_start(self, actor: Any) -> None:
        self.log.append(f"{self.name} start")

    def on_stop(self, actor: Any) -> None:
        self.log.append(f"{self.name} stop")

    def on_restart(self, actor: Any, error: BaseException) -> None:
        self.log.append(f"{self.name} restart after {error}")


@frozen
class Double(Middleware):
    """Rewrites the message."""

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        return proceed(message * 2)


@frozen
class Cached(Middleware):
    """Short-circuits: answers ``"cached"`` for 0, without the actor."""

    def receive(self, actor: Any, message: Any, proceed: Any) -> Any:
        return "cached" if message == 0 else proceed(message)


def worker(log: list[str], *, as_program: bool = False) -> type[Actor]:
    class Worker(Actor):
        def on_start(self) -> None:
            log.append("actor start")

        def on_stop(self) -> None:
            log.append("actor stop")

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise ValueError("boom")
            log.append(f"actor got {message}")
            return pure(f"done {message}") if as_program else f"done {message}"

    return Worker


@pytest.mark.parametrize("as_program", [False, True], ids=["plain", "program"])
@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_layers_wrap_receive_outermost_first_for_tells_and_asks(interpreter, as_program):
    log: list[str] = []
    layers = [Tag("A", log), Tag("B", log), Tag("C", log)]

    @program
    def main():
        ref = yield free_spawn(WithMiddleware(worker(log, as_program=as_program), layers))
        yield ref.free_tell("t")
        return (yield ref.free_ask("q"))

    assert perform(main(), interpreter) == "done q"
    handled = [line for line in log if "start" not in line and "stop" not in line]
    assert handled == [
        "A in t", "B in t", "C in t", "actor got t", "C out done t", "B out done t",
        "A out done t",
        "A in q", "B in q", "C in q", "actor got q", "C out done q", "B out done q",
        "A out done q",
    ]  # fmt: skip
    assert log[:4] == ["A start", "B start", "C start", "actor start"]
    assert log[-4:] == ["actor stop", "C stop", "B stop", "A stop"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_layer_rewrites_the_message_or_short_circuits_with_its_own_reply(interpreter):
    log: list[str] = []

    class Echo(Actor):
        middleware = (Cached(), Double())  # a class attribute, like stop_policy

        def receive(self, message: Any) -> Any:
            log.append(f"echo {message}")
            return message

    @program
    def main():
        ref = yield free_spawn(Echo)
        return (yield ref.free_ask(0)), (yield ref.free_ask(21))

    assert perform(main(), interpreter) == ("cached", 42)
    assert log == ["echo 42"]  # the short circuit never reached the actor


@pytest.mark.parametrize("as_program", [False, True], ids=["plain", "program"])
@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_layer_observes_the_error_and_restart_hooks_fire(interpreter, as_program):
    log: list[str] = []

    class Failing(worker(log)):  # type: ignore[misc]
        def receive(self, message: Any) -> Any:
            if as_program and message == "boom":
                return pure(None).map(lambda _: 1 / 0)
            return super().receive(message)

    @program
    def main():
        ref = yield free_spawn(WithMiddleware(Failing, [Tag("A", log)]))
        failed = yield ref.free_ask("boom").attempt()
        return type(failed.failure()).__name__, (yield ref.free_ask("after"))

    kind, after = perform(main(), interpreter)
    assert (kind, after) == ("ZeroDivisionError" if as_program else "ValueError", "done after")
    error = "division by zero" if as_program else "boom"
    assert "A in boom" in log
    assert f"A saw {error}" in log
    # the failed instance stops (its layers' on_stop), the new one starts through on_restart
    restart = log.index(f"A restart after {error}")
    assert log[restart - 2 : restart + 2] == [
        "actor stop", "A stop", f"A restart after {error}", "actor start",
    ]  # fmt: skip
    assert log.count("A start") == 1  # on_restart's on_start does not fire the layers' again


def test_no_middleware_leaves_the_instance_untouched():
    from playbill.actors._spawning import instantiate

    class Plain(Actor):
        def receive(self, message: Any) -> Any:
            return message

    instance = instantiate(Plain, object())
    assert "receive" not in vars(instance)
    assert "on_start" not in vars(instance)


def test_with_middleware_is_a_value_and_names_children_after_the_actor():
    log: list[str] = []
    first = WithMiddleware(worker(log), [Tag("A", log)])
    assert first == WithMiddleware(first.actor, (Tag("A", log),))

    @program
    def main():
        ref = yield free_spawn(first)
        return ref.name

    assert simulate(main(), seed=0).value.startswith("Worker$")


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: WithMiddleware(Actor, "log"), "WithMiddleware middleware"),
        (lambda: WithMiddleware(Actor, [print]), "WithMiddleware middleware"),
        (lambda: WithMiddleware(42, []), "spawn takes an actor class"),
    ],
)
def test_bad_middleware_is_refused_naming_the_option(build, names):
    with pytest.raises(InvalidArgument, match=names):
        build()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_bad_middleware_attribute_is_refused_at_spawn(interpreter):
    class Bad(Actor):
        middleware = ("not a layer",)

        def receive(self, message: Any) -> Any:
            return message

    @program
    def main():
        spawned = yield free_spawn(Bad).attempt()
        return spawned.failure()

    error = perform(main(), interpreter)
    assert isinstance(error, InvalidArgument)
    assert "Bad.middleware must hold Middleware" in str(error)
    assert "'not a layer' (str)" in str(error)
