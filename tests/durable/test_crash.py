"""kill -9 a process mid-workflow, then resume it: every side effect is done once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("_killed_workflow.py")
ROOT = Path(__file__).resolve().parents[2]


def _script(*arguments: str) -> list[str]:
    return [sys.executable, str(SCRIPT), *arguments]


def _journaled(journal: Path | str) -> int:
    if isinstance(journal, str):  # redis://host:port/db#namespace
        import redis

        url, _, namespace = journal.partition("#")
        with redis.Redis.from_url(url) as client:
            return int(client.llen(f"{namespace}:journal:parcels"))
    if not journal.exists():
        return 0
    try:
        with closing(sqlite3.connect(journal, timeout=1)) as connection, connection:
            return int(connection.execute("SELECT count(*) FROM journal").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_a_workflow_killed_while_it_sleeps_resumes_and_does_each_effect_once(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    effects = tmp_path / "effects.txt"
    journal: Path | str = tmp_path / "journal.db"
    if store == "redis":  # the same workflow, its journal in Redis
        url = request.getfixturevalue("redis_url")
        journal = f"{url}#{request.getfixturevalue('namespace')}"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        _script(str(journal), str(effects), "start", "asyncio"), env=environment
    )
    try:
        deadline = time.monotonic() + 30
        while _journaled(journal) < 1:  # parcel a shipped and journaled: now it sleeps 60 s
            assert process.poll() is None, "the workflow ended before it could be killed"
            assert time.monotonic() < deadline, "the workflow never journaled its first effect"
            time.sleep(0.02)
        time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert effects.read_text().split() == ["a"]
    # resumed in a new process; the stub's virtual clock makes the remaining sleeps free
    finished = subprocess.run(
        _script(str(journal), str(effects), "recover", "stub"),
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert finished.stdout.strip() == "['shipped-a', 'shipped-b', 'shipped-c']"
    assert effects.read_text().split() == ["a", "b", "c"]  # a was not shipped twice
