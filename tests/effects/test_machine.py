import pytest

from playbill import ProgramError, now, pure
from playbill.effects import Done, Failed, Machine, Next, Now


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
