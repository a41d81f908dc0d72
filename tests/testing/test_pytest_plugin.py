"""playbill's pytest plugin, run in throwaway projects with ``pytester``. The entry point
registers it only once playbill is installed, so each run loads it with ``-p``; one test
checks that pyproject.toml declares the entry point."""

import pathlib
import sys
import tomllib

import pytest

pytest_plugins = ["pytester"]

PLUGIN = "playbill.testing.pytest_plugin"
ROOT = pathlib.Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def cached_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each run is a fresh pytest that rewrites the asserts of every plugin's package (playbill's,
    # hypothesis', langsmith's...): with bytecode writing off, each run redid it all (~15 s a run
    # on a loaded machine); with it on, the first run caches the rewritten modules for the rest.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)


def run(pytester: pytest.Pytester, *arguments: str) -> pytest.RunResult:
    return pytester.runpytest("-p", PLUGIN, "-p", "no:cacheprovider", *arguments)


def fresh(pytester: pytest.Pytester, *arguments: str) -> pytest.RunResult:
    """pytest in a new process (a profile loaded in this one would stay loaded), without
    langsmith's plugin: installed with the langchain extra, it has nothing to do with the
    profiles, and importing it was a third of each run's start-up."""
    return pytester.runpytest_subprocess("-p", "no:langsmith_plugin", *arguments)


def test_the_entry_point_is_declared_in_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    plugins = project["project"]["entry-points"]["pytest11"]
    assert plugins == {PLUGIN: PLUGIN}
    assert "anyio>=4.4" in project["project"]["optional-dependencies"]["testing"]


def test_the_hypothesis_profiles_load_and_the_command_line_overrides(pytester, monkeypatch):
    # in fresh processes: a profile loaded in this one would stay loaded for the suite
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            print("profile:", settings.get_current_profile_name())
            print("examples:", settings().max_examples)
        """
    )
    without = fresh(pytester, "-s", "-p", "no:cacheprovider", "-p", f"no:{PLUGIN}")
    without.stdout.fnmatch_lines(["*profile: default", "examples: 100"])
    quick = fresh(pytester, "-s", "-p", PLUGIN)
    quick.assert_outcomes(passed=1)
    quick.stdout.fnmatch_lines(["*profile: dev", "examples: 50"])
    monkeypatch.setenv("CI", "true")
    thorough = fresh(pytester, "-s", "-p", PLUGIN)
    thorough.stdout.fnmatch_lines(["*profile: ci", "examples: 1000"])
    monkeypatch.delenv("CI")
    chosen = fresh(pytester, "-s", "-p", PLUGIN, "--hypothesis-profile", "ci")
    chosen.stdout.fnmatch_lines(["*profile: ci", "examples: 1000"])


PROFILE_TEST = """
from hypothesis import settings

def test_profile():
    print("profile:", settings.get_current_profile_name())
    print("examples:", settings().max_examples)
"""


def test_a_profile_the_projects_conftest_loads_is_kept_even_in_ci(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    pytester.makeconftest(
        """
        from hypothesis import settings

        settings.register_profile("mine", max_examples=7)
        settings.load_profile("mine")
        """
    )
    pytester.makepyfile(PROFILE_TEST)
    kept = fresh(pytester, "-s", "-p", PLUGIN)
    kept.stdout.fnmatch_lines(["*profile: mine", "examples: 7"])
    monkeypatch.setenv("CI", "true")
    in_ci = fresh(pytester, "-s", "-p", PLUGIN)
    in_ci.stdout.fnmatch_lines(["*profile: mine", "examples: 7"])
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "dev")  # the environment still wins
    chosen = fresh(pytester, "-s", "-p", PLUGIN)
    chosen.stdout.fnmatch_lines(["*profile: dev", "examples: 50"])


def test_a_dev_profile_the_project_registers_is_not_replaced(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    pytester.makeconftest(
        """
        from hypothesis import settings

        settings.register_profile("dev", max_examples=3)
        """
    )
    pytester.makepyfile(PROFILE_TEST)
    result = fresh(pytester, "-s", "-p", PLUGIN)
    result.stdout.fnmatch_lines(["*profile: dev", "examples: 3"])


def test_an_unknown_hypothesis_profile_is_a_usage_error_naming_the_registered_ones(
    pytester, monkeypatch
):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "nope")
    pytester.makepyfile(PROFILE_TEST)
    result = fresh(pytester, "-p", PLUGIN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*HYPOTHESIS_PROFILE='nope' names no registered Hypothesis profile; the registered "
            "ones are ci, default, dev*"
        ]
    )
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_a_failing_test_reports_the_replay_call_of_its_simulated_runs(pytester):
    pytester.makepyfile(
        """
        from playbill import program, now, sleep

        @program
        def nap(seconds):
            yield sleep(seconds)
            return (yield now())

        def test_nap(simulator):
            result = simulator.simulate(nap(5), seed=3)
            assert result.value == 4

        def test_passing(simulator):
            assert simulator.simulate(nap(1)).value == 1.0
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*playbill: replay the simulated runs*", "replay(nap(5), 'v*:*')"])
    assert "replay(nap(1)" not in result.stdout.str()  # a passing test says nothing


def test_simulator_explore_fails_with_the_exploration_report(pytester):
    pytester.syspathinsert(ROOT / "examples")
    pytester.makepyfile(
        """
        from bank_race import two_deposits

        def test_no_deposit_lost(simulator):
            def check(result):
                assert result.value == 100, f"lost a deposit: {result.value}"

            simulator.explore(two_deposits, check, runs=500)
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*explore(two_deposits()) found a schedule that breaks the check*",
            "*AssertionError: lost a deposit: 50*",
            "*replay(two_deposits(), 'v*",
        ]
    )


ASYNC_TESTS = """
import asyncio

import pytest

from playbill import Actor


class Echo(Actor):
    def receive(self, message):
        return message


class BreaksOnStop(Actor):
    def receive(self, message):
        return message

    def on_stop(self):
        raise RuntimeError("on_stop broke")


@pytest.mark.anyio
async def test_echo(actor_system, anyio_backend):
    assert anyio_backend == "asyncio"
    echo = actor_system.spawn(Echo, "echo")
    assert await echo.ask("hi") == "hi"


@pytest.mark.anyio
async def test_leaks_a_task(actor_system):
    asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="forgotten")


@pytest.mark.anyio
async def test_an_unobserved_error(actor_system):
    await actor_system.spawn(BreaksOnStop, "fragile").ask("hello")


@pytest.mark.anyio
@pytest.mark.playbill_allow_errors
async def test_an_allowed_error(actor_system):
    await actor_system.spawn(BreaksOnStop, "fragile").ask("hello")
"""


def test_the_actor_system_fixture_runs_async_tests_and_fails_leaks_and_unobserved_errors(
    pytester,
):
    pytest.importorskip("anyio")
    pytester.makepyfile(ASYNC_TESTS)
    result = run(pytester, "-v", "-p", "anyio")
    result.assert_outcomes(passed=4, errors=2)
    # one run each, on asyncio: this plugin's anyio_backend, not anyio's list of backends
    result.stdout.fnmatch_lines(["*::test_echo PASSED*"])
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_task*",
            "*1 task(s) outlived the actor system's shutdown*forgotten*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_an_unobserved_error*",
            "*errors went unobserved*/test/fragile failed in on_stop*on_stop broke*",
            "*mark the test @pytest.mark.playbill_allow_errors*",
        ]
    )


def test_without_anyio_the_actor_system_fixture_says_how_to_install_it(pytester, monkeypatch):
    # only this plugin: other installed ones (langsmith's, with the langchain extra) import
    # anyio themselves and would fail to load before the fixture could say anything
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        hide_anyio="import sys\nsys.modules['anyio'] = None\n",
        test_needs_anyio="def test_it(actor_system):\n    pass\n",
    )
    result = pytester.runpytest_subprocess(
        "-p", "hide_anyio", "-p", "no:anyio", "-p", PLUGIN, "-p", "no:cacheprovider"
    )
    result.assert_outcomes(errors=1)
    assert "install it with: pip install 'playbill[testing]'" in result.stdout.str()


def test_the_plugin_imports_without_hypothesis(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # as above: this plugin alone
    pytester.makepyfile(
        hide_hypothesis="import sys\nsys.modules['hypothesis'] = None\n",
        test_plain="def test_it(simulator):\n    assert simulator.replays == []\n",
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "hide_hypothesis",
        "-p",
        "no:hypothesispytest",
        "-p",
        PLUGIN,
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    assert sys.modules.get("hypothesis") is not None  # this process is untouched
