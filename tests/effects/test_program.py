from typing import Any

import attrs
import pytest
from attrs import frozen
from returns.result import Failure, Success

from playbill import (
    Cancelled,
    Effect,
    InvalidArgument,
    Program,
    ProgramError,
    fail,
    perform,
    program,
    pure,
    sequence,
    traverse,
)
from playbill.effects import Catch, FlatMap, Generate, Intercept, Pure
from playbill.interpreters import stub


@frozen
class Record(Effect[int]):
    n: int


def recording() -> tuple[list[int], dict[type, object]]:
    seen: list[int] = []

    def handle(effect: Record) -> int:
        seen.append(effect.n)
        return effect.n * 10

    return seen, {Record: handle}


def test_building_a_program_performs_nothing():
    calls = []
    built = perform(Record(1)).map(lambda x: calls.append(x)).flat_map(lambda _: pure(2))
    assert calls == []
    assert isinstance(built, Program)


def test_running_the_same_program_twice_gives_two_independent_runs():
    seen, handlers = recording()
    counter = perform(Record(1)).flat_map(lambda a: perform(Record(a)))
    assert stub.run(counter, handlers) == 100
    assert stub.run(counter, handlers) == 100
    assert seen == [1, 10, 1, 10]


def test_do_notation_calls_the_generator_function_anew_on_each_run():
    starts = []

    @program
    def body():
        starts.append("start")
        return (yield pure(1)) + 1

    built = body()
    assert starts == []
    assert stub.run(built) == stub.run(built) == 2
    assert starts == ["start", "start"]


def test_programs_are_frozen_values_compared_by_value():
    assert pure(1) == pure(1)
    assert pure(1) != pure(2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        pure(1).value = 2  # type: ignore[misc]


def test_map_flat_map_then_and_rshift_compose():
    seen, handlers = recording()
    built = perform(Record(1)).map(lambda x: x + 1).flat_map(lambda x: perform(Record(x)))
    assert stub.run(built >> pure("end"), handlers) == "end"
    assert seen == [1, 11]
    assert stub.run(pure(1).then(pure(2))) == 2


def test_then_rejects_a_value_that_is_not_a_program():
    with pytest.raises(ProgramError, match=r"then\(\.\.\.\) expected a Program"):
        pure(1).then(2)  # type: ignore[arg-type]


def test_zip_pairs_results():
    assert stub.run(pure(1).zip(pure("b"))) == (1, "b")


def test_recover_turns_a_failure_into_a_value():
    assert stub.run(fail(KeyError("k")).recover(lambda e: f"recovered {e}")) == "recovered 'k'"
    assert stub.run(pure(1).recover(lambda e: 2)) == 1


def test_recover_catches_only_the_given_error_types():
    only_key_errors = fail(ValueError("v")).recover(lambda e: "caught", catching=KeyError)
    with pytest.raises(ValueError, match="v"):
        stub.run(only_key_errors)
    either = fail(ValueError("v")).recover(lambda e: "caught", catching=(KeyError, ValueError))
    assert stub.run(either) == "caught"


def test_recover_rejects_catching_values_that_are_not_exception_classes():
    with pytest.raises(InvalidArgument, match="catching= takes exception classes"):
        pure(1).recover(lambda e: 0, catching="KeyError")  # type: ignore[arg-type]


def test_recover_does_not_swallow_cancellation():
    with pytest.raises(Cancelled):
        stub.run(fail(Cancelled()).recover(lambda e: "swallowed"))
    with pytest.raises(Cancelled):
        stub.run(fail(Cancelled()).attempt())


def test_recover_with_continues_with_a_program():
    seen, handlers = recording()
    built = fail(KeyError("k")).recover_with(lambda e: perform(Record(7)))
    assert stub.run(built, handlers) == 70
    assert seen == [7]


def test_a_failure_inside_a_handler_is_caught_by_an_outer_recover():
    built = fail(KeyError("a")).recover_with(lambda e: fail(ValueError(f"from {e}")))
    assert stub.run(built.recover(str)) == "from 'a'"


def test_attempt_gives_a_result_and_never_fails():
    assert stub.run(pure(1).attempt()) == Success(1)
    error = KeyError("k")
    assert stub.run(fail(error).attempt()) == Failure(error)


def test_ensuring_runs_the_finaliser_on_success_and_on_failure():
    seen, handlers = recording()
    assert stub.run(pure(1).ensuring(perform(Record(1))), handlers) == 1
    with pytest.raises(KeyError):
        stub.run(fail(KeyError("k")).ensuring(perform(Record(2))), handlers)
    assert seen == [1, 2]


def test_a_failing_finaliser_replaces_the_outcome_as_finally_does():
    with pytest.raises(ValueError, match="finaliser"):
        stub.run(fail(KeyError("k")).ensuring(fail(ValueError("finaliser"))))


def test_ensuring_rejects_a_finaliser_that_is_not_a_program():
    with pytest.raises(ProgramError, match="ensuring"):
        pure(1).ensuring(lambda: None)  # type: ignore[arg-type]


def test_an_exception_raised_by_a_user_function_fails_the_program_where_it_was_raised():
    def explode(x: int) -> int:
        raise RuntimeError(f"bad {x}")

    built = pure(1).map(explode).recover(lambda e: f"caught {e}")
    assert stub.run(built) == "caught bad 1"


def test_a_continuation_that_returns_a_plain_value_is_a_program_error_naming_it():
    def not_a_program(x: int) -> int:
        return x + 1

    with pytest.raises(ProgramError, match=r"flat_map continuation .*not_a_program.*returned 2"):
        stub.run(pure(1).flat_map(not_a_program))  # type: ignore[arg-type]


def test_a_recover_with_handler_that_returns_a_plain_value_is_named():
    with pytest.raises(ProgramError, match="recover_with handler"):
        stub.run(fail(KeyError()).recover_with(lambda e: 3))  # type: ignore[arg-type, return-value]


def test_fail_requires_an_exception_instance():
    with pytest.raises(ProgramError, match=r"fail\(\) takes an exception instance"):
        fail("not an exception")  # type: ignore[arg-type]


def test_perform_requires_an_effect():
    with pytest.raises(ProgramError, match=r"perform\(\) takes an Effect"):
        perform("not an effect")  # type: ignore[arg-type]


def test_sequence_runs_in_order_and_collects_results():
    seen, handlers = recording()
    assert stub.run(sequence([perform(Record(i)) for i in range(4)]), handlers) == (0, 10, 20, 30)
    assert seen == [0, 1, 2, 3]


def test_sequence_stops_at_the_first_failure():
    seen, handlers = recording()
    built = sequence([perform(Record(1)), fail(KeyError("stop")), perform(Record(2))])
    with pytest.raises(KeyError):
        stub.run(built, handlers)
    assert seen == [1]


def test_sequence_rejects_items_that_are_not_programs():
    with pytest.raises(ProgramError, match=r"sequence\(\.\.\.\) item 1"):
        sequence([pure(1), 2])  # type: ignore[list-item]


def test_traverse_builds_and_runs_a_program_per_item():
    seen, handlers = recording()
    assert stub.run(traverse([3, 4], lambda n: perform(Record(n))), handlers) == (30, 40)
    assert seen == [3, 4]


def test_traverse_may_be_run_twice():
    built = traverse(iter([1, 2]), pure)
    assert stub.run(built) == stub.run(built) == (1, 2)


def test_pure_nodes_are_the_documented_shapes():
    built = pure(1).flat_map(pure)
    assert isinstance(built, FlatMap)
    assert built.source == Pure(1)


def _gen_body(*args: Any, **kwargs: Any) -> Any:
    return "body"
    yield  # pragma: no cover - makes it a generator


def _same(effect: Any) -> Any:
    return effect


@pytest.mark.parametrize(
    ("node", "fields"),
    [
        (lambda: Generate(_gen_body), {"args": (), "kwargs": ()}),
        (lambda: Generate(_gen_body, (1,), (("k", 2),)), {"args": (1,), "kwargs": (("k", 2),)}),
        (lambda: Catch(pure(1), fail), {"catching": (Exception,)}),
        (lambda: Catch(pure(1), fail, (KeyError,)), {"catching": (KeyError,)}),
        (
            lambda: Intercept(pure(1), _same),
            {"transform": _same, "on_value": None, "on_error": None},
        ),
        (lambda: Intercept(pure(1), _same, str), {"on_value": str, "on_error": None}),
    ],
)
def test_nodes_built_by_hand_keep_their_defaults_and_stay_frozen(
    node: Any, fields: dict[str, Any]
) -> None:
    built = node()
    for name, value in fields.items():
        assert getattr(built, name) == value
    first = attrs.fields(type(built))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(built, first, pure(2))
    expected = "body" if type(built) is Generate else 1
    assert stub.run(built) == (str(expected) if getattr(built, "on_value", None) else expected)
