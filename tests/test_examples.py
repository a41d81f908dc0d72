"""The examples run and do what they say."""

import asyncio
import pathlib
import re
import sys

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

import supervised_workers  # noqa: E402


def test_the_supervised_workers_example_restarts_stops_and_counts_dead_letters():
    lines: list[str] = []
    summary = asyncio.run(supervised_workers.main(printer=lines.append))
    assert summary == {
        "results": [
            "<Success: INVOICE>",
            "<Failure: the upstream dropped the connection>",
            "<Success: REPORT>",
            "<Failure: this job can never succeed>",
            "RETRY",
        ],
        "dead letters": 1,
    }
    text = "\n".join(lines)
    assert "beta    failed: ConnectionError" in text
    assert "-> RESTART" in text
    assert "gamma   failed: ValueError" in text
    assert "beta    restarted" in text


def test_the_evaluator_optimizer_flow_improves_then_polishes_and_holds_under_crashes():
    import evaluator_optimizer

    lines: list[str] = []
    summary = evaluator_optimizer.main(printer=lines.append)
    assert summary == {
        "text": "Explain actors: a clearer idea, with an example. (score 8/10 after 2 rounds)",
        "reviews": 2,
        "events": 22,
        "failed": False,
    }
    text = "\n".join(lines)
    assert "kind: loop_with_state" in text
    assert '-->|"Continue"|' in text


def test_the_open_then_deposit_bug_appears_only_under_per_pair_delivery():
    import open_then_deposit

    lines: list[str] = []
    assert open_then_deposit.main(printer=lines.append) == {
        "causal_exhausted": True,
        "causal_failed": False,
        "per_pair_balance": 0,
        "replayed": True,
    }
    assert any("receive ('deposit', 50)" in line for line in lines)


def test_the_ask_cycle_example_names_the_cycle_under_both_interpreters():
    import ask_cycle

    lines: list[str] = []
    summary = ask_cycle.main(printer=lines.append)
    assert "a cycle of asks (/app/pricing → /app/inventory → /app/pricing)" in summary["asyncio"]
    assert summary["status"] == "deadlock"
    assert summary["error"].startswith(
        "ask cycle: /app/inventory asks ('price', 'widget') → /app/pricing asks ('stock', "
        "'widget') → back to /app/inventory."
    )


def test_the_saved_word_stats_flow_is_the_one_the_module_builds(capsys):
    import word_stats

    saved = word_stats.SAVED.read_text(encoding="utf-8")
    assert saved == word_stats.word_stats().to_yaml(word_stats.registry())
    word_stats.main()
    assert capsys.readouterr().out == "{'words': 4, 'longest': 'actors'}\n"


def test_the_research_team_runs_live_and_the_simulator_finds_and_replays_a_lost_note():
    import research_team

    lines: list[str] = []
    summary = research_team.main(printer=lines.append)
    live = summary["asyncio"]
    assert live["output"]["notes kept"] == 3  # under asyncio the writes never overlap
    assert len(live["output"]["findings"]) == 3
    # the lead's tasks: two workers, and the flaky statistician failed once, then completed
    assert sorted(live["statuses"]) == ["completed", "completed", "completed", "failed"]
    assert summary["simulator"] == {"found": True, "kept": 2, "replayed": 2, "same trace": True}
    text = "\n".join(lines)
    assert "\n      statistician failed ConnectionError" in text  # nested one level down
    assert "\n   run-r1 completed" in text
    assert "fault: delay ('write'" in text


def test_the_research_agent_answers_offline_with_tools_and_streams_its_reply():
    import research_agent

    lines: list[str] = []
    summary = research_agent.main(printer=lines.append, offline=True)
    assert summary == {
        "answer": research_agent.ANSWER,
        "chunks": len(research_agent.ANSWER.split()),
        "explored": 50,
        "failed": False,
    }
    assert lines[2] == "   " + research_agent.ANSWER  # the streamed pieces, joined


def test_the_moa_research_example_streams_live_cancels_the_straggler_and_holds_its_quorum():
    import moa_research

    lines: list[str] = []
    summary = moa_research.main(lines.append, model_for=moa_research.scripted)
    assert summary["held"]
    # the slow proposer, once two made the quorum (its number says when it was spawned: after
    # the proposers before it, and the children those spawned, answered inline)
    assert any(re.fullmatch(r"   Injector\$\d+ cancelled", line) for line in lines)
    answer = summary["answer"].splitlines()
    proposals = [line.split(":")[0] for line in answer[1:]]
    assert proposals == ["Proposal 1 (proposer 0)", "Proposal 2 (proposer 1)"]
    assert all("briefly," in line for line in answer[1:])  # the first layer's directive
    assert summary["events"]["completed"] > 0


def test_the_moa_research_yaml_runs_on_a_real_provider_when_its_key_is_set(monkeypatch):
    """The same saved YAML, its proposers on the model the environment configures: here an
    OpenAI-compatible server on this machine that speaks the wire format."""
    import moa_research

    from tests.models.wire import Reply, WireServer, openai_stream

    server = WireServer()
    server.script(*(Reply(events=openai_stream("from ", "the server")) for _ in range(8)))
    server.start()
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    monkeypatch.setenv("PLAYBILL_MODEL", "local-model")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    try:
        lines: list[str] = []
        summary = moa_research.main(lines.append)
    finally:
        server.stop()
    assert "   its proposers ask the model 'local-model'" in lines
    answer = summary["answer"].splitlines()
    assert [line.split(": ", 1)[1] for line in answer[1:]] == ["from the server"] * 2
    assert summary["held"]  # the simulator explored the scripted models, offline
    # two proposers a layer (the slow third cancelled first), each asking the server once
    assert len(server.requests) == 4
    assert {request.body["model"] for request in server.requests} == {"local-model"}
    assert {request.headers["authorization"] for request in server.requests} == {"Bearer test-key"}
    assert all(request.path == "/v1/chat/completions" for request in server.requests)


def test_the_moa_research_example_without_a_key_runs_on_its_scripted_models(monkeypatch):
    import moa_research

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    model, name = moa_research.configured_model("an angle")
    assert name == "scripted"
    assert type(model).__name__ == "FunctionModel"


def test_the_routers_example_routes_resizes_and_stops_by_policy_alike_live_and_simulated():
    import routers

    lines: list[str] = []
    summary = routers.main(printer=lines.append)
    assert summary["simulated equals live"] is True
    live = summary["live"]
    assert live["translated"] == [
        "ASK by routee1",
        "TELL by routee2",
        "SPAWN by routee3",
        "STOP by routee1",
    ]
    assert (live["after shrinking"], live["after growing"]) == (1, 2)
    assert live["one session per customer"] is True
    assert (live["second audit"], live["cache after idling"]) == ("ActorStopped", "ActorStopped")
    assert "simulated: the same outcome: True, the virtual clock at 3600s" in lines


def test_the_middleware_example_wraps_rewrites_and_short_circuits_alike_live_and_simulated():
    import middleware

    lines: list[str] = []
    summary = middleware.main(printer=lines.append)
    assert summary["live"] == [3, 3, 4, 3]
    assert summary["simulated equals live"] is True
    assert summary["log"] == [
        "Pricing started", "'Tea' -> 3", "'tea' -> 3", "' COFFEE ' -> 4", "'Tea' -> 3",
    ]  # fmt: skip
    assert "the same under the simulator: True" in lines


def test_the_virtual_actors_example_activates_once_and_reloads_from_the_file():
    import virtual_actors

    lines: list[str] = []
    summary = virtual_actors.main(printer=lines.append)
    assert summary["live"] == {"alice": 51, "bob": 3, "active": 2, "after idling": 0}
    # the simulated run found the live run's balances in the SQLite file
    assert summary["simulated"] == {"alice": 102, "bob": 6, "active": 2, "after idling": 0}
    assert lines[0].endswith("3 activations")  # alice once for five first deposits, bob, alice


def test_the_approval_workflow_is_killed_while_it_waits_and_finishes_elsewhere():
    import approval

    lines: list[str] = []
    summary = approval.main(printer=lines.append)
    assert summary == {
        "value": "approved by ana: paid 40 to bo",
        "payments": ["escrow 40", "bo 40"],  # the deposit was charged once
    }
    assert "killed (-9)" in lines[1]


def test_the_approval_workflow_runs_the_same_on_a_redis_journal():
    import pytest

    from playbill.testing.redis import REDIS_MISSING, redis_server_path

    if redis_server_path() is None:
        pytest.skip(REDIS_MISSING)
    import approval

    lines: list[str] = []
    summary = approval.main(printer=lines.append, redis=True)
    assert summary == {
        "value": "approved by ana: paid 40 to bo",
        "payments": ["escrow 40", "bo 40"],  # the deposit was charged once
    }
    assert "killed (-9)" in lines[1]


def test_the_two_nodes_example_loses_nothing_when_a_node_is_killed_and_restarted():
    import pytest

    from playbill.testing.redis import REDIS_MISSING, redis_server_path

    if redis_server_path() is None:
        pytest.skip(REDIS_MISSING)
    import two_nodes

    lines: list[str] = []
    summary = two_nodes.main(printer=lines.append)
    assert summary["after"] == {"alpha": 100, "beta": 100}
    assert summary["twice"] == 0
    assert summary["before"]["beta"] < 100  # killed mid-load
    assert "node B killed (SIGKILL)" in lines[0]
    assert summary["named"] == 1  # both nodes' get_or_spawn: one actor
    first, again = summary["grain"]
    assert first[0] == 5
    assert again[0] == 6  # idled out, saved, reactivated with its state


def test_the_two_nodes_example_says_how_to_get_redis_server_when_it_is_missing(monkeypatch):
    import two_nodes

    import playbill.testing.redis

    monkeypatch.setattr(playbill.testing.redis, "redis_server_path", lambda: None)
    lines: list[str] = []
    assert two_nodes.main(printer=lines.append) == {"skipped": "redis-server"}
    assert "apt-get install redis-server" in lines[0]


def test_the_streams_example_merges_batches_and_delivers_alike_live_and_simulated():
    # loaded from its path: `import streams` would find the tests/streams package
    import importlib.util

    spec = importlib.util.spec_from_file_location("streams_example", EXAMPLES / "streams.py")
    assert spec is not None
    assert spec.loader is not None
    streams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(streams)
    lines: list[str] = []
    summary = streams.main(printer=lines.append)
    simulated = summary["simulated"]
    assert simulated["shown"] == [
        "indoor+outdoor: 15.2 over 3",
        "indoor+outdoor: 16.2 over 3",
        "indoor+outdoor: 17.2 over 3",
        "done",
    ]
    assert summary["readings shown"] == 9  # both sensors' readings, none dropped
    assert simulated["updates"] == 3
    assert summary["live"]["updates"] >= 1
    assert summary["live"]["shown"][-1] == "done"
    assert any(line.startswith("simulated: 3 updates in") for line in lines)
