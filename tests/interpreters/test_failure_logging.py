"""Actor failures are visible: each is logged on the ``playbill`` logger with the actor's path,
what it was doing (the message type, or the hook) and the directive its supervisor took —
under asyncio always, under the simulator when asked (``simulate(..., log_failures=True)``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from attrs import frozen

import playbill
from playbill import Actor, Effect, InvalidArgument, UnhandledEffect, free_spawn, perform, program
from playbill.actors import Directive, Failed, OneForOne
from playbill.interpreters.simulation import simulate


@frozen
class Lookup(Effect[int]):
    key: str


class Worker(Actor):
    def receive(self, message: Any) -> Any:
        return perform(Lookup(message))  # no handler anywhere: it fails


class FailsToStart(Actor):
    def on_start(self) -> None:
        raise RuntimeError("no connection")

    def receive(self, message: Any) -> Any:
        return message


@program
def ask_worker() -> Any:
    worker = yield free_spawn(Worker, name="worker")
    outcome = yield worker.free_ask("x").attempt()
    yield playbill.sleep(0.01)  # the supervisor decides before the run ends
    return outcome


@program
def tell_worker() -> Any:
    worker = yield free_spawn(Worker, name="worker")
    yield worker.free_tell(7)
    yield playbill.sleep(0.01)
    return "done"


@program
def start_failing() -> Any:
    yield free_spawn(FailsToStart, name="starter")
    yield playbill.sleep(0.01)
    return "done"


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "playbill" and hasattr(record, "directive")
    ]


def under_asyncio(program: playbill.Program[Any], **options: Any) -> Any:
    return playbill.run(program, **options)


def under_simulator(program: playbill.Program[Any], **options: Any) -> Any:
    return simulate(program, seed=0, log_failures=True, **options).value


INTERPRETERS = {"asyncio": under_asyncio, "simulator": under_simulator}


@pytest.mark.parametrize("interpreter", sorted(INTERPRETERS))
def test_a_failure_is_logged_with_the_path_the_message_type_and_the_directive(
    interpreter: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="playbill")
    INTERPRETERS[interpreter](ask_worker())
    [record] = failure_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.actor_path == "/app/worker"  # type: ignore[attr-defined]
    assert record.message_type == "str"  # type: ignore[attr-defined]
    assert record.hook is None  # type: ignore[attr-defined]
    assert record.directive == "RESTART"  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], UnhandledEffect)
    assert record.getMessage().startswith(
        "actor /app/worker failed handling a str: UnhandledEffect("
    )
    assert record.getMessage().endswith("; its supervisor decided RESTART")


@pytest.mark.parametrize("interpreter", sorted(INTERPRETERS))
def test_a_failure_nobody_asked_about_is_logged_too(
    interpreter: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="playbill")
    assert INTERPRETERS[interpreter](tell_worker()) == "done"
    [record] = failure_records(caplog)
    assert record.message_type == "int"  # type: ignore[attr-defined]
    assert "actor /app/worker failed handling an int" in record.getMessage()


@pytest.mark.parametrize("interpreter", sorted(INTERPRETERS))
def test_a_hook_failure_names_the_hook_and_is_logged_with_its_traceback_once(
    interpreter: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="playbill")
    INTERPRETERS[interpreter](
        start_failing(), supervision=OneForOne(decider=lambda _: Directive.STOP)
    )
    [record] = failure_records(caplog)
    assert record.hook == "on_start"  # type: ignore[attr-defined]
    assert record.message_type is None  # type: ignore[attr-defined]
    assert record.directive == "STOP"  # type: ignore[attr-defined]
    assert record.getMessage() == (
        "actor /app/starter failed in on_start: RuntimeError('no connection'); its "
        "supervisor decided STOP"
    )
    # the root guardian's report of the stop follows, without the same traceback again
    with_traceback = [r for r in caplog.records if r.name == "playbill" and r.exc_info]
    assert with_traceback == [record]
    assert any("root guardian stopped" in r.getMessage() for r in caplog.records)


def test_both_interpreters_log_the_same_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="playbill")
    logged = {}
    for name, run in INTERPRETERS.items():
        caplog.clear()
        run(ask_worker())
        run(tell_worker())
        logged[name] = [
            (r.actor_path, r.message_type, r.directive, type(r.exc_info[1]))  # type: ignore[attr-defined,index]
            for r in failure_records(caplog)
        ]
    assert logged["asyncio"] == logged["simulator"]
    assert logged["asyncio"] == [
        ("/app/worker", "str", "RESTART", UnhandledEffect),
        ("/app/worker", "int", "RESTART", UnhandledEffect),
    ]


def test_the_simulator_is_quiet_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="playbill")
    result = simulate(ask_worker(), seed=0)
    assert result.status == "completed"
    assert any(isinstance(event, Failed) for event in result.events)
    assert [record for record in caplog.records if record.name == "playbill"] == []


def test_log_failures_must_be_a_bool() -> None:
    with pytest.raises(InvalidArgument, match="log_failures"):
        simulate(ask_worker(), log_failures="yes")  # type: ignore[arg-type]
