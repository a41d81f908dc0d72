"""playbill's pytest plugin, registered by installing playbill (the ``pytest11`` entry point;
``pip install 'playbill[testing]'`` brings what it needs).

- ``actor_system``: a started `ActorSystem` for an async test, shut down after it; the test
  fails when a task of the test outlives the shutdown, or an error went unobserved (a failure
  that escalated to the root, an error the runtime could only log). Mark a test that means
  to break things ``@pytest.mark.playbill_allow_errors``.
- ``simulator``: runs `simulate`, `replay` and `explore`; a failing test gets the
  ready-to-paste ``replay(...)`` call of each run in its report, and ``simulator.explore``
  fails with the exploration's report.
- The Hypothesis profiles ``dev`` and ``ci`` are registered (unless the project registered
  its own of those names) and one is loaded (``ci`` when ``CI`` is set, else ``dev``) unless
  the project's ``conftest.py`` loaded a profile already; ``HYPOTHESIS_PROFILE`` and
  ``--hypothesis-profile NAME`` win over both.

Async tests run under anyio's pytest plugin (``@pytest.mark.anyio``); this plugin's
``anyio_backend`` fixture says ``"asyncio"``, the backend the actor runtime runs on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import types
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, TypeVar

import pytest

from playbill.effects import InvalidArgument, Program
from playbill.interpreters._asyncio import ActorSystem
from playbill.interpreters.simulation import (
    Exploration,
    Schedule,
    SimulationResult,
    explore,
    replay,
    simulate,
)
from playbill.interpreters.simulation._explore import program_name, replay_line

__all__ = ["Simulator"]

A = TypeVar("A")

ALLOW_ERRORS = "playbill_allow_errors"
_REPLAYS = pytest.StashKey[list[str]]()


# -- configuration --------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and the Hypothesis profiles; load one unless the command line
    names one (Hypothesis's own plugin loads that, after this) or a conftest.py loaded one."""
    config.addinivalue_line(
        "markers",
        f"{ALLOW_ERRORS}: the actor_system fixture does not fail the test for escalated or "
        "logged errors of the actors (a test that breaks things on purpose)",
    )
    try:
        from playbill.testing._profiles import (
            current_profile_is_hypothesis_own,
            load_profile,
            register_profiles,
        )
    except ImportError:  # Hypothesis absent: nothing to load
        pass
    else:
        # the conftest.py files at the root of the tests are imported by now: a profile one
        # of them loaded (or registered as dev or ci) is the project's choice, kept; a
        # conftest.py further down is imported later and wins anyway
        register_profiles(keep_registered=True)
        if not config.getoption("hypothesis_profile", default=None) and (
            os.environ.get("HYPOTHESIS_PROFILE") or current_profile_is_hypothesis_own()
        ):
            try:
                load_profile(keep_registered=True)
            except InvalidArgument as error:
                raise pytest.UsageError(str(error)) from None
    # registered now, after every entry-point plugin: this anyio_backend overrides anyio's
    # default (which runs each async test once per installed backend); a conftest's wins
    if not config.pluginmanager.has_plugin(_BACKEND_PLUGIN):
        config.pluginmanager.register(_asyncio_backend(), _BACKEND_PLUGIN)


_BACKEND_PLUGIN = "playbill.testing.pytest_plugin.anyio_backend"


def _asyncio_backend() -> types.ModuleType:
    """A plugin holding the ``anyio_backend`` fixture (a module: pytest reads its fixtures)."""

    @pytest.fixture(scope="module")
    def anyio_backend() -> str:
        """The backend of async tests: asyncio, the one the actor runtime runs on."""
        return "asyncio"

    plugin = types.ModuleType(_BACKEND_PLUGIN)
    plugin.anyio_backend = anyio_backend  # type: ignore[attr-defined]
    return plugin


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used ``simulator`` reports how to replay each of its runs."""
    report = yield
    replays = item.stash.get(_REPLAYS, None)
    if report.failed and replays:
        report.sections.append(("playbill: replay the simulated runs", "\n".join(replays)))
    return report


# -- actor_system ------------------------------------------------------------------------------


class _ErrorRecords(logging.Handler):
    """The errors the runtime logs: a failure no one could be told about."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _describe(record: logging.LogRecord) -> str:
    text = record.getMessage()
    error = record.exc_info[1] if record.exc_info else None
    if error is not None and repr(error) not in text:  # the failure log names it already
        text += f": {error!r}"
    return text


def _runner_task(task: asyncio.Task[Any]) -> bool:
    """A task of anyio's test runner (the one that resumes this fixture for its teardown)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.startswith(_ANYIO_DIRECTORY)


def _task_name(task: asyncio.Task[Any]) -> str:
    return f"{task.get_name()} running {task.get_coro()!r}"


try:
    import anyio
except ImportError:
    _ANYIO_DIRECTORY = "(anyio is not installed)"

    @pytest.fixture
    def actor_system() -> None:
        """Needs anyio to run async tests."""
        pytest.fail(
            "the actor_system fixture runs async tests with anyio's pytest plugin, which is "
            "not installed; install it with: pip install 'playbill[testing]'",
            pytrace=False,
        )

else:
    _ANYIO_DIRECTORY = os.path.dirname(anyio.__file__)

    @pytest.fixture
    async def actor_system(
        request: pytest.FixtureRequest, anyio_backend: Any
    ) -> AsyncIterator[ActorSystem]:
        """A started `ActorSystem` named ``test``, shut down after the test; the test fails
        if one of its tasks outlives the shutdown or an error went unobserved (an escalation
        to the root, an error logged by the runtime). Dead letters are allowed: read
        ``actor_system.dead_letters`` to check them."""
        backend = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
        if backend != "asyncio":
            pytest.fail(
                f"the actor_system fixture needs the asyncio backend, but anyio_backend is "
                f"{anyio_backend!r}; the actor runtime runs on asyncio",
                pytrace=False,
            )
        before = asyncio.all_tasks()
        errors = _ErrorRecords()
        logger = logging.getLogger("playbill")
        logger.addHandler(errors)
        system = ActorSystem("test")
        system.start()
        try:
            yield system
            await system.shutdown()
            for _ in range(3):  # done callbacks of what the shutdown ended
                await asyncio.sleep(0)
        finally:
            logger.removeHandler(errors)
        problems = []
        current = asyncio.current_task()
        leaked = [
            task
            for task in asyncio.all_tasks()
            if task not in before
            and task is not current
            and not task.done()
            and not _runner_task(task)
        ]
        if leaked:
            for task in leaked:
                task.cancel()
            problems.append(
                f"{len(leaked)} task(s) outlived the actor system's shutdown (cancelled now): "
                + "; ".join(sorted(_task_name(task) for task in leaked))
                + " — await or cancel the tasks a test starts"
            )
        if request.node.get_closest_marker(ALLOW_ERRORS) is None:
            if system.failure is not None:
                problems.append(
                    f"a failure escalated to the root guardian and stopped the system: "
                    f"{system.failure!r}"
                )
            logged = [_describe(record) for record in errors.records]
            if logged:
                problems.append("errors went unobserved (only logged): " + "; ".join(logged))
            if problems:
                problems.append(
                    f"mark the test @pytest.mark.{ALLOW_ERRORS} if it breaks things on purpose"
                )
        if problems:
            if system.dead_letters.count:
                problems.append(f"({system.dead_letters.count} dead letter(s))")
            pytest.fail("actor_system: " + "\n".join(problems), pytrace=False)


# -- simulator ------------------------------------------------------------------------------


class Simulator:
    """What the ``simulator`` fixture gives: `simulate`, `replay` and `explore` that remember
    how to replay each run, so a failing test prints the ``replay(...)`` calls to paste.

    >>> from playbill import pure
    >>> simulator = Simulator()
    >>> simulator.simulate(pure(1)).value
    1
    >>> simulator.replays
    ["replay(pure(1), 'v6:')"]
    """

    def __init__(self) -> None:
        self.replays: list[str] = []

    def simulate(
        self, program: Program[A], *, program_expression: str | None = None, **options: Any
    ) -> SimulationResult[A]:
        """`simulate` ``program``; remember the call that replays the run."""
        result = simulate(program, **options)
        self._remember(program, program_expression, result, options)
        return result

    def replay(
        self,
        program: Program[A],
        schedule: Schedule | str,
        *,
        program_expression: str | None = None,
        **options: Any,
    ) -> SimulationResult[A]:
        """`replay` ``program`` along ``schedule``; remember the call."""
        result = replay(program, schedule, **options)
        self._remember(program, program_expression, result, options)
        return result

    def explore(
        self,
        program: Program[A] | Callable[[], Program[A]],
        check: Callable[[SimulationResult[A]], object],
        *,
        program_expression: str | None = None,
        **options: Any,
    ) -> Exploration[A]:
        """`explore` ``program``; fail the test with the report (the check's message, the
        minimal schedule, its trace and the replay call) when a schedule breaks ``check``."""
        found = explore(program, check, **options)
        line = found.replay_call(program_expression)
        if line is not None:
            self.replays.append(line)
        found.assert_passed(program_expression)
        return found

    def _remember(
        self,
        program: Program[Any],
        expression: str | None,
        result: SimulationResult[Any],
        options: dict[str, Any],
    ) -> None:
        given = {
            key: value
            for key, value in options.items()
            if key not in ("seed", "schedule", "strategy")
        }
        self.replays.append(replay_line(result, expression or program_name(program), given))


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Simulator:
    """A `Simulator`: a failing test reports the ``replay(...)`` call of each simulated run."""
    helper = Simulator()
    request.node.stash[_REPLAYS] = helper.replays
    return helper
