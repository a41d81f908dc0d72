import pytest

from playbill import ProgramError, emit_stamped, fail, now, program, pure
from playbill.effects import Done, EmitStamped, Failed, Intercept, Machine, Next, Now, Random


def test_the_stepper_stops_at_each_effect_and_resumes_with_its_result():
    machine = Machine(now().flat_map(lambda t: now().map(lambda u: (t, u))))
    first = machine.start()
    assert isinstance(first, Next)
    assert first.effect == Now()
    second = first.resume(1.0)
    assert isinstance(second, Next)
    assert second.resume(2.0) == Done((1.0, 2.0))


def test_throwing_into_the_stepper_raises_at_the_effect():
    machine = Machine(now().recover(lambda e: f"recovered {e}"))
    step = machine.start()
    assert isinstance(step, Next)
    assert step.throw(KeyError("clock broke")) == Done("recovered 'clock broke'")


def test_an_unrecovered_failure_is_reported_as_failed():
    machine = Machine(now())
    step = machine.start()
    assert isinstance(step, Next)
    error = KeyError("x")
    assert step.throw(error) == Failed(error)


def test_resume_with_runs_a_program_in_place_of_the_effect():
    machine = Machine(now().map(lambda t: t * 2))
    machine.start()
    assert machine.resume_with(pure(21)) == Done(42)


def test_a_machine_resumed_twice_is_refused():
    machine = Machine(now())
    machine.start()
    machine.resume(1.0)
    with pytest.raises(ProgramError, match="resume it exactly once per Next"):
        machine.resume(2.0)


def test_a_machine_started_twice_is_refused():
    machine = Machine(pure(1))
    machine.start()
    with pytest.raises(ProgramError, match="already started"):
        machine.start()


def test_a_machine_needs_a_program():
    with pytest.raises(ProgramError, match="not a Program"):
        Machine(42)  # type: ignore[arg-type]


def test_a_stale_next_cannot_resume_a_later_effect():
    from playbill import sleep

    machine = Machine(sleep(1).then(sleep(2)).then(now()))
    first = machine.start()
    assert isinstance(first, Next)
    first.resume(None)
    with pytest.raises(ProgramError, match="was already resumed"):
        first.resume(None)


def test_a_program_returned_from_do_notation_is_an_error_with_the_fix():
    from playbill import program
    from playbill.interpreters import stub

    @program
    def body():  # type: ignore[no-untyped-def]
        yield pure(1)
        return pure(3)

    with pytest.raises(ProgramError, match=r"return \(yield program\)"):
        stub.run(body())


def test_an_effect_stands_for_perform_everywhere_a_program_is_expected():
    from playbill import fork, gather, join
    from playbill.interpreters import stub

    assert stub.run(pure(1).then(Now()), {Now: lambda e: 5.0}) == 5.0
    assert stub.run(gather(Now(), pure(1)), {Now: lambda e: 5.0}) == (5.0, 1)
    assert stub.run(pure(1).flat_map(lambda _: Now()), {Now: lambda e: 7.0}) == 7.0
    assert stub.run(fork(Now()).flat_map(join), {Now: lambda e: 8.0}) == 8.0


def test_running_a_reusable_failure_many_times_does_not_grow_its_traceback():
    from playbill import fail, program
    from playbill.interpreters import stub

    error = KeyError("again")
    failing = fail(error)

    @program
    def thrower():  # type: ignore[no-untyped-def]
        yield failing

    for _ in range(200):
        stub.run(thrower().attempt())
    depth = 0
    trace = error.__traceback__
    while trace is not None:
        depth += 1
        trace = trace.tb_next
    assert depth < 10


def _now_as_random(effect):
    return Random() if type(effect) is Now else effect


def test_intercept_transforms_every_effect_of_its_source_nested_programs_included():
    @program
    def inner():
        return (yield now())

    body = now().flat_map(lambda first: inner().map(lambda second: (first, second)))
    machine = Machine(Intercept(body, _now_as_random))
    step = machine.start()
    assert step.effect == Random()
    step = step.resume(0.25)
    assert step.effect == Random()
    assert step.resume(0.5) == Done((0.25, 0.5))


def test_intercept_ends_with_its_source_on_success_and_on_failure():
    succeeded = Intercept(now(), _now_as_random).then(now())
    step = Machine(succeeded).start()
    assert step.effect == Random()
    assert step.resume(0.1).effect == Now()  # after the intercept: untouched
    failed = Intercept(now(), _now_as_random).recover(lambda error: 0.0).then(now())
    step = Machine(failed).start()
    assert step.effect == Random()
    assert step.throw(ValueError("x")).effect == Now()


def test_nested_intercepts_apply_innermost_first():
    seen = []

    def outer(effect):
        seen.append(("outer", effect))
        return effect

    def inner(effect):
        seen.append(("inner", effect))
        return Random()

    step = Machine(Intercept(Intercept(now(), inner), outer)).start()
    assert step.effect == Random()
    assert seen == [("inner", Now()), ("outer", Random())]


def test_a_transform_that_raises_fails_the_program_at_the_effect():
    def broken(effect):
        raise KeyError("no")

    @program
    def body():
        try:
            yield now()
        except KeyError:
            return "caught"

    assert Machine(Intercept(body(), broken)).start() == Done("caught")


def test_an_intercept_with_an_ending_folds_its_source_value_and_failure():
    seen = []

    def on_error(error):
        seen.append(error)
        return now()  # runs outside the scope: not transformed

    ends = Intercept(now(), _now_as_random, lambda value: value * 2, on_error)
    step = Machine(ends).start()
    assert step.effect == Random()
    assert step.resume(0.25) == Done(0.5)
    step = Machine(ends).start()
    error = KeyError("lost")
    step = step.throw(error)
    assert step.effect == Now()
    assert seen == [error]
    assert step.resume(3.0) == Done(3.0)


def test_an_intercept_on_error_sees_any_failure_and_may_fail_again():
    class Stopped(BaseException):
        pass

    stopped = Stopped()
    again = ValueError("again")
    seen = []

    def on_error(error):
        seen.append(error)
        return fail(again)

    ends = Intercept(fail(stopped), _now_as_random, on_error=on_error).recover(repr)
    assert Machine(ends).start() == Done(repr(again))
    assert seen == [stopped]


def test_what_an_intercept_on_value_raises_fails_the_program_without_reaching_on_error():
    broken = ZeroDivisionError("on_value")
    reached = []

    def on_value(value):
        raise broken

    ends = Intercept(pure(1), _now_as_random, on_value, lambda error: reached.append(error))
    assert Machine(ends).start() == Failed(broken)
    assert reached == []
    # the scope is over by then: an effect after the failure is not transformed
    step = Machine(ends.recover(lambda error: 0).then(now())).start()
    assert step.effect == Now()


def test_an_intercept_on_error_that_returns_no_program_is_named():
    ends = Intercept(fail(KeyError("k")), _now_as_random, on_error=lambda error: "plain")
    step = Machine(ends).start()
    assert isinstance(step, Failed)
    assert "the intercept's on_error" in str(step.error)
    assert "not a Program" in str(step.error)


def _doubled(value):
    return value * 2


def test_an_intercept_with_an_ending_prints_it():
    ends = Intercept(now(), _now_as_random, _doubled, repr)
    assert "intercept(_now_as_random, on_value=_doubled, on_error=repr)" in ends.pretty()
    assert "on_value" not in Intercept(now(), _now_as_random).pretty()


# -- effects performed inside the step (an interpreter's agent events) -------------------------


def _publishing(events):
    @program
    def body():
        try:
            yield emit_stamped(lambda time: ("a", time))
            yield emit_stamped(lambda time: ("b", time))
        except KeyError as error:
            return f"caught {error}"
        return (yield now())

    return body()


def test_an_effect_performed_in_step_goes_straight_back_into_its_generator():
    events = []
    machine = Machine(_publishing(events))
    machine.perform_in_step(EmitStamped, lambda effect: events.append(effect.make(1.0)))
    step = machine.start()
    assert isinstance(step, Next)  # the first effect not performed in step
    assert step.effect == Now()
    assert events == [("a", 1.0), ("b", 1.0)]
    assert step.resume(2.0) == Done(2.0)


def test_an_effect_performed_in_step_may_hand_back_an_effect_to_wait_on():
    waits = []

    def perform(effect):
        waits.append(effect.make(0.0))
        return Random() if len(waits) == 1 else None  # wait once, after the first

    machine = Machine(_publishing([]))
    machine.perform_in_step(EmitStamped, perform)
    step = machine.start()
    assert isinstance(step, Next)
    assert step.effect == Random()
    assert waits == [("a", 0.0)]
    step = step.resume(0.5)  # its result is the waited effect's; the generator goes on
    assert waits == [("a", 0.0), ("b", 0.0)]
    assert isinstance(step, Next)
    assert step.effect == Now()


def test_a_failure_of_an_effect_performed_in_step_is_raised_at_the_effect():
    def perform(effect):
        raise KeyError("full")

    machine = Machine(_publishing([]))
    machine.perform_in_step(EmitStamped, perform)
    assert machine.start() == Done("caught 'full'")


def test_only_a_generators_yield_is_performed_in_step():
    machine = Machine(emit_stamped(lambda time: time).then(pure(1)))
    machine.perform_in_step(EmitStamped, lambda effect: pytest.fail("performed in step"))
    step = machine.start()
    assert isinstance(step, Next)
    assert type(step.effect) is EmitStamped
    assert step.resume(None) == Done(1)


def test_an_effect_read_in_step_sends_its_reading_straight_back():
    events = []
    machine = Machine(_publishing(events))
    machine.perform_in_step(EmitStamped, lambda effect: events.append(effect.make(1.0)))
    readings = iter([7.0])
    machine.read_in_step(Now, lambda effect: next(readings))
    assert machine.start() == Done(7.0)  # no Next for the now(): read in the step
    assert events == [("a", 1.0), ("b", 1.0)]


def test_a_failure_of_a_read_in_step_is_raised_at_the_effect():
    @program
    def body():
        try:
            yield now()
        except KeyError as error:
            return f"caught {error}"
        return "not raised"

    def read(effect):
        raise KeyError("no clock")

    machine = Machine(body())
    machine.read_in_step(Now, read)
    assert machine.start() == Done("caught 'no clock'")


def test_only_a_generators_yield_is_read_in_step():
    machine = Machine(now().map(lambda time: time + 1))
    machine.read_in_step(Now, lambda effect: pytest.fail("read in step"))
    step = machine.start()
    assert isinstance(step, Next)
    assert step.effect == Now()
    assert step.resume(1.0) == Done(2.0)


def test_a_read_in_step_sees_the_effect_an_intercept_handed_on():
    @program
    def body():
        return (yield now())

    machine = Machine(Intercept(body(), lambda effect: Random() if effect == Now() else effect))
    machine.read_in_step(Now, lambda effect: pytest.fail("the intercept made it a Random"))
    step = machine.start()
    assert isinstance(step, Next)
    assert step.effect == Random()
