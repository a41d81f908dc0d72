"""Human in the loop, versioning with patched, time travel, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from playbill import perform, program
from playbill.durable import (
    Completed,
    Durable,
    InputRejected,
    JournalMismatch,
    MemoryJournal,
    Paused,
    SQLiteJournal,
    Status,
    WorkflowCancelled,
    await_input,
    patched,
)
from playbill.effects import InvalidArgument
from playbill.flow import Registry
from tests.durable.test_journal import Charge, Counter


@frozen
class Decision:
    approved: bool
    note: str


@program
def refund(order: str) -> Any:
    receipt = yield perform(Charge(order))
    decision = yield await_input(f"refund {order}?", Decision)
    if decision.approved:
        yield perform(Charge(order + "-refund"))
    return receipt, decision.note


def make(path: Path, counter: Counter, function: Any = refund) -> Durable:
    registry = Registry()
    registry.register(function, name="refund")
    registry.register(Decision)
    return Durable(SQLiteJournal(path), registry, handlers={Charge: counter})


def test_a_pause_survives_a_restart_and_resume_finishes_it(tmp_path: Path) -> None:
    counter = Counter()
    outcome = make(tmp_path / "j.db", counter).start("refund", "w", "o")
    assert outcome == Paused("w", "refund o?", "Decision", "1")
    # a new process: new Durable, new store on the same file
    later = make(tmp_path / "j.db", counter)
    assert [(r.workflow_id, r.prompt, r.schema) for r in later.paused()] == [
        ("w", "refund o?", "Decision")
    ]
    done = later.resume("w", {"approved": True, "note": "fine"})  # validated into a Decision
    assert done == Completed("w", ("receipt-o", "fine"))
    assert counter.calls == ["o", "o-refund"]
    assert later.paused() == ()
    assert later.status("w").status is Status.COMPLETED


def test_running_a_paused_workflow_without_an_answer_pauses_it_again(tmp_path: Path) -> None:
    counter = Counter()
    make(tmp_path / "j.db", counter).start("refund", "w", "o")
    assert isinstance(make(tmp_path / "j.db", counter).recover("w"), Paused)
    assert counter.calls == ["o"]


def test_an_answer_that_does_not_fit_the_schema_leaves_it_paused(tmp_path: Path) -> None:
    durable = make(tmp_path / "j.db", Counter())
    durable.start("refund", "w", "o")
    with pytest.raises(InputRejected, match=r"refund o\?.* must be Decision, got 'yes'") as e:
        durable.resume("w", "yes")
    assert isinstance(e.value, InvalidArgument)
    assert durable.status("w").status is Status.PAUSED
    assert durable.resume("w", Decision(False, "no")) == Completed("w", ("receipt-o", "no"))


def test_a_cancelled_workflow_is_no_longer_listed_and_never_runs_again(tmp_path: Path) -> None:
    durable = make(tmp_path / "j.db", Counter())
    durable.start("refund", "w", "o")
    durable.cancel("w")
    assert durable.paused() == ()
    with pytest.raises(WorkflowCancelled):
        durable.resume("w", Decision(True, ""))


def test_resuming_what_is_not_paused_or_not_there_says_so(tmp_path: Path) -> None:
    durable = make(tmp_path / "j.db", Counter())
    durable.start("refund", "w", "o")
    durable.resume("w", Decision(True, ""))
    with pytest.raises(InvalidArgument, match="'w' is completed, not paused"):
        durable.resume("w", Decision(True, ""))
    with pytest.raises(InvalidArgument, match="no workflow 'nope'"):
        durable.resume("nope", 1)
    with pytest.raises(InvalidArgument, match="'w' already completed"):
        durable.cancel("w")


# -- versioning -------------------------------------------------------------------------------


@program
def refund_v2(order: str) -> Any:
    receipt = yield perform(Charge(order))
    if (yield patched("notify-first")):
        yield perform(Charge(order + "-notice"))
    decision = yield await_input(f"refund {order}?", Decision)
    if decision.approved:
        yield perform(Charge(order + "-refund"))
    return receipt, decision.note


def test_patched_replays_old_journals_on_the_old_branch_and_new_runs_on_the_new(
    tmp_path: Path,
) -> None:
    old_counter = Counter()
    make(tmp_path / "j.db", old_counter).start("refund", "old", "o")  # paused under v1
    counter = Counter()
    upgraded = make(tmp_path / "j.db", counter, refund_v2)
    assert upgraded.resume("old", Decision(True, "")) == Completed("old", ("receipt-o", ""))
    assert counter.calls == ["o-refund"]  # no notice: the journal predates the change
    upgraded.start("refund", "new", "n")
    assert counter.calls == ["o-refund", "n", "n-notice"]
    # and the new journal replays the new branch
    assert upgraded.resume("new", Decision(True, "")) == Completed("new", ("receipt-n", ""))
    assert counter.calls[-1] == "n-refund"


def test_without_patched_the_same_change_is_a_journal_mismatch(tmp_path: Path) -> None:
    @program
    def unguarded(order: str) -> Any:
        receipt = yield perform(Charge(order))
        yield perform(Charge(order + "-notice"))
        decision = yield await_input(f"refund {order}?", Decision)
        return receipt, decision.note

    make(tmp_path / "j.db", Counter()).start("refund", "w", "o")
    with pytest.raises(JournalMismatch, match="position 1"):
        make(tmp_path / "j.db", Counter(), unguarded).resume("w", Decision(True, ""))


@pytest.mark.parametrize("change", ["", "  ", 3])
def test_a_patch_needs_a_name(change: Any) -> None:
    with pytest.raises(InvalidArgument, match=f"patched change .* got {change!r}"):
        patched(change)


@pytest.mark.parametrize("prompt", ["", None])
def test_an_input_needs_a_prompt(prompt: Any) -> None:
    with pytest.raises(InvalidArgument, match=f"await_input prompt .* got {prompt!r}"):
        await_input(prompt, int)


# -- time travel ------------------------------------------------------------------------------


def test_fork_from_a_position_with_a_changed_result(tmp_path: Path) -> None:
    counter = Counter()
    durable = make(tmp_path / "j.db", counter)
    durable.start("refund", "w", "o")
    durable.resume("w", Decision(True, "yes"))
    denied = durable.fork("w", at=1, result=Decision(False, "what if"), new_id="w-denied")
    assert denied == Completed("w-denied", ("receipt-o", "what if"))
    assert counter.calls == ["o", "o-refund"]  # the fork replayed the charge, refunded nothing
    assert durable.status("w").status is Status.COMPLETED  # the original is untouched
    assert len(durable.entries("w")) == 3


def test_fork_with_a_changed_input_in_the_simulator(tmp_path: Path) -> None:
    counter = Counter()
    durable = make(tmp_path / "j.db", counter)
    durable.start("refund", "w", "o")
    forked = durable.fork("w", at=0, input="other", new_id="w2", interpreter="simulation")
    assert forked == Paused("w2", "refund other?", "Decision", "1")
    assert counter.calls == ["o", "other"]


def test_fork_refuses_a_bad_position_or_an_id_in_use(tmp_path: Path) -> None:
    durable = make(tmp_path / "j.db", Counter())
    durable.start("refund", "w", "o")
    with pytest.raises(InvalidArgument, match=r"at must be a journal position.* got 'x'"):
        durable.fork("w", at="x", new_id="f")
    with pytest.raises(InvalidArgument, match=r"at=5: .* positions with results: 0"):
        durable.fork("w", at=5, result=1, new_id="f")
    with pytest.raises(InvalidArgument, match="new_id 'w' is already a workflow"):
        durable.fork("w", at=0, new_id="w")


# -- bad input everywhere ---------------------------------------------------------------------


def test_bad_arguments_name_the_option_the_value_and_what_is_accepted() -> None:
    registry = Registry()
    registry.register(refund, name="refund")
    durable = Durable(MemoryJournal(), registry, handlers={Charge: Counter()})
    with pytest.raises(InvalidArgument, match=r"interpreter must be one of .* got 'trio'"):
        durable.start("refund", "w", "o", interpreter="trio")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"workflow must name .*\['refund'\]\), got 'nope'"):
        durable.start("nope", "w")
    with pytest.raises(
        InvalidArgument, match=r"workflow_id must be a non-empty str \(such as 'order-7'\), got ''"
    ):
        durable.start("refund", "", "o")
    with pytest.raises(InvalidArgument, match="the input of workflow 'refund'"):
        durable.start("refund", "w", object())
    with pytest.raises(InvalidArgument, match="journal must be a journal store"):
        Durable("j.db", registry)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"registry must be a playbill\.flow\.Registry"):
        Durable(MemoryJournal(), {"refund": refund})  # type: ignore[arg-type]


def test_each_field_of_an_attrs_schema_is_checked(tmp_path: Path) -> None:
    durable = make(tmp_path / "j.db", Counter())
    durable.start("refund", "w", "o")
    with pytest.raises(InputRejected, match="its approved: 'maybe' is not bool"):
        durable.resume("w", {"approved": "maybe", "note": "x"})
    with pytest.raises(InputRejected, match="its note: 3 is not str"):
        durable.resume("w", {"approved": True, "note": 3})
    assert durable.status("w").status is Status.PAUSED
