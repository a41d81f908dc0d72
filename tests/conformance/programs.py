"""One body of programs, each with the outcome every interpreter must give.

Each case builds a fresh program; `expected` is the outcome: ("value", v) or ("error", name of
the exception type); `dead_letters`, when given, the dead letters counted once the system shut
down. Only programs whose outcome does not depend on the schedule belong here. Every later
feature adds its programs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

from playbill import (
    Actor,
    AllForOne,
    Bounded,
    Cancelled,
    Directive,
    Effect,
    OneForOne,
    Overflow,
    RestForOne,
    Terminated,
    await_promise,
    cancel,
    complete,
    emit,
    fail,
    fail_promise,
    fork,
    free_spawn,
    free_stop,
    gather,
    join,
    new_promise,
    now,
    perform,
    program,
    pure,
    race,
    random,
    self_ref,
    sequence,
    sleep,
    timeout,
    traverse,
    watch,
)
from playbill.actors import (
    ONE_TIME,
    AfterIdle,
    AfterMessage,
    Broadcast,
    ConsistentHash,
    GetRoutees,
    Group,
    Pool,
    Resize,
)
from playbill.streams import END_OF_STREAM, source, to_actor


@frozen
class Case:
    name: str
    build: Callable[[], Any]
    expected: tuple[str, Any]
    handlers: dict[type, Any] | None = None
    dead_letters: int | None = None
    actors: bool = True  # False: the stub interpreter can run it too


CASES: list[Case] = []


def case(
    expected: tuple[str, Any],
    *,
    handlers: dict[type, Any] | None = None,
    dead_letters: int | None = None,
    actors: bool = True,
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(build: Callable[[], Any]) -> Callable[[], Any]:
        CASES.append(Case(build.__name__, build, expected, handlers, dead_letters, actors))
        return build

    return register


# -- actors used by the cases -------------------------------------------------------------------


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Counter(Actor):
    def __init__(self) -> None:
        self.n = 0

    def receive(self, message: Any) -> Any:
        if message == "inc":
            self.n += 1
            return None
        if message == "get":
            return self.n
        if message == "boom":
            raise ValueError("boom")
        return None


class Doubler(Actor):
    """Replies through a program: asks an echo child and doubles its answer."""

    def on_start(self) -> None:
        self.echo = self.context.spawn(Echo, "echo")

    def receive(self, message: Any) -> Any:
        return self.echo.free_ask(message).map(lambda value: value * 2)


class Recorder(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        if message == "hold":
            self.seen.append(message)
            return sleep(0.05)
        if isinstance(message, Terminated):
            self.seen.append(("terminated", message.ref.name))
            return None
        if isinstance(message, tuple) and message[0] == "watch":
            return watch(message[1])
        self.seen.append(message)
        return None


class Stopper(Actor):
    def receive(self, message: Any) -> Any:
        return self_ref().flat_map(free_stop).map(lambda _: "stopping")


class Sleeper(Actor):
    def receive(self, message: Any) -> Any:
        return sleep(message).then(pure("woke"))


class Parent(Actor):
    """Starts children a, b, c; its strategy comes from the spawn."""

    def on_start(self) -> None:
        for name in ("a", "b", "c"):
            self.context.spawn(Counter, name)

    def receive(self, message: Any) -> Any:
        return None


def decide(directive: Directive) -> Callable[[BaseException], Directive]:
    return lambda error: directive


@frozen
class Lookup(Effect[str]):
    key: str


LOOKUP = {Lookup: lambda effect: effect.key.upper()}


# -- the core effects without actors ------------------------------------------------------------


@case(("value", 3), actors=False)
def pure_and_map() -> Any:
    return pure(1).map(lambda x: x + 2)


@case(("error", "KeyError"), actors=False)
def failure_propagates() -> Any:
    return pure(1).flat_map(lambda _: fail(KeyError("k")))


@case(("value", "recovered"), actors=False)
def recover_catches() -> Any:
    return fail(KeyError("k")).recover(lambda e: "recovered")


@case(("value", "A"), handlers=LOOKUP, actors=False)
def user_effect_with_a_handler() -> Any:
    return perform(Lookup("a"))


@case(("error", "UnhandledEffect"), actors=False)
def user_effect_without_a_handler() -> Any:
    return perform(Lookup("a"))


@case(("value", (1, 2, 3)), actors=False)
def gather_in_order() -> Any:
    return gather(pure(1), sleep(0.01).then(pure(2)), pure(3))


@case(("error", "ValueError"), actors=False)
def gather_fails_with_its_first_failure() -> Any:
    return gather(sleep(0.05).then(pure(1)), fail(ValueError("x")))


@case(("value", "fast"), actors=False)
def race_first_success_wins() -> Any:
    return race(sleep(0.2).then(pure("slow")), sleep(0.01).then(pure("fast")))


@case(("value", "success"), actors=False)
def race_ignores_a_fast_failure() -> Any:
    return race(fail(KeyError("fast")), sleep(0.01).then(pure("success")))


@case(("error", "TimedOut"), actors=False)
def timeout_expires() -> Any:
    return timeout(sleep(1), 0.02)


@case(("value", "in time"), actors=False)
def timeout_lets_fast_work_through() -> Any:
    return timeout(pure("in time"), 1)


@case(("value", 7), actors=False)
def fork_and_join() -> Any:
    return fork(sleep(0.01).then(pure(7))).flat_map(join)


@case(("error", "FiberCancelled"), actors=False)
def join_of_a_cancelled_fiber() -> Any:
    @program
    def body() -> Any:
        fiber = yield fork(sleep(1))
        yield fiber.cancel()
        return (yield join(fiber))

    return body()


@case(("value", ["body", "finaliser"]), actors=False)
def ensuring_runs_its_finaliser() -> Any:
    log: list[str] = []
    body = pure(None).map(lambda _: log.append("body"))
    finaliser = pure(None).map(lambda _: log.append("finaliser"))
    return body.ensuring(finaliser).map(lambda _: log)


@case(("value", (1, 2)), actors=False)
def sequence_and_traverse() -> Any:
    return sequence([pure(1)]).flat_map(
        lambda first: traverse([2], pure).map(lambda second: (first[0], second[0]))
    )


@case(("value", True), actors=False)
def clock_moves_forward_with_sleep() -> Any:
    return now().flat_map(lambda t0: sleep(0.01).then(now()).map(lambda t1: t1 - t0 >= 0.009))


@case(("value", True), actors=False)
def random_is_a_unit_float() -> Any:
    return random().map(lambda x: 0 <= x < 1)


@case(("value", "done"), actors=False)
def emit_at_the_root() -> Any:
    return emit({"event": 1}).then(pure("done"))


# -- promises: a wake-up from one fiber (or actor) to others ----------------------------------


@case(("value", ([5, 5, 5], True, False, 5)), actors=False)
def promise_completed_once_wakes_every_waiter() -> Any:
    @program
    def main() -> Any:
        promise = yield new_promise()
        waiters = []
        for _ in range(3):
            waiters.append((yield fork(await_promise(promise))))
        yield sleep(0.01)
        first = yield complete(promise, 5)
        second = yield complete(promise, 6)
        values = []
        for waiter in waiters:
            values.append((yield join(waiter)))
        return values, first, second, (yield await_promise(promise))

    return main()


@case(("value", ["<Failure: 'gone'>", "<Failure: 'gone'>"]), actors=False)
def promise_failed_raises_its_error_in_each_waiter() -> Any:
    @program
    def main() -> Any:
        promise = yield new_promise()
        early = yield fork(await_promise(promise).attempt())
        yield fail_promise(promise, KeyError("gone"))
        late = yield await_promise(promise).attempt()
        return [repr((yield join(early))), repr(late)]

    return main()


@case(("value", ([], "FiberCancelled", "kept")), actors=False)
def promise_waiter_cancelled_before_the_completion_never_receives_it() -> Any:
    @program
    def main() -> Any:
        received: list[Any] = []
        promise = yield new_promise()
        waiter = yield fork(await_promise(promise).map(received.append))
        keeper = yield fork(await_promise(promise))
        yield sleep(0.01)
        yield cancel(waiter)
        yield complete(promise, "kept")
        outcome = yield join(waiter).attempt()
        return received, type(outcome.failure()).__name__, (yield join(keeper))

    return main()


class _Completer(Actor):
    def receive(self, promise: Any) -> Any:
        return sleep(0.01).then(complete(promise, "from the actor"))


@case(("value", "from the actor"), dead_letters=0)
def promise_completed_by_another_actor_wakes_the_main_program() -> Any:
    @program
    def main() -> Any:
        promise = yield new_promise()
        completer = yield free_spawn(_Completer, name="completer")
        yield completer.free_tell(promise)
        return (yield await_promise(promise))

    return main()


# -- actors ---------------------------------------------------------------------------------


@case(("value", 2))
def tell_then_ask() -> Any:
    @program
    def body() -> Any:
        counter = yield free_spawn(Counter, name="counter")
        yield counter.free_tell("inc")
        yield counter.free_tell("inc")
        return (yield counter.free_ask("get"))

    return body()


@case(("value", 42))
def receive_returns_a_program() -> Any:
    return free_spawn(Doubler, name="doubler").flat_map(lambda ref: ref.free_ask(21))


@case(("value", "/app/echo"))
def spawned_ref_has_a_path() -> Any:
    return free_spawn(Echo, name="echo").map(lambda ref: ref.path)


@case(("error", "InvalidArgument"))
def duplicate_name_is_refused() -> Any:
    return free_spawn(Echo, name="twin").then(free_spawn(Echo, name="twin"))


@case(("error", "ValueError"))
def ask_fails_with_the_target_exception() -> Any:
    return free_spawn(Counter, name="counter").flat_map(lambda ref: ref.free_ask("boom"))


@case(("error", "AskTimeout"))
def ask_times_out() -> Any:
    return free_spawn(Sleeper, name="sleeper").flat_map(lambda ref: ref.free_ask(1, timeout=0.02))


@case(("error", "ActorStopped"), dead_letters=1)
def ask_to_a_stopped_actor() -> Any:
    @program
    def body() -> Any:
        echo = yield free_spawn(Echo, name="echo")
        yield free_stop(echo)
        yield sleep(0.01)
        return (yield echo.free_ask("hello"))

    return body()


@case(("value", "stopping"))
def an_actor_stops_itself_after_replying() -> Any:
    return free_spawn(Stopper, name="stopper").flat_map(lambda ref: ref.free_ask("stop"))


@case(("value", [("terminated", "target")]))
def watch_delivers_terminated() -> Any:
    @program
    def body() -> Any:
        recorder = yield free_spawn(Recorder, name="recorder")
        target = yield free_spawn(Echo, name="target")
        yield recorder.free_ask(("watch", target))
        yield free_stop(target)
        yield sleep(0.01)
        return (yield recorder.free_ask("seen"))

    return body()


@case(("value", None), dead_letters=1)
def tell_to_a_stopped_actor_is_a_dead_letter() -> Any:
    @program
    def body() -> Any:
        echo = yield free_spawn(Echo, name="echo")
        yield free_stop(echo)
        yield sleep(0.01)
        return (yield echo.free_tell("lost?"))

    return body()


@case(("error", "InvalidArgument"))
def self_ref_at_the_root() -> Any:
    return self_ref()


@case(("value", [1, 2, 3]))
def messages_from_one_sender_keep_their_order() -> Any:
    @program
    def body() -> Any:
        recorder = yield free_spawn(Recorder, name="recorder")
        for n in (1, 2, 3):
            yield recorder.free_tell(n)
        return (yield recorder.free_ask("seen"))

    return body()


@case(("value", ["hold", 2, 3]), dead_letters=1)
def bounded_drop_oldest() -> Any:
    @program
    def body() -> Any:
        recorder = yield free_spawn(
            Recorder, name="recorder", mailbox=Bounded(2, Overflow.DROP_OLDEST)
        )
        yield fork(recorder.free_ask("hold"))  # keeps the recorder busy for a while
        yield sleep(0.01)
        for n in (1, 2, 3):
            yield recorder.free_tell(n)
        yield sleep(0.1)
        return (yield recorder.free_ask("seen"))

    return body()


@case(("value", 0))
def restart_resets_state() -> Any:
    @program
    def body() -> Any:
        counter = yield free_spawn(Counter, name="counter")
        yield counter.free_tell("inc")
        yield counter.free_tell("boom")
        yield sleep(0.01)
        return (yield counter.free_ask("get"))

    return body()


def _asked_once_back(ref: Any, tries: int = 100) -> Any:
    """``ref.free_ask("get")``, asked again 20 ms later while the child is not found: a
    restarting parent has stopped its children and not yet made them again (under asyncio on
    a loaded machine that can outlast the program's 20 ms; the simulator's first ask finds
    it, so its traces are those of one ask)."""
    from playbill import ActorNotFound

    def again(error: BaseException) -> Any:
        if not isinstance(error, ActorNotFound) or tries <= 1:
            return fail(error)
        return sleep(0.02).then(_asked_once_back(ref, tries - 1))

    return ref.free_ask("get").recover_with(again)


def supervised(strategy: Any, failing: str = "b", *, restarts_parent: bool = False) -> Any:
    @program
    def body() -> Any:
        parent = yield free_spawn(Parent, name="parent", supervision=strategy)
        yield parent.free_ask("ready")
        children = {}
        for name in ("a", "b", "c"):
            from playbill import ActorRef

            children[name] = ActorRef(f"/app/parent/{name}")
            yield children[name].free_tell("inc")
            yield children[name].free_ask("get")  # handled before the failure, in any schedule
        yield children[failing].free_tell("boom")
        yield sleep(0.02)
        counts = []
        for name in ("a", "b", "c"):
            ask = children[name].free_ask("get")
            counts.append((yield _asked_once_back(children[name]) if restarts_parent else ask))
        return counts

    return body()


@case(("value", [1, 0, 1]))
def one_for_one_restarts_the_failed_child() -> Any:
    return supervised(OneForOne())


@case(("value", [0, 0, 0]))
def all_for_one_restarts_every_child() -> Any:
    return supervised(AllForOne())


@case(("value", [1, 0, 0]))
def rest_for_one_restarts_the_later_children() -> Any:
    return supervised(RestForOne())


@case(("value", [1, 1, 1]))
def resume_keeps_state() -> Any:
    return supervised(OneForOne(decide(Directive.RESUME)))


@case(("error", "ActorNotFound"))  # the stopped child's name is gone: asked by path
def stop_directive_stops_the_child() -> Any:
    return supervised(OneForOne(decide(Directive.STOP)))


@case(("value", [0, 0, 0]))
def escalate_makes_the_grandparent_restart_the_parent() -> Any:
    # the parent escalates a's failure; the root restarts the parent, and with it every child
    return supervised(OneForOne(decide(Directive.ESCALATE)), failing="a", restarts_parent=True)


@case(("value", ("woke", "woke")))
def two_sleepers_in_parallel() -> Any:
    @program
    def body() -> Any:
        first = yield free_spawn(Sleeper, name="first")
        second = yield free_spawn(Sleeper, name="second")
        return (yield gather(first.free_ask(0.01), second.free_ask(0.01)))

    return body()


@case(("value", "A"), handlers=LOOKUP)
def user_effect_inside_an_actor() -> Any:
    class Looker(Actor):
        def receive(self, message: Any) -> Any:
            return perform(Lookup(message))

    return free_spawn(Looker, name="looker").flat_map(lambda ref: ref.free_ask("a"))


@case(("value", "done"))
def emit_inside_an_actor() -> Any:
    class Announcer(Actor):
        def receive(self, message: Any) -> Any:
            return emit(message).then(pure("done"))

    return free_spawn(Announcer, name="announcer").flat_map(lambda ref: ref.free_ask("hi"))


@case(("error", "ActorNotFound"))
def ask_to_an_unknown_path() -> Any:
    from playbill import ActorRef

    return ActorRef("/app/nobody").free_ask("hello")


class Forker(Actor):
    """Each message forks a fiber that has started and still runs when the message is done."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def receive(self, message: Any) -> Any:
        if message == "log":
            return list(self.log)

        def note(text: str) -> Any:
            return pure(None).map(lambda _: self.log.append(text))

        started = fork(sleep(10).ensuring(note(f"{message} fork unwound")))
        return started.then(sleep(0.01)).then(note(f"{message} handled"))


@case(("value", ["one handled", "one fork unwound", "two handled", "two fork unwound"]))
def forks_of_a_message_unwind_before_the_next_message() -> Any:
    @program
    def body() -> Any:
        forker = yield free_spawn(Forker, name="forker")
        yield forker.free_tell("one")
        yield forker.free_tell("two")
        return (yield forker.free_ask("log"))

    return body()


@case(("value", "the actor answered the finaliser"))
def the_main_programs_forks_unwind_before_the_actors_stop() -> Any:
    answers: list[str] = []

    @program
    def body() -> Any:
        echo = yield free_spawn(Echo, name="echo")
        finaliser = echo.free_ask("the actor answered the finaliser").map(answers.append)
        yield fork(sleep(10).ensuring(finaliser))
        yield sleep(0.01)
        return "done"

    # body runs as its own fiber: it ends once its fork unwound, then the answers are read
    return gather(body()).then(pure(None).map(lambda _: answers[0] if answers else "none"))


# -- Flow: every combinator, compiled to a program ---------------------------------------------

from playbill import flow as fl  # noqa: E402
from playbill.actors import Backoff  # noqa: E402
from playbill.flow import Continue, Done  # noqa: E402


def _boom(_: Any) -> Any:
    raise ValueError("boom")


def _slow(seconds: float, value: Any) -> Any:
    return lambda _input: sleep(seconds).then(pure(value))


@case(("value", "42!"), actors=False)
def flow_then_map_and_flat_map() -> Any:
    parsed = fl.step(int) >> fl.step(lambda n: n * 2).map(str)
    chosen = parsed.flat_map(lambda text: fl.step(lambda t: t + "!"))
    return chosen.to_program("21")


@case(("value", (3, "abc")), actors=False)
def flow_zip_runs_both_on_the_input() -> Any:
    return fl.step(len).zip(fl.identity()).to_program("abc")


@case(("value", ("1", 2, None)), actors=False)
def flow_zip_all_gives_each_flow_its_input() -> Any:
    return fl.zip_all(fl.step(str), fl.step(abs), fl.pure(None)).to_program([1, -2, "x"])


@case(("error", "WrongInput"), actors=False)
def flow_zip_all_refuses_fewer_inputs() -> Any:
    return fl.zip_all(fl.step(str), fl.step(str), fl.step(str)).to_program([1, 2])


@case(("error", "ValueError"), actors=False)
def flow_zip_fails_with_its_first_failure() -> Any:
    return fl.step(_slow(5, "late")).zip(fl.step(_boom)).to_program(0)


@case(("value", "steady"), actors=False)
def flow_race_first_success_wins_over_a_fast_failure() -> Any:
    return fl.race(fl.step(_boom), fl.step(_slow(0.01, "steady"))).to_program(0)


@case(("value", "fast"), actors=False)
def flow_race_cancels_the_slow_one() -> Any:
    return fl.race(fl.step(_slow(100, "slow")), fl.step(_slow(0.01, "fast"))).to_program(0)


@case(("value", ("INT 2", "STR A", "OTHER")), actors=False)
def flow_branch_by_type_and_otherwise() -> Any:
    shape = fl.branch(
        {int: fl.step(lambda n: f"INT {n + 1}"), str: fl.step(lambda s: f"STR {s.upper()}")},
        otherwise=fl.pure("OTHER"),
    )
    return sequence([shape.to_program(1), shape.to_program("a"), shape.to_program(1.5)])


@case(("error", "NoBranchMatched"), actors=False)
def flow_branch_without_a_case_fails() -> Any:
    return fl.branch({int: fl.identity()}).to_program("text")


@case(("value", ("big", "small")), actors=False)
def flow_branch_on_a_predicate() -> Any:
    sized = fl.branch_on(lambda n: n > 10, fl.pure("big"), fl.pure("small"))
    return sequence([sized.to_program(11), sized.to_program(3)])


@case(("value", ("recovered boom", "fallback", "with ValueError")), actors=False)
def flow_recover_fallback_and_recover_with() -> Any:
    failing = fl.step(_boom)
    return sequence(
        [
            failing.recover(lambda error: f"recovered {error}").to_program(0),
            failing.fallback_to(fl.pure("fallback")).to_program(0),
            failing.recover_with(lambda error: fl.pure(f"with {type(error).__name__}")).to_program(
                0
            ),
        ]
    )


@case(("value", 6), actors=False)
def flow_loop_until_done() -> Any:
    halve = fl.step(lambda n: Done(n) if n < 10 else Continue(n // 2))
    return fl.loop(halve, max_iter=10).to_program(100)


@case(("error", "LoopLimitExceeded"), actors=False)
def flow_loop_past_max_iter_fails() -> Any:
    return fl.loop(fl.step(Continue), max_iter=5).to_program(0)


@case(("value", "draft v3"), actors=False)
def flow_loop_with_state_keeps_the_last_state_on_request() -> Any:
    revise = fl.step(lambda pair: Continue(f"draft v{int(pair[1][-1]) + 1}"))
    return fl.loop_with_state(revise, "draft v0", max_iter=3, on_limit="last").to_program("task")


@case(("value", ("kept 4", "FilteredOut")), actors=False)
def flow_filter_passes_or_fails() -> Any:
    even = fl.identity().filter(lambda n: n % 2 == 0)
    return sequence(
        [
            even.to_program(4).map(lambda n: f"kept {n}"),
            even.to_program(3).recover(lambda error: type(error).__name__),
        ]
    )


@case(("value", (7, [7, "Failure"])), actors=False)
def flow_tap_and_and_then_see_the_output() -> Any:
    seen: list[Any] = []
    tapped = fl.identity().tap(seen.append)
    observed = fl.step(_boom).and_then(lambda outcome: seen.append(type(outcome).__name__))
    return tapped.to_program(7).flat_map(
        lambda value: observed.to_program(0).attempt().map(lambda _: (value, seen))
    )


@case(("error", "TimedOut"), actors=False)
def flow_timeout_on_the_clock() -> Any:
    return fl.step(_slow(60, "late")).timeout(0.02).to_program(0)


@case(("value", ("third time", 2)), actors=False)
def flow_retry_until_it_succeeds() -> Any:
    failures: list[int] = []

    def flaky(_: Any) -> Any:
        if len(failures) < 2:
            failures.append(1)
            raise ConnectionError("try again")
        return "third time"

    return (
        fl.step(flaky)
        .retry(3, Backoff(initial=0.001, jitter=0.0))
        .to_program(0)
        .map(lambda value: (value, len(failures)))
    )


@case(("value", ((1, 3), 1)), actors=False)
def flow_at_least_reaches_a_quorum() -> Any:
    quorum = fl.at_least(2, fl.step(lambda x: 1), fl.step(_boom), fl.step(_slow(0.01, 3)))
    return quorum.to_program(0).map(
        lambda result: (tuple(sorted(result.succeeded)), len(result.failed))
    )


@case(("error", "QuorumNotReached"), actors=False)
def flow_at_least_fails_once_the_quorum_is_impossible() -> Any:
    return fl.at_least(2, fl.step(_boom), fl.step(_boom), fl.pure(1)).to_program(0)


@case(("value", "HELLO"))
def flow_actor_leaf_spawns_asks_and_stops() -> Any:
    class Shout(Actor):
        def receive(self, message: Any) -> Any:
            return message.upper()

    return (fl.actor(Shout) >> fl.actor(Shout)).to_program("hello")


@case(("value", ["hello", "hello"]))
def flow_call_by_ref_and_by_relative_path() -> Any:
    @program
    def body() -> Any:
        echo = yield free_spawn(Echo, name="echo")
        by_ref = yield fl.call(echo).to_program("hello")
        by_path = yield fl.call("echo").to_program("hello")
        return [by_ref, by_path]

    return body()


@case(("value", ("main", ["side saw main"])))
def flow_divert_to_runs_the_side_flow_before_the_run_ends() -> Any:
    seen: list[str] = []
    side = fl.step(
        lambda value: sleep(0.01).then(pure(None).map(lambda _: seen.append(f"side saw {value}")))
    )
    return fl.pure("main").divert_to(side).to_program(0).map(lambda value: (value, seen))


@case(("value", "main"))
def flow_divert_to_a_failing_side_flow_does_not_fail_the_flow() -> Any:
    return fl.pure("main").divert_to(fl.step(_boom)).to_program(0)


@case(("value", 10_000), actors=False)
def flow_ten_thousand_steps() -> Any:
    chain = fl.identity()
    for _ in range(10_000):
        chain = chain >> fl.step(lambda n: n + 1)
    return chain.to_program(0, events=False)


class LongJob(Actor):
    """Works for a long while on each job, noting when its finaliser runs."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def receive(self, message: Any) -> Any:
        if message == "notes":
            return list(self.notes)
        return sleep(100).ensuring(pure(None).map(lambda _: self.notes.append("finaliser ran")))


@case(("value", ("ActorStopped", ["finaliser ran"])), dead_letters=0)
def stop_with_interrupt_cancels_the_message_in_progress() -> Any:
    notes: list[Any] = []

    class Noting(LongJob):
        def __init__(self) -> None:
            super().__init__()
            self.notes = notes

    @program
    def body() -> Any:
        worker = yield free_spawn(Noting, name="worker")
        asked = yield fork(worker.free_ask("job", timeout=1000))
        yield sleep(0.01)
        yield free_stop(worker, interrupt=True)
        outcome = yield join(asked).attempt()
        return type(outcome.failure()).__name__, notes

    return body()


@case(("value", "stopped after the job"), dead_letters=0)
def stop_without_interrupt_lets_the_message_finish() -> Any:
    class Quick(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(0.05).then(pure("stopped after the job"))

    @program
    def body() -> Any:
        worker = yield free_spawn(Quick, name="worker")
        asked = yield fork(worker.free_ask("job"))
        yield sleep(0.01)
        yield free_stop(worker)
        return (yield join(asked))

    return body()


@case(("value", "fast"), dead_letters=0)
def flow_actor_leaf_losing_a_race_is_interrupted() -> Any:
    class Slow(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(100).then(pure("slow"))

    fast = fl.step(lambda _: sleep(0.01).then(pure("fast")))
    # the loser is interrupted at once: no late reply to dead-letter, no shutdown waiting on it
    return fl.race(fl.actor(Slow), fast).to_program(None)


@case(("value", ("done", ["on_stop ran"])))
def an_actor_never_interrupts_itself() -> Any:
    notes: list[str] = []

    class SelfStopping(Actor):
        def on_start(self) -> None:
            self.context.spawn(Echo, "helper")

        def receive(self, message: Any) -> Any:
            return self_ref().flat_map(lambda me: free_stop(me, interrupt=True)).then(pure("done"))

        def on_stop(self) -> None:
            notes.append("on_stop ran")

    @program
    def body() -> Any:
        actor = yield free_spawn(SelfStopping, name="self-stopping")
        answer = yield actor.free_ask("go")
        yield sleep(0.01)
        return answer, notes

    return body()


@case(("value", "FiberCancelled"))
def a_plain_stop_keeps_the_programs_own_cancellation() -> Any:
    class Cancelling(Actor):
        def receive(self, message: Any) -> Any:
            return sleep(0.05).then(fail(Cancelled()))

    @program
    def body() -> Any:
        worker = yield free_spawn(Cancelling, name="worker")
        asked = yield fork(worker.free_ask("job"))
        yield sleep(0.01)
        yield free_stop(worker)
        outcome = yield join(asked).attempt()
        return type(outcome.failure()).__name__

    return body()


@case(("value", ("ActorStopped", ["finaliser ran"])), dead_letters=0)
def a_direct_stop_with_interrupt_cancels_the_message_in_progress() -> Any:
    notes: list[Any] = []

    class Noting(LongJob):
        def __init__(self) -> None:
            super().__init__()
            self.notes = notes

    class Boss(Actor):
        def receive(self, message: Any) -> Any:
            message.stop(interrupt=True)  # the direct API, from a plain receive
            return None

    @program
    def body() -> Any:
        worker = yield free_spawn(Noting, name="worker")
        boss = yield free_spawn(Boss, name="boss")
        asked = yield fork(worker.free_ask("job", timeout=1000))
        yield sleep(0.01)
        yield boss.free_ask(worker)
        outcome = yield join(asked).attempt()
        return type(outcome.failure()).__name__, notes

    return body()


# -- hook order: actors that note their hooks in a shared log, returned as the value -----------

HookTree = dict[str, "HookTree"]


class Hooked(Actor):
    """Notes each hook call (and each `Terminated` it gets) in the shared ``log``, as
    ``"<name> <hook>"``; its ``on_start`` starts ``children`` (a tree of names), each a `Hooked`
    on the same log. ``"ping"`` is answered once every child answered it (so all have started),
    ``"boom"`` fails, ``("watch", ref)`` watches ``ref``."""

    def __init__(self, log: list[str], children: HookTree | None = None) -> None:
        self.log = log
        self.tree = children or {}

    def note(self, text: str) -> None:
        self.log.append(f"{self.context.self_ref.name} {text}")

    def on_start(self) -> None:
        self.note("on_start")
        self.helpers = [
            self.context.spawn(_hooked(self.log, grandchildren), name)
            for name, grandchildren in self.tree.items()
        ]

    def on_stop(self) -> None:
        self.note("on_stop")

    def on_restart(self, error: BaseException) -> Any:
        self.note(f"on_restart {type(error).__name__}")
        return super().on_restart(error)  # on_start, which starts the children again

    def receive(self, message: Any) -> Any:
        if message == "ping":
            return traverse(self.helpers, lambda ref: ref.free_ask("ping")).map(lambda _: "pong")
        if message == "boom":
            raise ValueError("boom")
        if isinstance(message, Terminated):
            self.note(f"saw {message.ref.name} terminated")
            return None
        if isinstance(message, tuple) and message[0] == "watch":
            return watch(message[1])
        return None


def _hooked(log: list[str], children: HookTree | None = None) -> Callable[[], Hooked]:
    return lambda: Hooked(log, children)


def _by_actor(log: list[str]) -> dict[str, list[str]]:
    """The log per actor, in order: for siblings, which run concurrently, only each one's own
    order is the same in every schedule."""
    grouped: dict[str, list[str]] = {}
    for entry in log:
        name, hook = entry.split(" ", 1)
        grouped.setdefault(name, []).append(hook)
    return dict(sorted(grouped.items()))


@case(
    (
        "value",
        (
            "ValueError",
            [
                "worker on_start",
                "helper on_start",
                "helper on_stop",  # the children stop first,
                "worker on_stop",  # then the old instance's on_stop,
                "worker on_restart ValueError",  # then the new instance's on_restart
                "worker on_start",  # (whose default calls on_start)
                "helper on_start",
            ],
        ),
    ),
    dead_letters=0,
)
def hook_order_of_a_one_for_one_restart() -> Any:
    @program
    def body() -> Any:
        log: list[str] = []
        worker = yield free_spawn(
            _hooked(log, {"helper": {}}), name="worker", supervision=OneForOne()
        )
        yield worker.free_ask("ping")
        failed = yield worker.free_ask("boom").attempt()
        yield worker.free_ask("ping")  # waits for the restart, handled by the new instance
        return type(failed.failure()).__name__, list(log)

    return body()


@case(
    (
        "value",
        {
            "a": ["on_start", "on_stop", "on_restart ValueError", "on_start"],
            "b": ["on_start", "on_stop", "on_restart ValueError", "on_start"],
            "sup": ["on_start"],
        },
    ),
    dead_letters=0,
)
def hook_order_of_an_all_for_one_restart() -> Any:
    from playbill import ActorRef

    @program
    def body() -> Any:
        log: list[str] = []
        # backoff 0: no Backoff (its initial delay must be positive), the restarts are at once
        sup = yield free_spawn(
            _hooked(log, {"a": {}, "b": {}}), name="sup", supervision=AllForOne(backoff=None)
        )
        yield sup.free_ask("ping")
        a, b = ActorRef("/app/sup/a"), ActorRef("/app/sup/b")
        yield b.free_ask("boom").attempt()
        # b's ping waits for its restart; by then a's restart is posted, and a handles it
        # before the ping sent after it
        yield b.free_ask("ping")
        yield a.free_ask("ping")
        return _by_actor(log)

    return body()


@case(
    (
        "value",
        [
            "parent on_start",
            "child on_start",
            "grandchild on_start",
            "grandchild on_stop",  # children stop before their parent's on_stop
            "child on_stop",
            "parent on_stop",
        ],
    ),
    dead_letters=0,
)
def hook_order_of_a_stop_with_children() -> Any:
    @program
    def body() -> Any:
        log: list[str] = []
        parent = yield free_spawn(_hooked(log, {"child": {"grandchild": {}}}), name="parent")
        yield parent.free_ask("ping")
        yield free_stop(parent)
        yield sleep(0.01)
        return list(log)

    return body()


@case(
    (
        "value",
        ["target on_start", "watcher on_start", "target on_stop", "watcher saw target terminated"],
    ),
    dead_letters=0,
)
def hook_order_of_a_watch_of_a_stopped_actor() -> Any:
    @program
    def body() -> Any:
        log: list[str] = []
        target = yield free_spawn(_hooked(log), name="target")
        yield target.free_ask("ping")
        watcher = yield free_spawn(_hooked(log), name="watcher")
        yield watcher.free_ask("ping")
        yield free_stop(target)
        yield sleep(0.01)
        yield watcher.free_ask(("watch", target))  # already stopped: Terminated at once
        yield watcher.free_ask("ping")  # handled after the notice
        return list(log)

    return body()


# -- agents (issue 12): nested tasks, fail-fast, races, streamed chunks ------------------------

# imported here, with the cases that use them, so the earlier cases read as before
from playbill.agents import (  # noqa: E402
    AgentActor,
    ask_agent,
    race_agents,
    sequence_agents,
    stream_agent,
)


class _Shout(AgentActor[str, tuple[Any, ...]]):
    """Reports its output with how its task links to the one that sent it."""

    def execute(self, text: str) -> Any:
        task = self.task
        suffix = task.task_id.removeprefix(task.parent_task_id or "")
        return (text.upper(), suffix, task.parent_agent_path is not None)


class _Lead(AgentActor[str, tuple[Any, ...]]):
    @program
    def execute(self, topic: str) -> Any:
        yield self.progress("delegating")
        first = yield ask_agent(_Shout, topic)
        both = yield sequence_agents(
            [
                ask_agent(_Shout, f"{topic}-x", name="x"),
                ask_agent(_Shout, f"{topic}-y", name="y"),
            ]
        )
        # concurrent children are numbered in the order their asks go out: the schedule's
        outputs = tuple(shout[0] for shout in both)
        suffixes = tuple(sorted(shout[1] for shout in both))
        return first, outputs, suffixes, all(shout[2] for shout in both)


@case(("value", (("A", ".1", True), ("A-X", "A-Y"), (".2", ".3"), True)), dead_letters=0)
def agents_nested_tasks_link_to_the_task_that_sent_them() -> Any:
    return ask_agent(_Lead, "a")


def _noting_agents(notes: list[str]) -> tuple[type, type, type]:
    class Slow(AgentActor[str, str]):
        # whether a sibling's failure (or a race's winner) comes before this one starts is the
        # schedule's choice; what every schedule keeps is that one that started was stopped
        def execute(self, text: str) -> Any:
            return (
                pure(None)
                .map(lambda _: notes.append(f"{text} started"))
                .then(sleep(100))
                .then(pure(text))
                .ensuring(pure(None).map(lambda _: notes.append(f"{text} stopped")))
            )

    class Fast(AgentActor[str, str]):
        def execute(self, text: str) -> Any:
            return sleep(0.001).then(pure(text))

    class Broken(AgentActor[str, str]):
        def execute(self, text: str) -> Any:
            raise ValueError(text)

    return Slow, Fast, Broken


def _each_start_stopped(notes: list[str]) -> bool:
    return notes in ([], ["slow started", "slow stopped"])


@case(("value", ("ValueError", True, True)), dead_letters=0)
def agents_sequence_fails_fast_and_stops_the_siblings() -> Any:
    notes: list[str] = []
    slow, _, broken = _noting_agents(notes)

    @program
    def body() -> Any:
        started = yield now()
        outcome = yield sequence_agents(
            [ask_agent(slow, "slow", name="slow"), ask_agent(broken, "broken", name="broken")]
        ).attempt()
        ended = yield now()
        yield sleep(0.01)  # the interrupted sibling's finaliser has run by now
        return type(outcome.failure()).__name__, _each_start_stopped(notes), ended - started < 50

    return body()


@case(("value", ("fast", True)), dead_letters=0)
def agents_race_the_first_success_wins_and_the_losers_stop() -> Any:
    notes: list[str] = []
    slow, fast, broken = _noting_agents(notes)

    @program
    def body() -> Any:
        won = yield race_agents(
            [
                ask_agent(slow, "slow", name="slow"),
                ask_agent(broken, "broken", name="broken"),
                ask_agent(fast, "fast", name="fast"),
            ]
        )
        yield sleep(0.01)
        return won, _each_start_stopped(notes)

    return body()


@case(("error", "ValueError"), dead_letters=0)
def agents_race_of_failures_raises_one() -> Any:
    _, _, broken = _noting_agents([])
    return race_agents([ask_agent(broken, "a", name="a"), ask_agent(broken, "b", name="b")])


class _Writer(AgentActor[str, list]):  # type: ignore[type-arg]
    @program
    def execute(self, prompt: str) -> Any:
        words = prompt.split()
        for word in words:
            yield self.chunk(word)
        return words


class _Relay(AgentActor[str, list]):  # type: ignore[type-arg]
    @program
    def execute(self, prompt: str) -> Any:
        return (yield stream_agent(_Writer, prompt))


@case(("value", ["a", "b", "c"]), dead_letters=0)
def agents_stream_chunks_up_through_a_relay() -> Any:
    return ask_agent(_Relay, "a b c")


# -- the actor toolkit: routers and stop policies (issue 16) ----------------------------------


class _Named(Actor):
    """Answers with its own name, through a program (so each message is a fiber)."""

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return self_ref().map(lambda ref: ref.path.rsplit("/", 1)[1])


def _names(refs: Any) -> list[str]:
    return [ref.path.rsplit("/", 1)[1] for ref in refs]


@case(("value", ["routee1", "routee2", "routee3"] * 2), dead_letters=0)
def router_round_robin_answers_from_each_routee_in_turn() -> Any:
    @program
    def main() -> Any:
        router = yield free_spawn(Pool(_Named, 3), name="pool")
        answers = []
        for each in range(6):
            answers.append((yield router.free_ask(each)))
        return answers

    return main()


@case(("value", ("routee1", [3, 3, 3])), dead_letters=0)
def router_broadcast_reaches_every_routee() -> Any:
    @program
    def main() -> Any:
        router = yield free_spawn(Pool(Counter, 3, routing=Broadcast()), name="all")
        yield router.free_tell("inc")
        yield router.free_tell("inc")
        first = yield router.free_ask("inc")  # answered by the first routee (None: no reply)
        routees = yield router.free_ask(GetRoutees())
        counts = []
        for routee in routees:
            counts.append((yield routee.free_ask("get")))
        return _names(routees)[0] if first is None else first, counts

    return main()


@case(("value", (True, 3)), dead_letters=0)
def router_consistent_hash_keeps_each_key_on_one_routee() -> Any:
    @program
    def main() -> Any:
        router = yield free_spawn(
            Pool(_Named, 4, routing=ConsistentHash(lambda message: message[0])), name="hash"
        )
        seen: dict[str, set[str]] = {}
        for key in "abcabcabc":
            seen.setdefault(key, set()).add((yield router.free_ask((key, 1))))
        return all(len(routees) == 1 for routees in seen.values()), len(seen)

    return main()


@case(("value", (["routee1"], ["routee1", "routee4", "routee5"])), dead_letters=0)
def router_pool_resizes_and_retired_routees_finish_their_queue() -> Any:
    @program
    def main() -> Any:
        router = yield free_spawn(Pool(Counter, 3), name="pool")
        for _ in range(9):
            yield router.free_tell("inc")
        shrunk = yield router.free_ask(Resize(1))  # the two retired handle their 3 first
        grown = yield router.free_ask(Resize(3))
        return _names(shrunk), _names(grown)

    return main()


@case(("value", (1, True)))
def router_restarts_a_failed_routee_which_keeps_its_mailbox() -> Any:
    @program
    def main() -> Any:
        router = yield free_spawn(Pool(Counter, 1), name="pool")
        [before] = yield router.free_ask(GetRoutees())
        yield router.free_tell("inc")
        yield router.free_tell("boom")
        yield router.free_tell("inc")  # queued behind the failure: the new instance's
        count = yield router.free_ask("get")
        [after] = yield router.free_ask(GetRoutees())
        return count, before == after

    return main()


@case(("value", (["a", "b", "a", "b", "b"], ["b"])), dead_letters=0)
def router_group_over_paths_drops_a_routee_that_stopped() -> Any:
    @program
    def watching() -> Any:
        first = yield free_spawn(_Named, name="a")
        yield free_spawn(_Named, name="b")
        router = yield free_spawn(Group(["/app/a", "b"]), name="group")
        answers = []
        for each in range(4):
            answers.append((yield router.free_ask(each)))
        yield free_stop(first)
        left = yield router.free_ask(GetRoutees())
        while len(left) > 1:  # the router learns it through its own watch
            yield sleep(0.01)
            left = yield router.free_ask(GetRoutees())
        answers.append((yield router.free_ask("last")))
        return answers, _names(left)

    return watching()


class _Once(Actor):
    stop_policy = ONE_TIME

    def receive(self, message: Any) -> Any:
        return message


@case(("value", ("first", "ActorStopped")), dead_letters=2)
def stop_policy_one_time_stops_after_one_message() -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(_Once, name="once")
        first = yield ref.free_ask("first")
        yield ref.free_tell("second")  # a dead letter (stopping or stopped)
        later = yield ref.free_ask("third").attempt()
        return first, type(later.failure()).__name__

    return main()


class _Polite(Actor):
    stop_policy = AfterMessage("bye")

    def receive(self, message: Any) -> Any:
        return message


@case(("value", ("hello", "bye", "ActorStopped")), dead_letters=1)
def stop_policy_after_message_handles_it_then_stops() -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(_Polite, name="polite")
        hello = yield ref.free_ask("hello")
        bye = yield ref.free_ask("bye")
        later = yield ref.free_ask("hello again").attempt()
        return hello, bye, type(later.failure()).__name__

    return main()


class _Dozy(Actor):
    stop_policy = AfterIdle(0.5)

    def receive(self, message: Any) -> Any:
        return message


@case(("value", ("a", "b", "ActorStopped")), dead_letters=1)
def stop_policy_after_idle_stops_once_idle_long_enough() -> Any:
    @program
    def main() -> Any:
        ref = yield free_spawn(_Dozy, name="dozy")
        yield sleep(0.05)
        a = yield ref.free_ask("a")
        yield sleep(0.05)
        b = yield ref.free_ask("b")
        yield sleep(0.8)
        later = yield ref.free_ask("c").attempt()
        return a, b, type(later.failure()).__name__

    return main()


# -- streams (playbill.streams): the same elements under every interpreter ----------------------


@case(("value", [0, 4, 16]), dead_letters=0, actors=False)
def stream_fused_stages_filter_map_take() -> Any:
    return source(range(10)).filter(lambda n: n % 2 == 0).map(lambda n: n * n).take(3).to_list()


@case(("value", list(range(8))), dead_letters=0, actors=False)
def stream_buffer_with_backpressure_loses_nothing_under_a_slow_consumer() -> Any:
    received: list[int] = []

    def consume(element: int) -> Any:
        received.append(element)
        return sleep(0.01)

    return source(range(8)).buffer(2).run_foreach(consume).map(lambda _: received)


@case(("value", (True, True)), dead_letters=0, actors=False)
def stream_buffer_drop_head_keeps_the_newest() -> Any:
    received: list[int] = []

    def consume(element: int) -> Any:
        received.append(element)
        return sleep(0.01)

    stream = source(range(20)).buffer(3, "drop_head").run_foreach(consume)
    return stream.map(lambda _: (received[-3:] == [17, 18, 19], len(received) < 20))


@case(("error", "BufferOverflow"), dead_letters=0, actors=False)
def stream_buffer_fail_fails_the_stream_when_full() -> Any:
    return source(range(20)).buffer(2, "fail").run_foreach(lambda _: sleep(0.01))


@case(("value", [0, 10, 20, 30, 40, 50]), dead_letters=0, actors=False)
def stream_map_async_keeps_the_order_of_the_input() -> Any:
    def slow_first(n: int) -> Any:
        return sleep(0.01 * (6 - n)).then(pure(n * 10))

    return source(range(6)).map_async(slow_first, parallelism=3).to_list()


@case(("value", [1, 2, 3]), dead_letters=0, actors=False)
def stream_map_async_unordered_emits_in_completion_order() -> Any:
    return (
        source([3, 1, 2]).map_async_unordered(lambda n: sleep(0.02 * n).then(pure(n)), 3).to_list()
    )


@case(("error", "ValueError"), dead_letters=0, actors=False)
def stream_a_failing_stage_fails_the_stream_with_the_element_error() -> Any:
    def check(n: int) -> Any:
        return fail(ValueError(f"bad {n}")) if n == 3 else pure(n)

    return source(range(100)).buffer(4).map_async(check, parallelism=2).to_list()


@case(("value", (list(range(5)), True)), dead_letters=0, actors=False)
def stream_throttle_paces_elements_on_the_interpreter_clock() -> Any:
    @program
    def main() -> Any:
        start = yield now()
        got = yield source(range(5)).throttle(50, 1.0).to_list()
        return got, (yield now()) - start >= 0.08 - 1e-9

    return main()


@case(("value", [0, 1, 2, 3, 4, 100, 101, 102]), dead_letters=0, actors=False)
def stream_merge_gives_every_element_of_every_input() -> Any:
    return source(range(5)).merge(source(range(100, 103))).to_list().map(sorted)


@case(("value", [[0, 1, 2], [3, 4, 5], [6]]), dead_letters=0, actors=False)
def stream_grouped_within_cuts_full_groups() -> Any:
    return source(range(7)).grouped_within(3, 5.0).to_list()


class _Collector(Actor):
    def __init__(self) -> None:
        self.got: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "get":
            return self.got
        self.got.append(message)
        return None


class _Countdown(Actor):
    def __init__(self) -> None:
        self.left = 3

    def receive(self, message: Any) -> Any:
        self.left -= 1
        return self.left if self.left >= 0 else END_OF_STREAM


@case(("value", (3, [2, 1, 0, "done"])), dead_letters=0)
def stream_from_an_actor_to_an_actor_with_acknowledgement() -> Any:
    @program
    def main() -> Any:
        countdown = yield free_spawn(_Countdown, name="countdown")
        collector = yield free_spawn(_Collector, name="collector")
        sent = yield source(countdown).run_with(to_actor(collector, on_complete="done"))
        return sent, (yield collector.free_ask("get"))

    return main()


# -- the actor toolkit: middleware, get-or-spawn, virtual actors (issue 16) -------------------

from playbill import free_get_or_spawn  # noqa: E402
from playbill.actors import (  # noqa: E402
    Deactivate,
    Grain,
    InMemoryStore,
    Middleware,
    VirtualActors,
    WithMiddleware,
    observe,
)


@frozen
class _Audit(Middleware):
    """Notes each message with its reply or its error, and the lifecycle hooks."""

    log: list[Any]

    def receive(self, actor: Any, message: Any, proceed: Callable[[Any], Any]) -> Any:
        return observe(
            proceed,
            message,
            lambda reply: self.log.append(("reply", message, reply)),
            lambda error: self.log.append(("error", message, type(error).__name__)),
        )

    def on_start(self, actor: Any) -> None:
        self.log.append("start")

    def on_stop(self, actor: Any) -> None:
        self.log.append("stop")

    def on_restart(self, actor: Any, error: BaseException) -> None:
        self.log.append(("restart", type(error).__name__))


@frozen
class _Rewrite(Middleware):
    """Short-circuits "ping", and rewrites every other text to upper case."""

    def receive(self, actor: Any, message: Any, proceed: Callable[[Any], Any]) -> Any:
        if message == "ping":
            return "pong"
        return proceed(message.upper() if isinstance(message, str) else message)


class _Said(Actor):
    middleware = (_Rewrite(),)

    def __init__(self) -> None:
        self.heard: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "HEARD":
            return list(self.heard)
        self.heard.append(message)
        return message


@case(
    (
        "value",
        (
            "HI",
            "pong",
            ["HI"],
            ["start", ("reply", "hi", "HI"), ("reply", "ping", "pong"), ("reply", "heard", ["HI"])],
        ),
    ),
    dead_letters=0,
)
def middleware_rewrites_short_circuits_and_is_outermost_at_the_spawn() -> Any:
    @program
    def main() -> Any:
        log: list[Any] = []
        said = yield free_spawn(WithMiddleware(_Said, [_Audit(log)]), name="said")
        hi = yield said.free_ask("hi")  # Audit(Rewrite(receive)): the audit sees "hi"
        ping = yield said.free_ask("ping")  # short-circuited: the actor never hears it
        heard = yield said.free_ask("heard")
        return hi, ping, heard, list(log)

    return main()


@case(
    (
        "value",
        (
            1,
            [
                "start",
                ("reply", "inc", None),
                ("error", "boom", "ValueError"),
                "stop",
                ("restart", "ValueError"),
                ("reply", "inc", None),
                ("reply", "get", 1),
                "stop",
            ],
        ),
    ),
    dead_letters=0,
)
def middleware_observes_an_error_and_the_restart_hooks() -> Any:
    @program
    def main() -> Any:
        log: list[Any] = []
        counter = yield free_spawn(WithMiddleware(Counter, [_Audit(log)]), name="counter")
        yield counter.free_tell("inc")
        yield counter.free_tell("boom")  # restarted (the default supervision): state reset
        yield counter.free_tell("inc")
        count = yield counter.free_ask("get")
        yield free_stop(counter)
        yield sleep(0.01)
        return count, list(log)

    return main()


class _Session(Actor):
    def receive(self, message: Any) -> Any:
        return message


@case(("value", (1, 1, "/app/sessions/alice", 2)), dead_letters=0)
def get_or_spawn_concurrent_callers_get_one_actor_spawned_once() -> Any:
    built: list[str] = []

    def session() -> _Session:
        built.append("session")
        return _Session()

    @program
    def main() -> Any:
        yield free_spawn(_Session, name="sessions")
        refs = yield gather(*(free_get_or_spawn("sessions/alice", session) for _ in range(4)))
        yield refs[0].free_ask("hello")
        yield free_stop(refs[0])
        yield sleep(0.01)
        again = yield free_get_or_spawn("/app/sessions/alice", session)  # a new one there
        yield again.free_ask("hello")
        return len(set(refs)), len(set(refs) - {again}), refs[0].path, len(built)

    return main()


@frozen
class _Deposit:
    account: str
    amount: int


def _account_grain(activations: list[str]) -> type[Grain]:
    class Account(Grain):
        def initial_state(self) -> int:
            return 0

        def on_activate(self) -> None:
            activations.append(f"{self.grain_kind} {self.key} = {self.state}")

        def receive(self, deposit: _Deposit) -> int:
            self.state += deposit.amount
            return int(self.state)

    return Account


def _account_key(message: _Deposit) -> str:
    return message.account


@case(
    (
        "value",
        ((1, 30, 5, 7), ["Checking alice = 0", "Checking bob = 0", "Savings alice = 0"]),
    ),
    dead_letters=0,
)
def virtual_actors_activate_once_and_keep_keys_and_types_apart() -> Any:
    activations: list[str] = []
    account = _account_grain(activations)

    @program
    def main() -> Any:
        checking = yield free_spawn(
            VirtualActors(account, _account_key, kind="Checking"), name="checking"
        )
        savings = yield free_spawn(
            VirtualActors(account, _account_key, kind="Savings"), name="savings"
        )
        yield gather(*(checking.free_tell(_Deposit("alice", 10)) for _ in range(3)))
        active = yield checking.free_ask(GetRoutees())
        alice = yield checking.free_ask(_Deposit("alice", 0))
        bob = yield checking.free_ask(_Deposit("bob", 5))
        other = yield savings.free_ask(_Deposit("alice", 7))  # same key, another type
        return (len(active), alice, bob, other), sorted(activations)

    return main()


@case(
    (
        "value",
        ((1, 0, 1), 31, ["Account alice = 0", "Account alice = 30"], {"alice": 30}),
    ),
    dead_letters=0,
)
def virtual_actors_deactivate_when_idle_and_reactivate_with_the_state() -> Any:
    activations: list[str] = []
    account = _account_grain(activations)

    @program
    def main() -> Any:
        store = InMemoryStore()
        accounts = yield free_spawn(
            VirtualActors(account, _account_key, store, AfterIdle(0.05)), name="accounts"
        )
        for _ in range(3):
            yield accounts.free_tell(_Deposit("alice", 10))
        before = yield accounts.free_ask(GetRoutees())
        yield sleep(0.3)  # idle: deactivated, and its state saved
        idle = yield accounts.free_ask(GetRoutees())
        saved = {key: state for (_, key), state in store.states.items()}
        total = yield accounts.free_ask(_Deposit("alice", 1))  # a fresh incarnation
        after = yield accounts.free_ask(GetRoutees())
        return (len(before), len(idle), len(after)), total, list(activations), saved

    return main()


@case(("value", (True, 36, 36)), dead_letters=0)
def virtual_actors_a_message_racing_a_deactivation_is_not_lost() -> Any:
    activations: list[str] = []
    account = _account_grain(activations)

    @program
    def main() -> Any:
        store = InMemoryStore()
        accounts = yield free_spawn(VirtualActors(account, _account_key, store), name="accounts")
        yield accounts.free_ask(_Deposit("alice", 10))
        deactivated = yield accounts.free_ask(Deactivate("alice"))
        # sent while the grain deactivates: to a fresh incarnation, once the old one saved
        for amount in (1, 2, 3):
            yield accounts.free_tell(_Deposit("alice", amount))
        yield accounts.free_tell(Deactivate("alice"))
        yield accounts.free_tell(_Deposit("alice", 20))  # races the second deactivation
        total = yield accounts.free_ask(_Deposit("alice", 0))
        yield accounts.free_ask(Deactivate("alice"))
        yield sleep(0.05)
        return deactivated, total, store.states[("Account", "alice")]

    return main()
