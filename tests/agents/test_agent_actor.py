"""AgentActor: the framework owns receive; execute as a Program, a plain function, async def,
async generator; progress and chunk as effects; the progressive API; bad input."""

import pytest

from playbill import (
    Actor,
    InvalidArgument,
    ProgramError,
    program,
    simulate,
    sleep,
)
from playbill.agents import AgentActor, Task, ask_agent, is_agent, task_events
from tests.agents.support import INTERPRETERS, check_lifecycle, perform


class Writer(AgentActor[str, list]):
    @program
    def execute(self, prompt):
        yield self.progress("writing")
        for word in prompt.split():
            yield self.chunk(word)
        return prompt.split()


def kinds(events):
    return [(event.kind.value, event.data) for event in events]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_program_execute_publishes_its_lifecycle_and_replies(interpreter):
    outcome = perform(ask_agent(Writer, "a b"), interpreter)
    assert outcome.value == ["a", "b"]
    assert kinds(outcome.events) == [
        ("started", None),
        ("progress", "writing"),
        ("chunk", "a"),
        ("chunk", "b"),
        ("completed", ["a", "b"]),
    ]
    root = outcome.events[0]
    assert root.parent_task_id is None
    assert root.run_id == root.task_id
    assert outcome.left == ()


def test_overriding_receive_is_an_error_that_says_to_override_execute():
    with pytest.raises(ProgramError, match=r"override execute\(self, input\) instead"):

        class Wrong(AgentActor[str, str]):
            def receive(self, message):
                return message


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_plain_function_a_plain_class_and_an_agent_are_all_agents(interpreter):
    class Plain:
        def __init__(self):
            self.greeting = "hello"

        def execute(self, name):
            return f"{self.greeting} {name}"

    @program
    def shout(text):
        yield sleep(1)
        return text.upper()

    assert perform(ask_agent(lambda n: n + 1, 1), interpreter).value == 2
    assert perform(ask_agent(Plain, "ada"), interpreter).value == "hello ada"
    outcome = perform(ask_agent(shout, "hi"), interpreter)
    assert outcome.value == "HI"
    assert [event.kind.value for event in outcome.events] == ["started", "completed"]


def test_the_simulator_refuses_an_async_execute_saying_how_to_write_it():
    class Fetch(AgentActor[str, str]):
        async def execute(self, url):
            return url

    result = simulate(ask_agent(Fetch, "u"))
    assert isinstance(result.error, ProgramError)
    assert "Fetch.execute" in str(result.error)
    assert "@program" in str(result.error)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_failing_execute_publishes_failed_and_raises_to_the_asker(interpreter):
    class Flaky(AgentActor[str, str]):
        @program
        def execute(self, text):
            yield self.progress("trying")
            raise ValueError(f"cannot {text}")

    outcome = perform(ask_agent(Flaky, "parse"), interpreter)
    assert isinstance(outcome.error, ValueError)
    assert [event.kind.value for event in outcome.events] == ["started", "progress", "failed"]
    assert isinstance(outcome.events[-1].data, ValueError)
    assert outcome.left == ()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_execute_returning_the_wrong_type_fails_naming_the_declared_type(interpreter):
    class Counter(AgentActor[str, int]):
        def execute(self, text):
            return text  # not an int

    outcome = perform(ask_agent(Counter, "three"), interpreter)
    assert isinstance(outcome.error, ProgramError)
    assert "declares its output as int" in str(outcome.error)
    check_lifecycle(outcome.events)
    assert outcome.events[-1].kind.value == "failed"


def test_a_generic_output_type_checks_its_origin():
    class Words(AgentActor[str, list[str]]):
        def execute(self, text):
            return tuple(text.split())

    assert "declares its output as list" in str(simulate(ask_agent(Words, "a b")).error)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_message_that_is_not_a_task_is_refused_clearly(interpreter):
    from playbill import free_ask, free_spawn

    @program
    def main():
        writer = yield free_spawn(Writer)
        return (yield free_ask(writer, "a b"))

    outcome = perform(main(), interpreter)
    assert isinstance(outcome.error, InvalidArgument)
    assert "takes Task messages" in str(outcome.error)


def test_progress_outside_execute_is_refused():
    with pytest.raises(InvalidArgument, match="outside execute"):
        Writer().progress("x")


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_an_agent_class_that_cannot_be_constructed_fails_clearly(interpreter):
    class NoKey:
        def __init__(self):
            raise RuntimeError("no API key")

        def execute(self, text):
            return text

    outcome = perform(ask_agent(NoKey, "x"), interpreter)
    assert isinstance(outcome.error, ProgramError)
    assert "NoKey could not be constructed" in str(outcome.error)
    assert "no API key" in str(outcome.error)


def test_an_agent_class_whose_init_needs_arguments_is_refused_up_front():
    class Needy(AgentActor[str, str]):
        def __init__(self, key):
            self.key = key

    with pytest.raises(InvalidArgument, match="requires key"):
        ask_agent(Needy, "x")


@pytest.mark.parametrize("candidate", [42, "agent", Actor, object()])
def test_what_is_not_an_agent_is_refused(candidate):
    assert not is_agent(candidate)
    with pytest.raises(InvalidArgument, match="takes an agent"):
        ask_agent(candidate, "x")


class Slow(AgentActor[str, str]):
    @program
    def execute(self, text):
        yield sleep(2)
        yield self.progress("halfway")
        yield sleep(1)
        return text


def test_each_event_is_one_effect_stamped_with_the_simulators_clock():
    result = simulate(ask_agent(Slow, "x"), seed=0)
    assert result.value == "x"
    events = task_events(result.events)
    assert [(event.kind.value, event.time) for event in events] == [
        ("started", 0.0),
        ("progress", 2.0),
        ("completed", 3.0),
    ]
    # the interpreter stamps each event (EmitStamped): no separate now() read per event
    steps = [line.kind.value for line in result.trace if line.actor.startswith("/app/Slow")]
    assert "now" not in steps
    assert steps.count("emit") == 3


class _Sender(AgentActor[str, str]):
    @program
    def execute(self, text):
        return (yield ask_agent(_Echo, text))


class _Echo(AgentActor[str, str]):
    def execute(self, text):
        return text


def test_task_ids_cost_no_effect_and_replay_the_same_under_the_simulator():
    # a task's id and its agent's path come from the actor's cell: no random draw (a choice of
    # the schedule) and no self_ref per task
    results = [simulate(ask_agent(_Sender, "hi"), seed=seed) for seed in (1, 2)]
    for result in results:
        assert result.value == "hi"
        assert 1 not in result.widths  # a random draw is a choice of width 1
        kinds = {line.kind.value for line in result.trace}
        assert not kinds & {"random", "self_ref"}
        ids = [(event.task_id, event.run_id) for event in task_events(result.events)]
        assert ids == [("t1", "t1"), ("t1.1", "t1"), ("t1.1", "t1"), ("t1", "t1")]


def test_task_ids_are_unique_across_systems_and_draw_nothing_under_asyncio(arun):
    from playbill import ActorSystem
    from playbill.effects import Random

    drawn: list[object] = []

    async def ids_of_one_system():
        async with ActorSystem("app", handlers={Random: drawn.append}) as system:
            ref = system.spawn(_Echo, "echo")
            return [(await ref.ask(Task(str(i)))).task_id for i in range(3)]

    async def main():
        return await ids_of_one_system(), await ids_of_one_system()

    first, second = arun(main())
    assert drawn == []
    assert len(set(first + second)) == 6
    prefix = first[0].rsplit("-", 1)[0]
    assert first == [f"{prefix}-{n}" for n in (1, 2, 3)]
    assert second[0].rsplit("-", 1)[0] != prefix  # each system draws its own prefix
