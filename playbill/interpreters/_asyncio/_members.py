"""The members of a gather or a race, stepped in the task of the program that waits on them.

A member costs no asyncio task and no turn of the loop while it has nothing to wait for: its
machine is stepped in place, the way the simulator steps its fibers. A member that does wait
(an ask's reply, a sleep, an awaitable, a blocking call) parks on that future, whose
done-callback queues it again and wakes the waiting task: one wake-up for the whole group, not
a task and an `asyncio.wait` per member. A gather or race inside a member nests in the same
tree. What a member awaits that is not a future (a coroutine a handler returned, a timeout,
a join) runs as a task of its own, as it would have inside a member's task.

The semantics are those of a task per member, which this replaces: every member starts, in
program order, and runs to its first wait before the group looks at any outcome; outcomes
are then taken in program order; the first failure of a gather, or the first success of a
race, cancels the members still running, in program order (`Cancelled` is raised where each
waits and its finalisers run); the group ends once every member has. A cancellation of the
waiting task reaches every member the same way; at a shutdown that abandons the task, the
members are dropped without their finalisers, as their tasks would have been.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, final

from returns.result import Failure, Result, Success

from playbill.effects import Cancelled, Done, FiberCancelled, Machine, Program, ProgramError, Step

if TYPE_CHECKING:
    from playbill.interpreters._asyncio._run import _Run

__all__ = ["Members", "Nested", "sleeping"]


class _State(enum.Enum):
    NEW = "new"
    READY = "ready"  # queued, with its input, to be stepped
    WAITING = "waiting"  # on a future
    NESTED = "nested"  # on a gather or race of its own
    CLOSING = "closing"  # its program ended; the fibers it forked are being cancelled
    FINISHED = "finished"


class _Input(enum.Enum):
    START = "start"
    VALUE = "value"
    ERROR = "error"
    CANCELLED = "cancelled"  # what it waited on was cancelled (by its group, or by another)


class _Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@final
class Nested:
    """What an inline member's gather, race or settle waits on: a group nested in its own."""

    __slots__ = ("decide", "programs", "race")

    def __init__(
        self, programs: tuple[Program[Any], ...], *, race: bool, decide: Decide | None = None
    ) -> None:
        self.programs = programs
        self.race = race
        self.decide = decide


Decide = Callable[[int, Result[Any, BaseException]], Result[Any, BaseException] | None]


def sleeping(loop: asyncio.AbstractEventLoop, seconds: float) -> asyncio.Future[None]:
    """A future done after ``seconds`` (never, for ``inf``): a member's sleep, with no
    coroutine to wrap in a task. Cancelling it cancels its timer."""
    future: asyncio.Future[None] = loop.create_future()
    if seconds <= 0:
        loop.call_soon(_wake_sleeper, future)
    elif seconds != math.inf:
        timer = loop.call_later(seconds, _wake_sleeper, future)
        future.add_done_callback(lambda _: timer.cancel())
    return future


def _wake_sleeper(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@final
class _Member:
    __slots__ = (
        "cancelling",
        "future",
        "group",
        "index",
        "input",
        "machine",
        "nested",
        "outcome",
        "payload",
        "program",
        "result",
        "run",
        "state",
    )

    def __init__(self, group: _Group, index: int, run: _Run, program: Program[Any]) -> None:
        self.group = group
        self.index = index
        self.run = run
        self.program = program
        self.machine: Machine | None = None
        self.state = _State.NEW
        self.input = _Input.START
        self.payload: Any = None
        self.future: asyncio.Future[Any] | None = None
        self.nested: _Group | None = None
        self.cancelling = False
        self.outcome = _Outcome.CANCELLED
        self.result: Any = None


@final
class _Group:
    __slots__ = (
        "cancelled",
        "decide",
        "decided",
        "dirty",
        "done",
        "error",
        "fresh",
        "members",
        "owner",
        "race",
        "remaining",
        "value",
    )

    def __init__(self, owner: _Member | None, *, race: bool, decide: Decide | None) -> None:
        self.owner = owner  # the member that waits on it (None: the task's own program)
        self.race = race  # (a settle is a race whose winner ``decide`` names)
        self.decide = decide
        self.members: list[_Member] = []
        self.remaining = 0
        self.fresh: list[int] = []  # the members finished since it was last looked at
        self.dirty = False
        self.decided = False  # a gather failed or a race was won: the rest are cancelled
        self.cancelled = False  # cancelled from outside: it ends with Cancelled
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None


@final
class Members:
    """The groups (a gather or race and those nested in its members) one task waits on."""

    __slots__ = ("dirty", "loop", "ready", "run", "wakeup")

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.loop = run.system._loop
        self.ready: deque[_Member] = deque()
        self.dirty: list[_Group] = []
        self.wakeup: asyncio.Future[None] | None = None

    async def perform(
        self, programs: tuple[Program[Any], ...], *, race: bool, decide: Decide | None = None
    ) -> Any:
        """Run ``programs`` as a gather (their results in order), a race (the first to
        succeed) or, given ``decide``, a settle (`Settle`: the outcome ``decide`` settles
        as they end) in the current task."""
        root = _Group(None, race=race or decide is not None, decide=decide)
        self.start(root, self.run, programs)
        self.pump()
        cancelled = False
        while not root.done:
            wakeup = self.wakeup = self.loop.create_future()
            try:
                await wakeup
            except asyncio.CancelledError:
                if self.run.system._abandoning:  # a shutdown gave up on this task
                    self.abandon(root)
                    raise
                if not cancelled:
                    cancelled = True
                    root.cancelled = True
                    self.cancel_group(root)
            finally:
                self.wakeup = None
            self.pump()
        if root.cancelled:
            raise asyncio.CancelledError
        if root.error is not None:
            raise root.error
        return root.value

    # -- stepping ---------------------------------------------------------------------------

    def start(self, group: _Group, run: _Run, programs: tuple[Program[Any], ...]) -> None:
        members = group.members = [
            _Member(group, index, run.member_run(), program)
            for index, program in enumerate(programs)
        ]
        group.remaining = len(members)
        for member in members:
            if member.state is _State.NEW:
                self.step(member)

    def pump(self) -> None:
        """Step the queued members, then look at the groups whose members finished, until
        nothing is left to do without waiting."""
        ready = self.ready
        while True:
            while ready:
                member = ready.popleft()
                if member.state is _State.READY:
                    self.step(member)
            if not self.dirty:
                return
            dirty, self.dirty = self.dirty, []
            for group in dirty:
                group.dirty = False
                self.look_at(group)

    def step(self, member: _Member) -> None:
        """Run ``member`` on with its input until it waits or ends."""
        run = member.run
        kind, payload = member.input, member.payload
        member.payload = None
        if kind is _Input.CANCELLED and run.system._abandoning:
            self.end(member, _Outcome.CANCELLED, None)
            return
        try:
            machine = member.machine
            if machine is None:
                machine = member.machine = Machine(member.program)
                step: Step = machine.start()
            elif kind is _Input.VALUE:
                step = machine.resume(payload)
            elif kind is _Input.ERROR:
                step = machine.throw(payload)
            else:
                step = machine.throw(Cancelled())
            step, pending = run._advance(machine, step)
            while pending is not None:
                if type(pending) is Nested:
                    settling = pending.decide
                    group = _Group(
                        member, race=pending.race or settling is not None, decide=settling
                    )
                    member.state = _State.NESTED
                    member.nested = group
                    self.start(group, run, pending.programs)
                    return
                if asyncio.isfuture(pending):
                    future = pending
                else:
                    try:  # a coroutine, say: it runs in a task, as it would have in a member's
                        future = asyncio.ensure_future(pending)
                    except Exception as refused:  # not awaitable: the program sees it, as `await`
                        step, pending = run._advance(machine, machine.throw(refused))
                        continue
                if not future.done():
                    member.state = _State.WAITING
                    member.future = future
                    future.add_done_callback(self.woken(member))
                    return
                # done already: `await` would not have waited either
                if future.cancelled():
                    if run.system._abandoning:
                        self.end(member, _Outcome.CANCELLED, None)
                        return
                    step = machine.throw(Cancelled())
                else:
                    failure = future.exception()
                    if failure is None:
                        step = machine.resume(future.result())
                    else:
                        step = machine.throw(failure)
                step, pending = run._advance(machine, step)
        except Exception as error:  # the stepper itself failed (a defect of the program)
            self.end(member, _Outcome.FAILED, error)
            return
        if type(step) is Done:
            self.end(member, _Outcome.SUCCEEDED, step.value)
        else:
            failure = step.error  # type: ignore[union-attr]
            if isinstance(failure, Cancelled):
                self.end(member, _Outcome.CANCELLED, None)
            else:
                self.end(member, _Outcome.FAILED, failure)

    def woken(self, member: _Member) -> Any:
        def done(future: asyncio.Future[Any]) -> None:
            if member.future is not future:
                return  # (cancelled meanwhile: it went on without this future)
            member.future = None
            if future.cancelled():
                member.input = _Input.CANCELLED
            else:
                error = future.exception()
                if error is None:
                    member.input, member.payload = _Input.VALUE, future.result()
                else:
                    member.input, member.payload = _Input.ERROR, error
            self.queue(member)

        return done

    def queue(self, member: _Member) -> None:
        member.state = _State.READY
        self.ready.append(member)
        wakeup = self.wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def end(self, member: _Member, outcome: _Outcome, result: Any) -> None:
        member.outcome = outcome
        member.result = result
        run = member.run
        if run.fibers:
            # as a member's task did: the fibers it forked that still run are cancelled now (one
            # not started yet never runs), and it ends once they have unwound
            unfinished = [task for task in run.fibers.values() if not task.done()]
            if unfinished:
                member.state = _State.CLOSING
                left = [len(unfinished)]

                def fiber_ended(_: asyncio.Future[Any]) -> None:
                    left[0] -= 1
                    if left[0] == 0 and member.state is _State.CLOSING:  # (not abandoned)
                        run.report_unjoined()
                        self.finished(member)
                        wakeup = self.wakeup
                        if wakeup is not None and not wakeup.done():
                            wakeup.set_result(None)

                for task in unfinished:
                    task.cancel()
                    task.add_done_callback(fiber_ended)
                return
            run.report_unjoined()
        self.finished(member)

    def finished(self, member: _Member) -> None:
        member.state = _State.FINISHED
        member.machine = None
        group = member.group
        group.remaining -= 1
        group.fresh.append(member.index)
        if not group.dirty:
            group.dirty = True
            self.dirty.append(group)

    # -- outcomes ---------------------------------------------------------------------------

    def look_at(self, group: _Group) -> None:
        """Take the outcomes of the members finished since last time, in program order (a
        settle's in the order they ended, as its tally counts them)."""
        if group.decide is not None:
            self.settle(group)
            return
        fresh = sorted(group.fresh)
        group.fresh.clear()
        members = group.members
        for index in fresh:
            if group.decided or group.cancelled:
                break
            member = members[index]
            if member.outcome is _Outcome.SUCCEEDED:
                if group.race:
                    group.value = member.result
                    group.error = None
                    self.decide(group)
            else:
                group.error = _error_of(member)
                if not group.race:
                    self.decide(group)
        if group.remaining == 0:
            self.complete(group)

    def settle(self, group: _Group) -> None:
        decide = group.decide
        assert decide is not None
        fresh, group.fresh = group.fresh, []
        members = group.members
        for index in fresh:
            if group.decided or group.cancelled:
                break
            member = members[index]
            outcome: Result[Any, BaseException] = (
                Success(member.result)
                if member.outcome is _Outcome.SUCCEEDED
                else Failure(_error_of(member))
            )
            try:
                decision = decide(index, outcome)
            except Exception as error:  # a defect of the decider: the settle fails with it
                decision = Failure(error)
            if decision is not None:
                if isinstance(decision, Success):
                    group.value = decision.unwrap()
                else:
                    group.error = decision.failure()
                self.decide(group)
        if group.remaining == 0:
            if not group.decided and not group.cancelled:
                group.error = ProgramError(
                    f"a Settle's {len(members)} member(s) all ended and its decide settled "
                    "nothing; decide must give a Result once the outcome is known, at the "
                    "last member's end at the latest"
                )
            self.complete(group)

    def decide(self, group: _Group) -> None:
        group.decided = True
        self.cancel_group(group)

    def complete(self, group: _Group) -> None:
        group.done = True
        if not group.race and group.error is None and not group.cancelled:
            group.value = tuple([member.result for member in group.members])
        owner = group.owner
        if owner is None:
            return
        owner.nested = None
        if group.cancelled:
            owner.input = _Input.CANCELLED
        elif group.error is not None:
            owner.input, owner.payload = _Input.ERROR, group.error
        else:
            owner.input, owner.payload = _Input.VALUE, group.value
        self.queue(owner)

    # -- cancellation -----------------------------------------------------------------------

    def cancel_group(self, group: _Group) -> None:
        for member in group.members:  # in program order, as their finalisers then run
            self.cancel(member)

    def cancel(self, member: _Member) -> None:
        """Raise `Cancelled` into ``member`` where it waits (once; its finalisers are not
        interrupted again)."""
        state = member.state
        if member.cancelling or state is _State.FINISHED or state is _State.CLOSING:
            return
        member.cancelling = True
        if state is _State.NEW:  # a task cancelled before it started never runs
            self.end(member, _Outcome.CANCELLED, None)
        elif state is _State.READY:  # what it waited for came, but Cancelled is raised
            member.input, member.payload = _Input.CANCELLED, None
        elif state is _State.WAITING:
            future = member.future
            assert future is not None
            if isinstance(future, asyncio.Task):
                future.cancel()  # it unwinds in its own task; its end wakes the member
            else:
                member.future = None
                future.cancel()
                member.input = _Input.CANCELLED
                self.queue(member)
        else:
            group = member.nested
            assert group is not None
            group.cancelled = True  # the member is woken with Cancelled once it has ended
            self.cancel_group(group)

    def abandon(self, group: _Group) -> None:
        """Drop every member without running it again (a shutdown gave up on the task): what
        each waits on is cancelled, and so are its fibers."""
        for member in group.members:
            if member.state is _State.FINISHED:
                continue
            future, member.future = member.future, None
            if future is not None:
                future.cancel()
            if member.nested is not None:
                self.abandon(member.nested)
            for task in member.run.fibers.values():
                task.cancel()
            member.state = _State.FINISHED
        group.done = True


def _error_of(member: _Member) -> BaseException:
    """A finished member's failure; cancelled by something other than its group: a
    `FiberCancelled` (an error, not a cancellation of the one that waits)."""
    if member.outcome is _Outcome.CANCELLED:
        return FiberCancelled("a concurrent member was cancelled before it finished")
    error: BaseException = member.result
    return error
