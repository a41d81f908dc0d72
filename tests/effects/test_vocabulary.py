import math

import pytest

from playbill import (
    ActorRef,
    InvalidArgument,
    emit,
    free_ask,
    free_spawn,
    free_stop,
    free_tell,
    now,
    random,
    self_ref,
    sleep,
    watch,
)
from playbill.effects import (
    Ask,
    Emit,
    Now,
    Random,
    SelfRef,
    Sleep,
    Spawn,
    Stop,
    Suspend,
    Tell,
    Watch,
)

REF = ActorRef("/app/worker", 7)


class Worker:
    def receive(self, message: object) -> object:
        return message


@pytest.mark.parametrize(
    ("built", "effect"),
    [
        (free_spawn(Worker, name="w"), Spawn(Worker, "w")),
        (free_tell(REF, "hi"), Tell(REF, "hi")),
        (free_ask(REF, "q"), Ask(REF, "q", None)),
        (free_ask(REF, "q", timeout=2), Ask(REF, "q", 2.0)),
        (free_stop(REF), Stop(REF)),
        (emit({"k": 1}), Emit({"k": 1})),
        (self_ref(), SelfRef()),
        (now(), Now()),
        (sleep(1), Sleep(1.0)),
        (random(), Random()),
        (watch(REF), Watch(REF)),
        (REF.free_tell("hi"), Tell(REF, "hi")),
        (REF.free_ask("q", timeout=1.5), Ask(REF, "q", 1.5)),
        (REF.free_stop(), Stop(REF)),
    ],
)
def test_each_constructor_builds_the_effect_value(built, effect):
    assert built == Suspend(effect)


def test_an_actor_ref_is_a_plain_value():
    assert ActorRef("/app/a", 1) == ActorRef("/app/a", 1)
    assert ActorRef("/app/a", 1) != ActorRef("/app/a", 2)
    assert REF.name == "worker"
    assert str(REF) == "/app/worker"


def test_a_ref_method_builds_a_workflow_value():
    other = ActorRef("/app/other")
    built = REF.free_ask("q").flat_map(lambda reply: other.free_ask(reply))
    line = test_a_ref_method_builds_a_workflow_value.__code__.co_firstlineno + 2
    assert repr(built) == f"free_ask(/app/worker, 'q').flat_map(<lambda:{line}>)"


@pytest.mark.parametrize("target", ["/app/worker", None, 3])
def test_telling_something_that_is_not_a_ref_is_refused(target):
    with pytest.raises(InvalidArgument, match=r"free_tell\(\) takes an ActorRef"):
        free_tell(target, "hi")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0, -1, math.nan, "2"])
def test_an_ask_with_a_timeout_that_is_not_positive_is_refused(timeout):
    with pytest.raises(InvalidArgument, match="positive timeout"):
        free_ask(REF, "q", timeout=timeout)


@pytest.mark.parametrize("seconds", [-0.1, math.nan, "1"])
def test_sleep_refuses_negative_or_non_numbers(seconds):
    with pytest.raises(InvalidArgument, match=r"sleep\(\) takes a number of seconds >= 0"):
        sleep(seconds)


def test_spawning_something_that_is_not_an_actor_factory_is_refused():
    with pytest.raises(InvalidArgument, match="actor class or a zero-argument factory"):
        free_spawn(Worker(), name="w")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a/b", 3])
def test_spawn_names_must_be_path_segments(name):
    with pytest.raises(InvalidArgument, match="name must be a non-empty string"):
        free_spawn(Worker, name=name)


def test_invalid_argument_is_both_a_value_error_and_a_type_error():
    assert issubclass(InvalidArgument, ValueError)
    assert issubclass(InvalidArgument, TypeError)


def test_now_is_one_program_for_every_call() -> None:
    # a program is an immutable value: now() builds nothing per call (it is on hot paths,
    # an @program agent's task reading the clock)
    assert now() is now()
    assert now() == Suspend(Now())
